//! The simulator's template reviews on a manual clock and a real SQLite store: a template
//! awaiting review is decided only once the clock passes its `review_due_at`, as
//! `review::decide` says, with one audit event per decision, however many reviewers poll.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;

use opencams_dispatch::review::{Reviewer, decide};
use opencams_domain::ManualClock;
use opencams_domain::template::AuditStatus;
use opencams_store::{Cipher, Store, TemplateWrite};

const T0: i64 = 1_700_000_000_000;
const DELAY_MS: i64 = 2_000;

#[tokio::test]
async fn a_review_is_decided_once_the_clock_passes_its_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = opencams_store::open(None, dir.path(), Cipher::from_key(&[9; 32]))
        .await
        .unwrap();
    let acct = store.create_account("acme", T0).await.unwrap();
    let clock = ManualClock::new(T0);
    let write = |code: &str, name: &str, components: &str, due: i64| TemplateWrite {
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        code: code.into(),
        name: name.into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        components: components.into(),
        example: "{}".into(),
        review_due_at: Some(due),
        ..Default::default()
    };
    let body = r#"[{"Type":"BODY","Text":"Your order ships today."}]"#;
    let mut ids = Vec::new();
    for (code, name, components, due) in [
        ("C1", "order_update", body, T0 + DELAY_MS),
        ("C2", "reject_me", body, T0 + DELAY_MS),
        ("C3", "late_one", body, T0 + 2 * DELAY_MS),
    ] {
        let row = store
            .insert_template(write(code, name, components, due), None, T0)
            .await
            .unwrap();
        assert_eq!(row.audit_status, AuditStatus::Auditing);
        ids.push(row);
    }
    let reviewer = Reviewer::new(store.clone(), Arc::new(clock.clone()), "n1/reviews".into());
    // a second node's reviewer on the same store: leases keep them off each other's reviews
    let other = Reviewer::new(store.clone(), Arc::new(clock.clone()), "n2/reviews".into());
    let status = |code: &str| {
        let (store, space, code) = (store.clone(), acct.default_space.clone(), code.to_string());
        async move {
            let rows = store.templates_by_code(&space, &code).await.unwrap();
            (rows[0].audit_status, rows[0].reason.clone())
        }
    };

    assert_eq!(reviewer.tick().await, 0, "nothing due at once");
    clock.advance_ms(DELAY_MS - 1);
    assert_eq!(reviewer.tick().await, 0, "nothing due a millisecond early");
    assert_eq!(status("C1").await.0, AuditStatus::Auditing);
    clock.advance_ms(1);
    let (mine, theirs) = tokio::join!(reviewer.tick(), other.tick());
    assert_eq!(
        mine + theirs,
        2,
        "the two due on the dot, each decided once"
    );
    for row in &ids[..2] {
        let (want, reason) = decide(row);
        let (got, got_reason) = status(&row.code).await;
        assert_eq!((got.as_str(), got_reason), (want.as_str(), reason));
    }
    assert_eq!(status("C1").await.0, AuditStatus::Pass);
    let (rejected, reason) = status("C2").await;
    assert_eq!(rejected, AuditStatus::Fail);
    assert!(reason.contains("reject"), "{reason}");
    assert_eq!(status("C3").await.0, AuditStatus::Auditing, "not due yet");
    assert_eq!(reviewer.tick().await, 0, "decided once");
    assert_eq!(other.tick().await, 0, "decided once, on any node");
    clock.advance_ms(DELAY_MS);
    assert_eq!(reviewer.tick().await, 1);
    assert_eq!(status("C3").await.0, AuditStatus::Pass);
    // one audit event per decision
    let audits = store
        .events_after(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == opencams_domain::EventKind::Audit)
        .count();
    assert_eq!(audits, 3);
}
