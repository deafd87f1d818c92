//! Rules of the special template shapes: AUTHENTICATION (Meta writes the text; one OTP button),
//! CAROUSEL (2 to 10 uniform cards) and LIMITED_TIME_OFFER.

use super::lint::{check_body_variables, check_len, check_media_url, create_error, label};
use super::lint_buttons::{check_button, check_label};
use super::model::{Button, ButtonType, Category, Component, ComponentType, HeaderFormat};
use crate::{CamsError, Code};

/// The whole-template rules of an AUTHENTICATION template.
pub(crate) fn check_authentication(components: &[Component]) -> Result<(), CamsError> {
    for (i, c) in components.iter().enumerate() {
        let label = label(i, c);
        match c.kind {
            ComponentType::Header | ComponentType::Carousel | ComponentType::LimitedTimeOffer => {
                return Err(create_error(format!(
                    "{label}: AUTHENTICATION templates have no {}; use BODY (AddSecretRecommendation), FOOTER (CodeExpirationMinutes) and one BUTTONS.",
                    c.kind.as_str()
                )));
            }
            ComponentType::Body | ComponentType::Footer if c.text.is_some() => {
                return Err(CamsError::new(
                    Code::MessageInvalid,
                    format!(
                        "{label} Text must be empty in an AUTHENTICATION template: WhatsApp writes the text itself (\"<code> is your verification code.\")."
                    ),
                ));
            }
            _ => {}
        }
    }
    let buttons: Vec<&Button> = components
        .iter()
        .filter(|c| c.kind == ComponentType::Buttons)
        .flat_map(|c| &c.buttons)
        .collect();
    let [button] = buttons.as_slice() else {
        return Err(create_error(format!(
            "an AUTHENTICATION template needs exactly one button (COPY_CODE, ONE_TAP or ZERO_TAP) in a BUTTONS component; it has {}.",
            buttons.len()
        )));
    };
    let pos = components
        .iter()
        .position(|c| c.kind == ComponentType::Buttons)
        .unwrap_or(0);
    let blabel = format!(
        "Components[{pos}] (BUTTONS) button 0 ({})",
        button.kind.as_str()
    );
    match button.kind {
        ButtonType::CopyCode => check_label(&blabel, button.text.as_deref()),
        ButtonType::OneTap | ButtonType::ZeroTap => check_one_tap(&blabel, button),
        other => Err(create_error(format!(
            "{blabel}: an AUTHENTICATION template's button must be COPY_CODE, ONE_TAP or ZERO_TAP, not {}.",
            other.as_str()
        ))),
    }
}

fn check_one_tap(label: &str, b: &Button) -> Result<(), CamsError> {
    check_label(label, b.text.as_deref())?;
    if b.autofill_text.is_none() {
        return Err(create_error(format!(
            "{label} needs AutofillText, the label of the autofill button (e.g. Autofill)."
        )));
    }
    // The deprecated single-app fields count as one app when SupportedApps is absent.
    let apps = if b.supported_apps.is_empty() {
        usize::from(b.package_name.is_some() || b.signature_hash.is_some())
    } else {
        b.supported_apps.len()
    };
    if !(1..=5).contains(&apps) {
        return Err(create_error(format!(
            "{label} has {apps} SupportedApps; give 1 to 5 Android apps as {{PackageName, SignatureHash}}."
        )));
    }
    let complete = if b.supported_apps.is_empty() {
        b.package_name.is_some() && b.signature_hash.is_some()
    } else {
        b.supported_apps
            .iter()
            .all(|a| a.package_name.is_some() && a.signature_hash.is_some())
    };
    if !complete {
        return Err(create_error(format!(
            "{label}: every SupportedApps entry needs PackageName and SignatureHash."
        )));
    }
    Ok(())
}

