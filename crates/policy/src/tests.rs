use custodian_core::Timestamp;
use custodian_core::access::{AccessRequest, Action, Principal, Resource};
use custodian_core::operator::Role;

use super::*;

fn engine() -> CedarEngine {
    CedarEngine::new(DEFAULT_POLICIES, 1).expect("default policies load")
}

fn field(category: &str, sensitivity: &str) -> Resource {
    Resource::Field {
        collection: "customers".into(),
        field: "f".into(),
        category: category.into(),
        sensitivity: sensitivity.into(),
    }
}

/// One table-driven check: role, training, action, resource, purpose, expected decision.
fn check(role: Role, trained: bool, action: Action, resource: Resource, purpose: &str, want: bool) {
    let req = AccessRequest {
        principal: Principal {
            operator_id: "op-1".into(),
            role,
            training_current: trained,
        },
        action,
        resource: resource.clone(),
        purpose: (!purpose.is_empty()).then(|| purpose.to_owned()),
        time: Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH),
    };
    let d = engine().decide(&req);
    assert!(d.errors.is_empty(), "errors: {:?}", d.errors);
    assert_eq!(
        d.allowed, want,
        "{role} {action} {resource:?} purpose={purpose:?}: {d:?}"
    );
}

#[test]
fn default_policies_grant_installation_actions_by_role() {
    use Action::*;
    for a in [
        OperatorRead,
        OperatorWrite,
        PolicyRead,
        PolicyWrite,
        PolicyExplain,
        AuditRead,
    ] {
        let res = match a {
            OperatorRead | OperatorWrite => Resource::Operators,
            AuditRead => Resource::AuditLog,
            _ => Resource::PolicySet,
        };
        check(Role::Admin, false, a, res.clone(), "", true);
        check(Role::Support, false, a, res.clone(), "", false);
        check(Role::Marketing, false, a, res.clone(), "", false);
        check(Role::Engineer, false, a, res.clone(), "", false);
        check(Role::Dpo, false, a, res.clone(), "", a != OperatorWrite);
        check(
            Role::Auditor,
            false,
            a,
            res,
            "",
            matches!(a, AuditRead | PolicyRead | PolicyExplain),
        );
    }
}

#[test]
fn data_access_depends_on_purpose_category_and_training() {
    let email = field("user.contact.email", "medium");
    check(
        Role::Support,
        false,
        Action::DataReveal,
        email.clone(),
        "support",
        true,
    );
    check(
        Role::Support,
        false,
        Action::DataReveal,
        email.clone(),
        "marketing",
        false,
    );
    check(
        Role::Support,
        false,
        Action::DataReveal,
        email.clone(),
        "",
        false,
    );
    check(
        Role::Support,
        false,
        Action::DataMask,
        field("user.financial.bank_account", "high"),
        "support",
        true,
    );
    check(
        Role::Support,
        false,
        Action::DataReveal,
        field("user.financial.bank_account", "high"),
        "support",
        false,
    );
    check(
        Role::Marketing,
        false,
        Action::DataReveal,
        email.clone(),
        "marketing",
        true,
    );
    check(
        Role::Marketing,
        true,
        Action::DataReveal,
        field("user.contact.email", "special"),
        "marketing",
        false,
    );
    let health = field("user.health_and_medical", "special");
    check(
        Role::Dpo,
        false,
        Action::DataReveal,
        health.clone(),
        "dsr",
        false,
    );
    check(
        Role::Dpo,
        true,
        Action::DataReveal,
        health.clone(),
        "dsr",
        true,
    );
    check(Role::Dpo, true, Action::DataDelete, health, "dsr", true);
    check(
        Role::Admin,
        true,
        Action::DataReveal,
        email,
        "support",
        false,
    );
}

#[test]
fn explain_names_the_determining_policies() {
    let req = AccessRequest {
        principal: Principal {
            operator_id: "op".into(),
            role: Role::Marketing,
            training_current: true,
        },
        action: Action::DataReveal,
        resource: field("user.contact.email", "special"),
        purpose: Some("marketing".into()),
        time: Timestamp::UNIX_EPOCH,
    };
    let d = engine().explain(&req);
    assert!(!d.allowed);
    assert_eq!(
        d.policies,
        vec!["no-special-categories-for-marketing".to_owned()]
    );
}

