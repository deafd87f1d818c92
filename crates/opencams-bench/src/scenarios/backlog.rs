//! `backlog`: queue --messages sends while dispatch is paused, restart the server (every node)
//! without the pause, and measure the drain (rows leaving the `queue` table per second) and the server's peak
//! RSS in both phases.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{PAUSED, Prepared, fast_simulator};
use crate::Opts;
use crate::server::RssSampler;

pub async fn run(opts: &Opts) -> anyhow::Result<Value> {
    let messages = opts
        .messages
        .unwrap_or(if opts.smoke { 20_000 } else { 1_000_000 });
    let mut paused = fast_simulator();
    paused.push(("OPENCAMS_DISPATCH_PAUSED", PAUSED.into()));
    let mut s = Prepared::start(opts, &paused).await?;
    let db = s.db().await?;

    let rss = RssSampler::start(s.pids());
    let t0 = Instant::now();
    let (accepted, spec) = s.until_accepted(opts, messages).await;
    let queue_s = t0.elapsed().as_secs_f64();
    let rss_queueing = rss.peak_mb();
    drop(rss);
    let queued = db.queue_len().await?;
    eprintln!("backlog: {queued} queued in {queue_s:.1} s; restarting without the pause");

    let t_restart = Instant::now();
    s.restart(&fast_simulator())?;
    let restart_s = t_restart.elapsed().as_secs_f64();
    let rss = RssSampler::start(s.pids());
    let t1 = Instant::now();
    let deadline = t1 + Duration::from_secs_f64(opts.drain_timeout);
    let mut remaining = queued;
    let mut last_report = Instant::now();
    while Instant::now() < deadline {
        remaining = db.queue_len().await?;
        if remaining == 0 {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  … {:.0} s, {remaining} still queued",
                t1.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_s = t1.elapsed().as_secs_f64();
    let rss_drain = rss.peak_mb();
    let drained = queued.saturating_sub(remaining);
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "messages": messages,
        "accepted": accepted.ok,
        "accept_errors": accepted.errors,
        "connections": spec.connections,
        "nodes": s.nodes.len(),
        "numbers": opts.numbers,
        "recipients": opts.recipients,
        "queued": queued,
        "queueing_s": r1(queue_s),
        "queueing_rps": (accepted.ok as f64 / queue_s.max(1e-9)).round(),
        "peak_rss_queueing_mb": r1(rss_queueing),
        "restart_s": (restart_s * 100.0).round() / 100.0,
        "drained": drained,
        "remaining": remaining,
        "drain_s": r1(drain_s),
        "drain_rate": (drained as f64 / drain_s.max(1e-9)).round(),
        "peak_rss_drain_mb": r1(rss_drain),
        "delivered_after_drain": db.count("delivered").await.unwrap_or(0),
    }))
}
