//! TCF v2.3 validity rules (`validate_v23`).

use custodian_iab::IdSet;
use custodian_iab::tcf::{
    self, PublisherRestriction, RestrictionType, TcString, V23Violation, validate_v23,
};

/// iabgpp-es encoder output: policy 5, service-specific, day-aligned, DisclosedVendors
/// present, LI only for purpose 2.
fn valid() -> TcString {
    tcf::decode(
        "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA",
    )
    .unwrap()
}

#[test]
fn a_current_string_is_valid() {
    assert_eq!(validate_v23(&valid()), Ok(()));
}

#[test]
fn the_specification_example_fails_only_on_its_policy_version() {
    // standards.md §1.9 (f): the spec's own example carries policy version 2.
    let tc = tcf::decode(
        "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA",
    )
    .unwrap();
    assert_eq!(
        validate_v23(&tc),
        Err(vec![V23Violation::PolicyVersionTooOld { found: 2 }])
    );
}

#[test]
fn an_old_string_breaks_several_rules() {
    // iabtcf-java testCanConstructTCModelFromBase64String: policy 2, not service-specific,
    // no DisclosedVendors, timestamps at 17:01 on different days, LI for purpose 2 and 9.
    let tc = tcf::decode("COtybn4PA_zT4KjACBENAPCIAEBAAECAAIAAAAAAAAAA").unwrap();
    assert_eq!(
        validate_v23(&tc),
        Err(vec![
            V23Violation::PolicyVersionTooOld { found: 2 },
            V23Violation::NotServiceSpecific,
            V23Violation::MissingDisclosedVendors,
            V23Violation::CreatedNotStartOfDay,
            V23Violation::LastUpdatedNotStartOfDay,
            V23Violation::CreatedDiffersFromLastUpdated,
        ])
    );
}

type Mutation = fn(&mut TcString);

#[test]
fn each_rule_on_its_own() {
    let cases: Vec<(Mutation, V23Violation)> = vec![
        (|tc| tc.version = 3, V23Violation::UnsupportedVersion(3)),
        (
            |tc| tc.tcf_policy_version = 3,
            V23Violation::PolicyVersionTooOld { found: 3 },
        ),
        (
            |tc| tc.is_service_specific = false,
            V23Violation::NotServiceSpecific,
        ),
        (
            |tc| tc.purposes_li_transparency.extend([1, 3, 6, 7]),
            V23Violation::ForbiddenLegitimateInterest(vec![1, 3, 6]),
        ),
        (
            |tc| tc.disclosed_vendors = None,
            V23Violation::MissingDisclosedVendors,
        ),
        (
            |tc| tc.allowed_vendors = Some(IdSet::from([1])),
            V23Violation::AllowedVendorsPresent,
        ),
        (
            |tc| {
                tc.publisher_restrictions.push(PublisherRestriction {
                    purpose_id: 2,
                    restriction_type: RestrictionType::Undefined,
                    vendors: IdSet::from([11]),
                });
            },
            V23Violation::UndefinedRestrictionType { purpose_id: 2 },
        ),
    ];
    for (mutate, violation) in cases {
        let mut tc = valid();
        mutate(&mut tc);
        assert_eq!(validate_v23(&tc), Err(vec![violation]));
    }
}

#[test]
fn timestamps_must_be_the_same_utc_midnight() {
    let mut tc = valid();
    tc.last_updated = "2022-02-02T00:00:00Z".parse().unwrap();
    assert_eq!(
        validate_v23(&tc),
        Err(vec![V23Violation::CreatedDiffersFromLastUpdated])
    );
    let mut tc = valid();
    let noon: jiff::Timestamp = "2022-02-01T12:00:00Z".parse().unwrap();
    tc.created = noon;
    tc.last_updated = noon;
    assert_eq!(
        validate_v23(&tc),
        Err(vec![
            V23Violation::CreatedNotStartOfDay,
            V23Violation::LastUpdatedNotStartOfDay,
        ])
    );
}

#[test]
fn violations_have_messages() {
    let text = V23Violation::ForbiddenLegitimateInterest(vec![3]).to_string();
    assert!(text.contains("[3]"), "{text}");
}
