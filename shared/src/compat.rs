//! Compatibility with items stored by earlier code, in one place: each submodule reads one older layout of the
//! table or the local file (or names the inline check that does, where that check sits on a hot path), and
//! [`READERS`] lists them all with the release that may remove them. `esimhooks migrate`
//! ([`crate::migrate`]) rewrites every item of a layout it can to the current one; once it has run against
//! every table and file, a layout's reader can go in the release its entry names.
//!
//! A leaf: this module imports only the model and alert types, never the store or the callbacks, so every
//! reader of the crate may call into it. Removing a reader is deleting its submodule (and its entry here):
//! the compiler then names each call site.

pub mod conflicts;
pub mod documents;
pub mod former;
pub mod local;
pub mod partners;
pub mod sns;
pub mod unsharded;

/// What `esimhooks migrate` does about a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Every item of it is rewritten to the current layout, under a condition.
    Migrated,
    /// Done when the local file is opened by this release (any command that opens it, `migrate` included).
    AtOpen,
    /// No batch can rewrite it safely: why, and what removing its reader waits for instead.
    NotByBatch {
        why: &'static str,
        removable_when: &'static str,
    },
}

/// One older layout and its reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader {
    /// Its name in `esimhooks migrate`'s report and in the docs.
    pub name: &'static str,
    /// What the older items look like.
    pub layout: &'static str,
    /// Where it is read (files, functions).
    pub read_by: &'static str,
    /// The release whose code reads it as an older layout (the current layout came in then).
    pub since: &'static str,
    /// The release that may remove the reader, once `esimhooks migrate` has run everywhere.
    pub remove_in: &'static str,
    pub rewrite: Rewrite,
}

/// The workspace's version when these readers were gathered: every layout below was current before it.
const SINCE: &str = "0.1.0";
/// Two minor releases on: one release for every deployment to run `esimhooks migrate`, one more to spare.
const REMOVE_IN: &str = "0.3.0";

