//! How opencams's own numbers and templates look to the simulator: pure mappings from domain
//! values to the [`SimNumber`] and [`SimTemplate`] that a [`NumberDirectory`] or
//! [`TemplateDirectory`] hands back. The binary's store-backed directories read the store and
//! call these; nothing here does I/O.
//!
//! [`NumberDirectory`]: super::NumberDirectory
//! [`TemplateDirectory`]: super::TemplateDirectory

use opencams_domain::template::{
    self, AuditStatus, ButtonType, Category, Component, ComponentType,
};

use super::config::{SimNumber, SimTemplate};
use crate::ids::{simulated_phone_number_id, simulated_waba_id};

impl SimNumber {
    /// One of opencams's `simulator` numbers: its Graph ids are derived from the phone and the
    /// space ([`simulated_phone_number_id`], [`simulated_waba_id`]); every number answers to the
    /// simulator's one access token.
    pub fn simulated(phone: &str, space_id: &str, access_token: &str, throughput_mps: u32) -> Self {
        Self {
            phone_number_id: simulated_phone_number_id(phone),
            display_phone_number: phone.to_string(),
            waba_id: simulated_waba_id(space_id),
            access_token: access_token.to_string(),
            throughput_mps,
        }
    }
}

/// The Cloud API template status of a CAMS review state; states still under (or never sent
/// to) review are `PENDING`.
pub fn sim_status(status: AuditStatus) -> &'static str {
    match status {
        AuditStatus::Pass => "APPROVED",
        AuditStatus::Fail => "REJECTED",
        AuditStatus::Paused => "PAUSED",
        AuditStatus::Disabled => "DISABLED",
        AuditStatus::Auditing | AuditStatus::Unaudit => "PENDING",
    }
}

