//! Organisations (a person's employer, bank or school is personal data about them), found by
//! the word that ends their name:
//! - a legal form (`Inc.`, `Ltd`, `Corporation`, `GmbH`, `S.A.`, `Co.Ltd.`…), also glued to
//!   the word before (`HoldingsInc.`, `HOLDINGSINC.`): confidence 0.7;
//! - a sector word that names an organisation after one name word (`Arrive Labs`,
//!   `Acme Holdings`, `Autogrid Systems`), or, for sector words that are also common words
//!   (`Bank`, `Trust`, `Group`, `Fund`…), after two (`Enduro Royalty Trust`), or before
//!   `of` and a name (`Bank of Ireland`; not `University of Oslo`, whose town is reported as
//!   a place): 0.6.
//!
//! The name is the run of name words before that word: capitalised words, words in
//! capitals or with digits (`MOLD-TEK`, `3M`), `&` and `de`/`du`/`der`/`la` between them,
//! and `of` after a sector word (`Royal Bank of Scotland plc`), but not `of` after a
//! person's name (`Jane Roe of Acme Inc.` is two findings);
//! at most six, stopping at a clause's end (`,` `;` `:` or a full stop that is not an
//! initial's) or a line break. Legal forms that follow are kept (`Holdings Inc.`,
//! `Co., Ltd.`); a possessive `'s` is not.

use super::push;
use crate::Kind;
use crate::bytes::Needle;
use crate::bytes::is_one_of;
use crate::lexicon::Lexicon;
use memchr::memmem::Finder;

/// What a word's key (see [`key`]) makes it.
#[derive(Clone, Copy, PartialEq)]
enum Class {
    /// A legal form (`Inc.`, `GmbH`, `S.A.`).
    Legal,
    /// A legal form that is also a short common word (`as`, `co`, `sa`): a legal form only
    /// in capitals or with its dots.
    Short,
    /// A sector word that ends an organisation's name (`Holdings`, `Therapeutics`), after
    /// at least this many name words.
    Sector(usize),
    Other,
}

/// The legal forms (by key, see [`key`]).
const LEGAL: &[&str] = &[
    "asa",
    "bancorp",
    "bancorporation",
    "bancshares",
    "coltd",
    "company",
    "corp",
    "corporation",
    "gmbh",
    "inc",
    "incorporated",
    "kgaa",
    "limited",
    "llc",
    "llp",
    "ltd",
    "ltda",
    "oyj",
    "plc",
    "pty",
    "sarl",
    "srl",
];
/// The legal forms that are also short common words.
const SHORT: &[&str] = &[
    "ab", "ag", "aps", "as", "bv", "co", "kk", "nv", "oy", "sa", "sas", "se", "spa",
];
/// The sector words that end a name after one name word (`Arrive Labs`).
const SECTOR_ONE: &[&str] = &[
    "analytics",
    "associates",
    "biopharmaceuticals",
    "biosciences",
    "biotech",
    "electronics",
    "enterprises",
    "holdings",
    "industries",
    "laboratories",
    "labs",
    "logistics",
    "networks",
    "pharma",
    "pharmaceuticals",
    "robotics",
    "semiconductor",
    "software",
    "solutions",
    "systems",
    "technologies",
    "therapeutics",
];
/// The sector words that are also common words: they end a name after two name words
/// (`Enduro Royalty Trust`), or start one before `of` (`University of Oslo`).
const SECTOR: &[&str] = &[
    "airlines",
    "bank",
    "capital",
    "communications",
    "energy",
    "etf",
    "financial",
    "fund",
    "group",
    "institute",
    "insurance",
    "partners",
    "resources",
    "scientific",
    "trust",
    "university",
    "ventures",
];

