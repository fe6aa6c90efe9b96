//! `ContactLookup` and `ContactStore`: a contact is registered under each of its identifiers (ICCID, the
//! provider's eSIM reference, the reseller's order reference) and found by any; a deliberate change replaces
//! it whole, identifiers it drops included; an import row never replaces someone else ([`Replace::SameContact`],
//! as `upsert_plan` decides); removing it erases every identifier.

use chrono::{DateTime, Utc};
use shared::customers::{Conflict, Contact, ContactFields, ContactStore, EsimRef, Replace, Upserted};
use shared::model::ProviderId;

macro_rules! contracts {
    ($port:expr, [$($ignored:tt)*]) => {
        crate::common::conformance::emit!(contacts, $port, [
            a_contact_is_found_by_any_of_its_identifiers,
            a_deliberate_change_replaces_the_contact_whole,
            an_import_row_never_replaces_someone_else,
            removing_a_contact_erases_every_identifier,
        ], [$($ignored)*]);
    };
}
pub(crate) use contracts;

const PROVIDER: ProviderId = ProviderId::EsimAccess;

/// An eSIM Access contact with these identifiers (ICCID, eSIM reference, order reference) and phone.
fn contact((iccid, esim, order): (Option<&str>, Option<&str>, Option<&str>), phone: &str) -> Contact {
    let fields = ContactFields {
        provider: Some(PROVIDER.as_str().into()),
        iccid: iccid.map(Into::into),
        esim_ref: esim.map(Into::into),
        order_ref: order.map(Into::into),
        phone: Some(phone.into()),
        customer_id: Some("cust-1".into()),
        ..ContactFields::default()
    };
    Contact::from_fields(&fields).expect("a valid contact")
}

const ICCID: &str = "8943108170001029631";
const FULL: (Option<&str>, Option<&str>, Option<&str>) = (Some(ICCID), Some("T-1"), Some("tx-1"));

fn refs() -> [EsimRef; 3] {
    [
        EsimRef::Iccid(ICCID.into()),
        EsimRef::Esim("T-1".into()),
        EsimRef::Order("tx-1".into()),
    ]
}

async fn found<S: ContactStore + ?Sized>(store: &S, esim: &EsimRef) -> Option<Contact> {
    store.find(PROVIDER, std::slice::from_ref(esim)).await.unwrap()
}

pub async fn a_contact_is_found_by_any_of_its_identifiers<S: ContactStore + ?Sized>(store: &S, _now: DateTime<Utc>) {
    let first = contact(FULL, "+34612345678");
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Created);
    assert_eq!(store.upsert(&first).await.unwrap(), Upserted::Unchanged);
    for esim in refs() {
        assert_eq!(found(store, &esim).await.as_ref(), Some(&first), "{esim}");
        assert_eq!(
            store
                .find(ProviderId::Roamify, std::slice::from_ref(&esim))
                .await
                .unwrap(),
            None,
            "contacts are per provider"
        );
    }
    let other = contact((None, Some("T-2"), None), "+34600000002");
    assert_eq!(store.upsert(&other).await.unwrap(), Upserted::Created);
    let asked = [
        EsimRef::Esim("nobody".into()),
        EsimRef::Esim("T-2".into()),
        refs()[0].clone(),
    ];
    assert_eq!(
        store.find(PROVIDER, &asked).await.unwrap().as_ref(),
        Some(&other),
        "the first found, in the order asked"
    );
    let under = store.stored_under(PROVIDER, &asked).await.unwrap();
    assert_eq!(under, [(asked[1].clone(), other), (asked[2].clone(), first)]);
    assert_eq!(
        found(store, &EsimRef::Order("T-1".into())).await,
        None,
        "each kind its own"
    );
}

pub async fn a_deliberate_change_replaces_the_contact_whole<S: ContactStore + ?Sized>(store: &S, _now: DateTime<Utc>) {
    let first = contact(FULL, "+34612345678");
    store.upsert(&first).await.unwrap();
    let moved = contact(FULL, "+34699999999");
    assert_eq!(store.upsert(&moved).await.unwrap(), Upserted::Updated);
    for esim in refs() {
        assert_eq!(found(store, &esim).await.as_ref(), Some(&moved), "{esim}");
    }
    // Named by its eSIM reference alone: the identifiers it no longer has stop naming anyone.
    let narrowed = contact((None, Some("T-1"), None), "+34611111111");
    assert_eq!(
        store.register(&narrowed, Replace::Any).await.unwrap(),
        Ok(Upserted::Updated)
    );
    let [iccid, esim, order] = refs();
    assert_eq!(found(store, &esim).await.as_ref(), Some(&narrowed));
    assert_eq!(found(store, &iccid).await, None);
    assert_eq!(found(store, &order).await, None);
    assert_eq!(store.stored_under(PROVIDER, &refs()).await.unwrap(), [(esim, narrowed)]);
}

