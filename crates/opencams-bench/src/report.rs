//! Turning measurements into the JSON object (`--json`) and the human table.

use hdrhistogram::Histogram;
use serde_json::{Map, Value, json};

use crate::load::{Outcome, Pace, Spec};

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// p50/p90/p99/p99.9/max of a µs histogram, in ms.
pub fn latency_ms(h: &Histogram<u64>) -> Value {
    let q = |p: f64| round(h.value_at_quantile(p) as f64 / 1000.0, 3);
    json!({
        "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p99_9": q(0.999),
        "max": round(h.max() as f64 / 1000.0, 3),
    })
}

/// One load run.
pub fn load(o: &Outcome, spec: &Spec, peak_rss_mb: f64) -> Value {
    let (mode, rate) = match spec.pace {
        Pace::FlatOut => ("flat-out", Value::Null),
        Pace::Rate(r) => ("fixed-rate", json!(r)),
    };
    json!({
        "mode": mode,
        "target_rate": rate,
        "connections": spec.connections,
        "duration_s": round(o.elapsed.as_secs_f64(), 3),
        "requests_ok": o.ok,
        "throughput_rps": round(o.throughput(), 1),
        "latency_ms": latency_ms(&o.hist),
        "errors": o.errors,
        "server_peak_rss_mb": round(peak_rss_mb, 1),
    })
}

pub fn ratio(a: f64, b: f64) -> Value {
    if b > 0.0 {
        json!(round(a / b, 3))
    } else {
        Value::Null
    }
}

/// cores and memory of this machine.
pub fn machine() -> Value {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    // other work on the machine skews every figure: the 1-minute load average at the start says
    // how busy it was
    let load: Option<f64> = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()));
    json!({"cores": cores, "memory_mb": mem_kb / 1024, "loadavg_1m": load})
}

/// How long this machine's disk takes to make a small write durable (8 KiB `pwrite` and
/// `fdatasync`, as a commit does), sampled every 2 ms for `duration` in the temporary
/// directory. Every durable send waits for one such sync, so its stalls (seen here: most syncs
/// 0.2 ms, a few a minute at 50–100 ms) are what sets the accept p99 on an idle machine.
pub fn disk_sync_probe(duration: std::time::Duration) -> anyhow::Result<Value> {
    use std::io::Write;
    use std::time::Instant;
    let mut file = tempfile::tempfile()?;
    let block = vec![b'x'; 8192];
    let mut ms: Vec<f64> = Vec::new();
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let t = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms.get(((ms.len() as f64 * q) as usize).min(ms.len().saturating_sub(1)));
    Ok(json!({
        "syncs": ms.len(),
        "p50_ms": at(0.5).map(|x| round(*x, 3)),
        "p99_ms": at(0.99).map(|x| round(*x, 3)),
        "max_ms": ms.last().map(|x| round(*x, 3)),
        "over_20ms": ms.iter().filter(|x| **x > 20.0).count(),
    }))
}

