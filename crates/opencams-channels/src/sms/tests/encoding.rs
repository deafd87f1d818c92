use crate::sms::encoding::*;

fn roundtrip(e: &Encoded) -> String {
    let udh = e.esm_class & ESM_CLASS_UDHI != 0;
    e.parts
        .iter()
        .map(|p| decode(e.data_coding, p, udh))
        .collect()
}

/// The parts' bodies, without their 6-byte UDH when split.
fn bodies(e: &Encoded) -> Vec<&[u8]> {
    let skip = if e.parts.len() > 1 { 6 } else { 0 };
    e.parts.iter().map(|p| &p[skip..]).collect()
}

#[test]
fn gsm_is_chosen_when_every_character_fits() {
    let e = encode_with_reference("Hello @ £5 Grüße ÄÖÑ", 0).unwrap();
    assert_eq!(e.data_coding, DATA_CODING_DEFAULT);
    assert_eq!(e.esm_class, 0);
    assert_eq!(e.parts.len(), 1);
    assert_eq!(
        &e.parts[0][..8],
        &[b'H', b'e', b'l', b'l', b'o', b' ', 0x00, b' ']
    );
    assert_eq!(e.parts[0][8], 0x01, "£ is septet 0x01");
    assert_eq!(roundtrip(&e), "Hello @ £5 Grüße ÄÖÑ");
}

#[test]
fn escape_table_characters_take_two_septets() {
    let e = encode_with_reference("^{}\\[~]|€", 0).unwrap();
    assert_eq!(e.data_coding, DATA_CODING_DEFAULT);
    assert_eq!(
        e.parts[0],
        vec![
            0x1B, 0x14, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x2F, 0x1B, 0x3C, 0x1B, 0x3D, 0x1B, 0x3E,
            0x1B, 0x40, 0x1B, 0x65
        ]
    );
    assert_eq!(roundtrip(&e), "^{}\\[~]|€");
}

#[test]
fn ucs2_is_chosen_for_any_character_outside_gsm() {
    // ç is not in GSM 03.38 (only Ç is), nor is the backtick.
    for text in ["façade", "a`b", "Привет", "你好", "ok 😀"] {
        let e = encode_with_reference(text, 0).unwrap();
        assert_eq!(e.data_coding, DATA_CODING_UCS2, "{text}");
        assert_eq!(roundtrip(&e), text);
    }
    let e = encode_with_reference("Я😀", 0).unwrap();
    assert_eq!(e.parts[0], vec![0x04, 0x2F, 0xD8, 0x3D, 0xDE, 0x00]);
}

#[test]
fn gsm_splits_at_160_into_153_septet_parts_with_exact_udh() {
    let e = encode_with_reference(&"a".repeat(160), 0xAB).unwrap();
    assert_eq!((e.parts.len(), e.esm_class, e.parts[0].len()), (1, 0, 160));

    let e = encode_with_reference(&"a".repeat(161), 0xAB).unwrap();
    assert_eq!(e.esm_class, ESM_CLASS_UDHI);
    assert_eq!(e.parts.len(), 2);
    assert_eq!(&e.parts[0][..6], &[0x05, 0x00, 0x03, 0xAB, 0x02, 0x01]);
    assert_eq!(&e.parts[1][..6], &[0x05, 0x00, 0x03, 0xAB, 0x02, 0x02]);
    assert_eq!(
        bodies(&e).iter().map(|b| b.len()).collect::<Vec<_>>(),
        [153, 8]
    );
    assert_eq!(roundtrip(&e), "a".repeat(161));
}

#[test]
fn escapes_count_double_and_are_never_split() {
    // 159 + 2 septets = 161: too long for one SMS although it has 160 characters.
    let text = format!("{}€", "a".repeat(159));
    let e = encode_with_reference(&text, 1).unwrap();
    assert_eq!(e.parts.len(), 2);

    // The escape would start at septet 153 of part 1: it moves to part 2 whole.
    let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
    let e = encode_with_reference(&text, 1).unwrap();
    let b = bodies(&e);
    assert_eq!(b[0].len(), 152);
    assert_eq!(&b[1][..2], &[0x1B, 0x65]);
    assert_eq!(roundtrip(&e), text);
}

#[test]
fn ucs2_splits_at_70_into_67_unit_parts() {
    let e = encode_with_reference(&"Я".repeat(70), 0).unwrap();
    assert_eq!((e.parts.len(), e.parts[0].len()), (1, 140));

    let e = encode_with_reference(&"Я".repeat(71), 7).unwrap();
    assert_eq!(e.parts.len(), 2);
    assert_eq!(&e.parts[0][..6], &[0x05, 0x00, 0x03, 0x07, 0x02, 0x01]);
    assert_eq!(
        bodies(&e).iter().map(|b| b.len()).collect::<Vec<_>>(),
        [134, 8]
    );
    assert_eq!(roundtrip(&e), "Я".repeat(71));
}

#[test]
fn surrogate_pairs_are_never_split() {
    // 66 units, then an emoji needing units 67 and 68: it opens part 2 instead.
    let text = format!("{}😀{}", "Я".repeat(66), "Я".repeat(5));
    let e = encode_with_reference(&text, 0).unwrap();
    let b = bodies(&e);
    assert_eq!(b[0].len(), 132);
    assert_eq!(&b[1][..4], &[0xD8, 0x3D, 0xDE, 0x00]);
    assert_eq!(roundtrip(&e), text);

    assert_eq!(
        encode_with_reference(&"😀".repeat(35), 0)
            .unwrap()
            .parts
            .len(),
        1
    );
    let e = encode_with_reference(&"😀".repeat(36), 0).unwrap();
    assert_eq!(bodies(&e)[0].len(), 132, "33 emoji, not 33.5");
    for body in bodies(&e) {
        let units: Vec<u16> = body
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert!(char::decode_utf16(units).all(|c| c.is_ok()));
    }
}

#[test]
fn at_most_255_parts() {
    assert_eq!(encode(&"a".repeat(153 * 255)).unwrap().parts.len(), 255);
    assert_eq!(
        encode(&"a".repeat(153 * 255 + 1)),
        Err(EncodeError::TooLong { parts: 256 })
    );
}

#[test]
fn empty_text_is_one_empty_part() {
    let e = encode("").unwrap();
    assert_eq!(
        (e.data_coding, e.parts),
        (DATA_CODING_DEFAULT, vec![vec![]])
    );
}

#[test]
fn concat_headers_are_read_in_both_sizes() {
    assert_eq!(
        concat_info(&[0x05, 0x00, 0x03, 0x2A, 0x03, 0x02, b'x']),
        Some(Concat {
            reference: 0x2A,
            total: 3,
            seq: 2
        })
    );
    // A 16-bit reference after an unrelated element.
    assert_eq!(
        concat_info(&[0x09, 0x24, 0x01, 0x00, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]),
        Some(Concat {
            reference: 0x1234,
            total: 2,
            seq: 1
        })
    );
    assert_eq!(concat_info(&[0x05, 0x00, 0x03]), None);
    assert_eq!(concat_info(&[]), None);
}

#[test]
fn decode_handles_other_codings_and_bad_escapes() {
    assert_eq!(decode(0x03, &[b'c', 0xE9], false), "cé");
    // An escape before an unknown septet shows the basic character.
    assert_eq!(decode(0x00, &[0x1B, b'A', 0x1B], false), "A");
    assert_eq!(decode(0x08, &[0x00, 0x41, 0xD8], false), "A\u{FFFD}");
    assert_eq!(
        decode(0x00, &[0x05, 0x00, 0x03, 1, 1, 1, b'h', b'i'], true),
        "hi"
    );
}
