//! Three `opencams serve` nodes on one PostgreSQL database, driven round-robin — the issue's
//! multi-node test:
//! - the per-account SendChatappMessage limit holds across the cluster within ±10% (a bucket's
//!   burst of one second aside; set to
//!   20 calls/s here: the default 250/s needs more load than three debug-build nodes, the
//!   simulator and the load itself can offer on two cores; it is the same shared bucket);
//! - thousands of sends through the official Python SDK, round-robin over the nodes, while one
//!   node is SIGKILLed and restarted: every acknowledged message reaches `delivered`, and a
//!   message reaches the Cloud API (an external `opencams simulator`, which outlives the kill)
//!   twice only when the killed node had it in flight and its lease lapsed;
//! - the status callbacks of all of it reach one receiver one request at a time, each message's
//!   statuses in order, whichever node delivers them;
//! - a nonce used on one node is refused on another;
//! - a key disabled through node A is refused on node C within a second.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use opencams_store::postgres::testdb::TestDatabase;
use serde_json::{Value, json};

const NUMBER: &str = "8613700000000";
const SECRET: &str = "cluster-secret";
const LEASE_MS: i64 = 2000;
const USERS: usize = 200;
/// The account's SendChatappMessage limit, calls/s across the cluster.
const LIMIT: f64 = 20.0;
/// How long the limit phase runs, s.
const RUN_SECS: u64 = 4;
const MASTER: &str = "8a7b6c5d4e3f20118a7b6c5d4e3f20118a7b6c5d4e3f20118a7b6c5d4e3f2011";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn user(i: usize) -> String {
    format!("8613955{:04}", 1000 + i % USERS)
}

/// A callback receiver that records every record it is sent, in arrival order, and the most
/// requests it ever had in flight at once.
struct Receiver {
    addr: String,
    records: Arc<Mutex<Vec<Value>>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let records = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most_in_flight = Arc::new(AtomicUsize::new(0));
        let (r, f, m) = (records.clone(), in_flight.clone(), most_in_flight.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, f, m) = (r.clone(), f.clone(), m.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut len = 0usize;
                        loop {
                            let mut h = String::new();
                            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.trim_end();
                            if h.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = h.split_once(':')
                                && k.eq_ignore_ascii_case("content-length")
                            {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(now, Ordering::SeqCst);
                        let mut body = vec![0; len];
                        if reader.read_exact(&mut body).is_err() {
                            f.fetch_sub(1, Ordering::SeqCst);
                            return;
                        }
                        // a moment in flight, so that overlapping requests would show
                        std::thread::sleep(Duration::from_millis(2));
                        let batch: Vec<Value> = serde_json::from_slice(&body).unwrap();
                        r.lock().unwrap().extend(batch);
                        f.fetch_sub(1, Ordering::SeqCst);
                        let text = r#"{"code":0,"msg":"ok"}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
                            text.len()
                        );
                        if (&conn).write_all(resp.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Receiver {
            addr,
            records,
            in_flight,
            most_in_flight,
        }
    }
}

/// The one value of `sql` (with `params`) on the shared database.
fn query_one<T>(url: &str, sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> T
where
    T: for<'a> tokio_postgres::types::FromSql<'a>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.query_one(sql, params).await.unwrap().get(0)
    })
}

/// The callback pipeline's state, for a failure's message.
fn callback_state(url: &str) -> String {
    query_one(
        url,
        "SELECT format('cursor %s gap %s/%s, events %s, pending %s, endpoints %s', \
           c.event_id, c.gap_id, c.gap_xmax, (SELECT MAX(id) FROM events), \
           (SELECT COUNT(*) FROM callback_deliveries), \
           (SELECT string_agg(format('%s enabled=%s lease=%s/%s failures=%s due=%s err=%s', \
              url, enabled, lease_owner, lease_until, failures, due_at, last_error), '; ') \
            FROM callback_endpoints)) \
         FROM callback_cursor c",
        &[],
    )
}

/// A message's status and its events (id, status) as stored.
fn message_events(url: &str, id: &str) -> String {
    query_one(
        url,
        "SELECT format('%s; events %s; deliveries %s', \
           (SELECT status FROM messages WHERE id = $1), \
           (SELECT string_agg(e.id || ':' || (e.payload::json->>'Status'), ' ' ORDER BY e.id) \
            FROM events e WHERE e.message_id = $1), \
           (SELECT COUNT(*) FROM callback_deliveries d JOIN events e ON e.id = d.event_id \
            WHERE e.message_id = $1))",
        &[&id],
    )
}