/// The class of a key, looked up in one table of [`LEGAL`], [`SHORT`], [`SECTOR_ONE`] and
/// [`SECTOR`].
fn class(k: &[u8]) -> Class {
    static CLASSES: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        let of =
            |list: &'static [&'static str], c: u32| list.iter().map(move |w| (w.as_bytes(), c));
        let all = of(LEGAL, 1).chain(of(SHORT, 2));
        Lexicon::new(all.chain(of(SECTOR_ONE, 3)).chain(of(SECTOR, 4)))
    });
    match classes.get(k) {
        1 => Class::Legal,
        2 => Class::Short,
        3 => Class::Sector(1),
        4 => Class::Sector(2),
        _ => Class::Other,
    }
}

/// Lower-case connecting words inside a name.
const CONNECTORS: &[&str] = &["&", "de", "du", "des", "der", "la"];

/// Words that start a sentence rather than a name.
const NOT_NAME_START: &[&str] = &[
    "I",
    "A",
    "An",
    "In",
    "At",
    "On",
    "For",
    "From",
    "To",
    "With",
    "By",
    "And",
    "But",
    "Or",
    "If",
    "When",
    "While",
    "During",
    "After",
    "Before",
    "Since",
    "Yesterday",
    "Today",
    "My",
    "Our",
    "Your",
    "Their",
    "His",
    "Her",
    "We",
    "You",
    "They",
    "He",
    "She",
    "It",
    "This",
    "That",
    "Dear",
    "Hi",
    "Hello",
    "Please",
    "Thanks",
    "Contact",
    "Call",
    "Visit",
];

/// Words that may begin a name (`The Lubrizol Corporation`) but do not count as one of its
/// name words: `The Systems team` is no organisation.
const ARTICLES: &[&str] = &[
    "The", "THE", "These", "Those", "Some", "All", "Any", "No", "Every", "Each", "Other", "Such",
];

/// The word's letters and digits, lower-cased, without dots (at most 24 bytes): `Co.Ltd.`
/// is `coltd`, `S.A.` is `sa`.
fn key(w: &[u8]) -> Option<([u8; 24], usize)> {
    let mut k = [0u8; 24];
    let mut n = 0;
    for &b in w {
        if b == b'.' || b == b',' {
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b == b'&') || n == k.len() {
            return None;
        }
        k[n] = b.to_ascii_lowercase();
        n += 1;
    }
    Some((k, n))
}

/// The word's class (see [`class`]); a short legal form written in lower case without
/// dots is [`Class::Other`].
fn class_of(w: &[u8]) -> Class {
    if !(2..=24).contains(&w.len()) || !w[0].is_ascii_alphabetic() {
        return Class::Other;
    }
    // Only a word with dots or commas in it needs its key built (`Co.Ltd.`); the others
    // are looked up as they are (the lookup ignores case, and rules out most words at once).
    let dotted = w.iter().any(|&b| b == b'.' || b == b',');
    let c = if dotted {
        let Some((k, n)) = key(w) else {
            return Class::Other;
        };
        class(&k[..n])
    } else {
        class(w)
    };
    match c {
        Class::Short if w.contains(&b'.') || w.iter().all(|b| !b.is_ascii_lowercase()) => {
            Class::Legal
        }
        Class::Short => Class::Other,
        c => c,
    }
}

/// Every legal form, sector word and word that starts a sentence rather than a name, for
/// `person::known_word`.
pub(super) const ORG_WORDS: [&[&str]; 5] = [LEGAL, SHORT, SECTOR_ONE, SECTOR, NOT_NAME_START];

/// Whether the word is a legal form as written.
fn legal(w: &[u8]) -> bool {
    class_of(w) == Class::Legal
}

