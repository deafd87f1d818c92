//! What is particular to the PostgreSQL backend: several nodes (store instances) on one
//! database share its state. Each test runs in a fresh database of its own (see
//! `opencams_store::postgres::testdb`), skipped when no server is reachable and none is required.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use opencams_domain::{Clock, SystemClock};
use opencams_store::limits::SharedBuckets;
use opencams_store::postgres::testdb::TestDatabase;
use opencams_store::*;

async fn node(db: &TestDatabase) -> Arc<dyn Store> {
    open(
        Some(&db.url),
        std::path::Path::new("."),
        Cipher::from_key(&[42; 32]),
    )
    .await
    .unwrap()
}

/// Two nodes with four takers each, straight through the store and through each node's
/// batcher: together they never get more than the bucket's capacity plus its refill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_token_buckets() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let nodes = [node(&db).await, node(&db).await];
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let batchers: Vec<Arc<SharedBuckets>> = nodes
        .iter()
        .map(|n| SharedBuckets::start(n.clone(), clock.clone()))
        .collect();
    // 20 tokens, one every 10 ms (100/s)
    let (capacity, per_ms) = (20.0, 10.0);
    let start_ms = clock.now_ms();
    let run_for = Duration::from_millis(600);
    let started = Instant::now();
    let mut takers = tokio::task::JoinSet::new();
    for (n, store) in nodes.iter().enumerate() {
        for t in 0..4 {
            let (store, clock) = (store.clone(), clock.clone());
            let batcher = batchers[n].clone();
            takers.spawn(async move {
                let mut got = 0u64;
                while started.elapsed() < run_for {
                    if t % 2 == 0 {
                        // straight to the store, several requests a call
                        let requests = (0..3)
                            .map(|_| TokenRequest {
                                key: "shared".into(),
                                capacity,
                                per_ms,
                                want: 1,
                            })
                            .collect();
                        let grants = store.take_tokens(requests, clock.now_ms()).await.unwrap();
                        got += grants.iter().map(|g| u64::from(g.granted)).sum::<u64>();
                    } else if batcher.take("shared", capacity, per_ms, 1).await.is_ok() {
                        got += 1;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                got
            });
        }
    }
    let total: u64 = takers.join_all().await.into_iter().sum();
    let elapsed_ms = clock.now_ms() - start_ms;
    let most = capacity as u64 + (elapsed_ms as f64 / per_ms).ceil() as u64;
    assert!(total <= most, "{total} tokens taken, at most {most}");
    // and they were not starved either: the burst and most of the refill
    assert!(
        total >= capacity as u64 + (run_for.as_millis() as u64 / per_ms as u64) / 2,
        "{total} tokens taken in {elapsed_ms} ms"
    );
}

/// Buckets idle for over 10 minutes are swept (in the background, once a minute) and come back
/// full; the sweep leaves busy buckets alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_buckets_are_swept_and_come_back_full() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let store = node(&db).await;
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let keys = || async {
        let rows = client
            .query("SELECT key FROM rate_buckets ORDER BY key", &[])
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()
    };
    let req = |key: &str| TokenRequest {
        key: key.into(),
        capacity: 2.0,
        per_ms: 1_000_000.0,
        want: 2,
    };
    let t0 = 100_000_000;
    let first = store
        .take_tokens(vec![req("idle"), req("busy")], t0)
        .await
        .unwrap();
    assert!(first.iter().all(|g| g.granted == 2));
    // "busy" is taken from after 9 minutes: nothing idle yet
    let busy = store
        .take_tokens(vec![req("busy")], t0 + 540_000)
        .await
        .unwrap();
    assert_eq!(busy[0].granted, 0);
    // at 11 minutes the sweep drops "idle" only
    let busy = store
        .take_tokens(vec![req("busy")], t0 + 660_000)
        .await
        .unwrap();
    assert_eq!(busy[0].granted, 0, "the busy bucket was kept");
    let deadline = Instant::now() + Duration::from_secs(10);
    while keys().await != ["busy"] {
        assert!(Instant::now() < deadline, "not swept: {:?}", keys().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let idle = store
        .take_tokens(vec![req("idle")], t0 + 660_000)
        .await
        .unwrap();
    assert_eq!(idle[0].granted, 2, "the idle bucket was forgotten: full");
}

/// Calls taking from the same buckets in opposite orders, on two nodes at once, wait for one
/// another but never deadlock (PostgreSQL would fail one of them), new buckets included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_in_any_key_order_do_not_deadlock() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let nodes = [node(&db).await, node(&db).await];
    let mut takers = tokio::task::JoinSet::new();
    for t in 0..8 {
        let store = nodes[t % 2].clone();
        takers.spawn(async move {
            for round in 0..50i64 {
                let mut keys: Vec<String> =
                    (0..6).map(|k| format!("k{}", (k + round) % 9)).collect();
                if t % 2 == 1 {
                    keys.reverse();
                }
                let requests = keys
                    .into_iter()
                    .map(|key| TokenRequest {
                        key,
                        capacity: 1000.0,
                        per_ms: 1.0,
                        want: 1,
                    })
                    .collect();
                store.take_tokens(requests, 1_000 + round).await.unwrap();
            }
        });
    }
    takers.join_all().await;
}

/// The next change `changes` reports within `wait`, if any.
async fn next_change(
    changes: &mut tokio::sync::broadcast::Receiver<Change>,
    wait: Duration,
) -> Option<Change> {
    tokio::time::timeout(wait, changes.recv()).await.ok()?.ok()
}

/// Changing or removing a number tells the other nodes, as adding one does: a node's cache of
/// numbers (kept far longer than the test here) shows the change once it forgets what it was
/// told, and a refused write tells nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn number_updates_and_removals_reach_the_other_nodes_caches() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let (writer, other) = (node(&db).await, node(&db).await);
    let mut changes = other.changes().expect("a shared store reports changes");
    let cache = cache::StoreCache::new(other.clone(), Duration::from_secs(3600));
    let acct = writer.create_account("acme", 1).await.unwrap();
    let add = |i: u32| NewNumber {
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        phone: format!("86136000000{i:02}"),
        channel: "simulator".into(),
        throughput_mps: 80,
        ..Default::default()
    };
    // the other node's listener starts in the background: add numbers until it hears one
    let mut added = 0;
    loop {
        assert!(added < 50, "the other node never heard of a new number");
        writer.add_number(add(added), 2).await.unwrap();
        added += 1;
        if next_change(&mut changes, Duration::from_millis(200)).await == Some(Change::Numbers) {
            break;
        }
    }
    let phone = add(0).phone;
    assert_eq!(
        cache.number(&phone).await.unwrap().unwrap().throughput_mps,
        80
    );
    // what the warm-up's other adds told
    while next_change(&mut changes, Duration::from_millis(300))
        .await
        .is_some()
    {}

    let update = NumberUpdate {
        throughput_mps: Some(5),
        ..Default::default()
    };
    writer.update_number(&phone, update, 3).await.unwrap();
    let told = next_change(&mut changes, Duration::from_secs(5)).await;
    assert_eq!(told, Some(Change::Numbers), "an update is told");
    assert_eq!(
        cache.number(&phone).await.unwrap().unwrap().throughput_mps,
        80,
        "cached until told"
    );
    cache.forget(Change::Numbers);
    assert_eq!(
        cache.number(&phone).await.unwrap().unwrap().throughput_mps,
        5
    );

    // refused writes change nothing and tell nothing
    let secret = NumberUpdate {
        access_token: Some(Secret::new("t")),
        ..Default::default()
    };
    assert!(writer.update_number(&phone, secret, 4).await.is_err());
    assert!(writer.remove_number("8613699999999").await.is_err());
    assert_eq!(
        next_change(&mut changes, Duration::from_millis(500)).await,
        None
    );

    writer.remove_number(&phone).await.unwrap();
    let told = next_change(&mut changes, Duration::from_secs(5)).await;
    assert_eq!(told, Some(Change::Numbers), "a removal is told");
    cache.forget(Change::Numbers);
    assert_eq!(cache.number(&phone).await.unwrap(), None);
}

