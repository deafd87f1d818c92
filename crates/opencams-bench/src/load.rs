//! The load generator: N workers, one keep-alive connection each, sending flat out or on a fixed
//! schedule. With several server addresses (nodes sharing one database) the connections are spread
//! over them round-robin: worker `i` talks to address `i mod n`. Latency goes into an HdrHistogram in microseconds. At a fixed rate every request has
//! an intended send time (worker `i` of `N` sends its `k`-th request at `start + (i + k·N)/rate`)
//! and latency is measured from that time, not from when the request actually left: a slow answer
//! delays the requests queued behind it, and their waiting counts (coordinated-omission
//! correction, as wrk2 does it).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use hyper::Request;
use serde_json::Value;

use crate::http::{Body, Conn};

/// How fast to send.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    FlatOut,
    /// Requests per second over all connections.
    Rate(f64),
}

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// Send for `warmup + measure`; only requests intended after the warm-up are counted.
    Time { warmup: Duration, measure: Duration },
    /// Until this many requests were accepted (answered OK), or `limit` passed.
    Accepted { count: u64, limit: Duration },
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub connections: usize,
    pub pace: Pace,
    pub stop: Stop,
}

/// What a run measured.
pub struct Outcome {
    /// Latency of accepted requests, µs.
    pub hist: Histogram<u64>,
    pub ok: u64,
    /// Failures by CAMS `Code` (or `HTTP nnn`, `io`, `connect`).
    pub errors: BTreeMap<String, u64>,
    /// The measured window (time mode) or first send to last answer (count mode).
    pub elapsed: Duration,
    /// Every request accepted, warm-up included (what the servers did for the CPU they used).
    pub accepted_total: u64,
}

impl Outcome {
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Builds the `seq`-th request.
pub type MakeRequest = Arc<dyn Fn(u64) -> Request<Body> + Send + Sync>;

struct Shared {
    addrs: Vec<SocketAddr>,
    spec: Spec,
    start: Instant,
    seq: AtomicU64,
    /// Count mode: sends still to be accepted (a failed send gives its ticket back).
    tickets: AtomicU64,
    accepted: AtomicU64,
    make: MakeRequest,
}

pub fn new_histogram() -> Histogram<u64> {
    // 1 µs .. 1 h at 3 significant digits
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant, valid bounds")
}

/// Runs the load; progress goes to stderr every 5 s on long runs.
pub async fn run(addrs: &[SocketAddr], spec: Spec, make: MakeRequest) -> Outcome {
    let tickets = match spec.stop {
        Stop::Accepted { count, .. } => count,
        Stop::Time { .. } => u64::MAX,
    };
    let shared = Arc::new(Shared {
        addrs: addrs.to_vec(),
        spec,
        start: Instant::now(),
        seq: AtomicU64::new(0),
        tickets: AtomicU64::new(tickets),
        accepted: AtomicU64::new(0),
        make,
    });
    let progress = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "  … {:.0} s, {} accepted",
                    shared.start.elapsed().as_secs_f64(),
                    shared.accepted.load(Ordering::Relaxed)
                );
            }
        })
    };
    let workers: Vec<_> = (0..spec.connections.max(1))
        .map(|i| tokio::spawn(worker(i, shared.clone())))
        .collect();
    let mut out = Outcome {
        hist: new_histogram(),
        ok: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
        accepted_total: 0,
    };
    let mut last_done = shared.start;
    for w in workers {
        let Ok(p) = w.await else { continue };
        let _ = out.hist.add(&p.hist);
        out.ok += p.ok;
        for (k, v) in p.errors {
            *out.errors.entry(k).or_default() += v;
        }
        last_done = last_done.max(p.last_done);
    }
    progress.abort();
    out.accepted_total = shared.accepted.load(Ordering::Relaxed);
    out.elapsed = match spec.stop {
        Stop::Time { measure, .. } => measure,
        Stop::Accepted { .. } => last_done - shared.start,
    };
    out
}

struct Partial {
    hist: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    last_done: Instant,
}

async fn worker(i: usize, s: Arc<Shared>) -> Partial {
    let mut p = Partial {
        hist: new_histogram(),
        ok: 0,
        errors: BTreeMap::new(),
        last_done: s.start,
    };
    let n = s.spec.connections.max(1) as f64;
    let (measure_from, end) = match s.spec.stop {
        Stop::Time { warmup, measure } => (s.start + warmup, s.start + warmup + measure),
        Stop::Accepted { limit, .. } => (s.start, s.start + limit),
    };
    let addr = s.addrs[i % s.addrs.len().max(1)];
    let mut conn: Option<Conn> = None;
    let mut k = 0u64;
    loop {
        let intended = match s.spec.pace {
            Pace::FlatOut => Instant::now(),
            Pace::Rate(r) => {
                s.start + Duration::from_secs_f64((i as f64 + k as f64 * n) / r.max(1e-3))
            }
        };
        k += 1;
        if intended >= end {
            break;
        }
        tokio::time::sleep_until(intended.into()).await;
        if !take_ticket(&s.tickets) {
            break;
        }
        let counted = intended >= measure_from;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Conn::open(addr).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    failed(&mut p, &s, counted, "connect".into());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let req = (s.make)(s.seq.fetch_add(1, Ordering::Relaxed));
        let res = c.send(req).await;
        let done = Instant::now();
        p.last_done = done;
        match res {
            Ok((200, _)) => {
                s.accepted.fetch_add(1, Ordering::Relaxed);
                if counted {
                    p.ok += 1;
                    let us = (done - intended).as_micros().max(1) as u64;
                    p.hist.saturating_record(us);
                }
            }
            Ok((status, body)) => {
                let code = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["Code"].as_str().map(str::to_string))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                failed(&mut p, &s, counted, code);
            }
            Err(_) => {
                conn = None;
                failed(&mut p, &s, counted, "io".into());
            }
        }
    }
    p
}

/// Count mode: takes one of the remaining sends; time mode has `u64::MAX` tickets.
fn take_ticket(tickets: &AtomicU64) -> bool {
    tickets
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
            if t == u64::MAX {
                Some(t)
            } else {
                t.checked_sub(1)
            }
        })
        .is_ok()
}

fn failed(p: &mut Partial, s: &Shared, counted: bool, code: String) {
    if counted {
        *p.errors.entry(code).or_default() += 1;
    }
    if matches!(s.spec.stop, Stop::Accepted { .. }) {
        // the send was not accepted: someone has to send it again
        s.tickets.fetch_add(1, Ordering::AcqRel);
    }
}
