//! Personal-data detectors for text: hand-written byte scanners that run in linear time and
//! validate what they can (checksums, issuer ranges, numbering plans, calendar dates).
//!
//! [`scan`] runs every detector over a text and returns non-overlapping [`Finding`]s sorted by
//! start. Each finding carries its [`Kind`], a byte span, a confidence in `0..=1` and the name
//! of the detector that produced it.
//!
//! Architecture invariant: this crate does no IO, allocates only per candidate, and never
//! panics on any input. Every detector starts its spans on an ASCII byte and ends them on an
//! ASCII byte or after a whole run of non-ASCII bytes (a name like `José`), never inside a
//! multi-byte UTF-8 sequence, so every span lies on `char` boundaries.
//!
//! Context: a detector may look at the ~40 bytes before a match ([`CONTEXT_WINDOW`]) for
//! context words (e.g. "card", "iban", "phone", "ssn"), matched case-insensitively as whole
//! words (an optional plural `s` is allowed). A context word raises the confidence; a few
//! weak shapes (an undashed SSN, an unbroken phone number, a ZIP code) are only reported with
//! context.

mod bytes;
pub mod column;
mod detect;
mod lexicon;
pub mod redact;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

/// How many bytes before a match are searched for context words.
pub const CONTEXT_WINDOW: usize = 40;

