//! The contracts of the aggregates but receipts, each an `async fn(Place)` that
//! [`crate::conformance!`] runs on every backend.

use opencams_domain::template::AuditStatus;
use opencams_domain::{Direction, EventKind, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

pub async fn accounts_keys_numbers_survive_restart_and_secrets_are_sealed(place: Place) {
    let store = place.open().await;
    assert!(store.is_empty().await.unwrap());
    let acct = store.create_account("acme", 1).await.unwrap();
    assert!(acct.default_space.starts_with("cams-"));
    assert!(matches!(
        store.create_account("acme", 2).await,
        Err(StoreError::Conflict(_))
    ));
    let key = store
        .create_key(
            NewKey {
                account_id: acct.id,
                actions: Some(vec!["QueryChatappPhoneNumbers".into()]),
                spaces: None,
            },
            3,
        )
        .await
        .unwrap();
    assert!(key.id.starts_with("LTAI") && key.id.len() == 24);
    assert_eq!(key.secret.expose().len(), 30);
    let number = NewNumber {
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        phone: "8613600000000".into(),
        channel: "whatsapp-cloud".into(),
        verified_name: "Acme".into(),
        throughput_mps: 80,
        cloud: Some(CloudSettings {
            phone_number_id: "1001".into(),
            waba_id: "2001".into(),
            access_token: Some(Secret::new("EAAGtokenvalue")),
            app_secret: Some(Secret::new("appsecretvalue")),
            api_base: None,
            api_version: Some("v23.0".into()),
        }),
    };
    store.add_number(number.clone(), 4).await.unwrap();
    assert!(matches!(
        store.add_number(number, 5).await,
        Err(StoreError::Conflict(_))
    ));
    store.set_key_enabled(&key.id, false).await.unwrap();
    store.close().await;

    // nothing secret is readable in what the backend keeps
    let kept = place.raw_contents().await;
    for secret in [key.secret.expose(), "EAAGtokenvalue", "appsecretvalue"] {
        assert!(
            !kept.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable in the store"
        );
    }

    let store = place.open().await;
    assert!(!store.is_empty().await.unwrap());
    let again = store.key(&key.id).await.unwrap().unwrap();
    assert_eq!(again.secret, key.secret);
    assert!(!again.enabled);
    assert_eq!(
        again.actions,
        Some(vec!["QueryChatappPhoneNumbers".to_string()])
    );
    assert_eq!(again.account_name, "acme");
    let n = store.number("8613600000000").await.unwrap().unwrap();
    assert_eq!(
        n.cloud.unwrap().access_token.unwrap().expose(),
        "EAAGtokenvalue"
    );
    let listed = store
        .list_numbers(NumberFilter {
            account_id: Some(acct.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    // a different master key cannot read the secrets
    store.close().await;
    let other = place.open_with(Cipher::from_key(&[1; 32])).await;
    assert!(matches!(
        other.key(&key.id).await,
        Err(StoreError::Crypto(_))
    ));
    other.close().await;
}

pub async fn group_commit_keeps_every_write_and_isolates_failures(place: Place) {
    let store = place.open().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = store.clone();
        // every tenth name repeats an earlier one: that write alone fails
        let name = if i % 10 == 9 {
            format!("acct-{}", i - 1)
        } else {
            format!("acct-{i}")
        };
        tasks.push(tokio::spawn(
            async move { s.create_account(&name, i).await },
        ));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((ok, conflicts), (180, 20));
    assert_eq!(store.list_accounts().await.unwrap().len(), 180);
    assert_eq!(store.list_spaces(None).await.unwrap().len(), 180);
}

pub async fn nonces_persist_until_they_expire(place: Place) {
    let store = place.open().await;
    let n = |nonce: &str, exp| NonceRecord {
        key_id: "K".into(),
        nonce: nonce.into(),
        expires_at: exp,
    };
    store
        .record_nonces(vec![n("a", 100), n("b", 200), n("a", 100)])
        .await
        .unwrap();
    let live = store.live_nonces(150).await.unwrap();
    assert_eq!(live, vec![n("b", 200)]);
}

pub async fn a_nonce_is_claimed_once_while_it_lives(place: Place) {
    let store = place.open().await;
    let n = |key: &str, nonce: &str, exp| NonceRecord {
        key_id: key.into(),
        nonce: nonce.into(),
        expires_at: exp,
    };
    // twice in one call: only the first is new; another key's same nonce is another nonce
    let fresh = store
        .claim_nonces(
            vec![n("K", "a", 100), n("K", "a", 100), n("L", "a", 100)],
            10,
        )
        .await
        .unwrap();
    assert_eq!(fresh, vec![true, false, true]);
    // from another connection (another node), while it lives: refused
    let other = place.open().await;
    let again = other
        .claim_nonces(vec![n("K", "b", 100), n("K", "a", 100)], 50)
        .await
        .unwrap();
    assert_eq!(again, vec![true, false]);
    // once it expired it may be claimed again
    assert_eq!(
        other
            .claim_nonces(vec![n("K", "a", 300)], 150)
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        store
            .claim_nonces(vec![n("K", "a", 300)], 160)
            .await
            .unwrap(),
        vec![false]
    );
}

fn tpl(space: &str, account: i64, code: &str, name: &str, lang: &str) -> TemplateWrite {
    TemplateWrite {
        account_id: account,
        space_id: space.into(),
        code: code.into(),
        name: name.into(),
        language: lang.into(),
        category: "UTILITY".into(),
        components: r#"[{"Type":"BODY","Text":"hi"}]"#.into(),
        example: "{}".into(),
        review_due_at: Some(100),
        ..Default::default()
    }
}

pub async fn templates_versions_review_list_and_delete(place: Place) {
    let s = place.open().await;
    let a = s.create_account("acme", 1).await.unwrap();
    let sp = a.default_space.clone();
    let ev = |p: &str| {
        Some(NewEvent {
            account_id: a.id,
            kind: EventKind::Audit,
            message_id: None,
            payload: p.into(),
        })
    };
    let en = s
        .insert_template(tpl(&sp, a.id, "C1", "order", "en"), ev("created"), 10)
        .await
        .unwrap();
    assert_eq!(en.audit_status, AuditStatus::Auditing);
    assert!(matches!(
        s.insert_template(tpl(&sp, a.id, "C2", "order", "en"), None, 11)
            .await,
        Err(StoreError::Conflict(_))
    ));
    s.insert_template(tpl(&sp, a.id, "C1", "order", "fr"), None, 12)
        .await
        .unwrap();
    assert_eq!(s.templates_by_code(&sp, "C1").await.unwrap().len(), 2);
    assert_eq!(s.templates_by_name(&sp, "order").await.unwrap().len(), 2);
    assert_eq!(
        s.claim_template_reviews("R", 100, 1000, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let passed = s
        .set_template_status(en.id, AuditStatus::Pass, "", ev("pass"), 20)
        .await
        .unwrap();
    assert_eq!(
        (passed.audit_status.as_str(), passed.review_due_at),
        ("pass", None)
    );
    let modified = s
        .modify_template(en.id, tpl(&sp, a.id, "C1", "order", "en"), None, 30)
        .await
        .unwrap();
    assert_eq!(modified.audit_status, AuditStatus::Auditing);
    for i in 0..25 {
        s.insert_template(
            tpl(&sp, a.id, &format!("K{i}"), &format!("t{i}"), "en"),
            None,
            40 + i,
        )
        .await
        .unwrap();
    }
    let f = TemplateFilter {
        space_id: sp.clone(),
        limit: 10,
        offset: 20,
        ..Default::default()
    };
    let (total, page) = s.list_templates(f).await.unwrap();
    assert_eq!((total, page.len()), (27, 7));
    let f = TemplateFilter {
        space_id: sp.clone(),
        language: Some("fr".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.list_templates(f).await.unwrap().0, 1);
    s.delete_templates(vec![en.id], 50).await.unwrap();
    assert_eq!(s.templates_by_code(&sp, "C1").await.unwrap().len(), 1);
    // the deleted code+language is never handed out again
    assert!(matches!(
        s.insert_template(tpl(&sp, a.id, "C1", "other", "en"), None, 60)
            .await,
        Err(StoreError::Conflict(_))
    ));
    // but the name is free again
    s.insert_template(tpl(&sp, a.id, "C9", "order", "en"), None, 61)
        .await
        .unwrap();
    let events = s.events_after(0, 10).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.payload.as_str())
            .collect::<Vec<_>>(),
        vec!["created", "pass"]
    );
}

pub async fn template_reviews_are_leased_to_one_owner(place: Place) {
    let s = place.open().await;
    let a = s.create_account("acme", 1).await.unwrap();
    let sp = a.default_space.clone();
    let mut ids = Vec::new();
    for i in 0..40 {
        let t = s
            .insert_template(
                tpl(&sp, a.id, &format!("R{i:02}"), &format!("r{i:02}"), "en"),
                None,
                10,
            )
            .await
            .unwrap();
        ids.push(t.id);
    }
    // not due yet: nothing to claim
    assert!(
        s.claim_template_reviews("A", 99, 1000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // two owners claiming at once get disjoint sets, together every due review
    let (x, y) = tokio::join!(
        s.claim_template_reviews("A", 100, 1000, 25),
        s.claim_template_reviews("B", 100, 1000, 25)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.len() + y.len(), 40);
    let ids_x: std::collections::HashSet<i64> = x.iter().map(|t| t.id).collect();
    assert!(y.iter().all(|t| !ids_x.contains(&t.id)));
    // while leased nothing is claimed again, not even by its owner
    assert!(
        s.claim_template_reviews("C", 1099, 1000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.claim_template_reviews("A", 1099, 1000, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // a decided review is never claimed again; the others are, once the lease ends
    let decided = x[0].id;
    s.set_template_status(decided, AuditStatus::Pass, "", None, 1050)
        .await
        .unwrap();
    let again = s
        .claim_template_reviews("C", 1100, 1000, 100)
        .await
        .unwrap();
    assert_eq!(again.len(), 39);
    assert!(again.iter().all(|t| t.id != decided));
    // earliest due first, ties by id
    let mut want: Vec<i64> = ids.iter().copied().filter(|&i| i != decided).collect();
    want.sort_unstable();
    assert_eq!(again.iter().map(|t| t.id).collect::<Vec<_>>(), want);
    // a limit is honoured
    assert!(
        s.claim_template_reviews("D", 2100, 1000, 0)
            .await
            .unwrap()
            .is_empty()
    );
    let d = s.claim_template_reviews("D", 2100, 1000, 5).await.unwrap();
    assert_eq!(d.iter().map(|t| t.id).collect::<Vec<_>>(), want[..5]);
    // a deleted review is never claimed; a modified one is due anew, free of its old lease
    let (deleted, modified) = (want[0], want[1]);
    s.delete_templates(vec![deleted], 2200).await.unwrap();
    let mut w = tpl(&sp, a.id, "X", "x", "en");
    w.review_due_at = Some(2300);
    s.modify_template(modified, w, None, 2200).await.unwrap();
    let e = s
        .claim_template_reviews("E", 2500, 1000, 100)
        .await
        .unwrap();
    let e: Vec<i64> = e.iter().map(|t| t.id).collect();
    assert_eq!(e.len(), 35, "C's lapsed 34 and the modified one");
    assert!(e.contains(&modified));
    assert!(!e.contains(&deleted) && !e.contains(&decided));
    // a late decision is not recorded: D's about the modified version (the modification ended
    // its lease) and about the deleted one, C's about one E holds now
    let c_held = e.iter().copied().find(|&id| id != modified).unwrap();
    for (id, owner) in [(modified, "D"), (deleted, "D"), (c_held, "C")] {
        let late = s
            .finish_template_review(id, owner, AuditStatus::Pass, "", None, 2600)
            .await
            .unwrap();
        assert!(
            late.is_none(),
            "{owner}'s late decision about {id}: {late:?}"
        );
    }
    let code = format!("R{:02}", ids.iter().position(|&i| i == modified).unwrap());
    let x = s.templates_by_code(&sp, &code).await.unwrap();
    assert_eq!(x[0].audit_status, AuditStatus::Auditing);
    // the holder's is, and ends the review
    let done = s
        .finish_template_review(c_held, "E", AuditStatus::Pass, "ok", None, 2600)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((done.id, done.audit_status), (c_held, AuditStatus::Pass));
    // long after every lease: all but the decided ones and the deleted one
    let all = s
        .claim_template_reviews("F", 1_000_000, 1000, 100)
        .await
        .unwrap();
    assert_eq!(all.len(), 37);
    assert!(
        all.iter()
            .all(|t| t.id != decided && t.id != deleted && t.id != c_held)
    );
}

/// A provider status for `provider_id`, echoing our `message_id` when given.
fn status_update(
    provider_id: &str,
    message_id: Option<&str>,
    status: &str,
    at: i64,
) -> StatusUpdate {
    StatusUpdate {
        provider_id: provider_id.into(),
        message_id: message_id.map(String::from),
        // a status no provider reports (`deleted`) stands for one outside the order
        status: MessageStatus::parse(status).unwrap_or(MessageStatus::Received),
        at,
        error_code: None,
        error_description: None,
    }
}

/// An event builder whose payload is the new status.
fn status_event() -> EventBuilder {
    Box::new(|m: &MessageStatusRow, st: MessageStatus| {
        Some(NewEvent {
            account_id: m.account_id,
            kind: EventKind::Status,
            message_id: Some(m.id.clone()),
            payload: st.as_str().into(),
        })
    })
}

fn msg(id: &str) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: 1,
        space_id: "s".into(),
        direction: Direction::Out,
        sender: "8613600000000".into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        status: MessageStatus::Accepted,
        provider_id: None,
        created_at: 5,
        updated_at: 5,
        ..Default::default()
    }
}

pub async fn message_batches_are_all_or_nothing_and_windows_only_move_forward(place: Place) {
    let s = place.open().await;
    s.insert_messages(vec![msg("m1"), msg("m2")], vec![])
        .await
        .unwrap();
    // a batch with one bad row stores none of it
    assert!(
        s.insert_messages(vec![msg("m3"), msg("m1")], vec![])
            .await
            .is_err()
    );
    assert!(s.message("m3").await.unwrap().is_none());
    assert_eq!(s.count_messages().await.unwrap(), 2);
    assert_eq!(
        s.message("m2").await.unwrap().unwrap().recipient,
        "8613900000000"
    );
    s.record_inbound_window("A", "U", 100).await.unwrap();
    s.record_inbound_window("A", "U", 50).await.unwrap();
    assert_eq!(s.last_inbound("A", "U").await.unwrap(), Some(100));
    assert_eq!(s.last_inbound("A", "X").await.unwrap(), None);
}

pub async fn queue_leases_are_exclusive_and_expire(place: Place) {
    let s = place.open().await;
    let batch: Vec<MessageRow> = (0..50).map(|i| msg(&format!("q{i:02}"))).collect();
    s.insert_messages(batch, vec![]).await.unwrap();
    // two claimers at once never share a message
    let (a, b) = tokio::join!(
        s.claim_due("A", 10, 1000, 30),
        s.claim_due("B", 10, 1000, 30)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 50);
    let ids_a: std::collections::HashSet<_> = a.iter().map(|c| c.message.id.clone()).collect();
    assert!(b.iter().all(|c| !ids_a.contains(&c.message.id)));
    // while leased nothing more is claimable; after the lease it is
    assert!(s.claim_due("C", 500, 1000, 100).await.unwrap().is_empty());
    let again = s.claim_due("C", 1011, 1000, 100).await.unwrap();
    assert_eq!(again.len(), 50);
    // the old owner can no longer settle; the new one can
    let id = again[0].message.id.clone();
    let sub = Settlement::Submitted {
        provider_id: "wamid.1".into(),
    };
    assert!(
        !s.settle(&id, "A", sub.clone(), 1020).await.unwrap(),
        "a lapsed lease settles nothing"
    );
    assert!(s.settle(&id, "C", sub, 1020).await.unwrap());
    assert_eq!(s.message("wamid.1").await.unwrap().unwrap().id, id);
    // retry reschedules and counts attempts
    let id2 = again[1].message.id.clone();
    s.settle(
        &id2,
        "C",
        Settlement::Retry {
            due_at: 5000,
            error: "503".into(),
        },
        1030,
    )
    .await
    .unwrap();
    let later = s.claim_due("D", 5000, 1000, 100).await.unwrap();
    let retried = later.iter().find(|c| c.message.id == id2).unwrap();
    assert_eq!(retried.attempts, 1);
    let ended = Settlement::Ended {
        status: MessageStatus::Failed,
        error_code: "131026".into(),
        error_description: "x".into(),
        event: None,
    };
    s.settle(&id2, "D", ended, 5001).await.unwrap();
    assert_eq!(
        s.message(&id2).await.unwrap().unwrap().status,
        MessageStatus::Failed
    );
    assert_eq!(s.queue_len().await.unwrap(), 48);
}

pub async fn statuses_apply_monotonically_and_inbound_once(place: Place) {
    let s = place.open().await;
    s.insert_messages(vec![msg("m1")], vec![]).await.unwrap();
    let c = s.claim_due("W", 10, 1000, 1).await.unwrap();
    s.settle(
        &c[0].message.id,
        "W",
        Settlement::Submitted {
            provider_id: "wamid.m1".into(),
        },
        11,
    )
    .await
    .unwrap();
    let up = |st: &str, at| status_update("wamid.m1", None, st, at);
    let ev = status_event;
    let mut seen = Vec::new();
    for (st, at) in [
        ("delivered", 20),
        ("sent", 21),
        ("delivered", 22),
        ("read", 23),
        ("failed", 24),
        ("sent", 25),
    ] {
        let (row, changed) = s.apply_status(up(st, at), ev()).await.unwrap().unwrap();
        seen.push((st, changed, row.status.to_string()));
    }
    assert_eq!(
        seen,
        vec![
            ("delivered", true, "delivered".to_string()),
            ("sent", false, "delivered".into()),
            ("delivered", false, "delivered".into()),
            ("read", true, "read".into()),
            ("failed", false, "read".into()),
            ("sent", false, "read".into()),
        ]
    );
    assert!(s.apply_status(up("sent", 1), ev()).await.unwrap().is_some());
    let mut missing = up("sent", 1);
    missing.provider_id = "wamid.unknown".into();
    assert!(s.apply_status(missing, ev()).await.unwrap().is_none());
    let events: Vec<String> = s
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(events, vec!["delivered", "read"]);

    let mut inbound = msg("in1");
    inbound.direction = Direction::In;
    inbound.status = MessageStatus::Received;
    inbound.provider_id = Some("wamid.in1".into());
    inbound.created_at = 77;
    assert!(s.record_inbound(inbound.clone(), None).await.unwrap());
    inbound.id = "in1-dup".into();
    assert!(!s.record_inbound(inbound, None).await.unwrap());
    assert_eq!(
        s.last_inbound("8613600000000", "8613900000000")
            .await
            .unwrap(),
        Some(77)
    );
}

pub async fn a_failure_records_its_error_and_a_later_delivery_wins_over_it(place: Place) {
    let s = place.open().await;
    s.insert_messages(vec![msg("m3")], vec![]).await.unwrap();
    let c = s.claim_due("W", 10, 1000, 1).await.unwrap();
    let submitted = Settlement::Submitted {
        provider_id: "wamid.m3".into(),
    };
    assert!(
        s.settle(&c[0].message.id, "W", submitted, 11)
            .await
            .unwrap()
    );
    let mut failed = status_update("wamid.m3", None, "failed", 30);
    failed.error_code = Some("131026".into());
    failed.error_description = Some("Message undeliverable".into());
    let (m, changed) = s
        .apply_status(failed.clone(), status_event())
        .await
        .unwrap()
        .unwrap();
    assert!(changed);
    assert_eq!(
        (m.id.as_str(), m.account_id, m.status.as_str(), m.updated_at),
        ("m3", 1, "failed", 30)
    );
    assert_eq!(m.error_code.as_deref(), Some("131026"));
    assert_eq!(
        m.error_description.as_deref(),
        Some("Message undeliverable")
    );
    assert_eq!(m.provider_id.as_deref(), Some("wamid.m3"));
    // an earlier time never moves updated_at back; a status the order does not know changes nothing
    let (m, changed) = s
        .apply_status(
            status_update("wamid.m3", None, "deleted", 40),
            status_event(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((changed, m.status.as_str()), (false, "failed"));
    let (m, changed) = s
        .apply_status(
            status_update("wamid.m3", None, "delivered", 25),
            status_event(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (changed, m.status.as_str(), m.updated_at),
        (true, "delivered", 30)
    );
    // the failure's error stays on record; a second failure after delivery is ignored
    assert_eq!(m.error_code.as_deref(), Some("131026"));
    failed.at = 50;
    let (m, changed) = s
        .apply_status(failed, status_event())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((changed, m.status.as_str()), (false, "delivered"));
    let row = s.message("m3").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.updated_at), ("delivered", 30));
    let events: Vec<String> = s
        .message_events("m3")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    assert_eq!(events, vec!["failed", "delivered"]);
}

pub async fn statuses_that_overtake_the_settlement_find_the_message_by_its_id(place: Place) {
    let s = place.open().await;
    s.insert_messages(vec![msg("m2")], vec![]).await.unwrap();
    let c = s.claim_due("W", 10, 1000, 1).await.unwrap();
    let up = |st: &str, at, message_id: Option<&str>| status_update("wamid.m2", message_id, st, at);
    let ev = status_event;
    // without our id, a status for an unsettled send finds nothing
    assert!(
        s.apply_status(up("sent", 12, None), ev())
            .await
            .unwrap()
            .is_none()
    );
    // one webhook with both statuses, before the settlement: one write, applied in order
    let out = s
        .apply_statuses(vec![
            (up("sent", 12, Some("m2")), ev()),
            (up("delivered", 13, Some("m2")), ev()),
        ])
        .await
        .unwrap();
    let statuses: Vec<(String, bool)> = out
        .into_iter()
        .map(|r| {
            let (row, changed) = r.unwrap();
            (row.status.to_string(), changed)
        })
        .collect();
    assert_eq!(
        statuses,
        vec![("sent".to_string(), true), ("delivered".to_string(), true)]
    );
    let row = s.message("m2").await.unwrap().unwrap();
    assert_eq!(row.provider_id.as_deref(), Some("wamid.m2"));
    assert_eq!(row.updated_at, 13);
    // the settlement that arrives late keeps the status and the later time
    assert!(
        s.settle(
            &c[0].message.id,
            "W",
            Settlement::Submitted {
                provider_id: "wamid.m2".into(),
            },
            11,
        )
        .await
        .unwrap()
    );
    let row = s.message("m2").await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.updated_at), ("delivered", 13));
    assert_eq!(s.queue_len().await.unwrap(), 0);
    // another message's id does not capture a status whose provider id is already known
    assert!(
        s.apply_status(up("read", 14, Some("other")), ev())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        s.message("m2").await.unwrap().unwrap().status,
        MessageStatus::Read
    );
}

pub async fn token_buckets_grant_refill_and_wait(place: Place) {
    let store = place.open().await;
    let req = |key: &str, want| TokenRequest {
        key: key.into(),
        capacity: 3.0,
        per_ms: 100.0,
        want,
    };
    let grant = |granted, wait_ms| TokenGrant { granted, wait_ms };
    // full when first seen; one key's requests are served in order, each up to its want
    let got = store
        .take_tokens(
            vec![req("k", 2), req("j", 1), req("k", 2), req("k", 1)],
            1_000,
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        vec![grant(2, 0), grant(1, 0), grant(1, 100), grant(0, 100)]
    );
    assert_eq!(store.take_tokens(vec![], 1_000).await.unwrap(), vec![]);
    // refilled at one token per 100 ms; short: how long until the next one
    let take = |key: &'static str, want, now| {
        let store = store.clone();
        async move { store.take_tokens(vec![req(key, want)], now).await.unwrap() }
    };
    assert_eq!(take("k", 1, 1_050).await, vec![grant(0, 50)]);
    assert_eq!(take("k", 1, 1_100).await, vec![grant(1, 0)]);
    // never back in time: an earlier now refills nothing and keeps the bucket's time
    assert_eq!(take("k", 1, 500).await, vec![grant(0, 100)]);
    assert_eq!(take("k", 2, 1_200).await, vec![grant(1, 100)]);
    // refills stop at the capacity; other buckets are untouched
    assert_eq!(take("k", 5, 1_000_000).await, vec![grant(3, 100)]);
    assert_eq!(take("j", 3, 1_000_000).await, vec![grant(3, 0)]);
    // a bucket idle for long is full again
    assert_eq!(take("k", 3, 5_000_000).await, vec![grant(3, 0)]);
}
