//! PostgreSQL over TLS, as managed services (RDS, Neon, Supabase) require: the local
//! server runs with `ssl = on` (Debian's snakeoil certificate), and a `sslmode=require`
//! URL must get an encrypted session, while `sslmode=disable` gets a plain one (so this
//! test sees the difference). Skipped, saying so, without a server.

use tintype_db::testing::{pg_available, pg_url};
use tintype_db::{PgDb, PgSettings};

async fn session_is_encrypted(sslmode: &str) -> bool {
    let base = pg_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let db = PgDb::open(&format!("{base}{sep}sslmode={sslmode}"), PgSettings::default()).await.expect("connect");
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db.pool())
        .await
        .expect("pg_stat_ssl");
    db.close().await;
    ssl
}

#[tokio::test]
async fn sslmode_require_gets_an_encrypted_session() {
    if !pg_available().await {
        return;
    }
    assert!(session_is_encrypted("require").await, "sslmode=require must use TLS");
    assert!(!session_is_encrypted("disable").await, "sslmode=disable must not");
}
