//! Street addresses: a house number and a named street, in the orders that addresses are
//! written in, and the flat or suite that follows one.
//!
//! Found (confidence 0.7 unless said):
//! - `254 Damvergi Street`: a number, one to three capitalised words, then a street word
//!   (`Street`, `Road`, `Ave.`…);
//! - `Via Leopardi 83`, `Rua Arapiraca 1943`, `Rue de Bouillon 316`, `ul. Zakrzowska 92`: a
//!   street word that comes first (`Via`, `Rua`, `Calle`, `ul.`…), one to three capitalised
//!   words (with `de`, `da`… between them), then a number;
//! - `Fitjabraut 87`, `Lindenstraße 5`, `Paul-Nevermann-Platz 47`: one word that ends like a
//!   street name in its language (`-straße`, `-gatan`, `-vej`, `-braut`…), then a number
//!   (0.65);
//! - `Grazer Strasse 10`, `Martin Linges veg 149`, `Dózsa György út 78`: one to three
//!   capitalised words, a street word of [`BETWEEN`], then a number (0.65);
//! - `39 rue du Président Roosevelt`: a number, a lower-case street word of
//!   [`LOWER_PREFIXES`], then capitalised words (with particles);
//! - `Apt. 559`, `Suite 026`: a flat, suite or unit number (0.6);
//! - US military mail (USPS Publication 28, section 225), over one line or two (0.85):
//!   `PSC 4432, Box 7018 APO AA 09356`, `Unit 5711 Box 3055 DPO AP 38771`,
//!   `USNS Comfort FPO AE 09123` ([`military`]);
//! - a post-office box: `P.O. Box 63`, `PO Box 63`, `Post Office Box 63`, `Postbox 78` (0.7,
//!   [`po_box`]);
//! - an intersection: `the corner of 4308 Morris Street and Åström Viaduct` (0.75,
//!   [`corner`]).
//!
//! - after `at`, `on`, `to` or `address:`, a building number, one or two capitalised words
//!   and a house number that ends the clause (`at 5625 Dunajska 97`; 0.6,
//!   [`numbered_street`]); after `is on`, `lives on` or `side of`, one to three capitalised
//!   words and a house number that ends the clause (`is on Aqqusinersuaq 99`; 0.6,
//!   [`named_on`]);
//! - a person's name, `and`, a street where an address is expected (`sent to Fumiyo and
//!   Platåveien 113`; [`named_corner`]).
//!
//! Parts are reported apart where the address is written as a record's fields (lines apart
//! by escaped line breaks or column gaps: [`parts`]), where a building number comes before
//! a street that carries its own house number and the address ends there, and where one
//! town follows the only comma (the town as a location): see [`emit`].
//!
//! A lone capitalised word and a number (`Chapter 5`, `Windows 10`) is not an address.

use super::push;
use crate::Kind;
use crate::bytes::Needle;
use crate::bytes::{
    alnum_before, at, capital_at, digits_end, is_alnum, is_one_of, starts_with, window_end,
    word_before,
};
use crate::lexicon::Lexicon;
use memchr::memmem::Finder;

/// Street words written after the name, matched without regard to case only on their first
/// letter (the word must be capitalised): common British and abbreviated ones, then the rest
/// of the USPS street suffixes (Publication 28, appendix C1).
const SUFFIXES: &[&str] = &[
    "Street",
    "St",
    "Road",
    "Rd",
    "Avenue",
    "Ave",
    "Av",
    "Lane",
    "Ln",
    "Drive",
    "Dr",
    "Crescent",
    "Court",
    "Ct",
    "Place",
    "Pl",
    "Way",
    "Boulevard",
    "Blvd",
    "Terrace",
    "Heights",
    "Row",
    "Close",
    "Square",
    "Sq",
    "Gardens",
    "Greens",
    "Green",
    "Parkway",
    "Pkwy",
    "Highway",
    "Hwy",
    "Hill",
    "Grove",
    "Walk",
    "Mews",
    "Circle",
    "Cir",
    "Trail",
    "Ridge",
    "Alley",
    "Quay",
    "Wharf",
    "Esplanade",
    "Parade",
    "Crossing",
    "Glen",
    "Rise",
    "Vale",
    "Loop",
    "Plaza",
    "Motorway",
    "Expressway",
    "Pike",
    "Turnpike",
    "Strand",
    "Annex",
    "Arcade",
    "Bayou",
    "Beach",
    "Bend",
    "Bluff",
    "Bluffs",
    "Bottom",
    "Branch",
    "Bridge",
    "Brook",
    "Brooks",
    "Burg",
    "Burgs",
    "Bypass",
    "Camp",
    "Canyon",
    "Cape",
    "Causeway",
    "Center",
    "Centers",
    "Circles",
    "Cliff",
    "Cliffs",
    "Club",
    "Common",
    "Commons",
    "Corner",
    "Corners",
    "Course",
    "Courts",
    "Cove",
    "Coves",
    "Creek",
    "Crest",
    "Crossroad",
    "Curve",
    "Dale",
    "Dam",
    "Divide",
    "Drives",
    "Estate",
    "Estates",
    "Extension",
    "Extensions",
    "Fall",
    "Falls",
    "Ferry",
    "Field",
    "Fields",
    "Flat",
    "Flats",
    "Ford",
    "Fords",
    "Forest",
    "Forge",
    "Forges",
    "Fork",
    "Forks",
    "Fort",
    "Freeway",
    "Garden",
    "Gateway",
    "Glens",
    "Groves",
    "Harbor",
    "Harbors",
    "Haven",
    "Hills",
    "Hollow",
    "Inlet",
    "Island",
    "Islands",
    "Isle",
    "Junction",
    "Junctions",
    "Key",
    "Keys",
    "Knoll",
    "Knolls",
    "Lake",
    "Lakes",
    "Land",
    "Landing",
    "Light",
    "Lights",
    "Loaf",
    "Lock",
    "Locks",
    "Lodge",
    "Mall",
    "Manor",
    "Manors",
    "Meadow",
    "Meadows",
    "Mill",
    "Mills",
    "Mission",
    "Mount",
    "Mountain",
    "Mountains",
    "Neck",
    "Orchard",
    "Oval",
    "Overpass",
    "Park",
    "Parks",
    "Parkways",
    "Pass",
    "Passage",
    "Path",
    "Pine",
    "Pines",
    "Plain",
    "Plains",
    "Point",
    "Points",
    "Port",
    "Ports",
    "Prairie",
    "Radial",
    "Ramp",
    "Ranch",
    "Rapid",
    "Rapids",
    "Rest",
    "Ridges",
    "River",
    "Roads",
    "Route",
    "Run",
    "Shoal",
    "Shoals",
    "Shore",
    "Shores",
    "Skyway",
    "Spring",
    "Springs",
    "Spur",
    "Spurs",
    "Squares",
    "Station",
    "Stravenue",
    "Stream",
    "Streets",
    "Summit",
    "Throughway",
    "Trace",
    "Track",
    "Trafficway",
    "Trailer",
    "Tunnel",
    "Underpass",
    "Union",
    "Unions",
    "Valley",
    "Valleys",
    "Viaduct",
    "View",
    "Views",
    "Village",
    "Villages",
    "Ville",
    "Vista",
    "Walks",
    "Wall",
    "Ways",
    "Well",
    "Wells",
];

