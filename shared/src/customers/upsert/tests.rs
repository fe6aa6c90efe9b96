use super::*;
use crate::customers::{ContactFields, ContactLookup, ContactStore};
use crate::model::ProviderId;
use crate::store::KvStore;

fn contact(pairs: &[(&str, &str)]) -> Contact {
    let mut fields = ContactFields {
        provider: Some("esimaccess".into()),
        ..ContactFields::default()
    };
    for (name, value) in pairs {
        let value = Some(value.to_string());
        match *name {
            "iccid" => fields.iccid = value,
            "esim_ref" => fields.esim_ref = value,
            "order_ref" => fields.order_ref = value,
            "phone" => fields.phone = value,
            other => panic!("no field {other} here"),
        }
    }
    Contact::from_fields(&fields).unwrap()
}

/// The contacts `stored` as a store finds them under the identifiers of `row`.
fn under(row: &Contact, stored: &[&Contact]) -> Vec<(EsimRef, Contact)> {
    row.refs()
        .into_iter()
        .filter_map(|esim| {
            let holder = stored.iter().find(|old| old.refs().contains(&esim))?;
            Some((esim, (*holder).clone()))
        })
        .collect()
}

const X1: &str = "8900000000000000001";
const X2: &str = "8900000000000000002";

#[test]
fn a_row_never_replaces_a_contact_with_other_identifiers() {
    let alice = contact(&[("iccid", X1), ("esim_ref", "E1"), ("order_ref", "O1")]);
    let bob = contact(&[("iccid", X2), ("order_ref", "O1")]);
    let plan = upsert_plan(&bob, &under(&bob, &[&alice]), Replace::SameContact);
    let conflict = plan.unwrap_err();
    assert_eq!(
        conflict,
        Conflict::OtherIdentifiers {
            identifier: EsimRef::Order("O1".into()),
            others: vec![EsimRef::Iccid(X1.into()), EsimRef::Esim("E1".into())],
        }
    );
    assert_eq!(
        conflict.to_string(),
        format!("order_ref O1 already names a contact that also has iccid {X1}, esim_ref E1")
    );
    // Replaced on purpose, Alice goes with all her identifiers.
    let (outcome, stale) = upsert_plan(&bob, &under(&bob, &[&alice]), Replace::Any)
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Upserted::Updated);
    assert_eq!(stale, [EsimRef::Iccid(X1.into()), EsimRef::Esim("E1".into())]);
}

#[test]
fn the_same_identifiers_or_more_are_the_same_contact() {
    let stored = contact(&[("iccid", X1), ("order_ref", "O1")]);
    let changed = contact(&[("iccid", X1), ("order_ref", "O1"), ("phone", "+34600000001")]);
    let same = upsert_plan(&changed, &under(&changed, &[&stored]), Replace::SameContact);
    assert_eq!(same, Ok(Some((Upserted::Updated, vec![]))));
    let unchanged = upsert_plan(&stored, &under(&stored, &[&stored]), Replace::SameContact);
    assert_eq!(unchanged, Ok(None));
    // Adding an identifier the stored contact lacked is an update of it.
    let more = contact(&[("iccid", X1), ("esim_ref", "E1"), ("order_ref", "O1")]);
    let added = upsert_plan(&more, &under(&more, &[&stored]), Replace::SameContact);
    assert_eq!(added, Ok(Some((Upserted::Updated, vec![]))));
    // Leaving one out (or changing it) would drop it: refused.
    let fewer = contact(&[("iccid", X1)]);
    let dropped = upsert_plan(&fewer, &under(&fewer, &[&stored]), Replace::SameContact);
    assert!(matches!(dropped, Err(Conflict::OtherIdentifiers { .. })), "{dropped:?}");
    let resold = contact(&[("iccid", X1), ("order_ref", "O2")]);
    let moved = upsert_plan(&resold, &under(&resold, &[&stored]), Replace::SameContact).unwrap_err();
    assert_eq!(
        moved.to_string(),
        format!("iccid {X1} already names a contact that also has order_ref O1")
    );
    let created = upsert_plan(&resold, &[], Replace::SameContact);
    assert_eq!(created, Ok(Some((Upserted::Created, vec![]))));
}

#[test]
fn a_row_joining_two_stored_contacts_is_refused() {
    let by_iccid = contact(&[("iccid", X1)]);
    let by_order = contact(&[("order_ref", "O1")]);
    let both = contact(&[("iccid", X1), ("order_ref", "O1")]);
    let conflict = upsert_plan(&both, &under(&both, &[&by_iccid, &by_order]), Replace::SameContact).unwrap_err();
    assert_eq!(
        conflict.to_string(),
        format!("iccid {X1} and order_ref O1 name two different contacts")
    );
    let (outcome, stale) = upsert_plan(&both, &under(&both, &[&by_iccid, &by_order]), Replace::Any)
        .unwrap()
        .unwrap();
    assert_eq!((outcome, stale), (Upserted::Updated, vec![]));
}

/// The local store applies the rule with its write: a conflict changes nothing, and `upsert` (the deliberate
/// path of `customers set` and the API) still replaces.
#[tokio::test]
async fn the_local_store_refuses_a_conflict_and_upsert_still_replaces() {
    let store = KvStore::in_memory();
    let alice = contact(&[("iccid", X1), ("esim_ref", "E1"), ("order_ref", "O1")]);
    let bob = contact(&[("iccid", X2), ("order_ref", "O1")]);
    assert_eq!(
        store.register(&alice, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Created)
    );
    let refused = store.register(&bob, Replace::SameContact).await.unwrap();
    assert!(matches!(refused, Err(Conflict::OtherIdentifiers { .. })), "{refused:?}");
    for esim in alice.refs() {
        let found = store
            .find(ProviderId::EsimAccess, std::slice::from_ref(&esim))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&alice), "{esim}");
    }
    let stored = store
        .stored_under(
            ProviderId::EsimAccess,
            &[EsimRef::Iccid(X2.into()), EsimRef::Order("O1".into())],
        )
        .await
        .unwrap();
    assert_eq!(stored, [(EsimRef::Order("O1".into()), alice.clone())]);

    assert_eq!(store.upsert(&bob).await.unwrap(), Upserted::Updated);
    let by_e1 = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("E1".into())])
        .await
        .unwrap();
    assert!(by_e1.is_none(), "Alice replaced whole on purpose");
}
