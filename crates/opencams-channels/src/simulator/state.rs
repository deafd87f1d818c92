//! The simulator's mutable state, behind one mutex that is never held across an `.await`:
//! what was sent, open windows, rate buckets, scheduled status events, pending webhook
//! deliveries and the record of every delivery attempt.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use serde_json::Value;

use super::config::SimNumber;
use super::faults::Fault;
use super::media::Media;
use super::template_store::TemplateStore;

/// One message the simulator accepted (HTTP 200).
#[derive(Debug, Clone, PartialEq)]
pub struct SentRecord {
    pub wamid: String,
    pub phone_number_id: String,
    /// Recipient digits (`wa_id`).
    pub to: String,
    /// `type` of the message (`text`, `template`, …).
    pub kind: String,
    /// The request body as received.
    pub body: Value,
    pub biz_opaque_callback_data: Option<String>,
    /// Clock time of acceptance, Unix milliseconds.
    pub at_ms: i64,
}

/// One HTTP attempt to deliver a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// Same for all attempts of one payload.
    pub delivery_id: u64,
    /// 1 for the first try.
    pub attempt: u32,
    pub at_ms: i64,
    pub url: String,
    /// The exact bytes POSTed.
    pub body: String,
    /// Value of `X-Hub-Signature-256`.
    pub signature: String,
    /// HTTP status, if the receiver answered.
    pub http_status: Option<u16>,
    /// Transport error or timeout, if it did not.
    pub error: Option<String>,
    pub delivered: bool,
}

/// A token bucket over clock milliseconds.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    last_ms: i64,
}