/// A word glued to its legal form (`HoldingsInc.`, `CompanyLimited`, or in capitals after at
/// least four capitals, `HOLDINGSINC.`, `COMPANYLIMITED`): where the form starts.
fn glued_legal(w: &[u8]) -> Option<usize> {
    // Every form ends in `.` or `d`/`D` and has at least two bytes before it plus four.
    if w.len() < 6 || !matches!(w[w.len() - 1], b'.' | b'd' | b'D') {
        return None;
    }
    let mixed = ["Inc.", "Ltd.", "Corp.", "Limited", "Incorporated"]
        .iter()
        .find_map(|f| {
            let s = w.len().checked_sub(f.len())?;
            (s >= 2 && w.ends_with(f.as_bytes()) && w[s - 1].is_ascii_lowercase()).then_some(s)
        });
    mixed.or_else(|| {
        ["INC.", "LTD.", "CORP.", "LIMITED", "INCORPORATED"]
            .iter()
            .find_map(|f| {
                let s = w.len().checked_sub(f.len())?;
                (s >= 4 && w.ends_with(f.as_bytes()) && w[..s].iter().all(u8::is_ascii_uppercase))
                    .then_some(s)
            })
    })
}

/// Whether the word can be part of a name: capitalised, in capitals, with digits, or `&`.
fn name_word(w: &[u8]) -> bool {
    if w == b"&" {
        return true;
    }
    let first = w.first().copied().unwrap_or(0);
    (first.is_ascii_uppercase() || first.is_ascii_digit() || first >= 0xC0)
        && w.iter().any(u8::is_ascii_alphabetic)
}

/// The words of the text as (start, end, line break before it).
fn words(t: &[u8]) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
    let mut i = 0;
    let mut newline = true;
    std::iter::from_fn(move || {
        while i < t.len() {
            // A line break, or two blanks in a row (what an escaped `\n` in a JSON string or
            // a log line has become, see `bytes::blank_escapes`).
            let from = i;
            while i < t.len() && t[i].is_ascii_whitespace() {
                newline |= t[i] == b'\n' || t[i] == b'\r';
                i += 1;
            }
            newline |= i - from >= 2;
            let s = i;
            while i < t.len() && !t[i].is_ascii_whitespace() {
                i += 1;
            }
            if s < i {
                let word = (s, i, newline);
                newline = false;
                return Some(word);
            }
        }
        None
    })
}

/// Whether the word `t[s..e]` may end an organisation's name: a legal form or sector word,
/// or glued to a legal form; its class and glued form.
fn ending(t: &[u8], s: usize, e: usize) -> (Class, Option<usize>) {
    let word = &t[s..core(t, s, e)];
    (class_of(word), glued_legal(word))
}

/// The word without what may follow it in a sentence: `,` `;` `:` `)` `"` `?` `!` and a
/// possessive `'s`; a full stop is kept (legal forms and initials end with one), but not a
/// second one.
fn core(t: &[u8], s: usize, e: usize) -> usize {
    let mut e = e;
    loop {
        if e > s + 2 && (t[e - 2..e] == *b"'s" || t[e - 2..e] == *b"'S") {
            e -= 2;
        } else if (e > s && matches!(t[e - 1], b',' | b';' | b':' | b')' | b'"' | b'?' | b'!'))
            || (e > s + 1 && t[e - 1] == b'.' && t[e - 2] == b'.')
        {
            e -= 1;
        } else {
            return e;
        }
    }
}

/// Whether the text after word `k` ends a clause (so the name cannot go back past it).
fn ends_clause(t: &[u8], (s, e, _): (usize, usize, bool)) -> bool {
    let last = t[e - 1];
    if matches!(last, b',' | b';' | b':' | b'?' | b'!' | b'"' | b')') {
        return true;
    }
    // A full stop ends a sentence unless the word is an initial or an abbreviation in
    // capitals with dots (`U.S.`, `J.`).
    last == b'.' && !(e - s <= 2 || t[s..e].iter().filter(|&&b| b == b'.').count() >= 2)
}

