//! The Store conformance suite, run against SQLite (and, once it exists, PostgreSQL when
//! `OPENCAMS_TEST_DATABASE_URL` is set).
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;

use opencams_store::*;

fn cipher() -> Cipher {
    Cipher::from_key(&[42; 32])
}

async fn sqlite(dir: &std::path::Path) -> Arc<dyn Store> {
    open(None, dir, cipher()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_keys_numbers_survive_restart_and_secrets_are_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
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

    // nothing secret is readable in the database files
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("opencams.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            for secret in [key.secret.expose(), "EAAGtokenvalue", "appsecretvalue"] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{secret} in {path:?}"
                );
            }
        }
    }

    let store = sqlite(dir.path()).await;
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
    let other = open(None, dir.path(), Cipher::from_key(&[1; 32]))
        .await
        .unwrap();
    assert!(matches!(
        other.key(&key.id).await,
        Err(StoreError::Crypto(_))
    ));
    other.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_keeps_every_write_and_isolates_failures() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
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

#[tokio::test]
async fn nonces_persist_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite(dir.path()).await;
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

#[tokio::test]
async fn unsupported_urls_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://x", "postgres://localhost/test"] {
        match open(Some(url), dir.path(), cipher()).await {
            Err(StoreError::Config(msg)) => assert!(msg.contains("sqlite:"), "{msg}"),
            _ => panic!("{url} should be refused"),
        }
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
