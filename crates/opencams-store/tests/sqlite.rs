//! What is particular to the SQLite backend: its database URLs, and the background checkpoint
//! that keeps the WAL from growing while the writer writes.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;

use opencams_domain::{Direction, MessageStatus, SendType};
use opencams_store::*;

fn cipher() -> Cipher {
    Cipher::from_key(&[42; 32])
}

async fn sqlite(dir: &std::path::Path) -> Arc<dyn Store> {
    open(None, dir, cipher()).await.unwrap()
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
        created_at: 5,
        updated_at: 5,
        ..Default::default()
    }
}

#[tokio::test]
async fn unsupported_urls_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    match open(Some("mysql://x"), dir.path(), cipher()).await {
        Err(StoreError::Config(msg)) => {
            assert!(
                msg.contains("sqlite:") && msg.contains("postgres://"),
                "{msg}"
            )
        }
        _ => panic!("mysql:// should be refused"),
    }
    let path = dir.path().join("sub/x.db");
    let s = open(
        Some(&format!("sqlite:{}", path.display())),
        dir.path(),
        cipher(),
    )
    .await
    .unwrap();
    s.ping().await.unwrap();
    assert!(path.exists());
}

#[tokio::test]
async fn a_background_thread_checkpoints_while_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = sqlite(dir.path()).await;
    let db = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .expect("the database file");
    let before = std::fs::metadata(&db).unwrap().len();
    // the writer never checkpoints by page count: only the background thread copies these
    // pages into the database file within a few hundred ms
    for batch in 0..20 {
        let rows = (0..50)
            .map(|i| {
                let mut m = msg(&format!("ck{batch:03}{i:03}"));
                m.body = "x".repeat(2000);
                m
            })
            .collect();
        s.insert_messages(rows, vec![]).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::metadata(&db).unwrap().len() <= before + 1_000_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint copied the 1,000 rows into {}",
            db.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(s.count_messages().await.unwrap(), 1000);
}
