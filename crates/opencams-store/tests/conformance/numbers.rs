//! Changing and removing sender numbers: an update sets what it names and nothing else (secrets
//! sealed again), takes no secret for a number without Cloud API settings, and a number is
//! removed only once no message from it waits in the queue.

use std::sync::Arc;

use opencams_domain::{Direction, MessageStatus, SendType};
use opencams_store::*;

use crate::Place;

const CLOUD: &str = "8613600000001";
const SIM: &str = "8613600000002";

async fn setup(place: &Place) -> (Arc<dyn Store>, Account) {
    let store = place.open().await;
    let acct = store.create_account("acme", 1).await.unwrap();
    for (phone, cloud) in [(CLOUD, true), (SIM, false)] {
        let number = NewNumber {
            account_id: acct.id,
            space_id: acct.default_space.clone(),
            phone: phone.into(),
            channel: if cloud { "whatsapp-cloud" } else { "simulator" }.into(),
            verified_name: format!("Acme {phone}"),
            throughput_mps: 80,
            cloud: cloud.then(|| CloudSettings {
                phone_number_id: "1001".into(),
                waba_id: "2001".into(),
                access_token: Some(Secret::new("token-one")),
                app_secret: Some(Secret::new("secret-one")),
                api_base: None,
                api_version: Some("v23.0".into()),
            }),
        };
        store.add_number(number, 2).await.unwrap();
    }
    (store, acct)
}

/// The access token and app secret a number reads back with.
fn secrets(n: &Number) -> (String, String) {
    let cloud = n.cloud.as_ref().expect("a Cloud API number");
    let open = |s: &Option<Secret>| s.as_ref().expect("a secret").expose().to_string();
    (open(&cloud.access_token), open(&cloud.app_secret))
}

/// `before` with its secrets replaced.
fn with_secrets(before: &Number, token: &str, secret: &str) -> Number {
    let mut n = before.clone();
    let cloud = n.cloud.as_mut().expect("a Cloud API number");
    cloud.access_token = Some(Secret::new(token));
    cloud.app_secret = Some(Secret::new(secret));
    n
}

