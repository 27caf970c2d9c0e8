//! Breach notification letters: shipped default templates and a minimal template renderer.
//!
//! A template is plain text with placeholders `{{name}}` (spaces inside the braces are
//! allowed: `{{ name }}`), where `name` is one of the fixed set of [`Variable`]s. Rendering is
//! a single pass: a value is inserted verbatim and never read as a template, so a value
//! containing `{{` cannot inject a placeholder. A `}}` outside a placeholder, and single
//! braces, are ordinary text. Templates are at most [`MAX_TEMPLATE_BYTES`] long.
//!
//! Errors name a variable or a position in the template, never a value (values are personal
//! data: names, contact details, descriptions of the breach).

use std::collections::BTreeMap;
use std::fmt;

use super::Recipient;

/// The largest template accepted, in bytes (64 KiB).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// A value a template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variable {
    /// The authority or person the letter is addressed to.
    RecipientName,
    /// The controller's name.
    ControllerName,
    /// The controller's contact details (address, email).
    ControllerContact,
    /// The data protection officer's (or other contact point's) name.
    DpoName,
    /// The data protection officer's contact details.
    DpoContact,
    /// The incident's reference in the register.
    IncidentReference,
    /// The date of the letter.
    LetterDate,
    /// When the controller became aware of the breach.
    AwareAt,
    /// When the breach happened (a date or a period).
    BreachPeriod,
    /// The nature of the breach (GDPR Art. 33(3)(a)).
    BreachNature,
    /// The categories of data subjects concerned (Art. 33(3)(a)).
    DataSubjectCategories,
    /// The approximate number of data subjects concerned (Art. 33(3)(a)).
    ApproximateDataSubjects,
    /// The categories of personal data concerned (Art. 33(3)(a)).
    PersonalDataCategories,
    /// The approximate number of personal data records concerned (Art. 33(3)(a)).
    ApproximateRecords,
    /// The likely consequences of the breach (Art. 33(3)(c)).
    LikelyConsequences,
    /// The measures taken to address the breach (Art. 33(3)(d)).
    MeasuresTaken,
    /// The measures proposed, including to mitigate its possible adverse effects
    /// (Art. 33(3)(d)).
    MeasuresProposed,
    /// The reasons a notification is later than the law's period (Art. 33(1)).
    DelayReasons,
    /// What the people affected can do to protect themselves.
    RecommendedActions,
}

impl Variable {
    /// Every variable.
    pub const ALL: [Variable; 19] = [
        Variable::RecipientName,
        Variable::ControllerName,
        Variable::ControllerContact,
        Variable::DpoName,
        Variable::DpoContact,
        Variable::IncidentReference,
        Variable::LetterDate,
        Variable::AwareAt,
        Variable::BreachPeriod,
        Variable::BreachNature,
        Variable::DataSubjectCategories,
        Variable::ApproximateDataSubjects,
        Variable::PersonalDataCategories,
        Variable::ApproximateRecords,
        Variable::LikelyConsequences,
        Variable::MeasuresTaken,
        Variable::MeasuresProposed,
        Variable::DelayReasons,
        Variable::RecommendedActions,
    ];

    /// The name used in templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Variable::RecipientName => "recipient_name",
            Variable::ControllerName => "controller_name",
            Variable::ControllerContact => "controller_contact",
            Variable::DpoName => "dpo_name",
            Variable::DpoContact => "dpo_contact",
            Variable::IncidentReference => "incident_reference",
            Variable::LetterDate => "letter_date",
            Variable::AwareAt => "aware_at",
            Variable::BreachPeriod => "breach_period",
            Variable::BreachNature => "breach_nature",
            Variable::DataSubjectCategories => "data_subject_categories",
            Variable::ApproximateDataSubjects => "approximate_data_subjects",
            Variable::PersonalDataCategories => "personal_data_categories",
            Variable::ApproximateRecords => "approximate_records",
            Variable::LikelyConsequences => "likely_consequences",
            Variable::MeasuresTaken => "measures_taken",
            Variable::MeasuresProposed => "measures_proposed",
            Variable::DelayReasons => "delay_reasons",
            Variable::RecommendedActions => "recommended_actions",
        }
    }

    /// Parses [`Variable::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The values to fill a template with. Its `Debug` output lists the variable names only,