/// Street words written before the name.
const PREFIXES: &[&str] = &[
    "Plazuela",
    "Travessa",
    "Rambla",
    "Ronda",
    "Estrada",
    "Alameda",
    "Avda",
    "Calzada",
    "Pasaje",
    "Via",
    "Viale",
    "Vicolo",
    "Piazza",
    "Corso",
    "Largo",
    "Strada",
    "Rua",
    "Avenida",
    "Av",
    "Calle",
    "Carrer",
    "Camino",
    "Paseo",
    "Plaza",
    "Rue",
    "Boulevard",
    "Chemin",
    "Allée",
    "Impasse",
    "Ulica",
    "Ul",
    "Aleja",
];

/// Endings of one-word street names (German, Dutch, Nordic, Icelandic, Czech, Slovak…),
/// matched without regard to ASCII case (`Paul-Nevermann-Platz`).
const ENDINGS: &[&str] = &[
    "straße", "strasse", "str", "gasse", "weg", "allee", "platz", "damm", "ufer", "straat", "laan",
    "plaats", "gracht", "plein", "gata", "gatan", "gade", "vej", "veien", "vegen", "vägen",
    "vænget", "stræde", "plads", "torv", "alléen", "bakken", "braut", "vegur", "stígur", "tie",
    "katu", "polku", "ská", "ského", "ní", "ova", "ová",
];

/// Street words written after the name and before the house number, in German
/// (`Grazer Strasse 10`, capitalised) and, in lower case, in Norwegian, Danish, Hungarian,
/// Slovene, Estonian… (`Martin Linges veg 149`, `Dózsa György út 78`, `Gosposka ulica 53`).
const BETWEEN: &[&str] = &[
    "Straße", "Strasse", "Str.", "Chaussee", "Allee", "Weg", "Platz", "Gasse", "Ring", "Damm",
    "Ufer", "Steig", "vei", "veien", "veg", "vegen", "gate", "gata", "gatan", "vej", "gade", "út",
    "utca", "u.", "körút", "rakpart", "tér", "köz", "sor", "kapu", "ulica", "cesta", "põik",
    "tänav", "iela",
];

/// Street words written in lower case after the house number (`39 rue du Président
/// Roosevelt`, `120 avenida Paulista`); not `via` or `place`, common English words (`sent 3
/// via Email`).
const LOWER_PREFIXES: &[&str] = &[
    "rue",
    "avenue",
    "boulevard",
    "bd",
    "chemin",
    "allée",
    "impasse",
    "quai",
    "rua",
    "avenida",
    "calle",
];

/// Flat, suite and unit words.
const UNITS: &[&str] = &["Apt", "Suite", "Unit", "Flat", "Ste"];

/// Bytes that mark a line's start in generated or quoted text (`}}`, `>`, `|`, `???`),
/// passed over before a line's first word (a mark alone there is no word) and inside a
/// [`soft_break`]; elsewhere (`| 12 | Main Street |`) they are words that stop a match.
const LINE_MARKS: &[u8] = b"}]>|?";

/// The words of the text: (start, end) of each run of non-space bytes.
fn words(t: &[u8]) -> Vec<(usize, usize)> {
    // About one word in six bytes of prose: one allocation, most of the time.
    let mut out = Vec::with_capacity(t.len() / 4 + 4);
    let mut i = 0;
    while i < t.len() {
        let gap = i;
        while i < t.len() && t[i].is_ascii_whitespace() {
            i += 1;
        }
        // Line marks before a line's first word (`}}9112 Kuuse 53`, `??? 46753 Rua…`) are
        // not words: at the text's start, after a line break or after two spaces (an escaped
        // break, blanked).
        let line_start = gap == 0 || t[gap..i].contains(&b'\n') || i - gap >= 2;
        while line_start && i < t.len() && LINE_MARKS.contains(&t[i]) {
            i += 1;
        }
        let s = i;
        while i < t.len() && !t[i].is_ascii_whitespace() {
            i += 1;
        }
        if s < i {
            out.push((s, i));
        }
    }
    out
}

/// The word without trailing punctuation (`,` `;` `:` `)` `.`): abbreviations are listed
/// without their full stop.
fn trimmed(t: &[u8], (s, e): (usize, usize)) -> (usize, usize) {
    let mut e = e;
    while e > s && matches!(t[e - 1], b',' | b';' | b':' | b')' | b'.' | b'?' | b'!') {
        e -= 1;
    }
    (s, e)
}

fn text(t: &[u8], (s, e): (usize, usize)) -> &str {
    std::str::from_utf8(&t[s..e]).unwrap_or("")
}

fn is_number(t: &[u8], w: (usize, usize)) -> bool {
    let (s, e) = trimmed(t, w);
    e - s <= 5 && digits_end(t, s) == e && s < e
}

/// Capitalised: an upper-case first letter (of any script) followed by a lower-case one.
fn is_capitalised(t: &[u8], w: (usize, usize)) -> bool {
    let (s, e) = trimmed(t, w);
    if e - s >= 2 && t[s].is_ascii() && t[s + 1].is_ascii() {
        return t[s].is_ascii_uppercase() && t[s + 1].is_ascii_lowercase();
    }
    let mut cs = text(t, (s, e)).chars();
    matches!((cs.next(), cs.next()), (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase())
}

/// Which of [`SUFFIXES`], [`PREFIXES`] and [`UNITS`] the word is in, as written there.
/// Every entry is capitalised (first letter upper case, the rest lower case) and ASCII but
/// `Allée`, so one table of their lower-case forms with a bit per list, and the case of the
/// word, decide.
fn lists_of(t: &[u8], w: (usize, usize)) -> u32 {
    static LISTS: std::sync::OnceLock<Lexicon> = std::sync::OnceLock::new();
    let lists = LISTS.get_or_init(|| {
        let of =
            |list: &'static [&'static str], bit: u32| list.iter().map(move |w| (w.as_bytes(), bit));
        Lexicon::new(
            of(SUFFIXES, SUFFIX)
                .chain(of(PREFIXES, PREFIX))
                .chain(of(UNITS, UNIT)),
        )
    });
    let (s, e) = trimmed(t, w);
    let word = &t[s..e];
    if word == "Allée".as_bytes() {
        return PREFIX;
    }
    let capitalised = word.first().is_some_and(u8::is_ascii_uppercase)
        && word[1..].iter().all(u8::is_ascii_lowercase);
    if capitalised { lists.get(word) } else { 0 }
}

const SUFFIX: u32 = 1;
const PREFIX: u32 = 2;
const UNIT: u32 = 4;

/// Every street and unit word, for `person::known_word`.
pub(super) const STREET_WORDS: [&[&str]; 3] = [SUFFIXES, PREFIXES, UNITS];

fn ends_like_a_street(t: &[u8], w: (usize, usize)) -> bool {
    let (s, e) = trimmed(t, w);
    if e - s < 5 || !t[s].is_ascii_uppercase() {
        return false;
    }
    let word = &t[s..e];
    ENDINGS.iter().any(|end| {
        word.len() > end.len()
            && word[word.len() - end.len()..].eq_ignore_ascii_case(end.as_bytes())
    }) && text(t, (s, e)).chars().count() >= 5
}

