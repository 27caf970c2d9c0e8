//! Authorization with Cedar: the schema of Custodian's principals, actions and resources, the
//! shipped default policy set, validation on save, evaluation and explanation.
//!
//! Architecture invariant: Cedar types stay inside this crate; the rest of the code sees the
//! core's [`PolicyEngine`] port and [`PolicyDecision`].

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use custodian_core::access::{AccessRequest, PolicyDecision, PolicyEngine, Resource};
use custodian_core::jiff::tz::TimeZone;

/// The Cedar schema, in Cedar's schema syntax.
pub const SCHEMA: &str = include_str!("schema.cedarschema");
/// The policy set a new installation starts with.
pub const DEFAULT_POLICIES: &str = include_str!("default.cedar");
/// The longest policy text accepted.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Why a policy set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the policy set is invalid")]
pub struct InvalidPolicies {
    /// Cedar's diagnostics, one per problem.
    pub diagnostics: Vec<String>,
}

/// The schema failed to load: a build defect, not a user error.
#[derive(Debug, thiserror::Error)]
#[error("the built-in Cedar schema does not parse: {0}")]
pub struct SchemaError(String);

struct Loaded {
    version: i64,
    policies: PolicySet,
}

/// The Cedar-backed policy engine: the schema and the current policy set.
pub struct CedarEngine {
    schema: Schema,
    current: RwLock<Arc<Loaded>>,
    authorizer: Authorizer,
    cache: Mutex<DecisionCache>,
}

/// Decisions already made under one policy-set version. A decision is a pure function of the
/// policy set and the request (the entities are built from the request alone, the time enters
/// only as hour and weekday), so a repeated request can reuse it.
#[derive(Default)]
struct DecisionCache {
    version: i64,
    decisions: HashMap<String, PolicyDecision>,
}

/// The most decisions kept; the cache starts over when full.
const CACHE_MAX: usize = 50_000;

/// Everything a decision depends on, as one string: the principal's id, role and training,
/// the action, the resource (its kind and names), the purpose (`=` and the purpose, or NUL
/// without one), and the hour and weekday in UTC, joined by U+001F (which no id, name, key or
/// purpose may contain). Built in one allocation of the right size: a cached decision costs
/// little more than this key's hash.
fn cache_key(req: &AccessRequest) -> String {
    const SEP: &str = "\u{1f}";
    let zoned = req.time.to_zoned(TimeZone::UTC);
    let (hour, weekday) = (zoned.hour(), zoned.weekday().to_monday_one_offset());
    let resource: [&str; 5] = match &req.resource {
        Resource::AuditLog => ["audit_log", "", "", "", ""],
        Resource::PolicySet => ["policies", "", "", "", ""],
        Resource::Operators => ["operators", "", "", "", ""],
        Resource::Subjects => ["subjects", "", "", "", ""],
        Resource::Consent => ["consent", "", "", "", ""],
        Resource::Rights => ["rights", "", "", "", ""],
        Resource::DataMap => ["map", "", "", "", ""],
        Resource::Compliance => ["compliance", "", "", "", ""],
        Resource::Collection { name } => ["collection", name, "", "", ""],
        Resource::Field {
            collection,
            field,
            category,
            sensitivity,
        } => ["field", collection, field, category, sensitivity],
    };
    // The resource's kind, then each of its names after a separator.
    let names = match &req.resource {
        Resource::Collection { .. } => 1,
        Resource::Field { .. } => 4,
        _ => 0,
    };
    let purpose = req.purpose.as_deref();
    let training = if req.principal.training_current {
        "true"
    } else {
        "false"
    };
    let len = req.principal.operator_id.len()
        + req.principal.role.as_str().len()
        + training.len()
        + req.action.as_str().len()
        + resource[0].len()
        + resource[1..=names]
            .iter()
            .map(|r| SEP.len() + r.len())
            .sum::<usize>()
        + purpose.map_or(1, |p| p.len() + 1)
        + if hour >= 10 { 2 } else { 1 }
        + 1
        + 7 * SEP.len();
    let mut key = String::with_capacity(len);
    for part in [
        req.principal.operator_id.as_str(),
        req.principal.role.as_str(),
        training,
        req.action.as_str(),
    ] {
        key.push_str(part);
        key.push_str(SEP);
    }
    key.push_str(resource[0]);
    for name in &resource[1..=names] {
        key.push_str(SEP);
        key.push_str(name);
    }
    key.push_str(SEP);
    match purpose {
        Some(p) => {
            key.push('=');
            key.push_str(p);
        }
        None => key.push('\u{0}'),
    }
    key.push_str(SEP);
    if hour >= 10 {
        key.push(char::from(b'0' + (hour / 10).unsigned_abs()));
    }
    key.push(char::from(b'0' + (hour % 10).unsigned_abs()));
    key.push_str(SEP);
    key.push(char::from(b'0' + weekday.unsigned_abs()));
    key
}

