//! One ESME connection to the test SMSC: answer each PDU, reassemble concatenated submits, and
//! send receipts for completed messages.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::{Part, ReceiptMode, ReceivedSms, State, lock};
use crate::sms::encoding::{self, ESM_CLASS_UDHI};
use crate::sms::smpp::pdu::{self, Bind, Pdu, ShortMessage};
use crate::sms::smpp::wire::{PduReader, write_pdu};

const ESME_RINVBNDSTS: u32 = 0x04;

pub(super) async fn serve(state: Arc<State>, stream: TcpStream, closed: CancellationToken) {
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = PduReader::new(read_half);
    let mut bound = false;
    loop {
        let pdu = tokio::select! {
            _ = closed.cancelled() => return,
            p = reader.next() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let (replies, close) = answer(&state, &pdu, &mut bound);
        for reply in &replies {
            if write_pdu(&mut write_half, reply).await.is_err() {
                return;
            }
        }
        if close {
            return;
        }
    }
}

impl State {
    fn next_sequence(&self) -> u32 {
        self.sequence.fetch_add(1, Ordering::Relaxed)
    }
}

/// The PDUs to send back, and whether to close the connection afterwards.
fn answer(state: &State, pdu: &Pdu, bound: &mut bool) -> (Vec<Pdu>, bool) {
    let reply = |status: u32, body: Vec<u8>| {
        Pdu::new(
            pdu.command_id | pdu::GENERIC_NACK,
            status,
            pdu.sequence,
            body,
        )
    };
    match pdu.command_id {
        pdu::BIND_TRANSCEIVER => {
            let ok = Bind::decode(&pdu.body)
                .is_ok_and(|b| b.system_id == state.system_id && b.password == state.password);
            if !ok {
                return (vec![reply(pdu::ESME_RINVPASWD, Vec::new())], false);
            }
            *bound = true;
            state.binds.fetch_add(1, Ordering::Relaxed);
            let ping = Pdu::new(pdu::ENQUIRE_LINK, 0, state.next_sequence(), Vec::new());
            (vec![reply(0, pdu::encode_id("opencams-test")), ping], false)
        }
        pdu::UNBIND => {
            state.unbinds.fetch_add(1, Ordering::Relaxed);
            (vec![reply(0, Vec::new())], true)
        }
        pdu::ENQUIRE_LINK => {
            state.enquire_links.fetch_add(1, Ordering::Relaxed);
            (vec![reply(0, Vec::new())], false)
        }
        pdu::ENQUIRE_LINK_RESP => {
            state.enquire_link_resps.fetch_add(1, Ordering::Relaxed);
            (Vec::new(), false)
        }
        pdu::DELIVER_SM_RESP | pdu::GENERIC_NACK => (Vec::new(), false),
        _ if !*bound => (vec![reply(ESME_RINVBNDSTS, Vec::new())], false),
        pdu::SUBMIT_SM => (submit(state, pdu), false),
        _ => (
            vec![Pdu::new(
                pdu::GENERIC_NACK,
                pdu::ESME_RINVCMDID,
                pdu.sequence,
                Vec::new(),
            )],
            false,
        ),
    }
}

/// Answers a submit_sm, followed by the receipts of the message it completes, if any.
fn submit(state: &State, pdu: &Pdu) -> Vec<Pdu> {
    let resp = |status: u32, id: &str| {
        Pdu::new(
            pdu::SUBMIT_SM_RESP,
            status,
            pdu.sequence,
            pdu::encode_id(id),
        )
    };
    let Ok(sm) = ShortMessage::decode(&pdu.body) else {
        return vec![resp(0x01, "")];
    };
    let status = state.submit_status.load(Ordering::Relaxed);
    if status != 0 {
        return vec![resp(status, "")];
    }
    let id = format!("T{:06}", state.next_id.fetch_add(1, Ordering::Relaxed));
    let has_udh = sm.esm_class & ESM_CLASS_UDHI != 0;
    let part = Part {
        id: id.clone(),
        text: encoding::decode(sm.data_coding, sm.payload(), has_udh),
        wants_receipt: sm.registered_delivery & 0x01 != 0,
    };
    let concat = has_udh
        .then(|| encoding::concat_info(sm.payload()))
        .flatten()
        .filter(|c| c.seq >= 1 && c.seq <= c.total);
    let complete = match concat {
        None => Some(vec![part]),
        Some(c) => {
            let key = (sm.source.clone(), sm.dest.clone(), c.reference, c.total);
            let mut partial = lock(&state.partial);
            let slots = partial
                .entry(key.clone())
                .or_insert_with(|| (0..c.total).map(|_| None).collect());
            if let Some(slot) = slots.get_mut(usize::from(c.seq - 1)) {
                *slot = Some(part);
            }
            if slots.iter().all(Option::is_some) {
                partial
                    .remove(&key)
                    .map(|parts| parts.into_iter().flatten().collect())
            } else {
                None
            }
        }
    };
    let mut out = vec![resp(0, &id)];
    if let Some(parts) = complete {
        out.extend(complete_message(state, &sm, parts));
    }
    out
}

fn complete_message(state: &State, sm: &ShortMessage, parts: Vec<Part>) -> Vec<Pdu> {
    lock(&state.received).push(ReceivedSms {
        from: sm.source.clone(),
        to: sm.dest.clone(),
        source_ton: sm.source_ton,
        source_npi: sm.source_npi,
        text: parts.iter().map(|p| p.text.as_str()).collect(),
        data_coding: sm.data_coding,
        parts: parts.len(),
        message_ids: parts.iter().map(|p| p.id.clone()).collect(),
    });
    let (stat, state_tlv, err) = match *lock(&state.receipts) {
        ReceiptMode::None => return Vec::new(),
        ReceiptMode::Delivered => ("DELIVRD", 2u8, "000"),
        ReceiptMode::Undelivered => ("UNDELIV", 5u8, "001"),
    };
    parts
        .iter()
        .filter(|p| p.wants_receipt)
        .map(|p| {
            let dlvrd = if stat == "DELIVRD" { "001" } else { "000" };
            let text = format!(
                "id:{} sub:001 dlvrd:{dlvrd} submit date:2501011200 done date:2501011201 stat:{stat} err:{err} text:",
                p.id
            );
            let mut receipted = p.id.clone().into_bytes();
            receipted.push(0);
            let receipt = ShortMessage {
                source_ton: sm.dest_ton,
                source_npi: sm.dest_npi,
                source: sm.dest.clone(),
                dest_ton: sm.source_ton,
                dest_npi: sm.source_npi,
                dest: sm.source.clone(),
                esm_class: 0x04,
                registered_delivery: 0,
                data_coding: 0,
                short_message: text.into_bytes(),
                tlvs: vec![
                    (pdu::TLV_RECEIPTED_MESSAGE_ID, receipted),
                    (pdu::TLV_MESSAGE_STATE, vec![state_tlv]),
                ],
            };
            Pdu::new(
                pdu::DELIVER_SM,
                0,
                state.next_sequence(),
                receipt.encode(),
            )
        })
        .collect()
}
