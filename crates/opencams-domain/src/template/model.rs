//! The typed template: categories, review states, components and buttons as CAMS describes them
//! (cams-api.md §3.3, §3.6). Values here are already parsed: an unknown component type, header
//! format or button type cannot be represented. Serialisation gives the GetChatappTemplateDetail
//! shape, which is also how the server stores `Components`.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};

use crate::{CamsError, Code};

/// A WhatsApp template category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
}

impl Category {
    /// Case-insensitive: `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub fn parse(raw: &str) -> Result<Self, CamsError> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "MARKETING" => Ok(Self::Marketing),
            "UTILITY" => Ok(Self::Utility),
            "AUTHENTICATION" => Ok(Self::Authentication),
            _ => Err(CamsError::invalid(
                "Category",
                format!(
                    "{raw:?} is not a WhatsApp template category; use MARKETING, UTILITY or AUTHENTICATION."
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "MARKETING",
            Self::Utility => "UTILITY",
            Self::Authentication => "AUTHENTICATION",
        }
    }
}

/// The review state of a template as CAMS reports it (`AuditStatus`, §3.6, §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditStatus {
    Auditing,
    Pass,
    Fail,
    Unaudit,
    Paused,
    Disabled,
}

impl AuditStatus {
    /// Case-insensitive; used for the ListChatappTemplate `AuditStatus` filter.
    pub fn parse(raw: &str) -> Result<Self, CamsError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "auditing" => Ok(Self::Auditing),
            "pass" => Ok(Self::Pass),
            "fail" => Ok(Self::Fail),
            "unaudit" => Ok(Self::Unaudit),
            "paused" => Ok(Self::Paused),
            "disabled" => Ok(Self::Disabled),
            _ => Err(CamsError::new(
                Code::AuditStatusNotSupport,
                format!(
                    "AuditStatus {raw:?} is not supported; use one of pass, fail, auditing, unaudit, paused, disabled."
                ),
            )),
        }
    }

    /// The status as [`AuditStatus::as_str`] stored it (exactly); `None` for anything else.
    pub fn from_stored(text: &str) -> Option<Self> {
        [
            Self::Auditing,
            Self::Pass,
            Self::Fail,
            Self::Unaudit,
            Self::Paused,
            Self::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auditing => "auditing",
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Unaudit => "unaudit",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }
}

impl std::fmt::Display for AuditStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for AuditStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Declares a closed, upper-case wire vocabulary with `parse` (case-insensitive) and `as_str`.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Case-insensitive match against the wire spelling.
            pub fn parse(raw: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(raw.trim()))
            }

            /// The valid spellings, for error messages.
            pub fn valid() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }
    };
}

wire_enum!(
    /// `Components[].Type`.
    ComponentType {
        Header = "HEADER",
        Body = "BODY",
        Footer = "FOOTER",
        Buttons = "BUTTONS",
        Carousel = "CAROUSEL",
        LimitedTimeOffer = "LIMITED_TIME_OFFER",
    }
);

wire_enum!(
    /// `Components[].Format` of a HEADER.
    HeaderFormat { Text = "TEXT", Image = "IMAGE", Video = "VIDEO", Document = "DOCUMENT", Location = "LOCATION" }
);

wire_enum!(
    /// `Buttons[].Type`.
    ButtonType {
        PhoneNumber = "PHONE_NUMBER",
        Url = "URL",
        QuickReply = "QUICK_REPLY",
        CopyCode = "COPY_CODE",
        OneTap = "ONE_TAP",
        ZeroTap = "ZERO_TAP",
        Mpm = "MPM",
        Catalog = "CATALOG",
        Flow = "FLOW",
    }
);

wire_enum!(
    /// `Buttons[].FlowAction`.
    FlowAction { Navigate = "NAVIGATE", DataExchange = "DATA_EXCHANGE" }
);

/// `Buttons[].UrlType`; CAMS spells it in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlType {
    Static,
    Dynamic,
}

impl UrlType {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "static" => Some(Self::Static),
            "dynamic" => Some(Self::Dynamic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Static => "static",
            Self::Dynamic => "dynamic",
        }
    }
}

/// One Android app allowed to receive a one-tap / zero-tap code.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SupportedApp {
    pub package_name: Option<String>,
    pub signature_hash: Option<String>,
}

/// A template button (`Buttons[]`). Empty strings are stored as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub kind: ButtonType,
    /// The label.
    pub text: Option<String>,
    pub phone_number: Option<String>,
    pub url: Option<String>,
    pub url_type: Option<UrlType>,
    pub is_opt_out: Option<bool>,
    /// Letters and digits, or a `$(var)` filled at send time.
    pub coupon_code: Option<String>,
    pub autofill_text: Option<String>,
    pub supported_apps: Vec<SupportedApp>,
    /// Deprecated single-app form of `supported_apps`, kept so stored templates round-trip.
    pub package_name: Option<String>,
    pub signature_hash: Option<String>,
    pub flow_id: Option<String>,
    pub flow_action: Option<FlowAction>,
    pub navigate_screen: Option<String>,
}

