//! The simulator reached without a socket, for a server that embeds it: [`InProcessGraph`] is a
//! [`Channel`] that hands the `whatsapp-cloud` adapter's Graph request to the simulator in this
//! process, and [`admin_router`] serves the admin route `opencams simulate` uses.

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::Simulator;
use crate::channel::{Channel, NumberConfig, SendError, Sent};
use crate::ids::simulated_phone_number_id;
use crate::whatsapp_cloud::send_answer;

/// Sends to the built-in simulator without a socket: the Graph request the `whatsapp-cloud`
/// adapter makes (API version, phone number id, bearer token, JSON body) is handed to the
/// simulator in this process, which checks and answers it as its `POST
/// /{version}/{phone_number_id}/messages` route does, and the answer (status and JSON body) is
/// mapped by the adapter's own [`send_answer`]. The loopback TCP round trip and two HTTP/1
/// codecs were about a tenth of the e2e profile; going through the simulator's router in
/// process, with the body encoded and decoded on both legs, was another few per cent. Real
/// Cloud numbers (and the tests' standalone simulator) still go over HTTP.
pub struct InProcessGraph {
    sim: Arc<Simulator>,
}

impl InProcessGraph {
    pub fn new(sim: Arc<Simulator>) -> Self {
        Self { sim }
    }
}

#[async_trait]
impl Channel for InProcessGraph {
    async fn send(&self, number: &NumberConfig, payload: &Value) -> Result<Sent, SendError> {
        let answer = self
            .sim
            .send_in_process(
                &number.api_version,
                &number.phone_number_id,
                &number.access_token,
                payload.clone(),
            )
            .await;
        match answer {
            Ok(body) => {
                tracing::debug!(status = 200, response = %body, "built-in simulator exchange");
                send_answer(200, &body)
            }
            Err(e) => {
                let (status, body) = (e.status(), e.body());
                tracing::debug!(status, response = %body, "built-in simulator exchange");
                send_answer(status, &body)
            }
        }
    }
}

#[derive(Clone)]
struct Admin {
    sim: Arc<Simulator>,
    token: String,
}

/// `POST /simulator/inbound` `{"from", "to", "name", "message"}` with the simulator's token
/// (`to` is one of opencams's `simulator` numbers): a user writes to a business number.
pub fn admin_router(sim: &Arc<Simulator>, token: &str) -> axum::Router {
    let admin = Admin {
        sim: sim.clone(),
        token: token.to_string(),
    };
    axum::Router::new()
        .route("/simulator/inbound", axum::routing::post(inbound))
        .with_state(admin)
}

async fn inbound(
    axum::extract::State(admin): axum::extract::State<Admin>,
    headers: HeaderMap,
    axum::Json(req): axum::Json<Value>,
) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !bool::from(given.as_bytes().ct_eq(admin.token.as_bytes())) {
        return (StatusCode::UNAUTHORIZED, "bad simulator token").into_response();
    }
    let (Some(from), Some(to)) = (req["from"].as_str(), req["to"].as_str()) else {
        return (StatusCode::BAD_REQUEST, "from and to are required").into_response();
    };
    let message = req
        .get("message")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({"type": "text", "text": {"body": "hello"}}));
    let name = req["name"].as_str().unwrap_or("Simulated User");
    match admin
        .sim
        .inject_inbound(&simulated_phone_number_id(to), from, name, message)
        .await
    {
        Ok(wamid) => axum::Json(serde_json::json!({"MessageId": wamid})).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}
