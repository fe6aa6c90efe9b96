//! `partners-before-scopes`: a partner stored before scopes has no `scope` (DynamoDB attribute, local JSON
//! field). Partners then heard of every eSIM, and keep doing so; `esimhooks migrate` writes that scope down.
//! Remove in 0.3.0, once `esimhooks migrate` has run on every table and file.

use crate::model::partner::Scope;

pub const NAME: &str = "partners-before-scopes";

/// The scope of a partner stored without one.
pub fn scope_before_scopes() -> Scope {
    Scope::All
}
