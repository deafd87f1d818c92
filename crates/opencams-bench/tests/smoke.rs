//! CI smoke test: every scenario runs in its `--smoke` form against the debug binaries and prints
//! JSON with the expected fields and positive numbers. No thresholds: speed is what BENCHMARKS.md
//! is for.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_opencams-bench");

/// The `opencams` binary of the same profile beside the bench binary. A binary of another package
/// cannot be a dependency, so the test asks cargo for it (a no-op when it is up to date, e.g.
/// under `cargo test --workspace`) and passes its path with --opencams-bin.
fn opencams_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(BENCH).parent().unwrap().to_path_buf();
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "opencams", "--bin", "opencams"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        // the binary lands in the target directory this test binary was built in
        if let Some(target) = dir.parent() {
            cmd.env("CARGO_TARGET_DIR", target);
        }
        let st = cmd
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(st.success(), "cargo build -p opencams failed");
        let bin = dir.join("opencams");
        assert!(bin.exists(), "no opencams binary at {}", bin.display());
        bin
    })
    .clone()
}

fn bench(args: &[&str]) -> Value {
    let out = Command::new(BENCH)
        .args(args)
        .args(["--smoke", "--json", "--opencams-bin"])
        .arg(opencams_bin())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "opencams-bench {args:?} failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("opencams-bench {args:?} printed no JSON ({e}): {stdout}"));
    assert_eq!(v["smoke"], true, "{v}");
    assert!(v["machine"]["cores"].as_u64().unwrap() > 0, "{v}");
    v
}

fn positive(v: &Value, path: &str) {
    let mut x = v;
    for part in path.split('.') {
        x = &x[part];
    }
    let n = x
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v}"));
    assert!(n > 0.0, "{path} is {n}, expected a positive number in {v}");
}

#[test]
fn all_e2e_and_backlog_report_their_figures() {
    let all = bench(&["all"]);
    for run in ["baseline", "baseline_rate", "accept", "accept_rate"] {
        let r = &all["results"][run];
        for f in [
            "throughput_rps",
            "requests_ok",
            "connections",
            "latency_ms.p50",
            "latency_ms.p90",
            "latency_ms.p99",
            "latency_ms.p99_9",
            "latency_ms.max",
            "server_peak_rss_mb",
        ] {
            positive(r, f);
        }
        assert!(r["errors"].is_object(), "{r}");
    }
    positive(&all["ratios"], "accept/baseline throughput");

    let e2e = bench(&["e2e"]);
    let r = &e2e["results"]["e2e"];
    for f in [
        "accepted",
        "delivered",
        "delivered_per_s",
        "accept_to_delivered_ms.p50",
        "accept_to_delivered_ms.p99",
        "server_peak_rss_mb",
    ] {
        positive(r, f);
    }

    let backlog = bench(&["backlog", "--messages", "20000"]);
    let r = &backlog["results"]["backlog"];
    for f in [
        "queued",
        "drained",
        "drain_rate",
        "peak_rss_queueing_mb",
        "peak_rss_drain_mb",
    ] {
        positive(r, f);
    }
}

/// The PostgreSQL server of the tests (as opencams-store's): `OPENCAMS_TEST_DATABASE_URL`, or the
/// trust-auth server of the CI machines.
fn postgres_url() -> String {
    std::env::var("OPENCAMS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether a missing PostgreSQL server fails the test instead of skipping it.
fn postgres_required() -> bool {
    ["CI", "OPENCAMS_REQUIRE_POSTGRES"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

#[test]
fn compare_reports_sqlite_and_postgres_side_by_side() {
    let url = postgres_url();
    // a server that is not there: skipped (with why), unless one is required; every scenario
    // checks the server first, and the baseline starts no opencams
    let probe = Command::new(BENCH)
        .args(["baseline", "--smoke", "--duration", "0.1", "--warmup", "0"])
        .args(["--database-url", &url])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&probe.stderr);
    if !probe.status.success() && stderr.contains("PostgreSQL is not reachable") {
        assert!(!postgres_required(), "{stderr}");
        eprintln!("skipped: {stderr} (point OPENCAMS_TEST_DATABASE_URL at a server)");
        return;
    }
    assert!(
        probe.status.success(),
        "the PostgreSQL probe failed:\n{stderr}"
    );

    // shorter runs than --smoke's own: this is the longest test of the suite
    let v = bench(&[
        "compare",
        "--database-url",
        &url,
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--messages",
        "1000",
    ]);
    let columns = ["baseline", "sqlite-1", "postgres-1", "postgres-2"];
    assert_eq!(v["side_by_side"]["columns"], serde_json::json!(columns));
    let rows = v["side_by_side"]["rows"].as_array().unwrap();
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["key"] == key)
            .unwrap_or_else(|| panic!("no row {key} in {v}"))["values"]
            .clone()
    };
    for key in ["accept_rps", "accept_rate_p99_ms", "server_cpu_us_per_msg"] {
        for c in columns {
            positive(&row(key), c);
        }
    }
    for c in &columns[1..] {
        positive(&row("e2e_delivered_per_s"), c);
    }
    for c in ["postgres-1", "postgres-2"] {
        positive(&row("db_commits_per_msg"), c);
        positive(&row("db_backend_cpu_us_per_msg"), c);
    }
    assert!(row("db_commits_per_msg")["sqlite-1"].is_null(), "{v}");
    assert_eq!(v["results"]["postgres-2 accept"]["cost"]["nodes"], 2, "{v}");
}

/// The console scenario on a small history: every page timed answered 200 with rows, and the
/// seeding reports its figures.
#[test]
fn console_times_every_messages_page() {
    let v = bench(&["console", "--messages", "3000"]);
    let r = &v["results"]["console"];
    for f in [
        "seeded",
        "seeding_s",
        "seeding_rows_per_s",
        "users",
        "server_peak_rss_mb",
    ] {
        positive(r, f);
    }
    assert_eq!(r["seeded"], 3000, "{r}");
    let queries = r["queries"].as_object().unwrap();
    let names: Vec<&str> = queries.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "first_page",
            "deep_page_4",
            "keyset_near_oldest",
            "business_number",
            "user",
            "status_failed",
            "template",
            "task_id",
            "hour_a_week_ago",
            "direction_in",
            "combination",
            "message_page",
        ],
        "{r}"
    );
    for (name, q) in queries {
        assert_eq!(q["status"], 200, "{name}: {q}");
        assert_eq!(q["non_200"], 0, "{name}: {q}");
        for f in [
            "rows",
            "bytes",
            "latency_ms.p50",
            "latency_ms.p99",
            "latency_ms.max",
        ] {
            positive(q, f);
        }
    }
    // a full first page, and the message page's timeline beyond "accepted"
    assert_eq!(queries["first_page"]["rows"], 50, "{r}");
    assert!(queries["message_page"]["rows"].as_u64().unwrap() > 1, "{r}");
}
