//! SMS fallback end to end: the official SDK sends with FallBackId/FallBackDuration/FallBackRule,
//! the built-in simulator decides what WhatsApp does, and a real SMPP server (a minimal SMSC in
//! this process) receives the SMS. One test per mechanism through the binary: the duration
//! timer (across a restart, with its SMPP delivery report), the armed path and the sentFailed
//! rule. FallBackDuration's minimum is 60 s: rather than wait it, the timer test restarts the
//! server with its clock a minute ahead (`OPENCAMS_CLOCK_OFFSET_MS`); every timer case (firing
//! not before its time, to the millisecond, cancellation by a delivered receipt, retries, deleted
//! policies, reports) is tested on a manual clock in `opencams-dispatch/tests/fallback.rs`.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use opencams_channels::sms::testing::{ReceiptMode, TestSmsc};
use serde_json::{Value, json};

const FROM: &str = "8613600000000";

struct Rig {
    s: Server,
    smsc: TestSmsc,
    _rt: tokio::runtime::Runtime,
    code: String,
    policy: String,
}

fn rig() -> Rig {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let smsc = rt.block_on(TestSmsc::start("opencams", "secret"));
    smsc.set_receipts(ReceiptMode::Delivered);
    let s = fast_server();
    let code = approved_template(&s, "order_update");
    let p = s.cli_json(&[
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
    ]);
    Rig {
        policy: p["FallBackId"].as_str().unwrap().to_string(),
        s,
        smsc,
        _rt: rt,
        code,
    }
}

fn template_send(r: &Rig, to: &str, extra: Value) -> Value {
    let mut req = json!({"ChannelType": "whatsapp", "Type": "template", "From": FROM, "To": to, "TemplateCode": r.code,
                         "Language": "en_US", "TemplateParams": {"name": "Ada", "order": "A-1"}, "FallBackId": r.policy});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    r.s.sdk1("send_chatapp_message", req)
}

