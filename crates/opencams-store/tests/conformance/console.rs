//! The web console's storage: users (found by email in any case, unique per email, listed per
//! account), their sessions (ended by a password change or a disabling, expiring, deleted), and
//! the hourly message counts of its charts.

use std::sync::Arc;

use opencams_domain::{Direction, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const HOUR: i64 = 3_600_000;

fn new_user(account: &Account, email: &str, role: Role) -> NewConsoleUser {
    NewConsoleUser {
        account_id: account.id,
        email: email.into(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$hash-of-{email}"),
    }
}

fn session(token_hash: &str, user: &ConsoleUser, expires_at: i64) -> ConsoleSession {
    ConsoleSession {
        token_hash: token_hash.into(),
        user_id: user.id,
        csrf_token: format!("csrf-{token_hash}"),
        created_at: 1,
        expires_at,
    }
}

/// Which of `tokens` name a live session at time 0.
async fn live(store: &Arc<dyn Store>, tokens: &[&'static str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for t in tokens {
        if store.session(t, 0).await.unwrap().is_some() {
            out.push(*t);
        }
    }
    out
}

pub async fn console_users_are_found_by_email_in_any_case_and_listed_per_account(place: Place) {
    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let globex = store.create_account("globex", 2).await.unwrap();

    let ann = store
        .create_user(new_user(&acme, "Ann@Example.COM", Role::Admin), 10)
        .await
        .unwrap();
    assert_eq!(
        ann,
        ConsoleUser {
            id: ann.id,
            account_id: acme.id,
            email: "ann@example.com".into(),
            role: Role::Admin,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$hash-of-Ann@Example.COM".into(),
            enabled: true,
            created_at: 10,
        }
    );
    assert_eq!(
        store.user_by_email("aNN@eXAMPLE.com").await.unwrap(),
        Some(ann.clone())
    );
    assert_eq!(store.user(ann.id).await.unwrap(), Some(ann.clone()));
    assert_eq!(store.user_by_email("bob@example.com").await.unwrap(), None);
    assert_eq!(store.user(ann.id + 1000).await.unwrap(), None);
    // beyond ASCII too: the email is lowercased the same way when stored and when looked up
    let elise = store
        .create_user(new_user(&globex, "ÉLISE@Exemple.fr", Role::Viewer), 11)
        .await
        .unwrap();
    assert_eq!(elise.email, "élise@exemple.fr");
    assert_eq!(
        store.user_by_email("élise@EXEMPLE.FR").await.unwrap(),
        Some(elise.clone())
    );

    // an email is taken in any case, whichever account asks for it
    for (account, email) in [
        (&acme, "ann@example.com"),
        (&globex, "ANN@EXAMPLE.COM"),
        (&acme, "Élise@exemple.fr"),
    ] {
        match store
            .create_user(new_user(account, email, Role::Viewer), 12)
            .await
        {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("{email} again: {other:?}"),
        }
    }
    assert_eq!(
        store.user_by_email("ann@example.com").await.unwrap(),
        Some(ann.clone()),
        "a refused duplicate changes nothing"
    );
    let nobody = Account {
        id: globex.id + 1000,
        ..globex.clone()
    };
    assert!(matches!(
        store
            .create_user(new_user(&nobody, "x@example.com", Role::Viewer), 13)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // created with the accounts interleaved and the emails out of order: listed by account,
    // then email, whatever the ids
    let carl = store
        .create_user(new_user(&globex, "carl@globex.com", Role::Operator), 20)
        .await
        .unwrap();
    let zoe = store
        .create_user(new_user(&acme, "zoe@acme.com", Role::Operator), 21)
        .await
        .unwrap();
    let al = store
        .create_user(new_user(&globex, "al@globex.com", Role::Admin), 22)
        .await
        .unwrap();
    let bob = store
        .create_user(new_user(&acme, "bob@acme.com", Role::Viewer), 23)
        .await
        .unwrap();
    let acme_users = vec![ann.clone(), bob.clone(), zoe.clone()];
    let globex_users = vec![al.clone(), carl.clone(), elise.clone()];
    assert_eq!(store.list_users(Some(acme.id)).await.unwrap(), acme_users);
    assert_eq!(
        store.list_users(Some(globex.id)).await.unwrap(),
        globex_users
    );
    assert_eq!(
        store.list_users(None).await.unwrap(),
        [acme_users.clone(), globex_users.clone()].concat()
    );
    assert!(store.list_users(Some(nobody.id)).await.unwrap().is_empty());

    // every role (ann, zoe and bob hold one each) is read back as it was stored, after a
    // restart too
    let roles: Vec<Role> = [&ann, &zoe, &bob].iter().map(|u| u.role).collect();
    assert_eq!(roles, Role::ALL);
    store.close().await;
    let store = place.open().await;
    assert_eq!(
        store.list_users(None).await.unwrap(),
        [acme_users, globex_users].concat()
    );
    store.close().await;
}

pub async fn a_password_change_or_disabling_ends_that_users_sessions_only(place: Place) {
    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let ann = store
        .create_user(new_user(&acme, "ann@acme.com", Role::Admin), 2)
        .await
        .unwrap();
    let bob = store
        .create_user(new_user(&acme, "bob@acme.com", Role::Viewer), 3)
        .await
        .unwrap();
    for s in [
        session("ann-1", &ann, 1000),
        session("ann-2", &ann, 1000),
        session("bob-1", &bob, 1000),
    ] {
        store.create_session(s).await.unwrap();
    }
    assert_eq!(
        store.session("ann-1", 0).await.unwrap(),
        Some(session("ann-1", &ann, 1000))
    );
    // a token hash names one session; a session needs its user
    assert!(matches!(
        store.create_session(session("ann-1", &bob, 2000)).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.session("ann-1", 0).await.unwrap().map(|s| s.user_id),
        Some(ann.id)
    );
    let ghost = ConsoleUser {
        id: bob.id + 1000,
        ..bob.clone()
    };
    assert!(matches!(
        store.create_session(session("ghost-1", &ghost, 1000)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.session("ghost-1", 0).await.unwrap(), None);

    // a new password signs its user out everywhere, and no one else
    let changed = store.set_user_password(ann.id, "new-hash").await.unwrap();
    assert_eq!(
        changed,
        ConsoleUser {
            password_hash: "new-hash".into(),
            ..ann.clone()
        }
    );
    assert_eq!(store.user(ann.id).await.unwrap(), Some(changed.clone()));
    assert_eq!(live(&store, &["ann-1", "ann-2", "bob-1"]).await, ["bob-1"]);
    assert!(matches!(
        store.set_user_password(ghost.id, "x").await,
        Err(StoreError::NotFound(_))
    ));

    // disabling also signs its user out (and no one else); enabling brings nothing back and
    // ends nothing
    store
        .create_session(session("ann-3", &ann, 1000))
        .await
        .unwrap();
    let disabled = store.set_user_enabled(bob.id, false).await.unwrap();
    assert_eq!(
        disabled,
        ConsoleUser {
            enabled: false,
            ..bob.clone()
        }
    );
    assert_eq!(store.user(bob.id).await.unwrap(), Some(disabled));
    assert_eq!(live(&store, &["ann-3", "bob-1"]).await, ["ann-3"]);
    let enabled = store.set_user_enabled(bob.id, true).await.unwrap();
    assert_eq!(enabled, bob);
    assert_eq!(live(&store, &["bob-1"]).await, Vec::<&str>::new());
    assert_eq!(
        store.set_user_enabled(ann.id, true).await.unwrap(),
        changed,
        "enabling an enabled user changes nothing"
    );
    assert_eq!(live(&store, &["ann-3"]).await, ["ann-3"]);
    assert!(matches!(
        store.set_user_enabled(ghost.id, false).await,
        Err(StoreError::NotFound(_))
    ));
}

pub async fn console_sessions_expire_and_are_deleted(place: Place) {
    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let ann = store
        .create_user(new_user(&acme, "ann@acme.com", Role::Admin), 2)
        .await
        .unwrap();
    for s in [
        session("a", &ann, 100),
        session("b", &ann, 200),
        session("c", &ann, 300),
    ] {
        store.create_session(s).await.unwrap();
    }
    // live until its expiry, not at it
    assert_eq!(
        store.session("a", 99).await.unwrap(),
        Some(session("a", &ann, 100))
    );
    assert_eq!(store.session("a", 100).await.unwrap(), None);
    assert_eq!(store.session("a", 101).await.unwrap(), None);
    assert!(store.session("b", 100).await.unwrap().is_some());
    assert_eq!(store.session("nope", 0).await.unwrap(), None);

    // the sweep deletes what expired at or before `now`, and says how many
    assert_eq!(store.delete_expired_sessions(99).await.unwrap(), 0);
    assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 2);
    assert_eq!(store.delete_expired_sessions(200).await.unwrap(), 0);
    // gone, not only expired: not even a time before their expiry finds them
    assert_eq!(live(&store, &["a", "b", "c"]).await, ["c"]);

    // signing out ends one session; twice, or one that never was, is no error
    store.delete_session("c").await.unwrap();
    assert_eq!(store.session("c", 0).await.unwrap(), None);
    store.delete_session("c").await.unwrap();
    store.delete_session("never").await.unwrap();
    assert_eq!(store.delete_expired_sessions(i64::MAX).await.unwrap(), 0);
}

fn message(
    account: &Account,
    space: &str,
    id: &str,
    at: i64,
    direction: Direction,
    status: MessageStatus,
) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: account.id,
        space_id: space.into(),
        direction,
        sender: "8613600000000".into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        status,
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn count(hour_ms: i64, status: MessageStatus, direction: Direction, count: u64) -> HourlyCount {
    HourlyCount {
        hour_ms,
        status,
        direction,
        count,
    }
}

pub async fn hourly_counts_bucket_one_accounts_messages_by_hour_status_and_direction(place: Place) {
    use Direction::{In, Out};
    use MessageStatus::{Accepted, Delivered, Failed, Read, Received};

    let store = place.open().await;
    let acme = store.create_account("acme", 1).await.unwrap();
    let globex = store.create_account("globex", 2).await.unwrap();
    let second = store.create_space(acme.id, "second", 3).await.unwrap();
    let (a, a2, g) = (
        acme.default_space.as_str(),
        second.id.as_str(),
        globex.default_space.as_str(),
    );
    // the start of an hour in November 2023
    let base = 472_222 * HOUR;
    let messages = vec![
        // acme, hour 0: its first and last millisecond, both spaces
        message(&acme, a, "a1", base, Out, Accepted),
        message(&acme, a2, "a2", base + HOUR - 1, Out, Accepted),
        message(&acme, a, "a3", base + 10, Out, Failed),
        message(&acme, a, "a4", base + 5, In, Received),
        // hour 1
        message(&acme, a2, "a5", base + HOUR, Out, Delivered),
        message(&acme, a, "a6", base + HOUR + 1, Out, Accepted),
        // hour 3, at its very start
        message(&acme, a, "a7", base + 3 * HOUR, Out, Read),
        // outside [base, base + 4h): just before, and at the end
        message(&acme, a, "a8", base - 1, Out, Delivered),
        message(&acme, a, "a9", base + 4 * HOUR, Out, Accepted),
        // before 1970: floored to its hour, not truncated towards 0
        message(&acme, a, "a10", -1, Out, Accepted),
        // globex, in the same hours
        message(&globex, g, "g1", base + 1, Out, Accepted),
        message(&globex, g, "g2", base + 2, Out, Accepted),
        message(&globex, g, "g3", base + HOUR + 2, In, Received),
    ];
    store.insert_messages(messages, vec![]).await.unwrap();

    assert_eq!(
        store
            .hourly_counts(acme.id, base, base + 4 * HOUR)
            .await
            .unwrap(),
        vec![
            count(base, Accepted, Out, 2),
            count(base, Failed, Out, 1),
            count(base, Received, In, 1),
            count(base + HOUR, Accepted, Out, 1),
            count(base + HOUR, Delivered, Out, 1),
            count(base + 3 * HOUR, Read, Out, 1),
        ]
    );
    assert_eq!(
        store
            .hourly_counts(globex.id, base, base + 4 * HOUR)
            .await
            .unwrap(),
        vec![
            count(base, Accepted, Out, 2),
            count(base + HOUR, Received, In, 1),
        ]
    );
    // half-open: `from` is in, `to` is out
    assert_eq!(
        store
            .hourly_counts(acme.id, base + HOUR, base + 3 * HOUR)
            .await
            .unwrap(),
        vec![
            count(base + HOUR, Accepted, Out, 1),
            count(base + HOUR, Delivered, Out, 1),
        ]
    );
    assert_eq!(
        store
            .hourly_counts(acme.id, base + 3 * HOUR, base + 4 * HOUR + 1)
            .await
            .unwrap(),
        vec![
            count(base + 3 * HOUR, Read, Out, 1),
            count(base + 4 * HOUR, Accepted, Out, 1),
        ]
    );
    // a range inside an hour counts only its part of the hour, under the hour's start
    assert_eq!(
        store
            .hourly_counts(acme.id, base + 6, base + HOUR)
            .await
            .unwrap(),
        vec![count(base, Accepted, Out, 1), count(base, Failed, Out, 1),]
    );
    assert_eq!(
        store.hourly_counts(acme.id, base - 1, base).await.unwrap(),
        vec![count(base - HOUR, Delivered, Out, 1)]
    );
    assert_eq!(
        store.hourly_counts(acme.id, -HOUR, 0).await.unwrap(),
        vec![count(-HOUR, Accepted, Out, 1)]
    );
    assert!(
        store
            .hourly_counts(acme.id, base, base)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .hourly_counts(globex.id + 1000, i64::MIN, i64::MAX)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn sign_in_failures_count_per_key_in_fixed_windows(place: Place) {
    let store = place.open().await;
    const WINDOW: i64 = 15 * 60_000;
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let count = |v: &Option<LoginFailures>| v.map(|f| (f.failures, f.since));
    assert_eq!(
        store
            .login_failures(keys(&["email:a@x"]), 1_000, WINDOW)
            .await
            .unwrap(),
        vec![None]
    );
    for t in [1_000, 2_000, 3_000] {
        store
            .record_login_failure(keys(&["email:a@x", "address:1.2.3.4"]), t, WINDOW)
            .await
            .unwrap();
    }
    store
        .record_login_failure(keys(&["email:b@x", "address:1.2.3.4"]), 4_000, WINDOW)
        .await
        .unwrap();
    let got = store
        .login_failures(
            keys(&["email:a@x", "address:1.2.3.4", "email:b@x", "email:c@x"]),
            5_000,
            WINDOW,
        )
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(count).collect::<Vec<_>>(),
        vec![Some((3, 1_000)), Some((4, 1_000)), Some((1, 4_000)), None]
    );
    // the window ends: nothing is live; the next failure starts a new one
    let later = 1_000 + WINDOW;
    assert_eq!(
        store
            .login_failures(keys(&["email:a@x"]), later, WINDOW)
            .await
            .unwrap(),
        vec![None]
    );
    store
        .record_login_failure(keys(&["email:a@x"]), later, WINDOW)
        .await
        .unwrap();
    let got = store
        .login_failures(keys(&["email:a@x", "address:1.2.3.4"]), later, WINDOW)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(count).collect::<Vec<_>>(),
        vec![Some((1, later)), None]
    );
    // a success clears one key only
    store
        .record_login_failure(keys(&["email:b@x", "address:9.9.9.9"]), later, WINDOW)
        .await
        .unwrap();
    store.clear_login_failures("email:b@x").await.unwrap();
    let got = store
        .login_failures(keys(&["email:b@x", "address:9.9.9.9"]), later, WINDOW)
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(count).collect::<Vec<_>>(),
        vec![None, Some((1, later))]
    );
}