/// Prints the report for people: a table of the load runs, then the other results as
/// `key  value` lines.
pub fn print_human(report: &Value) {
    let m = &report["machine"];
    println!(
        "opencams-bench {}  ({} cores, {} MB){}",
        report["scenario"].as_str().unwrap_or(""),
        m["cores"],
        m["memory_mb"],
        if report["smoke"] == true {
            "  [smoke]"
        } else {
            ""
        }
    );
    let empty = Map::new();
    let results = report["results"].as_object().unwrap_or(&empty);
    let loads: Vec<_> = results
        .iter()
        .filter(|(_, v)| v.get("throughput_rps").is_some())
        .collect();
    let w = loads
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max(14);
    if !loads.is_empty() {
        println!(
            "\n{:<w$} {:>10} {:>6} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  errors",
            "run",
            "mode",
            "conns",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9",
            "max ms",
            "RSS MB"
        );
        for (name, v) in &loads {
            let l = &v["latency_ms"];
            let mode = match v["target_rate"].as_f64() {
                Some(r) => format!("{r:.0}/s"),
                None => "flat".into(),
            };
            println!(
                "{:<w$} {:>10} {:>6} {:>11.1} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.1}  {}",
                name,
                mode,
                v["connections"].as_u64().unwrap_or(0),
                num(&v["throughput_rps"]),
                num(&l["p50"]),
                num(&l["p90"]),
                num(&l["p99"]),
                num(&l["p99_9"]),
                num(&l["max"]),
                num(&v["server_peak_rss_mb"]),
                errors_text(&v["errors"]),
            );
        }
    }
    // what the load runs cost (CPU, database commits), in the table's order
    for (name, v) in &loads {
        if let Some(cost) = v.get("cost").filter(|c| c.is_object()) {
            println!("\n{name} cost");
            let mut lines = Vec::new();
            flatten("", cost, &mut lines);
            for (k, v) in lines {
                println!("  {k:<34} {v}");
            }
        }
    }
    for (name, v) in results {
        if v.get("throughput_rps").is_some() {
            continue;
        }
        println!("\n{name}");
        let mut lines = Vec::new();
        // timed pages (console) get a table of their own, after the other figures
        match v.as_object().filter(|m| m.contains_key("queries")) {
            Some(m) => {
                let rest: Map<String, Value> = m
                    .iter()
                    .filter(|(k, _)| *k != "queries")
                    .map(|(k, x)| (k.clone(), x.clone()))
                    .collect();
                flatten("", &Value::Object(rest), &mut lines);
            }
            None => flatten("", v, &mut lines),
        }
        for (k, v) in lines {
            println!("  {k:<34} {v}");
        }
        if let Some(q) = v.get("queries").and_then(Value::as_object) {
            print_queries(q);
        }
    }
    if let Some(t) = report.get("side_by_side") {
        print_side_by_side(t);
    }
    if let Some(r) = report["ratios"].as_object().filter(|r| !r.is_empty()) {
        let w = r.keys().map(String::len).max().unwrap_or(0).max(36);
        println!();
        for (k, v) in r {
            println!("{k:<w$} {v}");
        }
    }
}

/// Timed pages: latency per page (ms), the last answer's status, size and rows.
fn print_queries(q: &Map<String, Value>) {
    let w = q.keys().map(String::len).max().unwrap_or(0).max(5);
    println!(
        "\n  {:<w$} {:>8} {:>8} {:>8} {:>6} {:>8} {:>5}",
        "page", "p50 ms", "p99 ms", "max ms", "status", "bytes", "rows"
    );
    for (name, v) in q {
        let l = &v["latency_ms"];
        println!(
            "  {:<w$} {:>8.2} {:>8.2} {:>8.2} {:>6} {:>8} {:>5}",
            name,
            num(&l["p50"]),
            num(&l["p99"]),
            num(&l["max"]),
            v["status"].as_u64().unwrap_or(0),
            v["bytes"].as_u64().unwrap_or(0),
            v["rows"].as_u64().unwrap_or(0),
        );
    }
}

/// `compare`'s table: one row per figure, one column per configuration (`-`: not measured).
fn print_side_by_side(t: &Value) {
    let columns: Vec<&str> = t["columns"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows = t["rows"].as_array().map(Vec::as_slice).unwrap_or_default();
    let w = rows
        .iter()
        .filter_map(|r| r["figure"].as_str())
        .map(|f| f.chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    print!("\n{:<w$}", "figure");
    for c in &columns {
        print!(" {c:>12}");
    }
    println!();
    for r in rows {
        let figure = r["figure"].as_str().unwrap_or("");
        // (the width counts chars, not bytes: the labels hold µ and →)
        print!("{figure:<w$}");
        for c in &columns {
            print!(" {:>12}", cell(&r["values"][*c]));
        }
        println!();
    }
}

/// A figure for the side-by-side table: fewer decimals the larger it is.
fn cell(v: &Value) -> String {
    match v.as_f64() {
        None => "-".into(),
        Some(x) if v.is_u64() || v.is_i64() => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.3}"),
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn errors_text(v: &Value) -> String {
    match v.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" "),
        _ => "none".into(),
    }
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) if !m.is_empty() && !prefix.ends_with("errors") => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, out);
            }
        }
        Value::Object(_) => out.push((prefix.into(), errors_text(v))),
        other => out.push((prefix.into(), other.to_string())),
    }
}
