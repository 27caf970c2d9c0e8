//! The committed OpenAPI document must match what the code generates.
//! Regenerate it with `UPDATE_OPENAPI=1 cargo test -p custodian-server --test openapi`.

// Test code: failed expectations panic, and tests may read the wall clock.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::disallowed_methods
)]

#[test]
fn committed_openapi_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let generated = custodian_server::openapi()
        .to_pretty_json()
        .expect("serialises")
        + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/server/openapi.json is out of date: run UPDATE_OPENAPI=1 cargo test -p custodian-server --test openapi"
    );
}

#[test]
fn every_operation_documents_its_errors_and_security() {
    let doc = custodian_server::openapi();
    let json = serde_json::to_value(&doc).expect("json");
    assert_eq!(json["openapi"], "3.1.0");
    // Public by design: health, the GPC resource, the receipt keys, the banner's endpoints and
    // the privacy center's requester API; DRP pairing.
    let public = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/gpc.json",
        "/.well-known/custodian/receipt-keys",
        "/v1/public/consent",
        "/v1/public/banner.js",
    ];
    for (path, item) in json["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} has no description"
            );
            // DRP pairing authenticates by its signed body: it is how an agent gets a token.
            let drp_pairing = method == "post" && path == "/v1/agent/{agent_id}";
            if !public.contains(&path.as_str())
                && !path.starts_with("/v1/privacy-center/")
                && !drp_pairing
            {
                assert!(
                    op["security"].is_array(),
                    "{method} {path} does not declare bearer auth"
                );
            }
        }
    }
}
