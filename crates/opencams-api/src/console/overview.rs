//! The overview page: the account's outbound messages of the last 24 hours by hour and of the
//! last 7 days by day, by the status each has reached, with delivery and read rates, and how
//! many of them fell back to SMS (with the rate); what waits in its queue (how many, since when);
//! its sender numbers with their quality, throughput used (the last minute's sends on this node)
//! against the configured one, and waiting messages; its
//! callback endpoints. The charts are SVGs drawn here (no script, no library), with the daily
//! figures in a table beside them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use opencams_domain::{Direction, FallbackState, MessageStatus};
use opencams_store::{HourlyCount, HourlyFallbacks, NumberFilter};

use super::layout::{page, unavailable};
use super::session::Signed;
use crate::AppState;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The statuses an outbound message can be at, in the chart's stacking order.
const OUTBOUND: [MessageStatus; 6] = [
    MessageStatus::Accepted,
    MessageStatus::Sent,
    MessageStatus::Delivered,
    MessageStatus::Read,
    MessageStatus::Failed,
    MessageStatus::Expired,
];

/// The fallback states of a message that went to SMS: being sent, sent, and how that ended
/// (the others wait for a failure or a timer, or were cancelled by a delivery).
const FELL_BACK: [FallbackState; 4] = [
    FallbackState::Sending,
    FallbackState::Sent,
    FallbackState::Delivered,
    FallbackState::Failed,
];

/// Outbound counts per status ([`OUTBOUND`]'s order), those that fell back to SMS, and inbound
/// messages, over some period.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    out: [u64; 6],
    fell_back: u64,
    inbound: u64,
}

impl Tally {
    fn add(&mut self, c: &HourlyCount) {
        if c.direction == Direction::In {
            self.inbound += c.count;
        } else if let Some(i) = OUTBOUND.iter().position(|s| *s == c.status) {
            self.out[i] += c.count;
        }
    }
    fn add_fallbacks(&mut self, f: &HourlyFallbacks) {
        if FELL_BACK.contains(&f.state) {
            self.fell_back += f.count;
        }
    }
    fn merge(&mut self, other: &Tally) {
        for (mine, theirs) in self.out.iter_mut().zip(other.out) {
            *mine += theirs;
        }
        self.fell_back += other.fell_back;
        self.inbound += other.inbound;
    }
    fn total(&self) -> u64 {
        self.out.iter().sum()
    }
    fn of(&self, s: MessageStatus) -> u64 {
        OUTBOUND
            .iter()
            .position(|x| *x == s)
            .map_or(0, |i| self.out[i])
    }
    /// Delivered or read, of all sent.
    fn reached(&self) -> u64 {
        self.of(MessageStatus::Delivered) + self.of(MessageStatus::Read)
    }
}

/// `part` of `whole` as a percentage with one decimal, or a dash.
fn rate(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1} %", part as f64 * 100.0 / whole as f64)
    }
}

/// Buckets `counts` and `fallbacks` by `bucket_ms` from `from`, `n` buckets.
fn buckets(
    counts: &[HourlyCount],
    fallbacks: &[HourlyFallbacks],
    from: i64,
    bucket_ms: i64,
    n: usize,
) -> Vec<(i64, Tally)> {
    let mut out: BTreeMap<i64, Tally> = (0..n as i64)
        .map(|i| (from + i * bucket_ms, Tally::default()))
        .collect();
    let start = |hour_ms: i64| from + (hour_ms - from).div_euclid(bucket_ms) * bucket_ms;
    for c in counts {
        if let Some(t) = out.get_mut(&start(c.hour_ms)) {
            t.add(c);
        }
    }
    for f in fallbacks {
        if let Some(t) = out.get_mut(&start(f.hour_ms)) {
            t.add_fallbacks(f);
        }
    }
    out.into_iter().collect()
}

/// How long `ms` is, roughly: `45 s`, `3 min 12 s`, `2 h 5 min`, `3 d 4 h`.
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0 => "under 1 s".into(),
        1..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

/// `HH:00` or `YYYY-MM-DD` (UTC) of a unix-ms time.
fn label(ms: i64, day: bool) -> String {
    let iso = opencams_protocol::time_fmt::format(ms.div_euclid(1000));
    if day {
        iso.get(..10).unwrap_or(&iso).to_string()
    } else {
        iso.get(11..16).unwrap_or(&iso).to_string()
    }
}