/// Pushes organisations.
pub(crate) fn organizations(t: &[u8], out: &mut Vec<crate::Finding>) {
    // Most texts hold no word that may end a name: one pass, with nothing kept, tells.
    if words(t).all(|(s, e, _)| ending(t, s, e) == (Class::Other, None)) {
        return;
    }
    // About one word in six bytes of prose: one allocation, most of the time.
    let mut w = Vec::with_capacity(t.len() / 4 + 4);
    w.extend(words(t));
    // Each word's class and glued legal form, once.
    let classes: Vec<(Class, Option<usize>)> = w.iter().map(|&(s, e, _)| ending(t, s, e)).collect();
    let mut k = 0;
    while k < w.len() {
        let (s, e, _) = w[k];
        let word = &t[s..core(t, s, e)];
        let (c, glued) = classes[k];
        let is_legal = c == Class::Legal || glued.is_some();
        if !(is_legal || matches!(c, Class::Sector(_))) {
            k += 1;
            continue;
        }
        // Back over the name's words.
        let mut first = k;
        let mut names = usize::from(glued.is_some());
        while first > 0 && k - first < 6 && !w[first].2 {
            let (ps, pe, _) = w[first - 1];
            if ends_clause(t, w[first - 1]) {
                break;
            }
            let pw = &t[ps..pe];
            // `of` only after an organisation's word (`Bank of Ireland`, `University of
            // Oslo`), not after a person's name (`Jane Roe of Acme Inc.`).
            let of = pw == b"of" && first > 1 && matches!(classes[first - 2].0, Class::Sector(_));
            if of {
                first -= 1;
                continue;
            }
            if name_word(pw) && !legal(pw) {
                let article = ARTICLES.iter().any(|a| a.as_bytes() == pw);
                names += usize::from(pw != b"&" && !article);
            } else if !CONNECTORS.iter().any(|c| c.as_bytes() == pw) {
                break;
            }
            first -= 1;
        }
        // Not a connector or a sentence word first; the first byte ASCII.
        while first < k {
            let fw = &t[w[first].0..w[first].1];
            let skip = CONNECTORS.iter().any(|c| c.as_bytes() == fw)
                || NOT_NAME_START.iter().any(|c| c.as_bytes() == fw)
                || !fw[0].is_ascii();
            if !skip {
                break;
            }
            if fw[0].is_ascii_uppercase() && name_word(fw) {
                names = names.saturating_sub(1);
            }
            first += 1;
        }
        // A sector word, `of` and a name (`University of Oslo`, `Bank of Ireland`).
        let mut last = k;
        // Not `University of`: a university named for its town is reported as the town
        // (`gazetteer::after_preposition`), as labelled corpora have it.
        let of_name = matches!(c, Class::Sector(_))
            && !word.eq_ignore_ascii_case(b"university")
            && word[0].is_ascii_uppercase()
            && !ends_clause(t, w[k])
            && w.get(k + 1)
                .is_some_and(|&(s, e, nl)| !nl && t[s..e] == *b"of");
        if of_name {
            let mut j = k + 2;
            while j < w.len() && j <= k + 4 && !w[j].2 && name_word(&t[w[j].0..w[j].1]) {
                last = j;
                if ends_clause(t, w[j]) {
                    break;
                }
                j += 1;
            }
        }
        let needed = match c {
            _ if is_legal => 1,
            _ if last > k => 0,
            Class::Sector(n) => n,
            _ => 2,
        };
        if names < needed || first == k && glued.is_none() && last == k {
            k += 1;
            continue;
        }
        // On over the legal forms that follow (`Holdings Inc.`, `Co., Ltd.`).
        while last + 1 < w.len() && !w[last + 1].2 && !ends_clause_strict(t, w[last]) {
            let (ns, ne, _) = w[last + 1];
            if !legal(&t[ns..core(t, ns, ne)]) {
                break;
            }
            last += 1;
        }
        let (ls, mut le, _) = w[last];
        // A name found after `of` ends before a sentence's full stop.
        if of_name && last > k && ends_clause(t, w[last]) && t[le - 1] == b'.' {
            le -= 1;
        }
        let confidence = if is_legal || last > k { 0.7 } else { 0.6 };
        push(
            out,
            Kind::Organization,
            w[first].0,
            core(t, ls, le),
            confidence,
            "organization",
        );
        k = last + 1;
    }
}

