//! The CAMS actions, one file each, behind one closed list.

mod create_chatapp_template;
mod delete_chatapp_template;
mod get_chatapp_phone_number_metric;
mod get_chatapp_template_detail;
mod get_chatapp_template_metric;
mod list_chatapp_message;
mod list_chatapp_template;
mod metric_period;
mod modify_chatapp_template;
mod query_chatapp_phone_numbers;
mod send_chatapp_mass_message;
mod send_chatapp_message;
mod update_account_webhook;
mod update_phone_webhook;

use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value};

use crate::context::Ctx;

/// Every action opencams serves.
pub const ACTIONS: &[&str] = &[
    "SendChatappMessage",
    "SendChatappMassMessage",
    "QueryChatappPhoneNumbers",
    "CreateChatappTemplate",
    "ModifyChatappTemplate",
    "DeleteChatappTemplate",
    "GetChatappTemplateDetail",
    "ListChatappTemplate",
    "UpdateAccountWebhook",
    "UpdatePhoneWebhook",
    "ListChatappMessage",
    "GetChatappPhoneNumberMetric",
    "GetChatappTemplateMetric",
];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// Runs an action; its fields go into the success envelope.
pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    match ctx.action {
        "SendChatappMessage" => send_chatapp_message::run(ctx).await,
        "SendChatappMassMessage" => send_chatapp_mass_message::run(ctx).await,
        "QueryChatappPhoneNumbers" => query_chatapp_phone_numbers::run(ctx).await,
        "CreateChatappTemplate" => create_chatapp_template::run(ctx).await,
        "ModifyChatappTemplate" => modify_chatapp_template::run(ctx).await,
        "DeleteChatappTemplate" => delete_chatapp_template::run(ctx).await,
        "GetChatappTemplateDetail" => get_chatapp_template_detail::run(ctx).await,
        "ListChatappTemplate" => list_chatapp_template::run(ctx).await,
        "UpdateAccountWebhook" => update_account_webhook::run(ctx).await,
        "UpdatePhoneWebhook" => update_phone_webhook::run(ctx).await,
        "ListChatappMessage" => list_chatapp_message::run(ctx).await,
        "GetChatappPhoneNumberMetric" => get_chatapp_phone_number_metric::run(ctx).await,
        "GetChatappTemplateMetric" => get_chatapp_template_metric::run(ctx).await,
        _ => Err(CamsError::of(Code::InvalidActionNotFound)),
    }
}
