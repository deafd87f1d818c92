//! `opencams-bench`: the load generator and benchmark scenarios of opencams. It starts the real
//! `opencams serve` (a fresh data directory on the default SQLite backend, durable commits), sets
//! it up only through its public admin commands and API, and drives it with ACS3-HMAC-SHA256
//! signed requests over keep-alive connections. It never fails a run on a threshold: it measures
//! and reports. It must not reach into the server through any path a real client could not use,
//! with one exception: `console` writes its history of messages straight into the stopped
//! server's database (see `scenarios/console/seed.rs`), since the API stamps every message with
//! the time it is sent and so cannot build a month of history.
//!
//! Build both binaries, then run a scenario:
//!
//! ```sh
//! cargo build --release -p opencams -p opencams-bench
//! target/release/opencams-bench all
//! ```
//!
//! On PostgreSQL: `--database-url postgres://user@host:port/db` names a server (a user that may
//! `CREATE DATABASE`); every server the bench prepares gets a fresh database
//! `opencams_bench_<random>` there, dropped at the end (kept with `--keep`). `--nodes N` starts N
//! `opencams serve` processes on it, each with its own data directory and port and the same
//! generated `OPENCAMS_MASTER_KEY`, one after the other (the first creates the bootstrap account);
//! the load generator spreads its connections round-robin over them (every request signed for the
//! first node's `Host`, as a load balancer passes it on). On PostgreSQL every time-bound accept
//! run gets fresh nodes on a fresh database, stopped after it (see `compare`).
//!
//! `compare` measures, in one run, the bare-HTTP baseline (flat out and at --rate) and, for
//! SQLite with 1 node, PostgreSQL with 1 node and PostgreSQL with 2 nodes (on --database-url,
//! which it needs; --nodes does not apply): accept flat out, accept at --rate, and e2e delivered
//! per second (--messages sends), each run on freshly prepared nodes. Per run also the servers'
//! CPU per accepted message (utime + stime of every node from `/proc/<pid>/stat`, the whole run,
//! divided by every message it accepted) and, on PostgreSQL, the database's commits per message
//! (`pg_stat_database.xact_commit` of the bench's database, read once the nodes stopped so that
//! every backend has published its counts), its backends' CPU per message, and statements per
//! message when the server preloads `pg_stat_statements`. It prints them side by side
//! (`side_by_side` in the JSON, every run whole under `results`). `accept` and `all` report the
//! same costs for their runs.
//!
//! ```sh
//! target/release/opencams-bench compare --rate 2000 --database-url postgres://postgres@127.0.0.1:5432/postgres
//! ```

// The load generator shares the server's two cores, so what it spends is taken from the figures
// it reports: glibc malloc/free were a tenth of its samples (signing allocates per request).
// The same allocator as `opencams serve`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod baseline;
mod cams;
mod db;
mod http;
mod load;
mod report;
mod scenarios;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "opencams-bench",
    about = "Benchmarks a real opencams server with signed CAMS requests"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SendChatappMessage template sends, flat out, dispatch paused: the accept path alone
    Accept,
    /// The same at a fixed rate (--rate), for latency
    AcceptRate,
    /// The same load generator against a bare HTTP endpoint served by this binary
    Baseline,
    /// baseline, accept, accept-rate; accept as a ratio of baseline
    All,
    /// Accepted and delivered to the built-in simulator until `delivered` is recorded
    E2e,
    /// Baseline, then accept, accept-rate and e2e on SQLite (1 node) and on PostgreSQL (1 and 2
    /// nodes; needs --database-url) side by side, with CPU and database commits per message
    /// (--rate 2000 for the published figures; --messages per e2e run)
    Compare,
    /// --messages queued with dispatch paused, then a restart and the drain is measured
    Backlog,
    /// The web console's Messages page over --messages stored messages (default 1000000, seeded
    /// straight into the database): searches and a deep keyset page, timed as a signed-in viewer
    Console,
    /// (internal) the baseline HTTP endpoint
    #[command(hide = true)]
    ServeBaseline {
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
}

