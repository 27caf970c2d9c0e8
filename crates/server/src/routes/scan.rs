//! Finding and redacting personal data in text sent to the API (`scan.run` on the
//! `DataMap`): nothing is stored; each request is audited with the kinds found, never the
//! values.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use custodian_core::access::{Action, Resource};
use custodian_scan::redact::{Operator, label, redact, sealed_items};
use custodian_scan::{Finding, Kind, scan, scan_covering};
use serde_json::json;

use crate::api::map::{
    DecryptIn, DecryptOut, FindingOut, OpenedOut, RedactIn, RedactOut, RedactedOut, ScanOut,
    ScanTextIn,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ErrorBody, ErrorCode};
use crate::gate::authorize;
use crate::middleware::RequestId;
use crate::routes::vault::TokenTarget;
use crate::state::AppState;

fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidValue).details(json!({ "field": field, "rule": rule }))
}

/// Authorizes `scan.run`, scans `text` (findings at or above `min`, default 0.5; for a
/// redaction, `scan.redact`, with the parts of overlapped findings kept: `scan_covering`) and
/// audits the request as `action` with the kinds found, before anything is answered.
async fn scanned(
    state: &AppState,
    caller: &Caller,
    rid: &RequestId,
    text: &str,
    min: Option<f32>,
    action: &str,
) -> Result<Vec<Finding>, ApiError> {
    let permit = authorize(state, caller, rid, Action::ScanRun, Resource::DataMap, None).await?;
    let min = min.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&min) {
        return Err(invalid("min_confidence", "between 0 and 1"));
    }
    let found: Vec<Finding> = if action == "scan.redact" {
        // A redaction also covers what a finding that lost to an overlapping one holds
        // outside the winner (`scan_covering`).
        scan_covering(text, min)
    } else {
        scan(text)
            .into_iter()
            .filter(|f| f.confidence >= min)
            .collect()
    };
    let mut draft = permit.draft;
    draft.action = action.into();
    draft.fields = kinds(found.iter().map(|f| f.kind));
    state.store.append_audit(draft).await?;
    Ok(found)
}

/// The kinds found, for the audit event.
fn kinds(found: impl IntoIterator<Item = Kind>) -> Vec<String> {
    let mut k: Vec<String> = found.into_iter().map(|k| k.as_str().to_owned()).collect();
    k.sort();
    k.dedup();
    k
}

