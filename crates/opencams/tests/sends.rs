//! SendChatappMessage and SendChatappMassMessage through the official SDK: every message type,
//! the error catalogue, the 24-hour window, the sentFailed rule and mass sends.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const FROM: &str = "8613600000000";
const USER: &str = "8613900000001";

/// A server with an approved template `order_update` (en_US) and USER's window open.
fn ready() -> (Server, String) {
    let s = Server::start_with_env(&[("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "50")]);
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.SendChatappMessage=100000",
        "qps.SendChatappMassMessage=100000",
        "qps.api=100000",
    ]);
    let r = s.sdk1("create_chatapp_template", json!({
        "TemplateType": "WHATSAPP", "Name": "order_update", "Language": "en_US", "Category": "UTILITY",
        "Components": [
            {"Type": "BODY", "Text": "Hi {{name}}, order {{order}} ships today."},
            {"Type": "BUTTONS", "Buttons": [{"Type": "QUICK_REPLY", "Text": "Track"}, {"Type": "QUICK_REPLY", "Text": "Stop"}]}
        ],
        "Example": {"name": "Ada", "order": "A-1"}
    }));
    let code = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": "en_US"}),
    )["body"]["Data"]["AuditStatus"]
        != "pass"
    {
        assert!(Instant::now() < deadline, "template never approved");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1100)); // the template cache lives 1 s
    s.cli_json(&[
        "simulate", "inbound", "--from", USER, "--to", FROM, "--text", "hi",
    ]);
    (s, code)
}

fn msg(message_type: &str, content: Value) -> Value {
    json!({"ChannelType": "whatsapp", "Type": "message", "From": FROM, "To": USER, "MessageType": message_type, "Content": content.to_string()})
}

fn template(code: &str) -> Value {
    json!({"ChannelType": "whatsapp", "Type": "template", "From": FROM, "To": USER, "TemplateCode": code, "Language": "en_US",
           "TemplateParams": {"name": "Ada", "order": "A-1"}, "Payload": ["track", "stop"], "TaskId": "task-1",
           "Tag": "t", "TrackingData": "trk"})
}

#[test]
fn every_message_type_is_accepted_and_stored() {
    let (s, code) = ready();
    let cases = vec![
        msg("text", json!({"text": "Hello 世界 & friends"})),
        msg(
            "image",
            json!({"link": "https://e.org/a.png", "caption": "A"}),
        ),
        msg("video", json!({"link": "https://e.org/v.mp4"})),
        msg("audio", json!({"link": "https://e.org/a.ogg"})),
        msg(
            "document",
            json!({"link": "https://e.org/i.pdf", "fileName": "i.pdf"}),
        ),
        msg("sticker", json!({"link": "https://e.org/s.webp"})),
        msg(
            "location",
            json!({"latitude": 51.5, "longitude": -0.12, "name": "Office"}),
        ),
        msg(
            "contacts",
            json!([{"name": {"formatted_name": "Ada L", "first_name": "Ada"}, "phones": [{"phone": "+44770"}]}]),
        ),
        msg("reaction", json!({"messageId": "wamid.x", "emoji": "👍"})),
        msg(
            "interactive",
            json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
        ),
        template(&code),
    ];
    let calls: Vec<Value> = cases
        .iter()
        .map(|c| json!({"op": "send_chatapp_message", "request": c}))
        .collect();
    let results = s.sdk(Value::Array(calls));
    let mut ids = std::collections::HashSet::new();
    for (c, r) in cases.iter().zip(&results) {
        assert_eq!(r["ok"], true, "{c}: {r}");
        assert_eq!(r["body"]["Code"], "OK");
        let id = r["body"]["MessageId"].as_str().unwrap().to_string();
        let stored = s.cli_json(&["message", "show", &id]);
        // accepted, or already on its way through the built-in simulator
        assert!(
            ["accepted", "sent", "delivered", "read"].contains(&stored["Status"].as_str().unwrap()),
            "{stored}"
        );
        assert_eq!(stored["To"], USER);
        assert!(ids.insert(id));
    }
    let t = s.cli_json(&[
        "message",
        "show",
        results[10]["body"]["MessageId"].as_str().unwrap(),
    ]);
    assert_eq!(
        (
            t["Type"].as_str(),
            t["TemplateCode"].as_str(),
            t["TaskId"].as_str()
        ),
        (Some("template"), Some(code.as_str()), Some("task-1"))
    );
    assert_eq!(t["Body"]["templateParams"]["name"], "Ada");
    assert_eq!(t["Body"]["payload"], json!(["track", "stop"]));
    let text = s.cli_json(&[
        "message",
        "show",
        results[0]["body"]["MessageId"].as_str().unwrap(),
    ]);
    assert_eq!(
        text["Body"]["content"]["cloud"]["body"],
        "Hello 世界 & friends"
    );

    // a reply in the same conversation, by MessageId
    let first = results[0]["body"]["MessageId"].as_str().unwrap();
    let mut reply = msg("text", json!({"text": "following up"}));
    reply["ContextMessageId"] = json!(first);
    let r = s.sdk1("send_chatapp_message", reply.clone());
    assert_eq!(r["ok"], true, "{r}");
    reply["To"] = json!("8613900000099");
    s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613900000099",
        "--to",
        FROM,
    ]);
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", reply),
        "InvalidParameter",
        400,
    );

    // V1 signatures work for sends too
    let r = s
        .sdk_as(
            &s.ak,
            &s.sk,
            true,
            json!([{"op": "send_chatapp_message", "request": template(&code)}]),
        )
        .remove(0);
    assert_eq!(r["ok"], true, "{r}");
}

