//! Words that are personal data by what they name, found by looking them up: countries,
//! states and large cities (`location`), nationalities and peoples (`nationality`),
//! religions (`religion`) and political affiliations (`political_group`).
//!
//! The lists are in [`ENTRIES`]: one or more words each, matched whole and ASCII
//! case-insensitively (`Czech Republic`, `czech republic`, `CZECH REPUBLIC`), except:
//! - entries marked [`CAP`] (words that are also common English words or given names:
//!   `Turkey`, `Jordan`, `Polish`, `Christian`) only when capitalised, and never right
//!   before another capitalised word (`Jordan Peterson`, `Christian Bale`);
//! - entries marked [`EXACT`] (`USA`, `UK`) only as written.
//!
//! Nationalities, religions and political groups also match in the plural (`Latvians`,
//! `Cape Verdeans`). A word glued to a domain, an address or a path (`spain.com`,
//! `/italy/`) is not a match. Confidence is 0.55: a country in a text is often not about a
//! person; with words that say it is (`citizen`, `nationality`, `born in`, `religion`,
//! `I am`…) it is 0.8.

use super::push;
use crate::Kind;
use crate::bytes::{at, capital_at, char_at, context, is_one_of, starts_with, word_before};
use crate::lexicon::Lexicon;
use memchr::memmem::Finder;

/// Only capitalised, and not before another capitalised word.
const CAP: u8 = 1;
/// Only exactly as written.
const EXACT: u8 = 2;

use Kind::{Location as L, Nationality as N, PoliticalGroup as P, Religion as R};

