//! Variables a send needs, and the TemplateParams / Payload check.

use std::collections::BTreeMap;

use serde_json::json;

use super::super::*;
use super::lint_shape_tests::{auth_copy_code, auth_one_tap};
use crate::Code;

fn comps(v: serde_json::Value) -> Vec<Component> {
    parse_components(&v.to_string()).expect("test components parse")
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn shipped() -> Vec<Component> {
    comps(json!([
        {"Type": "HEADER", "Format": "TEXT", "Text": "Order for {{name}}"},
        {"Type": "BODY", "Text": "Hi {{name}}, {{item}} ships, {{name}}."},
        {"Type": "BUTTONS", "Buttons": [
            {"Type": "URL", "Text": "Track", "Url": "https://x.example/t/{{track}}"},
            {"Type": "QUICK_REPLY", "Text": "Thanks"},
            {"Type": "QUICK_REPLY", "Text": "Stop"},
            {"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(couponCode)"}
        ]}
    ]))
}

#[test]
fn variables_in_order_deduplicated() {
    let v = variables(&shipped());
    assert_eq!(v.header.as_deref(), Some("name"));
    assert_eq!(v.body, ["name", "item"]);
    assert_eq!(v.buttons, [(0, "track".to_string())]);
    assert_eq!(v.coupon.as_deref(), Some("couponCode"));
    assert!(!v.auth_code);
    let keys: Vec<String> = v.required().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["name", "item", "track", "couponCode"]);
    assert!(variables(&comps(auth_one_tap())).auth_code);
}

#[test]
fn all_params_given_is_ok() {
    let p = params(&[
        ("name", "Ada"),
        ("item", "shoes"),
        ("track", "A1"),
        ("couponCode", "SAVE"),
    ]);
    assert!(check_send_params(&shipped(), &p, &["p1".into(), "p2".into()]).is_ok());
    let auth = params(&[("code", "123456")]);
    assert!(check_send_params(&comps(auth_copy_code()), &auth, &[]).is_ok());
}

#[test]
fn missing_variable_is_named_with_its_component() {
    let p = params(&[("name", "Ada"), ("track", "A1"), ("couponCode", "SAVE")]);
    let e = check_send_params(&shipped(), &p, &[]).expect_err("missing");
    assert_eq!(e.code, Code::InvalidParameterSub("TemplateParams".into()));
    assert_eq!(
        e.message,
        "TemplateParams is missing the variable `item` used by the template's BODY."
    );
    let e =
        check_send_params(&comps(auth_copy_code()), &BTreeMap::new(), &[]).expect_err("no code");
    assert!(e.message.contains("`code`"), "{}", e.message);
    let p = params(&[
        ("name", "Ada"),
        ("item", ""),
        ("track", "A1"),
        ("couponCode", "S"),
    ]);
    assert!(
        check_send_params(&shipped(), &p, &[])
            .expect_err("empty")
            .message
            .contains("empty value")
    );
}

#[test]
fn extra_key_is_named_with_the_valid_ones() {
    let p = params(&[
        ("name", "Ada"),
        ("item", "x"),
        ("track", "A1"),
        ("couponCode", "S"),
        ("nmae", "typo"),
    ]);
    let e = check_send_params(&shipped(), &p, &[]).expect_err("extra");
    assert_eq!(e.code, Code::InvalidParameterSub("TemplateParams".into()));
    assert!(e.message.contains("unknown key `nmae`"), "{}", e.message);
    assert!(
        e.message.contains("`name`, `item`, `track`, `couponCode`"),
        "{}",
        e.message
    );
    let plain = comps(json!([{"Type": "BODY", "Text": "Hello there."}]));
    let e = check_send_params(&plain, &params(&[("x", "1")]), &[]).expect_err("extra");
    assert!(e.message.contains("takes no variables"), "{}", e.message);
}

#[test]
fn location_keys_are_optional() {
    let c = comps(
        json!([{"Type": "HEADER", "Format": "LOCATION"}, {"Type": "BODY", "Text": "Find us."}]),
    );
    assert!(check_send_params(&c, &BTreeMap::new(), &[]).is_ok());
    assert!(
        check_send_params(&c, &params(&[("latitude", "1.5"), ("longitude", "2")]), &[]).is_ok()
    );
}

#[test]
fn payload_bounded_by_quick_replies() {
    let p = params(&[
        ("name", "Ada"),
        ("item", "x"),
        ("track", "A1"),
        ("couponCode", "S"),
    ]);
    let payload: Vec<String> = vec!["a".into(), "b".into(), "c".into()];
    let e = check_send_params(&shipped(), &p, &payload).expect_err("too many");
    assert_eq!(e.code, Code::InvalidParameterSub("Payload".into()));
    assert!(
        e.message.contains("3 entries") && e.message.contains("only 2 QUICK_REPLY"),
        "{}",
        e.message
    );
}
