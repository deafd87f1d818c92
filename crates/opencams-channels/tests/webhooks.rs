#![allow(clippy::unwrap_used, reason = "test code")]
//! Webhook delivery to a real receiver: HMAC signature over the exact bytes, `\uXXXX`
//! escaping, retries with backoff and the attempt record, bad-signature faults, batching.

mod common;

use common::*;
use opencams_channels::simulator::{Fault, SimConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn unicode_is_escaped_and_signed_over_exact_bytes() {
    let rx = receiver(SECRET, 0).await;
    let h = harness(fast_config(Some(rx.url.clone()))).await;
    h.sim
        .inject_inbound(
            PNID,
            "447700900123",
            "Zoë 👩‍💻",
            json!({"type": "text", "text": {"body": "Grüße — ½ 👍"}}),
        )
        .await
        .unwrap();
    rx.wait_for("inbound webhook", |r| !r.is_empty()).await;
    let got = rx.all().remove(0);
    assert!(got.signature_ok, "signature {:?}", got.signature);
    assert_eq!(got.signature.as_ref().unwrap().len(), 71);
    let raw = std::str::from_utf8(&got.body).unwrap();
    assert!(raw.is_ascii(), "non-ASCII must be escaped: {raw}");
    assert!(raw.contains(r"Gr\u00fc\u00dfe"), "{raw}");
    assert!(
        raw.contains(r"\ud83d\udc4d"),
        "surrogate pair for 👍: {raw}"
    );
    // The signature is over the escaped bytes, not over a re-serialisation.
    let parsed: Value = serde_json::from_str(raw).unwrap();
    assert_ne!(parsed.to_string().as_bytes(), &got.body[..]);
    assert_eq!(
        parsed["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"],
        "Grüße — ½ 👍"
    );
    assert_eq!(
        parsed["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"],
        "Zoë 👩‍💻"
    );

    h.wait_until("the recorded attempt", |h| {
        !h.sim.webhook_attempts().is_empty()
    })
    .await;
    let attempts = h.sim.webhook_attempts();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].body.as_bytes(), &got.body[..]);
    assert_eq!(attempts[0].http_status, Some(200));
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_backoff() {
    let rx = receiver(SECRET, 3).await;
    let h = harness(fast_config(Some(rx.url.clone()))).await;
    h.open_window("447700900123").await;
    rx.wait_for("4 attempts", |r| r.len() >= 4).await;
    // the simulator records an attempt once the answer is back, after the receiver saw it
    h.wait_until("4 recorded attempts", |h| {
        h.sim.webhook_attempts().len() >= 4
    })
    .await;
    let attempts = h.sim.webhook_attempts();
    assert_eq!(
        attempts.iter().map(|a| a.attempt).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.delivery_id == attempts[0].delivery_id)
    );
    assert_eq!(
        attempts.iter().map(|a| a.http_status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(500), Some(200)]
    );
    assert_eq!(
        attempts.iter().map(|a| a.delivered).collect::<Vec<_>>(),
        [false, false, false, true]
    );
    let gaps: Vec<i64> = attempts
        .windows(2)
        .map(|w| w[1].at_ms - w[0].at_ms)
        .collect();
    // 200, 400, 800 ms (plus the poll granularity).
    for (gap, want) in gaps.iter().zip([200, 400, 800]) {
        assert!(*gap >= want && *gap < want + 400, "gaps {gaps:?}");
    }
    let bodies: Vec<&str> = attempts.iter().map(|a| a.body.as_str()).collect();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "same bytes every attempt"
    );
}

#[tokio::test]
async fn unreachable_receiver_is_recorded_until_the_retry_period_ends() {
    // Nothing listens on this port once the listener is dropped.
    let url = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let cfg = SimConfig {
        webhook_retry_for_ms: 500,
        ..fast_config(Some(url))
    };
    let h = harness(cfg).await;
    h.open_window("447700900123").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let attempts = h.sim.webhook_attempts();
    // Attempts at ~0, 200, 600 ms; the next would start after the 500 ms retry period.
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert!(
        attempts
            .iter()
            .all(|a| a.http_status.is_none() && a.error.is_some() && !a.delivered)
    );
}

#[tokio::test]
async fn slow_receivers_time_out_and_are_retried() {
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = std::sync::Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = c.clone();
            async move {
                if c.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let cfg = SimConfig {
        webhook_timeout_ms: 300,
        ..fast_config(Some(url))
    };
    let h = harness(cfg).await;
    h.open_window("447700900123").await;
    h.wait_until("second attempt", |h| h.sim.webhook_attempts().len() >= 2)
        .await;
    let attempts = h.sim.webhook_attempts();
    assert_eq!(attempts[0].error.as_deref(), Some("timeout"));
    assert!(!attempts[0].delivered);
    assert_eq!(
        (
            attempts[1].attempt,
            attempts[1].http_status,
            attempts[1].delivered
        ),
        (2, Some(200), true)
    );
}

#[tokio::test]
async fn bad_signature_fault() {
    let rx = receiver(SECRET, 0).await;
    let h = harness(fast_config(Some(rx.url.clone()))).await;
    h.sim.fail_next(Fault::bad_signature());
    h.open_window("447700900123").await;
    rx.wait_for("retry after 401", |r| r.len() >= 2).await;
    let all = rx.all();
    assert!(!all[0].signature_ok);
    assert!(all[1].signature_ok, "the retry is signed correctly");
    assert_eq!(all[0].body, all[1].body);
    assert_eq!(h.sim.webhook_attempts()[0].http_status, Some(401));
}

#[tokio::test]
async fn statuses_due_together_share_one_post() {
    let rx = receiver(SECRET, 0).await;
    let cfg = SimConfig {
        chaos_batch: true,
        jitter_ms: 0,
        sent_delay_ms: 50,
        ..fast_config(Some(rx.url.clone()))
    };
    let h = harness(cfg).await;
    let users = ["447700900001", "447700910001", "447700920001"];
    for u in users {
        h.open_window(u).await;
    }
    rx.wait_for("inbound", |r| r.len() >= 3).await;
    // Sent in one burst: their `sent` statuses fall due in the same tick.
    let sends = users.map(|u| h.send(text(u, "x")));
    for r in futures_join(sends).await {
        assert_eq!(r.0, 200);
    }
    rx.wait_for("3 sent statuses", |r| {
        flatten_statuses(
            &r.iter()
                .map(|x| serde_json::from_slice::<Value>(&x.body).unwrap())
                .collect::<Vec<_>>(),
        )
        .len()
            >= 3
    })
    .await;
    let posts_with_statuses = rx
        .payloads()
        .iter()
        .filter(|p| p["entry"][0]["changes"][0]["value"]["statuses"].is_array())
        .count();
    assert!(
        posts_with_statuses < 3,
        "statuses were batched: {posts_with_statuses} posts"
    );
}

async fn futures_join<F: std::future::Future>(fs: [F; 3]) -> Vec<F::Output> {
    let [a, b, c] = fs;
    let (a, b, c) = tokio::join!(a, b, c);
    vec![a, b, c]
}
