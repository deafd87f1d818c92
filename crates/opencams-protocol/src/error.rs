//! The CAMS error-code catalogue (cams-api.md §1.6, §2.5, §5) and the one error type the API
//! renders. Every code and its HTTP status is decided here and nowhere else.

use std::borrow::Cow;
use std::fmt;

/// A stable CAMS error code. The string form is what clients see in `Code`; the HTTP status is
/// the one the official SDKs expect for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Code {
    // §5.1 / §2.5 gateway and authentication
    /// `Missing<Param>`: a required parameter is absent.
    Missing(Cow<'static, str>),
    InvalidParameter,
    IncompleteSignature,
    SignatureDoesNotMatch,
    SignatureNonceUsed,
    InvalidTimeStampExpired,
    InvalidTimeStampFormat,
    InvalidAccessKeyIdNotFound,
    InvalidAccessKeyIdInactive,
    InvalidVersion,
    InvalidActionNotFound,
    UnsupportedHttpMethod,
    ThrottlingUser,
    ForbiddenRam,
    InternalError,
    ServiceUnavailable,
    // §5.2 declared for every operation
    ProductUnsubscript,
    RamPermissionDeny,
    SystemLimitControl,
    UnknownResourceOwnerId,
    // §5.3 business codes
    AuthenticationNoAuth,
    MessageInvalid,
    FooterHaveVariable,
    HeaderMoreVarable,
    HeaderTypeNotSupport,
    ButtonTextHaveVariable,
    UrlMoreVarable,
    PhoneNumberError,
    TemplateNameExist,
    CreateError,
    FileUrlError,
    DelTemplateNotExist,
    DetailTemplateNotExist,
    PageInvalid,
    TemplateListQueryError,
    LanguageNotSupport,
    AuditStatusNotSupport,
    TemplateTypeNotSupport,
    ChannelTypeNotSupport,
    MessageTypeNotEmpty,
    ContentNotEmpty,
    ContentError,
    TextNotEmpty,
    MessageTypeNotSupport,
    LinkNotEmpty,
    TemplateCodeNotEmpty,
    LanguageNotEmpty,
    SendSmsNotSupport,
    FromOnlyNumeric,
    ToOnlyNumeric,
    // [ours]
    SessionExpired,
    NotSupported,
    /// `InvalidParameter.<Sub>` for sub-codes not listed above (e.g. `InvalidParameter.TemplateParams`).
    InvalidParameterSub(Cow<'static, str>),
}

impl Code {
    /// The `Code` string clients see.
    pub fn as_str(&self) -> Cow<'static, str> {
        use Code::*;
        let s: &'static str = match self {
            Missing(p) => return Cow::Owned(format!("Missing{p}")),
            InvalidParameterSub(s) => return Cow::Owned(format!("InvalidParameter.{s}")),
            InvalidParameter => "InvalidParameter",
            IncompleteSignature => "IncompleteSignature",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            SignatureNonceUsed => "SignatureNonceUsed",
            InvalidTimeStampExpired => "InvalidTimeStamp.Expired",
            InvalidTimeStampFormat => "InvalidTimeStamp.Format",
            InvalidAccessKeyIdNotFound => "InvalidAccessKeyId.NotFound",
            InvalidAccessKeyIdInactive => "InvalidAccessKeyId.Inactive",
            InvalidVersion => "InvalidVersion",
            InvalidActionNotFound => "InvalidAction.NotFound",
            UnsupportedHttpMethod => "UnsupportedHTTPMethod",
            ThrottlingUser => "Throttling.User",
            ForbiddenRam => "Forbidden.RAM",
            InternalError => "InternalError",
            ServiceUnavailable => "ServiceUnavailable",
            ProductUnsubscript => "Product.Unsubscript",
            RamPermissionDeny => "Ram.PermissionDeny",
            SystemLimitControl => "System.LimitControl",
            UnknownResourceOwnerId => "Unknown.ResourceOwnerId",
            AuthenticationNoAuth => "Authentication.NoAuth",
            MessageInvalid => "InvalidParameter.MessageInvalid",
            FooterHaveVariable => "InvalidParameter.FooterHaveVariable",
            HeaderMoreVarable => "InvalidParameter.HeaderMoreVarable",
            HeaderTypeNotSupport => "InvalidParameter.HeaderTypeNotSupport",
            ButtonTextHaveVariable => "InvalidParameter.ButtonTextHaveVariable",
            UrlMoreVarable => "InvalidParameter.UrlMoreVarable",
            PhoneNumberError => "InvalidParameter.PhoneNumberError",
            TemplateNameExist => "InvalidParameter.TemplateNameExist",
            CreateError => "InvalidParameter.CreateError",
            FileUrlError => "InvalidParameter.FileUrlError",
            DelTemplateNotExist => "DelError.TemplateNotExist",
            DetailTemplateNotExist => "DetailError.TemplateNotExist",
            PageInvalid => "InvalidParameter.PageInvalid",
            TemplateListQueryError => "TemplateListError.QueryError",
            LanguageNotSupport => "InvalidParameter.LanguageNotSupport",
            AuditStatusNotSupport => "InvalidParameter.AuditStatusNotSupport",
            TemplateTypeNotSupport => "InvalidParameter.TemplateTypeNotSupport",
            ChannelTypeNotSupport => "InvalidParameter.ChannelTypeNotSupport",
            MessageTypeNotEmpty => "InvalidParameter.MessageTypeNotEmpty",
            ContentNotEmpty => "InvalidParameter.ContentNotEmpty",
            ContentError => "InvalidParameter.ContentError",
            TextNotEmpty => "InvalidParameter.TextNotEmpty",
            MessageTypeNotSupport => "InvalidParameter.MessageTypeNotSupport",
            LinkNotEmpty => "InvalidParameter.LinkNotEmpty",
            TemplateCodeNotEmpty => "InvalidParameter.TemplateCodeNotEmpty",
            LanguageNotEmpty => "InvalidParameter.LanguageNotEmpty",
            SendSmsNotSupport => "InvalidParameter.SendSmsNotSupport",
            FromOnlyNumeric => "InvalidParameter.FromOnlyNumeric",
            ToOnlyNumeric => "InvalidParameter.ToOnlyNumeric",
            SessionExpired => "InvalidParameter.SessionExpired",
            NotSupported => "InvalidParameter.NotSupported",
        };
        Cow::Borrowed(s)
    }

    /// The HTTP status for this code (cams-api.md §1.6 policy).
    pub fn http_status(&self) -> u16 {
        use Code::*;
        match self {
            InvalidAccessKeyIdNotFound | InvalidActionNotFound => 404,
            UnsupportedHttpMethod | ForbiddenRam | AuthenticationNoAuth => 403,
            InternalError => 500,
            ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// The gateway's usual text for codes that have one; business codes get their message from
    /// the caller.
    pub fn default_message(&self) -> &'static str {
        use Code::*;
        match self {
            IncompleteSignature => "The request signature does not conform to Aliyun standards.",
            // aliyun-python-sdk-core splits this message on ':' (Alibaba appends "server string to
            // sign is:<sts>"); a message without a colon crashes that client.
            SignatureDoesNotMatch => {
                "Specified signature is not matched with our calculation: check the AccessKeySecret and the signing of the request."
            }
            SignatureNonceUsed => "Specified signature nonce was used already.",
            InvalidTimeStampExpired => {
                "Specified time stamp or date value is expired (allowed skew is 15 minutes)."
            }
            InvalidTimeStampFormat => "Specified time stamp or date value is not well formatted.",
            InvalidAccessKeyIdNotFound => "Specified access key is not found.",
            InvalidAccessKeyIdInactive => "Specified access key is disabled.",
            InvalidVersion => "Specified parameter Version is not valid.",
            InvalidActionNotFound => {
                "Specified api is not found, please check your url and method."
            }
            UnsupportedHttpMethod => "This http method is not supported.",
            ThrottlingUser => "Request was denied due to user flow control.",
            ForbiddenRam => "User not authorized to operate on the specified resource.",
            InternalError => "The request processing has failed due to some unknown error.",
            ServiceUnavailable => {
                "The request has failed due to a temporary failure of the server."
            }
            ProductUnsubscript => "The product is not activated for this account.",
            RamPermissionDeny => "You are not authorized to perform this operation.",
            SystemLimitControl => "The system is under flow control.",
            UnknownResourceOwnerId => "The resource does not belong to the current user.",
            _ => "The request is not valid.",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

/// An error as the API answers it: HTTP status, stable code, human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CamsError {
    pub code: Code,
    pub message: String,
    /// Milliseconds a throttled client should wait (`x-acs-retry-after`).
    pub retry_after_ms: Option<u64>,
}

impl CamsError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// The code with its usual gateway text.
    pub fn of(code: Code) -> Self {
        let message = code.default_message().to_string();
        Self {
            code,
            message,
            retry_after_ms: None,
        }
    }

    /// `Missing<Param>` with Alibaba's gateway message.
    pub fn missing(param: &'static str) -> Self {
        Self::new(
            Code::Missing(Cow::Borrowed(param)),
            format!("{param} is mandatory for this action."),
        )
    }

    /// `InvalidParameter` naming the parameter and what would be valid.
    pub fn invalid(param: &str, problem: impl fmt::Display) -> Self {
        Self::new(
            Code::InvalidParameter,
            format!("The parameter {param} is not valid: {problem}"),
        )
    }

    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    pub fn with_retry_after(mut self, ms: u64) -> Self {
        self.retry_after_ms = Some(ms);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_render_as_cams_spells_them() {
        assert_eq!(CamsError::missing("To").code.as_str(), "MissingTo");
        assert_eq!(
            CamsError::missing("To").message,
            "To is mandatory for this action."
        );
        assert_eq!(Code::InvalidAccessKeyIdNotFound.http_status(), 404);
        assert_eq!(
            Code::HeaderMoreVarable.as_str(),
            "InvalidParameter.HeaderMoreVarable"
        );
        assert_eq!(
            Code::InvalidParameterSub("TemplateParams".into()).as_str(),
            "InvalidParameter.TemplateParams"
        );
        assert_eq!(Code::ThrottlingUser.http_status(), 400);
    }
}