/// Whether the word is one of [`BETWEEN`], as written there.
fn is_between(t: &[u8], (s, e): (usize, usize)) -> bool {
    BETWEEN.iter().any(|b| &t[s..e] == b.as_bytes())
}

/// The most words an address goes on for after its street.
const MAX_TAIL: usize = 10;

fn is_upper_word(t: &[u8], w: (usize, usize)) -> bool {
    let word = text(t, trimmed(t, w));
    word.chars().count() >= 2 && word.chars().all(|c| c.is_uppercase() || c == '-')
}

/// The address around the street found in words `first..=last`: a house or building number
/// just before it, and after it what an address goes on with (flat or suite, town, region,
/// country, postcode), up to a word that is none of those, a clause's end or a gap of two
/// or more spaces ([`soft_break`]). Answers the first and last words, and whether a soft
/// break ended it before any real line break (after one, the soft break only ends a written
/// address).
fn whole(t: &[u8], w: &[(usize, usize)], first: usize, last: usize) -> (usize, usize, bool) {
    let first = if first > 0 && is_number(t, w[first - 1]) && at(t, w[first - 1].1 - 1) != b'.' {
        first - 1
    } else {
        first
    };
    let mut last = last;
    let mut j = last + 1;
    // Whether the address went on over a real line break: a soft break after that ends a
    // written address, it does not make its lines a record's fields.
    let mut lines = false;
    while j < w.len() && j <= last + MAX_TAIL {
        if soft_break(t, w[j - 1].1, w[j].0) {
            return (first, last, !lines);
        }
        lines |= t[w[j - 1].1..w[j].0].contains(&b'\n');
        let unit = lists_of(t, w[j]) & UNIT != 0 && j + 1 < w.len() && is_number(t, w[j + 1]);
        // A full stop, `?` or `!` ends the clause where it is not part of an abbreviation,
        // nor a house number's before a flat (`Rákóczi út 41. Apt. 304`).
        if matches!(at(t, w[j - 1].1 - 1), b'.' | b'?' | b'!')
            && lists_of(t, w[j - 1]) & UNIT == 0
            && !(unit && at(t, w[j - 1].1 - 1) == b'.' && is_number(t, w[j - 1]))
        {
            break;
        }
        // A label (`Mobile:`, `Fax:`) or a telephone number on the next line is not the
        // address's.
        let label = at(t, w[j].1 - 1) == b':';
        if unit {
            last = j + 1;
            j += 2;
        } else if &t[w[j].0..w[j].1] == b"," || is_missing(t, w[j]) {
            // A comma written apart, at the start of a line (`Cuntis\n, PO\n Spain`), or a
            // missing region as data tools write it (`Ankaran, nan 16025`).
            j += 1;
        } else if label || phone_like(t, w, j) {
            break;
        } else if is_number(t, w[j]) || is_capitalised(t, w[j]) || is_upper_word(t, w[j]) {
            last = j;
            j += 1;
        } else if j + 1 < w.len()
            && is_particle(t, w[j])
            && w[j + 1].0 == w[j].1 + 1
            && (is_capitalised(t, w[j + 1]) || is_upper_word(t, w[j + 1]))
        {
            // A town's short lower-case word (`Tarazona de Guareña`, `Klobouky u Brna`).
            last = j + 1;
            j += 2;
        } else {
            break;
        }
    }
    (first, last, false)
}

/// Whether the gap `s..e` between two words is two spaces or more and no line break: an
/// escaped line break (`\n` in a JSON string or a log line, blanked to two spaces by
/// [`crate::bytes::blank_escapes`]) or a column gap. Such an address is a record's fields
/// serialised one after another, not a written one: its parts are reported apart.
fn soft_break(t: &[u8], s: usize, e: usize) -> bool {
    e >= s + 2
        && t[s] == b' '
        && t[s + 1] == b' '
        && t[s..e]
            .iter()
            .all(|&b| b == b' ' || LINE_MARKS.contains(&b))
}

/// A lower-case word inside a place's name (`de`, `del`, `das`, and the Slavic `u`, `pri`,
/// `na`, `ob`, `v`), in lower case only.
fn is_particle(t: &[u8], (s, e): (usize, usize)) -> bool {
    let word = &t[s..e];
    word.iter().all(u8::is_ascii_lowercase)
        && (is_one_of(word, super::gazetteer::PLACE_PARTICLES) || is_one_of(word, SLAVIC_PARTICLES))
}

/// Prepositions inside Slavic place names (`Klobouky u Brna`, `Loka pri Zidanem Mostu`).
const SLAVIC_PARTICLES: &[&str] = &["u", "pri", "na", "ob", "v", "pod"];

/// How data tools write a missing value (pandas' `nan`, `null`, `None`, `N/A`).
const MISSING: &[&str] = &["nan", "null", "none", "n/a"];

/// Whether the word, without its trailing punctuation, is one of [`MISSING`].
fn is_missing(t: &[u8], w: (usize, usize)) -> bool {
    is_one_of(trimmed_text(t, w), MISSING)
}

/// Whether words from `j` start like a telephone number: two or more groups of digits one
/// space apart (the last may go on with other bytes: `24-Office`) holding seven digits or
/// more (`723 813 266`, `26 841054`), where a postcode has fewer (`910 11`, `07793`), or
/// followed by a telephone word (`34 46 44 office`).
fn phone_like(t: &[u8], w: &[(usize, usize)], j: usize) -> bool {
    let mut digits = 0;
    let mut groups = 0;
    let mut next = w.len();
    for (k, &(s, e)) in w.iter().enumerate().skip(j) {
        let d = digits_end(t, s) - s;
        if d == 0 || (k > j && (s != w[k - 1].1 + 1 || t[s - 1] != b' ')) {
            next = k;
            break;
        }
        digits += d;
        groups += 1;
        if s + d < e {
            break;
        }
    }
    let phone_word = next < w.len() && is_one_of(&t[w[next].0..w[next].1], PHONE_WORDS);
    groups >= 2 && (digits >= 7 || phone_word)
}

/// Words after a telephone number that say what it is.
const PHONE_WORDS: &[&str] = &[
    "office", "mobile", "home", "work", "phone", "tel", "fax", "cell",
];

