use serde_json::{Value, json};

use super::check::{PurposeFacts, Severity, evaluate, parse_policy};
use super::*;

fn doc() -> Value {
    json!({
        "organization": [{
            "fides_key": "acme",
            "name": "Acme Ltd",
            "controller": {"name": "Acme Ltd", "address": "1 Main St, Dublin", "email": "privacy@acme.test"},
            "data_protection_officer": {"name": "Dana Officer", "email": "dpo@acme.test"},
            "security_policy": "https://acme.test/security"
        }],
        "data_category": [{
            "fides_key": "user.contact.loyalty_card",
            "parent_key": "user.contact",
            "name": "Loyalty card number"
        }],
        "system": [{
            "fides_key": "crm",
            "name": "CRM",
            "system_type": "Service",
            "responsibility": ["Controller"],
            "data_security_practices": "Encryption at rest; SSO",
            "custodian": {
                "owner": "Sales ops",
                "processors": ["Mailer Inc"],
                "transfers": [
                    {"destination": "US", "mechanism": "sccs", "recipient": "Mailer Inc"},
                    {"destination": "IN"},
                    {"destination": "FR"}
                ]
            },
            "privacy_declarations": [{
                "name": "Newsletters",
                "data_use": "marketing.communications.email",
                "data_categories": ["user.contact.email", "user.contact.loyalty_card"],
                "data_subjects": ["customer"],
                "legal_basis_for_processing": "Consent"
            }, {
                "name": "Health offers",
                "data_use": "marketing.advertising",
                "data_categories": ["user.health_and_medical"],
                "data_subjects": ["customer"]
            }]
        }, {
            "fides_key": "mailer",
            "name": "Mailer",
            "system_type": "Third Party",
            "legal_name": "Mailer Inc",
            "responsibility": ["Processor"],
            "custodian": {"controllers": ["Acme Ltd"]},
            "privacy_declarations": [{
                "data_use": "marketing.communications.email",
                "data_categories": ["user.contact.email"]
            }]
        }],
        "dataset": [{
            "fides_key": "shop",
            "collections": [{
                "name": "customers",
                "fields": [
                    {"name": "id", "fides_meta": {"primary_key": true}},
                    {"name": "email", "data_categories": ["user.contact.email"], "fides_meta": {"identity": "email"}},
                    {"name": "notes"}
                ]
            }]
        }],
        "retention_rule": [{
            "key": "emails",
            "data_categories": ["user.contact"],
            "period": "P2Y",
            "trigger": "last_activity",
            "action": "anonymize"
        }]
    })
}

#[test]
fn a_fides_document_is_read_with_its_extensions() {
    let d = read_document(&doc(), &DataMap::default()).unwrap();
    assert_eq!(d.entries.len(), 5);
    assert_eq!(d.datasets.len(), 1);
    let crm = d.map.systems.iter().find(|s| s.key == "crm").unwrap();
    assert_eq!(crm.owner.as_deref(), Some("Sales ops"));
    assert_eq!(crm.transfers[0].mechanism, Some(Mechanism::Sccs));
    assert_eq!(crm.declarations[0].legal_basis, Some(LegalBasis::Consent));
    assert!(
        d.map
            .taxonomy
            .contains(Kind::DataCategory, "user.contact.loyalty_card")
    );
    assert_eq!(
        d.map
            .taxonomy
            .name(Kind::DataCategory, "user.contact.loyalty_card")
            .as_deref(),
        Some("Loyalty card number")
    );
    assert!(
        d.map
            .systems
            .iter()
            .any(|s| s.key == "mailer" && s.is_processor())
    );
}

#[test]
fn stored_entries_load_back_into_the_same_map() {
    let d = read_document(&doc(), &DataMap::default()).unwrap();
    let t = jiff::Timestamp::UNIX_EPOCH;
    let entries: Vec<MapEntry> = d
        .entries
        .iter()
        .map(|(kind, key, v)| MapEntry {
            kind: *kind,
            key: key.clone(),
            body: v.to_string(),
            version: 1,
            created_at: t,
            updated_at: t,
        })
        .collect();
    let datasets: Vec<dataset::StoredDataset> = d
        .datasets
        .iter()
        .map(|(k, v)| dataset::StoredDataset {
            key: k.clone(),
            declaration: v.to_string(),
            version: 1,
            created_at: t,
            updated_at: t,
        })
        .collect();
    let again = document_of(&entries, &datasets);
    assert_eq!(again, doc());
    let m = load(&entries, &datasets).unwrap();
    assert_eq!(m.systems, d.map.systems);
    assert_eq!(m.retention_rules.len(), 1);
}

