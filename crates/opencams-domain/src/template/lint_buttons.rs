//! Button rules for MARKETING and UTILITY templates and carousel cards (whatsapp-cloud-api.md §5,
//! cams-api.md §3.3). Authentication buttons are checked in `lint_special`.

use super::lint::{create_error, is_http_url};
use super::model::{Button, ButtonType, Category, FlowAction, UrlType};
use super::placeholder::{coupon_var, scan};
use crate::{CamsError, Code};

/// Checks the `Buttons` of a BUTTONS component.
pub(crate) fn check_buttons(
    category: Category,
    label: &str,
    buttons: &[Button],
) -> Result<(), CamsError> {
    if buttons.is_empty() {
        return Err(create_error(format!(
            "{label} has no Buttons; give 1 to 10 buttons or drop the component."
        )));
    }
    if buttons.len() > 10 {
        return Err(create_error(format!(
            "{label} has {} buttons; at most 10 are allowed.",
            buttons.len()
        )));
    }
    let limits = [
        (ButtonType::PhoneNumber, 1),
        (ButtonType::Url, 2),
        (ButtonType::CopyCode, 1),
        (ButtonType::Flow, 1),
        (ButtonType::Mpm, 1),
        (ButtonType::Catalog, 1),
    ];
    for (kind, max) in limits {
        let n = buttons.iter().filter(|b| b.kind == kind).count();
        if n > max {
            return Err(create_error(format!(
                "{label} has {n} {} buttons; at most {max} allowed.",
                kind.as_str()
            )));
        }
    }
    check_quick_replies_grouped(label, buttons)?;
    for (i, b) in buttons.iter().enumerate() {
        let blabel = format!("{label} button {i} ({})", b.kind.as_str());
        match b.kind {
            ButtonType::OneTap | ButtonType::ZeroTap => {
                return Err(create_error(format!(
                    "{blabel}: {} buttons exist only in AUTHENTICATION templates.",
                    b.kind.as_str()
                )));
            }
            ButtonType::CopyCode if category != Category::Marketing => {
                return Err(create_error(format!(
                    "{blabel}: COPY_CODE buttons are allowed only in MARKETING templates (and as the one-time-code button of AUTHENTICATION templates)."
                )));
            }
            _ => check_button(&blabel, b)?,
        }
    }
    Ok(())
}

/// Meta wants the quick replies as one group, not interleaved with other buttons.
fn check_quick_replies_grouped(label: &str, buttons: &[Button]) -> Result<(), CamsError> {
    let quick: Vec<usize> = buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind == ButtonType::QuickReply)
        .map(|(i, _)| i)
        .collect();
    let grouped = match (quick.first(), quick.last()) {
        (Some(first), Some(last)) => last - first + 1 == quick.len(),
        _ => true,
    };
    if !grouped {
        return Err(create_error(format!(
            "{label}: the QUICK_REPLY buttons (at {quick:?}) must be grouped together, before or after the other buttons."
        )));
    }
    Ok(())
}

/// Rules for one button of any template kind except authentication.
pub(crate) fn check_button(label: &str, b: &Button) -> Result<(), CamsError> {
    check_label(label, b.text.as_deref())?;
    match b.kind {
        ButtonType::Url => check_url(label, b),
        ButtonType::PhoneNumber => check_phone(label, b.phone_number.as_deref()),
        ButtonType::CopyCode => check_coupon(label, b.coupon_code.as_deref()),
        ButtonType::Flow => {
            if b.flow_id.is_none() {
                return Err(create_error(format!(
                    "{label} needs FlowId, the id of a published WhatsApp Flow."
                )));
            }
            if b.flow_action == Some(FlowAction::Navigate) && b.navigate_screen.is_none() {
                return Err(create_error(format!(
                    "{label} has FlowAction NAVIGATE and needs NavigateScreen, the id of the Flow's first screen."
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The label (`Text`): required, at most 25 characters, no variable.
pub(crate) fn check_label(label: &str, text: Option<&str>) -> Result<(), CamsError> {
    let Some(text) = text else {
        return Err(create_error(format!(
            "{label} needs Text, the button label (at most 25 characters)."
        )));
    };
    if text.contains("{{") || text.contains("}}") {
        return Err(CamsError::new(
            Code::ButtonTextHaveVariable,
            format!("{label} Text {text:?} contains a variable; button labels must be fixed text."),
        ));
    }
    let n = text.chars().count();
    if n > 25 {
        return Err(create_error(format!(
            "{label} Text is {n} characters long; a button label has at most 25."
        )));
    }
    Ok(())
}

fn check_url(label: &str, b: &Button) -> Result<(), CamsError> {
    let url = b.url.as_deref().unwrap_or("");
    if !is_http_url(url) {
        return Err(create_error(format!(
            "{label} needs Url, an http:// or https:// address, got {:?}.",
            b.url
        )));
    }
    let vars = scan(url, label)?;
    if vars.len() > 1 {
        return Err(CamsError::new(
            Code::UrlMoreVarable,
            format!(
                "{label} Url has {} variables; a URL may have one, at its end.",
                vars.len()
            ),
        ));
    }
    if let Some(v) = vars.first().filter(|v| v.end != url.trim_end().len()) {
        return Err(CamsError::new(
            Code::UrlMoreVarable,
            format!(
                "{label} Url has the variable {{{{{}}}}} before its end; a URL variable is allowed only as the suffix.",
                v.name
            ),
        ));
    }
    match (b.url_type, vars.is_empty()) {
        (Some(UrlType::Dynamic), true) => Err(create_error(format!(
            "{label} has UrlType dynamic but its Url has no variable; end the Url with one, e.g. https://example.com/track/{{{{order_id}}}}."
        ))),
        (Some(UrlType::Static), false) => Err(create_error(format!(
            "{label} has UrlType static but its Url holds a variable; use UrlType dynamic or a fixed Url."
        ))),
        _ => Ok(()),
    }
}

/// An international number: optional `+`, 8 to 15 digits not starting with 0, at most 20 chars.
fn check_phone(label: &str, phone: Option<&str>) -> Result<(), CamsError> {
    let raw = phone.unwrap_or("");
    let digits = raw.trim().strip_prefix('+').unwrap_or(raw.trim());
    let ok = raw.chars().count() <= 20
        && (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if !ok {
        return Err(CamsError::new(
            Code::PhoneNumberError,
            format!(
                "{label} PhoneNumber {phone:?} is not a valid international number; give the country code and number, e.g. +8613800000000 (at most 20 characters)."
            ),
        ));
    }
    Ok(())
}

/// Letters and digits (at most 15), or a `$(name)` variable filled at send time.
fn check_coupon(label: &str, code: Option<&str>) -> Result<(), CamsError> {
    let raw = code.unwrap_or("");
    let ok = match coupon_var(raw) {
        Some(var) => {
            let mut b = var.bytes();
            b.next().is_some_and(|c| c.is_ascii_alphabetic())
                && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        }
        None => {
            !raw.is_empty() && raw.len() <= 15 && raw.bytes().all(|c| c.is_ascii_alphanumeric())
        }
    };
    if !ok {
        return Err(create_error(format!(
            "{label} CouponCode {code:?} is not valid; use up to 15 letters and digits (e.g. SAVE25) or a variable written $(couponCode)."
        )));
    }
    Ok(())
}
