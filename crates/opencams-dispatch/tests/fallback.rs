//! The SMS fallback worker on a manual clock, a real SQLite store and a fake SMS sender: timers
//! fire when the clock passes them and not before, receipts cancel them, armed fallbacks wait
//! for a failure, SMS failures retry or end, and delivery reports close them. No test waits for
//! a timer: the clock is moved and the worker is ticked.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opencams_channels::sms::{DeliveryReport, Sms, SmsError, SmsSender, SmsSubmitted};
use opencams_dispatch::fallback::{FallbackWorker, PolicySenders, receive_reports};
use opencams_domain::ManualClock;
use opencams_store::{
    Account, Cipher, FallbackRow, MessageRow, NewPolicy, Secret, StatusUpdate, Store,
};

const T0: i64 = 1_700_000_000_000;
const RETRY_BASE_MS: i64 = 2_000;

/// An SMS sender that records what it is given and answers from a script (then succeeds).
#[derive(Default)]
struct FakeSms {
    sent: Mutex<Vec<Sms>>,
    script: Mutex<VecDeque<Result<(), SmsError>>>,
}

impl FakeSms {
    fn sent(&self) -> Vec<Sms> {
        self.sent.lock().unwrap().clone()
    }
    fn then(&self, answer: Result<(), SmsError>) {
        self.script.lock().unwrap().push_back(answer);
    }
}

#[async_trait::async_trait]
impl SmsSender for FakeSms {
    async fn send(&self, sms: &Sms) -> Result<SmsSubmitted, SmsError> {
        let answer = self.script.lock().unwrap().pop_front().unwrap_or(Ok(()));
        answer?;
        let mut sent = self.sent.lock().unwrap();
        sent.push(sms.clone());
        Ok(SmsSubmitted {
            ids: vec![format!("sms-{}", sent.len())],
            parts: 1,
        })
    }
}

struct Rig {
    store: Arc<dyn Store>,
    clock: ManualClock,
    sms: Arc<FakeSms>,
    worker: Arc<FallbackWorker>,
    acct: Account,
    policy: String,
    _dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = opencams_store::open(None, dir.path(), Cipher::from_key(&[5; 32]))
        .await
        .unwrap();
    let acct = store.create_account("acme", T0).await.unwrap();
    let policy = store
        .create_policy(
            NewPolicy {
                account_id: acct.id,
                name: "sms".into(),
                channel: "sms".into(),
                sender_id: "ACME".into(),
                connection: Secret::new(r#"{"kind":"fake"}"#),
            },
            T0,
        )
        .await
        .unwrap();
    let clock = ManualClock::new(T0);
    let sms = Arc::new(FakeSms::default());
    let fake = sms.clone();
    let senders = PolicySenders::with_connect(Box::new(move |_| {
        let s: Arc<dyn SmsSender> = fake.clone();
        Ok(s)
    }));
    let worker = Arc::new(FallbackWorker {
        store: store.clone(),
        clock: Arc::new(clock.clone()),
        senders,
        owner: "test".into(),
        lease_ms: 30_000,
        retry_base_ms: RETRY_BASE_MS,
        poll_ms: 10,
    });
    Rig {
        store,
        clock,
        sms,
        worker,
        acct,
        policy: policy.id,
        _dir: dir,
    }
}

impl Rig {
    /// A sent text message to `to` that falls back by the rig's policy.
    async fn send(&self, id: &str, to: &str, duration_secs: Option<i64>) {
        self.send_with(id, to, &self.policy.clone(), duration_secs, "sent")
            .await;
    }

    async fn send_with(
        &self,
        id: &str,
        to: &str,
        policy: &str,
        duration_secs: Option<i64>,
        status: &str,
    ) {
        let now = self.clock_now();
        let m = MessageRow {
            id: id.into(),
            account_id: self.acct.id,
            space_id: self.acct.default_space.clone(),
            direction: opencams_domain::Direction::Out,
            sender: "8613600000000".into(),
            recipient: to.into(),
            send_type: opencams_domain::SendType::Message,
            message_type: "text".into(),
            body: "{}".into(),
            fallback_id: Some(policy.into()),
            fallback_content: Some(format!("fallback for {id}")),
            fallback_duration: duration_secs,
            provider_id: Some(format!("wamid.{id}")),
            status: opencams_domain::MessageStatus::parse(status).unwrap(),
            created_at: now,
            updated_at: now,
            ..Default::default()
        };
        self.store.insert_messages(vec![m], vec![]).await.unwrap();
    }

    fn clock_now(&self) -> i64 {
        opencams_domain::Clock::now_ms(&self.clock)
    }

    /// The provider reports `status` for message `id`.
    async fn status(&self, id: &str, status: &str) {
        let update = StatusUpdate {
            provider_id: format!("wamid.{id}"),
            message_id: Some(id.into()),
            status: opencams_domain::MessageStatus::parse(status).unwrap(),
            at: self.clock_now(),
            error_code: (status == "failed").then(|| "131026".into()),
            error_description: (status == "failed").then(|| "undeliverable".into()),
        };
        let (_, changed) = self
            .store
            .apply_status(update, Box::new(|_, _| None))
            .await
            .unwrap()
            .unwrap();
        assert!(changed, "{id} became {status}");
    }

