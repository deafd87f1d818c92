//! ListChatappMessage (cams-api.md §3.9): a space's message history for one business number,
//! outbound (`EventAction=DOWN`) and inbound (`UP`), newest first, one `Page` at a time. Times
//! are UTC: `StartTime`/`EndTime` in epoch ms, `StartTimeStr`/`EndTimeStr` as
//! `YYYY-MM-DD HH:MM:SS`, `SendTime` in the same form. Every `Data` field is a string.

use opencams_domain::{Direction, FallbackState, MessageStatus};
use opencams_protocol::{CamsError, Code, Page};
use opencams_store::{MessageFilter, MessageRow};
use serde_json::{Map, Value, json};
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::context::{Ctx, internal};
use crate::receipts::business_number;

fn parse_time_str(ctx: &Ctx<'_>, name: &str) -> Result<Option<i64>, CamsError> {
    let Some(raw) = ctx.params.get(name) else {
        return Ok(None);
    };
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(raw.trim(), &fmt)
        .map(|t| Some(t.assume_utc().unix_timestamp() * 1000))
        .map_err(|_| {
            CamsError::invalid(
                name,
                format_args!("{raw:?} is not a time like 2025-01-15 08:30:00 (UTC)"),
            )
        })
}

fn format_time(ms: i64) -> (String, String) {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let send = t
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    let month = t
        .format(format_description!("[year][month]"))
        .unwrap_or_default();
    (send, month)
}