#[test]
fn every_rule_answers_its_cams_error() {
    let (s, code) = ready();
    let with = |base: Value, f: &dyn Fn(&mut Value)| {
        let mut v = base;
        f(&mut v);
        v
    };
    let text = || msg("text", json!({"text": "hi"}));
    let tpl = || template(&code);
    let del = |k: &'static str| {
        move |v: &mut Value| {
            v.as_object_mut().unwrap().remove(k);
        }
    };
    let set = |k: &'static str, val: Value| {
        move |v: &mut Value| {
            v[k] = val.clone();
        }
    };
    type Case = (Value, &'static str, &'static str);
    let cases: Vec<Case> = vec![
        (
            with(text(), &del("ChannelType")),
            "MissingChannelType",
            "ChannelType",
        ),
        (with(text(), &del("Type")), "MissingType", "Type"),
        (with(text(), &del("From")), "MissingFrom", "From"),
        (with(text(), &del("To")), "MissingTo", "To"),
        (
            with(text(), &set("ChannelType", json!("viber"))),
            "InvalidParameter.ChannelTypeNotSupport",
            "viber",
        ),
        (
            with(text(), &set("ChannelType", json!("telegram"))),
            "InvalidParameter.ChannelTypeNotSupport",
            "telegram",
        ),
        (
            with(text(), &set("Type", json!("broadcast"))),
            "InvalidParameter",
            "Type",
        ),
        (
            with(text(), &set("To", json!("86139abc"))),
            "InvalidParameter.ToOnlyNumeric",
            "To",
        ),
        (
            with(text(), &set("To", json!("123"))),
            "InvalidParameter.PhoneNumberError",
            "To",
        ),
        (
            with(text(), &set("From", json!("+8613600000000"))),
            "InvalidParameter.FromOnlyNumeric",
            "From",
        ),
        (
            with(text(), &set("From", json!("8613611111111"))),
            "InvalidParameter.PhoneNumberError",
            "8613611111111",
        ),
        (
            with(text(), &set("RecipientType", json!("group"))),
            "InvalidParameter.NotSupported",
            "group",
        ),
        (
            with(text(), &del("MessageType")),
            "InvalidParameter.MessageTypeNotEmpty",
            "MessageType",
        ),
        (
            with(text(), &set("MessageType", json!("carousel"))),
            "InvalidParameter.MessageTypeNotSupport",
            "carousel",
        ),
        (
            with(text(), &set("MessageType", json!("typing_indicator"))),
            "InvalidParameter.MessageTypeNotSupport",
            "typing_indicator",
        ),
        (
            with(text(), &set("MessageType", json!("fax"))),
            "InvalidParameter.MessageTypeNotSupport",
            "fax",
        ),
        (
            with(text(), &del("Content")),
            "InvalidParameter.ContentNotEmpty",
            "Content",
        ),
        (
            with(text(), &set("Content", json!("{not json"))),
            "InvalidParameter.ContentError",
            "JSON",
        ),
        (
            with(text(), &set("Content", json!("{\"text\":\"\"}"))),
            "InvalidParameter.TextNotEmpty",
            "text",
        ),
        (
            with(
                text(),
                &set("Content", json!("{\"text\":\"a\",\"caption\":\"b\"}")),
            ),
            "InvalidParameter.ContentError",
            "caption",
        ),
        (
            msg("image", json!({"caption": "no link"})),
            "InvalidParameter.LinkNotEmpty",
            "link",
        ),
        (
            msg("document", json!({"link": "https://e.org/a.pdf"})),
            "InvalidParameter.ContentError",
            "fileName",
        ),
        (
            msg("location", json!({"latitude": 100, "longitude": 0})),
            "InvalidParameter.ContentError",
            "latitude",
        ),
        (
            msg(
                "interactive",
                json!({"type": "button", "body": {"text": "b"}}),
            ),
            "InvalidParameter.ContentError",
            "action",
        ),
        (
            msg("contacts", json!([{"phones": []}])),
            "InvalidParameter.ContentError",
            "name",
        ),
        (
            msg(
                "sticker",
                json!({"link": "https://e.org/s.webp", "caption": "x"}),
            ),
            "InvalidParameter.ContentError",
            "caption",
        ),
        (
            msg("reaction", json!({"emoji": "👍"})),
            "InvalidParameter.ContentError",
            "messageId",
        ),
        (
            with(text(), &set("To", json!("8613900000055"))),
            "InvalidParameter.SessionExpired",
            "24 hours",
        ),
        (
            with(tpl(), &del("TemplateCode")),
            "InvalidParameter.TemplateCodeNotEmpty",
            "TemplateCode",
        ),
        (
            with(tpl(), &del("Language")),
            "InvalidParameter.LanguageNotEmpty",
            "Language",
        ),
        (
            with(tpl(), &set("TemplateCode", json!("0000"))),
            "DetailError.TemplateNotExist",
            "0000",
        ),
        (
            with(tpl(), &set("Language", json!("fr"))),
            "DetailError.TemplateNotExist",
            "en_US",
        ),
        (
            with(tpl(), &set("TemplateParams", json!({"name": "Ada"}))),
            "InvalidParameter.TemplateParams",
            "order",
        ),
        (
            with(
                tpl(),
                &set(
                    "TemplateParams",
                    json!({"name": "Ada", "order": "1", "extra": "x"}),
                ),
            ),
            "InvalidParameter.TemplateParams",
            "extra",
        ),
        (
            with(tpl(), &set("Payload", json!(["a", "b", "c"]))),
            "InvalidParameter.Payload",
            "3",
        ),
        (
            with(tpl(), &set("FallBackId", json!("S_999999"))),
            "InvalidParameter",
            "FallBackId",
        ),
        (
            with(tpl(), &set("FallBackDuration", json!(30))),
            "InvalidParameter",
            "FallBackDuration",
        ),
        (
            with(tpl(), &set("FallBackRule", json!("always"))),
            "InvalidParameter",
            "FallBackRule",
        ),
        (
            with(tpl(), &set("Ttl", json!(5))),
            "InvalidParameter",
            "Ttl",
        ),
        (
            with(tpl(), &set("Label", json!("spam"))),
            "InvalidParameter",
            "Label",
        ),
        (
            with(tpl(), &set("ContextMessageId", json!("nope"))),
            "InvalidParameter",
            "ContextMessageId",
        ),
        (
            with(tpl(), &set("CustSpaceId", json!("cams-other"))),
            "Unknown.ResourceOwnerId",
            "CustSpaceId",
        ),
        (
            with(
                tpl(),
                &set(
                    "ProductAction",
                    json!({"Sections": [{"Title": "T", "ProductItems": [{"ProductRetailerId": ""}]}]}),
                ),
            ),
            "InvalidParameter",
            "ProductRetailerId",
        ),
        (
            with(
                tpl(),
                &set("FlowAction", json!({"FlowActionData": {"a": 1}})),
            ),
            "InvalidParameter",
            "FlowToken",
        ),
    ];
    let before = s.cli_json(&["message", "count"])["Messages"]
        .as_u64()
        .unwrap();
    let calls: Vec<Value> = cases
        .iter()
        .map(|(req, _, _)| json!({"op": "send_chatapp_message", "request": req}))
        .collect();
    let results = s.sdk(Value::Array(calls));
    for ((req, code, needle), r) in cases.iter().zip(&results) {
        assert_sdk_error(r, code, 400);
        let m = r["data"]["Message"].as_str().unwrap();
        assert!(
            m.contains(needle),
            "{code}: message {m:?} lacks {needle:?} (request {req})"
        );
    }
    assert_eq!(
        s.cli_json(&["message", "count"])["Messages"]
            .as_u64()
            .unwrap(),
        before,
        "a rejected call stores nothing"
    );

    // unapproved templates cannot be sent (the simulator rejects names containing "reject")
    let r = s.sdk1("create_chatapp_template", json!({"TemplateType": "WHATSAPP", "Name": "reject_me", "Language": "en", "Category": "UTILITY",
        "Components": [{"Type": "BODY", "Text": "Soon."}]}));
    let rejected = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": rejected, "Language": "en"}),
    )["body"]["Data"]["AuditStatus"]
        != "fail"
    {
        assert!(Instant::now() < deadline, "template never rejected");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut t = template(&rejected);
    t["Language"] = json!("en");
    t.as_object_mut().unwrap().remove("TemplateParams");
    t.as_object_mut().unwrap().remove("Payload");
    let r = s.sdk1("send_chatapp_message", t);
    assert_sdk_error(&r, "InvalidParameter", 400);
    assert!(
        r["data"]["Message"]
            .as_str()
            .unwrap()
            .contains("its status is fail"),
        "{r}"
    );
}

