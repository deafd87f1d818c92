#![allow(clippy::unwrap_used, reason = "test code")]
//! Inbound messages of every type (whatsapp-cloud-api.md §3.5) and the Media API (§6):
//! upload, URL lookup, authenticated download, expiry, delete.

mod common;

use std::sync::Arc;

use common::*;
use opencams_channels::simulator::SimError;
use opencams_domain::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};

fn last_value(h: &Harness) -> Value {
    h.sim.emitted_webhooks().last().unwrap()["entry"][0]["changes"][0]["value"].clone()
}

#[tokio::test]
async fn inbound_envelope_and_types() {
    let h = harness(fast_config(None)).await;
    let user = "447700900123";
    let wamid = h
        .sim
        .inject_inbound(
            PNID,
            user,
            "Ada L",
            json!({"type": "text", "text": {"body": "hi"}}),
        )
        .await
        .unwrap();
    let p = h.sim.emitted_webhooks().last().unwrap().clone();
    assert_eq!(p["object"], "whatsapp_business_account");
    assert_eq!(p["entry"][0]["id"], WABA);
    assert_eq!(p["entry"][0]["changes"][0]["field"], "messages");
    let v = &p["entry"][0]["changes"][0]["value"];
    assert_eq!(v["messaging_product"], "whatsapp");
    assert_eq!(
        v["metadata"],
        json!({"display_phone_number": DISPLAY, "phone_number_id": PNID})
    );
    assert_eq!(
        v["contacts"],
        json!([{"profile": {"name": "Ada L"}, "wa_id": user, "user_id": opencams_channels::simulator::bsuid(user)}])
    );
    let m = &v["messages"][0];
    assert_eq!(
        (m["from"].as_str(), m["id"].as_str(), m["type"].as_str()),
        (Some(user), Some(wamid.as_str()), Some("text"))
    );
    assert!(
        m["timestamp"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    assert!(h.sim.window_open(PNID, user));

    let out = "wamid.OUTBOUND";
    let cases: Vec<Value> = vec![
        json!({"type": "location", "location": {"latitude": 51.5, "longitude": -0.12, "name": "Office"}}),
        json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+4477", "type": "CELL"}]}]}),
        json!({"type": "reaction", "reaction": {"message_id": out, "emoji": "👍"}}),
        json!({"type": "reaction", "reaction": {"message_id": out}}),
        json!({"type": "button", "context": {"from": DISPLAY, "id": out}, "button": {"payload": "stop_shipping_updates", "text": "Stop updates"}}),
        json!({"type": "interactive", "context": {"from": DISPLAY, "id": out}, "interactive": {"type": "button_reply", "button_reply": {"id": "slot_yes", "title": "Yes"}}}),
        json!({"type": "interactive", "context": {"from": DISPLAY, "id": out}, "interactive": {"type": "list_reply", "list_reply": {"id": "exp", "title": "Express", "description": "Next day"}}}),
        json!({"type": "interactive", "context": {"from": DISPLAY, "id": out}, "interactive": {"type": "nfm_reply", "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{\"flow_token\":\"gw-77\"}"}}}),
        json!({"type": "order", "order": {"catalog_id": "c1", "text": "", "product_items": [{"product_retailer_id": "SKU1", "quantity": 2, "item_price": 9.5, "currency": "GBP"}]}}),
        json!({"type": "text", "text": {"body": "from an ad"}, "referral": {"source_url": "https://fb.me/x", "source_id": "1", "source_type": "ad", "ctwa_clid": "abc"}}),
    ];
    for msg in cases {
        h.sim
            .inject_inbound(PNID, user, "Ada L", msg.clone())
            .await
            .unwrap();
        let got = last_value(&h)["messages"][0].clone();
        for (k, want) in msg.as_object().unwrap() {
            assert_eq!(&got[k], want, "field {k} of {msg}");
        }
    }

    h.sim
        .inject_inbound(PNID, user, "Ada L", json!({"type": "unsupported"}))
        .await
        .unwrap();
    let m = last_value(&h)["messages"][0].clone();
    assert_eq!(m["errors"][0]["code"], 131051);

    h.sim.inject_inbound(PNID, user, "Ada L", json!({"type": "system", "system": {"type": "user_changed_number", "body": "changed", "wa_id": "447700900999"}})).await.unwrap();
    assert!(
        last_value(&h).get("contacts").is_none(),
        "system messages come without contacts"
    );

    assert_eq!(
        h.sim
            .inject_inbound(
                "nope",
                user,
                "x",
                json!({"type": "text", "text": {"body": "hi"}})
            )
            .await,
        Err(SimError::UnknownNumber("nope".into()))
    );
    assert!(matches!(
        h.sim
            .inject_inbound(PNID, user, "x", json!({"type": "text"}))
            .await,
        Err(SimError::InvalidMessage(_))
    ));
    assert!(matches!(
        h.sim
            .inject_inbound(PNID, user, "x", json!({"type": "hologram"}))
            .await,
        Err(SimError::InvalidMessage(_))
    ));
}

#[tokio::test]
async fn inbound_media_resolves_and_downloads_with_the_token() {
    let h = harness(fast_config(None)).await;
    for (kind, extra) in [
        ("image", json!({"caption": "look"})),
        ("document", json!({"filename": "inv.pdf"})),
        ("audio", json!({"voice": true})),
        ("sticker", json!({})),
        ("video", json!({})),
    ] {
        let mut msg = json!({"type": kind});
        msg[kind] = extra.clone();
        h.sim
            .inject_inbound(PNID, "447700900123", "Ada", msg)
            .await
            .unwrap();
        let obj = last_value(&h)["messages"][0][kind].clone();
        for (k, v) in extra.as_object().unwrap() {
            assert_eq!(&obj[k], v);
        }
        let id = obj["id"].as_str().unwrap();
        assert!(obj["mime_type"].is_string() && obj["sha256"].is_string());
        let (status, info) = h.get(&format!("/v23.0/{id}")).await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["id"], id);
        let url = info["url"].as_str().unwrap();
        assert!(url.starts_with(&h.base), "URL under the mount point: {url}");
        let resp = h.http.get(url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(!resp.bytes().await.unwrap().is_empty());
        assert_eq!(
            h.http.get(url).send().await.unwrap().status(),
            401,
            "download needs the bearer token"
        );
    }
}

#[tokio::test]
async fn upload_get_url_expiry_and_delete() {
    let clock = ManualClock::new(1_767_261_000_000);
    let h = harness_with(fast_config(None), Arc::new(clock.clone()), number(0)).await;
    let bytes = b"\x89PNG fake image".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", "image/png")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name("a.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let resp = h
        .http
        .post(format!("{}/v23.0/{PNID}/media", h.base))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, info) = h.get(&format!("/v23.0/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["file_size"], bytes.len().to_string());
    assert_eq!(info["messaging_product"], "whatsapp");
    let url = info["url"].as_str().unwrap().to_string();
    let got = h
        .http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], &bytes[..]);
    clock.advance_ms(5 * 60 * 1000 + 1);
    assert_eq!(
        h.http
            .get(&url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "URLs expire after 5 minutes"
    );

    // An uploaded id can be sent; an unknown one fails later with 131053.
    h.open_window("447700900123").await;
    let img = |id: &str| json!({"messaging_product": "whatsapp", "to": "447700900123", "type": "image", "image": {"id": id}});
    assert_eq!(h.send(img(&id)).await.0, 200);
    let (status, v) = h.send(img("123456789")).await;
    assert_eq!(status, 200);
    let unknown = v["messages"][0]["id"].as_str().unwrap().to_string();
    clock.advance_ms(1000);
    h.wait_until("131053", |h| h.statuses().iter().any(|s| s.0 == unknown))
        .await;
    let st = h.statuses().into_iter().find(|s| s.0 == unknown).unwrap();
    assert_eq!(
        (st.1.as_str(), st.2["errors"][0]["code"].as_u64()),
        ("failed", Some(131053))
    );

    let bad = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![0u8; 10])
                .file_name("a.exe")
                .mime_str("application/x-msdownload")
                .unwrap(),
        );
    let resp = h
        .http
        .post(format!("{}/v23.0/{PNID}/media", h.base))
        .bearer_auth(TOKEN)
        .multipart(bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let (status, v) = h
        .call(Method::DELETE, &format!("/v23.0/{id}"), Some(TOKEN), None)
        .await;
    assert_eq!((status, v), (200, json!({"success": true})));
    let (status, v) = h.get(&format!("/v23.0/{id}")).await;
    assert_eq!(
        (status, error_code(&v), v["error"]["error_subcode"].as_u64()),
        (400, 100, Some(33))
    );
    let (status, v) = h
        .call(Method::GET, &format!("/v23.0/{id}"), Some("wrong"), None)
        .await;
    assert_eq!(
        (status, error_code(&v)),
        (400, 100),
        "unknown object before token check for foreign ids"
    );
}
