//! The callback records CAMS pushes to customers (cams-api.md §4): flat PascalCase JSON objects,
//! sent as arrays. Built here so every part of the server writes them the same way.

use serde_json::{Value, json};

/// ChatAppAudit (§4.4): a template language version's review status.
pub fn audit(
    waba_id: &str,
    code: &str,
    name: &str,
    language: &str,
    status: &str,
    reason: &str,
) -> Value {
    json!({
        "WabaId": waba_id,
        "TemplateCode": code,
        "TemplateName": name,
        "Language": language,
        "AuditStatus": status,
        "Reason": reason,
    })
}
