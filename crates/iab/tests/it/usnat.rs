//! usnat encoding: the iabgpp-es encoder vectors, `UsNat::from_opt_outs` and
//! `gpp_string_for_usnat`.

use custodian_iab::gpp::{
    self, Consent, GppHeader, GppString, MspaMode, Notice, OptOut, Section, USNAT_ONLY_HEADER,
    UsNat, UsNatVersion, gpp_string_for_usnat,
};

/// Field values as the iabgpp-es tests give them (raw integers).
struct Raw<'a> {
    version: UsNatVersion,
    notices: u8,
    opt_outs: u8,
    sdp: &'a [u8],
    kc: &'a [u8],
    pdc: u8,
    mspa: [u8; 3],
    gpc: Option<bool>,
}

fn build(raw: &Raw<'_>) -> UsNat {
    let notice = Notice::from_raw(raw.notices).unwrap();
    let opt_out = OptOut::from_raw(raw.opt_outs).unwrap();
    let consents = |values: &[u8]| -> Vec<Consent> {
        values
            .iter()
            .map(|&v| Consent::from_raw(v).unwrap())
            .collect()
    };
    let mspa = raw.mspa.map(|v| MspaMode::from_raw(v).unwrap());
    UsNat {
        version: raw.version,
        sharing_notice: notice,
        sale_opt_out_notice: notice,
        sharing_opt_out_notice: notice,
        targeted_advertising_opt_out_notice: notice,
        sensitive_data_processing_opt_out_notice: notice,
        sensitive_data_limit_use_notice: notice,
        sale_opt_out: opt_out,
        sharing_opt_out: opt_out,
        targeted_advertising_opt_out: opt_out,
        sensitive_data_processing: consents(raw.sdp),
        known_child_sensitive_data_consents: consents(raw.kc),
        personal_data_consents: Consent::from_raw(raw.pdc).unwrap(),
        mspa_covered_transaction: mspa[0],
        mspa_opt_out_option_mode: mspa[1],
        mspa_service_provider_mode: mspa[2],
        gpc: raw.gpc,
    }
}

#[test]
fn iabgpp_es_encoder_vectors() {
    let cases: [(&str, Raw<'_>); 5] = [
        (
            // UsNat.test.ts "should encode to CVVVkkkkkpFY.YA".
            "CVVVkkkkkpFY.YA",
            Raw {
                version: UsNatVersion::V2,
                notices: 1,
                opt_outs: 1,
                sdp: &[2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2, 1, 0, 2],
                kc: &[2, 1, 0],
                pdc: 1,
                mspa: [1, 1, 2],
                gpc: Some(true),
            },
        ),
        (
            // "usnat v1 with v1 values".
            "BAAAVVVVUQA.QA",
            Raw {
                version: UsNatVersion::V1,
                notices: 0,
                opt_outs: 0,
                sdp: &[1; 12],
                kc: &[1, 1],
                pdc: 0,
                mspa: [1, 0, 0],
                gpc: Some(false),
            },
        ),
        (
            // "usnat v2 with v1 values".
            "CAAAVVVVAFBA.QA",
            Raw {
                version: UsNatVersion::V2,
                notices: 0,
                opt_outs: 0,
                sdp: &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0],
                kc: &[1, 1, 0],
                pdc: 0,
                mspa: [1, 0, 0],
                gpc: Some(false),
            },
        ),
        (
            // "usnat v2 with v2 values".
            "CAAAVVVVVVRA.QA",
            Raw {
                version: UsNatVersion::V2,
                notices: 0,
                opt_outs: 0,
                sdp: &[1; 16],
                kc: &[1, 1, 1],
                pdc: 0,
                mspa: [1, 0, 0],
                gpc: Some(false),
            },
        ),
        (
            // The default model.
            "CAAAAAAAAABA.QA",
            Raw {
                version: UsNatVersion::V2,
                notices: 0,
                opt_outs: 0,
                sdp: &[0; 16],
                kc: &[0; 3],
                pdc: 0,
                mspa: [1, 0, 0],
                gpc: Some(false),
            },
        ),
    ];
    for (expected, raw) in cases {
        let usnat = build(&raw);
        assert_eq!(gpp::encode_usnat(&usnat), expected);
        assert_eq!(gpp::decode_usnat(expected).unwrap(), usnat);
    }
}

#[test]
fn the_gpc_subsection_is_written_only_when_set() {
    let mut usnat = gpp::decode_usnat("BVVVVVVVVWA.YA").unwrap();
    usnat.gpc = None;
    assert_eq!(gpp::encode_usnat(&usnat), "BVVVVVVVVWA");
    usnat.gpc = Some(false);
    assert_eq!(gpp::encode_usnat(&usnat), "BVVVVVVVVWA.QA");
}

