//! Ages and person names: words about a person rather than a checkable number, so each is
//! reported only where the words around it say what it is.
//!
//! - An age is a number of 0 to 120 followed by `years old` / `year-old` / `y/o` / `yo`, or
//!   preceded by `age` / `aged` / `age of` / `turned` / `turning` / `turn`, or ending a
//!   clause after `when he was` (`she`, `I`, `they`…; 0.7).
//! - A name is one to three capitalised words (or initials, with `van der`, `de`… before a
//!   surname) after a title (`Mr`, `Mrs`, `Ms`,
//!   `Dr`, `Prof`, ...) or after words that introduce a name (`my name is`, `name:`,
//!   `call me`, `dear`, `signed`...) or a role (`Employee`, `Patient`, `Customer`: then only
//!   two or more words or a known given name); or one capitalised word before its
//!   possessive and a thing a person has (`here's Marina's address`: 0.6), not after a
//!   determiner (`the Company's address`); or, without such words, two or three capitalised words
//!   whose first is a known given name (US Census 1990 lists, public domain:
//!   `first_names.txt`; other countries' common given names: `first_names_intl.txt`) and
//!   whose last is not a word of places or organisations
//!   (`Jasper Avenue`, `Grace Hospital`) (0.6); or two or three capitalised words whose last
//!   ends like a surname in a language that marks them (`Valter Jonsson`, `Jana Nováková`)
//!   (0.6); or a known given name alone, not next to another capitalised word and not a day
//!   or month (`Rachel`), at 0.5, the lowest confidence reported by default; or one or two
//!   name words before a verb only people are the subject of (`Pauliina shouted`, `Moran was
//!   born`: 0.6). A name may start with a capital of any script (`Þórólfsdóttir`).
//! - A title before a name is reported too, as `title` (`Mrs.` of `Mrs. Alexandra Harington`).

use super::push;
use crate::Kind;
use crate::bytes::{
    ByteSet, CAPITALS_OR_LEADS, DIGITS, Needle, alnum_before, at, capital_at, char_at, digits_end,
    is_digit, is_one_of, next_in, set, word_at, word_before,
};
use crate::lexicon::Lexicon;
use memchr::memmem::Finder;

/// Ages.
pub(crate) fn age(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if !is_digit(t, i) || (i > 0 && (t[i - 1].is_ascii_alphanumeric() || t[i - 1] == b'.')) {
            i = next_in(t, i + 1, &DIGITS);
            continue;
        }
        let e = digits_end(t, i);
        let n = e - i;
        if n > 3 || at(t, e).is_ascii_alphabetic() || (at(t, e) == b'.' && is_digit(t, e + 1)) {
            i = e;
            continue;
        }
        let value = t[i..e]
            .iter()
            .fold(0u32, |a, b| a * 10 + u32::from(b - b'0'));
        if value > 120 {
            i = e;
            continue;
        }
        // After: "34 years old", "34-year-old", "34 yrs old", "34 y/o", "34 yo".
        let mut j = e;
        if matches!(at(t, j), b' ' | b'-') {
            j += 1;
        }
        let after = word_at(t, j, &["years", "year", "yrs", "yr"])
            .and_then(|k| {
                let k = if matches!(at(t, k), b' ' | b'-') {
                    k + 1
                } else {
                    k
                };
                word_at(t, k, &["old"])
            })
            .or_else(|| word_at(t, j, &["y/o", "yo", "yoa"]));
        // Before: "aged 34", "age: 34", "at the age of 34", "turned 34".
        let (w, ws) = word_before(t, i, true);
        let before = is_one_of(w, &["age", "aged", "turned", "turning", "turn", "turns"])
            || (is_one_of(w, &["of"]) && is_one_of(word_before(t, ws, false).0, &["age"]));
        // "when she was 34." (the number ending the clause: not "when he was 5 minutes late").
        let when = is_one_of(w, &["was", "were"])
            && {
                let (p, ps) = word_before(t, ws, false);
                is_one_of(p, &["he", "she", "i", "they", "we", "you"])
                    && is_one_of(word_before(t, ps, false).0, &["when"])
            }
            && (e == t.len() || matches!(at(t, e), b'.' | b',' | b';' | b'!' | b'?' | b')'));
        if after.is_some() || before || when {
            let conf = if after.is_some() {
                0.85
            } else if before {
                0.75
            } else {
                0.7
            };
            push(out, Kind::Age, i, e, conf, "age");
        }
        i = e;
    }
}

const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "dr",
    "prof",
    "professor",
    "sir",
    "madam",
    "mister",
];
/// Words after which a capitalised word is a name (the last word of a cue).
const CUES: &[(&str, Option<&str>)] = &[
    ("is", Some("name")),
    ("name", None),
    ("me", Some("call")),
    ("me", Some("calls")),
    ("dear", None),
    ("signed", None),
    ("regards", None),
    ("sincerely", None),
    ("under", None),
    ("hi", None),
    ("hello", None),
    // Family after `my` (`my son Eetu`), a name given (`named him José`).
    ("kid", Some("my")),
    ("son", Some("my")),
    ("daughter", Some("my")),
    ("wife", Some("my")),
    ("husband", Some("my")),
    ("him", Some("named")),
    ("her", Some("named")),
    // Who made a work (`directed by Mark Wilson`, `starring Segovia`), whom one assists
    // or gave something to.
    ("by", Some("directed")),
    ("by", Some("written")),
    ("by", Some("sung")),
    ("by", Some("performed")),
    ("by", Some("composed")),
    ("starring", None),
    ("to", Some("assistant")),
    ("given", Some("had")),
    // An artist's trade before the name (`Producer Svitlana Jurković explained`).
    // (Not `singer`, `poet`, `drummer`: surnames too, and cues are known words.)
    ("producer", None),
    ("songwriter", None),
    ("guitarist", None),
    ("bassist", None),
    ("composer", None),
    ("novelist", None),
    ("actress", None),
];

/// Verbs of speech that name the speaker after a quotation (`," says Loginov.`, `I'm so
/// jealous! said Naile`).
const SPEECH: &[&str] = &[
    "says",
    "said",
    "asks",
    "asked",
    "replies",
    "replied",
    "adds",
    "added",
    "writes",
    "wrote",
    "explains",
    "explained",
];

/// Whether the word `w` at `ws` is a verb of speech right after the end of a quotation (a
/// closing quote, `!` or `?`).
fn attribution(t: &[u8], w: &[u8], ws: usize) -> bool {
    let mut p = ws;
    if p > 0 && t[p - 1] == b' ' {
        p -= 1;
    }
    let quoted = p > 0 && matches!(t[p - 1], b'"' | b'!' | b'?')
        || t.get(p.saturating_sub(3)..p) == Some("\u{201d}".as_bytes());
    quoted && is_one_of(w, SPEECH)
}

/// Plural roles whose members a list after a colon names (`our 3 founders: Guibord, Cannon
/// and Moore`).
const LISTED: &[&str] = &[
    "founders",
    "authors",
    "members",
    "partners",
    "directors",
    "attendees",
    "participants",
    "speakers",
    "winners",
    "guests",
    "children",
    "kids",
    "owners",
    "signatories",
];

