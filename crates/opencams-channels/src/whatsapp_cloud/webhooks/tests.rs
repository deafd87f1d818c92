use serde_json::json;

use super::*;

fn one(body: Value) -> Vec<ProviderEvent> {
    parse(body.to_string().as_bytes()).unwrap()
}

/// A `messages` webhook for `PN1` whose value holds `value`.
fn messages_body(value: Value) -> Value {
    let mut v = json!({"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001", "phone_number_id": "PN1"}});
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), value) {
        v.extend(extra);
    }
    json!({"object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"value": v, "field": "messages"}]}]})
}

fn status(s: Value) -> Option<StatusReport> {
    match one(messages_body(json!({"statuses": [s]}))).pop() {
        Some(ProviderEvent::Status(r)) => Some(r),
        None => None,
        Some(other) => panic!("not a status: {other:?}"),
    }
}

fn inbound(m: Value) -> InboundMessage {
    let body = messages_body(json!({
        "contacts": [{"profile": {"name": "Ada"}, "wa_id": "4477"}],
        "messages": [m],
    }));
    match one(body).pop() {
        Some(ProviderEvent::Inbound(i)) => i,
        other => panic!("not an inbound message: {other:?}"),
    }
}

#[test]
fn webhook_bodies_are_read_by_field() {
    // Meta's order: `value` before `field`; a failed and a priced status, a template event,
    // a field we ignore, and nulls where arrays are expected
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [
            { "id": "WABA1", "changes": [
                { "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "15550001", "phone_number_id": "PN1" },
                    "contacts": [ { "profile": { "name": "Ada" }, "wa_id": "4477" } ],
                    "statuses": [
                        { "id": "wamid.A", "status": "delivered", "timestamp": "1700000000",
                          "recipient_id": "4477", "biz_opaque_callback_data": "m1",
                          "conversation": { "id": "c1", "origin": { "type": "utility" } },
                          "pricing": { "billable": true, "category": "marketing" } },
                        { "id": "wamid.B", "status": "failed", "timestamp": 1700000001,
                          "errors": [ { "code": 131026, "title": "Message undeliverable" } ] }
                    ],
                    "messages": null
                  }, "field": "messages" },
                { "value": { "event": "APPROVED", "message_template_name": "t" },
                  "field": "message_template_status_update" },
                { "value": { "anything": [1, 2] }, "field": "account_update" }
            ] },
            { "id": "WABA2", "changes": null }
        ]
    });
    let events = one(body);
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        ProviderEvent::Status(StatusReport {
            phone_number_id: "PN1".into(),
            provider_id: "wamid.A".into(),
            message_id: Some("m1".into()),
            status: MessageStatus::Delivered,
            at_ms: Some(1_700_000_000_000),
            error: None,
            conversation_type: Some("marketing".into()),
            conversation_id: Some("c1".into()),
        })
    );
    assert_eq!(
        events[1],
        ProviderEvent::Status(StatusReport {
            phone_number_id: "PN1".into(),
            provider_id: "wamid.B".into(),
            message_id: None,
            status: MessageStatus::Failed,
            at_ms: Some(1_700_000_001_000),
            error: Some(StatusError {
                code: Some("131026".into()),
                description: "Message undeliverable()".into(),
            }),
            conversation_type: None,
            conversation_id: None,
        })
    );
    assert_eq!(
        events[2],
        ProviderEvent::TemplateStatus {
            waba_id: "WABA1".into(),
            name: "t".into(),
            language: String::new(),
            status: AuditStatus::Pass,
            reason: String::new(),
        }
    );
    assert_eq!(events[0].phone_number_id(), Some("PN1"));
    assert_eq!(events[2].phone_number_id(), None);
}

