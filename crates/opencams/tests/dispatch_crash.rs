//! SIGKILL while 2,000 messages are being dispatched: after restarts every message reaches a
//! final state (or is in flight again), and the simulator — a process of its own, so it outlives
//! opencams — never received a message twice while its lease held.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const LEASE_MS: i64 = 2000;
const NUMBER: &str = "8613700000000";

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
    let sim = StandaloneSim::start(
        &format!("http://{}/webhooks/whatsapp", s.addr),
        "crash-secret",
        NUMBER,
    );
    sim.attach(&s, NUMBER, "crash-secret");
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
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
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
    let (_, _, body) = raw_http(&sim.addr, "GET", "/_sim/sent", &[], b"");
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
    // a message sent twice was sent first by the killed process and again by the restarted one
    // once its lease had lapsed — never twice by a live lease holder
    let mut twice = 0;
    for (id, at) in &sends {
        assert!(at.len() <= 2, "{id} was sent {} times", at.len());
        if at.len() == 2 {
            twice += 1;
            // the simulator stamps a request when it reads it: one the killed process had already
            // written can be read a moment after the kill
            assert!(
                at[0] <= killed_at + 500 && at[1] > killed_at + 500,
                "{id} was sent twice by the same process: {at:?} (killed at {killed_at})"
            );
            assert!(
                at[1] - at[0] >= LEASE_MS / 2,
                "{id} was sent again too soon: {at:?}"
            );
        }
    }
    eprintln!(
        "{left_at_kill} queued at the kill; {twice} sent again after their lease lapsed (at-least-once)"
    );
}
