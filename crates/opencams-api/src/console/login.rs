//! Signing in and out. The sign-in form carries a CSRF token that matches a cookie set with the
//! form (there is no session yet); a wrong email and a wrong password get the same answer after
//! the same work (a password is checked against a stand-in hash when the email is unknown).

use std::sync::{Arc, LazyLock};

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use opencams_store::{AccountStatus, ConsoleSession};
use serde::Deserialize;

use super::layout::{forged, page, unavailable};
use super::password;
use super::session::{
    LOGIN_COOKIE, SESSION_COOKIE, SESSION_TTL_MS, Signed, client_address, cookie_value, csrf_ok,
    over_https, random_token, set_cookie, token_hash,
};
use crate::AppState;

/// A hash no password matches in practice, verified when the email is unknown so that the
/// answer takes as long as for a known one.
static STAND_IN: LazyLock<String> =
    LazyLock::new(|| password::hash(&random_token()).unwrap_or_default());

/// `GET /console/login`: the form, with a fresh CSRF token in a cookie and a hidden field.
pub async fn form(signed: Option<Signed>, headers: HeaderMap) -> Response {
    if signed.is_some() {
        return Redirect::to("/console").into_response();
    }
    form_page(StatusCode::OK, "", None, &headers)
}

fn form_page(
    status: StatusCode,
    email: &str,
    error: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let csrf = random_token();
    let body = html! {
        h1 { "Sign in" }
        @if let Some(e) = error {
            p.error role="alert" id="login-error" { (e) }
        }
        form.stacked method="post" action="/console/login" {
            input type="hidden" name="csrf" value=(csrf);
            label for="email" { "Email"
                input type="email" id="email" name="email" value=(email) autocomplete="username" required autofocus;
            }
            label for="password" { "Password"
                input type="password" id="password" name="password" autocomplete="current-password" required;
            }
            button.primary type="submit" { "Sign in" }
        }
        p.muted { "Console users are created with " code { "opencams user create" } "." }
    };
    let mut response = page(status, "Sign in", None, body);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            LOGIN_COOKIE,
            &csrf,
            "/console/login",
            3600,
            over_https(headers),
        ),
    );
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /console/login`.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request_parts: axum::http::Extensions,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !csrf_ok(&expected, &f.csrf) {
        return form_page(
            StatusCode::FORBIDDEN,
            &f.email,
            Some("The sign-in form expired or came from another site; sign in again."),
            &headers,
        );
    }
    let email = f.email.trim().to_lowercase();
    let address = client_address(&request_parts);
    let now = state.clock.now_ms();
    let locked =
        match super::session::login_locked_for(state.store.as_ref(), &email, &address, now).await {
            Ok(l) => l,
            Err(e) => return unavailable("reading sign-in failures", &e),
        };
    if let Some(ms) = locked {
        let minutes = (ms + 59_999) / 60_000;
        return form_page(
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            Some(&format!(
                "Too many failed sign-ins for this email or from this address; try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
            &headers,
        );
    }
    let user = match state.store.user_by_email(&email).await {
        Ok(u) => u,
        Err(e) => {
            return unavailable("reading a user", &e);
        }
    };
    let phc = user
        .as_ref()
        .map_or_else(|| STAND_IN.clone(), |u| u.password_hash.clone());
    let given = f.password;
    // Argon2 takes tens of ms of CPU: off the request threads
    let matches = tokio::task::spawn_blocking(move || password::verify(&phc, &given))
        .await
        .unwrap_or(false);
    let Some(user) = user.filter(|_| matches) else {
        if let Err(e) =
            super::session::login_failed(state.store.as_ref(), &email, &address, now).await
        {
            return unavailable("counting a failed sign-in", &e);
        }
        return form_page(
            StatusCode::UNAUTHORIZED,
            &email,
            Some("The email or the password is wrong."),
            &headers,
        );
    };
    if let Err(e) = super::session::login_succeeded(state.store.as_ref(), &email).await {
        return unavailable("clearing sign-in failures", &e);
    }
    if !user.enabled {
        return form_page(
            StatusCode::FORBIDDEN,
            &email,
            Some("This user is disabled; an admin of its account can enable it again."),
            &headers,
        );
    }
    match state.store.account_by_id(user.account_id).await {
        Ok(Some(a)) if a.status == AccountStatus::Active => {}
        Ok(_) => {
            return form_page(
                StatusCode::FORBIDDEN,
                &email,
                Some("This user's account is disabled."),
                &headers,
            );
        }
        Err(e) => {
            return unavailable("reading an account", &e);
        }
    }
    let token = random_token();
    let session = ConsoleSession {
        token_hash: token_hash(&token),
        user_id: user.id,
        csrf_token: random_token(),
        created_at: now,
        expires_at: now + SESSION_TTL_MS,
    };
    if let Err(e) = state.store.create_session(session).await {
        return unavailable("storing a session", &e);
    }
    // sessions that ended are deleted as new ones begin (a sign-in is rare; nothing else would)
    if let Err(e) = state.store.delete_expired_sessions(now).await {
        tracing::warn!(error = %e, "console: deleting expired sessions failed");
    }
    let secure = over_https(&headers);
    let mut response = Redirect::to("/console").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &token,
            "/console",
            SESSION_TTL_MS / 1000,
            secure,
        ),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, "", "/console/login", 0, secure),
    );
    response
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /console/logout`: ends the session (its CSRF token required).
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    signed: Signed,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed.session.csrf_token, &f.csrf) {
        return forged();
    }
    if let Err(e) = state.store.delete_session(&signed.session.token_hash).await {
        return unavailable("ending a session", &e);
    }
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", "/console", 0, over_https(&headers)),
    );
    response
}