/// A raw connection to the test database, to hold transactions open as another node would.
async fn raw(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn outbound(id: &str, at: i64) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: 1,
        space_id: "s".into(),
        direction: opencams_domain::Direction::Out,
        sender: "8613600000000".into(),
        recipient: "8613900001000".into(),
        send_type: opencams_domain::SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        status: opencams_domain::MessageStatus::Accepted,
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn event_of(id: &str) -> NewEvent {
    NewEvent {
        account_id: 1,
        kind: opencams_domain::EventKind::Status,
        message_id: Some(id.into()),
        payload: "{}".into(),
    }
}

/// Event ids come from a sequence before commit. Routing stops at an id a transaction still in
/// flight holds, routes it (and what follows) once it commits, and passes an id that was rolled
/// back once the transactions that might have held it have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_waits_for_ids_in_flight_and_passes_rolled_back_ones() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let s = node(&db).await;
    let acct = s.create_account("acme", 1).await.unwrap();
    s.set_webhook(
        WebhookUpdate {
            space_id: acct.default_space.clone(),
            phone: String::new(),
            account_id: acct.id,
            status_url: Some(Some("http://127.0.0.1:9/status".into())),
            up_url: None,
            http_flag: Some(true),
            queue_flag: None,
        },
        1,
    )
    .await
    .unwrap();
    let mut m1 = outbound("m1", 2);
    m1.space_id = acct.default_space.clone();
    m1.account_id = acct.id;
    s.insert_messages(vec![m1], vec![]).await.unwrap();
    let pending = async |s: &Arc<dyn Store>| -> i64 {
        s.list_endpoints(None)
            .await
            .unwrap()
            .iter()
            .map(|e| e.pending)
            .sum()
    };
    let append = |n: i64| {
        format!(
            "INSERT INTO events (account_id, kind, message_id, payload, created_at) \
             VALUES ({}, 'status', 'm1', '{{}}', {n})",
            acct.id
        )
    };

    // a transaction (another node) takes an id and has not committed yet …
    let mut slow = raw(&db).await;
    let slow_tx = slow.transaction().await.unwrap();
    slow_tx.batch_execute(&append(10)).await.unwrap();
    // … while a later one commits
    let other = raw(&db).await;
    other.batch_execute(&append(11)).await.unwrap();
    assert_eq!(
        s.route_events(100, 20).await.unwrap(),
        0,
        "passed an id in flight"
    );
    assert_eq!(pending(&s).await, 0);
    slow_tx.commit().await.unwrap();
    assert_eq!(s.route_events(100, 21).await.unwrap(), 2);
    assert_eq!(pending(&s).await, 2);

    // an id rolled back is passed once nothing that might hold it still runs
    let mut aborted = raw(&db).await;
    let aborted_tx = aborted.transaction().await.unwrap();
    aborted_tx.batch_execute(&append(12)).await.unwrap();
    other.batch_execute(&append(13)).await.unwrap();
    assert_eq!(s.route_events(100, 22).await.unwrap(), 0);
    aborted_tx.rollback().await.unwrap();
    // the gap is seen closed once every transaction running when it was seen has ended (on
    // the whole server: xids are the cluster's, and other tests run alongside)
    let mut routed = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while routed == 0 && Instant::now() < deadline {
        routed += s.route_events(100, 23).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(routed, 1);
    assert_eq!(pending(&s).await, 3);
    let _ = event_of;
}

/// A status that arrives while the send's settlement is recording the provider id (another
/// connection holds the message's row) is applied once that commits, not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_racing_the_settlement_is_applied() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let s = node(&db).await;
    s.insert_messages(vec![outbound("m1", 2)], vec![event_of("m1")])
        .await
        .unwrap();
    // the settlement, on another node, has recorded the provider id but not committed
    let mut settling = raw(&db).await;
    let settle_tx = settling.transaction().await.unwrap();
    settle_tx
        .batch_execute("UPDATE messages SET provider_id = 'wamid.1' WHERE id = 'm1'")
        .await
        .unwrap();
    let status = {
        let s = s.clone();
        tokio::spawn(async move {
            s.apply_status(
                StatusUpdate {
                    provider_id: "wamid.1".into(),
                    message_id: Some("m1".into()),
                    status: opencams_domain::MessageStatus::Delivered,
                    at: 9,
                    error_code: None,
                    error_description: None,
                },
                Box::new(|m: &MessageStatusRow, _| Some(event_of(&m.id))),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    settle_tx.commit().await.unwrap();
    let applied = status.await.unwrap().unwrap();
    assert!(
        matches!(&applied, Some((m, true)) if m.status == opencams_domain::MessageStatus::Delivered),
        "{applied:?}"
    );
    let m = s.message("m1").await.unwrap().unwrap();
    assert_eq!(m.status, opencams_domain::MessageStatus::Delivered);
}

/// Webhooks arriving together share transactions: every status applies, each message's in the
/// order given (also when the settlement has not recorded the provider id yet: the status finds
/// the message by our id), one event per change, and stale or unknown statuses change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_webhooks_apply_every_status_in_order() {
    use opencams_domain::MessageStatus::{Delivered, Read, Sent};
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let s = node(&db).await;
    let n = 120;
    let messages: Vec<MessageRow> = (0..n).map(|i| outbound(&format!("m{i}"), 2)).collect();
    s.insert_messages(messages, Vec::new()).await.unwrap();
    // the even ones settled already; the odd ones' statuses overtake their settlement
    raw(&db)
        .await
        .batch_execute(
            "UPDATE messages SET provider_id = 'wamid.' || substr(id, 2) \
             WHERE substr(id, 2)::int % 2 = 0",
        )
        .await
        .unwrap();
    let update = |i: usize, status, at| StatusUpdate {
        provider_id: format!("wamid.{i}"),
        message_id: Some(format!("m{i}")),
        status,
        at,
        error_code: None,
        error_description: None,
    };
    let builder = || -> EventBuilder {
        Box::new(|m: &MessageStatusRow, st: opencams_domain::MessageStatus| {
            Some(NewEvent {
                payload: st.as_str().to_string(),
                ..event_of(&m.id)
            })
        })
    };
    let webhooks = 40;
    let calls = (0..webhooks).map(|w| {
        let s = s.clone();
        let mut updates = Vec::new();
        for i in (w..n).step_by(webhooks) {
            updates.push((update(i, Sent, 10), builder()));
            updates.push((update(i, Delivered, 11), builder()));
            // late: changes nothing
            updates.push((update(i, Sent, 12), builder()));
        }
        updates.push((
            StatusUpdate {
                message_id: None,
                ..update(10_000 + w, Read, 13)
            },
            builder(),
        ));
        tokio::spawn(async move { s.apply_statuses(updates).await })
    });
    for call in futures_util::future::join_all(calls).await {
        let results = call.unwrap().unwrap();
        let (unknown, per_message) = results.split_last().unwrap();
        assert!(unknown.is_none(), "{unknown:?}");
        for r in per_message.chunks(3) {
            let changes: Vec<_> = r
                .iter()
                .map(|a| a.as_ref().map(|(m, changed)| (m.status, *changed)))
                .collect();
            assert_eq!(
                changes,
                vec![
                    Some((Sent, true)),
                    Some((Delivered, true)),
                    Some((Delivered, false))
                ]
            );
        }
    }
    let rows = raw(&db)
        .await
        .query(
            "SELECT message_id, string_agg(payload, ',' ORDER BY id) FROM events \
             GROUP BY message_id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), n);
    for r in rows {
        let id: String = r.get(0);
        assert_eq!(r.get::<_, String>(1), "sent,delivered", "{id}");
        let m = s.message(&id).await.unwrap().unwrap();
        assert_eq!(m.status, Delivered);
        assert_eq!(m.provider_id, Some(format!("wamid.{}", &id[1..])));
    }
}

/// Concurrent settlements of every kind share a batch (one statement per kind): each is
/// answered for its own message, a settlement by a claimer that no longer holds the lease
/// changes nothing, and the events of the ended ones are appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settlements_of_every_kind_are_each_applied() {
    use opencams_domain::MessageStatus::{Accepted, Failed};
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let s = node(&db).await;
    let n = 90;
    let messages: Vec<MessageRow> = (0..n).map(|i| outbound(&format!("m{i}"), 2)).collect();
    s.insert_messages(messages, Vec::new()).await.unwrap();
    let claimed = s.claim_due("W", 3, 60_000, 1000).await.unwrap();
    assert_eq!(claimed.len(), n);
    let outcome = |i: usize| match i % 3 {
        0 => Settlement::Submitted {
            provider_id: format!("wamid.{i}"),
        },
        1 => Settlement::Retry {
            due_at: 50_000,
            error: format!("busy {i}"),
        },
        _ => Settlement::Ended {
            status: Failed,
            error_code: "131026".into(),
            error_description: format!("undeliverable {i}"),
            event: Some(event_of(&format!("m{i}"))),
        },
    };
    let calls = (0..n).map(|i| {
        let s = s.clone();
        // every tenth by a claimer without the lease
        let owner = if i % 10 == 9 { "X" } else { "W" };
        tokio::spawn(async move { s.settle(&format!("m{i}"), owner, outcome(i), 5).await })
    });
    let answers: Vec<bool> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    for (i, released) in answers.iter().enumerate() {
        assert_eq!(*released, i % 10 != 9, "m{i}");
        let m = s.message(&format!("m{i}")).await.unwrap().unwrap();
        match (i % 10 == 9, i % 3) {
            (true, _) => assert_eq!((m.status, m.provider_id), (Accepted, None), "m{i}"),
            (false, 0) => assert_eq!(m.provider_id, Some(format!("wamid.{i}")), "m{i}"),
            (false, 1) => {
                assert_eq!(m.status, Accepted, "m{i}");
                assert_eq!(m.error_description, Some(format!("busy {i}")), "m{i}");
            }
            (false, _) => {
                assert_eq!(m.status, Failed, "m{i}");
                assert_eq!(m.error_code.as_deref(), Some("131026"), "m{i}");
            }
        }
    }
    // the retried ones and those settled by the wrong claimer are still queued
    let queued = (0..n).filter(|i| i % 3 == 1 || i % 10 == 9).count() as u64;
    assert_eq!(s.queue_len().await.unwrap(), queued);
    let events: i64 = raw(&db)
        .await
        .query_one("SELECT COUNT(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    let ended = (0..n).filter(|i| i % 3 == 2 && i % 10 != 9).count() as i64;
    assert_eq!(events, ended);
}

/// Concurrent sends share a transaction; one that cannot be stored (a message id taken) fails
/// alone, with none of its rows written, and the others are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_send_in_a_shared_batch_fails_alone_and_writes_nothing() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let s = node(&db).await;
    s.insert_messages(vec![outbound("taken", 1)], Vec::new())
        .await
        .unwrap();
    let calls = (0..30).map(|i| {
        let s = s.clone();
        let mut messages = vec![outbound(&format!("ok{i}"), 2)];
        if i == 7 {
            // its first message is new, its second is not
            messages = vec![outbound("bad-first", 2), outbound("taken", 2)];
        }
        tokio::spawn(async move { s.insert_messages(messages, Vec::new()).await })
    });
    let results: Vec<_> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.is_err(), i == 7, "call {i}: {r:?}");
    }
    assert!(s.message("bad-first").await.unwrap().is_none());
    assert_eq!(s.count_messages().await.unwrap(), 30);
    assert_eq!(s.queue_len().await.unwrap(), 30);
}

/// Nodes starting together on an empty database: one runs the migrations, the others wait for
/// its advisory lock and find nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let started: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move {
                open(
                    Some(&url),
                    std::path::Path::new("."),
                    Cipher::from_key(&[42; 32]),
                )
                .await
            })
        })
        .collect();
    for s in started {
        let s = s.await.unwrap().unwrap();
        assert!(s.is_empty().await.unwrap());
        s.close().await;
    }
    let c = raw(&db).await;
    let applied: i64 = c
        .query_one("SELECT COUNT(*) FROM opencams_migrations", &[])
        .await
        .unwrap()
        .get(0);
    let files = std::fs::read_dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/postgres/migrations"),
    )
    .unwrap()
    .count() as i64;
    assert_eq!(applied, files);
}

