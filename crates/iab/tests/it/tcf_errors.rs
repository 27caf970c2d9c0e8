//! One test per class of bad TCF input, and per value `encode` cannot write.

use custodian_iab::IdSet;
use custodian_iab::bits::{BitWriter, Padding};
use custodian_iab::tcf::{self, PublisherRestriction, PublisherTc, RestrictionType, TcfError};

const CORE: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
const DISCLOSED: &str = "IFoEUQQgAIQwgIwQABAEAAAAOIAACAIAAAAQAIAgEAACEAAAAAgAQBAAAAAAAGBAAgAAAAAAAFAAECAAAgAAQARAEQAAAAAJAAIAAgAAAYQEAAAQmAgBC3ZAYzUw";

/// The 213 bits of core fields before the vendor consent section, with `language` as the
/// two 6-bit letter values.
fn core_prefix(language: [u64; 2]) -> BitWriter {
    let mut w = BitWriter::new();
    for (value, width) in [
        (2, 6),               // Version
        (15_822_430_593, 36), // Created
        (15_822_430_593, 36), // LastUpdated
        (27, 12),             // CmpId
        (0, 12),              // CmpVersion
        (0, 6),               // ConsentScreen
        (language[0], 6),     // ConsentLanguage
        (language[1], 6),
        (15, 12), // VendorListVersion
        (4, 6),   // TcfPolicyVersion
        (1, 1),   // IsServiceSpecific
        (0, 1),   // UseNonStandardTexts
        (0, 12),  // SpecialFeatureOptIns
        (0, 24),  // PurposesConsent
        (0, 24),  // PurposesLITransparency
        (0, 1),   // PurposeOneTreatment
        (0, 6),   // PublisherCC
        (0, 6),
    ] {
        w.write_u64(value, width).unwrap();
    }
    assert_eq!(w.len(), 213);
    w
}

fn write(w: &mut BitWriter, fields: &[(u64, u32)]) {
    for &(value, width) in fields {
        w.write_u64(value, width).unwrap();
    }
}

/// An empty vendor section (MaxVendorId 0, bitfield).
const EMPTY_SECTION: &[(u64, u32)] = &[(0, 16), (0, 1)];

fn text(w: BitWriter) -> String {
    w.finish().to_base64url(Padding::Byte)
}

/// A core whose vendor consent section is a range with the given entries
/// `(is_range, start, end)`, followed by an empty LI section and no restrictions.
fn core_with_consent_range(max: u64, entries: &[(bool, u64, u64)]) -> String {
    let mut w = core_prefix([4, 13]);
    write(&mut w, &[(max, 16), (1, 1), (entries.len() as u64, 12)]);
    for &(is_range, start, end) in entries {
        write(&mut w, &[(u64::from(is_range), 1), (start, 16)]);
        if is_range {
            write(&mut w, &[(end, 16)]);
        }
    }
    write(&mut w, EMPTY_SECTION);
    write(&mut w, &[(0, 12)]);
    text(w)
}

#[test]
fn a_well_formed_handmade_core_decodes() {
    let s = core_with_consent_range(10, &[(false, 3, 3), (true, 5, 7)]);
    let tc = tcf::decode(&s).unwrap();
    assert_eq!(tc.vendor_consents, IdSet::from([3, 5, 6, 7]));
    assert_eq!(tc.consent_language, "EN");
}

#[test]
fn empty_input() {
    assert_eq!(tcf::decode(""), Err(TcfError::Empty));
}

#[test]
fn empty_segments() {
    assert_eq!(tcf::decode("."), Err(TcfError::EmptySegment));
    assert_eq!(
        tcf::decode(&format!("{CORE}.")),
        Err(TcfError::EmptySegment)
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}..{DISCLOSED}")),
        Err(TcfError::EmptySegment)
    );
}

#[test]
fn bad_base64() {
    assert_eq!(tcf::decode("COvF!yGB"), Err(TcfError::BadBase64));
    assert_eq!(tcf::decode("COvF+yGB"), Err(TcfError::BadBase64));
    assert_eq!(tcf::decode("COvF=yGB"), Err(TcfError::BadBase64));
    assert_eq!(
        tcf::decode(&format!("{CORE}.IFoE UQ")),
        Err(TcfError::BadBase64)
    );
}

