//! Signed CAMS calls: the request the load generator sends (a template `SendChatappMessage`,
//! signed with ACS3-HMAC-SHA256 per request, fresh nonce and date, like every SDK) and the setup
//! calls that create and wait for the template.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use hyper::Request;
use serde_json::{Value, json};

use crate::http::{self, Body};

pub const TEMPLATE_NAME: &str = "bench_order_update";
pub const LANGUAGE: &str = "en_US";
const TEMPLATE_PARAMS: &str = r#"{"name":"Ada","order":"A-1"}"#;

/// The access key and the `host` the signature covers.
#[derive(Clone)]
pub struct Signer {
    pub host: String,
    pub ak: String,
    pub sk: String,
}

impl Signer {
    /// A signed `POST /?…` for `action` with `params` in the query, as the SDKs send RPC calls.
    pub fn request(&self, action: &str, params: &[(String, String)]) -> Request<Body> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let signed = opencams_protocol::v3::sign(
            "POST",
            &self.host,
            action,
            opencams_protocol::VERSION,
            params,
            b"",
            None,
            &self.ak,
            &self.sk,
            &opencams_protocol::time_fmt::format(now),
            &opencams_protocol::envelope::nonce(),
        );
        let mut b = Request::post(format!("/?{}", signed.query));
        for (k, v) in &signed.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        // the builder only fails on invalid header bytes, which sign() never produces
        b.body(Body::new(Bytes::new()))
            .unwrap_or_else(|_| Request::new(Body::new(Bytes::new())))
    }

    /// One setup call; fails unless the answer is `Code: OK`.
    pub async fn call(
        &self,
        addr: SocketAddr,
        action: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<Value> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (status, body) = http::once(addr, self.request(action, &params)).await?;
        let v: Value = serde_json::from_slice(&body)
            .with_context(|| format!("{action}: the answer (HTTP {status}) is not JSON"))?;
        if status != 200 || v["Code"] != "OK" {
            bail!("{action} failed: HTTP {status} {v}");
        }
        Ok(v)
    }
}

/// Creates the bench template and waits until the simulator's review approves it; returns its
/// TemplateCode.
pub async fn approved_template(signer: &Signer, addr: SocketAddr) -> anyhow::Result<String> {
    let components = json!([{"Type": "BODY", "Text": "Hi {{name}}, order {{order}} ships today."}]);
    let example = json!({"name": "Ada", "order": "A-1"});
    let v = signer
        .call(
            addr,
            "CreateChatappTemplate",
            &[
                ("TemplateType", "WHATSAPP"),
                ("Name", TEMPLATE_NAME),
                ("Language", LANGUAGE),
                ("Category", "UTILITY"),
                ("Components", &components.to_string()),
                ("Example", &example.to_string()),
            ],
        )
        .await?;
    let code = v["Data"]["TemplateCode"]
        .as_str()
        .context("CreateChatappTemplate answered no TemplateCode")?
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = signer
            .call(
                addr,
                "GetChatappTemplateDetail",
                &[("TemplateCode", &code), ("Language", LANGUAGE)],
            )
            .await?;
        match d["Data"]["AuditStatus"].as_str() {
            Some("pass") => return Ok(code),
            Some("fail") => bail!("the bench template was rejected: {d}"),
            _ if Instant::now() > deadline => bail!("the bench template was never approved"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Business numbers the bench registers (throughput 1000 each).
pub fn sender(i: usize) -> String {
    format!("861360001{i:04}")
}

/// Recipients end in `0005`, the simulator's "sent, delivered, no read receipt" scenario: a
/// delivered message stays `delivered`, so its `updated_at` is its delivery time.
pub fn recipient(i: usize) -> String {
    format!("86139{:05}0005", i % 100_000)
}

/// Template sends spread over `numbers` senders and `recipients` users.
pub struct SendFactory {
    pub signer: Signer,
    pub template_code: String,
    pub numbers: Vec<String>,
    pub recipients: Vec<String>,
}

impl SendFactory {
    pub fn new(signer: Signer, template_code: String, numbers: usize, recipients: usize) -> Self {
        Self {
            signer,
            template_code,
            numbers: (0..numbers.max(1)).map(sender).collect(),
            recipients: (0..recipients.max(1)).map(recipient).collect(),
        }
    }

    /// The `seq`-th send: senders cycle fastest, recipients advance once per round of senders, so
    /// every (sender, recipient) pair comes up once per `numbers × recipients` sends.
    pub fn request(&self, seq: u64) -> Request<Body> {
        let n = self.numbers.len() as u64;
        let from = &self.numbers[(seq % n) as usize];
        let to = &self.recipients[((seq / n) % self.recipients.len() as u64) as usize];
        let params = [
            ("ChannelType", "whatsapp"),
            ("Type", "template"),
            ("From", from.as_str()),
            ("To", to.as_str()),
            ("TemplateCode", self.template_code.as_str()),
            ("Language", LANGUAGE),
            ("TemplateParams", TEMPLATE_PARAMS),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        self.signer.request("SendChatappMessage", &params)
    }
}
