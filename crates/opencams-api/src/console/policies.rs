//! Fallback policies: the account's policies (id, name, sender id, connection kind and address,
//! never a password or token) for everyone, one policy on a page of its own; for operators and
//! admins, a form that creates one (SMPP or HTTP) and a button per policy that deletes it, under
//! the same rules and store calls as `opencams policy create|list|show|delete`
//! ([`crate::policies`]). A policy of another account is answered as missing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{Markup, html};
use opencams_store::{Policy, StoreError};
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use crate::AppState;
use crate::policies::{self, Asker, Connection, PolicyError};

/// The page's routes, merged into the console's.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/policies", get(list).post(create))
        .route("/console/policies/{id}", get(show))
        .route("/console/policies/{id}/delete", post(delete))
}

/// `GET /console/policies`.
async fn list(State(state): State<Arc<AppState>>, signed: Signed) -> Response {
    render(&state, &signed, StatusCode::OK, None, &NewForm::default()).await
}

/// How the last change went: done (`Ok`), or refused, with the form field to blame if any.
type Note = Result<String, (String, Option<&'static str>)>;

/// The list and, for operators and admins, the form filled with `form`; `note` says how the
/// last change went.
async fn render(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    note: Option<Note>,
    form: &NewForm,
) -> Response {
    let list = match state.store.list_policies(signed.account.id).await {
        Ok(l) => l,
        Err(e) => return unavailable("fallback policies", &e),
    };
    let operate = signed.may(Access::Operate);
    let csrf = &signed.session.csrf_token;
    let body = html! {
        h1 { "Fallback policies" }
        p.muted { "A send that names a policy by its " code { "FallBackId" } " goes by SMS through it when WhatsApp does not deliver it. Passwords and tokens are stored encrypted and never shown." }
        @match &note {
            Some(Ok(text)) => p role="status" { (text) },
            Some(Err((text, _))) => p.error #form-error role="alert" { (text) },
            None => {},
        }
        @if list.is_empty() {
            p.muted { "No fallback policies yet." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th { "FallBackId" } th { "Name" } th { "Sender id" } th { "Connection" } th { "Address" } th { "Created (UTC)" }
                    @if operate { th { span.visually-hidden { "Delete" } } }
                } }
                tbody { @for p in &list { (row(p, operate.then_some(csrf.as_str()))) } }
            } }
        }
        @if operate {
            (new_form(csrf, form, note.as_ref().and_then(|n| n.as_ref().err()).and_then(|e| e.1)))
        }
    };
    page(status, "Fallback policies", Some(signed), body)
}

/// A policy's row; with a delete button when `csrf` is given.
fn row(p: &Policy, csrf: Option<&str>) -> Markup {
    let shown = policies::shown(p);
    html! { tr {
        td { a href={ "/console/policies/" (p.id) } { code { (p.id) } } }
        td { (p.name) }
        td { (p.sender_id) }
        td { (kind_label(shown.kind.as_deref())) }
        td { (target_label(shown.target.as_deref())) }
        td { (opencams_protocol::time_fmt::format(p.created_at.div_euclid(1000))) }
        @if let Some(csrf) = csrf { td { (delete_button(p, csrf)) } }
    } }
}

fn delete_button(p: &Policy, csrf: &str) -> Markup {
    html! {
        form method="post" action={ "/console/policies/" (p.id) "/delete" } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { "Delete " (p.id) }
        }
    }
}

fn kind_label(kind: Option<&str>) -> &str {
    match kind {
        Some("smpp") => "SMPP",
        Some("http") => "HTTP",
        Some(other) => other,
        None => "unknown",
    }
}

/// The address shown: an URL's user and password, if it carries any, are left out.
fn target_label(target: Option<&str>) -> String {
    let Some(t) = target else {
        return String::new();
    };
    match t.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
                None => t.to_string(),
            }
        }
        None => t.to_string(),
    }
}