pub async fn an_import_row_never_replaces_someone_else<S: ContactStore + ?Sized>(store: &S, _now: DateTime<Utc>) {
    let stored = contact(FULL, "+34612345678");
    store.upsert(&stored).await.unwrap();
    let [iccid, esim, order] = refs();

    let fewer = contact((None, Some("T-1"), None), "+34699999999");
    assert_eq!(
        store.register(&fewer, Replace::SameContact).await.unwrap(),
        Err(Conflict::OtherIdentifiers {
            identifier: esim.clone(),
            others: vec![iccid.clone(), order.clone()],
        })
    );
    assert_eq!(
        found(store, &esim).await.as_ref(),
        Some(&stored),
        "a conflict changes nothing"
    );

    let same = contact(FULL, "+34699999999");
    assert_eq!(
        store.register(&same, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Updated),
        "the same identifiers are the same contact"
    );
    let grown = contact((Some("8943108170001029649"), Some("T-2"), None), "+34600000002");
    store
        .upsert(&contact((None, Some("T-2"), None), "+34600000002"))
        .await
        .unwrap();
    assert_eq!(
        store.register(&grown, Replace::SameContact).await.unwrap(),
        Ok(Upserted::Updated),
        "a contact may gain an identifier"
    );
    assert_eq!(
        found(store, &EsimRef::Iccid("8943108170001029649".into()))
            .await
            .as_ref(),
        Some(&grown)
    );

    // Two stored contacts named by one row.
    let both = contact((Some(ICCID), Some("T-2"), Some("tx-1")), "+34600000003");
    let refused = store.register(&both, Replace::SameContact).await.unwrap();
    assert!(
        matches!(
            refused,
            Err(Conflict::OtherIdentifiers { .. } | Conflict::TwoContacts { .. })
        ),
        "{refused:?}"
    );
    let lone_a = contact((None, Some("A-1"), None), "+34600000004");
    let lone_b = contact((None, None, Some("B-1")), "+34600000005");
    store.upsert(&lone_a).await.unwrap();
    store.upsert(&lone_b).await.unwrap();
    let joined = contact((None, Some("A-1"), Some("B-1")), "+34600000006");
    assert_eq!(
        store.register(&joined, Replace::SameContact).await.unwrap(),
        Err(Conflict::TwoContacts {
            first: EsimRef::Esim("A-1".into()),
            identifier: EsimRef::Order("B-1".into()),
        })
    );
    assert_eq!(found(store, &EsimRef::Esim("A-1".into())).await.as_ref(), Some(&lone_a));
    assert_eq!(
        found(store, &EsimRef::Order("B-1".into())).await.as_ref(),
        Some(&lone_b)
    );
    assert_eq!(
        store.register(&joined, Replace::Any).await.unwrap(),
        Ok(Upserted::Updated),
        "on purpose"
    );
    assert_eq!(
        found(store, &EsimRef::Order("B-1".into())).await.as_ref(),
        Some(&joined)
    );
}

pub async fn removing_a_contact_erases_every_identifier<S: ContactStore + ?Sized>(store: &S, _now: DateTime<Utc>) {
    let gone = contact(FULL, "+34612345678");
    let kept = contact((None, Some("T-2"), None), "+34600000002");
    store.upsert(&gone).await.unwrap();
    store.upsert(&kept).await.unwrap();
    let [_, _, order] = refs();
    assert_eq!(store.remove(PROVIDER, &order).await.unwrap().as_ref(), Some(&gone));
    for esim in refs() {
        assert_eq!(found(store, &esim).await, None, "{esim}");
    }
    assert_eq!(store.remove(PROVIDER, &order).await.unwrap(), None);
    assert_eq!(
        store
            .remove(ProviderId::Roamify, &EsimRef::Esim("T-2".into()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        found(store, &EsimRef::Esim("T-2".into())).await.as_ref(),
        Some(&kept),
        "the others stay"
    );
}
