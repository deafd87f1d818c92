//! Webhooks: where a space's callbacks go (its own URLs and each number's, with the destination
//! that applies), the account's callback endpoints with their delivery state; for operators and
//! admins, forms that set the URLs (UpdateAccountWebhook and UpdatePhoneWebhook's rules: the
//! domain's URL check, an empty field clears), enable a disabled endpoint and replay callbacks
//! since a time, as `opencams webhook` does.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use opencams_store::{NumberFilter, WebhookUpdate};
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::messages::minute_ms;
use super::session::{Access, Signed};
use crate::AppState;
use crate::receipts::destinations;

/// A page's `?space=` (empty: the account's default space).
#[derive(Deserialize, Default)]
pub struct SpaceQuery {
    #[serde(default)]
    pub space: String,
}

/// `GET /console/webhooks`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<SpaceQuery>,
) -> Response {
    render(&state, &signed, &q.space, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    space: &str,
    status: StatusCode,
    note: Option<(bool, String)>,
) -> Response {
    let account = signed.account.id;
    let space = if space.trim().is_empty() {
        signed.account.default_space.clone()
    } else {
        space.trim().to_string()
    };
    let (spaces, numbers, endpoints) = tokio::join!(
        state.store.list_spaces(Some(account)),
        state.store.list_numbers(NumberFilter {
            account_id: Some(account),
            space_id: Some(space.clone()),
            ..Default::default()
        }),
        state.store.list_endpoints(Some(account)),
    );
    let (spaces, numbers, endpoints) = match (spaces, numbers, endpoints) {
        (Ok(s), Ok(n), Ok(e)) => (s, n, e),
        (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return unavailable("webhooks", &e),
    };
    if !spaces.iter().any(|s| s.id == space) {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("space: {space:?} is not a space of your account"),
        );
    }
    let settings = match state.store.webhooks(&space).await {
        Ok(s) => s,
        Err(e) => return unavailable("webhooks", &e),
    };
    // the (status, inbound) URLs set at one level ("" for the space)
    let own = |phone: &str| -> (String, String) {
        settings
            .iter()
            .find(|s| s.phone == phone)
            .map(|s| {
                (
                    s.status_url.clone().unwrap_or_default(),
                    s.up_url.clone().unwrap_or_default(),
                )
            })
            .unwrap_or_default()
    };
    let space_own = own("");
    let operate = signed.may(Access::Operate);
    let csrf = &signed.session.csrf_token;
    let body = html! {
        h1 { "Webhooks" }
        @if let Some((ok, text)) = &note {
            @if *ok { p role="status" { (text) } } @else { p.error role="alert" { (text) } }
        }
        p.muted { "Space " code { (space) } ". A number's own URL overrides its space's; inbound messages go to the status URL when no inbound URL is set." }
        div.table-wrap { table {
            thead { tr { th { "Where" } th { "Status URL" } th { "Inbound URL" } th { "Status reports go to" } th { "Inbound goes to" } } }
            tbody {
                tr {
                    th scope="row" { "the space" }
                    td { (space_own.0) }
                    td { (space_own.1) }
                    td { } td { }
                }
                @for n in &numbers {
                    @let mine = own(&n.phone);
                    @let d = destinations(&settings, &n.phone);
                    tr {
                        th scope="row" { (n.phone) }
                        td { (mine.0) }
                        td { (mine.1) }
                        td { (d.status_url) }
                        td { @if d.up_url.is_empty() { (d.status_url) } @else { (d.up_url) } }
                    }
                }
            }
        } }
        @if operate {
            h2 id="set" { "Set callback URLs" }
            form.stacked method="post" action="/console/webhooks" aria-labelledby="set" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="space" value=(space);
                label for="phone" { "For"
                    select id="phone" name="phone" {
                        option value="" { "the space" }
                        @for n in &numbers { option value=(n.phone) { (n.phone) } }
                    }
                }
                label for="status_url" { "Status URL (empty: none)" input type="url" id="status_url" name="status_url"; }
                label for="up_url" { "Inbound URL (empty: none)" input type="url" id="up_url" name="up_url"; }
                button.primary type="submit" { "Save" }
            }
        }
        h2 { "Callback endpoints" }
        @if endpoints.is_empty() {
            p.muted { "No callback URL has received records yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "URL" } th { "State" } th.num { "Waiting" } th.num { "Delivered" } th.num { "Failures in a row" } th { "Last error" } @if operate { th { span.visually-hidden { "Change" } } } } }
                tbody { @for e in &endpoints { tr {
                    td { (e.url) }
                    td { @if e.enabled { "enabled" } @else { "disabled" @if let Some(r) = &e.disabled_reason { ": " (r) } } }
                    td.num { (e.pending) } td.num { (e.delivered) } td.num { (e.failures) }
                    td { (e.last_error.as_deref().unwrap_or("")) }
                    @if operate { td { @if !e.enabled {
                        form method="post" action="/console/webhooks/enable" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="url" value=(e.url);
                            button type="submit" { "Enable" }
                        }
                    } } }
                } } }
            } }
        }
        @if operate {
            h2 id="replay" { "Replay callbacks" }
            form.stacked method="post" action="/console/webhooks/replay" aria-labelledby="replay" {
                input type="hidden" name="csrf" value=(csrf);
                label for="since" { "Every event since (UTC)" input type="datetime-local" id="since" name="since" required; }
                button type="submit" { "Replay" }
            }
        }
    };
    page(status, "Webhooks", Some(signed), body)
}

