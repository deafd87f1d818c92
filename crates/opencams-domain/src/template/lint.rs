//! Meta's template review rules, applied before a draft is stored or submitted, so a client learns
//! at once (and with a CAMS code) what Meta would reject hours later. The first failing rule wins;
//! messages name the component (`Components[2] (BUTTONS) button 1`), the rule and what is valid.

use super::language::parse_language;
use super::lint_buttons::check_buttons;
use super::lint_special::{check_authentication, check_carousel, check_offer};
use super::model::{Category, Component, ComponentType, HeaderFormat, TemplateDraft};
use super::placeholder::scan;
use super::vars::{AUTH_CODE_KEY, OFFER_EXPIRATION_KEY, variables};
use crate::{CamsError, Code};

/// Checks a draft against Meta's review rules.
pub fn lint(draft: &TemplateDraft) -> Result<(), CamsError> {
    check_name(&draft.name)?;
    parse_language(&draft.language)?;
    check_ttl(draft.category, draft.message_send_ttl_seconds)?;
    check_structure(&draft.components)?;
    if draft.category == Category::Authentication {
        check_authentication(&draft.components)?;
    }
    for (i, c) in draft.components.iter().enumerate() {
        check_component(draft.category, &label(i, c), c)?;
    }
    check_examples(draft)
}

/// `Components[i] (TYPE)`.
pub(crate) fn label(i: usize, c: &Component) -> String {
    format!("Components[{i}] ({})", c.kind.as_str())
}

pub(crate) fn invalid_message(msg: String) -> CamsError {
    CamsError::new(Code::MessageInvalid, msg)
}

pub(crate) fn create_error(msg: String) -> CamsError {
    CamsError::new(Code::CreateError, msg)
}

pub(crate) fn is_http_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["http://", "https://"].iter().any(|scheme| {
        lower
            .strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty())
    })
}

pub(crate) fn check_len(label: &str, what: &str, text: &str, max: usize) -> Result<(), CamsError> {
    let n = text.chars().count();
    if n > max {
        return Err(invalid_message(format!(
            "{label} {what} is {n} characters long; at most {max} are allowed."
        )));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), CamsError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return Err(CamsError::invalid(
            "Name",
            format!(
                "{name:?} is not a valid WhatsApp template name; use 1 to 512 lower-case letters, digits and underscores, e.g. order_shipped."
            ),
        ));
    }
    Ok(())
}

