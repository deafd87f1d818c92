//! The background task: turns due events into webhooks (one status per POST, or batched per
//! phone number with `chaos_batch`), finishes
//! template reviews, runs the auto-reply scenario, and delivers webhooks with retries. Due
//! times are clock times, so a `ManualClock` drives it too (the loop polls every 25 ms).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Simulator;
use super::faults::take_signature_fault;
use super::ids::stable_hash;
use super::send::WINDOW_MS;
use super::state::{Delivery, Event, State, StatusEvent, WebhookAttempt};
use super::webhooks::{backoff_ms, post, sign, status_body, status_object};
use std::cmp::Reverse;

const POLL_MS: i64 = 25;
const MAX_IN_FLIGHT: usize = 32;
/// Events due this close together go out in one POST when `chaos_batch` is on.
const BATCH_WINDOW_MS: i64 = 10;
/// The most statuses in one batched POST (keeps bodies far below a receiver's size limit).
const MAX_BATCH_STATUSES: usize = 100;
/// Webhook bodies built and waiting for (or in) delivery. While this many wait, due statuses
/// stay scheduled in their compact form: when the receiver is slower than the sends, memory
/// holds small events instead of a growing pile of bodies and tasks.
const MAX_PENDING_BODIES: usize = 4 * MAX_IN_FLIGHT;
/// Statuses taken from the schedule in one tick at most.
const MAX_EVENTS_PER_TICK: usize = 20_000;
/// Statuses this late mean the receiver is not keeping up: like Meta under load, the simulator
/// then batches a number's due statuses into one POST even without `chaos_batch`.
const LAG_BATCH_MS: i64 = 200;

impl Simulator {
    /// Runs until `shutdown` is cancelled.
    pub fn start(
        self: &Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> JoinHandle<()> {
        let sim = Arc::clone(self);
        tokio::spawn(async move { sim.run(shutdown).await })
    }

    async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        loop {
            let saturated = self.tick(&permits);
            let now = self.clock.now_ms();
            // saturated: a finished delivery wakes the loop, nothing else can be done before
            let wait = match self.lock().next_due() {
                Some(due) if !saturated => (due - now).clamp(1, POLL_MS),
                _ => POLL_MS,
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(wait.unsigned_abs())) => {}
                () = self.wake.notified() => {}
            }
        }
    }

    /// Runs what is due; true when webhook delivery is at capacity.
    fn tick(self: &Arc<Self>, permits: &Arc<Semaphore>) -> bool {
        let now = self.clock.now_ms();
        let in_flight = MAX_IN_FLIGHT - permits.available_permits();
        let (events, backed_up) = {
            let mut st = self.lock();
            let pending = st.deliveries.len() + in_flight;
            if pending >= MAX_PENDING_BODIES && self.cfg.webhook_url.is_some() {
                (Vec::new(), true)
            } else {
                (
                    st.due_events(now + BATCH_WINDOW_MS, MAX_EVENTS_PER_TICK),
                    false,
                )
            }
        };
        let lagging = events
            .first()
            .is_some_and(|s| s.due_ms < now - LAG_BATCH_MS);
        let mut statuses: BTreeMap<String, Vec<(i64, StatusEvent)>> = BTreeMap::new();
        for s in events {
            match s.event {
                Event::Status(ev) => statuses
                    .entry(ev.number.phone_number_id.clone())
                    .or_default()
                    .push((s.due_ms, ev)),
                Event::Review { template_id } => self.finish_review(template_id),
                Event::AutoReply { number, from } => {
                    let msg = json!({ "type": "text", "text": { "body": "auto-reply" } });
                    if let Err(e) = self.inbound_for(&number, &from, "Simulated User", msg) {
                        tracing::warn!(error = %e, "simulator auto-reply failed");
                    }
                }
            }
        }
        if !statuses.is_empty() {
            let mut st = self.lock();
            for batch in batches(statuses, self.cfg.chaos_batch || lagging) {
                let body = status_batch(&mut st, &batch);
                let twice = self.cfg.chaos_duplicates && stable_hash(&[&body]).is_multiple_of(10);
                if twice {
                    st.enqueue_webhook_text(body.clone(), now, self.cfg.history_limit);
                }
                st.enqueue_webhook_text(body, now, self.cfg.history_limit);
            }
        }
        let Some(url) = self.cfg.webhook_url.clone() else {
            self.lock().due_deliveries(now);
            return false;
        };
        // start only as many deliveries as may run; the rest wait in the heap, and a finished
        // delivery wakes the loop for the next
        while let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
            let Some(d) = self.lock().next_due_delivery(now) else {
                break;
            };
            let sim = Arc::clone(self);
            let url = url.clone();
            tokio::spawn(async move {
                sim.deliver(&url, d).await;
                drop(permit);
                sim.wake.notify_one();
            });
        }
        backed_up || permits.available_permits() == 0
    }

    async fn deliver(&self, url: &str, d: Delivery) {
        let bad = take_signature_fault(&mut self.lock().faults);
        let key = if bad {
            format!("wrong-{}", self.cfg.app_secret)
        } else {
            self.cfg.app_secret.clone()
        };
        let signature = sign(&key, d.body.as_bytes());
        let at_ms = self.clock.now_ms();
        let outcome = match self.webhook_sink() {
            Some(sink) => match sink.deliver(&d.body, &signature).await {
                Ok(status) => super::webhooks::AttemptOutcome {
                    http_status: Some(status),
                    error: None,
                },
                Err(e) => super::webhooks::AttemptOutcome {
                    http_status: None,
                    error: Some(e),
                },
            },
            None => {
                post(
                    &self.http,
                    url,
                    &d.body,
                    &signature,
                    self.cfg.webhook_timeout_ms,
                )
                .await
            }
        };
        let delivered = outcome.ok();
        let now = self.clock.now_ms();
        let mut st = self.lock();
        if self.cfg.history_limit > 0 {
            st.attempts.push(WebhookAttempt {
                delivery_id: d.id,
                attempt: d.attempt,
                at_ms,
                url: url.to_string(),
                body: d.body.clone(),
                signature,
                http_status: outcome.http_status,
                error: outcome.error,
                delivered,
            });
            super::state::trim(&mut st.attempts, self.cfg.history_limit);
        }
        let retry_for = i64::try_from(self.cfg.webhook_retry_for_ms).unwrap_or(i64::MAX);
        if !delivered && now - d.first_ms < retry_for {
            let attempt = d.attempt + 1;
            st.deliveries.push(Reverse(Delivery {
                due_ms: now + backoff_ms(attempt),
                attempt,
                ..d
            }));
            drop(st);
            self.wake.notify_one();
        }
    }
}

