//! `opencams send`: one message from flags, or many from a CSV, through the CAMS API over HTTP
//! with a signed client — the same path every SDK takes, with nothing the API does not check.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use opencams_protocol::{envelope, time_fmt, v3};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::now_ms;

/// Parameter columns a CSV may have (any other column is ignored).
const PARAMS: &[&str] = &[
    "ChannelType",
    "Type",
    "From",
    "To",
    "MessageType",
    "Content",
    "TemplateCode",
    "TemplateName",
    "Language",
    "TemplateParams",
    "Payload",
    "ContextMessageId",
    "ProductAction",
    "FlowAction",
    "FallBackId",
    "FallBackContent",
    "FallBackDuration",
    "FallBackRule",
    "TaskId",
    "Tag",
    "TrackingData",
    "Label",
    "Ttl",
    "CustSpaceId",
];

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The opencams (CAMS API) endpoint
    #[arg(
        long,
        env = "OPENCAMS_ENDPOINT",
        default_value = "http://127.0.0.1:8080"
    )]
    endpoint: String,
    #[arg(long, env = "OPENCAMS_ACCESS_KEY_ID")]
    access_key_id: String,
    #[arg(long, env = "OPENCAMS_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: String,
    /// Many messages from a CSV file: a header row naming API parameters (To, Type, Content, …)
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Where to write one result row per CSV row (default: <csv>.results.csv)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Requests in flight at once
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// A parameter for every message, e.g. --param From=8613600000000 (CSV columns override)
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// template or message
    #[arg(long = "type")]
    send_type: Option<String>,
    #[arg(long)]
    message_type: Option<String>,
    /// Content JSON; for text a plain --text is easier
    #[arg(long)]
    content: Option<String>,
    /// Shorthand for --type message --message-type text --content '{"text": …}'
    #[arg(long)]
    text: Option<String>,
    #[arg(long)]
    template_code: Option<String>,
    #[arg(long)]
    language: Option<String>,
    /// JSON object of template variables
    #[arg(long)]
    template_params: Option<String>,
    #[arg(long)]
    json: bool,
}

/// A signing CAMS client.
struct Client {
    http: reqwest::Client,
    endpoint: String,
    host: String,
    ak: String,
    sk: String,
}

