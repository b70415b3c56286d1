//! The RPC call: from decoded parameters, headers and the verified identity to a validated
//! [`RpcCall`] (protocol reference §2, §8.2, §9.3), and the answer's [`response_format`].
//!
//! Checks, in order: the HTTP method (GET or POST, else `UnsupportedHTTPMethod`), `Action`
//! (`DescribeDomainReport`, `DescribeIpReport` or `DescribeFileReport`, else
//! `InvalidAction.NotFound`), `Version`
//! (only `2020-05-12`, else `InvalidVersion`, also when absent), the subject: `Domain`
//! (required and non-empty, else `MissingDomain`; then parsed into a [`DomainQuery`], else
//! `InvalidParameter` naming it) or `Ip` (likewise `MissingIp`; one IPv4 or IPv6 address, not
//! a network, else `InvalidParameter`) or `FileHash` (likewise `MissingFileHash`; an MD5, SHA-1
//! or SHA-256 in hex, else `InvalidParameter` saying whether its length or a character is wrong),
//! `Field` (comma-separated subset of the four heavy fields, empty or absent = none; a file
//! report also takes `Basic`, which it always has) and
//! `ServiceLang` (`zh` default, or `en`). V3 requests carry Action and Version in the signed
//! `x-acs-action` / `x-acs-version` headers, V1 and unsigned ones in the parameters.
//!
//! The format is decided once per request, by the handler, as soon as the parameters are
//! decoded: it is needed for the errors of authentication, before any call exists.
//!
//! [`FieldSet`] and [`Lang`] are the report crate's own (bitset with `Display`; `Zh`/`En`),
//! re-exported here so the call needs no conversion on its way to the report engine.

use std::net::IpAddr;

use threatintel_model::{DomainQuery, FileHash};
use threatintel_report::UnknownField;

use crate::auth::{Identity, Scheme};
use crate::error::{ApiError, Required, ResponseFormat};
use crate::params::{shown, Params};
use crate::signature::{header, SignatureScheme};

pub use threatintel_report::{Field, FieldSet, Lang};

/// The domain report's action.
pub const ACTION: &str = "DescribeDomainReport";
/// The address report's action.
pub const IP_ACTION: &str = "DescribeIpReport";
/// The file report's action.
pub const FILE_ACTION: &str = "DescribeFileReport";
/// The only API version.
pub const VERSION: &str = "2020-05-12";

/// A validated DescribeDomainReport call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeDomainReportCall {
    pub domain: DomainQuery,
    pub fields: FieldSet,
    pub lang: Lang,
}

/// A validated DescribeIpReport call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeIpReportCall {
    pub ip: IpAddr,
    pub fields: FieldSet,
    pub lang: Lang,
}

/// A validated DescribeFileReport call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribeFileReportCall {
    pub hash: FileHash,
    pub fields: FieldSet,
    pub lang: Lang,
}

/// A validated call of one of the actions served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcCall {
    Domain(DescribeDomainReportCall),
    Ip(DescribeIpReportCall),
    File(DescribeFileReportCall),
}

/// The `Ip` parameter: one address, IPv4 dotted quad or IPv6 text (no zone, no prefix).
pub fn parse_ip(value: Option<&str>) -> Result<IpAddr, ApiError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::Missing(Required::Ip))?;
    value.parse().map_err(|_| {
        ApiError::invalid(
            "Ip",
            format!("{:?} is not an IPv4 or IPv6 address", shown(value)),
        )
    })
}

/// The `FileHash` parameter: an MD5, SHA-1 or SHA-256 digest in hex (any case).
pub fn parse_file_hash(value: Option<&str>) -> Result<FileHash, ApiError> {
    let value = value
        .filter(|v| !v.is_empty())
        .ok_or(ApiError::Missing(Required::FileHash))?;
    FileHash::parse(value).map_err(|e| ApiError::invalid("FileHash", e.to_string()))
}

/// The answer's format (§7.5, §7.6):
/// - the `Format` parameter, compared case-insensitively: `json` → JSON, `xml` → XML;
/// - `None` (the legacy SDK's `get_response()` without a format stringifies Python's `None`) →
///   JSON, leniently;
/// - absent → XML for V1 and unsigned requests (the documented POP default), JSON for V3;
/// - anything else → `InvalidParameter.Format` (render that error in JSON).
pub fn response_format(
    scheme: Option<SignatureScheme>,
    format: Option<&str>,
) -> Result<ResponseFormat, ApiError> {
    let is = |name: &str| format.is_some_and(|f| f.eq_ignore_ascii_case(name));
    if format.is_none() {
        Ok(match scheme {
            Some(SignatureScheme::V3) => ResponseFormat::Json,
            Some(SignatureScheme::V1) | None => ResponseFormat::Xml,
        })
    } else if is("json") || is("none") {
        Ok(ResponseFormat::Json)
    } else if is("xml") {
        Ok(ResponseFormat::Xml)
    } else {
        Err(ApiError::InvalidFormat)
    }
}

