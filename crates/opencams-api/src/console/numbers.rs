//! Sender numbers: the account's numbers with their channel, quality, tier and throughput for
//! everyone (never a secret); for admins, a form that adds one (on the built-in simulator or
//! the Cloud API), a form per number that changes its name and throughput or rotates a Cloud
//! API access token or app secret, and one that removes it, under the same rules and store
//! calls as `opencams number add|update|remove` ([`crate::numbers`]).

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
    render_with(state, signed, status, note, &AddForm::default()).await
}

/// How the add form names its fields in errors.
const FIELDS: crate::numbers::Fields = crate::numbers::Fields {
    phone: "Number",
    channel: "Channel",
    space: "Space",
    throughput: "Messages per second",
    cloud: "a phone number id, a WABA id and an access token",
    api_base: "API base URL",
};

#[derive(Deserialize, Default)]
pub struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    space: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    throughput: String,
    #[serde(default)]
    phone_number_id: String,
    #[serde(default)]
    waba_id: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    api_base: String,
    #[serde(default)]
    api_version: String,
}

/// `POST /console/numbers` (admins): `opencams number add`.
pub async fn add(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<AddForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Administer) {
        return refused;
    }
    let bad = |why: String| (StatusCode::BAD_REQUEST, Some((false, why)));
    let throughput = match f.throughput.trim() {
        "" => Ok(80),
        raw => raw
            .parse::<u32>()
            .map_err(|_| format!("Messages per second {raw:?} is not a whole number")),
    };
    let outcome = match throughput {
        Err(why) => bad(why),
        Ok(throughput) => {
            let opt = |s: &str| Some(s.to_string());
            let request = crate::numbers::NumberRequest {
                phone: f.phone.trim().to_string(),
                channel: f.channel.trim().to_string(),
                space: opt(&f.space),
                verified_name: f.name.clone(),
                throughput,
                phone_number_id: opt(&f.phone_number_id),
                waba_id: opt(&f.waba_id),
                access_token: opt(&f.access_token),
                app_secret: opt(&f.app_secret),
                api_base: opt(&f.api_base),
                api_version: opt(&f.api_version),
            };
            match crate::numbers::new_number(
                state.store.as_ref(),
                &signed.account,
                request,
                &FIELDS,
            )
            .await
            {
                Err(e) => return unavailable("numbers", &e),
                Ok(Err(why)) => bad(why),
                Ok(Ok(new)) => match state.store.add_number(new, state.clock.now_ms()).await {
                    Ok(n) => {
                        state.cache.forget(Change::Numbers);
                        let note = format!("{} added on {}.", n.phone, n.channel);
                        return render(&state, &signed, StatusCode::OK, Some((true, note))).await;
                    }
                    Err(StoreError::Conflict(_)) => (
                        StatusCode::CONFLICT,
                        Some((
                            false,
                            format!("Number: {} is already registered", f.phone.trim()),
                        )),
                    ),
                    Err(e) => return unavailable("numbers", &e),
                },
            }
        }
    };
    let (status, note) = outcome;
    // what was typed is kept, except the secrets
    let kept = AddForm {
        access_token: String::new(),
        app_secret: String::new(),
        ..f
    };
    render_with(&state, &signed, status, note, &kept).await
}

async fn render_with(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    note: Option<(bool, String)>,
    form: &AddForm,
) -> Response {
    let (numbers, spaces) = tokio::join!(
        state.store.list_numbers(NumberFilter {
            account_id: Some(signed.account.id),
            ..Default::default()
        }),
        state.store.list_spaces(Some(signed.account.id))
    );
    let (numbers, spaces) = match (numbers, spaces) {
        (Ok(n), Ok(s)) => (n, s),
        (Err(e), _) | (_, Err(e)) => return unavailable("numbers", &e),
    };
    let admin = signed.may(Access::Administer);
    let csrf = &signed.session.csrf_token;
    let body = html! {
        h1 { "Sender numbers" }
        @if let Some((ok, text)) = &note {
            @if *ok { p role="status" { (text) } } @else { p.error role="alert" { (text) } }
        }
        @if numbers.is_empty() {
            p.muted { "No sender numbers yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Number" } th { "Name" } th { "Channel" } th { "Space" } th { "Status" } th { "Quality" } th { "Tier" } th.num { "Messages/s" } th { "Cloud API ids" } } }
                tbody { @for n in &numbers { tr {
                    td { (n.phone) } td { (n.verified_name) } td { (n.channel) } td { code { (n.space_id) } }
                    td { (n.status) } td { (n.quality_rating) } td { (n.messaging_limit_tier) } td.num { (n.throughput_mps) }
                    td { @if let Some(c) = &n.cloud {
                        (c.phone_number_id) " / WABA " (c.waba_id)
                        @if let Some(t) = &c.access_token { br; "token " code.token { (crate::numbers::fingerprint(t)) } }
                        @if let Some(t) = &c.app_secret { br; "app secret " code { (crate::numbers::fingerprint(t)) } }
                    } }
                } } }
            } }
        }
        @if admin {
            section aria-labelledby="add" {
                h2 id="add" { "Add a number" }
                form.stacked method="post" action="/console/numbers" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="add-phone" { "Number (digits with country code)" input type="text" id="add-phone" name="phone" inputmode="tel" value=(form.phone) placeholder="8613600000001" required; }
                    label for="add-channel" { "Channel" select id="add-channel" name="channel" {
                        option value="simulator" selected[form.channel != "whatsapp-cloud"] { "simulator (built in)" }
                        option value="whatsapp-cloud" selected[form.channel == "whatsapp-cloud"] { "whatsapp-cloud (Meta's Cloud API)" }
                    } }
                    label for="add-space" { "Space" select id="add-space" name="space" {
                        @for sp in &spaces { option value=(sp.id) selected[sp.id == form.space || (form.space.is_empty() && sp.id == signed.account.default_space)] { (sp.id) " · " (sp.name) } }
                    } }
                    label for="add-name" { "Name (its verified name)" input type="text" id="add-name" name="name" value=(form.name); }
                    label for="add-tp" { "Messages per second (1–1000)" input type="number" min="1" max="1000" id="add-tp" name="throughput" value=(if form.throughput.is_empty() { "80" } else { form.throughput.as_str() }); }
                    fieldset {
                        legend { "Cloud API (whatsapp-cloud only)" }
                        label for="add-pid" { "Phone number id" input type="text" id="add-pid" name="phone_number_id" value=(form.phone_number_id); }
                        label for="add-waba" { "WABA id" input type="text" id="add-waba" name="waba_id" value=(form.waba_id); }
                        label for="add-token" { "Access token" input type="password" autocomplete="off" id="add-token" name="access_token"; }
                        label for="add-secret" { "App secret (webhook signatures)" input type="password" autocomplete="off" id="add-secret" name="app_secret"; }
                        label for="add-base" { "API base URL (default https://graph.facebook.com)" input type="text" id="add-base" name="api_base" value=(form.api_base); }
                        label for="add-version" { "API version (default v23.0)" input type="text" id="add-version" name="api_version" value=(form.api_version); }
                    }
                    button.primary type="submit" { "Add number" }
                }
            }
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
    // an empty field keeps what is stored, as the CLI's absent flags do (a number added
    // without a name keeps having none until one is given)
    let name = f.name.trim();
    let secret = |s: &str| (!s.trim().is_empty()).then(|| Secret::new(s.trim()));
    let update = NumberUpdate {
        verified_name: (!name.is_empty()).then(|| name.to_string()),
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