#[test]
fn bad_documents_name_the_path_and_rule() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "$", "must be an object"),
        (json!({"systems": []}), "$.systems", "unknown key"),
        (
            json!({"policy": [{}]}),
            "$.policy",
            "Fides policies are not imported: checks are written for `custodian map check`",
        ),
        (
            json!({"system": [{"name": "x"}]}),
            "system[0].fides_key",
            "required",
        ),
        (
            json!({"system": [{"fides_key": "a b"}]}),
            "system[0].fides_key",
            "key",
        ),
        (
            json!({"system": [{"fides_key": "a", "privacy_declarations": [{"data_use": "marketing.nope", "data_categories": []}]}]}),
            "system[0].privacy_declarations[0].data_use",
            "taxonomy_key",
        ),
        (
            json!({"system": [{"fides_key": "a", "privacy_declarations": [{"data_use": "marketing", "data_categories": ["user.nope"]}]}]}),
            "system[0].privacy_declarations[0].data_categories[0]",
            "taxonomy_key",
        ),
        (
            json!({"system": [{"fides_key": "a", "privacy_declarations": [{"data_use": "marketing", "legal_basis_for_processing": "Because"}]}]}),
            "system[0].privacy_declarations[0].legal_basis_for_processing",
            "legal basis",
        ),
        (
            json!({"system": [{"fides_key": "a", "custodian": {"transfers": [{"destination": "usa"}]}}]}),
            "system[0].custodian.transfers[0].destination",
            "ISO 3166-1 alpha-2 code",
        ),
        (
            json!({"system": [{"fides_key": "a", "custodian": {"transfers": [{"destination": "US", "mechanism": "trust"}]}}]}),
            "system[0].custodian.transfers[0].mechanism",
            "adequacy, sccs, bcrs or derogation",
        ),
        (
            json!({"system": [{"fides_key": "a", "responsibility": ["Owner"]}]}),
            "system[0].responsibility[0]",
            "Controller, Processor or Sub-Processor",
        ),
        (
            json!({"system": [{"fides_key": "a"}, {"fides_key": "a"}]}),
            "system[1].fides_key",
            "the key is listed twice",
        ),
        (
            json!({"data_category": [{"fides_key": "user.x.y", "parent_key": "user.x"}]}),
            "data_category[0].parent_key",
            "unknown parent",
        ),
        (
            json!({"data_category": [{"fides_key": "user.x", "parent_key": "system"}]}),
            "data_category[0].parent_key",
            "the parent is the key without its last part",
        ),
        (
            json!({"organization": [{"fides_key": "o", "controller": {"name": "n\u{0}"}}]}),
            "organization[0].controller.name",
            "control characters",
        ),
        (
            json!({"dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [{"name": "f", "data_categories": ["user.nope"]}]}]}]}),
            "dataset[0].collections[0].fields[0].data_categories[0]",
            "taxonomy_key",
        ),
        (
            json!({"retention_rule": [{"key": "r", "data_categories": ["user.nope"], "period": "P1Y", "trigger": "record_creation", "action": "delete"}]}),
            "retention_rule[0].data_categories[0]",
            "unknown data category",
        ),
    ];
    for (v, path, rule) in cases {
        let e = read_document(&v, &DataMap::default()).unwrap_err();
        assert_eq!((e.path.as_str(), e.rule), (path, rule), "{v}");
    }
}

#[test]
fn an_added_category_can_be_used_by_a_dataset_in_the_same_document() {
    let v = json!({
        "data_category": [{"fides_key": "user.contact.loyalty_card", "parent_key": "user.contact"}],
        "dataset": [{"fides_key": "d", "collections": [{"name": "t", "fields": [
            {"name": "card", "data_categories": ["user.contact.loyalty_card"]}]}]}]
    });
    read_document(&v, &DataMap::default()).unwrap();
    // The shipped taxonomy is not replaced: a shipped key is accepted and not stored.
    let v = json!({"data_category": [{"fides_key": "user.contact.email", "parent_key": "user.contact", "is_default": true}]});
    assert!(
        read_document(&v, &DataMap::default())
            .unwrap()
            .entries
            .is_empty()
    );
}

