//! The background task behind `SmppClient`: connect, bind_transceiver, then serve the connection
//! (responses to waiters, receipts to the reports channel, keep-alives both ways) until it
//! fails, and start over after an exponential backoff with jitter. Shutdown unbinds politely.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::link::Link;
use super::pdu::{self, Bind, Pdu, ShortMessage};
use super::receipt::{self, Inbound};
use super::wire::{PduReader, WireError, write_pdu};
use crate::sms::DeliveryReport;

/// The first reconnect delay; it doubles up to `reconnect_max_ms`.
const BACKOFF_START_MS: u64 = 200;

pub(super) async fn run(
    shared: Arc<Shared>,
    reports: mpsc::UnboundedSender<DeliveryReport>,
    shutdown: CancellationToken,
) {
    let cfg = &shared.cfg;
    let mut failures: u32 = 0;
    loop {
        let connected = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = connect_and_bind(&shared) => r,
        };
        match connected {
            Ok((reader, stream_writer)) => {
                failures = 0;
                shared.set_last_error(None);
                tracing::info!(address = %cfg.address, system_id = %cfg.system_id, "SMPP bound");
                let ended = serve(&shared, reader, stream_writer, &reports, &shutdown).await;
                if let Err(e) = ended {
                    tracing::warn!(address = %cfg.address, error = %e, "SMPP connection lost");
                    shared.set_last_error(Some(format!("connection lost: {e}")));
                }
            }
            Err(e) => {
                tracing::warn!(address = %cfg.address, error = %e, "SMPP connect or bind failed");
                shared.set_last_error(Some(e));
                failures = failures.saturating_add(1);
            }
        }
        if shutdown.is_cancelled() {
            break;
        }
        let delay = backoff(failures, cfg.reconnect_max_ms);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.link.send_replace(None);
    tracing::info!(address = %cfg.address, "SMPP session stopped");
}

/// Full exponential backoff with jitter in its upper half, so a fleet of clients cut off together
/// does not come back in lockstep. A first failure after a good session retries quickly.
fn backoff(failures: u32, max_ms: u64) -> Duration {
    let ceiling = BACKOFF_START_MS
        .saturating_mul(1u64 << failures.min(20))
        .min(max_ms.max(1));
    let ms = rand::thread_rng().gen_range(ceiling / 2..=ceiling);
    Duration::from_millis(ms)
}

type Connected = (PduReader<OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf);

async fn connect_and_bind(shared: &Shared) -> Result<Connected, String> {
    let cfg = &shared.cfg;
    let timeout = cfg.response_timeout();
    let stream = tokio::time::timeout(timeout, TcpStream::connect(&cfg.address))
        .await
        .map_err(|_| format!("connect timed out after {} ms", cfg.response_timeout_ms))?
        .map_err(|e| format!("connect: {e}"))?;
    // PDUs are small and latency-bound: don't let Nagle hold them back.
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = PduReader::new(read_half);
    let sequence = shared.next_sequence();
    let bind = Bind {
        system_id: cfg.system_id.clone(),
        password: cfg.password.clone(),
        system_type: cfg.system_type.clone(),
    };
    let request = Pdu::new(pdu::BIND_TRANSCEIVER, 0, sequence, bind.encode());
    write_pdu(&mut write_half, &request)
        .await
        .map_err(|e| format!("sending bind_transceiver: {e}"))?;
    let answer = tokio::time::timeout(timeout, async {
        loop {
            let pdu = reader.next().await?;
            if pdu.sequence == sequence && pdu::is_response(pdu.command_id) {
                return Ok::<_, WireError>(pdu);
            }
            tracing::debug!(
                command_id = pdu.command_id,
                "ignoring a PDU before bind_transceiver_resp"
            );
        }
    })
    .await
    .map_err(|_| {
        format!(
            "no bind_transceiver_resp within {} ms",
            cfg.response_timeout_ms
        )
    })?
    .map_err(|e| format!("waiting for bind_transceiver_resp: {e}"))?;
    if answer.status != pdu::ESME_ROK || answer.command_id != pdu::BIND_TRANSCEIVER_RESP {
        return Err(format!(
            "bind_transceiver refused with 0x{:08X} {}",
            answer.status,
            pdu::status_name(answer.status)
        ));
    }
    Ok((reader, write_half))
}

