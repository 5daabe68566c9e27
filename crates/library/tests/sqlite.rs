//! The SQLite library driver against the conformance suite, each case on a fresh file.

use tintype_db::{Clock, SqliteDb};
use tintype_library::conformance::Fixture;
use tintype_library::sqlite::SqliteLibrary;

async fn fixture(clock: Clock) -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDb::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await.expect("open");
    db.migrate(&tintype_library::MIGRATIONS).await.expect("migrate");
    Some(Fixture::new(std::sync::Arc::new(SqliteLibrary::new(db, clock.clone())), clock, dir))
}

tintype_library::library_conformance!(fixture);