/// `GET /console`.
pub async fn page_handler(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    let now = state.clock.now_ms();
    let this_hour = now.div_euclid(HOUR_MS) * HOUR_MS;
    let hours_from = this_hour - 23 * HOUR_MS;
    let today = now.div_euclid(DAY_MS) * DAY_MS;
    let days_from = today - 6 * DAY_MS;
    let store = &state.store;
    let account = signed.account.id;
    let (counts, fallbacks, waiting, numbers, endpoints) = tokio::join!(
        store.hourly_counts(account, days_from, now + 1),
        store.hourly_fallbacks(account, days_from, now + 1),
        store.waiting(account),
        store.list_numbers(NumberFilter {
            account_id: Some(account),
            ..Default::default()
        }),
        store.list_endpoints(Some(account)),
    );
    let (counts, fallbacks, waiting, numbers, endpoints) =
        match (counts, fallbacks, waiting, numbers, endpoints) {
            (Ok(c), Ok(f), Ok(w), Ok(n), Ok(e)) => (c, f, w, n, e),
            (Err(e), ..)
            | (_, Err(e), ..)
            | (_, _, Err(e), ..)
            | (.., Err(e), _)
            | (.., Err(e)) => {
                return unavailable("reading the overview", &e);
            }
        };
    let hours = buckets(&counts, &fallbacks, hours_from, HOUR_MS, 24);
    let days = buckets(&counts, &fallbacks, days_from, DAY_MS, 7);
    let mut last24 = Tally::default();
    for (_, t) in &hours {
        last24.merge(t);
    }
    let queued: u64 = waiting.iter().map(|w| w.count).sum();
    let oldest = waiting.iter().map(|w| w.oldest_at).min();
    let waiting_of = |phone: &str| waiting.iter().find(|w| w.sender == phone);
    let body = html! {
        h1 { "Overview" }
        p.muted { "Account " strong { (signed.account.name) } ". Outbound messages by the status they have reached; times in UTC." }
        section aria-labelledby="last24" {
            h2 id="last24" { "Last 24 hours" }
            div.cards {
                (card("Sent", last24.total()))
                (card("Delivered or read", last24.reached()))
                (card("Read", last24.of(MessageStatus::Read)))
                (card("Failed", last24.of(MessageStatus::Failed) + last24.of(MessageStatus::Expired)))
                (card_text("Delivery rate", &rate(last24.reached(), last24.total())))
                (card_text("Read rate", &rate(last24.of(MessageStatus::Read), last24.total())))
                (card("Fell back to SMS", last24.fell_back))
                (card_text("Fallback rate", &rate(last24.fell_back, last24.total())))
                (card("Received", last24.inbound))
            }
            (chart(&hours))
            p.muted { "Fell back to SMS, per hour:" }
            (fallback_chart(&hours))
        }
        section aria-labelledby="queue" {
            h2 id="queue" { "Queue" }
            p.muted { "Accepted messages not sent yet: due now, being sent, or waiting for a retry." }
            div.cards {
                (card("Messages waiting", queued))
                (card_text("Oldest waiting for", &oldest.map_or_else(|| "–".to_string(), |at| age(now - at))))
            }
        }
        section aria-labelledby="days" {
            h2 id="days" { "Last 7 days" }
            (table(&days, true))
        }
        section aria-labelledby="numbers" {
            h2 id="numbers" { "Sender numbers" }
            @if numbers.is_empty() {
                p.muted { "No sender numbers yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th { "Number" } th { "Name" } th { "Channel" } th { "Status" } th { "Quality" } th { "Tier" }
                        th.num { "Sent/s, last minute" } th.num { "Messages/s (configured)" } th.num { "Used" }
                        th.num { "Waiting" } th { "Oldest waiting for" }
                    } }
                    tbody { @for n in &numbers {
                        @let w = waiting_of(&n.phone);
                        @let used = state.send_meter.get().map_or(0.0, |m| m.per_second(&n.phone, now));
                        tr {
                            td { (n.phone) } td { (n.verified_name) } td { (n.channel) } td { (n.status) }
                            td { (n.quality_rating) } td { (n.messaging_limit_tier) }
                            td.num { (format!("{used:.1}")) } td.num { (n.throughput_mps) }
                            td.num { (format!("{:.0} %", 100.0 * used / f64::from(n.throughput_mps.max(1)))) }
                            td.num { (w.map_or(0, |w| w.count)) }
                            td { (w.map_or_else(|| "–".to_string(), |w| age(now - w.oldest_at))) }
                        }
                    } }
                } }
                p.muted { "Sent/s is what this node's dispatcher handed to each number's channel over the last minute (on several nodes, each counts its own); Messages/s is the rate the number is given, which the dispatcher never exceeds; a number with messages waiting for long is using all of it." }
            }
        }
        section aria-labelledby="endpoints" {
            h2 id="endpoints" { "Callback endpoints" }
            @if endpoints.is_empty() {
                p.muted { "No callback URL has received records yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "URL" } th { "State" } th.num { "Waiting" } th.num { "Delivered" } th.num { "Failures in a row" } th { "Last error" } } }
                    tbody { @for e in &endpoints { tr {
                        td { (e.url) }
                        td { @if e.enabled { "enabled" } @else { "disabled" @if let Some(r) = &e.disabled_reason { ": " (r) } } }
                        td.num { (e.pending) } td.num { (e.delivered) } td.num { (e.failures) }
                        td { (e.last_error.as_deref().unwrap_or("")) }
                    } } }
                } }
            }
        }
    };
    page(StatusCode::OK, "Overview", Some(&signed), body)
}