/// Whether a clause ends after the word for going forwards: `;` `:` `?` `!` `"` `)`; not a
/// comma (one may sit between legal forms: `Co., Ltd.`) nor a full stop (legal forms end
/// with one).
fn ends_clause_strict(t: &[u8], (_, e, _): (usize, usize, bool)) -> bool {
    matches!(t[e - 1], b';' | b':' | b'?' | b'!' | b'"' | b')')
}

/// Words that end an employer's name found by [`employers`].
const AFTER_EMPLOYER: &[&str] = &["is", "and", "was", "has", "in", "at", "as", "for", "since"];

/// Verbs whose `for` an employer's name follows (`work for`).
const EMPLOYER_VERBS: &[&[u8]] = &[b"work", b"works", b"worked", b"working"];

/// Words whose `at` an employer's name follows (`worked at`, `spent a year at`), when a
/// role follows the name (`as the assistant`).
const AT_EMPLOYER: &[&[u8]] = &[
    b"work",
    b"works",
    b"worked",
    b"working",
    b"year",
    b"years",
    b"intern",
    b"interned",
    b"employed",
];

/// Employers named by their place in a sentence, whatever their words: after a person's name
/// and `of` (`Adam McDowell of DeepOntoscomy,`, `Ruman D. Bataev of TOKYO ROPE MFG.CO.LTD
/// is…`), after `work for` (`I work for THALES/EQ`), after `worked at` or `a year at` when
/// `as` follows (`spent a year at SEASPAN CORP as the assistant`), between `according to
/// the` and `website`, or as a possessive opening a list's
/// item before a person's full name (`…, Allot Ltd., STAMPEDE CAP/SH VTG's Heather Harvey`;
/// 0.6). The name is one to twelve words that
/// start with a capital or a non-ASCII letter or hold a digit (`x5`), or `&`, `-`, up to a
/// comma, `;`, a possessive `'s`, a tab or line break, or a word of [`AFTER_EMPLOYER`]; not a
/// place found alone. 0.65. Reads the persons
/// already found, so it runs after them.
pub(crate) fn employers(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut starts: Vec<usize> = out
        .iter()
        .filter(|f| f.kind == Kind::Person && t[f.end..].starts_with(b" of "))
        .map(|f| f.end + 4)
        .collect();
    // ` for ` after a verb of work; ` at ` after one of AT_EMPLOYER, and ` as ` after the
    // name; or `according to the`, then ` website` after the name.
    static FOR: Needle = Needle::new(|| Finder::new(b" for "));
    static AT: Needle = Needle::new(|| Finder::new(b" at "));
    static ACCORDING: Needle = Needle::new(|| Finder::new(b"according to the "));
    starts.extend(after_word_and(t, &FOR, EMPLOYER_VERBS));
    let mut roles: Vec<(usize, &[u8])> = after_word_and(t, &AT, AT_EMPLOYER)
        .map(|s| (s, &b" as "[..]))
        .collect();
    let mut i = 0;
    while let Some(p) = ACCORDING.find(&t[i..]) {
        i += p + 17;
        roles.push((i, &b" website"[..]));
    }
    for (s, after) in roles {
        if let Some(e) = employer_end(t, s)
            && t[e..].starts_with(after)
        {
            starts.push(s);
        }
    }
    let mut places: Vec<(usize, usize)> = out
        .iter()
        .filter(|f| f.kind == Kind::Location)
        .map(|f| (f.start, f.end))
        .collect();
    places.sort_unstable();
    // A possessive before a person's full name, opening a list's item (`…, Allot Ltd.,
    // STAMPEDE CAP/SH VTG's Heather Harvey`, `, and Afya's Jose Ramos`).
    let persons = super::Taken::new(
        out.iter()
            .filter(|f| f.kind == Kind::Person)
            .map(|f| (f.start, f.end)),
    );
    let employs: Vec<(usize, usize)> = out
        .iter()
        .filter(|f| f.kind == Kind::Person && t[f.start..f.end].contains(&b' '))
        .filter_map(|f| {
            let e = f.start.checked_sub(3)?;
            (&t[e..f.start] == b"'s ").then_some(e)
        })
        .filter_map(|e| Some((item_start(t, e)?, e)))
        .filter(|&(s, e)| persons.free(s, e))
        .collect();
    for (s, e) in employs {
        if employer_end(t, s) == Some(e) && places.binary_search(&(s, e)).is_err() {
            push(out, Kind::Organization, s, e, 0.6, "employer");
        }
    }
    for s in starts {
        let Some(e) = employer_end(t, s) else {
            continue;
        };
        if places.binary_search(&(s, e)).is_err() {
            push(out, Kind::Organization, s, e, 0.65, "employer");
        }
    }
}