#[derive(Args, Clone)]
pub struct Opts {
    /// Connections kept open by the load generator
    #[arg(long, global = true, default_value_t = 64)]
    pub connections: usize,
    /// Measured seconds of each time-bound run (accept, accept-rate, baseline)
    #[arg(long, global = true, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts
    #[arg(long, global = true, default_value_t = 1.0)]
    pub warmup: f64,
    /// Requests per second of the fixed-rate runs
    #[arg(long, global = true, default_value_t = 5000.0)]
    pub rate: f64,
    /// Messages to send (e2e and each of compare's e2e runs, default 100000; backlog, default
    /// 1000000) or to store (console, default 1000000)
    #[arg(long, global = true)]
    pub messages: Option<u64>,
    /// Sender numbers registered (throughput 1000/s each); sends rotate over them
    #[arg(long, global = true, default_value_t = 16)]
    pub numbers: usize,
    /// Recipients sends rotate over (keeps each (number, user) pair under its 45-message burst)
    #[arg(long, global = true, default_value_t = 10_000)]
    pub recipients: usize,
    /// Longest wait for the backlog drain or for e2e deliveries, seconds
    #[arg(long, global = true, default_value_t = 900.0)]
    pub drain_timeout: f64,
    /// A few seconds per scenario and small counts, for CI
    #[arg(long, global = true)]
    pub smoke: bool,
    /// Print one JSON object instead of the table
    #[arg(long, global = true)]
    pub json: bool,
    /// Keep the servers' temporary data directories and logs, and the PostgreSQL databases (their
    /// paths and names go to stderr)
    #[arg(long, global = true)]
    pub keep: bool,
    /// Run on PostgreSQL: a server URL such as postgres://postgres@127.0.0.1:5432/postgres; each
    /// prepared server gets a fresh database opencams_bench_<random> there, dropped at the end
    /// unless --keep [default: SQLite in the data directory]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// `opencams serve` processes sharing the database (needs --database-url when above 1); the
    /// load is spread over them round-robin
    #[arg(long, global = true, default_value_t = 1, value_name = "N")]
    pub nodes: usize,
    /// The opencams binary [default: `opencams` beside this binary]
    #[arg(long, global = true, env = "OPENCAMS_BIN")]
    pub opencams_bin: Option<PathBuf>,
}

impl Opts {
    /// Applies `--smoke`: short runs and small counts unless given explicitly.
    fn smoke_adjusted(mut self) -> Self {
        if self.smoke {
            self.duration = self.duration.min(2.0);
            self.warmup = self.warmup.min(0.5);
            self.connections = self.connections.min(16);
            self.rate = self.rate.min(500.0);
            self.numbers = self.numbers.min(4);
            self.recipients = self.recipients.min(1000);
            self.drain_timeout = self.drain_timeout.min(15.0);
        }
        self
    }

    /// Refuses option combinations that cannot run.
    fn check(&self) -> anyhow::Result<()> {
        if self.nodes == 0 {
            anyhow::bail!("--nodes must be at least 1");
        }
        if self.nodes > 1 && self.database_url.is_none() {
            anyhow::bail!(
                "--nodes {} needs --database-url: several nodes share one PostgreSQL database \
                 (SQLite serves one node)",
                self.nodes
            );
        }
        if let Some(url) = &self.database_url {
            db::with_database(url, "check")?;
        }
        Ok(())
    }

    pub fn opencams_bin(&self) -> anyhow::Result<PathBuf> {
        match &self.opencams_bin {
            Some(p) => Ok(p.clone()),
            None => {
                let exe = std::env::current_exe()?;
                let dir = exe
                    .parent()
                    .ok_or_else(|| anyhow::anyhow!("the bench binary has no directory"))?;
                Ok(dir.join("opencams"))
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if let Scenario::ServeBaseline { listen } = cli.scenario {
        return rt.block_on(baseline::serve(listen));
    }
    let opts = cli.opts.smoke_adjusted();
    opts.check()?;
    // on Ctrl-C the scenario future is dropped, and with it the servers it started (their Drop
    // kills them), so no `opencams serve` outlives an interrupted run
    let report = rt.block_on(async {
        tokio::select! {
            r = scenarios::run(cli.scenario, &opts) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })?;
    if opts.json {
        println!("{report}");
    } else {
        report::print_human(&report);
    }
    Ok(())
}
