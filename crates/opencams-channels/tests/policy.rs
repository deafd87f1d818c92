#![allow(clippy::unwrap_used, reason = "test code")]
//! Auth errors, throughput and pair-rate buckets on a manual clock, and the 24-hour window.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use opencams_channels::simulator::{Fault, SimConfig};
use opencams_domain::ManualClock;
use reqwest::Method;
use serde_json::json;

const T0: i64 = 1_767_261_000_000;

async fn manual(cfg: SimConfig, mps: u32) -> (Harness, ManualClock) {
    let clock = ManualClock::new(T0);
    let h = harness_with(cfg, Arc::new(clock.clone()), number(mps)).await;
    (h, clock)
}

#[tokio::test]
async fn auth_errors() {
    let h = harness(fast_config(None)).await;
    let body = text("447700900123", "hi");
    let path = format!("/v23.0/{PNID}/messages");

    let (status, v) = h.call(Method::POST, &path, None, Some(&body)).await;
    assert_eq!((status, error_code(&v)), (401, 190), "no token");
    let (status, v) = h
        .call(Method::POST, &path, Some("wrong"), Some(&body))
        .await;
    assert_eq!((status, error_code(&v)), (401, 190), "wrong token");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#190)")
    );

    let (status, v) = h
        .call(
            Method::POST,
            "/v23.0/999999/messages",
            Some(TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!((status, error_code(&v)), (400, 100), "unknown number");
    assert_eq!(v["error"]["error_subcode"], 33);

    let (status, v) = h
        .call(
            Method::POST,
            &format!("/latest/{PNID}/messages"),
            Some(TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!((status, error_code(&v)), (400, 2500), "bad version segment");
    let (status, v) = h
        .call(
            Method::POST,
            &format!("/v19.0/{PNID}/nothing"),
            Some(TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!((status, error_code(&v)), (400, 2500), "unknown edge");

    h.open_window("447700900123").await;
    let (status, v) = h
        .call(
            Method::POST,
            &format!("/v99.1/{PNID}/messages"),
            Some(TOKEN),
            Some(&body),
        )
        .await;
    assert_eq!(status, 200, "any vNN.N version: {v}");
    assert_eq!(v["contacts"][0]["input"], "447700900123");
    assert!(
        v["messages"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
    assert_eq!(v["messages"][0]["message_status"], "accepted");

    let (status, v) = h.get(&format!("/v23.0/{PNID}")).await;
    assert_eq!(status, 200);
    assert_eq!(v["display_phone_number"], DISPLAY);
}

#[tokio::test]
async fn throughput_bucket_per_number() {
    let (h, clock) = manual(fast_config(None), 5).await;
    let users: Vec<String> = (0..7).map(|i| format!("4477009011{i:02}")).collect();
    for u in &users {
        h.open_window(u).await;
    }
    for u in &users[..5] {
        assert_eq!(h.send(text(u, "hi")).await.0, 200);
    }
    let (status, v) = h.send(text(&users[5], "hi")).await;
    assert_eq!((status, error_code(&v)), (400, 130429));
    clock.advance_ms(200); // 5 mps refills one token in 200 ms
    assert_eq!(h.send(text(&users[5], "hi")).await.0, 200);
    let (status, v) = h.send(text(&users[6], "hi")).await;
    assert_eq!((status, error_code(&v)), (400, 130429));
    assert_eq!(
        h.sim.sent().len(),
        6,
        "rejected sends are not recorded as sent"
    );
}

#[tokio::test]
async fn pair_rate_per_recipient() {
    let cfg = SimConfig {
        pair_capacity: 3,
        pair_refill_ms: 6000,
        ..fast_config(None)
    };
    let (h, clock) = manual(cfg, 0).await;
    let (a, b) = ("447700901201", "447700901202");
    h.open_window(a).await;
    h.open_window(b).await;
    for _ in 0..3 {
        assert_eq!(h.send(text(a, "hi")).await.0, 200);
    }
    let (status, v) = h.send(text(a, "hi")).await;
    assert_eq!((status, error_code(&v)), (400, 131056));
    assert_eq!(
        h.send(text(b, "hi")).await.0,
        200,
        "other recipients are unaffected"
    );
    clock.advance_ms(5999);
    assert_eq!(error_code(&h.send(text(a, "hi")).await.1), 131056);
    clock.advance_ms(1);
    assert_eq!(h.send(text(a, "hi")).await.0, 200);
}

#[tokio::test]
async fn window_async_mode_fails_later_with_131047() {
    let (h, clock) = manual(fast_config(None), 0).await;
    let user = "447700901301";
    let (status, v) = h.send(text(user, "hello?")).await;
    assert_eq!(status, 200, "Meta accepts first");
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    clock.advance_ms(100);
    h.wait_until("failed status", |h| {
        h.statuses().iter().any(|s| s.0 == wamid)
    })
    .await;
    let statuses = h.statuses();
    let mine: Vec<_> = statuses.iter().filter(|s| s.0 == wamid).collect();
    assert_eq!(mine.len(), 1, "only failed, no sent");
    assert_eq!(mine[0].1, "failed");
    assert_eq!(mine[0].2["errors"][0]["code"], 131047);
    assert!(mine[0].2.get("pricing").is_none());

    h.open_window(user).await;
    assert!(h.sim.window_open(PNID, user));
    assert_eq!(h.send(text(user, "inside")).await.0, 200);
    clock.advance_ms(24 * 3600 * 1000);
    assert!(
        !h.sim.window_open(PNID, user),
        "the window lasts 24 h from the last inbound"
    );
}

#[tokio::test]
async fn window_sync_mode_and_templates_outside_window() {
    let cfg = SimConfig {
        window_mode_sync: true,
        ..fast_config(None)
    };
    let (h, _clock) = manual(cfg, 0).await;
    let user = "447700901302";
    let (status, v) = h.send(text(user, "hello?")).await;
    assert_eq!((status, error_code(&v)), (400, 131047));
    // Templates are allowed outside the window (132001 here only because it does not exist).
    let tpl = json!({"messaging_product": "whatsapp", "to": user, "type": "template", "template": {"name": "nope", "language": {"code": "en"}}});
    let (status, v) = h.send(tpl).await;
    assert_eq!((status, error_code(&v)), (404, 132001));
}

#[tokio::test]
async fn injected_faults() {
    let h = harness(fast_config(None)).await;
    let (a, b) = ("447700901401", "447700901402");
    h.open_window(a).await;
    h.open_window(b).await;

    h.sim.fail_next(Fault::sync(131048).times(2).to(a));
    assert_eq!(
        error_code(&h.send(text(b, "x")).await.1),
        0,
        "other recipient unaffected"
    );
    assert_eq!(error_code(&h.send(text(a, "x")).await.1), 131048);
    assert_eq!(error_code(&h.send(text(a, "x")).await.1), 131048);
    assert_eq!(h.send(text(a, "x")).await.0, 200, "fault used up");

    h.sim.fail_next(Fault::http(503));
    let (status, v) = h.send(text(a, "x")).await;
    assert_eq!((status, error_code(&v)), (503, 131016));
    h.sim.fail_next(Fault::sync(130429).with_http_status(429));
    assert_eq!(h.send(text(a, "x")).await.0, 429);

    h.sim.fail_next(Fault::async_failure(131049));
    let (status, v) = h.send(text(a, "x")).await;
    assert_eq!(status, 200);
    let wamid = v["messages"][0]["id"].as_str().unwrap().to_string();
    h.wait_until("async fault", |h| h.statuses().iter().any(|s| s.0 == wamid))
        .await;
    let st = h.statuses().into_iter().find(|s| s.0 == wamid).unwrap();
    assert_eq!(
        (st.1.as_str(), st.2["errors"][0]["code"].as_u64()),
        ("failed", Some(131049))
    );

    // A slow answer: the client gives up, the message is sent anyway (the duplicate hazard).
    h.sim.fail_next(Fault::timeout(400));
    let before = h.sim.sent().len();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/v23.0/{PNID}/messages", h.base))
        .bearer_auth(TOKEN)
        .json(&text(a, "slow"))
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(h.sim.sent().len(), before + 1);
}

#[tokio::test]
async fn wa_id_mapping_and_mark_read() {
    let h = harness(fast_config(None)).await;
    h.sim.map_wa_id("+5511987654321", "551187654321");
    h.open_window("551187654321").await;
    let (status, v) = h.send(text("+5511987654321", "oi")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["contacts"][0]["input"], "+5511987654321");
    assert_eq!(v["contacts"][0]["wa_id"], "551187654321");

    let inbound = h
        .sim
        .inject_inbound(
            PNID,
            "447700901501",
            "Ada",
            json!({"type": "text", "text": {"body": "hi"}}),
        )
        .await
        .unwrap();
    let read = json!({"messaging_product": "whatsapp", "status": "read", "message_id": inbound, "typing_indicator": {"type": "text"}});
    let (status, v) = h.send(read).await;
    assert_eq!((status, v), (200, json!({"success": true})));
}
