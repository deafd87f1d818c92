//! One passing and one failing case per linter rule: names, ranges, structure, text and
//! variables here; buttons and the special shapes in `lint_shape_tests`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::*;
use super::lint_shape_tests::auth_copy_code;
use crate::{CamsError, Code};

fn example() -> BTreeMap<String, String> {
    [
        ("name", "Ada"),
        ("order_id", "A-1001"),
        ("track", "A1B2"),
        ("couponCode", "SAVE25"),
        ("item", "shoes"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub(super) fn draft(category: Category, components: &Value) -> TemplateDraft {
    TemplateDraft {
        name: "order_shipped".into(),
        language: "en_US".into(),
        category,
        components: parse_components(&components.to_string()).expect("test components parse"),
        example: example(),
        message_send_ttl_seconds: None,
        category_change_paused: false,
        product_set_id: None,
    }
}

pub(super) fn run(category: Category, components: Value) -> Result<(), CamsError> {
    let components = parse_components(&components.to_string())?;
    let mut d = draft(category, &json!([]));
    d.components = components;
    lint(&d)
}

#[track_caller]
pub(super) fn pass(category: Category, components: Value) {
    if let Err(e) = run(category, components) {
        panic!("expected the template to pass, got {e}");
    }
}

#[track_caller]
pub(super) fn fail(category: Category, components: Value, code: Code, needle: &str) {
    let e = run(category, components).expect_err("expected a lint failure");
    assert_eq!(e.code, code, "{}", e.message);
    assert!(
        e.message.contains(needle),
        "{:?} should contain {needle:?}",
        e.message
    );
}

pub(super) const BODY: &str = "Hi {{name}}, your order is ready.";
pub(super) const M: Category = Category::Marketing;
pub(super) const U: Category = Category::Utility;
pub(super) const A: Category = Category::Authentication;

pub(super) fn body(text: &str) -> Value {
    json!({"Type": "BODY", "Text": text})
}

pub(super) fn with_buttons(buttons: Value) -> Value {
    json!([body(BODY), {"Type": "BUTTONS", "Buttons": buttons}])
}

pub(super) fn qr(text: &str) -> Value {
    json!({"Type": "QUICK_REPLY", "Text": text})
}

pub(super) fn url_button(url: &str) -> Value {
    json!({"Type": "URL", "Text": "Track", "Url": url})
}

#[test]
fn name_is_lowercase_digits_underscore() {
    let mut d = draft(M, &json!([body(BODY)]));
    d.name = "order_shipped_2".into();
    assert!(lint(&d).is_ok());
    for bad in ["Order-Shipped", "", &"a".repeat(513)] {
        d.name = bad.to_string();
        let e = lint(&d).expect_err("bad name");
        assert_eq!(e.code, Code::InvalidParameter);
        assert!(e.message.contains("Name"), "{}", e.message);
    }
}

#[test]
fn language_must_be_known() {
    let mut d = draft(M, &json!([body(BODY)]));
    d.language = "pt_BR".into();
    assert!(lint(&d).is_ok());
    d.language = "klingon".into();
    assert_eq!(
        lint(&d).expect_err("unknown").code,
        Code::LanguageNotSupport
    );
}

#[test]
fn ttl_ranges_follow_the_category() {
    let check = |category, ttl| {
        let comps = if category == A {
            auth_copy_code()
        } else {
            json!([body(BODY)])
        };
        let mut d = draft(category, &comps);
        d.message_send_ttl_seconds = Some(ttl);
        lint(&d)
    };
    assert!(check(A, 600).is_ok());
    assert!(check(U, 43_200).is_ok());
    assert!(check(M, 2_592_000).is_ok());
    for (category, ttl, range) in [
        (A, 901, "30 to 900"),
        (U, 29, "30 to 43200"),
        (M, 3600, "43200 to 2592000"),
    ] {
        let e = check(category, ttl).expect_err("out of range");
        assert_eq!(e.code, Code::InvalidParameter);
        assert!(
            e.message.contains("MessageSendTtlSeconds") && e.message.contains(range),
            "{}",
            e.message
        );
    }
}

#[test]
fn exactly_one_body_and_at_most_one_of_each() {
    pass(
        M,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "News"}, body(BODY)]),
    );
    fail(
        M,
        json!([{"Type": "FOOTER", "Text": "f"}]),
        Code::MessageInvalid,
        "type missing",
    );
    fail(
        M,
        json!([body(BODY), body(BODY)]),
        Code::MessageInvalid,
        "2 BODY",
    );
    fail(
        M,
        json!([{"Type": "FOOTER", "Text": "a"}, {"Type": "FOOTER", "Text": "b"}, body(BODY)]),
        Code::MessageInvalid,
        "2 FOOTER",
    );
}

