//! The vault over HTTP, as a new user meets it: declare a collection, store customers, read
//! them under different purposes and roles, search, tokenize, restrict, erase, and look for
//! plaintext where it must not be. Run on SQLite and on PostgreSQL.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Body, Options, PgDb, TestServer, pg_url};

const EMAIL: &str = "jane.doe@example.com";
const PHONE: &str = "+44 20 7946 0958";
const PHONE_E164: &str = "+442079460958";
const CARD: &str = "4111 1111 1111 1111";
const CARD_DIGITS: &str = "4111111111111111";
const SSN: &str = "078-05-1121";
const NAME: &str = "Jane Mary Doe";

fn customers() -> Value {
    json!({"fields": [
        {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium", "required": true, "searchable": true},
        {"name": "phone", "type": "phone", "category": "user.contact.phone_number", "sensitivity": "medium", "searchable": true},
        {"name": "name", "type": "text", "category": "user.name", "sensitivity": "medium"},
        {"name": "card", "type": "card_number", "category": "user.financial.credit_card", "sensitivity": "high", "tokenization": "format_preserving"},
        {"name": "ssn", "type": "national_id:us_ssn", "category": "user.government_id", "sensitivity": "special"},
        {"name": "dob", "type": "date", "category": "user.demographic.date_of_birth", "sensitivity": "medium"},
        {"name": "address", "type": "postal_address", "category": "user.contact.address", "sensitivity": "medium"}
    ]})
}

struct Keys {
    engineer: String,
    support: String,
    marketing: String,
    dpo: String,
}

async fn keys(s: &TestServer) -> Keys {
    Keys {
        engineer: s.operator_with_key("Eve Engineer", "engineer").await.1,
        support: s.operator_with_key("Sam Support", "support").await.1,
        marketing: s.operator_with_key("Mia Marketing", "marketing").await.1,
        dpo: s.operator_with_key("Dan DPO", "dpo").await.1,
    }
}

async fn as_(
    s: &TestServer,
    key: &str,
    purpose: Option<&str>,
    method: Method,
    path: &str,
    body: Body,
) -> crate::harness::Resp {
    let headers: Vec<(&str, &str)> = purpose
        .map(|p| vec![("custodian-purpose", p)])
        .unwrap_or_default();
    s.call_with(method, path, Some(key), body, &headers).await
}

async fn create(s: &TestServer, k: &Keys, subject: &str, fields: Value) -> crate::harness::Resp {
    as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/collections/customers/records",
        Body::Json(json!({"subject_id": subject, "fields": fields})),
    )
    .await
}

fn jane() -> Value {
    json!({
        "email": EMAIL, "phone": PHONE, "name": NAME, "card": CARD, "ssn": SSN,
        "dob": "1990-07-14",
        "address": {"lines": ["1 Main Street"], "city": "London", "postal_code": "sw1a 1aa", "country": "gb"}
    })
}

