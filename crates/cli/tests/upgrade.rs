//! Upgrading in place: a database made by release 0.1 (one `_sqlx_migrations` table; the
//! queue's first migration also made the catalog's tables) is migrated by today's
//! `tintype migrate`, on SQLite and on PostgreSQL, and keeps its jobs, keys and uploads;
//! each component then tracks its own steps, and migrating again changes nothing.

use std::process::Command;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, Executor, SqlSafeStr};
use tintype_db::testing::{PgScratch, pg_available};
use tintype_db::{Clock, Db, PgSettings};
use tintype_queue::{Engine, EngineConfig, JobId, JobState};

/// Release 0.1's migrations, kept verbatim as fixtures.
fn release_01(postgres: bool) -> Migrator {
    let step = |version, name: &'static str, sql: &'static str| {
        Migration::new(version, name.into(), MigrationType::Simple, sql.into_sql_str(), false)
    };
    let steps = if postgres {
        vec![
            step(1, "init", include_str!("fixtures/release-0.1/postgres_0001_init.sql")),
            step(2, "claim plan", include_str!("fixtures/release-0.1/postgres_0002_claim_plan.sql")),
        ]
    } else {
        vec![step(1, "init", include_str!("fixtures/release-0.1/sqlite_0001_init.sql"))]
    };
    Migrator::with_migrations(steps)
}

/// One job, one key and one upload as release 0.1 wrote them.
const ROWS: &str = "
    INSERT INTO jobs (id, tenant, kind, queue, state, max_attempts, run_at, fingerprint, input,
                      created_at, updated_at)
    VALUES ('job_old', 'acme', 'noop', 'default', 'queued', 3, 1700000000000, 'f', '{}',
            1700000000000, 1700000000000);
    INSERT INTO api_keys (id, tenant, plan, key_hash, created_at)
    VALUES ('key_old', 'acme', 'pro', 'aaaa', 1700000000000);
    INSERT INTO uploads (id, tenant, sha256, bytes, content_type, blob_key, created_at)
    VALUES ('upl_old', 'acme', 'bbbb', 5, 'image/jpeg', 't/acme/uploads/bbbb', 1700000000000);";

fn tintype(url: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tintype"))
        .args(args)
        .env("TINTYPE_DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tintype");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tintype {args:?}: {text}");
    text
}

/// After `tintype migrate`: the old rows through today's components, and the trackers.
async fn check_upgraded(db: &Db, url: &str) {
    let catalog = tintype_catalog::open(db, Clock::system());
    let key = catalog.find_api_key("aaaa").await.unwrap().expect("the key survived");
    assert_eq!((key.id.as_str(), key.tenant.as_str()), ("key_old", "acme"));
    let upload = catalog.get_upload("acme", "upl_old").await.unwrap().expect("the upload survived");
    assert_eq!(upload.blob_key, "t/acme/uploads/bbbb");
    let engine: Box<dyn Engine> = match db {
        Db::Sqlite(lite) => Box::new(tintype_queue::sqlite::SqliteEngine::new(lite.clone(), EngineConfig::default())),
        Db::Postgres(pg) => {
            Box::new(tintype_queue::postgres::PostgresEngine::new(pg.clone(), EngineConfig::default()).await.unwrap())
        }
    };
    let job = engine.get(None, &JobId("job_old".into())).await.unwrap().expect("the job survived");
    assert_eq!((job.state, job.tenant.as_str()), (JobState::Queued, "acme"));
    let claimed = engine.claim("w", &["default".into()], 5, std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(claimed.len(), 1, "the old job is claimable by today's engine");
    assert!(tintype(url, &["keys", "list"]).contains("key_old"), "the CLI lists the old key");
    // Migrating again is a no-op.
    assert!(tintype(url, &["migrate"]).contains("up to date"));
}

#[tokio::test]
async fn sqlite_database_from_release_0_1_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap();
        let mut conn = sqlx::ConnectOptions::connect(&opts.create_if_missing(true)).await.unwrap();
        release_01(false).run(&mut conn).await.unwrap();
        conn.execute(AssertSqlSafe(ROWS)).await.unwrap();
    }
    assert!(tintype(&url, &["migrate"]).contains("up to date"));
    let db = Db::open(&url, PgSettings::default()).await.unwrap();
    let tracked: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'queue', version FROM _tintype_queue_migrations
         UNION ALL SELECT 'catalog', version FROM _tintype_catalog_migrations
         UNION ALL SELECT 'library', version FROM _tintype_library_migrations ORDER BY 1, 2",
    )
    .fetch_all(match &db {
        Db::Sqlite(lite) => lite.reader(),
        Db::Postgres(_) => unreachable!(),
    })
    .await
    .unwrap();
    let expected = [
        ("catalog", 1),
        ("catalog", 2),
        ("catalog", 3),
        ("library", 1),
        ("queue", 1),
        ("queue", 2),
        ("queue", 3),
        ("queue", 4),
    ];
    assert_eq!(tracked, expected.map(|(c, v)| (c.to_owned(), v)));
    check_upgraded(&db, &url).await;
}

#[tokio::test]
async fn postgres_database_from_release_0_1_upgrades_in_place() {
    if !pg_available().await {
        return;
    }
    let scratch = PgScratch::create().await.unwrap();
    let old = scratch.open(2).await.unwrap();
    release_01(true).run(old.pool()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(ROWS)).execute(old.pool()).await.unwrap();
    old.close().await;

    let url = scratch.url();
    assert!(tintype(&url, &["migrate"]).contains("up to date"));
    let db = Db::Postgres(scratch.open(4).await.unwrap());
    let Db::Postgres(pg) = &db else { unreachable!() };
    let tracked: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'queue', version FROM _tintype_queue_migrations
         UNION ALL SELECT 'catalog', version FROM _tintype_catalog_migrations
         UNION ALL SELECT 'library', version FROM _tintype_library_migrations ORDER BY 1, 2",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    let expected = [
        ("catalog", 1),
        ("catalog", 2),
        ("catalog", 3),
        ("library", 1),
        ("queue", 1),
        ("queue", 2),
        ("queue", 3),
        ("queue", 4),
        ("queue", 5),
        ("queue", 6),
    ];
    assert_eq!(tracked, expected.map(|(c, v)| (c.to_owned(), v)));
    check_upgraded(&db, &url).await;
}
