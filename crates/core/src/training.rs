//! The training register: courses, which roles must take them, and completions that expire.
//!
//! An operator's training is current while every course required of their role has a
//! completion that has not expired; the policy reads that as `principal.training_current`
//! (the shipped set forbids revealing or masking special-category data without it). A role
//! with no required course has no current training: nobody is trained by default, so the
//! special-category rule cannot be met by leaving the register empty.
//!
//! A completion's expiry is fixed when it is recorded (the completion time plus the course's
//! validity then); changing a course's validity later does not move certificates already
//! issued.

use jiff::{SignedDuration, Timestamp};

use crate::operator::Role;

/// The longest validity a course may give, in days (ten years).
pub const MAX_VALIDITY_DAYS: u32 = 3_650;
/// The longest course title accepted, in bytes.
pub const MAX_TITLE: usize = 200;
/// The longest course description or completion reference accepted, in bytes.
pub const MAX_TEXT: usize = 2_000;

/// A training course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Course {
    /// Stable key: lower-case letters, digits, `_` and `-`, 1 to 64 characters.
    pub key: String,
    /// Its title.
    pub title: String,
    /// What it covers.
    pub description: Option<String>,
    /// How many days a completion counts.
    pub validity_days: u32,
    /// The roles that must hold a current completion (in [`Role::ALL`] order, no repeats).
    pub required_for: Vec<Role>,
    /// 1 when created, then one more with each change.
    pub version: i64,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// One operator's completion of one course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Stable id (a UUID v7 string).
    pub id: String,
    /// The operator who completed it.
    pub operator_id: String,
    /// The course.
    pub course: String,
    /// When it was completed.
    pub completed_at: Timestamp,
    /// Until when it counts.
    pub expires_at: Timestamp,
    /// Where the evidence is (a certificate number, an LMS record id); no personal data.
    pub reference: Option<String>,
    /// Who recorded it (an audit actor string).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// When it was revoked (recorded in error, or the certificate withdrawn): it no longer
    /// counts.
    pub revoked_at: Option<Timestamp>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// Why a course or a completion was refused; each names the rule, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrainingError {
    /// The key is not 1 to 64 of `a-z`, `0-9`, `_`, `-`, starting with a letter.
    #[error(
        "a course key is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter"
    )]
    Key,
    /// The title is empty, too long or holds control characters.
    #[error("a course title is 1 to {MAX_TITLE} bytes without control characters")]
    Title,
    /// A description or reference is too long or holds control characters.
    #[error("{0} is at most {MAX_TEXT} bytes without control characters")]
    Text(&'static str),
    /// The validity is zero or longer than [`MAX_VALIDITY_DAYS`].
    #[error("validity_days is 1 to {MAX_VALIDITY_DAYS}")]
    Validity,
    /// A role is named twice.
    #[error("required_for names a role twice")]
    DuplicateRole,
    /// The completion time is after the time it is recorded.
    #[error("completed_at is in the future")]
    CompletedInFuture,
    /// The completion is older than the course's validity: it would be expired already.
    #[error("the completion has already expired")]
    AlreadyExpired,
}

/// Checks a course key.
pub fn validate_key(key: &str) -> Result<(), TrainingError> {
    let ok = (1..=64).contains(&key.len())
        && key.as_bytes()[0].is_ascii_lowercase()
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(TrainingError::Key) }
}

fn clean_text(
    s: Option<&str>,
    max: usize,
    what: &'static str,
) -> Result<Option<String>, TrainingError> {
    match s.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.len() > max || t.chars().any(|c| c.is_control() && c != '\n') => {
            Err(TrainingError::Text(what))
        }
        Some(t) => Ok(Some(t.to_owned())),
    }
}

/// What a caller gives for a course; [`CourseInput::validate`] makes the stored shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseInput<'a> {
    /// The key.
    pub key: &'a str,
    /// The title.
    pub title: &'a str,
    /// The description.
    pub description: Option<&'a str>,
    /// Validity in days.
    pub validity_days: u32,
    /// The roles that must take it.
    pub required_for: &'a [Role],
}

impl CourseInput<'_> {
    /// Validates the input into a course at `version` (times as given).
    pub fn validate(
        &self,
        version: i64,
        created_at: Timestamp,
        now: Timestamp,
    ) -> Result<Course, TrainingError> {
        validate_key(self.key)?;
        let title = self.title.trim();
        if title.is_empty() || title.len() > MAX_TITLE || title.chars().any(char::is_control) {
            return Err(TrainingError::Title);
        }
        if self.validity_days == 0 || self.validity_days > MAX_VALIDITY_DAYS {
            return Err(TrainingError::Validity);
        }
        let mut roles = Vec::new();
        for r in Role::ALL {
            match self.required_for.iter().filter(|x| **x == r).count() {
                0 => {}
                1 => roles.push(r),
                _ => return Err(TrainingError::DuplicateRole),
            }
        }
        Ok(Course {
            key: self.key.to_owned(),
            title: title.to_owned(),
            description: clean_text(self.description, MAX_TEXT, "description")?,
            validity_days: self.validity_days,
            required_for: roles,
            version,
            created_at,
            updated_at: now,
        })
    }
}

