//! The metrics of GetChatappPhoneNumberMetric and GetChatappTemplateMetric: one space's
//! outbound messages of a period counted per sender (or template language) and UTC-aligned
//! bucket as sent, delivered and read; and the taps on a template's quick-reply buttons.

use opencams_domain::{Direction, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const HALF_HOUR: i64 = 1_800_000;
const DAY: i64 = 86_400_000;
/// The start of a UTC day (2023-11-14).
const BASE: i64 = 19_675 * DAY;

fn message(space: &str, id: &str, sender: &str, at: i64, status: MessageStatus) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: 1,
        space_id: space.into(),
        direction: Direction::Out,
        sender: sender.into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        status,
        // a message the Cloud API took has a wamid
        provider_id: (status != MessageStatus::Accepted && status != MessageStatus::Expired)
            .then(|| format!("wamid.{id}")),
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn count(key: &str, bucket_ms: i64, sent: u64, delivered: u64, read: u64) -> MetricCount {
    MetricCount {
        key: key.into(),
        bucket_ms,
        sent,
        delivered,
        read,
    }
}

fn query(space: &str, from: i64, to: i64, bucket_ms: i64) -> MetricQuery {
    MetricQuery {
        space_id: space.into(),
        from,
        to,
        bucket_ms,
    }
}

pub async fn number_metrics_count_one_spaces_messages_per_sender_and_bucket(place: Place) {
    use MessageStatus::{Accepted, Delivered, Expired, Failed, Read, Received, Sent};

    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let other_space = store.create_space(acme.id, "second", 2).await.unwrap();
    let globex = store.create_account("globex", 3).await.unwrap();
    let sp = acme.default_space.as_str();
    let (a, b) = ("8613600000001", "8613600000002");
    let m = |id: &str, sender: &str, at: i64, status| message(sp, id, sender, at, status);

    // Taken by the Cloud API but failed afterwards: sent, never delivered. Failed before it had
    // a wamid (refused): not sent.
    let mut refused = m("a-refused", a, BASE + 4, Failed);
    refused.provider_id = None;
    // waiting for its `sent` receipt: not counted yet
    let mut submitted = m("a-submitted", a, BASE + 5, Accepted);
    submitted.provider_id = Some("wamid.a-submitted".into());
    let mut inbound = m("a-in", a, BASE + 6, Received);
    inbound.direction = Direction::In;
    let messages = vec![
        // bucket 0 of a, its first and last millisecond
        m("a1", a, BASE, Sent),
        m("a2", a, BASE + HALF_HOUR - 1, Delivered),
        m("a3", a, BASE + 1, Read),
        m("a4", a, BASE + 2, Failed),
        m("a5", a, BASE + 3, Accepted),
        refused,
        submitted,
        inbound,
        m("a6", a, BASE + 7, Expired),
        // bucket 1 of a
        m("a7", a, BASE + HALF_HOUR, Read),
        // bucket 3 of b; bucket 2 holds nothing
        m("b1", b, BASE + 3 * HALF_HOUR + 10, Delivered),
        // outside [BASE, BASE + 2h)
        m("a8", a, BASE - 1, Read),
        m("a9", a, BASE + 4 * HALF_HOUR, Read),
        // another space's (of the same account, with the same sender) and another account's
        message(&other_space.id, "s1", a, BASE + 1, Read),
        message(&globex.default_space, "g1", a, BASE + 1, Read),
    ];
    store.insert_messages(messages, vec![]).await.unwrap();

    let all = store
        .number_metrics(query(sp, BASE, BASE + 4 * HALF_HOUR, HALF_HOUR), None)
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![
            count(a, BASE, 4, 2, 1),
            count(a, BASE + HALF_HOUR, 1, 1, 1),
            count(b, BASE + 3 * HALF_HOUR, 1, 1, 0),
        ]
    );
    let only_b = store
        .number_metrics(
            query(sp, BASE, BASE + 4 * HALF_HOUR, HALF_HOUR),
            Some(b.into()),
        )
        .await
        .unwrap();
    assert_eq!(only_b, vec![count(b, BASE + 3 * HALF_HOUR, 1, 1, 0)]);

    // a day: the whole period in one bucket; the start is inclusive, the end exclusive
    let day = store
        .number_metrics(
            query(sp, BASE, BASE + 4 * HALF_HOUR + 1, DAY),
            Some(a.into()),
        )
        .await
        .unwrap();
    assert_eq!(day, vec![count(a, BASE, 6, 4, 3)]);
    let before = store
        .number_metrics(query(sp, BASE - DAY, BASE + DAY, DAY), Some(a.into()))
        .await
        .unwrap();
    assert_eq!(
        before,
        vec![count(a, BASE - DAY, 1, 1, 1), count(a, BASE, 6, 4, 3)]
    );

    // the other space and the other account see only their own
    assert_eq!(
        store
            .number_metrics(query(&other_space.id, BASE, BASE + DAY, DAY), None)
            .await
            .unwrap(),
        vec![count(a, BASE, 1, 1, 1)]
    );
    assert_eq!(
        store
            .number_metrics(query(&globex.default_space, BASE, BASE + DAY, DAY), None)
            .await
            .unwrap(),
        vec![count(a, BASE, 1, 1, 1)]
    );
    assert!(
        store
            .number_metrics(query("cams-nosuchspace", BASE, BASE + DAY, DAY), None)
            .await
            .unwrap()
            .is_empty()
    );

    // a status that arrives later moves the message between the sums of its own bucket
    let update = StatusUpdate {
        provider_id: "wamid.a1".into(),
        message_id: None,
        status: Read,
        at: BASE + DAY,
        error_code: None,
        error_description: None,
    };
    let no_event: EventBuilder = Box::new(|_: &MessageStatusRow, _: MessageStatus| None);
    store.apply_status(update, no_event).await.unwrap();
    assert_eq!(
        store
            .number_metrics(query(sp, BASE, BASE + HALF_HOUR, HALF_HOUR), Some(a.into()))
            .await
            .unwrap(),
        vec![count(a, BASE, 4, 3, 2)]
    );
}

