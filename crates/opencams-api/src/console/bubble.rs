//! Messages drawn as WhatsApp draws them, on the server: a template with its header, body,
//! footer, buttons and carousel cards ([`template`], also the template builder's live preview),
//! and a stored message of either direction as a chat bubble with its time and, outbound, its
//! status as ticks ([`message`]). Text gets WhatsApp's formatting (`*bold*`, `_italic_`,
//! `~strike~`, ` ```mono``` `) as maud elements around escaped text: nothing a user or a
//! template wrote is ever written out unescaped. Reading a stored body never fails: what cannot
//! be read is drawn as what it is (its type) rather than refused.

mod template;
mod text;

use std::collections::BTreeMap;

use maud::{Markup, html};
use opencams_domain::template::{Component, parse_components, render_text};
use opencams_domain::{Direction, MessageStatus, SendType};
use opencams_store::{MessageRow, TemplateRow};
use serde_json::Value;
use template::template_parts;
use text::rich;

/// A template message as WhatsApp shows it, the variables filled from `values` (unfilled or
/// empty ones shown as their `{{name}}`), on a chat background.
pub fn template(components: &[Component], values: &BTreeMap<String, String>) -> Markup {
    let drawn = template_parts(components, values);
    html! {
        div.wa-preview {
            div.msg.out {
                div.bubble.out.tpl { (drawn.inside) }
                (drawn.under)
            }
        }
    }
}

/// A stored message (either direction) as a chat bubble; `template` is the version a template
/// message was sent with (without it, the template's name is drawn).
pub fn message(row: &MessageRow, template: Option<&TemplateRow>) -> Markup {
    chat_message(row, template, None)
}

