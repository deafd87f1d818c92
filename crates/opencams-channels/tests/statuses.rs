#![allow(clippy::unwrap_used, reason = "test code")]
//! Status webhooks per scenario (last digits of the recipient), their fields, and the
//! auto-reply and transient scenarios.

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn status_sequence_per_scenario() {
    let h = harness(fast_config(None)).await;
    let expected: &[(&str, &[&str])] = &[
        ("447700900000", &["sent", "delivered", "read"]),
        ("447700900001", &["sent"]),
        ("447700900002", &["sent", "failed"]),
        ("447700900003", &["failed"]),
        ("447700900004", &["sent", "delivered", "read"]),
        ("447700900005", &["sent", "delivered"]),
        ("447700900007", &["sent", "delivered", "read"]),
        ("447700900009", &["sent", "read", "delivered"]),
        ("447700912345", &["sent", "delivered", "read"]),
    ];
    let mut wamids = HashMap::new();
    for (to, _) in expected {
        h.open_window(to).await;
        let mut body = text(to, "hello");
        body["biz_opaque_callback_data"] = json!(format!("gw:{to}"));
        let (status, v) = h.send(body).await;
        assert_eq!(status, 200, "{to}: {v}");
        wamids.insert(v["messages"][0]["id"].as_str().unwrap().to_string(), *to);
    }
    let total: usize = expected.iter().map(|(_, s)| s.len()).sum();
    h.wait_until("all statuses", |h| h.statuses().len() >= total)
        .await;
    // Let anything unexpected (a late `delivered` for …0001) arrive before judging.
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;

    let mut seen: HashMap<&str, Vec<String>> = HashMap::new();
    for (wamid, status, obj) in h.statuses() {
        let to = wamids[&wamid];
        assert_eq!(obj["recipient_id"], to);
        assert_eq!(
            obj["biz_opaque_callback_data"],
            format!("gw:{to}"),
            "echoed on every status"
        );
        let ts = obj["timestamp"].as_str().expect("timestamp is a string");
        assert!(
            ts.len() == 10 && ts.chars().all(|c| c.is_ascii_digit()),
            "seconds: {ts}"
        );
        if status == "failed" {
            assert!(obj.get("pricing").is_none() && obj.get("conversation").is_none());
            assert_eq!(obj["errors"][0]["code"], 131026);
            assert!(obj["errors"][0]["title"].is_string());
            assert!(obj["errors"][0]["error_data"]["details"].is_string());
        } else {
            assert_eq!(obj["pricing"]["pricing_model"], "PMP");
            assert_eq!(obj["pricing"]["category"], "service");
            assert_eq!(obj["conversation"]["origin"]["type"], "service");
            assert!(obj["conversation"]["expiration_timestamp"].is_string());
        }
        seen.entry(to).or_default().push(status);
    }
    for (to, want) in expected {
        assert_eq!(
            seen.get(to).cloned().unwrap_or_default(),
            *want,
            "scenario {to}"
        );
    }

    // …0004 wrote back after delivery.
    let inbound: Vec<Value> = h
        .sim
        .emitted_webhooks()
        .into_iter()
        .flat_map(|p| {
            p["entry"][0]["changes"][0]["value"]["messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|m| m["text"]["body"] == "auto-reply")
        .collect();
    assert_eq!(inbound.len(), 1);
    assert_eq!(inbound[0]["from"], "447700900004");
}

#[tokio::test]
async fn media_failure_transient_and_throughput_scenarios() {
    let h = harness(fast_config(None)).await;
    let media_user = "447700900007";
    h.open_window(media_user).await;
    let img = json!({"messaging_product": "whatsapp", "to": media_user, "type": "image", "image": {"link": "https://cdn.example.org/a.jpg"}});
    let (_, v) = h.send(img).await;
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    h.wait_until("131053", |h| h.statuses().iter().any(|s| s.0 == wamid))
        .await;
    let s = h.statuses().into_iter().find(|s| s.0 == wamid).unwrap();
    assert_eq!(
        (s.1.as_str(), s.2["errors"][0]["code"].as_u64()),
        ("failed", Some(131053))
    );

    let transient = "447700900006";
    h.open_window(transient).await;
    for _ in 0..2 {
        let (status, v) = h.send(text(transient, "x")).await;
        assert_eq!((status, error_code(&v)), (500, 131000));
    }
    assert_eq!(h.send(text(transient, "x")).await.0, 200);

    let every_second = "447700900008";
    h.open_window(every_second).await;
    let codes: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(h.send(text(every_second, "x")).await.0);
        }
        out
    };
    assert_eq!(codes, [200, 400, 200, 400]);
}

#[tokio::test]
async fn reactions_get_only_sent_and_templates_carry_their_category() {
    let h = harness(fast_config(None)).await;
    let user = "447700900000";
    h.open_window(user).await;
    let reaction = json!({"messaging_product": "whatsapp", "to": user, "type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}});
    let (_, v) = h.send(reaction).await;
    let r = v["messages"][0]["id"].as_str().unwrap().to_string();

    let create = json!({"name": "promo_spring", "language": "en_US", "category": "MARKETING",
        "components": [{"type": "BODY", "text": "Spring sale starts now."}]});
    let (status, _) = h
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{WABA}/message_templates"),
            Some(TOKEN),
            Some(&create),
        )
        .await;
    assert_eq!(status, 200);
    h.wait_until("approval", |h| {
        h.sim
            .emitted_webhooks()
            .iter()
            .any(|p| p["entry"][0]["changes"][0]["value"]["event"] == "APPROVED")
    })
    .await;
    let tpl = json!({"messaging_product": "whatsapp", "to": user, "type": "template", "template": {"name": "promo_spring", "language": {"code": "en_US"}}});
    let (status, v) = h.send(tpl).await;
    assert_eq!(status, 200, "{v}");
    let t = v["messages"][0]["id"].as_str().unwrap().to_string();

    h.wait_until("template read", |h| {
        h.statuses().iter().any(|s| s.0 == t && s.1 == "read")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let statuses = h.statuses();
    let of = |id: &str| {
        statuses
            .iter()
            .filter(|s| s.0 == id)
            .map(|s| s.1.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&r), ["sent"]);
    let read = statuses.iter().find(|s| s.0 == t && s.1 == "read").unwrap();
    assert_eq!(read.2["pricing"]["category"], "marketing");
    assert_eq!(read.2["pricing"]["billable"], true);
    assert_eq!(read.2["conversation"]["origin"]["type"], "marketing");
    assert!(read.2.get("biz_opaque_callback_data").is_none());
}

#[tokio::test]
async fn sent_log_has_every_accepted_message_once() {
    let h = harness(fast_config(None)).await;
    let user = "447700900000";
    h.open_window(user).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut body = text(user, &format!("m{i}"));
        body["biz_opaque_callback_data"] = json!(format!("k{i}"));
        ids.push(
            h.send(body).await.1["messages"][0]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let sent = h.sim.sent();
    assert_eq!(
        sent.iter().map(|s| s.wamid.clone()).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(sent[3].biz_opaque_callback_data.as_deref(), Some("k3"));
    assert_eq!(sent[3].kind, "text");
    assert_eq!(sent[3].body["text"]["body"], "m3");
    assert_eq!(sent[3].phone_number_id, PNID);
}