/// Pushes the address around the street in words `first..=last`; answers the last word it
/// took.
///
/// Reported apart, as the parts they are: a building number before a street that carries
/// its own house number (`083 254 Damvergi Street`: `083`, then the street); a town after
/// the only comma (`66 Winchester Rd, MERRIVALE`: the street, then the town as a
/// location), where a whole address goes on (`324 Young Road, Peck, United States 07793`);
/// and an address written as fields after a [`soft_break`] ([`parts`]).
fn emit(
    t: &[u8],
    w: &[(usize, usize)],
    out: &mut Vec<crate::Finding>,
    first: usize,
    last: usize,
    confidence: f32,
) -> usize {
    let (mut a, b, soft) = whole(t, w, first, last);
    let one = |out: &mut Vec<crate::Finding>, kind: Kind, a: usize, b: usize, c: f32| {
        let detector = if kind == Kind::Location {
            "address_town"
        } else {
            "street_address"
        };
        push(out, kind, w[a].0, trimmed(t, w[b]).1, c, detector);
    };
    let commas = (last..b).filter(|&k| at(t, w[k].1 - 1) == b',' || &t[w[k].0..w[k].1] == b",");
    let town_only = b > last
        && at(t, w[last].1 - 1) == b','
        && commas.count() == 1
        && (last + 1..=b).all(|k| !is_number(t, w[k]) && lists_of(t, w[k]) & UNIT == 0);
    // The street alone, or with a street word after its number (`Lumbyholmvej 46 St.`).
    let bare = b == last || (b == last + 1 && lists_of(t, w[b]) & SUFFIX != 0);
    if a < last
        && (soft || town_only || bare)
        && is_number(t, w[a])
        && (a + 1..=last).any(|k| is_number(t, w[k]))
    {
        one(out, Kind::StreetAddress, a, a, confidence);
        a += 1;
    }
    if town_only {
        one(out, Kind::StreetAddress, a, last, confidence);
        one(out, Kind::Location, last + 1, b, 0.6);
        return b;
    }
    if soft {
        // The flat or suite after the street on the same line is a field of its own.
        let unit_last = b >= a + 2 && lists_of(t, w[b - 1]) & UNIT != 0 && is_number(t, w[b]);
        if unit_last {
            one(out, Kind::StreetAddress, a, b - 2, confidence);
            one(out, Kind::StreetAddress, b - 1, b, confidence);
        } else {
            one(out, Kind::StreetAddress, a, b, confidence);
        }
        return parts(t, w, out, b + 1);
    }
    // A written address that goes on to its postcode (`…\nJohannesburg, GA 21651`) holds
    // the postcode: it beats the postcode found alone.
    let to_postcode = b > last + 1 && is_number(t, w[b]) && !is_number(t, w[b - 1]);
    one(
        out,
        Kind::StreetAddress,
        a,
        b,
        if to_postcode { 0.85 } else { confidence },
    );
    b
}

