//! Field types, and the validation and normalisation of values by type.

use std::net::IpAddr;

/// A national identifier scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NationalIdScheme {
    /// US Social Security Number.
    UsSsn,
    /// UK National Insurance number.
    UkNino,
}

/// The type of a vault field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An email address.
    Email,
    /// A phone number, stored in E.164.
    Phone,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339.
    Datetime,
    /// A finite number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A payment card number (Luhn-checked).
    CardNumber,
    /// An IBAN (length per country and mod-97 checked).
    Iban,
    /// A national identifier of a given scheme.
    NationalId(NationalIdScheme),
    /// An IPv4 or IPv6 address.
    IpAddress,
    /// A postal address: an object of `lines` (1 to 4 strings), `city`, `region`,
    /// `postal_code` and `country` (ISO 3166-1 alpha-2), of which `lines`, `city` and
    /// `country` are required.
    PostalAddress,
    /// Any JSON value (kept in a canonical form: object keys sorted, no spaces).
    Json,
}

/// Why a value was refused: the rule it broke. Never holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub &'static str);

/// The longest text value accepted, in bytes.
pub const MAX_TEXT: usize = 64 * 1024;

impl FieldType {
    /// Every type, in a stable order.
    pub const ALL: [FieldType; 14] = [
        FieldType::Text,
        FieldType::Email,
        FieldType::Phone,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Number,
        FieldType::Boolean,
        FieldType::CardNumber,
        FieldType::Iban,
        FieldType::NationalId(NationalIdScheme::UsSsn),
        FieldType::NationalId(NationalIdScheme::UkNino),
        FieldType::IpAddress,
        FieldType::PostalAddress,
        FieldType::Json,
    ];

    /// Validates `raw` and returns its normal form (what is stored, indexed and compared).
    pub fn normalize(self, raw: &str) -> Result<String, ValueError> {
        match self {
            FieldType::Text => text(raw),
            FieldType::Email => email(raw),
            FieldType::Phone => phone(raw),
            FieldType::Date => date(raw),
            FieldType::Datetime => datetime(raw),
            FieldType::Number => number(raw),
            FieldType::Boolean => boolean(raw),
            FieldType::CardNumber => card(raw),
            FieldType::Iban => iban(raw),
            FieldType::NationalId(NationalIdScheme::UsSsn) => us_ssn(raw),
            FieldType::NationalId(NationalIdScheme::UkNino) => uk_nino(raw),
            FieldType::IpAddress => ip(raw),
            FieldType::PostalAddress => postal_address(&parse_json(raw)?),
            FieldType::Json => json(&parse_json(raw)?),
        }
    }

    /// Validates a value as it arrives in JSON and returns its normal form. Strings are
    /// accepted for every type; numbers for `number` (and digit-shaped types), booleans for
    /// `boolean`, objects for `postal_address`, anything for `json`.
    pub fn normalize_json(self, v: &serde_json::Value) -> Result<String, ValueError> {
        use serde_json::Value as J;
        match (self, v) {
            (FieldType::Json, v) => json(v),
            (FieldType::PostalAddress, v @ J::Object(_)) => postal_address(v),
            (FieldType::PostalAddress, _) => Err(ValueError("postal_address: must be an object")),
            (FieldType::Boolean, J::Bool(b)) => Ok(b.to_string()),
            (FieldType::Number | FieldType::Phone | FieldType::CardNumber, J::Number(n)) => {
                self.normalize(&n.to_string())
            }
            (_, J::String(s)) => self.normalize(s),
            (_, J::Null) => Err(ValueError(
                "value: null is not a value (leave the field out)",
            )),
            _ => Err(ValueError("value: wrong JSON type for the field's type")),
        }
    }

    /// A normalised value as JSON: numbers and booleans as such, addresses and JSON values
    /// parsed, everything else a string.
    pub fn to_json(self, normalized: &str) -> serde_json::Value {
        use serde_json::Value as J;
        let parsed = match self {
            FieldType::Number | FieldType::Boolean | FieldType::PostalAddress | FieldType::Json => {
                serde_json::from_str(normalized).ok()
            }
            _ => None,
        };
        parsed.unwrap_or_else(|| J::String(normalized.to_owned()))
    }
}

