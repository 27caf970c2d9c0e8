//! The admin console (`/console`) and the public privacy center (`/privacy`): server-rendered
//! pages (minijinja templates embedded in the binary) over the same handlers as the API, so a
//! page is authorized and audited exactly as the API call it makes.
//!
//! - [`session`]: sign-in with password and TOTP, enrolment by invitation, sessions (cookie,
//!   idle timeout, lifetime, re-authentication), CSRF.
//! - [`screens`]: the console's screens.
//! - [`privacy`]: the privacy center.
//!
//! Pages work without JavaScript (forms post and redirect); htmx (vendored, `assets/vendor`)
//! only makes navigation and the audit viewer's filters quicker. Every page is sent with a
//! Content-Security-Policy that allows no inline script or style.

pub mod privacy;
pub mod screens;
pub mod session;
pub mod webauthn;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// How the privacy center looks: the organization's name (else the data map's), an accent
/// colour and a logo. Checked when the configuration is read ([`Brand::new`]).
#[derive(Debug, Clone, Default)]
pub struct Brand {
    /// Shown as the privacy center's name instead of the data map's organization.
    pub name: Option<String>,
    /// `#rrggbb`.
    pub accent: Option<String>,
    /// The logo's media type and bytes.
    pub logo: Option<(&'static str, Vec<u8>)>,
}

/// The largest logo accepted.
pub const MAX_LOGO: usize = 256 * 1024;

impl Brand {
    /// Checks a brand: a name of 1 to 100 printable characters, an accent `#rrggbb`, a logo
    /// (PNG, JPEG, WebP or SVG by its file name) of at most 256 KiB. The error names the
    /// setting.
    pub fn new(
        name: Option<String>,
        accent: Option<String>,
        logo: Option<(&str, Vec<u8>)>,
    ) -> Result<Brand, &'static str> {
        let name = name.map(|n| n.trim().to_owned());
        if name.as_deref().is_some_and(|n| {
            n.is_empty() || n.chars().count() > 100 || n.chars().any(char::is_control)
        }) {
            return Err("privacy_name must be 1 to 100 printable characters");
        }
        if accent.as_deref().is_some_and(|a| hex_colour(a).is_none()) {
            return Err("privacy_accent must be a colour as #rrggbb");
        }
        let logo = match logo {
            None => None,
            Some((file_name, bytes)) => {
                let lower = file_name.to_ascii_lowercase();
                let kind = if lower.ends_with(".png") {
                    "image/png"
                } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
                    "image/jpeg"
                } else if lower.ends_with(".webp") {
                    "image/webp"
                } else if lower.ends_with(".svg") {
                    "image/svg+xml"
                } else {
                    return Err("privacy_logo must be a .png, .jpg, .webp or .svg file");
                };
                if bytes.is_empty() || bytes.len() > MAX_LOGO {
                    return Err("privacy_logo must be at most 256 KiB");
                }
                Some((kind, bytes))
            }
        };
        Ok(Brand {
            name,
            accent: accent.map(|a| a.to_ascii_lowercase()),
            logo,
        })
    }

    /// The stylesheet that applies the accent: the colour, and for text on it black or white,
    /// whichever contrasts more (WCAG relative luminance).
    pub fn css(&self) -> String {
        let Some((r, g, b)) = self.accent.as_deref().and_then(hex_colour) else {
            return String::new();
        };
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let l = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
        let on_white = 1.05 / (l + 0.05);
        let on_black = (l + 0.05) / 0.05;
        let ink = if on_white >= on_black {
            "#ffffff"
        } else {
            "#000000"
        };
        let accent = self.accent.as_deref().unwrap_or_default();
        format!(
            ":root {{ --accent: {accent}; --accent-ink: {ink}; }}\n.top.public {{ background: {accent}; }}\n.top.public, .top.public a {{ color: {ink}; }}\n"
        )
    }
}

/// The red, green and blue of `#rrggbb`.
fn hex_colour(s: &str) -> Option<(u8, u8, u8)> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some((c(0)?, c(2)?, c(4)?))
}

/// The brand's stylesheet and logo.
async fn brand_asset(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let brand = &state.config.brand;
    match (name.as_str(), &brand.logo) {
        ("brand.css", _) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            brand.css(),
        )
            .into_response(),
        ("logo", Some((kind, bytes))) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            bytes.clone(),
        )
            .into_response(),
        _ => ApiError::new(ErrorCode::RouteNotFound).into_response(),
    }
}

