#!/usr/bin/env python3
"""Scores personal-data detectors against the labelled corpus of the scan benchmark.

    score.py CORPUS PRED1.json [PRED2.json ...] [--markdown OUT.md]
    score.py --self-test

CORPUS is presidio-evaluator InputSample JSON (full_text, spans [{entity_type, start_position,
end_position, ...}]). Each prediction file is
    {"engine": str, "docs": N, "bytes": B, "seconds": S,
     "predictions": [[{"start": c, "end": c, "type": str, "score": f}, ...] one list per doc]}
with character offsets into full_text (end exclusive), docs in corpus order, and B the UTF-8
bytes of all full_text (checked, so that no file is scored against another corpus).

Labels: every label, gold or predicted, goes through LABELS onto the corpus's own entity
types; a label not in the table is kept as it is. Matching: a prediction matches a gold span
of the same (mapped) type when their character intersection-over-union is at least 0.75
(presidio-evaluator's SpanEvaluator threshold, here on characters), one-to-one, greedily from
the highest IoU down. Per gold type: TP, FP, FN, precision, recall and F2 (beta 2: recall
weighs four times precision). Predictions of types with no gold span anywhere in the corpus
are all false positives and are listed apart ("spurious"). Overall: micro precision, recall
and F2 summed over the corpus's types; and binary PII-vs-not, where each side's overlapping
spans are first merged (two labels on one value are one claim that it is personal data) and
any prediction matches any gold span at IoU >= 0.75 whatever the types. Throughput:
MB/s = bytes / seconds / 1e6, docs/s = docs / seconds, and each engine's speed over the first
engine's.
"""
import argparse
import json
import sys
from collections import Counter, defaultdict

# Custodian kind, Presidio entity type or gold label -> the corpus's entity type.
#
# | corpus type (presidio-evaluator) | Custodian kinds            | Presidio types       | other gold spellings |
# |----------------------------------|----------------------------|----------------------|----------------------|
# | PERSON                           | person                     | PERSON               |                      |
# | GPE                              | location                   | LOCATION             |                      |
# | STREET_ADDRESS                   | street_address             |                      |                      |
# | ORGANIZATION                     | organization               | (ORG is off by default) | ORG               |
# | DATE_TIME (dates of birth too)   | date                       | DATE_TIME            |                      |
# | AGE                              | age                        |                      |                      |
# | NRP                              | nationality, religion, political_group | NRP      |                      |
# | PHONE_NUMBER                     | phone                      | PHONE_NUMBER         | PHONE                |
# | EMAIL_ADDRESS                    | email                      | EMAIL_ADDRESS        | EMAIL                |
# | CREDIT_CARD                      | credit_card                | CREDIT_CARD          |                      |
# | IBAN_CODE                        | iban                       | IBAN_CODE            | IBAN                 |
# | US_SSN                           | us_ssn                     | US_SSN               | SSN                  |
# | UK_NINO                          | uk_nino                    | UK_NINO              |                      |
# | IP_ADDRESS                       | ipv4, ipv6                 | IP_ADDRESS           | IP                   |
# | ZIP_CODE                         | us_zip, uk_postcode        |                      | ZIP                  |
# | DOMAIN_NAME (holds full URLs)    | url                        | URL                  | DOMAIN, URL          |
# | US_DRIVER_LICENSE                | drivers_license            | US_DRIVER_LICENSE    | US_DL                |
# | TITLE                            | title                      |                      |                      |
# | not in the corpus (spurious):    |                            |                      |                      |
# | MAC_ADDRESS                      | mac                        | MAC_ADDRESS          |                      |
# | SECRET                           | secret                     |                      |                      |
# | PASSPORT                         | passport                   | US_PASSPORT          |                      |
# | NATIONAL_ID (other countries)    | national_id                | UK_NHS, ES_NIF, ES_NIE, IT_FISCAL_CODE, PL_PESEL, IN_AADHAAR, FI_PERSONAL_IDENTITY_CODE | |
# | (as named)                       |                            | MEDICAL_LICENSE, US_BANK_NUMBER, US_ITIN, CRYPTO, UUID, ... |
#
# The generator's {{url}} placeholder is labelled DOMAIN_NAME but its values are full URLs
# ("https://www.CareerCue.tn/"), so URL detections are scored against it.
LABELS = {
    # Custodian kinds
    "email": "EMAIL_ADDRESS",
    "phone": "PHONE_NUMBER",
    "credit_card": "CREDIT_CARD",
    "iban": "IBAN_CODE",
    "us_ssn": "US_SSN",
    "uk_nino": "UK_NINO",
    "ipv4": "IP_ADDRESS",
    "ipv6": "IP_ADDRESS",
    "date": "DATE_TIME",
    "us_zip": "ZIP_CODE",
    "uk_postcode": "ZIP_CODE",
    "postal_code": "ZIP_CODE",
    "person": "PERSON",
    "street_address": "STREET_ADDRESS",
    "age": "AGE",
    "location": "GPE",
    "url": "DOMAIN_NAME",
    "mac": "MAC_ADDRESS",
    "secret": "SECRET",
    "passport": "PASSPORT",
    "drivers_license": "US_DRIVER_LICENSE",
    "organization": "ORGANIZATION",
    "national_id": "NATIONAL_ID",
    "nationality": "NRP",
    "religion": "NRP",
    "political_group": "NRP",
    "title": "TITLE",
    "job_title": "TITLE",
    # Presidio entity types (the others are the corpus's names already, or spurious as named)
    "LOCATION": "GPE",
    "URL": "DOMAIN_NAME",
    "US_PASSPORT": "PASSPORT",
    "UK_NHS": "NATIONAL_ID",
    "ES_NIF": "NATIONAL_ID",
    "ES_NIE": "NATIONAL_ID",
    "IT_FISCAL_CODE": "NATIONAL_ID",
    "PL_PESEL": "NATIONAL_ID",
    "IN_AADHAAR": "NATIONAL_ID",
    "FI_PERSONAL_IDENTITY_CODE": "NATIONAL_ID",
    # Other spellings of gold labels (presidio-research's synth_dataset_v2, older generators)
    "PHONE": "PHONE_NUMBER",
    "EMAIL": "EMAIL_ADDRESS",
    "IBAN": "IBAN_CODE",
    "SSN": "US_SSN",
    "IP": "IP_ADDRESS",
    "ZIP": "ZIP_CODE",
    "ORG": "ORGANIZATION",
    "DOMAIN": "DOMAIN_NAME",
    "US_DL": "US_DRIVER_LICENSE",
}

