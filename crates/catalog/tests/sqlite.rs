//! The SQLite catalog driver against the conformance suite, each case on a fresh file.

use tintype_catalog::conformance::Fixture;
use tintype_catalog::sqlite::SqliteCatalog;
use tintype_db::{Clock, SqliteDb};

async fn fixture(clock: Clock) -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await.expect("open");
    db.migrate(&tintype_catalog::MIGRATIONS).await.expect("migrate");
    Some(Fixture::new(std::sync::Arc::new(SqliteCatalog::new(db, clock.clone())), clock, dir))
}

tintype_catalog::catalog_conformance!(fixture);
