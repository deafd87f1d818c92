//! Send: a template message (pick the number and an approved template, then fill its variables)
//! or a free-form text inside the user's 24-hour window, sent by running SendChatappMessage
//! itself ([`crate::rpc::call`]): the same checks, limits and errors as the API. The answer
//! links to the message's page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use opencams_domain::template::{self, AuditStatus};
use opencams_protocol::Params;
use opencams_store::{Number, NumberFilter, Space, TemplateFilter, TemplateRow};
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::session::{Access, Signed};
use super::templates::status_of;
use crate::AppState;

/// The prefix of a template variable's form field.
const VAR: &str = "var.";

#[derive(Deserialize, Default, Clone)]
pub struct Choice {
    #[serde(default)]
    space: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    to: String,
    /// `code:language`, from the template list.
    #[serde(default)]
    pick: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    language: String,
}

impl Choice {
    /// The template (code, language) chosen, by `pick` or by `template` and `language`.
    fn template(&self) -> Option<(String, String)> {
        if let Some((c, l)) = self.pick.split_once(':') {
            return Some((c.trim().to_string(), l.trim().to_string()));
        }
        let (c, l) = (self.template.trim(), self.language.trim());
        (!c.is_empty() && !l.is_empty()).then(|| (c.to_string(), l.to_string()))
    }
}

/// What the page shows, read once.
struct Context {
    space: Space,
    spaces: Vec<Space>,
    numbers: Vec<Number>,
    approved: Vec<TemplateRow>,
}

async fn context(state: &AppState, signed: &Signed, space: &str) -> Result<Context, Response> {
    let account = signed.account.id;
    let (space, spaces) = signed.space(state, space).await?;
    let (numbers, approved) = tokio::join!(
        state.store.list_numbers(NumberFilter {
            account_id: Some(account),
            space_id: Some(space.id.clone()),
            ..Default::default()
        }),
        state.store.list_templates(TemplateFilter {
            space_id: space.id.clone(),
            audit_status: Some(AuditStatus::Pass),
            limit: 500,
            ..Default::default()
        })
    );
    let numbers = numbers.map_err(|e| unavailable("send", &e))?;
    let (_, approved) = approved.map_err(|e| unavailable("send", &e))?;
    Ok(Context {
        space,
        spaces,
        numbers,
        approved,
    })
}

/// `GET /console/send`: step one (number, template, recipient) or, with a template chosen,
/// step two (its variables).
pub async fn form(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(choice): Query<Choice>,
) -> Response {
    let cx = match context(&state, &signed, &choice.space).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    render(
        &signed,
        &cx,
        &choice,
        &BTreeMap::new(),
        StatusCode::OK,
        None,
    )
}

fn render(
    signed: &Signed,
    cx: &Context,
    choice: &Choice,
    typed: &BTreeMap<String, String>,
    status: StatusCode,
    outcome: Option<Markup>,
) -> Response {
    let operate = signed.may(Access::Operate);
    let chosen = choice.template().and_then(|(code, language)| {
        cx.approved
            .iter()
            .find(|t| t.code == code && t.language == language)
    });
    let missing_choice = choice.template().is_some() && chosen.is_none();
    let number_select = |id: &str| {
        html! {
            label for=(id) { "From (business number)"
                select id=(id) name="number" required {
                    @for n in &cx.numbers {
                        option value=(n.phone) selected[n.phone == choice.number] { (n.phone) " · " (n.channel) }
                    }
                }
            }
        }
    };
    let to_field = |id: &str| {
        html! {
            label for=(id) { "To (the user's number, with country code)"
                input type="text" id=(id) name="to" value=(choice.to) placeholder="8613900000000" inputmode="tel" required;
            }
        }
    };
    let csrf = &signed.session.csrf_token;
    let body = html! {
        h1 { "Send" }
        @if let Some(o) = &outcome { (o) }
        @if !operate { p.muted { "Your role reads only; an operator or admin sends." } }
        @if cx.numbers.is_empty() {
            p { "Space " code { (cx.space.id) } " has no business number yet: add one on the " a href="/console/numbers" { "Numbers" } " page." }
        }
        h2 id="template-h" { "Template message" }
        @if missing_choice {
            p.error role="alert" { "template: the chosen template is not an approved template of space " (cx.space.id) "; pick one from the list." }
        }
        @match chosen {
            None => {
                form.stacked method="get" action="/console/send" aria-labelledby="template-h" {
                    @if cx.spaces.len() > 1 {
                        label { "Space" select name="space" { @for s in &cx.spaces { option value=(s.id) selected[s.id == cx.space.id] { (s.id) } } } }
                    } @else { input type="hidden" name="space" value=(cx.space.id); }
                    (number_select("t-number"))
                    label for="t-pick" { "Template (approved ones)"
                        select id="t-pick" name="pick" required {
                            @for t in &cx.approved {
                                option value={ (t.code) ":" (t.language) } { (t.name) " · " (t.language) }
                            }
                        }
                    }
                    (to_field("t-to"))
                    button type="submit" { "Next: fill in the variables" }
                }
                @if cx.approved.is_empty() {
                    p.muted { "No approved template yet: " a href="/console/templates/new" { "build one" } "." }
                }
            }
            Some(t) => { (variables_form(cx, choice, t, typed, csrf, operate, number_select("v-number"))) }
        }
        h2 id="text-h" { "Free-form text (inside the 24-hour window)" }
        p.muted { "WhatsApp takes a free-form message only within 24 hours of the user's last message to the number." }
        form.stacked method="post" action="/console/send" aria-labelledby="text-h" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="space" value=(cx.space.id);
            input type="hidden" name="kind" value="text";
            (number_select("x-number"))
            (to_field("x-to"))
            label for="x-text" { "Text"
                textarea id="x-text" name="text" rows="3" required { (typed.get("text").map_or("", String::as_str)) }
            }
            @if operate { button.primary type="submit" { "Send text" } }
        }
    };
    page(status, "Send", Some(signed), body)
}

