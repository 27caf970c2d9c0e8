//! Decoders never panic, and whatever they accept re-encodes to the same value; random
//! values round-trip through encode and decode.

use custodian_iab::IdSet;
use custodian_iab::gpp::{
    self, Consent, GppHeader, GppString, MspaMode, Notice, OptOut, Section, UsNat, UsNatVersion,
};
use custodian_iab::tcf::{self, PublisherRestriction, PublisherTc, RestrictionType, TcString};
use jiff::Timestamp;

use crate::support::{Rng, all_vector_strings};

/// Characters used to mutate inputs: some of the alphabet, the separators, padding and a
/// few outsiders.
const MUTATIONS: &[char] = &['A', 'D', 'g', '_', '.', '~', '=', '!'];

/// Decodes `input` every way, and checks that anything accepted re-encodes to an equal
/// value. Panics (fails the test) only on a real bug.
fn exercise(input: &str) {
    if let Ok(tc) = tcf::decode(input) {
        let encoded = tcf::encode(&tc).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(tcf::decode(&encoded).as_ref(), Ok(&tc), "{input}");
    }
    if let Ok(gpp) = gpp::decode(input) {
        match gpp::encode(&gpp) {
            Ok(encoded) => assert_eq!(gpp::decode(&encoded).as_ref(), Ok(&gpp), "{input}"),
            // Only a verbatim unknown section may refuse to encode (a mutation put a
            // character outside the websafe set into it).
            Err(gpp::GppError::Section {
                source: gpp::SectionError::InvalidRawSection,
                ..
            }) => {}
            Err(e) => panic!("{input}: {e}"),
        }
    }
    if let Ok(usnat) = gpp::decode_usnat(input) {
        let encoded = gpp::encode_usnat(&usnat);
        assert_eq!(gpp::decode_usnat(&encoded).as_ref(), Ok(&usnat), "{input}");
    }
}

#[test]
fn every_prefix_of_every_vector_is_handled() {
    for s in all_vector_strings() {
        for end in (0..=s.len()).filter(|&i| s.is_char_boundary(i)) {
            exercise(&s[..end]);
        }
    }
}

#[test]
fn every_single_character_mutation_of_every_vector_is_handled() {
    for s in all_vector_strings() {
        let chars: Vec<char> = s.chars().collect();
        for position in 0..chars.len() {
            for &c in MUTATIONS {
                let mut mutated = chars.clone();
                mutated[position] = c;
                exercise(&mutated.iter().collect::<String>());
            }
            let mut removed = chars.clone();
            removed.remove(position);
            exercise(&removed.iter().collect::<String>());
        }
    }
}

