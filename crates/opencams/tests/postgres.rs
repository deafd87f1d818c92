//! The server on PostgreSQL: one node end to end (send, review, deliver, admin commands, nonces
//! across restarts), the move from SQLite (`opencams copy`), and two nodes sharing one database
//! (a nonce used on one is refused on the other; a key disabled on one is refused on the other
//! within a second; failed console sign-ins on one lock the email on the other), and a node answering `ServiceUnavailable` while its database is away. Each
//! test gets a fresh database of its own on the server of
//! `OPENCAMS_TEST_DATABASE_URL` (default 127.0.0.1:5432), dropped after; without a server they
//! are skipped with a message, unless `CI`/`OPENCAMS_REQUIRE_POSTGRES` is set.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use opencams_store::postgres::testdb::TestDatabase;
use serde_json::json;

/// A master key every node of a test shares.
const MASTER: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn database() -> Option<TestDatabase> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(TestDatabase::create())
}

fn send_text(s: &Server, to: &str, text: &str) -> String {
    let r = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "text",
               "From": "8613600000000", "To": to, "CustSpaceId": s.space,
               "Content": json!({"text": text}).to_string()}),
    );
    assert_eq!(r["body"]["Code"], "OK", "{r}");
    r["body"]["MessageId"].as_str().unwrap().to_string()
}

fn send_template(s: &Server, code: &str, to: &str) -> String {
    let r = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "template", "TemplateCode": code,
               "Language": "en_US", "From": "8613600000000", "To": to, "CustSpaceId": s.space,
               "TemplateParams": {"name": "Ada", "order": "A-7"}}),
    );
    assert_eq!(r["body"]["Code"], "OK", "{r}");
    r["body"]["MessageId"].as_str().unwrap().to_string()
}

fn delivered(s: &Server, id: &str) {
    wait_message(s, id, "delivered", |m| {
        m["Status"] == "delivered" || m["Status"] == "read"
    });
}

#[test]
fn one_node_on_postgres_sends_reviews_delivers_and_administers() {
    let Some(db) = database() else { return };
    let mut s = fast_server_with(&[("OPENCAMS_DATABASE_URL", &db.url)]);
    // the simulated review runs on PostgreSQL too
    let code = approved_template(&s, "pg_order_update");
    let id = send_template(&s, &code, "8613955501234");
    delivered(&s, &id);
    // a user writes; inside the window a text goes out and is delivered
    s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613955501234",
        "--to",
        "8613600000000",
        "--text",
        "hello",
    ]);
    let text = send_text(&s, "8613955501234", "hi back");
    delivered(&s, &text);

    // the admin commands work on it as on SQLite
    let accounts = s.cli_json(&["account", "list"]);
    assert_eq!(accounts["Accounts"][0]["Account"], "default", "{accounts}");
    let numbers = s.cli_json(&["number", "list"]);
    assert!(numbers.to_string().contains("8613600000000"), "{numbers}");
    let k = s.cli_json(&["key", "create", "--account", "default"]);
    let kid = k["AccessKeyId"].as_str().unwrap();
    let keys = s.cli_json(&["key", "list"]);
    assert!(keys.to_string().contains(kid), "{keys}");
    let templates = s.cli_json(&["template", "list", "--account", "default"]);
    assert!(templates.to_string().contains(&code), "{templates}");
    let events = s.cli_json(&["message", "show", &id]);
    assert_eq!(events["MessageId"], id.as_str(), "{events}");
    assert!(events["Events"].as_array().unwrap().len() >= 2, "{events}");

    // a nonce is refused again, also after a restart
    let (target, headers) = signed_v3(&s.addr, &s.ak, &s.sk, "QueryChatappPhoneNumbers", &[]);
    let (status, _, body) = s.raw("POST", &target, &headers, b"");
    assert_eq!(status, 200, "{body}");
    let (_, _, body) = s.raw("POST", &target, &headers, b"");
    assert_eq!(body["Code"], "SignatureNonceUsed", "{body}");
    s.restart();
    let (_, _, body) = s.raw("POST", &target, &headers, b"");
    assert_eq!(body["Code"], "SignatureNonceUsed", "{body}");
}