fn variables_form(
    cx: &Context,
    choice: &Choice,
    t: &TemplateRow,
    typed: &BTreeMap<String, String>,
    csrf: &str,
    operate: bool,
    number_select: Markup,
) -> Markup {
    let components = template::parse_components(&t.components).unwrap_or_default();
    let example = template::parse_example(&t.example).unwrap_or_default();
    let vars = template::variables(&components).required();
    html! {
        p { "Template " strong { (t.name) } " (" (t.language) "). "
            a href={ "/console/send?space=" (cx.space.id) } { "Choose another" } }
        form.stacked method="post" action="/console/send" aria-labelledby="template-h" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="space" value=(cx.space.id);
            input type="hidden" name="kind" value="template";
            input type="hidden" name="template" value=(t.code);
            input type="hidden" name="language" value=(t.language);
            (number_select)
            label for="v-to" { "To (the user's number, with country code)"
                input type="text" id="v-to" name="to" value=(choice.to) placeholder="8613900000000" inputmode="tel" required;
            }
            @for (i, (name, used)) in vars.iter().enumerate() {
                @let field = format!("{VAR}{name}");
                label for={ "v-" (i) } { code { "{{" (name) "}}" } " (" (used) ")"
                    input type="text" id={ "v-" (i) } name=(field) value=(typed.get(&field).map_or("", String::as_str)) placeholder=(example.get(name).map_or("", String::as_str));
                }
            }
            @if vars.is_empty() { p.muted { "This template has no variables." } }
            @if operate { button.primary type="submit" { "Send template" } }
        }
    }
}

/// `POST /console/send` (operators): SendChatappMessage with the form.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Form(fields): Form<BTreeMap<String, String>>,
) -> Response {
    let field = |k: &str| fields.get(k).map_or("", |v| v.trim());
    if let Some(refused) = signed.refusal(field("csrf"), Access::Operate) {
        return refused;
    }
    let choice = Choice {
        space: field("space").into(),
        number: field("number").into(),
        to: field("to").into(),
        template: field("template").into(),
        language: field("language").into(),
        ..Default::default()
    };
    let cx = match context(&state, &signed, &choice.space).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut params = BTreeMap::from([
        ("ChannelType".to_string(), "whatsapp".to_string()),
        ("CustSpaceId".to_string(), cx.space.id.clone()),
        ("From".to_string(), choice.number.clone()),
        ("To".to_string(), choice.to.clone()),
    ]);
    match field("kind") {
        "template" => {
            let values: BTreeMap<&str, &str> = fields
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(VAR)?, v.as_str())))
                .collect();
            params.insert("Type".into(), "template".into());
            params.insert("TemplateCode".into(), choice.template.clone());
            params.insert("Language".into(), choice.language.clone());
            params.insert(
                "TemplateParams".into(),
                serde_json::to_string(&values).unwrap_or_else(|_| "{}".into()),
            );
        }
        "text" => {
            params.insert("Type".into(), "message".into());
            params.insert("MessageType".into(), "text".into());
            params.insert(
                "Content".into(),
                serde_json::json!({ "text": fields.get("text").map_or("", String::as_str) })
                    .to_string(),
            );
        }
        other => {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!("kind: {other:?} is not a kind of send; use template or text"),
            );
        }
    }
    // the recipient is kept in the form, whatever the outcome
    let again = Choice {
        template: String::new(),
        language: String::new(),
        ..choice.clone()
    };
    let principal = match signed.principal(&state).await {
        Ok(p) => p,
        Err(e) => return unavailable("send", &e),
    };
    let answer = crate::rpc::call(
        &state,
        principal,
        "SendChatappMessage",
        &Params::from_map(params),
    )
    .await;
    match answer {
        Ok(out) => {
            let id = out
                .get("MessageId")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            let outcome = html! {
                p role="status" id="sent" {
                    "Accepted: message " a href={ "/console/messages/" (id) } { code { (id) } }
                    " — follow it on its page."
                }
            };
            render(
                &signed,
                &cx,
                &again,
                &BTreeMap::new(),
                StatusCode::OK,
                Some(outcome),
            )
        }
        Err(e) => {
            let outcome = html! {
                p.error role="alert" { (e.code.as_str()) ": " (e.message) }
            };
            // a failed template send shows its variables again, as typed
            let keep = if field("kind") == "template" {
                choice
            } else {
                again
            };
            render(&signed, &cx, &keep, &fields, status_of(&e), Some(outcome))
        }
    }
}
