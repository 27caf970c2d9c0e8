//! Notices: versioned, localized texts shown when consent is asked. A published version never
//! changes; its content hash (SHA-256 of a canonical encoding) is what consent records cite.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::purpose::valid_language;
use crate::access::valid_purpose;

/// One language's text of a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeText {
    /// The heading.
    pub title: String,
    /// The notice itself (plain text or Markdown).
    pub body: String,
    /// Where the full privacy notice is published, if anywhere.
    pub url: Option<String>,
}

/// A notice version to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDraft {
    /// The notice's key (`privacy`, `cookies`).
    pub key: String,
    /// Text per language tag; at least one.
    pub texts: BTreeMap<String, NoticeText>,
}

/// A published notice version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The notice's key.
    pub key: String,
    /// 1, 2, 3… in publication order.
    pub version: i64,
    /// Text per language tag.
    pub texts: BTreeMap<String, NoticeText>,
    /// Lower-case hex SHA-256 of [`content_bytes`].
    pub content_hash: String,
    /// When it was published.
    pub published_at: Timestamp,
}

/// Why a notice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid notice: {field} ({rule})")]
pub struct NoticeError {
    /// The field at fault.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: &'static str,
}

/// Longest title.
pub const MAX_TITLE: usize = 300;
/// Longest body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

impl NoticeDraft {
    /// Checks the key, the language tags and the texts.
    pub fn validate(&self) -> Result<(), NoticeError> {
        let bad = |field, rule| Err(NoticeError { field, rule });
        if !valid_purpose(&self.key) {
            return bad("key", "notice_key");
        }
        if self.texts.is_empty() {
            return bad("texts", "required");
        }
        for (lang, t) in &self.texts {
            if !valid_language(lang) {
                return bad("texts", "language_tag");
            }
            if t.title.trim().is_empty()
                || t.title.chars().count() > MAX_TITLE
                || t.title.chars().any(char::is_control)
            {
                return bad("title", "text_length");
            }
            if t.body.trim().is_empty() || t.body.len() > MAX_BODY {
                return bad("body", "text_length");
            }
            if let Some(u) = &t.url
                && (!(u.starts_with("https://") || u.starts_with("http://"))
                    || u.len() > 2048
                    || u.chars().any(|c| c.is_whitespace() || c.is_control()))
            {
                return bad("url", "http_url");
            }
        }
        Ok(())
    }

    /// The content hash this draft will be published under.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(content_bytes(&self.key, &self.texts)))
    }
}

/// The canonical bytes a notice's hash covers: a tag, the key, then per language (in byte
/// order of the tags) the tag, title, body and url, each as a big-endian u32 length and
/// the UTF-8 bytes (an absent url is the length `0xFFFFFFFF`).
pub fn content_bytes(key: &str, texts: &BTreeMap<String, NoticeText>) -> Vec<u8> {
    fn put(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut out = b"custodian-notice-v1\n".to_vec();
    put(&mut out, key);
    for (lang, t) in texts {
        put(&mut out, lang);
        put(&mut out, &t.title);
        put(&mut out, &t.body);
        match &t.url {
            Some(u) => put(&mut out, u),
            None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
        }
    }
    out
}

/// The texts as stored (JSON).
pub fn encode_texts(texts: &BTreeMap<String, NoticeText>) -> String {
    let m: serde_json::Map<String, Value> = texts
        .iter()
        .map(|(l, t)| {
            (
                l.clone(),
                json!({ "title": t.title, "body": t.body, "url": t.url }),
            )
        })
        .collect();
    Value::Object(m).to_string()
}

/// Reads [`encode_texts`]'s output back.
pub fn decode_texts(stored: &str) -> Option<BTreeMap<String, NoticeText>> {
    let v: Value = serde_json::from_str(stored).ok()?;
    v.as_object()?
        .iter()
        .map(|(l, t)| {
            Some((
                l.clone(),
                NoticeText {
                    title: t.get("title")?.as_str()?.to_owned(),
                    body: t.get("body")?.as_str()?.to_owned(),
                    url: t.get("url").and_then(Value::as_str).map(str::to_owned),
                },
            ))
        })
        .collect()
}

impl Notice {
    /// Whether the stored hash still matches the stored texts.
    pub fn intact(&self) -> bool {
        hex::encode(Sha256::digest(content_bytes(&self.key, &self.texts))) == self.content_hash
    }

    /// The text for `lang`: the exact tag, else its primary language, else the first one.
    pub fn text_for(&self, lang: &str) -> Option<(&str, &NoticeText)> {
        let primary = lang.split('-').next().unwrap_or(lang);
        self.texts
            .get_key_value(lang)
            .or_else(|| self.texts.get_key_value(primary))
            .or_else(|| self.texts.iter().next())
            .map(|(l, t)| (l.as_str(), t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> NoticeDraft {
        NoticeDraft {
            key: "privacy".into(),
            texts: BTreeMap::from([(
                "en".into(),
                NoticeText {
                    title: "How we use your data".into(),
                    body: "We send offers by e-mail if you agree.".into(),
                    url: Some("https://example.com/privacy".into()),
                },
            )]),
        }
    }

    #[test]
    fn the_hash_covers_every_text_and_is_stable() {
        let d = draft();
        assert_eq!(d.validate(), Ok(()));
        let h = d.content_hash();
        assert_eq!(h.len(), 64);
        assert_eq!(h, draft().content_hash());
        let mut changed = draft();
        if let Some(t) = changed.texts.get_mut("en") {
            t.body.push('!');
        }
        assert_ne!(changed.content_hash(), h);
        let mut no_url = draft();
        if let Some(t) = no_url.texts.get_mut("en") {
            t.url = Some(String::new());
        }
        let mut none_url = draft();
        if let Some(t) = none_url.texts.get_mut("en") {
            t.url = None;
        }
        assert_ne!(no_url.content_hash(), none_url.content_hash());
    }

    #[test]
    fn texts_round_trip_and_fall_back_by_language() {
        let d = draft();
        assert_eq!(decode_texts(&encode_texts(&d.texts)), Some(d.texts.clone()));
        let n = Notice {
            key: d.key.clone(),
            version: 1,
            content_hash: d.content_hash(),
            texts: d.texts,
            published_at: Timestamp::UNIX_EPOCH,
        };
        assert!(n.intact());
        assert_eq!(n.text_for("en-GB").map(|t| t.0), Some("en"));
        assert_eq!(n.text_for("de").map(|t| t.0), Some("en"));
    }

    #[test]
    fn bad_notices_name_the_field() {
        type Case = (fn(&mut NoticeDraft), &'static str);
        let cases: Vec<Case> = vec![
            (|d| d.key = "A B".into(), "key"),
            (|d| d.texts.clear(), "texts"),
            (
                |d| {
                    d.texts.insert("EN".into(), d.texts["en"].clone());
                },
                "texts",
            ),
            (
                |d| {
                    if let Some(t) = d.texts.get_mut("en") {
                        t.title = "\n".into()
                    }
                },
                "title",
            ),
            (
                |d| {
                    if let Some(t) = d.texts.get_mut("en") {
                        t.body = String::new()
                    }
                },
                "body",
            ),
            (
                |d| {
                    if let Some(t) = d.texts.get_mut("en") {
                        t.url = Some("javascript:alert(1)".into())
                    }
                },
                "url",
            ),
        ];
        for (change, field) in cases {
            let mut d = draft();
            change(&mut d);
            assert_eq!(d.validate().map_err(|e| e.field), Err(field));
        }
    }
}