/// Declares the collection and stores Jane (cus_1) and John (cus_2); returns Jane's record id
/// and card token.
async fn seed(s: &TestServer, k: &Keys) -> (String, String) {
    let r = as_(
        s,
        &k.engineer,
        None,
        Method::PUT,
        "/v1/collections/customers",
        Body::Json(customers()),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = create(s, k, "cus_1", jane()).await;
    assert_eq!(r.status, 201, "{r:?}");
    let id = r.json["id"].as_str().expect("id").to_owned();
    let token = r.json["tokens"]["card"]
        .as_str()
        .expect("card token")
        .to_owned();
    let r = create(
        s,
        k,
        "cus_2",
        json!({"email": "john@example.org", "phone": "+1 415 555 2671"}),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    (id, token)
}

async fn scenario(s: &TestServer) {
    let k = keys(s).await;
    let (id, card_token) = seed(s, &k).await;
    let rec = format!("/v1/collections/customers/records/{id}");

    // Format-preserving token: 16 digits, last four kept, Luhn-valid, not the card.
    assert_eq!(card_token.len(), 16);
    assert!(card_token.ends_with("1111") && card_token != CARD_DIGITS);

    // Support, for support: contact details in plaintext, the rest masked, special left out.
    let r = as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let f = &r.json["fields"];
    assert_eq!(f["email"], EMAIL);
    assert_eq!(f["phone"], PHONE_E164);
    assert_eq!(f["name"], "J. M. D.");
    assert_eq!(f["card"], "**** **** **** 1111");
    assert_eq!(f["dob"], "1990");
    assert_eq!(
        f["address"],
        json!({"lines": ["1 Main Street"], "city": "London", "postal_code": "SW1A 1AA", "country": "GB"})
    );
    assert!(f.get("ssn").is_none());
    assert_eq!(r.json["access"]["email"], "reveal");
    assert_eq!(r.json["access"]["name"], "mask");
    assert_eq!(r.json["omitted"], json!(["ssn"]));

    // Marketing, for marketing: contact details only.
    let r = as_(
        s,
        &k.marketing,
        Some("marketing"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["fields"]["email"], EMAIL);
    assert!(r.json["fields"].get("name").is_none());
    assert!(r.json["fields"].get("card").is_none());

    // No purpose, or a purpose the role has nothing under: refused.
    as_(s, &k.support, None, Method::GET, &rec, Body::None)
        .await
        .assert_error(400, "purpose_required");
    as_(
        s,
        &k.support,
        Some("marketing"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");

    // Search by email (normalised first), by phone in another format; paging.
    let r = as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?email=jane.doe@EXAMPLE.com",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["records"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.json["records"][0]["id"], id.as_str());
    let r = as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?phone=%2B44%2020%207946%200958&limit=1",
        Body::None,
    )
    .await;
    assert_eq!(r.json["records"][0]["subject_id"], "cus_1", "{r:?}");
    as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?name=Jane",
        Body::None,
    )
    .await
    .assert_error(400, "field_not_searchable");
    as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records",
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");

    // Rectification moves the index with the value.
    let r = as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::PATCH,
        &rec,
        Body::Json(json!({"fields": {"email": "jane@example.net", "dob": null}})),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let found = |q: &'static str| {
        let (s, key) = (s, k.support.clone());
        async move {
            as_(
                s,
                &key,
                Some("support"),
                Method::GET,
                &format!("/v1/collections/customers/records?{q}"),
                Body::None,
            )
            .await
            .json["records"]
                .as_array()
                .map_or(0, Vec::len)
        }
    };
    assert_eq!(found("email=jane.doe@example.com").await, 0);
    assert_eq!(found("email=jane@example.net").await, 1);
    assert_eq!(
        found("phone=%2B442079460958").await,
        1,
        "kept fields stay indexed"
    );
    as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::PATCH,
        &rec,
        Body::Json(json!({"fields": {"email": null}})),
    )
    .await
    .assert_error(422, "missing_field");

    // Tokens: the field's mode decides; deterministic FF1 gives the record's token again.
    let r = as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/tokenize",
        Body::Json(json!({"collection": "customers", "field": "card", "subject_id": "cus_1", "value": CARD})),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["token"], card_token.as_str());
    as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/tokenize",
        Body::Json(json!({"collection": "customers", "field": "email", "subject_id": "cus_1", "value": EMAIL})),
    )
    .await
    .assert_error(422, "field_not_tokenized");
    let detok = |key: String, purpose: &'static str| {
        let (s, t) = (s, card_token.clone());
        async move {
            as_(
                s,
                &key,
                Some(purpose),
                Method::POST,
                "/v1/detokenize",
                Body::Json(json!({"token": t})),
            )
            .await
        }
    };
    let r = detok(k.dpo.clone(), "dsr").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["value"], CARD_DIGITS);
    assert_eq!(r.json["subject_id"], "cus_1");
    detok(k.support.clone(), "support")
        .await
        .assert_error(403, "access_denied");
    // A subject known only by a token (no record) is someone the vault holds data about: the
    // subject view shows the token and its value, as an access request must.
    let r = as_(
        s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/tokenize",
        Body::Json(json!({"collection": "customers", "field": "card", "subject_id": "cus_ghost", "value": "5555 5555 5555 4444"})),
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_ghost",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["records"], json!([]));
    assert_eq!(r.json["tokens"][0]["field"], "card", "{r:?}");
    assert_eq!(r.json["tokens"][0]["value"], "5555555555554444");
    assert_eq!(r.json["tokens"][0]["access"], "reveal");
    assert!(r.json["tokens"][0]["token"].is_string(), "{r:?}");
    // Masked for support, and without the token: a format-preserving token is the same for
    // anyone's equal value, so beside a masked value it would let the value be guessed.
    let r = as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/subjects/cus_ghost",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["tokens"][0]["access"], "mask", "{r:?}");
    assert!(r.json["tokens"][0].get("token").is_none(), "{r:?}");
    assert!(!r.json.to_string().contains("5555555555554444"), "{r:?}");

    // Restriction: refused for support, still open for the subject's own request (dsr).
    let r = as_(
        s,
        &k.dpo,
        None,
        Method::PUT,
        "/v1/subjects/cus_1/restriction",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await
    .assert_error(403, "processing_restricted");
    assert_eq!(
        as_(s, &k.dpo, Some("dsr"), Method::GET, &rec, Body::None)
            .await
            .status,
        200
    );
    let r = as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?phone=%2B442079460958",
        Body::None,
    )
    .await;
    assert_eq!(r.json["withheld"], 1, "{r:?}");
    assert_eq!(r.json["records"], json!([]));
    as_(
        s,
        &k.dpo,
        None,
        Method::DELETE,
        "/v1/subjects/cus_1/restriction",
        Body::None,
    )
    .await;
    assert_eq!(
        as_(
            s,
            &k.support,
            Some("support"),
            Method::GET,
            &rec,
            Body::None
        )
        .await
        .status,
        200
    );
    // Objection to marketing: marketing refused, support not.
    as_(
        s,
        &k.dpo,
        None,
        Method::PUT,
        "/v1/subjects/cus_1/objections/marketing",
        Body::None,
    )
    .await;
    as_(
        s,
        &k.marketing,
        Some("marketing"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await
    .assert_error(403, "processing_restricted");
    assert_eq!(
        as_(
            s,
            &k.support,
            Some("support"),
            Method::GET,
            &rec,
            Body::None
        )
        .await
        .status,
        200
    );
    // Handling the subject's own requests and legal claims cannot be objected to.
    for exempt in ["dsr", "legal_claims"] {
        as_(
            s,
            &k.dpo,
            None,
            Method::PUT,
            &format!("/v1/subjects/cus_1/objections/{exempt}"),
            Body::None,
        )
        .await
        .assert_error(422, "purpose_exempt");
    }
    // A field given twice, or a search parameter: ambiguous, refused, nothing stored.
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records",
            Some(&k.engineer),
            Body::Raw(
                "application/json",
                br#"{"subject_id":"cus_twice","fields":{"email":"a@example.com","email":"b@example.com"}}"#.to_vec(),
            ),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    r.assert_error(422, "invalid_body");
    assert!(!r.json.to_string().contains("example.com"), "{r:?}");
    as_(
        s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?email=a@example.com&email=b@example.com",
        Body::None,
    )
    .await
    .assert_error(400, "invalid_query");
    as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_twice",
        Body::None,
    )
    .await
    .assert_error(404, "subject_not_found");

    // Everything about a subject.
    let r = as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["records"].as_array().map(Vec::len), Some(1));
    assert!(
        r.json["pseudonym"]
            .as_str()
            .is_some_and(|p| p.starts_with("sp_"))
    );

    // Nothing personal in the audit log; the pseudonym is there.
    let events = s.store.audit_events(0, 10_000).await.expect("events");
    let dump = format!("{events:?}");
    // (Long needles only: hashes in the dump may hold any short digit string.)
    for secret in ["jane", "Jane", PHONE_E164, CARD_DIGITS, SSN, "London"] {
        assert!(!dump.contains(secret), "audit events hold {secret}");
    }
    assert!(dump.contains(r.json["pseudonym"].as_str().expect("p")));

    // Erasure: the support role cannot; the DPO can, once.
    as_(
        s,
        &k.support,
        Some("support"),
        Method::DELETE,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");
    let r = as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::DELETE,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json["key_destroyed"], true);
    assert_eq!(r.json["records_deleted"], 1);
    // Every way back is closed.
    as_(s, &k.dpo, Some("dsr"), Method::GET, &rec, Body::None)
        .await
        .assert_error(404, "record_not_found");
    as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await
    .assert_error(410, "subject_erased");
    assert_eq!(found("email=jane@example.net").await, 0);
    detok(k.dpo.clone(), "dsr")
        .await
        .assert_error(404, "token_not_found");
    as_(
        s,
        &k.dpo,
        Some("dsr"),
        Method::DELETE,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await
    .assert_error(410, "subject_erased");
    // John is untouched.
    assert_eq!(found("email=john@example.org").await, 1);
}

#[tokio::test]
async fn vault_end_to_end_on_sqlite() {
    let s = TestServer::start().await;
    scenario(&s).await;
}

#[tokio::test]
async fn vault_end_to_end_on_postgres() {
    let Some(base) = pg_url() else { return };
    let db = PgDb::create(&base).await;
    let s = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        ..Options::default()
    })
    .await;
    scenario(&s).await;
}

