//! Golden renderings: the exact Cloud API `template` object and user-visible text.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::*;
use super::lint_shape_tests::{auth_copy_code, auth_one_tap};
use super::lint_tests::draft;

fn comps(v: Value) -> Vec<Component> {
    parse_components(&v.to_string()).expect("test components parse")
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn render(category: Category, components: Value, p: &[(&str, &str)], payload: &[&str]) -> Value {
    render_with(category, components, p, payload, |_| {})
}

fn render_with(
    category: Category,
    components: Value,
    p: &[(&str, &str)],
    payload: &[&str],
    tweak: impl FnOnce(&mut RenderInput),
) -> Value {
    let params = params(p);
    let payload: Vec<String> = payload.iter().map(|s| s.to_string()).collect();
    let mut input = RenderInput {
        params: &params,
        payload: &payload,
        mpm_action: None,
        flow_action: None,
        catalog_thumbnail: None,
    };
    tweak(&mut input);
    render_cloud("t", "en_US", category, &comps(components), &input)
}

const BODY: &str = "Hi {{name}}, order {{order_id}} for {{name}} shipped.";

fn wrap(components: Value) -> Value {
    json!({"name": "t", "language": {"code": "en_US"}, "components": components})
}

#[test]
fn text_header_and_body_with_named_parameters() {
    let got = render(
        Category::Utility,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "Hello {{name}}"}, {"Type": "BODY", "Text": BODY},
            {"Type": "FOOTER", "Text": "Bye"}]),
        &[("name", "Ada"), ("order_id", "A-1")],
        &[],
    );
    assert_eq!(
        got,
        wrap(json!([
            {"type": "header", "parameters": [{"type": "text", "parameter_name": "name", "text": "Ada"}]},
            {"type": "body", "parameters": [
                {"type": "text", "parameter_name": "name", "text": "Ada"},
                {"type": "text", "parameter_name": "order_id", "text": "A-1"}]}
        ]))
    );
}

#[test]
fn no_variables_omits_components() {
    let got = render(
        Category::Utility,
        json!([{"Type": "BODY", "Text": "Hello."}]),
        &[],
        &[],
    );
    assert_eq!(got, json!({"name": "t", "language": {"code": "en_US"}}));
}

#[test]
fn media_headers() {
    let body = json!({"Type": "BODY", "Text": "See attached."});
    let image = render(
        Category::Marketing,
        json!([{"Type": "HEADER", "Format": "IMAGE", "Url": "https://c.example/a.jpg"}, body]),
        &[],
        &[],
    );
    assert_eq!(
        image,
        wrap(
            json!([{"type": "header", "parameters": [{"type": "image", "image": {"link": "https://c.example/a.jpg"}}]}])
        )
    );
    let video = render(
        Category::Marketing,
        json!([{"Type": "HEADER", "Format": "VIDEO", "Url": "https://c.example/a.mp4"}, body]),
        &[],
        &[],
    );
    assert_eq!(
        video,
        wrap(
            json!([{"type": "header", "parameters": [{"type": "video", "video": {"link": "https://c.example/a.mp4"}}]}])
        )
    );
    let doc = render(
        Category::Utility,
        json!([{"Type": "HEADER", "Format": "DOCUMENT", "Url": "https://c.example/i.pdf", "FileName": "invoice.pdf"}, body]),
        &[],
        &[],
    );
    assert_eq!(
        doc,
        wrap(json!([{"type": "header", "parameters": [
        {"type": "document", "document": {"link": "https://c.example/i.pdf", "filename": "invoice.pdf"}}]}]))
    );
}

#[test]
fn location_header_uses_params_over_stored_values() {
    let got = render(
        Category::Utility,
        json!([{"Type": "HEADER", "Format": "LOCATION", "Latitude": "1", "Longitude": "2", "LocationName": "HQ"},
            {"Type": "BODY", "Text": "Find us."}]),
        &[
            ("latitude", "37.48"),
            ("longitude", "-122.14"),
            ("locationAddress", "1 Hacker Way"),
        ],
        &[],
    );
    assert_eq!(
        got,
        wrap(
            json!([{"type": "header", "parameters": [{"type": "location", "location": {
        "latitude": "37.48", "longitude": "-122.14", "name": "HQ", "address": "1 Hacker Way"}}]}])
        )
    );
}

fn buttons(list: Value) -> Value {
    json!([{"Type": "BODY", "Text": "Hello there."}, {"Type": "BUTTONS", "Buttons": list}])
}