IOU_THRESHOLD = 0.75
BETA = 2.0


def label(name: str) -> str:
    return LABELS.get(name, name)


def iou(a: tuple, b: tuple) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0])
    if inter <= 0:
        return 0.0
    return inter / ((a[1] - a[0]) + (b[1] - b[0]) - inter)


def greedy_match(gold: list, pred: list) -> int:
    """One-to-one matches between (start, end) spans at IoU >= IOU_THRESHOLD, best IoU first."""
    pairs = sorted(
        ((iou(g, p), gi, pi) for gi, g in enumerate(gold) for pi, p in enumerate(pred)),
        key=lambda x: (-x[0], x[1], x[2]),
    )
    used_g, used_p, n = set(), set(), 0
    for v, gi, pi in pairs:
        if v < IOU_THRESHOLD:
            break
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            n += 1
    return n


def merge_overlapping(spans: list) -> list:
    out = []
    for s, e in sorted(spans):
        if out and s < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def prf(tp: int, fp: int, fn: int) -> tuple:
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    pv, rv = p or 0.0, r or 0.0
    f = (1 + BETA**2) * pv * rv / (BETA**2 * pv + rv) if pv + rv else 0.0
    return p, r, f


def load_corpus(path: str) -> list:
    with open(path, encoding="utf-8") as f:
        docs = json.load(f)
    return [
        {"text": d["full_text"],
         "gold": [(s["start_position"], s["end_position"], label(s["entity_type"])) for s in d.get("spans") or []]}
        for d in docs
    ]


def corpus_bytes(corpus: list) -> int:
    return sum(len(d["text"].encode("utf-8")) for d in corpus)


def load_predictions(path: str, corpus: list) -> dict:
    with open(path, encoding="utf-8") as f:
        run = json.load(f)
    for key in ("engine", "docs", "bytes", "seconds", "predictions"):
        if key not in run:
            sys.exit(f"{path}: no {key!r}")
    if run["docs"] != len(corpus) or len(run["predictions"]) != len(corpus):
        sys.exit(f"{path}: {run['docs']} docs and {len(run['predictions'])} prediction lists, the corpus has {len(corpus)}")
    if run["bytes"] != corpus_bytes(corpus):
        sys.exit(f"{path}: {run['bytes']} bytes, the corpus has {corpus_bytes(corpus)}: another corpus?")
    for i, (doc, preds) in enumerate(zip(corpus, run["predictions"])):
        for p in preds:
            if not (0 <= p["start"] < p["end"] <= len(doc["text"])):
                sys.exit(f"{path}: doc {i}: span {p} outside the text ({len(doc['text'])} characters)")
    return run