/// Every entry: its words (lower case unless [`EXACT`]), its kind and its flags.
const ENTRIES: &[(&str, Kind, u8)] = &[
    // Countries and territories (English short names and common other names).
    ("afghanistan", L, 0),
    ("albania", L, 0),
    ("algeria", L, 0),
    ("andorra", L, 0),
    ("angola", L, 0),
    ("antigua and barbuda", L, 0),
    ("argentina", L, 0),
    ("armenia", L, 0),
    ("aruba", L, 0),
    ("australia", L, 0),
    ("austria", L, 0),
    ("azerbaijan", L, 0),
    ("bahamas", L, 0),
    ("bahrain", L, 0),
    ("bangladesh", L, 0),
    ("barbados", L, 0),
    ("belarus", L, 0),
    ("belgium", L, 0),
    ("belize", L, 0),
    ("benin", L, 0),
    ("bermuda", L, 0),
    ("bhutan", L, 0),
    ("bolivia", L, 0),
    ("bosnia", L, 0),
    ("bosnia and herzegovina", L, 0),
    ("botswana", L, 0),
    ("brazil", L, 0),
    ("britain", L, 0),
    ("brunei", L, 0),
    ("bulgaria", L, 0),
    ("burkina faso", L, 0),
    ("burma", L, 0),
    ("burundi", L, 0),
    ("cabo verde", L, 0),
    ("cambodia", L, 0),
    ("cameroon", L, 0),
    ("canada", L, 0),
    ("cape verde", L, 0),
    ("cayman islands", L, 0),
    ("central african republic", L, 0),
    ("chad", L, CAP),
    ("chile", L, 0),
    ("china", L, CAP),
    ("colombia", L, 0),
    ("comoros", L, 0),
    ("congo", L, 0),
    ("costa rica", L, 0),
    ("croatia", L, 0),
    ("cuba", L, 0),
    ("curacao", L, 0),
    ("cyprus", L, 0),
    ("czech republic", L, 0),
    ("czechia", L, 0),
    ("democratic republic of the congo", L, 0),
    ("denmark", L, 0),
    ("djibouti", L, 0),
    ("dominica", L, CAP),
    ("dominican republic", L, 0),
    ("east timor", L, 0),
    ("ecuador", L, 0),
    ("egypt", L, 0),
    ("el salvador", L, 0),
    ("england", L, 0),
    ("equatorial guinea", L, 0),
    ("eritrea", L, 0),
    ("estonia", L, 0),
    ("eswatini", L, 0),
    ("ethiopia", L, 0),
    ("faroe islands", L, 0),
    ("fiji", L, 0),
    ("finland", L, 0),
    ("france", L, 0),
    ("french polynesia", L, 0),
    ("gabon", L, 0),
    ("gambia", L, 0),
    ("georgia", L, CAP),
    ("germany", L, 0),
    ("ghana", L, 0),
    ("gibraltar", L, 0),
    ("great britain", L, 0),
    ("greece", L, 0),
    ("greenland", L, 0),
    ("grenada", L, 0),
    ("guam", L, 0),
    ("guatemala", L, 0),
    ("guernsey", L, 0),
    ("guinea", L, CAP),
    ("guinea-bissau", L, 0),
    ("guyana", L, 0),
    ("haiti", L, 0),
    ("holland", L, CAP),
    ("honduras", L, 0),
    ("hong kong", L, 0),
    ("hungary", L, 0),
    ("iceland", L, 0),
    ("india", L, 0),
    ("indonesia", L, 0),
    ("iran", L, 0),
    ("iraq", L, 0),
    ("ireland", L, 0),
    ("isle of man", L, 0),
    ("israel", L, 0),
    ("italy", L, 0),
    ("ivory coast", L, 0),
    ("jamaica", L, 0),
    ("japan", L, 0),
    ("jersey", L, CAP),
    ("jordan", L, CAP),
    ("kazakhstan", L, 0),
    ("kenya", L, 0),
    ("kiribati", L, 0),
    ("korea", L, 0),
    ("kosovo", L, 0),
    ("kuwait", L, 0),
    ("kyrgyzstan", L, 0),
    ("laos", L, 0),
    ("latvia", L, 0),
    ("lebanon", L, 0),
    ("lesotho", L, 0),
    ("liberia", L, 0),
    ("libya", L, 0),
    ("liechtenstein", L, 0),
    ("lithuania", L, 0),
    ("luxembourg", L, 0),
    ("macau", L, 0),
    ("macedonia", L, 0),
    ("madagascar", L, 0),
    ("malawi", L, 0),
    ("malaysia", L, 0),
    ("maldives", L, 0),
    ("mali", L, CAP),
    ("malta", L, 0),
    ("marshall islands", L, 0),
    ("mauritania", L, 0),
    ("mauritius", L, 0),
    ("mexico", L, 0),
    ("micronesia", L, 0),
    ("moldova", L, 0),
    ("monaco", L, 0),
    ("mongolia", L, 0),
    ("montenegro", L, 0),
    ("morocco", L, 0),
    ("mozambique", L, 0),
    ("myanmar", L, 0),
    ("namibia", L, 0),
    ("nauru", L, 0),
    ("nepal", L, 0),
    ("netherlands", L, 0),
    ("new caledonia", L, 0),
    ("new zealand", L, 0),
    ("nicaragua", L, 0),
    ("niger", L, CAP),
    ("nigeria", L, 0),
    ("north korea", L, 0),
    ("north macedonia", L, 0),
    ("northern ireland", L, 0),
    ("norway", L, 0),
    ("oman", L, 0),
    ("pakistan", L, 0),
    ("palau", L, 0),
    ("palestine", L, 0),
    ("panama", L, 0),
    ("papua new guinea", L, 0),
    ("paraguay", L, 0),
    ("peru", L, 0),
    ("philippines", L, 0),
    ("poland", L, 0),
    ("portugal", L, 0),
    ("puerto rico", L, 0),
    ("qatar", L, 0),
    ("romania", L, 0),
    ("russia", L, 0),
    ("russian federation", L, 0),
    ("rwanda", L, 0),
    ("saint lucia", L, 0),
    ("samoa", L, 0),
    ("san marino", L, 0),
    ("saudi arabia", L, 0),
    ("scotland", L, 0),
    ("senegal", L, 0),
    ("serbia", L, 0),
    ("seychelles", L, 0),
    ("sierra leone", L, 0),
    ("singapore", L, 0),
    ("slovakia", L, 0),
    ("slovenia", L, 0),
    ("solomon islands", L, 0),
    ("somalia", L, 0),
    ("south africa", L, 0),
    ("south korea", L, 0),
    ("south sudan", L, 0),
    ("spain", L, 0),
    ("sri lanka", L, 0),
    ("sudan", L, 0),
    ("suriname", L, 0),
    ("swaziland", L, 0),
    ("sweden", L, 0),
    ("switzerland", L, 0),
    ("syria", L, 0),
    ("taiwan", L, 0),
    ("tajikistan", L, 0),
    ("tanzania", L, 0),
    ("thailand", L, 0),
    ("timor-leste", L, 0),
    ("togo", L, CAP),
    ("tonga", L, 0),
    ("trinidad and tobago", L, 0),
    ("tunisia", L, 0),
    ("turkey", L, CAP),
    ("turkiye", L, 0),
    ("turkmenistan", L, 0),
    ("tuvalu", L, 0),
    ("uganda", L, 0),
    ("ukraine", L, 0),
    ("united arab emirates", L, 0),
    ("united kingdom", L, 0),
    ("united states", L, 0),
    ("united states of america", L, 0),
    ("uruguay", L, 0),
    ("uzbekistan", L, 0),
    ("vanuatu", L, 0),
    ("vatican city", L, 0),
    ("venezuela", L, 0),
    ("vietnam", L, 0),
    ("wales", L, CAP),
    ("yemen", L, 0),
    ("zambia", L, 0),
    ("zimbabwe", L, 0),
    ("UAE", L, EXACT),
    ("UK", L, EXACT),
    ("USA", L, EXACT),
    ("U.S.A.", L, EXACT),
    ("U.K.", L, EXACT),
    // US states and Canadian provinces (Georgia and Jersey are above).
    ("alabama", L, 0),
    ("alaska", L, 0),
    ("alberta", L, CAP),
    ("arizona", L, 0),
    ("arkansas", L, 0),
    ("british columbia", L, 0),
    ("california", L, 0),
    ("colorado", L, 0),
    ("connecticut", L, 0),
    ("delaware", L, 0),
    ("florida", L, 0),
    ("hawaii", L, 0),
    ("idaho", L, 0),
    ("illinois", L, 0),
    ("indiana", L, 0),
    ("iowa", L, 0),
    ("kansas", L, 0),
    ("kentucky", L, 0),
    ("louisiana", L, 0),
    ("maine", L, CAP),
    ("manitoba", L, 0),
    ("maryland", L, 0),
    ("massachusetts", L, 0),
    ("michigan", L, 0),
    ("minnesota", L, 0),
    ("mississippi", L, 0),
    ("missouri", L, 0),
    ("montana", L, 0),
    ("nebraska", L, 0),
    ("nevada", L, 0),
    ("new brunswick", L, 0),
    ("new hampshire", L, 0),
    ("new jersey", L, 0),
    ("new mexico", L, 0),
    ("new york", L, 0),
    ("newfoundland", L, 0),
    ("north carolina", L, 0),
    ("north dakota", L, 0),
    ("nova scotia", L, 0),
    ("ohio", L, 0),
    ("oklahoma", L, 0),
    ("ontario", L, 0),
    ("oregon", L, 0),
    ("pennsylvania", L, 0),
    ("quebec", L, 0),
    ("rhode island", L, 0),
    ("saskatchewan", L, 0),
    ("south carolina", L, 0),
    ("south dakota", L, 0),
    ("tennessee", L, 0),
    ("texas", L, 0),
    ("utah", L, 0),
    ("vermont", L, 0),
    ("virginia", L, CAP),
    ("washington", L, CAP),
    ("west virginia", L, 0),
    ("wisconsin", L, 0),
    ("wyoming", L, 0),
    // Capitals and other large cities whose names are not common words or given names.
    ("abu dhabi", L, 0),
    ("accra", L, 0),
    ("addis ababa", L, 0),
    ("amsterdam", L, 0),
    ("ankara", L, 0),
    ("athens", L, CAP),
    ("auckland", L, 0),
    ("baghdad", L, 0),
    ("bangkok", L, 0),
    ("barcelona", L, 0),
    ("beijing", L, 0),
    ("beirut", L, 0),
    ("belgrade", L, 0),
    ("berlin", L, 0),
    ("bogota", L, 0),
    ("bratislava", L, 0),
    ("brussels", L, 0),
    ("bucharest", L, 0),
    ("budapest", L, 0),
    ("buenos aires", L, 0),
    ("cairo", L, 0),
    ("cape town", L, 0),
    ("caracas", L, 0),
    ("casablanca", L, 0),
    ("chicago", L, 0),
    ("copenhagen", L, 0),
    ("dhaka", L, 0),
    ("dubai", L, 0),
    ("dublin", L, 0),
    ("edinburgh", L, 0),
    ("frankfurt", L, 0),
    ("geneva", L, 0),
    ("glasgow", L, 0),
    ("hamburg", L, 0),
    ("hanoi", L, 0),
    ("havana", L, 0),
    ("helsinki", L, 0),
    ("istanbul", L, 0),
    ("jakarta", L, 0),
    ("jerusalem", L, 0),
    ("johannesburg", L, 0),
    ("karachi", L, 0),
    ("kathmandu", L, 0),
    ("kiev", L, 0),
    ("kinshasa", L, 0),
    ("kyiv", L, 0),
    ("lagos", L, 0),
    ("lisbon", L, 0),
    ("ljubljana", L, 0),
    ("london", L, CAP),
    ("los angeles", L, 0),
    ("madrid", L, 0),
    ("manchester", L, 0),
    ("manila", L, 0),
    ("melbourne", L, 0),
    ("mexico city", L, 0),
    ("milan", L, CAP),
    ("montevideo", L, 0),
    ("montreal", L, 0),
    ("moscow", L, 0),
    ("mumbai", L, 0),
    ("munich", L, 0),
    ("nairobi", L, 0),
    ("new delhi", L, 0),
    ("new york city", L, 0),
    ("oslo", L, 0),
    ("ottawa", L, 0),
    ("paris", L, CAP),
    ("prague", L, 0),
    ("reykjavik", L, 0),
    ("riga", L, 0),
    ("rio de janeiro", L, 0),
    ("riyadh", L, 0),
    ("rome", L, CAP),
    ("rotterdam", L, 0),
    ("san francisco", L, 0),
    ("sao paulo", L, 0),
    ("seoul", L, 0),
    ("shanghai", L, 0),
    ("stockholm", L, 0),
    ("sydney", L, CAP),
    ("taipei", L, 0),
    ("tallinn", L, 0),
    ("tehran", L, 0),
    ("tel aviv", L, 0),
    ("tokyo", L, 0),
    ("toronto", L, 0),
    ("vancouver", L, 0),
    ("vienna", L, CAP),
    ("vilnius", L, 0),
    ("warsaw", L, 0),
    ("zagreb", L, 0),
    ("zurich", L, 0),
    // Nationalities, peoples and demonyms.
    ("afghan", N, 0),
    ("african american", N, 0),
    ("albanian", N, 0),
    ("algerian", N, 0),
    ("american", N, 0),
    ("angolan", N, 0),
    ("arab", N, 0),
    ("argentine", N, 0),
    ("argentinian", N, 0),
    ("armenian", N, 0),
    ("australian", N, 0),
    ("austrian", N, 0),
    ("azerbaijani", N, 0),
    ("bangladeshi", N, 0),
    ("basque", N, 0),
    ("belarusian", N, 0),
    ("belgian", N, 0),
    ("beninese", N, 0),
    ("bolivian", N, 0),
    ("bosnian", N, 0),
    ("brazilian", N, 0),
    ("british", N, 0),
    ("bulgarian", N, 0),
    ("burmese", N, 0),
    ("burundian", N, 0),
    ("californian", N, 0),
    ("cambodian", N, 0),
    ("cameroonian", N, 0),
    ("canadian", N, 0),
    ("cape verdean", N, 0),
    ("catalan", N, 0),
    ("chadian", N, 0),
    ("chechen", N, 0),
    ("chilean", N, 0),
    ("chinese", N, 0),
    ("colombian", N, 0),
    ("congolese", N, 0),
    ("costa rican", N, 0),
    ("croatian", N, 0),
    ("cuban", N, 0),
    ("cypriot", N, 0),
    ("czech", N, 0),
    ("danish", N, 0),
    ("dominican", N, 0),
    ("dutch", N, 0),
    ("ecuadorian", N, 0),
    ("egyptian", N, 0),
    ("emirati", N, 0),
    ("english", N, 0),
    ("eritrean", N, 0),
    ("estonian", N, 0),
    ("ethiopian", N, 0),
    ("faroese", N, 0),
    ("fijian", N, 0),
    ("filipino", N, 0),
    ("finnish", N, 0),
    ("flemish", N, 0),
    ("french", N, 0),
    ("gabonese", N, 0),
    ("gambian", N, 0),
    ("georgian", N, CAP),
    ("german", N, 0),
    ("ghanaian", N, 0),
    ("greek", N, 0),
    ("greenlander", N, 0),
    ("greenlandic", N, 0),
    ("guatemalan", N, 0),
    ("guinean", N, 0),
    ("haitian", N, 0),
    ("hispanic", N, 0),
    ("honduran", N, 0),
    ("hungarian", N, 0),
    ("icelander", N, 0),
    ("icelandic", N, 0),
    ("indian", N, CAP),
    ("indonesian", N, 0),
    ("inuit", N, 0),
    ("iranian", N, 0),
    ("iraqi", N, 0),
    ("irish", N, 0),
    ("israeli", N, 0),
    ("italian", N, 0),
    ("ivorian", N, 0),
    ("jamaican", N, 0),
    ("japanese", N, 0),
    ("jordanian", N, 0),
    ("kazakh", N, 0),
    ("kenyan", N, 0),
    ("korean", N, 0),
    ("kosovar", N, 0),
    ("kurd", N, 0),
    ("kurdish", N, 0),
    ("kuwaiti", N, 0),
    ("kyrgyz", N, 0),
    ("laotian", N, 0),
    ("latina", N, 0),
    ("latino", N, 0),
    ("latvian", N, 0),
    ("lebanese", N, 0),
    ("liberian", N, 0),
    ("libyan", N, 0),
    ("lithuanian", N, 0),
    ("luxembourgish", N, 0),
    ("macedonian", N, 0),
    ("malagasy", N, 0),
    ("malawian", N, 0),
    ("malaysian", N, 0),
    ("malian", N, 0),
    ("maltese", N, 0),
    ("maori", N, 0),
    ("mauritian", N, 0),
    ("mexican", N, 0),
    ("moldovan", N, 0),
    ("mongolian", N, 0),
    ("montenegrin", N, 0),
    ("moroccan", N, 0),
    ("mozambican", N, 0),
    ("namibian", N, 0),
    ("nepalese", N, 0),
    ("nepali", N, 0),
    ("new zealander", N, 0),
    ("nicaraguan", N, 0),
    ("nigerian", N, 0),
    ("nigerien", N, 0),
    ("norwegian", N, 0),
    ("pakistani", N, 0),
    ("palestinian", N, 0),
    ("panamanian", N, 0),
    ("paraguayan", N, 0),
    ("persian", N, CAP),
    ("peruvian", N, 0),
    ("polish", N, CAP),
    ("portuguese", N, 0),
    ("puerto rican", N, 0),
    ("qatari", N, 0),
    ("romani", N, 0),
    ("romanian", N, 0),
    ("russian", N, 0),
    ("rwandan", N, 0),
    ("salvadoran", N, 0),
    ("sami", N, CAP),
    ("saudi", N, 0),
    ("scottish", N, 0),
    ("senegalese", N, 0),
    ("serbian", N, 0),
    ("sierra leonean", N, 0),
    ("singaporean", N, 0),
    ("slovak", N, 0),
    ("slovakian", N, 0),
    ("slovene", N, 0),
    ("slovenian", N, 0),
    ("somali", N, 0),
    ("south african", N, 0),
    ("spaniard", N, 0),
    ("spanish", N, 0),
    ("sri lankan", N, 0),
    ("sudanese", N, 0),
    ("swede", N, 0),
    ("swedish", N, 0),
    ("swiss", N, 0),
    ("syrian", N, 0),
    ("taiwanese", N, 0),
    ("tajik", N, 0),
    ("tamil", N, 0),
    ("tanzanian", N, 0),
    ("tatar", N, 0),
    ("texan", N, 0),
    ("thai", N, 0),
    ("tibetan", N, 0),
    ("togolese", N, 0),
    ("tunisian", N, 0),
    ("turkish", N, 0),
    ("turkmen", N, 0),
    ("ugandan", N, 0),
    ("ukrainian", N, 0),
    ("uruguayan", N, 0),
    ("uyghur", N, 0),
    ("uzbek", N, 0),
    ("venezuelan", N, 0),
    ("vietnamese", N, 0),
    ("welsh", N, 0),
    ("yemeni", N, 0),
    ("zairean", N, 0),
    ("zambian", N, 0),
    ("zimbabwean", N, 0),
    // Religions and beliefs.
    ("agnostic", R, 0),
    ("anglican", R, 0),
    ("atheist", R, 0),
    ("baptist", R, CAP),
    ("buddhist", R, 0),
    ("catholic", R, 0),
    ("christian", R, CAP),
    ("hindu", R, 0),
    ("jain", R, CAP),
    ("jehovah's witness", R, 0),
    ("jew", R, 0),
    ("jewish", R, 0),
    ("lutheran", R, 0),
    ("methodist", R, 0),
    ("mormon", R, 0),
    ("muslim", R, 0),
    ("presbyterian", R, 0),
    ("protestant", R, 0),
    ("quaker", R, 0),
    ("rastafarian", R, 0),
    ("roman catholic", R, 0),
    ("shia", R, 0),
    ("shiite", R, 0),
    ("sikh", R, 0),
    ("sunni", R, 0),
    ("taoist", R, 0),
    ("zoroastrian", R, 0),
    // Political affiliations (as people say they hold them).
    ("communist", P, CAP),
    ("democrat", P, CAP),
    ("libertarian", P, CAP),
    ("republican", P, CAP),
    ("social democrat", P, CAP),
    ("socialist", P, CAP),
    ("tory", P, CAP),
    ("tories", P, CAP),
];

