//! An SMPP 3.4 ESME client over TCP: one transceiver bind kept up by a background task
//! (`session`), and `SmsSender::send` submitting each part and waiting for its submit_sm_resp.
//! Delivery receipts flow out through the channel given to `SmppClient::start`.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use self::link::{Link, LinkError};
use self::pdu::{Pdu, ShortMessage};
use super::{DeliveryReport, Sms, SmsError, SmsSender, SmsSubmitted, encoding};

pub(crate) mod link;
pub(crate) mod pdu;
pub mod receipt;
pub(crate) mod session;
pub(crate) mod wire;

#[derive(Clone)]
pub struct SmppConfig {
    /// `host:port` of the SMSC.
    pub address: String,
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    /// Seconds between our enquire_link keep-alives (30 is usual).
    pub enquire_link_secs: u64,
    /// How long to wait for any response, and for a bind when a send finds none (5000).
    pub response_timeout_ms: u64,
    /// The cap of the reconnect backoff (30000).
    pub reconnect_max_ms: u64,
}

impl SmppConfig {
    /// A configuration with the usual timers.
    pub fn new(address: &str, system_id: &str, password: &str) -> Self {
        Self {
            address: address.to_string(),
            system_id: system_id.to_string(),
            password: password.to_string(),
            system_type: String::new(),
            enquire_link_secs: 30,
            response_timeout_ms: 5000,
            reconnect_max_ms: 30_000,
        }
    }

    fn response_timeout(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms.max(1))
    }
}

impl fmt::Debug for SmppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppConfig")
            .field("address", &self.address)
            .field("system_id", &self.system_id)
            .field("password", &"***")
            .field("system_type", &self.system_type)
            .field("enquire_link_secs", &self.enquire_link_secs)
            .field("response_timeout_ms", &self.response_timeout_ms)
            .field("reconnect_max_ms", &self.reconnect_max_ms)
            .finish()
    }
}

/// What the session task and the senders share.
struct Shared {
    cfg: SmppConfig,
    /// The bound connection, `None` while (re)connecting.
    link: watch::Sender<Option<Link>>,
    sequence: AtomicU32,
    concat_reference: AtomicU8,
    /// Why the last connect or bind failed, for senders' errors.
    last_error: Mutex<Option<String>>,
}