/// Deserializes a JSON object of field values, refusing a field given twice (`serde_json`
/// would keep the last one silently, so `{"email": "a@x", "email": "b@y"}` stored `b@y`).
pub fn unique_values<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, D::Error> {
    struct Fields;
    impl<'de> serde::de::Visitor<'de> for Fields {
        type Value = std::collections::BTreeMap<String, serde_json::Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object of field values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut m: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = std::collections::BTreeMap::new();
            while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
                if out.insert(k, v).is_some() {
                    return Err(serde::de::Error::custom("a field is given twice"));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_map(Fields)
}

/// Whether a JSON text has an object with a key given twice, at any depth (`false` for a
/// text that is not JSON: its parser reports that).
pub fn has_duplicate_keys(json: &[u8]) -> bool {
    use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};
    const DUPLICATE: &str = "a key is given twice";
    struct Unique;
    impl<'de> DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Unique)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
            while a.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k) {
                    return Err(A::Error::custom(DUPLICATE));
                }
                m.next_value_seed(Unique)?;
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    Unique
        .deserialize(&mut de)
        .is_err_and(|e| e.to_string().starts_with(DUPLICATE))
}

/// The largest JSON value accepted, in bytes of its canonical form.
pub const MAX_JSON: usize = 64 * 1024;

fn parse_json(raw: &str) -> Result<serde_json::Value, ValueError> {
    if raw.len() > MAX_JSON {
        return Err(ValueError("json: longer than 65536 bytes"));
    }
    serde_json::from_str(raw).map_err(|_| ValueError("json: not valid JSON"))
}

/// The value with every object's keys in sorted order (serde_json keeps insertion order when
/// another crate in the build enables its `preserve_order` feature, so sort explicitly).
fn sorted(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            serde_json::Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn json(v: &serde_json::Value) -> Result<String, ValueError> {
    let s = serde_json::to_string(&sorted(v)).map_err(|_| ValueError("json: not serialisable"))?;
    if s.len() > MAX_JSON {
        return Err(ValueError("json: longer than 65536 bytes"));
    }
    Ok(s)
}

fn address_part(v: Option<&serde_json::Value>, max: usize) -> Result<Option<String>, ValueError> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t.len() > max || t.chars().any(char::is_control) {
                return Err(ValueError(
                    "postal_address: parts are non-empty single-line strings of limited length",
                ));
            }
            Ok(Some(t.to_owned()))
        }
        Some(_) => Err(ValueError("postal_address: parts are strings")),
    }
}

fn postal_address(v: &serde_json::Value) -> Result<String, ValueError> {
    const KEYS: [&str; 5] = ["lines", "city", "region", "postal_code", "country"];
    let serde_json::Value::Object(m) = v else {
        return Err(ValueError("postal_address: must be an object"));
    };
    if m.keys().any(|k| !KEYS.contains(&k.as_str())) {
        return Err(ValueError(
            "postal_address: only lines, city, region, postal_code and country are allowed",
        ));
    }
    let lines = match m.get("lines") {
        Some(serde_json::Value::Array(a)) if (1..=4).contains(&a.len()) => a
            .iter()
            .map(|l| address_part(Some(l), 200)?.ok_or(ValueError("postal_address: empty line")))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(ValueError("postal_address: lines must be 1 to 4 strings")),
    };
    let city =
        address_part(m.get("city"), 100)?.ok_or(ValueError("postal_address: city is required"))?;
    let country = address_part(m.get("country"), 2)?
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| is_country(c))
        .ok_or(ValueError(
            "postal_address: country must be an ISO 3166-1 alpha-2 code",
        ))?;
    let mut out = serde_json::Map::new();
    out.insert("lines".into(), lines.into());
    out.insert("city".into(), city.into());
    if let Some(r) = address_part(m.get("region"), 100)? {
        out.insert("region".into(), r.into());
    }
    if let Some(p) = address_part(m.get("postal_code"), 20)? {
        out.insert("postal_code".into(), p.to_ascii_uppercase().into());
    }
    out.insert("country".into(), country.into());
    json(&serde_json::Value::Object(out))
}

fn text(raw: &str) -> Result<String, ValueError> {
    if raw.len() > MAX_TEXT {
        return Err(ValueError("text: longer than 65536 bytes"));
    }
    if raw
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(ValueError("text: contains a control character"));
    }
    Ok(raw.to_owned())
}

