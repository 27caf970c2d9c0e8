//! Access monitoring: rules over the audit stream that flag unusual access.
//!
//! The monitor reads the audit log in order and keeps a small state between runs (the last
//! sequence number read, each operator's recent reads and denials, and their hourly read
//! counts for the last week), so each run reads only the events appended since the last one.
//! Four rules, each optional:
//!
//! * `bulk_reads`: more than `max` records of personal data read by one operator within
//!   `window_minutes` (an export, a scrape);
//! * `off_hours`: a read outside working hours (`start_hour` to `end_hour` on `weekdays`, in
//!   `time_zone`);
//! * `baseline_spike`: an operator's reads in the current hour exceed `factor` times their
//!   hourly average over the previous seven days, and at least `min_reads`;
//! * `denial_burst`: more than `max` refused requests by one actor within `window_minutes`
//!   (probing).
//!
//! A read is an allowed `data.reveal` or `data.mask` event of an operator (one per record
//! opened). An alert names the rule, the actor (an audit actor string, never personal data),
//! how many events, and the sequence number of the event that raised it; the same rule does not
//! alert again for the same actor until its window (an hour for the others) has passed.

use std::collections::{BTreeMap, VecDeque};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::audit::{AuditEvent, Decision};
use crate::doc::{DocError, err, object, only};

/// The rules' names.
pub const RULES: [&str; 4] = ["bulk_reads", "off_hours", "baseline_spike", "denial_burst"];

/// A count within a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    /// More than this many events…
    pub max: u32,
    /// …within this many minutes.
    pub window_minutes: u32,
}

/// Working hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// IANA time zone.
    pub time_zone: String,
    /// First working hour (0 to 23).
    pub start_hour: u8,
    /// The hour work ends (1 to 24; after `start_hour`).
    pub end_hour: u8,
    /// Working days, 1 (Monday) to 7 (Sunday).
    pub weekdays: Vec<u8>,
}

/// A spike against the operator's own baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// How many times the hourly average.
    pub factor: f64,
    /// And at least this many reads in the hour.
    pub min_reads: u32,
}

/// The monitor's configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    /// `bulk_reads`.
    pub bulk_reads: Option<Threshold>,
    /// `off_hours`.
    pub off_hours: Option<WorkingHours>,
    /// `baseline_spike`.
    pub baseline_spike: Option<Spike>,
    /// `denial_burst`.
    pub denial_burst: Option<Threshold>,
    /// Where alerts are posted (an https URL, or http on the loopback), if anywhere.
    pub webhook_url: Option<String>,
}

/// The rules an installation starts with.
pub fn default_rules() -> Rules {
    Rules {
        bulk_reads: Some(Threshold {
            max: 100,
            window_minutes: 10,
        }),
        off_hours: None,
        baseline_spike: Some(Spike {
            factor: 10.0,
            min_reads: 50,
        }),
        denial_burst: Some(Threshold {
            max: 20,
            window_minutes: 5,
        }),
        webhook_url: None,
    }
}

fn threshold(m: &Map<String, Value>, key: &str) -> Result<Option<Threshold>, DocError> {
    let Some(v) = m.get(key).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let p = format!("$.{key}");
    let t = object(v, &p)?;
    only(t, &p, &["max", "window_minutes"])?;
    let n = |k: &str, lo: u64, hi: u64| -> Result<u32, DocError> {
        t.get(k)
            .and_then(Value::as_u64)
            .filter(|n| (lo..=hi).contains(n))
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| err(format!("{p}.{k}"), "a whole number in range"))
    };
    Ok(Some(Threshold {
        max: n("max", 1, 1_000_000)?,
        window_minutes: n("window_minutes", 1, 1_440)?,
    }))
}

