//! Proposals to the data map from a scan of a connected database: "column `c7` of table
//! `customers` in dataset `shop` holds `user.contact.email`, confidence 0.97". A proposal
//! changes nothing until a DPO accepts it; accepting writes the category into the dataset's
//! declaration ([`with_category`]) in the same transaction that marks the proposal accepted.
//! A proposal holds the evidence (how many sampled values matched, which name hint), never a
//! value.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProposalStatus {
    /// Waiting for a decision.
    Pending,
    /// Accepted: the category was written into the dataset declaration.
    Accepted,
    /// Rejected: the same category is not proposed again for that column.
    Rejected,
}

impl ProposalStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::Pending => "pending",
            ProposalStatus::Accepted => "accepted",
            ProposalStatus::Rejected => "rejected",
        }
    }

    /// Parses [`ProposalStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Accepted, Self::Rejected]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A proposed data category for one column of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanProposal {
    /// A random id.
    pub id: String,
    /// The dataset key (its connection is a server setting).
    pub dataset: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The data category proposed (a taxonomy key).
    pub category: String,
    /// The detector kind its values matched, if they did.
    pub kind: Option<String>,
    /// The classifier's confidence, in `0..=1`.
    pub confidence: f32,
    /// The column-name hint that matched, if any.
    pub hint: Option<String>,
    /// Non-empty values sampled.
    pub sampled: u32,
    /// Sampled values in which `kind` was found.
    pub matched: u32,
    /// Whether `kind` was found inside longer text.
    pub embedded: bool,
    /// Where it stands.
    pub status: ProposalStatus,
    /// When the scan proposed it.
    pub created_at: Timestamp,
    /// Who ran the scan (`operator:<id>` or `cli`).
    pub created_by: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<Timestamp>,
}

fn named<'a>(
    list: &'a mut Vec<Value>,
    name: &str,
    new: Value,
) -> Option<&'a mut Map<String, Value>> {
    let i = match list
        .iter()
        .position(|v| v.get("name").and_then(Value::as_str) == Some(name))
    {
        Some(i) => i,
        None => {
            list.push(new);
            list.len() - 1
        }
    };
    list.get_mut(i)?.as_object_mut()
}

fn array<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let v = m.entry(key).or_insert_with(|| json!([]));
    // The dataset reader takes a null list as an empty one.
    if v.is_null() {
        *v = json!([]);
    }
    v.as_array_mut()
}

/// The dataset declaration (`{"dataset": [ … ]}` holding one dataset, as stored) with
/// `category` added to the field `table.column`, the table and field added when they are
/// not declared yet, and a new declaration when there is none. `None` when the declaration
/// given is not of that shape. The caller parses the result against the taxonomy before
/// storing it.
pub fn with_category(
    declaration: Option<&Value>,
    dataset: &str,
    table: &str,
    column: &str,
    category: &str,
) -> Option<Value> {
    let mut doc = declaration
        .cloned()
        .unwrap_or_else(|| json!({ "dataset": [{ "fides_key": dataset, "collections": [] }] }));
    let datasets = array(doc.as_object_mut()?, "dataset")?;
    if datasets.is_empty() {
        datasets.push(json!({ "fides_key": dataset, "collections": [] }));
    }
    let collections = array(datasets.get_mut(0)?.as_object_mut()?, "collections")?;
    let c = named(collections, table, json!({ "name": table, "fields": [] }))?;
    let f = named(array(c, "fields")?, column, json!({ "name": column }))?;
    let cats = array(f, "data_categories")?;
    if !cats.iter().any(|c| c.as_str() == Some(category)) {
        cats.push(Value::String(category.to_owned()));
    }
    Some(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::dataset::parse;

    #[test]
    fn a_category_lands_in_a_new_or_existing_declaration() {
        let fresh = with_category(None, "shop", "customers", "c7", "user.contact.email").unwrap();
        let ds = parse(&fresh).unwrap();
        assert_eq!(ds[0].key, "shop");
        let f = &ds[0].collections[0].fields[0];
        assert_eq!(
            (f.name.as_str(), f.categories.clone()),
            ("c7", vec!["user.contact.email".to_owned()])
        );

        // A second column of the same table, then a second category of the first column.
        let two = with_category(
            Some(&fresh),
            "shop",
            "customers",
            "c9",
            "user.contact.phone_number",
        )
        .unwrap();
        let three = with_category(Some(&two), "shop", "customers", "c7", "user.name").unwrap();
        let again = with_category(Some(&three), "shop", "customers", "c7", "user.name").unwrap();
        assert_eq!(three, again, "adding a category twice changes nothing");
        let ds = parse(&three).unwrap();
        let c = &ds[0].collections[0];
        assert_eq!(c.fields.len(), 2);
        assert_eq!(c.fields[0].categories, ["user.contact.email", "user.name"]);

        // What was declared stays as it was.
        let declared = json!({ "dataset": [{ "fides_key": "shop", "name": "Shop", "collections": [
            { "name": "orders", "fields": [{ "name": "id", "fides_meta": { "primary_key": true } }] }
        ]}]});
        let out = with_category(
            Some(&declared),
            "shop",
            "customers",
            "email",
            "user.contact.email",
        )
        .unwrap();
        assert!(with_category(Some(&json!([])), "shop", "t", "c", "user").is_none());
        let nulls = json!({ "dataset": [{ "fides_key": "shop", "collections": [
            { "name": "t", "fields": [{ "name": "c", "data_categories": null }] }
        ]}]});
        let filled = with_category(Some(&nulls), "shop", "t", "c", "user.name").unwrap();
        assert_eq!(
            filled["dataset"][0]["collections"][0]["fields"][0]["data_categories"],
            json!(["user.name"])
        );
        assert_eq!(out["dataset"][0]["name"], "Shop");
        assert_eq!(
            out["dataset"][0]["collections"][0],
            declared["dataset"][0]["collections"][0]
        );
        assert_eq!(parse(&out).unwrap()[0].collections.len(), 2);
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            ProposalStatus::Pending,
            ProposalStatus::Accepted,
            ProposalStatus::Rejected,
        ] {
            assert_eq!(ProposalStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(ProposalStatus::parse("maybe"), None);
    }
}