/// The type of personal data (or secret) a finding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An email address.
    Email,
    /// A telephone number.
    Phone,
    /// A payment card number.
    CreditCard,
    /// An International Bank Account Number.
    Iban,
    /// A US Social Security Number.
    UsSsn,
    /// A UK National Insurance number.
    UkNino,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A MAC (hardware) address.
    Mac,
    /// An http or https URL.
    Url,
    /// A calendar date (a possible date of birth).
    Date,
    /// A US ZIP code.
    UsZip,
    /// A UK postcode.
    UkPostcode,
    /// A secret: an API key, token, private key or high-entropy assigned value.
    Secret,
    /// A person's age, in words that say it is one.
    Age,
    /// A person's name, where the text says it is one (after a title or "my name is").
    Person,
    /// A driving licence number, after words that say it is one.
    DriversLicense,
    /// A passport number, after words that say it is one.
    Passport,
    /// Another country's national identity number, validated by its check digit or letter
    /// (Spanish DNI and NIE, Italian codice fiscale, Finnish henkilötunnus; with their words:
    /// Dutch BSN, Polish PESEL, Indian Aadhaar, UK NHS number, Canadian SIN).
    NationalId,
    /// A street address (a house number and a named street) or a flat or suite number.
    StreetAddress,
    /// A country, state, province or large city, by name.
    Location,
    /// A nationality or people (`Italian`, `Cape Verdeans`): a proxy for ethnic origin.
    Nationality,
    /// A religion or belief (`Muslim`, `Catholic`, `atheist`).
    Religion,
    /// A political affiliation (`Democrat`, `Socialist`).
    PoliticalGroup,
    /// An organisation (an employer, a bank), by the legal form or sector word ending its name.
    Organization,
    /// An honorific before a name (`Mr.`, `Mrs.`, `Dr.`).
    Title,
    /// A job title where the words around it say it is one (`as Applications engineer`).
    JobTitle,
    /// Another country's postal code after a postal-code word (`ZIP: 00-423`, `postal code
    /// 6250-120`).
    PostalCode,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 28] = [
        Kind::Email,
        Kind::Phone,
        Kind::CreditCard,
        Kind::Iban,
        Kind::UsSsn,
        Kind::UkNino,
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Mac,
        Kind::Url,
        Kind::Date,
        Kind::UsZip,
        Kind::UkPostcode,
        Kind::Secret,
        Kind::Age,
        Kind::Person,
        Kind::DriversLicense,
        Kind::Passport,
        Kind::NationalId,
        Kind::StreetAddress,
        Kind::Location,
        Kind::Nationality,
        Kind::Religion,
        Kind::PoliticalGroup,
        Kind::Organization,
        Kind::Title,
        Kind::JobTitle,
        Kind::PostalCode,
    ];

    /// The stable snake_case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Phone => "phone",
            Kind::CreditCard => "credit_card",
            Kind::Iban => "iban",
            Kind::UsSsn => "us_ssn",
            Kind::UkNino => "uk_nino",
            Kind::Ipv4 => "ipv4",
            Kind::Ipv6 => "ipv6",
            Kind::Mac => "mac",
            Kind::Url => "url",
            Kind::Date => "date",
            Kind::UsZip => "us_zip",
            Kind::UkPostcode => "uk_postcode",
            Kind::Secret => "secret",
            Kind::Age => "age",
            Kind::Person => "person",
            Kind::DriversLicense => "drivers_license",
            Kind::Passport => "passport",
            Kind::NationalId => "national_id",
            Kind::StreetAddress => "street_address",
            Kind::Location => "location",
            Kind::Nationality => "nationality",
            Kind::Religion => "religion",
            Kind::PoliticalGroup => "political_group",
            Kind::Organization => "organization",
            Kind::Title => "title",
            Kind::JobTitle => "job_title",
            Kind::PostalCode => "postal_code",
        }
    }

    /// Parses [`Kind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The fideslang data category key this kind maps to (a key of the core's taxonomy).
    ///
    /// Dates map to `user.demographic.date_of_birth`: the taxonomy has no generic date
    /// category, and dates are reported because they may be birth dates (the confidence is
    /// high only with birth context). Nationalities map to `user.demographic.race_ethnicity`,
    /// the taxonomy's category for ethnic origin (a special category under GDPR Art. 9) that
    /// a nationality often stands in for; an honorific to `user.name`, as the part of a
    /// name that says how a person is addressed.
    pub fn taxonomy(self) -> &'static str {
        match self {
            Kind::Email => "user.contact.email",
            Kind::Phone => "user.contact.phone_number",
            Kind::CreditCard => "user.financial.credit_card",
            Kind::Iban => "user.financial.bank_account",
            Kind::UsSsn | Kind::UkNino | Kind::NationalId => {
                "user.government_id.national_identification_number"
            }
            Kind::Ipv4 | Kind::Ipv6 => "user.device.ip_address",
            Kind::Mac => "user.device.device_id",
            Kind::Url => "user.contact.url",
            Kind::Date => "user.demographic.date_of_birth",
            Kind::UsZip | Kind::UkPostcode | Kind::PostalCode => "user.contact.address.postal_code",
            Kind::StreetAddress => "user.contact.address.street",
            Kind::Secret => "user.authorization.credentials",
            Kind::Age => "user.demographic.age_range",
            Kind::Person => "user.name",
            Kind::DriversLicense => "user.government_id.drivers_license_number",
            Kind::Passport => "user.government_id.passport_number",
            Kind::Location => "user.location.imprecise",
            Kind::Nationality => "user.demographic.race_ethnicity",
            Kind::Religion => "user.demographic.religious_belief",
            Kind::PoliticalGroup => "user.demographic.political_opinion",
            Kind::Organization => "user.workplace",
            Kind::Title => "user.name",
            Kind::JobTitle => "user.job_title",
        }
    }
}

/// One match of a detector in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What was found.
    pub kind: Kind,
    /// The byte offset where the match starts (on a `char` boundary).
    pub start: usize,
    /// The byte offset just past the match (on a `char` boundary).
    pub end: usize,
    /// How likely the match is what `kind` says, in `0..=1`.
    pub confidence: f32,
    /// The name of the detector that produced the match.
    pub detector: &'static str,
    /// Whether this is only a part of the match: what a finding that lost an overlap held
    /// outside the findings kept ([`scan_covering`] only; [`scan`] never answers one).
    pub part: bool,
}