/// The Content-Security-Policy of every page: only this origin's scripts, styles and forms,
/// images also as `data:` (the enrolment QR code), never framed.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name))),)*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "console/layout.html",
    "console/login.html",
    "console/account.html",
    "console/enroll.html",
    "console/reauth.html",
    "console/message.html",
    "console/dashboard.html",
    "console/requests.html",
    "console/request.html",
    "console/consent.html",
    "console/purpose.html",
    "console/map.html",
    "console/vault.html",
    "console/audit.html",
    "console/audit_rows.html",
    "console/incidents.html",
    "console/incident.html",
    "console/vendors.html",
    "console/training.html",
    "console/retention.html",
    "console/discovery.html",
    "console/operators.html",
    "console/policies.html",
    "privacy/layout.html",
    "privacy/home.html",
    "privacy/request.html",
    "privacy/status.html",
    "privacy/preferences.html",
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, kind = ?e.kind(), line = ?e.line(), "a template does not parse");
            }
        }
        env.add_filter("when", when);
        env.add_filter("day", day);
        env
    })
}

/// `2026-12-05T11:20:31.123Z` as `2026-12-05 11:20 UTC` (other strings unchanged).
fn when(s: String) -> String {
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => s,
    }
}

/// The date of a timestamp.
fn day(s: String) -> String {
    match s.parse::<jiff::Timestamp>() {
        Ok(t) => t.strftime("%Y-%m-%d").to_string(),
        Err(_) => s,
    }
}

/// Renders `name` with `ctx` as an HTML answer with `status`; a template failure is logged
/// (with the template's name only) and answered as a plain 500.
pub fn render<S: Serialize>(status: StatusCode, name: &str, ctx: S) -> Response {
    let out = env().get_template(name).and_then(|t| t.render(ctx));
    match out {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            // The kind and line only: the error's debug form lists the variables' values,
            // which can be personal data.
            tracing::error!(template = name, kind = ?e.kind(), line = ?e.line(), "a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error as the page shows it: the stable code, its one-line message (never personal data)
/// and, for validation errors, the field and rule.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    /// The error code (`access_denied`, …) or `done`.
    pub code: String,
    /// The message.
    pub message: String,
    /// `details.field` or `details.path`, when the error names one.
    pub field: Option<String>,
    /// `details.rule`, when the error names one.
    pub rule: Option<String>,
}

impl Flash {
    /// The flash of an API error.
    pub fn of(e: &ApiError) -> Flash {
        let pick = |k: &str| {
            e.details_value()
                .and_then(|d| d.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Flash {
            code: e.code().code().to_owned(),
            message: e.message().to_owned(),
            field: pick("field").or_else(|| pick("path")),
            rule: pick("rule"),
        }
    }

    /// The flash of a redirect's `error`, `field` and `rule` query parameters: only codes of
    /// the error table are shown, with the table's message, and names only if they are short
    /// identifiers (a crafted link cannot put text on the page).
    pub fn from_query(
        code: Option<&str>,
        field: Option<&str>,
        rule: Option<&str>,
    ) -> Option<Flash> {
        let code = ErrorCode::parse(code?)?;
        let ident = |s: Option<&str>| {
            s.filter(|s| {
                s.len() <= 80
                    && s.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']')
                    })
            })
            .map(str::to_owned)
        };
        Some(Flash {
            code: code.code().to_owned(),
            message: code.doc().to_owned(),
            field: ident(field),
            rule: ident(rule),
        })
    }
}

/// Where to go after a form: `to` on success (with `?done=<what>`), or back to `to` with the
/// error's code, field and rule.
pub fn after<T>(to: &str, done: &str, r: Result<T, ApiError>) -> Response {
    let sep = if to.contains('?') { '&' } else { '?' };
    match r {
        Ok(_) => Redirect::to(&format!("{to}{sep}done={done}")).into_response(),
        Err(e) => Redirect::to(&format!("{to}{sep}{}", error_query(&e))).into_response(),
    }
}

/// The query string that carries an error through a redirect.
pub fn error_query(e: &ApiError) -> String {
    let f = Flash::of(e);
    let mut q = format!("error={}", f.code);
    for (k, v) in [("field", f.field), ("rule", f.rule)] {
        if let Some(v) = v
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']'))
            && v.len() <= 80
        {
            q.push_str(&format!("&{k}={v}"));
        }
    }
    q
}

