//! Shared test harness: a simulator served on 127.0.0.1:0 with one registered number, a Graph
//! client, and a webhook receiver that checks `X-Hub-Signature-256` over the raw bytes.
#![allow(dead_code, reason = "each test file uses a different subset")]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use opencams_channels::simulator::{Clock, SimConfig, SimNumber, Simulator, StaticNumbers};
use opencams_domain::SystemClock;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;

pub const PNID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-test-token";
pub const WABA: &str = "102290129340398";
pub const DISPLAY: &str = "15550783881";
pub const SECRET: &str = "test-app-secret";

pub struct Harness {
    pub sim: Arc<Simulator>,
    pub base: String,
    pub http: reqwest::Client,
    pub shutdown: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Fast delays so status sequences finish within a test.
pub fn fast_config(webhook_url: Option<String>) -> SimConfig {
    SimConfig {
        app_secret: SECRET.into(),
        webhook_url,
        sent_delay_ms: 10,
        delivered_delay_ms: 30,
        read_delay_ms: 30,
        jitter_ms: 5,
        review_delay_ms: 50,
        webhook_timeout_ms: 500,
        ..SimConfig::default()
    }
}

pub fn number(throughput_mps: u32) -> SimNumber {
    SimNumber {
        phone_number_id: PNID.into(),
        display_phone_number: DISPLAY.into(),
        waba_id: WABA.into(),
        access_token: TOKEN.into(),
        throughput_mps,
    }
}

pub async fn harness(cfg: SimConfig) -> Harness {
    harness_with(cfg, Arc::new(SystemClock), number(0)).await
}

pub async fn harness_with(cfg: SimConfig, clock: Arc<dyn Clock>, n: SimNumber) -> Harness {
    let numbers = Arc::new(StaticNumbers::new());
    numbers.register(n);
    let sim = Simulator::new(cfg, numbers, clock);
    let shutdown = CancellationToken::new();
    sim.start(shutdown.clone());
    let app = axum::Router::new().nest("/graph", sim.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
    });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Harness {
        sim,
        base: format!("http://{addr}/graph"),
        http,
        shutdown,
    }
}

impl Harness {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn send(&self, body: Value) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/v23.0/{PNID}/messages"),
            Some(TOKEN),
            Some(&body),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(TOKEN), None)
            .await
    }

    /// Opens the 24-hour window of `user`.
    pub async fn open_window(&self, user: &str) {
        self.sim
            .inject_inbound(
                PNID,
                user,
                "Ada",
                json!({"type": "text", "text": {"body": "hi"}}),
            )
            .await
            .unwrap();
    }

    /// Every status emitted so far, flattened: (wamid, status, status object).
    pub fn statuses(&self) -> Vec<(String, String, Value)> {
        flatten_statuses(&self.sim.emitted_webhooks())
    }

    pub async fn wait_until(&self, what: &str, mut pred: impl FnMut(&Harness) -> bool) {
        for _ in 0..300 {
            if pred(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "timed out waiting for {what}; emitted: {:#?}",
            self.sim.emitted_webhooks()
        );
    }
}

pub fn text(to: &str, body: &str) -> Value {
    json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}})
}

pub fn flatten_statuses(payloads: &[Value]) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for p in payloads {
        for entry in p["entry"].as_array().into_iter().flatten() {
            for change in entry["changes"].as_array().into_iter().flatten() {
                for s in change["value"]["statuses"].as_array().into_iter().flatten() {
                    out.push((
                        s["id"].as_str().unwrap_or("").to_string(),
                        s["status"].as_str().unwrap_or("").to_string(),
                        s.clone(),
                    ));
                }
            }
        }
    }
    out
}

pub fn error_code(v: &Value) -> u64 {
    v["error"]["code"].as_u64().unwrap_or(0)
}

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: Bytes,
    pub signature: Option<String>,
    pub signature_ok: bool,
}

/// A webhook receiver on 127.0.0.1:0 that answers 500 to the first `fail_first` POSTs.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

pub async fn receiver(secret: &'static str, fail_first: u32) -> Receiver {
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let failures = Arc::new(AtomicU32::new(fail_first));
    let rec = received.clone();
    let app = axum::Router::new().route(
        "/webhooks/whatsapp",
        post(move |headers: HeaderMap, body: Bytes| {
            let rec = rec.clone();
            let failures = failures.clone();
            async move {
                let signature = headers
                    .get("x-hub-signature-256")
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_string);
                let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(&body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                let signature_ok = signature.as_deref() == Some(expected.as_str());
                rec.lock().unwrap().push(Received {
                    body,
                    signature,
                    signature_ok,
                });
                let left = failures.load(Ordering::SeqCst);
                if left > 0 {
                    failures.store(left - 1, Ordering::SeqCst);
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                if signature_ok {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/webhooks/whatsapp"),
        received,
    }
}

impl Receiver {
    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn payloads(&self) -> Vec<Value> {
        self.all()
            .iter()
            .filter(|r| r.signature_ok)
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    pub async fn wait_for(&self, what: &str, mut pred: impl FnMut(&[Received]) -> bool) {
        for _ in 0..400 {
            if pred(&self.all()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "timed out waiting for {what}; received {} posts",
            self.all().len()
        );
    }
}
