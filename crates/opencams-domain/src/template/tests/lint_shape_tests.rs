//! One passing and one failing case per linter rule: buttons, AUTHENTICATION, CAROUSEL and
//! LIMITED_TIME_OFFER.

use serde_json::{Value, json};

use super::lint_tests::{A, BODY, M, U, body, fail, pass, qr, url_button, with_buttons};
use crate::Code;

#[test]
fn button_counts() {
    pass(
        M,
        with_buttons(json!(
            (0..10).map(|i| qr(&format!("Q{i}"))).collect::<Vec<_>>()
        )),
    );
    fail(
        M,
        with_buttons(json!(
            (0..11).map(|i| qr(&format!("Q{i}"))).collect::<Vec<_>>()
        )),
        Code::CreateError,
        "11 buttons",
    );
    let phone = json!({"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "+8613800000000"});
    pass(
        M,
        with_buttons(json!([
            phone,
            url_button("https://a.example"),
            url_button("https://b.example")
        ])),
    );
    fail(
        M,
        with_buttons(json!([phone, phone])),
        Code::CreateError,
        "2 PHONE_NUMBER",
    );
    fail(
        M,
        with_buttons(json!([
            url_button("https://a.example"),
            url_button("https://b.example"),
            url_button("https://c.example")
        ])),
        Code::CreateError,
        "3 URL",
    );
}

#[test]
fn copy_code_is_marketing_only_and_single() {
    let copy = json!({"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(couponCode)"});
    pass(M, with_buttons(json!([copy])));
    fail(
        U,
        with_buttons(json!([copy])),
        Code::CreateError,
        "only in MARKETING",
    );
    fail(
        M,
        with_buttons(json!([copy, copy])),
        Code::CreateError,
        "2 COPY_CODE",
    );
}

#[test]
fn quick_replies_are_grouped() {
    pass(
        M,
        with_buttons(json!([
            qr("Yes"),
            qr("No"),
            url_button("https://a.example")
        ])),
    );
    fail(
        M,
        with_buttons(json!([
            qr("Yes"),
            url_button("https://a.example"),
            qr("No")
        ])),
        Code::CreateError,
        "grouped together",
    );
}

#[test]
fn button_labels() {
    pass(M, with_buttons(json!([qr(&"x".repeat(25))])));
    fail(
        M,
        with_buttons(json!([{"Type": "QUICK_REPLY"}])),
        Code::CreateError,
        "Components[1] (BUTTONS) button 0 (QUICK_REPLY) needs Text",
    );
    fail(
        M,
        with_buttons(json!([qr(&"x".repeat(26))])),
        Code::CreateError,
        "at most 25",
    );
    fail(
        M,
        with_buttons(json!([qr("Hi {{name}}")])),
        Code::ButtonTextHaveVariable,
        "button 0",
    );
}

#[test]
fn url_buttons() {
    pass(
        M,
        with_buttons(
            json!([{"Type": "URL", "Text": "Track", "Url": "https://x.example/t/{{track}}", "UrlType": "dynamic"}]),
        ),
    );
    fail(
        M,
        with_buttons(json!([url_button("www.example.com")])),
        Code::CreateError,
        "http:// or https://",
    );
    fail(
        M,
        with_buttons(json!([url_button("https://x.example/{{track}}/{{name}}")])),
        Code::UrlMoreVarable,
        "2 variables",
    );
    fail(
        M,
        with_buttons(json!([url_button("https://x.example/{{track}}/view")])),
        Code::UrlMoreVarable,
        "before its end",
    );
    fail(
        M,
        with_buttons(
            json!([{"Type": "URL", "Text": "Go", "Url": "https://x.example", "UrlType": "dynamic"}]),
        ),
        Code::CreateError,
        "no variable",
    );
}

#[test]
fn phone_buttons() {
    pass(
        M,
        with_buttons(
            json!([{"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "8613800000000"}]),
        ),
    );
    fail(
        M,
        with_buttons(json!([{"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "12ab"}])),
        Code::PhoneNumberError,
        "button 0",
    );
    fail(
        M,
        with_buttons(json!([{"Type": "PHONE_NUMBER", "Text": "Call"}])),
        Code::PhoneNumberError,
        "PhoneNumber",
    );
}

#[test]
fn flow_buttons() {
    pass(
        M,
        with_buttons(
            json!([{"Type": "FLOW", "Text": "Book", "FlowId": "123", "FlowAction": "NAVIGATE", "NavigateScreen": "WELCOME"}]),
        ),
    );
    pass(
        M,
        with_buttons(
            json!([{"Type": "FLOW", "Text": "Book", "FlowId": "123", "FlowAction": "DATA_EXCHANGE"}]),
        ),
    );
    fail(
        M,
        with_buttons(json!([{"Type": "FLOW", "Text": "Book"}])),
        Code::CreateError,
        "FlowId",
    );
    fail(
        M,
        with_buttons(
            json!([{"Type": "FLOW", "Text": "Book", "FlowId": "1", "FlowAction": "NAVIGATE"}]),
        ),
        Code::CreateError,
        "NavigateScreen",
    );
}

#[test]
fn coupon_codes() {
    pass(
        M,
        with_buttons(json!([{"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "SAVE25"}])),
    );
    fail(
        M,
        with_buttons(json!([{"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "SAVE-25"}])),
        Code::CreateError,
        "CouponCode",
    );
    fail(
        M,
        with_buttons(
            json!([{"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "A234567890123456"}]),
        ),
        Code::CreateError,
        "15 letters",
    );
    fail(
        M,
        with_buttons(json!([{"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "$(coupon)"}])),
        Code::InvalidParameter,
        "`coupon`",
    );
}

pub(super) fn auth_copy_code() -> Value {
    json!([
        {"Type": "BODY", "AddSecretRecommendation": true},
        {"Type": "FOOTER", "CodeExpirationMinutes": 10},
        {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "Text": "Copy code"}]}
    ])
}

pub(super) fn auth_one_tap() -> Value {
    json!([
        {"Type": "BODY"},
        {"Type": "BUTTONS", "Buttons": [{"Type": "ONE_TAP", "Text": "Copy code", "AutofillText": "Autofill",
            "SupportedApps": [{"PackageName": "com.example.app", "SignatureHash": "K8a/AINcGX7"}]}]}
    ])
}

#[test]
fn authentication_shape() {
    pass(A, auth_copy_code());
    pass(A, auth_one_tap());
    let otp = json!({"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "Text": "Copy"}]});
    fail(
        A,
        json!([{"Type": "HEADER", "Format": "TEXT", "Text": "Code"}, {"Type": "BODY"}, otp]),
        Code::CreateError,
        "no HEADER",
    );
    fail(
        A,
        json!([body("Your code"), otp]),
        Code::MessageInvalid,
        "must be empty",
    );
    fail(
        A,
        json!([{"Type": "BODY"}, {"Type": "FOOTER", "Text": "x"}, otp]),
        Code::MessageInvalid,
        "Components[1] (FOOTER)",
    );
    fail(
        A,
        json!([{"Type": "BODY"}]),
        Code::CreateError,
        "exactly one button",
    );
    fail(
        A,
        json!([{"Type": "BODY"}, {"Type": "BUTTONS", "Buttons": [qr("A"), qr("B")]}]),
        Code::CreateError,
        "it has 2",
    );
    fail(
        A,
        json!([{"Type": "BODY"}, {"Type": "BUTTONS", "Buttons": [qr("A")]}]),
        Code::CreateError,
        "not QUICK_REPLY",
    );
    fail(
        A,
        json!([{"Type": "BODY"}, {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE"}]}]),
        Code::CreateError,
        "needs Text",
    );
    fail(
        M,
        with_buttons(json!([{"Type": "ONE_TAP", "Text": "Go"}])),
        Code::CreateError,
        "only in AUTHENTICATION",
    );
}

#[test]
fn one_tap_needs_autofill_and_apps() {
    let tap = |extra: Value| {
        let mut b = json!({"Type": "ZERO_TAP", "Text": "Copy", "AutofillText": "Autofill"});
        for (k, v) in extra.as_object().into_iter().flatten() {
            b[k] = v.clone();
        }
        json!([{"Type": "BODY"}, {"Type": "BUTTONS", "Buttons": [b]}])
    };
    let app = json!({"PackageName": "com.a", "SignatureHash": "h"});
    pass(A, tap(json!({"SupportedApps": [app]})));
    fail(A, tap(json!({})), Code::CreateError, "0 SupportedApps");
    fail(
        A,
        tap(json!({"SupportedApps": vec![app.clone(); 6]})),
        Code::CreateError,
        "6 SupportedApps",
    );
    fail(
        A,
        tap(json!({"SupportedApps": [{"PackageName": "com.a"}]})),
        Code::CreateError,
        "SignatureHash",
    );
    fail(
        A,
        tap(json!({"SupportedApps": [app], "AutofillText": null})),
        Code::CreateError,
        "AutofillText",
    );
}

#[test]
fn code_expiration_minutes_range() {
    let footer = |m: i64| {
        json!([{"Type": "BODY"}, {"Type": "FOOTER", "CodeExpirationMinutes": m},
            {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "Text": "Copy"}]}])
    };
    pass(A, footer(90));
    fail(A, footer(91), Code::CreateError, "1 to 90");
    fail(A, footer(0), Code::CreateError, "CodeExpirationMinutes");
}

fn card(format: &str, buttons: Value) -> Value {
    json!({"CardComponents": [
        {"Type": "HEADER", "Format": format, "Url": "https://cdn.example.com/c.jpg"},
        {"Type": "BODY", "Text": "Only {{item}} today."},
        {"Type": "BUTTONS", "Buttons": buttons}
    ]})
}

fn carousel(cards: Vec<Value>) -> Value {
    json!([body(BODY), {"Type": "CAROUSEL", "Cards": cards}])
}

#[test]
fn carousel_cards() {
    let b = json!([qr("More"), url_button("https://x.example/{{track}}")]);
    pass(
        M,
        carousel(vec![card("IMAGE", b.clone()), card("IMAGE", b.clone())]),
    );
    fail(
        M,
        carousel(vec![card("IMAGE", b.clone())]),
        Code::CreateError,
        "1 Cards",
    );
    fail(
        M,
        carousel(vec![card("IMAGE", b.clone()); 11]),
        Code::CreateError,
        "11 Cards",
    );
    fail(
        M,
        carousel(vec![card("IMAGE", b.clone()), card("VIDEO", b.clone())]),
        Code::CreateError,
        "same header format",
    );
    fail(
        M,
        carousel(vec![card("TEXT", b.clone()), card("TEXT", b.clone())]),
        Code::HeaderTypeNotSupport,
        "IMAGE or VIDEO",
    );
    let three = json!([qr("A"), qr("B"), qr("C")]);
    fail(
        M,
        carousel(vec![card("IMAGE", three.clone()), card("IMAGE", three)]),
        Code::CreateError,
        "at most 2",
    );
    let other = json!([url_button("https://x.example/{{track}}"), qr("More")]);
    fail(
        M,
        carousel(vec![card("IMAGE", b), card("IMAGE", other)]),
        Code::CreateError,
        "same button types",
    );
}

#[test]
fn limited_time_offer() {
    let lto = |text: &str| json!([{"Type": "LIMITED_TIME_OFFER", "Text": text, "HasExpiration": true}, body(BODY)]);
    pass(M, lto("Expiring offer!"));
    fail(
        U,
        lto("Expiring offer!"),
        Code::CreateError,
        "only in MARKETING",
    );
    fail(
        M,
        lto("An offer far too long"),
        Code::MessageInvalid,
        "at most 16",
    );
}
