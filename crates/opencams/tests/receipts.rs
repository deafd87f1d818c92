//! Receipts end to end: webhook destinations set through the official SDK, callbacks pushed from
//! the durable outbox to real HTTP receivers on 127.0.0.1 (signed, batched, in order, retried,
//! disabled and re-enabled, replayed), the private-address guard, and ListChatappMessage.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const FROM: &str = "8613600000000";

/// A request a receiver got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    timestamp: String,
    signature: String,
    body: String,
    /// The status it was answered with (0: never answered).
    answered: u16,
}

/// A callback receiver: answers every POST with `status` (0 = never answers).
struct Receiver {
    addr: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let status = Arc::new(AtomicU16::new(status));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (st, g) = (status.clone(), got.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (st, g) = (st.clone(), g.clone());
                std::thread::spawn(move || serve(conn, &st, &g));
            }
        });
        Receiver { addr, status, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Records of requests answered 2xx, in arrival order.
    fn accepted(&self) -> Vec<Value> {
        self.all()
            .iter()
            .filter(|g| (200..300).contains(&g.answered))
            .flat_map(|g| {
                serde_json::from_str::<Vec<Value>>(&g.body)
                    .unwrap_or_else(|e| panic!("body is not a JSON array ({e}): {}", g.body))
            })
            .collect()
    }

    fn wait(&self, what: &str, secs: u64, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let recs = self.accepted();
            if pred(&recs) {
                return recs;
            }
            assert!(Instant::now() < deadline, "never got {what}; got {recs:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(conn: TcpStream, status: &AtomicU16, got: &Mutex<Vec<Got>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let (mut len, mut ts, mut sig) = (0usize, String::new(), String::new());
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "x-opencams-timestamp" => ts = v.trim().to_string(),
                    "x-opencams-signature" => sig = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let answer = status.load(Ordering::SeqCst);
        got.lock().unwrap().push(Got {
            path,
            timestamp: ts,
            signature: sig,
            body: String::from_utf8_lossy(&body).into_owned(),
            answered: answer,
        });
        if answer == 0 {
            std::thread::sleep(Duration::from_secs(5));
            return;
        }
        let text = r#"{"code":0,"msg":"ok"}"#;
        let resp = format!(
            "HTTP/1.1 {answer} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{text}",
            text.len()
        );
        let mut w = &conn;
        if w.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

/// A server with fast simulator timings, fast callback retries and private callbacks allowed.
fn receipts_server(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "50"),
        ("OPENCAMS_SIM_SENT_DELAY_MS", "30"),
        ("OPENCAMS_SIM_DELIVERED_DELAY_MS", "100"),
        ("OPENCAMS_SIM_READ_DELAY_MS", "200"),
        ("OPENCAMS_SIM_JITTER_MS", "10"),
        ("OPENCAMS_RETRY_BASE_MS", "100"),
        ("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "true"),
        ("OPENCAMS_CALLBACK_RETRY_BASE_MS", "100"),
        ("OPENCAMS_CALLBACK_RETRY_MAX_MS", "400"),
    ];
    env.extend_from_slice(extra);
    let s = Server::start_with_env(&env);
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.SendChatappMessage=100000",
        "qps.CreateChatappTemplate=1000",
        "qps.api=100000",
    ]);
    s
}

fn template_to(code: &str, to: &str, task: &str) -> Value {
    json!({"ChannelType": "whatsapp", "Type": "template", "From": FROM, "To": to, "TemplateCode": code, "Language": "en_US",
           "TemplateParams": {"name": "Ada", "order": "A-1"}, "TaskId": task, "Tag": "tag-9", "TrackingData": "trk-9"})
}

fn send(s: &Server, req: Value) -> String {
    let r = s.sdk1("send_chatapp_message", req);
    assert_eq!(r["ok"], true, "{r}");
    r["body"]["MessageId"].as_str().unwrap().to_string()
}

