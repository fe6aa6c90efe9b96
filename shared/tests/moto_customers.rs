//! The customer directory on moto's DynamoDB: registered under every identifier, found by any, replaced whole,
//! erased whole.

#[path = "common/moto_rig.rs"]
mod moto_rig;

use moto_rig::MotoRig;
use shared::customers::{Contact, ContactFields, ContactStore, EsimRef, Upserted};
use shared::model::ProviderId;

fn contact(pairs: &[(&str, &str)]) -> Contact {
    let value = serde_json::Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect(),
    );
    Contact::from_fields(&serde_json::from_value::<ContactFields>(value).unwrap()).unwrap()
}

#[tokio::test]
async fn contacts_are_found_by_any_identifier_replaced_and_erased_whole() {
    let rig = MotoRig::new("contacts", "2026-11-23T09:00:00Z").await;
    let store = rig.store.as_ref();
    let first = contact(&[
        ("provider", "esimaccess"),
        ("esim_ref", "T-1"),
        ("iccid", "8943108170001029631"),
        ("order_ref", "tx-1"),
        ("phone", "+34612345678"),
    ]);
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Created);
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Unchanged);
    for esim in [
        EsimRef::Esim("T-1".into()),
        EsimRef::Iccid("8943108170001029631".into()),
        EsimRef::Order("tx-1".into()),
    ] {
        let found = store
            .find(ProviderId::EsimAccess, std::slice::from_ref(&esim))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&first), "{esim}");
    }
    let other_provider = store
        .find(ProviderId::Roamify, &[EsimRef::Esim("T-1".into())])
        .await
        .unwrap();
    assert!(other_provider.is_none());

    // The same eSIM sold again under another order: the old order reference no longer names it.
    let resold = contact(&[
        ("provider", "esimaccess"),
        ("esim_ref", "T-1"),
        ("order_ref", "tx-2"),
        ("email", "new@example.com"),
    ]);
    assert_eq!(store.upsert(&resold).await.unwrap(), Upserted::Updated);
    let by_old_order = store
        .find(ProviderId::EsimAccess, &[EsimRef::Order("tx-1".into())])
        .await
        .unwrap();
    assert!(by_old_order.is_none());
    let by_iccid = store
        .find(ProviderId::EsimAccess, &[EsimRef::Iccid("8943108170001029631".into())])
        .await
        .unwrap();
    assert!(by_iccid.is_none(), "identifiers of the replaced contact are gone");
    let found = store
        .find(
            ProviderId::EsimAccess,
            &[EsimRef::Order("nope".into()), EsimRef::Order("tx-2".into())],
        )
        .await
        .unwrap();
    assert_eq!(found, Some(resold.clone()));

    let removed = store
        .remove(ProviderId::EsimAccess, &EsimRef::Order("tx-2".into()))
        .await
        .unwrap();
    assert_eq!(removed, Some(resold));
    let after = store
        .find(ProviderId::EsimAccess, &[EsimRef::Esim("T-1".into())])
        .await
        .unwrap();
    assert!(after.is_none());
    assert!(store
        .remove(ProviderId::EsimAccess, &EsimRef::Esim("T-1".into()))
        .await
        .unwrap()
        .is_none());
}
