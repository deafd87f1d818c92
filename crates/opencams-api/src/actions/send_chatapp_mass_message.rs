//! SendChatappMassMessage (cams-api.md §3.2): one approved template to up to 1,000 recipients.
//! The whole batch is validated before any of it is stored (errors name the index) and stored in
//! one transaction; each recipient becomes its own message linked by the GroupMessageId.

use opencams_domain::SendType;
use opencams_domain::message::{parse_channel_type, parse_sender_list};
use opencams_domain::send::{Outbound, new_outbound};
use opencams_domain::template;
use opencams_protocol::{CamsError, Code};
use opencams_store::MessageRow;
use opencams_store::events::accepted_events;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::send::{envelope, resolve_template, template_body, template_names};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    let channel = p.require("ChannelType")?;
    let from = p.require("From")?;
    parse_channel_type(channel)?;
    let Some(language) = p.get("Language") else {
        return Err(CamsError::new(
            Code::LanguageNotEmpty,
            "Language is mandatory: the template language code, e.g. en_US.",
        ));
    };
    let recipients = parse_sender_list(p.get_json_text("SenderList").or(p.get("SenderList")))?;
    let env = envelope(ctx, from).await?;
    // a missing or unapproved template fails every recipient alike
    let resolved = match resolve_template(ctx, &env.space, language).await {
        Ok(t) => Ok(t),
        Err(e) => Err(env.send.keep_as_failed(e)?),
    };
    let now = ctx.now_ms();
    let group_id = ctx.state.ids.next(now);
    let mut rows = Vec::with_capacity(recipients.len());
    let mut events = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        let body = template_body(
            &r.template_params,
            &r.payload,
            r.product_action.as_ref(),
            r.flow_action.as_ref(),
        );
        let verdict = match &resolved {
            Ok(t) => template::check_send_params(&t.components, &r.template_params, &r.payload)
                .map_err(|e| CamsError {
                    message: format!("SenderList[{i}]: {}", e.message),
                    ..e
                }),
            Err(e) => Err(e.clone()),
        };
        let failed = match verdict {
            Ok(()) => None,
            Err(e) => Some(env.send.keep_as_failed(e)?),
        };
        let template_row = resolved.as_ref().ok().map(|t| &t.row);
        let (template_code, template_name) = template_names(ctx, template_row);
        let row = MessageRow::from(new_outbound(
            &env.send,
            Outbound {
                id: ctx.state.ids.next(now),
                to: r.to.as_str(),
                send_type: SendType::Template,
                message_type: "template",
                template_code,
                template_name,
                language: Some(language),
                body,
                group_id: Some(&group_id),
                failed: failed.as_ref(),
                now,
                ..Default::default()
            },
        ));
        events.extend(accepted_events(&row));
        rows.push(row);
    }
    ctx.state
        .store
        .insert_messages(rows, events)
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("GroupMessageId".into(), Value::String(group_id));
    Ok(out)
}
