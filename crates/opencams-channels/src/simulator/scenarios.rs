//! Recipient-driven behaviour: the last four digits of the `to` number pick a scenario (table
//! in the module doc of `simulator`), and this file turns an accepted message into its timed
//! status events — deterministic for a given wamid, so runs are reproducible.

use super::config::SimConfig;
use super::errors::GraphError;
use super::ids::stable_hash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `…0000` and every number not listed: sent, delivered, read.
    Normal,
    /// `…0001`: sent only.
    NeverDelivers,
    /// `…0002`: sent, then failed 131026.
    FailsAfterSent,
    /// `…0003`: not a WhatsApp user: failed 131026 without sent.
    NotWhatsAppUser,
    /// `…0004`: normal, and the user answers "auto-reply" after delivery.
    AutoReply,
    /// `…0005`: sent, delivered; read receipts off.
    NoReadReceipt,
    /// `…0006`: the first two sends fail with HTTP 500 code 131000, later ones succeed.
    Transient,
    /// `…0007`: messages carrying media fail with 131053 (text and other media-less sends are normal).
    MediaFetchFailure,
    /// `…0008`: every second send to this number answers 400 130429.
    ThroughputEverySecond,
    /// `…0009`: read arrives before delivered.
    OutOfOrder,
}

pub fn scenario_for(to: &str) -> Scenario {
    let tail = to.get(to.len().saturating_sub(4)..).unwrap_or("");
    match tail {
        "0001" => Scenario::NeverDelivers,
        "0002" => Scenario::FailsAfterSent,
        "0003" => Scenario::NotWhatsAppUser,
        "0004" => Scenario::AutoReply,
        "0005" => Scenario::NoReadReceipt,
        "0006" => Scenario::Transient,
        "0007" => Scenario::MediaFetchFailure,
        "0008" => Scenario::ThroughputEverySecond,
        "0009" => Scenario::OutOfOrder,
        _ => Scenario::Normal,
    }
}

/// A synchronous failure the scenario imposes on the `nth` (1-based) send to this recipient.
pub fn sync_failure(s: Scenario, nth: u32) -> Option<GraphError> {
    match s {
        Scenario::Transient if nth <= 2 => Some(
            GraphError::new(
                131000,
                "Simulated transient failure (scenario …0006); retry.",
            )
            .with_status(500),
        ),
        Scenario::ThroughputEverySecond if nth.is_multiple_of(2) => Some(GraphError::new(
            130429,
            "Simulated throughput limit (scenario …0008: every second send).",
        )),
        _ => None,
    }
}

/// What the message is, as far as its statuses care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageTraits {
    pub reaction: bool,
    pub has_media: bool,
    /// An uploaded media id the simulator does not know (fails like an unreachable link).
    pub unknown_media: bool,
    /// Audio (voice notes may report `played`).
    pub audio: bool,
}

/// One planned status: due time, status, and error for `failed`.
pub type Step = (i64, &'static str, Option<(u32, String)>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// When the auto-reply scenario makes the user write back.
    pub auto_reply_at: Option<i64>,
}