/// Where the text goes on after each `needle` (which starts and ends with a space) that
/// follows one of `words` as a whole word (`work for `, `a year at `).
fn after_word_and<'a>(
    t: &'a [u8],
    needle: &'a Needle,
    words: &'a [&[u8]],
) -> impl Iterator<Item = usize> + 'a {
    let mut i = 0;
    std::iter::from_fn(move || {
        while let Some(p) = needle.find(&t[i..]) {
            let a = i + p;
            i = a + needle.needle().len();
            let word = words.iter().any(|v| {
                t[..a].ends_with(v) && (a == v.len() || !t[a - v.len() - 1].is_ascii_alphanumeric())
            });
            if word {
                return Some(i);
            }
        }
        None
    })
}

/// The start of the list item that ends at `e`: after the last comma at most 80 bytes back
/// (and its space, or ` and `), or after a later ` and ` (`…, Allot Ltd., and Afya`); none
/// without such a comma.
fn item_start(t: &[u8], e: usize) -> Option<usize> {
    let from = e.saturating_sub(80);
    let c = t[from..e].iter().rposition(|&b| b == b',')? + from;
    let mut s = c + 1;
    if t[s..].starts_with(b" and ") {
        s += 5;
    } else if t[s..].starts_with(b" ") {
        s += 1;
    } else {
        return None;
    }
    if let Some(a) = memchr::memmem::rfind(&t[s..e], b" and ") {
        s += a + 5;
    }
    (s < e).then_some(s)
}

/// The end of the employer's name that starts at `s` (see [`employers`]).
fn employer_end(t: &[u8], s: usize) -> Option<usize> {
    let mut j = s;
    let mut end = None;
    for _ in 0..12 {
        let we = j + t[j..]
            .iter()
            .position(|&b| b.is_ascii_whitespace())
            .unwrap_or(t.len() - j);
        let w = &t[j..we];
        let Some(&first) = w.first() else {
            break;
        };
        let starts_name =
            first.is_ascii_uppercase() || first >= 0xC0 || w.iter().any(u8::is_ascii_digit);
        if is_one_of(w, AFTER_EMPLOYER) || !(starts_name || w == b"&" || w == b"-") {
            break;
        }
        if let Some(p) = w.windows(2).position(|x| x == b"'s") {
            return Some(j + p).filter(|&e| e > s);
        }
        // Without the clause's punctuation; a full stop stays (`Co.Ltd.`), but one of two
        // (`Ltd..`) is the sentence's.
        let mut n = w.len();
        while n > 0 && matches!(w[n - 1], b',' | b';' | b'?' | b'!' | b':') {
            n -= 1;
        }
        if w[..n].ends_with(b"..") {
            n -= 1;
        }
        end = Some(j + n);
        if w.ends_with(b",") || w.ends_with(b";") || we >= t.len() || t[we] != b' ' {
            break;
        }
        j = we + 1;
    }
    end.filter(|&e| e > s)
}