    async fn fallback(&self, id: &str) -> FallbackRow {
        self.store.fallback(id).await.unwrap().unwrap()
    }

    /// The fallback statuses among the message's events, oldest first.
    async fn steps(&self, id: &str) -> Vec<String> {
        self.store
            .message_events(id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| {
                let v: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
                let s = v["Status"].as_str()?.to_string();
                s.starts_with("Fallback").then_some(s)
            })
            .collect()
    }

    fn sent_to(&self, to: &str) -> usize {
        self.sms.sent().iter().filter(|s| s.to == to).count()
    }
}

#[tokio::test]
async fn a_duration_timer_fires_once_when_the_clock_passes_it_and_not_before() {
    let r = rig().await;
    r.send("m1", "8613900000001", Some(60)).await;
    assert_eq!(r.fallback("m1").await.due_at, Some(T0 + 60_000));
    assert_eq!(r.worker.tick().await, 0, "not due at once");
    r.clock.advance_ms(59_999);
    assert_eq!(r.worker.tick().await, 0, "not due a millisecond early");
    assert_eq!(r.sent_to("8613900000001"), 0);
    r.clock.advance_ms(1);
    assert_eq!(r.worker.tick().await, 1, "due on the dot");
    let sent = r.sms.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].from.as_str(),
            sent[0].text.as_str(),
            sent[0].reference.as_str()
        ),
        ("ACME", "fallback for m1", "m1")
    );
    let f = r.fallback("m1").await;
    assert_eq!(
        (f.state.as_str(), f.sms_ids.clone()),
        ("sent", vec!["sms-1".to_string()])
    );
    assert_eq!(r.steps("m1").await, vec!["FallbackSent"]);
    // fires once: later passes and a later delivered receipt change nothing
    assert_eq!(r.worker.tick().await, 0);
    r.clock.advance_ms(3_600_000);
    r.status("m1", "delivered").await;
    assert_eq!(r.worker.tick().await, 0);
    assert_eq!(r.sms.sent().len(), 1, "exactly one SMS");
    assert_eq!(
        r.fallback("m1").await.state,
        opencams_domain::FallbackState::Sent
    );
}

#[tokio::test]
async fn a_delivered_receipt_before_the_timer_cancels_it() {
    let r = rig().await;
    r.send("m1", "8613900000000", Some(60)).await;
    r.clock.advance_ms(10_000);
    r.status("m1", "delivered").await;
    assert_eq!(r.worker.tick().await, 1, "claimed to be cancelled");
    assert_eq!(
        r.fallback("m1").await.state,
        opencams_domain::FallbackState::Cancelled
    );
    assert_eq!(r.steps("m1").await, vec!["FallbackCancelled"]);
    r.clock.advance_ms(3_600_000);
    assert_eq!(r.worker.tick().await, 0);
    assert!(r.sms.sent().is_empty(), "no SMS for a delivered message");
}

#[tokio::test]
async fn an_armed_fallback_fires_when_the_message_fails_or_expires_and_not_otherwise() {
    let r = rig().await;
    r.send("fails", "8613900000002", None).await;
    r.send("delivered", "8613900000003", None).await;
    r.send_with(
        "expired",
        "8613900000004",
        &r.policy.clone(),
        None,
        "expired",
    )
    .await;
    assert_eq!(
        r.fallback("fails").await.state,
        opencams_domain::FallbackState::Armed
    );
    // only the expired one is due; time alone fires nothing
    assert_eq!(r.worker.tick().await, 1);
    assert_eq!(r.sent_to("8613900000004"), 1);
    r.clock.advance_ms(24 * 3_600_000);
    assert_eq!(r.worker.tick().await, 0, "an armed fallback has no timer");
    r.status("delivered", "delivered").await;
    r.status("fails", "failed").await;
    assert_eq!(r.worker.tick().await, 2);
    assert_eq!(r.sent_to("8613900000002"), 1, "the failed one fell back");
    assert_eq!(r.sent_to("8613900000003"), 0, "the delivered one did not");
    assert_eq!(
        r.fallback("fails").await.state,
        opencams_domain::FallbackState::Sent
    );
    assert_eq!(
        r.fallback("delivered").await.state,
        opencams_domain::FallbackState::Cancelled
    );
    assert_eq!(r.steps("fails").await, vec!["FallbackSent"]);
    assert_eq!(r.steps("delivered").await, vec!["FallbackCancelled"]);
    assert_eq!(r.worker.tick().await, 0);
    assert_eq!(r.sms.sent().len(), 2);
}