#[tokio::test]
async fn schemas_change_compatibly_or_not_at_all() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let put = |body: Value, key: String| {
        let s = &s;
        async move {
            as_(
                s,
                &key,
                None,
                Method::PUT,
                "/v1/collections/customers",
                Body::Json(body),
            )
            .await
        }
    };
    // The same schema again: nothing changes.
    let r = put(customers(), k.engineer.clone()).await;
    assert_eq!(
        (r.status, r.json["version"].clone()),
        (200, json!(1)),
        "{r:?}"
    );
    // A new optional field: accepted.
    let mut added = customers();
    added["fields"].as_array_mut().expect("fields").push(
        json!({"name": "nickname", "type": "text", "category": "user.name", "sensitivity": "low"}),
    );
    let r = put(added.clone(), k.engineer.clone()).await;
    assert_eq!(
        (r.status, r.json["version"].clone()),
        (200, json!(2)),
        "{r:?}"
    );
    // Removing a field, retyping one, or making one searchable now: 409 with the reason.
    let mut removed = added.clone();
    removed["fields"].as_array_mut().expect("fields").remove(1);
    let r = put(removed, k.engineer.clone()).await;
    r.assert_error(409, "schema_incompatible");
    assert_eq!(r.json["error"]["details"]["field"], "phone");
    let mut retyped = added.clone();
    retyped["fields"][2]["type"] = json!("email");
    put(retyped, k.engineer.clone())
        .await
        .assert_error(409, "schema_incompatible");
    let mut searchable = added.clone();
    searchable["fields"][2]["searchable"] = json!(true);
    put(searchable, k.engineer.clone())
        .await
        .assert_error(409, "schema_incompatible");
    // Invalid schemas: 422 naming the field.
    let mut bad_category = added.clone();
    bad_category["fields"][0]["category"] = json!("user.contact.carrier_pigeon");
    let r = put(bad_category, k.engineer.clone()).await;
    r.assert_error(422, "invalid_schema");
    assert_eq!(r.json["error"]["details"]["field"], "email");
    let mut bad_type = added.clone();
    bad_type["fields"][0]["type"] = json!("emial");
    put(bad_type, k.engineer.clone())
        .await
        .assert_error(422, "invalid_schema");
    let mut ff1_on_email = added.clone();
    ff1_on_email["fields"][0]["tokenization"] = json!("format_preserving");
    put(ff1_on_email, k.engineer.clone())
        .await
        .assert_error(422, "invalid_schema");
    put(json!({"fields": []}), k.engineer.clone())
        .await
        .assert_error(422, "invalid_schema");
    as_(
        &s,
        &k.engineer,
        None,
        Method::PUT,
        "/v1/collections/Bad-Name",
        Body::Json(customers()),
    )
    .await
    .assert_error(422, "invalid_schema");
    // Only some roles may declare.
    put(customers(), k.support.clone())
        .await
        .assert_error(403, "access_denied");
    let r = as_(&s, &k.dpo, None, Method::GET, "/v1/collections", Body::None).await;
    assert_eq!(r.json["collections"][0]["version"], 2, "{r:?}");
    as_(
        &s,
        &k.dpo,
        None,
        Method::GET,
        "/v1/collections/nope",
        Body::None,
    )
    .await
    .assert_error(404, "collection_not_found");
    // A path that cannot be a collection name is refused before it reaches the audit log.
    let before = s.audit_size().await;
    as_(
        &s,
        &k.dpo,
        None,
        Method::GET,
        &format!("/v1/collections/{EMAIL}"),
        Body::None,
    )
    .await
    .assert_error(404, "collection_not_found");
    let events = s.store.audit_events(before, 100).await.expect("events");
    assert!(!format!("{events:?}").contains(EMAIL));
    // A caller who may see nothing cannot probe which subjects or records exist.
    let (_, auditor) = s.operator_with_key("Ada Auditor", "auditor").await;
    for path in [
        "/v1/subjects/cus_1".to_owned(),
        "/v1/subjects/nobody".to_owned(),
        format!("/v1/collections/customers/records/{}", uuid::Uuid::now_v7()),
        "/v1/collections/customers/records?email=jane.doe@example.com".to_owned(),
    ] {
        as_(&s, &auditor, Some("audit"), Method::GET, &path, Body::None)
            .await
            .assert_error(403, "access_denied");
    }
}