/// A list of one-word names at `s` after one of [`LISTED`] and a colon, or after a count
/// and a colon when the list holds that many (`count`): each name, pushed (0.6), separated
/// by `, ` or ` and `; the end of the last. Every word must be a name word that is no word
/// the crate knows as something else.
fn listed_names(
    t: &[u8],
    s: usize,
    count: Option<usize>,
    out: &mut Vec<crate::Finding>,
) -> Option<usize> {
    let mut names = Vec::new();
    let mut i = s;
    loop {
        let e = name_word(t, i, true)?;
        if e - i < 3 || known_word(&t[i..e]) || not_a_name(&t[i..e]) {
            return None;
        }
        names.push((i, e));
        i = if t.get(e..e + 2) == Some(b", ") {
            e + 2
        } else if t.get(e..e + 5) == Some(b" and ") || t.get(e..e + 6) == Some(b", and ") {
            e + if t[e] == b',' { 6 } else { 5 }
        } else {
            break;
        };
        if names.len() > 12 {
            return None;
        }
    }
    if names.len() < 2 || count.is_some_and(|n| n != names.len()) {
        return None;
    }
    for &(a, b) in &names {
        push(out, Kind::Person, a, b, 0.6, "person_list");
    }
    names.last().map(|&(_, e)| e)
}

/// The number of one or two digits right before `: ` that ends at `i` (`had 6: Ayfer`).
fn count_before_colon(t: &[u8], i: usize) -> Option<usize> {
    if i < 4 || t[i - 1] != b' ' || t[i - 2] != b':' || !t[i - 3].is_ascii_digit() {
        return None;
    }
    let mut s = i - 3;
    while s > 0 && i - 2 - s < 2 && t[s - 1].is_ascii_digit() {
        s -= 1;
    }
    if s > 0 && t[s - 1].is_ascii_alphanumeric() {
        return None;
    }
    std::str::from_utf8(&t[s..i - 2]).ok()?.parse().ok()
}

/// Cues that are a person's role (`Patient Jane Doe`), besides [`CUES`]: the name after them
/// must be more than one word or a known given name (`Customer Service` is not a name).
const ROLES: &[&str] = &[
    "patient",
    "customer",
    "employee",
    "client",
    "applicant",
    "candidate",
    "tenant",
];

/// What a person has that the text may give (`Marina's address`).
const POSSESSIONS: &[&str] = &[
    "address", "phone", "email", "number", "birthday", "passport", "account", "details", "kid",
    "son", "daughter", "wife", "husband", "mother", "father", "brother", "sister", "child",
    "children", "parents", "family", "song", "songs", "album", "novel", "book", "version",
];

/// A capitalised word (`Grace`, `O'Neil`, `McAllister`, `Jean-Luc`, `José`) or an initial
/// (`A.`, `A`) starting at `i`; its end, after the last byte of a multi-byte character (so
/// still a `char` boundary).
fn name_word(t: &[u8], i: usize, first: bool) -> Option<usize> {
    // The first word starts on a capital of any script (`Émile`, `Þórbergur`); later ones
    // on any non-ASCII letter too (`Álvarez`).
    if !(at(t, i).is_ascii_uppercase() || (!first && at(t, i) >= 0xC0) || capital_at(t, i)) {
        return None;
    }
    // A non-ASCII first letter needs another letter after it.
    let least = if at(t, i) < 0x80 {
        2
    } else {
        char_at(t, i).map_or(2, |(_, n)| n + 1)
    };
    let mut e = i + 1;
    // (Not the `O` of `O'Neil`; the `I` of `I'm` is.)
    let apostrophe = at(t, e) == b'\'' && at(t, e + 1).is_ascii_uppercase();
    if at(t, i).is_ascii_uppercase()
        && !apostrophe
        && (at(t, e) == b'.' || !(at(t, e).is_ascii_alphabetic() || at(t, e) >= 0x80))
    {
        // An initial.
        return Some(if at(t, e) == b'.' { e + 1 } else { e });
    }
    while at(t, e).is_ascii_alphabetic()
        || (matches!(at(t, e), b'\'' | b'-') && at(t, e + 1).is_ascii_alphabetic())
        || at(t, e) >= 0x80
    {
        e += 1;
        // No name word is longer: stopping here keeps the scan linear on a long run of
        // letters with capitals inside it (`Ab-Ab-Ab-…`), where every capital is tried.
        if e - i > 24 {
            return None;
        }
    }
    // All capitals of more than 3 letters is shouting or an acronym, not a name.
    let all_caps = t[i..e].iter().all(|b| b.is_ascii_uppercase());
    (e - i >= least && !(all_caps && e - i > 3)).then_some(e)
}

/// Words that start with a capital but are not names (sentence words after a cue).
const NOT_NAMES: &[&str] = &[
    "I", "The", "A", "An", "My", "Your", "Our", "This", "That", "It", "We", "You", "He", "She",
    "They", "Is", "Please", "Thanks", "Thank", "Team", "Sir", "Madam", "All", "There", "Suite",
    "Apt", "Unit", "Box",
];

/// Lower-case particles inside a name, before a surname (`Eliane van der Vlist`,
/// `Christiane S. de Vaan`).
const PARTICLES: &[&str] = &[
    "van", "der", "den", "de", "da", "di", "von", "du", "le", "la", "dos", "das", "del", "della",
    "ten", "ter", "bin", "ibn", "al",
];

fn is_particle(w: &[u8]) -> bool {
    PARTICLES.iter().any(|p| p.as_bytes() == w)
}

/// The end of one or two particles at `i` followed by a space and a name word, or `None`.
fn particles_at(t: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for _ in 0..2 {
        let mut e = j;
        while at(t, e).is_ascii_lowercase() {
            e += 1;
        }
        if e == j || !is_particle(&t[j..e]) || at(t, e) != b' ' {
            return None;
        }
        j = e + 1;
        if name_word(t, j, false).is_some() {
            return Some(j);
        }
    }
    None
}

/// Whether `w` is one of [`NOT_NAMES`] as written there (capitalised).
fn not_a_name(w: &[u8]) -> bool {
    lexicon().get(w) & NOT_NAME != 0
        && w[0].is_ascii_uppercase()
        && w[1..].iter().all(u8::is_ascii_lowercase)
}

/// Up to three name words from `s`, separated by single spaces; the end of the last one
/// that is not a trailing initial.
fn name_at(t: &[u8], s: usize) -> Option<usize> {
    let mut end = None;
    let mut i = s;
    for k in 0..3 {
        let Some(e) = name_word(t, i, k == 0) else {
            break;
        };
        // An initial with its dot ("A.") is a name part; "A" or "I" alone is not, unless it
        // stands between two name words (`Leonor A Rodrigues`).
        let middle =
            k == 1 && e - i == 1 && at(t, e) == b' ' && name_word(t, e + 1, false).is_some();
        if not_a_name(&t[i..e]) && !middle {
            break;
        }
        // A possessive ends the name (`Victor Thygesen's Cautionary Tales`).
        if t[i..e].ends_with(b"'s") {
            end = Some(e - 2);
            break;
        }
        end = Some(e);
        if at(t, e) != b' ' {
            break;
        }
        i = e + 1;
        // `van der`, `de` before the next name word.
        if let Some(j) = particles_at(t, i) {
            i = j;
        }
    }
    // At least two bytes: a lone initial is not a name.
    end.filter(|&e| e - s >= 2)
}

