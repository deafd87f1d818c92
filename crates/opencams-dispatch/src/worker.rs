//! The dispatcher: claims due messages with a lease, respects per-number throughput and the pair
//! rate, renders and sends through the number's channel, and settles the outcome in a new
//! transaction (no transaction is held across the network call). Retryable failures back off
//! exponentially with jitter until a deadline; permanent ones end the message as failed with the
//! provider's code; a message past its `Ttl` ends as expired instead of going out late.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opencams_channels::{Channel, NumberConfig, SendError};
use opencams_domain::Clock;
use opencams_store::cache::{StoreCache, TemplateVersions};
use opencams_store::{Claimed, MessageRow, Number, Settlement, Store};
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::claim_loop::{self, Claimer, LoopConfig};
use crate::limits::SendLimits;
use crate::render::{TemplateView, render};
use opencams_domain::{MessageStatus, SendType};
use opencams_store::events::{StatusFacts, status_event};

/// Where a number's messages go.
pub trait Router: Send + Sync {
    fn route(&self, number: &Number) -> Option<(Arc<dyn Channel>, NumberConfig)>;
}

#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Sends in flight at once.
    pub concurrency: usize,
    pub lease_ms: i64,
    pub batch: u32,
    /// Idle poll interval.
    pub poll_ms: u64,
    pub retry_base_ms: i64,
    pub retry_max_ms: i64,
    /// Retries stop this long after acceptance; the message then fails.
    pub retry_deadline_ms: i64,
    pub pair_capacity: f64,
    pub pair_refill_ms: f64,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            concurrency: 256,
            lease_ms: 60_000,
            batch: 256,
            poll_ms: 20,
            retry_base_ms: 1000,
            retry_max_ms: 5 * 60_000,
            retry_deadline_ms: 24 * 3600 * 1000,
            pair_capacity: 45.0,
            pair_refill_ms: 6000.0,
        }
    }
}

pub struct Dispatcher {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub router: Arc<dyn Router>,
    pub config: DispatchConfig,
    /// This worker's lease name.
    pub owner: String,
    /// Per-number throughput and pair-rate buckets: this process's or the cluster's.
    limits: SendLimits,
    /// Sender numbers and template versions (parsed), read through the store cache the API and
    /// the simulator share: at most once a second rather than once per message.
    cache: Arc<StoreCache>,
    /// What each number sent over the last minute (the console shows it as throughput used).
    meter: Arc<opencams_domain::meter::SendMeter>,
}

/// Exponential backoff with full jitter: a random wait up to base·2^attempt, capped.
pub fn backoff_ms(attempt: i64, base: i64, max: i64) -> i64 {
    let ceiling = base.saturating_mul(1i64 << attempt.clamp(0, 20)).min(max);
    rand::thread_rng().gen_range(ceiling / 2..=ceiling.max(1))
}

impl Dispatcher {
    /// A dispatcher with send limits of its own (one node).
    pub fn new(
        cache: Arc<StoreCache>,
        clock: Arc<dyn Clock>,
        router: Arc<dyn Router>,
        config: DispatchConfig,
        owner: String,
    ) -> Arc<Self> {
        Self::with_limits(cache, clock, router, config, owner, SendLimits::default())
    }

    /// A dispatcher taking its send tokens from `limits` (shared ones on a cluster).
    pub fn with_limits(
        cache: Arc<StoreCache>,
        clock: Arc<dyn Clock>,
        router: Arc<dyn Router>,
        config: DispatchConfig,
        owner: String,
        limits: SendLimits,
    ) -> Arc<Self> {
        Arc::new(Self {
            store: cache.store().clone(),
            clock,
            router,
            config,
            owner,
            limits,
            cache,
            meter: Arc::default(),
        })
    }

    /// What each number sent over the last minute, as this dispatcher counts it.
    pub fn meter(&self) -> Arc<opencams_domain::meter::SendMeter> {
        self.meter.clone()
    }