#[test]
fn the_window_setting_and_the_sent_failed_rule() {
    let (s, code) = ready();
    let stranger = "8613900000077";
    let mut text = msg("text", json!({"text": "hi"}));
    text["To"] = json!(stranger);
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", text.clone()),
        "InvalidParameter.SessionExpired",
        400,
    );
    s.cli_json(&["account", "set", "default", "session.window=cams"]);
    std::thread::sleep(Duration::from_millis(2100));
    let r = s.sdk1("send_chatapp_message", text);
    assert_eq!(
        r["ok"], true,
        "CAMS behaviour accepts outside the window: {r}"
    );

    // sentFailed: a template-variable failure does not reject the call, it fails the message
    let policy = s.cli_json(&[
        "policy",
        "create",
        "--sender-id",
        "ACME",
        "--http-url",
        "http://127.0.0.1:9/sms",
    ]);
    let fb = policy["FallBackId"].as_str().unwrap();
    assert_eq!(fb, "S_000001");
    let mut t = template(&code);
    t["TemplateParams"] = json!({"name": "Ada"});
    t["FallBackId"] = json!(fb);
    t["FallBackRule"] = json!("sentFailed");
    t["FallBackContent"] = json!("Your order ships today");
    let r = s.sdk1("send_chatapp_message", t.clone());
    assert_eq!(r["ok"], true, "{r}");
    let stored = s.cli_json(&["message", "show", r["body"]["MessageId"].as_str().unwrap()]);
    assert_eq!(stored["Status"], "failed");
    assert_eq!(stored["ErrorCode"], "InvalidParameter.TemplateParams");
    assert_eq!(stored["FallBackId"], fb);
    // ...but the default rule rejects it
    t["FallBackRule"] = json!("undelivered");
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", t.clone()),
        "InvalidParameter.TemplateParams",
        400,
    );
    // ...and sentFailed never covers From, To, ChannelType, Type or MessageType
    t["FallBackRule"] = json!("sentFailed");
    t["To"] = json!("86139x");
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", t.clone()),
        "InvalidParameter.ToOnlyNumeric",
        400,
    );
    t["To"] = json!(USER);
    t["From"] = json!("8613622222222");
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", t.clone()),
        "InvalidParameter.PhoneNumberError",
        400,
    );
    let mut m = msg("fax", json!({"text": "x"}));
    m["FallBackId"] = json!(fb);
    m["FallBackRule"] = json!("sentFailed");
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", m),
        "InvalidParameter.MessageTypeNotSupport",
        400,
    );
    // a policy that messages may still fall back to cannot be deleted
    let (exit, _, err) = s.cli(&["policy", "delete", fb]);
    assert_ne!(exit, 0);
    assert!(err.contains("still named"), "{err}");
}

