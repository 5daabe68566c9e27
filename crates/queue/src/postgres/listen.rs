//! LISTEN: one connection per engine receives the job changes every process NOTIFYs (the
//! trigger in the schema) and feeds them to the engine's broadcast channel. sqlx's
//! listener reconnects by itself; events sent while it was away are lost, which the
//! readers tolerate (workers also poll, event streams also re-read their job).

use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::broadcast;

use super::AbortOnDrop;
use crate::engine::Result;
use crate::model::JobEvent;

/// Listens on `channel` and forwards every event into `events`.
pub(super) async fn start(pool: &PgPool, channel: &str, events: broadcast::Sender<JobEvent>) -> Result<AbortOnDrop> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    let task = tokio::spawn(async move {
        loop {
            match listener.recv().await {
                Ok(note) => match serde_json::from_str::<JobEvent>(note.payload()) {
                    Ok(event) => {
                        let _ = events.send(event);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed job notification"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "job notifications interrupted; reconnecting");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    });
    Ok(AbortOnDrop(task))
}
