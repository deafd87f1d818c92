//! Group commit: one thread owns the write connection and runs every write job it can gather in
//! one transaction, each job in its own savepoint (so one failing job does not undo the others),
//! then commits once (fsync, `synchronous=FULL`) and only then answers every caller. Durability
//! costs one fsync per batch, not per request.
//!
//! Checkpoints (copying the WAL back into the database file) run on a second thread with its own
//! connection, so the writer does not stop to copy pages; the writer itself only checkpoints
//! once a second, when the background thread has already copied nearly everything, so that the
//! WAL is reset and does not grow under a steady stream of commits.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;

/// The most jobs committed together.
const MAX_BATCH: usize = 1024;

/// How often the background thread checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// How often the writer checkpoints between batches (which lets the next commit reset the WAL).
const WRITER_CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// One write: run inside the group transaction, then told how the commit went.
trait Job: Send {
    /// Runs the write; `false` when it failed. A job can be run again (after its batch was
    /// rolled back): only the last run's result is kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch is committed (`None`) or failed.
    fn finish(self: Box<Self>, commit_err: Option<StoreError>);
}

struct TypedJob<F, T> {
    f: F,
    result: Option<Result<T, StoreError>>,
    done: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for TypedJob<F, T>
where
    F: Fn(&Connection) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let r = (self.f)(conn);
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn finish(self: Box<Self>, commit_err: Option<StoreError>) {
        let out = match (commit_err, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(r)) => r,
            (None, None) => Err(StoreError::Closed),
        };
        let _ = self.done.send(out);
    }
}

type BoxedJob = Box<dyn Job>;

pub(crate) struct Writer {
    tx: std::sync::Mutex<Option<mpsc::UnboundedSender<BoxedJob>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Dropped to stop the checkpointer.
    checkpoint_stop: std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>,
    checkpointer: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer on `conn` and the checkpointer on a second connection to `path`
    /// (without one, the writer checkpoints by itself as SQLite does by default).
    pub(crate) fn start(conn: Connection, path: &Path) -> Self {
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        // SQLite runs one checkpoint at a time (another gets SQLITE_BUSY at once): the writer's
        // must not collide with the background one, or the WAL is never reset
        let turn = std::sync::Arc::new(std::sync::Mutex::new(()));
        let background_turn = turn.clone();
        let checkpointer = Connection::open(path)
            .and_then(|c| {
                c.busy_timeout(Duration::from_secs(10))?;
                conn.execute_batch("PRAGMA wal_autocheckpoint=0;")?;
                Ok(c)
            })
            .map_err(|e| tracing::warn!(error = %e, "no background checkpointer"))
            .ok()
            .and_then(|c| {
                std::thread::Builder::new()
                    .name("opencams-sqlite-checkpoint".into())
                    .spawn(move || checkpoint_loop(c, stop_rx, &background_turn))
                    .ok()
            });
        let background = checkpointer.is_some().then_some(turn);
        let (tx, rx) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("opencams-sqlite-writer".into())
            .spawn(move || run(conn, rx, background))
            .ok();
        Self {
            tx: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(thread),
            checkpoint_stop: std::sync::Mutex::new(Some(stop_tx)),
            checkpointer: std::sync::Mutex::new(checkpointer),
        }
    }

    /// Runs `f` inside the next group transaction; resolves after the commit.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, done_rx) = oneshot::channel();
        let job: BoxedJob = Box::new(TypedJob {
            f,
            result: None,
            done,
        });
        {
            let guard = self.tx.lock().map_err(|_| StoreError::Closed)?;
            guard
                .as_ref()
                .ok_or(StoreError::Closed)?
                .send(job)
                .map_err(|_| StoreError::Closed)?;
        }
        done_rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops taking jobs, lets the thread finish what was queued, checkpoints and closes.
    pub(crate) fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        if let Ok(mut stop) = self.checkpoint_stop.lock() {
            stop.take();
        }
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = checkpointer {
            let _ = h.join();
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// Copies committed WAL pages into the database file every [`CHECKPOINT_EVERY`] until `stop`'s
/// sender is dropped. PASSIVE never blocks the writer or readers.
fn checkpoint_loop(
    conn: Connection,
    stop: std::sync::mpsc::Receiver<()>,
    turn: &std::sync::Mutex<()>,
) {
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY)
    {
        let Ok(_turn) = turn.lock() else { return };
        if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
            tracing::debug!(error = %e, "background checkpoint failed");
        }
    }
}

/// `background`: the checkpointer's turn, when there is one.
fn run(
    conn: Connection,
    mut rx: mpsc::UnboundedReceiver<BoxedJob>,
    background: Option<std::sync::Arc<std::sync::Mutex<()>>>,
) {
    let mut batch: Vec<BoxedJob> = Vec::with_capacity(MAX_BATCH);
    let mut checkpointed = Instant::now();
    let mut stats = Stats::new();
    while let Some(first) = rx.blocking_recv() {
        let started = Instant::now();
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let jobs = batch.len();
        let (committing, committed) = commit_batch(&conn, &mut batch);
        stats.add(jobs, started, committing, committed);
        // only when the background thread is not in the middle of one (try again next batch)
        if let Some(turn) = &background
            && checkpointed.elapsed() >= WRITER_CHECKPOINT_EVERY
            && let Ok(_turn) = turn.try_lock()
        {
            checkpointed = Instant::now();
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::debug!(error = %e, "writer checkpoint failed");
            }
        }
    }
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
    tracing::debug!("sqlite writer closed");
}

