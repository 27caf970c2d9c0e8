//! Redaction: a text with its findings replaced, each by the operator chosen for its kind.
//! Keyed hashing and encryption are the caller's (it holds the keys); the rest is here,
//! including finding the encrypted items of a redacted text again ([`sealed_items`]) so the
//! caller can open them.

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
    /// Encrypted under a key the caller holds, as `<EMAIL:enc:…>` (random per item, so not
    /// linkable; reversible by whoever may use the key).
    Encrypt,
    /// Replaced in place by a vault token for the value (the caller issues it: random,
    /// deterministic or format-preserving, as the vault field declares), bare, so a
    /// format-preserving token keeps the value's shape.
    Tokenize,
}

impl Operator {
    /// Every operator.
    pub const ALL: [Operator; 6] = [
        Operator::Mask,
        Operator::Label,
        Operator::Hash,
        Operator::Keep,
        Operator::Encrypt,
        Operator::Tokenize,
    ];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Mask => "mask",
            Operator::Label => "label",
            Operator::Hash => "hash",
            Operator::Keep => "keep",
            Operator::Encrypt => "encrypt",
            Operator::Tokenize => "tokenize",
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

/// The marker between an encrypted item's label and its ciphertext: `<EMAIL:enc:…>`.
pub const SEALED_MARK: &str = ":enc:";

/// `text` with each finding replaced as `operator(kind)` says; `keyed(kind, operator, value)`
/// gives the keyed hash for [`Operator::Hash`], the ciphertext (URL-safe base64) for
/// [`Operator::Encrypt`] and the whole replacement for [`Operator::Tokenize`]. Findings must not overlap (as [`crate::scan`] returns them); spans
/// outside the text are ignored.
pub fn redact(
    text: &str,
    findings: &[Finding],
    operator: &dyn Fn(Kind) -> Operator,
    keyed: &dyn Fn(Kind, Operator, &str) -> String,
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
            op @ (Operator::Hash | Operator::Encrypt) => {
                out.push('<');
                out.push_str(&label(f.kind));
                out.push_str(if op == Operator::Encrypt {
                    SEALED_MARK
                } else {
                    ":"
                });
                out.push_str(&keyed(f.kind, op, value));
                out.push('>');
            }
            Operator::Tokenize => out.push_str(&keyed(f.kind, Operator::Tokenize, value)),
            Operator::Keep => out.push_str(value),
        }
        at = f.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

/// An encrypted item in a redacted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed<'a> {
    /// Its kind, from its label.
    pub kind: Kind,
    /// Byte offset of its `<`.
    pub start: usize,
    /// Byte offset just past its `>`.
    pub end: usize,
    /// The ciphertext (URL-safe base64, as [`redact`] wrote it).
    pub body: &'a str,
}

/// The encrypted items (`<EMAIL:enc:…>`) of a redacted text, in order. Linear in the text;
/// a `<` that does not start a well-formed item is skipped.
pub fn sealed_items(text: &str) -> Vec<Sealed<'_>> {
    let t = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(k) = t.get(i..).and_then(|r| r.iter().position(|&b| b == b'<')) {
        let s = i + k;
        let mut e = s + 1;
        while e < t.len()
            && (t[e].is_ascii_uppercase() || t[e].is_ascii_digit() || t[e] == b'_')
            && e - s <= 20
        {
            e += 1;
        }
        let kind = text
            .get(s + 1..e)
            .and_then(|l| Kind::parse(&l.to_ascii_lowercase()));
        let body_start = e + SEALED_MARK.len();
        if let Some(kind) = kind
            && text.get(e..body_start) == Some(SEALED_MARK)
        {
            let mut b = body_start;
            while b < t.len() && (t[b].is_ascii_alphanumeric() || t[b] == b'-' || t[b] == b'_') {
                b += 1;
            }
            if b > body_start && t.get(b) == Some(&b'>') {
                out.push(Sealed {
                    kind,
                    start: s,
                    end: b + 1,
                    body: &text[body_start..b],
                });
                i = b + 1;
                continue;
            }
            i = b.max(s + 1);
            continue;
        }
        i = e.max(s + 1);
    }
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
        let fake_hash = |k: Kind, op: Operator, v: &str| {
            let tag = if op == Operator::Encrypt { "x" } else { "" };
            format!("{tag}{}{}", k.as_str().len(), v.len())
        };
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
        // Tokens go in bare, in place of the value: the caller's replacement is the whole item.
        assert_eq!(
            by(Operator::Tokenize),
            "Mail 520, card 1119, ok.",
            "a token replaces the value without a label"
        );
        let sealed = by(Operator::Encrypt);
        assert_eq!(
            sealed,
            "Mail <EMAIL:enc:x520>, card <CREDIT_CARD:enc:x1119>, ok."
        );
        let items = sealed_items(&sealed);
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].kind, items[0].body), (Kind::Email, "x520"));
        assert_eq!(
            &sealed[items[1].start..items[1].end],
            "<CREDIT_CARD:enc:x1119>"
        );
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
        assert_eq!(Operator::parse("encrypt"), Some(Operator::Encrypt));
        assert_eq!(Operator::parse("tokenize"), Some(Operator::Tokenize));
        assert_eq!(Operator::parse("tokenise"), None);
    }

    #[test]
    fn multi_byte_text_around_findings_survives() {
        let text = "é→ jane@example.org ✓";
        let found = scan(text);
        let out = redact(text, &found, &|_| Operator::Label, &|_, _, _| String::new());
        assert_eq!(out, "é→ <EMAIL> ✓");
    }

    #[test]
    fn only_well_formed_sealed_items_are_found() {
        let text = "<<EMAIL:enc:abc> <NOPE:enc:abc> <EMAIL:enc:> <EMAIL:enc:a b> <EMAIL:abc> <PHONE:enc:Zz-_9>";
        let items = sealed_items(text);
        let got: Vec<(Kind, &str)> = items.iter().map(|i| (i.kind, i.body)).collect();
        assert_eq!(got, [(Kind::Email, "abc"), (Kind::Phone, "Zz-_9")]);
        assert!(sealed_items(&"<".repeat(10_000)).is_empty());
        assert!(sealed_items("<EMAIL:enc").is_empty());
    }

    #[test]
    fn every_kind_round_trips_through_sealed_items() {
        for kind in Kind::ALL {
            let f = Finding {
                kind,
                start: 0,
                end: 5,
                confidence: 1.0,
                detector: "test",
                part: false,
            };
            let out = redact("value", &[f], &|_| Operator::Encrypt, &|_, _, _| {
                "Zz9-_".into()
            });
            let items = sealed_items(&out);
            assert_eq!(items.len(), 1, "{kind:?}: {out}");
            assert_eq!((items[0].kind, items[0].body), (kind, "Zz9-_"));
        }
    }
}
