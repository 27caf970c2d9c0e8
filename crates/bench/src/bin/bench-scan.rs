//! `bench-scan CORPUS OUT.json`: runs Custodian's scanner over every document of a labelled
//! corpus (presidio-evaluator's InputSample JSON: a list of objects with `full_text`) and
//! writes its predictions, with character offsets, and the scan time of the whole corpus:
//! the median of `PASSES` timed passes (each scanning it `REPEAT` times) after one warm-up
//! pass. Findings below the
//! product's default confidence (0.5) are left out, as `custodian scan` and the API do. `bench/scan/score.py`
//! scores the file beside Presidio's.

use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Timed passes (the median is reported).
const PASSES: usize = 7;
/// Each timed pass scans the corpus this many times, so that a pass lasts long enough
/// (a fraction of a second) to time steadily.
const REPEAT: usize = 25;
/// Findings below this confidence are left out, as the API and CLI do by default.
const MIN_CONFIDENCE: f32 = 0.5;

/// Character offsets of every byte offset that starts a character (and of the end).
fn char_offsets(text: &str) -> Vec<usize> {
    let mut at = vec![0; text.len() + 1];
    let mut n = 0;
    for (i, c) in text.char_indices() {
        at[i] = n;
        n += 1;
        for k in 1..c.len_utf8() {
            at[i + k] = n;
        }
    }
    at[text.len()] = n;
    at
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, out] = args.as_slice() else {
        bail!("usage: bench-scan CORPUS.json OUT.json");
    };
    let raw = std::fs::read_to_string(corpus).with_context(|| format!("reading {corpus}"))?;
    let docs: Vec<Value> = serde_json::from_str(&raw).context("the corpus is a JSON list")?;
    let texts: Vec<String> = docs
        .iter()
        .map(|d| {
            d["full_text"]
                .as_str()
                .map(str::to_owned)
                .context("every document has a full_text")
        })
        .collect::<anyhow::Result<_>>()?;
    let bytes: usize = texts.iter().map(String::len).sum();

    let mut found = 0usize;
    for t in &texts {
        found += custodian_scan::scan(t).len();
    }
    let mut times = Vec::with_capacity(PASSES);
    for _ in 0..PASSES {
        let start = Instant::now();
        let mut n = 0usize;
        for _ in 0..REPEAT {
            for t in &texts {
                n += std::hint::black_box(custodian_scan::scan(std::hint::black_box(t))).len();
            }
        }
        times.push(start.elapsed().as_secs_f64() / REPEAT as f64);
        if n != found * REPEAT {
            bail!("a pass found {n} items, the warm-up {found}: the scanner is not deterministic");
        }
    }
    times.sort_by(f64::total_cmp);
    let seconds = times[PASSES / 2];

    let predictions: Vec<Value> = texts
        .iter()
        .map(|t| {
            let at = char_offsets(t);
            Value::Array(
                custodian_scan::scan(t)
                    .iter()
                    .filter(|f| f.confidence >= MIN_CONFIDENCE)
                    .map(|f| {
                        json!({
                            "start": at[f.start],
                            "end": at[f.end],
                            "type": f.kind.as_str(),
                            "score": f.confidence,
                        })
                    })
                    .collect(),
            )
        })
        .collect();
    let report = json!({
        "engine": "custodian-scan",
        "docs": texts.len(),
        "bytes": bytes,
        "seconds": seconds,
        "passes": times,
        "predictions": predictions,
    });
    std::fs::write(out, serde_json::to_vec(&report)?).with_context(|| format!("writing {out}"))?;
    eprintln!(
        "bench-scan: {} docs, {bytes} bytes, median {seconds:.4} s ({:.1} MB/s), {found} findings",
        texts.len(),
        bytes as f64 / seconds / 1e6
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::char_offsets;

    #[test]
    fn byte_offsets_become_character_offsets() {
        let t = "é a€b";
        let at = char_offsets(t);
        assert_eq!(at[0], 0);
        assert_eq!(at[2], 1, "after é");
        assert_eq!(at[4], 3, "€ starts at char 3");
        assert_eq!(at[7], 4, "b");
        assert_eq!(at[t.len()], 5);
    }
}