#[tokio::test]
async fn every_malformed_value_is_refused_by_rule_without_echo() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let cases: [(&str, Value, &str); 16] = [
        ("email", json!("not-an-email"), "invalid_value"),
        ("email", json!(42), "invalid_value"),
        ("phone", json!("020 7946 0958"), "invalid_value"),
        ("card", json!("4111 1111 1111 1112"), "invalid_value"),
        ("ssn", json!("666-12-3456"), "invalid_value"),
        ("ssn", json!("123-00-4567"), "invalid_value"),
        ("dob", json!("2023-02-29"), "invalid_value"),
        ("dob", json!("14/07/1990"), "invalid_value"),
        ("name", json!("bell\u{7}ring"), "invalid_value"),
        ("name", json!(null), "invalid_value"),
        ("address", json!("1 Main Street, London"), "invalid_value"),
        (
            "address",
            json!({"lines": ["x"], "city": "London", "country": "GBR"}),
            "invalid_value",
        ),
        (
            "address",
            json!({"lines": [], "city": "London", "country": "GB"}),
            "invalid_value",
        ),
        (
            "address",
            json!({"lines": ["x"], "city": "London", "country": "GB", "phone": "1"}),
            "invalid_value",
        ),
        ("shoe_size", json!(42), "unknown_field"),
        (
            "card",
            json!({"number": "4111111111111111"}),
            "invalid_value",
        ),
    ];
    for (field, value, code) in cases {
        let mut fields = json!({"email": "ok@example.com"});
        fields[field] = value.clone();
        let r = create(&s, &k, "cus_9", fields).await;
        r.assert_error(422, code);
        assert_eq!(r.json["error"]["details"]["field"], field, "{r:?}");
        let text = r.json.to_string();
        if let Some(v) = value.as_str().filter(|v| v.len() > 3) {
            assert!(!text.contains(v), "the error echoes the value: {text}");
        }
    }
    create(&s, &k, "cus_9", json!({"phone": PHONE}))
        .await
        .assert_error(422, "missing_field");
    // A value sent where a field name belongs is not repeated back.
    let r = create(
        &s,
        &k,
        "cus_9",
        json!({"email": "ok@example.com", EMAIL: "x"}),
    )
    .await;
    r.assert_error(422, "unknown_field");
    assert_eq!(r.json["error"]["details"]["field"], "(not a field name)");
    assert!(!r.json.to_string().contains(EMAIL), "{r:?}");
    let r = as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        &format!("/v1/collections/customers/records?{EMAIL}=x"),
        Body::None,
    )
    .await;
    r.assert_error(422, "unknown_field");
    assert!(!r.json.to_string().contains(EMAIL), "{r:?}");
    create(&s, &k, EMAIL, json!({"email": EMAIL}))
        .await
        .assert_error(422, "invalid_subject_id");
    // IBAN and NINO in a second collection.
    let r = as_(
        &s,
        &k.engineer,
        None,
        Method::PUT,
        "/v1/collections/payroll",
        Body::Json(json!({"fields": [
            {"name": "iban", "type": "iban", "category": "user.financial.bank_account", "sensitivity": "high"},
            {"name": "nino", "type": "national_id:uk_nino", "category": "user.government_id", "sensitivity": "high"}
        ]})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    for (field, value) in [
        ("iban", "GB82 WEST 1234 5698 7654 33"),
        ("iban", "GB82 WEST 1234 5698 7654"),
        ("nino", "QQ123456C"),
        ("nino", "AB123456E"),
    ] {
        let r = as_(
            &s,
            &k.engineer,
            Some("service_delivery"),
            Method::POST,
            "/v1/collections/payroll/records",
            Body::Json(json!({"subject_id": "emp_1", "fields": {field: value}})),
        )
        .await;
        r.assert_error(422, "invalid_value");
        assert!(!r.json.to_string().contains(value));
    }
    let r = as_(
        &s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/collections/payroll/records",
        Body::Json(json!({"subject_id": "emp_1", "fields": {"iban": "GB82 WEST 1234 5698 7654 32", "nino": "ab 12 34 56 c"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    // Searching by a field the caller may not see is refused, even if other fields are open.
    let r = as_(
        &s,
        &k.engineer,
        None,
        Method::PUT,
        "/v1/collections/patients",
        Body::Json(json!({"fields": [
            {"name": "email", "type": "email", "category": "user.contact.email", "sensitivity": "medium", "searchable": true},
            {"name": "diagnosis", "type": "text", "category": "user.health_and_medical", "sensitivity": "special", "searchable": true}
        ]})),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let r = as_(
        &s,
        &k.marketing,
        Some("marketing"),
        Method::GET,
        "/v1/collections/patients/records?diagnosis=flu",
        Body::None,
    )
    .await;
    r.assert_error(403, "access_denied");
    assert_eq!(r.json["error"]["details"]["field"], "diagnosis");
    let r = as_(
        &s,
        &k.marketing,
        Some("marketing"),
        Method::GET,
        "/v1/collections/patients/records?email=a@example.com",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // A write without the purpose the policy needs is refused and audited.
    let r = as_(
        &s,
        &k.engineer,
        None,
        Method::POST,
        "/v1/collections/customers/records",
        Body::Json(json!({"subject_id": "cus_9", "fields": {"email": EMAIL}})),
    )
    .await;
    r.assert_error(403, "access_denied");
    as_(
        &s,
        &k.engineer,
        Some("service_delivery"),
        Method::POST,
        "/v1/collections/nope/records",
        Body::Json(json!({"subject_id": "cus_9", "fields": {}})),
    )
    .await
    .assert_error(404, "collection_not_found");
    as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records/not-a-uuid",
        Body::None,
    )
    .await
    .assert_error(400, "invalid_path_parameter");
}

/// A format-preserving token is digits only, so one may stand for different values in two
/// fields (each field's FF1 permutation may map a value to it): such a token is refused as
/// ambiguous unless the caller names the collection and field.
#[tokio::test]
async fn a_token_issued_in_two_fields_must_be_named_by_its_field() {
    use custodian_core::audit::{AuditDraft, Decision};
    use custodian_core::vault::record::{SealedUnder, SubjectKey, TokenRecord};
    let s = TestServer::start().await;
    let k = keys(&s).await;
    let (_, card_token) = seed(&s, &k).await;
    // The collision, planted: the same digits, another subject's value in another field.
    let now = custodian_core::Timestamp::now();
    let key = SubjectKey {
        subject_id: "cus_planted".into(),
        key_version: 1,
        kek_id: "kek".into(),
        wrapped_dek: vec![0; 60],
        created_at: now,
    };
    s.store
        .put_token(
            &TokenRecord {
                token: card_token.clone(),
                collection: "customers".into(),
                field: "phone".into(),
                subject_id: "cus_planted".into(),
                key_version: 1,
                ciphertext: vec![0; 40],
                created_at: now,
            },
            &SealedUnder::New(key),
            AuditDraft::new(
                now,
                "test",
                "system",
                "token.issue",
                "test",
                Decision::Allow,
            ),
        )
        .await
        .expect("plant");
    let detok = |body: Value| {
        as_(
            &s,
            &k.dpo,
            Some("dsr"),
            Method::POST,
            "/v1/detokenize",
            Body::Json(body),
        )
    };
    let r = detok(json!({"token": card_token})).await;
    r.assert_error(409, "token_ambiguous");
    assert_eq!(
        r.json["error"]["details"]["issued_in"],
        json!([{"collection": "customers", "field": "card"},
               {"collection": "customers", "field": "phone"}])
    );
    let r = detok(json!({"token": card_token, "collection": "customers", "field": "card"})).await;
    assert_eq!(
        (
            r.status,
            r.json["value"].clone(),
            r.json["subject_id"].clone()
        ),
        (200, json!(CARD_DIGITS), json!("cus_1")),
        "{r:?}"
    );
    detok(json!({"token": card_token, "collection": "customers", "field": "name"}))
        .await
        .assert_error(404, "token_not_found");
    detok(json!({"token": card_token, "field": 7}))
        .await
        .assert_error(422, "invalid_body");
}

/// Bytes of `needle` or its hex, anywhere in `hay`.
fn holds(hay: &[u8], needle: &str) -> bool {
    let hex = hex::encode(needle);
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
        || hay.windows(hex.len()).any(|w| w == hex.as_bytes())
}

const SEEDED: [&str; 7] = [
    EMAIL,
    PHONE_E164,
    CARD_DIGITS,
    SSN,
    NAME,
    "1 Main Street",
    "john@example.org",
];

#[tokio::test]
async fn no_plaintext_in_the_sqlite_files() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let bytes = sqlite_files(&s);
    assert!(bytes.len() > 10_000, "the database files were read");
    for v in SEEDED {
        assert!(!holds(&bytes, v), "{v} is in the database files");
    }
}

/// The bytes of every SQLite file of `s`'s database (the database, its log, its index).
fn sqlite_files(s: &TestServer) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&s.data_dir).expect("dir") {
        let p = entry.expect("entry").path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with("custodian.db") {
            bytes.extend(std::fs::read(&p).expect("read"));
        }
    }
    bytes
}

/// Crypto-shredding on SQLite leaves no copy of the destroyed key, nor of the sealed cells, in
/// the database file once the erasure is checkpointed: deleted rows are overwritten with
/// zeros (`secure_delete`), not left in the pages' free space.
#[tokio::test]
async fn an_erased_key_leaves_the_database_file() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    let (id, _) = seed(&s, &k).await;
    let key = s
        .store
        .subject_key("cus_1")
        .await
        .expect("key")
        .expect("some");
    let cells = s
        .store
        .get_record("customers", &id)
        .await
        .expect("get")
        .expect("some")
        .cells;
    let held = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let before = sqlite_files(&s);
    assert!(held(&before, &key.wrapped_dek), "the key is stored");
    assert!(cells.iter().all(|c| held(&before, &c.ciphertext)));
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::DELETE,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // The background checkpoint copies the erasure into the database file soon after.
    let db = s.data_dir.join("custodian.db");
    let gone = |bytes: &[u8]| {
        !held(bytes, &key.wrapped_dek) && cells.iter().all(|c| !held(bytes, &c.ciphertext))
    };
    let mut tries = 0;
    while !gone(&std::fs::read(&db).expect("db")) {
        tries += 1;
        assert!(
            tries < 100,
            "the erased key or a sealed cell is still in the database file"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn no_plaintext_in_the_postgres_tables() {
    let Some(base) = pg_url() else { return };
    let db = PgDb::create(&base).await;
    let s = TestServer::start_with(Options {
        database_url: Some(db.url.clone()),
        ..Options::default()
    })
    .await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let pool = sqlx::PgPool::connect(&db.url).await.expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    assert!(tables.iter().any(|t| t == "vault_cells"));
    let mut dump = Vec::new();
    for t in tables {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT row_to_json(t)::text FROM {t} t"
        )))
        .fetch_all(&pool)
        .await
        .expect("rows");
        for r in rows {
            dump.extend(r.into_bytes());
        }
    }
    assert!(dump.len() > 1_000);
    for v in SEEDED {
        assert!(!holds(&dump, v), "{v} is in a PostgreSQL table");
    }
}

fn cli(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
        .args(args)
        .env("CUSTODIAN_LOG", "warn")
        .output()
        .expect("run custodian");
    assert!(
        out.status.success(),
        "custodian {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A backup taken before an erasure, restored after it, does not bring the person back: the
/// restore re-applies the erasure ledger of the database it replaces.
#[tokio::test]
async fn restoring_a_backup_taken_before_an_erasure_keeps_the_subject_erased() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().expect("utf-8").to_owned();
    let backup = tmp.path().join("before-erasure.db");
    let ledger = tmp.path().join("erasures.jsonl");
    let options = || Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    };
    let s = TestServer::start_with(options()).await;
    let k = keys(&s).await;
    let (id, card_token) = seed(&s, &k).await;

    // Online backup while the server runs; then the DPO erases Jane.
    cli(&[
        "backup",
        "--data-dir",
        &dir_s,
        "--out",
        backup.to_str().expect("p"),
    ]);
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::DELETE,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    cli(&[
        "erasures",
        "export",
        "--data-dir",
        &dir_s,
        "--out",
        ledger.to_str().expect("p"),
    ]);
    let exported = std::fs::read_to_string(&ledger).expect("ledger");
    assert_eq!(exported.lines().count(), 1);
    assert!(exported.contains(r.json["pseudonym"].as_str().expect("p")));
    assert!(
        !exported.contains("cus_1"),
        "the ledger holds pseudonyms only"
    );

    // The backup itself still holds Jane's key: without the replay she would come back.
    let copy = tmp.path().join("inspect.db");
    std::fs::copy(&backup, &copy).expect("copy");
    let old = custodian_store_sqlite::SqliteStore::open_file(&copy)
        .await
        .expect("open backup");
    assert!(
        custodian_core::ports::Store::subject_key(&old, "cus_1")
            .await
            .expect("key")
            .is_some()
    );
    old.close().await;

    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let out = cli(&[
        "restore",
        "--data-dir",
        &dir_s,
        "--from",
        backup.to_str().expect("p"),
    ]);
    assert!(out.contains("1 subjects erased again"), "{out}");

    let s = TestServer::start_with(options()).await;
    let rec = format!("/v1/collections/customers/records/{id}");
    as_(&s, &k.dpo, Some("dsr"), Method::GET, &rec, Body::None)
        .await
        .assert_error(404, "record_not_found");
    as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_1",
        Body::None,
    )
    .await
    .assert_error(410, "subject_erased");
    let r = as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?email=jane.doe@example.com",
        Body::None,
    )
    .await;
    assert_eq!(r.json["records"], json!([]), "{r:?}");
    as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::POST,
        "/v1/detokenize",
        Body::Json(json!({"token": card_token})),
    )
    .await
    .assert_error(404, "token_not_found");
    // John, who was not erased, is back with the backup.
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_2",
        Body::None,
    )
    .await;
    assert_eq!(r.status, 200, "{r:?}");
    // Replaying again changes nothing; the log still verifies.
    let out = cli(&[
        "erasures",
        "replay",
        "--data-dir",
        &dir_s,
        "--ledger",
        ledger.to_str().expect("p"),
    ]);
    assert!(out.contains("0 subjects erased again"), "{out}");
    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(cli(&["audit", "verify", "--data-dir", &dir_s]).starts_with("ok: "));
}

