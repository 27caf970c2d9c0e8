//! One test per class of bad GPP input, and per value `encode` cannot write.

use custodian_iab::bits::{BitWriter, Padding};
use custodian_iab::gpp::{self, GppError, GppHeader, GppString, Section, SectionError, section_id};
use custodian_iab::tcf::TcfError;

fn section_error(id: u16, source: SectionError) -> Result<GppString, GppError> {
    Err(GppError::Section { id, source })
}

/// A header with the given raw fields and a Fibonacci `Range` of single ids.
fn header(header_type: u64, version: u64, ids: &[u64]) -> String {
    let mut w = BitWriter::new();
    w.write_u64(header_type, 6).unwrap();
    w.write_u64(version, 6).unwrap();
    w.write_u64(ids.len() as u64, 12).unwrap();
    let mut last = 0;
    for &id in ids {
        w.write_bool(false);
        w.write_fibonacci(id - last).unwrap();
        last = id;
    }
    w.finish().to_base64url(Padding::Byte)
}

#[test]
fn handmade_headers_match_the_curated_ones() {
    assert_eq!(header(3, 1, &[7]), "DBABLA");
    assert_eq!(header(3, 1, &[2, 6]), "DBACNYA");
}

#[test]
fn empty_input_and_empty_header() {
    assert_eq!(gpp::decode(""), Err(GppError::Empty));
    assert_eq!(
        gpp::decode("~BVVVVVVVVWA"),
        Err(GppError::Header(SectionError::Empty))
    );
}

#[test]
fn bad_base64_in_the_header_or_a_section() {
    assert_eq!(
        gpp::decode("DB!BLA~BVVVVVVVVWA"),
        Err(GppError::Header(SectionError::BadBase64))
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVV*VVVVWA"),
        section_error(7, SectionError::BadBase64)
    );
}

#[test]
fn truncated_header_or_section() {
    assert_eq!(
        gpp::decode("DBA"),
        Err(GppError::Header(SectionError::Truncated))
    );
    assert_eq!(
        gpp::decode("DBAB"),
        Err(GppError::Header(SectionError::Truncated)),
        "count 1 but no entry"
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVV"),
        section_error(7, SectionError::Truncated)
    );
    assert_eq!(
        gpp::decode("DBABBg~BVVVVV"),
        section_error(8, SectionError::Truncated)
    );
}

#[test]
fn not_a_gpp_header() {
    // A TC string where the header should be: type 2.
    assert_eq!(
        gpp::decode("CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"),
        Err(GppError::NotAGppHeader(2))
    );
    assert_eq!(gpp::decode("1YNN"), Err(GppError::NotAGppHeader(53)));
}

#[test]
fn unsupported_gpp_version() {
    assert_eq!(
        gpp::decode(&format!("{}~BVVVVVVVVWA", header(3, 2, &[7]))),
        Err(GppError::UnsupportedVersion(2))
    );
}

#[test]
fn section_count_mismatch() {
    assert_eq!(
        gpp::decode("DBABLA"),
        Err(GppError::SectionCountMismatch {
            declared: 1,
            found: 0
        })
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVVVVVVVWA~BVVVVVVVVWA"),
        Err(GppError::SectionCountMismatch {
            declared: 1,
            found: 2
        })
    );
    assert_eq!(
        gpp::decode("DBAA~1YNN"),
        Err(GppError::SectionCountMismatch {
            declared: 0,
            found: 1
        })
    );
}

#[test]
fn header_ids_that_overflow() {
    // A 30-bit Fibonacci code word: value far above 65,535.
    let mut w = BitWriter::new();
    for (value, width) in [(3, 6), (1, 6), (1, 12), (0, 1)] {
        w.write_u64(value, width).unwrap();
    }
    w.write_fibonacci(1_000_000).unwrap();
    let text = w.finish().to_base64url(Padding::Byte);
    assert_eq!(
        gpp::decode(&format!("{text}~x")),
        Err(GppError::Header(SectionError::IdOverflow))
    );
}

