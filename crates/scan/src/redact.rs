//! Redaction: a text with its findings replaced, each by the operator chosen for its kind.
//! Keyed hashing is the caller's (it holds the key); the rest is here.

use crate::{Finding, Kind};

/// What replaces a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// Every letter and digit becomes `*`; separators stay, so the shape is kept.
    Mask,
    /// The kind's label in angle brackets, e.g. `<EMAIL>`.
    Label,
    /// A keyed hash of the value (stable per key and kind, not reversible without the key),
    /// as `<EMAIL:3f2a…>`; the caller computes it.
    Hash,
    /// Left as it is (reported only).
    Keep,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 4] = [
        Operator::Mask,
        Operator::Label,
        Operator::Hash,
        Operator::Keep,
    ];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Mask => "mask",
            Operator::Label => "label",
            Operator::Hash => "hash",
            Operator::Keep => "keep",
        }
    }

    /// Parses [`Operator::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// A kind's label: its name in capitals.
pub fn label(kind: Kind) -> String {
    kind.as_str().to_ascii_uppercase()
}

/// `value` masked: letters and digits become `*`.
pub fn mask(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_alphanumeric() { '*' } else { c })
        .collect()
}

/// `text` with each finding replaced as `operator(kind)` says; `hash(kind, value)` gives the
/// keyed hash for [`Operator::Hash`]. Findings must not overlap (as [`crate::scan`] returns
/// them); spans outside the text are ignored.
pub fn redact(
    text: &str,
    findings: &[Finding],
    operator: &dyn Fn(Kind) -> Operator,
    hash: &dyn Fn(Kind, &str) -> String,
) -> String {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in sorted {
        let Some(value) = text.get(f.start..f.end) else {
            continue;
        };
        if f.start < at {
            continue;
        }
        out.push_str(text.get(at..f.start).unwrap_or_default());
        match operator(f.kind) {
            Operator::Mask => out.push_str(&mask(value)),
            Operator::Label => {
                out.push('<');
                out.push_str(&label(f.kind));
                out.push('>');
            }
            Operator::Hash => {
                out.push('<');
                out.push_str(&label(f.kind));
                out.push(':');
                out.push_str(&hash(f.kind, value));
                out.push('>');
            }
            Operator::Keep => out.push_str(value),
        }
        at = f.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan;

    #[test]
    fn each_operator_replaces_what_it_should() {
        let text = "Mail jane.doe@example.com, card 4111 1111 1111 1111, ok.";
        let found = scan(text);
        assert_eq!(found.len(), 2);
        let fake_hash = |k: Kind, v: &str| format!("{}{}", k.as_str().len(), v.len());
        let by = |op: Operator| redact(text, &found, &|_| op, &fake_hash);
        assert_eq!(by(Operator::Label), "Mail <EMAIL>, card <CREDIT_CARD>, ok.");
        assert_eq!(
            by(Operator::Mask),
            "Mail ****.***@*******.***, card **** **** **** ****, ok."
        );
        assert_eq!(
            by(Operator::Hash),
            "Mail <EMAIL:520>, card <CREDIT_CARD:1119>, ok."
        );
        assert_eq!(by(Operator::Keep), text);
        let mixed = redact(
            text,
            &found,
            &|k| {
                if k == Kind::Email {
                    Operator::Keep
                } else {
                    Operator::Label
                }
            },
            &fake_hash,
        );
        assert_eq!(mixed, "Mail jane.doe@example.com, card <CREDIT_CARD>, ok.");
        assert_eq!(Operator::parse("hash"), Some(Operator::Hash));
        assert_eq!(Operator::parse("encrypt"), None);
    }

    #[test]
    fn multi_byte_text_around_findings_survives() {
        let text = "é→ jane@example.org ✓";
        let found = scan(text);
        let out = redact(text, &found, &|_| Operator::Label, &|_, _| String::new());
        assert_eq!(out, "é→ <EMAIL> ✓");
    }
}