#[test]
fn component_type_and_header_format_are_closed() {
    fail(
        M,
        json!([body(BODY), {"Type": "SIDEBAR"}]),
        Code::MessageInvalid,
        "Components[1]: component Type \"SIDEBAR\"",
    );
    fail(
        M,
        json!([{"Type": "HEADER", "Format": "GIF"}, body(BODY)]),
        Code::HeaderTypeNotSupport,
        "GIF",
    );
    pass(
        M,
        json!([{"Type": "HEADER", "Format": "location"}, body(BODY)]),
    );
}

#[test]
fn media_header_needs_http_url() {
    pass(
        M,
        json!([{"Type": "HEADER", "Format": "IMAGE", "Url": "https://cdn.example.com/a.jpg"}, body(BODY)]),
    );
    fail(
        M,
        json!([{"Type": "HEADER", "Format": "VIDEO"}, body(BODY)]),
        Code::FileUrlError,
        "Components[0] (HEADER)",
    );
    fail(
        M,
        json!([{"Type": "HEADER", "Format": "DOCUMENT", "Url": "ftp://x/a.pdf"}, body(BODY)]),
        Code::FileUrlError,
        "DOCUMENT",
    );
}

#[test]
fn variables_are_named_and_well_formed() {
    pass(
        M,
        json!([body("Hi {{name}}, order {{order_id}} is ready.")]),
    );
    fail(
        M,
        json!([body("Hi {{1}}, welcome.")]),
        Code::MessageInvalid,
        "numeric placeholders are not supported",
    );
    fail(
        M,
        json!([body("Hi {{name}, welcome.")]),
        Code::MessageInvalid,
        "malformed braces",
    );
    fail(
        M,
        json!([body("Hi {{Name}}, welcome.")]),
        Code::MessageInvalid,
        "lower-case letter",
    );
}

#[test]
fn header_text_limits() {
    pass(
        M,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "Hello {{name}}"}, body(BODY)]),
    );
    fail(
        M,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "{{name}} {{item}}"}, body(BODY)]),
        Code::HeaderMoreVarable,
        "2 variables",
    );
    fail(
        M,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "x".repeat(61)}, body(BODY)]),
        Code::MessageInvalid,
        "at most 60",
    );
}

#[test]
fn body_length() {
    pass(M, json!([body(&format!("a{}", "b".repeat(1023)))]));
    fail(
        M,
        json!([body(&"b".repeat(1025))]),
        Code::MessageInvalid,
        "1025 characters",
    );
}

#[test]
fn footer_limits() {
    pass(
        M,
        json!([body(BODY), {"Type": "FOOTER", "Text": "Reply STOP to opt out"}]),
    );
    fail(
        M,
        json!([body(BODY), {"Type": "FOOTER", "Text": "Bye {{name}}"}]),
        Code::FooterHaveVariable,
        "Components[1] (FOOTER)",
    );
    fail(
        M,
        json!([body(BODY), {"Type": "FOOTER", "Text": "f".repeat(61)}]),
        Code::MessageInvalid,
        "at most 60",
    );
}

#[test]
fn body_variable_placement() {
    pass(M, json!([body("Dear {{name}}, your {{item}} shipped.")]));
    fail(
        M,
        json!([body("{{name}}, your order shipped.")]),
        Code::MessageInvalid,
        "starts with the variable {{name}}",
    );
    fail(
        M,
        json!([body("Your order shipped, {{name}}")]),
        Code::MessageInvalid,
        "ends with the variable {{name}}",
    );
    fail(
        M,
        json!([body("Dear {{name}} {{item}} shipped.")]),
        Code::MessageInvalid,
        "{{name}} and {{item}} side by side",
    );
}

#[test]
fn every_variable_needs_an_example() {
    pass(M, json!([body("Dear {{name}}, ok.")]));
    let e = run(M, json!([body("Dear {{surname}}, ok.")])).expect_err("no example");
    assert_eq!(e.code, Code::InvalidParameter);
    assert!(
        e.message.contains("Example")
            && e.message.contains("`surname`")
            && e.message.contains("BODY"),
        "{}",
        e.message
    );
}
