//! Vector loading and a small deterministic random generator (no extra dependencies).

use std::path::PathBuf;

use serde_json::Value;

/// Folder of the copied vectors (see `tests/vectors/ATTRIBUTION.md`).
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The curated TCF/GPP vector file.
pub fn curated() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("tcf-gpp-curated.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every `(file name, json)` in `tests/vectors/gpp/`, sorted by name.
pub fn gpp_vector_files() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(vectors_dir().join("gpp"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every string of every vector: curated TCF, headers, usnat sections, uspv1 and the GPP
/// files (the ambiguous usnat strings included).
pub fn all_vector_strings() -> Vec<String> {
    let curated = curated();
    let mut out = Vec::new();
    for key in [
        "tcf",
        "gpp_header",
        "usnat",
        "uspv1",
        "usnat_ambiguous_do_not_use_as_golden",
    ] {
        for entry in curated[key].as_array().unwrap() {
            out.push(entry["string"].as_str().unwrap().to_owned());
        }
    }
    for (_, json) in gpp_vector_files() {
        out.push(json["gpp_string"].as_str().unwrap().to_owned());
    }
    out
}

/// xorshift64*: deterministic, good enough to shuffle test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}

/// A JSON array of integers as a `Vec<u16>`.
pub fn ids(value: &Value) -> Vec<u16> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| u16::try_from(v.as_u64().unwrap()).unwrap())
        .collect()
}
