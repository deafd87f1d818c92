//! SMS fallback (cams-api.md §3.1.4): a message that names a FallBackId gets a durable fallback
//! row. With FallBackDuration it fires when no delivered receipt has come by then; without, when
//! the message fails. A delivered receipt before that cancels it; after the SMS went out it
//! changes nothing. Rows are claimed with a lease, so one fires once even with several workers
//! and across restarts. Every step (scheduled, cancelled, sent, delivered, failed) is a status
//! event on the message (built by `opencams_store::events::fallback_event`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opencams_channels::sms::http::{HttpSms, HttpSmsConfig};
use opencams_channels::sms::smpp::{SmppClient, SmppConfig};
use opencams_channels::sms::{DeliveryReport, Sms, SmsError, SmsSender};
use opencams_domain::Clock;
use opencams_domain::template::{self, Category};
use opencams_store::{FallbackOutcome, FallbackRow, MessageRow, NewEvent, Policy, Store};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::claim_loop::{self, Claimer, LoopConfig};
use crate::render::{TemplateView, text_of};
use opencams_domain::{FallbackState, SendType};
use opencams_store::events::fallback_event;

/// Opens the SMS connection a policy names.
pub type Connect = Box<dyn Fn(&Policy) -> Result<Arc<dyn SmsSender>, SmsError> + Send + Sync>;

/// SMS connections per policy, opened on first use and kept.
pub struct PolicySenders {
    senders: Mutex<HashMap<(i64, String), Arc<dyn SmsSender>>>,
    connect: Connect,
}

impl PolicySenders {
    /// Connects as each policy's connection JSON says (SMPP or HTTP); SMPP delivery reports go
    /// to `reports`.
    pub fn new(
        reports: mpsc::UnboundedSender<DeliveryReport>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Self::with_connect(Box::new(move |p| connect(p, &reports, &shutdown)))
    }

    /// Connects with `connect` instead (tests inject a fake sender here).
    pub fn with_connect(connect: Connect) -> Arc<Self> {
        Arc::new(Self {
            senders: Mutex::new(HashMap::new()),
            connect,
        })
    }

    fn sender(&self, p: &Policy) -> Result<Arc<dyn SmsSender>, SmsError> {
        let key = (p.account_id, p.id.clone());
        if let Some(s) = self.senders.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(s);
        }
        let s = (self.connect)(p)?;
        if let Ok(mut m) = self.senders.lock() {
            m.insert(key, s.clone());
        }
        Ok(s)
    }
}

/// Opens the connection a policy's connection JSON describes.
fn connect(
    p: &Policy,
    reports: &mpsc::UnboundedSender<DeliveryReport>,
    shutdown: &CancellationToken,
) -> Result<Arc<dyn SmsSender>, SmsError> {
    let bad = |why: &str| SmsError {
        code: "policy".into(),
        description: format!("policy {}: {why}", p.id),
        retryable: false,
    };
    let conn: Value = serde_json::from_str(p.connection.expose())
        .map_err(|_| bad("the connection is not valid"))?;
    let s: Arc<dyn SmsSender> = match conn["kind"].as_str() {
        Some("smpp") => {
            let cfg = SmppConfig::new(
                conn["address"].as_str().unwrap_or_default(),
                conn["system_id"].as_str().unwrap_or_default(),
                conn["password"].as_str().unwrap_or_default(),
            );
            SmppClient::start(cfg, reports.clone(), shutdown.clone())
        }
        Some("http") => {
            let cfg = HttpSmsConfig {
                url: conn["url"].as_str().unwrap_or_default().to_string(),
                token: conn["token"].as_str().map(String::from),
            };
            Arc::new(HttpSms::new(cfg, Duration::from_secs(10)).map_err(|e| bad(&e.to_string()))?)
        }
        _ => return Err(bad("unknown connection kind")),
    };
    Ok(s)
}

/// Fallbacks decided at once, and claimed per pass at most.
const FALLBACK_CONCURRENCY: u32 = 64;

pub struct FallbackWorker {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub senders: Arc<PolicySenders>,
    pub owner: String,
    pub lease_ms: i64,
    pub retry_base_ms: i64,
    pub poll_ms: u64,
}