impl Course {
    /// A completion of this course at `completed_at`, recorded at `now` by `recorded_by`.
    pub fn completion(
        &self,
        id: String,
        operator_id: &str,
        completed_at: Timestamp,
        reference: Option<&str>,
        recorded_by: &str,
        now: Timestamp,
    ) -> Result<Completion, TrainingError> {
        if completed_at > now {
            return Err(TrainingError::CompletedInFuture);
        }
        let validity = SignedDuration::from_hours(24 * i64::from(self.validity_days));
        let expires_at = completed_at
            .checked_add(validity)
            .map_err(|_| TrainingError::Validity)?;
        if expires_at <= now {
            return Err(TrainingError::AlreadyExpired);
        }
        Ok(Completion {
            id,
            operator_id: operator_id.to_owned(),
            course: self.key.clone(),
            completed_at,
            expires_at,
            reference: clean_text(reference, MAX_TEXT, "reference")?,
            recorded_by: recorded_by.to_owned(),
            recorded_at: now,
            revoked_at: None,
            revoked_by: None,
        })
    }
}

/// Until when an operator's training counts as current, from the latest expiry of their
/// completions of each course their role requires (`None` for a course never completed).
/// `None` when the role requires no course or a required course was never completed;
/// otherwise the earliest of those expiries (which may be past: the training has lapsed).
pub fn valid_until(latest_per_required_course: &[Option<Timestamp>]) -> Option<Timestamp> {
    if latest_per_required_course.is_empty() {
        return None;
    }
    latest_per_required_course
        .iter()
        .try_fold(None::<Timestamp>, |min, t| {
            let t = (*t)?;
            Some(Some(min.map_or(t, |m| m.min(t))))
        })
        .flatten()
}

/// One operator's standing against one required course, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Completed and not expired (until when).
    Current(Timestamp),
    /// Completed, but the latest completion expired (when).
    Lapsed(Timestamp),
    /// Never completed.
    Missing,
}

impl Standing {
    /// The standing at `now` given the latest expiry of the operator's completions.
    pub fn at(latest_expiry: Option<Timestamp>, now: Timestamp) -> Standing {
        match latest_expiry {
            None => Standing::Missing,
            Some(t) if t > now => Standing::Current(t),
            Some(t) => Standing::Lapsed(t),
        }
    }

    /// Stable name: `current`, `lapsed` or `missing`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Standing::Current(_) => "current",
            Standing::Lapsed(_) => "lapsed",
            Standing::Missing => "missing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn course(days: u32) -> Course {
        CourseInput {
            key: "privacy-basics",
            title: " Privacy basics ",
            description: Some(""),
            validity_days: days,
            required_for: &[Role::Support, Role::Dpo],
        }
        .validate(1, t(0), t(0))
        .unwrap()
    }

    #[test]
    fn courses_are_validated_and_roles_ordered() {
        let c = course(365);
        assert_eq!(c.title, "Privacy basics");
        assert_eq!(c.description, None);
        assert_eq!(c.required_for, vec![Role::Dpo, Role::Support]);
        let base = CourseInput {
            key: "k",
            title: "T",
            description: None,
            validity_days: 1,
            required_for: &[],
        };
        for (bad, err) in [
            (
                CourseInput {
                    key: "",
                    ..base.clone()
                },
                TrainingError::Key,
            ),
            (
                CourseInput {
                    key: "1x",
                    ..base.clone()
                },
                TrainingError::Key,
            ),
            (
                CourseInput {
                    key: "a b",
                    ..base.clone()
                },
                TrainingError::Key,
            ),
            (
                CourseInput {
                    key: "Ab",
                    ..base.clone()
                },
                TrainingError::Key,
            ),
            (
                CourseInput {
                    title: " ",
                    ..base.clone()
                },
                TrainingError::Title,
            ),
            (
                CourseInput {
                    title: "a\u{1}",
                    ..base.clone()
                },
                TrainingError::Title,
            ),
            (
                CourseInput {
                    validity_days: 0,
                    ..base.clone()
                },
                TrainingError::Validity,
            ),
            (
                CourseInput {
                    validity_days: 3_651,
                    ..base.clone()
                },
                TrainingError::Validity,
            ),
            (
                CourseInput {
                    required_for: &[Role::Admin, Role::Admin],
                    ..base.clone()
                },
                TrainingError::DuplicateRole,
            ),
        ] {
            assert_eq!(bad.validate(1, t(0), t(0)), Err(err));
        }
        let long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(
            CourseInput {
                description: Some(&long),
                ..base
            }
            .validate(1, t(0), t(0)),
            Err(TrainingError::Text("description"))
        );
    }

    #[test]
    fn completions_expire_after_the_validity() {
        let c = course(2);
        let done = c
            .completion("id".into(), "op", t(100), Some(" cert-1 "), "cli", t(200))
            .unwrap();
        assert_eq!(done.expires_at, t(100 + 2 * 86_400));
        assert_eq!(done.reference.as_deref(), Some("cert-1"));
        assert_eq!(
            c.completion("id".into(), "op", t(300), None, "cli", t(200)),
            Err(TrainingError::CompletedInFuture)
        );
        assert_eq!(
            c.completion("id".into(), "op", t(0), None, "cli", t(2 * 86_400)),
            Err(TrainingError::AlreadyExpired)
        );
    }

    #[test]
    fn training_is_current_until_the_earliest_required_expiry() {
        assert_eq!(valid_until(&[]), None);
        assert_eq!(valid_until(&[Some(t(5)), None]), None);
        assert_eq!(valid_until(&[Some(t(9)), Some(t(5))]), Some(t(5)));
        assert_eq!(valid_until(&[Some(t(9))]), Some(t(9)));
        assert_eq!(Standing::at(Some(t(9)), t(8)), Standing::Current(t(9)));
        assert_eq!(Standing::at(Some(t(9)), t(9)).as_str(), "lapsed");
        assert_eq!(Standing::at(None, t(9)).as_str(), "missing");
    }
}