#[test]
fn truncated_input() {
    // iabtcf-java strict mode: `CA==` has a version and nothing else.
    assert_eq!(tcf::decode("CA=="), Err(TcfError::Truncated));
    assert_eq!(tcf::decode("C"), Err(TcfError::Truncated));
    // go-gdpr consent_test.go: strings missing the vendor LI section.
    assert_eq!(
        tcf::decode("COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFAAAAA"),
        Err(TcfError::Truncated)
    );
    assert_eq!(
        tcf::decode("COvcSpYOvcSpYC9AAAENAPCAAAAAAAAAAAAAAFQBgAAgABAACAAEAAQAAgAA"),
        Err(TcfError::Truncated)
    );
    // A bitfield shorter than its MaxVendorId (iabtcf-es issue 142's class of error).
    let mut w = core_prefix([4, 13]);
    write(&mut w, &[(200, 16), (0, 1), (0, 20)]);
    assert_eq!(tcf::decode(&text(w)), Err(TcfError::Truncated));
    // A truncated optional segment.
    assert_eq!(
        tcf::decode(&format!("{CORE}.IFoE")),
        Err(TcfError::Truncated)
    );
}

#[test]
fn unsupported_versions() {
    // iabtcf-java `Bg`: version 1 is TCF v1.1.
    assert_eq!(tcf::decode("Bg"), Err(TcfError::UnsupportedVersion(1)));
    assert_eq!(
        tcf::decode("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
        Err(TcfError::UnsupportedVersion(1))
    );
    assert_eq!(
        tcf::decode("DBABMA"),
        Err(TcfError::UnsupportedVersion(3)),
        "a GPP header is not a TC string"
    );
    assert_eq!(tcf::decode("AAAA"), Err(TcfError::UnsupportedVersion(0)));
}

#[test]
fn unknown_and_misplaced_segment_types() {
    // First 3 bits of the segment: `g` = 100000 → 4, `o` = 101000 → 5, `_` → 7.
    assert_eq!(
        tcf::decode(&format!("{CORE}.gAAA")),
        Err(TcfError::UnknownSegmentType(4))
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}.oAAA")),
        Err(TcfError::UnknownSegmentType(5))
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}.____")),
        Err(TcfError::UnknownSegmentType(7))
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}.{CORE}")),
        Err(TcfError::MisplacedCoreSegment)
    );
}

#[test]
fn duplicate_segments() {
    assert_eq!(
        tcf::decode(&format!("{CORE}.{DISCLOSED}.{DISCLOSED}")),
        Err(TcfError::DuplicateSegment(1))
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}.QAagAQAgAIAwgA.QAagAQAgAIAwgA")),
        Err(TcfError::DuplicateSegment(2))
    );
    assert_eq!(
        tcf::decode(&format!("{CORE}.ZAAgH9794ulA.{DISCLOSED}.ZAAgH9794ulA")),
        Err(TcfError::DuplicateSegment(3))
    );
}

#[test]
fn range_with_start_after_end() {
    let s = core_with_consent_range(10, &[(true, 7, 5)]);
    assert_eq!(
        tcf::decode(&s),
        Err(TcfError::RangeStartAfterEnd { start: 7, end: 5 })
    );
}

#[test]
fn range_with_id_zero() {
    assert_eq!(
        tcf::decode(&core_with_consent_range(10, &[(false, 0, 0)])),
        Err(TcfError::ZeroId)
    );
    assert_eq!(
        tcf::decode(&core_with_consent_range(10, &[(true, 0, 4)])),
        Err(TcfError::ZeroId)
    );
}

#[test]
fn range_above_max_vendor_id() {
    assert_eq!(
        tcf::decode(&core_with_consent_range(10, &[(true, 5, 11)])),
        Err(TcfError::IdAboveMax { id: 11, max: 10 })
    );
    assert_eq!(
        tcf::decode(&core_with_consent_range(10, &[(false, 12, 12)])),
        Err(TcfError::IdAboveMax { id: 12, max: 10 })
    );
}

#[test]
fn invalid_letters() {
    let mut w = core_prefix([4, 26]);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, &[(0, 12)]);
    assert_eq!(tcf::decode(&text(w)), Err(TcfError::InvalidLetter(26)));
}

#[test]
fn range_expansion_is_bounded() {
    // Seventeen publisher restrictions, each naming vendors 1–65535: 1,114,095 ids, above
    // the 2^20 budget, from a 120-character string.
    let mut w = core_prefix([4, 13]);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, &[(17, 12)]);
    for _ in 0..17 {
        write(
            &mut w,
            &[(1, 6), (0, 2), (1, 12), (1, 1), (1, 16), (65_535, 16)],
        );
    }
    let s = text(w);
    assert!(s.len() < 200);
    assert_eq!(tcf::decode(&s), Err(TcfError::TooManyIds));
}

