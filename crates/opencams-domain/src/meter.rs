//! How many messages each sender number handed to its channel over the last minute: the
//! "throughput used" beside a number's configured messages per second. A ring of 60 one-second
//! counts per number, driven by the caller's clock; kept in memory, so on several nodes each
//! counts the sends it made itself.

use std::collections::HashMap;
use std::sync::Mutex;

/// Seconds the rate is taken over.
pub const WINDOW_S: i64 = 60;

/// Slots of a ring: the window's seconds and the current one.
const SLOTS: usize = WINDOW_S as usize + 1;

/// One number's counts: `counts[s % SLOTS]` holds second `s` when `seconds[s % SLOTS] == s`.
struct Ring {
    seconds: [i64; SLOTS],
    counts: [u32; SLOTS],
}

impl Ring {
    fn new() -> Self {
        Self {
            seconds: [i64::MIN; SLOTS],
            counts: [0; SLOTS],
        }
    }
}

/// Sends per sender number over the last [`WINDOW_S`] seconds.
#[derive(Default)]
pub struct SendMeter {
    rings: Mutex<HashMap<String, Ring>>,
}

impl SendMeter {
    /// One message handed to the channel by `sender` at `now_ms`.
    pub fn record(&self, sender: &str, now_ms: i64) {
        let Ok(mut rings) = self.rings.lock() else {
            return;
        };
        let second = now_ms.div_euclid(1000);
        let slot = second.rem_euclid(SLOTS as i64) as usize;
        let ring = match rings.get_mut(sender) {
            Some(r) => r,
            None => rings.entry(sender.to_string()).or_insert_with(Ring::new),
        };
        if ring.seconds[slot] != second {
            ring.seconds[slot] = second;
            ring.counts[slot] = 0;
        }
        ring.counts[slot] = ring.counts[slot].saturating_add(1);
    }

    /// Messages per second `sender` sent over the last [`WINDOW_S`] whole seconds before
    /// `now_ms` (the current, partial second left out).
    pub fn per_second(&self, sender: &str, now_ms: i64) -> f64 {
        let Ok(rings) = self.rings.lock() else {
            return 0.0;
        };
        let Some(ring) = rings.get(sender) else {
            return 0.0;
        };
        let now = now_ms.div_euclid(1000);
        let total: u64 = (0..SLOTS)
            .filter(|&i| (now - WINDOW_S..now).contains(&ring.seconds[i]))
            .map(|i| u64::from(ring.counts[i]))
            .sum();
        total as f64 / WINDOW_S as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_the_last_minutes_sends_per_second() {
        let m = SendMeter::default();
        // 10 a second for 90 seconds
        for s in 0..90i64 {
            for i in 0..10 {
                m.record("a", s * 1000 + i * 100);
            }
        }
        assert_eq!(m.per_second("a", 90_000), 10.0);
        assert_eq!(m.per_second("b", 90_000), 0.0);
        // the current second does not count until it is over
        m.record("a", 90_500);
        assert_eq!(m.per_second("a", 90_999), 10.0);
        // half a minute later, half the window is silent
        assert_eq!(m.per_second("a", 120_000), (30.0 * 10.0 + 1.0) / 60.0);
        // and a minute later, all of it
        assert_eq!(m.per_second("a", 200_000), 0.0);
        // an old slot is reused, not added to
        m.record("a", 200_100);
        assert_eq!(m.per_second("a", 201_000), 1.0 / 60.0);
    }
}
