//! The Phone page, for numbers on the built-in simulator: a phone-like view of one simulated
//! user's chat with one of the account's `simulator` numbers — both directions drawn as WhatsApp
//! draws them ([`super::bubble`]), outbound statuses as ticks — where operators and admins type
//! as the user, or tap a quick reply, reply button or list row of the latest message that has
//! them. What the user writes goes through the simulator as a real user's message would: a
//! signed provider webhook, ingested, stored, its 24-hour window opened and its callback pushed.
//! A small script polls the chat so that ticks and new messages appear without a reload; without
//! it, a reload does the same. Another account's number is answered as a missing one.

mod taps;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::{Markup, html};
use opencams_domain::{Direction, PhoneNumber, SendType};
use opencams_store::{MessageFilter, MessageRow, Number, NumberFilter, TemplateRow};
use serde::Deserialize;

use super::bubble;
use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use crate::AppState;
use taps::taps;

/// The channel of numbers on the built-in simulator.
const SIMULATOR: &str = "simulator";
/// The messages a chat shows, the latest.
const CHAT_LIMIT: u32 = 100;
/// The longest text a user may type (WhatsApp's limit).
const TEXT_MAX: usize = 4096;
/// The profile name the simulated user writes with.
const PROFILE_NAME: &str = "Simulated User";

/// The live chat's script, served at [`JS_PATH`].
const JS: &str = include_str!("phone.js");
/// Named by its content's hash, as the stylesheet is.
pub static JS_PATH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| super::layout::asset_path("phone", "js", JS));

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/console/phone", get(show).post(write::write))
        .route("/console/phone/chat", get(chat))
        .route(&JS_PATH, get(js))
}

/// The signed-in account's numbers, or the page for a database that cannot be reached.
pub(super) async fn account_numbers(
    state: &AppState,
    signed: &Signed,
) -> Result<Vec<Number>, Response> {
    state
        .store
        .list_numbers(NumberFilter {
            account_id: Some(signed.account.id),
            ..Default::default()
        })
        .await
        .map_err(|e| unavailable("listing numbers", &e))
}

/// `GET JS_PATH`.
async fn js() -> Response {
    super::layout::asset("text/javascript; charset=utf-8", JS)
}

#[derive(Deserialize, Default)]
pub struct ChatQuery {
    #[serde(default)]
    number: String,
    #[serde(default)]
    user: String,
    /// `text`: put the cursor in the text field (after the user wrote).
    #[serde(default)]
    focus: String,
}

/// What a request chose: a business number of the account on the simulator, a user, or what is
/// wrong with them (the status to answer with and a message naming the field).
struct Choice<'a> {
    number: Option<&'a Number>,
    user: Option<String>,
    problem: Option<(StatusCode, String)>,
}

/// Reads `number` (one of `numbers`, the account's; the first simulator number when empty) and
/// `user` (a phone number; none when empty).
fn choose<'a>(numbers: &'a [Number], number: &str, user: &str) -> Choice<'a> {
    let mut choice = Choice {
        number: None,
        user: None,
        problem: None,
    };
    let sims: Vec<&Number> = numbers.iter().filter(|n| n.channel == SIMULATOR).collect();
    let wanted = number.trim().trim_start_matches('+');
    if wanted.is_empty() {
        choice.number = sims.first().copied();
    } else {
        match numbers.iter().find(|n| n.phone == wanted) {
            None => {
                choice.problem = Some((
                    StatusCode::NOT_FOUND,
                    format!("number: {wanted:?} is not a business number of your account"),
                ));
                return choice;
            }
            Some(n) if n.channel != SIMULATOR => {
                let valid = if sims.is_empty() {
                    "your account has none".to_string()
                } else {
                    let list: Vec<&str> = sims.iter().map(|n| n.phone.as_str()).collect();
                    format!("yours are {}", list.join(", "))
                };
                choice.problem = Some((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "number: {wanted} is a {} number; the Phone page writes only to numbers on the built-in simulator (channel simulator), and {valid}",
                        n.channel
                    ),
                ));
                return choice;
            }
            Some(n) => choice.number = Some(n),
        }
    }
    if !user.trim().is_empty() {
        match PhoneNumber::parse("user", user) {
            Ok(p) => choice.user = Some(p.as_str().to_string()),
            Err(e) => choice.problem = Some((StatusCode::BAD_REQUEST, e.message)),
        }
    }
    choice
}