impl Button {
    /// A button of `kind` with every optional field absent.
    pub fn new(kind: ButtonType) -> Self {
        Self {
            kind,
            text: None,
            phone_number: None,
            url: None,
            url_type: None,
            is_opt_out: None,
            coupon_code: None,
            autofill_text: None,
            supported_apps: Vec::new(),
            package_name: None,
            signature_hash: None,
            flow_id: None,
            flow_action: None,
            navigate_screen: None,
        }
    }
}

/// One carousel card: its `CardComponents` (HEADER, BODY, BUTTONS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Card {
    pub components: Vec<Component>,
}

/// A template component (`Components[]`). Empty strings are stored as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub kind: ComponentType,
    pub format: Option<HeaderFormat>,
    pub text: Option<String>,
    /// Sample (and sent) media URL of a media HEADER.
    pub url: Option<String>,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub buttons: Vec<Button>,
    pub cards: Vec<Card>,
    pub code_expiration_minutes: Option<i64>,
    pub add_secret_recommendation: Option<bool>,
    /// LIMITED_TIME_OFFER only; serialised as `hasExpiration` (CAMS quirk).
    pub has_expiration: Option<bool>,
    pub latitude: Option<String>,
    pub longitude: Option<String>,
    pub location_name: Option<String>,
    pub location_address: Option<String>,
}

impl Component {
    /// A component of `kind` with every optional field absent.
    pub fn new(kind: ComponentType) -> Self {
        Self {
            kind,
            format: None,
            text: None,
            url: None,
            caption: None,
            file_name: None,
            buttons: Vec::new(),
            cards: Vec::new(),
            code_expiration_minutes: None,
            add_secret_recommendation: None,
            has_expiration: None,
            latitude: None,
            longitude: None,
            location_name: None,
            location_address: None,
        }
    }

    /// The text, `""` when absent.
    pub fn text_or_empty(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// A template as submitted by CreateChatappTemplate / ModifyChatappTemplate.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateDraft {
    pub name: String,
    pub language: String,
    pub category: Category,
    pub components: Vec<Component>,
    pub example: BTreeMap<String, String>,
    pub message_send_ttl_seconds: Option<i64>,
    pub category_change_paused: bool,
    pub product_set_id: Option<String>,
}

fn put<M: SerializeMap, T: serde::Serialize + ?Sized>(
    m: &mut M,
    key: &str,
    v: Option<&T>,
) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

impl serde::Serialize for Component {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("Type", self.kind.as_str())?;
        put(&mut m, "Format", self.format.map(HeaderFormat::as_str))?;
        put(&mut m, "Text", self.text.as_ref())?;
        put(&mut m, "Url", self.url.as_ref())?;
        put(&mut m, "Caption", self.caption.as_ref())?;
        put(&mut m, "FileName", self.file_name.as_ref())?;
        if !self.buttons.is_empty() {
            m.serialize_entry("Buttons", &self.buttons)?;
        }
        if !self.cards.is_empty() {
            m.serialize_entry("Cards", &self.cards)?;
        }
        put(
            &mut m,
            "CodeExpirationMinutes",
            self.code_expiration_minutes.as_ref(),
        )?;
        put(
            &mut m,
            "AddSecretRecommendation",
            self.add_secret_recommendation.as_ref(),
        )?;
        put(&mut m, "hasExpiration", self.has_expiration.as_ref())?;
        put(&mut m, "Latitude", self.latitude.as_ref())?;
        put(&mut m, "Longitude", self.longitude.as_ref())?;
        put(&mut m, "LocationName", self.location_name.as_ref())?;
        put(&mut m, "LocationAddress", self.location_address.as_ref())?;
        m.end()
    }
}

impl serde::Serialize for Card {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("CardComponents", &self.components)?;
        m.end()
    }
}

impl serde::Serialize for SupportedApp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        put(&mut m, "PackageName", self.package_name.as_ref())?;
        put(&mut m, "SignatureHash", self.signature_hash.as_ref())?;
        m.end()
    }
}

impl serde::Serialize for Button {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("Type", self.kind.as_str())?;
        put(&mut m, "Text", self.text.as_ref())?;
        put(&mut m, "PhoneNumber", self.phone_number.as_ref())?;
        put(&mut m, "Url", self.url.as_ref())?;
        put(&mut m, "UrlType", self.url_type.map(UrlType::as_str))?;
        put(&mut m, "IsOptOut", self.is_opt_out.as_ref())?;
        put(&mut m, "CouponCode", self.coupon_code.as_ref())?;
        put(&mut m, "AutofillText", self.autofill_text.as_ref())?;
        if !self.supported_apps.is_empty() {
            m.serialize_entry("SupportedApps", &self.supported_apps)?;
        }
        put(&mut m, "PackageName", self.package_name.as_ref())?;
        put(&mut m, "SignatureHash", self.signature_hash.as_ref())?;
        put(&mut m, "FlowId", self.flow_id.as_ref())?;
        put(
            &mut m,
            "FlowAction",
            self.flow_action.map(FlowAction::as_str),
        )?;
        put(&mut m, "NavigateScreen", self.navigate_screen.as_ref())?;
        m.end()
    }
}