/// The fields after a street written as a record's fields (lines apart by a
/// [`soft_break`]), from word `j`, each reported apart: a flat or suite (`Apt. 972`), a
/// town or region (`Grubbenvorst`, `MP`: locations), a country and its postcode on one line
/// (`Netherlands 70652`: a location, then the postcode as part of the street address), a
/// postcode alone (`8008`). A line written before each field (`???`, `}}`) is passed over;
/// `nan` is a missing field. Stops at a real line break, a telephone number, a label, or a
/// line that is none of these; answers the last word taken.
fn parts(t: &[u8], w: &[(usize, usize)], out: &mut Vec<crate::Finding>, mut j: usize) -> usize {
    let mut taken = j - 1;
    for _ in 0..6 {
        if j >= w.len()
            || t[w[j - 1].1..w[j].0]
                .iter()
                .any(|&b| b == b'\n' || b == b'\r')
        {
            break;
        }
        if t[w[j].0..w[j].1].iter().all(u8::is_ascii_punctuation) {
            j += 1;
            continue;
        }
        // The line: words one space apart, eight at most (a field is short).
        let mut e = j;
        while e + 1 < w.len()
            && e < j + 8
            && !soft_break(t, w[e].1, w[e + 1].0)
            && w[e + 1].0 == w[e].1 + 1
        {
            e += 1;
        }
        if at(t, w[j].1 - 1) == b':' || phone_like(t, w, j) {
            break;
        }
        let number = |k: usize| is_number(t, w[k]) && digits_end(t, w[k].0) == trimmed(t, w[k]).1;
        // A postcode: one or two groups of letters and digits, with a digit, at the end of
        // the line (`502 14`, `2680-043`, `PH2 5HL`).
        let postcode = |k: usize| {
            let word = trimmed_text(t, w[k]);
            word.len() <= 8
                && word.iter().any(u8::is_ascii_digit)
                && word
                    .iter()
                    .all(|&b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        };
        let mut p = e + 1;
        while p > j && p + 2 > e + 1 && postcode(p - 1) {
            p -= 1;
        }
        // A town's words, with short lower-case ones between them (`Bystré u Policky`,
        // `Loka pri Zidanem Mostu`, `Santa Lucia del Mela`).
        let place = |k: usize| {
            is_capitalised(t, w[k])
                || is_upper_word(t, w[k])
                || (k > j && (is_particle(t, w[k]) || is_missing(t, w[k])))
        };
        let words_ok =
            (j..p).all(place) && (p == j || is_capitalised(t, w[j]) || is_upper_word(t, w[j]));
        if e == j + 1 && lists_of(t, w[j]) & UNIT != 0 && number(e) {
            push(
                out,
                Kind::StreetAddress,
                w[j].0,
                trimmed(t, w[e]).1,
                0.7,
                "street_address",
            );
        } else if e == j && is_missing(t, w[j]) {
        } else if p == j {
            push(
                out,
                Kind::PostalCode,
                w[j].0,
                trimmed(t, w[e]).1,
                0.6,
                "address_postcode",
            );
        } else if words_ok && p - j <= 5 {
            // The town, then maybe its region as a code (`Rohod SZ 4563`, `BARKLY QLD 4825`) or missing
            // (`Gossau nan 8625`), then the postcode: after a region a postal code, after a
            // country (`Estonia 42462`) the last part of the street address.
            let region = |k: usize| {
                let word = trimmed_text(t, w[k]);
                is_missing(t, w[k])
                    || ((2..=3).contains(&word.len()) && word.iter().all(u8::is_ascii_uppercase))
            };
            let town_end = if p > j + 1 && region(p - 1) { p - 1 } else { p };
            let town = |out: &mut Vec<crate::Finding>, a: usize, b: usize| {
                push(
                    out,
                    Kind::Location,
                    w[a].0,
                    trimmed(t, w[b]).1,
                    0.6,
                    "address_town",
                );
            };
            town(out, j, town_end - 1);
            if town_end < p && !is_missing(t, w[town_end]) {
                town(out, town_end, town_end);
            }
            if p <= e {
                let (kind, detector) = if town_end < p {
                    (Kind::PostalCode, "address_postcode")
                } else {
                    (Kind::StreetAddress, "street_address")
                };
                push(out, kind, w[p].0, trimmed(t, w[e]).1, 0.6, detector);
            }
        } else {
            break;
        }
        taken = e;
        j = e + 1;
    }
    taken
}

/// The longest town [`town_above_place`] takes, in bytes.
const MAX_TOWN: usize = 64;

/// A town on the line above a listed place that is alone at its line's start
/// (`SUNDSVALL` then `Sweden` on the next line, the break real or escaped): one to three
/// capitalised or upper-case words, no digit, alone on their line and overlapping no other
/// finding, as a location (0.55). Reads the findings already in `out`, so it runs after the
/// other detectors ([`super::Taken`]: `n log n` in the findings).
pub(crate) fn town_above_place(t: &[u8], out: &mut Vec<crate::Finding>) {
    let taken = super::Taken::new(out.iter().map(|f| (f.start, f.end)));
    let places: Vec<usize> = out
        .iter()
        .filter(|f| f.kind == Kind::Location && f.detector == "gazetteer")
        .map(|f| f.start)
        .collect();
    for start in places {
        // The break before the place: a line break, or two spaces or more.
        // The walks back are bounded (a town's line is short) or cover bytes no other place
        // walks over: linear in the text.
        let mut e = start;
        while e > 0 && start - e < 16 && t[e - 1] == b' ' {
            e -= 1;
        }
        let real = e > 0 && t[e - 1] == b'\n';
        if !real && start - e < 2 {
            continue;
        }
        if real {
            e -= 1;
        }
        while e > 0 && matches!(t[e - 1], b' ' | b'\r' | b'\t') {
            e -= 1;
        }
        // The line above: back to a line break or two spaces.
        let mut a = e;
        while a > 0
            && e - a <= MAX_TOWN
            && t[a - 1] != b'\n'
            && !(t[a - 1] == b' ' && a >= 2 && t[a - 2] == b' ')
        {
            a -= 1;
        }
        if a == e || e - a > MAX_TOWN || !taken.free(a, e) {
            continue;
        }
        // The line's words only: the whole text's would make this quadratic.
        let line: Vec<(usize, usize)> = words(&t[a..e])
            .into_iter()
            .map(|(s, e)| (a + s, a + e))
            .collect();
        let ok = (1..=3).contains(&line.len())
            && line.first().is_some_and(|&(s, _)| s == a)
            && line.iter().all(|&x| {
                (is_capitalised(t, x) || is_upper_word(t, x))
                    && trimmed(t, x) == x
                    && !t[x.0..x.1].iter().any(u8::is_ascii_digit)
            });
        if ok {
            push(out, Kind::Location, a, e, 0.55, "town_above_place");
        }
    }
}

/// Pushes word `k` as a street address (a building number).
fn push_word(t: &[u8], w: &[(usize, usize)], out: &mut Vec<crate::Finding>, k: usize) {
    push(
        out,
        Kind::StreetAddress,
        w[k].0,
        trimmed(t, w[k]).1,
        0.6,
        "street_address",
    );
}

fn trimmed_text(t: &[u8], w: (usize, usize)) -> &[u8] {
    let (s, e) = trimmed(t, w);
    &t[s..e]
}

/// Pushes street addresses and flat or suite numbers.
pub(crate) fn street(t: &[u8], out: &mut Vec<crate::Finding>) {
    let w = words(t);
    let end = |k: usize| trimmed(t, w[k]).1;
    let mut k = 0;
    // The first word a street found by its flat or suite may start at: past the last
    // address found.
    let mut floor = 0;
    while k < w.len() {
        // Every rule starts on a number, a capital (of any script) or `ul.`/`al.`: most words
        // of prose are passed over here.
        let first = t[w[k].0];
        if first.is_ascii() && !first.is_ascii_alphanumeric()
            || first.is_ascii_lowercase() && !matches!(&t[w[k].0..w[k].1], b"ul." | b"al.")
        {
            k += 1;
            continue;
        }
        // A number, capitalised words, a street word.
        if is_number(t, w[k]) && at(t, w[k].1 - 1).is_ascii_digit() {
            let mut j = k + 1;
            while j < w.len() && j <= k + 4 && is_capitalised(t, w[j]) {
                if j > k + 1 && lists_of(t, w[j]) & SUFFIX != 0 {
                    let b = emit(t, &w, out, k, j, 0.7);
                    k = b;
                    floor = b + 1;
                    break;
                }
                if at(t, w[j].1 - 1) == b',' {
                    break;
                }
                j += 1;
            }
        }
        // A number, a street word written in lower case in French, Portuguese,
        // Spanish (`39 rue du Président Roosevelt`), then capitalised words (with particles).
        if is_number(t, w[k])
            && at(t, w[k].1 - 1).is_ascii_digit()
            && k + 2 < w.len()
            && is_one_of(&t[w[k + 1].0..w[k + 1].1], LOWER_PREFIXES)
        {
            let mut j = k + 2;
            let mut last = None;
            while j < w.len() && j <= k + 6 {
                // The name ends at a flat or suite word or a field's gap.
                if lists_of(t, w[j]) & UNIT != 0 || soft_break(t, w[j - 1].1, w[j].0) {
                    break;
                }
                if is_capitalised(t, w[j]) {
                    last = Some(j);
                } else if !is_one_of(&t[w[j].0..w[j].1], super::gazetteer::PLACE_PARTICLES) {
                    break;
                }
                if at(t, w[j].1 - 1) == b',' {
                    break;
                }
                j += 1;
            }
            if let Some(mut last) = last {
                // A house number after the name too (`7908 Rue de Bouillon 316`).
                if last + 1 < w.len() && w[last + 1].0 == w[last].1 + 1 && is_number(t, w[last + 1])
                {
                    last += 1;
                }
                k = emit(t, &w, out, k, last, 0.7) + 1;
                floor = k;
                continue;
            }
        }
        // A street word, capitalised words (with `de`, `da`… between them), a number. The
        // Polish `ul.` (ulica) and `al.` (aleja) are written in lower case.
        let prefix =
            (w[k].0 < t.len() && t[w[k].0].is_ascii_uppercase() && lists_of(t, w[k]) & PREFIX != 0)
                || matches!(&t[w[k].0..w[k].1], b"ul." | b"al.");
        if prefix {
            let mut j = k + 1;
            while j < w.len()
                && j <= k + 4
                && (is_capitalised(t, w[j])
                    || (j + 1 < w.len()
                        && is_capitalised(t, w[j + 1])
                        && is_one_of(&t[w[j].0..w[j].1], super::gazetteer::PLACE_PARTICLES)))
            {
                j += 1;
            }
            if j > k + 1 && j < w.len() && is_number(t, w[j]) {
                let b = emit(t, &w, out, k, j, 0.7);
                k = b + 1;
                floor = k;
                continue;
            }
        }
        // One to three capitalised words, a street word and a number (`Grazer Strasse 10`,
        // `Martin Linges veg 149`).
        if t[w[k].0].is_ascii() && is_capitalised(t, w[k]) {
            let mut j = k + 1;
            let mut found = None;
            while j + 1 < w.len() && j <= k + 3 {
                if is_number(t, w[j + 1]) && is_between(t, w[j]) {
                    found = Some(j + 1);
                    break;
                }
                if !is_capitalised(t, w[j]) {
                    break;
                }
                j += 1;
            }
            if let Some(last) = found {
                k = emit(t, &w, out, k, last, 0.65) + 1;
                floor = k;
                continue;
            }
        }
        // One street-like word and a number, one space apart; with the capitalised word
        // (and particle) before it after a building number (`722 Hudevad Byvej 50`,
        // `0310 Sterre der Zeestraat 197`).
        if k + 1 < w.len()
            && w[k + 1].0 == w[k].1 + 1
            && is_number(t, w[k + 1])
            && ends_like_a_street(t, w[k])
        {
            let mut first = k;
            let named = |x: usize| x >= floor && is_capitalised(t, w[x]);
            if k >= floor + 2 && named(k - 1) && is_number(t, w[k - 2]) {
                first = k - 1;
            } else if k >= floor + 3
                && is_particle(t, w[k - 1])
                && named(k - 2)
                && is_number(t, w[k - 3])
            {
                first = k - 2;
            }
            let b = emit(t, &w, out, first, k + 1, 0.65);
            k = b + 1;
            floor = k;
            continue;
        }
        // One to three capitalised words and a number before `St.` or `street` (`enter on
        // Ööbiku 51 St.`, `refers to Pärna 33 street`).
        if let Some(last) = before_street_word(t, &w, k).filter(|_| k >= floor) {
            push(
                out,
                Kind::StreetAddress,
                w[k].0,
                end(last),
                0.6,
                "street_address",
            );
            k = last + 2;
            floor = k;
            continue;
        }
        // After `at`, `on`, `to` or `address:`, a building number, one or two capitalised
        // words and a house number that ends the clause (`lives at 449 Πεντέλης 210`,
        // `is at 5625 Dunajska 97.`): a street that carries its own number, whatever its
        // street word. Not a date (`on 12 March 2020`).
        if let Some(last) = numbered_street(t, &w, k) {
            k = emit(t, &w, out, k + 1, last, 0.6) + 1;
            floor = k;
            continue;
        }
        // After `lives on`, `is on` or `the north side of`, a street's name and its house
        // number that end the clause (`The bus station is on Aqqusinersuaq 99`).
        if let Some(last) = named_on(t, &w, k).filter(|_| k >= floor) {
            push(
                out,
                Kind::StreetAddress,
                w[k].0,
                trimmed(t, w[last]).1,
                0.6,
                "street_address",
            );
            k = last + 1;
            floor = k;
            continue;
        }
        // A flat, suite or unit number, with the street before it when that is a name and a
        // number (`Hlíðarvegur 25 Suite 189`): found by the unit, whatever the street word.
        if k + 1 < w.len()
            && t[w[k].0].is_ascii_uppercase()
            && is_number(t, w[k + 1])
            && lists_of(t, w[k]) & UNIT != 0
        {
            let mut a = k;
            let one_line = |x: usize| !soft_break(t, w[x].1, w[x + 1].0);
            // A street alone on the line before, as a record's fields: the street, then
            // the fields from the unit on.
            if k >= floor + 2 && !one_line(k - 1) && is_number(t, w[k - 1]) {
                let mut first = k - 1;
                while first > floor
                    && first + 4 > k
                    && one_line(first - 1)
                    && (is_capitalised(t, w[first - 1])
                        || is_one_of(
                            &t[w[first - 1].0..w[first - 1].1],
                            super::gazetteer::PLACE_PARTICLES,
                        ))
                {
                    first -= 1;
                }
                if first + 1 < k && is_capitalised(t, w[first]) {
                    if first > floor && one_line(first - 1) && is_number(t, w[first - 1]) {
                        push_word(t, &w, out, first - 1);
                    }
                    push(
                        out,
                        Kind::StreetAddress,
                        w[first].0,
                        end(k - 1),
                        0.6,
                        "street_address",
                    );
                    k = parts(t, &w, out, k) + 1;
                    floor = k;
                    continue;
                }
            }
            if k >= floor + 2
                && is_number(t, w[k - 1])
                && is_capitalised(t, w[k - 2])
                && one_line(k - 2)
                && one_line(k - 1)
            {
                a = k - 2;
                // More capitalised words, with particles between them (`Rúa do Paseo 3`).
                while a > floor
                    && a + 5 > k
                    && one_line(a - 1)
                    && (is_capitalised(t, w[a - 1])
                        || (a >= floor + 2
                            && is_capitalised(t, w[a - 2])
                            && one_line(a - 2)
                            && is_one_of(
                                &t[w[a - 1].0..w[a - 1].1],
                                super::gazetteer::PLACE_PARTICLES,
                            )))
                {
                    a -= 1;
                }
            }
            if a < k {
                k = emit(t, &w, out, a, k + 1, 0.7) + 1;
                floor = k;
            } else {
                push(
                    out,
                    Kind::StreetAddress,
                    w[k].0,
                    end(k + 1),
                    0.6,
                    "street_address",
                );
                k += 2;
            }
            continue;
        }
        k += 1;
    }
}

/// A month's name or its abbreviation (`March`, `Mar`, `Sept`).
fn is_month(word: &[u8]) -> bool {
    super::date::MONTHS.iter().any(|m| {
        word.eq_ignore_ascii_case(m.as_bytes())
            || (word.len() >= 3
                && word.len() <= 4
                && m.as_bytes()[..3].eq_ignore_ascii_case(&word[..3]))
    })
}

/// The number that ends one to four capitalised words or particles (the first capitalised)
/// and a number, starting at word `k`, where the word after the number is `St.`, `St` or
/// `street` (not `St.` before a capitalised word, `street` only before a clause's end or a
/// preposition).
fn before_street_word(t: &[u8], w: &[(usize, usize)], k: usize) -> Option<usize> {
    if !is_capitalised(t, w[k]) || (k > 0 && is_capitalised(t, w[k - 1])) {
        return None;
    }
    let mut j = k + 1;
    while j < w.len() && j <= k + 4 && !is_number(t, w[j]) {
        if !(is_capitalised(t, w[j]) || is_particle(t, w[j])) || trimmed(t, w[j]).1 != w[j].1 {
            return None;
        }
        j += 1;
    }
    let after = *w.get(j + 1)?;
    // Not `St.` before a name: that is a saint (`St. Mary`).
    let next = w.get(j + 2).copied();
    let saint = next.is_some_and(|x| is_capitalised(t, x));
    let street = match &t[after.0..after.1] {
        b"St." | b"St" => !saint,
        // `street` then a clause's end or a preposition, not a noun (`Room 5 street level`).
        b"street." => true,
        b"street" => next.is_none_or(|n| {
            is_one_of(
                &t[n.0..n.1],
                &["in", "of", "and", "at", "near", "was", "is"],
            )
        }),
        _ => false,
    };
    (is_number(t, w[j]) && trimmed(t, w[j]).1 == w[j].1 && street).then_some(j)
}

/// Words before `on` after which [`named_on`] looks for a street.
const BEFORE_ON: &[&str] = &["is", "lives", "live", "lived", "located", "situated"];

/// The last word of one to three capitalised words (no month) and a house number of one to
/// four digits starting at word `k`, after `is on`, `lives on`… ([`BEFORE_ON`]) or `side
/// of`, where the clause ends after the number (end of text, `.`, `,`, `?`, `!`, or a line
/// break).
fn named_on(t: &[u8], w: &[(usize, usize)], k: usize) -> Option<usize> {
    let word = |j: usize| &t[w[j].0..w[j].1];
    let cue = k >= 2
        && ((word(k - 1) == b"on" && is_one_of(word(k - 2), BEFORE_ON))
            || (word(k - 1) == b"of" && word(k - 2) == b"side"));
    if !cue || !is_capitalised(t, w[k]) {
        return None;
    }
    let last = (k + 1..=k + 3).find(|&j| j < w.len() && is_number(t, w[j]))?;
    let named = (k..last).all(|j| {
        is_capitalised(t, w[j])
            && trimmed(t, w[j]).1 == w[j].1
            && !is_month(word(j))
            && (j == k || w[j].0 == w[j - 1].1 + 1)
    });
    let (ns, ne) = trimmed(t, w[last]);
    let ends = ne - ns <= 4
        && w[last].0 == w[last - 1].1 + 1
        && (last + 1 == w.len() || ne < w[last].1 || t[w[last].1..w[last + 1].0].contains(&b'\n'));
    (named && ends).then_some(last)
}

/// Words after which [`numbered_street`] looks for an address.
const AT_WORDS: &[&str] = &["at", "on", "to", "address:"];

/// The last word of `NUMBER Capitalised [Capitalised] NUMBER` starting at word `k`, after
/// one of [`AT_WORDS`], a flat or suite number or a comma, where the clause ends after the
/// second number (end of text, a comma, a full stop, `?`, `!`, a line break, a soft break, or
/// `St.`) and no word is a month.
fn numbered_street(t: &[u8], w: &[(usize, usize)], k: usize) -> Option<usize> {
    // Or after a flat or suite number (`Apt. 961 01836 Democracia 9967`).
    let after_unit = k >= 2 && lists_of(t, w[k - 2]) & UNIT != 0 && is_number(t, w[k - 1]);
    // Or after a clause's comma (`at MarketWise Inc., 7997 Aqqusinersuaq 23, …`).
    let after_comma = k >= 1 && at(t, w[k - 1].1 - 1) == b',' && !is_number(t, w[k - 1]);
    if k == 0
        || !(is_one_of(&t[w[k - 1].0..w[k - 1].1], AT_WORDS) || after_unit || after_comma)
        || !is_number(t, w[k])
    {
        return None;
    }
    if !at(t, w[k].1 - 1).is_ascii_digit() {
        return None;
    }
    let last = (k + 2..=k + 3).find(|&j| j < w.len() && is_number(t, w[j]))?;
    let named = (k + 1..last).all(|j| {
        is_capitalised(t, w[j]) && trimmed(t, w[j]).1 == w[j].1 && !is_month(&t[w[j].0..w[j].1])
    });
    let ends = last + 1 == w.len()
        || matches!(at(t, w[last].1 - 1), b',' | b'.' | b'?' | b'!')
        || t[w[last].1..w[last + 1].0].contains(&b'\n')
        || soft_break(t, w[last].1, w[last + 1].0)
        || &t[w[last + 1].0..w[last + 1].1] == b"St.";
    (named && ends).then_some(last)
}

/// The most words each street of a corner takes.
const CORNER_WORDS: usize = 6;

/// An intersection as an address: `the corner of`, a street (capitalised words and numbers,
/// up to six words), `and`, another street (one to six capitalised words or numbers), up to a
/// clause's end or a lower-case word (`the corner of 4308 Morris Street and Åström Viaduct`);
/// one finding from `the` on (0.75, over the streets found alone). Where `St.` ends the first
/// street (`the corner of Voldi 26 St. and Jimínez Cove St.`: two streets), the second
/// street's capitalised words before its own `St.` alone (0.6); the first is found alone.
pub(crate) fn corner(t: &[u8], out: &mut Vec<crate::Finding>) {
    static CORNER_OF: Needle = Needle::new(|| Finder::new(b"corner of "));
    let mut from = 0;
    while let Some(p) = CORNER_OF.find(&t[from..]) {
        let c = from + p;
        from = c + 10;
        let start = if c >= 4 && t[c - 4..c].eq_ignore_ascii_case(b"the ") {
            c - 4
        } else {
            c
        };
        if start > 0 && t[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let w = words(&t[from..window_end(t, from, 160)]);
        let w: Vec<(usize, usize)> = w.into_iter().map(|(s, e)| (from + s, from + e)).collect();
        let street_word = |x: (usize, usize)| {
            let initials = t[x.0..x.1]
                .iter()
                .all(|&b| b.is_ascii_uppercase() || b == b'.');
            is_capitalised(t, x)
                || is_upper_word(t, x)
                || is_number(t, x)
                || is_particle(t, x)
                || initials
        };
        let Some(and) = w
            .iter()
            .take(CORNER_WORDS + 1)
            .position(|&x| &t[x.0..x.1] == b"and")
        else {
            continue;
        };
        // A first street that ends in its house number may hold lower-case words
        // (`Stensås terrasse 38`, `ul. Fałata 18`).
        let numbered = and > 1
            && is_number(t, w[and - 1])
            && w[..and - 1].iter().all(|&x| {
                t[x.0..x.1]
                    .iter()
                    .all(|&b| b.is_ascii_alphabetic() || b >= 0x80 || b == b'.')
            });
        let first_ok = and > 0 && (numbered || w[..and].iter().all(|&x| street_word(x)));
        if !first_ok {
            continue;
        }
        if &t[w[and - 1].0..w[and - 1].1] == b"St." {
            // Two streets, each before its `St.`: the first is found alone; the second is
            // its capitalised words, without the `St.` (`and Jimínez Cove St.`).
            let st = w
                .iter()
                .enumerate()
                .skip(and + 1)
                .take(CORNER_WORDS + 1)
                .find(|&(_, &x)| !is_capitalised(t, x) || trimmed(t, x) != x)
                .filter(|&(k, &x)| k > and + 1 && &t[x.0..x.1] == b"St.");
            if let Some((k, _)) = st {
                push(
                    out,
                    Kind::StreetAddress,
                    w[and + 1].0,
                    w[k - 1].1,
                    0.6,
                    "street_corner",
                );
                from = w[k].1;
            }
            continue;
        }
        let mut last = None;
        for (k, &x) in w.iter().enumerate().skip(and + 1).take(CORNER_WORDS) {
            // The second street ends at its line (a telephone number may follow).
            let gap = &t[w[k - 1].1..x.0];
            if !street_word(trimmed(t, x)) || gap.contains(&b'\n') || soft_break(t, w[k - 1].1, x.0)
            {
                break;
            }
            last = Some(k);
            if trimmed(t, x) != x {
                break;
            }
        }
        if let Some(last) = last
            && !matches!(&t[w[last].0..w[last].1], b"St." | b"St")
        {
            push(
                out,
                Kind::StreetAddress,
                start,
                trimmed(t, w[last]).1,
                0.75,
                "street_corner",
            );
            from = w[last].1;
        }
    }
}

/// Words after which [`named_corner`] takes `Name and street` for an address.
const NAMED_CORNER_CUES: &[&str] = &["to", "at", "is", "in", "with"];

/// An intersection written as a person's name, `and`, a street (`arrived at Oskar and
/// Hindsholmvej 75`, `Address: Julitta and 2870 Fallon Drive`), as one address: a
/// capitalised word, ` and `, then a street found by the detectors above (it takes their
/// confidence, at least 0.7: over the name alone) or one to three capitalised words and a
/// house number that ends the clause (0.6). Only where an address is expected before the
/// name: after `:` or `?`, after one of [`NAMED_CORNER_CUES`] (`to`, `at`, `is`…) or
/// `, and`, or (for a street found on its own) at a line's or the text's start. Runs after the
/// other street detectors: it reads their findings.
pub(crate) fn named_corner(t: &[u8], out: &mut Vec<crate::Finding>) {
    static AND: Needle = Needle::new(|| Finder::new(b" and "));
    if AND.find(t).is_none() {
        return;
    }
    let mut streets: Vec<(usize, usize, f32)> = out
        .iter()
        .filter(|f| f.kind == Kind::StreetAddress)
        .map(|f| (f.start, f.end, f.confidence))
        .collect();
    streets.sort_by_key(|s| s.0);
    let mut from = 0;
    while let Some(p) = AND.find(&t[from..]) {
        let a = from + p;
        let after = a + 5;
        from = after;
        // The name: one word of letters (any script), capitalised.
        let mut ws = a;
        while ws > 0 && a - ws < 24 && (t[ws - 1].is_ascii_alphabetic() || t[ws - 1] >= 0x80) {
            ws -= 1;
        }
        if ws == a || (ws > 0 && !matches!(t[ws - 1], b' ' | b'\n' | b'\t')) {
            continue;
        }
        if !is_capitalised(t, (ws, a)) {
            continue;
        }
        // A street the detectors found, starting here or after a short first word
        // (`Gl. Sygehusvej 83`).
        let k = streets.partition_point(|s| s.0 < after);
        let found = streets[k..]
            .iter()
            .take_while(|s| s.0 <= after + 4)
            .find(|s| s.0 == after || !t[after..s.0].contains(&b' ') || t[s.0 - 1] == b' ');
        let street = match found {
            Some(&(_, e, c)) if named_corner_cue(t, ws, false) => Some((e, c.max(0.7))),
            None if named_corner_cue(t, ws, true) => bare_street(t, after).map(|e| (e, 0.6)),
            _ => None,
        };
        if let Some((e, c)) = street {
            push(out, Kind::StreetAddress, ws, e, c, "street_named_corner");
            from = e.max(from);
        }
    }
}

/// Whether an address is expected before the word at `ws` (see [`named_corner`]); the
/// text's or a line's start counts only where the street was found on its own (not for a
/// `bare` one).
fn named_corner_cue(t: &[u8], ws: usize, bare: bool) -> bool {
    let mut b = ws;
    while b > 0 && t[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    if b > 0 && matches!(t[b - 1], b':' | b'?') {
        return true;
    }
    if b == 0 || t[b..ws].contains(&b'\n') || ws - b >= 2 {
        return !bare;
    }
    let (w, s) = word_before(t, b, false);
    if w == b"and" {
        return s >= 2 && t[s - 2] == b',';
    }
    is_one_of(w, NAMED_CORNER_CUES)
}

/// The end of one to three capitalised words (or a capital's abbreviation, `Λ.`) and a
/// house number of one to four digits starting at `s`, where the clause ends after the
/// number (end of text, `.`, `,`, `?`, `!`, or a line break).
fn bare_street(t: &[u8], s: usize) -> Option<usize> {
    let window = window_end(t, s, 100);
    let w = words(&t[s..window]);
    let w: Vec<(usize, usize)> = w.into_iter().map(|(a, b)| (s + a, s + b)).collect();
    let last = (1..=3).find(|&j| j < w.len() && is_number(t, w[j]))?;
    let named = (0..last).all(|j| {
        let (a, b) = w[j];
        let abbreviation = b - a <= 3 && t[b - 1] == b'.' && capital_at(t, a);
        (is_capitalised(t, w[j]) && trimmed(t, w[j]).1 == b || abbreviation)
            && (j == 0 || t[w[j - 1].1..a] == *b" ")
    });
    let (ns, ne) = trimmed(t, w[last]);
    let ends = ne - ns <= 4
        && t[w[last - 1].1..w[last].0] == *b" "
        && ((last + 1 == w.len() && window == t.len())
            || ne < w[last].1
            // Up to the next word, or to the window's end when the number is its last word.
            || t[w[last].1..w.get(last + 1).map_or(window, |n| n.0)].contains(&b'\n'));
    (named && ends).then_some(ne)
}

/// The ship prefixes of a military address's first line (`USNS Comfort`).
const SHIPS: [&[u8]; 4] = [b"USS ", b"USNS ", b"USNV ", b"USCGC "];

/// US military mail addresses: a first line (`PSC 4432, Box 7018`, `Unit 5711 Box 3055`, or
/// a ship: `USNS Comfort`), then, after a comma or a line break, the military "city" (`APO`,
/// `FPO` or `DPO`), "state" (`AA`, `AE` or `AP`) and a five-digit ZIP code. The ZIP code is
/// not checked against the ranges the Postal Service gives each state, so a made-up one is
/// found too; the whole shape is specific enough.
pub(crate) fn military(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        if matches!(t[i], b'P' | b'U')
            && !alnum_before(t, i)
            && let Some(end) = military_at(t, i)
        {
            push(out, Kind::StreetAddress, i, end, 0.85, "military_address");
            i = end;
        } else {
            i += 1;
        }
    }
}

/// The end of a military address that starts at `s`.
fn military_at(t: &[u8], s: usize) -> Option<usize> {
    let line_end = if let Some(n) = [&b"PSC "[..], b"Unit "]
        .into_iter()
        .find_map(|p| starts_with(t, s, p).then_some(p.len()))
    {
        // A three- to five-digit number, a comma or not, `Box` and another.
        let number = |i: usize| {
            let e = digits_end(t, i);
            (3..=5).contains(&(e - i)).then_some(e)
        };
        let mut j = number(s + n)?;
        if at(t, j) == b',' {
            j += 1;
        }
        if at(t, j) != b' ' || !starts_with(t, j + 1, b"Box ") {
            return None;
        }
        number(j + 5)?
    } else {
        let n = SHIPS.iter().find(|p| starts_with(t, s, p))?.len();
        // One to three capitalised words (letters of any script) on the same line.
        let mut j = s + n;
        let mut end = None;
        for _ in 0..3 {
            let c = at(t, j);
            if !(c.is_ascii_uppercase() || c >= 0x80) || military_tail(t, j).is_some() {
                break;
            }
            let mut e = j;
            while matches!(at(t, e), b'A'..=b'Z' | b'a'..=b'z' | b'\'' | b'-' | 0x80..=0xFF) {
                e += 1;
            }
            end = Some(e);
            if at(t, e) != b' ' {
                break;
            }
            j = e + 1;
        }
        end?
    };
    // A comma, spaces or a line break, then the rest.
    let mut j = line_end;
    while j < line_end + 4 && matches!(at(t, j), b' ' | b',' | b'\n' | b'\r' | b'\t') {
        j += 1;
    }
    if j == line_end {
        return None;
    }
    military_tail(t, j)
}

/// The end of `APO AE 09123` (or `FPO`, `DPO`; `AA`, `AP`) starting at `s`.
fn military_tail(t: &[u8], s: usize) -> Option<usize> {
    let city = matches!(at(t, s), b'A' | b'F' | b'D') && starts_with(t, s + 1, b"PO ");
    let state = at(t, s + 4) == b'A' && matches!(at(t, s + 5), b'A' | b'E' | b'P');
    if !city || !state || at(t, s + 6) != b' ' {
        return None;
    }
    let e = digits_end(t, s + 7);
    (e - (s + 7) == 5 && !is_alnum(t, e)).then_some(e)
}

/// The ways a post-office box is written, before its number.
const PO_BOXES: [&[u8]; 5] = [
    b"P.O. Box ",
    b"PO Box ",
    b"P. O. Box ",
    b"Post Office Box ",
    b"Postbox ",
];

/// Post-office boxes: one of [`PO_BOXES`] and a number of one to six digits.
pub(crate) fn po_box(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while i < t.len() {
        let found = (t[i] == b'P' && !alnum_before(t, i))
            .then(|| PO_BOXES.iter().find(|p| starts_with(t, i, p)))
            .flatten()
            .and_then(|p| {
                let e = digits_end(t, i + p.len());
                ((1..=6).contains(&(e - i - p.len())) && !is_alnum(t, e)).then_some(e)
            });
        match found {
            Some(e) => {
                push(out, Kind::StreetAddress, i, e, 0.7, "po_box");
                i = e;
            }
            None => i += 1,
        }
    }
}
