#![allow(clippy::unwrap_used, reason = "test code")]
//! Table-driven payload validation (whatsapp-cloud-api.md §1.3–§1.11): request JSON → code.

mod common;

use common::*;
use opencams_channels::simulator::validate_send;
use serde_json::{Value, json};

fn msg(kind: &str, content: Value) -> Value {
    let mut m = json!({"messaging_product": "whatsapp", "to": "+447700900123", "type": kind});
    m[kind] = content;
    m
}

fn interactive(i: Value) -> Value {
    msg("interactive", i)
}

fn buttons(n: usize) -> Value {
    let list: Vec<Value> = (0..n).map(|i| json!({"type": "reply", "reply": {"id": format!("b{i}"), "title": format!("B{i}")}})).collect();
    interactive(json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": list}}))
}

fn list_rows(sections: usize, rows_each: usize) -> Value {
    let secs: Vec<Value> = (0..sections)
        .map(|s| {
            let rows: Vec<Value> = (0..rows_each)
                .map(|r| json!({"id": format!("r{s}-{r}"), "title": "Row"}))
                .collect();
            json!({"title": format!("S{s}"), "rows": rows})
        })
        .collect();
    interactive(
        json!({"type": "list", "body": {"text": "Choose"}, "action": {"button": "Options", "sections": secs}}),
    )
}

fn products(sections: usize, each: usize) -> Value {
    let secs: Vec<Value> = (0..sections)
        .map(|s| {
            let items: Vec<Value> = (0..each)
                .map(|i| json!({"product_retailer_id": format!("SKU{s}-{i}")}))
                .collect();
            json!({"title": format!("S{s}"), "product_items": items})
        })
        .collect();
    interactive(
        json!({"type": "product_list", "header": {"type": "text", "text": "Shop"}, "body": {"text": "Pick"},
        "action": {"catalog_id": "c1", "sections": secs}}),
    )
}

fn flow(params: Value) -> Value {
    interactive(
        json!({"type": "flow", "body": {"text": "Update"}, "action": {"name": "flow", "parameters": params}}),
    )
}

fn contacts(n: usize) -> Value {
    let list: Vec<Value> = (0..n).map(|_| json!({"name": {"formatted_name": "Ada L"}, "phones": [{"phone": "+447700900123", "type": "CELL"}]})).collect();
    json!({"messaging_product": "whatsapp", "to": "447700900123", "type": "contacts", "contacts": list})
}

#[test]
fn validation_table() {
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(&str, Value, u32)> = vec![
        // envelope
        ("ok text", msg("text", json!({"body": "hi"})), 0),
        (
            "type omitted with text",
            json!({"messaging_product": "whatsapp", "to": "447700900123", "text": {"body": "hi"}}),
            0,
        ),
        (
            "missing messaging_product",
            json!({"to": "447700900123", "type": "text", "text": {"body": "hi"}}),
            100,
        ),
        (
            "wrong messaging_product",
            json!({"messaging_product": "sms", "to": "447700900123", "type": "text", "text": {"body": "hi"}}),
            100,
        ),
        (
            "missing to",
            json!({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}}),
            100,
        ),
        (
            "bad to",
            msg("text", json!({"body": "hi"})).tap(|m| m["to"] = json!("abc")),
            100,
        ),
        ("unknown type", msg("carrier_pigeon", json!({})), 100),
        (
            "unknown top-level field",
            msg("text", json!({"body": "hi"})).tap(|m| m["foo"] = json!(1)),
            100,
        ),
        (
            "type object missing",
            json!({"messaging_product": "whatsapp", "to": "447700900123", "type": "image"}),
            131008,
        ),
        (
            "biz_opaque too long",
            msg("text", json!({"body": "hi"}))
                .tap(|m| m["biz_opaque_callback_data"] = json!(long(513))),
            131009,
        ),
        (
            "biz_opaque at limit",
            msg("text", json!({"body": "hi"}))
                .tap(|m| m["biz_opaque_callback_data"] = json!(long(512))),
            0,
        ),
        (
            "context without message_id",
            msg("text", json!({"body": "hi"})).tap(|m| m["context"] = json!({})),
            131008,
        ),
        // text
        ("text missing body", msg("text", json!({})), 131008),
        ("text 4096", msg("text", json!({"body": long(4096)})), 0),
        (
            "text 4097",
            msg("text", json!({"body": long(4097)})),
            131009,
        ),
        (
            "text counts chars not bytes",
            msg("text", json!({"body": "ä".repeat(4096)})),
            0,
        ),
        (
            "preview_url not bool",
            msg("text", json!({"body": "hi", "preview_url": "yes"})),
            100,
        ),
        // media
        (
            "image link",
            msg(
                "image",
                json!({"link": "https://x.example/a.jpg", "caption": "c"}),
            ),
            0,
        ),
        (
            "image neither id nor link",
            msg("image", json!({"caption": "c"})),
            131008,
        ),
        (
            "image both id and link",
            msg(
                "image",
                json!({"id": "1", "link": "https://x.example/a.jpg"}),
            ),
            131009,
        ),
        (
            "image bad link",
            msg("image", json!({"link": "ftp://x.example/a.jpg"})),
            131009,
        ),
        (
            "caption 1025",
            msg(
                "video",
                json!({"link": "https://x.example/a.mp4", "caption": long(1025)}),
            ),
            131009,
        ),
        (
            "audio caption not allowed",
            msg("audio", json!({"id": "1", "caption": "c"})),
            131009,
        ),
        (
            "sticker caption not allowed",
            msg("sticker", json!({"id": "1", "caption": "c"})),
            131009,
        ),
        (
            "document filename",
            msg(
                "document",
                json!({"link": "https://x.example/a.pdf", "filename": "a.pdf", "caption": "c"}),
            ),
            0,
        ),
        (
            "image filename not allowed",
            msg(
                "image",
                json!({"link": "https://x.example/a.jpg", "filename": "a.jpg"}),
            ),
            131009,
        ),
        // location
        (
            "location numbers",
            msg(
                "location",
                json!({"latitude": 51.5, "longitude": -0.12, "name": "Office"}),
            ),
            0,
        ),
        (
            "location strings",
            msg(
                "location",
                json!({"latitude": "51.5", "longitude": "-0.12"}),
            ),
            0,
        ),
        (
            "latitude out of range",
            msg("location", json!({"latitude": 91, "longitude": 0})),
            131009,
        ),
        (
            "longitude out of range",
            msg("location", json!({"latitude": 0, "longitude": -181})),
            131009,
        ),
        (
            "location missing longitude",
            msg("location", json!({"latitude": 0})),
            131008,
        ),
        // contacts
        ("contacts 1", contacts(1), 0),
        ("contacts 5", contacts(5), 0),
        ("contacts 0", contacts(0), 131008),
        ("contacts 6", contacts(6), 131009),
        (
            "contact without formatted_name",
            json!({"messaging_product": "whatsapp", "to": "447700900123", "type": "contacts", "contacts": [{"name": {"first_name": "Ada"}}]}),
            131008,
        ),
        // reaction
        (
            "reaction",
            msg("reaction", json!({"message_id": "wamid.X", "emoji": "👍"})),
            0,
        ),
        (
            "reaction removal",
            msg("reaction", json!({"message_id": "wamid.X", "emoji": ""})),
            0,
        ),
        (
            "reaction text instead of emoji",
            msg("reaction", json!({"message_id": "wamid.X", "emoji": "ok"})),
            131009,
        ),
        (
            "reaction missing message_id",
            msg("reaction", json!({"emoji": "👍"})),
            131008,
        ),
        // reply buttons
        ("3 buttons", buttons(3), 0),
        ("4 buttons", buttons(4), 131009),
        ("0 buttons", buttons(0), 131009),
        (
            "duplicate button ids",
            interactive(
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "A"}}, {"type": "reply", "reply": {"id": "a", "title": "B"}}]}}),
            ),
            131009,
        ),
        (
            "duplicate button titles",
            interactive(
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": "A"}}, {"type": "reply", "reply": {"id": "b", "title": "A"}}]}}),
            ),
            131009,
        ),
        (
            "button title 21",
            interactive(
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a", "title": long(21)}}]}}),
            ),
            131009,
        ),
        (
            "button id with spaces",
            interactive(
                json!({"type": "button", "body": {"text": "Pick"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": " a", "title": "A"}}]}}),
            ),
            131009,
        ),
        (
            "interactive body missing",
            interactive(json!({"type": "button", "action": {"buttons": []}})),
            131008,
        ),
        (
            "interactive body 1025",
            interactive(
                json!({"type": "button", "body": {"text": long(1025)}, "action": {"buttons": []}}),
            ),
            131009,
        ),
        (
            "header text 61",
            interactive(
                json!({"type": "button", "header": {"type": "text", "text": long(61)}, "body": {"text": "b"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
            ),
            131009,
        ),
        (
            "footer 61",
            interactive(
                json!({"type": "button", "footer": {"text": long(61)}, "body": {"text": "b"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
            ),
            131009,
        ),
        (
            "image header on buttons",
            interactive(
                json!({"type": "button", "header": {"type": "image", "image": {"link": "https://x.example/i.png"}},
            "body": {"text": "b"}, "action": {"buttons": [{"type": "reply", "reply": {"id": "a", "title": "A"}}]}}),
            ),
            0,
        ),
        (
            "unknown interactive type",
            interactive(json!({"type": "carousel", "body": {"text": "b"}, "action": {}})),
            131009,
        ),
        // lists
        ("list 10 rows", list_rows(2, 5), 0),
        ("list 11 rows across sections", list_rows(3, 4), 131009),
        ("list 11 sections", list_rows(11, 1), 131009),
        (
            "list one untitled section",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": "Go", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}),
            ),
            0,
        ),
        (
            "list untitled section among two",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": "Go",
            "sections": [{"rows": [{"id": "a", "title": "A"}]}, {"title": "T", "rows": [{"id": "b", "title": "B"}]}]}}),
            ),
            131008,
        ),
        (
            "list row title 25",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": "Go", "sections": [{"rows": [{"id": "a", "title": long(25)}]}]}}),
            ),
            131009,
        ),
        (
            "list row description 73",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": "Go", "sections": [{"rows": [{"id": "a", "title": "A", "description": long(73)}]}]}}),
            ),
            131009,
        ),
        (
            "list button label 21",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": long(21), "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}),
            ),
            131009,
        ),
        (
            "list image header",
            interactive(
                json!({"type": "list", "header": {"type": "image", "image": {"link": "https://x.example/i.png"}}, "body": {"text": "b"},
            "action": {"button": "Go", "sections": [{"rows": [{"id": "a", "title": "A"}]}]}}),
            ),
            131009,
        ),
        (
            "list duplicate row ids",
            interactive(
                json!({"type": "list", "body": {"text": "b"}, "action": {"button": "Go", "sections": [{"rows": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}]}}),
            ),
            131009,
        ),
        // cta_url
        (
            "cta_url",
            interactive(
                json!({"type": "cta_url", "body": {"text": "b"}, "action": {"name": "cta_url", "parameters": {"display_text": "Track", "url": "https://x.example/t"}}}),
            ),
            0,
        ),
        (
            "cta_url display_text 21",
            interactive(
                json!({"type": "cta_url", "body": {"text": "b"}, "action": {"name": "cta_url", "parameters": {"display_text": long(21), "url": "https://x.example/t"}}}),
            ),
            131009,
        ),
        (
            "cta_url missing url",
            interactive(
                json!({"type": "cta_url", "body": {"text": "b"}, "action": {"name": "cta_url", "parameters": {"display_text": "Go"}}}),
            ),
            131008,
        ),
        // products
        (
            "single product without body",
            interactive(
                json!({"type": "product", "action": {"catalog_id": "c", "product_retailer_id": "SKU"}}),
            ),
            0,
        ),
        (
            "single product with header",
            interactive(
                json!({"type": "product", "header": {"type": "text", "text": "h"}, "action": {"catalog_id": "c", "product_retailer_id": "SKU"}}),
            ),
            131009,
        ),
        ("product_list 30 products", products(3, 10), 0),
        ("product_list 31 products", products(1, 31), 131009),
        ("product_list 11 sections", products(11, 1), 131009),
        (
            "product_list without header",
            interactive(
                json!({"type": "product_list", "body": {"text": "b"}, "action": {"catalog_id": "c", "sections": [{"title": "s", "product_items": [{"product_retailer_id": "a"}]}]}}),
            ),
            131008,
        ),
        ("product_list empty section", products(1, 0), 131008),
        (
            "catalog_message",
            interactive(
                json!({"type": "catalog_message", "body": {"text": "b"}, "action": {"name": "catalog_message", "parameters": {"thumbnail_product_retailer_id": "SKU"}}}),
            ),
            0,
        ),
        // flows
        (
            "flow",
            flow(
                json!({"flow_message_version": "3", "flow_id": "1", "flow_cta": "Open", "flow_action": "navigate", "flow_action_payload": {"screen": "A", "data": {"k": "v"}}}),
            ),
            0,
        ),
        (
            "flow version 2",
            flow(json!({"flow_message_version": "2", "flow_id": "1", "flow_cta": "Open"})),
            131009,
        ),
        (
            "flow id and name",
            flow(
                json!({"flow_message_version": "3", "flow_id": "1", "flow_name": "n", "flow_cta": "Open"}),
            ),
            131009,
        ),
        (
            "flow without id",
            flow(json!({"flow_message_version": "3", "flow_cta": "Open"})),
            131008,
        ),
        (
            "flow cta emoji",
            flow(json!({"flow_message_version": "3", "flow_id": "1", "flow_cta": "Open 👍"})),
            131009,
        ),
        (
            "flow empty data",
            flow(
                json!({"flow_message_version": "3", "flow_id": "1", "flow_cta": "Open", "flow_action_payload": {"screen": "A", "data": {}}}),
            ),
            131009,
        ),
        (
            "flow bad mode",
            flow(
                json!({"flow_message_version": "3", "flow_id": "1", "flow_cta": "Open", "mode": "live"}),
            ),
            131009,
        ),
        (
            "location request",
            interactive(
                json!({"type": "location_request_message", "body": {"text": "Where?"}, "action": {"name": "send_location"}}),
            ),
            0,
        ),
        (
            "location request wrong action",
            interactive(
                json!({"type": "location_request_message", "body": {"text": "Where?"}, "action": {"name": "send"}}),
            ),
            131009,
        ),
        // template shapes (store checks are in templates.rs)
        (
            "template",
            msg(
                "template",
                json!({"name": "hello_world", "language": {"code": "en_US"}}),
            ),
            0,
        ),
        (
            "template without language",
            msg("template", json!({"name": "hello_world"})),
            131008,
        ),
        (
            "template bad component type",
            msg(
                "template",
                json!({"name": "t", "language": {"code": "en"}, "components": [{"type": "footer"}]}),
            ),
            131009,
        ),
        (
            "template button without index",
            msg(
                "template",
                json!({"name": "t", "language": {"code": "en"}, "components": [{"type": "button", "sub_type": "url", "parameters": []}]}),
            ),
            131008,
        ),
        (
            "template header media with caption",
            msg(
                "template",
                json!({"name": "t", "language": {"code": "en"}, "components": [{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://x.example/i.png", "caption": "c"}}]}]}),
            ),
            131009,
        ),
        (
            "template currency without amount",
            msg(
                "template",
                json!({"name": "t", "language": {"code": "en"}, "components": [{"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "£1", "code": "GBP"}}]}]}),
            ),
            131008,
        ),
    ];
    let mut failures = Vec::new();
    for (name, body, want) in &cases {
        let got = match validate_send(body, true) {
            Ok(_) => 0,
            Err(e) => e.code,
        };
        if got != *want {
            failures.push(format!(
                "{name}: want {want}, got {got} ({:?})",
                validate_send(body, true).err().map(|e| e.details)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn lenient_mode_ignores_unknown_fields() {
    let body = msg("text", json!({"body": "hi"})).tap(|m| m["foo"] = json!(1));
    assert!(validate_send(&body, false).is_ok());
}

#[tokio::test]
async fn http_errors_have_metas_shape() {
    let h = harness(fast_config(None)).await;
    let (status, body) = h.send(msg("text", json!({"body": "x".repeat(4097)}))).await;
    assert_eq!(status, 400);
    let e = &body["error"];
    assert_eq!(e["code"], 131009);
    assert_eq!(e["type"], "OAuthException");
    assert!(e["message"].as_str().unwrap().starts_with("(#131009) "));
    assert_eq!(e["error_data"]["messaging_product"], "whatsapp");
    assert!(
        e["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("text.body")
    );
    assert!(e["fbtrace_id"].as_str().is_some_and(|s| !s.is_empty()));

    let (status, body) = h
        .call(
            reqwest::Method::POST,
            &format!("/v23.0/{PNID}/messages"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (400, 100),
        "empty body is not JSON"
    );
}

trait Tap {
    fn tap(self, f: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
