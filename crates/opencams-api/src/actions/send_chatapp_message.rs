//! SendChatappMessage (cams-api.md §3.1): validate in the documented order (§3.1.1), then store
//! the message and its queue entry in one durable transaction; answer only after the commit.

use opencams_domain::PhoneNumber;
use opencams_domain::message::{
    SendType, parse_channel_type, parse_content, parse_flow_action, parse_message_type,
    parse_payload, parse_product_action, parse_recipient_type, parse_send_type,
    parse_template_params,
};
use opencams_domain::template;
use opencams_protocol::CamsError;
use serde_json::{Map, Value};

use crate::context::{Ctx, internal};
use crate::send::{
    accepted_events, check_window, envelope, message_body, outbound_row, resolve_template,
    template_body,
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
    let row = match send_type {
        SendType::Template => {
            let language = match p.get("Language") {
                Some(l) => l.to_string(),
                None => {
                    return Err(CamsError::new(
                        opencams_protocol::Code::LanguageNotEmpty,
                        "Language is mandatory when Type is template: the template language code, e.g. en_US.",
                    ));
                }
            };
            let checked = async {
                let t = resolve_template(ctx, &env.space, &language).await?;
                template::check_send_params(&t.components, &params, &payload)?;
                Ok::<_, CamsError>(t)
            }
            .await;
            let body = template_body(&params, &payload, product.as_ref(), flow.as_ref());
            match checked {
                Ok(t) => outbound_row(
                    id,
                    ctx,
                    &env,
                    to.as_str(),
                    "template",
                    "template",
                    Some(&t.row),
                    Some(&language),
                    body,
                    None,
                    None,
                    None,
                    now,
                ),
                Err(e) => {
                    let e = env.keep_as_failed(e)?;
                    outbound_row(
                        id,
                        ctx,
                        &env,
                        to.as_str(),
                        "template",
                        "template",
                        None,
                        Some(&language),
                        body,
                        None,
                        None,
                        Some(&e),
                        now,
                    )
                }
            }
        }
        SendType::Message => {
            // MessageType and Content are verified strictly even under sentFailed
            let message_type = parse_message_type(p.get("MessageType"))?;
            let content = parse_content(message_type, p.get("Content"))?;
            check_window(ctx, &env.from.phone, to.as_str()).await?;
            let ctx_id = p.get("ContextMessageId");
            outbound_row(
                id,
                ctx,
                &env,
                to.as_str(),
                "message",
                message_type.as_str(),
                None,
                None,
                message_body(&content),
                None,
                ctx_id,
                None,
                now,
            )
        }
    };
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
