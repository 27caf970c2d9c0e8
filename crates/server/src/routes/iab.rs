//! IAB strings: TCF v2 TC strings and GPP strings, decoded to fields and encoded from them
//! (the codecs are `custodian-iab`; this module is only transport). Any key allowed to check
//! consent may use them; they read and store nothing, so they are not audited.

use axum::Extension;
use axum::extract::State;
use custodian_iab::gpp::{self, GppHeader, GppString, Section};
use custodian_iab::tcf::{self, TcString, validate_v23};
use serde_json::{Value, json};

use crate::api::consent::*;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::middleware::RequestId;
use crate::routes::consent::check_permit;
use crate::state::AppState;

/// Longest string accepted (a TC string with every vendor in a bitfield is about 2 KB; GPP
/// strings with every section a few KB).
const MAX_STRING: usize = 64 * 1024;

/// The section names, by id, and the codec's variant name for each.
const SECTIONS: [(u16, &str, &str); 10] = [
    (1, "tcfeuv1", "TcfEuV1"),
    (2, "tcfeuv2", "TcfEuV2"),
    (5, "tcfcav1", "TcfCaV1"),
    (6, "uspv1", "UspV1"),
    (7, "usnat", "UsNat"),
    (8, "usca", "UsCa"),
    (9, "usva", "UsVa"),
    (10, "usco", "UsCo"),
    (11, "usut", "UsUt"),
    (12, "usct", "UsCt"),
];

fn tcf_error(reason: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidTcString).details(json!({ "reason": reason.to_string() }))
}

fn gpp_error(reason: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidGppString).details(json!({ "reason": reason.to_string() }))
}

fn bounded(s: &str, err: fn(&str) -> ApiError) -> Result<(), ApiError> {
    if s.len() > MAX_STRING {
        return Err(err("longer than 65536 bytes"));
    }
    Ok(())
}

/// The JSON form of a value the codec produced (its types always serialize).
fn to_json<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::new(ErrorCode::Internal))
}

fn section_out(section: &Section) -> Result<GppSectionOut, ApiError> {
    let id = section.id();
    let name = SECTIONS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map_or("unknown", |(_, n, _)| n);
    // The codec's JSON is externally tagged ({"UsNat": {...}}); answer the inner object.
    let fields = match (to_json(section)?, section) {
        (_, Section::Unknown { raw, .. }) => json!({ "raw": raw }),
        (Value::Object(m), _) => m.into_iter().next().map(|(_, v)| v).unwrap_or(Value::Null),
        (v, _) => v,
    };
    Ok(GppSectionOut { id, name, fields })
}

fn section_in(s: GppSectionIn) -> Result<Section, ApiError> {
    match SECTIONS.iter().find(|(i, _, _)| *i == s.id) {
        Some((_, _, variant)) => serde_json::from_value(json!({ *variant: s.fields }))
            .map_err(|_| gpp_error(format!("section {} has missing or invalid fields", s.id))),
        None => {
            let raw = s
                .fields
                .get("raw")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty() && !r.contains('~'))
                .ok_or_else(|| gpp_error(format!("section {} needs fields.raw", s.id)))?;
            Ok(Section::Unknown {
                id: s.id,
                raw: raw.to_owned(),
            })
        }
    }
}

/// Decodes a TCF v2 TC string (core, DisclosedVendors, AllowedVendors and PublisherTC
/// segments) and checks it against the TCF v2.3 rules.
#[utoipa::path(post, path = "/v1/tcf/decode", tag = "consent", security(("bearer" = [])),
    request_body = IabStringIn, responses(
    (status = 200, body = TcfDecodedOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_tc_string (details.reason)"),
))]
pub async fn tcf_decode(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<IabStringIn>,
) -> Result<ApiJson<TcfDecodedOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    bounded(&input.string, |r| tcf_error(r))?;
    let tc = tcf::decode(input.string.trim()).map_err(tcf_error)?;
    let violations: Vec<String> = validate_v23(&tc)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(ApiJson(TcfDecodedOut {
        tc: to_json(&tc)?,
        valid_v23: violations.is_empty(),
        violations,
    }))
}

/// Encodes a TC string from its fields, each vendor section as a bitfield or as ranges,
/// whichever is shorter.
#[utoipa::path(post, path = "/v1/tcf/encode", tag = "consent", security(("bearer" = [])),
    request_body = TcfEncodeIn, responses(
    (status = 200, body = IabStringOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_tc_string (details.reason)"),
))]
pub async fn tcf_encode(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<TcfEncodeIn>,
) -> Result<ApiJson<IabStringOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    let tc: TcString = serde_json::from_value(input.tc)
        .map_err(|_| tcf_error("tc has missing or invalid fields"))?;
    let string = tcf::encode(&tc).map_err(tcf_error)?;
    Ok(ApiJson(IabStringOut { string }))
}

/// Decodes a GPP string: the header and each section (TCF EU v1 and v2, TCF Canada,
/// uspv1, US national v1 and v2, and the California, Virginia, Colorado, Utah and
/// Connecticut sections; other ids are returned raw).
#[utoipa::path(post, path = "/v1/gpp/decode", tag = "consent", security(("bearer" = [])),
    request_body = IabStringIn, responses(
    (status = 200, body = GppDecodedOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_gpp_string (details.reason)"),
))]
pub async fn gpp_decode(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<IabStringIn>,
) -> Result<ApiJson<GppDecodedOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    bounded(&input.string, |r| gpp_error(r))?;
    let decoded = gpp::decode(input.string.trim()).map_err(gpp_error)?;
    Ok(ApiJson(GppDecodedOut {
        header: to_json(&decoded.header)?,
        sections: decoded
            .sections
            .iter()
            .map(section_out)
            .collect::<Result<_, _>>()?,
    }))
}

/// Encodes a GPP string from its sections (ids strictly increasing); the header is derived.
#[utoipa::path(post, path = "/v1/gpp/encode", tag = "consent", security(("bearer" = [])),
    request_body = GppEncodeIn, responses(
    (status = 200, body = IabStringOut), (status = 403, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "invalid_gpp_string (details.reason)"),
))]
pub async fn gpp_encode(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(input): ApiJson<GppEncodeIn>,
) -> Result<ApiJson<IabStringOut>, ApiError> {
    check_permit(&state, &caller, &rid).await?;
    if input.sections.is_empty() || input.sections.len() > 32 {
        return Err(gpp_error("1 to 32 sections"));
    }
    let sections: Vec<Section> = input
        .sections
        .into_iter()
        .map(section_in)
        .collect::<Result<_, _>>()?;
    let gpp = GppString {
        header: GppHeader {
            version: 1,
            section_ids: sections.iter().map(Section::id).collect(),
        },
        sections,
    };
    let string = gpp::encode(&gpp).map_err(gpp_error)?;
    Ok(ApiJson(IabStringOut { string }))
}