/// Words before a match that say it is about a person.
const CONTEXT: &[&str] = &[
    "citizen",
    "citizenship",
    "nationality",
    "national",
    "born",
    "ethnicity",
    "ethnic",
    "religion",
    "faith",
    "am",
    "lives",
    "live",
    "moved",
    "resident",
    "passport",
    "voter",
    "party",
];

/// The entries, grouped by their first word for a lookup per word of the text.
struct Index {
    /// Every entry, sorted by its first word.
    entries: Vec<(&'static str, Kind, u8)>,
    /// Each distinct lower-cased first word (its ASCII letters up to the first other byte)
    /// and the entries that start with it, sorted by the word.
    first: Vec<(Vec<u8>, std::ops::Range<usize>)>,
    /// Each first word's place in `first`, plus one (the lexicon rules most words of a text
    /// out by their first two letters and length before hashing them).
    lookup: Lexicon,
}

fn first_word(entry: &str) -> Vec<u8> {
    entry
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .map(|b| b.to_ascii_lowercase())
        .collect()
}

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut entries = ENTRIES.to_vec();
        entries.sort_unstable_by_key(|e| (first_word(e.0), e.0.to_ascii_lowercase()));
        let mut first: Vec<(Vec<u8>, std::ops::Range<usize>)> = Vec::new();
        for (n, e) in entries.iter().enumerate() {
            let w = first_word(e.0);
            match first.last_mut() {
                Some((last, range)) if *last == w => range.end = n + 1,
                _ => first.push((w, n..n + 1)),
            }
        }
        let lookup = Lexicon::new(
            first
                .iter()
                .zip(1u32..)
                .map(|((w, _), n)| (w.as_slice(), n)),
        );
        Index {
            entries,
            first,
            lookup,
        }
    })
}

