//! What the Lambda binaries call: the API Gateway adapter (`apigw`) and, behind the `aws` feature, the
//! production wiring that runs it (`runtime`). Each is a module of its own, so the wiring uses the adapter
//! without the two importing each other; this one only names them.

pub use crate::apigw::{
    apigw_response, delivery_from_apigw, handle_apigw, handle_callbacks_apigw, handle_customers_apigw,
    request_from_apigw,
};
#[cfg(feature = "aws")]
pub use crate::runtime::{
    build_service, run, run_callback_sender, run_callbacks, run_customers, run_customers_sender, run_named,
    run_reconcile, run_sweep,
};