#[test]
fn mass_sends_validate_the_whole_batch_first() {
    let (s, code) = ready();
    let recipients: Vec<Value> = (0..5)
        .map(|i| json!({"To": format!("86139000001{i:02}"), "TemplateParams": {"name": format!("N{i}"), "order": "O"}, "Payload": ["p"]}))
        .collect();
    let req = json!({"ChannelType": "whatsapp", "From": FROM, "TemplateCode": code, "Language": "en_US", "TaskId": "batch-7", "SenderList": recipients});
    let before = s.cli_json(&["message", "count"])["Messages"]
        .as_u64()
        .unwrap();
    let r = s.sdk1("send_chatapp_mass_message", req.clone());
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        r["body"]["GroupMessageId"]
            .as_str()
            .is_some_and(|g| !g.is_empty())
    );
    assert_eq!(
        s.cli_json(&["message", "count"])["Messages"]
            .as_u64()
            .unwrap(),
        before + 5
    );

    let mut bad = req.clone();
    bad["SenderList"][3]["To"] = json!("86139zz");
    let r = s.sdk1("send_chatapp_mass_message", bad);
    assert_sdk_error(&r, "InvalidParameter.ToOnlyNumeric", 400);
    assert!(
        r["data"]["Message"]
            .as_str()
            .unwrap()
            .starts_with("SenderList[3]"),
        "{r}"
    );
    let mut bad = req.clone();
    bad["SenderList"][4]["TemplateParams"] = json!({"name": "x"});
    let r = s.sdk1("send_chatapp_mass_message", bad);
    assert_sdk_error(&r, "InvalidParameter.TemplateParams", 400);
    assert!(
        r["data"]["Message"]
            .as_str()
            .unwrap()
            .contains("SenderList[4]"),
        "{r}"
    );
    let mut none = req.clone();
    none["SenderList"] = json!([]);
    assert_sdk_error(
        &s.sdk1("send_chatapp_mass_message", none),
        "MissingSenderList",
        400,
    );
    let mut many = req;
    many["SenderList"] = json!(
        (0..1001)
            .map(|i| json!({"To": format!("861390{i:07}")}))
            .collect::<Vec<_>>()
    );
    assert_sdk_error(
        &s.sdk1("send_chatapp_mass_message", many),
        "InvalidParameter",
        400,
    );
    assert_eq!(
        s.cli_json(&["message", "count"])["Messages"]
            .as_u64()
            .unwrap(),
        before + 5,
        "rejected batches store nothing"
    );
}

