//! The one place API errors are defined and rendered (protocol reference §9).
//!
//! Each [`ApiError`] maps to Alibaba's `Code`, `Message` and HTTP status, and renders, without
//! any HTTP framework, as the POP gateway's JSON or XML error body: `RequestId`, `HostId`,
//! `Code`, `Message`, `Recommend`, in that order. `SignatureDoesNotMatch` carries the server's
//! string-to-sign after a `:` (the legacy SDK splits on it and compares it with its own),
//! throttling errors carry the `x-acs-retry-after` header, and `InternalError` never says more
//! than its fixed message.
//!
//! This module depends on no other of the crate's but [`crate::xml`] (for XML bodies): every
//! other layer reports its failures with it.

use std::fmt;

/// The body format of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    Json,
    Xml,
}

/// Exactly as the POP gateway sends it.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// Exactly this (no space): the Tea SDK parses V3 XML errors only with this content type.
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

impl ResponseFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => JSON_CONTENT_TYPE,
            Self::Xml => XML_CONTENT_TYPE,
        }
    }
}

/// A fresh `RequestId`: an upper-case UUID v4, as Alibaba's.
pub fn new_request_id() -> String {
    let mut text = [0; uuid::fmt::Hyphenated::LENGTH];
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_upper(&mut text)
        .to_owned()
}

/// The parameters a request cannot do without; each has its own `Missing<Name>` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    Action,
    Domain,
    Ip,
    FileHash,
    AccessKeyId,
    Signature,
    Timestamp,
    SignatureNonce,
}

impl Required {
    /// The parameter's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Action => "Action",
            Self::Domain => "Domain",
            Self::Ip => "Ip",
            Self::FileHash => "FileHash",
            Self::AccessKeyId => "AccessKeyId",
            Self::Signature => "Signature",
            Self::Timestamp => "Timestamp",
            Self::SignatureNonce => "SignatureNonce",
        }
    }

    /// `Missing<Name>`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Action => "MissingAction",
            Self::Domain => "MissingDomain",
            Self::Ip => "MissingIp",
            Self::FileHash => "MissingFileHash",
            Self::AccessKeyId => "MissingAccessKeyId",
            Self::Signature => "MissingSignature",
            Self::Timestamp => "MissingTimestamp",
            Self::SignatureNonce => "MissingSignatureNonce",
        }
    }
}

/// Every error the API answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// `Missing<Name>` (`MissingDomain`): a required parameter is absent (§9.3).
    Missing(Required),
    /// `MissingParameter`: a required V3 header is absent; the message names it.
    MissingHeader(&'static str),
    /// `InvalidParameter`: `name` is the parameter (or header) at fault, `reason` the detail
    /// appended to the reference message.
    InvalidParameter { name: String, reason: String },
    /// `InvalidParameter.Format`: a `Format` other than JSON or XML.
    InvalidFormat,
    /// `InvalidAccessKeyId.NotFound`.
    AccessKeyNotFound,
    /// `InvalidAccessKeyId.Inactive`: the key is disabled.
    AccessKeyInactive,
    /// `SignatureDoesNotMatch`, with the server's string-to-sign (V3: both lines).
    SignatureDoesNotMatch { string_to_sign: String },
    /// `InvalidSignatureMethod`: V1 `SignatureMethod` other than HMAC-SHA1.
    InvalidSignatureMethod,
    /// `SignatureNonceUsed`.
    SignatureNonceUsed,
    /// `InvalidTimeStamp.Expired`: more than 15 minutes from the server's clock.
    TimestampExpired,
    /// `InvalidTimeStamp.Format`: not `YYYY-MM-DDThh:mm:ssZ`.
    TimestampFormat,
    /// `IllegalTimestamp`: older gateways' code for a missing `Timestamp`. Listed for
    /// completeness; this server answers `MissingTimestamp`.
    IllegalTimestamp,
    /// `InvalidAction.NotFound`.
    ActionNotFound,
    /// `InvalidVersion`.
    InvalidVersion,
    /// `UnsupportedHTTPMethod`: anything but GET and POST.
    UnsupportedHttpMethod,
    /// `Throttling.User`: over the access key's rate.
    Throttling { retry_after_ms: u64 },
    /// `Throttling.Api`: over the API's overall rate.
    ThrottlingApi { retry_after_ms: u64 },
    /// `Forbidden.RAM`: the key may not call this API.
    Forbidden,
    /// `RequestBodyTooLarge` (this server's own): a body over the configured limit.
    BodyTooLarge { limit: usize },
    /// `InvalidParameter` naming the body: its framing is broken (a malformed chunk size, or
    /// the connection ended before the announced length).
    MalformedBody,
    /// `RequestTimeout` (this server's own): the request was not received in time.
    RequestTimeout,
    /// `InternalError`: details are logged by the caller, never returned.
    Internal,
    /// `ServiceUnavailable`: e.g. the nonce store is full or unreachable.
    ServiceUnavailable,
}

