#![allow(clippy::unwrap_used, reason = "test code")]
//! Template lifecycle over the Graph API with webhooks to a real receiver, template send
//! errors (132000/132001/132005/132012/132015/132016), named parameters, paging, delete, and an
//! external template directory.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::*;
use opencams_channels::simulator::{SimConfig, SimTemplate, TemplateDirectory};
use reqwest::Method;
use serde_json::{Value, json};

fn templates_path() -> String {
    format!("/v23.0/{WABA}/message_templates")
}

fn order_shipped() -> Value {
    json!({"name": "order_shipped", "language": "en_GB", "category": "UTILITY",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1h"]}},
            {"type": "BODY", "text": "Hi {{1}}, your order {{2}} has shipped.", "example": {"body_text": [["Ada", "A-1001"]]}},
            {"type": "FOOTER", "text": "Reply STOP to opt out"},
            {"type": "BUTTONS", "buttons": [
                {"type": "URL", "text": "Track", "url": "https://example.org/t/{{1}}", "example": ["https://example.org/t/A1"]},
                {"type": "QUICK_REPLY", "text": "Stop updates"}]}]})
}

fn send_order(to: &str, header: Value, body_params: Value, buttons: Vec<Value>) -> Value {
    let mut comps = vec![
        json!({"type": "header", "parameters": [header]}),
        json!({"type": "body", "parameters": body_params}),
    ];
    comps.extend(buttons);
    json!({"messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {"name": "order_shipped", "language": {"code": "en_GB"}, "components": comps}})
}

fn image() -> Value {
    json!({"type": "image", "image": {"link": "https://cdn.example.org/box.jpg"}})
}

fn url_button(text: &str) -> Value {
    json!({"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": text}]})
}

fn template_events(rx: &Receiver) -> Vec<Value> {
    rx.payloads()
        .into_iter()
        .filter(|p| p["entry"][0]["changes"][0]["field"] == "message_template_status_update")
        .map(|p| p["entry"][0]["changes"][0]["value"].clone())
        .collect()
}