fn card(label: &str, n: u64) -> Markup {
    card_text(label, &n.to_string())
}

fn card_text(label: &str, value: &str) -> Markup {
    html! { div.card { div.n { (value) } div.l { (label) } } }
}

/// The per-period figures as a table (the chart's data, readable without it).
fn table(rows: &[(i64, Tally)], day: bool) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr {
                th { @if day { "Day" } @else { "Hour" } }
                th.num { "Sent" } th.num { "Delivered or read" } th.num { "Read" } th.num { "Failed" }
                th.num { "Delivery rate" } th.num { "Read rate" } th.num { "Fell back to SMS" } th.num { "Fallback rate" }
                th.num { "Received" }
            } }
            tbody { @for (at, t) in rows { tr {
                td { (label(*at, day)) }
                td.num { (t.total()) } td.num { (t.reached()) } td.num { (t.of(MessageStatus::Read)) }
                td.num { (t.of(MessageStatus::Failed) + t.of(MessageStatus::Expired)) }
                td.num { (rate(t.reached(), t.total())) } td.num { (rate(t.of(MessageStatus::Read), t.total())) }
                td.num { (t.fell_back) } td.num { (rate(t.fell_back, t.total())) }
                td.num { (t.inbound) }
            } } }
        } }
    }
}

/// Stacked bars, one per hour, by status.
fn chart(hours: &[(i64, Tally)]) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 180.0;
    const BOTTOM: f64 = 20.0;
    let max = hours
        .iter()
        .map(|(_, t)| t.total())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = W / hours.len().max(1) as f64;
    let bar = step * 0.8;
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H + BOTTOM) } role="img" aria-labelledby="chart-title" {
            title id="chart-title" { "Outbound messages per hour, last 24 hours, by status" }
            @for (i, (at, t)) in hours.iter().enumerate() {
                @let x = i as f64 * step + (step - bar) / 2.0;
                g {
                    title { (label(*at, false)) ": " (t.total()) " sent" @for (j, s) in OUTBOUND.iter().enumerate() { @if t.out[j] > 0 { ", " (t.out[j]) " " (s.as_str()) } } }
                    @for (s, y, h) in stack(t, max, H) {
                        rect class={ "s-" (s.as_str()) } x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{bar:.1}")) height=(format!("{h:.1}")) {}
                    }
                    @if i % 3 == 0 {
                        text x=(format!("{:.1}", x + bar / 2.0)) y=(H + 14.0) font-size="10" text-anchor="middle" fill="#57606a" { (label(*at, false)) }
                    }
                }
            }
        }
        div.legend aria-hidden="true" {
            @for s in OUTBOUND { span class={ "s-" (s.as_str()) } { (s.as_str()) } }
        }
    }
}

/// One bar per hour: the messages that fell back to SMS, with the hour's fallback rate in each
/// bar's title.
fn fallback_chart(hours: &[(i64, Tally)]) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 100.0;
    const BOTTOM: f64 = 20.0;
    let max = hours
        .iter()
        .map(|(_, t)| t.fell_back)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let step = W / hours.len().max(1) as f64;
    let bar = step * 0.8;
    html! {
        svg.chart viewBox={ "0 0 " (W) " " (H + BOTTOM) } role="img" aria-labelledby="fallback-chart-title" {
            title id="fallback-chart-title" { "Outbound messages that fell back to SMS per hour, last 24 hours" }
            @for (i, (at, t)) in hours.iter().enumerate() {
                @let x = i as f64 * step + (step - bar) / 2.0;
                @let h = t.fell_back as f64 / max * (H - 10.0);
                g {
                    title { (label(*at, false)) ": " (t.fell_back) " fell back to SMS (" (rate(t.fell_back, t.total())) " of " (t.total()) " sent)" }
                    @if t.fell_back > 0 {
                        rect fill="#8250df" x=(format!("{x:.1}")) y=(format!("{:.1}", H - h)) width=(format!("{bar:.1}")) height=(format!("{h:.1}")) {}
                    }
                    @if i % 3 == 0 {
                        text x=(format!("{:.1}", x + bar / 2.0)) y=(H + 14.0) font-size="10" text-anchor="middle" fill="#57606a" { (label(*at, false)) }
                    }
                }
            }
        }
    }
}