#[derive(Deserialize, Default)]
pub struct SetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    space: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    status_url: String,
    #[serde(default)]
    up_url: String,
}

/// `POST /console/webhooks` (operators, admins): both URLs of the space or of one number.
pub async fn set(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<SetForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let space = match state.store.space(f.space.trim()).await {
        Ok(Some(s)) if s.account_id == signed.account.id => s,
        Ok(_) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("space: {:?} is not a space of your account", f.space),
            );
        }
        Err(e) => return unavailable("webhooks", &e),
    };
    let phone = f.phone.trim().trim_start_matches('+').to_string();
    if !phone.is_empty() {
        match state.store.number(&phone).await {
            Ok(Some(n)) if n.account_id == signed.account.id && n.space_id == space.id => {}
            Ok(_) => {
                let why = format!(
                    "For: {phone:?} is not a business number of space {}",
                    space.id
                );
                return render(
                    &state,
                    &signed,
                    &space.id,
                    StatusCode::BAD_REQUEST,
                    Some((false, why)),
                )
                .await;
            }
            Err(e) => return unavailable("webhooks", &e),
        }
    }
    let allow_private = state.config.allow_private_callbacks;
    let check = |label: &str, raw: &str| -> Result<Option<String>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        opencams_domain::callback_url::check_url(raw, allow_private)
            .map(|_| Some(raw.to_string()))
            .map_err(|why| format!("{label}: {why}"))
    };
    let urls =
        check("Status URL", &f.status_url).and_then(|s| Ok((s, check("Inbound URL", &f.up_url)?)));
    let (status_url, up_url) = match urls {
        Ok(u) => u,
        Err(why) => {
            return render(
                &state,
                &signed,
                &space.id,
                StatusCode::BAD_REQUEST,
                Some((false, why)),
            )
            .await;
        }
    };
    let update = WebhookUpdate {
        space_id: space.id.clone(),
        phone,
        account_id: signed.account.id,
        status_url: Some(status_url),
        up_url: Some(up_url),
        http_flag: None,
        queue_flag: None,
    };
    if let Err(e) = state.store.set_webhook(update, state.clock.now_ms()).await {
        return unavailable("webhooks", &e);
    }
    Redirect::to(&format!("/console/webhooks?space={}", space.id)).into_response()
}

#[derive(Deserialize, Default)]
pub struct EnableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    url: String,
}

/// `POST /console/webhooks/enable` (operators, admins).
pub async fn enable(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<EnableForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    match state
        .store
        .enable_endpoints(f.url.trim(), Some(signed.account.id), state.clock.now_ms())
        .await
    {
        Ok(0) => error_page(
            StatusCode::NOT_FOUND,
            &format!("No callback endpoint {:?} in your account.", f.url),
        ),
        Ok(_) => Redirect::to("/console/webhooks").into_response(),
        Err(e) => unavailable("webhooks", &e),
    }
}

#[derive(Deserialize, Default)]
pub struct ReplayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
}

/// `POST /console/webhooks/replay` (operators, admins).
pub async fn replay(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<ReplayForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let since = match minute_ms("Since", &f.since) {
        Ok(Some(ms)) => ms,
        Ok(None) => {
            let why =
                "Since: give the time to replay from, like 2026-12-03T14:30 (UTC)".to_string();
            return render(
                &state,
                &signed,
                "",
                StatusCode::BAD_REQUEST,
                Some((false, why)),
            )
            .await;
        }
        Err(why) => {
            return render(
                &state,
                &signed,
                "",
                StatusCode::BAD_REQUEST,
                Some((false, why)),
            )
            .await;
        }
    };
    match state
        .store
        .replay_events(since, Some(signed.account.id), state.clock.now_ms())
        .await
    {
        Ok(n) => {
            let note = format!("{n} callback(s) enqueued again.");
            render(&state, &signed, "", StatusCode::OK, Some((true, note))).await
        }
        Err(e) => unavailable("webhooks", &e),
    }
}
