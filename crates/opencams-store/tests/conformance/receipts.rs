//! The events aggregate: routing events to endpoint outboxes (number over space),
//! claiming in event order with leases, retry bookkeeping, disabling and re-enabling, replay,
//! and the message history query.

use std::sync::Arc;

use opencams_domain::{Direction, EventKind, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const FROM: &str = "8613600000000";

async fn setup(place: &Place) -> (Arc<dyn Store>, Account) {
    let store = place.open().await;
    let acct = store.create_account("acme", 1).await.unwrap();
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
    (store, acct)
}

fn message(acct: &Account, id: &str, to: &str, at: i64) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        direction: Direction::Out,
        sender: FROM.into(),
        recipient: to.into(),
        send_type: SendType::Template,
        message_type: "template".into(),
        template_code: Some("tc".into()),
        body: "{}".into(),
        status: MessageStatus::Sent,
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn status(acct: &Account, id: &str, st: &str) -> NewEvent {
    NewEvent {
        account_id: acct.id,
        kind: EventKind::Status,
        message_id: Some(id.into()),
        payload: format!(r#"{{"MessageId":"{id}","Status":"{st}"}}"#),
    }
}

fn update(acct: &Account, phone: &str, url: &str) -> WebhookUpdate {
    WebhookUpdate {
        space_id: acct.default_space.clone(),
        phone: phone.into(),
        account_id: acct.id,
        status_url: Some(Some(url.into())),
        ..Default::default()
    }
}

pub async fn outbox_keeps_event_order_leases_retries_disables_and_replays(place: Place) {
    let (store, acct) = setup(&place).await;
    // no destination yet: routed past (in passes of at most `limit`), nothing enqueued
    store
        .insert_messages(
            vec![message(&acct, "m0", "1", 10)],
            vec![
                status(&acct, "m0", "Sent"),
                status(&acct, "m0", "Delivered"),
                status(&acct, "m0", "Read"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(store.route_events(2, 11).await.unwrap(), 2);
    assert_eq!(store.route_events(2, 11).await.unwrap(), 1);
    assert_eq!(store.route_events(2, 11).await.unwrap(), 0);
    assert!(store.list_endpoints(None).await.unwrap().is_empty());

    store
        .set_webhook(update(&acct, "", "https://space.example/cb"), 12)
        .await
        .unwrap();
    let s = store
        .set_webhook(update(&acct, FROM, "https://number.example/cb"), 12)
        .await
        .unwrap();
    assert_eq!((s.http_flag, s.queue_flag), (None, None));
    let events: Vec<NewEvent> = ["Sent", "Delivered", "Read"]
        .iter()
        .map(|st| status(&acct, "m1", st))
        .collect();
    store
        .insert_messages(vec![message(&acct, "m1", "2", 20)], events)
        .await
        .unwrap();
    assert_eq!(store.route_events(2, 21).await.unwrap(), 2);
    assert_eq!(store.route_events(100, 21).await.unwrap(), 1);
    let eps = store.list_endpoints(Some(acct.id)).await.unwrap();
    assert_eq!(eps.len(), 1, "the number's URL overrides the space's");
    assert_eq!(
        (eps[0].url.as_str(), eps[0].pending),
        ("https://number.example/cb", 3)
    );

    // one holder at a time, oldest first, batches of 2
    let c = store.claim_endpoints("a", 30, 1000, 10, 2).await.unwrap();
    assert_eq!(c.len(), 1);
    let statuses: Vec<&str> = c[0]
        .records
        .iter()
        .map(|r| {
            if r.payload.contains("Sent") {
                "Sent"
            } else {
                "Delivered"
            }
        })
        .collect();
    assert_eq!(statuses, ["Sent", "Delivered"]);
    assert!(c[0].secret.expose().starts_with("whsec_"));
    assert!(
        store
            .claim_endpoints("b", 31, 1000, 10, 2)
            .await
            .unwrap()
            .is_empty()
    );
    let ids: Vec<i64> = c[0].records.iter().map(|r| r.event_id).collect();
    let ep = c[0].endpoint.id;
    // a stale holder cannot settle
    assert!(
        store
            .settle_endpoint(
                ep,
                "b",
                DeliveryOutcome::Delivered {
                    event_ids: ids.clone(),
                    status: Some(200),
                    answer: String::new(),
                },
                32
            )
            .await
            .unwrap()
            .is_none()
    );
    let fail = |at: i64| DeliveryOutcome::Failed {
        event_ids: ids.clone(),
        status: Some(500),
        answer: String::new(),
        error: "HTTP 500".into(),
        retry_at: at + 100,
        disable_after: 3,
        disable_span_ms: 50,
    };
    let e = store
        .settle_endpoint(ep, "a", fail(33), 33)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.failures, e.enabled, e.pending), (1, true, 3));
    // backing off: not claimable until due
    assert!(
        store
            .claim_endpoints("a", 100, 1000, 10, 2)
            .await
            .unwrap()
            .is_empty()
    );
    for at in [140, 260] {
        let c = store.claim_endpoints("a", at, 1000, 10, 2).await.unwrap();
        assert_eq!(
            c[0].records[0].event_id, ids[0],
            "the head is retried first"
        );
        store.settle_endpoint(ep, "a", fail(at), at).await.unwrap();
    }
    let e = &store.list_endpoints(None).await.unwrap()[0];
    assert!(!e.enabled);
    assert!(
        e.disabled_reason
            .as_deref()
            .unwrap()
            .contains("3 consecutive"),
        "{e:?}"
    );
    assert!(
        store
            .claim_endpoints("a", 10_000, 1000, 10, 2)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store
            .enable_endpoints("https://number.example/cb", None, 400)
            .await
            .unwrap(),
        1
    );
    let c = store.claim_endpoints("a", 400, 1000, 10, 2).await.unwrap();
    store
        .settle_endpoint(
            ep,
            "a",
            DeliveryOutcome::Delivered {
                event_ids: ids.clone(),
                status: Some(200),
                answer: String::new(),
            },
            401,
        )
        .await
        .unwrap();
    assert_eq!(c[0].records.len(), 2);
    let c = store.claim_endpoints("a", 402, 1000, 10, 2).await.unwrap();
    assert!(c[0].records[0].payload.contains("Read"));
    let last = c[0].records[0].event_id;
    let e = store
        .settle_endpoint(
            ep,
            "a",
            DeliveryOutcome::Delivered {
                event_ids: vec![last],
                status: Some(200),
                answer: String::new(),
            },
            403,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.pending, e.delivered, e.failures), (0, 3, 0));

    // replay: the routed events since a time go out again (m0's three too, now that a URL exists)
    assert_eq!(store.replay_events(0, Some(acct.id), 500).await.unwrap(), 6);
    assert_eq!(
        store.replay_events(0, Some(acct.id), 500).await.unwrap(),
        0,
        "not doubled while pending"
    );
    assert_eq!(
        store
            .replay_events(0, Some(acct.id + 1), 500)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.list_endpoints(None).await.unwrap()[0].pending, 6);

    // HttpFlag=N on the number stops its deliveries
    store
        .set_webhook(
            WebhookUpdate {
                http_flag: Some(false),
                ..update(&acct, FROM, "https://number.example/cb")
            },
            600,
        )
        .await
        .unwrap();
    store
        .insert_messages(
            vec![message(&acct, "m2", "3", 600)],
            vec![status(&acct, "m2", "Sent")],
        )
        .await
        .unwrap();
    store.route_events(100, 601).await.unwrap();
    assert_eq!(store.list_endpoints(None).await.unwrap()[0].pending, 6);
    assert_eq!(store.webhooks(&acct.default_space).await.unwrap().len(), 2);
    let secret = store.callback_secret(acct.id, 700).await.unwrap();
    assert_eq!(store.callback_secret(acct.id, 701).await.unwrap(), secret);
}

pub async fn message_history_filters_and_pages(place: Place) {
    let (store, acct) = setup(&place).await;
    let mut rows = Vec::new();
    for i in 0..5 {
        let mut m = message(
            &acct,
            &format!("m{i}"),
            if i < 3 { "111" } else { "222" },
            100 + i,
        );
        m.status = if i == 4 {
            MessageStatus::Failed
        } else {
            MessageStatus::Read
        };
        m.group_id = (i >= 3).then(|| "g1".to_string());
        m.task_id = (i == 2).then(|| "task-2".to_string());
        rows.push(m);
    }
    store.insert_messages(rows, vec![]).await.unwrap();
    let f = |g: &dyn Fn(&mut MessageFilter)| {
        let mut f = MessageFilter {
            space_id: acct.default_space.clone(),
            sender: Some(FROM.into()),
            limit: 50,
            ..Default::default()
        };
        g(&mut f);
        f
    };
    let ids = |rows: Vec<MessageRow>| rows.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_messages(f(&|_| {})).await.unwrap()),
        ["m4", "m3", "m2", "m1", "m0"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| {
                f.limit = 2;
                f.offset = 2
            }))
            .await
            .unwrap()),
        ["m2", "m1"]
    );
    // keyset paging: after m3 (as listed), then after the last of that page
    let m3 = store.message("m3").await.unwrap().unwrap();
    assert_eq!(
        ids(store
            .list_messages(f(&|f| {
                f.limit = 2;
                f.before = Some((m3.created_at, m3.id.clone()))
            }))
            .await
            .unwrap()),
        ["m2", "m1"]
    );
    let m1 = store.message("m1").await.unwrap().unwrap();
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.before = Some((m1.created_at, m1.id.clone()))))
            .await
            .unwrap()),
        ["m0"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.task_id = Some("no such task".into())))
            .await
            .unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.task_id = Some("task-2".into())))
            .await
            .unwrap()),
        ["m2"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.recipient = Some("222".into())))
            .await
            .unwrap()),
        ["m4", "m3"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.group_id = Some("g1".into())))
            .await
            .unwrap()),
        ["m4", "m3"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| f.statuses = Some(vec![MessageStatus::Failed])))
            .await
            .unwrap()),
        ["m4"]
    );
    assert_eq!(
        ids(store
            .list_messages(f(&|f| {
                f.from_ms = Some(101);
                f.to_ms = Some(102)
            }))
            .await
            .unwrap()),
        ["m2", "m1"]
    );
    assert!(
        store
            .list_messages(f(&|f| f.direction = Some(Direction::In)))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_messages(f(&|f| f.sender = Some("999".into())))
            .await
            .unwrap()
            .is_empty()
    );
}
