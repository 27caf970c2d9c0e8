//! Classifying a database column from its name and a sample of its values.
//!
//! Two kinds of evidence are combined, as the column classifiers of the field do:
//!
//! - **The name.** It is split into lower-case words (`customerEmail`, `CUSTOMER_EMAIL` and
//!   `customer-email` all read `customer email`) and looked up in [`HINTS`]: a hint whose words
//!   are the whole name is strong, one found among other words weaker. Some hints say which
//!   detector their values should satisfy (an `email` column should hold emails); when enough
//!   values were sampled and none does, the hint is weakened (an `email_sent` flag, an
//!   `email_template` id).
//! - **The values.** Each is scanned with the column's name in front of it as context (so a
//!   `ssn` column's undashed numbers count), and counted when one finding of a kind covers
//!   nearly all of it (the column *is* that kind) or when it holds one among other text (the
//!   column *contains* that kind: free text with emails in it). Shares of the sample become a
//!   confidence through each kind's reliability: a valid IBAN or card number is strong
//!   evidence, a date weak (most dates are not birth dates), a five-digit number weaker still.
//!
//! The two are combined as independent evidence when they agree (`1 - (1-a)(1-b)`), the
//! stronger one wins when they disagree. A column whose sampled values are all the same
//! (a default) gives less value evidence. No value is ever returned or kept.

use crate::{Kind, scan};

/// Values longer than this are cut (on a `char` boundary) before scanning.
pub const MAX_VALUE_BYTES: usize = 4096;

/// How strong an exact name hint is (the hint's words are the whole name).
const EXACT: f32 = 0.8;
/// How strong a hint found among other words is.
const PARTIAL: f32 = 0.6;
/// How many sampled values without a single expected match weaken a hint.
const EXPECT_AFTER: usize = 5;

/// A column-name hint: words, the category they suggest and, for some, the kind of value
/// expected.
#[derive(Debug, Clone, Copy)]
pub struct Hint {
    /// The hint's words joined by `_` (`date_of_birth`).
    pub words: &'static str,
    /// The data category it suggests.
    pub category: &'static str,
    /// The kind the values should be, when a detector exists for it.
    pub expect: Option<Kind>,
    /// Whether the hint counts only when it is the whole name (`name`, `state`, `age` are
    /// too common inside other names: `product_name`, `state_machine`, `page_age`).
    pub exact_only: bool,
}

const fn h(words: &'static str, category: &'static str, expect: Option<Kind>) -> Hint {
    Hint {
        words,
        category,
        expect,
        exact_only: false,
    }
}

const fn exact(words: &'static str, category: &'static str, expect: Option<Kind>) -> Hint {
    Hint {
        words,
        category,
        expect,
        exact_only: true,
    }
}

const EMAIL: &str = "user.contact.email";
const PHONE: &str = "user.contact.phone_number";
const NATIONAL_ID: &str = "user.government_id.national_identification_number";
const DOB: &str = "user.demographic.date_of_birth";
const STREET: &str = "user.contact.address.street";
const POSTAL: &str = "user.contact.address.postal_code";
const CREDENTIALS: &str = "user.authorization.credentials";
const DEVICE: &str = "user.device.device_id";
const PRECISE: &str = "user.location.precise";

