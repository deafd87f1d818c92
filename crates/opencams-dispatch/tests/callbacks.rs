//! Callback delivery on a manual clock, a real SQLite store and a real HTTP receiver on
//! 127.0.0.1 whose answers the test sets: a failing endpoint is retried after the backoff
//! computed from the clock (not before), every attempt carries the records in event order, an
//! endpoint failing often enough for long enough is disabled with its records kept, and once
//! it answers again they are delivered.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use opencams_dispatch::callbacks::{CallbackConfig, CallbackWorker};
use opencams_domain::{Clock, ManualClock};
use opencams_protocol::callback_sign::TIMESTAMP_HEADER;
use opencams_store::{
    AttemptOutcome, Cipher, Endpoint, MessageRow, NewEvent, NewNumber, Store, WebhookUpdate,
};
use serde_json::Value;

const T0: i64 = 1_700_000_000_000;
const FROM: &str = "8613600000000";
const BASE_MS: i64 = 1_000;
const MAX_MS: i64 = 60_000;

/// A callback receiver: answers with `status` (and `body`), records each body and its timestamp
/// header.
#[derive(Default)]
struct Receiver {
    status: AtomicU16,
    body: Mutex<String>,
    posts: Mutex<Vec<(i64, Vec<Value>)>>,
}

impl Receiver {
    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
    fn answer_with(&self, status: u16, body: &str) {
        self.answer(status);
        *self.body.lock().unwrap() = body.into();
    }
    fn posts(&self) -> Vec<(i64, Vec<Value>)> {
        self.posts.lock().unwrap().clone()
    }
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let at = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
    r.posts
        .lock()
        .unwrap()
        .push((at, serde_json::from_str(&body).unwrap()));
    (
        StatusCode::from_u16(r.status.load(Ordering::SeqCst)).unwrap(),
        r.body.lock().unwrap().clone(),
    )
}

struct Rig {
    store: Arc<dyn Store>,
    clock: ManualClock,
    worker: Arc<CallbackWorker>,
    receiver: Arc<Receiver>,
    url: String,
    _dir: tempfile::TempDir,
}