#[tokio::test]
async fn a_retryable_sms_failure_backs_off_and_a_permanent_one_ends_failed() {
    let r = rig().await;
    r.send("m1", "8613900000001", Some(60)).await;
    r.clock.advance_ms(60_000);
    r.sms.then(Err(SmsError {
        code: "0x00000058".into(),
        description: "throttled".into(),
        retryable: true,
    }));
    assert_eq!(r.worker.tick().await, 1);
    let f = r.fallback("m1").await;
    let now = r.clock_now();
    assert_eq!((f.state.as_str(), f.attempts), ("scheduled", 1));
    let due = f.due_at.unwrap();
    assert!(
        (now + RETRY_BASE_MS / 2..=now + RETRY_BASE_MS).contains(&due),
        "first retry within the first backoff step: due {} ms after now",
        due - now
    );
    assert!(
        r.steps("m1").await.is_empty(),
        "a retry is no step of its own"
    );
    r.clock.advance_ms(due - now - 1);
    assert_eq!(r.worker.tick().await, 0, "not retried before its backoff");
    r.clock.advance_ms(1);
    r.sms.then(Err(SmsError {
        code: "0x0000000B".into(),
        description: "invalid destination".into(),
        retryable: false,
    }));
    assert_eq!(r.worker.tick().await, 1, "retried when due");
    let f = r.fallback("m1").await;
    assert_eq!((f.state.as_str(), f.attempts), ("failed", 2));
    assert_eq!(r.steps("m1").await, vec!["FallbackFailed"]);
    r.clock.advance_ms(3_600_000);
    assert_eq!(r.worker.tick().await, 0, "a permanent failure is final");
    assert!(r.sms.sent().is_empty());
}

#[tokio::test]
async fn a_deleted_policy_ends_the_fallback_failed() {
    let r = rig().await;
    let doomed = r
        .store
        .create_policy(
            NewPolicy {
                account_id: r.acct.id,
                name: "old".into(),
                channel: "sms".into(),
                sender_id: "OLD".into(),
                connection: Secret::new(r#"{"kind":"fake"}"#),
            },
            T0,
        )
        .await
        .unwrap();
    r.store
        .delete_policy(r.acct.id, &doomed.id, T0)
        .await
        .unwrap();
    r.send_with("m1", "8613900000001", &doomed.id, Some(60), "sent")
        .await;
    r.clock.advance_ms(60_000);
    assert_eq!(r.worker.tick().await, 1);
    let f = r.fallback("m1").await;
    assert_eq!(
        (f.state.as_str(), f.error.as_deref()),
        ("failed", Some("policy deleted"))
    );
    assert_eq!(r.steps("m1").await, vec!["FallbackFailed"]);
    assert!(r.sms.sent().is_empty());
}

#[tokio::test]
async fn delivery_reports_close_sent_fallbacks() {
    let r = rig().await;
    r.send("ok", "8613900000001", Some(60)).await;
    r.send("lost", "8613900000002", Some(60)).await;
    r.clock.advance_ms(60_000);
    assert_eq!(r.worker.tick().await, 2);
    let id_of = |m: FallbackRow| m.sms_ids[0].clone();
    let (ok_sms, lost_sms) = (
        id_of(r.fallback("ok").await),
        id_of(r.fallback("lost").await),
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let reports = tokio::spawn(receive_reports(
        r.store.clone(),
        Arc::new(r.clock.clone()),
        rx,
    ));
    for (id, delivered, stat) in [(ok_sms, true, "DELIVRD"), (lost_sms, false, "UNDELIV")] {
        tx.send(DeliveryReport {
            id,
            delivered,
            stat: stat.into(),
            err: if delivered { "000" } else { "001" }.into(),
        })
        .unwrap();
    }
    // a report for an SMS that is not ours changes nothing
    tx.send(DeliveryReport {
        id: "sms-unknown".into(),
        delivered: true,
        stat: "DELIVRD".into(),
        err: String::new(),
    })
    .unwrap();
    drop(tx);
    // reports are recorded by tasks of their own: wait (briefly) for both
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while r.fallback("ok").await.state == opencams_domain::FallbackState::Sent
        || r.fallback("lost").await.state == opencams_domain::FallbackState::Sent
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reports not recorded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reports.await.unwrap();
    assert_eq!(
        r.fallback("ok").await.state,
        opencams_domain::FallbackState::Delivered
    );
    assert_eq!(
        r.fallback("lost").await.state,
        opencams_domain::FallbackState::Failed
    );
    assert_eq!(
        r.steps("ok").await,
        vec!["FallbackSent", "FallbackDelivered"]
    );
    assert_eq!(
        r.steps("lost").await,
        vec!["FallbackSent", "FallbackFailed"]
    );
}

#[tokio::test]
async fn the_loop_fires_a_due_timer_and_drains_on_shutdown() {
    let r = rig().await;
    r.send("m1", "8613900000001", Some(60)).await;
    r.clock.advance_ms(60_000);
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(r.worker.clone().run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while r.fallback("m1").await.state != opencams_domain::FallbackState::Sent {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the loop never fired"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    task.await.unwrap();
    assert_eq!(r.sms.sent().len(), 1);
}
