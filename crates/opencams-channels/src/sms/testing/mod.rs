//! A minimal SMSC for tests — this crate's and other crates' (hence `pub`): it listens on
//! 127.0.0.1, answers bind_transceiver (ESME_RINVPASWD for a wrong password), submit_sm
//! (assigning ids, reassembling concatenated parts), enquire_link and unbind, pings each new
//! session with an enquire_link of its own, and sends a deliver_sm receipt for every completed
//! message that asked for one. Switches make it refuse submits or cut every connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod conn;

/// A message the SMSC received, its parts put back together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSms {
    pub from: String,
    pub to: String,
    pub source_ton: u8,
    pub source_npi: u8,
    /// Decoded and concatenated from the parts.
    pub text: String,
    pub data_coding: u8,
    pub parts: usize,
    /// The ids the SMSC gave the parts, in part order.
    pub message_ids: Vec<String>,
}

/// Which receipts the SMSC sends for completed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptMode {
    Delivered,
    Undelivered,
    None,
}

/// A part waiting for its siblings.
struct Part {
    id: String,
    text: String,
    wants_receipt: bool,
}

/// Concatenated messages are keyed as a handset would: sender, recipient, reference, count.
type ConcatKey = (String, String, u16, u8);

struct State {
    system_id: String,
    password: String,
    received: Mutex<Vec<ReceivedSms>>,
    partial: Mutex<HashMap<ConcatKey, Vec<Option<Part>>>>,
    receipts: Mutex<ReceiptMode>,
    submit_status: AtomicU32,
    binds: AtomicUsize,
    enquire_links: AtomicUsize,
    enquire_link_resps: AtomicUsize,
    unbinds: AtomicUsize,
    next_id: AtomicU64,
    sequence: AtomicU32,
    /// Cancelled by `drop_connections`, then replaced for the connections that follow.
    connections: Mutex<CancellationToken>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct TestSmsc {
    state: Arc<State>,
    address: SocketAddr,
    stop: CancellationToken,
}

impl TestSmsc {
    /// Listens on 127.0.0.1 on a free port and accepts binds with these credentials.
    pub async fn start(system_id: &str, password: &str) -> TestSmsc {
        // A test tool: without a loopback port there is no test to run, so failing loudly is right.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the test SMSC binds 127.0.0.1:0");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let stop = CancellationToken::new();
        let state = Arc::new(State {
            system_id: system_id.to_string(),
            password: password.to_string(),
            received: Mutex::default(),
            partial: Mutex::default(),
            receipts: Mutex::new(ReceiptMode::Delivered),
            submit_status: AtomicU32::new(0),
            binds: AtomicUsize::new(0),
            enquire_links: AtomicUsize::new(0),
            enquire_link_resps: AtomicUsize::new(0),
            unbinds: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            sequence: AtomicU32::new(1),
            connections: Mutex::new(stop.child_token()),
        });
        tokio::spawn(accept(listener, state.clone(), stop.clone()));
        TestSmsc {
            state,
            address,
            stop,
        }
    }

    /// `host:port` for `SmppConfig::address`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The completed messages so far, in order of completion.
    pub fn received(&self) -> Vec<ReceivedSms> {
        lock(&self.state.received).clone()
    }

    pub fn set_receipts(&self, mode: ReceiptMode) {
        *lock(&self.state.receipts) = mode;
    }

    /// Answers every submit_sm with this command_status (0 accepts again).
    pub fn fail_submits(&self, status: u32) {
        self.state.submit_status.store(status, Ordering::Relaxed);
    }

    /// Closes every open connection; new ones are accepted as before.
    pub fn drop_connections(&self) {
        let mut current = lock(&self.state.connections);
        current.cancel();
        *current = self.stop.child_token();
    }

    /// Successful binds so far.
    pub fn binds(&self) -> usize {
        self.state.binds.load(Ordering::Relaxed)
    }

    /// enquire_link requests received from clients.
    pub fn enquire_links(&self) -> usize {
        self.state.enquire_links.load(Ordering::Relaxed)
    }

    /// enquire_link_resp answers to the SMSC's own enquire_link.
    pub fn enquire_link_resps(&self) -> usize {
        self.state.enquire_link_resps.load(Ordering::Relaxed)
    }

    /// unbind requests received from clients.
    pub fn unbinds(&self) -> usize {
        self.state.unbinds.load(Ordering::Relaxed)
    }

    /// Polls `check` until it holds or `timeout` passes; returns whether it held.
    pub async fn wait_until(&self, timeout: Duration, check: impl Fn(&TestSmsc) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if check(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until `count` messages have been received (or `timeout`), and returns them all.
    pub async fn wait_received(&self, count: usize, timeout: Duration) -> Vec<ReceivedSms> {
        self.wait_until(timeout, |s| lock(&s.state.received).len() >= count)
            .await;
        self.received()
    }
}

impl Drop for TestSmsc {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept(listener: TcpListener, state: Arc<State>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, _)) => {
                let token = lock(&state.connections).clone();
                tokio::spawn(conn::serve(state.clone(), stream, token));
            }
            Err(e) => tracing::warn!(error = %e, "test SMSC accept failed"),
        }
    }
}