/// `copy`: everything a SQLite install keeps arrives, secrets open with the same master key, the
/// pending queue can be claimed; a copy that failed leaves the target empty (so it can run
/// again), and a target that holds data is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_everything_and_a_failed_copy_can_run_again() {
    let Some(db) = TestDatabase::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("opencams.db");
    let cipher = Cipher::from_key(&[42; 32]);
    let source = open(
        Some(&format!("sqlite:{}", path.display())),
        dir.path(),
        cipher.clone(),
    )
    .await
    .unwrap();
    let acct = source.create_account("acme", 1).await.unwrap();
    let key = source
        .create_key(
            NewKey {
                account_id: acct.id,
                actions: None,
                spaces: None,
            },
            2,
        )
        .await
        .unwrap();
    let mut m = outbound("m1", 3);
    m.account_id = acct.id;
    m.space_id = acct.default_space.clone();
    source
        .insert_messages(vec![m], vec![event_of("m1")])
        .await
        .unwrap();
    // m1's callback delivered, with its answer in the delivery log
    let hook = WebhookUpdate {
        space_id: acct.default_space.clone(),
        phone: String::new(),
        account_id: acct.id,
        status_url: Some(Some("https://hooks.example/cb".into())),
        ..Default::default()
    };
    source.set_webhook(hook, 3).await.unwrap();
    let delivered = |event_ids: Vec<i64>| DeliveryOutcome::Delivered {
        event_ids,
        status: Some(200),
        answer: "copied".into(),
    };
    source.route_events(100, 3).await.unwrap();
    let claimed = source.claim_endpoints("n1", 3, 1000, 10, 10).await.unwrap();
    let m1_events: Vec<i64> = claimed[0].records.iter().map(|r| r.event_id).collect();
    source
        .settle_endpoint(
            claimed[0].endpoint.id,
            "n1",
            delivered(m1_events.clone()),
            3,
        )
        .await
        .unwrap();
    let user = source
        .create_user(
            NewConsoleUser {
                account_id: acct.id,
                email: "Ops@Acme.com".into(),
                role: Role::Operator,
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
            4,
        )
        .await
        .unwrap();
    source
        .create_session(ConsoleSession {
            token_hash: "th".into(),
            user_id: user.id,
            csrf_token: "csrf".into(),
            created_at: 4,
            expires_at: i64::MAX,
        })
        .await
        .unwrap();
    source.close().await;

    // a value the target cannot take makes the copy fail, and leaves the target empty
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute(
            "UPDATE messages SET created_at = 'not a time' WHERE id = 'm1'",
            [],
        )
        .unwrap();
    }
    let failed = copy::sqlite_to_postgres(&path, &db.url, cipher.clone()).await;
    assert!(failed.is_err(), "{failed:?}");
    let target = node(&db).await;
    assert!(target.is_empty().await.unwrap());
    assert_eq!(target.count_messages().await.unwrap(), 0);
    target.close().await;

    // fixed, the copy runs again and moves everything
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE messages SET created_at = 3 WHERE id = 'm1'", [])
            .unwrap();
    }
    let report = copy::sqlite_to_postgres(&path, &db.url, cipher.clone())
        .await
        .unwrap();
    let rows = |t: &str| {
        report
            .tables
            .iter()
            .find(|(name, _)| name == t)
            .map(|(_, n)| *n)
    };
    assert_eq!(rows("accounts"), Some(1));
    assert_eq!(rows("messages"), Some(1));
    assert_eq!(rows("queue"), Some(1));
    assert_eq!(rows("console_users"), Some(1));
    assert_eq!(rows("console_sessions"), None, "sessions stay behind");
    assert_eq!(rows("callback_attempts"), Some(1));
    let target = node(&db).await;
    assert_eq!(
        target.key(&key.id).await.unwrap().unwrap().secret,
        key.secret
    );
    // the user arrives whole (the same password signs in), its sessions do not
    assert_eq!(
        target.user_by_email("ops@acme.com").await.unwrap(),
        Some(user.clone())
    );
    assert_eq!(target.session("th", 0).await.unwrap(), None);
    let claimed = target.claim_due("n1", 10, 1000, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(target.message_events("m1").await.unwrap().len(), 1);
    let copied = target.message_deliveries(&m1_events).await.unwrap();
    assert_eq!(
        copied
            .iter()
            .map(|a| (a.answer.as_str(), a.status, a.event_ids.clone()))
            .collect::<Vec<_>>(),
        [("copied", Some(200), m1_events.clone())]
    );
    // ids go on after the copied ones (the delivery log's too)
    let mut m2 = outbound("m2", 5);
    m2.account_id = acct.id;
    m2.space_id = acct.default_space.clone();
    target
        .insert_messages(vec![m2], vec![event_of("m2")])
        .await
        .unwrap();
    target.route_events(100, 5).await.unwrap();
    let claimed = target.claim_endpoints("n1", 5, 1000, 10, 10).await.unwrap();
    let m2_events: Vec<i64> = claimed[0].records.iter().map(|r| r.event_id).collect();
    target
        .settle_endpoint(
            claimed[0].endpoint.id,
            "n1",
            delivered(m2_events.clone()),
            5,
        )
        .await
        .unwrap();
    let next = target.message_deliveries(&m2_events).await.unwrap();
    assert!(next[0].id > copied[0].id, "{next:?} after {copied:?}");
    let other = target.create_account("globex", 4).await.unwrap();
    assert!(other.id > acct.id);
    let second = target
        .create_user(
            NewConsoleUser {
                account_id: other.id,
                email: "admin@globex.com".into(),
                role: Role::Admin,
                password_hash: "h".into(),
            },
            5,
        )
        .await
        .unwrap();
    assert!(second.id > user.id);
    target.close().await;

    // a target that holds data is refused
    match copy::sqlite_to_postgres(&path, &db.url, cipher).await {
        Err(StoreError::Conflict(msg)) => assert!(msg.contains("already holds"), "{msg}"),
        other => panic!("a second copy into a used target: {other:?}"),
    }
}