impl ApiError {
    /// `InvalidParameter` naming `name`.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Alibaba's `Code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing(required) => required.code(),
            Self::MissingHeader(_) => "MissingParameter",
            Self::InvalidParameter { .. } => "InvalidParameter",
            Self::InvalidFormat => "InvalidParameter.Format",
            Self::AccessKeyNotFound => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyInactive => "InvalidAccessKeyId.Inactive",
            Self::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            Self::InvalidSignatureMethod => "InvalidSignatureMethod",
            Self::SignatureNonceUsed => "SignatureNonceUsed",
            Self::TimestampExpired => "InvalidTimeStamp.Expired",
            Self::TimestampFormat => "InvalidTimeStamp.Format",
            Self::IllegalTimestamp => "IllegalTimestamp",
            Self::ActionNotFound => "InvalidAction.NotFound",
            Self::InvalidVersion => "InvalidVersion",
            Self::UnsupportedHttpMethod => "UnsupportedHTTPMethod",
            Self::Throttling { .. } => "Throttling.User",
            Self::ThrottlingApi { .. } => "Throttling.Api",
            Self::Forbidden => "Forbidden.RAM",
            Self::BodyTooLarge { .. } => "RequestBodyTooLarge",
            Self::MalformedBody => "InvalidParameter",
            Self::RequestTimeout => "RequestTimeout",
            Self::Internal => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The HTTP status (§9.3; where the reference's tables disagree, the status real
    /// gateway answers were seen with: 404 for an unknown key and an unknown action, 403 for
    /// an unsupported method).
    pub fn status(&self) -> u16 {
        match self {
            Self::AccessKeyNotFound | Self::ActionNotFound => 404,
            Self::UnsupportedHttpMethod | Self::Forbidden => 403,
            Self::BodyTooLarge { .. } => 413,
            Self::RequestTimeout => 408,
            Self::Internal => 500,
            Self::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// Alibaba's `Message`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Milliseconds to wait before retrying (throttling errors only), for `x-acs-retry-after`.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Self::Throttling { retry_after_ms } | Self::ThrottlingApi { retry_after_ms } => {
                Some((*retry_after_ms).max(1))
            }
            _ => None,
        }
    }

    /// The POP-shaped error answer in `format`.
    pub fn render(&self, format: ResponseFormat, request_id: &str, host_id: &str) -> ErrorResponse {
        let code = self.code();
        let message = self.message();
        let recommend = recommend(code);
        let fields = [
            ("RequestId", request_id),
            ("HostId", host_id),
            ("Code", code),
            ("Message", message.as_str()),
            ("Recommend", recommend.as_str()),
        ];
        let body = match format {
            ResponseFormat::Json => {
                let mut body = String::from("{");
                for (name, value) in fields {
                    body.push_str(&json_string(name));
                    body.push(':');
                    body.push_str(&json_string(value));
                    body.push(',');
                }
                body.pop();
                body.push('}');
                body
            }
            ResponseFormat::Xml => crate::xml::error(&fields),
        };
        ErrorResponse {
            status: self.status(),
            content_type: format.content_type(),
            headers: self
                .retry_after_ms()
                .map(|ms| ("x-acs-retry-after", ms.to_string()))
                .into_iter()
                .collect(),
            body,
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Where to read about `code`.
fn recommend(code: &str) -> String {
    format!(
        "threatintel docs/api.md#{}",
        code.to_ascii_lowercase().replace('.', "-")
    )
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(required) => {
                write!(f, "{} is mandatory for this action.", required.name())
            }
            Self::MissingHeader(name) => write!(f, "{name} is mandatory for this action."),
            Self::InvalidParameter { name, reason } => {
                if name.is_empty() {
                    f.write_str("Specified parameter is not valid.")?;
                } else {
                    write!(f, "Specified parameter {name} is not valid.")?;
                }
                if !reason.is_empty() {
                    write!(f, " {reason}")?;
                }
                Ok(())
            }
            Self::InvalidFormat => f.write_str("Specified parameter format is not valid."),
            Self::AccessKeyNotFound => f.write_str("Specified access key is not found."),
            Self::AccessKeyInactive => f.write_str("Specified access key is disabled."),
            Self::SignatureDoesNotMatch { string_to_sign } => write!(
                f,
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
            Self::InvalidSignatureMethod => f.write_str("Specified signature method is not valid."),
            Self::SignatureNonceUsed => f.write_str("Specified signature nonce was used already."),
            Self::TimestampExpired => {
                f.write_str("Specified time stamp or date value is expired.")
            }
            Self::TimestampFormat => {
                f.write_str("Specified time stamp or date value is not well formatted.")
            }
            Self::IllegalTimestamp => f.write_str(
                "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied.",
            ),
            Self::ActionNotFound => {
                f.write_str("Specified api is not found, please check your url and method.")
            }
            Self::InvalidVersion => f.write_str("Specified parameter Version is not valid."),
            Self::UnsupportedHttpMethod => f.write_str("This http method not supported."),
            Self::Throttling { .. } => f.write_str("Request was denied due to user flow control."),
            Self::ThrottlingApi { .. } => f.write_str("Request was denied due to api flow control."),
            Self::Forbidden => {
                f.write_str("User not authorized to operate on the specified resource.")
            }
            Self::BodyTooLarge { limit } => {
                write!(f, "The request body is larger than {limit} bytes.")
            }
            Self::MalformedBody => f.write_str(
                "Specified parameter body is not valid. Its framing is broken or it ended early.",
            ),
            Self::RequestTimeout => f.write_str("The request was not received in time."),
            Self::Internal => {
                f.write_str("The request processing has failed due to some unknown error.")
            }
            Self::ServiceUnavailable => {
                f.write_str("The request has failed due to a temporary failure of the server.")
            }
        }
    }
}

impl std::error::Error for ApiError {}

/// A rendered error, independent of any HTTP framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub content_type: &'static str,
    /// Extra headers: `x-acs-retry-after` (milliseconds) on throttling errors.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}