/// Person names after titles and cues.
pub(crate) fn person(t: &[u8], out: &mut Vec<crate::Finding>) {
    // What [`appositive`] needs after a name; most texts do not hold it.
    static COMMA_THE: Needle = Needle::new(|| Finder::new(b", the "));
    let comma_the = COMMA_THE.find(t).is_some();
    let mut i = 0;
    while i < t.len() {
        // A capital that starts a word (a non-ASCII one after no other non-ASCII byte).
        // Not inside a hyphenated word either (`ex-Zombie`).
        let starts = capital_at(t, i)
            && !(i > 0 && (t[i - 1].is_ascii_alphanumeric() || (t[i] >= 0x80 && t[i - 1] >= 0x80)))
            && !(i > 1 && t[i - 1] == b'-' && t[i - 2].is_ascii_alphabetic());
        if !starts {
            i = next_in(t, i + 1, &CAPITALS_OR_LEADS);
            continue;
        }
        // Every rule below starts with this name word: without one, none finds anything.
        let Some(first) = name_word(t, i, true) else {
            i += 1;
            continue;
        };
        // The name words from here, asked by several rules: read once, when first asked.
        let name_cell = std::cell::OnceCell::new();
        let name = || *name_cell.get_or_init(|| name_at(t, i));
        // The start of a candidate: what precedes it decides.
        let mut b = i;
        if b > 0 && matches!(t[b - 1], b' ' | b'\n' | b'\t') {
            b -= 1;
        }
        let (w, ws) = word_before(t, b.min(i), true);
        let (w, ws, title_at) = if w.is_empty() && b > 0 && t[b - 1] == b'.' {
            // A title with its dot: "Dr. Grace Hopper".
            let (w, s) = word_before(t, b - 1, false);
            (w, s, (s, s + w.len() + 1))
        } else if w.is_empty() && b > 0 && t[b - 1] == b'?' {
            // An answer: "What's your last name? Ogawa".
            let (w, s) = word_before(t, b - 1, false);
            (
                if w.eq_ignore_ascii_case(b"name") {
                    w
                } else {
                    &[]
                },
                s,
                (s, s),
            )
        } else {
            (w, ws, (ws, ws + w.len()))
        };
        if at(t, ws + w.len()) == b':'
            && is_one_of(w, LISTED)
            && let Some(e) = listed_names(t, i, None, out)
        {
            i = e;
            continue;
        }
        // A count before the colon that the list matches (`They had 6: Ayfer, Mary, …`).
        if let Some(n) = count_before_colon(t, i)
            && let Some(e) = listed_names(t, i, Some(n), out)
        {
            i = e;
            continue;
        }
        let flags = lexicon().get(w);
        let title = flags & TITLE != 0;
        let role = !title && flags & CUE != 0 && is_one_of(w, ROLES);
        let conf = if title {
            Some(0.85)
        } else if role
            || attribution(t, w, ws)
            || (flags & CUE != 0
                && CUES.iter().any(|(last, prev)| {
                    is_one_of(w, &[last])
                        && prev.is_none_or(|p| is_one_of(word_before(t, ws, false).0, &[p]))
                }))
        {
            Some(0.7)
        } else {
            None
        };
        let named = conf
            .and_then(|_| name())
            .filter(|&e| !role || t[i..e].contains(&b' ') || given_name(t, i, first));
        match (conf, named) {
            (Some(c), Some(e)) => {
                if title {
                    push(out, Kind::Title, title_at.0, title_at.1, c, "title");
                }
                push(out, Kind::Person, i, e, c, "person_context");
                i = e;
            }
            _ if let Some(e) = possessive(t, i, first) => {
                push(out, Kind::Person, i, e, 0.6, "person_possessive");
                i = e;
            }
            _ if let Some(e) = author_of_work(t, i, first) => {
                push(out, Kind::Person, i, e, 0.55, "person_author");
                i = e;
            }
            _ if comma_the && let Some(e) = appositive(t, i, name()) => {
                push(out, Kind::Person, i, e, 0.6, "person_appositive");
                i = e;
            }
            _ if let Some(e) = subject(t, i, first) => {
                push(out, Kind::Person, i, e, 0.6, "person_subject");
                i = e;
            }
            _ => match (first, given_name(t, i, first)) {
                // Every rule below needs a known given name here, or a second name word after
                // this one: most capitalised words stop at this test.
                (fe, given)
                    if given || (at(t, fe) == b' ' && name_word(t, fe + 1, false).is_some()) =>
                {
                    let found = known_full_name(t, i, given, &name)
                        .or_else(|| surname_like(t, i, &name))
                        .map(|e| (e, 0.6, "person_given_name"))
                        .or_else(|| {
                            known_given_name(t, i, fe, given).map(|e| (e, 0.5, "person_given_name"))
                        })
                        .or_else(|| {
                            capitalised_words(t, i, &name).map(|e| (e, 0.5, "person_capitalised"))
                        });
                    // A title in quotes that goes on in capitals (`"Carry Me Back To Spain,"`).
                    let quoted_title = |&(e, _, _): &(usize, f32, &str)| {
                        i > 0
                            && t[i - 1] == b'"'
                            && at(t, e) == b' '
                            && at(t, e + 1).is_ascii_uppercase()
                    };
                    match found.filter(|f| !quoted_title(f)) {
                        Some((e, conf, detector)) => {
                            push(out, Kind::Person, i, e, conf, detector);
                            i = e;
                        }
                        None => i += 1,
                    }
                }
                _ => i += 1,
            },
        }
    }
}

/// Lower-case words that end a name found after a lower-case title.
const AFTER_LOWER_NAME: &[&str] = &[
    "a", "about", "after", "an", "and", "are", "as", "at", "be", "before", "but", "by", "can",
    "could", "for", "from", "had", "has", "have", "if", "in", "is", "it", "me", "my", "no", "not",
    "of", "on", "or", "please", "said", "says", "see", "so", "that", "the", "this", "to", "was",
    "we", "were", "who", "will", "with", "would", "you", "your",
];

/// A title with its dot in lower case, as in a lower-cased text (`mr. ackerman is`,
/// `hello, this is dr. cody sigfúsdóttir.`): the title (0.6) and the one to three lower-case
/// words after it (ASCII lower-case letters and non-ASCII characters, an apostrophe inside)
/// as the name (0.55), up to a
/// clause's punctuation or a word of [`AFTER_LOWER_NAME`]; not a word known as something
/// else, nor after a determiner (`the dr. about it`).
pub(crate) fn lower_titled(t: &[u8], out: &mut Vec<crate::Finding>) {
    for dot in memchr::memchr_iter(b'.', t) {
        let s = word_before(t, dot, false).1;
        let title = &t[s..dot];
        if !matches!(title, b"mr" | b"mrs" | b"ms" | b"dr") || at(t, dot + 1) != b' ' {
            continue;
        }
        if s > 0 && !matches!(t[s - 1], b' ' | b'\n' | b'\t' | b'(' | b'"' | b',') {
            continue;
        }
        // `the dr. said`: a noun, not a title before a name.
        if is_one_of(word_before(t, s, false).0, DETERMINERS) {
            continue;
        }
        let mut e = dot + 2;
        let mut end = None;
        for _ in 0..3 {
            let ws = e;
            while at(t, e).is_ascii_lowercase()
                || at(t, e) >= 0x80
                || (at(t, e) == b'\'' && at(t, e + 1).is_ascii_lowercase() && e > ws)
            {
                e += 1;
            }
            let w = &t[ws..e];
            if w.len() < 2 || is_one_of(w, AFTER_LOWER_NAME) || known_word(w) {
                break;
            }
            end = Some(e);
            if at(t, e) != b' ' {
                break;
            }
            e += 1;
        }
        if let Some(e) = end {
            push(out, Kind::Title, s, dot + 1, 0.6, "title");
            push(out, Kind::Person, dot + 2, e, 0.55, "person_context");
        }
    }
}

