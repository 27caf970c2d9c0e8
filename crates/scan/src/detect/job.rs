//! Job titles: a person's role at work is personal data about them (`user.job_title`). A
//! title is one to four words ending in a role noun ([`ROLES`]: `engineer`, `officer`,
//! `dean`…), found only where the words around it say what it is:
//! - after `as`, `as a` or `as an` (`I worked for Acme Ltd as Applications engineer, but…`);
//! - between `, the` and the end of the clause, after a name (`Edmonda Mazzanti, the Academic
//!   dean, said`);
//! - after a label (`Job title:`, `Title:`, `Position:`, `Occupation:`, `Role:`, `Job:`);
//! - on a line of its own, capitalised, as in a signature or on a business card
//!   (`Yuuna Shigeki\nEmployee placement specialist\nNordstrom Inc.`).
//!
//! The role noun must end the clause: punctuation, a line break, the end of the text, or
//! `but`, `and`, `at`, `for`, `in`, `with`, `since`, `until` after it (`worked as a nurse
//! for ten years`), so that `as engineer salaries rose` is not taken. Confidence 0.6, 0.7
//! after a label.

use super::push;
use crate::Kind;
use crate::bytes::{at, is_one_of, starts_with};
use crate::lexicon::Lexicon;

/// Nouns that end a job title.
const ROLES: &[&str] = &[
    "accountant",
    "actor",
    "actuary",
    "adjuster",
    "administrator",
    "advisor",
    "agent",
    "aide",
    "analyst",
    "appraiser",
    "architect",
    "archivist",
    "artist",
    "assembler",
    "assistant",
    "associate",
    "athlete",
    "attendant",
    "auditor",
    "baker",
    "bartender",
    "broker",
    "builder",
    "butcher",
    "buyer",
    "captain",
    "carpenter",
    "cashier",
    "ceo",
    "cfo",
    "chef",
    "chemist",
    "clerk",
    "coach",
    "consultant",
    "controller",
    "cook",
    "coordinator",
    "counselor",
    "counsellor",
    "curator",
    "cutter",
    "dancer",
    "dean",
    "dentist",
    "designer",
    "developer",
    "dietitian",
    "director",
    "dispatcher",
    "driver",
    "economist",
    "editor",
    "electrician",
    "engineer",
    "erector",
    "escort",
    "estimator",
    "examiner",
    "executive",
    "expert",
    "farmer",
    "firefighter",
    "geologist",
    "guard",
    "handler",
    "historian",
    "hygienist",
    "inspector",
    "installer",
    "instructor",
    "interpreter",
    "investigator",
    "janitor",
    "journalist",
    "laborer",
    "labourer",
    "lawyer",
    "lecturer",
    "librarian",
    "machinist",
    "manager",
    "mechanic",
    "mathematician",
    "musician",
    "nurse",
    "nutritionist",
    "offbearer",
    "officer",
    "operator",
    "optician",
    "optometrist",
    "packager",
    "painter",
    "paralegal",
    "paramedic",
    "pharmacist",
    "photographer",
    "physician",
    "physicist",
    "physiotherapist",
    "pilot",
    "planner",
    "plumber",
    "president",
    "principal",
    "producer",
    "professor",
    "programmer",
    "psychologist",
    "receptionist",
    "recruiter",
    "repairer",
    "reporter",
    "representative",
    "researcher",
    "salesperson",
    "scientist",
    "secretary",
    "setter",
    "sociologist",
    "solicitor",
    "specialist",
    "statistician",
    "steward",
    "supervisor",
    "surgeon",
    "surveyor",
    "teacher",
    "technician",
    "technologist",
    "tester",
    "therapist",
    "trainer",
    "translator",
    "tutor",
    "underwriter",
    "veterinarian",
    "waiter",
    "welder",
    "worker",
    "writer",
];

/// Words that may follow a title inside its clause.
const AFTER: &[&str] = &["but", "and", "at", "for", "in", "with", "since", "until"];

/// Labels before a title.
const LABELS: &[&str] = &["title", "position", "occupation", "role", "job"];

fn roles() -> &'static Lexicon {
    static ROLES_LEXICON: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    ROLES_LEXICON.get_or_init(|| Lexicon::new(ROLES.iter().map(|w| (w.as_bytes(), 1))))
}