fn email(raw: &str) -> Result<String, ValueError> {
    let v = raw.trim();
    if v.len() > 254 {
        return Err(ValueError("email: longer than 254 characters"));
    }
    let Some((local, domain)) = v.rsplit_once('@') else {
        return Err(ValueError("email: must have the form local@domain"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(ValueError(
            "email: the local part must have 1 to 64 characters",
        ));
    }
    if local.chars().any(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '@' | '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
            )
    }) || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(ValueError(
            "email: the local part has a character or dot placement that is not allowed",
        ));
    }
    let domain = domain.to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2
        || labels.iter().any(|l| {
            l.is_empty()
                || l.len() > 63
                || l.starts_with('-')
                || l.ends_with('-')
                || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    {
        return Err(ValueError(
            "email: the domain must be dot-separated labels of letters, digits and hyphens",
        ));
    }
    Ok(format!("{local}@{domain}"))
}

fn phone(raw: &str) -> Result<String, ValueError> {
    let v = raw.trim();
    let Some(rest) = v.strip_prefix('+') else {
        return Err(ValueError(
            "phone: must be in international form, starting with + and the country code",
        ));
    };
    let mut digits = String::with_capacity(15);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => {
                return Err(ValueError(
                    "phone: may hold only digits, spaces, dots, hyphens and parentheses",
                ));
            }
        }
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(ValueError("phone: E.164 numbers have 8 to 15 digits"));
    }
    if digits.starts_with('0') {
        return Err(ValueError("phone: country codes do not start with 0"));
    }
    Ok(format!("+{digits}"))
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn date(raw: &str) -> Result<String, ValueError> {
    let v = raw.trim();
    let b = v.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(ValueError("date: must be YYYY-MM-DD"));
    }
    let y: i32 = v[..4]
        .parse()
        .map_err(|_| ValueError("date: must be YYYY-MM-DD"))?;
    let m: u32 = v[5..7]
        .parse()
        .map_err(|_| ValueError("date: must be YYYY-MM-DD"))?;
    let d: u32 = v[8..]
        .parse()
        .map_err(|_| ValueError("date: must be YYYY-MM-DD"))?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || y == 0 {
        return Err(ValueError("date: no such calendar day"));
    }
    Ok(v.to_owned())
}

fn datetime(raw: &str) -> Result<String, ValueError> {
    let raw = raw.trim();
    let t: jiff::Timestamp = raw.parse().map_err(|_| {
        ValueError("datetime: must be RFC 3339 with an offset, e.g. 2026-01-31T12:00:00Z")
    })?;
    // RFC 3339 allows a leap second (`23:59:60Z`); stored, it would become :59 silently.
    if raw.get(16..19) == Some(":60") {
        return Err(ValueError(
            "datetime: a leap second (:60) cannot be stored exactly",
        ));
    }
    Ok(t.to_string())
}

/// The most significant digits a `number` keeps: every decimal of up to 15 significant digits
/// survives a 64-bit float exactly; more would be changed without a word.
const NUMBER_DIGITS: usize = 15;

fn number(raw: &str) -> Result<String, ValueError> {
    let v = raw.trim();
    let n: f64 = v.parse().map_err(|_| ValueError("number: not a number"))?;
    if !n.is_finite() || v.eq_ignore_ascii_case("inf") || v.to_ascii_lowercase().contains("nan") {
        return Err(ValueError("number: must be finite"));
    }
    let mantissa = v.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if digits.trim_start_matches('0').trim_end_matches('0').len() > NUMBER_DIGITS {
        return Err(ValueError(
            "number: more than 15 significant digits (they would not be kept exactly)",
        ));
    }
    Ok(n.to_string())
}

fn boolean(raw: &str) -> Result<String, ValueError> {
    match raw.trim() {
        "true" => Ok("true".into()),
        "false" => Ok("false".into()),
        _ => Err(ValueError("boolean: must be true or false")),
    }
}

fn digits_only(raw: &str, allowed_separators: &[char]) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for c in raw.trim().chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if !allowed_separators.contains(&c) {
            return None;
        }
    }
    Some(out)
}