fn template_message(
    space: &str,
    id: &str,
    code: &str,
    language: &str,
    at: i64,
    status: MessageStatus,
) -> MessageRow {
    let mut m = message(space, id, "8613600000001", at, status);
    m.send_type = SendType::Template;
    m.message_type = "template".into();
    m.template_code = Some(code.into());
    m.language = Some(language.into());
    m
}

/// A user's tap on a quick-reply button of the message with wamid `context`, as ingest stores it.
fn tap(space: &str, id: &str, context: &str, text: &str, at: i64) -> MessageRow {
    let mut m = message(space, id, "8613600000001", at, MessageStatus::Received);
    m.direction = Direction::In;
    m.message_type = "button".into();
    m.context_id = Some(context.into());
    m.body = serde_json::json!({"inbound": {
        "from": "8613900000000", "id": format!("wamid.{id}"), "type": "button",
        "context": {"from": "8613600000001", "id": context},
        "button": {"payload": text.to_lowercase(), "text": text},
    }})
    .to_string();
    m
}

fn clicks(language: &str, bucket_ms: i64, text: &str, count: u64) -> ButtonClicks {
    ButtonClicks {
        language: language.into(),
        bucket_ms,
        text: text.into(),
        count,
    }
}

pub async fn template_metrics_count_a_templates_messages_and_the_taps_on_its_buttons(place: Place) {
    use MessageStatus::{Delivered, Failed, Read, Sent};

    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let other_space = store.create_space(acme.id, "second", 2).await.unwrap();
    let sp = acme.default_space.as_str();
    let t = |id: &str, code: &str, language: &str, at: i64, status| {
        template_message(sp, id, code, language, at, status)
    };
    let mut text_reply = tap(sp, "r-text", "wamid.e1", "Track", BASE + 10);
    text_reply.message_type = "text".into();
    let messages = vec![
        // day 0
        t("e1", "T1", "en_US", BASE, Read),
        t("e2", "T1", "en_US", BASE + 1, Delivered),
        t("e3", "T1", "en_US", BASE + DAY - 1, Failed),
        t("s1", "T1", "es", BASE + 2, Sent),
        t("x1", "T2", "en_US", BASE + 3, Read),
        // day 1
        t("e4", "T1", "en_US", BASE + DAY, Sent),
        // before the period: its taps in the period count, the message does not
        t("e0", "T1", "en_US", BASE - 1, Read),
        // the same code in another space
        template_message(&other_space.id, "o1", "T1", "en_US", BASE, Read),
        // a free-form message
        message(sp, "f1", "8613600000001", BASE, Read),
        // taps: two on e1's Track, one on e2's Stop, one on e0's Track on day 1, one on the
        // Spanish version
        tap(sp, "r1", "wamid.e1", "Track", BASE + 100),
        tap(sp, "r2", "wamid.e1", "Track", BASE + 200),
        tap(sp, "r3", "wamid.e2", "Stop", BASE + 300),
        tap(sp, "r4", "wamid.e0", "Track", BASE + DAY + 5),
        tap(sp, "r5", "wamid.s1", "Seguir", BASE + 400),
        // not taps on T1: on T2, on a free-form message, an unknown wamid, a text reply
        tap(sp, "r6", "wamid.x1", "Track", BASE + 500),
        tap(sp, "r7", "wamid.f1", "Track", BASE + 600),
        tap(sp, "r8", "wamid.nosuch", "Track", BASE + 700),
        text_reply,
        // a tap after the period
        tap(sp, "r9", "wamid.e1", "Track", BASE + 2 * DAY),
        // a tap in another space on that space's message
        tap(&other_space.id, "r10", "wamid.o1", "Track", BASE + 100),
    ];
    store.insert_messages(messages, vec![]).await.unwrap();

    let q = query(sp, BASE, BASE + 2 * DAY, DAY);
    let all = store
        .template_metrics(q.clone(), "T1".into(), None)
        .await
        .unwrap();
    assert_eq!(
        all.counts,
        vec![
            count("en_US", BASE, 3, 2, 1),
            count("en_US", BASE + DAY, 1, 0, 0),
            count("es", BASE, 1, 0, 0),
        ]
    );
    assert_eq!(
        all.clicks,
        vec![
            clicks("en_US", BASE, "Stop", 1),
            clicks("en_US", BASE, "Track", 2),
            clicks("en_US", BASE + DAY, "Track", 1),
            clicks("es", BASE, "Seguir", 1),
        ]
    );

    let spanish = store
        .template_metrics(q.clone(), "T1".into(), Some("es".into()))
        .await
        .unwrap();
    assert_eq!(spanish.counts, vec![count("es", BASE, 1, 0, 0)]);
    assert_eq!(spanish.clicks, vec![clicks("es", BASE, "Seguir", 1)]);

    // half hours: the taps fall in the first one
    let early = store
        .template_metrics(
            query(sp, BASE, BASE + HALF_HOUR, HALF_HOUR),
            "T1".into(),
            Some("en_US".into()),
        )
        .await
        .unwrap();
    assert_eq!(early.counts, vec![count("en_US", BASE, 2, 2, 1)]);
    assert_eq!(
        early.clicks,
        vec![
            clicks("en_US", BASE, "Stop", 1),
            clicks("en_US", BASE, "Track", 2)
        ]
    );

    let other = store
        .template_metrics(
            query(&other_space.id, BASE, BASE + DAY, DAY),
            "T1".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(other.counts, vec![count("en_US", BASE, 1, 1, 1)]);
    assert_eq!(other.clicks, vec![clicks("en_US", BASE, "Track", 1)]);

    let none = store.template_metrics(q, "T9".into(), None).await.unwrap();
    assert_eq!(none, TemplateMetrics::default());
}