/// never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Vars {
    values: BTreeMap<Variable, String>,
}

impl Vars {
    /// No values.
    pub fn new() -> Self {
        Vars::default()
    }

    /// Sets `var` to `value` (replacing any earlier value).
    pub fn set(&mut self, var: Variable, value: impl Into<String>) -> &mut Self {
        self.values.insert(var, value.into());
        self
    }

    /// These values with `var` set to `value`.
    pub fn with(mut self, var: Variable, value: impl Into<String>) -> Self {
        self.set(var, value);
        self
    }

    /// The value of `var`, if set.
    pub fn get(&self, var: Variable) -> Option<&str> {
        self.values.get(&var).map(String::as_str)
    }

    /// Values given by name (as they come from an API).
    ///
    /// # Errors
    ///
    /// [`LetterError::UnknownVariable`] naming the first name that is not a [`Variable`].
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, LetterError> {
        let mut vars = Vars::new();
        for (name, value) in pairs {
            let var = Variable::parse(name).ok_or_else(|| LetterError::UnknownVariable {
                name: shorten(name),
            })?;
            vars.set(var, value);
        }
        Ok(vars)
    }
}

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.values.keys().map(|v| v.as_str()))
            .finish()
    }
}

/// Why a template was refused or could not be rendered. No variant carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LetterError {
    /// The template is longer than [`MAX_TEMPLATE_BYTES`].
    #[error("the template is {size} bytes long; at most {max} are allowed")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A `{{` without a `}}` after it.
    #[error("line {line}, column {column}: `{{{{` is not closed by `}}}}`")]
    Unclosed {
        /// The line of the `{{` (from 1).
        line: usize,
        /// Its column, in characters (from 1).
        column: usize,
    },
    /// A placeholder whose name is not made of lower-case letters, digits and `_`.
    #[error(
        "line {line}, column {column}: a placeholder must be `{{{{name}}}}` with a name of \
         lower-case letters, digits and `_`"
    )]
    InvalidPlaceholder {
        /// The line of the `{{` (from 1).
        line: usize,
        /// Its column, in characters (from 1).
        column: usize,
    },
    /// A well-formed name that is not a known [`Variable`].
    #[error("unknown template variable `{name}`")]
    UnknownVariable {
        /// The name (cut to 64 characters).
        name: String,
    },
    /// The template uses a variable no value was given for.
    #[error("no value given for template variable `{name}`")]
    MissingValue {
        /// The variable's name.
        name: &'static str,
    },
}

/// Cuts a name to 64 characters for an error message.
fn shorten(name: &str) -> String {
    name.chars().take(64).collect()
}

/// One piece of a parsed template.
enum Part<'t> {
    Text(&'t str),
    Var(Variable),
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}

fn parse(template: &str) -> Result<Vec<Part<'_>>, LetterError> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(LetterError::TooLarge {
            size: template.len(),
            max: MAX_TEMPLATE_BYTES,
        });
    }
    let mut parts = Vec::new();
    let mut at = 0;
    while let Some(found) = template.get(at..).and_then(|rest| rest.find("{{")) {
        let open = at + found;
        if open > at {
            parts.push(Part::Text(template.get(at..open).unwrap_or("")));
        }
        let inner_start = open + 2;
        let Some(close) = template.get(inner_start..).and_then(|rest| rest.find("}}")) else {
            let (line, column) = position(template, open);
            return Err(LetterError::Unclosed { line, column });
        };
        let name = template
            .get(inner_start..inner_start + close)
            .unwrap_or("")
            .trim_matches(' ');
        let well_formed = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_formed {
            let (line, column) = position(template, open);
            return Err(LetterError::InvalidPlaceholder { line, column });
        }
        let var = Variable::parse(name).ok_or_else(|| LetterError::UnknownVariable {
            name: shorten(name),
        })?;
        parts.push(Part::Var(var));
        at = inner_start + close + 2;
    }
    if let Some(rest) = template.get(at..).filter(|rest| !rest.is_empty()) {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// Checks a (custom) template and returns the variables it uses, each once, in order of first
/// use.
///
/// # Errors
///
/// [`LetterError::TooLarge`], [`LetterError::Unclosed`], [`LetterError::InvalidPlaceholder`]
/// or [`LetterError::UnknownVariable`].
pub fn validate(template: &str) -> Result<Vec<Variable>, LetterError> {
    let mut used = Vec::new();
    for part in parse(template)? {
        if let Part::Var(v) = part
            && !used.contains(&v)
        {
            used.push(v);
        }
    }
    Ok(used)
}

/// Fills `template` with `vars`. Every variable the template uses must have a value (an empty
/// string is a value); values the template does not use are ignored.
///
/// # Errors
///
/// As [`validate`], and [`LetterError::MissingValue`] naming the first variable without a
/// value.
pub fn render(template: &str, vars: &Vars) -> Result<String, LetterError> {
    let parts = parse(template)?;
    let mut out = String::with_capacity(template.len());
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Var(var) => out.push_str(
                vars.get(var)
                    .ok_or(LetterError::MissingValue { name: var.as_str() })?,
            ),
        }
    }
    Ok(out)
}