#[test]
fn the_records_of_processing_follow_article_30() {
    let m = read_document(&doc(), &DataMap::default()).unwrap().map;
    let r = ropa::build(&m);
    assert_eq!(r.activities.len(), 2);
    let a = &r.activities[0];
    assert_eq!(a.system, "crm");
    assert_eq!(a.purpose, "marketing.communications.email");
    assert_eq!(a.legal_basis.as_deref(), Some("Consent"));
    assert_eq!(a.data_subjects, ["customer"]);
    assert_eq!(a.recipients, ["Mailer Inc (processor)"]);
    assert_eq!(
        a.transfers,
        [
            "US to Mailer Inc (sccs)",
            "IN (no mechanism declared)",
            "FR (no mechanism declared)"
        ]
    );
    assert_eq!(
        a.retention,
        [
            "user.contact.email: P2Y after last activity, then anonymize (rule emails)",
            "user.contact.loyalty_card: P2Y after last activity, then anonymize (rule emails)"
        ]
    );
    assert_eq!(
        r.activities[1].retention,
        ["user.health_and_medical: no retention rule"]
    );
    assert_eq!(r.processor_activities.len(), 1);
    assert_eq!(r.processor_activities[0].processor, "Mailer Inc");
    assert_eq!(r.processor_activities[0].controllers, ["Acme Ltd"]);
    assert_eq!(
        ropa::controller_line(&r),
        "Acme Ltd, 1 Main St, Dublin, privacy@acme.test"
    );
    let csv = ropa::csv(&r);
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("record,controller,system,activity,purpose,"));
    assert!(csv.contains("processor,Acme Ltd,mailer,Mailer Inc,marketing.communications.email"));
    let html = ropa::html_page(&r, "2026-01-01");
    assert!(html.contains("<td>Dana Officer, dpo@acme.test</td>"));
    assert!(html.contains("<h2>As a processor (Art. 30(2))</h2>"));
}

#[test]
fn html_and_csv_do_not_let_map_text_become_markup_or_formulas() {
    let v = json!({"system": [{"fides_key": "x", "name": "<script>alert(1)</script>",
        "privacy_declarations": [{"name": "=HYPERLINK(\"http://e\")", "data_use": "marketing", "data_categories": []}]}]});
    let r = ropa::build(&read_document(&v, &DataMap::default()).unwrap().map);
    let html = ropa::html_page(&r, "now");
    assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
    assert!(ropa::csv(&r).contains("\"'=HYPERLINK(\"\"http://e\"\")\""));
}

fn policy() -> Value {
    json!({"rules": [
        {"id": "no-special-for-marketing", "check": "forbid", "data_categories": ["special"], "data_uses": ["marketing"]},
        {"id": "transfers", "check": "transfers_have_mechanism"},
        {"id": "fields", "check": "dataset_fields_categorized"},
        {"id": "notices", "check": "consent_uses_have_published_notice"},
        {"id": "retention", "check": "categories_have_retention", "severity": "warning"},
        {"id": "basis", "check": "declarations_have_legal_basis"},
        {"id": "art9", "check": "special_categories_have_condition", "message": "ask legal"}
    ]})
}

#[test]
fn a_policy_finds_each_planted_violation_where_it_is() {
    let m = read_document(&doc(), &DataMap::default()).unwrap().map;
    let p = parse_policy(&policy()).unwrap();
    let purposes = [PurposeFacts {
        key: "newsletter".into(),
        data_uses: vec!["marketing.communications".into()],
        published_notice: false,
    }];
    let r = evaluate(&p, &m, Some(&purposes), None);
    let found: Vec<(&str, &str, &str)> = r
        .violations
        .iter()
        .map(|v| (v.rule.as_str(), v.entry.as_str(), v.path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "no-special-for-marketing",
                "system:crm",
                "privacy_declarations[1]"
            ),
            ("transfers", "system:crm", "custodian.transfers[1]"),
            ("fields", "dataset:shop", "customers.notes"),
            ("notices", "system:crm", "privacy_declarations[0]"),
            ("retention", "system:crm", "privacy_declarations[1]"),
            ("basis", "system:crm", "privacy_declarations[1]"),
            ("art9", "system:crm", "privacy_declarations[1]"),
        ]
    );
    assert_eq!(
        r.violations[0].detail,
        "uses user.health_and_medical for marketing.advertising, which the policy forbids"
    );
    assert_eq!(
        r.violations[3].detail,
        "no published notice for purpose newsletter"
    );
    assert_eq!(
        r.violations[6].detail,
        "special-category data without an Art. 9(2) condition (ask legal)"
    );
    assert_eq!(r.violations[4].severity, Severity::Warning);
    assert!(r.failed());
    // Without purposes the consent rule is skipped, not passed.
    let r = evaluate(&p, &m, None, None);
    assert_eq!(r.skipped.len(), 1);
    assert!(r.violations.iter().all(|v| v.rule != "notices"));
}