/// Serves one bound connection until it fails (`Err`) or shutdown unbinds it (`Ok`).
async fn serve(
    shared: &Shared,
    mut reader: PduReader<OwnedReadHalf>,
    mut stream_writer: tokio::net::tcp::OwnedWriteHalf,
    reports: &mpsc::UnboundedSender<DeliveryReport>,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let cfg = &shared.cfg;
    // Anything that finds the connection broken (writer, keep-alive) cancels this.
    let broken = CancellationToken::new();
    let (tx, mut rx) = mpsc::channel::<Pdu>(256);
    let writer_broken = broken.clone();
    let writer = tokio::spawn(async move {
        while let Some(pdu) = rx.recv().await {
            if let Err(e) = write_pdu(&mut stream_writer, &pdu).await {
                tracing::warn!(error = %e, "SMPP write failed");
                writer_broken.cancel();
                break;
            }
        }
    });
    let link = Link::new(tx);
    shared.link.send_replace(Some(link.clone()));

    let period = Duration::from_secs(cfg.enquire_link_secs.max(1));
    let mut keepalive = tokio::time::interval_at(Instant::now() + period, period);
    keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                unbind(shared, &link, &mut reader).await;
                break Ok(());
            }
            _ = broken.cancelled() => break Err("the connection broke".to_string()),
            _ = keepalive.tick() => {
                let link = link.clone();
                let broken = broken.clone();
                let ping = Pdu::new(pdu::ENQUIRE_LINK, 0, shared.next_sequence(), Vec::new());
                let timeout = cfg.response_timeout();
                tokio::spawn(async move {
                    if let Err(e) = link.request(ping, timeout).await {
                        tracing::warn!(error = ?e, "enquire_link unanswered");
                        broken.cancel();
                    }
                });
            }
            pdu = reader.next() => match pdu {
                Ok(pdu) => {
                    if let Err(e) = handle(&link, pdu, reports).await {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e.to_string()),
            },
        }
    };
    shared.link.send_replace(None);
    link.close();
    drop(link);
    // The writer flushes what is queued (an unbind_resp, say) and ends once every sender is gone;
    // a keep-alive task may hold one a moment longer. A writer stuck on a dead socket is cut off.
    let mut writer = writer;
    if tokio::time::timeout(Duration::from_secs(1), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    result
}

/// Sends unbind and reads until its response (or the response timeout): the SMSC then knows the
/// session ended on purpose. Whatever else arrives meanwhile is left for the next bind.
async fn unbind(shared: &Shared, link: &Link, reader: &mut PduReader<OwnedReadHalf>) {
    let request = Pdu::new(pdu::UNBIND, 0, shared.next_sequence(), Vec::new());
    if link.send(request).await.is_err() {
        return;
    }
    let answered = tokio::time::timeout(shared.cfg.response_timeout(), async {
        while let Ok(pdu) = reader.next().await {
            if pdu.command_id == pdu::UNBIND_RESP {
                return true;
            }
        }
        false
    })
    .await;
    if answered != Ok(true) {
        tracing::debug!("closing without unbind_resp");
    }
}

/// Handles one PDU from the SMSC; `Err` ends the connection.
pub(in crate::sms) async fn handle(
    link: &Link,
    pdu: Pdu,
    reports: &mpsc::UnboundedSender<DeliveryReport>,
) -> Result<(), String> {
    if pdu::is_response(pdu.command_id) {
        if let Err(pdu) = link.complete(pdu) {
            tracing::debug!(
                command_id = pdu.command_id,
                sequence = pdu.sequence,
                "unmatched SMPP response"
            );
        }
        return Ok(());
    }
    let reply = match pdu.command_id {
        pdu::DELIVER_SM => {
            on_deliver_sm(&pdu, reports);
            Pdu::new(pdu::DELIVER_SM_RESP, 0, pdu.sequence, pdu::encode_id(""))
        }
        pdu::ENQUIRE_LINK => Pdu::new(pdu::ENQUIRE_LINK_RESP, 0, pdu.sequence, Vec::new()),
        pdu::UNBIND => {
            let resp = Pdu::new(pdu::UNBIND_RESP, 0, pdu.sequence, Vec::new());
            // Best effort: the connection ends either way.
            let _ = link.send(resp).await;
            return Err("the SMSC unbound".to_string());
        }
        other => {
            tracing::debug!(
                command_id = other,
                "answering an unknown command with generic_nack"
            );
            Pdu::new(
                pdu::GENERIC_NACK,
                pdu::ESME_RINVCMDID,
                pdu.sequence,
                Vec::new(),
            )
        }
    };
    link.send(reply)
        .await
        .map_err(|_| "the connection broke".to_string())
}

fn on_deliver_sm(pdu: &Pdu, reports: &mpsc::UnboundedSender<DeliveryReport>) {
    // A deliver_sm we cannot read is still acknowledged: the SMSC would only resend it as is.
    let sm = match ShortMessage::decode(&pdu.body) {
        Ok(sm) => sm,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable deliver_sm");
            return;
        }
    };
    match receipt::classify(&sm) {
        Inbound::Final(report) => {
            tracing::debug!(id = %report.id, stat = %report.stat, err = %report.err, "delivery receipt");
            if reports.send(report).is_err() {
                tracing::warn!("delivery receipt dropped: nobody reads the reports channel");
            }
        }
        Inbound::Intermediate { id, stat } => {
            tracing::debug!(%id, %stat, "intermediate delivery receipt")
        }
        Inbound::NotReceipt => {
            tracing::debug!(from = %sm.source, "ignoring a mobile-originated SMS")
        }
        Inbound::Unmatched(text) => tracing::warn!(%text, "delivery receipt without an id"),
    }
}
