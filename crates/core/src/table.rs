//! Reading the JSON tables the core ships (`rights/deadlines.json`,
//! `incident/notification_rules.json`): the error they are refused with and a reader that
//! takes a JSON object apart field by field.
//!
//! Each table keeps its own format (and its own period type); what they share is here, so the
//! two formats report mistakes in the same words.

use serde_json::{Map, Value};

use crate::rights::RequestType;

/// Why a rules table was refused. `at` names the place: `table`, `rules[3] (CCPA)`,
/// `rules[3] (HIPAA.hhs).period`.
///
/// Re-exported as `rights::RulesError` and `incident::RulesError`; the messages name places
/// and fields in the table, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The text is not JSON.
    #[error("{0}")]
    Json(NotJson),
    /// A required field is absent.
    #[error("{at}: missing field `{field}`")]
    MissingField {
        /// Where.
        at: String,
        /// The field.
        field: String,
    },
    /// A field the format does not know (often a typo).
    #[error("{at}: unknown field `{field}`")]
    UnknownField {
        /// Where.
        at: String,
        /// The field.
        field: String,
    },
    /// A field holds the wrong kind of JSON value.
    #[error("{at}: field `{field}` must be {expected}")]
    WrongType {
        /// Where.
        at: String,
        /// The field.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A name that is not one of the allowed values.
    #[error("{at}: field `{field}` has unknown value `{value}` (expected one of: {expected})")]
    UnknownValue {
        /// Where.
        at: String,
        /// The field.
        field: String,
        /// The value found.
        value: String,
        /// The allowed values.
        expected: String,
    },
    /// Values that are well-formed but break a rule of the format.
    #[error("{at}: {problem}")]
    Invalid {
        /// Where.
        at: String,
        /// What is wrong.
        problem: String,
    },
    /// Two rules of the deadlines table cover the same jurisdiction and request type.
    #[error(
        "{at}: a rule for `{request_type}` requests in `{jurisdiction}` is already given at {first}"
    )]
    DuplicateRule {
        /// Where the second rule is.
        at: String,
        /// The jurisdiction.
        jurisdiction: String,
        /// The request type.
        request_type: RequestType,
        /// Where the first rule is.
        first: String,
    },
    /// Two rules of the notification rules table share an id.
    #[error("{at}: rule id `{id}` is used twice")]
    DuplicateId {
        /// Where the second rule is.
        at: String,
        /// The id.
        id: String,
    },
}

/// A table's text that is not JSON: which table, and what the JSON parser said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the {table} table is not valid JSON: {message}")]
pub struct NotJson {
    /// The table, as the message names it (`rules`, `notification rules`).
    pub table: &'static str,
    /// The JSON parser's message (a line and column, never the text itself).
    pub message: String,
}

/// Parses `json` as the text of the table named `table` (as [`NotJson::table`]).
pub(crate) fn parse_json(table: &'static str, json: &str) -> Result<Value, TableError> {
    serde_json::from_str(json).map_err(|e| {
        TableError::Json(NotJson {
            table,
            message: e.to_string(),
        })
    })
}

/// A JSON object being read field by field; [`Obj::finish`] refuses whatever is left over.
pub(crate) struct Obj {
    /// Where the object is, for error messages (`rules[3] (CCPA)`); callers may rename it
    /// once they know more (e.g. the rule's jurisdiction).
    pub(crate) at: String,
    fields: Map<String, Value>,
}

impl Obj {
    /// Starts reading `value`, which must be a JSON object, found at `at`.
    pub(crate) fn new(value: &Value, at: String) -> Result<Self, TableError> {
        let Value::Object(map) = value else {
            return Err(TableError::Invalid {
                at,
                problem: "must be a JSON object".to_owned(),
            });
        };
        Ok(Obj {
            at,
            fields: map.clone(),
        })
    }

    /// Removes a field; JSON `null` counts as absent.
    pub(crate) fn take(&mut self, field: &str) -> Option<Value> {
        self.fields.remove(field).filter(|v| !v.is_null())
    }

    /// The error for a required `field` that is absent.
    pub(crate) fn missing(&self, field: &str) -> TableError {
        TableError::MissingField {
            at: self.at.clone(),
            field: field.to_owned(),
        }
    }

    /// The error for a `field` that is not the `expected` kind of JSON value.
    pub(crate) fn wrong_type(&self, field: &str, expected: &'static str) -> TableError {
        TableError::WrongType {
            at: self.at.clone(),
            field: field.to_owned(),
            expected,
        }
    }

    /// The error for values that break a rule of the format.
    pub(crate) fn invalid(&self, problem: &str) -> TableError {
        TableError::Invalid {
            at: self.at.clone(),
            problem: problem.to_owned(),
        }
    }

    /// Reads a string field that may be absent.
    pub(crate) fn optional_string(&mut self, field: &str) -> Result<Option<String>, TableError> {
        match self.take(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(field, "a string")),
        }
    }

    /// Reads a required string field.
    pub(crate) fn string(&mut self, field: &str) -> Result<String, TableError> {
        self.optional_string(field)?
            .ok_or_else(|| self.missing(field))
    }

    /// Reads a required `true`/`false` field.
    pub(crate) fn boolean(&mut self, field: &str) -> Result<bool, TableError> {
        match self.take(field) {
            None => Err(self.missing(field)),
            Some(Value::Bool(b)) => Ok(b),
            Some(_) => Err(self.wrong_type(field, "true or false")),
        }
    }

    /// Reads a required list field.
    pub(crate) fn array(&mut self, field: &str) -> Result<Vec<Value>, TableError> {
        match self.take(field) {
            None => Err(self.missing(field)),
            Some(Value::Array(a)) => Ok(a),
            Some(_) => Err(self.wrong_type(field, "a list")),
        }
    }

    /// Reads a string field that may be absent and must be a name `parse` knows; `expected`
    /// lists the names for the error message.
    pub(crate) fn optional_name<T>(
        &mut self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, TableError> {
        let Some(s) = self.optional_string(field)? else {
            return Ok(None);
        };
        parse(&s).map(Some).ok_or_else(|| TableError::UnknownValue {
            at: self.at.clone(),
            field: field.to_owned(),
            value: s,
            expected: expected.to_owned(),
        })
    }

    /// Reads a required string field that must be a name `parse` knows; `expected` lists the
    /// names for the error message.
    pub(crate) fn name<T>(
        &mut self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<T, TableError> {
        self.optional_name(field, parse, expected)?
            .ok_or_else(|| self.missing(field))
    }

    /// Refuses any field not read.
    pub(crate) fn finish(self) -> Result<(), TableError> {
        match self.fields.keys().next() {
            None => Ok(()),
            Some(field) => Err(TableError::UnknownField {
                at: self.at,
                field: field.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::incident::RulesTable;
    use crate::rights::RuleSet;

    #[test]
    fn each_table_names_itself_when_it_is_not_json() {
        let rights = RuleSet::parse("{").unwrap_err().to_string();
        assert!(
            rights.starts_with("the rules table is not valid JSON: "),
            "{rights}"
        );
        let incident = RulesTable::parse("{").unwrap_err().to_string();
        assert!(
            incident.starts_with("the notification rules table is not valid JSON: "),
            "{incident}"
        );
    }
}
