//! The rows the store hands out.

use serde::Serialize;

use crate::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// The service is opened for the account.
    Active,
    /// The service is not opened: every call answers `Product.Unsubscript`.
    Unsubscribed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "unsubscribed" {
            Self::Unsubscribed
        } else {
            Self::Active
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub status: AccountStatus,
    /// The space calls act on when they give no `CustSpaceId`.
    pub default_space: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Space {
    /// `CustSpaceId`, e.g. `cams-3f9a…`.
    pub id: String,
    pub account_id: i64,
    pub name: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewKey {
    pub account_id: i64,
    /// `None`: every action.
    pub actions: Option<Vec<String>>,
    /// `None`: every space of the account.
    pub spaces: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
    pub account_id: i64,
    pub account_name: String,
    pub enabled: bool,
    pub actions: Option<Vec<String>>,
    pub spaces: Option<Vec<String>>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewNumber {
    pub account_id: i64,
    pub space_id: String,
    pub phone: String,
    pub channel: String,
    pub verified_name: String,
    /// Messages per second this number may send (Meta's default 80).
    pub throughput_mps: u32,
    /// `whatsapp-cloud` settings.
    pub cloud: Option<CloudSettings>,
}

/// Per-number settings of the WhatsApp Cloud API channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudSettings {
    pub phone_number_id: String,
    pub waba_id: String,
    pub access_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub id: i64,
    pub account_id: i64,
    pub space_id: String,
    pub phone: String,
    pub channel: String,
    /// Meta's phone number status vocabulary: `CONNECTED`, `PENDING`, `DISCONNECTED`, …
    pub status: String,
    pub verified_name: String,
    pub quality_rating: String,
    pub messaging_limit_tier: String,
    pub throughput_mps: u32,
    pub cloud: Option<CloudSettings>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NumberFilter {
    pub account_id: Option<i64>,
    pub space_id: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonceRecord {
    pub key_id: String,
    pub nonce: String,
    pub expires_at: i64,
}
