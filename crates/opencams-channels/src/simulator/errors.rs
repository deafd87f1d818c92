//! Graph API errors: the exact JSON shape of whatsapp-cloud-api.md §2.1, the title and HTTP
//! status of each code, and the `errors[]` objects of failed status webhooks (§2.2).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ids;

/// A synchronous Graph error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    pub code: u32,
    pub subcode: Option<u32>,
    pub details: String,
    /// Overrides the status Meta lists for the code (fault injection of 429, 503…).
    pub http_status: Option<u16>,
}

impl GraphError {
    pub fn new(code: u32, details: impl Into<String>) -> Self {
        Self {
            code,
            subcode: None,
            details: details.into(),
            http_status: None,
        }
    }

    pub fn with_subcode(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Invalid parameter (bad JSON, unknown field, wrong type).
    pub fn param(details: impl Into<String>) -> Self {
        Self::new(100, details)
    }

    /// Required parameter missing.
    pub fn missing(field: &str) -> Self {
        Self::new(131008, format!("The parameter {field} is required."))
    }

    /// Parameter value not valid.
    pub fn invalid(details: impl Into<String>) -> Self {
        Self::new(131009, details)
    }

    pub fn status(&self) -> u16 {
        self.http_status.unwrap_or_else(|| http_status(self.code))
    }

    pub fn body(&self) -> Value {
        let mut err = json!({
            "message": format!("(#{}) {}", self.code, title(self.code)),
            "type": "OAuthException",
            "code": self.code,
        });
        if let Some(sub) = self.subcode {
            err["error_subcode"] = json!(sub);
        }
        err["error_data"] = json!({ "messaging_product": "whatsapp", "details": self.details });
        err["fbtrace_id"] = json!(ids::fbtrace_id());
        json!({ "error": err })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}

/// The `errors[]` entry of a failed status webhook.
pub fn webhook_error(code: u32, details: &str) -> Value {
    json!({
        "code": code,
        "title": title(code),
        "message": title(code),
        "error_data": { "details": details },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    })
}

/// Titles as Meta words them (the text is informational; clients branch on `code`).
pub fn title(code: u32) -> &'static str {
    match code {
        0 => "AuthException",
        1 => "An unknown error occurred",
        2 => "Service temporarily unavailable",
        4 => "Application request limit reached",
        10 => "Permission denied",
        100 => "Invalid parameter",
        190 => "Access token has expired",
        368 => "Temporarily blocked for policies violations",
        2500 => "Unknown path components",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131005 => "Access denied",
        131008 => "Required parameter is missing",
        131009 => "Parameter value is not valid",
        131016 => "Service unavailable",
        131021 => "Recipient cannot be sender",
        131026 => "Message undeliverable",
        131047 => "Re-engagement message",
        131048 => "Spam rate limit hit",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131050 => "User has stopped marketing messages",
        131051 => "Message type unknown",
        131052 => "Media download error",
        131053 => "Media upload error",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        131057 => "Account in maintenance mode",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        132005 => "Translated text too long",
        132012 => "Parameter format does not match format in the created template",
        132015 => "Template is Paused",
        132016 => "Template is Disabled",
        132018 => "There was an issue with the parameters in your template.",
        133004 => "Server temporarily unavailable",
        _ => "Error",
    }
}

/// The HTTP status Meta lists for a code when it is returned synchronously (§2.3).
pub fn http_status(code: u32) -> u16 {
    match code {
        0 | 190 => 401,
        1 | 131000 | 131057 | 133000 => 500,
        2 | 131016 | 133004 => 503,
        3 => 500,
        10 | 200..=299 | 368 | 130497 | 131005 | 131031 => 403,
        132001 => 404,
        _ => 400,
    }
}

/// Errors of the simulator's Rust API (not of its HTTP surface).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SimError {
    #[error("unknown phone_number_id {0}")]
    UnknownNumber(String),
    #[error("invalid inbound message: {0}")]
    InvalidMessage(String),
}