def score(corpus: list, predictions: list) -> dict:
    gold_types = {t for d in corpus for (_, _, t) in d["gold"]}
    tp, fp, fn = Counter(), Counter(), Counter()
    b_tp = b_pred = b_gold = 0
    for doc, preds in zip(corpus, predictions):
        # identical spans of one type are one claim (after mapping, ipv4 and ipv6 are one type)
        pred = sorted({(p["start"], p["end"], label(p["type"])) for p in preds})
        by_type_g, by_type_p = defaultdict(list), defaultdict(list)
        for s, e, t in doc["gold"]:
            by_type_g[t].append((s, e))
        for s, e, t in pred:
            by_type_p[t].append((s, e))
        for t in set(by_type_g) | set(by_type_p):
            g, p = by_type_g[t], by_type_p[t]
            m = greedy_match(g, p)
            tp[t] += m
            fp[t] += len(p) - m
            fn[t] += len(g) - m
        bg = merge_overlapping([(s, e) for s, e, _ in doc["gold"]])
        bp = merge_overlapping([(s, e) for s, e, _ in pred])
        b_tp += greedy_match(bg, bp)
        b_gold += len(bg)
        b_pred += len(bp)
    gold_count = Counter(t for d in corpus for (_, _, t) in d["gold"])
    per_type = {t: {"gold": gold_count[t], "tp": tp[t], "fp": fp[t], "fn": fn[t], "prf": prf(tp[t], fp[t], fn[t])}
                for t in gold_types}
    spurious = {t: fp[t] for t in fp if t not in gold_types and fp[t]}
    mt, mf, mn = (sum(c[t] for t in gold_types) for c in (tp, fp, fn))
    return {
        "per_type": per_type,
        "spurious": spurious,
        "micro": {"tp": mt, "fp": mf, "fn": mn, "prf": prf(mt, mf, mn)},
        "binary": {"tp": b_tp, "fp": b_pred - b_tp, "fn": b_gold - b_tp, "gold": b_gold,
                   "prf": prf(b_tp, b_pred - b_tp, b_gold - b_tp)},
    }