/// A CAROUSEL: 2 to 10 cards, each with an IMAGE or VIDEO header (the same on every card), an
/// optional body and up to two buttons whose types are the same on every card.
pub(crate) fn check_carousel(label: &str, c: &Component) -> Result<(), CamsError> {
    let n = c.cards.len();
    if !(2..=10).contains(&n) {
        return Err(create_error(format!(
            "{label} has {n} Cards; a carousel has 2 to 10."
        )));
    }
    let mut first_format: Option<HeaderFormat> = None;
    let mut first_buttons: Option<Vec<ButtonType>> = None;
    for (ci, card) in c.cards.iter().enumerate() {
        let clabel = format!("{label} card {ci}");
        let mut header = None;
        let mut kinds = Vec::new();
        for (k, cc) in card.components.iter().enumerate() {
            let cclabel = format!("{clabel} CardComponents[{k}] ({})", cc.kind.as_str());
            match cc.kind {
                ComponentType::Header => header = Some(check_card_header(&cclabel, cc)?),
                ComponentType::Body => {
                    let text = cc.text.as_deref().unwrap_or("");
                    check_len(&cclabel, "Text", text, 160)?;
                    check_body_variables(&cclabel, text)?;
                }
                ComponentType::Buttons => kinds = check_card_buttons(&cclabel, &cc.buttons)?,
                other => {
                    return Err(create_error(format!(
                        "{cclabel}: a card holds only HEADER, BODY and BUTTONS, not {}.",
                        other.as_str()
                    )));
                }
            }
        }
        let Some(format) = header else {
            return Err(create_error(format!(
                "{clabel} needs a HEADER with Format IMAGE or VIDEO."
            )));
        };
        match first_format {
            Some(f) if f != format => {
                return Err(create_error(format!(
                    "{clabel} has a {} header but card 0 has {}; every card needs the same header format.",
                    format.as_str(),
                    f.as_str()
                )));
            }
            _ => first_format = Some(format),
        }
        match &first_buttons {
            Some(f) if *f != kinds => {
                return Err(create_error(format!(
                    "{clabel} has buttons {kinds:?} but card 0 has {f:?}; every card needs the same button types in the same order."
                )));
            }
            _ => first_buttons = Some(kinds),
        }
    }
    Ok(())
}

fn check_card_header(label: &str, c: &Component) -> Result<HeaderFormat, CamsError> {
    match c.format {
        Some(f @ (HeaderFormat::Image | HeaderFormat::Video)) => {
            check_media_url(label, f, c.url.as_deref())?;
            Ok(f)
        }
        other => Err(CamsError::new(
            Code::HeaderTypeNotSupport,
            format!(
                "{label} Format is {}; a carousel card header is IMAGE or VIDEO.",
                other.map_or("absent", HeaderFormat::as_str)
            ),
        )),
    }
}

fn check_card_buttons(label: &str, buttons: &[Button]) -> Result<Vec<ButtonType>, CamsError> {
    if buttons.len() > 2 {
        return Err(create_error(format!(
            "{label} has {} buttons; a card has at most 2.",
            buttons.len()
        )));
    }
    for (i, b) in buttons.iter().enumerate() {
        let blabel = format!("{label} button {i} ({})", b.kind.as_str());
        if !matches!(
            b.kind,
            ButtonType::Url | ButtonType::PhoneNumber | ButtonType::QuickReply
        ) {
            return Err(create_error(format!(
                "{blabel}: card buttons are URL, PHONE_NUMBER or QUICK_REPLY."
            )));
        }
        check_button(&blabel, b)?;
    }
    Ok(buttons.iter().map(|b| b.kind).collect())
}

/// LIMITED_TIME_OFFER: MARKETING only; Text (the offer headline) at most 16 characters, fixed.
pub(crate) fn check_offer(category: Category, label: &str, c: &Component) -> Result<(), CamsError> {
    if category != Category::Marketing {
        return Err(create_error(format!(
            "{label}: limited-time offers are allowed only in MARKETING templates."
        )));
    }
    let Some(text) = &c.text else {
        return Err(create_error(format!(
            "{label} needs Text, the offer headline (at most 16 characters)."
        )));
    };
    if text.contains("{{") {
        return Err(create_error(format!(
            "{label} Text must be fixed text without variables."
        )));
    }
    check_len(label, "Text", text, 16)
}
