//! What a template needs at send time, and the check of `TemplateParams` / `Payload` against it
//! (cams-api.md §3.1.3, §6 item 7).
//!
//! `TemplateParams` keys are the variable names. Besides the `{{name}}` variables of HEADER, BODY,
//! URL buttons and carousel cards, three keys are fixed by opencams because CAMS documents none:
//! - `code`: the one-time code of an AUTHENTICATION template (body and button);
//! - the `$(name)` of a COPY_CODE button (`couponCode` in the CAMS docs' examples);
//! - `expirationTimeMs`: the offer end (Unix ms) of a LIMITED_TIME_OFFER with `hasExpiration`.
//!
//! A LOCATION header may take the optional keys `latitude`, `longitude`, `locationName`,
//! `locationAddress`, which override the template's stored location.

use std::collections::BTreeMap;

use super::model::{ButtonType, Component, ComponentType, HeaderFormat};
use super::placeholder::{coupon_var, names};
use crate::{CamsError, Code};

/// The TemplateParams key of an authentication code.
pub const AUTH_CODE_KEY: &str = "code";
/// The TemplateParams key of a limited-time offer's expiration (Unix milliseconds).
pub const OFFER_EXPIRATION_KEY: &str = "expirationTimeMs";
/// Optional TemplateParams keys of a LOCATION header.
pub const LOCATION_KEYS: [&str; 4] = ["latitude", "longitude", "locationName", "locationAddress"];

/// The variables of one carousel card.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CardVariables {
    pub body: Vec<String>,
    /// (button index within the card, variable) for dynamic URL buttons.
    pub buttons: Vec<(usize, String)>,
}

/// Every value a template needs at send time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variables {
    /// The variable of a TEXT header.
    pub header: Option<String>,
    /// BODY variables, in order of first use.
    pub body: Vec<String>,
    /// (button index in the BUTTONS component, variable) for dynamic URL buttons.
    pub buttons: Vec<(usize, String)>,
    /// The `$(name)` of a COPY_CODE button.
    pub coupon: Option<String>,
    /// An AUTHENTICATION template: the code goes under [`AUTH_CODE_KEY`].
    pub auth_code: bool,
    /// A LIMITED_TIME_OFFER with an expiration: [`OFFER_EXPIRATION_KEY`] is required.
    pub offer_expiration: bool,
    /// A LOCATION header: [`LOCATION_KEYS`] are accepted.
    pub location: bool,
    pub cards: Vec<CardVariables>,
}

impl Variables {
    /// Every required TemplateParams key with where it is used, in order, deduplicated.
    pub fn required(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, used: String| {
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_string(), used));
            }
        };
        if let Some(h) = &self.header {
            add(h, "HEADER".into());
        }
        for b in &self.body {
            add(b, "BODY".into());
        }
        for (i, b) in &self.buttons {
            add(b, format!("URL button {i}"));
        }
        if let Some(c) = &self.coupon {
            add(c, "COPY_CODE button".into());
        }
        if self.auth_code {
            add(
                AUTH_CODE_KEY,
                "AUTHENTICATION body (the one-time code)".into(),
            );
        }
        if self.offer_expiration {
            add(
                OFFER_EXPIRATION_KEY,
                "LIMITED_TIME_OFFER (expiration, Unix ms)".into(),
            );
        }
        for (c, card) in self.cards.iter().enumerate() {
            for b in &card.body {
                add(b, format!("CAROUSEL card {c} BODY"));
            }
            for (i, b) in &card.buttons {
                add(b, format!("CAROUSEL card {c} URL button {i}"));
            }
        }
        out
    }

    /// Every key TemplateParams may hold.
    pub fn allowed(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.required().into_iter().map(|(k, _)| k).collect();
        if self.location {
            keys.extend(LOCATION_KEYS.iter().map(|k| k.to_string()));
        }
        keys
    }
}

/// Whether the components form an AUTHENTICATION template: only those have an OTP button
/// (ONE_TAP/ZERO_TAP) or a BODY without text (Meta generates it).
pub fn is_authentication(components: &[Component]) -> bool {
    let otp = components
        .iter()
        .flat_map(|c| &c.buttons)
        .any(|b| matches!(b.kind, ButtonType::OneTap | ButtonType::ZeroTap));
    let textless_body = components
        .iter()
        .any(|c| c.kind == ComponentType::Body && c.text.is_none());
    otp || textless_body
}

