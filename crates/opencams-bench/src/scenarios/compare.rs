//! `compare`: SQLite and PostgreSQL side by side, in one run. The bare-HTTP baseline (flat out and
//! at --rate), then for SQLite with 1 node, PostgreSQL with 1 node and PostgreSQL with 2 nodes
//! (each on a fresh database on --database-url's server): `accept` flat out, `accept` at --rate
//! and `e2e` (--messages sends delivered), each on freshly prepared nodes (the same starting
//! point for every configuration; on PostgreSQL it is also what gives exact commit counts). Every run is
//! also in `results` whole, under `<configuration> <run>`; `side_by_side` picks the figures to
//! compare, one column per configuration.
//!
//! Cost per message: the nodes' CPU (utime + stime from `/proc/<pid>/stat`, every node, the whole
//! run including warm-up, divided by every message accepted in it); on PostgreSQL also the commits
//! in the bench's database (`pg_stat_database.xact_commit`, read after the nodes stopped; the
//! nodes' idle polling during the run included), the CPU of the backends serving it (from
//! `/proc`, so only for a server on this machine), and statements when the server preloads
//! `pg_stat_statements`.
//! These are the server's figures: the load generator shares the machine and is not counted.
//! First, `disk_sync`: the latency of a small durable write on this machine
//! ([`report::disk_sync_probe`]), which every durable send waits for.

use serde_json::{Map, Value, json};

use super::{accept_runs, baseline, e2e, p99, tput};
use crate::load::Pace;
use crate::{Opts, report};

/// The configurations compared: (column, PostgreSQL?, nodes).
const CONFIGS: [(&str, bool, usize); 3] = [
    ("sqlite-1", false, 1),
    ("postgres-1", true, 1),
    ("postgres-2", true, 2),
];

/// Runs everything, fills `results` and `ratios`, and answers the side-by-side table.
pub async fn run(
    opts: &Opts,
    results: &mut Map<String, Value>,
    ratios: &mut Map<String, Value>,
) -> anyhow::Result<Value> {
    let Some(url) = opts.database_url.clone() else {
        anyhow::bail!(
            "compare runs PostgreSQL as well as SQLite: give --database-url \
             postgres://user@host:port/db (a server where the user may CREATE DATABASE)"
        );
    };
    // the disk first: its sync stalls explain the accept p99s below
    let probe = if opts.smoke { 0.2 } else { 3.0 };
    let disk = tokio::task::spawn_blocking(move || {
        report::disk_sync_probe(std::time::Duration::from_secs_f64(probe))
    })
    .await??;
    eprintln!("disk sync: {disk}");
    results.insert("disk_sync".into(), disk);
    let (flat, rate) = baseline(opts).await?;
    let mut columns = vec![Column {
        name: "baseline",
        accept: flat.clone(),
        accept_rate: rate.clone(),
        e2e: Value::Null,
    }];
    results.insert("baseline".into(), flat);
    results.insert("baseline_rate".into(), rate);
    for (name, postgres, nodes) in CONFIGS {
        eprintln!("== {name}");
        let o = Opts {
            database_url: postgres.then(|| url.clone()),
            nodes,
            ..opts.clone()
        };
        let mut runs = accept_runs(
            &o,
            &[
                ("accept", Pace::FlatOut),
                ("accept_rate", Pace::Rate(opts.rate)),
            ],
            true,
        )
        .await?
        .into_iter()
        .map(|(_, v)| v);
        let accept = runs.next().unwrap_or_default();
        let accept_rate = runs.next().unwrap_or_default();
        let e2e = e2e::run(&o).await?;
        results.insert(format!("{name} accept"), accept.clone());
        results.insert(format!("{name} accept_rate"), accept_rate.clone());
        results.insert(format!("{name} e2e"), e2e.clone());
        columns.push(Column {
            name,
            accept,
            accept_rate,
            e2e,
        });
    }
    let base = columns.first().map(|c| tput(&c.accept)).unwrap_or(0.0);
    for c in columns.iter().skip(1) {
        ratios.insert(
            format!("{} accept/baseline throughput", c.name),
            report::ratio(tput(&c.accept), base),
        );
    }
    Ok(side_by_side(&columns, opts.rate))
}

/// One configuration's runs (the baseline's `e2e` is null).
struct Column {
    name: &'static str,
    accept: Value,
    accept_rate: Value,
    e2e: Value,
}

