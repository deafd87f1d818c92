//! The console's fallback policies page and the overview's queue and fallback figures, through
//! the real binary: operators create SMPP and HTTP policies under the CLI's rules (seen by
//! `opencams policy`), secrets never come back, bad input is answered on the form, viewers only
//! read, another account's policy is missing, a policy messages still name is not deleted; the
//! overview counts what waits in the queue (dispatch paused) and what fell back to SMS.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::time::Duration;

use common::browser::*;
use common::*;
use opencams_channels::sms::testing::{ReceiptMode, TestSmsc};
use serde_json::{Value, json};

const FROM: &str = "8613600000000";
const PASSWORD: &str = USER_PASSWORD;
const SMPP_SECRET: &str = "smpp-Pa55-never-shown";
const HTTP_SECRET: &str = "http-T0ken-never-shown";

/// A server whose dispatcher is paused (sends wait in the queue) and whose account accepts
/// free-form messages outside the window, as CAMS does.
fn paused_server() -> Server {
    let mut env = FAST_ENV.to_vec();
    env.push(("OPENCAMS_DISPATCH_PAUSED", "1"));
    let s = Server::start_with_env(&env);
    s.cli_json(&[
        "account",
        "set",
        "default",
        "session.window=cams",
        "qps.SendChatappMessage=100000",
        "qps.api=100000",
    ]);
    // the server caches account settings for a moment
    std::thread::sleep(Duration::from_millis(2100));
    s
}

fn signed_in(s: &Server, email: &str, password: &str) -> Browser {
    let mut b = Browser::new(&s.addr);
    let a = b.sign_in(email, password);
    assert_eq!(a.status, 303, "{}", a.body);
    b
}

fn text_send(s: &Server, to: &str, extra: Value) -> String {
    let mut req = json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "text",
                         "From": FROM, "To": to, "Content": "{\"text\":\"hello\"}"});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    let r = s.sdk1("send_chatapp_message", req);
    r["body"]["MessageId"]
        .as_str()
        .unwrap_or_else(|| panic!("not accepted: {r}"))
        .to_string()
}