#[test]
fn unsupported_section_versions() {
    // usnat version 3 (go-gpp's `DSJgmkoZJSA`), usca version 2, tcfca version 2.
    assert_eq!(
        gpp::decode("DBABLA~DSJgmkoZJSA.YA"),
        section_error(7, SectionError::UnsupportedVersion(3))
    );
    assert_eq!(
        gpp::decode("DBABBg~CVVVVVVY"),
        section_error(8, SectionError::UnsupportedVersion(2))
    );
    assert_eq!(
        gpp::decode("DBABDA~CPXuQIAPXuQIAAfKABENB-CgAAAAAAAAAAAAAAAA"),
        section_error(5, SectionError::UnsupportedVersion(2))
    );
    assert_eq!(
        gpp::decode("DBABYA~COEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
        section_error(1, SectionError::UnsupportedVersion(2))
    );
}

#[test]
fn bad_subsections() {
    // Sub-section type 0 (core) and 2 (undefined) after a usnat core (iabgpp-rs
    // `BVVVVVVVVWA.AA`).
    assert_eq!(
        gpp::decode("DBABLA~BVVVVVVVVWA.AA"),
        section_error(7, SectionError::UnexpectedSubsectionType(0))
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVVVVVVVWA.gA"),
        section_error(7, SectionError::UnexpectedSubsectionType(2))
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVVVVVVVWA.YA.QA"),
        section_error(7, SectionError::DuplicateSubsection(1))
    );
    assert_eq!(
        gpp::decode("DBABLA~BVVVVVVVVWA."),
        section_error(7, SectionError::Empty)
    );
    // Virginia and Utah define no GPC sub-section.
    assert_eq!(
        gpp::decode("DBABRg~BVVVVWY.YA"),
        section_error(9, SectionError::UnexpectedSubsectionType(1))
    );
    assert_eq!(
        gpp::decode("DBABFg~BVVVVVmA.YA"),
        section_error(11, SectionError::UnexpectedSubsectionType(1))
    );
    // TCF Canada sub-section types other than 1 and 3.
    assert_eq!(
        gpp::decode("DBABDA~BPXuQIAPXuQIAAfKABENB-CgAAAAAAAAAAAAAAAA.QAAA"),
        section_error(5, SectionError::UnexpectedSubsectionType(2))
    );
    assert_eq!(
        gpp::decode("DBABDA~BPXuQIAPXuQIAAfKABENB-CgAAAAAAAAAAAAAAAA.YAAAAAAAAAA.YAAAAAAAAAA"),
        section_error(5, SectionError::DuplicateSubsection(3))
    );
}

#[test]
fn empty_sections() {
    assert_eq!(
        gpp::decode("DBABLA~"),
        section_error(7, SectionError::Empty)
    );
    assert_eq!(
        gpp::decode("DBABM~"),
        section_error(2, SectionError::Tcf(TcfError::Empty))
    );
}

#[test]
fn tcf_errors_carry_the_section_id() {
    assert_eq!(
        gpp::decode("DBABMA~BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
        section_error(2, SectionError::Tcf(TcfError::UnsupportedVersion(1)))
    );
}

#[test]
fn bad_us_privacy_strings() {
    for (body, error) in [
        ("1YNX", SectionError::InvalidUspV1),
        ("1YN", SectionError::InvalidUspV1),
        ("1YNNN", SectionError::InvalidUspV1),
        ("1ynn", SectionError::InvalidUspV1),
        ("XYNN", SectionError::InvalidUspV1),
        ("2YNN", SectionError::UnsupportedVersion(2)),
    ] {
        assert_eq!(
            gpp::decode(&format!("DBABTA~{body}")),
            section_error(6, error),
            "{body}"
        );
    }
}

#[test]
fn unknown_sections_are_kept_verbatim() {
    let text = format!("{}~whatever.it-is_", header(3, 1, &[40]));
    let gpp = gpp::decode(&text).unwrap();
    assert_eq!(
        gpp.sections,
        vec![Section::Unknown {
            id: 40,
            raw: "whatever.it-is_".into()
        }]
    );
    assert_eq!(gpp::encode(&gpp).unwrap(), text);
}

fn usnat_gpp() -> GppString {
    gpp::decode("DBABLA~BVVVVVVVVWA.YA").unwrap()
}

#[test]
fn encode_rejects_inconsistent_strings() {
    let mut gpp = usnat_gpp();
    gpp.header.section_ids = vec![8];
    assert_eq!(gpp::encode(&gpp), Err(GppError::HeaderMismatch));

    let mut gpp = usnat_gpp();
    gpp.sections.push(gpp.sections[0].clone());
    gpp.header.section_ids = vec![7, 7];
    assert_eq!(gpp::encode(&gpp), Err(GppError::SectionsNotSorted));

    let mut gpp = usnat_gpp();
    gpp.header.version = 2;
    assert_eq!(gpp::encode(&gpp), Err(GppError::UnsupportedVersion(2)));

    let gpp = GppString {
        header: GppHeader {
            version: 1,
            section_ids: vec![30],
        },
        sections: vec![Section::Unknown {
            id: 30,
            raw: "a~b".into(),
        }],
    };
    assert_eq!(
        gpp::encode(&gpp),
        Err(GppError::Section {
            id: 30,
            source: SectionError::InvalidRawSection
        })
    );

    let mut tc = gpp::decode("DBABM~CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA").unwrap();
    if let Section::TcfEuV2(inner) = &mut tc.sections[0] {
        inner.cmp_id = 5000;
    }
    assert_eq!(
        gpp::encode(&tc),
        Err(GppError::Section {
            id: section_id::TCF_EU_V2,
            source: SectionError::Tcf(TcfError::FieldOverflow { field: "cmp_id" })
        })
    );
}

#[test]
fn errors_do_not_echo_the_input() {
    let input = "DBABLA~BVVV*VVVVWA";
    let message = gpp::decode(input).unwrap_err().to_string();
    assert!(!message.contains("BVVV"), "{message}");
    assert_eq!(message, "section 7: invalid base64url");
}

#[test]
fn range_expansion_is_bounded_across_sections() {
    // Section 1 (TCF v1.1, every vendor up to 65,535 by default consent) and section 2 (16
    // publisher restrictions over vendors 1–65,535) each decode alone; together they expand
    // to more than `MAX_EXPANDED_IDS` ids.
    let mut tc = custodian_iab::tcf::decode(
        "CPTtLAAPTtLAAAKAAAENAAFgALwAAEAAAAAAAOgAgABgAAAA.IAoAAgABgAAEAQAAEAAA.d4AACEAAAAAA",
    )
    .unwrap();
    let all: custodian_iab::IdSet = (1..=u16::MAX).collect();
    tc.publisher_restrictions = (0..16)
        .map(|purpose_id| custodian_iab::tcf::PublisherRestriction {
            purpose_id,
            restriction_type: custodian_iab::tcf::RestrictionType::NotAllowed,
            vendors: all.clone(),
        })
        .collect();
    let v1 = gpp::TcfEuV1 {
        created: tc.created,
        last_updated: tc.last_updated,
        cmp_id: 1,
        cmp_version: 1,
        consent_screen: 1,
        consent_language: "EN".into(),
        vendor_list_version: 1,
        purposes_allowed: custodian_iab::IdSet::new(),
        max_vendor_id: u16::MAX,
        vendor_consents: all,
    };
    let both = GppString {
        header: GppHeader {
            version: 1,
            section_ids: vec![1, 2],
        },
        sections: vec![Section::TcfEuV1(v1.clone()), Section::TcfEuV2(tc.clone())],
    };
    let encoded = gpp::encode(&both).unwrap();
    assert!(encoded.len() < 400, "{}", encoded.len());
    assert_eq!(
        gpp::decode(&encoded),
        Err(GppError::Section {
            id: 2,
            source: SectionError::Tcf(TcfError::TooManyIds)
        })
    );
    for (ids, section) in [
        (vec![1], Section::TcfEuV1(v1)),
        (vec![2], Section::TcfEuV2(tc)),
    ] {
        let alone = GppString {
            header: GppHeader {
                version: 1,
                section_ids: ids,
            },
            sections: vec![section],
        };
        let text = gpp::encode(&alone).unwrap();
        assert_eq!(gpp::decode(&text).unwrap(), alone);
    }
}