fn check_ttl(category: Category, ttl: Option<i64>) -> Result<(), CamsError> {
    let Some(ttl) = ttl else { return Ok(()) };
    let range = match category {
        Category::Authentication => 30..=900,
        Category::Utility => 30..=43_200,
        Category::Marketing => 43_200..=2_592_000,
    };
    if !range.contains(&ttl) {
        return Err(CamsError::invalid(
            "MessageSendTtlSeconds",
            format!(
                "{ttl} is out of range for a {} template; use {} to {} seconds.",
                category.as_str(),
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(())
}

fn check_structure(components: &[Component]) -> Result<(), CamsError> {
    let count = |k: ComponentType| components.iter().filter(|c| c.kind == k).count();
    if count(ComponentType::Body) == 0 {
        return Err(invalid_message(
            "Components: type missing: the template needs exactly one BODY component.".into(),
        ));
    }
    for kind in ComponentType::ALL {
        let n = count(*kind);
        if n > 1 {
            return Err(invalid_message(format!(
                "Components has {n} {} components; a template has at most one of each type (and exactly one BODY).",
                kind.as_str()
            )));
        }
    }
    Ok(())
}

fn check_component(category: Category, label: &str, c: &Component) -> Result<(), CamsError> {
    if let Some(m) = c.code_expiration_minutes.filter(|m| !(1..=90).contains(m)) {
        return Err(create_error(format!(
            "{label} CodeExpirationMinutes is {m}; use 1 to 90 minutes."
        )));
    }
    let auth = category == Category::Authentication;
    match c.kind {
        ComponentType::Header => check_header(label, c),
        ComponentType::Body if !auth => check_body(label, c),
        ComponentType::Footer if !auth => check_footer(label, c),
        ComponentType::Buttons if !auth => check_buttons(category, label, &c.buttons),
        ComponentType::Carousel => check_carousel(label, c),
        ComponentType::LimitedTimeOffer => check_offer(category, label, c),
        _ => Ok(()),
    }
}

fn check_header(label: &str, c: &Component) -> Result<(), CamsError> {
    match c.format.unwrap_or(HeaderFormat::Text) {
        HeaderFormat::Text => {
            let Some(text) = &c.text else {
                return Err(invalid_message(format!(
                    "{label} has Format TEXT but no Text; give the header text (at most 60 characters)."
                )));
            };
            check_len(label, "Text", text, 60)?;
            let vars = scan(text, label)?;
            if vars.len() > 1 {
                return Err(CamsError::new(
                    Code::HeaderMoreVarable,
                    format!(
                        "{label} Text has {} variables; a header may have at most one.",
                        vars.len()
                    ),
                ));
            }
            Ok(())
        }
        HeaderFormat::Location => Ok(()),
        media => check_media_url(label, media, c.url.as_deref()),
    }
}

pub(crate) fn check_media_url(
    label: &str,
    format: HeaderFormat,
    url: Option<&str>,
) -> Result<(), CamsError> {
    match url {
        Some(u) if is_http_url(u) => Ok(()),
        _ => Err(CamsError::new(
            Code::FileUrlError,
            format!(
                "{label} is a {} header and needs Url: an http(s) URL of a sample file that can be downloaded, got {url:?}.",
                format.as_str()
            ),
        )),
    }
}

fn check_body(label: &str, c: &Component) -> Result<(), CamsError> {
    let Some(text) = &c.text else {
        return Err(invalid_message(format!(
            "{label} has no Text; the body text is required (at most 1024 characters)."
        )));
    };
    check_len(label, "Text", text, 1024)?;
    check_body_variables(label, text)
}

/// Meta rejects bodies that start or end with a variable or have two variables side by side.
pub(crate) fn check_body_variables(label: &str, text: &str) -> Result<(), CamsError> {
    let vars = scan(text, label)?;
    let (Some(first), Some(last)) = (vars.first(), vars.last()) else {
        return Ok(());
    };
    if text[..first.start].trim().is_empty() {
        return Err(invalid_message(format!(
            "{label} Text starts with the variable {{{{{}}}}}; WhatsApp requires fixed text before the first variable.",
            first.name
        )));
    }
    if text[last.end..].trim().is_empty() {
        return Err(invalid_message(format!(
            "{label} Text ends with the variable {{{{{}}}}}; WhatsApp requires fixed text after the last variable.",
            last.name
        )));
    }
    for pair in vars.windows(2) {
        if text[pair[0].end..pair[1].start].trim().is_empty() {
            return Err(invalid_message(format!(
                "{label} Text has the variables {{{{{}}}}} and {{{{{}}}}} side by side; put fixed text between them.",
                pair[0].name, pair[1].name
            )));
        }
    }
    Ok(())
}

fn check_footer(label: &str, c: &Component) -> Result<(), CamsError> {
    let Some(text) = &c.text else {
        return Err(invalid_message(format!(
            "{label} has no Text; give the footer text (at most 60 characters) or drop the FOOTER."
        )));
    };
    if text.contains("{{") || text.contains("}}") {
        return Err(CamsError::new(
            Code::FooterHaveVariable,
            format!("{label} Text contains a variable; a footer must be fixed text."),
        ));
    }
    check_len(label, "Text", text, 60)
}

fn check_examples(draft: &TemplateDraft) -> Result<(), CamsError> {
    let vars = variables(&draft.components);
    for (name, used) in vars.required() {
        let generated = (vars.auth_code && name == AUTH_CODE_KEY)
            || (vars.offer_expiration && name == OFFER_EXPIRATION_KEY);
        if generated {
            continue;
        }
        if draft.example.get(&name).is_none_or(|v| v.trim().is_empty()) {
            return Err(CamsError::invalid(
                "Example",
                format!(
                    "there is no sample value for the variable `{name}` used by the template's {used}; Meta's review needs one for every variable, e.g. {{\"{name}\":\"...\"}}."
                ),
            ));
        }
    }
    Ok(())
}