#[test]
fn send_rate_limit_refuses_and_stores_nothing() {
    let (s, code) = ready();
    s.cli_json(&["account", "set", "default", "qps.SendChatappMessage=2"]);
    std::thread::sleep(Duration::from_millis(2100));
    let before = s.cli_json(&["message", "count"])["Messages"]
        .as_u64()
        .unwrap();
    let calls: Vec<Value> = (0..6)
        .map(|_| json!({"op": "send_chatapp_message", "request": template(&code)}))
        .collect();
    let results = s.sdk(Value::Array(calls));
    let ok = results.iter().filter(|r| r["ok"] == true).count();
    let limited: Vec<_> = results
        .iter()
        .filter(|r| r["code"] == "System.LimitControl")
        .collect();
    assert!(ok >= 2 && !limited.is_empty(), "{results:?}");
    assert_eq!(limited[0]["exception"], "ThrottlingException");
    assert_eq!(
        s.cli_json(&["message", "count"])["Messages"]
            .as_u64()
            .unwrap(),
        before + ok as u64
    );
}

#[test]
fn send_cli_sends_a_csv_and_reports_every_row() {
    let (s, code) = ready();
    let csv = s.dir.join("batch.csv");
    let params = r#"{""name"":""Ada"",""order"":""A-1""}"#;
    std::fs::write(
        &csv,
        format!(
            "To,Type,TemplateCode,Language,TemplateParams,Note\n\
             {USER},template,{code},en_US,\"{params}\",first\n\
             86139abc,template,{code},en_US,\"{params}\",bad number\n\
             {USER},template,{code},en_US,\"{{}}\",missing vars\n\
             {USER},template,{code},en_US,\"{params}\",last\n"
        ),
    )
    .unwrap();
    let endpoint = format!("http://{}", s.addr);
    let out = std::process::Command::new(BIN)
        .args([
            "send",
            "--endpoint",
            &endpoint,
            "--access-key-id",
            &s.ak,
            "--access-key-secret",
            &s.sk,
            "--from",
            FROM,
            "--csv",
        ])
        .arg(&csv)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            summary["Rows"].as_u64(),
            summary["Sent"].as_u64(),
            summary["Failed"].as_u64()
        ),
        (Some(4), Some(2), Some(2)),
        "{summary}"
    );
    let results = std::fs::read_to_string(s.dir.join("batch.results.csv")).unwrap();
    let lines: Vec<&str> = results.lines().collect();
    assert_eq!(lines[0], "Row,To,MessageId,Code,Message");
    assert!(lines[1].contains(",OK,"), "{results}");
    assert!(
        lines[2].contains("InvalidParameter.ToOnlyNumeric"),
        "{results}"
    );
    assert!(
        lines[3].contains("InvalidParameter.TemplateParams"),
        "{results}"
    );
    let id = lines[4].split(',').nth(2).unwrap();
    assert_eq!(s.cli_json(&["message", "show", id])["To"], USER);

    // one message from flags
    let out = std::process::Command::new(BIN)
        .args([
            "send",
            "--endpoint",
            &endpoint,
            "--access-key-id",
            &s.ak,
            "--access-key-secret",
            &s.sk,
            "--from",
            FROM,
            "--to",
            USER,
            "--text",
            "hello from the CLI",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["Code"], "OK");
    let out = std::process::Command::new(BIN)
        .args([
            "send",
            "--endpoint",
            &endpoint,
            "--access-key-id",
            &s.ak,
            "--access-key-secret",
            "wrong",
            "--from",
            FROM,
            "--to",
            USER,
            "--text",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SignatureDoesNotMatch"));
}
