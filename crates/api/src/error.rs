//! The one place API errors are defined and rendered: each maps to Alibaba's `Code`, `Message`
//! and HTTP status, and renders as the POP gateway's JSON or XML error body with `RequestId`,
//! `HostId` and `Recommend`. Internal failures are logged with their cause and answered without it.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::xml;

/// Response body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
/// Exactly this (no space): the Tea SDK parses V3 XML errors only with this content type.
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0} is mandatory for this action.")]
    MissingParameter(String),
    #[error("Specified parameter is not valid: {0}")]
    InvalidParameter(String),
    #[error("Specified parameter format is not valid.")]
    InvalidFormat,
    #[error("Specified access key is not found.")]
    AccessKeyNotFound,
    #[error("Specified access key is disabled.")]
    AccessKeyInactive,
    #[error("Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}")]
    SignatureDoesNotMatch { string_to_sign: String },
    #[error("Specified signature method is not valid.")]
    InvalidSignatureMethod,
    #[error("Specified signature nonce was used already.")]
    SignatureNonceUsed,
    #[error("Specified time stamp or date value is expired.")]
    TimestampExpired,
    #[error("Specified time stamp or date value is not well formatted.")]
    TimestampFormat,
    #[error("Specified api is not found, please check your url and method.")]
    ActionNotFound,
    #[error("Specified parameter Version is not valid.")]
    InvalidVersion,
    #[error("This http method not supported.")]
    UnsupportedHttpMethod,
    #[error("Request was denied due to user flow control.")]
    Throttling { retry_after_ms: u64 },
    #[error("The request body is larger than {limit} bytes.")]
    BodyTooLarge { limit: usize },
    #[error("The request processing has failed due to some unknown error.")]
    Internal,
    #[error("The request has failed due to a temporary failure of the server.")]
    ServiceUnavailable,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "MissingParameter",
            Self::InvalidParameter(_) => "InvalidParameter",
            Self::InvalidFormat => "InvalidParameter.Format",
            Self::AccessKeyNotFound => "InvalidAccessKeyId.NotFound",
            Self::AccessKeyInactive => "InvalidAccessKeyId.Inactive",
            Self::SignatureDoesNotMatch { .. } => "SignatureDoesNotMatch",
            Self::InvalidSignatureMethod => "InvalidSignatureMethod",
            Self::SignatureNonceUsed => "SignatureNonceUsed",
            Self::TimestampExpired => "InvalidTimeStamp.Expired",
            Self::TimestampFormat => "InvalidTimeStamp.Format",
            Self::ActionNotFound => "InvalidAction.NotFound",
            Self::InvalidVersion => "InvalidVersion",
            Self::UnsupportedHttpMethod => "UnsupportedHTTPMethod",
            Self::Throttling { .. } => "Throttling.User",
            Self::BodyTooLarge { .. } => "RequestBodyTooLarge",
            Self::Internal => "InternalError",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::AccessKeyNotFound | Self::ActionNotFound => StatusCode::NOT_FOUND,
            Self::UnsupportedHttpMethod => StatusCode::FORBIDDEN,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The POP-style error body in `format`, as a response.
    pub fn render(&self, format: Format, request_id: &str, host_id: &str) -> Response {
        let code = self.code();
        let message = self.to_string();
        let recommend = format!(
            "threatintel docs/api.md#{}",
            code.to_ascii_lowercase().replace('.', "-")
        );
        let mut response = match format {
            Format::Json => (
                self.status(),
                [(axum::http::header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
                json!({
                    "RequestId": request_id,
                    "HostId": host_id,
                    "Code": code,
                    "Message": message,
                    "Recommend": recommend,
                })
                .to_string(),
            )
                .into_response(),
            Format::Xml => {
                let body = xml::error(&[
                    ("RequestId", request_id),
                    ("HostId", host_id),
                    ("Code", code),
                    ("Message", &message),
                    ("Recommend", &recommend),
                ]);
                (
                    self.status(),
                    [(axum::http::header::CONTENT_TYPE, XML_CONTENT_TYPE)],
                    body,
                )
                    .into_response()
            }
        };
        if let Self::Throttling { retry_after_ms } = self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_ms.max(&1).to_string()) {
                response.headers_mut().insert("x-acs-retry-after", value);
            }
        }
        response
    }
}
