//! GetChatappPhoneNumberMetric and GetChatappTemplateMetric end to end through the official
//! SDK: counts of real sends once the simulator's receipts arrived, UTC-aligned buckets with their
//! boundaries, quick-reply taps, other accounts' and spaces' numbers and templates refused, bad
//! parameters refused with their codes, and the documented rate limit.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const FROM: &str = "8613600000000";
const HALF_HOUR: i64 = 1_800_000;
const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn send(s: &Server, req: Value) -> String {
    let r = s.sdk1("send_chatapp_message", req);
    assert_eq!(r["ok"], true, "{r}");
    r["body"]["MessageId"].as_str().unwrap().to_string()
}

fn template_to(code: &str, to: &str) -> Value {
    json!({"ChannelType": "whatsapp", "Type": "template", "From": FROM, "To": to, "TemplateCode": code,
           "Language": "en_US", "TemplateParams": {"name": "Ada", "order": "A-1"}})
}

/// The user `from` taps the quick reply `text` of the message with wamid `context`; returns
/// when the reply is stored, with its creation time.
fn tap(s: &Server, from: &str, context: &str, text: &str) -> i64 {
    let message = json!({"type": "button", "context": {"from": FROM, "id": context},
                         "button": {"payload": text, "text": text}});
    let r = s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        from,
        "--to",
        FROM,
        "--message",
        &message.to_string(),
    ]);
    let wamid = r["MessageId"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (code, out, _) = s.cli(&["message", "show", wamid, "--json"]);
        if code == 0 {
            let m: Value = serde_json::from_str(out.trim()).unwrap();
            assert_eq!(m["ContextMessageId"], context, "{m}");
            return m["CreatedAt"].as_i64().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the tap {wamid} was never stored"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn metric(s: &Server, op: &str, req: Value) -> Vec<Value> {
    let r = s.sdk1(op, req);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["body"]["Code"], "OK", "{r}");
    assert!(r["body"].get("Success").is_none(), "{r}");
    r["body"]["Data"].as_array().unwrap().clone()
}

/// Every entry is a whole bucket of `len`, aligned, the buckets consecutive from `first` (each
/// repeated `per` times: once per number or language).
fn assert_buckets(data: &[Value], first: i64, len: i64, per: usize) {
    assert!(!data.is_empty());
    for (i, d) in data.iter().enumerate() {
        let start = first + (i / per) as i64 * len;
        assert_eq!(d["Start"].as_i64(), Some(start), "entry {i}: {d}");
        assert_eq!(d["End"].as_i64(), Some(start + len), "entry {i}: {d}");
    }
}

fn sum(data: &[Value], field: &str) -> u64 {
    data.iter().map(|d| d[field].as_u64().unwrap()).sum()
}

