//! What the console's overview reads besides the message counts: the messages waiting in the
//! queue per sender number (leased and retrying ones included, sent and ended ones not), and the
//! SMS fallbacks of an account's messages per hour of the message and state.

use opencams_domain::{Direction, FallbackState, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const HOUR: i64 = 3_600_000;

fn outbound(account: &Account, id: &str, sender: &str, at: i64) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: account.id,
        space_id: account.default_space.clone(),
        direction: Direction::Out,
        sender: sender.into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        status: MessageStatus::Accepted,
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn waiting(sender: &str, count: u64, oldest_at: i64) -> Waiting {
    Waiting {
        sender: sender.into(),
        count,
        oldest_at,
    }
}

pub async fn waiting_counts_one_accounts_queued_messages_per_sender(place: Place) {
    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let globex = store.create_account("globex", 2).await.unwrap();
    let (a, b, g) = ("8613600000001", "8613600000002", "8613600000009");
    let mut delivered = outbound(&acme, "a-delivered", a, 5);
    delivered.status = MessageStatus::Delivered;
    let mut inbound = outbound(&acme, "a-in", a, 6);
    inbound.direction = Direction::In;
    inbound.status = MessageStatus::Received;
    let messages = vec![
        // inserted out of time order: the oldest is found whatever the order
        outbound(&acme, "a1", a, 100),
        outbound(&acme, "a2", a, 50),
        outbound(&acme, "a3", a, 300),
        outbound(&acme, "b1", b, 70),
        // neither queued: not waiting
        delivered,
        inbound,
        // another account's
        outbound(&globex, "g1", g, 10),
    ];
    store.insert_messages(messages, vec![]).await.unwrap();
    assert_eq!(
        store.waiting(acme.id).await.unwrap(),
        vec![waiting(a, 3, 50), waiting(b, 1, 70)]
    );
    assert_eq!(
        store.waiting(globex.id).await.unwrap(),
        vec![waiting(g, 1, 10)]
    );
    assert!(store.waiting(globex.id + 1000).await.unwrap().is_empty());

    // leased, or back for a retry: still waiting; sent or ended: not any more
    let claimed = store.claim_due("w", 1_000, 60_000, 100).await.unwrap();
    assert_eq!(claimed.len(), 5);
    assert_eq!(
        store.waiting(acme.id).await.unwrap(),
        vec![waiting(a, 3, 50), waiting(b, 1, 70)],
        "leased messages wait until they are settled"
    );
    let settle = async |id: &str, outcome: Settlement| {
        assert!(store.settle(id, "w", outcome, 1_001).await.unwrap(), "{id}");
    };
    settle(
        "a2",
        Settlement::Submitted {
            provider_id: "wamid.a2".into(),
        },
    )
    .await;
    settle(
        "a1",
        Settlement::Retry {
            due_at: 5_000,
            error: "busy".into(),
        },
    )
    .await;
    settle(
        "b1",
        Settlement::Ended {
            status: MessageStatus::Failed,
            error_code: "131026".into(),
            error_description: "undeliverable".into(),
            event: None,
        },
    )
    .await;
    assert_eq!(
        store.waiting(acme.id).await.unwrap(),
        vec![waiting(a, 2, 100)]
    );
    assert_eq!(
        store.waiting(globex.id).await.unwrap(),
        vec![waiting(g, 1, 10)],
        "another account's queue is its own"
    );
}

fn fallbacks(hour_ms: i64, state: FallbackState, count: u64) -> HourlyFallbacks {
    HourlyFallbacks {
        hour_ms,
        state,
        count,
    }
}

pub async fn hourly_fallbacks_count_one_accounts_fallbacks_by_hour_and_state(place: Place) {
    use FallbackState::{Armed, Cancelled, Scheduled, Sent};

    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let globex = store.create_account("globex", 2).await.unwrap();
    let sender = "8613600000001";
    // the start of an hour in November 2023
    let base = 472_222 * HOUR;
    let with_fallback = |account: &Account, id: &str, at: i64, duration: Option<i64>| {
        let mut m = outbound(account, id, sender, at);
        m.fallback_id = Some("S_000001".into());
        m.fallback_duration = duration;
        m
    };
    let mut inbound = with_fallback(&acme, "a-in", base, None);
    inbound.direction = Direction::In;
    inbound.status = MessageStatus::Received;
    let messages = vec![
        // hour 0, its first and last millisecond: armed until the message fails, or on a timer
        with_fallback(&acme, "a1", base, None),
        with_fallback(&acme, "a2", base + HOUR - 1, Some(60)),
        with_fallback(&acme, "a3", base + 10, Some(60)),
        // hour 2
        with_fallback(&acme, "a4", base + 2 * HOUR, Some(60)),
        // outside [base, base + 3h)
        with_fallback(&acme, "a5", base - 1, None),
        with_fallback(&acme, "a6", base + 3 * HOUR, None),
        // before 1970: floored to its hour
        with_fallback(&acme, "a7", -1, None),
        // no fallback, or inbound: none
        outbound(&acme, "a8", sender, base + 20),
        inbound,
        // another account's, in the same hour
        with_fallback(&globex, "g1", base + 1, None),
    ];
    store.insert_messages(messages, vec![]).await.unwrap();
    assert_eq!(
        store
            .hourly_fallbacks(acme.id, base, base + 3 * HOUR)
            .await
            .unwrap(),
        vec![
            fallbacks(base, Armed, 1),
            fallbacks(base, Scheduled, 2),
            fallbacks(base + 2 * HOUR, Scheduled, 1),
        ]
    );
    assert_eq!(
        store
            .hourly_fallbacks(globex.id, base, base + 3 * HOUR)
            .await
            .unwrap(),
        vec![fallbacks(base, Armed, 1)]
    );

    // fired and cancelled ones stay in the hour of their message, under their new state
    let due = base + 3 * HOUR;
    let claimed = store.claim_fallbacks("f", due, 60_000, 100).await.unwrap();
    let mut ids: Vec<&str> = claimed.iter().map(|(f, _)| f.message_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a2", "a3", "a4"], "the due timers");
    let outcome = |state: FallbackState| FallbackOutcome {
        state,
        due_at: None,
        sms_ids: vec![],
        text: None,
        error: None,
    };
    for (id, state) in [("a2", Sent), ("a3", Cancelled), ("a4", Sent)] {
        assert!(
            store
                .settle_fallback(id, "f", outcome(state), vec![], due)
                .await
                .unwrap()
        );
    }
    assert_eq!(
        store
            .hourly_fallbacks(acme.id, base, base + 3 * HOUR)
            .await
            .unwrap(),
        vec![
            fallbacks(base, Armed, 1),
            fallbacks(base, Cancelled, 1),
            fallbacks(base, Sent, 1),
            fallbacks(base + 2 * HOUR, Sent, 1),
        ]
    );
    // half-open, and a range inside an hour counts its part under the hour's start
    assert_eq!(
        store
            .hourly_fallbacks(acme.id, base + 5, base + HOUR)
            .await
            .unwrap(),
        vec![fallbacks(base, Cancelled, 1), fallbacks(base, Sent, 1)]
    );
    assert_eq!(
        store
            .hourly_fallbacks(acme.id, base + 3 * HOUR, base + 3 * HOUR + 1)
            .await
            .unwrap(),
        vec![fallbacks(base + 3 * HOUR, Armed, 1)]
    );
    assert_eq!(
        store
            .hourly_fallbacks(acme.id, base - 1, base)
            .await
            .unwrap(),
        vec![fallbacks(base - HOUR, Armed, 1)]
    );
    assert_eq!(
        store.hourly_fallbacks(acme.id, -HOUR, 0).await.unwrap(),
        vec![fallbacks(-HOUR, Armed, 1)]
    );
    assert!(
        store
            .hourly_fallbacks(globex.id + 1000, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}