/// `/console/phone?number=…&user=…` (digits only: both were checked).
fn chat_url(number: &str, user: &str) -> String {
    format!("/console/phone?number={number}&user={user}")
}

/// `GET /console/phone`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<ChatQuery>,
) -> Response {
    render(&state, &signed, &q, None, "").await
}

/// The page for `q`; `problem` is what a write went wrong with, `draft` the text to keep.
async fn render(
    state: &AppState,
    signed: &Signed,
    q: &ChatQuery,
    problem: Option<(StatusCode, String)>,
    draft: &str,
) -> Response {
    let numbers = match account_numbers(state, signed).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let sims: Vec<&Number> = numbers.iter().filter(|n| n.channel == SIMULATOR).collect();
    let choice = choose(&numbers, &q.number, &q.user);
    if let Some((StatusCode::NOT_FOUND, why)) = &choice.problem {
        return error_page(StatusCode::NOT_FOUND, why);
    }
    let (status, error) = match problem.or(choice.problem) {
        Some((status, why)) => (status, Some(why)),
        None => (StatusCode::OK, None),
    };
    let running = state.simulated_users.get().is_some();
    let may_write = running && signed.may(Access::Operate);
    let chat = match (choice.number, &choice.user) {
        (Some(n), Some(u)) => match chat_markup(state, signed, n, u, may_write).await {
            Ok(m) => Some(m),
            Err(e) => return unavailable("reading a chat", &e),
        },
        _ => None,
    };
    let recent = match (choice.number, &choice.user) {
        (Some(n), None) => match recent_users(state, n).await {
            Ok(r) => r,
            Err(e) => return unavailable("listing a number's chats", &e),
        },
        _ => Vec::new(),
    };
    let user_value = choice.user.clone().unwrap_or_else(|| q.user.clone());
    let body = html! {
        h1 { "Phone" }
        p.muted { "A WhatsApp user on the built-in simulator: see what they see, write as them and tap their buttons. What they write reaches this server as Meta's webhook would, opens the 24-hour window and goes to your callback URLs." }
        @if sims.is_empty() {
            p role="status" {
                "None of account " strong { (signed.account.name) } "'s numbers is on the built-in simulator, so there is no chat to show. "
                "Numbers with the channel " code { "simulator" } " are; add one with "
                code { "opencams number add --account " (signed.account.name) " 8613800000000 --channel simulator" } "."
            }
        } @else {
            @if !running {
                p.error role="alert" { "The built-in simulator is not running in this server, so its users cannot write; chats are read-only." }
            }
            @if let Some(e) = &error { p.error role="alert" { (e) } }
            form.search method="get" action="/console/phone" aria-label="Choose a chat" {
                label for="number" { "Business number"
                    select id="number" name="number" {
                        @for n in &sims {
                            option value=(n.phone) selected[choice.number.is_some_and(|c| c.phone == n.phone)] {
                                (n.phone) @if !n.verified_name.is_empty() { " (" (n.verified_name) ")" }
                            }
                        }
                    }
                }
                label for="user" { "User's number"
                    input type="text" id="user" name="user" inputmode="tel" autocomplete="off"
                        placeholder="8613900000000" value=(user_value) required;
                }
                button.primary type="submit" { "Open chat" }
            }
            @if !recent.is_empty() {
                h2 { "Recent chats of " (choice.number.map(|n| n.phone.as_str()).unwrap_or("")) }
                ul { @for u in &recent { li { a href=(chat_url(choice.number.map(|n| n.phone.as_str()).unwrap_or(""), u)) { (u) } } } }
            }
            @if let (Some(n), Some(u), Some(chat)) = (choice.number, &choice.user, &chat) {
                section.phone aria-label={ "Chat of " (u) " with " (n.phone) } {
                    div.phone-bar {
                        span.avatar aria-hidden="true" { (u.get(u.len().saturating_sub(2)..).unwrap_or("")) }
                        div { strong { "+" (u) } small { "writing to +" (n.phone) @if !n.verified_name.is_empty() { " · " (n.verified_name) } } }
                    }
                    div #live data-src={ "/console/phone/chat?number=" (n.phone) "&user=" (u) } { (chat) }
                    @if may_write {
                        form.compose method="post" action="/console/phone" {
                            input type="hidden" name="csrf" value=(signed.session.csrf_token);
                            input type="hidden" name="number" value=(n.phone);
                            input type="hidden" name="user" value=(u);
                            label for="text" { span { "Type as the user" }
                                input type="text" id="text" name="text" maxlength=(TEXT_MAX) required autocomplete="off"
                                    value=(draft) autofocus[q.focus == "text"] placeholder="Message";
                            }
                            button.primary type="submit" { "Send" }
                        }
                    } @else if running {
                        p.muted.compose { "Only operators and admins can write as the user." }
                    }
                }
                script src=(*JS_PATH) defer {}
            }
        }
    };
    page(status, "Phone", Some(signed), body)
}