/// The letters shipped with the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefaultLetter {
    /// Notification to the supervisory authority, with the contents of GDPR Art. 33(3).
    Authority,
    /// Communication to the people affected, with the contents of GDPR Art. 34(2).
    Individuals,
}

impl DefaultLetter {
    /// Every shipped letter.
    pub const ALL: [DefaultLetter; 2] = [DefaultLetter::Authority, DefaultLetter::Individuals];

    /// The shipped letter for `recipient`, if there is one.
    pub fn for_recipient(recipient: Recipient) -> Option<Self> {
        match recipient {
            Recipient::Authority => Some(DefaultLetter::Authority),
            Recipient::Individuals => Some(DefaultLetter::Individuals),
            Recipient::AttorneyGeneral | Recipient::Hhs | Recipient::Media | Recipient::Csirt => {
                None
            }
        }
    }

    /// The template text.
    pub fn template(self) -> &'static str {
        match self {
            DefaultLetter::Authority => AUTHORITY_TEMPLATE,
            DefaultLetter::Individuals => INDIVIDUALS_TEMPLATE,
        }
    }
}

/// Notification of a personal data breach to a supervisory authority (GDPR Art. 33(3)).
pub const AUTHORITY_TEMPLATE: &str = "\
To: {{recipient_name}}
From: {{controller_name}}, {{controller_contact}}
Date: {{letter_date}}
Our reference: {{incident_reference}}

Notification of a personal data breach

We are notifying you of a personal data breach under Article 33 of the General Data
Protection Regulation.

1. What happened
{{breach_nature}}

When the breach occurred: {{breach_period}}
When we became aware of it: {{aware_at}}

2. Who and what is concerned
Categories of people concerned: {{data_subject_categories}}
Approximate number of people concerned: {{approximate_data_subjects}}
Categories of personal data concerned: {{personal_data_categories}}
Approximate number of personal data records concerned: {{approximate_records}}

3. Contact point
Our data protection officer, {{dpo_name}}, can give you more information:
{{dpo_contact}}

4. Likely consequences
{{likely_consequences}}

5. What we have done and will do
Measures taken: {{measures_taken}}
Measures proposed, including to mitigate possible adverse effects: {{measures_proposed}}

6. Timing
{{delay_reasons}}

Where we cannot yet provide all of this information, we will provide the rest without
further undue delay as our investigation progresses.

{{controller_name}}
";

/// Communication of a personal data breach to the people affected (GDPR Art. 34(2)).
pub const INDIVIDUALS_TEMPLATE: &str = "\
Dear {{recipient_name}},

We are writing to tell you about a security incident at {{controller_name}} that affects
your personal information. We are sorry that this has happened.

What happened
{{breach_nature}}

It happened {{breach_period}}. We found out on {{aware_at}}.

What information was involved
{{personal_data_categories}}

What this could mean for you
{{likely_consequences}}

What we have done
{{measures_taken}}

What we will do next
{{measures_proposed}}

What you can do
{{recommended_actions}}

Who you can talk to
If you have any questions, please contact our data protection officer, {{dpo_name}}:
{{dpo_contact}}
Please mention our reference {{incident_reference}}.

You also have the right to complain to a data protection authority.

Yours sincerely,
{{controller_name}}
{{letter_date}}
";
