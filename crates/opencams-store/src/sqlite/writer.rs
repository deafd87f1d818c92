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
    /// Runs the write; `false` rolls back this job's savepoint.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch is committed (`None`) or failed.
    fn finish(self: Box<Self>, commit_err: Option<StoreError>);
}

struct TypedJob<F, T> {
    f: Option<F>,
    result: Option<Result<T, StoreError>>,
    done: oneshot::Sender<Result<T, StoreError>>,
}

impl<F, T> Job for TypedJob<F, T>
where
    F: FnOnce(&Connection) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return false };
        let r = f(conn);
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
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, done_rx) = oneshot::channel();
        let job: BoxedJob = Box::new(TypedJob {
            f: Some(f),
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
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
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

fn commit_batch(conn: &Connection, batch: &mut Vec<BoxedJob>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = StoreError::Sqlite(format!("cannot begin a transaction: {e}"));
        batch
            .drain(..)
            .for_each(|job| job.finish(Some(err.clone())));
        return;
    }
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
    match conn.execute_batch("COMMIT") {
        Ok(()) => batch.drain(..).for_each(|job| job.finish(None)),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let err = StoreError::Sqlite(format!("commit failed: {e}"));
            batch
                .drain(..)
                .for_each(|job| job.finish(Some(err.clone())));
        }
    }
}