#[test]
fn duplicate_restrictions_still_decode() {
    // iabtcf-es issue 201: the same purpose and type in two entries.
    let mut w = core_prefix([4, 13]);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, EMPTY_SECTION);
    write(&mut w, &[(2, 12)]);
    for vendor in [7, 20] {
        write(&mut w, &[(1, 6), (1, 2), (1, 12), (0, 1), (vendor, 16)]);
    }
    let tc = tcf::decode(&text(w)).unwrap();
    assert_eq!(tc.publisher_restrictions.len(), 2);
    assert!(
        tc.publisher_restrictions
            .iter()
            .all(|r| r.purpose_id == 1 && r.restriction_type == RestrictionType::RequireConsent)
    );
}

fn valid() -> tcf::TcString {
    tcf::decode(
        "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA",
    )
    .unwrap()
}

#[test]
fn encode_rejects_values_the_wire_cannot_hold() {
    let mut tc = valid();
    tc.version = 1;
    assert_eq!(tcf::encode(&tc), Err(TcfError::UnsupportedVersion(1)));

    let mut tc = valid();
    tc.cmp_id = 4096;
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::FieldOverflow { field: "cmp_id" })
    );

    let mut tc = valid();
    tc.consent_screen = 64;
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::FieldOverflow {
            field: "consent_screen"
        })
    );

    let mut tc = valid();
    tc.purposes_consent.insert(25);
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::IdOutOfRange {
            field: "purposes_consent",
            id: 25
        })
    );

    let mut tc = valid();
    tc.special_feature_opt_ins.insert(0);
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::IdOutOfRange {
            field: "special_feature_opt_ins",
            id: 0
        })
    );

    let mut tc = valid();
    tc.vendor_consents.insert(0);
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::IdOutOfRange {
            field: "vendor_consents",
            id: 0
        })
    );

    let mut tc = valid();
    tc.consent_language = "en".into();
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::InvalidLetters {
            field: "consent_language"
        })
    );

    let mut tc = valid();
    tc.publisher_cc = "DEU".into();
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::InvalidLetters {
            field: "publisher_cc"
        })
    );

    let mut tc = valid();
    tc.created = "1969-12-31T23:59:59Z".parse().unwrap();
    assert_eq!(tcf::encode(&tc), Err(TcfError::TimestampOutOfRange));

    let mut tc = valid();
    tc.last_updated = "2200-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(tcf::encode(&tc), Err(TcfError::TimestampOutOfRange));

    let mut tc = valid();
    tc.publisher_tc = Some(PublisherTc {
        num_custom_purposes: 2,
        custom_purposes_consent: IdSet::from([3]),
        ..PublisherTc::default()
    });
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::IdOutOfRange {
            field: "publisher_tc.custom_purposes_consent",
            id: 3
        })
    );

    let mut tc = valid();
    tc.publisher_tc = Some(PublisherTc {
        num_custom_purposes: 64,
        ..PublisherTc::default()
    });
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::FieldOverflow {
            field: "publisher_tc.num_custom_purposes"
        })
    );

    let mut tc = valid();
    tc.publisher_restrictions.push(PublisherRestriction {
        purpose_id: 64,
        restriction_type: RestrictionType::NotAllowed,
        vendors: IdSet::from([1]),
    });
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::FieldOverflow {
            field: "publisher_restrictions"
        })
    );

    let mut tc = valid();
    tc.publisher_restrictions.push(PublisherRestriction {
        purpose_id: 1,
        restriction_type: RestrictionType::NotAllowed,
        // 4,096 separate runs: more than a 12-bit entry count.
        vendors: (1..=8192).step_by(2).collect(),
    });
    assert_eq!(
        tcf::encode(&tc),
        Err(TcfError::TooManyEntries {
            field: "publisher_restrictions"
        })
    );
}

#[test]
fn encode_falls_back_to_a_bitfield_when_ranges_would_overflow_the_entry_count() {
    let mut tc = valid();
    tc.vendor_consents = (1..=8192).step_by(2).collect();
    let encoded = tcf::encode(&tc).unwrap();
    assert_eq!(tcf::decode(&encoded).unwrap(), tc);
}

#[test]
fn encode_truncates_timestamps_to_deciseconds() {
    let mut tc = valid();
    tc.created = "2024-05-01T10:00:00.123456Z".parse().unwrap();
    let decoded = tcf::decode(&tcf::encode(&tc).unwrap()).unwrap();
    assert_eq!(
        decoded.created,
        "2024-05-01T10:00:00.1Z".parse::<jiff::Timestamp>().unwrap()
    );
}
