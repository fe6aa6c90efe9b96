//! `local-file-before-indexes`: a local SQLite file written before the key-value store kept index entries has
//! no `entries` column on `items` and index version 0. Opening it with this release adds the column here and
//! `KvStore::open` writes every document's entries (as it does whenever `INDEX_VERSION` moves), so any command
//! that opens the file, `esimhooks migrate` included, brings it up to date. Remove in 0.3.0.

pub const NAME: &str = "local-file-before-indexes";

/// Adds the `entries` column (each item's own index entries, as JSON pairs) to a file from before it.
#[cfg(feature = "sqlite")]
pub fn add_entries_column(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let listed: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'entries'",
        [],
        |r| r.get(0),
    )?;
    if listed > 0 {
        return Ok(());
    }
    match conn.execute_batch("ALTER TABLE items ADD COLUMN entries TEXT") {
        // Another process opening the same old file may have added it first.
        Err(e) if e.to_string().contains("duplicate column") => Ok(()),
        other => other,
    }
}