#[test]
fn url_button_with_suffix_and_quick_replies_with_payload() {
    let got = render(
        Category::Marketing,
        buttons(json!([
            {"Type": "QUICK_REPLY", "Text": "Yes"},
            {"Type": "QUICK_REPLY", "Text": "No"},
            {"Type": "QUICK_REPLY", "Text": "Later"},
            {"Type": "URL", "Text": "Track", "Url": "https://x.example/t/{{track}}", "UrlType": "dynamic"},
            {"Type": "URL", "Text": "Site", "Url": "https://x.example"},
            {"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "+8613800000000"}
        ])),
        &[("track", "A1B2")],
        &["yes_payload", ""],
    );
    assert_eq!(
        got,
        wrap(json!([
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "yes_payload"}]},
            {"type": "button", "sub_type": "url", "index": "3", "parameters": [{"type": "text", "text": "A1B2"}]}
        ]))
    );
}

#[test]
fn copy_code_button() {
    let got = render(
        Category::Marketing,
        buttons(
            json!([{"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(couponCode)"},
            {"Type": "COPY_CODE", "Text": "Fixed", "CouponCode": "SAVE10"}]),
        ),
        &[("couponCode", "SPRING25")],
        &[],
    );
    assert_eq!(
        got,
        wrap(json!([
            {"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "coupon_code", "coupon_code": "SPRING25"}]},
            {"type": "button", "sub_type": "copy_code", "index": "1", "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]}
        ]))
    );
}

#[test]
fn flow_button_takes_the_cams_flow_action() {
    let got = render_with(
        Category::Utility,
        buttons(
            json!([{"Type": "FLOW", "Text": "Book", "FlowId": "9", "FlowAction": "NAVIGATE", "NavigateScreen": "S1"}]),
        ),
        &[],
        &[],
        |i| {
            i.flow_action = Some(
                json!({"FlowToken": "tok", "FlowActionData": {"a": 1, "NestedKey": {"c": "é"}}}),
            )
        },
    );
    assert_eq!(
        got,
        wrap(
            json!([{"type": "button", "sub_type": "flow", "index": "0", "parameters": [
        {"type": "action", "action": {"flow_token": "tok", "flow_action_data": {"a": 1, "NestedKey": {"c": "é"}}}}]}])
        )
    );
}

#[test]
fn catalog_button() {
    let got = render_with(
        Category::Marketing,
        buttons(json!([{"Type": "CATALOG", "Text": "View catalog"}])),
        &[],
        &[],
        |i| i.catalog_thumbnail = Some("SKU1".into()),
    );
    assert_eq!(
        got,
        wrap(
            json!([{"type": "button", "sub_type": "catalog", "index": "0", "parameters": [
        {"type": "action", "action": {"thumbnail_product_retailer_id": "SKU1"}}]}])
        )
    );
}

#[test]
fn mpm_button_takes_the_product_action() {
    let got = render_with(
        Category::Marketing,
        buttons(json!([{"Type": "MPM", "Text": "View items"}])),
        &[],
        &[],
        |i| {
            i.mpm_action = Some(json!({"ThumbnailProductRetailerId": "r0",
                "Sections": [{"Title": "T", "ProductItems": [{"ProductRetailerId": "r1"}]}]}))
        },
    );
    assert_eq!(
        got,
        wrap(
            json!([{"type": "button", "sub_type": "mpm", "index": "0", "parameters": [
        {"type": "action", "action": {"thumbnail_product_retailer_id": "r0",
            "sections": [{"title": "T", "product_items": [{"product_retailer_id": "r1"}]}]}}]}])
        )
    );
}

#[test]
fn authentication_copy_code_and_one_tap() {
    let expected = wrap(json!([
        {"type": "body", "parameters": [{"type": "text", "text": "123456"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "123456"}]}
    ]));
    assert_eq!(
        render(
            Category::Authentication,
            auth_copy_code(),
            &[("code", "123456")],
            &[]
        ),
        expected
    );
    assert_eq!(
        render(
            Category::Authentication,
            auth_one_tap(),
            &[("code", "123456")],
            &[]
        ),
        expected
    );
}

#[test]
fn carousel_and_limited_time_offer() {
    let card = |n: &str| {
        json!({"CardComponents": [
            {"Type": "HEADER", "Format": "IMAGE", "Url": format!("https://c.example/{n}.jpg")},
            {"Type": "BODY", "Text": "Only {{item}} today."},
            {"Type": "BUTTONS", "Buttons": [{"Type": "QUICK_REPLY", "Text": "More"}, {"Type": "URL", "Text": "Buy", "Url": "https://x.example/{{track}}"}]}
        ]})
    };
    let got = render(
        Category::Marketing,
        json!([{"Type": "LIMITED_TIME_OFFER", "Text": "Hurry!", "HasExpiration": true},
            {"Type": "BODY", "Text": "Deals for you."}, {"Type": "CAROUSEL", "Cards": [card("a"), card("b")]}]),
        &[
            ("item", "shoes"),
            ("track", "S1"),
            ("expirationTimeMs", "1767225600000"),
        ],
        &["ignored"],
    );
    let rendered_card = |i: usize, n: &str| {
        json!({"card_index": i, "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": format!("https://c.example/{n}.jpg")}}]},
            {"type": "body", "parameters": [{"type": "text", "parameter_name": "item", "text": "shoes"}]},
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "S1"}]}
        ]})
    };
    assert_eq!(
        got,
        wrap(json!([
            {"type": "limited_time_offer", "parameters": [{"type": "limited_time_offer", "limited_time_offer": {"expiration_time_ms": 1767225600000_i64}}]},
            {"type": "carousel", "cards": [rendered_card(0, "a"), rendered_card(1, "b")]}
        ]))
    );
}

