//! Callback delivery from the durable outbox (cams-api.md §4.1). One loop routes new events of
//! the event log to their endpoints' outboxes, claims endpoints that have pending records with a
//! lease, and posts each one batch: a JSON array of at most `batch` records and `max_body` bytes,
//! oldest event first, signed with the account's secret. 2xx removes the batch; anything else
//! (or a timeout) backs the endpoint off exponentially, and an endpoint failing long enough is
//! disabled (its records are kept). An endpoint is held by one deliverer at a time and its
//! next batch is read only after the previous one settled, so per endpoint the records arrive
//! in event order (a message's `Read` never before its `Delivered`), and a failing endpoint
//! blocks nobody else. Each attempt is logged by its settle with the receiver's status and the
//! start of its answer (one row per request), for the console's message page.

pub mod http;
pub mod ssrf;

use std::sync::Arc;
use std::time::Duration;

use opencams_domain::Clock;
use opencams_store::{ClaimedEndpoint, DeliveryOutcome, Store};
use tokio_util::sync::CancellationToken;

use crate::claim_loop::{self, Claimer, LoopConfig};
use crate::worker::backoff_ms;

/// Events routed to outboxes per pass; a full pass means more are waiting.
const ROUTE_LIMIT: u32 = 1000;

#[derive(Debug, Clone)]
pub struct CallbackConfig {
    pub poll_ms: u64,
    /// How long a claimed endpoint is held (longer than a timed-out attempt).
    pub lease_ms: i64,
    /// Records per POST.
    pub batch: u32,
    /// Bytes per POST body.
    pub max_body: usize,
    /// Endpoints delivered to at once.
    pub concurrency: usize,
    pub timeout: Duration,
    /// First retry delay; doubles per consecutive failure (jittered), capped at `retry_max_ms`.
    pub retry_base_ms: i64,
    pub retry_max_ms: i64,
    /// Disable an endpoint after this many consecutive failures …
    pub disable_after: i64,
    /// … spanning at least this long.
    pub disable_span_ms: i64,
    pub allow_private: bool,
}

impl Default for CallbackConfig {
    fn default() -> Self {
        Self {
            poll_ms: 100,
            lease_ms: 30_000,
            batch: 100,
            max_body: 1024 * 1024,
            concurrency: 32,
            timeout: Duration::from_secs(5),
            retry_base_ms: 5_000,
            retry_max_ms: 3_600_000,
            disable_after: 10,
            disable_span_ms: 24 * 3_600_000,
            allow_private: false,
        }
    }
}

pub struct CallbackWorker {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: CallbackConfig,
    owner: String,
    client: reqwest::Client,
}

/// The POST body of a batch: the longest prefix of `records` within `max_body` bytes. Returns
/// the body and how many records it holds (0 when the first record alone is too large).
pub fn batch_body(records: &[&str], max_body: usize) -> (Vec<u8>, usize) {
    let mut body = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    body.push(b'[');
    let mut n = 0;
    for r in records {
        let extra = r.len() + usize::from(n > 0);
        if body.len() + extra + 1 > max_body {
            break;
        }
        if n > 0 {
            body.push(b',');
        }
        body.extend_from_slice(r.as_bytes());
        n += 1;
    }
    body.push(b']');
    (body, n)
}

