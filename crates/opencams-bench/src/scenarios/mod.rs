//! The scenarios: what server to start, how to set it up, what load to send, what to report.

mod backlog;
mod e2e;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cams::{self, SendFactory, Signer};
use crate::load::{self, MakeRequest, Pace, Spec, Stop};
use crate::server::{self, RssSampler, Server};
use crate::{Opts, Scenario, report};

/// The per-account limits the bench sets with `opencams account set` (the most it accepts).
const QPS: &str = "1000000";

/// `OPENCAMS_DISPATCH_PAUSED`'s value: `serve` parses it as a clap boolean (`true`/`false`; `1`
/// is refused).
pub const PAUSED: &str = "true";

pub async fn run(scenario: Scenario, opts: &Opts) -> anyhow::Result<Value> {
    let mut results = Map::new();
    let mut ratios = Map::new();
    match scenario {
        Scenario::Baseline => {
            let (flat, rate) = baseline(opts).await?;
            results.insert("baseline".into(), flat);
            results.insert("baseline_rate".into(), rate);
        }
        Scenario::Accept | Scenario::AcceptRate => {
            let s = Prepared::start(opts, &[("OPENCAMS_DISPATCH_PAUSED", PAUSED.into())]).await?;
            let (name, pace) = if scenario == Scenario::Accept {
                ("accept", Pace::FlatOut)
            } else {
                ("accept_rate", Pace::Rate(opts.rate))
            };
            results.insert(name.into(), s.timed(opts, pace).await);
        }
        Scenario::All => {
            let (flat, rate) = baseline(opts).await?;
            let s = Prepared::start(opts, &[("OPENCAMS_DISPATCH_PAUSED", PAUSED.into())]).await?;
            let accept = s.timed(opts, Pace::FlatOut).await;
            let accept_rate = s.timed(opts, Pace::Rate(opts.rate)).await;
            let tput = |v: &Value| v["throughput_rps"].as_f64().unwrap_or(0.0);
            let p99 = |v: &Value| v["latency_ms"]["p99"].as_f64().unwrap_or(0.0);
            ratios.insert(
                "accept/baseline throughput".into(),
                report::ratio(tput(&accept), tput(&flat)),
            );
            ratios.insert(
                "accept_rate/baseline_rate p99".into(),
                report::ratio(p99(&accept_rate), p99(&rate)),
            );
            results.insert("baseline".into(), flat);
            results.insert("baseline_rate".into(), rate);
            results.insert("accept".into(), accept);
            results.insert("accept_rate".into(), accept_rate);
        }
        Scenario::E2e => {
            results.insert("e2e".into(), e2e::run(opts).await?);
        }
        Scenario::Backlog => {
            results.insert("backlog".into(), backlog::run(opts).await?);
        }
        Scenario::ServeBaseline { .. } => bail!("serve-baseline is not a scenario"),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(json!({
        "scenario": scenario_name(scenario),
        "date": opencams_protocol::time_fmt::format(now),
        "smoke": opts.smoke,
        "machine": report::machine(),
        "results": results,
        "ratios": ratios,
    }))
}

fn scenario_name(s: Scenario) -> &'static str {
    match s {
        Scenario::Accept => "accept",
        Scenario::AcceptRate => "accept-rate",
        Scenario::Baseline => "baseline",
        Scenario::All => "all",
        Scenario::E2e => "e2e",
        Scenario::Backlog => "backlog",
        Scenario::ServeBaseline { .. } => "serve-baseline",
    }
}

fn time_spec(opts: &Opts, pace: Pace) -> Spec {
    Spec {
        connections: opts.connections,
        pace,
        stop: Stop::Time {
            warmup: Duration::from_secs_f64(opts.warmup.max(0.0)),
            measure: Duration::from_secs_f64(opts.duration.max(0.1)),
        },
    }
}

/// The bare endpoint, flat out and at the fixed rate, with the same signed requests.
async fn baseline(opts: &Opts) -> anyhow::Result<(Value, Value)> {
    let tmp = tempfile::tempdir()?;
    let srv = Server::baseline(tmp.path().join("baseline.log"))?;
    let signer = Signer {
        host: srv.addr.to_string(),
        ak: "LTAIbenchbaseline".into(),
        sk: "baseline-secret".into(),
    };
    let f = Arc::new(SendFactory::new(
        signer,
        "744c4b5c79c9432497a075bdfca3xxxx".into(),
        opts.numbers,
        opts.recipients,
    ));
    let mut out = Vec::new();
    for pace in [Pace::FlatOut, Pace::Rate(opts.rate)] {
        let rss = RssSampler::start(srv.pid());
        let spec = time_spec(opts, pace);
        eprintln!("baseline: {}", describe(&spec));
        let o = load::run(srv.addr, spec, make(&f)).await;
        out.push(report::load(&o, &spec, rss.peak_mb()));
    }
    let rate = out.pop().context("no run")?;
    let flat = out.pop().context("no run")?;
    Ok((flat, rate))
}

