//! The send path of `POST /{phone_number_id}/messages`: validation, template checks, injected
//! faults, scenario failures, throughput and pair-rate buckets, the 24-hour window, then
//! acceptance with its planned status events.

use serde_json::{Value, json};

use super::config::{SimNumber, SimTemplate};
use super::errors::GraphError;
use super::faults::{FaultKind, take_send_fault};
use super::fields::{opt_obj, req_str};
use super::scenarios::{MessageTraits, plan, scenario_for, sync_failure};
use super::state::{Bucket, Event, SentRecord, StatusEvent};
use super::validate::{MediaRef, SendRequest, validate_send};
use super::{Simulator, ids, templates};

/// The customer-service window.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

const WINDOW_DETAILS: &str = "Message failed to send because more than 24 hours have passed since the customer last replied to this number.";

impl Simulator {
    pub(super) async fn send(&self, number: SimNumber, raw: &[u8]) -> Result<Value, GraphError> {
        let body: Value = serde_json::from_slice(raw)
            .map_err(|e| GraphError::param(format!("The request body is not valid JSON: {e}")))?;
        self.send_body(number, body).await
    }

    /// `POST /{version}/{phone_number_id}/messages` handed over in this process, by a caller
    /// that holds the request body as JSON already: the same version check, bearer-token auth
    /// and send as over HTTP, without encoding the body and the answer only to decode them
    /// again. The answer is what the HTTP route would answer: the JSON body, or the error (its
    /// [`GraphError::status`] and [`GraphError::body`]).
    pub async fn send_in_process(
        &self,
        version: &str,
        phone_number_id: &str,
        access_token: &str,
        body: Value,
    ) -> Result<Value, GraphError> {
        super::routes::check_version(version)?;
        let number = self.auth_token(access_token, phone_number_id).await?;
        self.send_body(number, body).await
    }