/// The form field `e` is about (its id).
fn field_of(e: &PolicyError) -> &'static str {
    match e {
        PolicyError::SenderId(_) => "sender_id",
        PolicyError::SmppNoPort(_) | PolicyError::SmppAddress(_) => "smpp_address",
        PolicyError::NoSystemId => "system_id",
        PolicyError::HttpUrl(_) => "http_url",
        PolicyError::NoConnection => "kind-smpp",
    }
}

/// The create form, filled with what was typed (never a password or token); the field
/// `invalid` (an id) marked as the one the error above is about.
fn new_form(csrf: &str, f: &NewForm, invalid: Option<&str>) -> Markup {
    let bad = |id: &str| invalid == Some(id);
    let http = f.kind == "http";
    let name = if f.csrf.is_empty() && f.name.is_empty() {
        policies::DEFAULT_NAME
    } else {
        f.name.as_str()
    };
    html! {
        h2 id="new-policy" { "Create a policy" }
        form.stacked method="post" action="/console/policies" aria-labelledby="new-policy" {
            input type="hidden" name="csrf" value=(csrf);
            label for="name" { "Name"
                input type="text" id="name" name="name" value=(name) maxlength="200";
            }
            label for="sender_id" { "Sender id (up to 11 letters, digits and spaces, or a number of up to 15 digits)"
                input type="text" id="sender_id" name="sender_id" aria-invalid=[bad("sender_id").then_some("true")] aria-describedby=[bad("sender_id").then_some("form-error")] value=(f.sender_id) required maxlength="15";
            }
            fieldset {
                legend { "Connection" }
                label for="kind-smpp" {
                    input type="radio" id="kind-smpp" aria-invalid=[bad("kind-smpp").then_some("true")] aria-describedby=[bad("kind-smpp").then_some("form-error")] name="kind" value="smpp" checked[!http];
                    " SMPP (an SMSC)"
                }
                label for="kind-http" {
                    input type="radio" id="kind-http" name="kind" value="http" checked[http];
                    " HTTP (an SMS connector)"
                }
            }
            fieldset {
                legend { "SMPP" }
                label for="smpp_address" { "SMPP address (host:port)"
                    input type="text" id="smpp_address" name="smpp_address" aria-invalid=[bad("smpp_address").then_some("true")] aria-describedby=[bad("smpp_address").then_some("form-error")] value=(f.smpp_address) placeholder="smsc.example.com:2775";
                }
                label for="system_id" { "System id"
                    input type="text" id="system_id" name="system_id" aria-invalid=[bad("system_id").then_some("true")] aria-describedby=[bad("system_id").then_some("form-error")] value=(f.system_id) autocomplete="off";
                }
                label for="password" { "Password (stored encrypted)"
                    input type="password" id="password" name="password" autocomplete="new-password";
                }
            }
            fieldset {
                legend { "HTTP connector" }
                label for="http_url" { "Connector URL (a POST per message)"
                    input type="url" id="http_url" name="http_url" aria-invalid=[bad("http_url").then_some("true")] aria-describedby=[bad("http_url").then_some("form-error")] value=(f.http_url) placeholder="https://sms.example.com/send";
                }
                label for="http_token" { "Bearer token (optional, stored encrypted)"
                    input type="password" id="http_token" name="http_token" autocomplete="new-password";
                }
            }
            button.primary type="submit" { "Create policy" }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    sender_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    smpp_address: String,
    #[serde(default)]
    system_id: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    http_url: String,
    #[serde(default)]
    http_token: String,
}

impl NewForm {
    /// The connection the form chose, as `opencams policy create`'s flags give it: an empty
    /// field is a flag left out.
    fn connection(&self) -> Option<Connection> {
        let given = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        // secrets as typed: a space may be part of one
        let secret = |s: &str| (!s.is_empty()).then(|| s.to_string());
        match self.kind.as_str() {
            "smpp" => Some(Connection::Smpp {
                address: self.smpp_address.trim().to_string(),
                system_id: given(&self.system_id),
                password: secret(&self.password),
            }),
            "http" => Some(Connection::Http {
                url: self.http_url.trim().to_string(),
                token: secret(&self.http_token),
            }),
            _ => None,
        }
    }
}

/// `POST /console/policies` (operators, admins).
async fn create(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<NewForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let name = match f.name.trim() {
        "" => policies::DEFAULT_NAME.to_string(),
        n => n.to_string(),
    };
    let checked = policies::new_policy(
        &signed.account,
        name,
        f.sender_id.trim().to_string(),
        f.connection(),
    );
    let new = match checked {
        Ok(n) => n,
        Err(e) => {
            let note = Err((e.describe(Asker::Console), Some(field_of(&e))));
            return render(&state, &signed, StatusCode::BAD_REQUEST, Some(note), &f).await;
        }
    };
    match state.store.create_policy(new, state.clock.now_ms()).await {
        Ok(p) => Redirect::to(&format!("/console/policies/{}", p.id)).into_response(),
        Err(e) => unavailable("fallback policies", &e),
    }
}

/// The account's policy `id`, or the answer for one that is not.
async fn own_policy(state: &AppState, signed: &Signed, id: &str) -> Result<Policy, Response> {
    match state.store.policy(signed.account.id, id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(missing(id)),
        Err(e) => Err(unavailable("fallback policies", &e)),
    }
}

fn missing(id: &str) -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        &format!("No fallback policy {id:?} in your account."),
    )
}

