//! What the receipt actions share (cams-api.md §3.8–3.10): the `Y`/`N` flags, callback URLs
//! (http(s), ≤ 1024 characters, no private address unless the server allows it), the business
//! number a call names, and the destinations a number ends up with (its own setting over its
//! space's).

use opencams_protocol::{CamsError, Code};
use opencams_store::{Number, Space, WebhookSetting};

use crate::context::{Ctx, internal};

/// A `Y`/`N` flag; absent → `None`.
pub fn flag(ctx: &Ctx<'_>, name: &str) -> Result<Option<bool>, CamsError> {
    match ctx.params.get(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("Y") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("N") => Ok(Some(false)),
        Some(v) => Err(CamsError::invalid(
            name,
            format_args!("{v:?} is not a flag; use Y or N"),
        )),
    }
}

/// A callback URL parameter: absent → keep (`None`), empty → clear (`Some(None)`).
pub fn url(ctx: &Ctx<'_>, name: &str) -> Result<Option<Option<String>>, CamsError> {
    match ctx.params.raw(name).map(str::trim) {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(raw) => {
            opencams_domain::callback_url::check_url(raw, ctx.state.config.allow_private_callbacks)
                .map_err(|why| CamsError::invalid(name, why))?;
            Ok(Some(Some(raw.to_string())))
        }
    }
}

/// The business number `param` names: registered in `space` of the caller's account.
pub async fn business_number(
    ctx: &Ctx<'_>,
    space: &Space,
    param: &'static str,
) -> Result<Number, CamsError> {
    let raw = ctx.params.require(param)?;
    let phone = raw.trim().trim_start_matches('+');
    let number = ctx.state.store.number(phone).await.map_err(internal)?;
    match number {
        Some(n) if n.account_id == ctx.account_id() && n.space_id == space.id => Ok(n),
        Some(n) if n.account_id != ctx.account_id() => Err(CamsError::new(
            Code::UnknownResourceOwnerId,
            format!(
                "The resource does not belong to the current user: {param} {phone} is not a number of this account."
            ),
        )),
        _ => Err(CamsError::new(
            Code::PhoneNumberError,
            format!(
                "{param} {phone:?} is not a business number of space {}; see QueryChatappPhoneNumbers.",
                space.id
            ),
        )),
    }
}

/// A number's effective receipt destinations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    pub status_url: String,
    pub up_url: String,
    pub queue: bool,
}

/// The number's setting where it has one, else the space's.
pub fn destinations(settings: &[WebhookSetting], phone: &str) -> Destinations {
    let space = settings.iter().find(|s| s.phone.is_empty());
    let number = settings.iter().find(|s| s.phone == phone);
    let pick = |f: fn(&WebhookSetting) -> &Option<String>| {
        number
            .and_then(|n| f(n).clone())
            .or_else(|| space.and_then(|s| f(s).clone()))
            .unwrap_or_default()
    };
    Destinations {
        status_url: pick(|s| &s.status_url),
        up_url: pick(|s| &s.up_url),
        queue: number
            .and_then(|n| n.queue_flag)
            .or_else(|| space.and_then(|s| s.queue_flag))
            .unwrap_or(false),
    }
}

/// The MNS queue names CAMS would create for an account (`Alicom-Queue-<account>-<type>`).
pub fn queue_name(account_id: i64, kind: &str) -> String {
    format!("Alicom-Queue-{account_id}-{kind}")
}