/// `{"columns": [...], "rows": [{"key", "figure", "values": {column: value}}]}`.
fn side_by_side(columns: &[Column], rate: f64) -> Value {
    type Pick = fn(&Column) -> Value;
    let errors = |v: &Value| -> u64 {
        v["errors"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0)
    };
    let rows: Vec<(&str, String, Pick)> = vec![
        ("accept_rps", "accept flat out, req/s".into(), |c| {
            json!(tput(&c.accept))
        }),
        ("accept_p99_ms", "accept flat out, p99 ms".into(), |c| {
            json!(p99(&c.accept))
        }),
        (
            "accept_rate_rps",
            format!("accept at {rate:.0}/s, req/s"),
            |c| json!(tput(&c.accept_rate)),
        ),
        (
            "accept_rate_p50_ms",
            format!("accept at {rate:.0}/s, p50 ms"),
            |c| c.accept_rate["latency_ms"]["p50"].clone(),
        ),
        (
            "accept_rate_p99_ms",
            format!("accept at {rate:.0}/s, p99 ms"),
            |c| json!(p99(&c.accept_rate)),
        ),
        ("e2e_delivered_per_s", "e2e delivered/s".into(), |c| {
            c.e2e["delivered_per_s"].clone()
        }),
        (
            "e2e_delivered_p99_ms",
            "e2e accept→delivered p99 ms".into(),
            |c| c.e2e["accept_to_delivered_ms"]["p99"].clone(),
        ),
        (
            "server_cpu_us_per_msg",
            "server CPU µs/msg, flat out".into(),
            |c| c.accept["cost"]["server_cpu_us_per_msg"].clone(),
        ),
        (
            "server_cpu_us_per_msg_rate",
            format!("server CPU µs/msg, at {rate:.0}/s"),
            |c| c.accept_rate["cost"]["server_cpu_us_per_msg"].clone(),
        ),
        (
            "server_cpu_us_per_delivered",
            "server CPU µs/msg, e2e".into(),
            |c| c.e2e["server_cpu_us_per_delivered"].clone(),
        ),
        (
            "server_cpu_cores",
            "server CPU cores busy, flat out".into(),
            |c| c.accept["cost"]["server_cpu_cores"].clone(),
        ),
        (
            "db_backend_cpu_us_per_msg",
            "PostgreSQL CPU µs/msg, flat out".into(),
            |c| c.accept["cost"]["db_backend_cpu_us_per_msg"].clone(),
        ),
        ("db_commits_per_msg", "commits/msg, flat out".into(), |c| {
            c.accept["cost"]["db_commits_per_msg"].clone()
        }),
        (
            "db_commits_per_msg_rate",
            format!("commits/msg, at {rate:.0}/s"),
            |c| c.accept_rate["cost"]["db_commits_per_msg"].clone(),
        ),
        (
            "db_statements_per_msg",
            "statements/msg, flat out".into(),
            |c| c.accept["cost"]["db_statements_per_msg"].clone(),
        ),
        (
            "server_peak_rss_mb",
            "peak RSS MB (largest node)".into(),
            |c| c.accept["server_peak_rss_mb"].clone(),
        ),
    ];
    let mut out: Vec<Value> = rows
        .into_iter()
        .map(|(key, figure, pick)| {
            let values: Map<String, Value> = columns
                .iter()
                .map(|c| (c.name.to_string(), pick(c)))
                .collect();
            json!({"key": key, "figure": figure, "values": values})
        })
        .collect();
    let errs: Map<String, Value> = columns
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                json!(errors(&c.accept) + errors(&c.accept_rate)),
            )
        })
        .collect();
    out.push(
        json!({"key": "accept_errors", "figure": "accept errors (both runs)", "values": errs}),
    );
    let base = columns.first().map(|c| tput(&c.accept)).unwrap_or(0.0);
    let ratio: Map<String, Value> = columns
        .iter()
        .map(|c| (c.name.to_string(), report::ratio(tput(&c.accept), base)))
        .collect();
    out.push(json!({"key": "accept_vs_baseline", "figure": "accept / baseline throughput", "values": ratio}));
    json!({
        "columns": columns.iter().map(|c| c.name).collect::<Vec<_>>(),
        "rows": out,
    })
}
