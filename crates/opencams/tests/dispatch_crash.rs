//! SIGKILL while 2,000 messages are being dispatched: after restarts every message reaches a
//! final state (or is in flight again), and the simulator — a process of its own, so it outlives
//! opencams — never received a message twice while its lease held.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const LEASE_MS: i64 = 2000;
const NUMBER: &str = "8613700000000";

struct Sim(std::process::Child, String);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_simulator(webhook_url: &str) -> Sim {
    let mut child = Command::new(BIN)
        .args([
            "simulator",
            "--listen",
            "127.0.0.1:0",
            "--app-secret",
            "crash-secret",
            "--webhook-url",
            webhook_url,
            "--number",
            &format!("1001:{NUMBER}:w1:sim-token:1000"),
            "--sim-sent-delay-ms",
            "50",
            "--sim-delivered-delay-ms",
            "100",
            "--sim-read-delay-ms",
            "150",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("opencams simulator listening on http://")
        .expect("simulator address")
        .to_string();
    std::thread::spawn(move || for _ in reader.lines() {});
    Sim(child, addr)
}

fn queue_len(s: &Server) -> i64 {
    let db = rusqlite::Connection::open(s.dir.join("opencams.db")).unwrap();
    db.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn sigkill_during_dispatch_sends_nothing_twice_while_leased() {
    let mut s = Server::start_with_env(&[
        ("OPENCAMS_DISPATCH_PAUSED", "1"),
        ("OPENCAMS_LEASE_MS", &LEASE_MS.to_string()),
    ]);
    let sim = start_simulator(&format!("http://{}/webhooks/whatsapp", s.addr));
    s.cli_json(&[
        "number",
        "add",
        "--account",
        "default",
        NUMBER,
        "--channel",
        "whatsapp-cloud",
        "--phone-number-id",
        "1001",
        "--waba-id",
        "w1",
        "--access-token",
        "sim-token",
        "--app-secret",
        "crash-secret",
        "--api-base",
        &format!("http://{}", sim.1),
        "--throughput",
        "1000",
    ]);
    // outside any window: accepted (CAMS behaviour), sent, then failed 131047 by the simulator
    s.cli_json(&[
        "account",
        "set",
        "default",
        "session.window=cams",
        "qps.SendChatappMessage=100000",
        "qps.api=100000",
    ]);
    std::thread::sleep(Duration::from_millis(2100));
    let mut ids = Vec::new();
    for batch in 0..20 {
        let calls: Vec<Value> = (0..100)
            .map(|i| json!({"op": "send_chatapp_message", "request": {"ChannelType": "whatsapp", "Type": "message", "MessageType": "text",
                "From": NUMBER, "To": format!("86139{:02}{:06}", batch, i), "Content": "{\"text\":\"queued\"}"}}))
            .collect();
        for r in s.sdk(Value::Array(calls)) {
            ids.push(
                r["body"]["MessageId"]
                    .as_str()
                    .expect("accepted")
                    .to_string(),
            );
        }
    }
    assert_eq!(ids.len(), 2000);
    assert_eq!(queue_len(&s), 2000);

    // dispatch for a moment, then SIGKILL mid-flight
    s.respawn_with_env(&[("OPENCAMS_DISPATCH_PAUSED", "0")]);
    let started = Instant::now();
    while queue_len(&s) > 1500 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    s.kill();
    let left_at_kill = queue_len(&s);
    assert!(left_at_kill > 0, "the kill came too late to test anything");

    // restart: the leased work is taken up again once the leases lapse
    s.respawn_with_env(&[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while queue_len(&s) > 0 {
        assert!(
            Instant::now() < deadline,
            "the queue never drained: {} left",
            queue_len(&s)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // every message is final, or handed to WhatsApp and awaiting its receipt
    let db = rusqlite::Connection::open(s.dir.join("opencams.db")).unwrap();
    let unsettled: i64 = db
        .query_row("SELECT COUNT(*) FROM messages WHERE direction = 'out' AND provider_id IS NULL AND status NOT IN ('failed', 'expired')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(unsettled, 0);

    // the simulator's log: a message sent twice only after its lease had lapsed
    let (_, _, body) = raw_http(&sim.1, "GET", "/_sim/sent", &[], b"");
    let mut sends: HashMap<String, Vec<i64>> = HashMap::new();
    for r in body["sent"].as_array().unwrap() {
        sends
            .entry(r["biz_opaque_callback_data"].as_str().unwrap().to_string())
            .or_default()
            .push(r["at_ms"].as_i64().unwrap());
    }
    for id in &ids {
        assert!(
            sends.contains_key(id),
            "message {id} never reached the simulator"
        );
    }
    let mut twice = 0;
    for (id, at) in &sends {
        if at.len() > 1 {
            twice += 1;
            let gap = at[1] - at[0];
            assert!(
                gap >= LEASE_MS - 100,
                "{id} was sent twice within its lease ({gap} ms apart)"
            );
        }
    }
    eprintln!(
        "{left_at_kill} queued at the kill; {twice} sent again after their lease lapsed (at-least-once)"
    );
}