/// The longest line [`above_job_title`] reads for a name, in bytes.
const NAME_LINE: usize = 60;

/// A signature's or a business card's name: two or three name words alone on the line
/// above a job title found at its line's start (`Christian Nobbs\nCrop scientist`, the break
/// real or escaped: a line break or two spaces), the last not a word known as something
/// else; 0.6. Reads the job titles already
/// found, so it runs after them.
pub(crate) fn above_job_title(t: &[u8], out: &mut Vec<crate::Finding>) {
    let starts: Vec<usize> = out
        .iter()
        .filter(|f| f.kind == Kind::JobTitle)
        .map(|f| f.start)
        .collect();
    for js in starts {
        // The break before the job's line: a line break, or two spaces (an escaped break).
        let mut b = js;
        while b > 0 && matches!(t[b - 1], b' ' | b'\t' | b'\r') {
            b -= 1;
        }
        if b > 0 && t[b - 1] == b'\n' {
            b -= 1;
            while b > 0 && matches!(t[b - 1], b' ' | b'\t' | b'\r') {
                b -= 1;
            }
        } else if js - b < 2 {
            continue;
        }
        // The line before: from the break before it, at most NAME_LINE bytes back.
        let from = b.saturating_sub(NAME_LINE);
        let line = &t[from..b];
        let after_break = line
            .iter()
            .rposition(|&x| x == b'\n')
            .map(|p| p + 1)
            .max(memchr::memmem::rfind(line, b"  ").map(|p| p + 2));
        let mut ls = match after_break {
            Some(p) => from + p,
            None if from == 0 => 0,
            None => continue,
        };
        while ls < b && matches!(t[ls], b' ' | b'}' | b']' | b'>' | b'|' | b'?') {
            ls += 1;
        }
        let Some(e) = name_at(t, ls) else {
            continue;
        };
        // The surname no word known as something else (a given name may be: `Christian`).
        let words_ok = t[ls..e]
            .rsplit(|&x| x == b' ')
            .next()
            .is_some_and(|w| w.len() > 1 && !known_word(w));
        if e == b && t[ls..e].contains(&b' ') && words_ok {
            push(out, Kind::Person, ls, e, 0.6, "person_above_job");
        }
    }
}

/// The most distinct name words [`repeated`] looks for again: it stays linear.
const MAX_REPEATED: usize = 16;

/// Other mentions of a name found with context (confidence 0.6 or more): each word of it
/// (three letters or more, no word the crate knows as something else) found again alone as
/// a whole word (`directed by Samuel Dias and starring Dias`) where nothing else was found,
/// at 0.55. And the name an email address is made of (`GermanKauzar@…`, `jane.doe@…`: two
/// parts or more, none a role such as `sales`; parts that are a day, a month, a title, a cue
/// or a sentence word, `march`, are left out), found capitalised as a whole word elsewhere
/// in the text (`while German is on leave`), at 0.7, over a place or a people the lists found
/// without context and over a one-word name found otherwise. Reads the findings already in
/// `out`, so it runs after the other detectors.
pub(crate) fn repeated(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mailed = email_names(t, out);
    let mut names: Vec<&[u8]> = Vec::new();
    for f in out
        .iter()
        .filter(|f| f.kind == Kind::Person && f.confidence >= 0.6)
    {
        for w in t[f.start..f.end].split(|&b| b == b' ') {
            let word = w.strip_suffix(b".").unwrap_or(w);
            let named = word.len() >= 3
                && word[0].is_ascii_uppercase()
                && !word.iter().all(u8::is_ascii_uppercase)
                && !known_word(word)
                && !not_a_name(word);
            if named && !names.contains(&word) && names.len() < MAX_REPEATED {
                names.push(word);
            }
        }
    }
    if names.is_empty() && mailed.is_empty() {
        return;
    }
    // What was found: a mention inside any of it is left alone (`Alina` of a
    // lower-confidence `Alina Abakumova`); a name from an email address may take the place of
    // a place or a people the lists found, or of a less sure one-word name.
    let all = super::Taken::new(out.iter().map(|f| (f.start, f.end)));
    let found = super::Taken::new(
        out.iter()
            .filter(|f| {
                let one_word = f.kind == Kind::Person && !t[f.start..f.end].contains(&b' ');
                f.detector != "gazetteer" && !one_word
            })
            .map(|f| (f.start, f.end)),
    );
    let mut i = 0;
    while i < t.len() {
        i = next_in(t, i, &CAPITALS_OR_LEADS);
        if i == t.len() {
            break;
        }
        let Some(e) = name_word(t, i, true) else {
            i += 1;
            continue;
        };
        let e = if t[i..e].ends_with(b"'s") { e - 2 } else { e };
        let alone = !(alnum_before(t, i) || at(t, e).is_ascii_alphanumeric() || at(t, e) >= 0x80);
        if alone && names.contains(&&t[i..e]) && all.free(i, e) {
            push(out, Kind::Person, i, e, 0.55, "person_repeated");
        } else if alone
            && mailed.iter().any(|m| m.eq_ignore_ascii_case(&t[i..e]))
            && found.free(i, e)
        {
            push(out, Kind::Person, i, e, 0.7, "person_in_email");
        }
        i = e.max(i + 1);
    }
}

/// Words a line may start with before a colon that label a field, not a speaker.
const FIELD_LABELS: &[&str] = &[
    "name", "address", "phone", "email", "mail", "date", "when", "where", "website", "mobile",
    "desk", "fax", "tel", "note", "notes", "subject", "from", "to", "re", "cc", "bcc", "bot",
    "user", "agent", "customer", "question", "answer", "warning", "error", "info", "status",
    "title", "location", "time", "summary", "update", "reply", "host", "server", "client",
];

/// The most speakers [`speakers`] takes.
const MAX_SPEAKERS: usize = 32;

/// Speakers of a dialogue: one or two name words at a line's start (after a line break, two
/// spaces not after a colon, as an escaped break is blanked, or the text's start) right before
/// a colon (`Kauã: "Who are you?"`), none a
/// word known as something else or a field's label ([`FIELD_LABELS`]); reported (0.6) when
/// two such lines or more start so, or the speaker is a known given name.
pub(crate) fn speakers(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut found: Vec<(usize, usize, bool)> = Vec::new();
    let mut i = 0;
    while found.len() < MAX_SPEAKERS {
        // A speaker starts with a capital: jump from one to the next.
        i = next_in(t, i, &CAPITALS_OR_LEADS);
        if i >= t.len() {
            break;
        }
        let line_start = i == 0
            || t[i - 1] == b'\n'
            || (i >= 2 && t[i - 1] == b' ' && t[i - 2] == b' ' && (i < 3 || t[i - 3] != b':'));
        if line_start && let Some((e, given)) = speaker_at(t, i) {
            found.push((i, e, given));
            i = e;
        } else {
            i += 1;
        }
    }
    let lines = found.len();
    for &(s, e, given) in &found {
        if given || lines >= 2 {
            push(out, Kind::Person, s, e, 0.6, "person_speaker");
        }
    }
}