/// Plans the statuses of an accepted message. `forced_failure` (async fault, closed window)
/// wins over the scenario.
pub fn plan(
    cfg: &SimConfig,
    s: Scenario,
    wamid: &str,
    now_ms: i64,
    m: MessageTraits,
    forced_failure: Option<(u32, String)>,
) -> Plan {
    let jitter = |status: &str| -> i64 {
        let j = stable_hash(&[wamid, status]) % (cfg.jitter_ms + 1);
        i64::try_from(j).unwrap_or(0)
    };
    let ms = |v: u64| i64::try_from(v).unwrap_or(i64::MAX / 4);
    let t_sent = now_ms + ms(cfg.sent_delay_ms) + jitter("sent");
    let t_del = t_sent + ms(cfg.delivered_delay_ms) + jitter("delivered");
    let t_read = t_del + ms(cfg.read_delay_ms) + jitter("read");
    let failed = |at: i64, code: u32, details: &str| Plan {
        steps: vec![(at, "failed", Some((code, details.to_string())))],
        auto_reply_at: None,
    };

    if let Some((code, details)) = forced_failure {
        return failed(t_sent, code, &details);
    }
    if s == Scenario::NotWhatsAppUser {
        return failed(
            t_sent,
            131026,
            "Simulated: the recipient is not a WhatsApp user (scenario …0003).",
        );
    }
    if m.unknown_media {
        return failed(
            t_sent,
            131053,
            "Simulated: the media id is unknown to this phone number.",
        );
    }
    if s == Scenario::MediaFetchFailure && m.has_media {
        return failed(
            t_sent,
            131053,
            "Simulated: the media could not be downloaded (scenario …0007).",
        );
    }
    let mut steps = vec![(t_sent, "sent", None)];
    if m.reaction || s == Scenario::NeverDelivers {
        return Plan {
            steps,
            auto_reply_at: None,
        };
    }
    if s == Scenario::FailsAfterSent {
        steps.push((
            t_del,
            "failed",
            Some((
                131026,
                "Simulated: message undeliverable (scenario …0002).".to_string(),
            )),
        ));
        return Plan {
            steps,
            auto_reply_at: None,
        };
    }
    let swap =
        s == Scenario::OutOfOrder || (cfg.out_of_order && stable_hash(&[wamid]).is_multiple_of(10));
    match s {
        Scenario::NoReadReceipt => steps.push((t_del, "delivered", None)),
        _ if swap => {
            steps.push((t_del, "read", None));
            steps.push((t_read, "delivered", None));
        }
        _ => {
            steps.push((t_del, "delivered", None));
            steps.push((t_read, "read", None));
        }
    }
    let skip_delivered =
        cfg.chaos_skip_delivered && stable_hash(&[wamid, "skip"]).is_multiple_of(10);
    if skip_delivered && s != Scenario::NoReadReceipt {
        steps.retain(|step| step.1 != "delivered");
    }
    if cfg.voice_played && m.audio && steps.iter().any(|step| step.1 == "read") {
        steps.push((t_read + 1, "played", None));
    }
    let auto_reply_at = (s == Scenario::AutoReply).then_some(t_del + 1);
    Plan {
        steps,
        auto_reply_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(p: &Plan) -> Vec<String> {
        p.steps.iter().map(|s| s.1.to_string()).collect()
    }

    fn statuses(p: &Plan) -> Vec<&str> {
        p.steps.iter().map(|s| s.1).collect()
    }

    #[test]
    fn scenarios_by_last_digits() {
        let cfg = SimConfig::default();
        let m = MessageTraits {
            reaction: false,
            has_media: false,
            unknown_media: false,
            audio: false,
        };
        let cases: &[(&str, &[&str])] = &[
            ("447700900000", &["sent", "delivered", "read"]),
            ("447700900001", &["sent"]),
            ("447700900002", &["sent", "failed"]),
            ("447700900003", &["failed"]),
            ("447700900005", &["sent", "delivered"]),
            ("447700900007", &["sent", "delivered", "read"]),
            ("447700900009", &["sent", "read", "delivered"]),
            ("447700901234", &["sent", "delivered", "read"]),
        ];
        for (to, want) in cases {
            let p = plan(&cfg, scenario_for(to), "wamid.x", 0, m, None);
            assert_eq!(&statuses(&p), want, "{to}");
            assert!(
                p.steps.windows(2).all(|w| w[0].0 <= w[1].0),
                "{to} ordered in time"
            );
        }
        let media = MessageTraits {
            has_media: true,
            ..m
        };
        assert_eq!(
            statuses(&plan(
                &cfg,
                scenario_for("447700900007"),
                "w",
                0,
                media,
                None
            )),
            ["failed"]
        );
        let reaction = MessageTraits {
            reaction: true,
            ..m
        };
        assert_eq!(
            statuses(&plan(&cfg, Scenario::Normal, "w", 0, reaction, None)),
            ["sent"]
        );
    }

    #[test]
    fn out_of_order_switch_swaps_about_one_in_ten_deterministically() {
        let cfg = SimConfig {
            out_of_order: true,
            ..SimConfig::default()
        };
        let m = MessageTraits {
            reaction: false,
            has_media: false,
            unknown_media: false,
            audio: false,
        };
        let swapped = |w: &str| {
            statuses(&plan(&cfg, Scenario::Normal, w, 0, m, None)) == ["sent", "read", "delivered"]
        };
        let n = (0..1000).filter(|i| swapped(&format!("wamid.{i}"))).count();
        assert!((50..150).contains(&n), "{n} of 1000 swapped");
        assert_eq!(swapped("wamid.7"), swapped("wamid.7"));
        assert!(!(0..100).any(|i| {
            let p = plan(
                &SimConfig::default(),
                Scenario::Normal,
                &format!("wamid.{i}"),
                0,
                m,
                None,
            );
            statuses(&p) != ["sent", "delivered", "read"]
        }));
    }

    #[test]
    fn chaos_skip_delivered_and_voice_played() {
        let cfg = SimConfig {
            chaos_skip_delivered: true,
            voice_played: true,
            ..SimConfig::default()
        };
        let audio = MessageTraits {
            reaction: false,
            has_media: true,
            unknown_media: false,
            audio: true,
        };
        let all: Vec<Vec<String>> = (0..200)
            .map(|i| {
                owned(&plan(
                    &cfg,
                    Scenario::Normal,
                    &format!("w{i}"),
                    0,
                    audio,
                    None,
                ))
            })
            .collect();
        let skipped = all
            .iter()
            .filter(|s| !s.iter().any(|x| x == "delivered"))
            .count();
        assert!(
            (5..50).contains(&skipped),
            "{skipped} of 200 skipped delivered"
        );
        assert!(
            all.iter()
                .all(|s| s.last().map(String::as_str) == Some("played"))
        );
    }

    #[test]
    fn transient_and_throughput_scenarios_fail_synchronously() {
        assert_eq!(
            sync_failure(Scenario::Transient, 1).map(|e| e.status()),
            Some(500)
        );
        assert!(sync_failure(Scenario::Transient, 3).is_none());
        assert!(sync_failure(Scenario::ThroughputEverySecond, 1).is_none());
        assert_eq!(
            sync_failure(Scenario::ThroughputEverySecond, 2).map(|e| e.code),
            Some(130429)
        );
    }
}