/// Reads the rules strictly.
pub fn parse_rules(v: &Value) -> Result<Rules, DocError> {
    let m = object(v, "$")?;
    only(
        m,
        "$",
        &[
            "bulk_reads",
            "off_hours",
            "baseline_spike",
            "denial_burst",
            "webhook_url",
        ],
    )?;
    let off_hours = match m.get("off_hours").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => {
            let p = "$.off_hours";
            let o = object(v, p)?;
            only(o, p, &["time_zone", "start_hour", "end_hour", "weekdays"])?;
            let time_zone = o
                .get("time_zone")
                .and_then(Value::as_str)
                .filter(|z| TimeZone::get(z).is_ok())
                .ok_or_else(|| err("$.off_hours.time_zone", "an IANA time zone"))?;
            let hour = |k: &str, lo: u64, hi: u64| {
                o.get(k)
                    .and_then(Value::as_u64)
                    .filter(|h| (lo..=hi).contains(h))
                    .and_then(|h| u8::try_from(h).ok())
                    .ok_or_else(|| err(format!("{p}.{k}"), "an hour in range"))
            };
            let (start_hour, end_hour) = (hour("start_hour", 0, 23)?, hour("end_hour", 1, 24)?);
            if end_hour <= start_hour {
                return Err(err("$.off_hours.end_hour", "after start_hour"));
            }
            let weekdays = match o.get("weekdays") {
                None | Some(Value::Null) => vec![1, 2, 3, 4, 5],
                Some(Value::Array(a)) if !a.is_empty() => a
                    .iter()
                    .map(|d| {
                        d.as_u64()
                            .filter(|d| (1..=7).contains(d))
                            .and_then(|d| u8::try_from(d).ok())
                    })
                    .collect::<Option<Vec<u8>>>()
                    .ok_or_else(|| err("$.off_hours.weekdays", "days 1 (Monday) to 7"))?,
                Some(_) => return Err(err("$.off_hours.weekdays", "days 1 (Monday) to 7")),
            };
            Some(WorkingHours {
                time_zone: time_zone.to_owned(),
                start_hour,
                end_hour,
                weekdays,
            })
        }
    };
    let baseline_spike = match m.get("baseline_spike").filter(|v| !v.is_null()) {
        None => None,
        Some(v) => {
            let p = "$.baseline_spike";
            let o = object(v, p)?;
            only(o, p, &["factor", "min_reads"])?;
            Some(Spike {
                factor: o
                    .get("factor")
                    .and_then(Value::as_f64)
                    .filter(|f| (1.0..=1_000.0).contains(f))
                    .ok_or_else(|| err("$.baseline_spike.factor", "1 to 1,000"))?,
                min_reads: o
                    .get("min_reads")
                    .and_then(Value::as_u64)
                    .filter(|n| (1..=1_000_000).contains(n))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| err("$.baseline_spike.min_reads", "1 to 1,000,000"))?,
            })
        }
    };
    let webhook_url = match m.get("webhook_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => {
            crate::consent::outbox::valid_webhook_url(u).map_err(|r| err("$.webhook_url", r))?;
            Some(u.clone())
        }
        Some(_) => return Err(err("$.webhook_url", "must be a string")),
    };
    Ok(Rules {
        bulk_reads: threshold(m, "bulk_reads")?,
        off_hours,
        baseline_spike,
        denial_burst: threshold(m, "denial_burst")?,
        webhook_url,
    })
}

impl Rules {
    /// The JSON form (what [`parse_rules`] reads).
    pub fn to_json(&self) -> Value {
        let th = |t: &Option<Threshold>| {
            t.as_ref()
                .map(|t| json!({"max": t.max, "window_minutes": t.window_minutes}))
        };
        json!({
            "bulk_reads": th(&self.bulk_reads),
            "off_hours": self.off_hours.as_ref().map(|o| json!({
                "time_zone": o.time_zone, "start_hour": o.start_hour,
                "end_hour": o.end_hour, "weekdays": o.weekdays,
            })),
            "baseline_spike": self.baseline_spike.as_ref().map(|s| json!({
                "factor": s.factor, "min_reads": s.min_reads,
            })),
            "denial_burst": th(&self.denial_burst),
            "webhook_url": self.webhook_url,
        })
    }
}