/// One or two name words at `s` followed by `:`: their end, and whether the first is a known
/// given name.
fn speaker_at(t: &[u8], s: usize) -> Option<(usize, bool)> {
    let (mut e, given) = first_name_word(t, s)?;
    let ok = |a: usize, b: usize| {
        let w = &t[a..b];
        !known_word(w) && !not_a_name(w) && !is_one_of(w, FIELD_LABELS)
    };
    if !ok(s, e) {
        return None;
    }
    if at(t, e) == b' '
        && let Some(e2) = name_word(t, e + 1, false)
        && ok(e + 1, e2)
        && at(t, e2) == b':'
    {
        e = e2;
    }
    (at(t, e) == b':' && !at(t, e + 1).is_ascii_digit() && at(t, e + 1) != b'/')
        .then_some((e, given))
}

/// Words after `Name, ` that make the name the one spoken to (`Sue, can I please speak to
/// your boss?`).
const ASKING: &[&str] = &[
    "can", "could", "would", "will", "please", "do", "did", "are", "have",
];

/// Capitalised words that open a sentence before a comma but name no one (`Sorry, can I…`).
const INTERJECTIONS: &[&str] = &[
    "sorry",
    "yes",
    "no",
    "ok",
    "okay",
    "well",
    "please",
    "thanks",
    "excuse",
    "listen",
    "hey",
    "look",
    "so",
    "now",
    "then",
    "also",
    "guys",
    "everyone",
    "team",
    "folks",
    "sir",
    "madam",
    "friends",
    "honey",
    "dear",
    "again",
    "anyway",
    "today",
    "tomorrow",
    "yesterday",
    "first",
];

/// Two more ways a sentence names people: the one spoken to, one name word opening the text,
/// a line or a sentence before `, can`, `, could`… ([`ASKING`]; 0.6); and two name words
/// opening a sentence, joined by `and`, before `were` or `are` (`Caird and Jones were
/// precision engineers`, not `words like Wisdom and Discipline are…`; 0.55).
/// No word known as something else, an interjection or a word for people.
pub(crate) fn addressed_and_paired(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        i = next_in(t, i, &CAPITALS_OR_LEADS);
        if i == t.len() {
            break;
        }
        let Some(e) = name_word(t, i, true).filter(|_| !alnum_before(t, i)) else {
            i += 1;
            continue;
        };
        let word = &t[i..e];
        // What follows the word decides first (most words are followed by neither).
        let asked = at(t, e) == b',' && at(t, e + 1) == b' ' && word_at(t, e + 2, ASKING).is_some();
        let and = if !asked && at(t, e) == b' ' {
            word_at(t, e + 1, &["and"])
        } else {
            None
        };
        if !asked && and.is_none() {
            i = e.max(i + 1);
            continue;
        }
        let opens = i == 0 || {
            let (before, _) = word_before(t, i, false);
            before.is_empty()
                && t[..i]
                    .iter()
                    .rev()
                    .find(|&&b| b != b' ')
                    .is_none_or(|b| matches!(b, b'.' | b'!' | b'?' | b'\n' | b'"'))
        };
        if asked && opens && fits(word) && !is_one_of(word, INTERJECTIONS) {
            push(out, Kind::Person, i, e, 0.6, "person_addressed");
        } else if opens
            && fits(word)
            && let Some(j) = and
            && at(t, j) == b' '
            && let Some(e2) = name_word(t, j + 1, true)
            && fits(&t[j + 1..e2])
            && at(t, e2) == b' '
            && word_at(t, e2 + 1, &["were", "are"]).is_some()
        {
            push(out, Kind::Person, i, e, 0.55, "person_pair");
            push(out, Kind::Person, j + 1, e2, 0.55, "person_pair");
            i = e2;
            continue;
        }
        i = e.max(i + 1);
    }
}

/// The most names [`email_names`] takes: it stays linear.
const MAX_MAILED: usize = 8;

/// Local parts of email addresses that name a role, not a person.
const ROLE_MAILBOXES: &[&str] = &[
    "info", "sales", "support", "admin", "contact", "noreply", "reply", "help", "team", "office",
    "billing", "hello", "mail", "service", "jobs", "press", "privacy", "security", "dpo",
];

/// The parts of the email addresses in `out` that are a person's names: the local part split
/// at `.`, `_`, `-`, digits and a capital after a lower-case letter (`GermanKauzar`), when it
/// has two parts or more of three letters or more and none is a role ([`ROLE_MAILBOXES`]).
fn email_names<'a>(t: &'a [u8], out: &[crate::Finding]) -> Vec<&'a [u8]> {
    let mut names = Vec::new();
    for f in out.iter().filter(|f| f.kind == Kind::Email) {
        let Some(at_sign) = t[f.start..f.end].iter().position(|&b| b == b'@') else {
            continue;
        };
        let local = &t[f.start..f.start + at_sign];
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut s = 0;
        for k in 0..=local.len() {
            let cut = k == local.len()
                || !local[k].is_ascii_alphabetic()
                || (k > s && local[k].is_ascii_uppercase() && local[k - 1].is_ascii_lowercase());
            if cut {
                if k > s {
                    parts.push(&local[s..k]);
                }
                s = if k < local.len() && local[k].is_ascii_alphabetic() {
                    k
                } else {
                    k + 1
                };
            }
        }
        let named: Vec<&[u8]> = parts
            .iter()
            .copied()
            .filter(|p| p.len() >= 3 && lexicon().get(p) & (CALENDAR | TITLE | CUE | NOT_NAME) == 0)
            .collect();
        if named.len() >= 2 && !parts.iter().any(|p| is_one_of(p, ROLE_MAILBOXES)) {
            for p in named {
                if names.len() < MAX_MAILED && !names.contains(&p) {
                    names.push(p);
                }
            }
        }
    }
    names
}

/// A name word at `s` (ending at `e`) whose possessive `'s` is followed by one of
/// [`POSSESSIONS`] (`here's Marina's address`), not after a determiner (`the Company's
/// address`) and not a word known as something else: the end of the name.
fn possessive(t: &[u8], s: usize, e: usize) -> Option<usize> {
    let name = t[s..e].strip_suffix(b"'s")?;
    let determined = is_one_of(word_before(t, s, false).0, DETERMINERS);
    let named = name.len() >= 2 && !not_a_name(name) && !known_word(name) && !determined;
    (named && at(t, e) == b' ' && word_at(t, e + 1, POSSESSIONS).is_some())
        .then_some(s + name.len())
}

/// Works named after their author in front of them (`the Waechter novel`).
const WORKS: &[&str] = &[
    "novel",
    "novels",
    "song",
    "songs",
    "album",
    "film",
    "biography",
    "memoir",
];

/// One name word (at `s`, ending at `e`) after `the` and before a work of [`WORKS`] (`Unlike
/// the Kaczmarek novel`), not a word known as something else: its end.
fn author_of_work(t: &[u8], s: usize, e: usize) -> Option<usize> {
    if !word_before(t, s, false).0.eq_ignore_ascii_case(b"the") {
        return None;
    }
    let name = &t[s..e];
    let named = name.len() >= 3 && !name.contains(&b'\'') && !not_a_name(name) && !known_word(name);
    (named && at(t, e) == b' ' && word_at(t, e + 1, WORKS).is_some()).then_some(e)
}

