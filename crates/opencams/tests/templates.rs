//! Template management end to end through the official SDK: create, simulated review, modify,
//! delete, detail, list, and the linter's errors.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn server() -> Server {
    server_reviewing_after("300")
}

fn server_reviewing_after(ms: &str) -> Server {
    let s = Server::start_with_env(&[("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", ms)]);
    s.cli_json(&[
        "account",
        "set",
        "default",
        "qps.CreateChatappTemplate=100000",
        "qps.ListChatappTemplate=100000",
        "qps.api=100000",
    ]);
    s
}

fn order_template(name: &str) -> Value {
    json!({
        "TemplateType": "WHATSAPP",
        "Name": name,
        "Language": "en_US",
        "Category": "UTILITY",
        "Components": [
            {"Type": "HEADER", "Format": "TEXT", "Text": "Order {{order_id}}"},
            {"Type": "BODY", "Text": "Hi {{name}}, your order ships {{day}}."},
            {"Type": "FOOTER", "Text": "Reply STOP to opt out"},
            {"Type": "BUTTONS", "Buttons": [
                {"Type": "QUICK_REPLY", "Text": "Track"},
                {"Type": "QUICK_REPLY", "Text": "Stop updates"},
                {"Type": "URL", "Text": "Open", "Url": "https://example.org/o/{{order_id}}", "UrlType": "dynamic"}
            ]}
        ],
        "Example": {"order_id": "A-1001", "name": "Ada", "day": "today"}
    })
}

fn detail(s: &Server, code: &str, lang: &str) -> Value {
    s.sdk1(
        "get_chatapp_template_detail",
        json!({"TemplateCode": code, "Language": lang, "CustSpaceId": s.space}),
    )
}

fn wait_status(s: &Server, code: &str, lang: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let d = detail(s, code, lang);
        if d["body"]["Data"]["AuditStatus"] == want {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "template never became {want}: {d}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn lifecycle_create_review_modify_delete() {
    // long enough that `auditing` is still observable right after create/modify on a loaded machine
    let s = server_reviewing_after("2500");
    let r = s.sdk1("create_chatapp_template", order_template("order_update"));
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["body"]["Success"], true);
    let code = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 32);
    assert_eq!(r["body"]["Data"]["TemplateName"], "order_update");

    let d = detail(&s, &code, "en_US");
    assert_eq!(d["body"]["Data"]["AuditStatus"], "auditing", "{d}");
    let d = wait_status(&s, &code, "en_US", "pass");
    let data = &d["body"]["Data"];
    assert_eq!(data["Name"], "order_update");
    assert_eq!(data["Category"], "UTILITY");
    assert_eq!(data["AllowSend"], true);
    assert_eq!(data["Example"]["name"], "Ada");
    assert_eq!(
        data["Components"][1]["Text"],
        "Hi {{name}}, your order ships {{day}}."
    );
    assert_eq!(data["Components"][3]["Buttons"][2]["UrlType"], "dynamic");

    // a second language joins the same code
    let mut fr = order_template("order_update");
    fr["Language"] = json!("fr");
    let r = s.sdk1("create_chatapp_template", fr.clone());
    assert_eq!(r["body"]["Data"]["TemplateCode"], code, "{r}");
    let r = s.sdk1("create_chatapp_template", fr);
    assert_sdk_error(&r, "InvalidParameter.TemplateNameExist", 400);

    // modify sends an approved template back to review
    let mut changed = order_template("order_update");
    changed["TemplateCode"] = json!(code);
    changed["Components"][1]["Text"] = json!("Hello {{name}}, your order ships {{day}}!");
    let r = s.sdk1("modify_chatapp_template", changed.clone());
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        detail(&s, &code, "en_US")["body"]["Data"]["AuditStatus"],
        "auditing"
    );
    let d = wait_status(&s, &code, "en_US", "pass");
    assert_eq!(
        d["body"]["Data"]["Components"][1]["Text"],
        "Hello {{name}}, your order ships {{day}}!"
    );
    changed["Category"] = json!("MARKETING");
    let r = s.sdk1("modify_chatapp_template", changed);
    assert_sdk_error(&r, "InvalidParameter", 400);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("category cannot be modified"),
        "{r}"
    );

    // delete one language, then all
    let r = s.sdk1(
        "delete_chatapp_template",
        json!({"TemplateCode": code, "Language": "fr", "TemplateType": "WHATSAPP"}),
    );
    assert_eq!(r["ok"], true, "{r}");
    assert_sdk_error(
        &detail(&s, &code, "fr"),
        "DetailError.TemplateNotExist",
        400,
    );
    assert_eq!(detail(&s, &code, "en_US")["ok"], true);
    let r = s.sdk1("delete_chatapp_template", json!({"TemplateCode": code}));
    assert_eq!(r["ok"], true, "{r}");
    assert_sdk_error(
        &detail(&s, &code, "en_US"),
        "DetailError.TemplateNotExist",
        400,
    );
    let r = s.sdk1("delete_chatapp_template", json!({"TemplateCode": code}));
    assert_sdk_error(&r, "DelError.TemplateNotExist", 400);
    // a deleted template can no longer be sent
    let send = json!({"ChannelType": "whatsapp", "Type": "template", "From": "8613600000000", "To": "8613900000000",
        "TemplateCode": code, "Language": "en_US", "TemplateParams": {"order_id": "A-1", "name": "Ada", "day": "today"}});
    assert_sdk_error(
        &s.sdk1("send_chatapp_message", send),
        "DetailError.TemplateNotExist",
        400,
    );
    // the name is free again, under a new code
    let r = s.sdk1("create_chatapp_template", order_template("order_update"));
    assert_ne!(r["body"]["Data"]["TemplateCode"], code);
}