/// Whether a digit string passes the Luhn check.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The ISO 3166-1 alpha-2 codes officially assigned (249), and `XK` (Kosovo: user-assigned,
/// but in use by postal and banking systems, IBANs included).
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ \
    BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ \
    CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR \
    GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU \
    ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
    LA LB LC LI LK LR LS LT LU LV LY \
    MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
    NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA \
    RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
    TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ \
    VA VC VE VG VI VN VU WF WS XK YE YT ZA ZM ZW";

/// Whether `code` is a country's ISO 3166-1 alpha-2 code (upper case), see [`COUNTRIES`].
pub fn is_country(code: &str) -> bool {
    code.len() == 2 && COUNTRIES.split_ascii_whitespace().any(|c| c == code)
}

fn card(raw: &str) -> Result<String, ValueError> {
    let d = digits_only(raw, &[' ', '-']).ok_or(ValueError(
        "card_number: may hold only digits, spaces and hyphens",
    ))?;
    if !(12..=19).contains(&d.len()) {
        return Err(ValueError("card_number: must have 12 to 19 digits"));
    }
    if !luhn_valid(&d) {
        return Err(ValueError("card_number: fails the Luhn check"));
    }
    // ISO/IEC 7812: the first digit is the major industry; 0 is no card network's.
    if d.starts_with('0') {
        return Err(ValueError(
            "card_number: no card network issues numbers starting with 0",
        ));
    }
    Ok(d)
}

/// IBAN lengths per country (ISO 13616 registry, as published by SWIFT).
/// The length of an IBAN of a country (ISO 3166 alpha-2, upper case), if the country uses
/// IBANs.
pub fn iban_length(country: &str) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(c, _)| *c == country)
        .map(|(_, len)| *len)
}

const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

fn iban(raw: &str) -> Result<String, ValueError> {
    let v: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if !v.bytes().all(|b| b.is_ascii_alphanumeric()) || v.len() < 4 {
        return Err(ValueError(
            "iban: must be a country code, two check digits and the account letters and digits",
        ));
    }
    let country = &v[..2];
    let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == country) else {
        return Err(ValueError("iban: unknown country code"));
    };
    if v.len() != *len {
        return Err(ValueError("iban: wrong length for its country"));
    }
    if !v[2..4].bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError("iban: the check digits must be digits"));
    }
    // ISO 7064 mod 97-10 over the rearranged string, letters as 10..35, computed piecewise.
    let mut rem = 0u32;
    for b in v[4..].bytes().chain(v[..4].bytes()) {
        let n = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if n >= 10 {
            (rem * 100 + n) % 97
        } else {
            (rem * 10 + n) % 97
        };
    }
    if rem != 1 {
        return Err(ValueError("iban: fails the mod-97 check"));
    }
    Ok(v)
}

fn us_ssn(raw: &str) -> Result<String, ValueError> {
    let d = digits_only(raw, &['-', ' '])
        .ok_or(ValueError("national_id.us_ssn: must be ###-##-####"))?;
    if d.len() != 9 {
        return Err(ValueError("national_id.us_ssn: must have 9 digits"));
    }
    let (area, group, serial) = (&d[..3], &d[3..5], &d[5..]);
    if area == "000" || area == "666" || area.starts_with('9') {
        return Err(ValueError(
            "national_id.us_ssn: the area number is never issued",
        ));
    }
    if group == "00" || serial == "0000" {
        return Err(ValueError(
            "national_id.us_ssn: the group or serial number is never issued",
        ));
    }
    Ok(format!("{area}-{group}-{serial}"))
}

fn uk_nino(raw: &str) -> Result<String, ValueError> {
    let v: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let b = v.as_bytes();
    if b.len() != 9
        || !b[..2].iter().all(u8::is_ascii_uppercase)
        || !b[2..8].iter().all(u8::is_ascii_digit)
    {
        return Err(ValueError(
            "national_id.uk_nino: must be two letters, six digits and a letter A to D",
        ));
    }
    if !matches!(b[8], b'A'..=b'D') {
        return Err(ValueError(
            "national_id.uk_nino: the suffix must be A, B, C or D",
        ));
    }
    if b"DFIQUV".contains(&b[0]) || b"DFIOQUV".contains(&b[1]) {
        return Err(ValueError(
            "national_id.uk_nino: the prefix uses a letter that is never issued",
        ));
    }
    if ["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&&v[..2]) {
        return Err(ValueError(
            "national_id.uk_nino: the prefix is never issued",
        ));
    }
    Ok(v)
}

