//! The records of callback delivery: where callbacks go (per space and per business number),
//! the callback outbox (endpoints with their retry state and their pending deliveries, fed from
//! the event log), the delivery log (each attempt with the receiver's answer, kept seven days,
//! and how the attempts that carried an event are found), and the message history query's
//! filter.

use opencams_domain::{Direction, MessageStatus};
use serde::Serialize;

use crate::Secret;

/// Where one space (`phone` empty) or one business number sends its callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookSetting {
    pub space_id: String,
    /// The business number, or `""` for the space-level setting.
    pub phone: String,
    pub account_id: i64,
    pub status_url: Option<String>,
    pub up_url: Option<String>,
    /// `None`: not set at this level (a number inherits its space's; the default is HTTP on).
    pub http_flag: Option<bool>,
    /// `None`: not set at this level (the default is off).
    pub queue_flag: Option<bool>,
    pub updated_at: i64,
}

/// A partial update: `None` keeps the stored value; `Some(None)` clears a URL.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub space_id: String,
    pub phone: String,
    pub account_id: i64,
    pub status_url: Option<Option<String>>,
    pub up_url: Option<Option<String>>,
    pub http_flag: Option<bool>,
    pub queue_flag: Option<bool>,
}

/// One callback destination of one account, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub id: i64,
    pub account_id: i64,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    /// Consecutive failed attempts.
    pub failures: i64,
    pub first_failure_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// Records delivered so far.
    pub delivered: i64,
    /// The next attempt is not made before this time.
    pub due_at: i64,
    /// Records waiting.
    pub pending: i64,
}

/// A record waiting in an endpoint's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    pub event_id: i64,
    /// The callback record (JSON object text).
    pub payload: String,
}

/// An endpoint leased to one deliverer with the head of its outbox, oldest event first.
#[derive(Debug, Clone)]
pub struct ClaimedEndpoint {
    pub endpoint: Endpoint,
    pub secret: Secret,
    pub records: Vec<PendingRecord>,
}

/// How a delivery attempt ended. Settling it also records the attempt in the endpoint's
/// delivery log (see [`DeliveryAttempt`]), in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx: these events leave the outbox.
    Delivered {
        event_ids: Vec<i64>,
        /// The HTTP status of the answer.
        status: Option<u16>,
        /// The start of the answer's body (cut to [`ATTEMPT_ANSWER_MAX`] bytes when stored).
        answer: String,
    },
    /// Anything else: try again at `retry_at`; disable the endpoint once `disable_after`
    /// consecutive failures spanning at least `disable_span_ms` are reached.
    Failed {
        /// The events the attempt carried (they stay in the outbox).
        event_ids: Vec<i64>,
        /// The HTTP status when the receiver answered, `None` when no answer came.
        status: Option<u16>,
        /// The start of the answer's body, or what went wrong when there was no answer.
        answer: String,
        /// Why, as the endpoint's `last_error` keeps it.
        error: String,
        retry_at: i64,
        disable_after: i64,
        disable_span_ms: i64,
    },
    /// Records that can never be delivered (larger than any allowed body) are dropped; the
    /// reason is the attempt's answer.
    Dropped { event_ids: Vec<i64>, reason: String },
}

/// The most of an answer (the receiver's body, or an error) a delivery attempt keeps, in bytes.
pub const ATTEMPT_ANSWER_MAX: usize = 512;

/// How long delivery attempts are kept: older ones are purged as new ones are recorded.
pub const ATTEMPTS_KEPT_MS: i64 = 7 * 24 * 3_600_000;

/// The purge of old attempts runs in the settle that records an attempt whose id is a multiple
/// of this (one settle in 256) …
pub const ATTEMPTS_PURGE_EVERY: i64 = 256;

/// … and deletes at most this many of the oldest attempts (those older than
/// [`ATTEMPTS_KEPT_MS`]): twice as many as were recorded since the last purge, so it keeps up at
/// any rate while each purge stays a short, bounded statement.
pub const ATTEMPTS_PURGE_BATCH: i64 = 512;

/// The most attempts [`crate::EventStore::message_deliveries`] returns (the latest).
pub const MESSAGE_ATTEMPTS_MAX: usize = 200;

/// The start of `s`, at most `max` bytes, cut on a char boundary.
pub fn excerpt(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// How a recorded delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Delivered,
    Failed,
    Dropped,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Dropped => "dropped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Delivered, Self::Failed, Self::Dropped]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// One recorded delivery attempt (one HTTP request, or one dropped record) that carried some of
/// the events asked about, with the receiver's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeliveryAttempt {
    pub id: i64,
    pub endpoint_id: i64,
    /// The endpoint's URL.
    pub url: String,
    pub at: i64,
    pub outcome: AttemptOutcome,
    /// The HTTP status of the answer; `None` when no answer came (or nothing was sent).
    pub status: Option<u16>,
    /// The start of the answer's body (at most [`ATTEMPT_ANSWER_MAX`] bytes), the error when no
    /// answer came, or why the records were dropped.
    pub answer: String,
    /// Which of the events asked about the attempt carried, ascending.
    pub event_ids: Vec<i64>,
    /// How many records it carried in all (other messages' too).
    pub records: usize,
}