#[test]
fn rejection_and_manual_review() {
    let s = server();
    let r = s.sdk1(
        "create_chatapp_template",
        order_template("please_reject_me"),
    );
    let code = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    let d = wait_status(&s, &code, "en_US", "fail");
    assert!(
        d["body"]["Data"]["Reason"]
            .as_str()
            .unwrap()
            .contains("reject"),
        "{d}"
    );
    assert_eq!(d["body"]["Data"]["AllowSend"], false);

    // templates awaiting review can be decided from the CLI
    let s2 = Server::start_with_env(&[("OPENCAMS_TEMPLATE_REVIEW_DELAY_MS", "600000")]);
    let r = s2.sdk1("create_chatapp_template", order_template("manual_one"));
    let code = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    let out = s2.cli_json(&[
        "template",
        "reject",
        &code,
        "--language",
        "en_US",
        "--reason",
        "looks promotional",
    ]);
    assert_eq!(out["AuditStatus"], "fail");
    assert_eq!(
        detail(&s2, &code, "en_US")["body"]["Data"]["Reason"],
        "looks promotional"
    );
    let (code_exit, _, err) = s2.cli(&["template", "approve", &code, "--language", "en_US"]);
    assert_ne!(code_exit, 0);
    assert!(err.contains("not awaiting review"), "{err}");
    let r = s2.sdk1("create_chatapp_template", order_template("manual_two"));
    let code2 = r["body"]["Data"]["TemplateCode"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        s2.cli_json(&["template", "approve", &code2, "--language", "en_US"])["AuditStatus"],
        "pass"
    );
    let listed = s2.cli_json(&["template", "list"]);
    assert_eq!(listed["Total"], 2);
}

#[test]
fn linter_and_parameter_errors_name_the_rule() {
    let s = server();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut t = order_template("lint_case");
        f(&mut t);
        s.sdk1("create_chatapp_template", t)
    };
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (
            Box::new(|t| t["Components"][1]["Text"] = json!("Hi {{1}}, ok.")),
            "InvalidParameter.MessageInvalid",
            "numeric",
        ),
        (
            Box::new(|t| t["Components"][2]["Text"] = json!("Bye {{name}}")),
            "InvalidParameter.FooterHaveVariable",
            "FOOTER",
        ),
        (
            Box::new(|t| t["Components"][0]["Text"] = json!("{{order_id}} {{name}} x")),
            "InvalidParameter.HeaderMoreVarable",
            "HEADER",
        ),
        (
            Box::new(|t| t["Components"][0]["Format"] = json!("GIF")),
            "InvalidParameter.HeaderTypeNotSupport",
            "GIF",
        ),
        (
            Box::new(|t| t["Components"][3]["Buttons"][0]["Text"] = json!("Go {{name}}")),
            "InvalidParameter.ButtonTextHaveVariable",
            "button",
        ),
        (
            Box::new(|t| t["Components"][1]["Text"] = json!("{{name}} starts the body.")),
            "InvalidParameter.MessageInvalid",
            "start",
        ),
        (
            Box::new(|t| t["Components"][1]["Text"] = json!("Hi {{name}} {{day}} ok.")),
            "InvalidParameter.MessageInvalid",
            "side by side",
        ),
        (
            Box::new(|t| {
                t["Example"].as_object_mut().unwrap().remove("day");
            }),
            "InvalidParameter",
            "day",
        ),
        (
            Box::new(|t| t["Name"] = json!("Bad Name")),
            "InvalidParameter",
            "Name",
        ),
        (
            Box::new(|t| t["Language"] = json!("xx_YY")),
            "InvalidParameter.LanguageNotSupport",
            "xx_YY",
        ),
        (
            Box::new(|t| t["TemplateType"] = json!("VIBER")),
            "InvalidParameter.TemplateTypeNotSupport",
            "VIBER",
        ),
        (
            Box::new(|t| t["Category"] = json!("SPAM")),
            "InvalidParameter",
            "Category",
        ),
        (
            Box::new(|t| {
                t.as_object_mut().unwrap().remove("Name");
            }),
            "MissingName",
            "Name",
        ),
        (
            Box::new(|t| {
                t.as_object_mut().unwrap().remove("Components");
            }),
            "MissingComponents",
            "Components",
        ),
    ];
    for (mutate, code, needle) in cases {
        let r = with(&*mutate);
        assert_sdk_error(&r, code, 400);
        assert!(
            r["message"].as_str().unwrap().contains(needle),
            "{code}: {r}"
        );
    }
    // unparsable shrink JSON through raw HTTP (the SDK always sends valid JSON)
    let (target, headers) = signed_v3(
        &s.addr,
        &s.ak,
        &s.sk,
        "CreateChatappTemplate",
        &[
            ("TemplateType", "WHATSAPP"),
            ("Name", "x"),
            ("Language", "en"),
            ("Category", "UTILITY"),
            ("Components", "[{oops"),
        ],
    );
    let (status, _, body) = s.raw("POST", &target, &headers, b"");
    assert_eq!(status, 400);
    assert_eq!(body["Code"], "InvalidParameter", "{body}");
    assert!(
        body["Message"].as_str().unwrap().contains("Components"),
        "{body}"
    );
}