impl CallbackWorker {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: CallbackConfig,
        owner: String,
    ) -> reqwest::Result<Arc<Self>> {
        let client = http::client(config.timeout, config.allow_private)?;
        Ok(Arc::new(Self {
            store,
            clock,
            config,
            owner,
            client,
        }))
    }

    /// Routes and delivers until `shutdown`; then lets in-flight attempts finish and settle.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let concurrency = self.config.concurrency.max(1);
        let config = LoopConfig {
            concurrency,
            // `batch` is records per POST; a pass claims as many endpoints as permits are free
            batch: u32::try_from(concurrency).unwrap_or(u32::MAX),
            poll_ms: self.config.poll_ms,
        };
        claim_loop::run(self, config, shutdown).await;
    }

    /// One pass at the clock's now: routes new events, claims up to `concurrency` due
    /// endpoints, makes one attempt on each and returns how many endpoints were attempted.
    pub async fn tick(&self) -> usize {
        let limit = u32::try_from(self.config.concurrency.max(1)).unwrap_or(u32::MAX);
        claim_loop::tick(self, limit).await
    }

    async fn deliver(&self, c: ClaimedEndpoint) {
        let ep = &c.endpoint;
        let texts: Vec<&str> = c.records.iter().map(|r| r.payload.as_str()).collect();
        let (body, n) = batch_body(&texts, self.config.max_body);
        let outcome = if n == 0 {
            match c.records.first() {
                Some(r) => DeliveryOutcome::Dropped {
                    event_ids: vec![r.event_id],
                    reason: format!(
                        "event {} is larger than a callback body may be ({} bytes); dropped",
                        r.event_id, self.config.max_body
                    ),
                },
                None => DeliveryOutcome::Delivered {
                    event_ids: vec![],
                    status: None,
                    answer: String::new(),
                },
            }
        } else {
            let started = std::time::Instant::now();
            let now_secs = self.clock.now_ms().div_euclid(1000);
            let result = http::post(
                &self.client,
                &ep.url,
                body,
                c.secret.expose(),
                now_secs,
                self.config.allow_private,
            )
            .await;
            let ids: Vec<i64> = c.records[..n].iter().map(|r| r.event_id).collect();
            match result {
                Ok(answer) => {
                    tracing::debug!(url = %ep.url, records = n, status = answer.status, elapsed_ms = started.elapsed().as_millis() as u64, "callbacks delivered");
                    DeliveryOutcome::Delivered {
                        event_ids: ids,
                        status: Some(answer.status),
                        answer: answer.body,
                    }
                }
                Err(failure) => {
                    let wait = backoff_ms(
                        ep.failures,
                        self.config.retry_base_ms.max(1),
                        self.config.retry_max_ms.max(1),
                    );
                    let http::Failure { error, answer } = failure;
                    tracing::info!(url = %ep.url, records = n, failures = ep.failures + 1, retry_in_ms = wait, %error, "callback delivery failed");
                    // the receiver's body when it answered, else what went wrong
                    let (status, answer) = match answer {
                        Some(a) => (Some(a.status), a.body),
                        None => (None, error.clone()),
                    };
                    DeliveryOutcome::Failed {
                        event_ids: ids,
                        status,
                        answer,
                        error,
                        retry_at: self.clock.now_ms() + wait,
                        disable_after: self.config.disable_after,
                        disable_span_ms: self.config.disable_span_ms,
                    }
                }
            }
        };
        match self
            .store
            .settle_endpoint(ep.id, &self.owner, outcome, self.clock.now_ms())
            .await
        {
            Ok(Some(after)) if !after.enabled && ep.enabled => {
                tracing::warn!(url = %ep.url, reason = after.disabled_reason.as_deref().unwrap_or(""), "callback endpoint disabled");
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(url = %ep.url, "callback lease lost before settling; the batch will be sent again")
            }
            Err(e) => {
                tracing::error!(url = %ep.url, error = %e, "settling a callback attempt failed; the batch will be sent again")
            }
        }
    }
}

impl Claimer for CallbackWorker {
    type Item = ClaimedEndpoint;

    /// Routes new events first (even with no permit free), then claims due endpoints.
    async fn claim(&self, limit: u32) -> (Vec<ClaimedEndpoint>, bool) {
        let routed = match self
            .store
            .route_events(ROUTE_LIMIT, self.clock.now_ms())
            .await
        {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "routing events to callback endpoints failed");
                0
            }
        };
        let more = routed >= ROUTE_LIMIT as usize;
        if limit == 0 {
            return (Vec::new(), more);
        }
        let claimed = self
            .store
            .claim_endpoints(
                &self.owner,
                self.clock.now_ms(),
                self.config.lease_ms,
                limit,
                self.config.batch,
            )
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "claiming callback endpoints failed");
                Vec::new()
            });
        (claimed, more)
    }

    async fn process(&self, c: ClaimedEndpoint) {
        self.deliver(c).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_within_the_body_limit() {
        let recs = ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"];
        assert_eq!(
            batch_body(&recs, 1 << 20),
            (b"[{\"a\":1},{\"b\":2},{\"c\":3}]".to_vec(), 3)
        );
        // "[" + 7 + "," + 7 + "]" = 17 bytes
        assert_eq!(batch_body(&recs, 17).1, 2);
        assert_eq!(batch_body(&recs, 16).1, 1);
        assert_eq!(batch_body(&recs, 5).1, 0);
        assert_eq!(batch_body(&[], 100), (b"[]".to_vec(), 0));
    }
}