/// An attempt as it is written: the row of `callback_attempts` a settle adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttemptRow {
    pub first_event_id: i64,
    pub last_event_id: i64,
    pub span_class: i64,
    /// The exact ids carried, comma-separated, in the order they were sent.
    pub event_ids: String,
    pub outcome: AttemptOutcome,
    pub status: Option<i64>,
    pub answer: String,
}

impl DeliveryOutcome {
    /// The attempt to record; `None` when it carried no event (nothing was sent).
    pub(crate) fn attempt_row(&self) -> Option<AttemptRow> {
        let (ids, outcome, status, answer) = match self {
            DeliveryOutcome::Delivered {
                event_ids,
                status,
                answer,
            } => (event_ids, AttemptOutcome::Delivered, *status, answer),
            DeliveryOutcome::Failed {
                event_ids,
                status,
                answer,
                ..
            } => (event_ids, AttemptOutcome::Failed, *status, answer),
            DeliveryOutcome::Dropped { event_ids, reason } => {
                (event_ids, AttemptOutcome::Dropped, None, reason)
            }
        };
        let first = *ids.iter().min()?;
        let last = *ids.iter().max()?;
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        Some(AttemptRow {
            first_event_id: first,
            last_event_id: last,
            span_class: span_class(first, last),
            event_ids: list.join(","),
            outcome,
            status: status.map(i64::from),
            answer: excerpt(answer, ATTEMPT_ANSWER_MAX).to_string(),
        })
    }
}

// How the attempts that carried an event are found without a scan. An attempt carries an
// interval of event ids, [first, last] (one endpoint's oldest pending records), and the ids in
// it are kept as text to confirm membership. "Intervals holding id p" is not one range of a
// B-tree on `first` alone: an interval may be arbitrarily long (a quiet endpoint's batch after an
// outage spans every event written meanwhile), so `first <= p` would reach back to the start.
// So each attempt is filed under its span class, the bit length of `last - first` (a span under
// 2^class), in the index (endpoint_id, span_class, first_event_id): an interval of class k
// holding p starts in [p - 2^k + 1, p]. Looking up p is one short index range per class (and per
// endpoint of the event's account), whatever the table's size: the candidates are the attempts
// of that endpoint near p, confirmed by `last >= p` and then by their id list.

/// The span class of the interval [first, last]: the bit length of its span.
pub(crate) fn span_class(first: i64, last: i64) -> i64 {
    let span = last.saturating_sub(first).max(0) as u64;
    i64::from(u64::BITS - span.leading_zeros())
}

/// One index range to read: attempts of `class` starting in [`lo`, `hi`], ending at or after
/// `min_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probe {
    pub class: i64,
    pub lo: i64,
    pub hi: i64,
    pub min_id: i64,
}

/// The ranges that find every attempt holding any of `ids`, for classes `0..=max_class`; the
/// ranges of one class are merged, so no attempt is found twice.
pub(crate) fn probes(ids: &[i64], max_class: i64) -> Vec<Probe> {
    let mut ids: Vec<i64> = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for class in 0..=max_class.clamp(0, 63) {
        // a span of class k is at most 2^k - 1
        let width = if class >= 63 {
            i64::MAX
        } else {
            (1_i64 << class) - 1
        };
        let mut current: Option<Probe> = None;
        for &p in &ids {
            let lo = p.saturating_sub(width);
            current = match current {
                Some(mut c) if lo <= c.hi.saturating_add(1) => {
                    c.hi = p;
                    Some(c)
                }
                other => {
                    out.extend(other);
                    Some(Probe {
                        class,
                        lo,
                        hi: p,
                        min_id: p,
                    })
                }
            };
        }
        out.extend(current);
    }
    out
}

/// The ids of `wanted` (ascending) found in an attempt's stored id list, and how many ids the
/// list holds.
pub(crate) fn carried(list: &str, wanted: &[i64]) -> (Vec<i64>, usize) {
    let mut found = Vec::new();
    let mut n = 0;
    for id in list.split(',').filter_map(|s| s.trim().parse::<i64>().ok()) {
        n += 1;
        if wanted.contains(&id) && !found.contains(&id) {
            found.push(id);
        }
    }
    found.sort_unstable();
    (found, n)
}

