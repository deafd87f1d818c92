//! Access keys: the account's keys with their limits for everyone; for admins, a form that
//! creates one (its secret shown once, on the answer) and buttons that disable and enable one,
//! under the same rules as `opencams key` ([`crate::keys`]).

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use opencams_store::AccessKey;
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use crate::AppState;

/// `GET /console/keys`.
pub async fn list(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    listing(
        &state,
        &signed,
        StatusCode::OK,
        None,
        &NewKeyForm::default(),
    )
    .await
}

async fn listing(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    error: Option<&str>,
    form: &NewKeyForm,
) -> Response {
    let (keys, spaces) = tokio::join!(
        state.store.list_keys(Some(signed.account.id)),
        state.store.list_spaces(Some(signed.account.id))
    );
    let (keys, spaces) = match (keys, spaces) {
        (Ok(k), Ok(s)) => (k, s),
        (Err(e), _) | (_, Err(e)) => return unavailable("keys", &e),
    };
    let admin = signed.may(Access::Administer);
    let body = html! {
        h1 { "Access keys" }
        p.muted { "Keys sign the account's API calls. A key limited to actions or spaces is refused outside them." }
        div.table-wrap { table {
            thead { tr { th { "AccessKeyId" } th { "State" } th { "Actions" } th { "Spaces" } th { "Created (UTC)" } @if admin { th { span.visually-hidden { "Change" } } } } }
            tbody { @for k in &keys { (row(k, admin, &signed.session.csrf_token)) } }
        } }
        @if admin {
            h2 id="new-key" { "Create a key" }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form.stacked method="post" action="/console/keys" aria-labelledby="new-key" {
                input type="hidden" name="csrf" value=(signed.session.csrf_token);
                label for="actions" { "Actions (comma-separated; empty: all)"
                    input type="text" id="actions" name="actions" value=(form.actions) placeholder="SendChatappMessage, QueryChatappPhoneNumbers";
                }
                label for="spaces" { "Spaces (comma-separated; empty: all)"
                    input type="text" id="spaces" name="spaces" value=(form.spaces) placeholder=(spaces.iter().map(|s| s.id.as_str()).collect::<Vec<_>>().join(", "));
                }
                button.primary type="submit" { "Create key" }
            }
        }
    };
    page(status, "Access keys", Some(signed), body)
}

fn row(k: &AccessKey, admin: bool, csrf: &str) -> Markup {
    let list = |l: &Option<Vec<String>>| l.as_ref().map_or("all".to_string(), |l| l.join(", "));
    html! { tr {
        td { code { (k.id) } }
        td { @if k.enabled { "enabled" } @else { "disabled" } }
        td { (list(&k.actions)) }
        td { (list(&k.spaces)) }
        td { (opencams_protocol::time_fmt::format(k.created_at / 1000)) }
        @if admin { td {
            form method="post" action={ "/console/keys/" (k.id) "/" @if k.enabled { "disable" } @else { "enable" } } {
                input type="hidden" name="csrf" value=(csrf);
                button type="submit" { @if k.enabled { "Disable" } @else { "Enable" } }
            }
        } }
    } }
}

#[derive(Deserialize, Default)]
pub struct NewKeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    actions: String,
    #[serde(default)]
    spaces: String,
}

fn list_field(raw: &str) -> Option<Vec<String>> {
    (!raw.trim().is_empty()).then(|| raw.split(',').map(str::to_string).collect())
}

/// `POST /console/keys` (admins).
pub async fn create(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<NewKeyForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Administer) {
        return refused;
    }
    let checked = crate::keys::new_key(
        state.store.as_ref(),
        &signed.account,
        list_field(&f.actions),
        list_field(&f.spaces),
    )
    .await;
    let new = match checked {
        Err(e) => return unavailable("keys", &e),
        Ok(Err(e)) => {
            let message = e.describe("Actions", "Spaces", &signed.account);
            return listing(&state, &signed, StatusCode::BAD_REQUEST, Some(&message), &f).await;
        }
        Ok(Ok(new)) => new,
    };
    let key = match state.store.create_key(new, state.clock.now_ms()).await {
        Ok(k) => k,
        Err(e) => return unavailable("keys", &e),
    };
    let body = html! {
        h1 { "Key created" }
        p role="status" { "Copy the secret now: it is shown only on this page." }
        div.table-wrap { table { tbody {
            tr { th scope="row" { "AccessKeyId" } td { code id="key-id" { (key.id) } } }
            tr { th scope="row" { "AccessKeySecret" } td { code id="key-secret" { (key.secret.expose()) } } }
        } } }
        p { a href="/console/keys" { "Back to the keys" } }
    };
    page(StatusCode::OK, "Key created", Some(&signed), body)
}

/// `POST /console/keys/{id}/enable` and `…/disable` (admins).
pub async fn set_enabled(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path((id, change)): Path<(String, String)>,
    Form(f): Form<NewKeyForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Administer) {
        return refused;
    }
    let enabled = match change.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return error_page(StatusCode::NOT_FOUND, "No such page."),
    };
    match state.store.key(&id).await {
        Ok(Some(k)) if k.account_id == signed.account.id => {}
        Ok(_) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("No access key {id:?} in your account."),
            );
        }
        Err(e) => return unavailable("keys", &e),
    }
    if let Err(e) = state.store.set_key_enabled(&id, enabled).await {
        return unavailable("keys", &e);
    }
    // this node at once; the others through the store's notifications
    state.principals.invalidate();
    Redirect::to("/console/keys").into_response()
}