fn signing_secret(s: &Server) -> String {
    s.cli_json(&["account", "show", "default"])["CallbackSigningSecret"]
        .as_str()
        .unwrap()
        .to_string()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Every request carries a valid signature over its timestamp and body.
fn assert_signed(r: &Receiver, secret: &str) {
    for g in r.all() {
        opencams_protocol::callback_sign::verify(
            &[secret],
            &g.timestamp,
            &g.signature,
            g.body.as_bytes(),
            now_secs(),
            300,
        )
        .unwrap_or_else(|e| panic!("bad signature ({e}) on {g:?}"));
        assert!(
            opencams_protocol::callback_sign::verify(
                &["not-the-secret"],
                &g.timestamp,
                &g.signature,
                g.body.as_bytes(),
                now_secs(),
                300
            )
            .is_err()
        );
    }
}

/// The statuses of one message, in arrival order.
fn statuses_of(recs: &[Value], id: &str) -> Vec<String> {
    recs.iter()
        .filter(|r| r["MessageId"] == id && r.get("Status").is_some())
        .map(|r| r["Status"].as_str().unwrap().to_string())
        .collect()
}

fn ok(r: &Value) {
    assert_eq!(r["ok"], true, "{r}");
}

fn endpoint_status(s: &Server, url: &str) -> Value {
    let st = s.cli_json(&["webhook", "status"]);
    st["Endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Url"] == url)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn statuses_inbound_and_audits_arrive_signed_and_in_order() {
    let s = receipts_server(&[]);
    let status_rx = Receiver::start(200);
    let up_rx = Receiver::start(200);
    ok(&s.sdk1(
        "update_account_webhook",
        json!({"CustSpaceId": s.space, "StatusCallbackUrl": status_rx.url("/status"), "HttpFlag": "Y", "QueueFlag": "Y"}),
    ));
    ok(&s.sdk1(
        "update_phone_webhook",
        json!({"CustSpaceId": s.space, "PhoneNumber": FROM, "UpCallbackUrl": up_rx.url("/up"), "HttpFlag": "Y"}),
    ));
    let q = s.sdk1(
        "query_chatapp_phone_numbers",
        json!({"CustSpaceId": s.space}),
    );
    let n = &q["body"]["PhoneNumbers"][0];
    assert_eq!(
        n["StatusCallbackUrl"],
        status_rx.url("/status").as_str(),
        "{q}"
    );
    assert_eq!(n["UpCallbackUrl"], up_rx.url("/up").as_str(), "{q}");
    assert!(
        n["StatusQueue"]
            .as_str()
            .unwrap()
            .starts_with("Alicom-Queue-"),
        "{q}"
    );
    assert!(
        n["StatusQueue"]
            .as_str()
            .unwrap()
            .ends_with("-ChatAppStatus"),
        "{q}"
    );
    assert!(
        n["UpQueue"].as_str().unwrap().ends_with("-ChatAppInbound"),
        "{q}"
    );

    // template review results go to the space's status URL
    let code = approved_template(&s, "order_update");
    status_rx.wait("the audit result", 15, |recs| {
        recs.iter()
            .any(|r| r["TemplateCode"] == code.as_str() && r["AuditStatus"] == "pass")
    });

    // every status of a message, exactly once and in order, with the caller's fields
    let id = send(&s, template_to(&code, "8613900000000", "task-1"));
    let failed = send(&s, template_to(&code, "8613900000002", "task-2"));
    let recs = status_rx.wait("Sent, Delivered, Read", 30, |recs| {
        statuses_of(recs, &id).len() >= 3
            && statuses_of(recs, &failed).contains(&"Failed".to_string())
    });
    std::thread::sleep(Duration::from_millis(500)); // nothing more may follow
    let recs = {
        let later = status_rx.accepted();
        assert_eq!(later.len(), recs.len(), "no duplicates or extra records");
        later
    };
    assert_eq!(statuses_of(&recs, &id), ["Sent", "Delivered", "Read"]);
    let first = recs.iter().find(|r| r["MessageId"] == id.as_str()).unwrap();
    assert_eq!(first["TaskId"], "task-1");
    assert_eq!(first["Tag"], "tag-9");
    assert_eq!(first["TrackingData"], "trk-9");
    assert_eq!(first["From"], FROM);
    assert_eq!(first["To"], "8613900000000");
    assert_eq!(first["TemplateCode"], code.as_str());
    let f = recs
        .iter()
        .find(|r| r["MessageId"] == failed.as_str() && r["Status"] == "Failed")
        .unwrap();
    assert_eq!(f["ErrorCode"], "131026", "{f}");
    assert!(status_rx.all().iter().all(|g| g.path == "/status"));

    // inbound messages go to the number's UpCallbackUrl
    s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613900000077",
        "--to",
        FROM,
        "--text",
        "hi there",
    ]);
    let up = up_rx.wait("the inbound message", 15, |recs| !recs.is_empty());
    assert_eq!(up[0]["From"], "8613900000077");
    assert_eq!(up[0]["To"], FROM);
    assert_eq!(up[0]["Type"], "TEXT");
    assert_eq!(up[0]["Message"], "hi there");
    assert_eq!(up[0]["CustSpaceId"], s.space.as_str());
    assert!(
        status_rx
            .accepted()
            .iter()
            .all(|r| r.get("NoticeType").is_none())
    );

    let secret = signing_secret(&s);
    assert!(secret.len() >= 32, "{secret}");
    assert_signed(&status_rx, &secret);
    assert_signed(&up_rx, &secret);
    assert_eq!(signing_secret(&s), secret, "the secret is stable");
}

