use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::sms::http::{HttpSms, HttpSmsConfig};
use crate::sms::{Sms, SmsSender};

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn record(State(seen): State<Seen>, headers: HeaderMap, Json(body): Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().unwrap().push((auth, body));
}

/// A local aggregator: one route per behaviour.
async fn aggregator() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/ok",
            post(|s: State<Seen>, h: HeaderMap, b: Json<Value>| async move {
                record(s, h, b).await;
                Json(json!({"id": "agg-1", "status": "queued"}))
            }),
        )
        .route(
            "/message-id",
            post(|| async { Json(json!({"message_id": 42})) }),
        )
        .route("/no-id", post(|| async { StatusCode::ACCEPTED }))
        .route(
            "/down",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "upstream down") }),
        )
        .route(
            "/bad",
            post(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"invalid destination number"}"#,
                )
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                StatusCode::OK
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn client(url: String, token: Option<&str>) -> HttpSms {
    HttpSms::new(
        HttpSmsConfig {
            url,
            token: token.map(str::to_string),
        },
        Duration::from_millis(500),
    )
    .unwrap()
}

fn sms() -> Sms {
    Sms {
        from: "OpenCams".into(),
        to: "+8613800138000".into(),
        text: "hello".into(),
        reference: "msg-7".into(),
    }
}

#[tokio::test]
async fn accepted_answers_give_the_aggregators_id() {
    let (base, seen) = aggregator().await;
    let sent = client(format!("{base}/ok"), Some("tok"))
        .send(&sms())
        .await
        .unwrap();
    assert_eq!((sent.ids, sent.parts), (vec!["agg-1".to_string()], 1));
    let (auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer tok"));
    assert_eq!(
        body,
        json!({"from": "OpenCams", "to": "8613800138000", "text": "hello", "reference": "msg-7"})
    );

    let sent = client(format!("{base}/message-id"), None)
        .send(&sms())
        .await
        .unwrap();
    assert_eq!(sent.ids, ["42"]);
    let sent = client(format!("{base}/no-id"), None)
        .send(&sms())
        .await
        .unwrap();
    assert_eq!(sent.ids, ["ref-msg-7"]);
}

#[tokio::test]
async fn server_errors_timeouts_and_network_failures_are_retryable() {
    let (base, _) = aggregator().await;
    let e = client(format!("{base}/down"), None)
        .send(&sms())
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("http_500", true));
    assert!(e.description.contains("upstream down"));

    let e = client(format!("{base}/slow"), None)
        .send(&sms())
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("timeout", true));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/x", closed.local_addr().unwrap());
    drop(closed);
    let e = client(url, None).send(&sms()).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("network", true));
}

#[tokio::test]
async fn client_errors_are_permanent_with_the_body() {
    let (base, _) = aggregator().await;
    let e = client(format!("{base}/bad"), None)
        .send(&sms())
        .await
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("http_400", false));
    assert!(e.description.contains("invalid destination number"), "{e}");
}
