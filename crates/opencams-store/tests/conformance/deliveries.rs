//! The callback delivery log: every settled attempt is logged with its outcome, HTTP status and
//! answer (cut at 512 bytes on a char boundary), in the settle's transaction (a settle without
//! the lease logs nothing); a message's attempts are found by its events (and no other
//! message's); attempts older than seven days are purged as new ones are logged.

use std::sync::Arc;

use opencams_domain::{Direction, EventKind, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const FROM: &str = "8613600000000";
const URL: &str = "https://hooks.example/cb";
const DAY: i64 = 24 * 3_600_000;

async fn setup(place: &Place, name: &str) -> (Arc<dyn Store>, Account) {
    let store = place.open().await;
    let acct = store.create_account(name, 1).await.unwrap();
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
            1,
        )
        .await
        .unwrap();
    store
        .set_webhook(
            WebhookUpdate {
                space_id: acct.default_space.clone(),
                phone: String::new(),
                account_id: acct.id,
                status_url: Some(Some(URL.into())),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    (store, acct)
}

/// Stores a message with one status event per name and returns its event ids.
async fn message(store: &Arc<dyn Store>, acct: &Account, id: &str, statuses: &[&str]) -> Vec<i64> {
    let row = MessageRow {
        id: id.into(),
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        direction: Direction::Out,
        sender: FROM.into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Template,
        message_type: "template".into(),
        template_code: Some("tc".into()),
        body: "{}".into(),
        status: MessageStatus::Sent,
        created_at: 2,
        updated_at: 2,
        ..Default::default()
    };
    let events = statuses
        .iter()
        .map(|st| NewEvent {
            account_id: acct.id,
            kind: EventKind::Status,
            message_id: Some(id.into()),
            payload: format!(r#"{{"MessageId":"{id}","Status":"{st}"}}"#),
        })
        .collect();
    store.insert_messages(vec![row], events).await.unwrap();
    store
        .message_events(id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect()
}

/// Claims the one endpoint for `owner` at `now`, `batch` records at most; returns its id and the
/// records' event ids.
async fn claim(store: &Arc<dyn Store>, owner: &str, now: i64, batch: u32) -> (i64, Vec<i64>) {
    let c = store
        .claim_endpoints(owner, now, 60_000, 10, batch)
        .await
        .unwrap();
    assert_eq!(c.len(), 1, "one endpoint is due at {now}");
    let ids = c[0].records.iter().map(|r| r.event_id).collect();
    (c[0].endpoint.id, ids)
}

fn failed(event_ids: Vec<i64>, status: Option<u16>, answer: &str, now: i64) -> DeliveryOutcome {
    DeliveryOutcome::Failed {
        event_ids,
        status,
        answer: answer.into(),
        error: status.map_or_else(|| answer.to_string(), |s| format!("HTTP {s}")),
        retry_at: now,
        disable_after: i64::MAX,
        disable_span_ms: i64::MAX,
    }
}

/// What a test compares of an attempt.
fn summary(a: &DeliveryAttempt) -> (AttemptOutcome, Option<u16>, &str, Vec<i64>, usize, i64) {
    (
        a.outcome,
        a.status,
        a.answer.as_str(),
        a.event_ids.clone(),
        a.records,
        a.at,
    )
}

pub async fn attempts_are_logged_with_their_answers_and_found_per_message(place: Place) {
    let (store, acct) = setup(&place, "acme").await;
    let m1 = message(&store, &acct, "m1", &["Sent", "Delivered"]).await;
    let m2 = message(&store, &acct, "m2", &["Sent", "Delivered"]).await;
    let quiet = message(&store, &acct, "m3", &["Sent"]).await;
    assert!(store.route_events(100, 10).await.unwrap() >= 5);
    assert!(store.message_deliveries(&m1).await.unwrap().is_empty());
    assert!(store.message_deliveries(&[]).await.unwrap().is_empty());

    // the first batch: m1's two events and m2's first
    let (ep, ids) = claim(&store, "a", 100, 3).await;
    assert_eq!(ids, [m1[0], m1[1], m2[0]]);
    // a settle without the lease changes nothing and logs nothing
    let stale = DeliveryOutcome::Delivered {
        event_ids: ids.clone(),
        status: Some(200),
        answer: "late".into(),
    };
    assert!(
        store
            .settle_endpoint(ep, "b", stale, 101)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.message_deliveries(&m1).await.unwrap().is_empty());

    let busy = r#"<html>busy & "down"</html>"#;
    let e = store
        .settle_endpoint(ep, "a", failed(ids.clone(), Some(503), busy, 110), 110)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e.failures, e.last_error.as_deref(), e.pending),
        (1, Some("HTTP 503"), 5)
    );
    // no answer at all: no status, the error is the answer
    let (_, again) = claim(&store, "a", 120, 3).await;
    assert_eq!(again, ids, "a failed batch is retried whole");
    let refused = "error sending request: connection refused";
    store
        .settle_endpoint(ep, "a", failed(ids.clone(), None, refused, 120), 120)
        .await
        .unwrap()
        .unwrap();
    claim(&store, "a", 130, 3).await;
    let ok = DeliveryOutcome::Delivered {
        event_ids: ids.clone(),
        status: Some(200),
        answer: "{\"ok\":true}".into(),
    };
    let e = store
        .settle_endpoint(ep, "a", ok, 130)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.failures, e.delivered, e.pending), (0, 3, 2));
    // m2's second event is dropped (too large for any body), m3's delivered on its own
    let (_, head) = claim(&store, "a", 140, 1).await;
    assert_eq!(head, [m2[1]]);
    let dropped = DeliveryOutcome::Dropped {
        event_ids: head,
        reason: "event is larger than a callback body may be; dropped".into(),
    };
    store
        .settle_endpoint(ep, "a", dropped, 140)
        .await
        .unwrap()
        .unwrap();
    let (_, head) = claim(&store, "a", 150, 1).await;
    assert_eq!(head, quiet);
    let ok = DeliveryOutcome::Delivered {
        event_ids: head,
        status: Some(204),
        answer: String::new(),
    };
    store.settle_endpoint(ep, "a", ok, 150).await.unwrap();

    // m1: the three attempts of its batch, oldest first, each naming its events of m1 only
    let found = store.message_deliveries(&m1).await.unwrap();
    let got: Vec<_> = found.iter().map(summary).collect();
    assert_eq!(
        got,
        [
            (AttemptOutcome::Failed, Some(503), busy, m1.clone(), 3, 110),
            (AttemptOutcome::Failed, None, refused, m1.clone(), 3, 120),
            (
                AttemptOutcome::Delivered,
                Some(200),
                "{\"ok\":true}",
                m1.clone(),
                3,
                130
            ),
        ]
    );
    assert!(found.iter().all(|a| a.url == URL && a.endpoint_id == ep));
    // m2: the same three (for its first event), then its own drop
    let got: Vec<_> = store
        .message_deliveries(&m2)
        .await
        .unwrap()
        .iter()
        .map(|a| (a.outcome, a.status, a.event_ids.clone(), a.at))
        .collect();
    assert_eq!(
        got,
        [
            (AttemptOutcome::Failed, Some(503), vec![m2[0]], 110),
            (AttemptOutcome::Failed, None, vec![m2[0]], 120),
            (AttemptOutcome::Delivered, Some(200), vec![m2[0]], 130),
            (AttemptOutcome::Dropped, None, vec![m2[1]], 140),
        ]
    );
    let last = store.message_deliveries(&m2).await.unwrap().pop().unwrap();
    assert!(
        last.answer.contains("larger than a callback body"),
        "{last:?}"
    );
    // m3: its one delivery, not the batch before it
    let found = store.message_deliveries(&quiet).await.unwrap();
    let got: Vec<_> = found.iter().map(summary).collect();
    assert_eq!(
        got,
        [(
            AttemptOutcome::Delivered,
            Some(204),
            "",
            quiet.clone(),
            1,
            150
        )]
    );

    // another account's message with its own endpoint sees only its own attempts
    let other = store.create_account("globex", 1).await.unwrap();
    store
        .set_webhook(
            WebhookUpdate {
                space_id: other.default_space.clone(),
                phone: String::new(),
                account_id: other.id,
                status_url: Some(Some(URL.into())),
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();
    let row = MessageRow {
        id: "g1".into(),
        account_id: other.id,
        space_id: other.default_space.clone(),
        direction: Direction::Out,
        sender: "8613600000001".into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Template,
        message_type: "template".into(),
        body: "{}".into(),
        status: MessageStatus::Sent,
        created_at: 2,
        updated_at: 2,
        ..Default::default()
    };
    let event = NewEvent {
        account_id: other.id,
        kind: EventKind::Status,
        message_id: Some("g1".into()),
        payload: r#"{"MessageId":"g1","Status":"Sent"}"#.into(),
    };
    store.insert_messages(vec![row], vec![event]).await.unwrap();
    let g1: Vec<i64> = store
        .message_events("g1")
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    store.route_events(100, 160).await.unwrap();
    assert!(store.message_deliveries(&g1).await.unwrap().is_empty());
    let (theirs, ids) = claim(&store, "a", 170, 10).await;
    assert_ne!(theirs, ep, "the same URL is another account's endpoint");
    let ok = DeliveryOutcome::Delivered {
        event_ids: ids,
        status: Some(200),
        answer: "globex".into(),
    };
    store.settle_endpoint(theirs, "a", ok, 170).await.unwrap();
    let found = store.message_deliveries(&g1).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|a| (a.endpoint_id, a.answer.as_str()))
            .collect::<Vec<_>>(),
        [(theirs, "globex")]
    );
    assert_eq!(store.message_deliveries(&m1).await.unwrap().len(), 3);
}