#[test]
fn invalid_sets_are_refused_with_diagnostics_and_the_old_set_stays() {
    let e = engine();
    let syntax = e
        .replace("permit(principal, action, resource", 2)
        .expect_err("syntax error");
    assert!(!syntax.diagnostics.is_empty());
    let unknown_action = e
        .replace(
            r#"permit(principal, action == Custodian::Action::"data.steal", resource);"#,
            2,
        )
        .expect_err("unknown action");
    assert!(
        unknown_action
            .diagnostics
            .iter()
            .any(|d| d.contains("data.steal")),
        "{unknown_action:?}"
    );
    let bad_attr = e
        .replace(
            r#"permit(principal, action, resource) when { principal.shoe_size > 3 };"#,
            2,
        )
        .expect_err("unknown attribute");
    assert!(!bad_attr.diagnostics.is_empty());
    assert_eq!(e.version(), 1);
    e.replace(r#"permit(principal in Custodian::Role::"support", action == Custodian::Action::"audit.read", resource);"#, 2)
        .expect("valid set");
    assert_eq!(e.version(), 2);
    check_with(
        &e,
        Role::Support,
        Action::AuditRead,
        Resource::AuditLog,
        true,
    );
    // An older version arriving late does not replace a newer one.
    e.replace(DEFAULT_POLICIES, 1).expect("valid");
    assert_eq!(e.version(), 2);
    check_with(
        &e,
        Role::Support,
        Action::AuditRead,
        Resource::AuditLog,
        true,
    );
    check_with(
        &e,
        Role::Admin,
        Action::AuditRead,
        Resource::AuditLog,
        false,
    );
}

fn check_with(e: &CedarEngine, role: Role, action: Action, resource: Resource, want: bool) {
    let req = AccessRequest {
        principal: Principal {
            operator_id: "x".into(),
            role,
            training_current: false,
        },
        action,
        resource,
        purpose: None,
        time: Timestamp::UNIX_EPOCH,
    };
    assert_eq!(e.decide(&req).allowed, want);
}

#[test]
fn an_empty_set_denies_everything() {
    let e = CedarEngine::new("", 1).expect("empty set is valid");
    check_with(
        &e,
        Role::Admin,
        Action::PolicyRead,
        Resource::PolicySet,
        false,
    );
}

#[test]
fn oversize_sets_are_refused() {
    let big = "// x\n".repeat(MAX_POLICY_BYTES / 4);
    assert!(engine().compile(&big).is_err());
}

#[test]
fn cached_decisions_follow_the_request_and_the_policy_version() {
    let e = engine();
    let req = |purpose: &str, hour: i64| AccessRequest {
        principal: Principal {
            operator_id: "op-1".into(),
            role: Role::Support,
            training_current: false,
        },
        action: Action::DataReveal,
        resource: field("user.contact.email", "medium"),
        purpose: Some(purpose.to_owned()),
        time: Timestamp::from_second(1_767_225_600 + hour * 3600).unwrap_or(Timestamp::UNIX_EPOCH),
    };
    for _ in 0..3 {
        assert!(e.decide(&req("support", 0)).allowed);
        assert!(!e.decide(&req("marketing", 0)).allowed);
    }
    assert_eq!(e.decide(&req("support", 0)), e.explain(&req("support", 0)));
    // A policy that depends on the hour: the cache keys on it.
    let night_only = r#"@id("support-at-night")
permit (principal in Custodian::Role::"support", action == Custodian::Action::"data.reveal", resource)
when { context.hour < 6 };"#;
    e.replace(night_only, 2).expect("replace");
    assert!(
        e.decide(&req("marketing", 1)).allowed,
        "the new set applies at once"
    );
    assert!(
        !e.decide(&req("marketing", 7)).allowed,
        "another hour, another decision"
    );
    e.replace("", 3).expect("replace");
    assert!(
        !e.decide(&req("support", 0)).allowed,
        "an emptied set denies everything"
    );
}

/// The cache key as it was first written (one `format!` per part): the key built in one
/// allocation must be the same string for every kind of request.
fn reference_key(req: &AccessRequest) -> String {
    let zoned = req.time.to_zoned(custodian_core::jiff::tz::TimeZone::UTC);
    let resource = match &req.resource {
        Resource::AuditLog => "audit_log".to_owned(),
        Resource::PolicySet => "policies".to_owned(),
        Resource::Operators => "operators".to_owned(),
        Resource::Subjects => "subjects".to_owned(),
        Resource::Consent => "consent".to_owned(),
        Resource::Rights => "rights".to_owned(),
        Resource::DataMap => "map".to_owned(),
        Resource::Compliance => "compliance".to_owned(),
        Resource::Collection { name } => format!("collection\u{1f}{name}"),
        Resource::Field {
            collection,
            field,
            category,
            sensitivity,
        } => format!("field\u{1f}{collection}\u{1f}{field}\u{1f}{category}\u{1f}{sensitivity}"),
    };
    format!(
        "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
        req.principal.operator_id,
        req.principal.role.as_str(),
        req.principal.training_current,
        req.action.as_str(),
        resource,
        req.purpose
            .as_deref()
            .map_or("\u{0}".to_owned(), |p| format!("={p}")),
        zoned.hour(),
        zoned.weekday().to_monday_one_offset(),
    )
}

#[test]
fn cache_keys_hold_every_part_of_the_request() {
    let resources = [
        Resource::AuditLog,
        Resource::PolicySet,
        Resource::Operators,
        Resource::Subjects,
        Resource::Consent,
        Resource::Rights,
        Resource::DataMap,
        Resource::Compliance,
        Resource::Collection {
            name: "customers".into(),
        },
        field("user.contact.email", "medium"),
        field("user.contact.email", "high"),
        field("user", "low"),
    ];
    let mut keys = std::collections::HashSet::new();
    let mut n = 0;
    for resource in resources {
        for (operator_id, role, trained) in [
            ("op-1", Role::Support, false),
            ("op-1", Role::Support, true),
            ("op-2", Role::Dpo, true),
        ] {
            for purpose in [None, Some("support"), Some("")] {
                // Every hour of a week: two-digit hours, every weekday.
                for hour in [0, 5, 9, 10, 23, 24 + 13, 48, 72 + 11, 96, 120 + 22, 144 + 1] {
                    let req = AccessRequest {
                        principal: Principal {
                            operator_id: operator_id.into(),
                            role,
                            training_current: trained,
                        },
                        action: Action::DataReveal,
                        resource: resource.clone(),
                        purpose: purpose.map(str::to_owned),
                        time: Timestamp::from_second(1_767_225_600 + hour * 3600)
                            .unwrap_or(Timestamp::UNIX_EPOCH),
                    };
                    let key = super::cache_key(&req);
                    assert_eq!(key, reference_key(&req));
                    assert_eq!(
                        key.capacity(),
                        key.len(),
                        "one allocation, of the right size"
                    );
                    keys.insert(key);
                    n += 1;
                }
            }
        }
    }
    assert_eq!(keys.len(), n, "every request has a key of its own");
}