#[test]
fn copy_moves_a_sqlite_install_to_postgres_with_everything_in_it() {
    let Some(db) = database() else { return };
    let mut s = fast_server();
    let code = approved_template(&s, "moving_day");
    let sent: Vec<String> = (0..3)
        .map(|i| send_template(&s, &code, &format!("861390000001{i}")))
        .collect();
    for id in &sent {
        delivered(&s, id);
    }
    s.stop();

    let from = format!("sqlite:{}", s.dir.join("opencams.db").display());
    let copied = s.cli_json(&["copy", "--from", &from, "--to", &db.url]);
    assert!(copied["rows"].as_u64().unwrap() > 10, "{copied}");
    assert_eq!(copied["tables"]["messages"], 3, "{copied}");
    assert_eq!(copied["tables"]["accounts"], 1, "{copied}");
    // a target that holds data is refused, and left as it was
    let (code_again, _, err) = s.cli(&["copy", "--from", &from, "--to", &db.url]);
    assert_ne!(code_again, 0);
    assert!(err.contains("already holds"), "{err}");

    // the same install (same master key, same access key) now runs on PostgreSQL
    s.restart_with_env(&[("OPENCAMS_DATABASE_URL", &db.url)]);
    for id in &sent {
        let m = s.cli_json(&["message", "show", id]);
        assert!(m["Status"] == "delivered" || m["Status"] == "read", "{m}");
    }
    // the template stayed approved, the key still signs, and new sends deliver
    let id = send_template(&s, &code, "8613900000019");
    delivered(&s, &id);
}

#[test]
fn two_nodes_share_nonces_and_see_a_disabled_key_within_a_second() {
    let Some(db) = database() else { return };
    let env = [
        ("OPENCAMS_DATABASE_URL", db.url.as_str()),
        ("OPENCAMS_MASTER_KEY", MASTER),
    ];
    let a = Server::start_with_env(&env);
    let b = Server::join(&a, &env);

    // a nonce used on A is refused on B (the request is the same, Host and all)
    let (target, headers) = signed_v3(&a.addr, &a.ak, &a.sk, "QueryChatappPhoneNumbers", &[]);
    let (status, _, body) = a.raw("POST", &target, &headers, b"");
    assert_eq!(status, 200, "{body}");
    let (_, _, body) = b.raw("POST", &target, &headers, b"");
    assert_eq!(body["Code"], "SignatureNonceUsed", "{body}");

    // a key used on B (so B caches it), then disabled through A's database: B refuses it
    // within a second
    let k = a.cli_json(&["key", "create", "--account", "default"]);
    let (kid, secret) = (
        k["AccessKeyId"].as_str().unwrap().to_string(),
        k["AccessKeySecret"].as_str().unwrap().to_string(),
    );
    let call = |s: &Server| {
        let (target, headers) = signed_v3(&s.addr, &kid, &secret, "QueryChatappPhoneNumbers", &[]);
        s.raw("POST", &target, &headers, b"").2
    };
    assert_eq!(call(&b)["Code"], "OK");
    a.cli_json(&["key", "disable", &kid]);
    let disabled = Instant::now();
    loop {
        let body = call(&b);
        if body["Code"] == "InvalidAccessKeyId.Inactive" {
            break;
        }
        assert_eq!(body["Code"], "OK", "{body}");
        assert!(
            disabled.elapsed() < Duration::from_secs(1),
            "node B still accepts a key disabled {:?} ago",
            disabled.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // failed console sign-ins are counted in the database: five on A lock the email on B too
    let email = common::browser::banner_field(&a.banner, "console user");
    let password = common::browser::banner_field(&a.banner, "console password");
    let mut on_a = common::browser::Browser::new(&a.addr);
    for _ in 0..5 {
        assert_eq!(on_a.sign_in(&email, "not the password!").status, 401);
    }
    let mut on_b = common::browser::Browser::new(&b.addr);
    let locked = on_b.sign_in(&email, &password);
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(
        locked.body.contains("Too many failed sign-ins"),
        "{}",
        locked.body
    );
}

/// The database going away: calls answer `ServiceUnavailable` (503: try again later), also
/// for a key the node has not loaded yet, not an internal error; the node carries on once the
/// database is back.
#[test]
fn calls_answer_service_unavailable_while_the_database_is_away() {
    let Some(db) = database() else { return };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = fast_server_with(&[("OPENCAMS_DATABASE_URL", &db.url)]);
    let k = s.cli_json(&["key", "create", "--account", "default"]);
    let fresh = (
        k["AccessKeyId"].as_str().unwrap().to_string(),
        k["AccessKeySecret"].as_str().unwrap().to_string(),
    );
    let call = |(ak, sk): (&str, &str)| {
        let (target, headers) = signed_v3(&s.addr, ak, sk, "QueryChatappPhoneNumbers", &[]);
        let (status, _, body) = s.raw("POST", &target, &headers, b"");
        (
            status,
            body["Code"].as_str().unwrap_or_default().to_string(),
        )
    };
    let known = (s.ak.as_str(), s.sk.as_str());
    assert_eq!(call(known), (200, "OK".to_string()));

    rt.block_on(db.set_reachable(false));
    let unavailable = (503, "ServiceUnavailable".to_string());
    assert_eq!(call(known), unavailable, "a key the node holds");
    assert_eq!(call((&fresh.0, &fresh.1)), unavailable, "a key to load");

    rt.block_on(db.set_reachable(true));
    let back = Instant::now();
    while call((&fresh.0, &fresh.1)) != (200, "OK".to_string()) {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the node did not recover from the database's return"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
