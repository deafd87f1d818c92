//! Who is signed in: a random session token in an HttpOnly, SameSite=Strict cookie (Secure when
//! the request came over HTTPS through a proxy), kept in the store only as its SHA-256, with a
//! CSRF token per session that every state-changing form carries. Sign-in attempts are limited
//! per email and per client address, counted in the store so that every node counts alike.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use cookie::{Cookie, SameSite};
use opencams_store::{
    Account, AccountStatus, ConsoleSession, ConsoleUser, LoginFailures, Role, Store, StoreError,
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "opencams_session";
/// The sign-in form's CSRF cookie (double submit: there is no session yet).
pub const LOGIN_COOKIE: &str = "opencams_login";
/// How long a session lasts from sign-in.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

/// 32 random bytes, URL-safe base64: session and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a session token: a stolen database holds no usable session.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Constant-time comparison of a form's CSRF token with the expected one.
pub fn csrf_ok(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()).filter_map(Result::ok))
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// True when a proxy in front says the client used HTTPS (cookies are then `Secure`).
pub fn over_https(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase().contains("proto=https"));
    proto.or(forwarded).unwrap_or(false)
}

/// A `Set-Cookie` value for the console's paths: HttpOnly, SameSite=Strict, `Secure` over
/// HTTPS; `max_age_s` 0 removes the cookie.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age_s: i64,
    secure: bool,
) -> HeaderValue {
    let c = Cookie::build((name.to_string(), value.to_string()))
        .path(path.to_string())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::seconds(max_age_s))
        .build();
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The client's address as the listener saw it ("unknown" when the router was served without
/// connection info).
pub fn client_address(parts_extensions: &axum::http::Extensions) -> String {
    parts_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// A signed-in request: its user, the user's account and the session.
pub struct Signed {
    pub user: ConsoleUser,
    pub account: Account,
    pub session: ConsoleSession,
}

impl FromRequestParts<Arc<AppState>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let to_login = || Redirect::to("/console/login").into_response();
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login());
        };
        let now = state.clock.now_ms();
        let store = &state.store;
        let unavailable =
            |e: opencams_store::StoreError| super::layout::unavailable("reading the session", &e);
        let Some(session) = store
            .session(&token_hash(&token), now)
            .await
            .map_err(unavailable)?
        else {
            return Err(to_login());
        };
        let Some(user) = store.user(session.user_id).await.map_err(unavailable)? else {
            return Err(to_login());
        };
        let Some(account) = store
            .account_by_id(user.account_id)
            .await
            .map_err(unavailable)?
        else {
            return Err(to_login());
        };
        if !user.enabled || account.status != AccountStatus::Active {
            return Err(to_login());
        }
        Ok(Signed {
            user,
            account,
            session,
        })
    }
}

/// What a page does, for the role check: every role reads; operators also change templates,
/// sends, webhooks and policies; admins change everything (keys, numbers, users).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Operate,
    Administer,
}

impl Signed {
    pub fn may(&self, what: Access) -> bool {
        matches!(
            (self.user.role, what),
            (_, Access::Read) | (Role::Admin, _) | (Role::Operator, Access::Operate)
        )
    }

    /// The answer to a request this user's role may not make.
    pub fn refused(&self) -> Response {
        super::layout::error_page(
            axum::http::StatusCode::FORBIDDEN,
            &format!(
                "Your role ({}) may not do this; an admin of account {} can.",
                self.user.role.as_str(),
                self.account.name
            ),
        )
    }

    /// The account's rights as an API caller, for pages that run a CAMS action through
    /// [`crate::rpc::call`]: the account's settings (its rate limits) and no key limits.
    pub async fn principal(
        &self,
        state: &AppState,
    ) -> Result<Arc<crate::principal::Principal>, opencams_store::StoreError> {
        let settings = state.store.account_settings(self.account.id).await?;
        Ok(Arc::new(crate::principal::Principal {
            key: opencams_store::AccessKey {
                id: format!("console:{}", self.user.email),
                secret: opencams_store::Secret::new(""),
                account_id: self.account.id,
                account_name: self.account.name.clone(),
                enabled: true,
                actions: None,
                spaces: None,
                created_at: self.session.created_at,
            },
            account: self.account.clone(),
            settings,
        }))
    }