/// The first word of every listed place, people, belief or party (lower case), for
/// `person::known_word`.
pub(super) fn first_words() -> impl Iterator<Item = &'static [u8]> {
    index().first.iter().map(|(w, _)| w.as_slice())
}

/// Whether the byte may be inside a word: ASCII letters and the bytes of non-ASCII
/// characters.
fn word_byte(b: u8) -> bool {
    b.is_ascii_alphabetic() || b >= 0x80
}

/// Whether the text at `i` holds `entry` (its words separated by one space or a line
/// break in the text), ending at a word boundary, with the `s` of a plural allowed when
/// `plural`; its end.
fn matches_at(t: &[u8], i: usize, entry: &str, flags: u8, plural: bool) -> Option<usize> {
    let e = entry.as_bytes();
    let mut j = i;
    for &c in e {
        let b = at(t, j);
        let same = if flags & EXACT != 0 {
            b == c
        } else if c == b' ' {
            b == b' '
        } else {
            b.to_ascii_lowercase() == c
        };
        if !same {
            return None;
        }
        j += 1;
    }
    let s = at(t, j);
    if plural && (s == b's' || (s == b'S' && at(t, j - 1).is_ascii_uppercase())) {
        j += 1;
    }
    // The end of a word, not glued to a domain, an address or a path.
    let next = at(t, j);
    let glued = word_byte(next)
        || next.is_ascii_digit()
        || matches!(next, b'@' | b'_' | b'/')
        || (matches!(next, b'.' | b'-') && at(t, j + 1).is_ascii_alphanumeric());
    (!glued).then_some(j)
}

