//! Sender numbers: the account's numbers with their channel, quality, tier and throughput for
//! everyone (never a secret); for admins, a form per number that changes its name and
//! throughput or rotates a Cloud API access token or app secret, and one that removes it, under
//! the same rules and store calls as `opencams number update|remove`.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use opencams_store::{Change, NumberFilter, NumberUpdate, Secret, StoreError};
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use crate::AppState;

/// `GET /console/numbers`.
pub async fn list(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    render(&state, &signed, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    note: Option<(bool, String)>,
) -> Response {
    let numbers = match state
        .store
        .list_numbers(NumberFilter {
            account_id: Some(signed.account.id),
            ..Default::default()
        })
        .await
    {
        Ok(n) => n,
        Err(e) => return unavailable("numbers", &e),
    };
    let admin = signed.may(Access::Administer);
    let csrf = &signed.session.csrf_token;
    let body = html! {
        h1 { "Sender numbers" }
        @if let Some((ok, text)) = &note {
            @if *ok { p role="status" { (text) } } @else { p.error role="alert" { (text) } }
        }
        @if numbers.is_empty() {
            p.muted { "No sender numbers yet; add one with " code { "opencams number add" } "." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Number" } th { "Name" } th { "Channel" } th { "Space" } th { "Status" } th { "Quality" } th { "Tier" } th.num { "Messages/s" } th { "Cloud API ids" } } }
                tbody { @for n in &numbers { tr {
                    td { (n.phone) } td { (n.verified_name) } td { (n.channel) } td { code { (n.space_id) } }
                    td { (n.status) } td { (n.quality_rating) } td { (n.messaging_limit_tier) } td.num { (n.throughput_mps) }
                    td { @if let Some(c) = &n.cloud { (c.phone_number_id) " / WABA " (c.waba_id) } }
                } } }
            } }
        }
        @if admin {
            @for n in &numbers {
                section aria-labelledby={ "change-" (n.phone) } {
                    h2 id={ "change-" (n.phone) } { "Change " (n.phone) }
                    form.stacked method="post" action={ "/console/numbers/" (n.phone) } {
                        input type="hidden" name="csrf" value=(csrf);
                        label for={ "name-" (n.phone) } { "Name" input type="text" id={ "name-" (n.phone) } name="name" value=(n.verified_name); }
                        label for={ "tp-" (n.phone) } { "Messages per second (1–1000)" input type="number" min="1" max="1000" id={ "tp-" (n.phone) } name="throughput" value=(n.throughput_mps); }
                        @if n.cloud.is_some() {
                            label for={ "token-" (n.phone) } { "New access token (empty: keep)" input type="password" autocomplete="off" id={ "token-" (n.phone) } name="access_token"; }
                            label for={ "secret-" (n.phone) } { "New app secret (empty: keep)" input type="password" autocomplete="off" id={ "secret-" (n.phone) } name="app_secret"; }
                        }
                        button.primary type="submit" { "Save" }
                    }
                    form method="post" action={ "/console/numbers/" (n.phone) "/remove" } {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Remove " (n.phone) }
                    }
                }
            }
        }
    };
    page(status, "Sender numbers", Some(signed), body)
}

#[derive(Deserialize, Default)]
pub struct ChangeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    throughput: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    app_secret: String,
}

/// The account's number `phone`, or the answer for one that is not.
async fn own_number(state: &AppState, signed: &Signed, phone: &str) -> Result<(), Response> {
    match state.store.number(phone).await {
        Ok(Some(n)) if n.account_id == signed.account.id => Ok(()),
        Ok(_) => Err(error_page(
            StatusCode::NOT_FOUND,
            &format!("No sender number {phone:?} in your account."),
        )),
        Err(e) => Err(unavailable("numbers", &e)),
    }
}

/// `POST /console/numbers/{phone}` (admins).
pub async fn change(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(phone): Path<String>,
    Form(f): Form<ChangeForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Administer) {
        return refused;
    }
    if let Err(r) = own_number(&state, &signed, &phone).await {
        return r;
    }
    let throughput = match f.throughput.trim() {
        "" => None,
        raw => match raw
            .parse::<u32>()
            .map_err(|_| format!("Throughput {raw:?} is not a whole number"))
            .and_then(|n| crate::numbers::check_throughput("Throughput", n))
        {
            Ok(n) => Some(n),
            Err(why) => {
                return render(&state, &signed, StatusCode::BAD_REQUEST, Some((false, why))).await;
            }
        },
    };
    let name = f.name.trim();
    if name.is_empty() {
        let why = "Name: a number needs a name (its verified name)".to_string();
        return render(&state, &signed, StatusCode::BAD_REQUEST, Some((false, why))).await;
    }
    let secret = |s: &str| (!s.trim().is_empty()).then(|| Secret::new(s.trim()));
    let update = NumberUpdate {
        verified_name: Some(name.to_string()),
        throughput_mps: throughput,
        access_token: secret(&f.access_token),
        app_secret: secret(&f.app_secret),
    };
    match state
        .store
        .update_number(&phone, update, state.clock.now_ms())
        .await
    {
        Ok(_) => {
            // this node at once; the others through the store's notifications
            state.cache.forget(Change::Numbers);
            Redirect::to("/console/numbers").into_response()
        }
        Err(StoreError::Conflict(why)) => {
            render(&state, &signed, StatusCode::CONFLICT, Some((false, why))).await
        }
        Err(e) => unavailable("numbers", &e),
    }
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/numbers/{phone}/remove` (admins).
pub async fn remove(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(phone): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Administer) {
        return refused;
    }
    if let Err(r) = own_number(&state, &signed, &phone).await {
        return r;
    }
    match state.store.remove_number(&phone).await {
        Ok(()) => {
            state.cache.forget(Change::Numbers);
            let note = format!("{phone} removed; its past messages stay in the history.");
            render(&state, &signed, StatusCode::OK, Some((true, note))).await
        }
        Err(StoreError::Conflict(why)) => {
            render(&state, &signed, StatusCode::CONFLICT, Some((false, why))).await
        }
        Err(e) => unavailable("numbers", &e),
    }
}
