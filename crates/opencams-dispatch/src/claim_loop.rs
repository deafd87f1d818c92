//! The one loop every worker runs: claim work due now, process each item in a task of its own
//! under a concurrency permit, reap finished tasks, sleep only when a pass found nothing, and on
//! shutdown stop claiming and drain every task in flight. A worker says what it claims and how
//! it processes one item ([`Claimer`]); the loop owns the permits, the idle sleep and the drain.
//!
//! [`tick`] is the same pass without the loop — claim once, process everything, return how
//! many — so tests drive a worker step by step on a manual clock instead of waiting for it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A worker that claims durable work and processes it item by item.
pub trait Claimer: Send + Sync + 'static {
    type Item: Send + 'static;

    /// Claims at most `limit` items due at the worker clock's now (holding them with a lease
    /// where the store has one). `limit` may be 0 when every permit is taken: claim nothing,
    /// but do any bookkeeping a pass owes. The flag says more work is pending even if nothing
    /// was claimed, so the loop must not sleep.
    fn claim(&self, limit: u32) -> impl Future<Output = (Vec<Self::Item>, bool)> + Send;

    /// Processes one claimed item to its end (settled, or left for its lease to lapse).
    fn process(&self, item: Self::Item) -> impl Future<Output = ()> + Send;
}

/// How a worker's loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopConfig {
    /// Items processed at once.
    pub concurrency: usize,
    /// Items claimed per pass at most (and never more than the free permits).
    pub batch: u32,
    /// How long to sleep after a pass that found nothing.
    pub poll_ms: u64,
}

/// Claims and processes until `shutdown`; then stops claiming and waits for every item in flight.
pub async fn run<W: Claimer>(worker: Arc<W>, config: LoopConfig, shutdown: CancellationToken) {
    let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut inflight = JoinSet::new();
    while !shutdown.is_cancelled() {
        let free = gate.available_permits().min(config.batch as usize) as u32;
        let (claimed, more) = worker.claim(free).await;
        let idle = claimed.is_empty() && !more;
        for item in claimed {
            let Ok(permit) = gate.clone().acquire_owned().await else {
                break;
            };
            let me = worker.clone();
            inflight.spawn(async move {
                me.process(item).await;
                drop(permit);
            });
        }
        while inflight.try_join_next().is_some() {}
        if idle {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(config.poll_ms)) => {}
            }
        }
    }
    // drain: let every claimed item finish and settle
    while inflight.join_next().await.is_some() {}
}

/// One pass of the loop, for tests and tools: claims up to `limit` items once, processes them
/// one after another and returns how many were claimed.
pub async fn tick<W: Claimer>(worker: &W, limit: u32) -> usize {
    let (claimed, _) = worker.claim(limit).await;
    let n = claimed.len();
    for item in claimed {
        worker.process(item).await;
    }
    n
}