/// [`message`] with `quoted`, the one-line summary of the message it replies to.
pub(super) fn chat_message(
    row: &MessageRow,
    template: Option<&TemplateRow>,
    quoted: Option<&str>,
) -> Markup {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    let out = row.direction == Direction::Out;
    let drawn = if out {
        outbound(row, &body, template)
    } else {
        inbound(&body)
    };
    let dir = if out { "out" } else { "in" };
    let error = [row.error_code.as_deref(), row.error_description.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let bubble_class = if drawn.class.is_empty() {
        format!("bubble {dir}")
    } else {
        format!("bubble {dir} {}", drawn.class)
    };
    html! {
        div class={ "msg " (dir) } id={ "m-" (row.id) } data-id=(row.id) {
            div class=(bubble_class) {
                @if let Some(q) = quoted { div.quote { (q) } }
                (drawn.inside)
                div.meta {
                    (clock(row.created_at))
                    @if out { (ticks(row.status)) }
                }
            }
            (drawn.under)
            @if out && row.status.undeliverable() {
                p.err {
                    @if error.is_empty() { (row.status.description()) } @else { (error) }
                }
            }
        }
    }
}

/// A message in one line, for the quote of a reply to it.
pub(super) fn summary(row: &MessageRow, template: Option<&TemplateRow>) -> String {
    let body: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
    let text = if row.send_type == SendType::Template && row.direction == Direction::Out {
        let params = template_params(&body);
        template
            .and_then(|t| parse_components(&t.components).ok())
            .map(|c| render_text(&c, &params))
            .unwrap_or_else(|| format!("Template {}", row.template_name.as_deref().unwrap_or("")))
    } else {
        let (kind, obj) = match body.get("inbound") {
            Some(m) => {
                let kind = s(m, "type");
                (kind, &m[kind])
            }
            None => (s(&body["content"], "type"), &body["content"]["cloud"]),
        };
        let text = [
            s(obj, "body"),
            s(obj, "caption"),
            s(obj, "text"),
            s(&obj["body"], "text"),
            s(&obj["button_reply"], "title"),
            s(&obj["list_reply"], "title"),
            s(obj, "emoji"),
        ]
        .into_iter()
        .find(|t| !t.is_empty())
        .map(str::to_string);
        text.unwrap_or_else(|| {
            if kind.is_empty() {
                row.message_type.clone()
            } else {
                kind.to_string()
            }
        })
    };
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut short: String = line.chars().take(80).collect();
    if line.chars().count() > 80 {
        short.push('…');
    }
    short
}

/// What a message draws: inside its bubble, under it (buttons, a list, carousel cards), and a
/// class for its bubble.
struct Drawn {
    inside: Markup,
    under: Markup,
    class: &'static str,
}

impl Drawn {
    fn inside(inside: Markup) -> Drawn {
        Drawn {
            inside,
            under: html! {},
            class: "",
        }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn template_params(body: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(body["templateParams"].clone()).unwrap_or_default()
}

fn outbound(row: &MessageRow, body: &Value, template: Option<&TemplateRow>) -> Drawn {
    if row.send_type == SendType::Template {
        let params = template_params(body);
        return match template.and_then(|t| parse_components(&t.components).ok()) {
            Some(components) => {
                let mut d = template_parts(&components, &params);
                d.class = "tpl";
                d
            }
            None => Drawn::inside(html! {
                div.text.muted {
                    "Template " code { (row.template_name.as_deref().or(row.template_code.as_deref()).unwrap_or("?")) }
                    @if let Some(l) = &row.language { " (" (l) ")" }
                    @for (k, v) in &params { br; code { (k) } " = " (v) }
                }
            }),
        };
    }
    let content = &body["content"];
    let kind = content
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(&row.message_type);
    let obj = &content["cloud"];
    match kind {
        "interactive" => interactive(obj),
        "contacts" => Drawn::inside(contacts(obj)),
        _ => common(kind, obj),
    }
}

fn inbound(body: &Value) -> Drawn {
    let m = &body["inbound"];
    let kind = s(m, "type");
    let obj = &m[kind];
    match kind {
        "button" => Drawn::inside(html! {
            div.text { (s(obj, "text")) }
            div.payload { "payload " code { (s(obj, "payload")) } }
        }),
        "interactive" => {
            let reply_kind = s(obj, "type");
            let reply = &obj[reply_kind];
            let title = match reply_kind {
                "nfm_reply" => s(reply, "body"),
                _ => s(reply, "title"),
            };
            Drawn::inside(html! {
                div.text { (title) }
                @if !s(reply, "description").is_empty() { div.footer { (s(reply, "description")) } }
                div.payload {
                    (reply_kind) " "
                    @if reply_kind == "nfm_reply" { code { (s(reply, "response_json")) } } @else { code { (s(reply, "id")) } }
                }
            })
        }
        "contacts" => Drawn::inside(contacts(&m["contacts"])),
        "order" => {
            let items = obj["product_items"].as_array().map_or(0, Vec::len);
            Drawn::inside(html! {
                (media_box("order", "🛒", "Order", Some(&format!("{items} item(s)"))))
                @if !s(obj, "text").is_empty() { div.text { (rich(s(obj, "text"))) } }
            })
        }
        "system" => notice(html! { (s(obj, "body")) }),
        "request_welcome" => notice(html! { "The user opened the chat for the first time." }),
        "unsupported" | "unknown" => {
            let why = m["errors"][0]["title"]
                .as_str()
                .or(m["errors"][0]["message"].as_str())
                .unwrap_or("");
            notice(
                html! { "A message WhatsApp does not support" @if !why.is_empty() { ": " (why) } },
            )
        }
        _ => common(kind, obj),
    }
}

fn notice(inside: Markup) -> Drawn {
    Drawn {
        inside,
        under: html! {},
        class: "notice",
    }
}

/// The types both directions share (outbound `cloud` and inbound objects use the same keys).
fn common(kind: &str, obj: &Value) -> Drawn {
    let caption = s(obj, "caption");
    let media = |label: &str, icon: &str, detail: &str| {
        html! {
            (media_box(kind, icon, label, (!detail.is_empty()).then_some(detail)))
            @if !caption.is_empty() { div.text { (rich(caption)) } }
        }
    };
    let file = file_of(s(obj, "link"));
    let detail = if file.is_empty() {
        s(obj, "mime_type")
    } else {
        file
    };
    match kind {
        "text" => Drawn::inside(html! { div.text { (rich(s(obj, "body"))) } }),
        "image" => Drawn::inside(media("Photo", "🖼", detail)),
        "video" => Drawn::inside(media("Video", "▶", detail)),
        "audio" => Drawn::inside(media("Audio", "🎤", detail)),
        "sticker" => Drawn::inside(media("Sticker", "🙂", detail)),
        "document" => {
            let name = s(obj, "filename");
            Drawn::inside(media(
                "Document",
                "📄",
                if name.is_empty() { detail } else { name },
            ))
        }
        "location" => Drawn::inside(location(
            s(obj, "name"),
            s(obj, "address"),
            &number_text(&obj["latitude"]),
            &number_text(&obj["longitude"]),
        )),
        "reaction" => {
            let emoji = s(obj, "emoji");
            Drawn {
                inside: html! {
                    @if emoji.is_empty() { span.muted { "removed a reaction" } }
                    @else { span.emoji { (emoji) } " " span.muted { "reaction" } }
                },
                under: html! {},
                class: "reaction",
            }
        }
        _ => Drawn::inside(html! { div.text.muted { "A " (kind) " message" } }),
    }
}

fn number_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The last path segment of a URL (without its query), to name a media file.
fn file_of(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or("");
    path.rsplit('/').next().unwrap_or("")
}

/// A grey box standing in for media (nothing is fetched).
fn media_box(kind: &str, icon: &str, label: &str, detail: Option<&str>) -> Markup {
    html! {
        div class={ "media " (kind) } {
            span.ico aria-hidden="true" { (icon) }
            span { (label) @if let Some(d) = detail { small { (d) } } }
        }
    }
}

fn location(name: &str, address: &str, lat: &str, lon: &str) -> Markup {
    let place = if name.is_empty() { "Location" } else { name };
    html! {
        div.media.location {
            span.ico aria-hidden="true" { "📍" }
            span {
                (place)
                @if !address.is_empty() { small { (address) } }
                @if !lat.is_empty() || !lon.is_empty() { small { (lat) ", " (lon) } }
            }
        }
    }
}

fn contacts(list: &Value) -> Markup {
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    html! {
        @for c in list {
            @let phones: Vec<&str> = c["phones"].as_array().map(|p| p.iter().map(|p| s(p, "phone")).filter(|p| !p.is_empty()).collect()).unwrap_or_default();
            div.media.contact {
                span.ico aria-hidden="true" { "👤" }
                span { (s(&c["name"], "formatted_name")) @if !phones.is_empty() { small { (phones.join(", ")) } } }
            }
        }
    }
}

/// An interactive message (reply buttons, list, call to action, flow, products, location
/// request), its action drawn under the bubble.
fn interactive(obj: &Value) -> Drawn {
    let kind = s(obj, "type");
    let header = &obj["header"];
    let action = &obj["action"];
    let header_kind = s(header, "type");
    let inside = html! {
        @match header_kind {
            "" => {},
            "text" => div.header-text { (s(header, "text")) },
            "image" => (media_box("image", "🖼", "Photo", None)),
            "video" => (media_box("video", "▶", "Video", None)),
            "document" => (media_box("document", "📄", "Document", Some(s(&header["document"], "filename")).filter(|f| !f.is_empty()))),
            other => div.header-text { (other) },
        }
        @if !s(&obj["body"], "text").is_empty() { div.text { (rich(s(&obj["body"], "text"))) } }
        @if kind == "product" { (media_box("product", "🛍", "Product", Some(s(action, "product_retailer_id")))) }
        @if !s(&obj["footer"], "text").is_empty() { div.footer { (s(&obj["footer"], "text")) } }
    };
    let params = &action["parameters"];
    let one = |icon: &str, label: &str, kind: &str| {
        html! { ul.buttons { li data-type=(kind) { span.ico aria-hidden="true" { (icon) } " " (label) } } }
    };
    let under = match kind {
        "button" => {
            let empty = Vec::new();
            let buttons = action["buttons"].as_array().unwrap_or(&empty);
            html! { ul.buttons { @for b in buttons {
                li data-type="reply" { span.ico aria-hidden="true" { "↩" } " " (s(&b["reply"], "title")) }
            } } }
        }
        "list" => {
            let empty = Vec::new();
            let sections = action["sections"].as_array().unwrap_or(&empty);
            html! {
                details.list {
                    summary { span.ico aria-hidden="true" { "☰" } " " (s(action, "button")) }
                    @for section in sections {
                        @if !s(section, "title").is_empty() { div.section { (s(section, "title")) } }
                        ul { @for row in section["rows"].as_array().unwrap_or(&empty) {
                            li { (s(row, "title")) @if !s(row, "description").is_empty() { small { (s(row, "description")) } } }
                        } }
                    }
                }
            }
        }
        "cta_url" => one("↗", s(params, "display_text"), "url"),
        "flow" => one("☰", s(params, "flow_cta"), "flow"),
        "catalog_message" => one("🛍", "View catalog", "catalog"),
        "product" | "product_list" => one("🛍", "View items", "product"),
        "location_request_message" => one("📍", "Send location", "location"),
        _ => html! {},
    };
    Drawn {
        inside,
        under,
        class: "",
    }
}

/// A message's time, `HH:MM` UTC, with the full time for machines and on hover.
fn clock(ms: i64) -> Markup {
    let secs = ms.div_euclid(1000);
    let of_day = secs.rem_euclid(86_400);
    let iso = opencams_protocol::time_fmt::format(secs);
    html! {
        time datetime=(iso) title={ (iso.replace('T', " ").replace('Z', "")) " UTC" } {
            (format!("{:02}:{:02}", of_day / 3600, of_day % 3600 / 60))
        }
    }
}

/// An outbound message's status as WhatsApp's ticks (a clock before it is sent; a red mark
/// when it failed or expired).
fn ticks(status: MessageStatus) -> Markup {
    let glyph = match status {
        MessageStatus::Accepted => "◷",
        MessageStatus::Sent => "✓",
        MessageStatus::Delivered | MessageStatus::Read => "✓✓",
        MessageStatus::Failed | MessageStatus::Expired => "!",
        MessageStatus::Received => "",
    };
    html! {
        span.tick data-status=(status.as_str()) title=(status.description()) {
            span aria-hidden="true" { (glyph) }
            span.visually-hidden { (status.description()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use opencams_domain::template::parse_components;
    use serde_json::json;

    use super::*;

    #[test]
    fn template_text_and_values_are_escaped_and_never_markup() {
        // a value filled into a template is escaped, and formatted like the text around it
        let components = parse_components(
            r#"[{"Type":"HEADER","Format":"TEXT","Text":"For {{who}}"},
                {"Type":"BODY","Text":"Hi {{name}}, *{{order}}* ships {{when}}."},
                {"Type":"FOOTER","Text":"<footer>"},
                {"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"<Track>"},
                  {"Type":"URL","Text":"Open","Url":"https://x.example/o/{{id}}"}]}]"#,
        )
        .unwrap_or_default();
        let values = BTreeMap::from([
            (
                "name".to_string(),
                "<img src=x onerror=alert(1)>".to_string(),
            ),
            ("order".to_string(), "A-1".to_string()),
            ("who".to_string(), "\"you\"".to_string()),
            ("when".to_string(), " ".to_string()),
            ("id".to_string(), "7\"><x".to_string()),
        ]);
        let out = template(&components, &values).into_string();
        assert!(out.contains("Hi &lt;img src=x onerror=alert(1)&gt;, <strong>A-1</strong> ships <span class=\"var\">{{when}}</span>."), "{out}");
        assert!(out.contains("For &quot;you&quot;"), "{out}");
        assert!(out.contains("&lt;footer&gt;"), "{out}");
        assert!(out.contains("&lt;Track&gt;"), "{out}");
        assert!(
            out.contains(r#"title="https://x.example/o/7&quot;&gt;&lt;x""#),
            "{out}"
        );
        assert!(!out.contains("<img") && !out.contains("<x"), "{out}");
    }

    #[test]
    fn templates_draw_header_media_footer_buttons_and_cards() {
        let components = parse_components(
            r#"[{"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"Yes"},{"Type":"PHONE_NUMBER","Text":"Call us","PhoneNumber":"8613800000000"},{"Type":"COPY_CODE","CouponCode":"$(coupon)"}]},
                {"Type":"FOOTER","Text":"Reply STOP to opt out"},
                {"Type":"BODY","Text":"Your code {{coupon}}"},
                {"Type":"HEADER","Format":"DOCUMENT","Url":"https://x.example/files/invoice.pdf"}]"#,
        )
        .unwrap_or_default();
        let out = template(&components, &BTreeMap::new()).into_string();
        // Meta's order whatever the template's
        let at = |needle: &str| out.find(needle).unwrap_or(usize::MAX);
        assert!(at("invoice.pdf") < at("Your code") && at("Your code") < at("Reply STOP"));
        assert!(at("Reply STOP") < at("ul class=\"buttons\""), "{out}");
        assert!(
            out.contains(r#"<span class="var">{{coupon}}</span>"#),
            "{out}"
        );
        assert!(out.contains(r#"data-type="QUICK_REPLY""#) && out.contains("↩"));
        assert!(out.contains(r#"title="8613800000000""#) && out.contains("Call us"));
        assert!(out.contains("Copy code"), "{out}");
        let carousel = parse_components(
            r#"[{"Type":"BODY","Text":"Pick one"},{"Type":"CAROUSEL","Cards":[
                {"CardComponents":[{"Type":"HEADER","Format":"IMAGE","Url":"https://x.example/a.png"},{"Type":"BODY","Text":"Card {{n}}"},{"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"Buy"}]}]},
                {"CardComponents":[{"Type":"HEADER","Format":"IMAGE","Url":"https://x.example/b.png"},{"Type":"BODY","Text":"Other"},{"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"Buy"}]}]}]}]"#,
        )
        .unwrap_or_default();
        assert_eq!(carousel.len(), 2, "the carousel parses");
        let values = BTreeMap::from([("n".to_string(), "1".to_string())]);
        let out = template(&carousel, &values).into_string();
        assert_eq!(out.matches("class=\"ccard\"").count(), 2, "{out}");
        assert!(out.contains("Card 1") && out.contains("a.png"), "{out}");
    }

    fn row(direction: Direction, status: MessageStatus, body: Value) -> MessageRow {
        MessageRow {
            id: "m1".into(),
            direction,
            status,
            body: body.to_string(),
            created_at: 1_796_308_245_000, // 2026-12-03T14:30:45Z
            ..Default::default()
        }
    }

    #[test]
    fn stored_messages_are_bubbles_with_time_and_ticks() {
        let text = |st| {
            row(
                Direction::Out,
                st,
                json!({"content": {"type": "text", "cloud": {"body": "Hi *there*"}}}),
            )
        };
        let out = message(&text(MessageStatus::Read), None).into_string();
        assert!(
            out.starts_with(
                r#"<div class="msg out" id="m-m1" data-id="m1"><div class="bubble out">"#
            ),
            "{out}"
        );
        assert!(out.contains("Hi <strong>there</strong>"), "{out}");
        assert!(
            out.contains(r#"<time datetime="2026-12-03T14:30:45Z""#)
                && out.contains(">14:30</time>"),
            "{out}"
        );
        assert!(out.contains(r#"data-status="read""#), "{out}");
        let mut failed = text(MessageStatus::Failed);
        failed.error_code = Some("131026".into());
        failed.error_description = Some("Message undeliverable".into());
        let out = message(&failed, None).into_string();
        assert!(out.contains(r#"data-status="failed""#), "{out}");
        assert!(
            out.contains(r#"<p class="err">131026: Message undeliverable</p>"#),
            "{out}"
        );

        let inbound = row(
            Direction::In,
            MessageStatus::Received,
            json!({"inbound": {"from": "8613900000000", "id": "wamid.X", "type": "interactive",
                   "interactive": {"type": "list_reply", "list_reply": {"id": "exp", "title": "Express", "description": "Next day"}}}}),
        );
        let out = chat_message(&inbound, None, Some("Choose a speed")).into_string();
        assert!(out.starts_with(r#"<div class="msg in""#), "{out}");
        assert!(!out.contains("data-status"), "inbound has no ticks: {out}");
        assert!(
            out.contains(r#"<div class="quote">Choose a speed</div>"#),
            "{out}"
        );
        assert!(
            out.contains("Express") && out.contains("<code>exp</code>"),
            "{out}"
        );

        let list = row(
            Direction::Out,
            MessageStatus::Accepted,
            json!({"content": {"type": "interactive", "cloud": {"type": "list", "body": {"text": "Choose"},
                   "action": {"button": "Options", "sections": [{"title": "Fast", "rows": [{"id": "exp", "title": "Express"}]}]}}}}),
        );
        let out = message(&list, None).into_string();
        assert!(out.contains(r#"data-status="accepted""#), "{out}");
        assert!(
            out.contains("<summary>") && out.contains("Options") && out.contains("Express"),
            "{out}"
        );
    }

    #[test]
    fn template_messages_use_the_version_they_were_sent_with() {
        let mut m = row(
            Direction::Out,
            MessageStatus::Delivered,
            json!({"templateParams": {"name": "Ada"}, "payload": ["track-1"]}),
        );
        m.send_type = SendType::Template;
        m.template_name = Some("order_update".into());
        let t = TemplateRow {
            id: 1,
            account_id: 1,
            space_id: "s".into(),
            code: "c".into(),
            name: "order_update".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            template_type: "WHATSAPP".into(),
            components: r#"[{"Type":"BODY","Text":"Hi {{name}}"},{"Type":"BUTTONS","Buttons":[{"Type":"QUICK_REPLY","Text":"Track"}]}]"#.into(),
            example: "{}".into(),
            audit_status: opencams_domain::template::AuditStatus::Pass,
            reason: String::new(),
            quality_score: String::new(),
            message_send_ttl: None,
            category_change_paused: false,
            product_set_id: None,
            provider_id: None,
            review_due_at: None,
            created_at: 0,
            updated_at: 0,
        };
        let out = message(&m, Some(&t)).into_string();
        assert!(
            out.contains(r#"class="bubble out tpl""#) && out.contains("Hi Ada"),
            "{out}"
        );
        assert!(
            out.contains("Track") && out.contains(r#"data-status="delivered""#),
            "{out}"
        );
        assert_eq!(summary(&m, Some(&t)), "Hi Ada");
        let out = message(&m, None).into_string();
        assert!(out.contains("<code>order_update</code>"), "{out}");
    }
}