/// `custodian keys rotate` while writes and reads run: nothing fails, every data key ends up
/// under the new KEK, and everything stays readable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kek_rotates_while_requests_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().expect("utf-8").to_owned();
    let s = std::sync::Arc::new(
        TestServer::start_with(Options {
            data_dir: Some(dir.clone()),
            ..Options::default()
        })
        .await,
    );
    let k = std::sync::Arc::new(keys(&s).await);
    let (id, _) = seed(&s, &k).await;
    let rec = format!("/v1/collections/customers/records/{id}");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (s, k, stop, rec) = (s.clone(), k.clone(), stop.clone(), rec.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                n += 1;
                let r = create(
                    &s,
                    &k,
                    &format!("cus_r{n}"),
                    json!({"email": format!("r{n}@example.com")}),
                )
                .await;
                statuses.push(r.status);
                let r = as_(
                    &s,
                    &k.support,
                    Some("support"),
                    Method::GET,
                    &rec,
                    Body::None,
                )
                .await;
                statuses.push(r.status);
            }
            (n, statuses)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let out = tokio::task::spawn_blocking(move || cli(&["keys", "rotate", "--data-dir", &dir_s]))
        .await
        .expect("join");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (n, statuses) = load.await.expect("load");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 201),
        "{statuses:?}"
    );
    let current = out
        .split("the current one is ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .expect("current KEK in the output")
        .to_owned();
    assert!(out.contains("every data key is wrapped by"), "{out}");
    // Keys made during the rotation may have been wrapped by the old KEK just before the
    // server saw the new one: a re-wrap pass settles them.
    let again = cli(&[
        "keys",
        "rotate",
        "--rewrap-only",
        "--data-dir",
        dir.to_str().expect("p"),
    ]);
    assert!(again.contains("every data key is wrapped by"), "{again}");
    let all = s.store.subject_keys(None, 10_000).await.expect("keys");
    assert_eq!(all.len() as u32, n + 2);
    assert!(all.iter().all(|k| k.kek_id == current), "{current}");
    for subject in ["cus_1", "cus_2", &format!("cus_r{n}")] {
        let r = as_(
            &s,
            &k.dpo,
            Some("dsr"),
            Method::GET,
            &format!("/v1/subjects/{subject}"),
            Body::None,
        )
        .await;
        assert_eq!(r.status, 200, "{subject}: {r:?}");
    }
    assert!(dir.read_dir().expect("dir").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("kek-retired-")
    }));
}