/// The static assets (embedded).
async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let (body, kind): (&'static str, &str) = match name.as_str() {
        "console.css" => (
            include_str!("../../assets/console.css"),
            "text/css; charset=utf-8",
        ),
        "console.js" => (
            include_str!("../../assets/console.js"),
            "text/javascript; charset=utf-8",
        ),
        "htmx.min.js" => (
            include_str!("../../assets/vendor/htmx-2.0.11.min.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return ApiError::new(ErrorCode::RouteNotFound).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Security headers of every page: the CSP, and HSTS when the server itself speaks TLS or is
/// reached over `https://`.
async fn page_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    if tls_in_use(&state) {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// Refuses a POST to the privacy center from another site (`csrf_failed`): its forms need no
/// session, but a page elsewhere must not submit them in a visitor's name.
async fn same_origin_posts(req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::POST && !session::same_origin(req.headers()) {
        return ApiError::new(ErrorCode::CsrfFailed).into_response();
    }
    next.run(req).await
}

/// The value of the cookie `name` in a request, if sent.
pub fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `; Secure` when pages are served over TLS, for a `Set-Cookie`.
pub fn secure_flag(state: &AppState) -> &'static str {
    if tls_in_use(state) { "; Secure" } else { "" }
}

/// Whether pages are served over TLS (cookies then get `Secure` and the `__Host-` prefix).
pub fn tls_in_use(state: &AppState) -> bool {
    state.config.tls.is_some()
        || state
            .config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// The console and privacy-center routes, with their own layers.
pub fn router(state: AppState) -> Router<AppState> {
    use axum::routing::{get, post};
    let console = Router::new()
        .route("/console", get(screens::dashboard))
        .route("/console/", get(screens::dashboard))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/account", get(webauthn::account))
        .route("/console/account/keys", post(webauthn::register))
        .route("/console/account/keys/{id}/remove", post(webauthn::remove))
        .route(
            "/console/webauthn/register-options",
            post(webauthn::register_options),
        )
        .route(
            "/console/webauthn/login-options",
            post(webauthn::login_options),
        )
        .route(
            "/console/reauth",
            get(session::reauth_page).post(session::reauth),
        )
        .route(
            "/console/enroll/{token}",
            get(session::enroll_page).post(session::enroll),
        )
        .route(
            "/console/requests",
            get(screens::requests).post(screens::file_request),
        )
        .route("/console/requests/{id}", get(screens::request))
        .route("/console/requests/{id}/step", post(screens::request_step))
        .route(
            "/console/requests/{id}/tasks/{task_id}",
            post(screens::task_step),
        )
        .route("/console/consent", get(screens::consent))
        .route("/console/consent/purposes", post(screens::save_purpose))
        .route("/console/consent/purposes/{key}", get(screens::purpose))
        .route(
            "/console/consent/notices/{key}",
            post(screens::publish_notice),
        )
        .route("/console/map", get(screens::map))
        .route("/console/map/import", post(screens::import_map))
        .route("/console/vault", get(screens::vault))
        .route("/console/audit", get(screens::audit))
        .route(
            "/console/incidents",
            get(screens::incidents).post(screens::record_incident),
        )
        .route("/console/incidents/{id}", get(screens::incident))
        .route("/console/vendors", get(screens::vendors))
        .route(
            "/console/vendors/{key}/reviews",
            post(screens::review_vendor),
        )
        .route("/console/training", get(screens::training))
        .route(
            "/console/training/completions",
            post(screens::record_completion),
        )
        .route("/console/retention", get(screens::retention))
        .route("/console/retention/holds", post(screens::place_hold))
        .route(
            "/console/retention/holds/{id}/release",
            post(screens::release_hold),
        )
        .route("/console/discovery", get(screens::discovery))
        .route(
            "/console/discovery/{id}/{decision}",
            post(screens::decide_proposal),
        )
        .route(
            "/console/operators",
            get(screens::operators).post(screens::create_operator),
        )
        .route("/console/operators/{id}/keys", post(screens::create_key))
        .route("/console/operators/{id}/invite", post(screens::invite))
        .route("/console/keys/{id}/revoke", post(screens::revoke_key))
        .route(
            "/console/policies",
            get(screens::policies).post(screens::save_policies),
        )
        .route("/console/evidence", post(screens::export_evidence))
        .route("/console/assets/{name}", get(asset))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::resolve,
        ));
    let privacy = Router::new()
        .route("/privacy", get(privacy::home))
        .route("/privacy/", get(privacy::home))
        .route("/privacy/notices/{key}", get(privacy::notice))
        .route(
            "/privacy/request",
            get(privacy::request_form).post(privacy::file),
        )
        .route("/privacy/requests/{id}", get(privacy::status))
        .route("/privacy/requests/{id}/verify", post(privacy::verify))
        .route("/privacy/requests/{id}/resend", post(privacy::resend))
        .route("/privacy/requests/{id}/withdraw", post(privacy::withdraw))
        .route(
            "/privacy/preferences",
            get(privacy::preferences).post(privacy::save_preferences),
        )
        .route("/privacy/assets/{name}", get(asset))
        .route("/privacy/brand/{name}", get(brand_asset))
        .layer(axum::middleware::from_fn(same_origin_posts));
    console
        .merge(privacy)
        .layer(axum::middleware::from_fn_with_state(state, page_headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            if let Err(e) = env.add_template(name, source) {
                panic!("{name}: {e:#}");
            }
        }
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn flashes_from_links_show_only_the_error_table() {
        let f = Flash::from_query(Some("access_denied"), Some("texts.en"), Some("x y"));
        let f = f.expect("a known code");
        assert_eq!(f.message, ErrorCode::AccessDenied.doc());
        assert_eq!(f.field.as_deref(), Some("texts.en"));
        assert_eq!(f.rule, None, "not an identifier");
        assert!(Flash::from_query(Some("<script>"), None, None).is_none());
        assert!(Flash::from_query(None, Some("f"), None).is_none());
    }
}