/// The column-name hints, most specific first (the first hint that matches is used).
pub const HINTS: &[Hint] = &[
    h("date_of_birth", DOB, Some(Kind::Date)),
    h("birth_date", DOB, Some(Kind::Date)),
    h("birthdate", DOB, Some(Kind::Date)),
    h("birthday", DOB, Some(Kind::Date)),
    h("dob", DOB, Some(Kind::Date)),
    h("email", EMAIL, Some(Kind::Email)),
    h("e_mail", EMAIL, Some(Kind::Email)),
    h("mail", EMAIL, Some(Kind::Email)),
    h("fax", "user.contact.fax_number", Some(Kind::Phone)),
    h("phone", PHONE, Some(Kind::Phone)),
    h("telephone", PHONE, Some(Kind::Phone)),
    h("tel", PHONE, Some(Kind::Phone)),
    h("mobile", PHONE, Some(Kind::Phone)),
    h("msisdn", PHONE, Some(Kind::Phone)),
    h("cell", PHONE, Some(Kind::Phone)),
    h("ssn", NATIONAL_ID, Some(Kind::UsSsn)),
    h("social_security", NATIONAL_ID, Some(Kind::UsSsn)),
    h("nino", NATIONAL_ID, Some(Kind::UkNino)),
    h("national_insurance", NATIONAL_ID, Some(Kind::UkNino)),
    h("ni_number", NATIONAL_ID, Some(Kind::UkNino)),
    h("national_id", NATIONAL_ID, None),
    h("tax_id", NATIONAL_ID, None),
    h(
        "passport",
        "user.government_id.passport_number",
        Some(Kind::Passport),
    ),
    h(
        "driver_license",
        "user.government_id.drivers_license_number",
        None,
    ),
    h(
        "drivers_license",
        "user.government_id.drivers_license_number",
        None,
    ),
    h(
        "driving_licence",
        "user.government_id.drivers_license_number",
        None,
    ),
    h("iban", "user.financial.bank_account", Some(Kind::Iban)),
    h("bank_account", "user.financial.bank_account", None),
    h("account_number", "user.financial.bank_account", None),
    h(
        "credit_card",
        "user.financial.credit_card",
        Some(Kind::CreditCard),
    ),
    h(
        "card_number",
        "user.financial.credit_card",
        Some(Kind::CreditCard),
    ),
    h(
        "cc_number",
        "user.financial.credit_card",
        Some(Kind::CreditCard),
    ),
    exact("pan", "user.financial.credit_card", Some(Kind::CreditCard)),
    h("first_name", "user.name.first", None),
    h("firstname", "user.name.first", None),
    h("given_name", "user.name.first", None),
    h("forename", "user.name.first", None),
    h("fname", "user.name.first", None),
    h("last_name", "user.name.last", None),
    h("lastname", "user.name.last", None),
    h("surname", "user.name.last", None),
    h("family_name", "user.name.last", None),
    h("lname", "user.name.last", None),
    h("full_name", "user.name", None),
    h("fullname", "user.name", None),
    h("customer_name", "user.name", None),
    h("contact_name", "user.name", None),
    h("maiden_name", "user.name", None),
    exact("name", "user.name", None),
    h("job_title", "user.job_title", None),
    h("occupation", "user.job_title", None),
    h("profession", "user.job_title", None),
    h("employer", "user.workplace", None),
    h("workplace", "user.workplace", None),
    h("username", "user.account.username", None),
    h("user_name", "user.account.username", None),
    h("login", "user.account.username", None),
    h("password", "user.authorization.password", None),
    h("passwd", "user.authorization.password", None),
    h("pwd", "user.authorization.password", None),
    h("api_key", CREDENTIALS, Some(Kind::Secret)),
    h("secret", CREDENTIALS, None),
    h("access_token", CREDENTIALS, None),
    h("ip_address", "user.device.ip_address", Some(Kind::Ipv4)),
    h("ip", "user.device.ip_address", Some(Kind::Ipv4)),
    h("remote_addr", "user.device.ip_address", Some(Kind::Ipv4)),
    h("mac_address", DEVICE, Some(Kind::Mac)),
    h("device_id", DEVICE, None),
    h("imei", DEVICE, None),
    h("advertising_id", DEVICE, None),
    h("idfa", DEVICE, None),
    h("street", STREET, None),
    h("address", STREET, None),
    h("addr", STREET, None),
    h("zip", POSTAL, None),
    h("zipcode", POSTAL, None),
    h("postcode", POSTAL, None),
    h("postal_code", POSTAL, None),
    h("city", "user.contact.address.city", None),
    h("town", "user.contact.address.city", None),
    exact("state", "user.contact.address.state", None),
    exact("province", "user.contact.address.state", None),
    h("country", "user.contact.address.country", None),
    h("latitude", PRECISE, None),
    h("longitude", PRECISE, None),
    exact("lat", PRECISE, None),
    exact("lng", PRECISE, None),
    exact("lon", PRECISE, None),
    h("gender", "user.demographic.gender", None),
    exact("sex", "user.demographic.gender", None),
    exact("age", "user.demographic.age_range", None),
    h("marital_status", "user.demographic.marital_status", None),
    h("religion", "user.demographic.religious_belief", None),
    h("ethnicity", "user.demographic.race_ethnicity", None),
    h(
        "sexual_orientation",
        "user.demographic.sexual_orientation",
        None,
    ),
    h("diagnosis", "user.health_and_medical", None),
    h("medical", "user.health_and_medical", None),
    h("website", "user.contact.url", Some(Kind::Url)),
    h("homepage", "user.contact.url", Some(Kind::Url)),
];