impl FallbackWorker {
    /// Decides due fallbacks until `shutdown`; then lets the ones in flight finish.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let config = LoopConfig {
            concurrency: FALLBACK_CONCURRENCY as usize,
            batch: FALLBACK_CONCURRENCY,
            poll_ms: self.poll_ms,
        };
        claim_loop::run(self, config, shutdown).await;
    }

    /// One pass at the clock's now: claims the fallbacks that must be decided, decides each and
    /// returns how many were claimed.
    pub async fn tick(&self) -> usize {
        claim_loop::tick(self, FALLBACK_CONCURRENCY).await
    }

    async fn settle(&self, f: &FallbackRow, outcome: FallbackOutcome, events: Vec<NewEvent>) {
        let now = self.clock.now_ms();
        match self
            .store
            .settle_fallback(&f.message_id, &self.owner, outcome, events, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(message = %f.message_id, "fallback lease lost before settling")
            }
            Err(e) => {
                tracing::error!(message = %f.message_id, error = %e, "settling a fallback failed")
            }
        }
    }

    fn outcome(
        state: FallbackState,
        due_at: Option<i64>,
        ids: Vec<String>,
        text: Option<String>,
        error: Option<String>,
    ) -> FallbackOutcome {
        FallbackOutcome {
            state,
            due_at,
            sms_ids: ids,
            text,
            error,
        }
    }

    async fn text(&self, m: &MessageRow) -> String {
        if let Some(t) = m.fallback_content.clone().filter(|t| !t.is_empty()) {
            return t;
        }
        if m.send_type == SendType::Template {
            let rows = self
                .store
                .templates_by_code(&m.space_id, m.template_code.as_deref().unwrap_or(""))
                .await
                .unwrap_or_default();
            let lang = m.language.clone().unwrap_or_default();
            if let Some(r) = rows.iter().find(|r| r.language == lang)
                && let (Ok(components), Ok(category)) = (
                    template::parse_components(&r.components),
                    Category::parse(&r.category),
                )
            {
                let view = TemplateView {
                    name: &r.name,
                    language: &r.language,
                    category,
                    components: &components,
                };
                return text_of(m, Some(&view));
            }
            return String::new();
        }
        text_of(m, None)
    }

    async fn decide(&self, f: FallbackRow, m: MessageRow) {
        let now = self.clock.now_ms();
        if m.status.reached_user() {
            let ev = fallback_event(
                &m,
                "FallbackCancelled",
                "delivered before the fallback was due".into(),
                None,
                now,
            );
            return self
                .settle(
                    &f,
                    Self::outcome(FallbackState::Cancelled, None, vec![], None, None),
                    vec![ev],
                )
                .await;
        }
        if f.state == FallbackState::Armed && !m.status.undeliverable() {
            return self
                .settle(
                    &f,
                    Self::outcome(FallbackState::Armed, None, vec![], None, None),
                    vec![],
                )
                .await;
        }
        let text = self.text(&m).await;
        let policy = match self.store.policy(m.account_id, &f.policy_id).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                let ev = fallback_event(
                    &m,
                    "FallbackFailed",
                    format!("policy {} no longer exists", f.policy_id),
                    Some(("policy", "deleted")),
                    now,
                );
                return self
                    .settle(
                        &f,
                        Self::outcome(
                            FallbackState::Failed,
                            None,
                            vec![],
                            Some(text),
                            Some("policy deleted".into()),
                        ),
                        vec![ev],
                    )
                    .await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading a policy failed");
                let retry = Some(now + self.retry_base_ms);
                return self
                    .settle(
                        &f,
                        Self::outcome(
                            FallbackState::Scheduled,
                            retry,
                            vec![],
                            None,
                            Some(e.to_string()),
                        ),
                        vec![],
                    )
                    .await;
            }
        };
        if text.trim().is_empty() {
            let ev = fallback_event(
                &m,
                "FallbackFailed",
                "there is no text to send".into(),
                Some(("empty", "no text")),
                now,
            );
            return self
                .settle(
                    &f,
                    Self::outcome(
                        FallbackState::Failed,
                        None,
                        vec![],
                        None,
                        Some("empty text".into()),
                    ),
                    vec![ev],
                )
                .await;
        }
        let sms = Sms {
            from: policy.sender_id.clone(),
            to: m.recipient.clone(),
            text: text.clone(),
            reference: m.id.clone(),
        };
        let sent = match self.senders.sender(&policy) {
            Ok(s) => s.send(&sms).await,
            Err(e) => Err(e),
        };
        let now = self.clock.now_ms();
        match sent {
            Ok(sub) => {
                let desc = format!(
                    "SMS sent through policy {} in {} part(s)",
                    policy.id, sub.parts
                );
                let ev = fallback_event(&m, "FallbackSent", desc, None, now);
                self.settle(
                    &f,
                    Self::outcome(FallbackState::Sent, None, sub.ids, Some(text), None),
                    vec![ev],
                )
                .await;
            }
            Err(e) if e.retryable && f.attempts < 12 => {
                let wait = crate::worker::backoff_ms(f.attempts, self.retry_base_ms, 10 * 60_000);
                tracing::info!(message = %m.id, error = %e, "SMS fallback failed; retrying");
                self.settle(
                    &f,
                    Self::outcome(
                        FallbackState::Scheduled,
                        Some(now + wait),
                        vec![],
                        Some(text),
                        Some(e.to_string()),
                    ),
                    vec![],
                )
                .await;
            }
            Err(e) => {
                let ev = fallback_event(
                    &m,
                    "FallbackFailed",
                    format!("SMS not sent: {}", e.description),
                    Some((&e.code, &e.description)),
                    now,
                );
                self.settle(
                    &f,
                    Self::outcome(
                        FallbackState::Failed,
                        None,
                        vec![],
                        Some(text),
                        Some(e.to_string()),
                    ),
                    vec![ev],
                )
                .await;
            }
        }
    }
}