fn statuses(m: &Value) -> Vec<String> {
    m["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["Record"]["Status"].as_str().map(String::from))
        .collect()
}

fn received_for(r: &Rig, to: &str) -> Vec<String> {
    r.smsc
        .received()
        .into_iter()
        .filter(|m| m.to == to)
        .map(|m| m.text)
        .collect()
}

#[test]
fn a_message_that_is_never_delivered_gets_exactly_one_sms_after_the_duration_across_a_restart() {
    let mut r = rig();
    let to = "8613900000001"; // the simulator never delivers to …0001
    let res = template_send(&r, to, json!({"FallBackDuration": 60}));
    let id = res["body"]["MessageId"].as_str().unwrap().to_string();
    // the timer is durable: a restart between scheduling and firing still fires it, once
    let m = wait_message_for(&r.s, &id, Duration::from_secs(5), |m| {
        statuses(m).contains(&"FallbackScheduled".to_string())
    });
    assert!(
        !statuses(&m).contains(&"FallbackSent".to_string()) && received_for(&r, to).is_empty(),
        "fired early: {:?}",
        statuses(&m)
    );
    // the server comes back a minute later by its clock: the timer is due at once (the timer
    // itself is tested to the millisecond on the manual clock in opencams-dispatch)
    r.s.restart_with_env(&[("OPENCAMS_CLOCK_OFFSET_MS", "61000")]);
    let m = wait_message_for(&r.s, &id, Duration::from_secs(20), |m| {
        statuses(m).contains(&"FallbackDelivered".to_string())
    });
    assert_eq!(
        received_for(&r, to),
        vec!["Hi Ada, order A-1 ships today.\n\n[Track]\n[Stop]".to_string()],
        "the rendered template text, once"
    );
    let st = statuses(&m);
    for want in [
        "FallbackScheduled",
        "Sent",
        "FallbackSent",
        "FallbackDelivered",
    ] {
        assert!(st.contains(&want.to_string()), "{want} missing: {st:?}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(received_for(&r, to).len(), 1, "exactly one SMS");
    let sent = m["Events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Record"]["Status"] == "FallbackSent")
        .unwrap();
    assert_eq!(sent["Record"]["MessageId"], id.as_str());
}

#[test]
fn without_a_duration_only_failure_triggers_and_texts_arrive_intact() {
    let r = rig();
    // …0002: sent, then failed 131026 → the SMS goes at once
    let long_latin = "Your parcel is on its way. ".repeat(15);
    let res = template_send(&r, "8613900000002", json!({"FallBackContent": long_latin}));
    let id = res["body"]["MessageId"].as_str().unwrap().to_string();
    wait_message_for(&r.s, &id, Duration::from_secs(30), |m| {
        statuses(m).contains(&"FallbackDelivered".to_string())
    });
    assert_eq!(received_for(&r, "8613900000002"), vec![long_latin.clone()]);
    let parts = r
        .smsc
        .received()
        .into_iter()
        .find(|m| m.to == "8613900000002")
        .unwrap()
        .parts;
    assert!(parts >= 3, "a long text is split: {parts}");
    // the message history shows the fallback
    let listed = r.s.sdk1(
        "list_chatapp_message",
        json!({"ChannelType": "whatsapp", "BusinessNumber": FROM, "CustSpaceId": r.s.space,
        "UserNumber": "8613900000002", "Page": {"Index": 1, "Size": 10}}),
    );
    let row = &listed["body"]["Data"][0];
    assert_eq!(
        (
            row["FailBackFlag"].as_str(),
            row["FailBackContent"].as_str()
        ),
        (Some("Y"), Some(long_latin.as_str())),
        "{listed}"
    );
    // non-Latin and emoji, through the sentFailed path (template variables fail verification)
    let chinese = format!("{}👍", "您的包裹已发货，请注意查收。".repeat(14));
    let res = template_send(
        &r,
        "8613900000005",
        json!({"FallBackRule": "sentFailed", "FallBackContent": chinese, "TemplateParams": {"name": "Ada"}}),
    );
    assert_eq!(res["ok"], true, "{res}");
    let id = res["body"]["MessageId"].as_str().unwrap().to_string();
    let m = wait_message_for(&r.s, &id, Duration::from_secs(30), |m| {
        statuses(m).contains(&"FallbackSent".to_string())
    });
    assert_eq!(m["Status"], "failed");
    let got = received_for(&r, "8613900000005");
    assert_eq!(got, vec![chinese]);
    // …0000 delivered, no duration: never falls back
    let res = template_send(&r, "8613900000000", json!({}));
    let id = res["body"]["MessageId"].as_str().unwrap().to_string();
    wait_message_for(&r.s, &id, Duration::from_secs(30), |m| {
        m["Status"] == "read"
    });
    std::thread::sleep(Duration::from_secs(1));
    assert!(received_for(&r, "8613900000000").is_empty());
}

#[test]
fn the_sent_failed_rule_case_by_case() {
    let r = rig();
    let bad_params = json!({"TemplateParams": {"name": "Ada"}, "FallBackContent": "fallback text"});
    // undelivered (default): a template-variable failure rejects the call, no SMS
    let res = template_send(&r, "8613900000010", bad_params.clone());
    assert_sdk_error(&res, "InvalidParameter.TemplateParams", 400);
    // sentFailed: the same failure is accepted as failed and falls back by SMS
    let mut sf = bad_params.clone();
    sf["FallBackRule"] = json!("sentFailed");
    let res = template_send(&r, "8613900000011", sf.clone());
    assert_eq!(res["ok"], true, "{res}");
    // …and for a template that does not exist
    let mut missing = sf.clone();
    missing["TemplateCode"] = json!("no-such-template");
    assert_eq!(template_send(&r, "8613900000012", missing)["ok"], true);
    // never for ChannelType, Type, MessageType, To or From
    for (field, value, code) in [
        (
            "ChannelType",
            json!("viber"),
            "InvalidParameter.ChannelTypeNotSupport",
        ),
        ("Type", json!("broadcast"), "InvalidParameter"),
        ("To", json!("86139abc"), "InvalidParameter.ToOnlyNumeric"),
        (
            "From",
            json!("8613622222222"),
            "InvalidParameter.PhoneNumberError",
        ),
    ] {
        let mut req = sf.clone();
        req[field] = value;
        assert_sdk_error(&template_send(&r, "8613900000013", req), code, 400);
    }
    let m = json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "fax", "From": FROM, "To": "8613900000014",
                       "Content": "{}", "FallBackId": r.policy, "FallBackRule": "sentFailed"});
    assert_sdk_error(
        &r.s.sdk1("send_chatapp_message", m),
        "InvalidParameter.MessageTypeNotSupport",
        400,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while received_for(&r, "8613900000011").is_empty()
        || received_for(&r, "8613900000012").is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the sentFailed fallbacks never arrived"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        received_for(&r, "8613900000011"),
        vec!["fallback text".to_string()]
    );
    for to in ["8613900000010", "8613900000013", "8613900000014"] {
        assert!(
            received_for(&r, to).is_empty(),
            "no SMS for a rejected call to {to}"
        );
    }
    // a policy that messages may still fall back to cannot be deleted
    let res = template_send(&r, "8613900000001", json!({"FallBackDuration": 600}));
    assert_eq!(res["ok"], true);
    let (exit, _, err) = r.s.cli(&["policy", "delete", &r.policy]);
    assert_ne!(exit, 0);
    assert!(err.contains("still named"), "{err}");
}
