//! WhatsApp message templates as CAMS exposes them: parsing the `Components` and `Example`
//! parameters, linting a draft against Meta's review rules before it is submitted, working out
//! the variables a send must supply, and rendering a send into the Cloud API `template` object
//! (and into the text the user reads). Pure logic: the server stores and submits.
//!
//! Indexes in messages are 0-based, like `Components[i]`, `Payload[i]` and the Cloud API's
//! button `index`.

mod language;
mod lint;
mod lint_buttons;
mod lint_special;
mod meta;
mod model;
mod parse;
mod placeholder;
mod render;
mod vars;

#[cfg(test)]
mod tests;

pub use language::{LANGUAGES, parse_language};
pub use lint::lint;
pub use meta::to_meta_create;
pub use model::{
    AuditStatus, Button, ButtonType, Card, Category, Component, ComponentType, FlowAction,
    HeaderFormat, SupportedApp, TemplateDraft, UrlType,
};
pub use parse::{parse_components, parse_example};
pub use placeholder::{coupon_var, is_var_name};
pub use render::{RenderInput, render_cloud, render_text};
pub use vars::{
    AUTH_CODE_KEY, CardVariables, LOCATION_KEYS, OFFER_EXPIRATION_KEY, Variables,
    check_send_params, is_authentication, quick_reply_count, variables,
};