#[test]
fn random_garbage_is_handled() {
    let alphabet: Vec<char> =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~=+/ é\u{0}"
            .chars()
            .collect();
    let mut rng = Rng::new(0x5eed);
    for _ in 0..20_000 {
        let len = rng.below(120) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
            .collect();
        exercise(&s);
        // Garbage behind a valid header reaches the section decoders.
        for header in [
            "DBABLA~", "DBABMA~", "DBABDA~", "DBABBg~", "DBABYA~", "DBABTA~",
        ] {
            exercise(&format!("{header}{s}"));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Random values

fn random_set(rng: &mut Rng, max: u16, density: u64) -> IdSet {
    if max == 0 {
        return IdSet::new();
    }
    let mut set = IdSet::new();
    match rng.below(3) {
        0 => {}
        1 => {
            // Scattered ids.
            for _ in 0..rng.below(density) {
                set.insert(1 + rng.below(u64::from(max)) as u16);
            }
        }
        _ => {
            // Runs.
            for _ in 0..rng.below(density / 4 + 1) {
                let start = 1 + rng.below(u64::from(max)) as u16;
                let len = rng.below(40) as u16;
                set.extend(start..=start.saturating_add(len).min(max));
            }
        }
    }
    set
}

fn random_timestamp(rng: &mut Rng) -> Timestamp {
    let deciseconds = rng.below(1 << 36) as i64;
    Timestamp::from_millisecond(deciseconds * 100).unwrap()
}

fn random_letters(rng: &mut Rng) -> String {
    (0..2)
        .map(|_| char::from(b'A' + rng.below(26) as u8))
        .collect()
}

fn random_tc_string(rng: &mut Rng) -> TcString {
    let max_vendor = [0, 10, 300, 1500, 65_535][rng.below(5) as usize];
    let num_custom = rng.below(64) as u8;
    TcString {
        version: 2,
        created: random_timestamp(rng),
        last_updated: random_timestamp(rng),
        cmp_id: rng.below(4096) as u16,
        cmp_version: rng.below(4096) as u16,
        consent_screen: rng.below(64) as u8,
        consent_language: random_letters(rng),
        vendor_list_version: rng.below(4096) as u16,
        tcf_policy_version: rng.below(64) as u8,
        is_service_specific: rng.bool(),
        use_non_standard_texts: rng.bool(),
        special_feature_opt_ins: random_set(rng, 12, 12),
        purposes_consent: random_set(rng, 24, 24),
        purposes_li_transparency: random_set(rng, 24, 24),
        purpose_one_treatment: rng.bool(),
        publisher_cc: random_letters(rng),
        vendor_consents: random_set(rng, max_vendor, 200),
        vendor_legitimate_interests: random_set(rng, max_vendor, 200),
        publisher_restrictions: (0..rng.below(4))
            .map(|_| PublisherRestriction {
                purpose_id: rng.below(64) as u8,
                restriction_type: RestrictionType::from_raw(rng.below(4) as u8).unwrap(),
                vendors: random_set(rng, max_vendor.max(1), 50),
            })
            .collect(),
        disclosed_vendors: rng.bool().then(|| random_set(rng, max_vendor, 300)),
        allowed_vendors: rng.bool().then(|| random_set(rng, max_vendor, 30)),
        publisher_tc: rng.bool().then(|| PublisherTc {
            purposes_consent: random_set(rng, 24, 24),
            purposes_li_transparency: random_set(rng, 24, 24),
            num_custom_purposes: num_custom,
            custom_purposes_consent: random_set(rng, u16::from(num_custom), 20),
            custom_purposes_li_transparency: random_set(rng, u16::from(num_custom), 20),
        }),
    }
}

#[test]
fn random_tc_strings_round_trip() {
    let mut rng = Rng::new(42);
    for _ in 0..1500 {
        let tc = random_tc_string(&mut rng);
        let encoded = tcf::encode(&tc).unwrap();
        assert_eq!(tcf::decode(&encoded).unwrap(), tc, "{encoded}");
        // The shorter vendor encoding is used: never longer than both alternatives.
        assert_eq!(
            tcf::encode(&tcf::decode(&encoded).unwrap()).unwrap(),
            encoded
        );
    }
}

fn two_bit(rng: &mut Rng) -> u8 {
    rng.below(4) as u8
}

fn random_usnat(rng: &mut Rng) -> UsNat {
    let version = if rng.bool() {
        UsNatVersion::V1
    } else {
        UsNatVersion::V2
    };
    let notice = |rng: &mut Rng| Notice::from_raw(two_bit(rng)).unwrap();
    let opt_out = |rng: &mut Rng| OptOut::from_raw(two_bit(rng)).unwrap();
    let consent = |rng: &mut Rng| Consent::from_raw(two_bit(rng)).unwrap();
    let mspa = |rng: &mut Rng| MspaMode::from_raw(two_bit(rng)).unwrap();
    UsNat {
        version,
        sharing_notice: notice(rng),
        sale_opt_out_notice: notice(rng),
        sharing_opt_out_notice: notice(rng),
        targeted_advertising_opt_out_notice: notice(rng),
        sensitive_data_processing_opt_out_notice: notice(rng),
        sensitive_data_limit_use_notice: notice(rng),
        sale_opt_out: opt_out(rng),
        sharing_opt_out: opt_out(rng),
        targeted_advertising_opt_out: opt_out(rng),
        sensitive_data_processing: (0..version.sensitive_data_categories())
            .map(|_| consent(rng))
            .collect(),
        known_child_sensitive_data_consents: (0..version.known_child_categories())
            .map(|_| consent(rng))
            .collect(),
        personal_data_consents: consent(rng),
        mspa_covered_transaction: mspa(rng),
        mspa_opt_out_option_mode: mspa(rng),
        mspa_service_provider_mode: mspa(rng),
        gpc: match rng.below(3) {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        },
    }
}

#[test]
fn random_usnat_sections_round_trip() {
    let mut rng = Rng::new(9);
    for _ in 0..3000 {
        let usnat = random_usnat(&mut rng);
        let encoded = gpp::encode_usnat(&usnat);
        assert_eq!(gpp::decode_usnat(&encoded).unwrap(), usnat, "{encoded}");
        let full = gpp::gpp_string_for_usnat(&usnat);
        assert_eq!(
            gpp::decode(&full).unwrap().sections,
            vec![Section::UsNat(usnat)]
        );
    }
}

#[test]
fn random_gpp_strings_round_trip() {
    let mut rng = Rng::new(1234);
    for _ in 0..500 {
        let mut sections = Vec::new();
        if rng.bool() {
            sections.push(Section::TcfEuV2(random_tc_string(&mut rng)));
        }
        if rng.bool() {
            sections.push(Section::UsNat(random_usnat(&mut rng)));
        }
        for id in [13u16, 20, 27, 300] {
            if rng.bool() {
                sections.push(Section::Unknown {
                    id,
                    raw: format!("raw{id}.x-y_z"),
                });
            }
        }
        let gpp = GppString {
            header: GppHeader {
                version: 1,
                section_ids: sections.iter().map(Section::id).collect(),
            },
            sections,
        };
        let encoded = gpp::encode(&gpp).unwrap();
        assert_eq!(gpp::decode(&encoded).unwrap(), gpp, "{encoded}");
    }
}