/// The statuses `MessageStatus` and `ClientAcceptStatus` leave (intersected).
fn status_filter(ctx: &Ctx<'_>) -> Result<Option<Vec<MessageStatus>>, CamsError> {
    let mut set: Option<Vec<MessageStatus>> = None;
    if let Some(s) = ctx.params.get("MessageStatus") {
        let Some(status) = MessageStatus::ALL
            .iter()
            .find(|st| st.cams_name().eq_ignore_ascii_case(s.trim()))
        else {
            return Err(CamsError::invalid(
                "MessageStatus",
                format_args!(
                    "{s:?} is not a status; use one of {}",
                    MessageStatus::ALL
                        .iter()
                        .map(|s| s.cams_name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        set = Some(vec![*status]);
    }
    if let Some(s) = ctx.params.get("ClientAcceptStatus") {
        let reached = match s.trim().to_ascii_lowercase().as_str() {
            "accepted" | "y" => true,
            "notaccepted" | "unaccepted" | "n" => false,
            _ => {
                return Err(CamsError::invalid(
                    "ClientAcceptStatus",
                    format_args!("{s:?} is not valid; use Accepted or NotAccepted"),
                ));
            }
        };
        // outbound statuses only: an inbound message is neither
        let accepted = MessageStatus::ALL
            .iter()
            .copied()
            .filter(|st| *st != MessageStatus::Received && st.reached_user() == reached);
        set = Some(match set {
            None => accepted.collect(),
            Some(prev) => accepted.filter(|s| prev.contains(s)).collect(),
        });
    }
    Ok(set)
}

/// The content as CAMS shows it: the text or the JSON of what was sent / received.
fn content(m: &MessageRow) -> String {
    let body: Value = serde_json::from_str(&m.body).unwrap_or(Value::Null);
    if let Some(inbound) = body.get("inbound") {
        let kind = inbound["type"].as_str().unwrap_or("");
        if kind == "text" {
            return inbound["text"]["body"].as_str().unwrap_or("").to_string();
        }
        return inbound.get(kind).map(Value::to_string).unwrap_or_default();
    }
    match body.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => m.body.clone(),
    }
}

/// `<code>:<description>`, as ChatAppStatus's ErrorDescription reads.
fn fail_reason(m: &MessageRow) -> String {
    if !m.status.undeliverable() {
        return String::new();
    }
    let desc = m.error_description.as_deref().unwrap_or("");
    match m.error_code.as_deref() {
        Some(code) if !code.is_empty() && !desc.starts_with(code) => format!("{code}:{desc}"),
        _ => desc.to_string(),
    }
}

fn data(m: &MessageRow, fb: Option<&opencams_store::FallbackRow>) -> Value {
    let up = m.direction == Direction::In;
    let (status, status_name) = (m.status.cams_name(), m.status.description());
    let accepted = m.status.reached_user();
    let read = m.status == MessageStatus::Read;
    let (send_time, month) = format_time(m.created_at);
    // Y once the SMS went out (the fallback row says so); its text is what was sent
    let fallback =
        fb.is_some_and(|f| matches!(f.state, FallbackState::Sent | FallbackState::Delivered));
    json!({
        "MessageId": m.id,
        "UniqueMessageId": m.provider_id.clone().unwrap_or_default(),
        "ConversationId": "",
        "ChannelType": "whatsapp",
        "BusinessNumber": m.sender,
        "UserNumber": m.recipient,
        "EventAction": m.direction.cams_name(),
        "EventActionName": if up { "Inbound (user to business)" } else { "Outbound (business to user)" },
        "Type": m.send_type,
        "MessageType": m.message_type,
        "MessageTypeName": m.message_type,
        "MessageStatus": status,
        "MessageStatusName": status_name,
        "ClientAcceptStatusName": if up { "" } else if accepted { "Accepted" } else { "NotAccepted" },
        "ClientReadStatus": if up { "" } else if read { "Read" } else { "Unread" },
        "ClientReadStatusName": if up { "" } else if read { "read by the user" } else { "not read yet" },
        "Message": content(m),
        "MessageSource": if up { "WhatsApp" } else { "API" },
        "TemplateCode": m.template_code.clone().unwrap_or_default(),
        "TemplateName": m.template_name.clone().unwrap_or_default(),
        "LanguageCode": m.language.clone().unwrap_or_default(),
        "SendTime": send_time,
        "Month": month,
        "FailReason": fail_reason(m),
        "FailBackFlag": if fallback { "Y" } else { "N" },
        "FailBackContent": fb.and_then(|f| f.text.clone()).or_else(|| m.fallback_content.clone()).unwrap_or_default(),
    })
}

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    let channel = p.require("ChannelType")?;
    if !channel.eq_ignore_ascii_case("whatsapp") {
        return Err(CamsError::new(
            Code::ChannelTypeNotSupport,
            format!("ChannelType {channel:?} is not supported; opencams serves whatsapp."),
        ));
    }
    let page = Page::parse(p, 20, 100)?;
    let start = p.get_int("StartTime", 0, i64::MAX)?;
    let end = p.get_int("EndTime", 0, i64::MAX)?;
    let start_str = parse_time_str(ctx, "StartTimeStr")?;
    // a `…Str` end names a whole second: include its last millisecond
    let end_str = parse_time_str(ctx, "EndTimeStr")?.map(|t| t + 999);
    let direction = match p.get("EventAction").map(str::trim) {
        None => None,
        Some(a) => match Direction::ALL
            .iter()
            .find(|d| d.cams_name().eq_ignore_ascii_case(a))
        {
            Some(d) => Some(*d),
            None => {
                return Err(CamsError::invalid(
                    "EventAction",
                    format_args!("{a:?} is not valid; use DOWN (outbound) or UP (inbound)"),
                ));
            }
        },
    };
    let statuses = status_filter(ctx)?;
    let space = ctx.space().await?;
    let number = business_number(ctx, &space, "BusinessNumber").await?;
    let filter = MessageFilter {
        space_id: space.id,
        sender: Some(number.phone),
        recipient: p
            .get("UserNumber")
            .map(|u| u.trim().trim_start_matches('+').to_string()),
        direction,
        from_ms: start.into_iter().chain(start_str).max(),
        to_ms: end.into_iter().chain(end_str).min(),
        template_code: p.get("TemplateCode").map(String::from),
        group_id: p.get("GroupMessageId").map(String::from),
        statuses,
        // CAMS pages by number
        task_id: None,
        before: None,
        offset: page.offset(),
        limit: page.size,
    };
    let rows = ctx
        .state
        .store
        .list_messages(filter)
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("Success".into(), Value::Bool(true));
    let mut list = Vec::with_capacity(rows.len());
    for m in &rows {
        let fb = if m.fallback_id.is_some() {
            ctx.state.store.fallback(&m.id).await.map_err(internal)?
        } else {
            None
        };
        list.push(data(m, fb.as_ref()));
    }
    out.insert("Data".into(), Value::Array(list));
    Ok(out)
}