/// GET and POST only.
pub fn check_method(method: &str) -> Result<(), ApiError> {
    match method {
        "GET" | "POST" => Ok(()),
        _ => Err(ApiError::UnsupportedHttpMethod),
    }
}

/// The `Field` parameter: comma-separated, blanks around names and empty items ignored;
/// absent or empty = no heavy field.
pub fn parse_fields(value: Option<&str>) -> Result<FieldSet, ApiError> {
    FieldSet::parse(value.unwrap_or("")).map_err(|UnknownField(item)| {
        let valid: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        ApiError::invalid(
            "Field",
            format!("{:?} is not one of {}", shown(&item), valid.join(", ")),
        )
    })
}

/// The `ServiceLang` parameter: absent or empty → `zh`; `zh` or `en` in any case.
pub fn parse_lang(value: Option<&str>) -> Result<Lang, ApiError> {
    let value = value.unwrap_or("");
    if value.is_empty() || value.eq_ignore_ascii_case("zh") {
        Ok(Lang::Zh)
    } else if value.eq_ignore_ascii_case("en") {
        Ok(Lang::En)
    } else {
        Err(ApiError::invalid(
            "ServiceLang",
            format!("{:?} is not zh or en", shown(value)),
        ))
    }
}

/// Extracts and validates a DescribeDomainReport call (any other action is
/// `InvalidAction.NotFound`).
pub fn extract_call(
    method: &str,
    params: &Params,
    headers: &[(&str, &str)],
    identity: &Identity,
) -> Result<DescribeDomainReportCall, ApiError> {
    match extract_rpc_call(method, params, headers, identity)? {
        RpcCall::Domain(call) => Ok(call),
        RpcCall::Ip(_) | RpcCall::File(_) => Err(ApiError::ActionNotFound),
    }
}

/// Extracts and validates the call of an authenticated request.
pub fn extract_rpc_call(
    method: &str,
    params: &Params,
    headers: &[(&str, &str)],
    identity: &Identity,
) -> Result<RpcCall, ApiError> {
    check_method(method)?;
    let (action, version) = if identity.scheme == Scheme::V3 {
        (
            header(headers, "x-acs-action"),
            header(headers, "x-acs-version"),
        )
    } else {
        (params.get("Action"), params.get("Version"))
    };
    let action = match action.map(str::trim) {
        None | Some("") => return Err(ApiError::Missing(Required::Action)),
        Some(action @ (ACTION | IP_ACTION | FILE_ACTION)) => action,
        Some(_) => return Err(ApiError::ActionNotFound),
    };
    if version.map(str::trim) != Some(VERSION) {
        return Err(ApiError::InvalidVersion);
    }
    if action == IP_ACTION {
        let ip = parse_ip(params.get("Ip"))?;
        return Ok(RpcCall::Ip(DescribeIpReportCall {
            ip,
            fields: parse_fields(params.get("Field"))?,
            lang: parse_lang(params.get("ServiceLang"))?,
        }));
    }
    if action == FILE_ACTION {
        let hash = parse_file_hash(params.get("FileHash"))?;
        // `Basic` is always in a file report; the SDKs' own example asks for it by name.
        let field = params.get("Field").map(|f| {
            f.split(',')
                .filter(|item| item.trim() != "Basic")
                .collect::<Vec<_>>()
                .join(",")
        });
        return Ok(RpcCall::File(DescribeFileReportCall {
            hash,
            fields: parse_fields(field.as_deref())?,
            lang: parse_lang(params.get("ServiceLang"))?,
        }));
    }
    let domain = params
        .get("Domain")
        .filter(|d| !d.is_empty())
        .ok_or(ApiError::Missing(Required::Domain))?;
    let domain =
        DomainQuery::parse(domain).map_err(|e| ApiError::invalid("Domain", e.to_string()))?;
    Ok(RpcCall::Domain(DescribeDomainReportCall {
        domain,
        fields: parse_fields(params.get("Field"))?,
        lang: parse_lang(params.get("ServiceLang"))?,
    }))
}
