//! What a send carries: channel, type and message type, the `Content` of a free-form message
//! validated per type and turned into the exact Cloud API object, and the shrink-JSON parameters
//! (template variables, quick-reply payloads, product and flow actions, mass-send recipients).
//! Pure logic; the server stores and the dispatcher sends.

mod contacts;
mod content;
mod interactive;
mod kinds;
mod params;
pub mod request;

#[cfg(test)]
mod tests;

pub use content::{CAPTION_MAX, Content, TEXT_MAX, parse_content};
pub use kinds::{
    ChannelType, FallBackRule, MessageType, RecipientType, SendType, parse_channel_type,
    parse_fallback_duration, parse_fallback_rule, parse_message_type, parse_recipient_type,
    parse_send_type, parse_ttl,
};
pub use params::{
    FlowAction, MAX_RECIPIENTS, ProductAction, ProductSection, Recipient, parse_flow_action,
    parse_payload, parse_product_action, parse_sender_list, parse_template_params,
};