/// The latest [`MESSAGE_ATTEMPTS_MAX`] of `attempts` that carried something, oldest first.
pub(crate) fn latest_attempts(mut attempts: Vec<DeliveryAttempt>) -> Vec<DeliveryAttempt> {
    attempts.retain(|a| !a.event_ids.is_empty());
    attempts.sort_by_key(|a| (a.at, a.id));
    let skip = attempts.len().saturating_sub(MESSAGE_ATTEMPTS_MAX);
    attempts.drain(..skip);
    attempts
}

/// ListChatappMessage filters (all optional but the space).
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub space_id: String,
    /// The business number.
    pub sender: Option<String>,
    /// The end user's number.
    pub recipient: Option<String>,
    pub direction: Option<Direction>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub template_code: Option<String>,
    pub group_id: Option<String>,
    /// Stored statuses to match (any of).
    pub statuses: Option<Vec<MessageStatus>>,
    pub task_id: Option<String>,
    /// Keyset paging: only messages listed after this one, given as its (`created_at`, id); an
    /// index seek however deep the page, where `offset` reads and skips every row before it.
    pub before: Option<(i64, String)>,
    pub offset: u64,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;

    #[test]
    fn an_excerpt_is_cut_on_a_char_boundary() {
        assert_eq!(excerpt("abc", 512), "abc");
        assert_eq!(excerpt("abcdef", 3), "abc");
        // "é" is two bytes: a cut in its middle leaves it out
        assert_eq!(excerpt("aé", 2), "a");
        assert_eq!(excerpt("aé", 3), "aé");
        assert_eq!(excerpt("", 0), "");
    }

    #[test]
    fn a_span_class_bounds_the_span() {
        assert_eq!(span_class(5, 5), 0);
        assert_eq!(span_class(5, 6), 1);
        assert_eq!(span_class(5, 8), 2);
        assert_eq!(span_class(5, 9), 3);
        assert_eq!(span_class(0, i64::MAX), 63);
        for (first, last) in [(1, 1), (3, 10), (100, 1_000_000), (7, 7 + (1 << 40))] {
            let k = span_class(first, last);
            assert!(
                k == 63 || last - first < (1_i64 << k),
                "[{first}, {last}]: {k}"
            );
        }
    }

    /// Every interval holding an asked id is inside one probe of its class, and probes of a
    /// class do not overlap.
    #[test]
    fn probes_find_every_interval_holding_an_id_once() {
        let asked = [40, 41, 300, 41];
        let max_class = 10;
        let p = probes(&asked, max_class);
        for first in 0..400_i64 {
            for last in [first, first + 1, first + 5, first + 100, first + 700] {
                let class = span_class(first, last);
                if class > max_class {
                    continue;
                }
                let holds = asked.iter().any(|&a| first <= a && a <= last);
                let hits = p
                    .iter()
                    .filter(|q| {
                        q.class == class && q.lo <= first && first <= q.hi && last >= q.min_id
                    })
                    .count();
                if holds {
                    assert_eq!(hits, 1, "[{first}, {last}] class {class}: {p:?}");
                } else {
                    assert!(hits <= 1);
                }
            }
        }
        // small classes keep the ids apart (but for adjacent ones); from class 9 (spans up to
        // 511) they merge
        assert_eq!(p.iter().filter(|q| q.class == 0).count(), 2);
        assert_eq!(p.iter().filter(|q| q.class == 9).count(), 1);
        assert!(probes(&[], 5).is_empty());
    }

    #[test]
    fn carried_ids_are_read_from_the_list() {
        assert_eq!(carried("3,5,9", &[9, 4, 3]), (vec![3, 9], 3));
        assert_eq!(carried("7", &[1]), (vec![], 1));
        assert_eq!(carried("", &[1]), (vec![], 0));
    }

    #[test]
    fn an_attempt_row_holds_the_carried_ids_and_a_cut_answer() {
        let outcome = DeliveryOutcome::Failed {
            event_ids: vec![12, 10, 11],
            status: Some(503),
            answer: "é".repeat(300),
            error: "HTTP 503".into(),
            retry_at: 0,
            disable_after: 1,
            disable_span_ms: 0,
        };
        let row = outcome.attempt_row().unwrap();
        assert_eq!((row.first_event_id, row.last_event_id), (10, 12));
        assert_eq!(row.event_ids, "12,10,11");
        assert_eq!(
            (row.outcome, row.status),
            (AttemptOutcome::Failed, Some(503))
        );
        assert_eq!(row.answer.len(), 512);
        let nothing = DeliveryOutcome::Delivered {
            event_ids: vec![],
            status: None,
            answer: String::new(),
        };
        assert_eq!(nothing.attempt_row(), None);
    }
}