/// What the simulator checks a template send against, from one of opencams's templates (one
/// language): its status, body and header variables, header format and the buttons that take a
/// parameter, with the sub-type a send must name for each.
pub fn sim_template(
    name: &str,
    language: &str,
    category: Category,
    components: &[Component],
    status: AuditStatus,
) -> SimTemplate {
    let authentication = category == Category::Authentication;
    let vars = template::variables(components);
    let header = components.iter().find(|c| c.kind == ComponentType::Header);
    let body_text = components
        .iter()
        .find(|c| c.kind == ComponentType::Body)
        .and_then(|c| c.text.clone());
    let buttons = components
        .iter()
        .filter(|c| c.kind == ComponentType::Buttons)
        .flat_map(|c| &c.buttons);
    let mut button_params = Vec::new();
    for (i, b) in buttons.enumerate() {
        let sub = match b.kind {
            ButtonType::Url if b.url.as_deref().is_some_and(|u| u.contains("{{")) => "url",
            ButtonType::OneTap => "url",
            // an authentication template's copy-code button carries the code as a `url` param
            ButtonType::CopyCode if authentication => "url",
            ButtonType::CopyCode => "copy_code",
            ButtonType::Mpm => "mpm",
            ButtonType::Catalog => "catalog",
            _ => continue,
        };
        button_params.push((i, sub.to_string()));
    }
    // an authentication template's body is Meta's fixed text with the code as its one variable
    let body_params = if authentication {
        vec!["1".into()]
    } else {
        vars.body
    };
    SimTemplate {
        name: name.to_string(),
        language: language.to_string(),
        status: sim_status(status).into(),
        category: category.as_str().to_string(),
        body_params,
        header_param: vars.header,
        header_format: header
            .and_then(|h| h.format)
            .map(|f| f.as_str().to_string())
            .or(header.map(|_| "TEXT".into())),
        button_params,
        body_text,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

    use opencams_domain::template::parse_components;
    use serde_json::{Value, json};

    use super::*;

    fn components(raw: Value) -> Vec<Component> {
        parse_components(&raw.to_string()).unwrap()
    }

    fn with_button(button: Value) -> Vec<Component> {
        components(json!([
            {"Type": "BODY", "Text": "Hello {{1}}"},
            {"Type": "BUTTONS", "Buttons": [{"Type": "QUICK_REPLY", "Text": "Stop"}, button]}
        ]))
    }

    #[test]
    fn each_button_type_names_its_sub_type() {
        let cases: &[(Category, Value, Option<&str>)] = &[
            (
                Category::Marketing,
                json!({"Type": "URL", "Text": "Go", "Url": "https://e.com/{{1}}", "UrlType": "dynamic"}),
                Some("url"),
            ),
            (
                Category::Marketing,
                json!({"Type": "URL", "Text": "Go", "Url": "https://e.com/", "UrlType": "static"}),
                None,
            ),
            (
                Category::Marketing,
                json!({"Type": "COPY_CODE", "Text": "Copy", "CouponCode": "SAVE25"}),
                Some("copy_code"),
            ),
            (
                Category::Authentication,
                json!({"Type": "COPY_CODE", "Text": "Copy code"}),
                Some("url"),
            ),
            (
                Category::Authentication,
                json!({"Type": "ONE_TAP", "Text": "Copy code", "AutofillText": "Autofill",
                       "PackageName": "com.example", "SignatureHash": "abcdefghijk"}),
                Some("url"),
            ),
            (
                Category::Marketing,
                json!({"Type": "MPM", "Text": "View"}),
                Some("mpm"),
            ),
            (
                Category::Marketing,
                json!({"Type": "CATALOG", "Text": "View"}),
                Some("catalog"),
            ),
            (
                Category::Marketing,
                json!({"Type": "PHONE_NUMBER", "Text": "Call", "PhoneNumber": "+8613800000000"}),
                None,
            ),
            (
                Category::Marketing,
                json!({"Type": "QUICK_REPLY", "Text": "Yes"}),
                None,
            ),
        ];
        for (category, button, want) in cases {
            let t = sim_template(
                "t",
                "en_US",
                *category,
                &with_button(button.clone()),
                AuditStatus::Pass,
            );
            let want: Vec<(usize, String)> = want.iter().map(|s| (1, (*s).to_string())).collect();
            assert_eq!(t.button_params, want, "{category:?} {button}");
        }
    }

    #[test]
    fn authentication_templates_take_the_code_as_the_one_body_variable() {
        let c = components(json!([
            {"Type": "BODY", "Text": "{{1}} is your code"},
            {"Type": "BUTTONS", "Buttons": [{"Type": "COPY_CODE", "Text": "Copy code"}]}
        ]));
        let t = sim_template("otp", "en", Category::Authentication, &c, AuditStatus::Pass);
        assert_eq!(t.body_params, vec!["1".to_string()]);
        assert_eq!(t.category, "AUTHENTICATION");
        assert_eq!(t.button_params, vec![(0, "url".to_string())]);
        // the same components in a utility template keep their own variables
        let c = components(json!([{"Type": "BODY", "Text": "Hi {{1}}, order {{2}}"}]));
        let t = sim_template("u", "en", Category::Utility, &c, AuditStatus::Pass);
        assert_eq!(t.body_params, vec!["1".to_string(), "2".to_string()]);
        assert_eq!(t.category, "UTILITY");
    }

    #[test]
    fn audit_status_maps_to_the_cloud_status() {
        let cases = [
            (AuditStatus::Pass, "APPROVED"),
            (AuditStatus::Fail, "REJECTED"),
            (AuditStatus::Paused, "PAUSED"),
            (AuditStatus::Disabled, "DISABLED"),
            (AuditStatus::Auditing, "PENDING"),
            (AuditStatus::Unaudit, "PENDING"),
        ];
        let c = components(json!([{"Type": "BODY", "Text": "Hi"}]));
        for (status, want) in cases {
            assert_eq!(sim_status(status), want);
            let t = sim_template("t", "en", Category::Marketing, &c, status);
            assert_eq!(t.status, want, "{status:?}");
        }
    }

    #[test]
    fn headers_name_their_format_and_variable() {
        let c = components(json!([
            {"Type": "HEADER", "Format": "TEXT", "Text": "Hi {{1}}"},
            {"Type": "BODY", "Text": "Body {{1}}"}
        ]));
        let t = sim_template("h", "en_US", Category::Marketing, &c, AuditStatus::Pass);
        assert_eq!(t.header_format.as_deref(), Some("TEXT"));
        assert_eq!(t.header_param.as_deref(), Some("1"));
        assert_eq!(t.body_text.as_deref(), Some("Body {{1}}"));
        assert_eq!((t.name.as_str(), t.language.as_str()), ("h", "en_US"));
        let c = components(json!([
            {"Type": "HEADER", "Format": "IMAGE"},
            {"Type": "BODY", "Text": "Body"}
        ]));
        let t = sim_template("h", "en_US", Category::Marketing, &c, AuditStatus::Pass);
        assert_eq!(t.header_format.as_deref(), Some("IMAGE"));
        assert_eq!(t.header_param, None);
        let c = components(json!([{"Type": "BODY", "Text": "Body"}]));
        let t = sim_template("h", "en_US", Category::Marketing, &c, AuditStatus::Pass);
        assert_eq!(t.header_format, None);
    }

    #[test]
    fn simulated_numbers_derive_their_graph_ids() {
        let n = SimNumber::simulated("8613800000000", "cams-space", "SIMtoken", 80);
        assert_eq!(n.phone_number_id, "18613800000000");
        assert_eq!(n.display_phone_number, "8613800000000");
        assert_eq!(n.waba_id, "cams-space");
        assert_eq!(n.access_token, "SIMtoken");
        assert_eq!(n.throughput_mps, 80);
    }
}
