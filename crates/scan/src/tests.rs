//! Tests through the public API: positives and negatives per detector, decoys, a mixed
//! document, and robustness (random input, large input).

use crate::{Finding, Kind, scan};

/// (kind, matched text) of every finding.
fn found(text: &str) -> Vec<(Kind, &str)> {
    scan(text)
        .iter()
        .map(|f| (f.kind, f.text(text).unwrap_or("<not a char boundary>")))
        .collect()
}

/// The findings of one kind.
fn of(kind: Kind, text: &str) -> Vec<&str> {
    found(text)
        .into_iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, s)| s)
        .collect()
}

/// Asserts that no finding of `kind` is made in any of `texts`.
fn none_of(kind: Kind, texts: &[&str]) {
    for text in texts {
        assert_eq!(of(kind, text), Vec::<&str>::new(), "{text}");
    }
}

fn one(text: &str) -> Finding {
    let f = scan(text);
    assert_eq!(f.len(), 1, "{text:?}: {f:?}");
    f.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[track_caller]
fn yes(kind: Kind, text: &str, want: &str) {
    assert_eq!(of(kind, text), vec![want], "{text:?}: {:?}", found(text));
}

#[track_caller]
fn no(text: &str) {
    assert_eq!(found(text), vec![], "{text:?}");
}

#[test]
fn kinds_have_names_and_taxonomy_keys_that_exist() {
    let tsv = include_str!("../../core/src/taxonomy/data_categories.tsv");
    let keys: Vec<&str> = tsv
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect();
    for k in Kind::ALL {
        assert!(keys.contains(&k.taxonomy()), "{k:?} -> {}", k.taxonomy());
        assert!(!k.as_str().is_empty());
    }
    assert_eq!(Kind::CreditCard.as_str(), "credit_card");
    assert_eq!(Kind::UkPostcode.as_str(), "uk_postcode");
}

#[test]
fn email() {
    yes(
        Kind::Email,
        "write to jane.doe+tag@example.co.uk.",
        "jane.doe+tag@example.co.uk",
    );
    yes(Kind::Email, "<a.b@x-y.org>", "a.b@x-y.org");
    yes(Kind::Email, "(.lead@example.com)", "lead@example.com");
    assert!(one("email: x@example.com").confidence > 0.95);
    no("a@b");
    no("user@localhost");
    no("x@example.c");
    no("x@example.123");
    no("a..b@example.com");
    no("a.@example.com");
    no("x@-example.com");
    no("@example.com");
}

#[test]
fn url() {
    yes(
        Kind::Url,
        "see https://example.com/a?b=c.",
        "https://example.com/a?b=c",
    );
    yes(Kind::Url, "(http://example.org/x)", "http://example.org/x");
    yes(
        Kind::Url,
        "HTTPS://Example.com/wiki/Foo_(bar)",
        "HTTPS://Example.com/wiki/Foo_(bar)",
    );
    no("https://");
    no("xhttp://example.com");
    no("ftp://example.com");
}

#[test]
fn phone() {
    yes(
        Kind::Phone,
        "call +44 20 7946 0958 today",
        "+44 20 7946 0958",
    );
    yes(Kind::Phone, "+1 (415) 555-2671", "+1 (415) 555-2671");
    yes(Kind::Phone, "+44 (0)20 7946 0958", "+44 (0)20 7946 0958");
    yes(Kind::Phone, "+49 30 901820", "+49 30 901820");
    yes(Kind::Phone, "(415) 555-2671", "(415) 555-2671");
    yes(Kind::Phone, "415-555-2671", "415-555-2671");
    yes(Kind::Phone, "415.555.2671", "415.555.2671");
    // With an extension.
    yes(Kind::Phone, "Desk: 415-555-2671x549\n", "415-555-2671x549");
    yes(
        Kind::Phone,
        "(415) 555-2671 ext. 12 or",
        "(415) 555-2671 ext. 12",
    );
    none_of(Kind::Phone, &["415-555-2671x549b", "415-555-2671x123456"]);
    yes(Kind::Phone, "020 7946 0958", "020 7946 0958");
    yes(Kind::Phone, "07911 123456", "07911 123456");
    // Numbering plans: a valid French number; a country code that does not exist.
    yes(Kind::Phone, "+33 1 42 68 53 00", "+33 1 42 68 53 00");
    assert!(one("+33 1 42 68 53 00").confidence >= 0.85);
    no("+999 1234 5678");
    assert!(one("phone: +999 1234 5678").confidence < one("+33 1 42 68 53 00").confidence);
    // Ofcom's drama range is in no plan: reported only with a phone word.
    no("07700 900123");
    yes(Kind::Phone, "mobile 07700 900123", "07700 900123");
    yes(Kind::Phone, "0161 496 0000", "0161 496 0000");
    yes(Kind::Phone, "mobile: 07700900123", "07700900123");
    yes(Kind::Phone, "tel 4155552671", "4155552671");
    assert!(one("phone: 415-555-2671").confidence > one("415-555-2671").confidence);
    // Invalid NANP area or exchange codes, implausible lengths.
    no("115-555-2671");
    no("415-155-2671");
    no("+1 115 555 2671");
    no("+12345");
    no("+1234567890123456789");
    // Unbroken numbers without context.
    no("4155552671");
    no("07700900123");
    // Mixed separators, glued numbers.
    no("415-555.2671");
    no("x415-555-2671");
    no("415-555-2671-22");
    // Other national numbers only after a phone word.
    yes(Kind::Phone, "Phone: 040 459 0685", "040 459 0685");
    yes(Kind::Phone, "call me at 26 590425 please", "26 590425");
    yes(Kind::Phone, "Fax: (37) 788-063", "(37) 788-063");
    yes(Kind::Phone, "Mobile: 08331 61 83 15", "08331 61 83 15");
    no("a total of 26 590425 units");
    no("build 20 33 70 48");
    // Five groups (France), more phone words, and a phone word right after the number.
    yes(
        Kind::Phone,
        "Can someone call me on 04.94.38.88.56?",
        "04.94.38.88.56",
    );
    yes(
        Kind::Phone,
        "They're not answering at 08652 41 94 73",
        "08652 41 94 73",
    );
    yes(
        Kind::Phone,
        "Belgium\n0494 41 18 24-Office",
        "0494 41 18 24",
    );
    yes(Kind::Phone, "26 841054 fax", "26 841054");
    no("build 20 33 70 48 worked");
    no("lots 04.94.38.88.56.77 officer");
    // Digit groups the date detector does not report are numbers like any other.
    yes(Kind::Phone, "Tel: 2012 11 22", "2012 11 22");
    // Dates in groups stay dates next to phone words.
    for text in [
        "Account registered on 2024-07-14",
        "{\"message\":\"renewal due 14.07.2024\"}",
        "14.07.2024 work",
    ] {
        assert_eq!(of(Kind::Phone, text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn licences_and_passports_need_their_words() {
    yes(
        Kind::DriversLicense,
        "My driver's license number is yo0047868",
        "yo0047868",
    );
    yes(
        Kind::DriversLicense,
        "driving licence: A25064207.",
        "A25064207",
    );
    yes(Kind::Passport, "passport no. 548581932", "548581932");
    no("order yo0047868 shipped");
    no("driver's license number is pending");
    no("passport photo ABC123DEF456");
}

#[test]
fn cards_and_ssns_with_context_only() {
    // A Luhn-valid 12-digit Maestro number and an unlisted range, only after "card".
    yes(
        Kind::CreditCard,
        "What is the limit for card 502011178303?",
        "502011178303",
    );
    no("reference 502011178303");
    // Nine digits with "social security" after them.
    yes(
        Kind::UsSsn,
        "The applicant typed 225106261 in the social security field",
        "225106261",
    );
    no("The applicant typed 225106261 in the field");
}

#[test]
fn age() {
    yes(Kind::Age, "He just turned 53 years old", "53");
    yes(Kind::Age, "a 34-year-old male", "34");
    yes(Kind::Age, "i'm 27 y/o.", "27");
    yes(Kind::Age, "retired at the age of 67", "67");
    yes(Kind::Age, "Aged: 8, from Leeds", "8");
    yes(Kind::Age, "I'll turn 40.", "40");
    yes(Kind::Age, "she is 34 yo", "34");
    yes(Kind::Age, "Written when he was 78.", "78");
    yes(Kind::Age, "when I was 12, we moved", "12");
    no("when he was 5 minutes late");
    no("he was 34.");
    no("a 300 year old oak");
    no("shipped 34 years ago");
    no("version 1.53 years old");
    no("page 53");
}

#[test]
fn person() {
    yes(Kind::Person, "Please ask Dr. Grace Hopper", "Grace Hopper");
    yes(Kind::Person, "join accounts with ms. Chloe", "Chloe");
    yes(
        Kind::Person,
        "My name is Mamoru Y. Ooshima.",
        "Mamoru Y. Ooshima",
    );
    yes(Kind::Person, "Dear José Álvarez,", "José Álvarez");
    yes(Kind::Person, "everyone calls me Fran", "Fran");
    yes(Kind::Person, "Name: Eira Ulvik", "Eira Ulvik");
    yes(Kind::Person, "ask Mr A. Smith", "A. Smith");
    no("My name is not important");
    no("Dear Sir, thank you");
    // Without a cue: a known given name and a surname.
    yes(Kind::Person, "I met Grace Hopper yesterday", "Grace Hopper");
    yes(
        Kind::Person,
        "sent to Felix Biermann, Berlin",
        "Felix Biermann",
    );
    let person_conf = |text: &str| {
        let f = scan(text);
        f.iter()
            .find(|f| f.kind == Kind::Person)
            .map(|f| f.confidence)
            .unwrap_or_default()
    };
    assert!(person_conf("I met Grace Hopper") < person_conf("Dr. Grace Hopper"));
    no("The Hopper building");
    no("turn left on Jasper Avenue");
    no("admitted to Grace Hospital");
    no("Will You call back");
    no("Mr. NASA");
    // A surname that ends like one (`-sson`, `-ová`, `-ski`…) after a capitalised word.
    yes(
        Kind::Person,
        "Please update the payroll record for Valter Jonsson today",
        "Valter Jonsson",
    );
    yes(
        Kind::Person,
        "the holder is Radosława Pawlaková.",
        "Radosława Pawlaková",
    );
    no("The Hudson River");
    // A known given name alone, at the lowest reported confidence.
    yes(Kind::Person, "She named him Joseph", "Joseph");
    // Particles before a surname, and no street or unit word after a name.
    yes(
        Kind::Person,
        "My name is Eliane van der Vlist but",
        "Eliane van der Vlist",
    );
    yes(
        Kind::Person,
        "ask Christiane S. de Vaan today",
        "Christiane S. de Vaan",
    );
    yes(
        Kind::Person,
        "Dr. Debbie Padovesi Suite 916",
        "Debbie Padovesi",
    );
    yes(
        Kind::Person,
        "tribute here. Producer Alexander Mironova explained",
        "Alexander Mironova",
    );
    no("The Princess Royal arrived");
    no("the van der Waals force");
    // Given names of other countries too (`first_names_intl.txt`).
    yes(Kind::Person, "Why is Malthe so impulsive?", "Malthe");
    yes(Kind::Person, "I met Jukka Virtanen there", "Jukka Virtanen");
    assert!((person_conf("Martin") - 0.5).abs() < 1e-6);
    // ... but not as part of a longer capitalised phrase, a date or a day.
    no("[17/Jan/2019:04:56:55 +0000] worker started");
    assert_eq!(of(Kind::Person, "see you on Sunday"), Vec::<&str>::new());
    no("MARTIN");
}

#[test]
fn names_after_a_role_and_before_their_possessions() {
    yes(
        Kind::Person,
        "Employee Babette Z. L'Heureux, SSN 541 79 7654",
        "Babette Z. L'Heureux",
    );
    yes(Kind::Person, "Patient Jane was admitted", "Jane");
    yes(Kind::Person, "Dear Mr. O'Neil,", "O'Neil");
    yes(
        Kind::Person,
        "As promised, here's Marina's address: 5 Elm Street",
        "Marina",
    );
    yes(
        Kind::Person,
        "Please send Arihiro's phone number",
        "Arihiro",
    );
    none_of(
        Kind::Person,
        &[
            "Please call Customer Service today",
            "the Employee Handbook",
            "send it to the Company's address",
            "It's address book time",
            "Marina's cafe is open",
            "Now I'm here",
        ],
    );
}

#[test]
fn names_after_speech_answers_family_words_and_in_lists_of_people() {
    for (text, name) in [
        ("\"We are moving that way,\" says Loginov.", "Loginov"),
        (
            "\"Fine,\" said Cooper Kevin in an interview",
            "Cooper Kevin",
        ),
        ("I'm so jealous! said Naile to me", "Naile"),
        ("What's your last name? Ogawa", "Ogawa"),
        ("I would like to remove my kid Eetu from the will", "Eetu"),
        ("She named him José", "José"),
        ("I'm Kenneth's daughter", "Kenneth"),
        ("a done thing between him and Kristýna's kid", "Kristýna"),
    ] {
        yes(Kind::Person, text, name);
    }
    assert_eq!(
        of(
            Kind::Person,
            "the brainchild of our 3 founders: Guibord, Cannon and Moore. The idea"
        ),
        ["Guibord", "Cannon", "Moore"]
    );
    none_of(
        Kind::Person,
        &[
            // Speech without a quotation before it; a question not about a name.
            "the report says Tuesday was hot",
            "He said Paris",
            "Where do you live? London",
            // One word is no list; a list of known words is none of people.
            "founders: Guibord",
            "founders: Monday, Tuesday and Friday",
            "our founders: Apple, Street and Road",
            // Family words without `my`.
            "the son Eetu",
        ],
    );
}

#[test]
fn names_by_their_shape_alone() {
    // Two or three capitalised words that are no known word of anything else, at the lowest
    // reported confidence.
    yes(
        Kind::Person,
        "have you heard Thaís Correia speak yet?",
        "Thaís Correia",
    );
    yes(
        Kind::Person,
        "tennis player Yue Nishida over visa",
        "Yue Nishida",
    );
    yes(
        Kind::Person,
        "add Gydo N Sturkenboom now",
        "Gydo N Sturkenboom",
    );
    let f = scan("says Fiammetta Zetticci in");
    assert_eq!(f.len(), 1);
    assert!((f[0].confidence - 0.5).abs() < 1e-6);
    // A known given name later on starts the name.
    yes(Kind::Person, "Employee Grace Boyle, SSN", "Grace Boyle");
    // Not titles, places, streets, organisations, products, phrases or things in quotes.
    for text in [
        "a fine Entertainment Weekly list",
        "the \"Guilty Pleasures\" song",
        "at the Lillestøl Stream and",
        "meet at 776 Augsburger Strasse 36 today",
        "the Civil Rights Act passed",
        "the European Union said",
        "Microsoft Windows crashed",
        "it runs Semmens Greens",
        "Grüße — bis bald",
        "see Krummnussbaum Dub 37",
        "near Yonis Village, by the market",
        "at PSC Ltd",
    ] {
        let f = found(text);
        assert!(f.iter().all(|(k, _)| *k != Kind::Person), "{text:?}: {f:?}");
    }
}

#[test]
fn job_titles_where_the_words_say_so() {
    let job = Kind::JobTitle;
    yes(
        job,
        "I used to work for ITC Ltd as Applications engineer, but quit",
        "Applications engineer",
    );
    yes(job, "she worked as a nurse for ten years", "nurse");
    yes(
        job,
        "Edmonda Mazzanti, the Academic dean, said: \"fine\"",
        "Academic dean",
    );
    yes(
        job,
        "Djevad Šušulić, the Information technology trainer, said",
        "Information technology trainer",
    );
    yes(job, "Job title: Data analyst\nPhone: 1", "Data analyst");
    assert!(one("Position: Surgeon").confidence > one("hired as surgeon.").confidence);
    none_of(
        job,
        &[
            "as engineer salaries rose",
            "the manager said so",
            "an engineer, a nurse",
            "Title: Dark Side of the Moon",
            "worker",
            "such as",
            "accepted as legal tender.",
            "run as a helper.",
        ],
    );
    // On a line of its own, capitalised: a signature or a business card, with real or
    // escaped line breaks.
    for (text, title) in [
        (
            "Yuuna Shigeki\nEmployee placement specialist\nNordstrom Inc.",
            "Employee placement specialist",
        ),
        (
            r"Marika Philippen\n\nTire repairer\n\nPersonal Info:",
            "Tire repairer",
        ),
        ("Regards,\n  Lily Bennett\n  Data analyst\n", "Data analyst"),
    ] {
        yes(job, text, title);
    }
    none_of(
        job,
        &[
            "Yuuna Shigeki\nthe placement specialist\nNordstrom",
            "Yuuna\nThe specialist is here\nNordstrom",
            "The engineer\nwas late",
        ],
    );
}

#[test]
fn names_keep_a_middle_initial_and_end_at_a_possessive() {
    yes(
        Kind::Person,
        "Starter checklist: name Leonor A Rodrigues, phone on file",
        "Leonor A Rodrigues",
    );
    yes(
        Kind::Person,
        "the verses from Victor Thygesen's Cautionary Tales",
        "Victor Thygesen",
    );
    assert!(
        !scan("This song by ex-Zombie Lauridsen is great")
            .iter()
            .any(|f| f.kind == Kind::Person && f.start < 16),
        "{:?}",
        scan("This song by ex-Zombie Lauridsen is great")
    );
}

#[test]
fn names_may_start_with_a_capital_of_any_script() {
    yes(
        Kind::Person,
        "For my take on Mrs. Þórólfsdóttir, see below",
        "Þórólfsdóttir",
    );
    yes(Kind::Person, "She named him Þorkell", "Þorkell");
    yes(
        Kind::Person,
        "It's under my partner's name Ágatha Ferreira",
        "Ágatha Ferreira",
    );
    yes(Kind::Person, "Dear Émile, thanks", "Émile");
    for text in [
        "Österreich ist schön",
        "Ö is a letter",
        "ÄÖÜ",
        "Москва",
        "東京都",
    ] {
        assert!(
            !scan(text).iter().any(|f| f.kind == Kind::Person),
            "{text}: {:?}",
            scan(text)
        );
    }
}

#[test]
fn names_as_the_subject_of_what_only_people_do() {
    yes(
        Kind::Person,
        "Pauliina shouted at the driver: stop!",
        "Pauliina",
    );
    yes(
        Kind::Person,
        "Szôllôs began writing as a teenager.",
        "Szôllôs",
    );
    yes(Kind::Person, "Moran was born in a small town", "Moran");
    yes(
        Kind::Person,
        "Khasucha Kishiev lives in a flat by the sea",
        "Khasucha Kishiev",
    );
    yes(Kind::Person, "Árvök shouted at the driver", "Árvök");
    for text in [
        "Everyone laughed at the joke",
        "Protesters shouted outside",
        "The Senate shouted it down",
        "Mr. shouted",
        "the driver shouted",
        "A. shouted",
        "Monday was born of necessity",
        "Pauliina is at work",
    ] {
        assert!(
            !scan(text).iter().any(|f| f.kind == Kind::Person),
            "{text}: {:?}",
            scan(text)
        );
    }
}

#[test]
fn places_by_the_preposition_before_them() {
    yes(Kind::Location, "My friend lives in Groningen", "Groningen");
    yes(Kind::Location, "We moved here from Mabopane.", "Mabopane");
    yes(
        Kind::Location,
        "I grew up in Amoreira Gândara, near the sea",
        "Amoreira Gândara",
    );
    yes(Kind::Location, "back in STEINPARZ", "STEINPARZ");
    yes(Kind::Location, "In Groningen, it rains", "Groningen");
    yes(
        Kind::Location,
        "I am in Vila do Conde for a trip",
        "Vila do Conde",
    );
    yes(
        Kind::Location,
        "based in Cerro de las Cuentas.",
        "Cerro de las Cuentas",
    );
    yes(
        Kind::Location,
        "I live in Groningen\u{2026} honestly",
        "Groningen",
    );
    yes(
        Kind::Location,
        "She moved here from Saint-Étienne last year",
        "Saint-Étienne",
    );
    // `to` and `at` after a verb of going, `of` after a word for a town, `city` itself.
    yes(
        Kind::Location,
        "Ms. Philippen flew to Fortaleza on Sunday",
        "Fortaleza",
    );
    yes(
        Kind::Location,
        "The Princess arrived at Ehingen this morning",
        "Ehingen",
    );
    yes(
        Kind::Location,
        "She grew up in the city of Eindhoven.",
        "Eindhoven",
    );
    yes(Kind::Location, "her home city Lostorf: a river", "Lostorf");
    // Capitals of any script.
    yes(Kind::Location, "we returned to Åsarp by car", "Åsarp");
    yes(Kind::Location, "She grew up in Łódź.", "Łódź");
    yes(Kind::Location, "he grew up in ΜΟΝΑΓΡΟΥΛΙ.", "ΜΟΝΑΓΡΟΥΛΙ");
    yes(Kind::Location, "They moved here from Örebro", "Örebro");
    let f = scan("lives in Groningen");
    assert!((f[0].confidence - 0.5).abs() < 1e-6);
    for text in [
        "send it to Groningen",
        "look at Groningen",
        "the history of Groningen",
        "in May we met",
        "printed in PSC format",
        "from Jane's desk",
        "in Microsoft Teams",
        "written in English",
        "in Room Nine Tower",
        "from A to B",
        "within Groningen",
        "in.Groningen",
        "a built-in Webcam",
        "SELECT * FROM Users WHERE id = 1",
        "from Groningen\u{2019}s desk",
    ] {
        let f = found(text);
        assert!(
            f.iter().all(|(_, s)| *s != "Groningen" && !s.is_empty())
                && f.iter()
                    .all(|(k, s)| *k != Kind::Location || ["English"].contains(s)),
            "{text:?}: {f:?}"
        );
    }
}

#[test]
fn titles_before_names() {
    assert_eq!(
        found("could you please correct it to Mrs. Alexandra Harington?"),
        vec![(Kind::Title, "Mrs."), (Kind::Person, "Alexandra Harington")]
    );
    assert_eq!(
        found("Dr Fox is a 40 year old man"),
        vec![
            (Kind::Title, "Dr"),
            (Kind::Person, "Fox"),
            (Kind::Age, "40")
        ]
    );
    // A title with no name after it is not reported.
    no("the dr. said so");
}

#[test]
fn places_peoples_beliefs_and_affiliations_by_name() {
    assert_eq!(
        found("I am Italian but I live in Uruguay."),
        vec![(Kind::Nationality, "Italian"), (Kind::Location, "Uruguay")]
    );
    // Any case, several words, plurals of peoples.
    assert_eq!(
        found("i am bosnian but i live in the czech republic"),
        vec![
            (Kind::Nationality, "bosnian"),
            (Kind::Location, "czech republic")
        ]
    );
    yes(
        Kind::Nationality,
        "We are proud Cape Verdeans",
        "Cape Verdeans",
    );
    yes(Kind::Location, "Shipped from NEW ZEALAND", "NEW ZEALAND");
    assert_eq!(
        of(Kind::Location, "a branch in the USA and one in Toronto"),
        vec!["USA", "Toronto"]
    );
    // A language is not a people.
    none_of(
        Kind::Nationality,
        &[
            "while studying English and journalism",
            "She speaks Italian at home",
            "a letter written in Greek",
        ],
    );
    yes(Kind::Religion, "she is a practising Muslim", "Muslim");
    yes(Kind::PoliticalGroup, "a lifelong Democrat", "Democrat");
    // Context about the person raises the confidence.
    let conf = |text: &str| scan(text).first().map(|f| f.confidence).unwrap_or_default();
    assert!(conf("his nationality: Swedish") > conf("a Swedish car"));
    // Words that are also common words or names count only capitalised, alone.
    yes(Kind::Location, "She moved to Turkey last year", "Turkey");
    no("a turkey sandwich");
    no("polish the shoes");
    assert_eq!(
        found("Jordan Peterson spoke"),
        vec![(Kind::Person, "Jordan Peterson")]
    );
    assert_eq!(
        of(Kind::Religion, "Christian Bale starred"),
        Vec::<&str>::new()
    );
    // Not inside a domain, an address, a path or another word.
    for text in [
        "see spain.com",
        "mail info@france.fr",
        "open /italy/rome",
        "the Indiana_Jones file",
        "Frenchman",
        "us and them",
    ] {
        let f = found(text);
        assert!(
            f.iter().all(|(k, _)| !matches!(
                k,
                Kind::Location | Kind::Nationality | Kind::Religion | Kind::PoliticalGroup
            )),
            "{text:?}: {f:?}"
        );
    }
}

#[test]
fn organisations_by_their_legal_form_or_sector_word() {
    let org = Kind::Organization;
    yes(org, "The address of Neonode Inc. is below", "Neonode Inc.");
    yes(
        org,
        "During 1994, Catalyst Partners Acquisition Corp. invested",
        "Catalyst Partners Acquisition Corp.",
    );
    yes(
        org,
        "Looking to support MOLD-TEK Technologies Limited in its work",
        "MOLD-TEK Technologies Limited",
    );
    yes(
        org,
        "according to the Sumitomo Rubber IndustriesLtd. website",
        "Sumitomo Rubber IndustriesLtd.",
    );
    // A university named for its town: the town, as a place.
    assert_eq!(
        found("He studied at the University of Oslo."),
        vec![(Kind::Location, "Oslo")]
    );
    yes(org, "Her account at the Bank of Ireland", "Bank of Ireland");
    yes(
        org,
        "Electrocomponents plc is based here",
        "Electrocomponents plc",
    );
    yes(
        org,
        "Versum Materials Inc.'s new plant",
        "Versum Materials Inc.",
    );
    yes(
        org,
        "joined Kinsale Capital Holdings last May",
        "Kinsale Capital Holdings",
    );
    // Sector words that are rarely common words need one name word, the others two.
    yes(org, "I work for Arrive Labs now", "Arrive Labs");
    yes(
        org,
        "shares of The Lubrizol Corporation rose",
        "The Lubrizol Corporation",
    );
    yes(
        org,
        "Autogrid Systems is the brainchild",
        "Autogrid Systems",
    );
    yes(
        org,
        "Food preparation worker at Enduro Royalty Trust",
        "Enduro Royalty Trust",
    );
    yes(
        org,
        "Kevin G Vajda\nCARTA HOLDINGSINC.\n1120",
        "CARTA HOLDINGSINC.",
    );
    // A person of an organisation is two findings.
    assert_eq!(
        found("Jane Roe of Acme Holdings Inc. is the CEO"),
        vec![(Kind::Person, "Jane Roe"), (org, "Acme Holdings Inc.")]
    );
    // A line break (also an escaped one, in JSON or a log line) ends the name.
    assert_eq!(
        of(
            org,
            r"Royale Moïse
MGP Ingredients Inc."
        ),
        vec!["MGP Ingredients Inc."]
    );
    // Short legal forms only in capitals or with dots; sector words need a name before.
    none_of(
        org,
        &[
            "as far as I know",
            "the co-op is open",
            "Holdings are up",
            "the Bank is closed",
            "Inc. alone",
            "sa and co",
            "the Trust said",
            "a Family Trust",
            "our systems are down",
            "ZINC. sulfate",
            "The Systems team is down",
            "All Solutions we offer",
        ],
    );
}

#[test]
fn credit_card() {
    for (n, conf) in [
        ("4111 1111 1111 1111", 0.85),
        ("4111-1111-1111-1111", 0.85),
        ("4111111111111111", 0.85),
        ("5555 5555 5555 4444", 0.85),
        ("2223 0031 2200 3222", 0.85),
        ("3782 822463 10005", 0.85),
        ("6011 1111 1111 1117", 0.85),
        ("3530 1113 3330 0000", 0.85),
        ("3056 9309 0259 04", 0.85),
    ] {
        let f = one(n);
        assert_eq!(
            (f.kind, f.text(n), f.confidence),
            (Kind::CreditCard, Some(n), conf)
        );
    }
    assert_eq!(one("Visa card: 4111 1111 1111 1111").confidence, 1.0);
    // Luhn-invalid, unknown issuer, mixed separators, too long, glued.
    no("4111 1111 1111 1112");
    no("1234567812345678");
    no("9111111111111111111"); // Luhn-valid? irrelevant: no issuer starts with 9
    no("4111 1111-1111 1111");
    no("4111 1111 1111 1111 1111 1111");
    no("x4111111111111111");
    no("4111111111111111.5");
}

#[test]
fn iban() {
    yes(
        Kind::Iban,
        "IBAN: GB82 WEST 1234 5698 7654 32 (EUR)",
        "GB82 WEST 1234 5698 7654 32",
    );
    yes(
        Kind::Iban,
        "DE89 3704 0044 0532 0130 00",
        "DE89 3704 0044 0532 0130 00",
    );
    yes(
        Kind::Iban,
        "DE89370400440532013000.",
        "DE89370400440532013000",
    );
    yes(
        Kind::Iban,
        "GB82 WEST 1234 5698 7654 32 EUR",
        "GB82 WEST 1234 5698 7654 32",
    );
    assert_eq!(one("iban DE89370400440532013000").confidence, 1.0);
    // Bad check digits, wrong length, lower case, unknown country.
    no("GB83 WEST 1234 5698 7654 32");
    no("DE89 3704 0044 0532 0130 0");
    no("de89370400440532013000");
    no("XX89370400440532013000");
}

#[test]
fn us_ssn() {
    // 078-05-1120 (the "Woolworth" wallet-insert number) is valid in shape and range and is
    // reported: a scanner cannot know the SSA voided it.
    yes(Kind::UsSsn, "SSN 078-05-1120", "078-05-1120");
    assert_eq!(one("SSN 078-05-1120").confidence, 1.0);
    assert_eq!(one("id 078-05-1120").confidence, 0.85);
    assert_eq!(one("078 05 1120").confidence, 0.5);
    yes(Kind::UsSsn, "social security number 078051120", "078051120");
    // Never-issued ranges.
    no("000-12-3456");
    no("666-12-3456");
    no("900-12-3456");
    no("123-00-4567");
    no("123-45-0000");
    // Nine digits without context, mixed separators, glued.
    no("078051120");
    no("order 123456789 shipped");
    no("078-05 1120");
    no("078-05-1120-1");
}

#[test]
fn uk_nino() {
    yes(Kind::UkNino, "NI number: AB 12 34 56 C", "AB 12 34 56 C");
    yes(Kind::UkNino, "AB123456C", "AB123456C");
    yes(Kind::UkNino, "JG 103759 A", "JG 103759 A");
    assert_eq!(one("national insurance AB123456C").confidence, 1.0);
    // HMRC's specimen prefix QQ is never issued (Q is not a valid first letter), so the
    // documentation example is not reported.
    no("QQ 12 34 56 C");
    no("GB123456A");
    no("DA123456A");
    no("AO123456A");
    no("AB123456E");
    no("ab123456c");
    no("AB123456CX");
}

#[test]
fn ipv4() {
    yes(Kind::Ipv4, "from 192.168.1.10.", "192.168.1.10");
    yes(Kind::Ipv4, "ip=8.8.8.8", "8.8.8.8");
    yes(Kind::Ipv4, "0.0.0.0", "0.0.0.0");
    no("256.1.1.1");
    no("1.2.3");
    no("01.2.3.4");
    no("1.2.3.4.5");
    no("v1.2.3.4");
}

#[test]
fn ipv6() {
    yes(
        Kind::Ipv6,
        "addr 2001:db8::ff00:42:8329.",
        "2001:db8::ff00:42:8329",
    );
    yes(
        Kind::Ipv6,
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
    );
    yes(Kind::Ipv6, "fe80::1", "fe80::1");
    yes(Kind::Ipv6, "::ffff:192.0.2.1", "::ffff:192.0.2.1");
    no("10:30:00");
    no("std::io::Error");
    no("2001:db8:::1");
    no("1:2:3:4:5:6:7:8:9");
}

#[test]
fn mac() {
    yes(Kind::Mac, "mac 00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E");
    yes(Kind::Mac, "00-1a-2b-3c-4d-5e", "00-1a-2b-3c-4d-5e");
    no("00:1A:2B:3C:4D");
    no("00:1A:2B-3C:4D:5E");
    no("00:1A:2B:3C:4D:5E:6F");
    no("0G:1A:2B:3C:4D:5E");
}

#[test]
fn date() {
    yes(Kind::Date, "on 2024-07-14.", "2024-07-14");
    yes(Kind::Date, "14/07/2024", "14/07/2024");
    yes(Kind::Date, "07/14/2024", "07/14/2024");
    yes(Kind::Date, "14.07.2024", "14.07.2024");
    yes(Kind::Date, "July 14, 2024", "July 14, 2024");
    yes(Kind::Date, "Jul 14th 2024", "Jul 14th 2024");
    yes(Kind::Date, "14 July 2024", "14 July 2024");
    yes(Kind::Date, "29/02/2024", "29/02/2024");
    assert_eq!(one("date of birth: 1985-03-14").confidence, 0.95);
    assert_eq!(one("DOB 14/03/1985").confidence, 0.95);
    assert_eq!(one("born March 14, 1985").confidence, 0.95);
    assert_eq!(one("due 2024-07-14").confidence, 0.5);
    no("2024-02-30");
    no("2023-02-29");
    no("31/31/2024");
    no("2024-13-01");
    no("July 32, 2024");
    no("june 14, 2024");
    no("1.2.2024.5");
}

#[test]
fn bare_years_where_the_words_before_say_so() {
    yes(Kind::Date, "The band was founded in 1975.", "1975");
    yes(Kind::Date, "During 2000, the firm grew", "2000");
    yes(Kind::Date, "the Civil Rights Act of 1964 protects", "1964");
    yes(Kind::Date, "the summer of 1969 was hot", "1969");
    yes(Kind::Date, "Zoolander is a 2001 American comedy", "2001");
    yes(Kind::Date, "in 2019 while studying", "2019");
    assert_eq!(one("She was born in 1985").confidence, 0.95);
    assert_eq!(one("since 1990").confidence, 0.5);
    none_of(
        Kind::Date,
        &[
            "in 1850",
            "in 2150",
            "in 19750",
            "in 1975.5 seconds",
            "in 1975a",
            "ORD-1975",
            "page 1975",
            "out of 2000 people",
            "a 2000 mile trip",
            "within 1999",
        ],
    );
}

#[test]
fn postcodes() {
    yes(Kind::UsZip, "San Francisco, CA 94105", "94105");
    yes(Kind::UsZip, "Springfield, IL 62704-1234", "62704-1234");
    yes(Kind::UsZip, "zip code: 10001", "10001");
    no("CA 94105");
    no("94105");
    // Four digits are no US ZIP; after its word, another country's postal code.
    assert_eq!(found("zip 9410"), vec![(Kind::PostalCode, "9410")]);
    yes(Kind::UkPostcode, "London SW1A 1AA", "SW1A 1AA");
    yes(Kind::UkPostcode, "M1 1AE", "M1 1AE");
    yes(Kind::UkPostcode, "B33 8TH", "B33 8TH");
    yes(Kind::UkPostcode, "CR2 6XH", "CR2 6XH");
    yes(Kind::UkPostcode, "DN55 1PT", "DN55 1PT");
    yes(Kind::UkPostcode, "W1A 0AX", "W1A 0AX");
    yes(Kind::UkPostcode, "EC1A 1BB", "EC1A 1BB");
    assert_eq!(one("postcode: M1 1AE").confidence, 0.95);
    no("QA1 1AA");
    no("AI1 1AA");
    no("SW1A 1AC");
    no("SW1A1AA");
    no("sw1a 1aa");
    no("W1I 0AX");
    // Other countries' postal codes, right after their word.
    let postal = Kind::PostalCode;
    yes(postal, "ZIP: 4032", "4032");
    yes(postal, "My zip code is 81-521", "81-521");
    yes(postal, "postal code 6250-120, Lisbon", "6250-120");
    yes(postal, "Postcode: 860 13", "860 13");
    yes(postal, "zip: 01310-100", "01310-100");
    yes(postal, "postal code: K1A 0B6", "K1A 0B6");
    none_of(
        postal,
        &[
            "zip file 1234",
            "I have 4032 apples",
            "zipcode: 12",
            "ZIP: 1234567",
            "unzip 4032",
            "ZIP: 4032.5",
        ],
    );
}

#[test]
fn secrets() {
    yes(Kind::Secret, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE");
    let gh = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
    yes(Kind::Secret, &format!("token {gh}"), gh);
    yes(
        Kind::Secret,
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    );
    yes(
        Kind::Secret,
        "xoxb-123456789012-abcdefABCDEF",
        "xoxb-123456789012-abcdefABCDEF",
    );
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----";
    yes(Kind::Secret, &format!("key:\n{pem}\nrest"), pem);
    let pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0Jx2QBCADcKz9mUq3V1W7r\n=Xq7T\n-----END PGP PRIVATE KEY BLOCK-----";
    yes(Kind::Secret, &format!("backup:\n{pgp}\n"), pgp);
    // A public key is no secret.
    no(
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF0Jx2QBCADcKz9\n-----END PGP PUBLIC KEY BLOCK-----",
    );
    yes(
        Kind::Secret,
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    yes(
        Kind::Secret,
        r#"{"api_key": "Zx9fQ2LmT7pWc4RbN8vYh3Kd"}"#,
        "Zx9fQ2LmT7pWc4RbN8vYh3Kd",
    );
    yes(
        Kind::Secret,
        "client_secret: Zx9fQ2LmT7pWc4RbN8vYh3Kd",
        "Zx9fQ2LmT7pWc4RbN8vYh3Kd",
    );
    // Too short, too low entropy, no assignment name, glued prefixes.
    no("AKIAIOSFODNN7EXAMPL");
    no("api_key=aaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    no("api_key=short123");
    no("description=Zx9fQ2LmT7pWc4RbN8vYh3Kd");
    no("xAKIAIOSFODNN7EXAMPLE");
    no("ghp_tooshort");
    // A SHA-256 without an assignment is not a secret.
    no("sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn decoys_are_not_flagged() {
    for d in [
        "123e4567-e89b-12d3-a456-426614174000",
        "version 1.2.3.4.5",
        "Microsoft Windows [Version 10.0.19045.3803] v10.0.19045",
        "2024-07-14T10:30:00Z",
        "2024-07-14T10:30:00+02:00",
        "2024-07-14 10:30:00.123",
        "ts=1720953000000",
        "order ORD-2024-000123",
        "tracking 1Z999AA10123456784",
        "4111 1111 1111 1112",
        "1234567812345678",
        "123456789",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "build 20240714.1234",
        "price 1,234,567.89",
    ] {
        no(d);
    }
}

#[test]
fn overlaps_keep_the_higher_confidence_then_the_longer() {
    // The IPv4 inside a URL: the URL (0.9) beats the IPv4 (0.8).
    assert_eq!(
        found("http://192.168.0.1/x"),
        vec![(Kind::Url, "http://192.168.0.1/x")]
    );
    // An email inside a URL: the email (0.95) beats the URL (0.9).
    assert_eq!(
        found("http://a.example/?to=jane@example.com"),
        vec![(Kind::Email, "jane@example.com")]
    );
    // A card number with context beats an overlapping IBAN-like run? Separate spans stay.
    let f = scan("x 4111 1111 1111 1111 y 078-05-1120");
    assert_eq!(f.len(), 2);
    assert!(f.windows(2).all(|w| w[0].end <= w[1].start));
}

#[test]
fn covering_keeps_what_a_losing_finding_holds_outside_the_winner() {
    let text = "reset at https://app.example/u/jane?to=jane@example.com&t=Zq9 now";
    // The plain scan keeps the email and drops the URL around it whole.
    assert_eq!(found(text), vec![(Kind::Email, "jane@example.com")]);
    let covered = |text| {
        crate::scan_covering(text, 0.5)
            .into_iter()
            .map(|x| (x.kind, &text[x.start..x.end], x.part))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        covered(text),
        vec![
            (Kind::Url, "https://app.example/u/jane?to=", true),
            (Kind::Email, "jane@example.com", false),
            (Kind::Url, "&t=Zq9", true),
        ]
    );
    // What the scan keeps stays whole, even below the losing finding's confidence: the
    // IPv4 (0.8) loses nothing to the URL (0.9), which lost to the email; a part without a
    // letter or digit (the `/` between them) is not kept.
    let text = "see http://203.0.113.7/jane.doe@example.org/ now";
    assert_eq!(
        found(text),
        vec![
            (Kind::Ipv4, "203.0.113.7"),
            (Kind::Email, "jane.doe@example.org")
        ]
    );
    assert_eq!(
        covered(text),
        vec![
            (Kind::Url, "http://", true),
            (Kind::Ipv4, "203.0.113.7", false),
            (Kind::Email, "jane.doe@example.org", false),
        ]
    );
    // Nothing below the threshold.
    assert!(crate::scan_covering(text, 0.99).is_empty());
    // Without overlaps it answers what the scan answers.
    let plain = "mail jane@example.com, call +44 20 7946 0958";
    assert_eq!(crate::scan_covering(plain, 0.0), scan(plain));
}

#[test]
fn covering_leaves_no_letter_or_digit_of_any_finding_in_clear() {
    let mut rng = Rng(0x5151_2026);
    let pieces = [
        "https://jane@example.com/x?y=1 ",
        "http://203.0.113.7:8080/a/jane.doe@example.org ",
        "Dr. Jane Doe ",
        "4111 1111 1111 1111 ",
        "call +44 20 7946 0958 ",
        "10 Downing St, London SW1A 2AA ",
        "api_key=Zx9fQ2LmT7pWc4RbN8vYh3Kd ",
        "on 14/03/1985 at 1 Main St ",
        "mailto:jane@example.com ",
    ];
    for _ in 0..300 {
        let mut text = String::new();
        for _ in 0..rng.below(8) + 1 {
            text.push_str(pieces[rng.below(pieces.len())]);
        }
        let mut raw = Vec::new();
        crate::detect::run_all(text.as_bytes(), &mut raw);
        let covered = crate::scan_covering(&text, 0.5);
        // Every finding the scan keeps is there, whole.
        for f in scan(&text).iter().filter(|f| f.confidence >= 0.5) {
            assert!(
                covered.contains(f),
                "{text:?}: {f:?} is missing from {covered:?}"
            );
        }
        assert!(
            covered.windows(2).all(|w| w[0].end <= w[1].start),
            "{covered:?}"
        );
        for x in &covered {
            assert!(text.is_char_boundary(x.start) && text.is_char_boundary(x.end));
        }
        for r in raw.iter().filter(|r| r.confidence >= 0.5) {
            for (i, c) in text[r.start..r.end].char_indices() {
                let at = r.start + i;
                assert!(
                    !c.is_alphanumeric() || covered.iter().any(|x| x.start <= at && at < x.end),
                    "{text:?}: byte {at} of {r:?} is left in clear by {covered:?}"
                );
            }
        }
    }
}

#[test]
fn mixed_document() {
    let doc = "Customer record\n\
        Name: Jane Doe, email: jane.doe@example.com, phone +44 20 7946 0958 or (415) 555-2671.\n\
        Card: 4111 1111 1111 1111, IBAN GB82 WEST 1234 5698 7654 32.\n\
        SSN 078-05-1120; NINO AB 12 34 56 C; born 14/03/1985.\n\
        Last login 2024-07-14T10:30:00Z from 203.0.113.7 and 2001:db8::1, device 00:1A:2B:3C:4D:5E.\n\
        Profile https://example.com/u/jane. Address: 1 Main St, Springfield, IL 62704, or 10 Downing St, London SW1A 2AA.\n\
        Order ORD-2024-000123, tracking 1Z999AA10123456784, app v10.0.19045, id 123e4567-e89b-12d3-a456-426614174000.\n\
        config: api_key=Zx9fQ2LmT7pWc4RbN8vYh3Kd aws AKIAIOSFODNN7EXAMPLE\n\
        Grüße — naïve café: ünïcödé 4111111111111111 ☃ jane@example.org€\n";
    assert_eq!(
        found(doc),
        vec![
            (Kind::Person, "Jane Doe"),
            (Kind::Email, "jane.doe@example.com"),
            (Kind::Phone, "+44 20 7946 0958"),
            (Kind::Phone, "(415) 555-2671"),
            (Kind::CreditCard, "4111 1111 1111 1111"),
            (Kind::Iban, "GB82 WEST 1234 5698 7654 32"),
            (Kind::UsSsn, "078-05-1120"),
            (Kind::UkNino, "AB 12 34 56 C"),
            (Kind::Date, "14/03/1985"),
            (Kind::Ipv4, "203.0.113.7"),
            (Kind::Ipv6, "2001:db8::1"),
            (Kind::Mac, "00:1A:2B:3C:4D:5E"),
            (Kind::Url, "https://example.com/u/jane"),
            (Kind::StreetAddress, "1 Main St, Springfield, IL 62704"),
            (Kind::StreetAddress, "10 Downing St"),
            (Kind::Location, "London"),
            (Kind::UkPostcode, "SW1A 2AA"),
            (Kind::Secret, "Zx9fQ2LmT7pWc4RbN8vYh3Kd"),
            (Kind::Secret, "AKIAIOSFODNN7EXAMPLE"),
            (Kind::CreditCard, "4111111111111111"),
            (Kind::Email, "jane@example.org"),
        ]
    );
    let f = scan(doc);
    assert!(
        f.windows(2).all(|w| w[0].end <= w[1].start),
        "sorted, no overlaps"
    );
    assert!(f.iter().all(|x| (0.0..=1.0).contains(&x.confidence)));
}

/// A tiny deterministic PRNG (xorshift64*), so the robustness tests need no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ALPHABET: &[u8] = b"0123456789 -./:@+()_=ABCDEFGHKLMNPQRSTWXYZabcdefxyz\n\"',#";

fn random_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| match rng.below(10) {
            0 => rng.next() as u8,                       // any byte: invalid UTF-8 too
            1 => [0xC3, 0xA9, 0xE2, 0x98][rng.below(4)], // bits of multi-byte sequences
            _ => ALPHABET[rng.below(ALPHABET.len())],
        })
        .collect()
}

#[track_caller]
fn check_well_formed(text: &str) {
    let f = scan(text);
    for x in &f {
        assert!(x.start < x.end && x.end <= text.len(), "{x:?}");
        assert!(
            text.is_char_boundary(x.start) && text.is_char_boundary(x.end),
            "{x:?}"
        );
        assert!((0.0..=1.0).contains(&x.confidence), "{x:?}");
    }
    assert!(
        f.windows(2).all(|w| w[0].end <= w[1].start),
        "sorted, no overlaps: {f:?}"
    );
}

#[test]
fn random_input_never_panics_and_spans_are_char_boundaries() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..5_000 {
        let len = rng.below(300);
        let bytes = random_bytes(&mut rng, len);
        let text = String::from_utf8_lossy(&bytes);
        check_well_formed(&text);
    }
}

#[test]
fn multibyte_text_around_matches() {
    for s in [
        "é4111 1111 1111 1111é",
        "☃jane@example.com☃",
        "ü+44 20 7946 0958ü",
        "日本192.168.0.1日本",
        "€DE89 3704 0044 0532 0130 00€",
        "—https://example.com/ü—",
        "ñapi_key=Zx9fQ2LmT7pWc4RbN8vYh3Kdñ",
    ] {
        check_well_formed(s);
        assert_eq!(scan(s).len(), 1, "{s:?}: {:?}", found(s));
    }
}

/// Scans `text` and returns the time taken.
fn timed(text: &str) -> std::time::Duration {
    let t0 = std::time::Instant::now();
    check_well_formed(text);
    let covered = crate::scan_covering(text, 0.0);
    assert!(covered.windows(2).all(|w| w[0].end <= w[1].start));
    t0.elapsed()
}

#[test]
fn one_mebibyte_of_mixed_text_scans_in_linear_time() {
    const MIB: usize = 1 << 20;
    let mut rng = Rng(42);
    let pieces = [
        "Contact jane.doe@example.com or +44 20 7946 0958. ",
        "Card 4111 1111 1111 1111 exp 12/27. ",
        "IBAN DE89 3704 0044 0532 0130 00, SSN 078-05-1120. ",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ",
        "v1.2.3.4.5 2024-07-14T10:30:00Z 123e4567-e89b-12d3-a456-426614174000 ",
        "Grüße aus Köln — ☃ naïve ",
        "api_key=Zx9fQ2LmT7pWc4RbN8vYh3Kd 10.0.0.1 fe80::1 ",
    ];
    let mut doc = String::with_capacity(MIB + 128);
    while doc.len() < MIB {
        doc.push_str(pieces[rng.below(pieces.len())]);
    }
    let f = scan(&doc);
    assert!(f.len() > 10_000);
    // Pathological inputs: long runs of the bytes detectors expand over. Each must take
    // about as long as ordinary text of the same size (a generous bound: linear, not
    // quadratic, even in a debug build).
    let base = timed(&doc);
    for unit in [
        "1",
        "1 ",
        "1-",
        "1.",
        "1:",
        "a@",
        "@a.",
        "a",
        "A",
        "AB12 ",
        "+1",
        "(1",
        "key=",
        "key:a",
        "-----BEGIN RSA PRIVATE KEY-----",
        "ghp_",
        "xoxb-",
        ":",
        "ff:",
        "0",
        "é",
        "Mr ",
        "Mr. A ",
        "name is A",
        "age 1 ",
        "1 years old ",
        "Ab-",
        "Ab'",
        "Aé",
        "in Ab ",
        "Ab Cd ",
        "Acme Labs ",
        "Sweden ",
        "Ab  Sweden  ",
        "Jane Doe of Acme ",
        "I work for Acme ",
        "1 Main St  Apt. 5  Ab  ",
        "Ab 5  Apt. 5  ",
        "Ab: hi\n",
        "Ab, can ",
        "Ab and Cd were ",
        "at 5 Ab 3, ",
        "Ab 5 St. ",
        "ab.cd@x.com Ab ",
        "On 2024-07-14 10:30:00 ",
        "on Sunday ",
        "Ab bridge ",
        "the corner of Ab and ",
        "corner of 1 and Ab ",
        "They had 6: Ab, ",
        "to Ab and Cd 5 ",
        "at Ab and 5 Cd Street ",
        "corner of Ab 5 St. and Cd ",
        "corner of ab 5 and ",
        "in Ab 12345 in ",
        "in Ab de ",
        "the Ab novel ",
        "Producer Ab ",
        "to Abton ",
        "to North Ab ",
        ", Ab's Cd Ef ",
        "a year at Ab ",
        "according to the Ab ",
        "is on Ab 5",
        "side of Ab Cd 5.",
        "Ab 5. Apt. 5 ",
        "Ab Cd, the ab, said ",
        "mr. ab ",
        "Ab Cd\nAb engineer\n",
    ] {
        let text = unit.repeat(MIB / unit.len());
        let took = timed(&text);
        eprintln!("{unit:?}: {took:?} (mixed text: {base:?})");
        assert!(
            took < base * 10 + std::time::Duration::from_secs(2),
            "{unit:?}: {took:?} vs {base:?}"
        );
    }
    // A start, then one byte repeated: a URL whose every trailing `)` is weighed.
    for (start, unit) in [("http://a", ")"), ("https://a(", ")")] {
        let text = format!("{start}{}", unit.repeat(MIB));
        let took = timed(&text);
        eprintln!("{start:?} then {unit:?}: {took:?} (mixed text: {base:?})");
        assert!(
            took < base * 10 + std::time::Duration::from_secs(2),
            "{start:?} then {unit:?}: {took:?} vs {base:?}"
        );
    }
}

/// A bare street (`Bb 12`) whose house number is the last word of the detector's 100-byte
/// window while the text goes on: once an index past the window's words (a panic).
#[test]
fn a_house_number_at_the_end_of_the_window_is_not_a_panic() {
    for tail in [" ", "\n", "  \n", ". "] {
        for pad in [95, 99, 100, 101, 120] {
            let text = format!("to Ann and Bb 12{}", tail.repeat(pad));
            check_well_formed(&text);
        }
    }
    assert_eq!(
        found(&format!(
            "Meet me at the corner of Ann and Bb 12\n{}Thanks",
            " ".repeat(120)
        ))
        .iter()
        .filter(|(k, _)| *k == Kind::StreetAddress)
        .count(),
        found("Meet me at the corner of Ann and Bb 12\nThanks")
            .iter()
            .filter(|(k, _)| *k == Kind::StreetAddress)
            .count(),
        "a line break after the number ends the clause, however far the next word is"
    );
}

#[test]
fn resolve_prefers_confidence_then_length_then_earlier() {
    let f = |kind, start, end, confidence| Finding {
        kind,
        start,
        end,
        confidence,
        detector: "test",
        part: false,
    };
    let got = crate::resolve(vec![
        f(Kind::Phone, 0, 10, 0.6),
        f(Kind::CreditCard, 2, 20, 0.6), // same confidence, longer: kept
        f(Kind::Date, 25, 30, 0.5),
        f(Kind::UsZip, 28, 32, 0.9), // higher confidence: kept
        f(Kind::Ipv4, 40, 45, 0.8),
        f(Kind::Ipv6, 43, 48, 0.8), // same confidence and length: the earlier is kept
        f(Kind::Email, 50, 55, 0.9),
    ]);
    let kinds: Vec<Kind> = got.iter().map(|x| x.kind).collect();
    assert_eq!(
        kinds,
        vec![Kind::CreditCard, Kind::UsZip, Kind::Ipv4, Kind::Email]
    );
}

#[test]
fn escaped_line_breaks_separate_words_like_real_ones() {
    // A JSON string or a log line with `\n` written out: the number after it is found, at the
    // offsets of the original text.
    let text = r#"{"note": "Call me on\n020 7946 0958\tor mail\njane.doe@example.com"}"#;
    assert_eq!(of(Kind::Phone, text), vec!["020 7946 0958"]);
    assert_eq!(of(Kind::Email, text), vec!["jane.doe@example.com"]);
    yes(Kind::Phone, r"Phone:\r\n020 7946 0958", "020 7946 0958");
    // An escaped backslash before an n is not a line break: the number stays glued to it.
    no(r"C:\\n02079460958");
    // A lone backslash at the end, or before another letter, changes nothing.
    no(r"path\x020\");
}

#[test]
fn national_ids_with_check_digits() {
    let id = Kind::NationalId;
    // Check letters: found alone, surer with their words.
    yes(id, "DNI 12345678Z", "12345678Z");
    yes(id, "su NIE es X1234567L.", "X1234567L");
    yes(id, "documento 12345678-Z", "12345678-Z");
    assert!(one("DNI 12345678Z").confidence > one("ref 12345678Z").confidence);
    yes(id, "codice fiscale RSSMRA85T10A562S", "RSSMRA85T10A562S");
    yes(id, "henkilötunnus 131052-308T", "131052-308T");
    yes(id, "hetu 010101A123N, kiitos", "010101A123N");
    yes(id, "HETU: 150305Y4563", "150305Y4563");
    no("010101A123M");
    no("010101G123N");
    // Wrong check letters, dates or shapes.
    no("ref 12345678A");
    no("X1234567A");
    no("RSSMRA85T10A562T");
    no("131052-308A");
    no("321352-308T");
    // Digits only: only after their words, and only when the check holds.
    yes(id, "BSN: 111222333", "111222333");
    assert!(of(id, "BSN: 111222334").is_empty());
    yes(id, "PESEL 44051401359", "44051401359");
    assert!(of(id, "PESEL 44051401358").is_empty());
    yes(id, "Aadhaar 4987 6543 2102", "4987 6543 2102");
    yes(id, "aadhaar no. 234123412346", "234123412346");
    assert!(of(id, "aadhaar 4987 6543 2103").is_empty());
    yes(id, "NHS number 943 476 5919", "943 476 5919");
    assert!(of(id, "NHS number 943 476 5918").is_empty());
    yes(id, "SIN: 046 454 286", "046 454 286");
    assert!(of(id, "SIN: 046 454 287").is_empty());
    // Without their words, digit-only schemes are not national ids.
    assert!(of(id, "order 111222333 shipped").is_empty());
    assert!(of(id, "ticket 4987 6543 2102").is_empty());
    // Glued to other text: not reported.
    no("SKU-12345678Z");
    no("x12345678Z");
}

#[test]
fn street_addresses_in_the_orders_they_are_written() {
    let street = Kind::StreetAddress;
    yes(
        street,
        "She lives at 254 Damvergi Street.",
        "254 Damvergi Street",
    );
    yes(
        street,
        "The bus station is on Via Pasquale Scura 127",
        "Via Pasquale Scura 127",
    );
    yes(street, "Meet me at Fitjabraut 87 today", "Fitjabraut 87");
    yes(
        street,
        "Write to Rue de Bouillon 316",
        "Rue de Bouillon 316",
    );
    yes(street, "mieszka: ul. Zakrzowska 92", "ul. Zakrzowska 92");
    yes(street, "flat: Apt. 559", "Apt. 559");
    // The street before a flat number, and what the address goes on with.
    yes(
        street,
        "Hlíðarvegur 25 Suite 189 Kirkjubæjarklaustur Iceland",
        "Hlíðarvegur 25 Suite 189 Kirkjubæjarklaustur Iceland",
    );
    yes(
        street,
        "Send it to 8713 324 Young Road, Peck, United States 07793 by Friday",
        "8713 324 Young Road, Peck, United States 07793",
    );
    // A telephone number or a label on the next line is not the address's.
    for (text, address) in [
        (
            "254 Damvergi Street\n Suite 769\n Nicosia\n Cyprus 35680\n723 813 266 office",
            "254 Damvergi Street\n Suite 769\n Nicosia\n Cyprus 35680",
        ),
        (
            "Pont Simon 172\n Apt. 910\n Anvaing\n Belgium 34866\n0494 41 18 24-Office",
            "Pont Simon 172\n Apt. 910\n Anvaing\n Belgium 34866",
        ),
        (
            "22 Petheö Canyon\n Suite 732\n Gdańsk\n Poland 65423\nMobile: 456 9424",
            "22 Petheö Canyon\n Suite 732\n Gdańsk\n Poland 65423",
        ),
        (
            "2711 Queens Sq Suite 430\nLandelies\n, WLX\n 97235\n34 46 44 office",
            "2711 Queens Sq Suite 430\nLandelies\n, WLX\n 97235",
        ),
    ] {
        yes(street, text, address);
    }
    for text in [
        "P.O. Box 63",
        "PO Box 286",
        "Post Office Box 7",
        "Postbox 78",
    ] {
        yes(street, &format!("mail to {text} please"), text);
    }
    none_of(
        street,
        &["PO Box", "P.O. Box 1234567", "XPO Box 12", "PO Box 12a"],
    );
    // The street word between the name and the number, in German or in lower case; a
    // one-word street name ending like one, in any case.
    for address in [
        "Grazer Strasse 10",
        "Langenhorner Chaussee 76",
        "Martin Linges veg 149",
        "Pernilles vei 115",
        "Dózsa György út 78",
        "Gosposka ulica 53",
        "Paul-Nevermann-Platz 47",
        "Clematisvænget 70",
        "Súluvegur 83",
    ] {
        yes(
            street,
            &format!("Our office: {address}, near the park"),
            address,
        );
    }
    none_of(
        street,
        &[
            "Grazer Strasse is long",
            "the vei 115",
            "Lord of the Ring 5 wait",
            "Ágnes utca 5",
        ],
    );
    // A street word in lower case after the number (French, Italian…); a missing region as
    // data tools write it.
    yes(
        street,
        "Send it to 39 rue du Président Roosevelt, please",
        "39 rue du Président Roosevelt",
    );
    yes(
        street,
        "2441 Parmova 91 Apt. 226\nAnkaran, nan 16025",
        "2441 Parmova 91 Apt. 226\nAnkaran, nan 16025",
    );
    none_of(
        street,
        &[
            "sent 3 via Email",
            "rated 5 rue the day",
            "came 2 place Ahead",
        ],
    );
    // A Swedish postcode is two groups of digits, too few for a telephone number.
    yes(
        street,
        "Violvägen 64\nBJURHOLM 910 11",
        "Violvägen 64\nBJURHOLM 910 11",
    );
}

#[test]
fn us_military_addresses_over_one_line_or_two() {
    let street = Kind::StreetAddress;
    for address in [
        "PSC 4432, Box 7018\nAPO AA 09356",
        "PSC 4432, Box 7018, APO AA 09356",
        "Unit 5711 Box 3055\nDPO AP 96338",
        "USNS Comfort\nFPO AE 09123",
        "USS Ronald Reagan FPO AP 96616",
        "USNV Lýðsson\r\nFPO AE 09501",
    ] {
        yes(street, &format!("Ship to {address} by May."), address);
    }
    // A line break written as an escape (a JSON string) separates the lines too.
    yes(
        street,
        r"to: PSC 2322, Box 6025\nAPO AA 88307",
        r"PSC 2322, Box 6025\nAPO AA 88307",
    );
    for text in [
        "PSC 4432 APO AA 09356",
        "Unit 57 Box 30 DPO AP 96338",
        "PSC 4432, Box 7018 APO AA 0935",
        "PSC 4432, Box 7018 APO AA 093561",
        "PSC 4432, Box 7018 APO ZZ 09356",
        "PSC 4432, Box 7018APO AA 09356",
        "USNS FPO AE 09123",
        "the USS Enterprise sailed",
        "XPSC 4432, Box 7018 APO AA 09356",
    ] {
        assert!(
            scan(text).iter().all(|f| f.detector != "military_address"),
            "{text}: {:?}",
            scan(text)
        );
    }
}

#[test]
fn a_capitalised_word_and_a_number_is_not_an_address() {
    none_of(
        Kind::StreetAddress,
        &[
            "Read Chapter 5 of the book",
            "Windows 10 is installed",
            "During 2009, sales rose",
            "We sold 12 Apple Watches",
            "the street was quiet and 5 Main people came",
        ],
    );
}

#[test]
fn a_name_found_with_context_marks_its_other_mentions() {
    assert_eq!(
        of(
            Kind::Person,
            "the film directed by Dr. Samuel Dias and starring Dias, with Dias's dog"
        ),
        ["Samuel Dias", "Dias", "Dias"]
    );
    // Not a word of something else found there, not a known word, not part of a longer
    // word, and not from a name found without context.
    for text in [
        "Patient Maria Street was seen; Street lights were on",
        "Dr. Smith arrived; Smithson left",
        "Dr. Jo Lee arrived; Jo left",
        "Xqara Vumbe came. Vumbe stayed",
    ] {
        assert_eq!(
            scan(text)
                .iter()
                .filter(|f| f.detector == "person_repeated")
                .count(),
            0,
            "{text}: {:?}",
            scan(text)
        );
    }
    // A mention inside another finding stays that finding's.
    let text = "Dr. Jane Cooper lives at 12 Cooper Street";
    assert!(
        scan(text).iter().all(|f| f.detector != "person_repeated"),
        "{:?}",
        scan(text)
    );
}

/// The street address, location and postcode findings of `text`, in order.
fn address_parts(text: &str) -> Vec<(Kind, &str)> {
    found(text)
        .into_iter()
        .filter(|(k, _)| matches!(k, Kind::StreetAddress | Kind::Location | Kind::PostalCode))
        .collect()
}

#[test]
fn an_address_written_as_fields_is_reported_field_by_field() {
    use Kind::{Location as L, PostalCode as P, StreetAddress as S};
    // Over escaped line breaks (a record's fields joined in a JSON string or a log line):
    // the building number before a street with its own number, the street, the suite, the
    // town, the country, the postcode.
    let escaped = r"Eliza Emmett\n\n3772 Tiigi 34\n Suite 209\n Pärnselja\n Estonia 42462";
    assert_eq!(
        address_parts(escaped),
        vec![
            (S, "3772"),
            (S, "Tiigi 34"),
            (S, "Suite 209"),
            (L, "Pärnselja"),
            (L, "Estonia"),
            (S, "42462")
        ]
    );
    // The same address over real line breaks is one written address.
    assert_eq!(
        address_parts("3772 Tiigi 34\n Suite 209\n Pärnselja\n Estonia 42462"),
        vec![(S, "3772 Tiigi 34\n Suite 209\n Pärnselja\n Estonia 42462")]
    );
    // A street that is not recognised by its words, on the line before its suite; a line
    // written before each field; a postcode alone and a region on lines of their own.
    assert_eq!(
        address_parts(r"64535 Svépomoc 219\n Apt. 181\n Bystré u Policky\n Czech Republic 70048"),
        vec![
            (S, "64535"),
            (S, "Svépomoc 219"),
            (S, "Apt. 181"),
            (L, "Bystré u Policky"),
            (L, "Czech Republic"),
            (S, "70048")
        ]
    );
    assert_eq!(
        address_parts(r"??? 9308 Plattenstrasse 57\n??? Suite 368\n??? Räterschen"),
        vec![
            (S, "9308"),
            (S, "Plattenstrasse 57"),
            (S, "Suite 368"),
            (L, "Räterschen")
        ]
    );
    assert_eq!(
        address_parts(
            r"Billing address:\n    847 291 Sandown Rd Suite 570\n   Kaapstad\n    WC\n    8008\n"
        ),
        vec![
            (S, "847"),
            (S, "291 Sandown Rd"),
            (S, "Suite 570"),
            (L, "Kaapstad"),
            (L, "WC"),
            (P, "8008")
        ]
    );
    // A telephone number or a label ends the fields.
    assert_eq!(
        address_parts(r"25663 Markt 85\n Apt. 615\n MÜHLBACH\n0699 888 72 47-Office"),
        vec![
            (S, "25663"),
            (S, "Markt 85"),
            (S, "Apt. 615"),
            (L, "MÜHLBACH")
        ]
    );
}

#[test]
fn a_town_after_the_only_comma_is_a_location() {
    use Kind::{Location as L, StreetAddress as S};
    assert_eq!(
        address_parts("Santo lives at 844 99 Eastbourne Rd, COLD BLOW"),
        vec![(S, "844"), (S, "99 Eastbourne Rd"), (L, "COLD BLOW")]
    );
    assert_eq!(
        address_parts("his address: 7908 Rue de Bouillon 316, Grandmetz"),
        vec![(S, "7908"), (S, "Rue de Bouillon 316"), (L, "Grandmetz")]
    );
    // A whole address goes on after the town: one finding.
    assert_eq!(
        address_parts("Send it to 8713 324 Young Road, Peck, United States 07793 by Friday"),
        vec![(S, "8713 324 Young Road, Peck, United States 07793")]
    );
}

#[test]
fn a_building_number_and_a_numbered_street_after_at_or_on() {
    use Kind::StreetAddress as S;
    assert_eq!(
        address_parts("The restaurant is at 5625 Dunajska 97"),
        vec![(S, "5625"), (S, "Dunajska 97")]
    );
    assert_eq!(
        address_parts("John had given Maja his address: 449 Πεντέλης 210."),
        vec![(S, "449"), (S, "Πεντέλης 210")]
    );
    // Dates, and numbers that do not end the clause, are not addresses.
    for text in [
        "We met on 12 March 2020",
        "due on 3 Sept 2021, then",
        "arrived at 10 Mar 5",
        "sent to 3 Boxes 12 of them",
    ] {
        assert_eq!(of(S, text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn a_written_address_keeps_its_town_words_and_its_postcode() {
    use Kind::{Location as L, StreetAddress as S};
    let street = S;
    // A street found by its suite, whatever its first letter and with particles; a town
    // with a short lower-case word.
    yes(
        street,
        "Ship to 0462 Ålfjordgata 150 Apt. 656 HAUGESUND please",
        "0462 Ålfjordgata 150 Apt. 656 HAUGESUND",
    );
    yes(
        street,
        "It is 847 Rúa do Paseo 3 Suite 686 Umbrete Spain",
        "847 Rúa do Paseo 3 Suite 686 Umbrete Spain",
    );
    yes(
        street,
        "It is 39685 Úzká 1762 Apt. 701 Klobouky u Brna JM",
        "39685 Úzká 1762 Apt. 701 Klobouky u Brna JM",
    );
    // The postcode found alone would beat the address that holds it.
    assert_eq!(
        address_parts("Address:\n6392 Ennisbraut 27\nLarnaka, LA 70757."),
        vec![(S, "6392 Ennisbraut 27\nLarnaka, LA 70757")]
    );
    // Line marks glued to each line's first word.
    assert_eq!(
        address_parts(r"}}Amalia Costa\n}}9112 Kuuse 53\n}}Apt. 231\n}}Türi\n}}Estonia 49305"),
        vec![
            (S, "9112"),
            (S, "Kuuse 53"),
            (S, "Apt. 231"),
            (L, "Türi"),
            (L, "Estonia"),
            (S, "49305")
        ]
    );
}

#[test]
fn an_events_date_and_time_and_a_day_of_the_week_are_dates() {
    let date = Kind::Date;
    yes(
        date,
        "When: 1987-10-29 08:59:08.816633\nWhere: the club",
        "1987-10-29 08:59:08.816633",
    );
    yes(
        date,
        "On 2017-10-01 20:32:50, the government formally…",
        "2017-10-01 20:32:50",
    );
    yes(date, "Date: 1999-03-21 03:01", "1999-03-21 03:01");
    // A log line's timestamp is not.
    none_of(
        date,
        &[
            "Login failed at 2021-03-04 10:22:31.123 for root",
            "[2024-07-14T10:30:00Z] worker-3 INFO cache warmed",
        ],
    );
    yes(date, "We'll meet Thursday at the office", "Thursday");
    yes(date, "She flew to Oslo on Sunday morning.", "Sunday");
    none_of(
        date,
        &[
            "Sunday was quiet",
            "on the last Sunday before Labor Day",
            "Friday Harbor is a town",
        ],
    );
}

#[test]
fn streets_named_before_st_after_a_comma_and_over_line_marks() {
    use Kind::{Location as L, StreetAddress as S};
    yes(
        S,
        "Pedestrians must enter on Ööbiku 51 St. for now",
        "Ööbiku 51",
    );
    yes(
        S,
        "The title refers to Pärna 33 street in the song",
        "Pärna 33",
    );
    assert_eq!(
        address_parts("We meet at MarketWise Inc., 7997 Aqqusinersuaq 23, Alluitsup Paa"),
        vec![(S, "7997"), (S, "Aqqusinersuaq 23"), (L, "Alluitsup Paa")]
    );
    assert_eq!(
        address_parts("his address: 722 Hudevad Byvej 50, Ishøj"),
        vec![(S, "722"), (S, "Hudevad Byvej 50"), (L, "Ishøj")]
    );
    assert_eq!(
        address_parts(
            r"??? Lin Lee\n??? 26153 Lääne 64\n??? Suite 735\n??? Liivaküla\n??? Estonia 49305"
        ),
        vec![
            (S, "26153"),
            (S, "Lääne 64"),
            (S, "Suite 735"),
            (L, "Liivaküla"),
            (L, "Estonia"),
            (S, "49305")
        ]
    );
    // A capitalised word and a number before another word, or in a sentence, are not.
    for text in [
        "Chapter 5 St. Mary said",
        "In 2019, Windows 10 shipped",
        "Room 5 street level",
    ] {
        assert_eq!(of(S, text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn a_name_an_email_address_is_made_of_is_a_person_elsewhere() {
    yes(
        Kind::Person,
        "Forwarding this to GermanKauzar@armyspy.com while German is on leave.",
        "German",
    );
    // A role mailbox names no one; a longer name found with context stays whole.
    assert_eq!(
        of(
            Kind::Person,
            "Mail sales.team@acme.com and Sales will answer"
        ),
        Vec::<&str>::new()
    );
    yes(
        Kind::Person,
        "Ask jane.doe@example.com; Jane Doe knows",
        "Jane Doe",
    );
}

#[test]
fn speakers_the_one_spoken_to_and_pairs_opening_a_sentence() {
    let person = Kind::Person;
    assert_eq!(
        of(person, "Kauã: \"Who are you?\"\nKauã:\"I'm lost\"."),
        vec!["Kauã", "Kauã"]
    );
    // One line that looks so is a field, not a dialogue; labels never are speakers.
    for text in [
        "Zorblat: 5 items",
        "Warning: disk full\nError: again",
        "Date: today\nNote: none",
    ] {
        assert_eq!(of(person, text), Vec::<&str>::new(), "{text}");
    }
    yes(
        person,
        "Koppány, can I please speak to your boss?",
        "Koppány",
    );
    assert_eq!(of(person, "Sorry, can I ask?"), Vec::<&str>::new());
    assert_eq!(
        of(
            person,
            "A better song? Caird and Jones were precision engineers."
        ),
        vec!["Caird", "Jones"]
    );
    assert_eq!(
        of(
            person,
            "Capitalized words like Wisdom and Discipline are often mistaken with names"
        ),
        Vec::<&str>::new()
    );
}

#[test]
fn employers_after_a_persons_name_and_of_or_after_work_for() {
    let org = Kind::Organization;
    yes(
        org,
        "Ruman D. Bataev of TOKYO ROPE MFG.CO.LTD is the CEO of the year.",
        "TOKYO ROPE MFG.CO.LTD",
    );
    yes(
        org,
        "including Adam McDowell of DeepOntoscomy, Trulia's team",
        "DeepOntoscomy",
    );
    yes(
        org,
        "Mr. Jason Meier of SG Gold x5 GBP Daily Short, and others",
        "SG Gold x5 GBP Daily Short",
    );
    yes(org, "I work for THALES/EQ", "THALES/EQ");
    yes(
        org,
        "Nippon Sheet Glass CompanyLimited is big",
        "Nippon Sheet Glass CompanyLimited",
    );
    // A place after a name and `of` stays a place; lower-case words end the name.
    assert_eq!(of(org, "Jane Doe of London said hi"), Vec::<&str>::new());
    assert_eq!(of(org, "I work for a bank"), Vec::<&str>::new());
}

#[test]
fn a_counted_list_and_a_persons_song() {
    let person = Kind::Person;
    assert_eq!(
        of(person, "They had 3: Sulimat, Piusz and Ayfer."),
        vec!["Sulimat", "Piusz", "Ayfer"]
    );
    // The count must match the list.
    assert_eq!(
        of(person, "We sell 5: Zorbas, Quiblets and Florps."),
        Vec::<&str>::new()
    );
    yes(
        person,
        "(though Holloway's song was actually about a boat)",
        "Holloway",
    );
}

#[test]
fn a_place_before_its_bridge_or_airport() {
    let loc = Kind::Location;
    yes(loc, "Paterson bridge is falling down.", "Paterson");
    yes(
        loc,
        "KRISTIANSAND S bridge is falling down.",
        "KRISTIANSAND S",
    );
    yes(
        loc,
        "We landed at the Kangerlussuaq airport at noon",
        "Kangerlussuaq",
    );
    for text in [
        "I built a bridge",
        "He saw Zorblat bridge the gap",
        "Card game: Contract bridge rules",
    ] {
        assert_eq!(of(loc, text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn a_town_alone_above_a_listed_place() {
    use Kind::{Location as L, Person as P};
    assert_eq!(
        found("Alexandra Erôss\n\nSUNDSVALL\nSweden"),
        vec![(P, "Alexandra Erôss"), (L, "SUNDSVALL"), (L, "Sweden")]
    );
    assert_eq!(
        found(r"Krzyś Zielinski\n\nGudhjem\nDenmark"),
        vec![(P, "Krzyś Zielinski"), (L, "Gudhjem"), (L, "Denmark")]
    );
    // Not a line that holds a digit, a longer line, or a name found otherwise.
    for text in [
        "Room 12B\nSweden",
        "We all went there last year\nSweden",
        "Jane Doe\nLondon",
    ] {
        assert!(
            found(text).iter().filter(|(k, _)| *k == L).count() <= 1,
            "{text}: {:?}",
            found(text)
        );
    }
}

#[test]
fn clause_ends_and_line_marks_in_the_middle_of_a_line() {
    let street = Kind::StreetAddress;
    yes(
        street,
        "Do you live at 12 Main Street? Tell me.",
        "12 Main Street",
    );
    assert_eq!(
        of(street, "Is the office at 5625 Dunajska 97? Yes, it is."),
        vec!["5625", "Dunajska 97"]
    );
    // A table's cell marks are words: a match stops there.
    assert_eq!(
        of(street, "| 12 | Main Street | London |"),
        Vec::<&str>::new()
    );
    // An employer's name at the text's end or before an escaped line break.
    yes(Kind::Organization, "I work for Acme ", "Acme");
    yes(Kind::Organization, r"Jane Doe of Acme\nShe left", "Acme");
    // A month in an email address is not a name.
    assert_eq!(
        of(
            Kind::Person,
            "Write to march.report@acme.com. March was busy."
        ),
        Vec::<&str>::new()
    );
    // `on` in a log line is no event.
    assert_eq!(
        of(Kind::Date, "job logged on 2024-07-14 10:30:00 ok"),
        Vec::<&str>::new()
    );
}

#[test]
fn a_fields_street_stops_at_its_suite_and_its_line() {
    use Kind::StreetAddress as S;
    assert_eq!(
        address_parts(r"Gijsbrecht\n\n23421 57 Rue Abdelkader\n Apt. 890\n Menara"),
        vec![
            (S, "23421"),
            (S, "57 Rue Abdelkader"),
            (S, "Apt. 890"),
            (Kind::Location, "Menara")
        ]
    );
    assert_eq!(
        address_parts(r"H. Roelink\n    47509 Al. Zwycięstwa 96 Suite 456\n   Gdynia"),
        vec![
            (S, "47509"),
            (S, "Al. Zwycięstwa 96"),
            (S, "Suite 456"),
            (Kind::Location, "Gdynia")
        ]
    );
    assert_eq!(
        address_parts("his address: 393 Plazuela do Porto 63"),
        vec![(S, "393"), (S, "Plazuela do Porto 63")]
    );
}

#[test]
fn an_intersection_is_one_address() {
    let street = Kind::StreetAddress;
    yes(
        street,
        "It is the corner of 4308 Morris Street and Åström Viaduct.",
        "the corner of 4308 Morris Street and Åström Viaduct",
    );
    yes(
        street,
        "the corner of P.O. Box 63 and Pisano Row",
        "the corner of P.O. Box 63 and Pisano Row",
    );
    // Two streets each with its `St.` are two findings; a corner of common nouns is none.
    assert_eq!(
        of(
            street,
            "Stop at the corner of Voldi 26 St. and Jimínez Cove 4 St. please"
        ),
        vec!["Voldi 26", "Jimínez Cove 4"]
    );
    assert_eq!(
        of(street, "we met at the corner of park, and the lake"),
        Vec::<&str>::new()
    );
    // The second street ends at its line.
    assert_eq!(
        found(r"the corner of Koskikatu 25 and Knudsen Squares\n66 28 45 office"),
        vec![
            (street, "the corner of Koskikatu 25 and Knudsen Squares"),
            (Kind::Phone, "66 28 45")
        ]
    );
}

#[test]
fn a_name_and_a_street_is_one_address_where_an_address_is_expected() {
    let street = Kind::StreetAddress;
    // A street found by the other rules takes the name before it.
    yes(
        street,
        "The letter arrived at Oskar and Hindsholmvej 75 last night.",
        "Oskar and Hindsholmvej 75",
    );
    yes(
        street,
        "What is your address? it is Mikael and 3173 Kerry Way",
        "Mikael and 3173 Kerry Way",
    );
    assert_eq!(
        found("Address:  Julitta and 2870 Fallon Drive"),
        vec![(street, "Julitta and 2870 Fallon Drive")]
    );
    assert_eq!(
        of(
            street,
            "here they are: Sara and ul. Ciupagi 21, and Mikko and ul. Zakrzowska 92"
        ),
        vec!["Sara and ul. Ciupagi 21", "Mikko and ul. Zakrzowska 92"]
    );
    // Or capitalised words and a house number that end the clause.
    yes(
        street,
        "How do I change my address to Jennifer and Dunajska 56?",
        "Jennifer and Dunajska 56",
    );
    yes(
        street,
        "validate the following? Keijo and Λ. Αλκυονίδων 241",
        "Keijo and Λ. Αλκυονίδων 241",
    );
    // Not without a place where an address is expected, nor before more of a sentence.
    for text in [
        "Tom and Jerry 2 was a film.",
        "Tom and Jerry 2.",
        "We sent it to Tom and Jerry 2 of them",
        "I gave Oskar and Hindsholmvej 75 a call",
        "to Anna and Berlin 2019 tickets",
    ] {
        assert!(
            !found(text)
                .iter()
                .any(|(k, s)| *k == street && s.contains(" and ")),
            "{text}: {:?}",
            found(text)
        );
    }
}

#[test]
fn a_corner_of_two_streets_each_before_st_and_a_lower_case_street() {
    let street = Kind::StreetAddress;
    assert_eq!(
        of(
            street,
            "Ask the driver to stop at the corner of 1570 Blanshard St. and Marsh Wall St."
        ),
        vec!["1570 Blanshard St", "Marsh Wall"]
    );
    yes(
        street,
        "here's the address: the corner of Stensås terrasse 38 and Valida Wall",
        "the corner of Stensås terrasse 38 and Valida Wall",
    );
    yes(
        street,
        "the corner of 1356 Impala St and Sara Locks",
        "the corner of 1356 Impala St and Sara Locks",
    );
    // A street cut by the window the rule reads ends on a character's boundary, or is none.
    let long = format!("the corner of Main and A{}é", "b".repeat(149));
    for f in scan(&long) {
        assert!(
            long.is_char_boundary(f.start) && long.is_char_boundary(f.end),
            "{f:?}"
        );
    }
    // A house number the window cuts is not taken for the clause's end.
    let cut = format!("sent to Anna and B{} 123456789", "b".repeat(94));
    assert!(
        !found(&cut)
            .iter()
            .any(|(k, s)| *k == street && s.contains(" and ")),
        "{:?}",
        found(&cut)
    );
}

#[test]
fn a_postal_code_after_a_town_named_after_in() {
    let code = Kind::PostalCode;
    yes(
        code,
        "Looking to support Acme in Schweinfurt 97419 in its mission",
        "97419",
    );
    yes(code, "an office in Jalón de Cameros 26134, Spain", "26134");
    yes(code, "moved to a flat in LAHOLM 312 18 last year", "312 18");
    yes(code, "based in Szczecin 70-762.", "70-762");
    // Not a year, not a number that goes on, not without `in` before the town.
    for text in [
        "we met in Berlin 2019 and again",
        "in Berlin 12345 Main",
        "Schweinfurt 97419 in its mission",
        "in Room 40404 of the hotel",
    ] {
        assert_eq!(of(code, text), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn names_by_an_artists_trade_and_before_their_work() {
    yes(
        Kind::Person,
        "Producer Svitlana Jurković explained to Fuse TV: \"We all liked it\"",
        "Svitlana Jurković",
    );
    yes(
        Kind::Person,
        "Unlike the Kaczmarek novel, it's not about that.",
        "Kaczmarek",
    );
    // Not a word known as something else, nor without `the`.
    none_of(Kind::Person, &["Unlike the French novel, it is short."]);
}

#[test]
fn towns_by_their_english_endings_and_in_capitals() {
    yes(
        Kind::Location,
        "songwriters from around the world to Rennieside to share music",
        "Rennieside",
    );
    yes(
        Kind::Location,
        "songwriters from around the world to Lake Sarachester to share",
        "Lake Sarachester",
    );
    yes(
        Kind::Location,
        "studying at the University of EAST HOATHLY.",
        "EAST HOATHLY",
    );
    yes(
        Kind::Location,
        "We moved here from Oklahoma City",
        "Oklahoma City",
    );
    yes(
        Kind::Location,
        "Mr. Mattsson flew to Olešnice na Morave on Thursday morning.",
        "Olešnice na Morave",
    );
    // A word that only ends like a town, and capitals of four letters alone, are not.
    none_of(
        Kind::Location,
        &[
            "I talked to Clinton yesterday",
            "Click here to Support the project",
            "Go to Overview and then to Passport",
            "send it to Mark Bolton today",
            "studying at the University of PSC.",
        ],
    );
}

#[test]
fn employers_by_a_possessive_in_a_list_a_year_at_and_a_website() {
    let org = Kind::Organization;
    assert_eq!(
        of(
            org,
            "including Elijah Figueroa of Allot Ltd., Afya's Jose Ramos, and more"
        ),
        vec!["Allot Ltd.", "Afya"]
    );
    yes(
        org,
        "Islambek spent a year at SEASPAN CORP/PFD SH S D as the assistant to Ivan",
        "SEASPAN CORP/PFD SH S D",
    );
    yes(
        org,
        "getting paid,\" according to the Northwind Traders website. They offer",
        "Northwind Traders",
    );
    // Not without the role after `at`, nor a book `according to the` names.
    none_of(
        org,
        &[
            "I spent a year at Oxford and loved it",
            "according to the Bible, it was so",
        ],
    );
}

#[test]
fn a_street_named_after_lives_on_and_a_written_address_before_an_escaped_break() {
    let street = Kind::StreetAddress;
    yes(
        street,
        "The bus station is on Aqqusinersuaq 99",
        "Aqqusinersuaq 99",
    );
    yes(
        street,
        "He lives on the north side of Hauger Skolevei 90.",
        "Hauger Skolevei 90",
    );
    // Not a month, nor a number that goes on.
    none_of(
        street,
        &[
            "The party is on March 12.",
            "The bus station is on Route 66 today",
        ],
    );
    // A written address (its lines apart by real breaks) is one finding even where an escaped
    // break follows it; a house number's full stop before a flat does not end it.
    yes(
        street,
        r"Hélène Fremont\nThyrocare Ltd\n0189 Rue des Buissons 386
 Suite 559
 Runkelen
 Belgium 65601\n",
        "0189 Rue des Buissons 386\n Suite 559\n Runkelen\n Belgium 65601",
    );
    yes(
        street,
        "please send a new one to 0556 Rákóczi út 41. Apt. 304\nOžbalt\n, nan\n 33690? I am away",
        "0556 Rákóczi út 41. Apt. 304\nOžbalt\n, nan\n 33690",
    );
}

#[test]
fn names_in_apposition_above_a_job_title_and_after_a_lower_case_title() {
    let person = Kind::Person;
    yes(
        person,
        "Mark Gordon, the Power transformer repairer, said: \"I'm glad\"",
        "Mark Gordon",
    );
    yes(
        person,
        "Haroun van der Kruk, the Press relations specialist, said: yes",
        "Haroun van der Kruk",
    );
    yes(
        person,
        "Willemine ten Pas lives at 68056 Av. Zumalakarregi 99",
        "Willemine ten Pas",
    );
    // A signature: the name on the line above a job title, the break real or escaped.
    yes(
        person,
        r"Christian Nobbs\nCrop scientist\n",
        "Christian Nobbs",
    );
    yes(
        person,
        "Dorothée Jetté\n\nConstruction millwright\n",
        "Dorothée Jetté",
    );
    // A lower-cased title and name.
    assert_eq!(
        found("mr. jacobsen is a 31 year old man"),
        vec![
            (Kind::Title, "mr."),
            (person, "jacobsen"),
            (Kind::Age, "31")
        ]
    );
    yes(
        person,
        "hello, this is dr. cody sigfúsdóttir. who are you?",
        "cody sigfúsdóttir",
    );
    // Not without the verb of speech after the role, nor a word known as something else.
    none_of(
        person,
        &[
            "Mark Gordon, the Power transformer repairer, is here",
            "ask the dr. about it",
            "mr. about it",
        ],
    );
}

#[test]
fn a_town_line_with_a_three_letter_region() {
    assert_eq!(
        found(r"Mrs. Stephanie Stevenson Apt. 189 90 Mandible Street\nBARKLY QLD 4825")
            .into_iter()
            .filter(|(k, _)| matches!(k, Kind::Location | Kind::PostalCode))
            .collect::<Vec<_>>(),
        vec![
            (Kind::Location, "BARKLY"),
            (Kind::Location, "QLD"),
            (Kind::PostalCode, "4825")
        ]
    );
}

#[test]
fn a_places_other_name_in_brackets_and_a_quoted_title() {
    yes(
        Kind::Location,
        "Who is coming to Cyprus (Greek) with me?",
        "Cyprus (Greek)",
    );
    yes(
        Kind::Location,
        "her home city Latsia (Lakkia): a town",
        "Latsia (Lakkia)",
    );
    assert_eq!(
        of(
            Kind::Person,
            "an earlier song, \"Carry Me Back To Spain,\" which was arranged"
        ),
        Vec::<&str>::new()
    );
    yes(Kind::Person, "I saw \"John Smith\" yesterday", "John Smith");
}