#[test]
fn list_fields_are_padded_or_cut_to_the_layout() {
    let full = gpp::decode_usnat("CAAAVVVVVVRA.QA").unwrap();
    let mut short = full.clone();
    short.sensitive_data_processing.truncate(12);
    short.known_child_sensitive_data_consents.truncate(2);
    // Missing v2 entries are written as "not applicable".
    assert_eq!(gpp::encode_usnat(&short), "CAAAVVVVAFBA.QA");
    // A v2 model encoded as v1 drops the v2-only entries.
    let mut as_v1 = full;
    as_v1.version = UsNatVersion::V1;
    assert_eq!(gpp::encode_usnat(&as_v1), "BAAAVVVVUQA.QA");
}

#[test]
fn from_opt_outs_everything_opted_out() {
    let usnat = UsNat::from_opt_outs(Some(true), Some(true), Some(true), Some(true), true);
    assert_eq!(usnat.version, UsNatVersion::V1);
    for notice in [
        usnat.sharing_notice,
        usnat.sale_opt_out_notice,
        usnat.sharing_opt_out_notice,
        usnat.targeted_advertising_opt_out_notice,
        usnat.sensitive_data_processing_opt_out_notice,
        usnat.sensitive_data_limit_use_notice,
    ] {
        assert_eq!(notice, Notice::Provided);
    }
    assert_eq!(usnat.sale_opt_out, OptOut::OptedOut);
    assert_eq!(usnat.sharing_opt_out, OptOut::OptedOut);
    assert_eq!(usnat.targeted_advertising_opt_out, OptOut::OptedOut);
    assert_eq!(
        usnat.sensitive_data_processing,
        vec![Consent::NoConsent; 12]
    );
    assert_eq!(
        usnat.known_child_sensitive_data_consents,
        vec![Consent::NotApplicable; 2]
    );
    assert_eq!(usnat.personal_data_consents, Consent::NotApplicable);
    assert_eq!(usnat.mspa_covered_transaction, MspaMode::No);
    assert_eq!(usnat.mspa_opt_out_option_mode, MspaMode::NotApplicable);
    assert_eq!(usnat.mspa_service_provider_mode, MspaMode::NotApplicable);
    assert_eq!(usnat.gpc, Some(true));
    // By hand: 000001 | 01×6 | 01×3 | 01×12 | 00 00 | 00 | 10 00 00, padded to 66 bits.
    assert_eq!(gpp::encode_usnat(&usnat), "BVVVVVVVAgA.YA");
    assert_eq!(gpp_string_for_usnat(&usnat), "DBABLA~BVVVVVVVAgA.YA");
}

#[test]
fn from_opt_outs_nothing_known() {
    let usnat = UsNat::from_opt_outs(None, None, None, None, false);
    assert_eq!(usnat.sharing_notice, Notice::NotApplicable);
    assert_eq!(usnat.sale_opt_out_notice, Notice::NotApplicable);
    assert_eq!(usnat.sale_opt_out, OptOut::NotApplicable);
    assert_eq!(
        usnat.sensitive_data_processing,
        vec![Consent::NotApplicable; 12]
    );
    assert_eq!(usnat.gpc, Some(false));
    assert_eq!(gpp_string_for_usnat(&usnat), "DBABLA~BAAAAAAAAgA.QA");
}

#[test]
fn from_opt_outs_mixed_choices() {
    let usnat = UsNat::from_opt_outs(Some(false), None, Some(true), Some(false), true);
    assert_eq!(usnat.sharing_notice, Notice::Provided);
    assert_eq!(usnat.sale_opt_out_notice, Notice::Provided);
    assert_eq!(usnat.sale_opt_out, OptOut::DidNotOptOut);
    assert_eq!(usnat.sharing_opt_out_notice, Notice::NotApplicable);
    assert_eq!(usnat.sharing_opt_out, OptOut::NotApplicable);
    assert_eq!(usnat.targeted_advertising_opt_out_notice, Notice::Provided);
    assert_eq!(usnat.targeted_advertising_opt_out, OptOut::OptedOut);
    assert_eq!(usnat.sensitive_data_limit_use_notice, Notice::Provided);
    assert_eq!(usnat.sensitive_data_processing, vec![Consent::Consent; 12]);
    let string = gpp_string_for_usnat(&usnat);
    let decoded = gpp::decode(&string).unwrap();
    assert_eq!(decoded.sections, vec![Section::UsNat(usnat)]);
}

#[test]
fn the_usnat_only_header_is_what_the_encoder_writes() {
    let usnat = UsNat::from_opt_outs(None, Some(true), None, None, false);
    let gpp = GppString {
        header: GppHeader {
            version: 1,
            section_ids: vec![7],
        },
        sections: vec![Section::UsNat(usnat.clone())],
    };
    let encoded = gpp::encode(&gpp).unwrap();
    assert!(encoded.starts_with(&format!("{USNAT_ONLY_HEADER}~")));
    assert_eq!(encoded, gpp_string_for_usnat(&usnat));
}