    /// Claims and sends until `shutdown`; then stops claiming and drains what is in flight.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let config = LoopConfig {
            concurrency: self.config.concurrency,
            batch: self.config.batch,
            poll_ms: self.config.poll_ms,
        };
        claim_loop::run(self, config, shutdown).await;
    }

    /// One pass: claims up to `batch` due messages at the clock's now, sends each and returns
    /// how many were claimed.
    pub async fn tick(&self) -> usize {
        claim_loop::tick(self, self.config.batch).await
    }

    async fn settle(&self, id: &str, outcome: Settlement) {
        let now = self.clock.now_ms();
        match self.store.settle(id, &self.owner, outcome, now).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                message = id,
                "lease lost before settling; another worker owns the message"
            ),
            Err(e) => {
                tracing::error!(message = id, error = %e, "settling failed; the lease will expire and the send repeat")
            }
        }
    }

    fn ended(
        &self,
        m: &MessageRow,
        status: MessageStatus,
        code: &str,
        description: &str,
    ) -> Settlement {
        let facts = StatusFacts::new(
            status.cams_name(),
            Some((code, description)),
            self.clock.now_ms(),
        );
        Settlement::Ended {
            status,
            error_code: code.into(),
            error_description: description.into(),
            event: Some(status_event(m, &facts)),
        }
    }

    async fn send_claimed(&self, c: Claimed) {
        let m = &c.message;
        let now = self.clock.now_ms();
        if let Some(ttl) = m.ttl_secs
            && now > m.created_at + ttl * 1000
        {
            let s = self.ended(
                m,
                MessageStatus::Expired,
                "ttl_expired",
                &format!("not sent within its Ttl of {ttl} s"),
            );
            return self.settle(&m.id, s).await;
        }
        let number = match self.number(&m.sender).await {
            Ok(Some(n)) => n,
            Ok(None) => {
                let s = self.ended(
                    m,
                    MessageStatus::Failed,
                    "133010",
                    "Account not registered(the sender number is no longer registered)",
                );
                return self.settle(&m.id, s).await;
            }
            Err(e) => return self.retry(m, c.attempts, &format!("store: {e}")).await,
        };
        let Some((channel, config)) = self.router.route(&number) else {
            let s = self.ended(
                m,
                MessageStatus::Failed,
                "133010",
                &format!(
                    "Account not registered(no channel {:?} is configured)",
                    number.channel
                ),
            );
            return self.settle(&m.id, s).await;
        };
        // the pair rate: defer this one recipient instead of holding a worker
        if let Err(wait) = self
            .limits
            .take_pair(
                &m.sender,
                &m.recipient,
                self.config.pair_capacity,
                self.config.pair_refill_ms,
                now,
            )
            .await
        {
            let s = Settlement::Retry {
                due_at: now + wait,
                error: "pair rate limit: deferred".into(),
            };
            return self.settle(&m.id, s).await;
        }
        // the number's throughput: wait for a token (the lease is long)
        let mps = f64::from(number.throughput_mps.max(1));
        loop {
            match self
                .limits
                .take_throughput(&m.sender, mps, 1000.0 / mps, self.clock.now_ms())
                .await
            {
                Ok(()) => break,
                Err(wait) => {
                    tokio::time::sleep(Duration::from_millis(wait.clamp(1, 1000) as u64)).await
                }
            }
        }
        self.meter.record(&m.sender, self.clock.now_ms());
        let payload = match self.payload(m).await {
            Ok(p) => p,
            Err(s) => return self.settle(&m.id, s).await,
        };
        match channel.send(&config, &payload).await {
            Ok(sent) => {
                self.settle(
                    &m.id,
                    Settlement::Submitted {
                        provider_id: sent.provider_id,
                    },
                )
                .await
            }
            Err(e) => self.failed_send(m, c.attempts, e).await,
        }
    }

    async fn number(&self, phone: &str) -> Result<Option<Number>, opencams_store::StoreError> {
        self.cache.number(phone).await
    }

    async fn payload(&self, m: &MessageRow) -> Result<serde_json::Value, Settlement> {
        let context = match &m.context_id {
            Some(id) => self
                .store
                .message(id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.provider_id.or(Some(r.id))),
            None => None,
        };
        let rendered = if m.send_type == SendType::Template {
            let code = m.template_code.clone().unwrap_or_default();
            let lang = m.language.clone().unwrap_or_default();
            let versions = match self.cache.templates_by_code(&m.space_id, &code).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "reading a template failed");
                    TemplateVersions::from(Vec::new())
                }
            };
            let found = versions.iter().find(|t| t.row.language == lang);
            match found.map(|t| t.parsed.as_ref()) {
                Some(Ok(t)) => {
                    let view = TemplateView {
                        name: &t.row.name,
                        language: &t.row.language,
                        category: t.category,
                        components: &t.components,
                    };
                    render(m, Some(&view), context.as_deref())
                }
                _ => render(m, None, context.as_deref()),
            }
        } else {
            render(m, None, context.as_deref())
        };
        rendered.map_err(|e| self.ended(m, MessageStatus::Failed, &e.code, &e.description))
    }

    async fn retry(&self, m: &MessageRow, attempts: i64, why: &str) {
        let now = self.clock.now_ms();
        let wait = backoff_ms(
            attempts,
            self.config.retry_base_ms,
            self.config.retry_max_ms,
        );
        let s = if now + wait > m.created_at + self.config.retry_deadline_ms {
            self.ended(
                m,
                MessageStatus::Failed,
                "131000",
                &format!("Something went wrong(gave up retrying: {why})"),
            )
        } else {
            Settlement::Retry {
                due_at: now + wait,
                error: why.to_string(),
            }
        };
        self.settle(&m.id, s).await;
    }

    async fn failed_send(&self, m: &MessageRow, attempts: i64, e: SendError) {
        if e.retryable {
            tracing::info!(message = %m.id, code = %e.code, attempts, "send failed; retrying");
            return self.retry(m, attempts, &e.to_string()).await;
        }
        tracing::info!(message = %m.id, code = %e.code, "send failed permanently");
        let s = self.ended(m, MessageStatus::Failed, &e.code, &e.description);
        self.settle(&m.id, s).await;
    }
}