/// The word (ASCII letters and inner hyphens) that ends at `end` after one space, or `None`.
fn word_before(t: &[u8], end: usize) -> Option<(usize, usize)> {
    if end < 2 || t[end - 1] != b' ' {
        return None;
    }
    let e = end - 1;
    let mut s = e;
    while s > 0
        && (t[s - 1].is_ascii_alphabetic()
            || (t[s - 1] == b'-' && s - 1 > 0 && t[s - 2].is_ascii_alphabetic()))
    {
        s -= 1;
        if e - s > 24 {
            return None;
        }
    }
    (s < e && (s == 0 || !t[s - 1].is_ascii_alphanumeric())).then_some((s, e))
}

/// Whether the clause ends at `e`: punctuation, a line break (also two blanks, an escaped
/// `\n`), the end of the text, or one of [`AFTER`].
fn clause_ends(t: &[u8], e: usize) -> bool {
    match at(t, e) {
        0 | b',' | b'.' | b';' | b':' | b')' | b'!' | b'?' | b'\n' | b'\r' | b'"' => true,
        b' ' => {
            at(t, e + 1) == b' '
                || AFTER.iter().any(|w| {
                    starts_with(t, e + 1, w.as_bytes())
                        && !at(t, e + 1 + w.len()).is_ascii_alphabetic()
                })
        }
        _ => false,
    }
}

/// The confidence a cue right before `s` gives a title starting at `s`, if there is one.
fn cue_before(t: &[u8], s: usize) -> Option<f32> {
    // A label: `Job title: `, `Position:`.
    let mut c = s;
    while c > 0 && t[c - 1] == b' ' && s - c < 4 {
        c -= 1;
    }
    if c > 0 && t[c - 1] == b':' {
        let mut ls = c - 1;
        while ls > 0 && t[ls - 1].is_ascii_alphabetic() && c - 1 - ls < 12 {
            ls -= 1;
        }
        let label = &t[ls..c - 1];
        return LABELS
            .iter()
            .any(|l| label.eq_ignore_ascii_case(l.as_bytes()))
            .then_some(0.7);
    }
    let (ws, we) = word_before(t, s)?;
    let w = &t[ws..we];
    if w.eq_ignore_ascii_case(b"as") {
        return Some(0.6);
    }
    if w.eq_ignore_ascii_case(b"a") || w.eq_ignore_ascii_case(b"an") {
        let (ps, pe) = word_before(t, ws)?;
        return t[ps..pe].eq_ignore_ascii_case(b"as").then_some(0.6);
    }
    // `, the Academic dean`.
    (w.eq_ignore_ascii_case(b"the") && ws >= 2 && &t[ws - 2..ws] == b", ").then_some(0.6)
}

/// Whether the words `s..e` fill a line of their own, the first capitalised: a signature or
/// a business card (`Yuuna Shigeki\nEmployee placement specialist\nNordstrom Inc.`). A line
/// break is `\n`, `\r`, the start or end of the text, or two blanks (an escaped `\n`);
/// spaces and tabs around the words are the line's indent.
fn own_line(t: &[u8], s: usize, e: usize) -> bool {
    let blank = |b: u8| b == b' ' || b == b'\t';
    let mut a = s;
    while a > 0 && blank(t[a - 1]) && s - a < 8 {
        a -= 1;
    }
    let starts = a == 0 || matches!(t[a - 1], b'\n' | b'\r') || s - a >= 2;
    let mut b = e;
    while b < t.len() && blank(t[b]) && b - e < 8 {
        b += 1;
    }
    let ends = b == t.len() || matches!(t[b], b'\n' | b'\r') || b - e >= 2;
    let first = t[s..e].split(|&c| c == b' ').next().unwrap_or(&[]);
    starts && ends && t[s].is_ascii_uppercase() && !is_one_of(first, super::person::DETERMINERS)
}

/// Pushes job titles.
pub(crate) fn titles(t: &[u8], out: &mut Vec<crate::Finding>) {
    let roles = roles();
    let mut i = 0;
    while i < t.len() {
        if !t[i].is_ascii_alphabetic() || (i > 0 && t[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let mut e = i;
        while at(t, e).is_ascii_alphabetic() {
            e += 1;
        }
        if roles.get(&t[i..e]) == 0 || !clause_ends(t, e) {
            i = e;
            continue;
        }
        // Back over up to three more words to the cue.
        let mut s = i;
        let mut found = None;
        for _ in 0..4 {
            if let Some(conf) = cue_before(t, s).or_else(|| own_line(t, s, e).then_some(0.6)) {
                found = Some((s, conf));
                break;
            }
            match word_before(t, s) {
                Some((ws, _)) => s = ws,
                None => break,
            }
        }
        if let Some((s, conf)) = found {
            push(out, Kind::JobTitle, s, e, conf, "job_title");
        }
        i = e;
    }
}