#[tokio::test]
async fn imports_report_refused_rows_by_line_and_store_the_rest() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let body = [
        r#"{"subject_id":"imp_a","fields":{"email":"a@example.com","phone":"+14155552671"}}"#,
        r#"{"subject_id":"imp_b","fields":{"email":"secret-not-an-email"}}"#,
        r#"{"subject_id":"imp_c","fields":{"email":"c@example.com","shoe":1}}"#,
        r#"{"subject_id":"imp_d","#,
        "",
        r#"{"subject_id":"imp_a","fields":{"email":"a2@example.com"}}"#,
    ]
    .join("\n");
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records:import",
            Some(&k.engineer),
            Body::Raw("application/x-ndjson", body.into_bytes()),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (&r.json["rows"], &r.json["imported"], &r.json["failed"]),
        (&json!(5), &json!(2), &json!(3)),
        "{r:?}"
    );
    let errors = r.json["errors"].as_array().expect("errors");
    let summary: Vec<(u64, &str, Value)> = errors
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().expect("row"),
                e["code"].as_str().expect("code"),
                e["field"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (2, "invalid_value", json!("email")),
            (3, "unknown_field", json!("shoe")),
            (4, "invalid_body", Value::Null),
        ]
    );
    assert!(!r.json.to_string().contains("secret-not-an-email"));
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/imp_a",
        Body::None,
    )
    .await;
    assert_eq!(r.json["records"].as_array().map(Vec::len), Some(2), "{r:?}");
    as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/imp_b",
        Body::None,
    )
    .await
    .assert_error(404, "subject_not_found");

    // Wrong media type; a CSV header naming an unknown field; a caller who may write nothing.
    s.call_with(
        Method::POST,
        "/v1/collections/customers/records:import",
        Some(&k.engineer),
        Body::Raw("text/plain", b"x".to_vec()),
        &[("custodian-purpose", "service_delivery")],
    )
    .await
    .assert_error(415, "unsupported_media_type");
    let r = s
        .call_with(
            Method::POST,
            "/v1/collections/customers/records:import",
            Some(&k.engineer),
            Body::Raw("text/csv", b"subject_id,shoe\ncus_x,42\n".to_vec()),
            &[("custodian-purpose", "service_delivery")],
        )
        .await;
    r.assert_error(422, "unknown_field");
    s.call_with(
        Method::POST,
        "/v1/collections/customers/records:import",
        Some(&k.support),
        Body::Raw(
            "text/csv",
            b"subject_id,email\ncus_x,x@example.com\n".to_vec(),
        ),
        &[("custodian-purpose", "support")],
    )
    .await
    .assert_error(403, "access_denied");
}