impl Client {
    /// One signed call; `Ok` holds the JSON body whatever the status.
    async fn call(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> anyhow::Result<(u16, Value)> {
        let signed = v3::sign(
            "POST",
            &self.host,
            action,
            opencams_protocol::VERSION,
            params,
            b"",
            None,
            &self.ak,
            &self.sk,
            &time_fmt::format(now_ms() / 1000),
            &envelope::nonce(),
        );
        let mut req = self
            .http
            .post(format!("{}/?{}", self.endpoint, signed.query));
        for (k, v) in &signed.headers {
            if k != "host" {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        let resp = req.send().await.context("the request failed")?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.context("the answer is not JSON")?;
        Ok((status, body))
    }
}

fn pairs_of(defaults: &[(String, String)], row: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = defaults
        .iter()
        .filter(|(k, _)| !row.iter().any(|(r, _)| r == k))
        .cloned()
        .collect();
    out.extend(row.iter().filter(|(_, v)| !v.is_empty()).cloned());
    if !out.iter().any(|(k, _)| k == "ChannelType") {
        out.push(("ChannelType".into(), "whatsapp".into()));
    }
    out
}

pub async fn run(args: SendArgs) -> anyhow::Result<()> {
    let endpoint = args.endpoint.trim_end_matches('/').to_string();
    let host = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .context("--endpoint must be an http(s) URL")?
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?,
        endpoint,
        host,
        ak: args.access_key_id.clone(),
        sk: args.access_key_secret.clone(),
    });

    let mut defaults: Vec<(String, String)> = Vec::new();
    for p in &args.params {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p:?} must be NAME=VALUE"))?;
        defaults.push((k.to_string(), v.to_string()));
    }
    let mut flag = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            defaults.push((k.to_string(), v.clone()));
        }
    };
    flag("From", &args.from);
    flag("To", &args.to);
    flag("Type", &args.send_type);
    flag("MessageType", &args.message_type);
    flag("Content", &args.content);
    flag("TemplateCode", &args.template_code);
    flag("Language", &args.language);
    flag("TemplateParams", &args.template_params);
    if let Some(text) = &args.text {
        defaults.push(("Type".into(), "message".into()));
        defaults.push(("MessageType".into(), "text".into()));
        defaults.push(("Content".into(), json!({"text": text}).to_string()));
    }

    let Some(csv_path) = &args.csv else {
        let (status, body) = client
            .call("SendChatappMessage", &pairs_of(&defaults, &[]))
            .await?;
        if args.json {
            println!("{body}");
        } else if status == 200 {
            println!("MessageId {}", body["MessageId"].as_str().unwrap_or(""));
        }
        if status != 200 {
            bail!(
                "{}: {}",
                body["Code"].as_str().unwrap_or("error"),
                body["Message"].as_str().unwrap_or("")
            );
        }
        return Ok(());
    };

    let mut reader = csv::Reader::from_path(csv_path)
        .with_context(|| format!("cannot read {}", csv_path.display()))?;
    let headers = reader.headers()?.clone();
    let known: Vec<usize> = (0..headers.len())
        .filter(|i| PARAMS.contains(&&headers[*i]))
        .collect();
    if known.is_empty() {
        bail!(
            "{} has no parameter columns: name them as the API does ({})",
            csv_path.display(),
            PARAMS.join(", ")
        );
    }
    let rows: Vec<Vec<(String, String)>> = reader
        .records()
        .map(|r| {
            r.map(|rec| {
                known
                    .iter()
                    .map(|&i| (headers[i].to_string(), rec.get(i).unwrap_or("").to_string()))
                    .collect()
            })
        })
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not valid CSV", csv_path.display()))?;

    let bar = ProgressBar::new(rows.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} sent, {per_sec}, eta {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.concurrency.max(1)));
    let mut tasks = Vec::with_capacity(rows.len());
    for row in &rows {
        let params = pairs_of(&defaults, row);
        let (client, gate, bar) = (client.clone(), gate.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let result = client.call("SendChatappMessage", &params).await;
            bar.inc(1);
            result
        }));
    }
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| csv_path.with_extension("results.csv"));
    let mut out = csv::Writer::from_path(&out_path)
        .with_context(|| format!("cannot write {}", out_path.display()))?;
    out.write_record(["Row", "To", "MessageId", "Code", "Message"])?;
    let (mut ok, mut failed) = (0usize, 0usize);
    for (i, (task, row)) in tasks.into_iter().zip(&rows).enumerate() {
        let to = row
            .iter()
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.as_str())
            .or(args.to.as_deref())
            .unwrap_or("");
        let (id, code, message) = match task.await {
            Ok(Ok((200, body))) => {
                ok += 1;
                (
                    body["MessageId"].as_str().unwrap_or("").to_string(),
                    "OK".to_string(),
                    String::new(),
                )
            }
            Ok(Ok((_, body))) => {
                failed += 1;
                (
                    String::new(),
                    body["Code"].as_str().unwrap_or("").to_string(),
                    body["Message"].as_str().unwrap_or("").to_string(),
                )
            }
            Ok(Err(e)) => {
                failed += 1;
                (String::new(), "RequestFailed".to_string(), format!("{e:#}"))
            }
            Err(e) => {
                failed += 1;
                (String::new(), "RequestFailed".to_string(), e.to_string())
            }
        };
        out.write_record([(i + 1).to_string(), to.to_string(), id, code, message])?;
    }
    out.flush()?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let summary = json!({"Rows": rows.len(), "Sent": ok, "Failed": failed, "Seconds": (secs * 1000.0).round() / 1000.0,
                         "Results": out_path.display().to_string()});
    if args.json {
        println!("{summary}");
    } else {
        println!(
            "{} rows: {ok} sent, {failed} failed in {secs:.1}s; results in {}",
            rows.len(),
            out_path.display()
        );
    }
    Ok(())
}
