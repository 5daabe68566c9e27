//! Group completion: the completions a process writes at the same moment share one
//! statement and one commit. Each `complete` call queues its request on the engine's
//! completer task and waits for its own result. The task takes the first waiting request
//! and every other one queued by then (up to [`MAX_BATCH`]), writes them with one fenced
//! `UPDATE … FROM unnest(…)`, and answers each caller. While a batch is in the database
//! the next one gathers, so batches grow with the load and a lone completion still goes
//! out at once (no timer). Every row keeps its own guard (`state = 'running'` and its
//! lease token): a request whose lease was lost gets `LeaseLost`, as it would alone.

use std::collections::HashMap;

use sqlx::Row;
use sqlx::postgres::PgPool;
use tokio::sync::{mpsc, oneshot};

use super::{AbortOnDrop, duration_ms, ms};
use crate::EngineConfig;
use crate::engine::Result;
use crate::error::QueueError;
use crate::model::Job;
use crate::rows as row;

/// Most completions written by one statement.
pub(super) const MAX_BATCH: usize = 256;

/// One job to complete and where its result goes.
#[derive(Debug)]
pub(super) struct Completion {
    pub(super) id: String,
    pub(super) token: String,
    /// The output document as JSON text (kept verbatim).
    pub(super) output: String,
    pub(super) reply: oneshot::Sender<Result<Job>>,
}

/// Completes every listed job still running under the listed token; returns the rows
/// written with the token they were completed under (`done_token`).
const COMPLETE: &str = "UPDATE jobs SET state = 'succeeded', progress = 1, output = done.output,
        error = NULL, finished_at = $4, updated_at = $4,
        artifacts_expire_at = $4 + COALESCE(artifact_ttl_ms, $5),
        lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
    FROM unnest($1::text[], $2::text[], $3::text[]) AS done(id, token, output)
    WHERE jobs.id = done.id AND jobs.state = 'running' AND jobs.lease_token = done.token
    RETURNING jobs.*, done.token AS done_token";

/// Starts the completer; requests go into the returned sender. Dropping the guard stops
/// the task (callers then get an error).
pub(super) fn start(pool: PgPool, config: EngineConfig) -> (mpsc::UnboundedSender<Completion>, AbortOnDrop) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Completion>();
    let task = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write(&pool, &config, std::mem::take(&mut batch)).await;
        }
    });
    (tx, AbortOnDrop(task))
}

/// Writes one batch and answers every request in it.
async fn write(pool: &PgPool, config: &EngineConfig, batch: Vec<Completion>) {
    let now = ms(config.clock.now());
    let ids: Vec<&str> = batch.iter().map(|c| c.id.as_str()).collect();
    let tokens: Vec<&str> = batch.iter().map(|c| c.token.as_str()).collect();
    let outputs: Vec<&str> = batch.iter().map(|c| c.output.as_str()).collect();
    let written = async {
        let rows = sqlx::query(COMPLETE)
            .bind(&ids)
            .bind(&tokens)
            .bind(&outputs)
            .bind(now)
            .bind(duration_ms(config.artifact_ttl))
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| Ok(((r.try_get::<String, _>("id")?, r.try_get::<String, _>("done_token")?), row::job(r)?)))
            .collect::<Result<HashMap<_, _>>>()
    };
    match written.await {
        Ok(mut done) => {
            for c in batch {
                // The same lease listed twice completes once; the other request lost.
                let outcome = done.remove(&(c.id, c.token)).ok_or(QueueError::LeaseLost);
                let _ = c.reply.send(outcome);
            }
        }
        Err(e) => {
            for c in batch {
                let _ = c.reply.send(Err(QueueError::internal(e.to_string())));
            }
        }
    }
}