/// A deterministic token several subjects hold (one value, one token) is revealed through a
/// holder who has not restricted processing, whichever holds it first; once every holder has,
/// it is refused.
#[tokio::test]
async fn a_shared_token_is_revealed_through_a_holder_without_restriction() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    let r = as_(
        &s,
        &k.engineer,
        None,
        Method::PUT,
        "/v1/collections/contacts",
        Body::Json(
            json!({"fields": [{"name": "email", "type": "email", "category": "user.contact.email",
            "sensitivity": "medium", "tokenization": "deterministic"}]}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{r:?}");
    let mut tokens = Vec::new();
    for subject in ["p_x", "p_y"] {
        let r = as_(
            &s,
            &k.engineer,
            Some("service_delivery"),
            Method::POST,
            "/v1/collections/contacts/records",
            Body::Json(json!({"subject_id": subject, "fields": {"email": "shared@example.com"}})),
        )
        .await;
        assert_eq!(r.status, 201, "{r:?}");
        tokens.push(
            r.json["tokens"]["email"]
                .as_str()
                .expect("token")
                .to_owned(),
        );
    }
    assert_eq!(tokens[0], tokens[1], "one value, one token");
    let detokenize = || {
        as_(
            &s,
            &k.support,
            Some("support"),
            Method::POST,
            "/v1/detokenize",
            Body::Json(json!({"token": tokens[0]})),
        )
    };
    let restrict = |subject: &str| {
        let (s, key, path) = (
            &s,
            k.dpo.clone(),
            format!("/v1/subjects/{subject}/restriction"),
        );
        async move { as_(s, &key, None, Method::PUT, &path, Body::None).await }
    };
    for subject in ["p_x", "p_y"] {
        let r = restrict(subject).await;
        assert_eq!(r.status, 200, "{r:?}");
        let r = detokenize().await;
        if subject == "p_x" {
            assert_eq!(r.status, 200, "p_y has not restricted it: {r:?}");
            assert_eq!(r.json["value"], "shared@example.com");
            assert_eq!(r.json["subject_id"], "p_y");
        } else {
            r.assert_error(403, "processing_restricted");
        }
    }
}

/// CSV as spreadsheets and Python's csv module write it: a byte-order mark, spaces after the
/// header's commas, quoted cells holding line breaks (which do not end the row: a line inside
/// one is never a record of its own), JSON text for a postal address; rows are reported by
/// the line they start on. An empty CSV is refused, and a row writing a field the caller may
/// not write is refused and audited.
#[tokio::test]
async fn csv_imports_follow_rfc_4180_and_audit_refused_fields() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let import = |body: &str| {
        let (s, key, body) = (&s, k.engineer.clone(), body.as_bytes().to_vec());
        async move {
            s.call_with(
                Method::POST,
                "/v1/collections/customers/records:import",
                Some(&key),
                Body::Raw("text/csv", body),
                &[("custodian-purpose", "service_delivery")],
            )
            .await
        }
    };
    let body = "\u{FEFF}subject_id, email ,name,address\r\n\
        cus_m1,m1@example.com,\"Call back.\r\ncus_evil,evil@example.com,x,\r\nthanks\",\r\n\
        cus_m2,not-an-email,Jo,\r\n\
        cus_m3,m3@example.com,\"Doe, \"\"JD\"\"\",\"{\"\"lines\"\":[\"\"1 Main St\"\"],\"\"city\"\":\"\"Springfield\"\",\"\"country\"\":\"\"US\"\"}\"\r\n";
    let r = import(body).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        (&r.json["rows"], &r.json["imported"], &r.json["failed"]),
        (&json!(3), &json!(2), &json!(1)),
        "{r:?}"
    );
    assert_eq!(r.json["errors"][0]["row"], 5, "the line the row starts on");
    assert_eq!(r.json["errors"][0]["field"], "email");
    as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_evil",
        Body::None,
    )
    .await
    .assert_error(404, "subject_not_found");
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_m1",
        Body::None,
    )
    .await;
    assert_eq!(
        r.json["records"][0]["fields"]["name"],
        "Call back.\r\ncus_evil,evil@example.com,x,\r\nthanks",
        "{r:?}"
    );
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_m3",
        Body::None,
    )
    .await;
    let fields = &r.json["records"][0]["fields"];
    assert_eq!(fields["name"], "Doe, \"JD\"", "{r:?}");
    assert_eq!(fields["address"]["city"], "Springfield", "{r:?}");

    // Nothing but a byte-order mark and blank lines: no header, refused.
    import("\u{FEFF}\r\n\r\n")
        .await
        .assert_error(422, "invalid_body");

    // Engineers may no longer write special categories: a row with an SSN is refused, and
    // the refusal is in the audit log, as a single create's would be.
    let current = s.get("/v1/policies").await;
    let text = format!(
        "{}\n@id(\"no-special-writes\")\nforbid (principal, action == Custodian::Action::\"data.write\", resource)\nwhen {{ resource.sensitivity == \"special\" }};\n",
        current.json["text"].as_str().expect("policies")
    );
    let r = s
        .call(
            Method::PUT,
            "/v1/policies",
            Some(&s.admin_key),
            Body::Json(json!({ "text": text })),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let before = s.audit_size().await;
    let r =
        import("subject_id,email,ssn\ncus_s1,s1@example.com,078-05-1120\ncus_s2,s2@example.com,\n")
            .await;
    assert_eq!(
        (&r.json["imported"], &r.json["failed"]),
        (&json!(1), &json!(1)),
        "{r:?}"
    );
    assert_eq!(r.json["errors"][0]["code"], "access_denied", "{r:?}");
    assert_eq!(r.json["errors"][0]["row"], 2);
    let events = s.store.audit_events(before, 100).await.expect("events");
    let denied: Vec<_> = events
        .iter()
        .filter(|e| e.draft.decision.as_str() == "deny")
        .collect();
    assert_eq!(denied.len(), 1, "{events:?}");
    assert_eq!(denied[0].draft.action, "data.write");
    assert_eq!(denied[0].draft.fields, ["ssn"]);
    assert!(
        denied[0]
            .draft
            .subject
            .as_deref()
            .is_some_and(|p| !p.contains("cus_s1"))
    );
    assert!(!format!("{events:?}").contains("078-05-1120"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_import_command_streams_a_csv_file() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    seed(&s, &k).await;
    let tmp = tempfile::tempdir().expect("tmp");
    let csv = tmp.path().join("customers.csv");
    let mut text = String::from("subject_id,email,phone,name\n");
    for i in 0..3000 {
        if i == 1234 {
            text.push_str("cus_bad,not-an-email,,\n");
        } else {
            text.push_str(&format!(
                "cus_{i},user{i}@example.com,+1415555{:04},\"Doe, Jane {i}\"\n",
                i % 10_000
            ));
        }
    }
    std::fs::write(&csv, text).expect("write");
    let key_file = tmp.path().join("eng.key");
    std::fs::write(&key_file, &k.engineer).expect("key");
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
            .args([
                "import",
                csv.to_str().expect("p"),
                "--collection",
                "customers",
                "--server",
                &base,
                "--key-file",
                key_file.to_str().expect("p"),
                "--purpose",
                "service_delivery",
            ])
            .output()
            .expect("run")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !out.status.success(),
        "a refused row makes the exit status 1"
    );
    assert!(
        stdout.contains("3000 rows: 2999 imported, 1 refused"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("line 1236"), "{stdout}");

    // From a pipe (no length to measure progress against): bytes only; a directory: refused.
    let (base, key_path) = (s.base.clone(), tmp.path().join("eng.key"));
    let dir = tmp.path().to_path_buf();
    let (piped, on_dir) = tokio::task::spawn_blocking(move || {
        use std::io::Write as _;
        let run = |file: &str, stdin: std::process::Stdio| {
            std::process::Command::new(env!("CARGO_BIN_EXE_custodian"))
                .args([
                    "import",
                    file,
                    "--collection",
                    "customers",
                    "--server",
                    &base,
                ])
                .args([
                    "--key-file",
                    key_path.to_str().expect("p"),
                    "--format",
                    "csv",
                ])
                .args(["--purpose", "service_delivery"])
                .stdin(stdin)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run")
        };
        let mut child = run("/dev/stdin", std::process::Stdio::piped());
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(b"subject_id,email\ncus_p1,p1@example.com\ncus_p2,p2@example.com\n")
            .expect("write");
        drop(stdin);
        let piped = child.wait_with_output().expect("wait");
        let on_dir = run(dir.to_str().expect("p"), std::process::Stdio::null())
            .wait_with_output()
            .expect("wait");
        (piped, on_dir)
    })
    .await
    .expect("join");
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&piped.stdout).contains("2 rows: 2 imported"),
        "{piped:?}"
    );
    assert!(
        !stderr.contains('%'),
        "no percentage of an unknown length: {stderr}"
    );
    assert!(!on_dir.status.success());
    assert!(
        String::from_utf8_lossy(&on_dir.stderr).contains("is a directory"),
        "{on_dir:?}"
    );
    let r = as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        "/v1/collections/customers/records?email=user2999@example.com",
        Body::None,
    )
    .await;
    assert_eq!(r.json["records"][0]["subject_id"], "cus_2999", "{r:?}");
    assert_eq!(r.json["records"][0]["fields"]["name"], "D. J. 2.", "{r:?}");
}