impl Claimer for Dispatcher {
    type Item = Claimed;

    async fn claim(&self, limit: u32) -> (Vec<Claimed>, bool) {
        if limit == 0 {
            return (Vec::new(), false);
        }
        let now = self.clock.now_ms();
        match self
            .store
            .claim_due(&self.owner, now, self.config.lease_ms, limit)
            .await
        {
            Ok(c) => (c, false),
            Err(e) => {
                tracing::warn!(error = %e, "claiming due messages failed");
                (Vec::new(), false)
            }
        }
    }

    async fn process(&self, c: Claimed) {
        self.send_claimed(c).await;
    }
}

/// Routes by the number's channel name to registered channels (built once in `main`).
pub struct ChannelMap {
    pub channels: HashMap<String, Arc<dyn Channel>>,
    pub configure: Configure,
}

/// Builds the channel settings of a number.
pub type Configure = Box<dyn Fn(&Number) -> Option<NumberConfig> + Send + Sync>;

impl Router for ChannelMap {
    fn route(&self, number: &Number) -> Option<(Arc<dyn Channel>, NumberConfig)> {
        // the simulator's numbers speak the Cloud API: its own channel when one is registered
        let channel = self.channels.get(number.channel.as_str()).or_else(|| {
            (number.channel == "simulator").then(|| self.channels.get("whatsapp-cloud"))?
        })?;
        Some((channel.clone(), (self.configure)(number)?))
    }
}
