//! Collection schemas: typed, classified fields, their validation, and which changes to a
//! schema are compatible with the records already stored.

use super::value::{FieldType, NationalIdScheme};
use crate::taxonomy::{self, Kind};

/// How sensitive a field is; policies may require more for higher levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sensitivity {
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Special categories (GDPR Art. 9) and similar.
    Special,
}

impl Sensitivity {
    /// Stable name, also the value Cedar policies compare.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
            Sensitivity::Special => "special",
        }
    }

    /// Parses [`Sensitivity::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Sensitivity::Low,
            Sensitivity::Medium,
            Sensitivity::High,
            Sensitivity::Special,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// How a field's values are tokenized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tokenization {
    /// Not tokenized.
    None,
    /// Random tokens, resolved through the vault.
    Random,
    /// The same value in the same scope gives the same token (for joins).
    Deterministic,
    /// FF1: digits stay digits and keep their length.
    FormatPreserving,
}

impl Tokenization {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tokenization::None => "none",
            Tokenization::Random => "random",
            Tokenization::Deterministic => "deterministic",
            Tokenization::FormatPreserving => "format_preserving",
        }
    }

    /// Parses [`Tokenization::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [
            Tokenization::None,
            Tokenization::Random,
            Tokenization::Deterministic,
            Tokenization::FormatPreserving,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

impl FieldType {
    /// Stable name (`national_id:us_ssn` for national ids).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Date => "date",
            FieldType::Datetime => "datetime",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::CardNumber => "card_number",
            FieldType::Iban => "iban",
            FieldType::NationalId(NationalIdScheme::UsSsn) => "national_id:us_ssn",
            FieldType::NationalId(NationalIdScheme::UkNino) => "national_id:uk_nino",
            FieldType::IpAddress => "ip_address",
            FieldType::PostalAddress => "postal_address",
            FieldType::Json => "json",
        }
    }

    /// Parses [`FieldType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        FieldType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether normalised values are all decimal digits (after dropping separators), so FF1
    /// tokens can keep their format.
    pub fn digit_shaped(self) -> bool {
        matches!(
            self,
            FieldType::CardNumber
                | FieldType::Phone
                | FieldType::NationalId(NationalIdScheme::UsSsn)
        )
    }
}

/// One field of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    /// Name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Type, which decides validation, normalisation and the default mask.
    pub field_type: FieldType,
    /// Data category: a taxonomy key such as `user.contact.email`.
    pub category: String,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// Whether every record must have it.
    pub required: bool,
    /// Whether exact-match search (a blind index) is kept.
    pub searchable: bool,
    /// Tokenization mode.
    pub tokenization: Tokenization,
}

/// A collection's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSchema {
    /// Name: lower-case letters, digits and `_`, starting with a letter.
    pub name: String,
    /// Fields, in declaration order.
    pub fields: Vec<FieldSpec>,
}

/// The most fields a collection may declare.
pub const MAX_FIELDS: usize = 200;

/// A schema that breaks a rule: which field (if one) and which rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{rule}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct SchemaError {
    /// The field concerned.
    pub field: Option<String>,
    /// The rule broken.
    pub rule: &'static str,
}

fn err(field: Option<&str>, rule: &'static str) -> SchemaError {
    SchemaError {
        field: field.map(str::to_owned),
        rule,
    }
}

/// Whether `s` is a name: 1 to 64 of `a-z`, `0-9`, `_`, starting with a letter.
pub fn valid_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_lowercase())
        && s.len() <= 64
        && c.all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
}

/// Names a field cannot take: the search query's own parameters
/// (`GET /v1/collections/{c}/records?email=…&after=…&limit=…`).
pub const RESERVED_FIELD_NAMES: [&str; 2] = ["after", "limit"];