impl Finding {
    /// The matched text, given the text that was scanned.
    pub fn text<'a>(&self, scanned: &'a str) -> Option<&'a str> {
        scanned.get(self.start..self.end)
    }
}

/// Runs every detector over `text` and returns the findings sorted by start.
///
/// Overlapping findings are resolved: the higher-confidence one is kept, ties go to the
/// longer span, then to the earlier one. Runs in time linear in the length of `text` (plus
/// `n log n` in the number of findings).
pub fn scan(text: &str) -> Vec<Finding> {
    resolve(candidates(text))
}

/// Every detector's findings in `text`, overlapping.
fn candidates(text: &str) -> Vec<Finding> {
    let mut all = Vec::new();
    // Escaped line breaks and tabs (`\n` in a JSON string or a log line) separate words like
    // the characters they stand for; blanking them keeps every byte offset.
    let blanked = bytes::blank_escapes(text.as_bytes());
    detect::run_all(blanked.as_deref().unwrap_or(text.as_bytes()), &mut all);
    all
}

/// Like [`scan`], for redaction: findings below `min` confidence are left out first, then
/// overlaps are resolved exactly as [`scan`] does, and a finding that lost is not dropped whole:
/// each part of its span that no kept finding (nor an earlier part) covers and that holds a
/// letter or digit is kept too, as a finding of its kind marked [`Finding::part`]. Redacting
/// every finding returned leaves nothing of either in clear (the path of
/// `https://jane@example.com/reset?t=…` stays a URL's when the email inside it wins), and
/// each part still gets its own kind's operator. The findings do not overlap and are sorted
/// by start; every finding [`scan`] keeps at or above `min` is among them.
pub fn scan_covering(text: &str, min: f32) -> Vec<Finding> {
    let mut all = candidates(text);
    all.retain(|f| f.confidence >= min);
    settle(all, Some(text))
}

/// Drops overlapping findings, keeping the best of each overlapping group, and sorts by start.
fn resolve(all: Vec<Finding>) -> Vec<Finding> {
    settle(all, None)
}

/// Keeps the best of each group of overlapping findings: the higher confidence, then the
/// longer span, then the earlier. With `cover` (the scanned text), a second pass then keeps
/// the parts of each losing finding, best first, outside every finding and part kept so far,
/// when they hold a letter or digit (see [`scan_covering`]). Sorted by start.
fn settle(mut all: Vec<Finding>, cover: Option<&str>) -> Vec<Finding> {
    all.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // INVARIANT: the intervals in `kept` (start -> end) never overlap.
    let mut kept: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(all.len());
    let mut lost = Vec::new();
    for f in all {
        let before_overlaps = kept
            .range(..=f.start)
            .next_back()
            .is_some_and(|(_, &end)| end > f.start);
        let after_overlaps = kept.range(f.start..f.end).next().is_some();
        if !before_overlaps && !after_overlaps {
            kept.insert(f.start, f.end);
            out.push(f);
        } else if cover.is_some() {
            lost.push(f);
        }
    }
    if let Some(text) = cover {
        let mut gaps = Vec::new();
        // Each losing finding reads the kept spans inside it once; detectors' candidates
        // overlap a region a bounded number of times, so this stays linear.
        for f in lost {
            gaps.clear();
            let mut at = kept
                .range(..=f.start)
                .next_back()
                .map_or(f.start, |(_, &end)| end.max(f.start));
            for (&s, &e) in kept.range(f.start..f.end) {
                if s > at {
                    gaps.push((at, s));
                }
                at = at.max(e);
            }
            if at < f.end {
                gaps.push((at, f.end));
            }
            for &(start, end) in &gaps {
                if text
                    .get(start..end)
                    .is_some_and(|g| g.chars().any(char::is_alphanumeric))
                {
                    kept.insert(start, end);
                    out.push(Finding {
                        start,
                        end,
                        part: true,
                        ..f.clone()
                    });
                }
            }
        }
    }
    out.sort_by_key(|f| (f.start, f.end));
    out
}
