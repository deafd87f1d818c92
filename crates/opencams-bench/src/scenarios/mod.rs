//! The scenarios: what server to start, how to set it up, what load to send, what to report.

mod backlog;
mod compare;
mod console;
mod e2e;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cams::{self, SendFactory, Signer};
use crate::db::{Db, PgDatabase};
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
    let mut side_by_side = None;
    match scenario {
        Scenario::Baseline => {
            let (flat, rate) = baseline(opts).await?;
            results.insert("baseline".into(), flat);
            results.insert("baseline_rate".into(), rate);
        }
        Scenario::Accept | Scenario::AcceptRate => {
            let run = if scenario == Scenario::Accept {
                ("accept", Pace::FlatOut)
            } else {
                ("accept_rate", Pace::Rate(opts.rate))
            };
            for (name, v) in accept_runs(opts, &[run], false).await? {
                results.insert(name.into(), v);
            }
        }
        Scenario::All => {
            let (flat, rate) = baseline(opts).await?;
            let mut runs = accept_runs(
                opts,
                &[
                    ("accept", Pace::FlatOut),
                    ("accept_rate", Pace::Rate(opts.rate)),
                ],
                false,
            )
            .await?
            .into_iter()
            .map(|(_, v)| v);
            let accept = runs.next().context("no run")?;
            let accept_rate = runs.next().context("no run")?;
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
        Scenario::Console => {
            results.insert("console".into(), console::run(opts).await?);
        }
        Scenario::Compare => {
            side_by_side = Some(compare::run(opts, &mut results, &mut ratios).await?);
        }
        Scenario::ServeBaseline { .. } => bail!("serve-baseline is not a scenario"),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut report = json!({
        "scenario": scenario_name(scenario),
        "date": opencams_protocol::time_fmt::format(now),
        "smoke": opts.smoke,
        "machine": report::machine(),
        "backend": match scenario {
            Scenario::Compare => "sqlite-1, postgres-1, postgres-2".into(),
            _ => backend_name(opts),
        },
        "results": results,
        "ratios": ratios,
    });
    if let Some(t) = side_by_side {
        report["side_by_side"] = t;
    }
    Ok(report)
}

/// Throughput of a load run, req/s.
fn tput(v: &Value) -> f64 {
    v["throughput_rps"].as_f64().unwrap_or(0.0)
}

/// p99 of a load run, ms.
fn p99(v: &Value) -> f64 {
    v["latency_ms"]["p99"].as_f64().unwrap_or(0.0)
}

/// `sqlite`, `postgres` or `postgres, 2 nodes` (compare runs all of them).
fn backend_name(opts: &Opts) -> String {
    match (&opts.database_url, opts.nodes) {
        (None, _) => "sqlite".into(),
        (Some(_), 1) => "postgres".into(),
        (Some(_), n) => format!("postgres, {n} nodes"),
    }
}

/// The accept path alone (dispatch paused): the runs in turn, each with what it cost (see
/// [`Prepared::timed`]). On SQLite they share one prepared server, unless `fresh`; on PostgreSQL
/// each run gets fresh nodes on a fresh database, stopped after it: PostgreSQL publishes a
/// backend's counts up to a second late while it works and 10 s after it goes idle, but at once
/// when it exits, so the commits counted after the nodes stopped are exactly the run's (the
/// nodes' idle polling during it included, about 80 commits/s per node on PostgreSQL 15).
pub async fn accept_runs(
    opts: &Opts,
    runs: &[(&'static str, Pace)],
    fresh: bool,
) -> anyhow::Result<Vec<(&'static str, Value)>> {
    let env = [("OPENCAMS_DISPATCH_PAUSED", PAUSED.into())];
    let fresh = fresh || opts.database_url.is_some();
    let mut out = Vec::new();
    let mut shared = None;
    for &(name, pace) in runs {
        let mut own = None;
        let s = match (fresh, &mut shared) {
            (false, Some(s)) => s,
            (false, slot @ None) => slot.insert(Prepared::start(opts, &env).await?),
            (true, _) => own.insert(Prepared::start(opts, &env).await?),
        };
        out.push((name, s.timed(opts, pace).await?));
    }
    Ok(out)
}

fn scenario_name(s: Scenario) -> &'static str {
    match s {
        Scenario::Accept => "accept",
        Scenario::AcceptRate => "accept-rate",
        Scenario::Baseline => "baseline",
        Scenario::All => "all",
        Scenario::E2e => "e2e",
        Scenario::Backlog => "backlog",
        Scenario::Compare => "compare",
        Scenario::Console => "console",
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
        let pids: Vec<u32> = srv.pid().into_iter().collect();
        let rss = RssSampler::start(pids.clone());
        let spec = time_spec(opts, pace);
        eprintln!("baseline: {}", describe(&spec));
        let cpu = server::cpu_seconds(&pids);
        let t0 = Instant::now();
        let o = load::run(&[srv.addr], spec, make(&f)).await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = server::cpu_used(&cpu, &server::cpu_seconds(&pids));
        let mut v = report::load(&o, &spec, rss.peak_mb());
        v["cost"] = cpu_cost(1, o.accepted_total, wall, cpu);
        out.push(v);
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

/// Real opencams servers, set up for template sends: one `opencams serve` on SQLite, or
/// `--nodes` of them on a fresh PostgreSQL database.
pub struct Prepared {
    /// The nodes, the first the one that bootstrapped. Declared before `database`: fields drop
    /// in order, so the nodes are killed before their database is dropped.
    pub nodes: Vec<Server>,
    pub factory: Arc<SendFactory>,
    /// The first node's data directory (the SQLite database's).
    pub data_dir: PathBuf,
    /// Sends made by hand during setup, one per node (they are delivered too).
    pub setup_sends: u64,
    pub database: Option<PgDatabase>,
    /// What every node and admin command is given: the database URL and the master key.
    common_env: Vec<(&'static str, String)>,
    _tmp: tempfile::TempDir,
}

/// The environment of node `i` of `n`.
fn node_env(
    common: &[(&'static str, String)],
    env: &[(&'static str, String)],
    i: usize,
    n: usize,
    postgres: bool,
) -> Vec<(&'static str, String)> {
    let mut e = common.to_vec();
    e.extend(env.iter().cloned());
    e.push(("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "50".into()));
    if postgres || n > 1 {
        e.push(("OPENCAMS_NODE_ID", format!("bench-node{i}")));
    }
    e
}

impl Prepared {
    /// Starts the nodes (on PostgreSQL: a fresh database first, then the nodes one after the
    /// other, the first creating the bootstrap account), raises the account's API limits with
    /// `opencams account set`, registers the sender numbers with `opencams number add`, creates
    /// the template and waits for its approval, then waits out the servers' setting caches.
    pub async fn start(opts: &Opts, env: &[(&'static str, String)]) -> anyhow::Result<Prepared> {
        let bin = opts.opencams_bin()?;
        let tmp = tempfile::Builder::new()
            .prefix("opencams-bench-")
            .disable_cleanup(opts.keep)
            .tempdir()?;
        let data_dir = tmp.path().join("data");
        let database = match &opts.database_url {
            Some(url) => Some(PgDatabase::create(url, opts.keep).await?),
            None => None,
        };
        let mut common_env = Vec::new();
        if let Some(db) = &database {
            common_env.push(("OPENCAMS_DATABASE_URL", db.url.clone()));
            common_env.push(("OPENCAMS_MASTER_KEY", crate::db::random_hex(32)?));
        }
        let n = opts.nodes.max(1);
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let dir = match i {
                0 => data_dir.clone(),
                i => tmp.path().join(format!("data-node{i}")),
            };
            let env = node_env(&common_env, env, i, n, database.is_some());
            let node = Server::opencams(&bin, &dir, &env)?;
            eprintln!("opencams on {} ({})", node.addr, dir.display());
            nodes.push(node);
        }
        let first = nodes.first().context("no node")?;
        let signer = Signer {
            host: first.addr.to_string(),
            ak: first.banner_field("AccessKeyId")?,
            sk: first.banner_field("AccessKeySecret")?,
        };
        let first_addr = first.addr;
        eprintln!(
            "{}: setting up {} numbers",
            match &database {
                Some(db) => format!("PostgreSQL database {}, {n} node(s)", db.name),
                None => "SQLite".into(),
            },
            opts.numbers
        );
        server::admin(
            &bin,
            &data_dir,
            &common_env,
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
                &common_env,
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
        let code = cams::approved_template(&signer, first_addr).await?;
        let settled = settled.max(Instant::now() + Duration::from_millis(1100));
        tokio::time::sleep_until(settled.into()).await;
        let factory = Arc::new(SendFactory::new(
            signer,
            code,
            opts.numbers,
            opts.recipients,
        ));
        // one send by hand on each node: a setup mistake shows here with its error, not as a run
        // of failures
        for (i, node) in nodes.iter().enumerate() {
            let (status, body) =
                crate::http::once(node.addr, factory.request(u64::MAX / 2 + i as u64)).await?;
            if status != 200 {
                bail!(
                    "the first send to {} failed: HTTP {status} {}",
                    node.addr,
                    String::from_utf8_lossy(&body)
                );
            }
        }
        Ok(Prepared {
            setup_sends: nodes.len() as u64,
            nodes,
            factory,
            data_dir,
            database,
            common_env,
            _tmp: tmp,
        })
    }

    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().filter_map(Server::pid).collect()
    }

    /// A reader of the nodes' database.
    pub async fn db(&self) -> anyhow::Result<Db> {
        match &self.database {
            Some(pg) => Db::open_postgres(&pg.url).await,
            None => Db::open_sqlite(&self.data_dir),
        }
    }

    /// A reader of the PostgreSQL database, `None` on SQLite.
    pub async fn pg_db(&self) -> anyhow::Result<Option<Db>> {
        match &self.database {
            Some(pg) => Ok(Some(Db::open_postgres(&pg.url).await?)),
            None => Ok(None),
        }
    }

    /// Stops every node and starts it again with `env` instead of the scenario's (same data
    /// directory and database, new port), one after the other.
    pub fn restart(&mut self, env: &[(&'static str, String)]) -> anyhow::Result<()> {
        let n = self.nodes.len();
        let postgres = self.database.is_some();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.restart(&node_env(&self.common_env, env, i, n, postgres))?;
        }
        Ok(())
    }

    /// A time-bound run of template sends, and what it cost: the nodes' CPU (utime + stime over
    /// the whole run, warm-up included) per accepted message, and on PostgreSQL the database's
    /// commits, statements (with `pg_stat_statements`) and backends' CPU per message. On
    /// PostgreSQL the nodes are stopped after the run, for the database's exact counts (see
    /// [`accept_runs`]).
    pub async fn timed(&mut self, opts: &Opts, pace: Pace) -> anyhow::Result<Value> {
        let pg = self.pg_db().await?;
        let pids = self.pids();
        let rss = RssSampler::start(pids.clone());
        let spec = time_spec(opts, pace);
        eprintln!("opencams: {}", describe(&spec));
        let before = Counters::read(&pids, pg.as_ref()).await?;
        let t0 = Instant::now();
        let o = load::run(&self.addrs(), spec, make(&self.factory)).await;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = server::cpu_seconds(&pids);
        let mut v = report::load(&o, &spec, rss.peak_mb());
        drop(rss);
        let mut cost = cpu_cost(
            self.nodes.len(),
            o.accepted_total,
            wall,
            server::cpu_used(&before.cpu, &cpu),
        );
        if let (Some(db), Some(pg_before)) = (&pg, &before.pg) {
            // the backends' CPU now, before they exit
            let backends = db
                .pg_counters()
                .await?
                .map(|c| c.backends)
                .unwrap_or_default();
            let backend_cpu =
                server::cpu_used(&before.backend_cpu, &server::cpu_seconds(&backends));
            for node in &mut self.nodes {
                node.stop();
            }
            crate::db::settle(db).await?;
            let after = db.pg_counters().await?.context("no PostgreSQL counters")?;
            let commits = after.commits - pg_before.commits;
            cost["db_backend_cpu_s"] = json!(round(backend_cpu, 2));
            cost["db_backend_cpu_us_per_msg"] = per_msg(backend_cpu * 1e6, o.accepted_total);
            cost["db_commits"] = json!(commits);
            cost["db_rollbacks"] = json!(after.rollbacks - pg_before.rollbacks);
            cost["db_commits_per_msg"] = per_msg(commits as f64, o.accepted_total);
            cost["db_statements_per_msg"] = match (pg_before.statements, after.statements) {
                (Some(b), Some(a)) => per_msg((a - b) as f64, o.accepted_total),
                _ => Value::Null,
            };
        }
        v["cost"] = cost;
        Ok(v)
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
        let o = load::run(&self.addrs(), spec, make(&self.factory)).await;
        (o, spec)
    }
}

/// Counters read before a run.
struct Counters {
    cpu: Vec<(u32, f64)>,
    pg: Option<crate::db::PgCounters>,
    backend_cpu: Vec<(u32, f64)>,
}

impl Counters {
    async fn read(pids: &[u32], pg: Option<&Db>) -> anyhow::Result<Counters> {
        let pg = match pg {
            Some(db) => db.pg_counters().await?,
            None => None,
        };
        let backend_cpu = pg
            .as_ref()
            .map(|c| server::cpu_seconds(&c.backends))
            .unwrap_or_default();
        Ok(Counters {
            cpu: server::cpu_seconds(pids),
            pg,
            backend_cpu,
        })
    }
}

/// What a load run cost the servers: `cpu` seconds over `wall` seconds for `accepted` messages.
fn cpu_cost(nodes: usize, accepted: u64, wall: f64, cpu: f64) -> Value {
    json!({
        "nodes": nodes,
        "accepted_total": accepted,
        "wall_s": round(wall, 2),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_cores": round(cpu / wall.max(1e-9), 2),
        "server_cpu_us_per_msg": per_msg(cpu * 1e6, accepted),
    })
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `total / messages` to 3 places, `null` without messages.
pub fn per_msg(total: f64, messages: u64) -> Value {
    if messages == 0 {
        Value::Null
    } else {
        json!(round(total / messages as f64, 3))
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