/// Finds personal data in a text: each finding's kind, data category, byte span and
/// confidence.
#[utoipa::path(post, path = "/v1/scan/text", tag = "map", security(("bearer" = [])),
    request_body = ScanTextIn, responses((status = 200, body = ScanOut),
    (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn scan_text(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<ScanTextIn>,
) -> Result<ApiJson<ScanOut>, ApiError> {
    let found = scanned(
        &state,
        &caller,
        &rid,
        &body.text,
        body.min_confidence,
        "scan.text",
    )
    .await?;
    Ok(ApiJson(ScanOut {
        findings: found
            .iter()
            .map(|f| FindingOut {
                kind: f.kind.as_str(),
                category: f.kind.taxonomy(),
                start: f.start,
                end: f.end,
                confidence: f.confidence,
                detector: f.detector,
            })
            .collect(),
    }))
}

/// The key `encrypt` seals items under: derived from the installation's root secret, the
/// same on every node.
fn redaction_key(
    state: &AppState,
) -> Result<Box<dyn custodian_core::vault::service::DataKey>, ApiError> {
    state
        .vault_crypto
        .system_key("scan-redact")
        .map_err(|_| crate::error::internal("the redaction key is unavailable"))
}

/// Where an encrypted item of `kind` is sealed: the kind is bound in, so an item cannot be
/// passed off as another kind.
fn place(kind: Kind) -> custodian_core::vault::record::CellPlace<'static> {
    custodian_core::vault::record::CellPlace {
        collection: "scan",
        record: "redact",
        field: kind.as_str(),
        key_version: 0,
    }
}

/// Redacts personal data in a text, with an operator per kind: `mask` (letters and digits
/// become `*`), `label` (`<EMAIL>`), `hash` (`<EMAIL:…>`, a keyed hash under this
/// installation's key: the same value gives the same pseudonym, and it cannot be reversed
/// without the key), `encrypt` (`<EMAIL:enc:…>`, sealed under this installation's key with a
/// random nonce, opened by `POST /v1/redact/decrypt`), `tokenize` (a vault token in place of
/// the value, issued by the tokenized field `tokenize.fields` names for the kind, for
/// `tokenize.subject_id`, resolved by `POST /v1/detokenize`; a value the field's type refuses
/// is labelled instead) or `keep`.
#[utoipa::path(post, path = "/v1/redact", tag = "map", security(("bearer" = [])),
    params(("custodian-purpose" = Option<String>, Header, description = "Purpose, for `tokenize` (the policy grants `data.write` under it)")),
    request_body = RedactIn, responses((status = 200, body = RedactOut),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn redact_text(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RedactIn>,
) -> Result<ApiJson<RedactOut>, ApiError> {
    let mut default = Operator::Label;
    let mut chosen: Vec<(Kind, Operator)> = Vec::new();
    for (k, o) in &body.operators {
        let op = Operator::parse(o)
            .ok_or_else(|| invalid("operators", "mask, label, hash, encrypt, tokenize or keep"))?;
        if k == "default" {
            if op == Operator::Tokenize {
                return Err(invalid("operators", "tokenize is named per kind"));
            }
            default = op;
            continue;
        }
        let kind =
            Kind::parse(k).ok_or_else(|| invalid("operators", "keys are kinds or default"))?;
        chosen.push((kind, op));
    }
    // The vault fields for the tokenized kinds, all checked (and granted) before the scan.
    let tokenized: Vec<Kind> = chosen
        .iter()
        .filter(|(_, o)| *o == Operator::Tokenize)
        .map(|(k, _)| *k)
        .collect();
    let mut token_fields: Vec<(Kind, String)> = Vec::new();
    let target = match (&body.tokenize, tokenized.is_empty()) {
        (None, true) => None,
        (None, false) => return Err(invalid("tokenize", "required to tokenize")),
        (Some(_), true) => return Err(invalid("tokenize", "only with a tokenized kind")),
        (Some(t), false) => {
            for (k, f) in &t.fields {
                let kind = Kind::parse(k)
                    .filter(|k| tokenized.contains(k))
                    .ok_or_else(|| invalid("tokenize.fields", "keys are tokenized kinds"))?;
                token_fields.push((kind, f.clone()));
            }
            if tokenized
                .iter()
                .any(|k| !token_fields.iter().any(|(x, _)| x == k))
            {
                return Err(invalid("tokenize.fields", "a field per tokenized kind"));
            }
            let fields: Vec<&str> = token_fields.iter().map(|(_, f)| f.as_str()).collect();
            Some(
                TokenTarget::new(
                    &state,
                    &caller,
                    &rid,
                    &headers,
                    &t.collection,
                    &t.subject_id,
                    &fields,
                )
                .await?,
            )
        }
    };
    let found = scanned(
        &state,
        &caller,
        &rid,
        &body.text,
        body.min_confidence,
        "scan.redact",
    )
    .await?;
    let operator = |k: Kind| {
        chosen
            .iter()
            .find(|(x, _)| *x == k)
            .map_or(default, |(_, o)| *o)
    };
    // One token per distinct value of a tokenized kind (`None`: its field refused the value).
    let mut tokens: HashMap<(Kind, &str), Option<String>> = HashMap::new();
    if let Some(target) = &target {
        // A part of a finding is not a value: it is labelled, not tokenized.
        for f in found.iter().filter(|f| !f.part) {
            let Some(value) = body.text.get(f.start..f.end) else {
                continue;
            };
            let Some((_, field)) = token_fields.iter().find(|(k, _)| *k == f.kind) else {
                continue;
            };
            if tokens.contains_key(&(f.kind, value)) {
                continue;
            }
            let token = target.issue(&state, &caller, &rid, field, value).await?;
            tokens.insert((f.kind, value), token);
        }
    }
    let token_of = |k: Kind, v: &str| tokens.get(&(k, v)).cloned().flatten();
    let crypto = state.vault_crypto.clone();
    let key = redaction_key(&state)?;
    let failed = std::cell::Cell::new(false);
    let keyed = |k: Kind, op: Operator, v: &str| {
        let out = match op {
            Operator::Encrypt => key
                .seal(&place(k), v.as_bytes())
                .map(|c| URL_SAFE_NO_PAD.encode(c)),
            Operator::Tokenize => {
                return token_of(k, v).unwrap_or_else(|| format!("<{}>", label(k)));
            }
            _ => crypto.blind_index("scan", k.as_str(), v).map(hex::encode),
        };
        out.unwrap_or_else(|_| {
            failed.set(true);
            String::new()
        })
    };
    let text = redact(&body.text, &found, &operator, &keyed);
    if failed.get() {
        return Err(crate::error::internal("a redaction could not be keyed"));
    }
    Ok(ApiJson(RedactOut {
        text,
        items: found
            .iter()
            .map(|f| {
                let mut op = operator(f.kind);
                let token = (op == Operator::Tokenize)
                    .then(|| token_of(f.kind, body.text.get(f.start..f.end).unwrap_or("")))
                    .flatten();
                if op == Operator::Tokenize && token.is_none() {
                    op = Operator::Label;
                }
                RedactedOut {
                    kind: f.kind.as_str(),
                    start: f.start,
                    end: f.end,
                    operator: op.as_str(),
                    token,
                }
            })
            .collect(),
    }))
}

/// Opens the encrypted items (`<EMAIL:enc:…>`) of a redacted text (`scan.decrypt`: the DPO
/// and the admin), audited with their kinds. An item that does not open (altered, or sealed
/// by another installation) is left as it is and reported.
#[utoipa::path(post, path = "/v1/redact/decrypt", tag = "map", security(("bearer" = [])),
    request_body = DecryptIn, responses((status = 200, body = DecryptOut),
    (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decrypt_text(
    State(state): State<AppState>,
    Extension(rid): Extension<RequestId>,
    caller: Caller,
    ApiJson(body): ApiJson<DecryptIn>,
) -> Result<ApiJson<DecryptOut>, ApiError> {
    let permit = authorize(
        &state,
        &caller,
        &rid,
        Action::ScanDecrypt,
        Resource::DataMap,
        None,
    )
    .await?;
    let items = sealed_items(&body.text);
    let mut draft = permit.draft;
    draft.action = "scan.decrypt".into();
    draft.fields = kinds(items.iter().map(|i| i.kind));
    state.store.append_audit(draft).await?;
    let key = redaction_key(&state)?;
    let mut text = String::with_capacity(body.text.len());
    let mut out = Vec::with_capacity(items.len());
    let mut at = 0;
    for item in &items {
        text.push_str(&body.text[at..item.start]);
        let opened = URL_SAFE_NO_PAD
            .decode(item.body)
            .ok()
            .and_then(|c| key.open(&place(item.kind), &c).ok())
            .and_then(|p| String::from_utf8(p.to_vec()).ok());
        match &opened {
            Some(v) => text.push_str(v),
            None => text.push_str(&body.text[item.start..item.end]),
        }
        out.push(OpenedOut {
            kind: item.kind.as_str(),
            start: item.start,
            end: item.end,
            opened: opened.is_some(),
        });
        at = item.end;
    }
    text.push_str(&body.text[at..]);
    Ok(ApiJson(DecryptOut { text, items: out }))
}