/// What follows a speaker's role in apposition (`, the Health educator, said:`).
const SPOKE: &[&[u8]] = &[
    b", said",
    b", says",
    b", explained",
    b", added",
    b", told",
    b", wrote",
];

/// Two or three name words (`name`: [`name_at`] of `s`), then `, the`, a role of at most 80
/// bytes in the same sentence, and a verb of speech (`Mark Gordon, the Power transformer
/// repairer, said:`): the name's end.
fn appositive(t: &[u8], s: usize, name: Option<usize>) -> Option<usize> {
    let e = name?;
    if !t[s..e].contains(&b' ') || !t[e..].starts_with(b", the ") {
        return None;
    }
    let from = e + 6;
    let window = &t[from..(from + 80).min(t.len())];
    let c = window.iter().position(|&b| b == b',')?;
    let role_ok = !window[..c]
        .iter()
        .any(|&b| matches!(b, b'.' | b'?' | b'!' | b'\n' | b'"'));
    (role_ok && SPOKE.iter().any(|v| window[c..].starts_with(v))).then_some(e)
}

/// Verbs whose subject is a person (`Pauliina shouted at Rachel`).
const DEEDS: &[&str] = &[
    "shouted",
    "yelled",
    "screamed",
    "whispered",
    "murmured",
    "muttered",
    "laughed",
    "giggled",
    "smiled",
    "grinned",
    "sighed",
    "shrugged",
    "nodded",
    "frowned",
    "winked",
    "wept",
    "apologised",
    "apologized",
];

/// The first letters of [`DEEDS`] and [`DEED_PAIRS`], in either case (a test checks).
const DEED_STARTS: ByteSet = set(b"abfglmnswyABFGLMNSWY", false, false);

/// Two words that say the same of the one or two name words before them (`Moran was born`,
/// `Szôllôs began writing`, `Jane lives in Leeds`).
const DEED_PAIRS: &[(&str, &str)] = &[
    ("was", "born"),
    ("began", "writing"),
    ("lives", "in"),
    ("lives", "on"),
    ("lives", "at"),
    ("lived", "in"),
    ("lived", "on"),
    ("lived", "at"),
];

/// Bits of [`deed_words`]: a word of [`DEEDS`], the first word of one of [`DEED_PAIRS`].
const DEED: u32 = 1;
const DEED_PAIR: u32 = 2;

/// [`DEEDS`] and the first words of [`DEED_PAIRS`], to look the word after a name up once.
fn deed_words() -> &'static Lexicon {
    static DEED_WORDS: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    DEED_WORDS.get_or_init(|| {
        Lexicon::new(
            DEEDS
                .iter()
                .map(|w| (w.as_bytes(), DEED))
                .chain(DEED_PAIRS.iter().map(|(a, _)| (a.as_bytes(), DEED_PAIR))),
        )
    })
}

/// Capitalised words that are people but not names, as the subject of a sentence
/// (`Everyone laughed`, `Protesters shouted`).
const PEOPLE_NOUNS: &[&str] = &[
    "everyone",
    "everybody",
    "nobody",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "everything",
    "nothing",
    "something",
    "who",
    "both",
    "many",
    "some",
    "most",
    "others",
    "people",
    "children",
    "kids",
    "students",
    "fans",
    "critics",
    "protesters",
    "protestors",
    "residents",
    "workers",
    "voters",
    "officers",
    "police",
    "crowd",
    "crowds",
    "audience",
    "men",
    "women",
    "man",
    "woman",
    "boy",
    "girl",
    "boys",
    "girls",
    "baby",
    "mother",
    "father",
    "mom",
    "dad",
    "mum",
    "grandma",
    "grandpa",
    "teachers",
    "parents",
    "friends",
    "neighbours",
    "neighbors",
    "passengers",
    "guests",
    "visitors",
    "spectators",
    "supporters",
    "soldiers",
    "players",
    "members",
    "employees",
    "customers",
    "patients",
    "doctors",
    "nurses",
    "officials",
    "witnesses",
    "villagers",
    "locals",
    "tourists",
];

/// One or two name words from `s` (the first ending at `first`) followed by a verb only a
/// person is the subject of ([`DEEDS`], [`DEED_PAIRS`]), not after a determiner (`the Senate
/// shouted`), none of them a word known as something else, a word for people
/// ([`PEOPLE_NOUNS`]) or an initial: the end of the name.
fn subject(t: &[u8], s: usize, first: usize) -> Option<usize> {
    // The verb first: after most capitalised words there is none, and this costs least.
    let deed_at = |e: usize| {
        if at(t, e) != b' ' || !DEED_STARTS[usize::from(at(t, e + 1))] {
            return false;
        }
        // The next word (its letters, read no further than the longest word a lexicon
        // holds), looked up once.
        let ws = e + 1;
        let mut we = ws;
        while we - ws <= crate::lexicon::MAX && at(t, we).is_ascii_alphabetic() {
            we += 1;
        }
        let word = &t[ws..we];
        let bits = deed_words().get(word);
        bits & DEED != 0
            || (bits & DEED_PAIR != 0
                && at(t, we) == b' '
                && DEED_PAIRS.iter().any(|&(a, b)| {
                    word.eq_ignore_ascii_case(a.as_bytes()) && word_at(t, we + 1, &[b]).is_some()
                }))
    };
    let end = if deed_at(first) {
        first
    } else if at(t, first) == b' ' {
        // (`Willemine ten Pas lives at`: particles before the second word.)
        let next = particles_at(t, first + 1).unwrap_or(first + 1);
        let second = name_word(t, next, false)?;
        if !deed_at(second) || !fits(&t[next..second]) {
            return None;
        }
        second
    } else {
        return None;
    };
    (fits(&t[s..first]) && !is_one_of(word_before(t, s, false).0, DETERMINERS)).then_some(end)
}

/// Whether the name word `w` may be the subject found by [`subject`]: not an initial (nor
/// any word under three bytes), not a possessive, not a word known as something else or a
/// word for people.
fn fits(w: &[u8]) -> bool {
    !(w.len() < 3
        || w.ends_with(b"'s")
        || not_a_name(w)
        || known_word(w)
        || is_one_of(w, PEOPLE_NOUNS))
}

/// Words before a common noun, not a name (nor a job title on its own line).
pub(super) const DETERMINERS: &[&str] = &[
    "the", "a", "an", "our", "your", "their", "his", "her", "its", "my", "this", "that", "each",
    "every", "any",
];

/// The name word at `s` that may start a name: its end, and whether it is a known given
/// name (looked up once here for every rule that needs it).
fn first_name_word(t: &[u8], s: usize) -> Option<(usize, bool)> {
    let e = name_word(t, s, true)?;
    Some((e, given_name(t, s, e)))
}

/// Whether the name word `t[s..e]` is a known given name.
fn given_name(t: &[u8], s: usize, e: usize) -> bool {
    (3..=16).contains(&(e - s)) && lexicon().get(&t[s..e]) & GIVEN != 0
}