#[test]
fn text_of_a_full_template() {
    let c = comps(json!([
        {"Type": "HEADER", "Format": "TEXT", "Text": "Order {{order_id}}"},
        {"Type": "BODY", "Text": BODY},
        {"Type": "FOOTER", "Text": "Reply STOP to opt out"},
        {"Type": "BUTTONS", "Buttons": [{"Type": "URL", "Text": "Track", "Url": "https://x.example/{{track}}"},
            {"Type": "QUICK_REPLY", "Text": "Stop"}]}
    ]));
    let text = render_text(&c, &params(&[("name", "Ada"), ("order_id", "A-1")]));
    assert_eq!(
        text,
        "Order A-1\n\nHi Ada, order A-1 for Ada shipped.\n\nReply STOP to opt out\n\n[Track]\n[Stop]"
    );
}

#[test]
fn text_of_authentication_templates() {
    let p = params(&[("code", "123456")]);
    assert_eq!(
        render_text(&comps(auth_copy_code()), &p),
        "123456 is your verification code. For your security, do not share this code.\n\nThis code expires in 10 minutes.\n\n[Copy code]"
    );
    assert_eq!(
        render_text(&comps(auth_one_tap()), &p),
        "123456 is your verification code.\n\n[Copy code]"
    );
}

#[test]
fn meta_create_body_uses_named_examples() {
    let d = draft(
        Category::Marketing,
        &json!([
            {"Type": "HEADER", "Format": "TEXT", "Text": "Hi {{name}}"},
            {"Type": "BODY", "Text": "Dear {{name}}, {{item}} is back."},
            {"Type": "FOOTER", "Text": "Bye"},
            {"Type": "BUTTONS", "Buttons": [
                {"Type": "URL", "Text": "Shop", "Url": "https://x.example/{{track}}", "UrlType": "dynamic"},
                {"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(couponCode)"},
                {"Type": "QUICK_REPLY", "Text": "Stop"}]}
        ]),
    );
    assert_eq!(
        to_meta_create(&d),
        json!({
            "name": "order_shipped", "language": "en_US", "category": "MARKETING", "parameter_format": "NAMED",
            "components": [
                {"type": "HEADER", "format": "TEXT", "text": "Hi {{name}}",
                    "example": {"header_text_named_params": [{"param_name": "name", "example": "Ada"}]}},
                {"type": "BODY", "text": "Dear {{name}}, {{item}} is back.",
                    "example": {"body_text_named_params": [{"param_name": "name", "example": "Ada"}, {"param_name": "item", "example": "shoes"}]}},
                {"type": "FOOTER", "text": "Bye"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "URL", "text": "Shop", "url": "https://x.example/{{1}}", "example": ["https://x.example/A1B2"]},
                    {"type": "COPY_CODE", "example": "SAVE25"},
                    {"type": "QUICK_REPLY", "text": "Stop"}]}
            ]
        })
    );
    let mut auth = draft(Category::Authentication, &auth_one_tap());
    auth.message_send_ttl_seconds = Some(300);
    assert_eq!(
        to_meta_create(&auth),
        json!({
            "name": "order_shipped", "language": "en_US", "category": "AUTHENTICATION", "parameter_format": "NAMED",
            "message_send_ttl_seconds": 300,
            "components": [
                {"type": "BODY", "add_security_recommendation": false},
                {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "ONE_TAP", "text": "Copy code", "autofill_text": "Autofill",
                    "supported_apps": [{"package_name": "com.example.app", "signature_hash": "K8a/AINcGX7"}]}]}
            ]
        })
    );
}