/// Every older layout esimhooks still reads, in the order `esimhooks migrate` reports them.
pub const READERS: &[Reader] = &[
    Reader {
        name: documents::NAME,
        layout: "DynamoDB: a record's document as JSON text (`event`, `alert`, `state`, `notification`) instead \
                 of the compact `doc` (format byte + deflated JSON), with the copies older items kept beside it \
                 (`kind`, `received_at` on deliveries; `alert_type`, `level` on alerts; `provider`, `esim_key`, \
                 `iccid`, `provider_status`, `expires_at`, `updated_at` on states)",
        read_by: "store/dynamodb/items.rs (`ClaimRecord::event`, `alert`, `notification`, `StateItem::state` \
                  through `compat::documents::from_text`)",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: unsharded::LISTING,
        layout: "DynamoDB: listing entries in one bucket a day (`EVENT#<day>`, `ALERT#<day>`, `CONFLICT#<day>` / \
                 `<rfc3339>#<pk>`) and held customer messages in one an hour (`OUTBOX#<hour>` / \
                 `<due>#<alert id>#<channel>`), before the buckets were sharded",
        read_by: "store/keys.rs (`listing_buckets`, `outbox_buckets` query `compat::unsharded::bucket` beside the \
                  shards; `sort_range` starts at `compat::unsharded::range_from`)",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: unsharded::EXPIRY,
        layout: "DynamoDB: eSIM states in one expiry bucket an hour (`EXPIRY#<hour>` / `<rfc3339>#<pk>`), and the \
                 state listing entry (`ESIM#<day>`) no reader queries any more",
        read_by: "store/keys.rs (`expiry_buckets` queries `compat::unsharded::bucket` beside the shards); the \
                  `ESIM#` entry is ignored and dropped by the state's next save",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: unsharded::PARTNER_LOGS,
        layout: "DynamoDB: a partner's attempt log and given-up deliveries in one partition each \
                 (`ATTEMPTS#<partner>`, `FAILED#<partner>`), before they were sharded by notification id",
        read_by: "store/keys/callbacks.rs (`attempts_pks`, `failed_pks`, `failed_pks_of` add \
                  `compat::unsharded::bucket`), read by callbacks/attempts.rs",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: conflicts::NAME,
        layout: "a conflict recorded once per delivery, before conflicts were counted: DynamoDB sort key \
                 `<received_at>#<payload sha256>` without `count`, `first_seen_at`, `last_seen_at`; the local \
                 file's bare event",
        read_by: "store/dynamodb/query.rs (`conflict_from_item` through `compat::conflicts::seen`), store/kv.rs \
                  (`conflict_json` through `compat::conflicts::bare_event`)",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: partners::NAME,
        layout: "a partner stored before scopes: no `scope` (DynamoDB attribute, local JSON field), which hears \
                 of every eSIM",
        read_by: "callbacks/partner.rs (serde default) and callbacks/dynamodb.rs (`partner_from`), both \
                  `compat::partners::scope_before_scopes`",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::Migrated,
    },
    Reader {
        name: local::NAME,
        layout: "a local SQLite file from before the store's indexes: no `entries` column, index version 0",
        read_by: "store/kv/sqlite.rs (`compat::local::add_entries_column`); `KvStore::open` then writes the entries \
                  (as it does whenever `INDEX_VERSION` moves)",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::AtOpen,
    },
    Reader {
        name: sns::NAME,
        layout: "DynamoDB: callback endpoints with the SNS HTTPS subscription partner callbacks went through \
                 before esimhooks delivered them itself (`subscription_arn` not empty)",
        read_by: "callbacks/offboard.rs (`remove_partner`, `retire_sns_subscriptions`) and \
                  callbacks/api/registrations.rs (PUT and DELETE), each through `compat::sns::subscription`",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::NotByBatch {
            why: "removing a subscription is an SNS call on the alerts topic, not a table write: run \
                  `esimhooks partners retire-sns --table <EventsTableName> --topic-arn <AlertsTopicArn>` once; \
                  migrate counts the endpoints still subscribed",
            removable_when: "migrate reports none left on every table",
        },
    },
    Reader {
        name: former::DEDUPE_KEYS,
        layout: "Airalo deliveries keyed by the hash of the raw body, before bodies were keyed by their \
                 canonical form (`former_dedupe_key`)",
        read_by: "providers/airalo.rs (`compat::former::rekey`), pipeline/mod.rs (a copy stored under its former \
                  key is a duplicate) and replay.rs (a stored delivery keeps its key), through \
                  `compat::former::dedupe_key`",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::NotByBatch {
            why: "a delivery's key is derived from the body each time the provider retries it or replay reads it; \
                  re-keying stored deliveries would list them twice and rename the account-balance alerts named \
                  after them",
            removable_when: "the deliveries stored before 0.1.0 have expired (retention: 400 days after the last \
                             one) and the provider no longer retries them",
        },
    },
    Reader {
        name: former::ALERT_IDS,
        layout: "alerts raised before the one alert scale, named by the provider's label (`former_alert_id`: \
                 Airalo `90%` used where the scale says `10%` left)",
        read_by: "alerts.rs (`with_provider_level` derives it) and pipeline/raise.rs (one sent under it is not \
                  sent again, through `compat::former::alert_id`)",
        since: SINCE,
        remove_in: REMOVE_IN,
        rewrite: Rewrite::NotByBatch {
            why: "an alert's id is derived from each delivery and is its identity to partners and customers; a \
                  stored alert cannot be renamed without listing it twice",
            removable_when: "the alerts raised before 0.1.0 have expired (retention: 400 days)",
        },
    },
];

impl Reader {
    /// Whether no batch rewrites its layout.
    pub fn not_by_batch(&self) -> bool {
        matches!(self.rewrite, Rewrite::NotByBatch { .. })
    }
}

/// The reader named `name`.
pub fn reader(name: &str) -> Option<&'static Reader> {
    READERS.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails in the release a reader is due to go: remove it (and its entry) then.
    #[test]
    fn every_reader_has_a_name_of_its_own_and_is_removed_in_time() {
        let mut names: Vec<_> = READERS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), READERS.len(), "names are unique");
        let minor = |v: &str| v.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).unwrap();
        let version = minor(env!("CARGO_PKG_VERSION"));
        for r in READERS {
            assert!(
                version < minor(r.remove_in),
                "{} is due for removal in {}",
                r.name,
                r.remove_in
            );
            assert!(
                minor(r.since) <= version && minor(r.since) < minor(r.remove_in),
                "{}",
                r.name
            );
            assert_eq!(reader(r.name), Some(r));
        }
    }

    #[test]
    fn the_docs_name_every_reader() {
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let docs = std::fs::read_to_string(workspace.join("docs/operations.md")).unwrap();
        for r in READERS {
            assert!(
                docs.contains(&format!("`{}`", r.name)),
                "docs/operations.md names `{}`",
                r.name
            );
        }
    }
}