/// Lexicon bits: a known given name (see the file's header for the source), a title, the
/// last word of a cue, a sentence word that is not a name, a word that is not a surname,
/// a day or month.
const GIVEN: u32 = 1;
const TITLE: u32 = 2;
const CUE: u32 = 4;
const NOT_NAME: u32 = 8;
const NOT_SURNAME: u32 = 16;
const CALENDAR: u32 = 32;

/// Every word this detector looks up, with its bits.
fn lexicon() -> &'static Lexicon {
    static LEXICON: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    LEXICON.get_or_init(|| {
        let given = include_str!("first_names.txt")
            .lines()
            .chain(include_str!("first_names_intl.txt").lines())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|w| (w, GIVEN));
        let calendar = WEEKDAYS.iter().chain(&super::date::MONTHS);
        Lexicon::new(
            given
                .chain(TITLES.iter().map(|&w| (w, TITLE)))
                .chain(CUES.iter().map(|&(w, _)| (w, CUE)))
                .chain(ROLES.iter().map(|&w| (w, CUE)))
                .chain(NOT_NAMES.iter().map(|&w| (w, NOT_NAME)))
                .chain(NOT_SURNAMES.iter().map(|&w| (w, NOT_SURNAME)))
                .chain(calendar.map(|&w| (w, CALENDAR)))
                .map(|(w, bits)| (w.as_bytes(), bits)),
        )
    })
}

/// Last words that make two capitalised words a place, a street or an organisation (days
/// and months too: [`WEEKDAYS`], [`super::date::MONTHS`]).
const NOT_SURNAMES: &[&str] = &[
    "street",
    "royal",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "drive",
    "dr",
    "lane",
    "ln",
    "court",
    "ct",
    "boulevard",
    "blvd",
    "way",
    "place",
    "pl",
    "square",
    "terrace",
    "hills",
    "park",
    "parkway",
    "circle",
    "trail",
    "county",
    "city",
    "river",
    "lake",
    "island",
    "islands",
    "valley",
    "hospital",
    "clinic",
    "university",
    "college",
    "school",
    "bank",
    "inc",
    "ltd",
    "llc",
    "group",
    "company",
    "corp",
    "holdings",
    "foundation",
    "church",
    "hotel",
    "center",
    "centre",
    "airport",
    "station",
    "bay",
    "beach",
    "mountain",
    "mount",
    "springs",
    "falls",
    "heights",
];

/// The days of the week: not surnames, and not given names alone.
pub(super) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Two or three name words at `s` (`name`: [`name_at`] of `s`) whose first is a known given
/// name (`given`, from [`given_name`]) and whose last is neither an initial nor a word of
/// [`NOT_SURNAMES`]: their end.
fn known_full_name(
    t: &[u8],
    s: usize,
    given: bool,
    name: &dyn Fn() -> Option<usize>,
) -> Option<usize> {
    if !given {
        return None;
    }
    let end = name()?;
    let last_start = t[s..end]
        .iter()
        .rposition(|&b| b == b' ')
        .map(|p| s + p + 1)?;
    let last = &t[last_start..end];
    let initial = last.len() <= 2;
    let not_surname = lexicon().get(last) & (NOT_SURNAME | CALENDAR) != 0;
    (!initial && !not_surname).then_some(end)
}

/// Endings of surnames in the languages that mark them (Nordic `-sson`/`-sen`/`-dóttir`,
/// Slavic `-ski`/`-ová`/`-ić`/`-enko`, Romanian `-escu`, Greek `-poulos`, Georgian `-shvili`,
/// Armenian `-yan`…).
const SURNAME_ENDINGS: &[&str] = &[
    "sson", "dóttir", "dottir", "sen", "ski", "ska", "sky", "wicz", "icz", "ová", "ova", "ević",
    "ović", "ić", "escu", "poulos", "akis", "enko", "shvili", "yan", "ian", "ov", "ev", "ina",
    "ez", "ini", "elli", "etti", "ssen", "berg", "ström", "strom", "quist", "mann", "stein",
];

/// Two or three name words at `s` (`name`: [`name_at`] of `s`), not after a capitalised word,
/// whose last ends like a surname ([`SURNAME_ENDINGS`]) and is not a place or organisation word:
/// their end.
fn surname_like(t: &[u8], s: usize, name: &dyn Fn() -> Option<usize>) -> Option<usize> {
    if s >= 2 && t[s - 1] == b' ' && t[s - 2].is_ascii_alphabetic() {
        let (w, _) = word_before(t, s, false);
        if w.first().is_some_and(u8::is_ascii_uppercase) {
            return None;
        }
    }
    let end = name()?;
    let last_start = t[s..end]
        .iter()
        .rposition(|&b| b == b' ')
        .map(|p| s + p + 1)?;
    let last = &t[last_start..end];
    // Most capitalised words fail here, before any other test.
    if last.len() < 5 || !SURNAME_ENDINGS.iter().any(|x| last.ends_with(x.as_bytes())) {
        return None;
    }
    let last = std::str::from_utf8(last).ok()?;
    let first = std::str::from_utf8(&t[s..last_start - 1]).ok()?;
    // Not a word the crate knows as something else first: a cue or a title (`Dear José
    // Álvarez` is found by its cue), a sentence word, a street, organisation or place word, a
    // day or a month (`known_word`, in any case).
    let first_word = first.split(' ').next().unwrap_or_default();
    if known_word(first_word.as_bytes()) {
        return None;
    }
    let surname = last.chars().count() >= 5
        && !first.ends_with('.')
        && lexicon().get(last.as_bytes()) & NOT_SURNAME == 0;
    surname.then_some(end)
}

/// Words that are capitalised in titles and names of things more often than in people's
/// names: a pair holding one is not taken for a name without other evidence.
const THING_WORDS: &[&str] = &[
    "act",
    "action",
    "age",
    "air",
    "all",
    "america",
    "american",
    "and",
    "annual",
    "april",
    "art",
    "association",
    "award",
    "awarded",
    "bay",
    "best",
    "big",
    "black",
    "blue",
    "board",
    "book",
    "british",
    "business",
    "capital",
    "card",
    "care",
    "center",
    "central",
    "chapter",
    "christmas",
    "church",
    "city",
    "club",
    "college",
    "committee",
    "community",
    "congress",
    "council",
    "country",
    "county",
    "court",
    "credit",
    "daily",
    "data",
    "day",
    "department",
    "design",
    "director",
    "employee",
    "engineer",
    "entertainment",
    "district",
    "east",
    "eastern",
    "economic",
    "education",
    "energy",
    "english",
    "europe",
    "european",
    "federal",
    "financial",
    "first",
    "food",
    "for",
    "foundation",
    "free",
    "fund",
    "general",
    "global",
    "gold",
    "golden",
    "good",
    "government",
    "grand",
    "great",
    "group",
    "guide",
    "happy",
    "health",
    "high",
    "history",
    "home",
    "house",
    "human",
    "information",
    "inner",
    "insurance",
    "international",
    "island",
    "justice",
    "king",
    "kingdom",
    "lake",
    "law",
    "league",
    "life",
    "little",
    "love",
    "lower",
    "man",
    "management",
    "manager",
    "market",
    "media",
    "medical",
    "mission",
    "modern",
    "mount",
    "museum",
    "music",
    "national",
    "natural",
    "network",
    "new",
    "news",
    "night",
    "north",
    "northern",
    "number",
    "office",
    "officer",
    "old",
    "one",
    "online",
    "open",
    "outer",
    "party",
    "people",
    "personal",
    "plan",
    "pleasures",
    "policy",
    "power",
    "president",
    "press",
    "prime",
    "prince",
    "princess",
    "prize",
    "producer",
    "program",
    "project",
    "public",
    "queen",
    "red",
    "report",
    "republic",
    "research",
    "review",
    "rights",
    "river",
    "royal",
    "saint",
    "school",
    "science",
    "secretary",
    "security",
    "senior",
    "series",
    "service",
    "services",
    "shares",
    "social",
    "society",
    "software",
    "south",
    "southern",
    "space",
    "sports",
    "star",
    "state",
    "states",
    "statement",
    "station",
    "stock",
    "street",
    "super",
    "support",
    "system",
    "tales",
    "team",
    "technology",
    "the",
    "this",
    "time",
    "times",
    "today",
    "total",
    "tower",
    "trade",
    "trust",
    "union",
    "united",
    "upper",
    "valley",
    "village",
    "war",
    "water",
    "weekly",
    "west",
    "western",
    "white",
    "world",
    "year",
    "young",
    // Brands and products that come in pairs of capitalised words in logs and tickets.
    "adobe",
    "amazon",
    "android",
    "apple",
    "chrome",
    "cisco",
    "excel",
    "facebook",
    "firefox",
    "google",
    "intel",
    "linux",
    "microsoft",
    "oracle",
    "outlook",
    "safari",
    "samsung",
    "teams",
    "windows",
    "word",
    "youtube",
    "zoom",
];

