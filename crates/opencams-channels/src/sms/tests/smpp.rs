use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::sms::encoding::{DATA_CODING_DEFAULT, DATA_CODING_UCS2};
use crate::sms::smpp::{SmppClient, SmppConfig};
use crate::sms::testing::{ReceiptMode, TestSmsc};
use crate::sms::{DeliveryReport, Sms, SmsSender};

const WAIT: Duration = Duration::from_secs(5);

struct Fixture {
    smsc: TestSmsc,
    client: Arc<SmppClient>,
    reports: mpsc::UnboundedReceiver<DeliveryReport>,
    shutdown: CancellationToken,
}

fn config(smsc: &TestSmsc, password: &str) -> SmppConfig {
    SmppConfig {
        response_timeout_ms: 1000,
        reconnect_max_ms: 400,
        ..SmppConfig::new(&smsc.address(), "opencams", password)
    }
}

async fn fixture_with(cfg: impl FnOnce(&TestSmsc) -> SmppConfig) -> Fixture {
    let smsc = TestSmsc::start("opencams", "secret").await;
    let (tx, reports) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let client = SmppClient::start(cfg(&smsc), tx, shutdown.clone());
    Fixture {
        smsc,
        client,
        reports,
        shutdown,
    }
}

async fn fixture() -> Fixture {
    let f = fixture_with(|s| config(s, "secret")).await;
    assert!(f.client.wait_bound(WAIT).await, "client binds");
    f
}

fn sms(from: &str, text: &str) -> Sms {
    Sms {
        from: from.into(),
        to: "8613800138000".into(),
        text: text.into(),
        reference: "msg-1".into(),
    }
}

async fn next_report(f: &mut Fixture) -> DeliveryReport {
    tokio::time::timeout(WAIT, f.reports.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn short_latin_text_arrives_intact_and_its_receipt_comes_back() {
    let mut f = fixture().await;
    let text = "Your code is 123456 — no, GSM: Your code is 123456 {ok} €";
    let text = text.replace('—', "-");
    let sent = f.client.send(&sms("OpenCams", &text)).await.unwrap();
    assert_eq!((sent.parts, sent.ids.len()), (1, 1));

    let got = f.smsc.wait_received(1, WAIT).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (m.from.as_str(), m.to.as_str()),
        ("OpenCams", "8613800138000")
    );
    assert_eq!((m.source_ton, m.source_npi), (5, 0), "alphanumeric sender");
    assert_eq!(
        (m.text.as_str(), m.data_coding, m.parts),
        (text.as_str(), DATA_CODING_DEFAULT, 1)
    );
    assert_eq!(m.message_ids, sent.ids);

    let report = next_report(&mut f).await;
    assert_eq!(
        report,
        DeliveryReport {
            id: sent.ids[0].clone(),
            delivered: true,
            stat: "DELIVRD".into(),
            err: "000".into()
        }
    );
    assert_eq!(f.smsc.binds(), 1);
    // The SMSC's own enquire_link after the bind was answered.
    assert!(
        f.smsc
            .wait_until(WAIT, |s| s.enquire_link_resps() >= 1)
            .await
    );
}

#[tokio::test]
async fn long_latin_text_is_split_and_reassembled() {
    let mut f = fixture().await;
    let text: String = "The quick brown fox [jumps] over the lazy dog. "
        .chars()
        .cycle()
        .take(400)
        .collect();
    let sent = f.client.send(&sms("12025550100", &text)).await.unwrap();
    // 400 characters, 17 of them escaped ([ and ]): 417 septets in parts of 153.
    assert_eq!((sent.parts, sent.ids.len()), (3, 3));

    let m = f.smsc.wait_received(1, WAIT).await.remove(0);
    assert_eq!((m.source_ton, m.source_npi), (1, 1), "numeric sender");
    assert_eq!(
        (m.text, m.data_coding, m.parts),
        (text, DATA_CODING_DEFAULT, 3)
    );
    assert_eq!(m.message_ids, sent.ids);
    // One receipt, for the last part.
    assert_eq!(next_report(&mut f).await.id, sent.ids[2]);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), f.reports.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn long_chinese_and_emoji_texts_are_split_and_reassembled() {
    let mut f = fixture().await;
    let chinese: String = "您的验证码是一二三四五六，请勿泄露给他人。"
        .chars()
        .cycle()
        .take(200)
        .collect();
    let sent = f.client.send(&sms("OpenCams", &chinese)).await.unwrap();
    assert_eq!(sent.parts, 3, "200 UCS-2 characters in parts of 67");

    let emoji = format!("{} ok", "😀🎉".repeat(25));
    let sent2 = f.client.send(&sms("OpenCams", &emoji)).await.unwrap();
    assert_eq!(sent2.parts, 2, "103 UTF-16 units");

    let got = f.smsc.wait_received(2, WAIT).await;
    assert_eq!(
        (got[0].text.as_str(), got[0].data_coding, got[0].parts),
        (chinese.as_str(), DATA_CODING_UCS2, 3)
    );
    assert_eq!(
        (got[1].text.as_str(), got[1].data_coding, got[1].parts),
        (emoji.as_str(), DATA_CODING_UCS2, 2)
    );
    assert_eq!(got[1].message_ids, sent2.ids);
    let ids = [next_report(&mut f).await.id, next_report(&mut f).await.id];
    assert!(ids.contains(&sent.ids[2]) && ids.contains(&sent2.ids[1]));
}

#[tokio::test]
async fn undelivered_receipts_are_reported() {
    let mut f = fixture().await;
    f.smsc.set_receipts(ReceiptMode::Undelivered);
    let sent = f.client.send(&sms("OpenCams", "hello")).await.unwrap();
    let report = next_report(&mut f).await;
    assert_eq!(
        (
            report.id,
            report.delivered,
            report.stat.as_str(),
            report.err.as_str()
        ),
        (sent.ids[0].clone(), false, "UNDELIV", "001")
    );

    f.smsc.set_receipts(ReceiptMode::None);
    f.client.send(&sms("OpenCams", "again")).await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), f.reports.recv())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn wrong_password_fails_clearly() {
    let f = fixture_with(|s| SmppConfig {
        response_timeout_ms: 300,
        ..config(s, "wrong")
    })
    .await;
    let e = f.client.send(&sms("OpenCams", "hello")).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("not_bound", true));
    assert!(e.description.contains("ESME_RINVPASWD"), "{e}");
    assert!(!f.client.is_bound());
    assert_eq!(f.smsc.binds(), 0);
}

