//! Read-only looks into the server's SQLite file (WAL lets a reader run beside the writer):
//! queue length and delivery counts. The bench never writes to it.

use std::path::Path;

use hdrhistogram::Histogram;
use rusqlite::{Connection, OpenFlags};

pub struct Db {
    conn: Connection,
}

/// What the messages table says about deliveries.
pub struct Deliveries {
    pub delivered: u64,
    /// Earliest `created_at` and latest delivered `updated_at`, ms.
    pub first_created_ms: i64,
    pub last_delivered_ms: i64,
    /// `updated_at - created_at` of delivered messages, µs.
    pub latency: Histogram<u64>,
}

impl Db {
    pub fn open(data_dir: &Path) -> anyhow::Result<Db> {
        let conn = Connection::open_with_flags(
            data_dir.join("opencams.db"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Db { conn })
    }

    pub fn queue_len(&self) -> anyhow::Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM queue", [], |r| r.get::<_, i64>(0))?
            .max(0) as u64)
    }

    /// `Delivered` status events after event `after` (the server's event log, read by id so a
    /// poll costs only the new rows; counting `messages` by status scans the whole table, which
    /// at 100 ms intervals cost the bench a quarter of a core): how many, and the last id read.
    pub fn delivered_events_after(&self, after: i64) -> anyhow::Result<(u64, i64)> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, instr(payload, '\"Status\":\"Delivered\"') > 0 FROM events \
             WHERE id > ?1 AND kind = 'status' ORDER BY id",
        )?;
        let mut rows = stmt.query([after])?;
        let (mut n, mut last) = (0, after);
        while let Some(r) = rows.next()? {
            last = r.get(0)?;
            if r.get::<_, bool>(1)? {
                n += 1;
            }
        }
        Ok((n, last))
    }

    /// Outbound messages by status.
    pub fn count(&self, status: &str) -> anyhow::Result<u64> {
        Ok(self
            .conn
            .query_row(
                "SELECT count(*) FROM messages WHERE direction = 'out' AND status = ?1",
                [status],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64)
    }

    pub fn deliveries(&self) -> anyhow::Result<Deliveries> {
        let mut d = Deliveries {
            delivered: 0,
            first_created_ms: i64::MAX,
            last_delivered_ms: 0,
            latency: crate::load::new_histogram(),
        };
        let mut stmt = self.conn.prepare(
            "SELECT created_at, updated_at FROM messages WHERE direction = 'out' AND status = 'delivered'",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (c, u): (i64, i64) = (r.get(0)?, r.get(1)?);
            d.delivered += 1;
            d.first_created_ms = d.first_created_ms.min(c);
            d.last_delivered_ms = d.last_delivered_ms.max(u);
            d.latency
                .saturating_record(((u - c).max(0) as u64 * 1000).max(1));
        }
        Ok(d)
    }
}