/// The case of the words `t[i..e]`: whether they are written as an entry may be (each word
/// capitalised, all lower case or all capitals), and whether the first is capitalised.
fn case_ok(t: &[u8], i: usize, e: usize, flags: u8) -> bool {
    let span = &t[i..e];
    let lower = span.iter().all(|b| !b.is_ascii_uppercase());
    let upper = span.iter().all(|b| !b.is_ascii_lowercase());
    let capitalised = span.split(|&b| b == b' ').all(|w| {
        w.first().is_some_and(u8::is_ascii_uppercase)
            || matches!(w, b"and" | b"of" | b"the" | b"de")
    }) && !upper;
    if flags & CAP != 0 {
        // Also not right before another capitalised word: `Jordan Peterson`.
        let next_cap = at(t, e) == b' ' && at(t, e + 1).is_ascii_uppercase();
        return capitalised && !next_cap;
    }
    lower || upper || capitalised
}

/// Pushes every listed word or phrase.
pub(crate) fn words(t: &[u8], out: &mut Vec<crate::Finding>) {
    let index = index();
    let mut i = 0;
    while i < t.len() {
        let b = t[i];
        let starts = b.is_ascii_alphabetic()
            && (i == 0
                || !(word_byte(t[i - 1])
                    || t[i - 1].is_ascii_digit()
                    || matches!(t[i - 1], b'.' | b'@' | b'/' | b'_' | b'-' | b'\'')));
        if !starts {
            i += 1;
            continue;
        }
        let mut e = i + 1;
        while at(t, e).is_ascii_alphabetic() {
            e += 1;
        }
        let n = e - i;
        // The word, or the word without the `s` of a plural.
        let plural = n > 2 && matches!(t[e - 1], b's' | b'S');
        let found = entry_at(t, i, n, index, out)
            .or_else(|| plural.then(|| entry_at(t, i, n - 1, index, out))?);
        if let Some(end) = found {
            e = end;
        }
        // Past the word and what is glued to it.
        while word_byte(at(t, e)) {
            e += 1;
        }
        i = e;
    }
}