#[test]
fn malformed_webhook_bodies_are_refused_not_half_read() {
    for bad in [
        &b"not json"[..],
        br#"{"entry": 5}"#,
        br#"{"entry": [{"changes": [{"field": "messages", "value": {"statuses": "x"}}]}]}"#,
        br#"{"entry": [{"changes": [{"field": "messages", "value": {"statuses": []}}, {"field": "messages", "value": {"metadata": 3}}]}]}"#,
        br#"{"entry": [{"changes": [{"field": "message_template_status_update", "value": {"event": }}]}]}"#,
    ] {
        assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    // an empty document is a webhook about nothing; so is a messages change with no value
    assert!(parse(b"{}").unwrap().is_empty());
    assert!(
        parse(br#"{"entry": [{"changes": [{"field": "messages"}]}]}"#)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn statuses_map_to_reports() {
    use MessageStatus::*;
    // (Meta's status object, expected status, at_ms, error (code, description), conversation)
    type Conv = (Option<&'static str>, Option<&'static str>);
    type Error = Option<(Option<&'static str>, &'static str)>;
    type Case = (Value, Option<MessageStatus>, Option<i64>, Error, Conv);
    let cases: Vec<Case> = vec![
        (
            json!({"id": "w", "status": "sent", "timestamp": "1700000000"}),
            Some(Sent),
            Some(1_700_000_000_000),
            None,
            (None, None),
        ),
        (
            json!({"id": "w", "status": "read", "timestamp": 1700000000123_i64}),
            Some(Read),
            Some(1_700_000_000_123),
            None,
            (None, None),
        ),
        (
            json!({"id": "w", "status": "delivered"}),
            Some(Delivered),
            None,
            None,
            (None, None),
        ),
        (
            json!({"id": "w", "status": "delivered", "timestamp": "soon"}),
            Some(Delivered),
            None,
            None,
            (None, None),
        ),
        // not tracked: skipped
        (
            json!({"id": "w", "status": "deleted"}),
            None,
            None,
            None,
            (None, None),
        ),
        (
            json!({"id": "w", "status": "warning"}),
            None,
            None,
            None,
            (None, None),
        ),
        (
            json!({"id": "w", "status": "Delivered"}),
            None,
            None,
            None,
            (None, None),
        ),
        // errors: code and title(details); message when there is no title; no code at all
        (
            json!({"id": "w", "status": "failed", "errors": [{"code": 131047, "title": "Re-engagement message", "error_data": {"details": "more than 24 hours"}}]}),
            Some(Failed),
            None,
            Some((Some("131047"), "Re-engagement message(more than 24 hours)")),
            (None, None),
        ),
        (
            json!({"id": "w", "status": "failed", "errors": [{"code": 1, "message": "boom"}, {"code": 2}]}),
            Some(Failed),
            None,
            Some((Some("1"), "boom()")),
            (None, None),
        ),
        (
            json!({"id": "w", "status": "failed", "errors": [{"title": "odd"}]}),
            Some(Failed),
            None,
            Some((None, "odd()")),
            (None, None),
        ),
        (
            json!({"id": "w", "status": "failed", "errors": null}),
            Some(Failed),
            None,
            None,
            (None, None),
        ),
        // conversation: the pricing category wins over the origin type
        (
            json!({"id": "w", "status": "sent", "conversation": {"id": "c", "origin": {"type": "service"}}}),
            Some(Sent),
            None,
            None,
            (Some("service"), Some("c")),
        ),
        (
            json!({"id": "w", "status": "sent", "conversation": {"id": "c", "origin": {"type": "service"}}, "pricing": {"category": "utility"}}),
            Some(Sent),
            None,
            None,
            (Some("utility"), Some("c")),
        ),
        (
            json!({"id": "w", "status": "sent", "pricing": {"category": "marketing"}}),
            Some(Sent),
            None,
            None,
            (Some("marketing"), None),
        ),
    ];
    for (object, want, at, error, (ctype, cid)) in cases {
        let got = status(object.clone());
        let Some(want) = want else {
            assert_eq!(got, None, "{object}");
            continue;
        };
        let got = got.unwrap_or_else(|| panic!("no report for {object}"));
        assert_eq!(got.status, want, "{object}");
        assert_eq!(got.provider_id, "w");
        assert_eq!(got.phone_number_id, "PN1");
        assert_eq!(got.at_ms, at, "{object}");
        let error = error.map(|(c, d)| StatusError {
            code: c.map(String::from),
            description: d.into(),
        });
        assert_eq!(got.error, error, "{object}");
        assert_eq!(got.conversation_type.as_deref(), ctype, "{object}");
        assert_eq!(got.conversation_id.as_deref(), cid, "{object}");
    }
}

#[test]
fn inbound_messages_map_to_cams_types() {
    // (Cloud type, its object, CAMS type, CAMS Message)
    let cases: Vec<(&str, Value, &str, Value)> = vec![
        ("text", json!({"body": "hi"}), "TEXT", json!("hi")),
        (
            "image",
            json!({"id": "M1", "mime_type": "image/jpeg", "caption": "c"}),
            "IMAGE",
            json!({"id": "M1", "mimeType": "image/jpeg", "caption": "c"}),
        ),
        (
            "video",
            json!({"id": "M2", "mime_type": "video/mp4"}),
            "VIDEO",
            json!({"id": "M2", "mimeType": "video/mp4"}),
        ),
        (
            "audio",
            json!({"id": "M3", "mime_type": "audio/ogg"}),
            "AUDIO",
            json!({"id": "M3", "mimeType": "audio/ogg"}),
        ),
        (
            "document",
            json!({"id": "M4", "mime_type": "application/pdf", "filename": "a.pdf"}),
            "DOCUMENT",
            json!({"id": "M4", "mimeType": "application/pdf", "fileName": "a.pdf"}),
        ),
        (
            "sticker",
            json!({"id": "M5", "mime_type": "image/webp"}),
            "IMAGE",
            json!({"id": "M5", "mimeType": "image/webp"}),
        ),
        (
            "location",
            json!({"latitude": 1.5, "longitude": -2, "name": "n", "address": "a"}),
            "LOCATION",
            json!({"latitude": "1.5", "longitude": "-2", "name": "n", "address": "a"}),
        ),
        (
            "button",
            json!({"payload": "P", "text": "Yes"}),
            "REPLY",
            json!({"payload": "P", "text": "Yes"}),
        ),
        (
            "interactive",
            json!({"type": "button_reply", "button_reply": {"id": "b1", "title": "OK"}}),
            "REPLY",
            json!({"payload": "b1", "text": "OK", "reply": {"id": "b1", "title": "OK"}}),
        ),
        (
            "interactive",
            json!({"type": "list_reply", "list_reply": {"id": "r1", "title": "Row", "description": "d"}}),
            "REPLY",
            json!({"payload": "r1", "text": "Row", "reply": {"id": "r1", "title": "Row", "description": "d"}}),
        ),
        (
            "interactive",
            json!({"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
            "REPLY",
            json!({"payload": null, "text": null, "reply": {"response_json": "{}"}}),
        ),
        (
            "reaction",
            json!({"message_id": "wamid.P", "emoji": "👍"}),
            "TEXT",
            json!("👍"),
        ),
    ];
    for (kind, obj, cams, message) in cases {
        let m = json!({"from": "+4477", "id": "wamid.IN", "timestamp": "1700000000", "type": kind, kind: obj});
        let got = inbound(m.clone());
        assert_eq!(got.cams_type, cams, "{kind}");
        let text = match &message {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        assert_eq!(got.text, text, "{kind}");
        assert_eq!(got.cloud_type, kind);
        assert_eq!(
            (got.wamid.as_str(), got.user.as_str()),
            ("wamid.IN", "4477")
        );
        assert_eq!(got.at_ms, Some(1_700_000_000_000));
        assert_eq!(got.profile_name, "Ada");
        assert_eq!(got.raw, m);
        assert_eq!((got.context, got.context_id), (None, None));
    }
    // contacts are the message's own array; an unknown type is a SYSTEM message of itself
    let contacts = json!([{"name": {"formatted_name": "Bob"}, "phones": [{"phone": "+1"}]}]);
    let got = inbound(json!({"from": "4477", "id": "w", "type": "contacts", "contacts": contacts}));
    assert_eq!(
        (got.cams_type, got.text),
        ("CONTACTS", contacts.to_string())
    );
    let odd = json!({"from": "4477", "id": "w", "type": "order", "order": {}});
    let got = inbound(odd.clone());
    assert_eq!((got.cams_type, got.text), ("SYSTEM", odd.to_string()));
    let untyped = json!({"from": "4477", "id": "w"});
    let got = inbound(untyped.clone());
    assert_eq!(
        (got.cloud_type.as_str(), got.cams_type),
        ("unknown", "SYSTEM")
    );
    assert_eq!(got.at_ms, None);
    // a reply carries its context
    let reply = json!({"from": "4477", "id": "w", "type": "text", "text": {"body": "yes"},
        "context": {"from": "15550001", "id": "wamid.OUT", "forwarded": false}});
    let got = inbound(reply);
    assert_eq!(
        got.context,
        Some(json!({"from": "15550001", "id": "wamid.OUT"}))
    );
    assert_eq!(got.context_id.as_deref(), Some("wamid.OUT"));
}

#[test]
fn inbound_messages_without_id_or_sender_are_skipped_and_names_come_from_contacts() {
    let body = messages_body(json!({
        "contacts": [{"profile": {"name": "Old"}, "wa_id": "4477"}, {"wa_id": "4488"},
                     {"profile": {"name": "Ada"}, "wa_id": "4477"}],
        "messages": [
            {"from": "4477", "type": "text", "text": {"body": "no id"}},
            {"id": "w0", "type": "text", "text": {"body": "no sender"}},
            {"from": "4477", "id": "w1", "type": "text", "text": {"body": "a"}},
            {"from": "4488", "id": "w2", "type": "text", "text": {"body": "b"}},
            {"from": "4499", "id": "w3", "type": "text", "text": {"body": "c"}},
        ],
        "errors": [{"code": 131000, "title": "Something went wrong"}],
    }));
    let events = one(body);
    let names: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            ProviderEvent::Inbound(m) => Some((m.wamid.as_str(), m.profile_name.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(names, [("w1", "Ada"), ("w2", ""), ("w3", "")]);
    assert_eq!(
        events.last(),
        Some(&ProviderEvent::ProviderError {
            phone_number_id: "PN1".into(),
            error: json!({"code": 131000, "title": "Something went wrong"}),
        })
    );
}

#[test]
fn statuses_come_before_messages_and_errors_in_a_change() {
    let body = messages_body(json!({
        "errors": [{"code": 1}],
        "messages": [{"from": "4477", "id": "w1", "type": "text", "text": {"body": "a"}}],
        "statuses": [{"id": "w", "status": "sent"}],
    }));
    let kinds: Vec<&str> = one(body)
        .iter()
        .map(|e| match e {
            ProviderEvent::Status(_) => "status",
            ProviderEvent::Inbound(_) => "inbound",
            ProviderEvent::ProviderError { .. } => "error",
            ProviderEvent::TemplateStatus { .. } => "template",
        })
        .collect();
    assert_eq!(kinds, ["status", "inbound", "error"]);
}

#[test]
fn template_events_map_to_audit_statuses() {
    use AuditStatus::*;
    let cases = [
        ("APPROVED", Some(Pass)),
        ("REINSTATED", Some(Pass)),
        ("UNPAUSED", Some(Pass)),
        ("REJECTED", Some(Fail)),
        ("PAUSED", Some(Paused)),
        ("DISABLED", Some(Disabled)),
        ("PENDING", Some(Auditing)),
        ("PENDING_DELETION", None),
        ("FLAGGED", None),
        ("", None),
    ];
    for (event, want) in cases {
        let body = json!({"entry": [{"id": "W", "changes": [{"field": "message_template_status_update",
            "value": {"event": event, "message_template_id": 1, "message_template_name": "order",
                      "message_template_language": "en_US", "reason": "NONE"}}]}]});
        let got = one(body);
        match want {
            None => assert!(got.is_empty(), "{event}"),
            Some(status) => assert_eq!(
                got,
                [ProviderEvent::TemplateStatus {
                    waba_id: "W".into(),
                    name: "order".into(),
                    language: "en_US".into(),
                    status,
                    reason: String::new(),
                }],
                "{event}"
            ),
        }
    }
    let body = json!({"entry": [{"id": "W", "changes": [{"field": "message_template_status_update",
        "value": {"event": "REJECTED", "message_template_name": "t", "reason": "INCORRECT_CATEGORY"}}]}]});
    let got = one(body);
    assert!(
        matches!(&got[..], [ProviderEvent::TemplateStatus { reason, .. }] if reason == "INCORRECT_CATEGORY")
    );
}

#[test]
fn signatures_are_checked_against_every_secret() {
    let body = br#"{"entry":[]}"#;
    let sig = hmac_sha256::sign_header("s2", &[body]);
    assert!(signature_ok(&["s1", "s2"], body, &sig));
    assert!(signature_ok(&["s2".to_string()], body, &sig));
    assert!(!signature_ok(&["s1"], body, &sig));
    assert!(!signature_ok::<&str>(&[], body, &sig));
    assert!(!signature_ok(&["s2"], b"{}", &sig));
    assert!(!signature_ok(
        &["s2"],
        body,
        sig.trim_start_matches("sha256=")
    ));
    assert!(!signature_ok(&["s2"], body, "sha256=not-hex"));
}
