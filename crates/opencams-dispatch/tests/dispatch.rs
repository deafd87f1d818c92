//! The dispatcher against the real simulator over TCP, on a fake clock.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::sync::Arc;

use opencams_channels::simulator::{SimConfig, SimNumber, Simulator, StaticNumbers};
use opencams_channels::whatsapp_cloud::WhatsAppCloud;
use opencams_channels::{Channel, NumberConfig};
use opencams_dispatch::worker::{ChannelMap, DispatchConfig, Dispatcher};
use opencams_domain::ManualClock;
use opencams_store::{Cipher, MessageRow, NewNumber, Store};
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn setup(
    clock: ManualClock,
) -> (
    Arc<dyn Store>,
    Arc<Dispatcher>,
    Arc<Simulator>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = opencams_store::open(None, dir.path(), Cipher::from_key(&[3; 32]))
        .await
        .unwrap();
    let a = store.create_account("acme", 0).await.unwrap();
    store
        .add_number(
            NewNumber {
                account_id: a.id,
                space_id: a.default_space.clone(),
                phone: "8613600000000".into(),
                channel: "simulator".into(),
                throughput_mps: 80,
                ..Default::default()
            },
            0,
        )
        .await
        .unwrap();
    let numbers = Arc::new(StaticNumbers::new());
    numbers.register(SimNumber {
        phone_number_id: "108613600000000".into(),
        display_phone_number: "8613600000000".into(),
        waba_id: "w".into(),
        access_token: "tok".into(),
        throughput_mps: 80,
    });
    let sim = Simulator::new(SimConfig::default(), numbers, Arc::new(clock.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = sim.router();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let cloud: Arc<dyn Channel> =
        Arc::new(WhatsAppCloud::new(std::time::Duration::from_secs(5)).unwrap());
    let router = ChannelMap {
        channels: [("whatsapp-cloud".to_string(), cloud)]
            .into_iter()
            .collect(),
        configure: Box::new(move |_| {
            Some(NumberConfig {
                phone_number_id: "108613600000000".into(),
                access_token: "tok".into(),
                api_base: base.clone(),
                api_version: "v23.0".into(),
            })
        }),
    };
    let cache = Arc::new(opencams_store::cache::StoreCache::new(
        store.clone(),
        opencams_store::cache::STORE_CACHE_TTL,
    ));
    let d = Dispatcher::new(
        cache,
        Arc::new(clock),
        Arc::new(router),
        DispatchConfig::default(),
        "test".into(),
    );
    (store, d, sim, dir)
}

fn reaction(id: &str, created_at: i64, ttl: Option<i64>) -> MessageRow {
    let content = opencams_domain::message::parse_content(
        opencams_domain::message::MessageType::Reaction,
        Some(r#"{"messageId":"wamid.x","emoji":"👍"}"#),
    )
    .unwrap();
    MessageRow {
        id: id.into(),
        account_id: 1,
        space_id: "s".into(),
        direction: opencams_domain::Direction::Out,
        sender: "8613600000000".into(),
        recipient: "8613900000000".into(),
        send_type: opencams_domain::SendType::Message,
        message_type: "reaction".into(),
        body: json!({"content": content}).to_string(),
        ttl_secs: ttl,
        status: opencams_domain::MessageStatus::Accepted,
        created_at,
        updated_at: created_at,
        ..Default::default()
    }
}

async fn run_until_idle(store: &Arc<dyn Store>, d: &Arc<Dispatcher>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(d.clone().run(stop.clone()));
    for _ in 0..200 {
        if store.queue_len().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_ends_a_message_instead_of_sending_it_late() {
    let clock = ManualClock::new(1_000_000);
    let (store, d, sim, _dir) = setup(clock.clone()).await;
    store
        .insert_messages(
            vec![
                reaction("late", 1_000_000, Some(30)),
                reaction("fresh", 1_000_000, Some(300)),
            ],
            vec![],
        )
        .await
        .unwrap();
    clock.advance_ms(31_000);
    run_until_idle(&store, &d).await;
    let late = store.message("late").await.unwrap().unwrap();
    assert_eq!(
        (late.status.as_str(), late.error_code.as_deref()),
        ("expired", Some("ttl_expired"))
    );
    let events = store.message_events("late").await.unwrap();
    assert!(
        events[0].payload.contains("\"Status\":\"Expired\""),
        "{events:?}"
    );
    let fresh = store.message("fresh").await.unwrap().unwrap();
    assert!(fresh.provider_id.is_some(), "the unexpired one was sent");
    let sent: Vec<_> = sim
        .sent()
        .into_iter()
        .map(|r| r.biz_opaque_callback_data.unwrap_or_default())
        .collect();
    assert_eq!(sent, vec!["fresh".to_string()], "nothing sent late");
}