#[tokio::test]
async fn submit_errors_are_classified() {
    let f = fixture().await;
    f.smsc.fail_submits(0x58);
    let e = f.client.send(&sms("OpenCams", "hello")).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("0x00000058", true));
    f.smsc.fail_submits(0x0B);
    let e = f.client.send(&sms("OpenCams", "hello")).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("0x0000000B", false));
    f.smsc.fail_submits(0);
    f.client.send(&sms("OpenCams", "hello")).await.unwrap();
    let e = f.client.send(&sms("OpenCams", "")).await;
    assert!(e.is_ok(), "an empty text is one empty part");
}

#[tokio::test]
async fn the_client_reconnects_after_the_smsc_drops_it() {
    let f = fixture().await;
    f.client.send(&sms("OpenCams", "before")).await.unwrap();
    f.smsc.drop_connections();
    assert!(f.smsc.wait_until(WAIT, |s| s.binds() == 2).await, "rebinds");
    f.client.send(&sms("OpenCams", "after")).await.unwrap();
    let got = f.smsc.wait_received(2, WAIT).await;
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["before", "after"]
    );
}

#[tokio::test]
async fn a_send_racing_the_drop_fails_retryably_or_goes_out_after_the_rebind() {
    let f = fixture().await;
    f.smsc.drop_connections();
    // Noticed before the send: it waits for the rebind. Noticed during it: the submit's fate is
    // unknown, so it fails retryably and the dispatcher's retry goes out on the new bind.
    if let Err(e) = f.client.send(&sms("OpenCams", "during")).await {
        assert_eq!(
            (e.code.as_str(), e.retryable),
            ("connection_lost", true),
            "{e}"
        );
        f.client.send(&sms("OpenCams", "during")).await.unwrap();
    }
    assert_eq!(f.smsc.wait_received(1, WAIT).await[0].text, "during");
}

#[tokio::test]
async fn no_smsc_means_not_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (tx, _rx) = mpsc::unbounded_channel();
    let shutdown = CancellationToken::new();
    let cfg = SmppConfig {
        response_timeout_ms: 300,
        ..SmppConfig::new(&address, "a", "b")
    };
    let client = SmppClient::start(cfg, tx, shutdown.clone());
    let e = client.send(&sms("OpenCams", "hi")).await.unwrap_err();
    assert_eq!((e.code.as_str(), e.retryable), ("not_bound", true));
    assert!(e.description.contains("connect"), "{e}");
    shutdown.cancel();
    client.closed().await;
}

#[tokio::test]
async fn enquire_link_keeps_the_session_alive() {
    let f = fixture_with(|s| SmppConfig {
        enquire_link_secs: 1,
        ..config(s, "secret")
    })
    .await;
    assert!(
        f.smsc.wait_until(WAIT, |s| s.enquire_links() >= 2).await,
        "keep-alives sent"
    );
    assert!(f.client.is_bound());
    assert_eq!(f.smsc.binds(), 1, "keep-alives were answered: no reconnect");
}

#[tokio::test]
async fn shutdown_unbinds() {
    let f = fixture().await;
    f.shutdown.cancel();
    tokio::time::timeout(WAIT, f.client.closed()).await.unwrap();
    assert!(!f.client.is_bound());
    assert_eq!(f.smsc.unbinds(), 1);
    let e = f.client.send(&sms("OpenCams", "late")).await.unwrap_err();
    assert_eq!(e.code, "not_bound");
}

#[tokio::test]
async fn dropping_the_client_unbinds() {
    let f = fixture().await;
    drop(f.client);
    assert!(f.smsc.wait_until(WAIT, |s| s.unbinds() == 1).await);
}