/// What the writer did over the last second, logged at debug level: how busy it was, and how
/// its time split between running jobs and committing (the fsync).
struct Stats {
    since: Instant,
    batches: u64,
    jobs: u64,
    busy: Duration,
    committing: Duration,
    answering: Duration,
}

impl Stats {
    fn new() -> Self {
        Self {
            since: Instant::now(),
            batches: 0,
            jobs: 0,
            busy: Duration::ZERO,
            committing: Duration::ZERO,
            answering: Duration::ZERO,
        }
    }

    /// `started`: when the batch was taken; `committing`: when its jobs were done and the
    /// commit began; `committed`: when it was done and answering the callers began.
    fn add(&mut self, jobs: usize, started: Instant, committing: Instant, committed: Instant) {
        self.batches += 1;
        self.jobs += jobs as u64;
        self.busy += started.elapsed();
        self.committing += committed - committing;
        self.answering += committed.elapsed();
        let span = self.since.elapsed();
        if span >= Duration::from_secs(1) {
            tracing::debug!(
                batches = self.batches,
                jobs = self.jobs,
                busy_pct = (100.0 * self.busy.as_secs_f64() / span.as_secs_f64()).round(),
                commit_pct = (100.0 * self.committing.as_secs_f64() / span.as_secs_f64()).round(),
                us_per_commit = (self.committing.as_micros() as u64) / self.batches.max(1),
                answer_pct = (100.0 * self.answering.as_secs_f64() / span.as_secs_f64()).round(),
                "sqlite writer"
            );
            *self = Self::new();
        }
    }
}

/// Runs and commits one batch; returns when its jobs were done and the commit began, and when
/// the commit was done (the callers were answered after).
///
/// The jobs first run straight in the transaction. A savepoint per job would let one failing
/// job be undone alone, but it makes SQLite copy every page a job touches into a sub-journal
/// first (about a tenth of the writer's time); failures are rare, so only when one happens is
/// the whole batch rolled back and run again with a savepoint per job.
fn commit_batch(conn: &Connection, batch: &mut Vec<BoxedJob>) -> (Instant, Instant) {
    let began = conn.execute_batch("BEGIN IMMEDIATE").and_then(|()| {
        if batch.iter_mut().all(|job| job.run(conn)) {
            return Ok(());
        }
        // ROLLBACK fails only when SQLite already rolled back by itself
        let _ = conn.execute_batch("ROLLBACK");
        conn.execute_batch("BEGIN IMMEDIATE")?;
        run_each_in_savepoint(conn, batch);
        Ok(())
    });
    if let Err(e) = began {
        let err = StoreError::Database(format!("cannot begin a transaction: {e}"));
        batch
            .drain(..)
            .for_each(|job| job.finish(Some(err.clone())));
        let now = Instant::now();
        return (now, now);
    }
    let committing = Instant::now();
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            let committed = Instant::now();
            batch.drain(..).for_each(|job| job.finish(None));
            return (committing, committed);
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let err = StoreError::Database(format!("commit failed: {e}"));
            batch
                .drain(..)
                .for_each(|job| job.finish(Some(err.clone())));
        }
    }
    (committing, Instant::now())
}

/// Runs each job in a savepoint of its own, so that a failing job is undone alone.
fn run_each_in_savepoint(conn: &Connection, batch: &mut [BoxedJob]) {
    // prepared once and cached: parsing these three statements per job was a visible share of
    // the writer's time
    let step = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([]));
    for job in batch.iter_mut() {
        let ok = step("SAVEPOINT job").is_ok() && job.run(conn);
        let end = if ok {
            step("RELEASE job")
        } else {
            step("ROLLBACK TO job").and_then(|_| step("RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "savepoint end failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn insert(c: &Connection, n: i64) -> Result<(), StoreError> {
        c.execute("INSERT INTO t (n) VALUES (?1)", [n])
            .map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_undone_alone_and_the_others_commit_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (n INTEGER UNIQUE);")
            .unwrap();
        let writer = Arc::new(Writer::start(conn, &path));
        // a first job holds the writer until the next three are queued, so that they are
        // gathered into one batch (a gate, not a sleep: a busy machine cannot split them)
        let (open_gate, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(Some(gate)));
        let slow = {
            let w = writer.clone();
            tokio::spawn(async move {
                w.write(move |c| {
                    if let Some(gate) = gate.lock().unwrap().take() {
                        let _ = gate.recv_timeout(Duration::from_secs(10));
                    }
                    insert(c, 0)
                })
                .await
            })
        };
        let runs = Arc::new(AtomicUsize::new(0));
        let job = |n: i64, fail: bool| {
            let (w, runs) = (writer.clone(), runs.clone());
            Box::pin(async move {
                w.write(move |c| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    insert(c, n)?;
                    if fail {
                        // after writing: its row must not survive
                        return Err(StoreError::Conflict("refused".into()));
                    }
                    insert(c, n + 100)
                })
                .await
            })
        };
        let (mut a, mut b, mut c) = (job(1, false), job(2, true), job(3, false));
        // polled once each, in order: each queues its job (and then waits for its commit)
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert!(c.as_mut().poll(&mut cx).is_pending());
        open_gate.send(()).unwrap();
        assert!(slow.await.unwrap().is_ok());
        assert!(a.await.is_ok());
        assert!(matches!(b.await, Err(StoreError::Conflict(_))));
        assert!(c.await.is_ok());
        // the batch ran straight, failed at the second job, and ran again with savepoints
        assert_eq!(runs.load(Ordering::SeqCst), 2 + 3);
        writer.close();
        let check = Connection::open(&path).unwrap();
        let rows: Vec<i64> = check
            .prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, vec![0, 1, 3, 101, 103]);
    }
}