/// Places by where they stand: one to three capitalised words after `in` or `from`
/// (`lives in Groningen`, `moved here from Mabopane`), after `to` or `at` that follow a verb
/// of going (`flew to Fortaleza`, `arrived at Ehingen`), after `to` before a word that reads
/// as a town ([`town_like`]: `to Rennieside`), after `city of`, `University of`
/// and the like, or after `city` (`her home city Lostorf`), none of them a word known as
/// something else (see `person::known_word`), not all in capitals of four letters or fewer
/// (`PSC`, `ATM`; `EAST HOATHLY` is a place), not a possessive (`from Jane's`) and not followed by another capitalised
/// word; at 0.5, the lowest confidence reported by default. Listed places are found by
/// [`words`] with more confidence.
pub(crate) fn after_preposition(t: &[u8], out: &mut Vec<crate::Finding>) {
    let mut i = 0;
    while let Some(p) = t.get(i..).and_then(|r| r.iter().position(|&b| b == b' ')) {
        let sp = i + p;
        i = sp + 1;
        // `in` or `from`, capitalised or not (not in capitals: SQL's `FROM Users`), as a word
        // of its own (not `built-in`, `log.in`).
        let ends = |w: &[u8]| {
            sp >= w.len() && {
                let b = &t[sp - w.len()..sp];
                b[1..] == w[1..] && b[0].to_ascii_lowercase() == w[0]
            }
        };
        // `to` and `at` after a verb of going (`flew to`, `arrived at`), `to` before a town's
        // name (`to Rennieside`); `of` after a
        // word for a town (`the city of`, `University of`); `city` itself (`home city`).
        let after = |n: usize, words: &[&str]| is_one_of(word_before(t, sp - n, false).0, words);
        let n = if ends(b"in")
            || (ends(b"to") && (after(2, GOING_TO) || town_like(t, i)))
            || (ends(b"at") && after(2, ARRIVING_AT))
            || (ends(b"of") && after(2, TOWNS))
        {
            2
        } else if ends(b"from") || ends(b"city") {
            4
        } else {
            0
        };
        let prep = n > 0
            && (sp == n
                || matches!(
                    t[sp - n - 1],
                    b' ' | b'\n' | b'\t' | b'(' | b'"' | b',' | b';'
                ));
        if !prep || !capital_at(t, i) {
            continue;
        }
        let s = i;
        let mut e = s;
        let mut words = 0;
        let mut ok = true;
        // Words in capitals of four letters or fewer (`PSC`, `EAST`): a place only beside a
        // longer word (`EAST HOATHLY`).
        let mut short_caps = 0;
        loop {
            let ws = e;
            // Letters (of any script), and hyphens between them.
            loop {
                let b = at(t, e);
                let letter_next = at(t, e + 1).is_ascii_alphabetic()
                    || char_at(t, e + 1).is_some_and(|(c, _)| c.is_alphabetic());
                if b.is_ascii_alphabetic() || (b == b'-' && letter_next) {
                    e += 1;
                } else if let Some((_, n)) = char_at(t, e).filter(|(c, _)| c.is_alphabetic()) {
                    e += n;
                } else {
                    break;
                }
            }
            let w = &t[ws..e];
            let caps = w.iter().all(|b| !b.is_ascii_lowercase());
            // (`Lake`, `Port` start a town's name: `Lake Sarachester`.)
            let town_start = words == 0 && is_one_of(w, TOWN_STARTS) && town_like(t, ws);
            if w.len() < 2 || (super::person::known_word(w) && !town_start) {
                ok = false;
                break;
            }
            short_caps += usize::from(caps && w.len() <= 4);
            words += 1;
            if at(t, e) == b' ' && capital_at(t, e + 1) && words < 3 {
                e += 1;
            } else if let Some(j) = place_particle(t, e).filter(|_| words < 3) {
                // `Vila do Conde`, `Ostrov nad Ohří`.
                e = j;
            } else {
                break;
            }
        }
        let next = at(t, e);
        let glued = next == b'\''
            || starts_with(t, e, "\u{2019}".as_bytes())
            || next == b'@'
            || next == b'/'
            || next == b'_'
            || (next == b' ' && capital_at(t, e + 1))
            || (next == b'.' && at(t, e + 1).is_ascii_alphanumeric());
        if ok && !glued && short_caps < words {
            push(
                out,
                Kind::Location,
                s,
                with_alias(t, e),
                0.5,
                "place_by_preposition",
            );
        }
        i = e.max(i);
    }
}

