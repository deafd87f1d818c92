//! A bound SMPP connection as senders see it: a queue to its writer and the requests waiting for
//! their responses, matched by sequence number. When the connection ends every waiter learns at
//! once, instead of waiting out its timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::pdu::Pdu;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The connection ended before the response came.
    Closed,
    /// No response within the configured time.
    Timeout,
}

#[derive(Default)]
struct Pending {
    closed: bool,
    waiting: HashMap<u32, oneshot::Sender<Pdu>>,
}

#[derive(Clone)]
pub struct Link {
    writer: mpsc::Sender<Pdu>,
    pending: Arc<Mutex<Pending>>,
}

impl Link {
    pub fn new(writer: mpsc::Sender<Pdu>) -> Self {
        Self {
            writer,
            pending: Arc::default(),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic elsewhere while holding the lock leaves the map usable; don't cascade it.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `pdu` and waits for the response with its sequence number.
    pub async fn request(&self, pdu: Pdu, timeout: Duration) -> Result<Pdu, LinkError> {
        let sequence = pdu.sequence;
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = self.pending();
            if pending.closed {
                return Err(LinkError::Closed);
            }
            pending.waiting.insert(sequence, tx);
        }
        if self.writer.send(pdu).await.is_err() {
            self.pending().waiting.remove(&sequence);
            return Err(LinkError::Closed);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(LinkError::Closed),
            Err(_) => {
                self.pending().waiting.remove(&sequence);
                Err(LinkError::Timeout)
            }
        }
    }

    /// Sends a PDU that expects no response (a response of ours).
    pub async fn send(&self, pdu: Pdu) -> Result<(), LinkError> {
        self.writer.send(pdu).await.map_err(|_| LinkError::Closed)
    }

    /// Hands a response to its waiter; gives it back when nobody waits for that sequence.
    pub fn complete(&self, resp: Pdu) -> Result<(), Pdu> {
        let waiter = self.pending().waiting.remove(&resp.sequence);
        match waiter {
            Some(tx) => tx.send(resp),
            None => Err(resp),
        }
    }

    /// Fails every waiter and refuses new requests.
    pub fn close(&self) {
        let mut pending = self.pending();
        pending.closed = true;
        pending.waiting.clear();
    }
}
