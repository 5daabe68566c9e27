//! Helpers shared by the process-level test files.

#![allow(dead_code, unreachable_pub)] // each test file uses its own subset

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use sqlx::Connection;

/// The local PostgreSQL the tests use (`TINTYPE_TEST_POSTGRES_URL` overrides it).
pub fn postgres_base() -> String {
    std::env::var("TINTYPE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A scratch schema on the local PostgreSQL and a URL whose connections use it; `None`
/// (after saying SKIPPED) when no server answers, unless `TINTYPE_TEST_REQUIRE_ALL` is set.
pub async fn postgres_schema() -> Option<(String, String)> {
    let base = postgres_base();
    let mut conn = match tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(&base)).await {
        Ok(Ok(conn)) => conn,
        _ => {
            assert!(std::env::var_os("TINTYPE_TEST_REQUIRE_ALL").is_none(), "PostgreSQL is required at {base}");
            eprintln!("SKIPPED PostgreSQL process test: {base} is not reachable");
            return None;
        }
    };
    let schema = format!("tt_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    Some((format!("{base}{sep}options=-c%20search_path%3D{schema}"), schema))
}

/// Drops a schema made by [`postgres_schema`].
pub async fn drop_schema(schema: &str) {
    let mut conn = sqlx::PgConnection::connect(&postgres_base()).await.unwrap();
    let sql = format!("DROP SCHEMA {schema} CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
}

/// The distinct `progress` values of the `running` job events in an SSE body.
pub fn running_progress(sse_body: &str) -> BTreeSet<String> {
    sse_body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .filter(|j| j["state"] == "running")
        .map(|j| j["progress"].to_string())
        .collect()
}

/// Spawns a listening role (`cmd` is `tintype ... serve --listen 127.0.0.1:0`), its log in
/// `log`; returns it with the base URL it printed.
pub fn spawn_listening(cmd: &mut std::process::Command, log: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let log = std::fs::File::create(log).unwrap();
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(log).spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("tintype listening on ").unwrap().to_owned();
    (child, base)
}
