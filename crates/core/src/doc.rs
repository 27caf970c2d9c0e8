//! Reading declarative documents (YAML or JSON, as `serde_json::Value`) strictly: every
//! object lists the keys it allows, every value has one type, and an error names the path
//! and the rule broken, never the value found there (it may be personal data).

use serde_json::{Map, Value};

/// What is wrong with a document: where (a path such as `system[0].privacy_declarations[1]
/// .data_use`) and which rule. No value is quoted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {rule}")]
pub struct DocError {
    /// Where.
    pub path: String,
    /// The rule broken.
    pub rule: &'static str,
}

/// A [`DocError`] at `path`.
pub fn err(path: impl Into<String>, rule: &'static str) -> DocError {
    DocError {
        path: path.into(),
        rule,
    }
}

/// The object at `path`.
pub fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, DocError> {
    v.as_object().ok_or_else(|| err(path, "must be an object"))
}

/// Refuses any key of `m` not in `allowed`, naming it only when it looks like a key name
/// (lower-case letters, digits, `_`, `-`): an unknown key may be a value put in the wrong place.
pub fn only(m: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), DocError> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k)
            if k.len() <= 64
                && k.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                }) =>
        {
            Err(err(format!("{path}.{k}"), "unknown key"))
        }
        Some(_) => Err(err(path, "unknown key")),
        None => Ok(()),
    }
}

/// The string under `key`, if present (null counts as absent).
pub fn string<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a str>, DocError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(format!("{path}.{key}"), "must be a string")),
    }
}

/// Free text under `key`: at most `max` characters, no control characters but newlines and
/// tabs.
pub fn text<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
    max: usize,
) -> Result<Option<&'a str>, DocError> {
    let s = string(m, key, path)?;
    if let Some(s) = s {
        if s.chars().count() > max {
            return Err(err(format!("{path}.{key}"), "too long"));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(err(format!("{path}.{key}"), "control characters"));
        }
    }
    Ok(s)
}

/// The boolean under `key`, if present.
pub fn boolean(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, DocError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(err(format!("{path}.{key}"), "must be a boolean")),
    }
}

/// The list under `key` (absent or null: empty).
pub fn list<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a [Value], DocError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(err(format!("{path}.{key}"), "must be a list")),
    }
}

/// The list of strings under `key`, each accepted by `ok` (else `rule`), without repeats.
pub fn strings(
    m: &Map<String, Value>,
    key: &str,
    path: &str,
    ok: &dyn Fn(&str) -> bool,
    rule: &'static str,
) -> Result<Vec<String>, DocError> {
    let mut out: Vec<String> = Vec::new();
    for (i, v) in list(m, key, path)?.iter().enumerate() {
        let p = format!("{path}.{key}[{i}]");
        let s = v.as_str().ok_or_else(|| err(&p, "must be a string"))?;
        if !ok(s) {
            return Err(err(p, rule));
        }
        if out.iter().any(|o| o == s) {
            return Err(err(p, "listed twice"));
        }
        out.push(s.to_owned());
    }
    Ok(out)
}

/// Whether `s` is a key (a Fides `fides_key`): 1 to 64 letters, digits, `_`, `-` or `.`,
/// starting with a letter or digit.
pub fn valid_key(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphanumeric())
        && s.len() <= 64
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_the_place_and_never_the_value() {
        let v = json!({"a": "x", "n": 3, "l": ["k", "k"]});
        let m = object(&v, "$").unwrap();
        assert_eq!(
            only(m, "$", &["a", "l"]).unwrap_err().to_string(),
            "$.n: unknown key"
        );
        let v2 = json!({"secret@example.com": 1});
        assert_eq!(
            only(object(&v2, "$").unwrap(), "$", &[]).unwrap_err().path,
            "$"
        );
        assert_eq!(string(m, "n", "$").unwrap_err().rule, "must be a string");
        assert_eq!(
            strings(m, "l", "$", &|_| true, "x").unwrap_err().path,
            "$.l[1]"
        );
        assert_eq!(
            strings(m, "l", "$", &|s| s != "k", "bad").unwrap_err().rule,
            "bad"
        );
        assert!(valid_key("crm_db") && valid_key("a.b-c") && !valid_key("") && !valid_key("-a"));
        let t = json!({"t": "line\nnext", "c": "bell\u{7}"});
        let tm = object(&t, "$").unwrap();
        assert_eq!(text(tm, "t", "$", 20).unwrap(), Some("line\nnext"));
        assert_eq!(text(tm, "t", "$", 3).unwrap_err().rule, "too long");
        assert_eq!(
            text(tm, "c", "$", 30).unwrap_err().rule,
            "control characters"
        );
    }
}
