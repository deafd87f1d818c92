//! The CAMS actions, one file each, behind one closed list.

mod query_chatapp_phone_numbers;

use opencams_protocol::{CamsError, Code};
use serde_json::{Map, Value};

use crate::context::Ctx;

/// Every action opencams serves.
pub const ACTIONS: &[&str] = &["QueryChatappPhoneNumbers"];

pub fn is_known(action: &str) -> bool {
    ACTIONS.contains(&action)
}

/// Runs an action; its fields go into the success envelope.
pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    match ctx.action {
        "QueryChatappPhoneNumbers" => query_chatapp_phone_numbers::run(ctx).await,
        _ => Err(CamsError::of(Code::InvalidActionNotFound)),
    }
}