/// What a column was classified as.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// The data category proposed (a taxonomy key).
    pub category: &'static str,
    /// The detector kind the values matched, if they did.
    pub kind: Option<Kind>,
    /// How likely the column holds that category, in `0..=1`.
    pub confidence: f32,
    /// The name hint that matched (its words), if any.
    pub hint: Option<&'static str>,
    /// Non-empty values looked at.
    pub sampled: usize,
    /// Values in which `kind` was found.
    pub matched: usize,
    /// Whether `kind` was found inside longer text rather than as the whole value.
    pub embedded: bool,
}

/// The name's words in lower case, joined by `_`: `customerEmail` and `Customer-E-Mail`
/// become `customer_email` and `customer_e_mail`.
pub fn words(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if c.is_alphanumeric() {
            let boundary = match prev {
                None => false,
                Some(p) if !p.is_alphanumeric() => true,
                Some(p) => {
                    (p.is_lowercase() && c.is_uppercase())
                        || (p.is_ascii_digit() != c.is_ascii_digit())
                }
            };
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// The first hint the name matches, and how strongly.
pub fn hint(name: &str) -> Option<(&'static Hint, f32)> {
    let w = words(name);
    if w.is_empty() {
        return None;
    }
    let padded = format!("_{w}_");
    HINTS.iter().find_map(|hint| {
        if w == hint.words {
            Some((hint, EXACT))
        } else if !hint.exact_only && padded.contains(&format!("_{}_", hint.words)) {
            Some((hint, PARTIAL))
        } else {
            None
        }
    })
}

/// How far a kind's values can be trusted to be what the kind says, when the column is
/// made of them.
fn reliability(kind: Kind) -> f32 {
    match kind {
        Kind::Email | Kind::CreditCard | Kind::Iban => 0.95,
        Kind::UsSsn | Kind::UkNino | Kind::NationalId | Kind::Mac => 0.9,
        Kind::DriversLicense | Kind::Passport => 0.7,
        Kind::Ipv4 | Kind::Ipv6 | Kind::Phone | Kind::UkPostcode | Kind::Secret => 0.85,
        Kind::Url | Kind::Person | Kind::StreetAddress => 0.6,
        Kind::UsZip | Kind::PostalCode | Kind::Age => 0.5,
        // Words that are also used about things other than people (`Italian food`).
        Kind::Location | Kind::Nationality | Kind::Religion | Kind::PoliticalGroup => 0.5,
        Kind::Organization | Kind::Title | Kind::JobTitle => 0.5,
        // Most dates in a database are not birth dates: a date column says little alone.
        Kind::Date => 0.3,
    }
}

/// Counts per kind over the sample.
#[derive(Default)]
struct Counts {
    whole: [usize; Kind::ALL.len()],
    inside: [usize; Kind::ALL.len()],
}

fn index(k: Kind) -> usize {
    Kind::ALL.iter().position(|x| *x == k).unwrap_or(0)
}

fn cut(v: &str) -> &str {
    if v.len() <= MAX_VALUE_BYTES {
        return v;
    }
    let mut e = MAX_VALUE_BYTES;
    while !v.is_char_boundary(e) {
        e -= 1;
    }
    &v[..e]
}

/// Classifies a column from its name and sampled values (`None` entries are SQL NULLs).
/// `None` when nothing suggests personal data.
pub fn classify<S: AsRef<str>>(name: &str, values: &[Option<S>]) -> Option<Classification> {
    let named = hint(name);
    // The name in front, as `customer email = value`: context for the detectors, but not a
    // cue that makes any capitalised value a person's name (as `name: Widget` would).
    let prefix = format!("{} = ", words(name).replace('_', " "));
    let mut counts = Counts::default();
    let mut sampled = 0usize;
    let mut distinct = std::collections::HashSet::new();
    let mut text = String::new();
    for v in values.iter().flatten() {
        let v = cut(v.as_ref().trim());
        if v.is_empty() {
            continue;
        }
        sampled += 1;
        if distinct.len() < 2 {
            distinct.insert(v.to_owned());
        }
        text.clear();
        text.push_str(&prefix);
        text.push_str(v);
        let mut seen = [0u8; Kind::ALL.len()];
        for f in scan(&text) {
            if f.end <= prefix.len() {
                continue;
            }
            let i = index(f.kind);
            let span = f.end - f.start.max(prefix.len());
            // "Whole": the finding covers at least 80% of the value.
            let whole = span * 5 >= v.len() * 4;
            seen[i] = seen[i].max(if whole { 2 } else { 1 });
        }
        for (i, s) in seen.iter().enumerate() {
            match s {
                2 => counts.whole[i] += 1,
                1 => counts.inside[i] += 1,
                _ => {}
            }
        }
    }
    let constant = sampled >= EXPECT_AFTER && distinct.len() < 2;

    // The best value evidence: a kind that makes up the column, else one found inside text.
    let mut by_value: Option<(Kind, f32, usize, bool)> = None;
    if sampled > 0 {
        for k in Kind::ALL {
            let i = index(k);
            let whole = counts.whole[i] as f32 / sampled as f32;
            let any = (counts.whole[i] + counts.inside[i]) as f32 / sampled as f32;
            let (score, matched, embedded) = if whole >= 0.5 {
                (whole * reliability(k), counts.whole[i], false)
            } else if any > 0.0 && (any >= 0.05 || reliability(k) >= 0.85) {
                // Free text (or a mixed column) holding this kind now and then still holds
                // it: one validated email among the sampled notes is enough to say so.
                (
                    (0.6 + 0.4 * (any * 4.0).min(1.0)) * reliability(k),
                    counts.whole[i] + counts.inside[i],
                    true,
                )
            } else {
                continue;
            };
            let score = if constant { score / 2.0 } else { score };
            if by_value.is_none_or(|(_, s, _, _)| score > s) {
                by_value = Some((k, score, matched, embedded));
            }
        }
    }

    let out = |category, kind, confidence: f32, hint, matched, embedded| Classification {
        category,
        kind,
        confidence: confidence.clamp(0.0, 1.0),
        hint,
        sampled,
        matched,
        embedded,
    };
    match (named, by_value) {
        (None, None) => None,
        (None, Some((k, s, m, e))) => Some(out(k.taxonomy(), Some(k), s, None, m, e)),
        (Some((hint, strength)), None) => {
            // A hint whose expected values never turned up is weak evidence.
            let strength = weakened(hint, strength, sampled);
            Some(out(
                hint.category,
                None,
                strength,
                Some(hint.words),
                0,
                false,
            ))
        }
        (Some((hint, strength)), Some((k, s, m, e))) => {
            let agree = hint.expect == Some(k)
                || agrees(hint.category, k.taxonomy())
                || (hint.expect == Some(Kind::Ipv4) && k == Kind::Ipv6);
            let strength = if agree {
                strength
            } else {
                weakened(hint, strength, sampled)
            };
            if agree {
                let c = 1.0 - (1.0 - strength) * (1.0 - s);
                Some(out(hint.category, Some(k), c, Some(hint.words), m, e))
            } else if s > strength {
                Some(out(k.taxonomy(), Some(k), s - 0.1, None, m, e))
            } else {
                Some(out(
                    hint.category,
                    None,
                    strength - 0.1,
                    Some(hint.words),
                    0,
                    false,
                ))
            }
        }
    }
}

/// A hint's strength, halved when it expects a kind of value that never turned up in a
/// sample of at least [`EXPECT_AFTER`] values.
fn weakened(hint: &Hint, strength: f32, sampled: usize) -> f32 {
    if hint.expect.is_some() && sampled >= EXPECT_AFTER {
        strength / 2.0
    } else {
        strength
    }
}

/// Whether two categories are the same or one is inside the other.
fn agrees(a: &str, b: &str) -> bool {
    let inside = |x: &str, y: &str| x == y || x.strip_prefix(y).is_some_and(|r| r.starts_with('.'));
    inside(a, b) || inside(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|s| Some((*s).to_owned())).collect()
    }

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("customerEmail"), "customer_email");
        assert_eq!(words("CUSTOMER_EMAIL"), "customer_email");
        assert_eq!(words("Customer-E-Mail "), "customer_e_mail");
        assert_eq!(words("addr2"), "addr_2");
        assert_eq!(words("__"), "");
    }

    #[test]
    fn hints_match_whole_words_only() {
        assert_eq!(hint("email").map(|h| h.0.category), Some(EMAIL));
        assert_eq!(hint("billingEmail").map(|h| h.1), Some(PARTIAL));
        assert_eq!(hint("dateOfBirth").map(|h| h.0.category), Some(DOB));
        // `tel` inside `hotel`, `name` inside `product_name`, `age` inside `page_age`: no.
        assert!(hint("hotel").is_none());
        assert!(hint("product_name").is_none());
        assert!(hint("page_age").is_none());
        assert_eq!(hint("name").map(|h| h.0.category), Some("user.name"));
        assert_eq!(
            hint("jobTitle").map(|h| h.0.category),
            Some("user.job_title")
        );
        assert_eq!(
            hint("EMPLOYER_NAME").map(|h| h.0.category),
            Some("user.workplace")
        );
    }

    #[test]
    fn obscure_names_are_classified_by_their_values() {
        let emails = some(&["ada@example.com", "grace@example.org", "alan@example.net"]);
        let c = classify("c7", &emails).unwrap();
        assert_eq!(c.category, EMAIL);
        assert_eq!(c.kind, Some(Kind::Email));
        assert_eq!((c.sampled, c.matched), (3, 3));
        assert!(c.confidence >= 0.9, "{c:?}");

        let ibans = some(&["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"]);
        assert_eq!(
            classify("x_ref2", &ibans).unwrap().category,
            "user.financial.bank_account"
        );
    }

    #[test]
    fn the_name_gives_context_to_weak_shapes() {
        let ssns = some(&[
            "078051120",
            "219099999",
            "123456789",
            "457555462",
            "536907823",
        ]);
        let c = classify("ssn", &ssns).unwrap();
        assert_eq!(c.category, NATIONAL_ID);
        assert_eq!(c.kind, Some(Kind::UsSsn));
        assert!(c.confidence > 0.9, "{c:?}");
        // The same numbers under an obscure name are not personal data.
        assert!(classify("qty", &ssns).is_none());
    }

    #[test]
    fn names_and_values_combine() {
        let phones = some(&["+44 20 7946 0958", "+1 415 555 0132", "+33 1 42 68 53 00"]);
        let c = classify("mobile", &phones).unwrap();
        assert_eq!(c.category, PHONE);
        assert!(c.confidence > 0.95, "{c:?}");
        // A name alone is a hint; its expected values never turning up weakens it.
        let flags = some(&["true", "false", "true", "true", "false"]);
        let c = classify("email_sent", &flags).unwrap();
        assert!(c.confidence < 0.5, "{c:?}");
        let dates = some(&[
            "2024-01-03",
            "2023-11-30",
            "2022-02-14",
            "2021-07-01",
            "2020-10-10",
        ]);
        let c = classify("email", &dates).unwrap();
        assert!(c.confidence < 0.5, "an email column of dates: {c:?}");
        // Values that bear the name out (`Ada` is a known given name) make it surer.
        let c = classify("first_name", &some(&["Ada", "Grace"])).unwrap();
        assert_eq!(c.category, "user.name.first");
        assert!(c.confidence > EXACT, "{c:?}");
    }

    #[test]
    fn dates_need_a_birth_name() {
        let dates = some(&[
            "2024-01-03",
            "2023-11-30",
            "2022-02-14",
            "2021-07-01",
            "2020-10-10",
        ]);
        assert!(classify("created_at", &dates).is_none_or(|c| c.confidence < 0.5));
        let c = classify("dob", &dates).unwrap();
        assert_eq!(c.category, DOB);
        assert!(c.confidence > 0.8, "{c:?}");
    }

    #[test]
    fn free_text_holding_personal_data_is_found() {
        let mut notes = some(&[["called back", "left a message", "all good"]; 6].concat());
        notes.push(Some(
            "customer wrote from ada@example.com about a refund".into(),
        ));
        let c = classify("notes", &notes).unwrap();
        assert_eq!(c.kind, Some(Kind::Email));
        assert!(c.embedded);
        assert!(c.confidence >= 0.5, "{c:?}");
    }

    #[test]
    fn decoys_and_defaults_are_not_personal_data() {
        let decoys = some(&[
            "550e8400-e29b-41d4-a716-446655440000",
            "v1.2.3",
            "ORD-2024-000123",
            "2024-01-03T10:00:00Z",
            "1Z999AA10123456784",
        ]);
        assert!(classify("ref", &decoys).is_none_or(|c| c.confidence < 0.5));
        let same = some(&["noreply@example.com"; 8]);
        let c = classify("sender", &same).unwrap();
        assert!(c.confidence < 0.5, "{c:?}");
        assert!(classify("c1", &[None::<String>, None]).is_none());
        assert!(classify("", &some(&["", "  "])).is_none());
    }

    #[test]
    fn long_and_odd_values_do_not_break_it() {
        let long = "é".repeat(MAX_VALUE_BYTES);
        let c = classify("blob", &some(&[&long, "\u{0}", "ada@example.com"]));
        assert!(c.is_some());
    }
}
