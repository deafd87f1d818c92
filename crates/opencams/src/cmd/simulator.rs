//! `opencams simulator --listen …`: the built-in Cloud API simulator as a process of its own, so
//! anyone can test a Cloud API client (or an opencams `whatsapp-cloud` number) against it. Numbers
//! are given on the command line; `/_sim/sent` lists what it accepted and `/_sim/inbound` makes a
//! user write (both need the admin token when one is set).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use opencams_channels::simulator::{SimConfig, SimNumber, Simulator, StaticNumbers};
use opencams_domain::SystemClock;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Args)]
pub struct SimulatorArgs {
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// HMAC key of the X-Hub-Signature-256 webhook signatures
    #[arg(long, env = "OPENCAMS_SIM_APP_SECRET", hide_env_values = true)]
    app_secret: String,
    /// Where to POST webhooks (statuses, inbound messages, template events)
    #[arg(long)]
    webhook_url: Option<String>,
    /// A business number: PHONE_NUMBER_ID:DISPLAY_NUMBER:WABA_ID:ACCESS_TOKEN[:MPS] (repeatable)
    #[arg(long = "number", required = true)]
    numbers: Vec<String>,
    /// Bearer token for the /_sim admin routes (none: they are open)
    #[arg(long, env = "OPENCAMS_SIM_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    #[command(flatten)]
    sim: crate::embedded_sim::SimArgs,
}

#[derive(Clone)]
struct Admin {
    sim: Arc<Simulator>,
    token: Option<String>,
}

fn parse_number(s: &str) -> anyhow::Result<SimNumber> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(4..=5).contains(&parts.len()) || parts[..4].iter().any(|p| p.is_empty()) {
        bail!("--number {s:?} must be PHONE_NUMBER_ID:DISPLAY_NUMBER:WABA_ID:ACCESS_TOKEN[:MPS]");
    }
    let mps = match parts.get(4) {
        Some(m) => m
            .parse::<u32>()
            .ok()
            .filter(|m| (1..=1000).contains(m))
            .with_context(|| format!("--number {s:?}: MPS must be 1 to 1000"))?,
        None => 80,
    };
    Ok(SimNumber {
        phone_number_id: parts[0].into(),
        display_phone_number: parts[1].into(),
        waba_id: parts[2].into(),
        access_token: parts[3].into(),
        throughput_mps: mps,
    })
}

fn authorized(admin: &Admin, headers: &HeaderMap) -> bool {
    let Some(token) = &admin.token else {
        return true;
    };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

async fn sent(State(admin): State<Admin>, headers: HeaderMap) -> Response {
    if !authorized(&admin, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let list: Vec<Value> = admin
        .sim
        .sent()
        .into_iter()
        .map(|r| json!({"wamid": r.wamid, "phone_number_id": r.phone_number_id, "to": r.to, "type": r.kind,
                        "biz_opaque_callback_data": r.biz_opaque_callback_data, "at_ms": r.at_ms}))
        .collect();
    Json(json!({"sent": list})).into_response()
}

async fn inbound(
    State(admin): State<Admin>,
    headers: HeaderMap,
    Json(req): Json<Value>,
) -> Response {
    if !authorized(&admin, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (Some(pid), Some(from)) = (req["phone_number_id"].as_str(), req["from"].as_str()) else {
        return (
            StatusCode::BAD_REQUEST,
            "phone_number_id and from are required",
        )
            .into_response();
    };
    let message = req
        .get("message")
        .cloned()
        .unwrap_or_else(|| json!({"type": "text", "text": {"body": "hello"}}));
    match admin
        .sim
        .inject_inbound(
            pid,
            from,
            req["name"].as_str().unwrap_or("Simulated User"),
            message,
        )
        .await
    {
        Ok(wamid) => Json(json!({"MessageId": wamid})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

pub async fn run(args: SimulatorArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = args
        .listen
        .parse()
        .with_context(|| format!("--listen {:?} is not an address", args.listen))?;
    let numbers = Arc::new(StaticNumbers::new());
    for n in &args.numbers {
        numbers.register(parse_number(n)?);
    }
    if let Some(url) = &args.webhook_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("--webhook-url {url:?} must be an http(s) URL");
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let s = &args.sim;
    let cfg = SimConfig {
        app_secret: args.app_secret.clone(),
        webhook_url: args.webhook_url.clone(),
        sent_delay_ms: s.sim_sent_delay_ms,
        delivered_delay_ms: s.sim_delivered_delay_ms,
        read_delay_ms: s.sim_read_delay_ms,
        jitter_ms: s.sim_jitter_ms,
        out_of_order: s.sim_out_of_order,
        public_base_url: Some(format!("http://{local}")),
        ..Default::default()
    };
    let sim = Simulator::new(cfg, numbers, Arc::new(SystemClock));
    let stop = CancellationToken::new();
    let worker = sim.start(stop.clone());
    let admin = Admin {
        sim: sim.clone(),
        token: args.admin_token.clone(),
    };
    let app = axum::Router::new()
        .route("/_sim/sent", get(sent))
        .route("/_sim/inbound", post(inbound))
        .with_state(admin)
        .merge(sim.router());
    println!("opencams simulator listening on http://{local}");
    let signal = stop.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            signal.cancel();
        })
        .await?;
    stop.cancel();
    let _ = worker.await;
    Ok(())
}