fn describe(spec: &Spec) -> String {
    let pace = match spec.pace {
        Pace::FlatOut => "flat out".to_string(),
        Pace::Rate(r) => format!("{r:.0}/s"),
    };
    let stop = match spec.stop {
        Stop::Time { warmup, measure } => format!(
            "{:.1} s (+{:.1} s warm-up)",
            measure.as_secs_f64(),
            warmup.as_secs_f64()
        ),
        Stop::Accepted { count, .. } => format!("until {count} accepted"),
    };
    format!("{} connections, {pace}, {stop}", spec.connections)
}

fn make(f: &Arc<SendFactory>) -> MakeRequest {
    let f = f.clone();
    Arc::new(move |seq| f.request(seq))
}

/// A real opencams server, set up for template sends.
pub struct Prepared {
    pub server: Server,
    pub factory: Arc<SendFactory>,
    pub data_dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Prepared {
    /// Starts `opencams serve` on a fresh data directory, raises the account's API limits with
    /// `opencams account set`, registers the sender numbers with `opencams number add`, creates
    /// the template and waits for its approval, then waits out the server's setting caches.
    pub async fn start(opts: &Opts, env: &[(&str, String)]) -> anyhow::Result<Prepared> {
        let bin = opts.opencams_bin()?;
        let tmp = tempfile::Builder::new()
            .prefix("opencams-bench-")
            .disable_cleanup(opts.keep)
            .tempdir()?;
        let data_dir = tmp.path().join("data");
        let mut env = env.to_vec();
        env.push(("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "50".into()));
        let server = Server::opencams(&bin, &data_dir, &env)?;
        let signer = Signer {
            host: server.addr.to_string(),
            ak: server.banner_field("AccessKeyId")?,
            sk: server.banner_field("AccessKeySecret")?,
        };
        eprintln!(
            "opencams on {} ({}), setting up {} numbers",
            server.addr,
            data_dir.display(),
            opts.numbers
        );
        server::admin(
            &bin,
            &data_dir,
            &[
                "account",
                "set",
                "default",
                &format!("qps.SendChatappMessage={QPS}"),
                &format!("qps.api={QPS}"),
                "--json",
            ],
        )?;
        for i in 0..opts.numbers.max(1) {
            let number = cams::sender(i);
            server::admin(
                &bin,
                &data_dir,
                &[
                    "number",
                    "add",
                    "--account",
                    "default",
                    &number,
                    "--throughput",
                    "1000",
                    "--json",
                ],
            )?;
        }
        // settings and numbers are cached 2 s by the server, templates 1 s
        let settled = Instant::now() + Duration::from_millis(2200);
        let code = cams::approved_template(&signer, server.addr).await?;
        let settled = settled.max(Instant::now() + Duration::from_millis(1100));
        tokio::time::sleep_until(settled.into()).await;
        let factory = Arc::new(SendFactory::new(
            signer,
            code,
            opts.numbers,
            opts.recipients,
        ));
        // one send by hand: a setup mistake shows here with its error, not as a run of failures
        let (status, body) = crate::http::once(server.addr, factory.request(u64::MAX / 2)).await?;
        if status != 200 {
            bail!(
                "the first send failed: HTTP {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(Prepared {
            server,
            factory,
            data_dir,
            _tmp: tmp,
        })
    }

    /// A time-bound run of template sends.
    pub async fn timed(&self, opts: &Opts, pace: Pace) -> Value {
        let rss = RssSampler::start(self.server.pid());
        let spec = time_spec(opts, pace);
        eprintln!("opencams: {}", describe(&spec));
        let o = load::run(self.server.addr, spec, make(&self.factory)).await;
        report::load(&o, &spec, rss.peak_mb())
    }

    /// Sends until `count` were accepted, flat out.
    pub async fn until_accepted(&self, opts: &Opts, count: u64) -> (load::Outcome, Spec) {
        let spec = Spec {
            connections: opts.connections,
            pace: Pace::FlatOut,
            stop: Stop::Accepted {
                count,
                limit: Duration::from_secs(3600),
            },
        };
        eprintln!("opencams: {}", describe(&spec));
        let o = load::run(self.server.addr, spec, make(&self.factory)).await;
        (o, spec)
    }
}

/// Small simulator delays for the delivery scenarios (read receipts are off for the bench's
/// recipients anyway).
pub fn fast_simulator() -> Vec<(&'static str, String)> {
    vec![
        ("OPENCAMS_SIM_SENT_DELAY_MS", "1".into()),
        ("OPENCAMS_SIM_DELIVERED_DELAY_MS", "1".into()),
        ("OPENCAMS_SIM_JITTER_MS", "0".into()),
    ]
}
