//! A template message's parts as WhatsApp draws them: the header (text, or a box standing in
//! for its media or location), a limited-time offer, the body (or an authentication template's
//! generated text), the footer, and under the bubble its buttons, each with a marker of its
//! kind, and its carousel cards.

use std::collections::BTreeMap;

use maud::{Markup, html};
use opencams_domain::template::{
    AUTH_CODE_KEY, Button, ButtonType, Component, ComponentType, HeaderFormat,
    OFFER_EXPIRATION_KEY, is_authentication,
};

use super::text::{fill, rich, with_vars};
use super::{Drawn, file_of, location, media_box};

/// The parts of a template message: header, offer, body and footer inside the bubble; buttons
/// and carousel cards under it. Meta fixes the order whatever the order of `components`.
pub(super) fn template_parts(components: &[Component], values: &BTreeMap<String, String>) -> Drawn {
    let auth = is_authentication(components);
    let of = |k: ComponentType| components.iter().filter(move |c| c.kind == k);
    let inside = html! {
        @for c in of(ComponentType::Header) { (header(c, values)) }
        @for c in of(ComponentType::LimitedTimeOffer) { (offer(c, values)) }
        @for c in of(ComponentType::Body) {
            div.text {
                @if auth {
                    (value_or_var(values, AUTH_CODE_KEY)) " is your verification code."
                    @if c.add_secret_recommendation == Some(true) { " For your security, do not share this code." }
                } @else { (rich(&fill(c.text_or_empty(), values))) }
            }
        }
        @for c in of(ComponentType::Footer) {
            @if auth {
                @if let Some(m) = c.code_expiration_minutes { div.footer { "This code expires in " (m) " minutes." } }
            } @else {
                @if let Some(t) = &c.text { div.footer { (with_vars(&fill(t, values))) } }
            }
        }
    };
    let under = html! {
        @for c in of(ComponentType::Buttons) { (buttons(&c.buttons, values)) }
        @for c in of(ComponentType::Carousel) {
            div.carousel role="group" aria-label="Carousel cards" {
                @for (i, card) in c.cards.iter().enumerate() {
                    div.ccard aria-label={ "Card " (i + 1) } {
                        @for cc in card.components.iter().filter(|cc| cc.kind == ComponentType::Header) { (header(cc, values)) }
                        @for cc in card.components.iter().filter(|cc| cc.kind == ComponentType::Body) {
                            div.text { (rich(&fill(cc.text_or_empty(), values))) }
                        }
                        @for cc in card.components.iter().filter(|cc| cc.kind == ComponentType::Buttons) { (buttons(&cc.buttons, values)) }
                    }
                }
            }
        }
    };
    Drawn {
        inside,
        under,
        class: "",
    }
}

/// A value given for `name`, else `{{name}}` marked as unfilled.
fn value_or_var(values: &BTreeMap<String, String>, name: &str) -> Markup {
    match values.get(name).filter(|v| !v.trim().is_empty()) {
        Some(v) => html! { (v) },
        None => html! { span.var { "{{" (name) "}}" } },
    }
}

fn header(c: &Component, values: &BTreeMap<String, String>) -> Markup {
    let given = |key: &str, stored: &Option<String>| {
        values
            .get(key)
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .or_else(|| stored.clone())
            .unwrap_or_default()
    };
    let file = c.url.as_deref().map(file_of).filter(|f| !f.is_empty());
    match c.format.unwrap_or(HeaderFormat::Text) {
        HeaderFormat::Text => {
            html! { div.header-text { (with_vars(&fill(c.text_or_empty(), values))) } }
        }
        HeaderFormat::Image => media_box("image", "🖼", "Image", file),
        HeaderFormat::Video => media_box("video", "▶", "Video", file),
        HeaderFormat::Document => media_box(
            "document",
            "📄",
            "Document",
            c.file_name.as_deref().filter(|f| !f.is_empty()).or(file),
        ),
        HeaderFormat::Location => location(
            &given("locationName", &c.location_name),
            &given("locationAddress", &c.location_address),
            &given("latitude", &c.latitude),
            &given("longitude", &c.longitude),
        ),
    }
}

fn offer(c: &Component, values: &BTreeMap<String, String>) -> Markup {
    let ends = values
        .get(OFFER_EXPIRATION_KEY)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|ms| opencams_protocol::time_fmt::format(ms.div_euclid(1000)));
    html! {
        div.lto {
            span.ico aria-hidden="true" { "🏷" } " "
            strong { (with_vars(&fill(c.text_or_empty(), values))) }
            @if c.has_expiration == Some(true) {
                small { "Offer ends " @match &ends { Some(t) => (t.replace('T', " ").replace('Z', " UTC")), None => span.var { "{{" (OFFER_EXPIRATION_KEY) "}}" } } }
            }
        }
    }
}

/// Template buttons as WhatsApp lists them under the bubble, each with a marker of its kind.
fn buttons(list: &[Button], values: &BTreeMap<String, String>) -> Markup {
    html! {
        @if !list.is_empty() {
            ul.buttons {
                @for b in list {
                    @let (icon, fallback) = button_face(b.kind);
                    @let label = b.text.as_deref().filter(|t| !t.is_empty()).unwrap_or(fallback);
                    @let target = match b.kind {
                        ButtonType::Url => b.url.as_deref().map(|u| fill(u, values)),
                        ButtonType::PhoneNumber => b.phone_number.clone(),
                        ButtonType::CopyCode => b.coupon_code.as_deref().map(|c| coupon(c, values)),
                        _ => None,
                    };
                    li data-type=(b.kind.as_str()) title=[target] {
                        span.ico aria-hidden="true" { (icon) } " " (label)
                    }
                }
            }
        }
    }
}

/// A coupon code, or the value of its `$(name)` variable.
fn coupon(code: &str, values: &BTreeMap<String, String>) -> String {
    match opencams_domain::template::coupon_var(code) {
        Some(var) => values.get(var).cloned().unwrap_or_else(|| code.to_string()),
        None => code.to_string(),
    }
}

/// A button kind's marker and the label WhatsApp shows when the template gives none.
fn button_face(kind: ButtonType) -> (&'static str, &'static str) {
    match kind {
        ButtonType::QuickReply => ("↩", "Reply"),
        ButtonType::Url => ("↗", "Visit website"),
        ButtonType::PhoneNumber => ("📞", "Call"),
        ButtonType::CopyCode => ("⧉", "Copy code"),
        ButtonType::OneTap => ("⧉", "Autofill"),
        ButtonType::ZeroTap => ("⧉", "Autofill"),
        ButtonType::Flow => ("☰", "Open"),
        ButtonType::Catalog => ("🛍", "View catalog"),
        ButtonType::Mpm => ("🛍", "View items"),
    }
}
