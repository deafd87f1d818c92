//! SendChatappMessage (cams-api.md §3.1): validate in the documented order (§3.1.1), then store
//! the message and its queue entry in one durable transaction; answer only after the commit.

use opencams_domain::PhoneNumber;
use opencams_domain::message::{
    SendType, parse_channel_type, parse_content, parse_flow_action, parse_message_type,
    parse_payload, parse_product_action, parse_recipient_type, parse_send_type,
    parse_template_params,
};
use opencams_domain::send::{Outbound, new_outbound};
use opencams_domain::template;
use opencams_protocol::CamsError;
use opencams_store::MessageRow;
use opencams_store::events::accepted_events;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::send::{
    check_window, envelope, message_body, resolve_template, template_body, template_names,
};

pub async fn run(ctx: &Ctx<'_>) -> Result<Map<String, Value>, CamsError> {
    let p = ctx.params;
    // 1. envelope: mandatory parameters, enums, ranges, JSON shapes
    let channel = p.require("ChannelType")?;
    let send_type = p.require("Type")?;
    let from = p.require("From")?;
    let to = p.require("To")?;
    parse_channel_type(channel)?;
    let send_type = parse_send_type(send_type)?;
    parse_recipient_type(p.get("RecipientType"))?;
    let to = PhoneNumber::parse("To", to)?;
    let params = parse_template_params(p.get("TemplateParams"))?;
    let payload = parse_payload(p.get("Payload"))?;
    let product = parse_product_action(p.get("ProductAction"))?;
    let flow = parse_flow_action(p.get("FlowAction"))?;
    // 2. the sender (and the rest of the envelope)
    let env = envelope(ctx, from).await?;
    if let Some(ctx_id) = p.get("ContextMessageId") {
        let earlier = ctx.state.store.message(ctx_id).await.map_err(internal)?;
        let same = earlier.is_some_and(|m| {
            m.account_id == ctx.account_id()
                && m.sender == env.from.phone
                && m.recipient == to.as_str()
        });
        if !same {
            return Err(CamsError::invalid(
                "ContextMessageId",
                format_args!(
                    "{ctx_id:?} is not a message of the conversation between {} and {to}",
                    env.from.phone
                ),
            ));
        }
    }
    let now = ctx.now_ms();
    let id = ctx.state.ids.next(now);

    // 3. type-specific checks; 4. the window
    let outbound = match send_type {
        SendType::Template => {
            let language = match p.get("Language") {
                Some(l) => l,
                None => {
                    return Err(CamsError::new(
                        opencams_protocol::Code::LanguageNotEmpty,
                        "Language is mandatory when Type is template: the template language code, e.g. en_US.",
                    ));
                }
            };
            let checked = async {
                let t = resolve_template(ctx, &env.space, language).await?;
                template::check_send_params(&t.components, &params, &payload)?;
                Ok::<_, CamsError>(t)
            }
            .await;
            let body = template_body(&params, &payload, product.as_ref(), flow.as_ref());
            let (found, failed) = match checked {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(env.send.keep_as_failed(e)?)),
            };
            let (template_code, template_name) =
                template_names(ctx, found.as_ref().map(|t| &t.row));
            new_outbound(
                &env.send,
                Outbound {
                    id,
                    to: to.as_str(),
                    send_type: SendType::Template,
                    message_type: "template",
                    template_code,
                    template_name,
                    language: Some(language),
                    body,
                    failed: failed.as_ref(),
                    now,
                    ..Default::default()
                },
            )
        }
        SendType::Message => {
            // MessageType and Content are verified strictly even under sentFailed
            let message_type = parse_message_type(p.get("MessageType"))?;
            let content = parse_content(message_type, p.get("Content"))?;
            check_window(ctx, &env.from.phone, to.as_str()).await?;
            let (template_code, template_name) = template_names(ctx, None);
            new_outbound(
                &env.send,
                Outbound {
                    id,
                    to: to.as_str(),
                    send_type: SendType::Message,
                    message_type: message_type.as_str(),
                    template_code,
                    template_name,
                    body: message_body(&content),
                    context_id: p.get("ContextMessageId"),
                    now,
                    ..Default::default()
                },
            )
        }
    };
    let row = MessageRow::from(outbound);
    let events = accepted_events(&row);
    let message_id = row.id.clone();
    ctx.state
        .store
        .insert_messages(vec![row], events)
        .await
        .map_err(internal)?;
    let mut out = Map::new();
    out.insert("MessageId".into(), Value::String(message_id));
    Ok(out)
}