/// The POSTs for due statuses grouped by phone number: one status each, or with `batch` a
/// number's statuses together (in order, at most [`MAX_BATCH_STATUSES`] a POST).
fn batches<T>(by_number: BTreeMap<String, Vec<T>>, batch: bool) -> Vec<Vec<T>> {
    if !batch {
        return by_number.into_values().flatten().map(|e| vec![e]).collect();
    }
    by_number
        .into_values()
        .flat_map(|list| {
            let mut list = list.into_iter().peekable();
            std::iter::from_fn(move || {
                list.peek()?;
                Some(list.by_ref().take(MAX_BATCH_STATUSES).collect())
            })
        })
        .collect()
}

/// One POST with every status due for one phone number, as sent.
fn status_batch(st: &mut State, batch: &[(i64, StatusEvent)]) -> String {
    let Some((_, first)) = batch.first() else {
        return String::new();
    };
    let conversations: Vec<Option<(String, i64)>> = batch
        .iter()
        .map(|(due, ev)| ev.error.is_none().then(|| conversation(st, ev, *due)))
        .collect();
    let statuses = batch
        .iter()
        .zip(&conversations)
        .map(|((due, ev), conv)| {
            status_object(ev, *due, conv.as_ref().map(|(id, exp)| (id.as_str(), *exp)))
        })
        .collect();
    let body = status_body(&first.number, statuses);
    // plain data with string keys: serializing cannot fail
    serde_json::to_string(&body).unwrap_or_default()
}

/// The open conversation of (number, recipient, category), opened on first use for 24 h.
fn conversation(st: &mut State, ev: &StatusEvent, at_ms: i64) -> (String, i64) {
    let category = ev.category.clone().unwrap_or_else(|| "service".into());
    let key = (
        ev.number.phone_number_id.clone(),
        ev.recipient.clone(),
        category.clone(),
    );
    if let Some((id, exp)) = st.conversations.get(&key)
        && *exp > at_ms
    {
        return (id.clone(), *exp);
    }
    let id = format!(
        "{:032x}",
        u128::from(stable_hash(&[
            &key.0,
            &key.1,
            &category,
            &at_ms.to_string()
        ])) << 64
            | u128::from(stable_hash(&[&ev.wamid]))
    );
    let entry = (id, at_ms + WINDOW_MS);
    st.conversations.insert(key, entry.clone());
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(counts: &[(&str, usize)]) -> BTreeMap<String, Vec<(String, usize)>> {
        counts
            .iter()
            .map(|(n, c)| (n.to_string(), (0..*c).map(|i| (n.to_string(), i)).collect()))
            .collect()
    }

    #[test]
    fn one_status_per_post_unless_batched() {
        let posts = batches(due(&[("a", 3), ("b", 2)]), false);
        assert_eq!(posts.len(), 5);
        assert!(posts.iter().all(|p| p.len() == 1));
    }

    #[test]
    fn batches_keep_one_number_and_order_and_stay_under_the_cap() {
        let posts = batches(due(&[("a", 250), ("b", 3)]), true);
        let sizes: Vec<usize> = posts.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 50, 3]);
        for p in &posts {
            assert!(p.iter().all(|(n, _)| *n == p[0].0), "one number per POST");
        }
        let a: Vec<usize> = posts[..3].iter().flatten().map(|(_, i)| *i).collect();
        assert_eq!(a, (0..250).collect::<Vec<_>>(), "in order, none lost");
    }
}