async fn rig(disable_after: i64, disable_span_ms: i64) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = opencams_store::open(None, dir.path(), Cipher::from_key(&[7; 32]))
        .await
        .unwrap();
    let acct = store.create_account("acme", T0).await.unwrap();
    store
        .add_number(
            NewNumber {
                account_id: acct.id,
                space_id: acct.default_space.clone(),
                phone: FROM.into(),
                channel: "simulator".into(),
                throughput_mps: 80,
                ..Default::default()
            },
            T0,
        )
        .await
        .unwrap();
    let receiver = Arc::new(Receiver::default());
    receiver.answer(200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/cb", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    store
        .set_webhook(
            WebhookUpdate {
                space_id: acct.default_space.clone(),
                phone: FROM.into(),
                account_id: acct.id,
                status_url: Some(Some(url.clone())),
                ..Default::default()
            },
            T0,
        )
        .await
        .unwrap();
    // one message with three status events, in order
    let m = MessageRow {
        id: "m1".into(),
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        direction: opencams_domain::Direction::Out,
        sender: FROM.into(),
        recipient: "8613900000000".into(),
        send_type: opencams_domain::SendType::Template,
        message_type: "template".into(),
        template_code: Some("tc".into()),
        body: "{}".into(),
        status: opencams_domain::MessageStatus::Read,
        created_at: T0,
        updated_at: T0,
        ..Default::default()
    };
    let events = ["Sent", "Delivered", "Read"]
        .iter()
        .map(|st| NewEvent {
            account_id: acct.id,
            kind: opencams_domain::EventKind::Status,
            message_id: Some("m1".into()),
            payload: format!(r#"{{"MessageId":"m1","Status":"{st}"}}"#),
        })
        .collect();
    store.insert_messages(vec![m], events).await.unwrap();
    let clock = ManualClock::new(T0);
    let config = CallbackConfig {
        retry_base_ms: BASE_MS,
        retry_max_ms: MAX_MS,
        disable_after,
        disable_span_ms,
        timeout: std::time::Duration::from_secs(2),
        allow_private: true,
        ..Default::default()
    };
    let worker = CallbackWorker::new(
        store.clone(),
        Arc::new(clock.clone()),
        config,
        "test".into(),
    )
    .unwrap();
    Rig {
        store,
        clock,
        worker,
        receiver,
        url,
        _dir: dir,
    }
}

impl Rig {
    async fn endpoint(&self) -> Endpoint {
        let eps = self.store.list_endpoints(None).await.unwrap();
        assert_eq!(eps.len(), 1, "{eps:?}");
        eps.into_iter().next().unwrap()
    }

    /// One failed attempt exactly when due; checks the backoff it scheduled.
    async fn fail_once(&self) -> Endpoint {
        // the first pass creates the endpoint (routing the events into its outbox)
        let failures = match self.store.list_endpoints(None).await.unwrap().first() {
            Some(ep) => ep.failures,
            None => 0,
        };
        self.receiver.answer(503);
        assert_eq!(self.worker.tick().await, 1, "attempted when due");
        let after = self.endpoint().await;
        let now = self.clock.now_ms();
        let ceiling = BASE_MS.saturating_mul(1 << failures).min(MAX_MS);
        let wait = after.due_at - now;
        assert!(
            (ceiling / 2..=ceiling).contains(&wait),
            "failure {}: next attempt in {wait} ms, not within [{}, {ceiling}]",
            after.failures,
            ceiling / 2
        );
        assert_eq!(after.failures, failures + 1);
        assert_eq!(after.pending, 3, "the records are kept");
        after
    }

    /// Moves the clock to just before the endpoint is due (nothing happens), then to it.
    async fn until_due(&self, ep: &Endpoint) {
        self.clock.advance_ms(ep.due_at - self.clock.now_ms() - 1);
        assert_eq!(
            self.worker.tick().await,
            0,
            "not retried before its backoff"
        );
        self.clock.advance_ms(1);
    }
}

fn statuses(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["Status"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_after_its_backoff_then_delivered_in_order() {
    let r = rig(10, 24 * 3_600_000).await;
    let ep = r.fail_once().await;
    r.until_due(&ep).await;
    let ep = r.fail_once().await;
    r.until_due(&ep).await;
    r.receiver.answer(200);
    assert_eq!(r.worker.tick().await, 1);
    let ep = r.endpoint().await;
    assert_eq!(
        (ep.pending, ep.delivered, ep.failures, ep.enabled),
        (0, 3, 0, true)
    );
    let posts = r.receiver.posts();
    assert_eq!(posts.len(), 3, "two failed attempts and one delivery");
    for (at, records) in &posts {
        assert_eq!(
            statuses(records),
            ["Sent", "Delivered", "Read"],
            "event order"
        );
        assert!(
            *at >= T0 / 1000,
            "signed with the manual clock's time: {at}"
        );
    }
    assert_eq!(posts[2].0, r.clock.now_ms() / 1000);
    assert_eq!(r.worker.tick().await, 0, "nothing left to deliver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_long_enough_is_disabled_with_its_records_kept() {
    let span = 5_000;
    let r = rig(3, span).await;
    let mut ep = r.fail_once().await;
    let first_failure = r.clock.now_ms();
    // three failures, but in less than the span: still enabled
    for _ in 0..2 {
        r.until_due(&ep).await;
        ep = r.fail_once().await;
    }
    assert!(r.clock.now_ms() - first_failure < span);
    assert!(ep.enabled, "three failures within {span} ms do not disable");
    // the next failure past the span disables it
    r.until_due(&ep).await;
    if r.clock.now_ms() - first_failure < span {
        r.clock
            .advance_ms(span - (r.clock.now_ms() - first_failure));
    }
    r.receiver.answer(500);
    assert_eq!(r.worker.tick().await, 1);
    let ep = r.endpoint().await;
    assert!(!ep.enabled, "disabled: {ep:?}");
    assert!(
        ep.disabled_reason
            .as_deref()
            .unwrap()
            .contains("4 consecutive failed attempts"),
        "{ep:?}"
    );
    assert_eq!(ep.pending, 3, "a disabled endpoint keeps its records");
    // disabled: never attempted, however long we wait
    r.receiver.answer(200);
    r.clock.advance_ms(24 * 3_600_000);
    assert_eq!(r.worker.tick().await, 0);
    assert_eq!(r.receiver.posts().len(), 4);
    // enabled again, the kept records are delivered, in order
    r.store
        .enable_endpoints(&r.url, None, r.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(r.worker.tick().await, 1);
    let ep = r.endpoint().await;
    assert_eq!((ep.enabled, ep.pending, ep.delivered), (true, 0, 3));
    let posts = r.receiver.posts();
    assert_eq!(posts.len(), 5);
    assert_eq!(statuses(&posts[4].1), ["Sent", "Delivered", "Read"]);
}

/// Each attempt (one POST) is logged once with the receiver's status and the start of its
/// answer, cut at 512 bytes on a char boundary; the message's events find them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_attempt_is_logged_with_the_receivers_status_and_answer() {
    let r = rig(10, 24 * 3_600_000).await;
    r.receiver.answer_with(503, "<h1>busy & \"down\"</h1>");
    assert_eq!(r.worker.tick().await, 1);
    let ep = r.endpoint().await;
    r.clock.advance_ms(ep.due_at - r.clock.now_ms());
    // a long answer: only its start is read and kept
    r.receiver.answer_with(200, &"é".repeat(5_000));
    assert_eq!(r.worker.tick().await, 1);
    let events: Vec<i64> = r
        .store
        .message_events("m1")
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let attempts = r.store.message_deliveries(&events).await.unwrap();
    let got: Vec<_> = attempts
        .iter()
        .map(|a| (a.outcome, a.status, a.event_ids.clone(), a.records))
        .collect();
    assert_eq!(
        got,
        [
            (AttemptOutcome::Failed, Some(503), events.clone(), 3),
            (AttemptOutcome::Delivered, Some(200), events.clone(), 3),
        ],
        "one log row per POST, not per record"
    );
    assert_eq!(attempts[0].answer, "<h1>busy & \"down\"</h1>");
    assert_eq!(attempts[1].answer, "é".repeat(256));
    assert!(attempts.iter().all(|a| a.url == r.url));
    assert_eq!(r.endpoint().await.last_error, None);
}