#[test]
fn metrics_count_real_sends_receipts_and_taps_per_bucket() {
    let s = fast_server();
    let code = approved_template(&s, "order_update");
    // a second number of the space, which sends nothing
    s.cli_json(&["number", "add", "--account", "default", "8613600000009"]);
    let t0 = now_ms();

    // the user of …0000 writes first, so a free-form reply may go out too
    s.cli_json(&[
        "simulate",
        "inbound",
        "--from",
        "8613900000000",
        "--to",
        FROM,
        "--text",
        "hello",
    ]);
    let read = [
        send(&s, template_to(&code, "8613900000000")),
        send(&s, template_to(&code, "8613900000000")),
    ];
    let text = send(
        &s,
        json!({"ChannelType": "whatsapp", "Type": "message", "MessageType": "text", "From": FROM,
               "To": "8613900000000", "Content": "{\"text\":\"hi\"}"}),
    );
    let never_delivered = send(&s, template_to(&code, "8613900000001"));
    let fails = send(&s, template_to(&code, "8613900000002"));
    let mut created = BTreeMap::new();
    let mut wamids = Vec::new();
    for id in read.iter().chain([&text]) {
        let m = wait_message(&s, id, "read", |m| m["Status"] == "read");
        created.insert(id.clone(), m["CreatedAt"].as_i64().unwrap());
        wamids.push(m["ProviderId"].as_str().unwrap().to_string());
    }
    let m = wait_message(&s, &never_delivered, "sent", |m| m["Status"] == "sent");
    created.insert(never_delivered.clone(), m["CreatedAt"].as_i64().unwrap());
    let m = wait_message(&s, &fails, "failed", |m| m["Status"] == "failed");
    created.insert(fails.clone(), m["CreatedAt"].as_i64().unwrap());
    assert!(
        m["ProviderId"].is_string(),
        "it failed after WhatsApp took it: {m}"
    );
    // two taps on the first message, one on the second; none on the free-form one
    let taps = [
        tap(&s, "8613900000000", &wamids[0], "Track"),
        tap(&s, "8613900000000", &wamids[0], "Track"),
        tap(&s, "8613900000000", &wamids[1], "Stop"),
        tap(&s, "8613900000000", &wamids[2], "Track"),
    ];
    let end = now_ms() + 1;

    // DAILY (the default) over the whole test: UTC days, every number of the space, counted
    let first_day = t0 - t0.rem_euclid(DAY);
    let data = metric(
        &s,
        "get_chatapp_phone_number_metric",
        json!({"CustSpaceId": s.space, "Start": t0, "End": end}),
    );
    assert_buckets(&data, first_day, DAY, 2);
    for d in &data {
        assert_eq!(d["Granularity"], "DAILY", "{d}");
        assert!(
            d["SentCount"].is_u64() && d["DeliveredCount"].is_u64(),
            "{d}"
        );
        assert!(d["Start"].is_i64() && d["End"].is_i64(), "{d}");
        assert_eq!(
            d.as_object().unwrap().len(),
            6,
            "exactly the SDK model's fields: {d}"
        );
    }
    let of = |phone: &str| -> Vec<Value> {
        data.iter()
            .filter(|d| d["PhoneNumber"] == phone)
            .cloned()
            .collect()
    };
    // sent: the two read templates, the text, the one never delivered, the one that failed
    // after it was sent; delivered: the three read ones
    assert_eq!(sum(&of(FROM), "SentCount"), 5, "{data:?}");
    assert_eq!(sum(&of(FROM), "DeliveredCount"), 3, "{data:?}");
    assert_eq!(sum(&of("8613600000009"), "SentCount"), 0, "{data:?}");
    let one = metric(
        &s,
        "get_chatapp_phone_number_metric",
        json!({"CustSpaceId": s.space, "PhoneNumber": FROM, "Start": t0, "End": end, "Granularity": "DAILY"}),
    );
    assert_eq!(one, of(FROM));

    // HALF_HOUR from the half hour before the sends: each bucket holds exactly the messages
    // created in it
    let half = |t: i64| t - t.rem_euclid(HALF_HOUR);
    let first_half = half(t0) - HALF_HOUR;
    let data = metric(
        &s,
        "get_chatapp_phone_number_metric",
        json!({"PhoneNumber": FROM, "Start": first_half + 1, "End": end, "Granularity": "HALF_HOUR"}),
    );
    assert_buckets(&data, first_half, HALF_HOUR, 1);
    let mut want: BTreeMap<i64, (u64, u64)> = BTreeMap::new();
    for (id, at) in &created {
        let w = want.entry(half(*at)).or_default();
        w.0 += 1;
        if read.contains(id) || *id == text {
            w.1 += 1;
        }
    }
    for d in &data {
        let start = d["Start"].as_i64().unwrap();
        let (sent, delivered) = want.get(&start).copied().unwrap_or_default();
        assert_eq!(d["Granularity"], "HALF_HOUR");
        assert_eq!(d["SentCount"], sent, "{d}");
        assert_eq!(d["DeliveredCount"], delivered, "{d}");
    }
    assert_eq!(data[0]["SentCount"], 0, "the half hour before the sends");
    // an End on a boundary is excluded: the period before the first send counts nothing
    let boundary = half(*created.values().min().unwrap());
    let before = metric(
        &s,
        "get_chatapp_phone_number_metric",
        json!({"PhoneNumber": FROM, "Start": boundary - HALF_HOUR, "End": boundary, "Granularity": "HALF_HOUR"}),
    );
    assert_buckets(&before, boundary - HALF_HOUR, HALF_HOUR, 1);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["SentCount"], 0);

    // the template: its four sends, receipts and taps; the free-form message and its tap are not
    // the template's
    let data = metric(
        &s,
        "get_chatapp_template_metric",
        json!({"CustSpaceId": s.space, "TemplateCode": code, "TemplateType": "WHATSAPP", "Start": t0, "End": end}),
    );
    assert_buckets(&data, first_day, DAY, 1);
    for d in &data {
        assert_eq!(d["TemplateCode"], code.as_str());
        assert_eq!(d["Language"], "en_US");
        assert_eq!(
            d.as_object().unwrap().len(),
            8,
            "exactly the SDK model's fields: {d}"
        );
    }
    assert_eq!(sum(&data, "SentCount"), 4, "{data:?}");
    assert_eq!(sum(&data, "DeliveredCount"), 2, "{data:?}");
    assert_eq!(sum(&data, "ReadCount"), 2, "{data:?}");
    let mut clicks: BTreeMap<String, u64> = BTreeMap::new();
    for d in &data {
        for c in d["Cliented"].as_array().unwrap() {
            assert_eq!(c["Type"], "quick_reply_button", "{c}");
            *clicks
                .entry(c["ButtonContent"].as_str().unwrap().to_string())
                .or_default() += c["Count"].as_u64().unwrap();
        }
    }
    assert_eq!(
        clicks,
        BTreeMap::from([("Stop".to_string(), 1), ("Track".to_string(), 2)])
    );
    // per half hour, each tap in the bucket it was made in
    let first_tap = half(taps[0]);
    let data = metric(
        &s,
        "get_chatapp_template_metric",
        json!({"TemplateCode": code, "Language": "en_US", "Start": first_tap, "End": taps[2] + 1,
               "Granularity": "HALF_HOUR"}),
    );
    assert_buckets(&data, first_tap, HALF_HOUR, 1);
    for d in &data {
        let start = d["Start"].as_i64().unwrap();
        let n = taps[..3].iter().filter(|t| half(**t) == start).count() as u64;
        let got: u64 = d["Cliented"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["Count"].as_u64().unwrap())
            .sum();
        assert_eq!(got, n, "{d}");
    }
}