#[test]
fn list_pages_through_120_templates_with_filters() {
    let s = server_reviewing_after("600000"); // every template stays `auditing` during the test
    let calls: Vec<Value> = (0..120)
        .map(|i| {
            let mut t = order_template(&format!("bulk_{i:03}"));
            if i % 3 == 0 {
                t["Category"] = json!("MARKETING");
            }
            json!({"op": "create_chatapp_template", "request": t})
        })
        .collect();
    let created = s.sdk(Value::Array(calls));
    assert!(
        created.iter().all(|r| r["ok"] == true),
        "{:?}",
        created.iter().find(|r| r["ok"] != true)
    );
    let mut seen = std::collections::BTreeSet::new();
    for index in 1..=13 {
        let r = s.sdk1(
            "list_chatapp_template",
            json!({"Page": {"Index": index, "Size": 10}}),
        );
        assert_eq!(r["body"]["Total"], 120, "{r}");
        let page = r["body"]["ListTemplate"].as_array().unwrap();
        assert_eq!(page.len(), if index <= 12 { 10 } else { 0 });
        for t in page {
            assert!(t["LastUpdateTime"].as_i64().unwrap() > 0);
            assert!(
                seen.insert(t["TemplateName"].as_str().unwrap().to_string()),
                "duplicate {t}"
            );
        }
    }
    assert_eq!(seen.len(), 120);
    let r = s.sdk1(
        "list_chatapp_template",
        json!({"Category": "MARKETING", "Page": {"Index": 1, "Size": 100}}),
    );
    assert_eq!(r["body"]["Total"], 40);
    let r = s.sdk1("list_chatapp_template", json!({"Name": "bulk_007"}));
    assert_eq!(r["body"]["Total"], 1);
    assert_eq!(r["body"]["ListTemplate"][0]["AuditStatus"], "auditing");
    for (req, code) in [
        (
            json!({"AuditStatus": "maybe"}),
            "InvalidParameter.AuditStatusNotSupport",
        ),
        (
            json!({"Language": "klingon"}),
            "InvalidParameter.LanguageNotSupport",
        ),
        (
            json!({"TemplateType": "LINE"}),
            "InvalidParameter.TemplateTypeNotSupport",
        ),
        (
            json!({"Page": {"Index": 0, "Size": 10}}),
            "InvalidParameter.PageInvalid",
        ),
        (
            json!({"Page": {"Index": 1, "Size": 100000}}),
            "InvalidParameter.PageInvalid",
        ),
    ] {
        assert_sdk_error(&s.sdk1("list_chatapp_template", req), code, 400);
    }
}

#[test]
fn keys_limited_to_actions_are_denied_the_others() {
    let s = server();
    let k = s.cli_json(&[
        "key",
        "create",
        "--account",
        "default",
        "--actions",
        "QueryChatappPhoneNumbers,ListChatappTemplate",
    ]);
    let (id, secret) = (
        k["AccessKeyId"].as_str().unwrap(),
        k["AccessKeySecret"].as_str().unwrap(),
    );
    let r = s.sdk_as(
        id,
        secret,
        false,
        json!([
            {"op": "list_chatapp_template", "request": {}},
            {"op": "create_chatapp_template", "request": order_template("denied")},
        ]),
    );
    assert_eq!(r[0]["ok"], true, "{r:?}");
    assert_sdk_error(&r[1], "Ram.PermissionDeny", 400);
    assert_eq!(
        r[1]["data"]["AccessDeniedDetail"]["AuthAction"], "cams:CreateChatappTemplate",
        "{r:?}"
    );
}
