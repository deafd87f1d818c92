use bytes::BytesMut;

use crate::sms::smpp::classify_status;
use crate::sms::smpp::pdu::*;
use crate::sms::smpp::receipt::{Inbound, classify, field};
use crate::sms::{DeliveryReport, Sms, check_addresses};

#[test]
fn pdus_frame_and_unframe_across_partial_reads() {
    let bind = Bind {
        system_id: "opencams".into(),
        password: "secret".into(),
        system_type: "".into(),
    };
    let pdu = Pdu::new(BIND_TRANSCEIVER, 0, 7, bind.encode());
    let bytes = pdu.to_bytes();
    assert_eq!(&bytes[..4], &(bytes.len() as u32).to_be_bytes());
    assert_eq!(&bytes[4..16], &[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 7]);

    let mut buf = BytesMut::from(&bytes[..10]);
    assert_eq!(Pdu::take(&mut buf), Ok(None));
    buf.extend_from_slice(&bytes[10..]);
    buf.extend_from_slice(&Pdu::new(ENQUIRE_LINK, 0, 8, vec![]).to_bytes());
    let got = Pdu::take(&mut buf).unwrap().unwrap();
    assert_eq!(got, pdu);
    assert_eq!(Bind::decode(&got.body).unwrap(), bind);
    assert_eq!(
        Pdu::take(&mut buf).unwrap().unwrap().command_id,
        ENQUIRE_LINK
    );
    assert!(buf.is_empty());

    let mut bad = BytesMut::from(&[0u8, 0, 0, 3, 0, 0, 0, 0][..]);
    assert_eq!(Pdu::take(&mut bad), Err(PduError::BadLength(3)));
}

#[test]
fn short_messages_round_trip_with_tlvs() {
    let sm = ShortMessage {
        source_ton: 5,
        source_npi: 0,
        source: "OpenCams".into(),
        dest_ton: 1,
        dest_npi: 1,
        dest: "8613800138000".into(),
        esm_class: 0x40,
        registered_delivery: 1,
        data_coding: 8,
        short_message: vec![5, 0, 3, 1, 2, 1, 0x4F, 0x60],
        tlvs: vec![(TLV_MESSAGE_STATE, vec![2])],
    };
    let body = sm.encode();
    assert_eq!(ShortMessage::decode(&body).unwrap(), sm);
    assert!(matches!(
        ShortMessage::decode(&body[..20]),
        Err(PduError::Truncated(_) | PduError::Unterminated(..))
    ));
    assert_eq!(decode_id(&encode_id("abc")).unwrap(), "abc");
    assert_eq!(decode_id(&[]).unwrap(), "");
}

fn receipt(text: &str, tlvs: Vec<(u16, Vec<u8>)>) -> ShortMessage {
    ShortMessage {
        esm_class: 0x04,
        short_message: text.as_bytes().to_vec(),
        tlvs,
        ..ShortMessage::default()
    }
}

#[test]
fn receipt_texts_are_parsed() {
    let text = "id:0A1B2C sub:001 dlvrd:001 submit date:2501011200 done date:2501011201 stat:DELIVRD err:000 text:Hello world";
    assert_eq!(
        classify(&receipt(text, vec![])),
        Inbound::Final(DeliveryReport {
            id: "0A1B2C".into(),
            delivered: true,
            stat: "DELIVRD".into(),
            err: "000".into()
        })
    );
    assert_eq!(field(text, "done date"), Some("2501011201"));
    assert_eq!(field(text, "text"), Some("Hello"));
    assert_eq!(field("xid:1 id:2", "id"), Some("2"));
    assert_eq!(field("ID:9 STAT:undeliv", "stat"), Some("undeliv"));

    let undeliv = classify(&receipt("id:9 stat:undeliv err:0B1", vec![]));
    assert!(
        matches!(undeliv, Inbound::Final(r) if !r.delivered && r.stat == "UNDELIV" && r.err == "0B1")
    );
    assert!(matches!(
        classify(&receipt("id:9 stat:ENROUTE", vec![])),
        Inbound::Intermediate { .. }
    ));
    assert!(matches!(
        classify(&receipt("stat:DELIVRD", vec![])),
        Inbound::Unmatched(_)
    ));
    let mo = ShortMessage {
        esm_class: 0,
        ..receipt("hi", vec![])
    };
    assert_eq!(classify(&mo), Inbound::NotReceipt);
}

#[test]
fn receipt_tlvs_win_over_the_text() {
    let sm = receipt(
        "id:123 stat:DELIVRD err:000",
        vec![
            (TLV_RECEIPTED_MESSAGE_ID, b"7B\0".to_vec()),
            (TLV_MESSAGE_STATE, vec![8]),
        ],
    );
    assert!(
        matches!(classify(&sm), Inbound::Final(r) if r.id == "7B" && r.stat == "REJECTD" && !r.delivered)
    );
}

#[test]
fn command_statuses_are_classified() {
    for (status, retryable) in [
        (0x58, true),
        (0x14, true),
        (0x08, true),
        (0x0B, false),
        (0x45, false),
    ] {
        let e = classify_status(status);
        assert_eq!(e.retryable, retryable, "{status:#x}");
        assert_eq!(e.code, format!("0x{status:08X}"));
    }
    assert!(
        classify_status(0x58)
            .description
            .contains("ESME_RTHROTTLED")
    );
}

#[test]
fn addresses_are_checked_before_sending() {
    let sms = |from: &str, to: &str| Sms {
        from: from.into(),
        to: to.into(),
        text: "hi".into(),
        reference: "r".into(),
    };
    assert_eq!(
        check_addresses(&sms("+12025550100", "+8613800138000")).unwrap(),
        ("12025550100", "8613800138000")
    );
    assert!(check_addresses(&sms("OpenCams", "8613800138000")).is_ok());
    for (from, to) in [
        ("OpenCamsLtd1", "86138"),
        ("", "86138"),
        ("OpenCams", "86-138"),
        ("OpenCams", ""),
    ] {
        let e = check_addresses(&sms(from, to)).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.retryable),
            ("invalid_address", false),
            "{from} {to}"
        );
    }
}
