//! Write combining for the hot writes (enqueue, complete). SQLite allows one writer, and
//! on small machines each statement's trip to the connection's thread costs more than the
//! statement itself, so concurrent callers of the same write share one statement: each
//! queues its request, then takes the writer; whoever holds it runs every queued request
//! in one statement and hands each caller its own result (flat combining). A caller whose
//! request someone else ran stops waiting for the writer as soon as its result arrives.

use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::engine::Result;
use crate::error::QueueError;

/// A queued request and where its result goes.
pub(super) type Pending<Req, Resp> = (Req, oneshot::Sender<Result<Resp>>);

/// Requests of one kind waiting for the writer.
#[derive(Debug)]
pub(super) struct Combiner<Req, Resp> {
    queued: Mutex<Vec<Pending<Req, Resp>>>,
}

impl<Req, Resp> Combiner<Req, Resp> {
    pub(super) fn new() -> Self {
        Self { queued: Mutex::new(Vec::new()) }
    }

    /// Queues a request; its result arrives on the receiver.
    pub(super) fn push(&self, request: Req) -> oneshot::Receiver<Result<Resp>> {
        let (tx, rx) = oneshot::channel();
        self.lock().push((request, tx));
        rx
    }

    /// Every queued request (call while holding the writer).
    pub(super) fn take(&self) -> Vec<Pending<Req, Resp>> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending<Req, Resp>>> {
        // The lock guards a plain Vec and is never held across a panic-prone call.
        self.queued.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A combined request's result, as received.
pub(super) fn outcome<Resp>(received: Result<Result<Resp>, oneshot::error::RecvError>) -> Result<Resp> {
    // The sender is dropped only if the task running the batch died (runtime shutdown);
    // the engine runs combined writes in their own task so a caller cannot abandon them.
    received.unwrap_or_else(|_| Err(QueueError::internal("combined write abandoned")))
}

/// Sends every request of a failed batch the same error.
pub(super) fn fail_all<Req, Resp>(batch: Vec<Pending<Req, Resp>>, error: &QueueError) {
    for (_, tx) in batch {
        let copy = QueueError::internal(error.to_string());
        let _ = tx.send(Err(copy));
    }
}