/// The non-empty segments of one stacked bar, bottom up: (status, top, height), in a chart
/// `height` high whose tallest bar holds `max` messages (with 10 units of room above it).
fn stack(t: &Tally, max: f64, height: f64) -> Vec<(MessageStatus, f64, f64)> {
    let mut top = height;
    OUTBOUND
        .iter()
        .zip(t.out)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| {
            let h = n as f64 / max * (height - 10.0);
            top -= h;
            (*s, top, h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(hour_ms: i64, status: MessageStatus, direction: Direction, count: u64) -> HourlyCount {
        HourlyCount {
            hour_ms,
            status,
            direction,
            count,
        }
    }

    #[test]
    fn counts_fall_into_their_buckets_with_rates() {
        let counts = [
            count(0, MessageStatus::Delivered, Direction::Out, 3),
            count(HOUR_MS, MessageStatus::Read, Direction::Out, 1),
            count(HOUR_MS, MessageStatus::Failed, Direction::Out, 1),
            count(HOUR_MS, MessageStatus::Received, Direction::In, 2),
            count(5 * HOUR_MS, MessageStatus::Sent, Direction::Out, 9),
        ];
        let fallbacks = [
            HourlyFallbacks {
                hour_ms: HOUR_MS,
                state: FallbackState::Delivered,
                count: 1,
            },
            // waiting for a failure, or cancelled: not fallen back
            HourlyFallbacks {
                hour_ms: HOUR_MS,
                state: FallbackState::Armed,
                count: 4,
            },
            HourlyFallbacks {
                hour_ms: 0,
                state: FallbackState::Cancelled,
                count: 2,
            },
        ];
        let hours = buckets(&counts, &fallbacks, 0, HOUR_MS, 3);
        assert_eq!(hours.len(), 3);
        assert_eq!(hours[0].1.reached(), 3);
        assert_eq!(
            (hours[1].1.total(), hours[1].1.reached(), hours[1].1.inbound),
            (2, 1, 2)
        );
        // outside the range: not counted
        assert_eq!(hours[2].1.total(), 0);
        assert_eq!((hours[0].1.fell_back, hours[1].1.fell_back), (0, 1));
        let day = buckets(&counts, &fallbacks, 0, DAY_MS, 1);
        assert_eq!((day[0].1.total(), day[0].1.reached()), (14, 4));
        assert_eq!(rate(day[0].1.fell_back, day[0].1.total()), "7.1 %");
        let mut sum = Tally::default();
        sum.merge(&hours[0].1);
        sum.merge(&hours[1].1);
        assert_eq!((sum.total(), sum.fell_back, sum.inbound), (5, 1, 2));
        assert_eq!(rate(4, 14), "28.6 %");
        assert_eq!(rate(0, 0), "–");
        assert_eq!(label(DAY_MS + 5 * HOUR_MS, false), "05:00");
        assert_eq!(label(DAY_MS, true), "1970-01-02");
        // hour 1's bar: 1 read on top of... nothing delivered; then 1 failed above it
        let bar = stack(&hours[1].1, 2.0, 110.0);
        assert_eq!(
            bar,
            vec![
                (MessageStatus::Read, 60.0, 50.0),
                (MessageStatus::Failed, 10.0, 50.0)
            ]
        );
    }

    #[test]
    fn ages_read_in_their_largest_units() {
        assert_eq!(age(-5), "under 1 s");
        assert_eq!(age(999), "under 1 s");
        assert_eq!(age(45_000), "45 s");
        assert_eq!(age(192_000), "3 min 12 s");
        assert_eq!(age(2 * HOUR_MS + 5 * 60_000 + 59_000), "2 h 5 min");
        assert_eq!(age(3 * DAY_MS + 4 * HOUR_MS), "3 d 4 h");
    }
}
