//! How the client's read loop answers what the SMSC sends.

use tokio::sync::mpsc;

use crate::sms::smpp::link::Link;
use crate::sms::smpp::pdu::*;
use crate::sms::smpp::session::handle;

async fn answer(
    pdu: Pdu,
) -> (
    Result<(), String>,
    Option<Pdu>,
    Vec<crate::sms::DeliveryReport>,
) {
    let (tx, mut rx) = mpsc::channel(4);
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let link = Link::new(tx);
    let ended = handle(&link, pdu, &reports_tx).await;
    let mut got = Vec::new();
    while let Ok(r) = reports.try_recv() {
        got.push(r);
    }
    (ended, rx.try_recv().ok(), got)
}

#[tokio::test]
async fn the_smscs_requests_are_answered() {
    let (ended, reply, _) = answer(Pdu::new(ENQUIRE_LINK, 0, 41, vec![])).await;
    assert_eq!(
        (ended, reply),
        (Ok(()), Some(Pdu::new(ENQUIRE_LINK_RESP, 0, 41, vec![])))
    );

    // data_sm (0x103) is not spoken here: generic_nack with ESME_RINVCMDID, same sequence.
    let (ended, reply, _) = answer(Pdu::new(0x0000_0103, 0, 42, vec![1, 2])).await;
    assert_eq!(
        (ended, reply),
        (
            Ok(()),
            Some(Pdu::new(GENERIC_NACK, ESME_RINVCMDID, 42, vec![]))
        )
    );

    let (ended, reply, _) = answer(Pdu::new(UNBIND, 0, 43, vec![])).await;
    assert!(ended.is_err());
    assert_eq!(reply, Some(Pdu::new(UNBIND_RESP, 0, 43, vec![])));

    // An unmatched response is dropped quietly.
    let (ended, reply, _) = answer(Pdu::new(SUBMIT_SM_RESP, 0, 44, encode_id("x"))).await;
    assert_eq!((ended, reply), (Ok(()), None));
}

#[tokio::test]
async fn receipts_are_reported_and_every_deliver_sm_acknowledged() {
    let receipt = ShortMessage {
        esm_class: 0x04,
        short_message: b"id:77 sub:001 dlvrd:000 submit date:2501011200 done date:2501011300 stat:EXPIRED err:000 text:".to_vec(),
        ..ShortMessage::default()
    };
    let (ended, reply, reports) = answer(Pdu::new(DELIVER_SM, 0, 9, receipt.encode())).await;
    assert_eq!(ended, Ok(()));
    assert_eq!(reply, Some(Pdu::new(DELIVER_SM_RESP, 0, 9, encode_id(""))));
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (
            reports[0].id.as_str(),
            reports[0].delivered,
            reports[0].stat.as_str()
        ),
        ("77", false, "EXPIRED")
    );

    // Unreadable, or a mobile-originated SMS: acknowledged, nothing reported.
    for body in [
        vec![0u8; 3],
        ShortMessage {
            short_message: b"hi".to_vec(),
            ..ShortMessage::default()
        }
        .encode(),
    ] {
        let (ended, reply, reports) = answer(Pdu::new(DELIVER_SM, 0, 10, body)).await;
        assert_eq!(
            (ended, reply.map(|p| p.command_id), reports.len()),
            (Ok(()), Some(DELIVER_SM_RESP), 0)
        );
    }
}
