//! Group commit on PostgreSQL: the calls of one kind waiting at the same moment (accepted sends,
//! settlements) share one transaction instead of a commit each. A task of its own takes the
//! calls; a batch is committed on a pooled connection while the next gathers, up to
//! [`BATCHES_IN_FLIGHT`] at once, and every caller is answered after its batch's commit. When a
//! batch fails, each of its calls runs again alone (in their order), so that only a bad call
//! fails. The task stops when the store is dropped.

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::{Result, StoreError};

/// The most a batch gathers, in [`Batched::size`] units (a call is never split: a batch may pass
/// it by the size of the last call taken).
const BATCH_SIZE: usize = 1024;

/// How many batches are committed at once, each on a connection of its own.
const BATCHES_IN_FLIGHT: usize = 2;

/// A kind of call that can be committed together with others of its kind.
pub(super) trait Batched: Send + Sync + Sized + 'static {
    /// What one call answers.
    type Out: Send + 'static;
    /// How much of a batch this call takes (messages, for inserts).
    fn size(&self) -> usize {
        1
    }
    /// Commits `calls` in one transaction: one answer per call, in their order.
    fn commit<'a>(
        pool: &'a Pool,
        calls: &'a [&'a Self],
    ) -> impl Future<Output = Result<Vec<Self::Out>>> + Send + 'a;
}

type Job<C> = (C, oneshot::Sender<Result<<C as Batched>::Out>>);

pub(super) struct Batcher<C: Batched> {
    jobs: mpsc::UnboundedSender<Job<C>>,
}

impl<C: Batched> Batcher<C> {
    /// Starts the gathering task on the current runtime.
    pub(super) fn start(pool: Pool) -> Self {
        let (jobs, waiting) = mpsc::unbounded_channel();
        tokio::spawn(gather(pool, waiting));
        Self { jobs }
    }

    /// Runs `call` in the next batch; resolves after its commit.
    pub(super) async fn call(&self, call: C) -> Result<C::Out> {
        let (done, answer) = oneshot::channel();
        self.jobs
            .send((call, done))
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Takes the waiting calls as batches, each committed by a task of its own once one of the
/// [`BATCHES_IN_FLIGHT`] turns is free (the calls arriving meanwhile wait for the next batch).
async fn gather<C: Batched>(pool: Pool, mut waiting: mpsc::UnboundedReceiver<Job<C>>) {
    let turns = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    loop {
        let Ok(turn) = turns.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut size = first.0.size();
        let mut batch = vec![first];
        while size < BATCH_SIZE
            && let Ok(job) = waiting.try_recv()
        {
            size += job.0.size();
            batch.push(job);
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            commit_batch(&pool, batch).await;
            drop(turn);
        });
    }
}

/// Commits `batch` in one transaction and answers its callers; if that fails, runs each call in
/// a transaction of its own.
async fn commit_batch<C: Batched>(pool: &Pool, batch: Vec<Job<C>>) {
    let together = {
        let calls: Vec<&C> = batch.iter().map(|(call, _)| call).collect();
        C::commit(pool, &calls).await
    };
    match together {
        Ok(outs) => {
            for ((_, done), out) in batch.into_iter().zip(outs) {
                let _ = done.send(Ok(out));
            }
        }
        Err(e) if batch.len() == 1 => {
            for (_, done) in batch {
                let _ = done.send(Err(e.clone()));
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, calls = batch.len(), "a batch failed; running each call alone");
            for (call, done) in batch {
                let alone = C::commit(pool, &[&call]).await.and_then(|mut outs| {
                    outs.pop()
                        .ok_or_else(|| StoreError::Database("a call got no answer".into()))
                });
                let _ = done.send(alone);
            }
        }
    }
}