/// The ids of the account's policies as `opencams policy list` gives them.
fn cli_policy_ids(s: &Server, account: &str) -> Vec<String> {
    s.cli_json(&["policy", "list", "--account", account])["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["FallBackId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn operators_create_and_delete_policies_under_the_clis_rules_and_viewers_only_read() {
    let s = paused_server();
    add_user(&s, "default", "op@example.com", "operator");
    add_user(&s, "default", "ro@example.com", "viewer");
    s.cli_json(&["account", "create", "acme"]);
    add_user(&s, "acme", "boss@acme.test", "admin");

    let mut op = signed_in(&s, "op@example.com", PASSWORD);
    let empty = op.get("/console/policies");
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("No fallback policies yet."));
    assert!(empty.body.contains("Create a policy"));
    assert!(
        empty.body.contains(r#"value="sms fallback""#),
        "the CLI's default name: {}",
        empty.body
    );
    let csrf = Browser::csrf_of(&empty.body);
    let create = |b: &mut Browser, csrf: &str, fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", csrf)];
        form.extend_from_slice(fields);
        b.request("POST", "/console/policies", &form)
    };

    // one of each kind
    let smpp = create(
        &mut op,
        &csrf,
        &[
            ("name", "main smsc"),
            ("sender_id", "ACME"),
            ("kind", "smpp"),
            ("smpp_address", "127.0.0.1:2775"),
            ("system_id", "opencams"),
            ("password", SMPP_SECRET),
        ],
    );
    assert_eq!(smpp.status, 303, "{}", smpp.body);
    assert_eq!(smpp.header("location"), Some("/console/policies/S_000001"));
    let http = create(
        &mut op,
        &csrf,
        &[
            ("name", ""),
            ("sender_id", "123456789012345"),
            ("kind", "http"),
            ("http_url", " https://sms.example.com/send "),
            ("http_token", HTTP_SECRET),
        ],
    );
    assert_eq!(http.status, 303, "{}", http.body);
    assert_eq!(http.header("location"), Some("/console/policies/S_000002"));

    // listed with their kind and address; never a password or a token
    let list = op.get("/console/policies");
    assert_eq!(list.status, 200, "{}", list.body);
    for shown in [
        "S_000001",
        "main smsc",
        "ACME",
        "SMPP",
        "127.0.0.1:2775",
        "S_000002",
        "sms fallback",
        "123456789012345",
        "HTTP",
        "https://sms.example.com/send",
        r#"action="/console/policies/S_000001/delete""#,
    ] {
        assert!(list.body.contains(shown), "{shown} missing: {}", list.body);
    }
    let one = op.get("/console/policies/S_000001");
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(one.body.contains("127.0.0.1:2775") && one.body.contains("main smsc"));
    for page in [
        &list.body,
        &one.body,
        &op.get("/console/policies/S_000002").body,
    ] {
        assert!(!page.contains(SMPP_SECRET) && !page.contains(HTTP_SECRET));
    }
    // the CLI sees them as it sees its own
    let listed = s.cli_json(&["policy", "list"]);
    assert_eq!(
        listed["Policies"][0]["Connection"],
        json!({"Kind": "smpp", "Target": "127.0.0.1:2775"})
    );
    assert_eq!(
        (
            &listed["Policies"][1]["Name"],
            &listed["Policies"][1]["SenderId"],
            &listed["Policies"][1]["Connection"]
        ),
        (
            &json!("sms fallback"),
            &json!("123456789012345"),
            &json!({"Kind": "http", "Target": "https://sms.example.com/send"})
        )
    );
    assert!(!listed.to_string().contains(SMPP_SECRET));

    // bad input: the form again, saying which field and what would do, keeping what was typed
    // (but not the password)
    let bad_sender = create(
        &mut op,
        &csrf,
        &[
            ("name", "second smsc"),
            ("sender_id", "Acme Company Ltd"),
            ("kind", "smpp"),
            ("smpp_address", "smsc.example.com:2775"),
            ("system_id", "sys-kept"),
            ("password", SMPP_SECRET),
        ],
    );
    assert_eq!(bad_sender.status, 400);
    for kept in [
        "Sender id &quot;Acme Company Ltd&quot; is not valid: use up to 11 letters/digits, or a number of up to 15 digits",
        r#"value="second smsc""#,
        r#"value="Acme Company Ltd""#,
        r#"value="smsc.example.com:2775""#,
        r#"value="sys-kept""#,
        // the field is marked as the one the message is about
        r#"name="sender_id" aria-invalid="true" aria-describedby="form-error""#,
    ] {
        assert!(
            bad_sender.body.contains(kept),
            "{kept}: {}",
            bad_sender.body
        );
    }
    assert!(!bad_sender.body.contains(SMPP_SECRET));
    for (fields, message) in [
        (
            vec![
                ("kind", "smpp"),
                ("smpp_address", "smsc"),
                ("system_id", "s"),
            ],
            "SMPP address &quot;smsc&quot; is not valid: it must be host:port, like smsc.example.com:2775",
        ),
        (
            vec![
                ("kind", "smpp"),
                ("smpp_address", "smsc:99999"),
                ("system_id", "s"),
            ],
            "SMPP address &quot;smsc:99999&quot; is not valid",
        ),
        (
            vec![("kind", "smpp"), ("smpp_address", "smsc:2775")],
            "System id is empty: an SMPP connection needs the system_id the SMSC gave you",
        ),
        (
            vec![("kind", "http"), ("http_url", "ftp://sms.example.com")],
            "Connector URL &quot;ftp://sms.example.com&quot; is not valid: it must be an http:// or https:// URL",
        ),
        (
            vec![("http_url", "https://sms.example.com")],
            "Connection: choose SMPP",
        ),
    ] {
        let mut fields = fields;
        fields.push(("sender_id", "ACME"));
        let a = create(&mut op, &csrf, &fields);
        assert_eq!(a.status, 400, "{fields:?}: {}", a.body);
        assert!(a.body.contains(message), "{fields:?}: {}", a.body);
    }
    // the CLI's own messages are as they were
    let (code, _, err) = s.cli(&[
        "policy",
        "create",
        "--sender-id",
        "Acme Company Ltd",
        "--smpp",
        "smsc:2775",
        "--system-id",
        "s",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains(r#"--sender-id "Acme Company Ltd" is not valid: use up to 11 letters/digits, or a number of up to 15 digits"#),
        "{err}"
    );
    let (code, _, err) = s.cli(&["policy", "create", "--sender-id", "ACME", "--smpp", "smsc"]);
    assert_ne!(code, 0);
    assert!(err.contains("--smpp must be host:port"), "{err}");
    let (code, _, err) = s.cli(&["policy", "create", "--sender-id", "ACME"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("a policy needs an SMS connection: --smpp host:port (with --system-id) or --http-url URL"),
        "{err}"
    );
    assert_eq!(cli_policy_ids(&s, "default"), ["S_000001", "S_000002"]);

    // a forged form changes nothing
    let forged = create(
        &mut op,
        "forged",
        &[
            ("sender_id", "ACME"),
            ("kind", "http"),
            ("http_url", "https://x.example"),
        ],
    );
    assert_eq!(forged.status, 403);
    assert!(forged.body.contains("expired or came from another site"));

    // a viewer reads and is refused every change
    let mut ro = signed_in(&s, "ro@example.com", PASSWORD);
    let read = ro.get("/console/policies");
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains("127.0.0.1:2775"));
    assert!(!read.body.contains("Create a policy") && !read.body.contains("/delete"));
    assert_eq!(ro.get("/console/policies/S_000002").status, 200);
    let rcsrf = Browser::csrf_of(&read.body);
    let refused = create(
        &mut ro,
        &rcsrf,
        &[
            ("sender_id", "ACME"),
            ("kind", "http"),
            ("http_url", "https://x.example"),
        ],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Your role (viewer) may not do this"));
    let refused = ro.request(
        "POST",
        "/console/policies/S_000002/delete",
        &[("csrf", &rcsrf)],
    );
    assert_eq!(refused.status, 403);

    // another account's admin: missing, whether read or deleted
    let mut boss = signed_in(&s, "boss@acme.test", PASSWORD);
    let theirs = boss.get("/console/policies");
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains("S_000001"), "{}", theirs.body);
    let missing = boss.get("/console/policies/S_000001");
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .body
            .contains("No fallback policy &quot;S_000001&quot; in your account.")
    );
    let bcsrf = Browser::csrf_of(&theirs.body);
    let gone = boss.request(
        "POST",
        "/console/policies/S_000001/delete",
        &[("csrf", &bcsrf)],
    );
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert_eq!(op.get("/console/policies/S_009999").status, 404);
    assert_eq!(cli_policy_ids(&s, "default"), ["S_000001", "S_000002"]);

    // a policy a waiting message names is kept, and the page says why
    text_send(&s, "8613900000001", json!({"FallBackId": "S_000001"}));
    let in_use = op.request(
        "POST",
        "/console/policies/S_000001/delete",
        &[("csrf", &csrf)],
    );
    assert_eq!(in_use.status, 409, "{}", in_use.body);
    assert!(
        in_use.body.contains(
            "Not deleted: policy S_000001 is still named by 1 message(s) that may fall back; delete it once they are settled."
        ),
        "{}",
        in_use.body
    );
    assert!(in_use.body.contains(r#"role="alert""#));
    // the other one goes
    let deleted = op.request(
        "POST",
        "/console/policies/S_000002/delete",
        &[("csrf", &csrf)],
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert!(deleted.body.contains("Policy S_000002 deleted"));
    assert_eq!(cli_policy_ids(&s, "default"), ["S_000001"]);
    assert_eq!(op.get("/console/policies/S_000002").status, 404);
}

#[test]
fn the_overview_shows_the_queue_per_number_and_what_fell_back_to_sms() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smsc = rt.block_on(TestSmsc::start("opencams", "secret"));
    smsc.set_receipts(ReceiptMode::Delivered);
    let s = paused_server();
    let policy = s.cli_json(&[
        "policy",
        "create",
        "--sender-id",
        "ACME",
        "--smpp",
        &smsc.address(),
        "--system-id",
        "opencams",
        "--password",
        "secret",
    ])["FallBackId"]
        .as_str()
        .unwrap()
        .to_string();

    // three wait in the queue (the dispatcher is paused)
    for to in ["8613900000011", "8613900000012", "8613900000013"] {
        text_send(&s, to, json!({}));
    }
    // one fails at once (its template does not exist) and falls back by SMS
    let r = s.sdk1(
        "send_chatapp_message",
        json!({"ChannelType": "whatsapp", "Type": "template", "From": FROM, "To": "8613900000014",
               "TemplateCode": "no-such-template", "Language": "en_US", "FallBackId": policy,
               "FallBackRule": "sentFailed", "FallBackContent": "by sms"}),
    );
    let id = r["body"]["MessageId"]
        .as_str()
        .expect("accepted")
        .to_string();
    wait_message_for(&s, &id, Duration::from_secs(30), |m| {
        m["Events"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["Record"]["Status"] == "FallbackSent"))
    });

    let mut admin = signed_in(
        &s,
        &banner_field(&s.banner, "console user"),
        &banner_field(&s.banner, "console password"),
    );
    let page = admin.get("/console");
    assert_eq!(page.status, 200, "{}", page.body);
    let card = |value: &str, label: &str| {
        format!(r#"<div class="n">{value}</div><div class="l">{label}</div>"#)
    };
    for want in [
        card("4", "Sent"),
        card("1", "Fell back to SMS"),
        card("25.0 %", "Fallback rate"),
        card("3", "Messages waiting"),
    ] {
        assert!(page.body.contains(&want), "{want} missing: {}", page.body);
    }
    assert!(!page.body.contains(&card("–", "Oldest waiting for")));
    assert!(page.body.contains("fell back to SMS per hour"));
    // the number's row: its quality, configured rate, and the three waiting
    let row = page
        .body
        .split(&format!("<td>{FROM}</td>"))
        .nth(1)
        .unwrap()
        .split("</tr>")
        .next()
        .unwrap()
        .to_string();
    assert!(row.contains("<td>GREEN</td>"), "{row}");
    // nothing sent over the last minute (dispatch is paused): none of its 80/s used
    assert!(
        row.contains(
            r#"<td class="num">0.0</td><td class="num">80</td><td class="num">0 %</td><td class="num">3</td>"#
        ),
        "{row}"
    );
}
