//! `console`: the web console's Messages page over a large history. A server is prepared as for
//! the other scenarios (its setup send is delivered by the built-in simulator, so it has a real
//! timeline), two more templates are created, then the nodes stop and `--messages` messages
//! (default 1,000,000) over 30 days are written straight into the database (see [`seed`]: the
//! one place where the bench writes to the server's database, since the API stamps every message
//! with the time it is sent and so cannot build a month of history). A viewer is created with
//! `opencams user create`, the nodes start again with dispatch paused (the seeded `accepted`
//! messages stay queued, so nothing but the console's requests runs), and the bench signs in as
//! a browser does and times `GET /console/messages` searches and one message's page, each after
//! warm-ups, one request at a time on one keep-alive connection: the latency is measured at the
//! client, on loopback, so it is the server's time plus a local round trip.

mod browser;
mod seed;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::{PAUSED, Prepared, fast_simulator};
use crate::db::Db;
use crate::server::RssSampler;
use crate::{Opts, cams};
use browser::{Browser, urlencoded};
use seed::{History, Template};

/// The viewer the bench signs in as.
const EMAIL: &str = "bench-viewer@example.com";
const WEEK_MS: i64 = 7 * 86_400_000;

pub async fn run(opts: &Opts) -> anyhow::Result<Value> {
    let messages = opts
        .messages
        .unwrap_or(if opts.smoke { 3_000 } else { 1_000_000 });
    let (warmups, runs, deep) = if opts.smoke { (1, 5, 3) } else { (5, 50, 20) };
    let mut s = Prepared::start(opts, &fast_simulator()).await?;
    let first = s.nodes.first().context("no node")?.addr;
    let mut templates = vec![Template {
        code: s.factory.template_code.clone(),
        name: cams::TEMPLATE_NAME.into(),
        weight: 60,
    }];
    for (name, weight) in [("bench_console_promo", 30), ("bench_console_reminder", 10)] {
        templates.push(Template {
            code: create_template(&s, first, name).await?,
            name: name.into(),
            weight,
        });
    }
    let db = s.db().await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while db.count("delivered").await? < s.setup_sends && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let setup = SetupSend::read(&db).await?;
    drop(db);

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let history = History {
        messages,
        account_id: setup.account_id,
        space_id: setup.space_id.clone(),
        numbers: (0..opts.numbers.max(1)).map(cams::sender).collect(),
        // about ten messages per user over the 30 days
        users: (0..(messages / 10).clamp(100, 100_000) as usize)
            .map(cams::recipient)
            .collect(),
        templates,
        language: setup.language.clone(),
        template_type: setup.message_type.clone(),
        template_body: setup.body.clone(),
        now_ms: now_ms - 60_000,
    };
    for node in &mut s.nodes {
        node.stop();
    }
    eprintln!("console: seeding {messages} messages over 30 days");
    let seeded = match &s.database {
        Some(pg) => seed::postgres(&pg.url, &history).await?,
        None => {
            let path = s.data_dir.join("opencams.db");
            tokio::task::block_in_place(|| seed::sqlite(&path, &history))?
        }
    };
    eprintln!(
        "console: seeded {} messages in {:.1} s{}",
        seeded.rows,
        seeded.seconds,
        seeded
            .analyze_s
            .map(|a| format!(" (then VACUUM ANALYZE {a:.1} s)"))
            .unwrap_or_default()
    );
    let password = crate::db::random_hex(12)?;
    create_viewer(opts, &s, &password)?;
    s.restart(&[("OPENCAMS_DISPATCH_PAUSED", PAUSED.into())])?;
    let addr = s.nodes.first().context("no node")?.addr;
    let rss = RssSampler::start(s.pids());

    let mut b = Browser::open(addr).await?;
    b.sign_in(EMAIL, &password).await?;
    let searches = searches(&history, &setup.space_id);
    let mut queries = Map::new();
    eprintln!(
        "console: timing {} pages, {runs} runs each after {warmups} warm-ups",
        searches.len() + 2
    );
    for (name, query) in &searches {
        let path = format!("/console/messages{query}");
        queries.insert((*name).into(), b.time(&path, warmups, runs).await?);
        if *name == "first_page" {
            // the keyset link followed `deep` pages down, as a reader clicks "Older messages →"
            let mut path = path.clone();
            for page in 1..=deep {
                path = b.older(&path).await?.with_context(|| {
                    format!("page {page} of the history has no \"Older messages\" link")
                })?;
            }
            let deep_page = format!("deep_page_{}", deep + 1);
            queries.insert(deep_page, b.time(&path, warmups, runs).await?);
        }
    }
    let path = format!("/console/messages/{}", setup.id);
    queries.insert("message_page".into(), b.time(&path, warmups, runs).await?);
    let r1 = |x: f64| (x * 10.0).round() / 10.0;
    Ok(json!({
        "messages": messages + s.setup_sends,
        "seeded": seeded.rows,
        "days": seed::SPAN_MS / 86_400_000,
        "business_numbers": history.numbers.len(),
        "users": history.users.len(),
        "templates": history.templates.len(),
        "queued_accepted": seeded.queued,
        "windows": seeded.windows,
        "seeding_s": (seeded.seconds * 1000.0).round() / 1000.0,
        "seeding_rows_per_s": (seeded.rows as f64 / seeded.seconds.max(1e-9)).round(),
        "vacuum_analyze_s": seeded.analyze_s.map(r1),
        "runs": runs,
        "warmups": warmups,
        "measured": "at the client, one request at a time on one keep-alive loopback connection",
        "queries": queries,
        "server_peak_rss_mb": r1(rss.peak_mb()),
    }))
}