impl CollectionSchema {
    /// Checks the schema on its own.
    pub fn validate(&self) -> Result<(), SchemaError> {
        if !valid_name(&self.name) {
            return Err(err(
                None,
                "the collection name must be 1 to 64 lower-case letters, digits or _, starting with a letter",
            ));
        }
        if self.fields.is_empty() || self.fields.len() > MAX_FIELDS {
            return Err(err(None, "a collection has 1 to 200 fields"));
        }
        let mut seen = std::collections::HashSet::new();
        for f in &self.fields {
            let name = Some(f.name.as_str());
            if !valid_name(&f.name) {
                return Err(err(
                    name,
                    "field names are 1 to 64 lower-case letters, digits or _, starting with a letter",
                ));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(err(name, "the field is declared twice"));
            }
            if RESERVED_FIELD_NAMES.contains(&f.name.as_str()) {
                return Err(err(
                    name,
                    "after and limit are search parameters, not field names",
                ));
            }
            if !taxonomy::contains(Kind::DataCategory, &f.category) {
                return Err(err(
                    name,
                    "the category is not a data category of the taxonomy",
                ));
            }
            if f.tokenization == Tokenization::FormatPreserving && !f.field_type.digit_shaped() {
                return Err(err(
                    name,
                    "format-preserving tokens need a digit-shaped type (card_number, phone, national_id:us_ssn)",
                ));
            }
        }
        Ok(())
    }

    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that replacing `self` by `new` keeps every stored record valid and readable:
    /// fields may be added (optional ones, or required ones while no record exists) and
    /// reclassified; they may not be removed, retyped, newly required, made searchable after
    /// records exist, or change tokenization.
    pub fn check_change(
        &self,
        new: &CollectionSchema,
        has_records: bool,
    ) -> Result<(), SchemaError> {
        new.validate()?;
        if new.name != self.name {
            return Err(err(None, "a collection cannot be renamed"));
        }
        for old in &self.fields {
            let Some(f) = new.field(&old.name) else {
                return Err(err(
                    Some(&old.name),
                    "fields cannot be removed (stored records hold it)",
                ));
            };
            if f.field_type != old.field_type {
                return Err(err(Some(&old.name), "a field's type cannot change"));
            }
            if f.tokenization != old.tokenization {
                return Err(err(Some(&old.name), "a field's tokenization cannot change"));
            }
            if has_records && f.required && !old.required {
                return Err(err(
                    Some(&old.name),
                    "a field cannot become required while records without it may exist",
                ));
            }
            if has_records && f.searchable && !old.searchable {
                return Err(err(
                    Some(&old.name),
                    "a field cannot become searchable while records exist (they have no index)",
                ));
            }
        }
        if has_records
            && let Some(f) = new
                .fields
                .iter()
                .find(|f| f.required && self.field(&f.name).is_none())
        {
            return Err(err(
                Some(&f.name),
                "a new field cannot be required while records exist",
            ));
        }
        Ok(())
    }
}