    /// The space a page acts on, `requested` (the account's default when empty) if it is one
    /// of the account's, with all the account's spaces; else the page that says it is not.
    pub async fn space(
        &self,
        state: &AppState,
        requested: &str,
    ) -> Result<(opencams_store::Space, Vec<opencams_store::Space>), Response> {
        let spaces = state
            .store
            .list_spaces(Some(self.account.id))
            .await
            .map_err(|e| super::layout::unavailable("reading the account's spaces", &e))?;
        let wanted = match requested.trim() {
            "" => self.account.default_space.as_str(),
            s => s,
        };
        match spaces.iter().find(|s| s.id == wanted) {
            Some(s) => Ok((s.clone(), spaces)),
            None => Err(super::layout::error_page(
                axum::http::StatusCode::NOT_FOUND,
                &format!("space: {wanted:?} is not a space of your account"),
            )),
        }
    }

    /// Whether a form's CSRF token is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        csrf_ok(&self.session.csrf_token, given)
    }

    /// What every change checks first, the form's CSRF token and then the role: the answer
    /// when one fails.
    pub fn refusal(&self, csrf: &str, what: Access) -> Option<Response> {
        if !self.csrf_ok(csrf) {
            return Some(super::layout::forged());
        }
        (!self.may(what)).then(|| self.refused())
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<AppState>> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <Signed as FromRequestParts<Arc<AppState>>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}

/// The window failed sign-ins are counted over.
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed sign-ins allowed per email in a window.
pub const FAILURES_PER_EMAIL: u32 = 5;
/// Failed sign-ins allowed per client address in a window.
pub const FAILURES_PER_ADDRESS: u32 = 20;

/// Failed sign-ins are counted per email and per client address over a window, in the store
/// (so that every node counts alike): past the limit, sign-in is refused, before the password is
/// even checked, until the window ends. The keys counted for an attempt, with their limits.
fn login_keys(email: &str, address: &str) -> [(String, u32); 2] {
    [
        (format!("email:{email}"), FAILURES_PER_EMAIL),
        (format!("address:{address}"), FAILURES_PER_ADDRESS),
    ]
}

/// Of the failures counted against each key (with its limit), the ms until the last exhausted
/// one's window ends; `None` when none is exhausted.
fn lock_left(counted: &[(Option<LoginFailures>, u32)], now: i64) -> Option<i64> {
    counted
        .iter()
        .filter_map(|(f, limit)| {
            let f = (*f)?;
            let left = f.since + LOGIN_WINDOW_MS - now;
            (f.failures >= *limit && left > 0).then_some(left)
        })
        .max()
}

/// When sign-in is refused for this email or address: the ms until it is allowed again.
pub async fn login_locked_for(
    store: &dyn Store,
    email: &str,
    address: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let keys = login_keys(email, address);
    let found = store
        .login_failures(
            keys.iter().map(|(k, _)| k.clone()).collect(),
            now,
            LOGIN_WINDOW_MS,
        )
        .await?;
    let counted: Vec<_> = found
        .into_iter()
        .zip(keys.iter().map(|(_, l)| *l))
        .collect();
    Ok(lock_left(&counted, now))
}

/// Counts a failed sign-in for this email and address.
pub async fn login_failed(
    store: &dyn Store,
    email: &str,
    address: &str,
    now: i64,
) -> Result<(), StoreError> {
    let keys = login_keys(email, address).map(|(k, _)| k).to_vec();
    store.record_login_failure(keys, now, LOGIN_WINDOW_MS).await
}

/// A successful sign-in clears the email's count (not the address's).
pub async fn login_succeeded(store: &dyn Store, email: &str) -> Result<(), StoreError> {
    store.clear_login_failures(&format!("email:{email}")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_locks_while_an_exhausted_window_lasts() {
        let f = |failures, since| Some(LoginFailures { failures, since });
        // under both limits: open
        assert_eq!(
            lock_left(
                &[
                    (f(4, 0), FAILURES_PER_EMAIL),
                    (f(19, 0), FAILURES_PER_ADDRESS)
                ],
                10
            ),
            None
        );
        // the email's limit reached: locked until its window ends
        assert_eq!(
            lock_left(
                &[
                    (f(5, 1000), FAILURES_PER_EMAIL),
                    (None, FAILURES_PER_ADDRESS)
                ],
                2000
            ),
            Some(LOGIN_WINDOW_MS - 1000)
        );
        // both: the longer wait
        assert_eq!(
            lock_left(
                &[
                    (f(5, 0), FAILURES_PER_EMAIL),
                    (f(20, 500), FAILURES_PER_ADDRESS)
                ],
                1000
            ),
            Some(LOGIN_WINDOW_MS - 500)
        );
        // a window that ended locks nothing
        assert_eq!(
            lock_left(&[(f(9, 0), FAILURES_PER_EMAIL)], LOGIN_WINDOW_MS),
            None
        );
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
        assert!(csrf_ok(&a, &a));
        assert!(!csrf_ok(&a, &b));
        assert!(!csrf_ok("", ""));
    }
}