/// The users `number` wrote to or heard from lately, newest first.
async fn recent_users(
    state: &AppState,
    number: &Number,
) -> Result<Vec<String>, opencams_store::StoreError> {
    let rows = state
        .store
        .list_messages(MessageFilter {
            space_id: number.space_id.clone(),
            sender: Some(number.phone.clone()),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let mut users: Vec<String> = Vec::new();
    for r in rows {
        if users.len() >= 10 {
            break;
        }
        if !users.contains(&r.recipient) {
            users.push(r.recipient);
        }
    }
    Ok(users)
}

/// What `GET /console/phone/chat` answers and `#live` holds: the chat (oldest first, the latest
/// [`CHAT_LIMIT`]) and, when the user may write, the replies they can tap.
async fn chat_markup(
    state: &AppState,
    signed: &Signed,
    number: &Number,
    user: &str,
    may_write: bool,
) -> Result<Markup, opencams_store::StoreError> {
    let mut rows = state
        .store
        .list_messages(MessageFilter {
            space_id: number.space_id.clone(),
            sender: Some(number.phone.clone()),
            recipient: Some(user.to_string()),
            limit: CHAT_LIMIT,
            ..Default::default()
        })
        .await?;
    rows.reverse();
    let templates = templates_of(state, &rows).await?;
    let template_of = |m: &MessageRow| -> Option<&TemplateRow> {
        let key = (m.template_code.clone()?, m.language.clone()?);
        templates.get(&key)
    };
    let by_provider: HashMap<&str, &MessageRow> = rows
        .iter()
        .filter_map(|m| Some((m.provider_id.as_deref()?, m)))
        .collect();
    let quote = |m: &MessageRow| -> Option<String> {
        let replied = by_provider.get(m.context_id.as_deref()?)?;
        Some(bubble::summary(replied, template_of(replied)))
    };
    // the latest outbound message with something to tap, once it reached WhatsApp (a reply
    // names it by its wamid)
    let tappable = rows
        .iter()
        .rev()
        .filter(|m| m.direction == Direction::Out && m.provider_id.is_some())
        .find_map(|m| {
            let taps = taps(m, template_of(m));
            (!taps.is_empty()).then_some((m, taps))
        });
    let day = |m: &MessageRow| {
        opencams_protocol::time_fmt::format(m.created_at.div_euclid(1000))
            .get(..10)
            .unwrap_or("")
            .to_string()
    };
    Ok(html! {
        div #chat role="log" aria-live="polite" tabindex="0" aria-label={ "Messages between +" (user) " and +" (number.phone) } {
            div.stack {
                @if rows.is_empty() {
                    p.empty { "No messages yet. Send this user a template, or write as the user below." }
                }
                @for (i, m) in rows.iter().enumerate() {
                    @if i == 0 || rows.get(i - 1).map(day) != Some(day(m)) { div.day { (day(m)) } }
                    (bubble::chat_message(m, template_of(m), quote(m).as_deref()))
                }
            }
        }
        @if let (true, Some((m, taps))) = (may_write, &tappable) {
            section.replies aria-labelledby="replies-h" {
                h2 #replies-h { "Tap as the user" }
                form method="post" action="/console/phone" {
                    input type="hidden" name="csrf" value=(signed.session.csrf_token);
                    input type="hidden" name="number" value=(number.phone);
                    input type="hidden" name="user" value=(user);
                    input type="hidden" name="reply_to" value=(m.id);
                    @for (i, t) in taps.iter().enumerate() {
                        button.reply type="submit" name="reply" value=(i) data-key={ "reply-" (m.id) "-" (i) } title=[t.detail.as_deref()] {
                            (t.label)
                        }
                    }
                }
            }
        }
    })
}

/// The template versions the template messages of `rows` were sent with, by (code, language).
async fn templates_of(
    state: &AppState,
    rows: &[MessageRow],
) -> Result<HashMap<(String, String), TemplateRow>, opencams_store::StoreError> {
    let mut out = HashMap::new();
    for m in rows.iter().filter(|m| m.send_type == SendType::Template) {
        let (Some(code), Some(language)) = (&m.template_code, &m.language) else {
            continue;
        };
        let key = (code.clone(), language.clone());
        if out.contains_key(&key) {
            continue;
        }
        let versions = state.cache.templates_by_code(&m.space_id, code).await?;
        if let Some(v) = versions.iter().find(|v| v.row.language == *language) {
            out.insert(key, v.row.clone());
        }
    }
    Ok(out)
}

/// `GET /console/phone/chat?number=…&user=…`: the chat alone, for the page's script.
pub async fn chat(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<ChatQuery>,
) -> Response {
    let numbers = match account_numbers(&state, &signed).await {
        Ok(n) => n,
        Err(r) => return r,
    };
    let choice = choose(&numbers, &q.number, &q.user);
    let (number, user) = match (choice.problem, choice.number, choice.user) {
        (Some((status, why)), ..) => {
            return super::layout::fragment(status, html! { p.error { (why) } });
        }
        (None, Some(n), Some(u)) => (n, u),
        _ => {
            return super::layout::fragment(
                StatusCode::BAD_REQUEST,
                html! { p.error { "number, user: give the business number and the user's number" } },
            );
        }
    };
    let may_write = state.simulated_users.get().is_some() && signed.may(Access::Operate);
    match chat_markup(&state, &signed, number, &user, may_write).await {
        Ok(m) => super::layout::fragment(StatusCode::OK, m),
        Err(e) => unavailable("reading a chat", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(phone: &str, channel: &str) -> Number {
        Number {
            id: 1,
            account_id: 1,
            space_id: "cams-1".into(),
            phone: phone.into(),
            channel: channel.into(),
            status: "CONNECTED".into(),
            verified_name: String::new(),
            quality_rating: String::new(),
            messaging_limit_tier: String::new(),
            throughput_mps: 80,
            cloud: None,
            created_at: 0,
        }
    }

    #[test]
    fn a_chat_is_a_simulator_number_of_the_account_and_a_user() {
        let numbers = [
            number("8613600000000", "simulator"),
            number("8613700000000", "whatsapp-cloud"),
        ];
        let c = choose(&numbers, "", "+8613900000000");
        assert_eq!(c.number.map(|n| n.phone.as_str()), Some("8613600000000"));
        assert_eq!(c.user.as_deref(), Some("8613900000000"));
        assert!(c.problem.is_none());
        let c = choose(&numbers, "8613500000000", "");
        let (status, why) = c.problem.unwrap_or_default();
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            why.starts_with("number: \"8613500000000\" is not a business number"),
            "{why}"
        );
        let (status, why) = choose(&numbers, "8613700000000", "")
            .problem
            .unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            why.contains("is a whatsapp-cloud number") && why.contains("yours are 8613600000000"),
            "{why}"
        );
        let (status, why) = choose(&numbers, "8613600000000", "abc")
            .problem
            .unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            why.starts_with("user must be an international phone number"),
            "{why}"
        );
    }
}