fn type_name(name: &str) -> EntityTypeName {
    // INVARIANT: every name passed here is a literal type of SCHEMA, which parses.
    EntityTypeName::from_str(name).unwrap_or_else(|_| unreachable_type(name))
}

#[allow(clippy::panic)]
fn unreachable_type(name: &str) -> EntityTypeName {
    panic!("built-in entity type {name} does not parse")
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(ty), EntityId::new(id))
}

impl CedarEngine {
    /// An engine with the built-in schema and the given policies (version `version`).
    pub fn new(policies: &str, version: i64) -> Result<Self, EngineInitError> {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA)
            .map_err(|e| EngineInitError::Schema(SchemaError(e.to_string())))?;
        let set = compile_with(&schema, policies).map_err(EngineInitError::Policies)?;
        Ok(Self {
            schema,
            current: RwLock::new(Arc::new(Loaded {
                version,
                policies: set,
            })),
            authorizer: Authorizer::new(),
            cache: Mutex::new(DecisionCache::default()),
        })
    }

    /// Validates a policy text against the schema, as a save would.
    pub fn compile(&self, text: &str) -> Result<(), InvalidPolicies> {
        compile_with(&self.schema, text).map(|_| ())
    }

    /// Replaces the policy set (after validation) if `version` is newer than the loaded one;
    /// the old set stays if the new one is invalid or older (concurrent saves may arrive out
    /// of order).
    pub fn replace(&self, text: &str, version: i64) -> Result<(), InvalidPolicies> {
        let set = compile_with(&self.schema, text)?;
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        if version <= cur.version {
            return Ok(());
        }
        *cur = Arc::new(Loaded {
            version,
            policies: set,
        });
        Ok(())
    }

    /// The version of the loaded policy set.
    pub fn version(&self) -> i64 {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .version
    }

    /// Decides a request and names the determining policies by their `@id` annotation.
    pub fn explain(&self, req: &AccessRequest) -> PolicyDecision {
        let loaded = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        self.evaluate(&loaded, req)
    }

    fn evaluate(&self, loaded: &Loaded, req: &AccessRequest) -> PolicyDecision {
        let (request, entities) = match self.build(req) {
            Ok(x) => x,
            Err(e) => {
                return PolicyDecision {
                    allowed: false,
                    policies: vec![],
                    errors: vec![e],
                };
            }
        };
        let resp = self
            .authorizer
            .is_authorized(&request, &loaded.policies, &entities);
        let mut policies: Vec<String> = resp
            .diagnostics()
            .reason()
            .map(|id| {
                loaded
                    .policies
                    .annotation(id, "id")
                    .map(str::to_owned)
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        policies.sort();
        PolicyDecision {
            allowed: resp.decision() == Decision::Allow,
            policies,
            errors: resp.diagnostics().errors().map(|e| e.to_string()).collect(),
        }
    }

    fn build(&self, req: &AccessRequest) -> Result<(Request, Entities), String> {
        let p = &req.principal;
        let role = uid("Custodian::Role", p.role.as_str());
        let principal = uid("Custodian::Operator", &p.operator_id);
        let mut entities = vec![
            Entity::new_no_attrs(role.clone(), HashSet::new()),
            Entity::new(
                principal.clone(),
                HashMap::from([
                    (
                        "role".to_owned(),
                        RestrictedExpression::new_string(p.role.as_str().to_owned()),
                    ),
                    (
                        "training_current".to_owned(),
                        RestrictedExpression::new_bool(p.training_current),
                    ),
                ]),
                HashSet::from([role]),
            )
            .map_err(|e| e.to_string())?,
        ];
        let resource = match &req.resource {
            Resource::AuditLog => uid("Custodian::AuditLog", "audit_log"),
            Resource::PolicySet => uid("Custodian::PolicySet", "policies"),
            Resource::Operators => uid("Custodian::OperatorDirectory", "operators"),
            Resource::Collection { name } => {
                let coll = uid("Custodian::Collection", name);
                entities.push(Entity::new_no_attrs(coll.clone(), HashSet::new()));
                coll
            }
            Resource::Subjects => uid("Custodian::SubjectRegister", "subjects"),
            Resource::Consent => uid("Custodian::ConsentLedger", "consent"),
            Resource::Rights => uid("Custodian::RightsRegister", "rights"),
            Resource::DataMap => uid("Custodian::DataMap", "map"),
            Resource::Compliance => uid("Custodian::ComplianceRegister", "compliance"),
            Resource::Field {
                collection,
                field,
                category,
                sensitivity,
            } => {
                let coll = uid("Custodian::Collection", collection);
                entities.push(Entity::new_no_attrs(coll.clone(), HashSet::new()));
                // The category and each of its ancestors, "a.b.c" in "a.b" in "a".
                let parts: Vec<&str> = category.split('.').collect();
                for i in (1..=parts.len()).rev() {
                    let key = parts[..i].join(".");
                    let parents = if i > 1 {
                        HashSet::from([uid("Custodian::DataCategory", &parts[..i - 1].join("."))])
                    } else {
                        HashSet::new()
                    };
                    entities.push(Entity::new_no_attrs(
                        uid("Custodian::DataCategory", &key),
                        parents,
                    ));
                }
                let f = uid("Custodian::Field", &format!("{collection}.{field}"));
                entities.push(
                    Entity::new(
                        f.clone(),
                        HashMap::from([
                            (
                                "collection".to_owned(),
                                RestrictedExpression::new_string(collection.clone()),
                            ),
                            (
                                "name".to_owned(),
                                RestrictedExpression::new_string(field.clone()),
                            ),
                            (
                                "category".to_owned(),
                                RestrictedExpression::new_string(category.clone()),
                            ),
                            (
                                "sensitivity".to_owned(),
                                RestrictedExpression::new_string(sensitivity.clone()),
                            ),
                        ]),
                        HashSet::from([coll, uid("Custodian::DataCategory", category)]),
                    )
                    .map_err(|e| e.to_string())?,
                );
                f
            }
        };
        let zoned = req.time.to_zoned(TimeZone::UTC);
        let context = Context::from_pairs([
            (
                "purpose".to_owned(),
                RestrictedExpression::new_string(req.purpose.clone().unwrap_or_default()),
            ),
            (
                "hour".to_owned(),
                RestrictedExpression::new_long(i64::from(zoned.hour())),
            ),
            (
                "weekday".to_owned(),
                RestrictedExpression::new_long(i64::from(zoned.weekday().to_monday_one_offset())),
            ),
        ])
        .map_err(|e| e.to_string())?;
        let action = uid("Custodian::Action", req.action.as_str());
        let request = Request::new(principal, action, resource, context, Some(&self.schema))
            .map_err(|e| e.to_string())?;
        let entities =
            Entities::from_entities(entities, Some(&self.schema)).map_err(|e| e.to_string())?;
        Ok((request, entities))
    }
}

impl PolicyEngine for CedarEngine {
    fn decide(&self, request: &AccessRequest) -> PolicyDecision {
        let loaded = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let key = cache_key(request);
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.version == loaded.version
                && let Some(d) = cache.decisions.get(&key)
            {
                return d.clone();
            }
        }
        let decision = self.evaluate(&loaded, request);
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.version != loaded.version {
            if cache.version > loaded.version {
                // A newer set was loaded meanwhile: do not keep a decision of the older one.
                return decision;
            }
            cache.version = loaded.version;
            cache.decisions.clear();
        }
        if cache.decisions.len() >= CACHE_MAX {
            cache.decisions.clear();
        }
        cache.decisions.insert(key, decision.clone());
        decision
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineInitError {
    /// The built-in schema is broken.
    #[error(transparent)]
    Schema(SchemaError),
    /// The stored policy set does not validate.
    #[error(transparent)]
    Policies(InvalidPolicies),
}

fn compile_with(schema: &Schema, text: &str) -> Result<PolicySet, InvalidPolicies> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(InvalidPolicies {
            diagnostics: vec![format!(
                "the policy set is larger than {MAX_POLICY_BYTES} bytes"
            )],
        });
    }
    let set = PolicySet::from_str(text).map_err(|e| InvalidPolicies {
        diagnostics: e.errors_as_strings(),
    })?;
    let result = Validator::new(schema.clone()).validate(&set, ValidationMode::Strict);
    if !result.validation_passed() {
        return Err(InvalidPolicies {
            diagnostics: result.validation_errors().map(|e| e.to_string()).collect(),
        });
    }
    Ok(set)
}

trait ParseErrorsExt {
    fn errors_as_strings(&self) -> Vec<String>;
}

impl ParseErrorsExt for cedar_policy::ParseErrors {
    fn errors_as_strings(&self) -> Vec<String> {
        self.iter().map(|e| e.to_string()).collect()
    }
}

#[cfg(test)]
mod tests;