    async fn send_body(&self, number: SimNumber, body: Value) -> Result<Value, GraphError> {
        if body.get("status").is_some() {
            return mark_read(&body);
        }
        let req = validate_send(&body, self.cfg.strict)?;
        let mut category = None;
        if let Some(t) = &req.template {
            let found = self
                .find_template(&number.waba_id, &t.name, &t.language)
                .await;
            templates::check_send(found.as_ref(), t)?;
            category = found.map(|t| t.category.to_ascii_lowercase());
        }

        let fault = take_send_fault(&mut self.lock().faults, &req.to);
        let mut forced = None;
        let mut delay = None;
        match fault {
            Some(FaultKind::Sync { code, http_status }) => {
                let mut e = GraphError::new(code, "Injected fault.");
                e.http_status = http_status;
                return Err(e);
            }
            Some(FaultKind::Async { code }) => forced = Some((code, "Injected fault.".to_string())),
            Some(FaultKind::Timeout { delay_ms }) => delay = Some(delay_ms),
            Some(FaultKind::BadSignature) | None => {}
        }
        let result = self.admit(number, req, body, category, forced);
        // The answer is late, but the message was already accepted: a client that timed out
        // and retries sends it twice, as with Meta.
        if let Some(ms) = delay {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        result
    }

    /// Scenario failures, rate limits and the window, then acceptance.
    fn admit(
        &self,
        number: SimNumber,
        req: SendRequest,
        body: Value,
        category: Option<String>,
        mut forced: Option<(u32, String)>,
    ) -> Result<Value, GraphError> {
        let now = self.clock.now_ms();
        let pnid = number.phone_number_id.clone();
        let mut st = self.lock();
        let scenario = scenario_for(&req.to);
        let nth = {
            let n = st
                .attempts_to
                .entry((pnid.clone(), req.to.clone()))
                .or_insert(0);
            *n += 1;
            *n
        };
        if forced.is_none()
            && let Some(e) = sync_failure(scenario, nth)
        {
            return Err(e);
        }
        let mps = f64::from(
            if number.throughput_mps == 0 {
                self.cfg.default_throughput_mps
            } else {
                number.throughput_mps
            }
            .max(1),
        );
        let bucket = st
            .throughput
            .entry(pnid.clone())
            .or_insert_with(|| Bucket::full(mps, now));
        if !bucket.take(now, mps, mps / 1000.0) {
            return Err(GraphError::new(
                130429,
                format!("Throughput of {mps} messages per second exceeded for this phone number."),
            ));
        }
        let cap = f64::from(self.cfg.pair_capacity.max(1));
        let refill = 1.0 / (self.cfg.pair_refill_ms.max(1) as f64);
        let pair = st
            .pairs
            .entry((pnid.clone(), req.to.clone()))
            .or_insert_with(|| Bucket::full(cap, now));
        if !pair.take(now, cap, refill) {
            return Err(GraphError::new(
                131056,
                "Too many messages sent from this phone number to the same recipient in a short time.",
            ));
        }

        let wa_id = st
            .wa_ids
            .get(&req.to)
            .cloned()
            .unwrap_or_else(|| req.to.clone());
        let window_open = st
            .windows
            .get(&(pnid.clone(), wa_id.clone()))
            .is_some_and(|t| now - t < WINDOW_MS);
        if req.template.is_none() && !window_open {
            if self.cfg.window_mode_sync {
                return Err(GraphError::new(131047, WINDOW_DETAILS));
            }
            forced.get_or_insert((131047, WINDOW_DETAILS.to_string()));
        }
        if req.template.is_some()
            && !window_open
            && forced.is_none()
            && let Some(limit) = self.cfg.messaging_limit
        {
            let reach = st.reach.entry(number.waba_id.clone()).or_default();
            reach.retain(|_, at| now - *at < WINDOW_MS);
            if !reach.contains_key(&wa_id) && reach.len() >= limit as usize {
                let details = format!(
                    "Messaging limit of {limit} business-initiated users per 24 hours reached."
                );
                forced = Some((self.cfg.messaging_limit_code, details));
            } else {
                reach.entry(wa_id.clone()).or_insert(now);
            }
        }
        let unknown_media = req
            .media
            .iter()
            .any(|m| matches!(m, MediaRef::Id(id) if !st.media.contains_key(id)));
        let traits = MessageTraits {
            reaction: req.kind == "reaction",
            has_media: !req.media.is_empty(),
            unknown_media,
            audio: req.kind == "audio",
        };

        let wamid = ids::wamid(&wa_id);
        if self.cfg.history_limit > 0 {
            st.sent.push(SentRecord {
                wamid: wamid.clone(),
                phone_number_id: pnid,
                to: wa_id.clone(),
                kind: req.kind.clone(),
                body,
                biz_opaque_callback_data: req.biz_opaque.clone(),
                at_ms: now,
            });
            super::state::trim(&mut st.sent, self.cfg.history_limit);
        }
        let plan = plan(&self.cfg, scenario, &wamid, now, traits, forced);
        for (due, status, error) in plan.steps {
            let ev = StatusEvent {
                wamid: wamid.clone(),
                number: number.clone(),
                recipient: wa_id.clone(),
                status,
                biz_opaque: req.biz_opaque.clone(),
                category: category.clone(),
                error,
            };
            st.schedule(due, Event::Status(ev));
        }
        if let Some(at) = plan.auto_reply_at {
            st.schedule(
                at,
                Event::AutoReply {
                    number,
                    from: wa_id.clone(),
                },
            );
        }
        drop(st);
        self.wake.notify_one();
        Ok(json!({
            "messaging_product": "whatsapp",
            "contacts": [ { "input": req.input, "wa_id": wa_id } ],
            "messages": [ { "id": wamid, "message_status": "accepted" } ],
        }))
    }

    /// The external directory wins; the simulator's own store is the fallback.
    pub(super) async fn find_template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Option<SimTemplate> {
        if let Some(dir) = self.template_directory()
            && let Some(t) = dir.lookup(waba_id, name, language).await
        {
            return Some(t);
        }
        self.lock()
            .templates
            .find(waba_id, name, language)
            .map(|t| t.to_sim())
    }
}

/// `{"status":"read","message_id":…}` marks an inbound message read (§1.10).
fn mark_read(body: &Value) -> Result<Value, GraphError> {
    let o = body
        .as_object()
        .ok_or_else(|| GraphError::param("The request body must be a JSON object."))?;
    if o.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::param(
            "The parameter messaging_product is required.",
        ));
    }
    if o.get("status").and_then(Value::as_str) != Some("read") {
        return Err(GraphError::param("Param status must be \"read\"."));
    }
    let id = req_str(o, "message_id", "")?;
    if !id.starts_with("wamid.") {
        return Err(GraphError::invalid(format!(
            "Param message_id \"{id}\" is not a valid message id."
        )));
    }
    if let Some(t) = opt_obj(o, "typing_indicator", "")?
        && req_str(t, "type", "typing_indicator")? != "text"
    {
        return Err(GraphError::invalid(
            "Param typing_indicator.type must be \"text\".",
        ));
    }
    Ok(json!({ "success": true }))
}
