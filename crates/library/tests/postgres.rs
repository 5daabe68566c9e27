//! The PostgreSQL library driver against the conformance suite, each case in a schema of
//! its own on the local server (skipped, saying so, when there is none).

use tintype_db::Clock;
use tintype_db::testing::{PgScratch, pg_available};
use tintype_library::conformance::Fixture;
use tintype_library::postgres::PgLibrary;

async fn fixture(clock: Clock) -> Option<Fixture> {
    if !pg_available().await {
        return None;
    }
    let scratch = PgScratch::create().await.expect("schema");
    let db = scratch.open(2).await.expect("open");
    db.migrate(&tintype_library::MIGRATIONS).await.expect("migrate");
    Some(Fixture::new(std::sync::Arc::new(PgLibrary::new(db, clock.clone())), clock, scratch))
}

tintype_library::library_conformance!(fixture);
