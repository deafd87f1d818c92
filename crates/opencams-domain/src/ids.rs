//! Message ids: unique, opaque, sortable by time. 12 hex digits of the millisecond clock, then 8
//! of a random per-process prefix, then 8 of a counter — so ids from one process never collide,
//! ids from several processes collide only if both random prefixes match, and lexical order is
//! time order to the millisecond.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug)]
pub struct IdGenerator {
    prefix: u32,
    counter: AtomicU64,
}

impl IdGenerator {
    pub fn new(prefix: u32) -> Self {
        Self {
            prefix,
            counter: AtomicU64::new(0),
        }
    }

    /// A 28-character lower-case hex id for the given time.
    pub fn next(&self, now_ms: i64) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) as u32;
        format!(
            "{:012x}{:08x}{:08x}",
            (now_ms.max(0) as u64) & 0xffff_ffff_ffff,
            self.prefix,
            n
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_are_unique() {
        let g = IdGenerator::new(0xabcdef01);
        let a = g.next(1_700_000_000_000);
        let b = g.next(1_700_000_000_000);
        let c = g.next(1_700_000_000_001);
        assert_eq!(a.len(), 28);
        assert!(a < b && b < c);
        assert_ne!(a, b);
    }
}