#[tokio::test]
async fn lifecycle_with_webhooks_and_send_checks() {
    let rx = receiver(SECRET, 0).await;
    let h = harness(fast_config(Some(rx.url.clone()))).await;
    // Template management is authorised by a token of a number of that WABA.
    let (status, v) = h
        .call(
            Method::POST,
            &templates_path(),
            Some("bad"),
            Some(&order_shipped()),
        )
        .await;
    assert_eq!((status, error_code(&v)), (401, 190));

    let (status, v) = h
        .call(
            Method::POST,
            &templates_path(),
            Some(TOKEN),
            Some(&order_shipped()),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "PENDING");
    assert_eq!(v["category"], "UTILITY");
    let id = v["id"].as_str().unwrap().to_string();
    let (status, v) = h
        .call(
            Method::POST,
            &templates_path(),
            Some(TOKEN),
            Some(&order_shipped()),
        )
        .await;
    assert_eq!(
        (status, error_code(&v)),
        (400, 100),
        "same name and language twice"
    );

    let user = "447700900000";
    let ok = send_order(
        user,
        image(),
        json!([{"type": "text", "text": "Ada"}, {"type": "text", "text": "A-1001"}]),
        vec![url_button("A1B2")],
    );
    let (status, v) = h.send(ok.clone()).await;
    assert_eq!(
        (status, error_code(&v)),
        (404, 132001),
        "pending templates cannot be sent"
    );

    rx.wait_for("approval webhook", |r| !r.is_empty()).await;
    let ev = &template_events(&rx)[0];
    assert_eq!(ev["event"], "APPROVED");
    assert_eq!(
        ev["message_template_id"].as_u64().unwrap().to_string(),
        id,
        "numeric id in webhooks"
    );
    assert_eq!(ev["message_template_name"], "order_shipped");
    assert_eq!(ev["message_template_language"], "en_GB");
    assert_eq!(ev["reason"], "NONE");

    assert_eq!(
        h.send(ok.clone()).await.0,
        200,
        "templates need no open window"
    );

    let cases: Vec<(&str, Value, u64)> = vec![
        (
            "one body param",
            send_order(
                user,
                image(),
                json!([{"type": "text", "text": "Ada"}]),
                vec![url_button("x")],
            ),
            132000,
        ),
        (
            "video for image header",
            send_order(
                user,
                json!({"type": "video", "video": {"link": "https://cdn.example.org/v.mp4"}}),
                json!([{"type": "text", "text": "Ada"}, {"type": "text", "text": "A"}]),
                vec![url_button("x")],
            ),
            132012,
        ),
        (
            "missing url button",
            send_order(
                user,
                image(),
                json!([{"type": "text", "text": "Ada"}, {"type": "text", "text": "A"}]),
                vec![],
            ),
            132000,
        ),
        (
            "newline in param",
            send_order(
                user,
                image(),
                json!([{"type": "text", "text": "Ada\nL"}, {"type": "text", "text": "A"}]),
                vec![url_button("x")],
            ),
            132018,
        ),
        (
            "image in body",
            send_order(
                user,
                image(),
                json!([image(), {"type": "text", "text": "A"}]),
                vec![url_button("x")],
            ),
            132012,
        ),
        (
            "quick reply payload is optional but allowed",
            send_order(
                user,
                image(),
                json!([{"type": "text", "text": "Ada"}, {"type": "text", "text": "A"}]),
                vec![
                    url_button("x"),
                    json!({"type": "button", "sub_type": "quick_reply", "index": 1, "parameters": [{"type": "payload", "payload": "stop"}]}),
                ],
            ),
            0,
        ),
        (
            "too long once hydrated",
            send_order(
                user,
                image(),
                json!([{"type": "text", "text": "x".repeat(1100)}, {"type": "text", "text": "A"}]),
                vec![url_button("x")],
            ),
            132005,
        ),
        (
            "wrong language",
            json!({"messaging_product": "whatsapp", "to": user, "type": "template", "template": {"name": "order_shipped", "language": {"code": "en_US"}}}),
            132001,
        ),
    ];
    for (name, body, want) in cases {
        let (status, v) = h.send(body).await;
        assert_eq!(error_code(&v), want, "{name}: {status} {v}");
    }

    h.sim
        .set_template_status(WABA, "order_shipped", "en_GB", "PAUSED", None);
    assert_eq!(error_code(&h.send(ok.clone()).await.1), 132015);
    let (status, _) = h
        .call(
            Method::POST,
            &format!("/v23.0/{id}/unpause"),
            Some(TOKEN),
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.send(ok.clone()).await.0, 200);
    h.sim
        .set_template_status(WABA, "order_shipped", "en_GB", "DISABLED", None);
    assert_eq!(error_code(&h.send(ok).await.1), 132016);
    rx.wait_for("pause, approve, disable webhooks", |_| {
        template_events(&rx).len() >= 4
    })
    .await;
    let events: Vec<Value> = template_events(&rx)
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    assert_eq!(events, ["APPROVED", "PAUSED", "APPROVED", "DISABLED"]);
    assert!(rx.all().iter().all(|r| r.signature_ok));

    // Rejection.
    let mut bad = order_shipped();
    bad["name"] = json!("please_reject_me");
    assert_eq!(
        h.call(Method::POST, &templates_path(), Some(TOKEN), Some(&bad))
            .await
            .0,
        200
    );
    rx.wait_for("rejection", |_| {
        template_events(&rx)
            .iter()
            .any(|e| e["event"] == "REJECTED")
    })
    .await;
    let rej = template_events(&rx)
        .into_iter()
        .find(|e| e["event"] == "REJECTED")
        .unwrap();
    assert_eq!(rej["reason"], "INVALID_FORMAT");
    assert_eq!(rej["message_template_name"], "please_reject_me");

    // Get one, edit (back to review), delete.
    let (status, v) = h.get(&format!("/v23.0/{id}?fields=name,status")).await;
    assert_eq!(status, 200);
    assert_eq!(
        v,
        json!({"name": "order_shipped", "status": "DISABLED", "id": id})
    );
    let edit = json!({"components": [{"type": "BODY", "text": "Hello {{1}}, thanks.", "example": {"body_text": [["Ada"]]}}]});
    let (status, v) = h
        .call(
            Method::POST,
            &format!("/v23.0/{id}"),
            Some(TOKEN),
            Some(&edit),
        )
        .await;
    assert_eq!((status, v), (200, json!({"success": true})));
    assert_eq!(h.get(&format!("/v23.0/{id}")).await.1["status"], "PENDING");
    let (status, _) = h
        .call(
            Method::DELETE,
            &format!("{}?name=order_shipped", templates_path()),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        h.get(&format!("/v23.0/{id}")).await.1["error"]["error_subcode"],
        33
    );
}

