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