impl Claimer for FallbackWorker {
    type Item = (FallbackRow, MessageRow);

    async fn claim(&self, limit: u32) -> (Vec<(FallbackRow, MessageRow)>, bool) {
        if limit == 0 {
            return (Vec::new(), false);
        }
        match self
            .store
            .claim_fallbacks(&self.owner, self.clock.now_ms(), self.lease_ms, limit)
            .await
        {
            Ok(c) => (c, false),
            Err(e) => {
                tracing::warn!(error = %e, "claiming fallbacks failed");
                (Vec::new(), false)
            }
        }
    }

    async fn process(&self, (f, m): (FallbackRow, MessageRow)) {
        self.decide(f, m).await;
    }
}

fn report_events(
    delivered: bool,
    stat: String,
    err: String,
    now: i64,
) -> opencams_store::EventsFor {
    Box::new(move |_f: &FallbackRow, m: &MessageRow| {
        if delivered {
            vec![fallback_event(
                m,
                "FallbackDelivered",
                "the SMS was delivered".into(),
                None,
                now,
            )]
        } else {
            vec![fallback_event(
                m,
                "FallbackFailed",
                format!("the SMS was not delivered ({stat})"),
                Some((&stat, &err)),
                now,
            )]
        }
    })
}

/// Maps SMSC delivery reports back to their fallbacks until the channel closes.
pub async fn receive_reports(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    mut rx: mpsc::UnboundedReceiver<DeliveryReport>,
) {
    while let Some(r) = rx.recv().await {
        let store = store.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            // a report can overtake the settlement that records the SMS id: retry briefly
            for _ in 0..50 {
                let events =
                    report_events(r.delivered, r.stat.clone(), r.err.clone(), clock.now_ms());
                match store
                    .fallback_report(&r.id, r.delivered, events, clock.now_ms())
                    .await
                {
                    Ok(Some(_)) => return,
                    Ok(None) => tokio::time::sleep(Duration::from_millis(100)).await,
                    Err(e) => {
                        tracing::warn!(error = %e, "recording a delivery report failed");
                        return;
                    }
                }
            }
            tracing::debug!(sms = %r.id, "a delivery report for no pending fallback");
        });
    }
}