impl Shared {
    /// Sequence numbers run 1..=0x7FFFFFFF and wrap (SMPP 3.4 §5.1.4).
    fn next_sequence(&self) -> u32 {
        self.sequence
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(if s >= 0x7FFF_FFFF { 1 } else { s + 1 })
            })
            .map_or(1, |s| if s >= 0x7FFF_FFFF { 1 } else { s + 1 })
    }

    fn set_last_error(&self, error: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

pub struct SmppClient {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Ends the session when the client is dropped, so a forgotten client does not stay bound.
    _stop: DropGuard,
}

impl SmppClient {
    /// Starts the background session (connect, bind, keep alive, reconnect) and returns at once.
    /// Must be called inside a tokio runtime. The session unbinds and ends when `shutdown` fires
    /// or the client is dropped.
    pub fn start(
        cfg: SmppConfig,
        reports: mpsc::UnboundedSender<DeliveryReport>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let shared = Arc::new(Shared {
            cfg,
            link: watch::Sender::new(None),
            sequence: AtomicU32::new(0),
            concat_reference: AtomicU8::new(0),
            last_error: Mutex::new(None),
        });
        let stop = shutdown.child_token();
        let task = tokio::spawn(session::run(shared.clone(), reports, stop.clone()));
        Arc::new(Self {
            shared,
            task: Mutex::new(Some(task)),
            _stop: stop.drop_guard(),
        })
    }

    /// Bound to the SMSC right now.
    pub fn is_bound(&self) -> bool {
        self.shared.link.borrow().is_some()
    }

    /// Waits up to `timeout` for a bind; true when bound.
    pub async fn wait_bound(&self, timeout: Duration) -> bool {
        self.link(timeout).await.is_some()
    }

    /// Waits for the background session to end (after `shutdown`), so its unbind is sent.
    pub async fn closed(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(task) = task else { return };
        if let Err(e) = task.await {
            tracing::error!(error = %e, "SMPP session task failed");
        }
    }

    async fn link(&self, timeout: Duration) -> Option<Link> {
        let mut rx = self.shared.link.subscribe();
        let bound = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        match bound {
            Ok(Ok(link)) => link.clone(),
            _ => None,
        }
    }

    async fn submit(&self, link: &Link, sm: ShortMessage) -> Result<String, SmsError> {
        let pdu = Pdu::new(pdu::SUBMIT_SM, 0, self.shared.next_sequence(), sm.encode());
        let resp = link
            .request(pdu, self.shared.cfg.response_timeout())
            .await
            .map_err(|e| match e {
                LinkError::Closed => SmsError::retryable(
                    "connection_lost",
                    "the SMPP connection ended before submit_sm_resp",
                ),
                LinkError::Timeout => SmsError::retryable(
                    "timeout",
                    format!(
                        "no submit_sm_resp within {} ms",
                        self.shared.cfg.response_timeout_ms
                    ),
                ),
            })?;
        if resp.status != pdu::ESME_ROK || resp.command_id == pdu::GENERIC_NACK {
            return Err(classify_status(resp.status));
        }
        let id = pdu::decode_id(&resp.body).unwrap_or_default();
        if id.is_empty() {
            // Accepted all the same: failing it would make the dispatcher send it twice.
            tracing::warn!(
                sequence = resp.sequence,
                "submit_sm_resp without message_id"
            );
        }
        Ok(id)
    }
}

/// Maps a non-zero command_status to our error: throttling, a full queue and a system error
/// clear up by themselves; anything else is about the message and fails it.
pub fn classify_status(status: u32) -> SmsError {
    let code = format!("0x{status:08X}");
    let description = pdu::status_name(status);
    match status {
        pdu::ESME_RTHROTTLED | pdu::ESME_RMSGQFUL | pdu::ESME_RSYSERR => {
            SmsError::retryable(&code, description)
        }
        _ => SmsError::permanent(&code, description),
    }
}

#[async_trait::async_trait]
impl SmsSender for SmppClient {
    async fn send(&self, sms: &Sms) -> Result<SmsSubmitted, SmsError> {
        let (from, to) = super::check_addresses(sms)?;
        let reference = self.shared.concat_reference.fetch_add(1, Ordering::Relaxed);
        let encoded = encoding::encode_with_reference(&sms.text, reference)
            .map_err(|e| SmsError::permanent("too_long", e))?;
        let Some(link) = self.link(self.shared.cfg.response_timeout()).await else {
            let why = self
                .shared
                .last_error()
                .unwrap_or_else(|| "still connecting".to_string());
            return Err(SmsError::retryable(
                "not_bound",
                format!(
                    "not bound to the SMSC at {}: {why}",
                    self.shared.cfg.address
                ),
            ));
        };
        let (source_ton, source_npi) = if super::is_alphanumeric_sender(from) {
            (5, 0)
        } else {
            (1, 1)
        };
        let started = Instant::now();
        let count = encoded.parts.len();
        let mut ids = Vec::with_capacity(count);
        for (i, part) in encoded.parts.into_iter().enumerate() {
            let sm = ShortMessage {
                source_ton,
                source_npi,
                source: from.to_string(),
                dest_ton: 1,
                dest_npi: 1,
                dest: to.to_string(),
                esm_class: encoded.esm_class,
                // One receipt per SMS, on its last part: the dispatcher settles one message
                // from one report, and the parts of a message travel together.
                registered_delivery: u8::from(i + 1 == count),
                data_coding: encoded.data_coding,
                short_message: part,
                tlvs: Vec::new(),
            };
            match self.submit(&link, sm).await {
                Ok(id) => ids.push(id),
                Err(e) => {
                    tracing::warn!(reference = %sms.reference, to, part = i + 1, parts = count,
                        elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "submit_sm failed");
                    return Err(e);
                }
            }
        }
        tracing::debug!(reference = %sms.reference, to, parts = count, ?ids,
            data_coding = encoded.data_coding, elapsed_ms = started.elapsed().as_millis() as u64, "SMS submitted");
        Ok(SmsSubmitted { ids, parts: count })
    }
}