/// Endings of English town names (`Portsmouth`, `Manchester`, `Rennieside`), which make a
/// capitalised word after `to` a place (not `-port` or `-view`: `to Support`, `to
/// Overview`).
const TOWN_ENDINGS: &[&[u8]] = &[
    b"mouth", b"chester", b"caster", b"ville", b"borough", b"burgh", b"bury", b"stad", b"furt",
    b"haven", b"shire", b"side", b"berg", b"ford", b"field", b"fort", b"ton", b"town", b"land",
    b"wick", b"by",
];

/// Words that start English town names (`Lake Sarachester`, `Port Everardus`).
const TOWN_STARTS: &[&str] = &[
    "north", "south", "east", "west", "new", "lake", "port", "fort", "mount",
];

/// Whether the word at `i` reads as a town: capitalised, of five bytes or more, ending in
/// one of [`TOWN_ENDINGS`]; or one of [`TOWN_STARTS`] before another capitalised word.
fn town_like(t: &[u8], i: usize) -> bool {
    if !at(t, i).is_ascii_uppercase() {
        return false;
    }
    let mut e = i + 1;
    while at(t, e).is_ascii_alphabetic() || at(t, e) >= 0x80 {
        e += 1;
    }
    let w = &t[i..e];
    if is_one_of(w, TOWN_STARTS) && at(t, e) == b' ' && capital_at(t, e + 1) {
        return true;
    }
    w.len() >= 5
        && w[1..].iter().all(|b| !b.is_ascii_uppercase())
        && TOWN_ENDINGS
            .iter()
            .any(|end| w.len() > end.len() + 1 && w.ends_with(end))
}

/// Landmarks written in lower case after the place they belong to (`the Paterson bridge`).
const LANDMARKS: &[&[u8]] = &[
    b" bridge",
    b" airport",
    b" harbour",
    b" harbor",
    b" city centre",
];

/// Places named before a landmark word in lower case (`Paterson bridge is falling down`,
/// `the KRISTIANSAND S bridge`): one to three capitalised or upper-case words (letters of any
/// script, the last one may be a single capital) right before it, none a word known as
/// something else, at a sentence's start or after `the`; 0.55 (over a name guessed from
/// capitals alone).
pub(crate) fn before_landmark(t: &[u8], out: &mut Vec<crate::Finding>) {
    static FINDERS: std::sync::LazyLock<Vec<Finder<'static>>> =
        std::sync::LazyLock::new(|| LANDMARKS.iter().map(Finder::new).collect());
    for (landmark, finder) in LANDMARKS.iter().zip(FINDERS.iter()) {
        let mut from = 0;
        while let Some(p) = finder.find(&t[from..]) {
            let e = from + p;
            from = e + landmark.len();
            if t.get(from).is_some_and(u8::is_ascii_alphanumeric) {
                continue;
            }
            if let Some(s) = place_before(t, e) {
                push(out, Kind::Location, s, e, 0.55, "place_by_landmark");
            }
        }
    }
}

/// The start of one to three place words that end at `e`, at a sentence's start or after
/// `the` (see [`before_landmark`]).
fn place_before(t: &[u8], e: usize) -> Option<usize> {
    let mut s = e;
    let mut words = 0;
    while words < 3 {
        let we = s;
        let mut ws = we;
        while ws > 0 && !matches!(t[ws - 1], b' ' | b'\n' | b'\t' | b'"' | b'(') {
            ws -= 1;
        }
        let w = &t[ws..we];
        let word = w.len() >= 2 || (words == 0 && w.len() == 1);
        if ws == we || !capital_at(t, ws) || !word || super::person::known_word(w) || we - ws > 24 {
            break;
        }
        if !w
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || b == b'-' || b >= 0x80)
        {
            break;
        }
        s = ws;
        words += 1;
        if s == 0 || t[s - 1] != b' ' {
            break;
        }
        s -= 1;
        if at(t, s.wrapping_sub(1)) == b' ' || s == 0 {
            break;
        }
    }
    let start = if words > 0 && s < e && t[s] == b' ' {
        s + 1
    } else {
        s
    };
    if words == 0 {
        return None;
    }
    let (before, _) = word_before(t, start, false);
    let opens = start == 0
        || matches!(
            t[..start].iter().rev().find(|&&b| b != b' '),
            Some(b'.' | b'!' | b'?' | b'\n')
        );
    (opens || before.eq_ignore_ascii_case(b"the")).then_some(start)
}

