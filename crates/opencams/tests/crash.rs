//! Durability: an answered send survives SIGKILL; an unanswered one is either whole or absent.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[test]
fn sigkill_mid_load_loses_no_answered_message_and_half_stores_nothing() {
    let mut s = Server::start();
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.SendChatappMessage=1000000",
        "qps.api=1000000",
    ]);
    s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613900000001",
        "--to",
        "8613600000000",
    ]);
    std::thread::sleep(Duration::from_millis(2100)); // settings cache
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..16 {
        let (addr, ak, sk) = (s.addr.clone(), s.ak.clone(), s.sk.clone());
        let (answered, stop) = (answered.clone(), stop.clone());
        clients.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let task = format!("c{c}-{i}");
                let content = format!("{{\"text\":\"crash test {task}\"}}");
                let (target, headers) = signed_v3(
                    &addr,
                    &ak,
                    &sk,
                    "SendChatappMessage",
                    &[
                        ("ChannelType", "whatsapp"),
                        ("Type", "message"),
                        ("MessageType", "text"),
                        ("From", "8613600000000"),
                        ("To", "8613900000001"),
                        ("Content", &content),
                        ("TaskId", &task),
                    ],
                );
                // a killed server answers nothing (status 0): that request is unanswered
                let (status, _, body) =
                    std::panic::catch_unwind(|| raw_http(&addr, "POST", &target, &headers, b""))
                        .unwrap_or((0, vec![], serde_json::Value::Null));
                if status == 200 {
                    answered
                        .lock()
                        .unwrap()
                        .push(body["MessageId"].as_str().unwrap().to_string());
                } else if status == 0 {
                    break;
                }
                i += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    s.kill(); // SIGKILL: no chance to flush anything
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        let _ = c.join();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 100,
        "too little load to mean anything: {}",
        answered.len()
    );

    // the database as the crash left it (WAL replayed by SQLite on open)
    let db = rusqlite::Connection::open(s.dir.join("opencams.db")).unwrap();
    let stored: HashSet<String> = {
        let mut stmt = db
            .prepare("SELECT id FROM messages WHERE direction = 'out'")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    for id in &answered {
        assert!(stored.contains(id), "answered MessageId {id} was lost");
    }
    // whole or absent: every stored outbound message has its full body, and is queued, or was
    // handed to WhatsApp (it has a wamid), or is settled
    let orphans: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM messages m LEFT JOIN queue q ON q.message_id = m.id \
             WHERE m.direction = 'out' AND (m.body NOT LIKE '%crash test%' \
               OR (q.message_id IS NULL AND m.provider_id IS NULL AND m.status = 'accepted'))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "half-stored messages found");
    let dangling: i64 = db
        .query_row("SELECT COUNT(*) FROM queue q LEFT JOIN messages m ON m.id = q.message_id WHERE m.id IS NULL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dangling, 0);
    drop(db);

    // and the restarted server serves on
    s.restart();
    let n = s.cli_json(&["message", "count"])["Messages"]
        .as_u64()
        .unwrap();
    assert!(n as usize >= answered.len());
    eprintln!(
        "answered {} sends before SIGKILL; {} stored",
        answered.len(),
        stored.len()
    );
}
