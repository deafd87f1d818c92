//! `opencams-bench`: the load generator and benchmark scenarios of opencams. It starts the real
//! `opencams serve` (a fresh data directory on the default SQLite backend, durable commits), sets
//! it up only through its public admin commands and API, and drives it with ACS3-HMAC-SHA256
//! signed requests over keep-alive connections. It never fails a run on a threshold: it measures
//! and reports. It must not reach into the server through any path a real client could not use.
//!
//! Build both binaries, then run a scenario:
//!
//! ```sh
//! cargo build --release -p opencams -p opencams-bench
//! target/release/opencams-bench all
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
    /// --messages queued with dispatch paused, then a restart and the drain is measured
    Backlog,
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
    /// Messages to send (e2e, default 100000; backlog, default 1000000)
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
    /// Keep the servers' temporary data directories and logs (their paths go to stderr)
    #[arg(long, global = true)]
    pub keep: bool,
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