/// A count from the shared database.
fn count(url: &str, sql: &str, ids: &[String]) -> i64 {
    if sql.contains("$1") {
        query_one(url, sql, &[&ids])
    } else {
        query_one(url, sql, &[])
    }
}

#[test]
fn three_nodes_share_limits_work_nonces_and_keys_and_survive_a_sigkill() {
    let Some(db) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::create())
    else {
        return;
    };
    let lease = LEASE_MS.to_string();
    let env = [
        ("OPENCAMS_DATABASE_URL", db.url.as_str()),
        ("OPENCAMS_MASTER_KEY", MASTER),
        ("OPENCAMS_LEASE_MS", lease.as_str()),
        ("OPENCAMS_RETRY_BASE_MS", "100"),
        ("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "true"),
        ("OPENCAMS_CALLBACK_TIMEOUT_MS", "1000"),
        ("OPENCAMS_CALLBACK_RETRY_BASE_MS", "100"),
        ("OPENCAMS_CALLBACK_RETRY_MAX_MS", "400"),
    ];
    let a = Server::start_with_env(&env);
    let sim = StandaloneSim::start(
        &format!("http://{}/webhooks/whatsapp", a.addr),
        SECRET,
        NUMBER,
    );
    sim.attach(&a, NUMBER, SECRET);
    let mut b = Server::join(&a, &env);
    let c = Server::join(&a, &env);
    let nodes = [&a, &b, &c];

    // the users write first, so that texts to them are inside their 24-hour window
    for i in 0..USERS {
        let body = json!({"phone_number_id": "1001", "from": user(i)}).to_string();
        let (status, _, _) = raw_http(
            &sim.addr,
            "POST",
            "/_sim/inbound",
            &[("content-type".into(), "application/json".into())],
            body.as_bytes(),
        );
        assert_eq!(status, 200);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&db.url, "SELECT COUNT(*) FROM windows", &[]) < USERS as i64 {
        assert!(
            Instant::now() < deadline,
            "the users' messages never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    a.cli_json(&[
        "account",
        "set",
        "default",
        &format!("qps.SendChatappMessage={LIMIT}"),
    ]);
    // the caches of numbers, windows and settings settle
    std::thread::sleep(Duration::from_millis(1100));

    // 1. the cluster-wide limit: eight threads send as fast as they can, round-robin over the
    // three nodes, for three seconds; after the first second (the bucket's burst) the accepted
    // rate is the limit's
    let stop = Arc::new(AtomicBool::new(false));
    let started = now_ms();
    let hammer: Vec<_> = (0..8)
        .map(|t| {
            let stop = stop.clone();
            let targets: Vec<(String, String, String)> = nodes
                .iter()
                .map(|n| (n.addr.clone(), n.ak.clone(), n.sk.clone()))
                .collect();
            std::thread::spawn(move || {
                let mut out: Vec<(i64, Option<String>)> = Vec::new();
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let (addr, ak, sk) = &targets[i % 3];
                    let content = json!({"text": "ping"}).to_string();
                    let to = user(i);
                    let (target, headers) = signed_v3(
                        addr,
                        ak,
                        sk,
                        "SendChatappMessage",
                        &[
                            ("ChannelType", "whatsapp"),
                            ("Type", "message"),
                            ("MessageType", "text"),
                            ("From", NUMBER),
                            ("To", &to),
                            ("Content", &content),
                        ],
                    );
                    let body = raw_http(addr, "POST", &target, &headers, b"").2;
                    let id = (body["Code"] == "OK")
                        .then(|| body["MessageId"].as_str().unwrap().to_string());
                    if id.is_none() {
                        assert_eq!(body["Code"], "System.LimitControl", "{body}");
                    }
                    out.push((now_ms(), id));
                    i += 8;
                }
                out
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(RUN_SECS));
    stop.store(true, Ordering::Relaxed);
    let ran = (now_ms() - started) as f64 / 1000.0;
    let answers: Vec<(i64, Option<String>)> =
        hammer.into_iter().flat_map(|h| h.join().unwrap()).collect();
    // a token bucket lets through at most its capacity (one second's worth) plus the rate over
    // the run; with the load well over the limit, at least the rate over the run
    let offered = answers.len() as f64 / ran;
    let accepted = answers.iter().filter(|(_, id)| id.is_some()).count() as f64;
    eprintln!(
        "limit phase: offered {offered:.0}/s, accepted {accepted} in {ran:.1} s (limit {LIMIT}/s)"
    );
    assert!(
        offered > 2.0 * LIMIT,
        "the load ({offered:.0}/s) is too light to test the limit"
    );
    assert!(
        accepted >= 0.9 * LIMIT * ran && accepted <= LIMIT + 1.1 * LIMIT * ran,
        "the cluster accepted {accepted} in {ran:.1} s against a limit of {LIMIT}/s"
    );
    let mut acked: Vec<String> = answers.into_iter().filter_map(|(_, id)| id).collect();

    // 2. thousands of sends through the official Python SDK, round-robin, one node killed and
    // restarted mid-load; their statuses are called back to one receiver
    let receiver = Receiver::start();
    let r = a.sdk1(
        "update_account_webhook",
        json!({"CustSpaceId": a.space, "StatusCallbackUrl": format!("http://{}/status", receiver.addr), "HttpFlag": "Y"}),
    );
    assert_eq!(r["body"]["Code"], "OK", "{r}");
    // the SDK load is not limited (the limit was the previous phase's)
    a.cli_json(&[
        "account",
        "set",
        "default",
        "qps.SendChatappMessage=100000",
        "qps.api=100000",
    ]);
    std::thread::sleep(Duration::from_millis(1100));
    let sends: Vec<Value> = (0..3000)
        .map(|i| json!({"From": NUMBER, "To": user(i), "Content": json!({"text": format!("n{i}")}).to_string()}))
        .collect();
    let spec = json!({
        "endpoints": nodes.iter().map(|n| n.addr.clone()).collect::<Vec<_>>(),
        "ak": a.ak, "sk": a.sk, "threads": 6, "sends": sends,
    });
    let before = count(
        &db.url,
        "SELECT COUNT(*) FROM messages WHERE direction = 'out'",
        &[],
    );
    let load = std::thread::spawn(move || run_python("cluster.py", &spec));
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(
        &db.url,
        "SELECT COUNT(*) FROM messages WHERE direction = 'out'",
        &[],
    ) < before + 600
    {
        assert!(Instant::now() < deadline, "the SDK load never got going");
        std::thread::sleep(Duration::from_millis(20));
    }
    b.kill();
    let killed_at = now_ms();
    std::thread::sleep(Duration::from_secs(1));
    b.respawn_with_env(&[]);
    let results = load.join().unwrap();
    let results = results.as_array().unwrap();
    let sdk_acked: Vec<String> = results
        .iter()
        .filter(|r| r["ok"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let mut refused: HashMap<String, usize> = HashMap::new();
    for r in results.iter().filter(|r| r["ok"] != true) {
        *refused.entry(r["code"].to_string()).or_default() += 1;
    }
    eprintln!(
        "SDK phase: {} acknowledged, refused {refused:?}",
        sdk_acked.len()
    );
    assert!(
        sdk_acked.len() >= 1500,
        "only {} sends were acknowledged",
        sdk_acked.len()
    );
    let sdk_count = sdk_acked.len();
    acked.extend(sdk_acked);

    // every acknowledged message is delivered
    let deadline = Instant::now() + Duration::from_secs(120);
    let delivered_sql =
        "SELECT COUNT(*) FROM messages WHERE id = ANY($1) AND status IN ('delivered', 'read')";
    loop {
        let n = count(&db.url, delivered_sql, &acked);
        if n == acked.len() as i64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged messages were never delivered",
            acked.len() as i64 - n,
            acked.len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // the callbacks: one request at a time, each message's reaching the user (Delivered, or Read
    // when the simulator's read webhook overtook its delivered one: statuses only move forward)
    // and its statuses arriving in order (a batch the killed node had in flight may come again:
    // at least once)
    let sdk_ids: std::collections::HashSet<String> = acked
        .iter()
        .skip(acked.len() - sdk_count)
        .cloned()
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let by_message = loop {
        let mut by_message: HashMap<String, Vec<String>> = HashMap::new();
        for rec in receiver.records.lock().unwrap().iter() {
            if let Some(id) = rec["MessageId"].as_str().filter(|id| sdk_ids.contains(*id)) {
                by_message
                    .entry(id.to_string())
                    .or_default()
                    .push(rec["Status"].as_str().unwrap_or("").to_string());
            }
        }
        let complete = by_message
            .values()
            .filter(|st| st.iter().any(|s| s == "Delivered" || s == "Read"))
            .count();
        if complete == sdk_ids.len() {
            break by_message;
        }
        if Instant::now() >= deadline {
            let missing: Vec<&String> = sdk_ids
                .iter()
                .filter(|id| {
                    !by_message
                        .get(*id)
                        .is_some_and(|st| st.iter().any(|s| s == "Delivered" || s == "Read"))
                })
                .take(3)
                .collect();
            let detail: Vec<String> = missing
                .iter()
                .map(|id| {
                    format!(
                        "{id}: got {:?}; stored {}",
                        by_message.get(*id),
                        message_events(&db.url, id)
                    )
                })
                .collect();
            panic!(
                "the receiver got the delivery of {complete} of {} messages; {}; {detail:#?}",
                sdk_ids.len(),
                callback_state(&db.url)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    // each status event is stored once: a repeat at the receiver is a batch delivered again
    // (the killed node sent it and died before recording that), never a second event
    let stored_twice = count(
        &db.url,
        "SELECT COUNT(*) FROM (SELECT message_id, payload::json->>'Status' FROM events \
         WHERE message_id = ANY($1) AND kind = 'status' GROUP BY 1, 2 HAVING COUNT(*) > 1) d",
        &acked,
    );
    assert_eq!(stored_twice, 0, "status events stored twice");
    // the first time each status arrives, in order (a batch that comes again may repeat a
    // Delivered after its Read)
    let rank = |s: &str| ["Sent", "Delivered", "Read"].iter().position(|x| *x == s);
    for (id, statuses) in &by_message {
        let mut last = 0;
        let mut seen = std::collections::HashSet::new();
        for st in statuses.iter().filter(|st| seen.insert(st.as_str())) {
            let r = rank(st).unwrap_or_else(|| panic!("{id}: unexpected status {st}"));
            assert!(r + 1 >= last, "{id}: statuses out of order: {statuses:?}");
            last = last.max(r + 1);
        }
    }
    assert_eq!(
        receiver.most_in_flight.load(Ordering::SeqCst),
        1,
        "the receiver had several callbacks in flight at once"
    );
    assert_eq!(receiver.in_flight.load(Ordering::SeqCst), 0);

    // the Cloud API saw a message twice only when the killed node had it in flight and its
    // lease had lapsed
    let (_, _, body) = raw_http(&sim.addr, "GET", "/_sim/sent", &[], b"");
    let mut sent: HashMap<String, Vec<i64>> = HashMap::new();
    for r in body["sent"].as_array().unwrap() {
        sent.entry(r["biz_opaque_callback_data"].as_str().unwrap().to_string())
            .or_default()
            .push(r["at_ms"].as_i64().unwrap());
    }
    let mut twice = 0;
    for (id, at) in &sent {
        assert!(at.len() <= 2, "{id} was sent {} times", at.len());
        if at.len() == 2 {
            twice += 1;
            assert!(
                at[0] <= killed_at + 500 && at[1] - at[0] >= LEASE_MS / 2,
                "{id} was sent twice outside the killed node's in-flight window: {at:?} (killed at {killed_at})"
            );
        }
    }
    eprintln!("{twice} messages were sent again after the killed node's lease lapsed");

    // a nonce used on one node is refused on another
    let (target, headers) = signed_v3(&a.addr, &a.ak, &a.sk, "QueryChatappPhoneNumbers", &[]);
    assert_eq!(a.raw("POST", &target, &headers, b"").2["Code"], "OK");
    let replay = c.raw("POST", &target, &headers, b"").2;
    assert_eq!(replay["Code"], "SignatureNonceUsed", "{replay}");

    // a key disabled through node A is refused on node C within a second
    let k = a.cli_json(&["key", "create", "--account", "default"]);
    let (kid, secret) = (
        k["AccessKeyId"].as_str().unwrap().to_string(),
        k["AccessKeySecret"].as_str().unwrap().to_string(),
    );
    let call = |s: &Server| {
        let (target, headers) = signed_v3(&s.addr, &kid, &secret, "QueryChatappPhoneNumbers", &[]);
        s.raw("POST", &target, &headers, b"").2
    };
    assert_eq!(call(&c)["Code"], "OK");
    a.cli_json(&["key", "disable", &kid]);
    let disabled = Instant::now();
    while call(&c)["Code"] != "InvalidAccessKeyId.Inactive" {
        assert!(
            disabled.elapsed() < Duration::from_secs(1),
            "node C still accepts a key disabled {:?} ago",
            disabled.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