#[test]
fn a_failing_receiver_gets_everything_later_in_order_across_a_restart() {
    let mut s = receipts_server(&[]);
    let rx = Receiver::start(500);
    let code = approved_template(&s, "order_update");
    ok(&s.sdk1(
        "update_account_webhook",
        json!({"StatusCallbackUrl": rx.url("/cb")}),
    ));
    let ids: Vec<String> = (0..3)
        .map(|i| send(&s, template_to(&code, "8613900000000", &format!("t{i}"))))
        .collect();
    for id in &ids {
        wait_message(&s, id, "read", |m| m["Status"] == "read");
    }
    // the receiver was tried and refused; nothing is lost across a restart
    let deadline = Instant::now() + Duration::from_secs(10);
    while rx.all().len() < 2 {
        assert!(Instant::now() < deadline, "no attempts were made");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(rx.accepted().is_empty());
    let ep = loop {
        // the last statuses may still be on their way from the event log to the outbox
        let ep = endpoint_status(&s, &rx.url("/cb"));
        if ep["Pending"].as_i64().unwrap() >= 9 {
            break ep;
        }
        assert!(Instant::now() < deadline, "not all statuses pending: {ep}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ep["Enabled"], true, "{ep}");
    assert_eq!(ep["LastError"], "HTTP 500", "{ep}");
    s.restart();
    rx.set(200);
    let recs = rx.wait("all 9 statuses", 30, |recs| {
        ids.iter().all(|id| statuses_of(recs, id).len() >= 3)
    });
    for id in &ids {
        assert_eq!(
            statuses_of(&recs, id),
            ["Sent", "Delivered", "Read"],
            "{id}"
        );
    }
    // batches: fewer requests than records once the receiver is back
    let ok_posts = rx.all().iter().filter(|g| g.answered == 200).count();
    assert!(
        ok_posts < recs.len(),
        "{ok_posts} posts for {} records",
        recs.len()
    );
    assert_signed(&rx, &signing_secret(&s));
    let ep = endpoint_status(&s, &rx.url("/cb"));
    assert_eq!(ep["Pending"], 0, "{ep}");
    assert_eq!(ep["ConsecutiveFailures"], 0, "{ep}");
}

#[test]
fn a_silent_receiver_is_disabled_then_catches_up_after_enable_and_replay() {
    let s = receipts_server(&[
        ("OPENCAMS_CALLBACK_TIMEOUT_MS", "300"),
        ("OPENCAMS_CALLBACK_DISABLE_AFTER", "3"),
        ("OPENCAMS_CALLBACK_DISABLE_SPAN_MS", "500"),
    ]);
    let rx = Receiver::start(0);
    let url = rx.url("/silent");
    ok(&s.sdk1("update_account_webhook", json!({"StatusCallbackUrl": url})));
    let code = approved_template(&s, "order_update");
    let started_ms = now_secs() * 1000 - 1000;
    let id = send(&s, template_to(&code, "8613900000000", "t"));
    wait_message(&s, &id, "read", |m| m["Status"] == "read");
    let deadline = Instant::now() + Duration::from_secs(20);
    let ep = loop {
        let ep = endpoint_status(&s, &url);
        if ep["Enabled"] == false {
            break ep;
        }
        assert!(Instant::now() < deadline, "never disabled: {ep}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let reason = ep["DisabledReason"].as_str().unwrap();
    assert!(reason.contains("consecutive failed attempts"), "{reason}");
    assert!(ep["ConsecutiveFailures"].as_i64().unwrap() >= 3, "{ep}");
    let (_, human, _) = s.cli(&["webhook", "status"]);
    assert!(
        human.contains("DISABLED") && human.contains(&url),
        "{human}"
    );

    // disabled: no more attempts, even once the receiver is back
    rx.set(200);
    let tries = rx.all().len();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(rx.all().len(), tries, "a disabled endpoint is not tried");
    let r = s.cli_json(&["webhook", "enable", &url]);
    assert_eq!(r["Enabled"], 1, "{r}");
    let recs = rx.wait("the pending statuses", 15, |recs| {
        statuses_of(recs, &id).len() >= 3
    });
    assert_eq!(statuses_of(&recs, &id), ["Sent", "Delivered", "Read"]);
    assert_eq!(endpoint_status(&s, &url)["Enabled"], true);

    // replay sends them again
    let r = s.cli_json(&[
        "webhook",
        "replay",
        "--since",
        &started_ms.to_string(),
        "--account",
        "default",
    ]);
    assert!(r["Enqueued"].as_u64().unwrap() >= 3, "{r}");
    let recs = rx.wait("the replayed statuses", 15, |recs| {
        statuses_of(recs, &id).len() >= 6
    });
    assert_eq!(
        statuses_of(&recs, &id),
        ["Sent", "Delivered", "Read", "Sent", "Delivered", "Read"]
    );
    assert_signed(&rx, &signing_secret(&s));
    let (code_, _, err) = s.cli(&["webhook", "enable", "http://nowhere.example/x"]);
    assert_ne!(code_, 0);
    assert!(err.contains("no callback endpoint"), "{err}");
}

#[test]
fn private_addresses_are_refused_without_the_allow_flag() {
    let mut s = receipts_server(&[("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "false")]);
    let rx = Receiver::start(200);
    for url in [
        rx.url("/x"),
        "http://localhost:9/x".to_string(),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://[::1]/x".to_string(),
    ] {
        let r = s.sdk1("update_account_webhook", json!({"StatusCallbackUrl": url}));
        assert_sdk_error(&r, "InvalidParameter", 400);
        let msg = r["data"]["Message"].as_str().unwrap();
        assert!(
            msg.contains("StatusCallbackUrl") && msg.contains("private"),
            "{msg}"
        );
    }
    // the other input checks name their parameter
    let bad = |op: &str, req: Value, code: &str, needle: &str| {
        let r = s.sdk1(op, req);
        assert_sdk_error(&r, code, 400);
        let msg = r["data"]["Message"].as_str().unwrap_or("");
        assert!(msg.contains(needle), "{msg}");
    };
    bad(
        "update_account_webhook",
        json!({"StatusCallbackUrl": "ftp://example.com/x"}),
        "InvalidParameter",
        "StatusCallbackUrl",
    );
    bad(
        "update_account_webhook",
        json!({"StatusCallbackUrl": format!("https://example.com/{}", "a".repeat(1100))}),
        "InvalidParameter",
        "StatusCallbackUrl",
    );
    bad(
        "update_account_webhook",
        json!({"HttpFlag": "maybe"}),
        "InvalidParameter",
        "HttpFlag",
    );
    bad(
        "update_account_webhook",
        json!({"QueueFlag": "1"}),
        "InvalidParameter",
        "QueueFlag",
    );
    bad(
        "update_account_webhook",
        json!({"CustSpaceId": "cams-nothere"}),
        "Unknown.ResourceOwnerId",
        "CustSpaceId",
    );
    bad(
        "update_phone_webhook",
        json!({"UpCallbackUrl": "https://example.com/up"}),
        "MissingPhoneNumber",
        "PhoneNumber",
    );
    bad(
        "update_phone_webhook",
        json!({"PhoneNumber": "8613000000009", "UpCallbackUrl": "https://example.com/up"}),
        "InvalidParameter.PhoneNumberError",
        "PhoneNumber",
    );
    bad(
        "update_phone_webhook",
        json!({"PhoneNumber": FROM, "UpCallbackUrl": "gopher://example.com/"}),
        "InvalidParameter",
        "UpCallbackUrl",
    );
    // a number of another account is not ours to configure
    s.cli_json(&["account", "create", "other"]);
    s.cli_json(&["number", "add", "--account", "other", "8613700000001"]);
    bad(
        "update_phone_webhook",
        json!({"PhoneNumber": "8613700000001", "UpCallbackUrl": "https://example.com/up"}),
        "Unknown.ResourceOwnerId",
        "PhoneNumber",
    );
    ok(&s.sdk1(
        "update_account_webhook",
        json!({"StatusCallbackUrl": "https://example.com/cb", "HttpFlag": "N"}),
    ));

    // checked again at delivery time: a URL configured while allowed is refused once not
    s.respawn_with_env(&[("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "true")]);
    ok(&s.sdk1(
        "update_account_webhook",
        json!({"StatusCallbackUrl": rx.url("/x"), "HttpFlag": "Y"}),
    ));
    s.respawn_with_env(&[("OPENCAMS_ALLOW_PRIVATE_CALLBACKS", "false")]);
    let code = approved_template(&s, "order_update");
    let id = send(&s, template_to(&code, "8613900000000", "t"));
    wait_message(&s, &id, "read", |m| m["Status"] == "read");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ep = endpoint_status(&s, &rx.url("/x"));
        if ep["LastError"]
            .as_str()
            .is_some_and(|e| e.contains("private"))
        {
            break;
        }
        assert!(Instant::now() < deadline, "delivery was not refused: {ep}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rx.all().is_empty(), "nothing reached the private address");
}

fn list(s: &Server, extra: Value) -> Value {
    let mut req = json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "CustSpaceId": s.space,
                         "Page": {"Index": 1, "Size": 50}});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    let r = s.sdk1("list_chatapp_message", req);
    assert_eq!(r["ok"], true, "{r}");
    r["body"]["Data"].clone()
}

fn ids(data: &Value) -> Vec<String> {
    data.as_array()
        .unwrap()
        .iter()
        .map(|d| d["MessageId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_chatapp_message_filters_and_pages_through_the_sdk() {
    let s = receipts_server(&[]);
    let rx = Receiver::start(200);
    ok(&s.sdk1(
        "update_account_webhook",
        json!({"CustSpaceId": s.space, "StatusCallbackUrl": rx.url("/s")}),
    ));
    ok(&s.sdk1(
        "update_phone_webhook",
        json!({"CustSpaceId": s.space, "PhoneNumber": FROM, "StatusCallbackUrl": rx.url("/n")}),
    ));
    let code = approved_template(&s, "order_update");
    let t0 = now_secs() * 1000 - 1000;
    let read: Vec<String> = (0..3)
        .map(|i| send(&s, template_to(&code, "8613900000000", &format!("r{i}"))))
        .collect();
    let failed = send(&s, template_to(&code, "8613900000002", "f"));
    let mass = s.sdk1(
        "send_chatapp_mass_message",
        json!({"ChannelType": "whatsapp", "From": FROM, "TemplateCode": code, "Language": "en_US",
               "SenderList": [{"To": "8613900000010", "TemplateParams": {"name": "A", "order": "1"}},
                              {"To": "8613900000011", "TemplateParams": {"name": "B", "order": "2"}}]}),
    );
    ok(&mass);
    let group = mass["body"]["GroupMessageId"].as_str().unwrap().to_string();
    let inbound = s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613900000077",
        "--to",
        FROM,
        "--text",
        "hello",
    ]);
    assert!(inbound["MessageId"].is_string());
    for id in &read {
        wait_message(&s, id, "read", |m| m["Status"] == "read");
    }
    wait_message(&s, &failed, "failed", |m| m["Status"] == "failed");
    // the number's own URL overrides the space's
    rx.wait("statuses at the number's URL", 15, |r| {
        statuses_of(r, &failed).contains(&"Failed".to_string())
    });
    for g in rx.all() {
        let recs: Vec<Value> = serde_json::from_str(&g.body).unwrap();
        for r in recs {
            // statuses at the number's URL, template reviews at the space's
            // (inbound messages too: the number has no UpCallbackUrl, the space's URL applies)
            let to_space = r.get("AuditStatus").is_some() || r.get("NoticeType").is_some();
            let want = if to_space { "/s" } else { "/n" };
            assert_eq!(g.path, want, "{r}");
        }
    }

    let all = list(&s, json!({}));
    assert_eq!(all.as_array().unwrap().len(), 7, "{all}");
    let d = all
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["MessageId"] == read[0].as_str())
        .unwrap();
    for (k, v) in d.as_object().unwrap() {
        assert!(v.is_string(), "{k} is not a string: {d}");
    }
    assert_eq!(d["EventAction"], "DOWN");
    assert_eq!(d["MessageStatus"], "Read");
    assert_eq!(d["ClientReadStatus"], "Read");
    assert_eq!(d["ClientAcceptStatusName"], "Accepted");
    assert_eq!(d["TemplateCode"], code.as_str());
    assert_eq!(d["UserNumber"], "8613900000000");
    assert_eq!(d["BusinessNumber"], FROM);
    assert_eq!(d["FailBackFlag"], "N");
    assert!(
        d["UniqueMessageId"].as_str().unwrap().starts_with("wamid."),
        "{d}"
    );
    assert_eq!(d["SendTime"].as_str().unwrap().len(), 19, "{d}");

    // paging: newest first, pages disjoint and complete
    let mut paged = Vec::new();
    for index in 1..=4 {
        let r = s.sdk1(
            "list_chatapp_message",
            json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "CustSpaceId": s.space, "Page": {"Index": index, "Size": 2}}),
        );
        let page = ids(&r["body"]["Data"]);
        assert!(page.len() <= 2);
        paged.extend(page);
    }
    assert_eq!(paged, ids(&all));

    let up = list(&s, json!({"EventAction": "UP"}));
    assert_eq!(up.as_array().unwrap().len(), 1, "{up}");
    assert_eq!(up[0]["EventAction"], "UP");
    assert_eq!(up[0]["Message"], "hello");
    assert_eq!(up[0]["UserNumber"], "8613900000077");
    assert_eq!(
        list(&s, json!({"EventAction": "DOWN"}))
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        ids(&list(&s, json!({"UserNumber": "8613900000002"}))),
        std::slice::from_ref(&failed)
    );
    assert_eq!(
        list(&s, json!({"TemplateCode": code}))
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        list(&s, json!({"GroupMessageId": group}))
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let f = list(&s, json!({"MessageStatus": "Failed"}));
    assert_eq!(ids(&f), std::slice::from_ref(&failed));
    assert!(
        f[0]["FailReason"].as_str().unwrap().starts_with("131026"),
        "{f}"
    );
    let accepted = ids(&list(
        &s,
        json!({"ClientAcceptStatus": "Accepted", "UserNumber": "8613900000000"}),
    ));
    assert_eq!(accepted.len(), 3);
    assert!(read.iter().all(|id| accepted.contains(id)));
    assert!(
        list(
            &s,
            json!({"MessageStatus": "Read", "ClientAcceptStatus": "NotAccepted"})
        )
        .as_array()
        .unwrap()
        .is_empty()
    );

    // time windows: epoch ms and the string form (UTC)
    let later = now_secs() * 1000 + 60_000;
    assert_eq!(
        list(&s, json!({"StartTime": t0, "EndTime": later}))
            .as_array()
            .unwrap()
            .len(),
        7
    );
    assert!(
        list(&s, json!({"StartTime": later}))
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        list(&s, json!({"EndTime": t0}))
            .as_array()
            .unwrap()
            .is_empty()
    );
    let fmt = |ms: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{}", ms / 1000), "+%Y-%m-%d %H:%M:%S"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(
        list(
            &s,
            json!({"StartTimeStr": fmt(t0), "EndTimeStr": fmt(later)})
        )
        .as_array()
        .unwrap()
        .len(),
        7
    );
    assert!(
        list(&s, json!({"StartTimeStr": fmt(later)}))
            .as_array()
            .unwrap()
            .is_empty()
    );

    // bad input names the parameter
    let bad = |req: Value, code: &str| {
        let r = s.sdk1("list_chatapp_message", req);
        assert_sdk_error(&r, code, 400);
        r["data"]["Message"].as_str().unwrap_or("").to_string()
    };
    bad(json!({"BusinessNumber": FROM}), "MissingChannelType");
    bad(json!({"ChannelType": "whatsapp"}), "MissingBusinessNumber");
    bad(
        json!({"ChannelType": "telex", "BusinessNumber": FROM}),
        "InvalidParameter.ChannelTypeNotSupport",
    );
    bad(
        json!({"ChannelType": "whatsapp", "BusinessNumber": "8613000000009"}),
        "InvalidParameter.PhoneNumberError",
    );
    assert!(
        bad(
            json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "EventAction": "SIDEWAYS"}),
            "InvalidParameter"
        )
        .contains("EventAction")
    );
    assert!(
        bad(
            json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "StartTimeStr": "yesterday"}),
            "InvalidParameter"
        )
        .contains("StartTimeStr")
    );
    assert!(
        bad(
            json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "MessageStatus": "Lost"}),
            "InvalidParameter"
        )
        .contains("MessageStatus")
    );
    bad(
        json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "Page": {"Index": 0, "Size": 10}}),
        "InvalidParameter.PageInvalid",
    );
}