#[test]
fn metrics_refuse_bad_parameters_and_what_is_not_the_callers() {
    let s = fast_server();
    let code = approved_template(&s, "order_update");
    let now = now_ms();
    let phone = |extra: Value| {
        let mut req = json!({"PhoneNumber": FROM, "Start": now - DAY, "End": now});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        s.sdk1("get_chatapp_phone_number_metric", req)
    };
    let template = |extra: Value| {
        let mut req = json!({"TemplateCode": code, "Start": now - DAY, "End": now});
        for (k, v) in extra.as_object().unwrap() {
            req[k] = v.clone();
        }
        s.sdk1("get_chatapp_template_metric", req)
    };
    let mentions = |r: &Value, what: &str| {
        assert!(
            r["message"].as_str().unwrap().contains(what),
            "{what} not in {r}"
        );
    };
    assert_eq!(phone(json!({}))["ok"], true);
    assert_eq!(template(json!({}))["ok"], true);

    let r = s.sdk1(
        "get_chatapp_phone_number_metric",
        json!({"PhoneNumber": FROM, "End": now}),
    );
    assert_sdk_error(&r, "MissingStart", 400);
    let r = s.sdk1(
        "get_chatapp_template_metric",
        json!({"TemplateCode": code, "Start": now}),
    );
    assert_sdk_error(&r, "MissingEnd", 400);
    let r = s.sdk1(
        "get_chatapp_template_metric",
        json!({"Start": now - DAY, "End": now}),
    );
    assert_sdk_error(&r, "MissingTemplateCode", 400);
    for r in [
        phone(json!({"End": now - DAY})),
        template(json!({"End": now - 2 * DAY})),
    ] {
        assert_sdk_error(&r, "InvalidParameter", 400);
        mentions(&r, "must be later than Start");
    }
    let r = phone(json!({"Start": now - 100 * DAY}));
    assert_sdk_error(&r, "InvalidParameter", 400);
    mentions(&r, "at most 90");
    let r = template(json!({"Granularity": "HALF_HOUR", "Start": now - 8 * DAY}));
    assert_sdk_error(&r, "InvalidParameter", 400);
    mentions(&r, "at most 336");
    let r = phone(json!({"Granularity": "HOURLY"}));
    assert_sdk_error(&r, "InvalidParameter", 400);
    mentions(&r, "DAILY or HALF_HOUR");
    let r = template(json!({"TemplateType": "VIBER"}));
    assert_sdk_error(&r, "InvalidParameter.TemplateTypeNotSupport", 400);
    let r = template(json!({"Language": "xx_YY"}));
    assert_sdk_error(&r, "InvalidParameter.LanguageNotSupport", 400);
    let r = template(json!({"Language": "es"}));
    assert_sdk_error(&r, "DetailError.TemplateNotExist", 400);
    mentions(&r, "en_US");
    let r = template(json!({"TemplateCode": "nosuchtemplate"}));
    assert_sdk_error(&r, "DetailError.TemplateNotExist", 400);
    let r = phone(json!({"PhoneNumber": "8613000000009"}));
    assert_sdk_error(&r, "InvalidParameter.PhoneNumberError", 400);

    // another space of the account: its number and template are not this space's
    let other = s.cli_json(&["space", "create", "--account", "default"]);
    let other_space = other["CustSpaceId"].as_str().unwrap();
    let r = phone(json!({"CustSpaceId": other_space}));
    assert_sdk_error(&r, "InvalidParameter.PhoneNumberError", 400);
    let r = template(json!({"CustSpaceId": other_space}));
    assert_sdk_error(&r, "DetailError.TemplateNotExist", 400);
    // the other space without a number: every number of it (none), so no entries
    let r = s.sdk1(
        "get_chatapp_phone_number_metric",
        json!({"CustSpaceId": other_space, "Start": now - DAY, "End": now}),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["body"]["Data"], json!([]));

    // another account: its space, its number and its template
    let globex = s.cli_json(&["account", "create", "globex"]);
    s.cli_json(&["number", "add", "--account", "globex", "8613700000001"]);
    let r = phone(json!({"CustSpaceId": globex["DefaultSpace"]}));
    assert_sdk_error(&r, "Unknown.ResourceOwnerId", 400);
    let r = phone(json!({"PhoneNumber": "8613700000001"}));
    assert_sdk_error(&r, "Unknown.ResourceOwnerId", 400);
    let gk = s.cli_json(&["key", "create", "--account", "globex"]);
    let (gid, gsecret) = (
        gk["AccessKeyId"].as_str().unwrap(),
        gk["AccessKeySecret"].as_str().unwrap(),
    );
    let theirs = s
        .sdk_as(
            gid,
            gsecret,
            false,
            json!([{"op": "get_chatapp_template_metric",
                    "request": {"TemplateCode": code, "Start": now - DAY, "End": now}}]),
        )
        .remove(0);
    assert_sdk_error(&theirs, "DetailError.TemplateNotExist", 400);

    // key scope: a key of another space, a key without the action
    let limited = s.cli_json(&[
        "key",
        "create",
        "--account",
        "default",
        "--spaces",
        other_space,
    ]);
    let r = s
        .sdk_as(
            limited["AccessKeyId"].as_str().unwrap(),
            limited["AccessKeySecret"].as_str().unwrap(),
            false,
            json!([{"op": "get_chatapp_phone_number_metric",
                    "request": {"CustSpaceId": s.space, "Start": now - DAY, "End": now}}]),
        )
        .remove(0);
    assert_sdk_error(&r, "Ram.PermissionDeny", 400);
    let sender = s.cli_json(&[
        "key",
        "create",
        "--account",
        "default",
        "--actions",
        "SendChatappMessage",
    ]);
    let r = s
        .sdk_as(
            sender["AccessKeyId"].as_str().unwrap(),
            sender["AccessKeySecret"].as_str().unwrap(),
            false,
            json!([{"op": "get_chatapp_template_metric",
                    "request": {"TemplateCode": code, "Start": now - DAY, "End": now}}]),
        )
        .remove(0);
    assert_sdk_error(&r, "Ram.PermissionDeny", 400);

    // the documented 50 calls/s, per account and action, changeable like any other
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.GetChatappPhoneNumberMetric=1",
    ]);
    std::thread::sleep(Duration::from_millis(2100)); // settings are cached for 2 s
    let call = json!({"op": "get_chatapp_phone_number_metric",
                      "request": {"PhoneNumber": FROM, "Start": now - DAY, "End": now}});
    let rs = s.sdk(json!([call, call, call]));
    assert!(
        rs.iter()
            .any(|r| r["ok"] == false && r["code"] == "System.LimitControl"),
        "{rs:?}"
    );
    assert!(rs.iter().any(|r| r["ok"] == true), "{rs:?}");
}
