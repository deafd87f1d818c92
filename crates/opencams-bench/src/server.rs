//! The servers under test, as child processes: the real `opencams serve` on a fresh data
//! directory (set up only through its public admin commands and API), and the bench's own bare
//! HTTP endpoint. Also the peak-RSS sampler that reads `/proc/<pid>/status` and the CPU time
//! read from `/proc/<pid>/stat`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running child server.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The first-start banner (empty after a restart).
    pub banner: String,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// The line that announces the address, e.g. `opencams listening on http://`.
    ready_prefix: &'static str,
}

impl Server {
    /// `opencams serve` on `127.0.0.1:0` with a fresh data directory.
    pub fn opencams(bin: &Path, data_dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Self> {
        if !bin.exists() {
            bail!(
                "the opencams binary is not at {} (build it: cargo build --release -p opencams -p opencams-bench, or pass --opencams-bin)",
                bin.display()
            );
        }
        let cmd = vec![
            bin.display().to_string(),
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            data_dir.display().to_string(),
        ];
        let log = data_dir.with_extension("log");
        Self::spawn(cmd, env, log, "opencams listening on http://")
    }

    /// This binary's hidden `serve-baseline` subcommand.
    pub fn baseline(log: PathBuf) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the bench binary")?;
        let cmd = vec![
            exe.display().to_string(),
            "serve-baseline".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        Self::spawn(cmd, &[], log, crate::baseline::READY)
    }

    fn spawn(
        cmd: Vec<String>,
        env: &[(&str, String)],
        log: PathBuf,
        ready_prefix: &'static str,
    ) -> anyhow::Result<Self> {
        let mut s = Server {
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            banner: String::new(),
            cmd,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            log,
            ready_prefix,
        };
        s.start()?;
        Ok(s)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut c = Command::new(&self.cmd[0]);
        c.args(&self.cmd[1..])
            // only what the bench gives it: a database URL or node id in the caller's environment
            // must not send a SQLite run to some other database
            .env_remove("OPENCAMS_MASTER_KEY")
            .env_remove("OPENCAMS_DATABASE_URL")
            .env_remove("OPENCAMS_NODE_ID")
            .env_remove("OPENCAMS_DISPATCH_PAUSED")
            // quiet unless the caller asks for more (e.g. `opencams_store=debug` for the
            // writer's once-a-second figures)
            .env(
                "OPENCAMS_LOG",
                std::env::var("OPENCAMS_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let mut child = c
            .spawn()
            .with_context(|| format!("cannot start {}", self.cmd[0]))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut banner = String::new();
        let addr = loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                bail!("{} exited before listening:\n{banner}{log}", self.cmd[0]);
            }
            if let Some(a) = line.trim().strip_prefix(self.ready_prefix) {
                break a
                    .parse::<SocketAddr>()
                    .with_context(|| format!("bad address {a:?}"))?;
            }
            banner.push_str(&line);
        };
        // keep reading stdout so the server never blocks on a full pipe
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = reader.read_to_end(&mut sink);
        });
        self.addr = addr;
        self.banner = banner;
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A `Name  value` line of the first-start banner.
    pub fn banner_field(&self, name: &str) -> anyhow::Result<String> {
        self.banner
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(name)
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            })
            .with_context(|| format!("no {name} in the server's first-start output"))
    }

    /// Stops gracefully (SIGTERM, then SIGKILL after 60 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops and starts again with other environment (same data directory, new port).
    pub fn restart(&mut self, env: &[(&str, String)]) -> anyhow::Result<()> {
        self.stop();
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.start()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs an `opencams` admin command on the data directory, with `env` (the database URL and
/// master key of a PostgreSQL run); fails with its stderr.
pub fn admin(
    bin: &Path,
    data_dir: &Path,
    env: &[(&str, String)],
    args: &[&str],
) -> anyhow::Result<String> {
    let mut c = Command::new(bin);
    c.args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("OPENCAMS_MASTER_KEY")
        .env_remove("OPENCAMS_DATABASE_URL");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "opencams {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A `/proc/<pid>/status` field in kB.
fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux the bench
/// runs on; the kernel converts to it whatever its internal rate).
const TICKS_PER_S: f64 = 100.0;

/// utime + stime of a process (all its threads), clock ticks; `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name may hold spaces and parentheses: the fields follow the last ')'
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // fields 14 and 15 of proc(5); `rest` starts at field 3
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds used so far by each process: (pid, seconds), the processes already gone left out.
pub fn cpu_seconds(pids: &[u32]) -> Vec<(u32, f64)> {
    pids.iter()
        .filter_map(|&p| cpu_ticks(p).map(|t| (p, t as f64 / TICKS_PER_S)))
        .collect()
}

/// CPU seconds used between two [`cpu_seconds`] readings, summed over the processes: a process
/// first seen in `after` counts whole (it started in between).
pub fn cpu_used(before: &[(u32, f64)], after: &[(u32, f64)]) -> f64 {
    after
        .iter()
        .map(|(p, t)| {
            let b = before.iter().find(|(q, _)| q == p).map_or(0.0, |(_, b)| *b);
            (t - b).max(0.0)
        })
        .sum()
}

/// Samples processes' peak resident set (VmHWM, the kernel's own high-water mark) every 100 ms
/// until dropped; the last reading before a process exits is kept. Reports the largest node's.
pub struct RssSampler {
    pids: Vec<u32>,
    peak_kb: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pids: Vec<u32>) -> Self {
        let peak_kb = Arc::new(AtomicU64::new(0));
        let peak = peak_kb.clone();
        let sampled = pids.clone();
        let task = tokio::spawn(async move {
            if sampled.is_empty() {
                return;
            }
            loop {
                for &pid in &sampled {
                    if let Some(kb) = status_kb(pid, "VmHWM:") {
                        peak.fetch_max(kb, Ordering::Relaxed);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            pids,
            peak_kb,
            task,
        }
    }

    /// Peak RSS so far of the largest process, MB (read once more now, while they still run).
    pub fn peak_mb(&self) -> f64 {
        for &pid in &self.pids {
            if let Some(kb) = status_kb(pid, "VmHWM:") {
                self.peak_kb.fetch_max(kb, Ordering::Relaxed);
            }
        }
        self.peak_kb.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}