def fmt(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def render(corpus_path: str, corpus: list, runs: list, results: list) -> str:
    gold_count = Counter(t for d in corpus for (_, _, t) in d["gold"])
    types = sorted(gold_count, key=lambda t: (-gold_count[t], t))
    nbytes = corpus_bytes(corpus)
    names = [r["engine"] for r in runs]
    L = []
    L.append(f"Corpus `{corpus_path}`: {len(corpus):,} docs, {nbytes:,} bytes (UTF-8), "
             f"{sum(gold_count.values()):,} gold spans: "
             + ", ".join(f"{t} {gold_count[t]:,}" for t in types) + ".")
    L.append("")
    L.append("Engines: " + "; ".join(f"({i + 1}) {n}" for i, n in enumerate(names)) + ".")
    L.append("")
    # precision, recall, F2 side by side
    head = "| entity type | gold | " + " | ".join(f"({i + 1}) P | ({i + 1}) R | ({i + 1}) F2" for i in range(len(runs))) + " |"
    L.append(head)
    L.append("|---|---:|" + "---:|---:|---:|" * len(runs))
    for t in types:
        cells = []
        for res in results:
            p, r, f = res["per_type"][t]["prf"]
            cells += [fmt(p), fmt(r), fmt(f)]
        L.append(f"| {t} | {gold_count[t]:,} | " + " | ".join(cells) + " |")
    cells = []
    for res in results:
        cells += [fmt(x) for x in res["micro"]["prf"]]
    L.append(f"| **all types (micro)** | {sum(gold_count.values()):,} | " + " | ".join(f"**{c}**" for c in cells) + " |")
    cells = []
    for res in results:
        cells += [fmt(x) for x in res["binary"]["prf"]]
    L.append(f"| **binary: PII vs not** | {results[0]['binary']['gold']:,} | " + " | ".join(f"**{c}**" for c in cells) + " |")
    L.append("")
    # counts
    L.append("| entity type | gold | " + " | ".join(f"({i + 1}) TP | ({i + 1}) FP | ({i + 1}) FN" for i in range(len(runs))) + " |")
    L.append("|---|---:|" + "---:|---:|---:|" * len(runs))
    for t in types:
        cells = []
        for res in results:
            c = res["per_type"][t]
            cells += [f"{c['tp']:,}", f"{c['fp']:,}", f"{c['fn']:,}"]
        L.append(f"| {t} | {gold_count[t]:,} | " + " | ".join(cells) + " |")
    for key, title in (("micro", "all types (micro)"), ("binary", "binary: PII vs not")):
        cells = []
        for res in results:
            c = res[key]
            cells += [f"{c['tp']:,}", f"{c['fp']:,}", f"{c['fn']:,}"]
        gold = sum(gold_count.values()) if key == "micro" else results[0]["binary"]["gold"]
        L.append(f"| {title} | {gold:,} | " + " | ".join(cells) + " |")
    L.append("")
    # spurious types
    spurious = sorted({t for res in results for t in res["spurious"]},
                      key=lambda t: (-max(res["spurious"].get(t, 0) for res in results), t))
    L.append("| spurious: predicted types absent from the corpus (every one a false positive) | "
             + " | ".join(f"({i + 1}) FP" for i in range(len(runs))) + " |")
    L.append("|---|" + "---:|" * len(runs))
    for t in spurious:
        L.append(f"| {t} | " + " | ".join(f"{res['spurious'].get(t, 0):,}" for res in results) + " |")
    L.append("| **total** | " + " | ".join(f"**{sum(res['spurious'].values()):,}**" for res in results) + " |")
    L.append("")
    # throughput
    L.append("| throughput | " + " | ".join(f"({i + 1})" for i in range(len(runs))) + " |")
    L.append("|---|" + "---:|" * len(runs))
    L.append("| seconds | " + " | ".join(f"{r['seconds']:.3f}" for r in runs) + " |")
    L.append("| docs/s | " + " | ".join(f"{r['docs'] / r['seconds']:,.1f}" for r in runs) + " |")
    L.append("| MB/s | " + " | ".join(f"{r['bytes'] / r['seconds'] / 1e6:.4f}" for r in runs) + " |")
    base = runs[0]["seconds"]
    L.append("| speed over (1) | " + " | ".join(f"{base / r['seconds']:,.1f}x" for r in runs) + " |")
    L.append("")
    L.append("Matching: a prediction counts for a gold span of the same type (after mapping both onto the "
             "corpus's types, see `bench/scan/score.py`) when their character IoU is at least 0.75, one to "
             "one, best IoU first. Micro rows sum every corpus type, including those an engine does not "
             "look for; spurious types are left out of them. The binary row merges each side's overlapping "
             "spans and ignores types. F2 weighs recall four times precision. MB/s is corpus bytes over "
             "the timed seconds; speed is each engine's over (1)'s.")
    return "\n".join(L) + "\n"


def self_test() -> None:
    passed = failed = 0

    def check(name: str, cond: bool) -> None:
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print(f"FAILED: {name}", file=sys.stderr)

    texts = [
        "Mail jane@example.com or call 020 7946 0000.",
        "NINO AB 12 34 56 C, born 14 March 1985.",
        "Order ORD-123456 shipped.",
        "Jane Doe lives in Leeds.",
    ]
    spans = [
        [(5, 21, "EMAIL_ADDRESS"), (30, 43, "PHONE_NUMBER")],
        [(5, 18, "UK_NINO"), (25, 38, "DATE_TIME")],
        [],
        [(0, 8, "PERSON"), (18, 23, "GPE")],
    ]
    corpus = [{"text": t, "gold": [(s, e, label(k)) for s, e, k in sp]} for t, sp in zip(texts, spans)]
    for t, sp in zip(texts, spans):
        for s, e, _ in sp:
            assert 0 <= s < e <= len(t)

    def preds(fn):
        return [[p for p in (fn(s, e, k, t) for s, e, k in sp) if p] for t, sp in zip(texts, spans)]

    def all_one(res):
        return (all(v == 1.0 for c in res["per_type"].values() for v in c["prf"])
                and all(v == 1.0 for v in res["micro"]["prf"]) and all(v == 1.0 for v in res["binary"]["prf"])
                and not res["spurious"])

    # gold as predictions
    res = score(corpus, preds(lambda s, e, k, t: {"start": s, "end": e, "type": k, "score": 1.0}))
    check("gold as predictions scores 1.0 everywhere", all_one(res))
    # the same in Custodian's kinds, through the mapping table
    kinds = {"EMAIL_ADDRESS": "email", "PHONE_NUMBER": "phone", "UK_NINO": "uk_nino", "DATE_TIME": "date",
             "PERSON": "person", "GPE": "location"}
    res = score(corpus, preds(lambda s, e, k, t: {"start": s, "end": e, "type": kinds[k], "score": 1.0}))
    check("gold as Custodian kinds scores 1.0 everywhere", all_one(res))
    # and in Presidio's names (LOCATION for GPE)
    res = score(corpus, preds(lambda s, e, k, t: {"start": s, "end": e, "type": "LOCATION" if k == "GPE" else k}))
    check("gold as Presidio types scores 1.0 everywhere", all_one(res))
    # shifted past the span: no overlap, so no recall and no precision
    res = score(corpus, preds(lambda s, e, k, t: {"start": e, "end": e + (e - s), "type": k}
                              if e + (e - s) <= len(t) else {"start": max(0, s - (e - s)), "end": s, "type": k}
                              if s - (e - s) >= 0 else None))
    check("shifted predictions: micro recall 0", res["micro"]["prf"][1] == 0.0)
    check("shifted predictions: binary recall 0", res["binary"]["prf"][1] == 0.0)
    check("shifted predictions: precision 0", res["micro"]["prf"][0] == 0.0)
    # empty predictions
    res = score(corpus, [[] for _ in texts])
    check("empty predictions: recall 0 everywhere", all(c["prf"][1] == 0.0 for c in res["per_type"].values())
          and res["micro"]["prf"][1] == 0.0 and res["binary"]["prf"][1] == 0.0)
    check("empty predictions: precision undefined, F2 0", res["micro"]["prf"][0] is None and res["micro"]["prf"][2] == 0.0)
    # IoU threshold: 13-character NINO span; 10 of 13 (0.77) matches, 9 of 13 (0.69) does not
    one = [[], [{"start": 5, "end": 15, "type": "UK_NINO"}], [], []]
    check("IoU 10/13 matches", score(corpus, one)["per_type"]["UK_NINO"]["tp"] == 1)
    one = [[], [{"start": 5, "end": 14, "type": "UK_NINO"}], [], []]
    check("IoU 9/13 does not match", score(corpus, one)["per_type"]["UK_NINO"]["tp"] == 0)
    # wrong type: no typed match, but a binary one
    res = score(corpus, [[], [{"start": 5, "end": 18, "type": "US_SSN"}], [], []])
    check("wrong type is FP + FN, spurious when the type is absent",
          res["per_type"]["UK_NINO"]["fn"] == 1 and res["spurious"] == {"US_SSN": 1})
    check("wrong type still counts in binary", res["binary"]["tp"] == 1 and res["binary"]["fp"] == 0)
    # one to one: two different predictions on one gold span give one TP and one FP
    res = score(corpus, [[{"start": 5, "end": 21, "type": "email"}, {"start": 5, "end": 20, "type": "EMAIL_ADDRESS"}], [], [], []])
    c = res["per_type"]["EMAIL_ADDRESS"]
    check("one to one", (c["tp"], c["fp"], c["fn"]) == (1, 1, 0))
    # binary merges overlapping predictions: URL inside an email is one claim
    res = score(corpus, [[{"start": 5, "end": 21, "type": "EMAIL_ADDRESS"}, {"start": 10, "end": 21, "type": "URL"}], [], [], []])
    check("binary merges overlaps", res["binary"]["tp"] == 1 and res["binary"]["fp"] == 0 and res["spurious"] == {"DOMAIN_NAME": 1})
    # decoy doc: anything there is a false positive
    res = score(corpus, [[], [], [{"start": 6, "end": 16, "type": "phone"}], []])
    check("decoy FP", res["per_type"]["PHONE_NUMBER"]["fp"] == 1 and res["binary"]["fp"] == 1)
    # F2
    check("F2 formula", abs(prf(1, 1, 0)[2] - (5 * 0.5 * 1.0) / (4 * 0.5 + 1.0)) < 1e-12)
    # the real corpus, when present: its gold as predictions scores 1.0 everywhere
    import os
    real = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus.json")
    if os.path.exists(real):
        rc = load_corpus(real)
        res = score(rc, [[{"start": s, "end": e, "type": t} for s, e, t in d["gold"]] for d in rc])
        check("corpus.json gold as predictions scores 1.0 everywhere", all_one(res))
        res = score(rc, [[] for _ in rc])
        check("corpus.json empty predictions: recall 0", res["micro"]["prf"][1] == 0.0 and res["binary"]["prf"][1] == 0.0)
        check("corpus.json spans inside texts and valued", all(0 <= s < e <= len(d["text"]) for d in rc for s, e, _ in d["gold"]))
    print(f"self-test: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?")
    ap.add_argument("predictions", nargs="*")
    ap.add_argument("--markdown", help="write the markdown section here too")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        self_test()
    if not args.corpus or not args.predictions:
        ap.error("give CORPUS and at least one prediction file")
    corpus = load_corpus(args.corpus)
    runs = [load_predictions(p, corpus) for p in args.predictions]
    results = [score(corpus, r["predictions"]) for r in runs]
    md = render(args.corpus, corpus, runs, results)
    print(md, end="")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(md)


if __name__ == "__main__":
    main()