#[test]
fn a_clean_map_passes_and_transfer_mechanisms_are_judged() {
    let v = json!({"system": [{"fides_key": "s", "custodian": {"transfers": [
        {"destination": "GB", "mechanism": "adequacy"},
        {"destination": "BR", "mechanism": "adequacy"},
        {"destination": "SG", "mechanism": "derogation"},
        {"destination": "SG", "mechanism": "derogation", "safeguards": "explicit consent, documented"},
        {"destination": "NO"}
    ]}}]});
    let m = read_document(&v, &DataMap::default()).unwrap().map;
    let p = parse_policy(&json!({"rules": [{"id": "t", "check": "transfers_have_mechanism"}]}))
        .unwrap();
    let r = evaluate(&p, &m, Some(&[]), None);
    let paths: Vec<&str> = r.violations.iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, ["custodian.transfers[1]", "custodian.transfers[2]"]);
    let p = parse_policy(&json!({"rules": [{"id": "t", "check": "transfers_have_mechanism", "adequate_countries": ["BR"]}]})).unwrap();
    assert_eq!(evaluate(&p, &m, None, None).violations.len(), 2);
    let empty = evaluate(&p, &DataMap::default(), None, None);
    assert!(!empty.failed());
}

#[test]
fn requires_dpia_names_the_declarations_no_approved_dpia_covers() {
    let v = json!({"system": [
        {"fides_key": "app", "privacy_declarations": [
            {"data_use": "essential.service", "data_categories": ["user.health_and_medical"]},
            {"data_use": "analytics", "data_categories": ["user.contact.email"]}
        ]},
        {"fides_key": "crm", "privacy_declarations": [
            {"data_use": "essential.service", "data_categories": ["user.biometric.fingerprint"]}
        ]}
    ]});
    let m = read_document(&v, &DataMap::default()).unwrap().map;
    let p = parse_policy(&json!({"rules": [
        {"id": "d", "check": "requires_dpia", "data_categories": ["special"]}
    ]}))
    .unwrap();
    let none = |_: &str, _: &str| false;
    let r = evaluate(&p, &m, None, Some(&none));
    let at: Vec<(&str, &str)> = r
        .violations
        .iter()
        .map(|v| (v.entry.as_str(), v.path.as_str()))
        .collect();
    assert_eq!(
        at,
        [
            ("system:app", "privacy_declarations[0]"),
            ("system:crm", "privacy_declarations[0]")
        ]
    );
    let app_only = |s: &str, u: &str| s == "app" && u == "essential.service";
    assert_eq!(evaluate(&p, &m, None, Some(&app_only)).violations.len(), 1);
    // Without the register the rule is skipped, not passed.
    let r = evaluate(&p, &m, None, None);
    assert!(r.violations.is_empty());
    assert_eq!(r.skipped.len(), 1);
    assert!(parse_policy(&json!({"rules": [{"id": "d", "check": "requires_dpia"}]})).is_err());
}

#[test]
fn bad_policies_are_refused_with_the_path() {
    let cases = [
        (json!({}), "$.rules", "at least one rule"),
        (
            json!({"rules": [{"check": "forbid"}]}),
            "$.rules[0].id",
            "required: a key",
        ),
        (
            json!({"rules": [{"id": "a", "check": "vibes"}]}),
            "$.rules[0].check",
            "unknown check",
        ),
        (
            json!({"rules": [{"id": "a", "check": "forbid"}]}),
            "$.rules[0]",
            "forbid needs categories, uses or subjects",
        ),
        (
            json!({"rules": [{"id": "a", "check": "forbid", "data_uses": ["nope"]}]}),
            "$.rules[0].data_uses[0]",
            "taxonomy_key",
        ),
        (
            json!({"rules": [{"id": "a", "check": "dataset_fields_categorized", "data_uses": []}]}),
            "$.rules[0].data_uses",
            "unknown key",
        ),
        (
            json!({"rules": [{"id": "a", "check": "dataset_fields_categorized", "severity": "fatal"}]}),
            "$.rules[0].severity",
            "error or warning",
        ),
        (
            json!({"rules": [{"id": "a", "check": "dataset_fields_categorized"}, {"id": "a", "check": "dataset_fields_categorized"}]}),
            "$.rules[1].id",
            "the id is used twice",
        ),
    ];
    for (v, path, rule) in cases {
        let e = parse_policy(&v).unwrap_err();
        assert_eq!((e.path.as_str(), e.rule), (path, rule), "{v}");
    }
}