/// Verbs after which `to` leads to a place.
const GOING_TO: &[&str] = &[
    "flew",
    "moved",
    "travelled",
    "traveled",
    "went",
    "drove",
    "relocated",
    "returned",
    "headed",
    "emigrated",
    "sailed",
    "fled",
    "migrated",
    "commuted",
    "came",
    "walked",
];

/// Verbs after which `at` leads to a place.
const ARRIVING_AT: &[&str] = &["arrived", "landed", "stayed"];

/// Words after which `of` leads to a place.
const TOWNS: &[&str] = &["city", "town", "village", "university", "municipality"];

/// Lower-case words inside place names.
pub(super) const PLACE_PARTICLES: &[&str] = &[
    "de", "du", "des", "do", "da", "das", "dos", "del", "della", "di", "la", "las", "los", "le",
    "les", "nad", "pod", "na", "pri", "ob", "am", "an", "im", "sur", "sul", "en", "y",
];

/// After a place word ending at `e`: a space, one or two [`PLACE_PARTICLES`] and a space
/// before a capital; where that capital starts.
fn place_particle(t: &[u8], e: usize) -> Option<usize> {
    let mut j = e;
    for _ in 0..2 {
        if at(t, j) != b' ' {
            return None;
        }
        let s = j + 1;
        let mut k = s;
        while at(t, k).is_ascii_lowercase() {
            k += 1;
        }
        if k == s || !PLACE_PARTICLES.iter().any(|p| p.as_bytes() == &t[s..k]) || at(t, k) != b' ' {
            return None;
        }
        if at(t, k + 1).is_ascii_uppercase() {
            return Some(k + 1);
        }
        j = k;
    }
    None
}

/// The non-ASCII character that starts at `i`, and its length in bytes.
/// Words before a nationality's adjective that make it a language.
const LANGUAGE_CUES: &[&str] = &[
    "study",
    "studied",
    "studying",
    "studies",
    "speak",
    "speaks",
    "spoke",
    "speaking",
    "learn",
    "learned",
    "learning",
    "learnt",
    "teach",
    "teaches",
    "taught",
    "teaching",
    "in",
    "into",
    "translate",
    "translated",
    "fluent",
];

/// The longest entry at `i` (whose first word has `n` letters), pushed; its end (an entry
/// that names a language after [`LANGUAGE_CUES`] is not pushed).
fn entry_at(
    t: &[u8],
    i: usize,
    n: usize,
    index: &Index,
    out: &mut Vec<crate::Finding>,
) -> Option<usize> {
    let k = usize::try_from(index.lookup.get(&t[i..i + n]))
        .ok()?
        .checked_sub(1)?;
    let mut best: Option<(usize, Kind)> = None;
    for &(entry, kind, flags) in &index.entries[index.first[k].1.clone()] {
        let plural = kind != Kind::Location;
        if let Some(end) = matches_at(t, i, entry, flags, plural)
            && case_ok(t, i, end, flags)
            && best.is_none_or(|(be, _)| end > be)
        {
            best = Some((end, kind));
        }
    }
    let (end, kind) = best?;
    // `studying English`, `written in Greek`: a language, not a people.
    if kind == Kind::Nationality && is_one_of(word_before(t, i, false).0, LANGUAGE_CUES) {
        return Some(end);
    }
    let confidence = if context(t, i, CONTEXT) { 0.8 } else { 0.55 };
    let end = if kind == Kind::Location {
        with_alias(t, with_city(t, end))
    } else {
        end
    };
    push(out, kind, i, end, confidence, "gazetteer");
    Some(end)
}

/// A place's end, with ` City` when that follows it as a word (`Oklahoma City`, `Mexico
/// City`: the city of that name).
fn with_city(t: &[u8], end: usize) -> usize {
    if starts_with(t, end, b" City") && !at(t, end + 5).is_ascii_alphanumeric() {
        end + 5
    } else {
        end
    }
}

/// A place's end, with the other name in brackets that follows it as part of the name
/// (`Cyprus (Greek)`, `Latsia (Lakkia)`): one capitalised word, at most 16 bytes.
fn with_alias(t: &[u8], end: usize) -> usize {
    if !starts_with(t, end, b" (") || !at(t, end + 2).is_ascii_uppercase() {
        return end;
    }
    let mut e = end + 3;
    while e < t.len() && e < end + 18 && (t[e].is_ascii_alphabetic() || t[e] >= 0x80) {
        e += 1;
    }
    if at(t, e) == b')' && e > end + 3 {
        e + 1
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_first_word_can_be_looked_up() {
        let index = super::index();
        for (n, (w, _)) in index.first.iter().enumerate() {
            assert!(
                w.len() <= crate::lexicon::MAX,
                "{}",
                String::from_utf8_lossy(w)
            );
            let found = index.lookup.get(w);
            assert!(w.is_empty() || found == u32::try_from(n + 1).unwrap());
        }
    }
}