pub async fn answers_are_cut_at_512_bytes_on_a_char_boundary(place: Place) {
    let (store, acct) = setup(&place, "acme").await;
    let events = message(&store, &acct, "m1", &["Sent"]).await;
    store.route_events(100, 10).await.unwrap();
    // "a" then three-byte chars: 512 bytes would end inside one, so 511 are kept
    let long = format!("a{}", "€".repeat(200));
    let (ep, ids) = claim(&store, "a", 100, 10).await;
    store
        .settle_endpoint(ep, "a", failed(ids, Some(500), &long, 100), 100)
        .await
        .unwrap();
    // exactly 512 bytes of two-byte chars: kept whole
    let (_, ids) = claim(&store, "a", 110, 10).await;
    let exact = "é".repeat(256);
    let ok = DeliveryOutcome::Delivered {
        event_ids: ids,
        status: Some(200),
        answer: format!("{exact}é"),
    };
    store.settle_endpoint(ep, "a", ok, 110).await.unwrap();
    let found = store.message_deliveries(&events).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].answer.len(), 511);
    assert_eq!(found[0].answer, format!("a{}", "€".repeat(170)));
    assert_eq!(found[1].answer, exact);
    assert_eq!(ATTEMPT_ANSWER_MAX, 512);
}

pub async fn attempts_older_than_seven_days_are_purged_as_new_ones_are_logged(place: Place) {
    let (store, acct) = setup(&place, "acme").await;
    let old = message(&store, &acct, "old", &["Sent"]).await;
    let mid = message(&store, &acct, "mid", &["Sent"]).await;
    let new = message(&store, &acct, "new", &["Sent"]).await;
    store.route_events(100, 10).await.unwrap();
    let t0 = 1_000;
    for (at, events) in [(t0, &old), (t0 + 2 * DAY, &mid)] {
        let (ep, ids) = claim(&store, "a", at, 1).await;
        assert_eq!(&ids, events);
        let dropped = DeliveryOutcome::Dropped {
            event_ids: ids,
            reason: "too large".into(),
        };
        store.settle_endpoint(ep, "a", dropped, at).await.unwrap();
    }
    // eight days on: `old` is past the seven kept, `mid` is not. The purge runs now and then
    // (one settle in ATTEMPTS_PURGE_EVERY), not on every settle
    let now = t0 + 8 * DAY;
    let mut attempts = 0;
    while !store.message_deliveries(&old).await.unwrap().is_empty() {
        assert!(
            attempts <= 2 * ATTEMPTS_PURGE_EVERY,
            "{attempts} attempts logged and the old one is still there"
        );
        let (ep, ids) = claim(&store, "a", now, 1).await;
        assert_eq!(ids, new);
        store
            .settle_endpoint(ep, "a", failed(ids, Some(500), "busy", now), now)
            .await
            .unwrap();
        attempts += 1;
    }
    assert!(
        attempts > 1,
        "purged after {attempts} attempt(s): the purge must not run on every settle"
    );
    let kept = store.message_deliveries(&mid).await.unwrap();
    assert_eq!(kept.len(), 1, "a six-day-old attempt stays");
    assert_eq!(kept[0].at, t0 + 2 * DAY);
    let recent = store.message_deliveries(&new).await.unwrap();
    assert_eq!(
        recent.len(),
        usize::try_from(attempts).unwrap().min(MESSAGE_ATTEMPTS_MAX),
        "the latest are listed"
    );
    assert!(recent.iter().all(|a| a.at == now && a.answer == "busy"));
    assert_eq!(ATTEMPTS_KEPT_MS, 7 * DAY);
}