/// Whether `w` is a word this crate knows as something other than a name, in any case: a
/// title, cue, role, day, month, street, organisation or listed place word, or one of
/// [`THING_WORDS`] (one table of them all, built once).
pub(super) fn known_word(w: &[u8]) -> bool {
    static KNOWN: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    let known = KNOWN.get_or_init(|| {
        let lists: [&[&str]; 7] = [
            TITLES,
            ROLES,
            NOT_NAMES,
            NOT_SURNAMES,
            &WEEKDAYS,
            &super::date::MONTHS,
            THING_WORDS,
        ];
        let listed = lists
            .into_iter()
            .chain(super::address::STREET_WORDS)
            .chain(super::org::ORG_WORDS)
            .flat_map(|l| l.iter().copied())
            .chain(CUES.iter().map(|(w, _)| *w))
            .map(str::as_bytes);
        Lexicon::new(
            listed
                .chain(super::gazetteer::first_words())
                .map(|w| (w, 1)),
        )
    });
    known.get(w) != 0
}

/// Two or three capitalised words at `s` (`name`: [`name_at`] of `s`; a middle initial
/// allowed), neither in capitals
/// nor part of a longer capitalised phrase, none of them a word this crate knows as
/// something else (a title, cue, day, month, street, organisation or listed place word, or
/// one of [`THING_WORDS`]): their end. The weakest evidence of a name, reported at 0.5.
fn capitalised_words(t: &[u8], s: usize, name: &dyn Fn() -> Option<usize>) -> Option<usize> {
    let end = name()?;
    let after_phrase = at(t, end) == b' ' && at(t, end + 1).is_ascii_uppercase();
    let before_phrase = s >= 2 && t[s - 1] == b' ' && {
        let (w, _) = word_before(t, s, false);
        w.first().is_some_and(u8::is_ascii_uppercase)
    };
    // Not glued to a path, an address or a quotation (a title: `"Carry Me Back"`), and not
    // next to a number (a street and its house number: `776 Augsburger Strasse 36`).
    let glued = |b: u8| matches!(b, b'/' | b'-' | b'_' | b'@' | b'"' | b'#');
    let prev = if s > 0 { t[s - 1] } else { b' ' };
    let number_before = prev == b' ' && s >= 2 && t[s - 2].is_ascii_digit();
    let number_after = at(t, end) == b' ' && at(t, end + 1).is_ascii_digit();
    // After `in`, capitalised words are a place (see `gazetteer::after_preposition`).
    let after_in = word_before(t, s, false).0.eq_ignore_ascii_case(b"in");
    if after_phrase
        || before_phrase
        || after_in
        || glued(prev)
        || glued(at(t, end))
        || number_before
        || number_after
    {
        return None;
    }
    let words: Vec<&[u8]> = t[s..end].split(|&b| b == b' ').collect();
    let n = words.len();
    let full = |w: &[u8]| w.len() >= 2 && w[1] != b'.';
    if n < 2 || !full(words[0]) || !full(words[n - 1]) {
        return None;
    }
    // A known given name later on starts a name of its own (`Employee Grace Boyle`).
    if words[1..].iter().any(|w| lexicon().get(w) & GIVEN != 0) {
        return None;
    }
    let name_like = words
        .iter()
        .filter(|w| full(w) && !is_particle(w))
        .all(|w| {
            // An upper-case letter, then letters some of which are in lower case (not an
            // acronym, not a dash).
            let mut cs = std::str::from_utf8(w).unwrap_or_default().chars();
            cs.next().is_some_and(char::is_uppercase)
                && cs.clone().any(char::is_lowercase)
                && cs.all(|c| c.is_alphabetic() || c == '\'' || c == '-')
                && !known_word(w)
        });
    name_like.then_some(end)
}

/// A known given name alone (`Rachel`; the word `s..e` and `given` from
/// [`first_name_word`]), not next to another capitalised word, not in capitals: its end.
fn known_given_name(t: &[u8], s: usize, e: usize, given: bool) -> Option<usize> {
    let word = &t[s..e];
    if !given || word[1..].iter().all(u8::is_ascii_uppercase) {
        return None;
    }
    // Not part of a longer capitalised phrase (`Grace Hopper Avenue`, `New York`), nor of
    // a date or a path (`17/Jan/2019`).
    if matches!(at(t, e), b'/' | b'-' | b'_') || (s > 0 && matches!(t[s - 1], b'/' | b'-' | b'_')) {
        return None;
    }
    let next_cap = at(t, e) == b' ' && at(t, e + 1).is_ascii_uppercase();
    let prev_cap = s >= 2 && t[s - 1] == b' ' && {
        let (w, _) = word_before(t, s, false);
        w.first().is_some_and(u8::is_ascii_uppercase)
    };
    if next_cap || prev_cap {
        return None;
    }
    // Names that are also days or months (`Sunday`, `Jan`) are those alone.
    let calendar = WEEKDAYS
        .iter()
        .any(|d| d.as_bytes().eq_ignore_ascii_case(word))
        || super::date::MONTHS.iter().any(|m| {
            m.as_bytes()
                .get(..word.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(word))
        });
    (!calendar).then_some(e)
}

#[cfg(test)]
mod tests {
    #[test]
    fn deed_starts_hold_the_first_letter_of_every_deed() {
        let firsts = super::DEEDS
            .iter()
            .chain(super::DEED_PAIRS.iter().map(|(a, _)| a))
            .map(|w| w.as_bytes()[0]);
        for b in firsts {
            assert!(super::DEED_STARTS[usize::from(b)], "{}", char::from(b));
            assert!(
                super::DEED_STARTS[usize::from(b.to_ascii_uppercase())],
                "{}",
                char::from(b)
            );
        }
    }
}
