//! `e2e`: template sends accepted, dispatched to the built-in simulator and followed until their
//! `delivered` status is recorded in the database.
//!
//! Delivered throughput is taken from the bench's own clock (load start to the poll that saw every
//! message delivered, polled every 100 ms). Per-message latency is `updated_at - created_at` of
//! `delivered` rows, as the server records them; `updated_at` of a status is the later of the
//! webhook's timestamp (whole seconds, as Meta sends them) and the dispatcher's settle time, so it
//! can read a few ms early, never late by more than the poll interval.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Prepared, fast_simulator, per_msg};
use crate::server::{self, RssSampler};
use crate::{Opts, report};

pub async fn run(opts: &Opts) -> anyhow::Result<Value> {
    let messages = opts
        .messages
        .unwrap_or(if opts.smoke { 2_000 } else { 100_000 });
    let s = Prepared::start(opts, &fast_simulator()).await?;
    let db = s.db().await?;
    let pids = s.pids();
    let rss = RssSampler::start(pids.clone());
    let cpu_before = server::cpu_seconds(&pids);
    let t0 = Instant::now();
    let (accepted, spec) = s.until_accepted(opts, messages).await;
    let accept_s = t0.elapsed().as_secs_f64();
    // the sends made by hand during setup (one per node) are delivered too
    let expected = accepted.ok + s.setup_sends;
    eprintln!(
        "e2e: {} accepted in {accept_s:.1} s; waiting for deliveries",
        accepted.ok
    );
    let deadline = Instant::now() + Duration::from_secs_f64(opts.drain_timeout);
    // deliveries arrive continuously while messages flow; 5 s without one means the rest are stuck
    // (see `undelivered` and `statuses`)
    let stall = Duration::from_secs_f64(opts.drain_timeout.min(5.0));
    // (count, when it last grew): throughput ends at the last delivery seen, so a straggler
    // that never arrives does not stretch it
    let mut last = (0, Instant::now());
    let (mut delivered, mut cursor) = (0, 0);
    while Instant::now() < deadline {
        let (more, at) = db.delivered_events_after(cursor).await?;
        delivered += more;
        cursor = at;
        if delivered != last.0 {
            last = (delivered, Instant::now());
        }
        if delivered >= expected {
            break;
        }
        if last.1.elapsed() > stall {
            eprintln!("e2e: no delivery for {stall:?}; stopping at {delivered}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (delivered, last_at) = last;
    let total_s = (last_at - t0).as_secs_f64();
    // the nodes' CPU from the first send to now (the last poll), per delivered message
    let cpu = server::cpu_used(&cpu_before, &server::cpu_seconds(&pids));
    let peak = rss.peak_mb();
    let d = db.deliveries().await?;
    let mut statuses = serde_json::Map::new();
    for st in ["accepted", "sent", "delivered", "failed"] {
        statuses.insert(st.to_string(), json!(db.count(st).await.unwrap_or(0)));
    }
    Ok(json!({
        "messages": messages,
        "accepted": accepted.ok,
        "accept_rps": (accepted.ok as f64 / accept_s.max(1e-9)).round(),
        "accept_errors": accepted.errors,
        "accept_latency_ms": report::latency_ms(&accepted.hist),
        "connections": spec.connections,
        "nodes": s.nodes.len(),
        "numbers": opts.numbers,
        "recipients": opts.recipients,
        "delivered": delivered,
        "undelivered": expected.saturating_sub(delivered),
        "seconds_to_last_delivery": (total_s * 100.0).round() / 100.0,
        "delivered_per_s": (delivered as f64 / total_s.max(1e-9)).round(),
        "delivered_per_s_db": (d.delivered as f64 * 1000.0
            / ((d.last_delivered_ms - d.first_created_ms).max(1) as f64)).round(),
        "accept_to_delivered_ms": report::latency_ms(&d.latency),
        "statuses": statuses,
        "queue_left": db.queue_len().await.unwrap_or(0),
        "server_peak_rss_mb": (peak * 10.0).round() / 10.0,
        "server_cpu_s": (cpu * 100.0).round() / 100.0,
        "server_cpu_us_per_delivered": per_msg(cpu * 1e6, delivered),
    }))
}