impl Bucket {
    pub fn full(capacity: f64, now_ms: i64) -> Self {
        Self {
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now_ms: i64, capacity: f64, refill_per_ms: f64) -> bool {
        let elapsed = (now_ms - self.last_ms).max(0) as f64;
        self.tokens = (self.tokens + elapsed * refill_per_ms).min(capacity);
        self.last_ms = now_ms.max(self.last_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A status the simulator will report for one outbound message.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    pub wamid: String,
    pub number: SimNumber,
    pub recipient: String,
    /// `sent`, `delivered`, `read` or `failed`.
    pub status: &'static str,
    pub biz_opaque: Option<String>,
    /// Template category (lower case) or `None` for service messages.
    pub category: Option<String>,
    /// Code and details for `failed`.
    pub error: Option<(u32, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Status(StatusEvent),
    /// The review of an internal template ends.
    Review {
        template_id: u64,
    },
    /// Scenario `…0004`: the user answers once the message is delivered.
    AutoReply {
        number: SimNumber,
        from: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    pub due_ms: i64,
    pub seq: u64,
    pub event: Event,
}

impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due_ms, self.seq).cmp(&(other.due_ms, other.seq))
    }
}

/// A webhook body waiting for its next attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delivery {
    pub due_ms: i64,
    pub id: u64,
    pub attempt: u32,
    pub first_ms: i64,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct State {
    pub seq: u64,
    pub sent: Vec<SentRecord>,
    pub attempts: Vec<WebhookAttempt>,
    /// Every webhook body emitted, in emission order (also when no URL is configured).
    pub emitted: Vec<Value>,
    /// Last inbound message per (phone_number_id, wa_id), Unix ms.
    pub windows: HashMap<(String, String), i64>,
    pub throughput: HashMap<String, Bucket>,
    pub pairs: HashMap<(String, String), Bucket>,
    /// Sends attempted per (phone_number_id, recipient), for scenarios that count.
    pub attempts_to: HashMap<(String, String), u32>,
    pub faults: Vec<Fault>,
    pub schedule: BinaryHeap<Reverse<Scheduled>>,
    pub deliveries: BinaryHeap<Reverse<Delivery>>,
    pub media: HashMap<String, Media>,
    pub templates: TemplateStore,
    /// Open conversation per (phone_number_id, recipient, category): id and expiry (ms).
    pub conversations: HashMap<(String, String, String), (String, i64)>,
    /// Numbers seen through the directory, by WABA, to authorise WABA-level calls.
    pub seen_numbers: HashMap<String, SimNumber>,
    pub inbound_ids: HashSet<String>,
    /// `to` digits → `wa_id` for recipients whose WhatsApp id differs from the dialled number.
    pub wa_ids: HashMap<String, String>,
    /// Business-initiated reach per WABA: user → first counted send (ms) in the moving 24 h.
    pub reach: HashMap<String, HashMap<String, i64>>,
}

/// Drops the oldest tenth once `log` exceeds `limit` (amortised O(1) per push).
pub fn trim<T>(log: &mut Vec<T>, limit: usize) {
    if log.len() > limit.max(10) {
        let excess = log.len() - limit.max(10) + limit.max(10) / 10;
        log.drain(..excess);
    }
}

impl State {
    pub fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn schedule(&mut self, due_ms: i64, event: Event) {
        let seq = self.next_seq();
        self.schedule
            .push(Reverse(Scheduled { due_ms, seq, event }));
    }

    /// Queues a webhook body for its first attempt.
    pub fn enqueue_webhook(&mut self, body: Value, now_ms: i64, history_limit: usize) {
        let text = body.to_string();
        self.remember(body, history_limit);
        self.push_delivery(text, now_ms);
    }

    /// As [`State::enqueue_webhook`], for a body already serialized (the history, when one is
    /// kept, holds it parsed).
    pub fn enqueue_webhook_text(&mut self, json_text: String, now_ms: i64, history_limit: usize) {
        if history_limit > 0
            && let Ok(body) = serde_json::from_str(&json_text)
        {
            self.remember(body, history_limit);
        }
        self.push_delivery(json_text, now_ms);
    }

    fn remember(&mut self, body: Value, history_limit: usize) {
        if history_limit > 0 {
            self.emitted.push(body);
            trim(&mut self.emitted, history_limit);
        }
    }

    /// Schedules the first attempt of a body in Meta's wire form (non-ASCII escaped).
    fn push_delivery(&mut self, json_text: String, now_ms: i64) {
        let text = if json_text.is_ascii() {
            json_text
        } else {
            super::webhooks::escape_non_ascii(&json_text)
        };
        let id = self.next_seq();
        self.deliveries.push(Reverse(Delivery {
            due_ms: now_ms,
            id,
            attempt: 1,
            first_ms: now_ms,
            body: text,
        }));
    }

    /// Removes and returns the scheduled events due at `now_ms`, earliest first, at most `max`.
    pub fn due_events(&mut self, now_ms: i64, max: usize) -> Vec<Scheduled> {
        let mut out = Vec::new();
        while out.len() < max
            && self
                .schedule
                .peek()
                .is_some_and(|Reverse(s)| s.due_ms <= now_ms)
        {
            if let Some(Reverse(s)) = self.schedule.pop() {
                out.push(s);
            }
        }
        out
    }

    /// Removes and returns the earliest delivery due at `now_ms`.
    pub fn next_due_delivery(&mut self, now_ms: i64) -> Option<Delivery> {
        if self
            .deliveries
            .peek()
            .is_some_and(|Reverse(d)| d.due_ms <= now_ms)
        {
            self.deliveries.pop().map(|Reverse(d)| d)
        } else {
            None
        }
    }

    pub fn due_deliveries(&mut self, now_ms: i64) -> Vec<Delivery> {
        let mut out = Vec::new();
        while self
            .deliveries
            .peek()
            .is_some_and(|Reverse(d)| d.due_ms <= now_ms)
        {
            if let Some(Reverse(d)) = self.deliveries.pop() {
                out.push(d);
            }
        }
        out
    }

    /// The earliest time anything is due.
    pub fn next_due(&self) -> Option<i64> {
        let a = self.schedule.peek().map(|Reverse(s)| s.due_ms);
        let b = self.deliveries.peek().map(|Reverse(d)| d.due_ms);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_trimmed() {
        let mut log: Vec<u32> = (0..100).collect();
        trim(&mut log, 100);
        assert_eq!(log.len(), 100);
        log.push(100);
        trim(&mut log, 100);
        assert_eq!(log.len(), 90);
        assert_eq!(log[0], 11);
    }

    #[test]
    fn bucket_refills_over_time() {
        let mut b = Bucket::full(2.0, 0);
        assert!(b.take(0, 2.0, 0.001));
        assert!(b.take(0, 2.0, 0.001));
        assert!(!b.take(0, 2.0, 0.001));
        assert!(!b.take(999, 2.0, 0.001));
        assert!(b.take(1000, 2.0, 0.001));
    }
}