fn ip(raw: &str) -> Result<String, ValueError> {
    raw.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical().to_string())
        .map_err(|_| ValueError("ip_address: not an IPv4 or IPv6 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(t: FieldType, raw: &str, want: &str) {
        assert_eq!(t.normalize(raw).as_deref(), Ok(want), "{t:?} {raw:?}");
    }

    fn bad(t: FieldType, raw: &str) {
        let e = t.normalize(raw).expect_err(raw);
        if raw.trim().len() >= 3 {
            assert!(!e.0.contains(raw.trim()), "the error echoes the value: {e}");
        }
    }

    #[test]
    fn emails() {
        ok(
            FieldType::Email,
            " Jane.Doe+x@Example.COM ",
            "Jane.Doe+x@example.com",
        );
        for b in [
            "",
            "jane",
            "@example.com",
            "jane@",
            "jane@example",
            "ja ne@example.com",
            "jane@exa_mple.com",
            ".jane@example.com",
            "ja..ne@example.com",
            "jane@-example.com",
            "jane@example..com",
        ] {
            bad(FieldType::Email, b);
        }
    }

    #[test]
    fn phones_normalise_to_e164() {
        ok(FieldType::Phone, "+44 20 7946 0958", "+442079460958");
        ok(FieldType::Phone, "+1 (415) 555-0132", "+14155550132");
        for b in [
            "020 7946 0958",
            "+12",
            "+0123456789",
            "+44 20 7946 0958 ext 2",
            "+1234567890123456",
        ] {
            bad(FieldType::Phone, b);
        }
    }

    #[test]
    fn cards_are_luhn_checked() {
        ok(
            FieldType::CardNumber,
            "4111 1111 1111 1111",
            "4111111111111111",
        );
        ok(
            FieldType::CardNumber,
            "5500-0000-0000-0004",
            "5500000000000004",
        );
        for b in ["4111 1111 1111 1112", "4111", "4111x111111111111", ""] {
            bad(FieldType::CardNumber, b);
        }
    }

    #[test]
    fn ibans_check_length_and_mod_97() {
        ok(
            FieldType::Iban,
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
        );
        ok(
            FieldType::Iban,
            "de89370400440532013000",
            "DE89370400440532013000",
        );
        ok(FieldType::Iban, "NO9386011117947", "NO9386011117947");
        for b in [
            "GB82 WEST 1234 5698 7654 33",
            "GB82WEST123456987654",
            "XX82WEST12345698765432",
            "GB8XWEST12345698765432",
            "GB82-WEST",
        ] {
            bad(FieldType::Iban, b);
        }
    }

    #[test]
    fn ssns_exclude_ranges_never_issued() {
        let ssn = FieldType::NationalId(NationalIdScheme::UsSsn);
        ok(ssn, "123-45-6789", "123-45-6789");
        ok(ssn, "123456789", "123-45-6789");
        for b in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "12-345-678",
            "123-45-678a",
        ] {
            bad(ssn, b);
        }
    }

    #[test]
    fn ninos_follow_the_issuing_rules() {
        let nino = FieldType::NationalId(NationalIdScheme::UkNino);
        ok(nino, "ab 12 34 56 c", "AB123456C");
        for b in [
            "AB123456E",
            "DA123456A",
            "AO123456A",
            "GB123456A",
            "AB12345C",
            "A1123456C",
        ] {
            bad(nino, b);
        }
    }

    #[test]
    fn dates_and_times() {
        ok(FieldType::Date, "2024-02-29", "2024-02-29");
        for b in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-01",
            "01/02/2024",
            "0000-01-01",
            "2024-04-31",
        ] {
            bad(FieldType::Date, b);
        }
        ok(
            FieldType::Datetime,
            "2026-01-31T12:00:00+01:00",
            "2026-01-31T11:00:00Z",
        );
        bad(FieldType::Datetime, "2026-01-31 12:00");
        bad(FieldType::Datetime, "2016-12-31T23:59:60Z");
    }

    #[test]
    fn countries_are_iso_3166_and_cards_have_an_industry() {
        assert_eq!(super::COUNTRIES.split_ascii_whitespace().count(), 250);
        for c in ["GB", "US", "DE", "XK", "AX", "ZW"] {
            assert!(super::is_country(c), "{c}");
        }
        for c in ["XX", "UK", "EU", "gb", "G", "GBR", ""] {
            assert!(!super::is_country(c), "{c}");
        }
        let a = FieldType::PostalAddress;
        let v = serde_json::json!({"lines": ["1 Main St"], "city": "Springfield", "country": "XX"});
        assert!(a.normalize_json(&v).is_err());
        bad(FieldType::CardNumber, "0000 0000 0000 0000");
        bad(FieldType::CardNumber, "0000000000000018");
        ok(
            FieldType::CardNumber,
            "4111 1111 1111 1111",
            "4111111111111111",
        );
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        use super::has_duplicate_keys as dup;
        assert!(!dup(br#"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#));
        assert!(dup(br#"{"a":1,"a":1}"#));
        assert!(dup(br#"{"x":[1,{"k":null,"k":true}]}"#));
        assert!(dup(br#"{"\u0061":1,"a":2}"#), "escapes are decoded first");
        assert!(!dup(b"not json"), "the parser reports that");
        let fields: Result<std::collections::BTreeMap<String, serde_json::Value>, _> =
            super::unique_values(&mut serde_json::Deserializer::from_str(
                r#"{"email":"a@example.com","email":"b@example.com"}"#,
            ));
        assert!(fields.is_err());
    }

    #[test]
    fn numbers_booleans_ips_and_text() {
        ok(FieldType::Number, " 42.50 ", "42.5");
        for b in [
            "NaN",
            "inf",
            "1e400",
            "forty",
            "123456789012345678901234567890",
            "0.1234567890123456",
        ] {
            bad(FieldType::Number, b);
        }
        ok(FieldType::Number, "123456789012345", "123456789012345");
        ok(FieldType::Number, "1.5e21", "1500000000000000000000");
        ok(FieldType::Number, "-0.000120", "-0.00012");
        assert!(
            FieldType::Number
                .normalize_json(&serde_json::json!(123456789012345678901234567890.0))
                .is_err(),
            "a JSON number that lost digits on the way in"
        );
        ok(FieldType::Boolean, "true", "true");
        bad(FieldType::Boolean, "yes");
        ok(FieldType::IpAddress, "::ffff:192.0.2.1", "192.0.2.1");
        ok(FieldType::IpAddress, "2001:DB8::1", "2001:db8::1");
        bad(FieldType::IpAddress, "300.1.1.1");
        ok(FieldType::Text, "line one\nline two", "line one\nline two");
        bad(FieldType::Text, "bell\u{7}");
        assert!(
            FieldType::Text
                .normalize(&"x".repeat(MAX_TEXT + 1))
                .is_err()
        );
    }

    #[test]
    fn postal_addresses_and_json_take_a_canonical_form() {
        use serde_json::json;
        let a = FieldType::PostalAddress;
        let v = json!({"country": "gb", "city": " London ", "lines": ["1 Main St"], "postal_code": "sw1a 1aa"});
        assert_eq!(
            a.normalize_json(&v).as_deref(),
            Ok(
                r#"{"city":"London","country":"GB","lines":["1 Main St"],"postal_code":"SW1A 1AA"}"#
            )
        );
        for bad in [
            json!({"city": "London", "country": "GB"}),
            json!({"lines": ["x"], "city": "London", "country": "GBR"}),
            json!({"lines": ["x"], "city": "London", "country": "GB", "phone": "1"}),
            json!({"lines": [1], "city": "London", "country": "GB"}),
            json!("1 Main St, London"),
        ] {
            assert!(a.normalize_json(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            FieldType::Json
                .normalize_json(&json!({"b": 1, "a": [true]}))
                .as_deref(),
            Ok(r#"{"a":[true],"b":1}"#)
        );
        assert_eq!(FieldType::Json.to_json(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(
            FieldType::Number.normalize_json(&json!(42.50)).as_deref(),
            Ok("42.5")
        );
        assert_eq!(FieldType::Number.to_json("42.5"), json!(42.5));
        assert_eq!(
            FieldType::Boolean.normalize_json(&json!(false)).as_deref(),
            Ok("false")
        );
        assert!(FieldType::Email.normalize_json(&json!(3)).is_err());
        assert!(FieldType::Email.normalize_json(&json!(null)).is_err());
        assert!(FieldType::Json.normalize("{").is_err());
    }
}
