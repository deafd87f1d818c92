//! `POST /console/phone`: the simulated user writes what an operator typed, or taps one of a
//! message's replies ([`super::taps`]), through the built-in simulator; then back to the chat,
//! once the inbound message is stored. What is wrong is answered on the page, naming the field.

use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use opencams_domain::Direction;
use opencams_store::Number;
use serde::Deserialize;
use serde_json::{Value, json};

use super::taps::taps;
use super::{ChatQuery, PROFILE_NAME, TEXT_MAX, chat_url, choose, render};
use crate::AppState;
use crate::console::layout::{error_page, unavailable};
use crate::console::session::{Access, Signed};

#[derive(Deserialize, Default)]
pub struct WriteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    user: String,
    /// What the user types.
    #[serde(default)]
    text: String,
    /// The message whose reply the user taps, and which of its [`taps`].
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    reply: String,
}

/// `POST /console/phone` (operators, admins): the simulated user writes or taps, then back to
/// the chat.
pub async fn write(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(f): Form<WriteForm>,
) -> Response {
    if let Some(refused) = signed.refusal(&f.csrf, Access::Operate) {
        return refused;
    }
    let numbers = match super::account_numbers(&state, &signed).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let q = ChatQuery {
        number: f.number.clone(),
        user: f.user.clone(),
        focus: String::new(),
    };
    let again = |status: StatusCode, why: String| {
        let (state, signed, q, text) = (&state, &signed, &q, f.text.clone());
        async move { render(state, signed, q, Some((status, why)), &text).await }
    };
    let choice = choose(&numbers, &f.number, &f.user);
    if let Some((status, why)) = choice.problem {
        if status == StatusCode::NOT_FOUND {
            return error_page(status, &why);
        }
        return again(status, why).await;
    }
    let (Some(number), Some(user)) = (
        choice.number.filter(|_| !f.number.trim().is_empty()),
        choice.user,
    ) else {
        let why = if f.number.trim().is_empty() {
            "number: choose the business number the user writes to"
        } else {
            "user: give the user's number, digits with the country code (e.g. 8613900000000)"
        };
        return again(StatusCode::BAD_REQUEST, why.to_string()).await;
    };
    let Some(users) = state.simulated_users.get() else {
        return again(
            StatusCode::SERVICE_UNAVAILABLE,
            "The built-in simulator is not running in this server, so its users cannot write."
                .to_string(),
        )
        .await;
    };
    let tapped = !f.reply_to.trim().is_empty();
    let message = if tapped {
        match tap(&state, &signed, number, &user, &f).await {
            Ok(Ok(m)) => m,
            Ok(Err((status, why))) => {
                if status == StatusCode::NOT_FOUND {
                    return error_page(status, &why);
                }
                return again(status, why).await;
            }
            Err(e) => return unavailable("reading a message", &e),
        }
    } else {
        let text = f.text.trim();
        let n = text.chars().count();
        if n == 0 || n > TEXT_MAX {
            let why = format!(
                "text: type what the user writes, 1 to {TEXT_MAX} characters{}",
                if n > 0 {
                    format!(" (this is {n})")
                } else {
                    String::new()
                }
            );
            return again(StatusCode::BAD_REQUEST, why).await;
        }
        json!({"type": "text", "text": {"body": text}})
    };
    let wamid = match users
        .write(&number.phone, &user, PROFILE_NAME, message)
        .await
    {
        Ok(w) => w,
        Err(why) => {
            return again(
                StatusCode::BAD_REQUEST,
                format!("The simulator refused the message: {why}"),
            )
            .await;
        }
    };
    wait_stored(&state, &wamid).await;
    let mut to = chat_url(&number.phone, &user);
    if !tapped {
        to.push_str("&focus=text");
    }
    Redirect::to(&to).into_response()
}

/// The inbound message of the tap `f` asks for, or what is wrong with it.
async fn tap(
    state: &AppState,
    signed: &Signed,
    number: &Number,
    user: &str,
    f: &WriteForm,
) -> Result<Result<Value, (StatusCode, String)>, opencams_store::StoreError> {
    let id = f.reply_to.trim();
    let m = state.store.message(id).await?.filter(|m| {
        m.account_id == signed.account.id
            && m.direction == Direction::Out
            && m.sender == number.phone
            && m.recipient == user
    });
    let Some(m) = m else {
        return Ok(Err((
            StatusCode::NOT_FOUND,
            format!(
                "reply_to: no message {id:?} from {} to {user} in your account",
                number.phone
            ),
        )));
    };
    let template = match (&m.template_code, &m.language) {
        (Some(code), Some(language)) => state
            .cache
            .templates_by_code(&m.space_id, code)
            .await?
            .iter()
            .find(|v| v.row.language == *language)
            .map(|v| v.row.clone()),
        _ => None,
    };
    let mut taps = taps(&m, template.as_ref());
    let index = f.reply.trim().parse::<usize>().ok();
    match index.filter(|i| *i < taps.len()) {
        Some(i) => Ok(Ok(taps.swap_remove(i).message)),
        None if taps.is_empty() => Ok(Err((
            StatusCode::BAD_REQUEST,
            format!(
                "reply_to: message {id} has nothing to tap (no quick replies, reply buttons or list rows, or it has not reached WhatsApp yet)"
            ),
        ))),
        None => Ok(Err((
            StatusCode::BAD_REQUEST,
            format!(
                "reply: {:?} is not one of message {id}'s replies; give 0 to {}",
                f.reply,
                taps.len() - 1
            ),
        ))),
    }
}

/// Waits (up to 3 s) until the inbound `wamid` is stored, so that the chat shown next holds it
/// even without the page's script. The simulator's webhook reaches the ingest in process, so
/// this is usually a few milliseconds.
async fn wait_stored(state: &AppState, wamid: &str) {
    for _ in 0..60 {
        if matches!(state.store.message(wamid).await, Ok(Some(_))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