/// A subject's data key rotates: cells and tokens are re-sealed under the new version and
/// everything still opens; the job form rotates every subject while the server runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_rotate_per_subject_and_everything_still_opens() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let s = TestServer::start_with(Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    })
    .await;
    let k = keys(&s).await;
    let (id, card_token) = seed(&s, &k).await;
    let before = s
        .store
        .get_record("customers", &id)
        .await
        .expect("get")
        .expect("some");
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::POST,
        "/v1/subjects/cus_1/key:rotate",
        Body::None,
    )
    .await;
    assert_eq!(
        (r.status, r.json["key_version"].clone()),
        (200, json!(2)),
        "{r:?}"
    );
    let after = s
        .store
        .get_record("customers", &id)
        .await
        .expect("get")
        .expect("some");
    assert_eq!(after.key_version, 2);
    assert!(
        before
            .cells
            .iter()
            .zip(&after.cells)
            .all(|(a, b)| a.ciphertext != b.ciphertext),
        "every cell was re-sealed"
    );
    let rec = format!("/v1/collections/customers/records/{id}");
    let r = as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await;
    assert_eq!(r.json["fields"]["email"], EMAIL, "{r:?}");
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::POST,
        "/v1/detokenize",
        Body::Json(json!({"token": card_token})),
    )
    .await;
    assert_eq!(r.json["value"], CARD_DIGITS, "{r:?}");
    as_(
        &s,
        &k.support,
        Some("support"),
        Method::POST,
        "/v1/subjects/cus_1/key:rotate",
        Body::None,
    )
    .await
    .assert_error(403, "access_denied");
    as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::POST,
        "/v1/subjects/nobody/key:rotate",
        Body::None,
    )
    .await
    .assert_error(404, "subject_not_found");

    // A rights request seals its requester under a key of its own (`requester:<id>`): not a
    // vault subject, which the vault refuses to rotate, erase or write, and the job leaves.
    let r = s
        .call(
            Method::POST,
            "/v1/rights/requests",
            Some(&k.dpo),
            Body::Json(json!({"type": "access", "jurisdiction": "GDPR",
                              "requester": {"email": "ada@example.com"}})),
        )
        .await;
    assert_eq!(r.status, 201, "{r:?}");
    let request = r.json["id"].as_str().expect("id").to_owned();
    let requester = format!("/v1/subjects/requester:{request}");
    for (method, path, body) in [
        (Method::POST, format!("{requester}/key:rotate"), Body::None),
        (Method::DELETE, requester.clone(), Body::None),
        (Method::GET, requester.clone(), Body::None),
        (
            Method::POST,
            "/v1/collections/customers/records".to_owned(),
            Body::Json(json!({"subject_id": format!("requester:{request}"),
                              "fields": {"email": "eve@example.com"}})),
        ),
    ] {
        as_(&s, &k.dpo, Some("dsr"), method, &path, body)
            .await
            .assert_error(422, "invalid_subject_id");
    }

    // The job: every subject, while the server runs.
    let dir_s = dir.to_str().expect("utf-8").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        cli(&["keys", "rotate-data-keys", "--data-dir", &dir_s])
    })
    .await
    .expect("join");
    assert!(out.contains("2 subjects have a new data key"), "{out}");
    let versions: Vec<(String, u32)> = s
        .store
        .subject_keys(None, 10)
        .await
        .expect("keys")
        .iter()
        .map(|k| (k.subject_id.clone(), k.key_version))
        .collect();
    assert_eq!(
        versions,
        [
            ("cus_1".to_owned(), 3),
            ("cus_2".to_owned(), 2),
            (format!("requester:{request}"), 1)
        ]
    );
    let who = s
        .call(
            Method::GET,
            &format!("/v1/rights/requests/{request}/requester"),
            Some(&k.dpo),
            Body::None,
        )
        .await;
    assert_eq!(
        (who.status, who.json["email"].clone()),
        (200, json!("ada@example.com")),
        "the requester still opens: {who:?}"
    );
    let r = as_(
        &s,
        &k.dpo,
        Some("dsr"),
        Method::GET,
        "/v1/subjects/cus_2",
        Body::None,
    )
    .await;
    assert_eq!(
        r.json["records"][0]["fields"]["email"], "john@example.org",
        "{r:?}"
    );
    let r = as_(
        &s,
        &k.support,
        Some("support"),
        Method::GET,
        &rec,
        Body::None,
    )
    .await;
    assert_eq!(r.json["fields"]["email"], EMAIL, "{r:?}");
}

#[tokio::test]
async fn erasure_with_no_collection_declared_is_refused() {
    let s = TestServer::start().await;
    let k = keys(&s).await;
    for (method, path) in [
        (Method::DELETE, "/v1/subjects/cus_1"),
        (Method::POST, "/v1/subjects/cus_1/key:rotate"),
    ] {
        as_(&s, &k.dpo, Some("dsr"), method, path, Body::None)
            .await
            .assert_error(403, "access_denied");
    }
}

/// A subject's later records are sealed under the key its first record stored, also when the
/// server writing them has never seen the subject (its key hints are empty: another server
/// over the same database, or the same one after a restart). That server writes with a new key
/// first, the store refuses it, and the write is retried with the stored key.
async fn later_records_keep_the_first_key(s: &TestServer, k: &Keys, first: &str) {
    let r = create(s, k, "cus_1", json!({"email": "jane.two@example.com"})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let second = r.json["id"].as_str().expect("id").to_owned();
    let key = s
        .store
        .subject_key("cus_1")
        .await
        .expect("key")
        .expect("some");
    assert_eq!(key.key_version, 1, "the first record's key stays");
    for (id, email) in [(first, EMAIL), (second.as_str(), "jane.two@example.com")] {
        let r = as_(
            s,
            &k.dpo,
            Some("dsr"),
            Method::GET,
            &format!("/v1/collections/customers/records/{id}"),
            Body::None,
        )
        .await;
        assert_eq!(
            (r.status, r.json["fields"]["email"].as_str()),
            (200, Some(email)),
            "{r:?}"
        );
    }
    // The server has learnt the subject: a third record goes straight to its key.
    let r = create(s, k, "cus_1", json!({"email": "jane.three@example.com"})).await;
    assert_eq!(r.status, 201, "{r:?}");
    // A subject nobody has seen gets a key of its own at once.
    let r = create(s, k, "cus_new", json!({"email": "new@example.com"})).await;
    assert_eq!(r.status, 201, "{r:?}");
    let new_key = s
        .store
        .subject_key("cus_new")
        .await
        .expect("key")
        .expect("some");
    assert_ne!(new_key.wrapped_dek, key.wrapped_dek);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_writes_known_subjects_under_their_key() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("data");
    let opts = || Options {
        data_dir: Some(dir.clone()),
        ..Options::default()
    };
    let s = TestServer::start_with(opts()).await;
    let k = keys(&s).await;
    let (first, _) = seed(&s, &k).await;
    drop(s);
    let s = TestServer::start_with(opts()).await;
    later_records_keep_the_first_key(&s, &k, &first).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_writes_known_subjects_under_their_key() {
    let Some((_db, a, b)) = TestServer::two_over_postgres().await else {
        return;
    };
    let k = keys(&a).await;
    let (first, _) = seed(&a, &k).await;
    later_records_keep_the_first_key(&b, &k, &first).await;
}
