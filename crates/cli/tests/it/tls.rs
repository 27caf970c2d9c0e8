//! In-process TLS termination with rustls.

use custodian_server::TlsFiles;

use crate::harness::{Options, TestServer};

#[tokio::test]
async fn serves_https_with_the_given_certificate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("cert");
    let (cert_path, key_path) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write key");
    let s = TestServer::start_with(Options {
        tls: Some(TlsFiles {
            cert: cert_path,
            key: key_path,
        }),
        ..Options::default()
    })
    .await;
    assert!(s.base.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("root"),
        )
        .build()
        .expect("client");
    let r = client
        .get(format!("{}/v1/me", s.base))
        .bearer_auth(&s.admin_key)
        .send()
        .await
        .expect("https request");
    assert_eq!(r.status(), 200);
    let plain = reqwest::get(format!("{}/healthz", s.base.replace("https://", "http://"))).await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| !r.status().is_success()),
        "plain HTTP must not be served"
    );
}