#[tokio::test]
async fn list_paging_and_delete_by_hsm_id() {
    let h = harness(fast_config(None)).await;
    h.open_window("447700900123").await; // lets the simulator learn the WABA of its number
    let mut ids = Vec::new();
    for lang in ["en", "en_GB", "de", "fr"] {
        let body = json!({"name": "greeting", "language": lang, "category": "MARKETING", "components": [{"type": "BODY", "text": "Hello there"}]});
        let (status, v) = h
            .call(Method::POST, &templates_path(), Some(TOKEN), Some(&body))
            .await;
        assert_eq!(status, 200, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut url = format!("{}?limit=3&fields=name,language", templates_path());
    loop {
        let (status, v) = h.get(&url).await;
        assert_eq!(status, 200, "{v}");
        for t in v["data"].as_array().unwrap() {
            assert!(
                t.get("components").is_none(),
                "fields= restricts the object"
            );
            seen.push(t["language"].as_str().unwrap().to_string());
        }
        match v["paging"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&h.base), "absolute next URL: {next}");
                url = next.trim_start_matches(&h.base).to_string();
            }
            None => break,
        }
    }
    assert_eq!(seen, ["en", "en_GB", "de", "fr"]);

    let path = format!("{}?name=greeting&hsm_id={}", templates_path(), ids[2]);
    assert_eq!(
        h.call(Method::DELETE, &path, Some(TOKEN), None).await.0,
        200
    );
    let (_, v) = h.get(&format!("{}?name=greeting", templates_path())).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 3);
    let (status, v) = h
        .call(
            Method::DELETE,
            &format!("{}?name=nothing", templates_path()),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!((status, error_code(&v)), (400, 100));

    let invalid = json!({"name": "Bad Name", "language": "en", "category": "UTILITY", "components": [{"type": "BODY", "text": "x"}]});
    assert_eq!(
        error_code(
            &h.call(Method::POST, &templates_path(), Some(TOKEN), Some(&invalid))
                .await
                .1
        ),
        100
    );
}

struct Directory;

#[async_trait]
impl TemplateDirectory for Directory {
    async fn lookup(&self, waba_id: &str, name: &str, language: &str) -> Option<SimTemplate> {
        if name == "hello_world" {
            return Some(SimTemplate {
                name: name.into(),
                language: language.into(),
                status: "APPROVED".into(),
                category: "MARKETING".into(),
                ..SimTemplate::default()
            });
        }
        (waba_id == WABA && name == "welcome" && language == "en").then(|| SimTemplate {
            name: name.into(),
            language: language.into(),
            status: "APPROVED".into(),
            category: "UTILITY".into(),
            body_params: vec!["first_name".into(), "order_id".into()],
            header_param: None,
            header_format: None,
            button_params: vec![(0, "copy_code".into())],
            body_text: Some("Hi {{first_name}}, order {{order_id}}.".into()),
        })
    }
}

#[tokio::test]
async fn external_directory_and_named_parameters() {
    let h = harness(fast_config(None)).await;
    h.sim.set_template_directory(Arc::new(Directory));
    let send = |params: Value, button: bool| {
        let mut comps = vec![json!({"type": "body", "parameters": params})];
        if button {
            comps.push(json!({"type": "button", "sub_type": "copy_code", "index": 0, "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}]}));
        }
        json!({"messaging_product": "whatsapp", "to": "447700900000", "type": "template",
            "template": {"name": "welcome", "language": {"code": "en"}, "components": comps}})
    };
    let named = json!([{"type": "text", "parameter_name": "order_id", "text": "A1"}, {"type": "text", "parameter_name": "first_name", "text": "Ada"}]);
    let (status, v) = h.send(send(named.clone(), true)).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        error_code(&h.send(send(named, false)).await.1),
        132000,
        "copy_code button value missing"
    );
    let positional = json!([{"type": "text", "text": "Ada"}, {"type": "text", "text": "A1"}]);
    assert_eq!(
        error_code(&h.send(send(positional, true)).await.1),
        132000,
        "named template needs parameter_name"
    );
    let wrong_name = json!([{"type": "text", "parameter_name": "first_name", "text": "Ada"}, {"type": "text", "parameter_name": "order", "text": "A1"}]);
    assert_eq!(error_code(&h.send(send(wrong_name, true)).await.1), 132000);
}

#[tokio::test]
async fn messaging_limit_counts_unique_users_outside_the_window() {
    let cfg = SimConfig {
        messaging_limit: Some(2),
        ..fast_config(None)
    };
    let h = harness(cfg).await;
    h.sim.set_template_directory(Arc::new(Directory));
    let hello = |to: &str| json!({"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}});
    let mut ids = Vec::new();
    for to in [
        "447700902001",
        "447700902002",
        "447700902003",
        "447700902001",
    ] {
        let (status, v) = h.send(hello(to)).await;
        assert_eq!(status, 200, "over-limit sends are accepted, then fail");
        ids.push(v["messages"][0]["id"].as_str().unwrap().to_string());
    }
    h.open_window("447700902004").await;
    let (_, v) = h.send(hello("447700902004")).await;
    ids.push(v["messages"][0]["id"].as_str().unwrap().to_string());
    h.wait_until("first statuses", |h| {
        ids.iter().all(|id| h.statuses().iter().any(|s| &s.0 == id))
    })
    .await;
    let first: Vec<String> = ids
        .iter()
        .map(|id| h.statuses().into_iter().find(|s| &s.0 == id).unwrap().1)
        .collect();
    assert_eq!(
        first,
        ["sent", "sent", "failed", "sent", "sent"],
        "third new user is over the limit; repeats and open windows are free"
    );
    let failed = h.statuses().into_iter().find(|s| s.0 == ids[2]).unwrap();
    assert_eq!(failed.2["errors"][0]["code"], 131048);
}