impl CollectionSchema {
    /// A line-based encoding for storage: one field per line, tab-separated
    /// (`name type category sensitivity required searchable tokenization`). Names and keys
    /// never hold tabs or newlines, so the encoding is unambiguous.
    pub fn encode_fields(&self) -> String {
        self.fields
            .iter()
            .map(|f| {
                format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    f.name,
                    f.field_type.as_str(),
                    f.category,
                    f.sensitivity.as_str(),
                    f.required,
                    f.searchable,
                    f.tokenization.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Decodes [`CollectionSchema::encode_fields`]; `None` if the text is not such an encoding.
    pub fn decode(name: &str, fields: &str) -> Option<Self> {
        let parse_bool = |s: &str| match s {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        let fields = fields
            .lines()
            .map(|line| {
                let p: Vec<&str> = line.split('\t').collect();
                let [
                    name,
                    t,
                    category,
                    sensitivity,
                    required,
                    searchable,
                    tokenization,
                ] = p.as_slice()
                else {
                    return None;
                };
                Some(FieldSpec {
                    name: (*name).to_owned(),
                    field_type: FieldType::parse(t)?,
                    category: (*category).to_owned(),
                    sensitivity: Sensitivity::parse(sensitivity)?,
                    required: parse_bool(required)?,
                    searchable: parse_bool(searchable)?,
                    tokenization: Tokenization::parse(tokenization)?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            name: name.to_owned(),
            fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_storage_encoding_round_trips_and_rejects_garbage() {
        let s = customers();
        assert_eq!(
            CollectionSchema::decode("customers", &s.encode_fields()),
            Some(s)
        );
        assert_eq!(CollectionSchema::decode("c", "email\temail"), None);
        assert_eq!(
            CollectionSchema::decode("c", "email\temial\tuser\tlow\ttrue\tfalse\tnone"),
            None
        );
    }

    fn field(name: &str, t: FieldType, category: &str) -> FieldSpec {
        FieldSpec {
            name: name.into(),
            field_type: t,
            category: category.into(),
            sensitivity: Sensitivity::Medium,
            required: false,
            searchable: false,
            tokenization: Tokenization::None,
        }
    }

    fn customers() -> CollectionSchema {
        CollectionSchema {
            name: "customers".into(),
            fields: vec![
                FieldSpec {
                    required: true,
                    searchable: true,
                    ..field("email", FieldType::Email, "user.contact.email")
                },
                field("phone", FieldType::Phone, "user.contact.phone_number"),
                FieldSpec {
                    tokenization: Tokenization::FormatPreserving,
                    ..field("card", FieldType::CardNumber, "user.financial")
                },
            ],
        }
    }

    #[test]
    fn names_round_trip() {
        for t in [
            "text",
            "email",
            "phone",
            "date",
            "datetime",
            "number",
            "boolean",
            "card_number",
            "iban",
            "national_id:us_ssn",
            "national_id:uk_nino",
            "ip_address",
        ] {
            assert_eq!(FieldType::parse(t).map(FieldType::as_str), Some(t));
        }
        assert_eq!(FieldType::parse("national_id"), None);
        assert_eq!(Sensitivity::parse("special"), Some(Sensitivity::Special));
        assert_eq!(
            Tokenization::parse("format_preserving"),
            Some(Tokenization::FormatPreserving)
        );
        assert_eq!(Tokenization::parse("ff3"), None);
    }

    #[test]
    fn schemas_are_validated() {
        assert_eq!(customers().validate(), Ok(()));
        let mut s = customers();
        s.name = "Customers".into();
        assert!(s.validate().is_err());
        let mut s = customers();
        s.fields[1].category = "user.contact.phone".into();
        assert_eq!(s.validate().map_err(|e| e.field), Err(Some("phone".into())));
        let mut s = customers();
        s.fields.push(field("email", FieldType::Text, "user"));
        assert_eq!(
            s.validate().map_err(|e| e.rule),
            Err("the field is declared twice")
        );
        let mut s = customers();
        s.fields[0].tokenization = Tokenization::FormatPreserving;
        assert!(s.validate().is_err(), "emails are not digit-shaped");
        let mut s = customers();
        s.fields.clear();
        assert!(s.validate().is_err());
        for reserved in super::RESERVED_FIELD_NAMES {
            let mut s = customers();
            s.fields.push(field(reserved, FieldType::Text, "user"));
            assert_eq!(
                s.validate().map_err(|e| e.field),
                Err(Some(reserved.to_owned()))
            );
        }
    }

    #[test]
    fn compatible_and_incompatible_changes() {
        let old = customers();
        let mut added = customers();
        added
            .fields
            .push(field("nickname", FieldType::Text, "user.name"));
        assert_eq!(old.check_change(&added, true), Ok(()));
        let mut reclassified = customers();
        reclassified.fields[1].sensitivity = Sensitivity::High;
        assert_eq!(old.check_change(&reclassified, true), Ok(()));

        let mut removed = customers();
        removed.fields.remove(1);
        assert_eq!(
            old.check_change(&removed, false).map_err(|e| e.field),
            Err(Some("phone".into()))
        );
        let mut retyped = customers();
        retyped.fields[1].field_type = FieldType::Text;
        assert!(old.check_change(&retyped, false).is_err());
        let mut retokenized = customers();
        retokenized.fields[2].tokenization = Tokenization::Random;
        assert!(old.check_change(&retokenized, false).is_err());
        let mut required = customers();
        required.fields[1].required = true;
        assert!(old.check_change(&required, true).is_err());
        assert_eq!(old.check_change(&required, false), Ok(()));
        let mut searchable = customers();
        searchable.fields[1].searchable = true;
        assert!(old.check_change(&searchable, true).is_err());
        assert_eq!(old.check_change(&searchable, false), Ok(()));
        let mut new_required = customers();
        new_required.fields.push(FieldSpec {
            required: true,
            ..field("nickname", FieldType::Text, "user.name")
        });
        assert!(old.check_change(&new_required, true).is_err());
        assert_eq!(old.check_change(&new_required, false), Ok(()));
        let mut renamed = customers();
        renamed.name = "clients".into();
        assert!(old.check_change(&renamed, false).is_err());
    }
}