/// The searches timed, as query strings of `/console/messages`, with values taken from rows the
/// history holds (so each finds some).
fn searches(h: &History, space: &str) -> Vec<(&'static str, String)> {
    let n = h.messages.max(1);
    let newest = h.row(n - 1);
    let week_ago = h.index_at(h.now_ms - WEEK_MS);
    let task = (week_ago..n)
        .map(|i| h.row(i))
        .find_map(|m| m.task_id)
        .unwrap_or_default();
    let combo = (h.index_at(h.now_ms - 3 * 86_400_000)..n)
        .map(|i| h.row(i))
        .find(|m| m.status == "delivered" && m.template.is_some());
    let rare = h.templates.last().map_or("", |t| t.code.as_str());
    // a page near the oldest end, as its keyset cursor names it: a seek to the cursor costs the
    // same at any depth, a walk from the newest message grows with it
    let old = h.row(n / 20);
    let cursor = format!("{}.{}", old.created_at, old.id);
    let hour = minute(h.now_ms - WEEK_MS);
    let q = |pairs: &[(&str, &str)]| format!("?{}", urlencoded(pairs));
    let mut out = vec![
        ("first_page", String::new()),
        (
            "keyset_near_oldest",
            q(&[("space", space), ("before", &cursor)]),
        ),
        (
            "business_number",
            q(&[("sender", &h.numbers[1 % h.numbers.len()])]),
        ),
        ("user", q(&[("recipient", newest.recipient)])),
        ("status_failed", q(&[("status", "failed")])),
        ("template", q(&[("template", rare)])),
        ("task_id", q(&[("task", &task)])),
        (
            "hour_a_week_ago",
            q(&[
                ("from", &hour),
                ("to", &minute(h.now_ms - WEEK_MS + 3_600_000)),
            ]),
        ),
        ("direction_in", q(&[("direction", "in")])),
    ];
    if let Some(c) = combo {
        let code = c.template.map_or("", |t| t.code.as_str());
        out.push((
            "combination",
            q(&[
                ("space", space),
                ("sender", c.sender),
                ("status", "delivered"),
                ("template", code),
                ("direction", "out"),
                ("from", &minute(c.created_at - WEEK_MS)),
            ]),
        ));
    }
    out
}

/// A `datetime-local` value (UTC, to the minute) of unix ms.
fn minute(ms: i64) -> String {
    let full = opencams_protocol::time_fmt::format(ms.div_euclid(1000));
    full.get(..16).unwrap_or(&full).to_string()
}

/// One more template (not waited for: only messages name it).
async fn create_template(s: &Prepared, addr: SocketAddr, name: &str) -> anyhow::Result<String> {
    let components = json!([{"Type": "BODY", "Text": "Hi {{name}}, order {{order}} ships today."}]);
    let example = json!({"name": "Ada", "order": "A-1"});
    let v = s
        .factory
        .signer
        .call(
            addr,
            "CreateChatappTemplate",
            &[
                ("TemplateType", "WHATSAPP"),
                ("Name", name),
                ("Language", cams::LANGUAGE),
                ("Category", "MARKETING"),
                ("Components", &components.to_string()),
                ("Example", &example.to_string()),
            ],
        )
        .await?;
    v["Data"]["TemplateCode"]
        .as_str()
        .map(str::to_string)
        .context("CreateChatappTemplate answered no TemplateCode")
}

/// The template send made during setup, as the server stored it: the seeded template sends copy
/// its body and type, and its page is the message page timed.
struct SetupSend {
    id: String,
    account_id: i64,
    space_id: String,
    message_type: String,
    language: String,
    body: String,
}

impl SetupSend {
    const SQL: &str = "SELECT id, account_id, space_id, message_type, language, body FROM messages \
                       WHERE direction = 'out' AND send_type = 'template' \
                       ORDER BY created_at DESC LIMIT 1";

    async fn read(db: &Db) -> anyhow::Result<SetupSend> {
        let s = match db {
            Db::Sqlite(c) => c.query_row(Self::SQL, [], |r| {
                Ok(SetupSend {
                    id: r.get(0)?,
                    account_id: r.get(1)?,
                    space_id: r.get(2)?,
                    message_type: r.get(3)?,
                    language: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    body: r.get(5)?,
                })
            })?,
            Db::Postgres(c) => {
                let r = c.query_one(Self::SQL, &[]).await?;
                SetupSend {
                    id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    space_id: r.try_get(2)?,
                    message_type: r.try_get(3)?,
                    language: r.try_get::<_, Option<String>>(4)?.unwrap_or_default(),
                    body: r.try_get(5)?,
                }
            }
        };
        Ok(s)
    }
}

/// `opencams user create … --role viewer --password-stdin` on the nodes' database.
fn create_viewer(opts: &Opts, s: &Prepared, password: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let bin = opts.opencams_bin()?;
    let mut c = Command::new(&bin);
    c.args(["user", "create", "--account", "default", "--email", EMAIL])
        .args([
            "--role",
            "viewer",
            "--password-stdin",
            "--json",
            "--data-dir",
        ])
        .arg(&s.data_dir)
        .env_remove("OPENCAMS_MASTER_KEY")
        .env_remove("OPENCAMS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &s.common_env {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    child
        .stdin
        .take()
        .context("no stdin")?
        .write_all(format!("{password}\n").as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "opencams user create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