/// What the monitor remembers between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// The sequence number of the next audit event to read (events are numbered from 0).
    pub next_seq: u64,
    /// Per actor: times (ms) of recent reads, newest last.
    reads: BTreeMap<String, VecDeque<i64>>,
    /// Per actor: times (ms) of recent denials, newest last.
    denials: BTreeMap<String, VecDeque<i64>>,
    /// Per actor: reads per hour (hour index since the epoch), the last 8 days.
    hourly: BTreeMap<String, BTreeMap<i64, u32>>,
    /// Per rule and actor: until when (ms) it does not alert again.
    quiet: BTreeMap<String, i64>,
}

/// An alert raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The rule.
    pub rule: &'static str,
    /// Who (an audit actor string).
    pub actor: String,
    /// When the event that raised it happened.
    pub at: Timestamp,
    /// How many events it counts (in the window, or in the hour).
    pub count: u32,
    /// The sequence number of the event that raised it.
    pub seq: u64,
}

const HOUR_MS: i64 = 3_600_000;

fn window(q: &mut VecDeque<i64>, now: i64, minutes: u32, keep: usize) -> usize {
    let from = now - i64::from(minutes) * 60_000;
    while q.front().is_some_and(|t| *t <= from) {
        q.pop_front();
    }
    while q.len() > keep {
        q.pop_front();
    }
    q.len()
}

impl State {
    /// A fresh state that starts reading at `next_seq`.
    pub fn starting_at(next_seq: u64) -> Self {
        State {
            next_seq,
            ..State::default()
        }
    }

    fn quiet(&mut self, rule: &str, actor: &str, now: i64, minutes: i64) -> bool {
        let key = format!("{rule}\u{1f}{actor}");
        if self.quiet.get(&key).is_some_and(|until| *until > now) {
            return true;
        }
        self.quiet.insert(key, now + minutes * 60_000);
        false
    }