/// `GET /console/policies/{id}`: what `opencams policy show` shows.
async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let p = match own_policy(&state, &signed, &id).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let shown = policies::shown(&p);
    let operate = signed.may(Access::Operate);
    let body = html! {
        h1 { "Fallback policy " code { (p.id) } }
        div.table-wrap { table { tbody {
            tr { th scope="row" { "FallBackId" } td { code { (p.id) } } }
            tr { th scope="row" { "Name" } td { (p.name) } }
            tr { th scope="row" { "Channel" } td { (p.channel) } }
            tr { th scope="row" { "Sender id" } td { (p.sender_id) } }
            tr { th scope="row" { "Connection" } td { (kind_label(shown.kind.as_deref())) } }
            tr { th scope="row" { "Address" } td { (target_label(shown.target.as_deref())) } }
            tr { th scope="row" { "Created (UTC)" } td { (opencams_protocol::time_fmt::format(p.created_at.div_euclid(1000))) } }
        } } }
        @if operate { (delete_button(&p, &signed.session.csrf_token)) }
        p { a href="/console/policies" { "All fallback policies" } }
    };
    page(
        StatusCode::OK,
        &format!("Fallback policy {}", p.id),
        Some(&signed),
        body,
    )
}

#[derive(Deserialize, Default)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/policies/{id}/delete` (operators, admins).
async fn delete(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let blank = NewForm::default();
    match state
        .store
        .delete_policy(signed.account.id, &id, state.clock.now_ms())
        .await
    {
        Ok(()) => {
            let note = format!("Policy {id} deleted; sends can no longer name it.");
            render(&state, &signed, StatusCode::OK, Some(Ok(note)), &blank).await
        }
        Err(StoreError::NotFound(_)) => missing(&id),
        Err(StoreError::Conflict(why)) => {
            let why = format!("Not deleted: {why}.");
            render(
                &state,
                &signed,
                StatusCode::CONFLICT,
                Some(Err((why, None))),
                &blank,
            )
            .await
        }
        Err(e) => unavailable("fallback policies", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_shown_without_credentials() {
        assert_eq!(
            target_label(Some("https://u:p@sms.example.com/send?x=a@b")),
            "https://…@sms.example.com/send?x=a@b"
        );
        assert_eq!(
            target_label(Some("https://sms.example.com/send?to=a@b")),
            "https://sms.example.com/send?to=a@b"
        );
        assert_eq!(target_label(Some("smsc:2775")), "smsc:2775");
        assert_eq!(target_label(None), "");
    }
}