/// The dynamic variable of a URL button (the one at the end of its Url).
pub(crate) fn url_var(url: Option<&str>) -> Option<String> {
    names(url?).into_iter().next()
}

fn buttons_vars(c: &Component) -> Vec<(usize, String)> {
    c.buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| b.kind == ButtonType::Url)
        .filter_map(|(i, b)| url_var(b.url.as_deref()).map(|v| (i, v)))
        .collect()
}

/// Every variable the template needs at send time.
pub fn variables(components: &[Component]) -> Variables {
    let mut vars = Variables {
        auth_code: is_authentication(components),
        ..Variables::default()
    };
    for c in components {
        match c.kind {
            ComponentType::Header => match c.format {
                Some(HeaderFormat::Text) | None => {
                    vars.header = names(c.text_or_empty()).into_iter().next()
                }
                Some(HeaderFormat::Location) => vars.location = true,
                Some(_) => {}
            },
            ComponentType::Body if !vars.auth_code => vars.body = names(c.text_or_empty()),
            ComponentType::Buttons if !vars.auth_code => {
                vars.buttons = buttons_vars(c);
                vars.coupon = c
                    .buttons
                    .iter()
                    .filter(|b| b.kind == ButtonType::CopyCode)
                    .find_map(|b| coupon_var(b.coupon_code.as_deref()?).map(str::to_string));
            }
            ComponentType::LimitedTimeOffer => {
                vars.offer_expiration = c.has_expiration == Some(true)
            }
            ComponentType::Carousel => {
                vars.cards = c
                    .cards
                    .iter()
                    .map(|card| {
                        let mut cv = CardVariables::default();
                        for cc in &card.components {
                            match cc.kind {
                                ComponentType::Body => cv.body = names(cc.text_or_empty()),
                                ComponentType::Buttons => cv.buttons = buttons_vars(cc),
                                _ => {}
                            }
                        }
                        cv
                    })
                    .collect();
            }
            _ => {}
        }
    }
    vars
}

/// The number of QUICK_REPLY buttons, which bounds `Payload`.
pub fn quick_reply_count(components: &[Component]) -> usize {
    components
        .iter()
        .filter(|c| c.kind == ComponentType::Buttons)
        .flat_map(|c| &c.buttons)
        .filter(|b| b.kind == ButtonType::QuickReply)
        .count()
}

/// Checks that `params` supplies exactly the template's variables (plus the optional location
/// keys) with non-empty values, and that `payload` has no more entries than quick replies.
pub fn check_send_params(
    components: &[Component],
    params: &BTreeMap<String, String>,
    payload: &[String],
) -> Result<(), CamsError> {
    let vars = variables(components);
    let sub = || Code::InvalidParameterSub("TemplateParams".into());
    for (name, used) in vars.required() {
        match params.get(&name) {
            None => {
                return Err(CamsError::new(
                    sub(),
                    format!(
                        "TemplateParams is missing the variable `{name}` used by the template's {used}."
                    ),
                ));
            }
            Some(v) if v.trim().is_empty() => {
                return Err(CamsError::new(
                    sub(),
                    format!(
                        "TemplateParams gives an empty value for `{name}` (used by the template's {used}); WhatsApp refuses empty parameters."
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let allowed = vars.allowed();
    if let Some(extra) = params.keys().find(|k| !allowed.contains(k)) {
        let valid = if allowed.is_empty() {
            "the template takes no variables".to_string()
        } else {
            format!(
                "the valid keys are {}",
                allowed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        return Err(CamsError::new(
            sub(),
            format!(
                "TemplateParams has the unknown key `{extra}`, which the template does not use; {valid}."
            ),
        ));
    }
    let quick = quick_reply_count(components);
    if payload.len() > quick {
        return Err(CamsError::new(
            Code::InvalidParameterSub("Payload".into()),
            format!(
                "Payload has {} entries but the template has only {quick} QUICK_REPLY buttons; give at most one payload per quick reply, in button order.",
                payload.len()
            ),
        ));
    }
    Ok(())
}