    /// Reads `events` (in order; those before [`State::next_seq`] are skipped) under `rules`
    /// and returns the alerts they raise.
    pub fn process(&mut self, rules: &Rules, events: &[AuditEvent]) -> Vec<Alert> {
        let mut out = Vec::new();
        for e in events {
            if e.seq < self.next_seq {
                continue;
            }
            self.next_seq = e.seq + 1;
            let d = &e.draft;
            let now = d.time.as_millisecond();
            let mut raise = |rule: &'static str, count: u32| {
                out.push(Alert {
                    rule,
                    actor: d.actor.clone(),
                    at: d.time,
                    count,
                    seq: e.seq,
                });
            };
            if d.decision == Decision::Deny {
                if let Some(t) = &rules.denial_burst {
                    let q = self.denials.entry(d.actor.clone()).or_default();
                    q.push_back(now);
                    let n = window(q, now, t.window_minutes, t.max as usize + 1);
                    if n > t.max as usize
                        && !self.quiet("denial_burst", &d.actor, now, i64::from(t.window_minutes))
                    {
                        raise("denial_burst", u32::try_from(n).unwrap_or(u32::MAX));
                    }
                }
                continue;
            }
            let read = matches!(d.action.as_str(), "data.reveal" | "data.mask")
                && d.actor.starts_with("operator:");
            if !read {
                continue;
            }
            if let Some(t) = &rules.bulk_reads {
                let q = self.reads.entry(d.actor.clone()).or_default();
                q.push_back(now);
                let n = window(q, now, t.window_minutes, t.max as usize + 1);
                if n > t.max as usize
                    && !self.quiet("bulk_reads", &d.actor, now, i64::from(t.window_minutes))
                {
                    raise("bulk_reads", u32::try_from(n).unwrap_or(u32::MAX));
                }
            }
            if let Some(w) = &rules.off_hours
                && let Ok(tz) = TimeZone::get(&w.time_zone)
            {
                let z = d.time.to_zoned(tz);
                let hour = u8::try_from(z.hour()).unwrap_or(0);
                let day = u8::try_from(z.weekday().to_monday_one_offset()).unwrap_or(1);
                let working =
                    w.weekdays.contains(&day) && hour >= w.start_hour && hour < w.end_hour;
                if !working && !self.quiet("off_hours", &d.actor, now, 60) {
                    raise("off_hours", 1);
                }
            }
            let hour = now.div_euclid(HOUR_MS);
            let counts = self.hourly.entry(d.actor.clone()).or_default();
            *counts.entry(hour).or_default() += 1;
            counts.retain(|h, _| *h > hour - 8 * 24);
            if let Some(s) = &rules.baseline_spike {
                let current = counts.get(&hour).copied().unwrap_or(0);
                let week: u32 = counts.range(hour - 7 * 24..hour).map(|(_, c)| *c).sum();
                let average = f64::from(week) / (7.0 * 24.0);
                if current >= s.min_reads
                    && f64::from(current) > s.factor * average
                    && !self.quiet("baseline_spike", &d.actor, now, 60)
                {
                    raise("baseline_spike", current);
                }
            }
        }
        out
    }

    /// The stored JSON form.
    pub fn to_json(&self) -> String {
        let deques = |m: &BTreeMap<String, VecDeque<i64>>| -> Value {
            m.iter()
                .filter(|(_, q)| !q.is_empty())
                .map(|(k, q)| (k.clone(), json!(q)))
                .collect::<Map<String, Value>>()
                .into()
        };
        json!({
            "next_seq": self.next_seq,
            "reads": deques(&self.reads),
            "denials": deques(&self.denials),
            "hourly": self.hourly.iter().map(|(k, h)| {
                (k.clone(), json!(h.iter().map(|(h, c)| json!([h, c])).collect::<Vec<_>>()))
            }).collect::<Map<String, Value>>(),
            "quiet": self.quiet,
        })
        .to_string()
    }

    /// Reads the stored JSON form.
    pub fn from_json(text: &str) -> Option<State> {
        let v: Value = serde_json::from_str(text).ok()?;
        let deques = |k: &str| -> Option<BTreeMap<String, VecDeque<i64>>> {
            v.get(k)?
                .as_object()?
                .iter()
                .map(|(a, q)| {
                    Some((
                        a.clone(),
                        q.as_array()?
                            .iter()
                            .map(Value::as_i64)
                            .collect::<Option<VecDeque<i64>>>()?,
                    ))
                })
                .collect()
        };
        Some(State {
            next_seq: v.get("next_seq")?.as_u64()?,
            reads: deques("reads")?,
            denials: deques("denials")?,
            hourly: v
                .get("hourly")?
                .as_object()?
                .iter()
                .map(|(a, h)| {
                    Some((
                        a.clone(),
                        h.as_array()?
                            .iter()
                            .map(|p| {
                                Some((
                                    p.get(0)?.as_i64()?,
                                    u32::try_from(p.get(1)?.as_u64()?).ok()?,
                                ))
                            })
                            .collect::<Option<BTreeMap<i64, u32>>>()?,
                    ))
                })
                .collect::<Option<_>>()?,
            quiet: v
                .get("quiet")?
                .as_object()?
                .iter()
                .map(|(k, t)| Some((k.clone(), t.as_i64()?)))
                .collect::<Option<_>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditDraft;

    fn ev(seq: u64, at: &str, actor: &str, action: &str, decision: Decision) -> AuditEvent {
        AuditEvent {
            seq,
            draft: AuditDraft::new(
                at.parse().unwrap(),
                "r",
                actor,
                action,
                "record:c/1",
                decision,
            ),
            leaf_hash: [0; 32],
            chain_hash: [0; 32],
        }
    }

    fn read(seq: u64, at: &str) -> AuditEvent {
        ev(seq, at, "operator:a", "data.reveal", Decision::Allow)
    }

    #[test]
    fn bulk_reads_alert_once_per_window() {
        let rules = Rules {
            bulk_reads: Some(Threshold {
                max: 3,
                window_minutes: 10,
            }),
            ..Rules::default()
        };
        let mut s = State::default();
        let evs: Vec<_> = (1..=6)
            .map(|i| read(i, &format!("2026-01-05T10:0{i}:00Z")))
            .collect();
        let alerts = s.process(&rules, &evs);
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            (alerts[0].rule, alerts[0].count, alerts[0].seq),
            ("bulk_reads", 4, 4)
        );
        // Read again: nothing is counted twice.
        assert!(s.process(&rules, &evs).is_empty());
        // Spread out, nobody alerts.
        let mut calm = State::default();
        let spread: Vec<_> = (1..=6)
            .map(|i| read(i, &format!("2026-01-05T1{i}:00:00Z")))
            .collect();
        assert!(calm.process(&rules, &spread).is_empty());
        let back = State::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn off_hours_denials_and_spikes() {
        let rules = Rules {
            off_hours: Some(WorkingHours {
                time_zone: "Europe/Paris".into(),
                start_hour: 8,
                end_hour: 19,
                weekdays: vec![1, 2, 3, 4, 5],
            }),
            baseline_spike: Some(Spike {
                factor: 5.0,
                min_reads: 4,
            }),
            denial_burst: Some(Threshold {
                max: 2,
                window_minutes: 5,
            }),
            ..Rules::default()
        };
        let mut s = State::default();
        // Monday 10:00 Paris: working hours. 22:30 Paris: not. Saturday: not.
        let a = s.process(&rules, &[read(1, "2026-01-05T09:00:00Z")]);
        assert!(a.is_empty());
        let a = s.process(
            &rules,
            &[
                read(2, "2026-01-05T21:30:00Z"),
                read(3, "2026-01-05T21:40:00Z"),
            ],
        );
        assert_eq!(a.iter().map(|a| a.rule).collect::<Vec<_>>(), ["off_hours"]);
        let a = s.process(&rules, &[read(4, "2026-01-10T10:00:00Z")]);
        assert_eq!(a[0].rule, "off_hours");
        // Four reads in an hour against a quiet week: a spike.
        let burst: Vec<_> = (0..4)
            .map(|i| read(10 + i, &format!("2026-01-12T10:0{i}:00Z")))
            .collect();
        let a = s.process(&rules, &burst);
        assert_eq!(
            a.iter().map(|a| a.rule).collect::<Vec<_>>(),
            ["baseline_spike"]
        );
        // Three refusals within five minutes.
        let denied: Vec<_> = (0..3)
            .map(|i| {
                ev(
                    20 + i,
                    &format!("2026-01-12T11:0{i}:00Z"),
                    "operator:b",
                    "data.read",
                    Decision::Deny,
                )
            })
            .collect();
        let a = s.process(&rules, &denied);
        assert_eq!(
            (a[0].rule, a[0].actor.as_str(), a[0].count),
            ("denial_burst", "operator:b", 3)
        );
    }

    #[test]
    fn rules_are_read_strictly() {
        let r = default_rules();
        assert_eq!(parse_rules(&r.to_json()), Ok(r));
        for (v, path) in [
            (
                json!({"bulk_reads": {"max": 0, "window_minutes": 5}}),
                "$.bulk_reads.max",
            ),
            (
                json!({"off_hours": {"time_zone": "Mars/Base", "start_hour": 8, "end_hour": 18}}),
                "$.off_hours.time_zone",
            ),
            (
                json!({"off_hours": {"time_zone": "UTC", "start_hour": 18, "end_hour": 8}}),
                "$.off_hours.end_hour",
            ),
            (
                json!({"baseline_spike": {"factor": 0.5, "min_reads": 3}}),
                "$.baseline_spike.factor",
            ),
            (
                json!({"webhook_url": "http://example.com/hook"}),
                "$.webhook_url",
            ),
            (json!({"loud": true}), "$.loud"),
        ] {
            assert_eq!(
                parse_rules(&v).map_err(|e| e.path),
                Err(path.to_owned()),
                "{v}"
            );
        }
    }
}