pub async fn an_update_changes_only_what_it_names_and_reseals_secrets(place: Place) {
    let (store, _) = setup(&place).await;
    let number = async |phone: &str| store.number(phone).await.unwrap().unwrap();
    let original = number(CLOUD).await;
    let sim = number(SIM).await;
    assert_eq!(
        secrets(&original),
        ("token-one".into(), "secret-one".into())
    );

    // each field alone: the answer is the stored row, with that field changed and no other
    let renamed = store
        .update_number(
            CLOUD,
            NumberUpdate {
                verified_name: Some("Acme Support".into()),
                ..Default::default()
            },
            3,
        )
        .await
        .unwrap();
    let mut expected = original.clone();
    expected.verified_name = "Acme Support".into();
    assert_eq!(renamed, expected);
    assert_eq!(number(CLOUD).await, expected);

    let faster = store
        .update_number(
            CLOUD,
            NumberUpdate {
                throughput_mps: Some(250),
                ..Default::default()
            },
            4,
        )
        .await
        .unwrap();
    expected.throughput_mps = 250;
    assert_eq!(faster, expected);
    assert_eq!(number(CLOUD).await, expected);

    store
        .update_number(
            CLOUD,
            NumberUpdate {
                access_token: Some(Secret::new("token-two")),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    expected = with_secrets(&expected, "token-two", "secret-one");
    assert_eq!(number(CLOUD).await, expected, "only the token changed");

    store
        .update_number(
            CLOUD,
            NumberUpdate {
                app_secret: Some(Secret::new("secret-two")),
                ..Default::default()
            },
            6,
        )
        .await
        .unwrap();
    expected = with_secrets(&expected, "token-two", "secret-two");
    assert_eq!(number(CLOUD).await, expected, "only the app secret changed");

    // everything at once
    let all = NumberUpdate {
        verified_name: Some("Acme".into()),
        throughput_mps: Some(1000),
        access_token: Some(Secret::new("token-three")),
        app_secret: Some(Secret::new("secret-three")),
    };
    store.update_number(CLOUD, all, 7).await.unwrap();
    expected = with_secrets(&expected, "token-three", "secret-three");
    expected.verified_name = "Acme".into();
    expected.throughput_mps = 1000;
    assert_eq!(number(CLOUD).await, expected);

    // an empty update changes nothing (and is no error)
    let same = store
        .update_number(CLOUD, NumberUpdate::default(), 8)
        .await
        .unwrap();
    assert_eq!(same, expected);

    // the other number was not touched by any of it
    assert_eq!(number(SIM).await, sim);

    // a simulator number has nowhere to keep a secret: refused as a whole (the name given with
    // it is not set either), saying which channel the number is on
    for update in [
        NumberUpdate {
            verified_name: Some("Renamed".into()),
            access_token: Some(Secret::new("sim-token")),
            ..Default::default()
        },
        NumberUpdate {
            app_secret: Some(Secret::new("sim-secret")),
            ..Default::default()
        },
    ] {
        match store.update_number(SIM, update, 9).await {
            Err(StoreError::Conflict(msg)) => {
                assert!(
                    msg.contains(SIM)
                        && msg.contains("simulator")
                        && msg.contains("whatsapp-cloud"),
                    "{msg}"
                )
            }
            other => panic!("a secret for a simulator number: {other:?}"),
        }
    }
    assert_eq!(number(SIM).await, sim);
    // … while what it does have can change
    let sim_faster = store
        .update_number(
            SIM,
            NumberUpdate {
                throughput_mps: Some(10),
                ..Default::default()
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(sim_faster.throughput_mps, 10);
    assert_eq!(sim_faster.cloud, None);

    // an unknown number, with something to change or nothing
    for update in [
        NumberUpdate::default(),
        NumberUpdate {
            verified_name: Some("Nobody".into()),
            ..Default::default()
        },
    ] {
        match store.update_number("8613600000099", update, 11).await {
            Err(StoreError::NotFound(msg)) => assert!(msg.contains("8613600000099"), "{msg}"),
            other => panic!("an update of an unknown number: {other:?}"),
        }
    }
    assert!(store.number("8613600000099").await.unwrap().is_none());

    // the new secrets are sealed at rest, and open after a restart
    store.close().await;
    let kept = place.raw_contents().await;
    for secret in ["token-three", "secret-three"] {
        assert!(
            !kept.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is readable in the store"
        );
    }
    let store = place.open().await;
    let reopened = store.number(CLOUD).await.unwrap().unwrap();
    assert_eq!(reopened, expected);
    assert_eq!(
        secrets(&reopened),
        ("token-three".into(), "secret-three".into())
    );
    store.close().await;
}

fn queued(acct: &Account, id: &str, sender: &str) -> MessageRow {
    MessageRow {
        id: id.into(),
        account_id: acct.id,
        space_id: acct.default_space.clone(),
        direction: Direction::Out,
        sender: sender.into(),
        recipient: "8613900000000".into(),
        send_type: SendType::Message,
        message_type: "text".into(),
        body: "{}".into(),
        // an accepted outbound message is queued for sending
        status: MessageStatus::Accepted,
        created_at: 5,
        updated_at: 5,
        ..Default::default()
    }
}

/// Asserts that removing `phone` is refused for `waiting` queued messages, and the number kept.
async fn refused_while_queued(store: &Arc<dyn Store>, phone: &str, waiting: u32) {
    match store.remove_number(phone).await {
        Err(StoreError::Conflict(msg)) => assert!(
            msg.contains(phone) && msg.contains(&format!("{waiting} message(s)")),
            "{msg}"
        ),
        other => panic!("removing {phone} with {waiting} queued message(s): {other:?}"),
    }
    assert!(store.number(phone).await.unwrap().is_some(), "{phone} kept");
}

pub async fn a_number_is_removed_only_once_none_of_its_messages_is_queued(place: Place) {
    let (store, acct) = setup(&place).await;
    let phones = async |store: &Arc<dyn Store>| -> Vec<String> {
        let list = store.list_numbers(NumberFilter::default()).await.unwrap();
        list.into_iter().map(|n| n.phone).collect()
    };
    match store.remove_number("8613600000099").await {
        Err(StoreError::NotFound(msg)) => assert!(msg.contains("8613600000099"), "{msg}"),
        other => panic!("removing an unknown number: {other:?}"),
    }

    // two messages from SIM wait and one from CLOUD: each number counts only its own
    store
        .insert_messages(
            vec![
                queued(&acct, "s1", SIM),
                queued(&acct, "s2", SIM),
                queued(&acct, "c1", CLOUD),
            ],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(store.queue_len().await.unwrap(), 3);
    refused_while_queued(&store, SIM, 2).await;
    refused_while_queued(&store, CLOUD, 1).await;

    // claimed (being sent) is still waiting
    let claimed = store.claim_due("W", 10, 60_000, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    refused_while_queued(&store, SIM, 2).await;
    // one sent …
    let sent = Settlement::Submitted {
        provider_id: "wamid.s1".into(),
    };
    assert!(store.settle("s1", "W", sent, 11).await.unwrap());
    refused_while_queued(&store, SIM, 1).await;
    // … and one failed for good: none of SIM's is left in the queue
    let failed = Settlement::Ended {
        status: MessageStatus::Failed,
        error_code: "131026".into(),
        error_description: "undeliverable".into(),
        event: None,
    };
    assert!(store.settle("s2", "W", failed, 12).await.unwrap());
    assert_eq!(store.queue_len().await.unwrap(), 1, "c1 still waits");

    store.remove_number(SIM).await.unwrap();
    assert!(store.number(SIM).await.unwrap().is_none());
    assert_eq!(phones(&store).await, vec![CLOUD.to_string()]);
    // what was sent from it stays in the history
    let s1 = store.message("s1").await.unwrap().unwrap();
    assert_eq!(s1.sender, SIM);
    // gone: a second removal and an update find nothing
    assert!(matches!(
        store.remove_number(SIM).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_number(SIM, NumberUpdate::default(), 13).await,
        Err(StoreError::NotFound(_))
    ));
    // the removal survives a restart, and the phone can be registered again
    store.close().await;
    let store = place.open().await;
    assert_eq!(phones(&store).await, vec![CLOUD.to_string()]);
    let again = store
        .add_number(
            NewNumber {
                account_id: acct.id,
                space_id: acct.default_space.clone(),
                phone: SIM.into(),
                channel: "simulator".into(),
                throughput_mps: 80,
                ..Default::default()
            },
            14,
        )
        .await
        .unwrap();
    assert_eq!(again.phone, SIM);
    assert_eq!(phones(&store).await.len(), 2);
    store.close().await;
}
