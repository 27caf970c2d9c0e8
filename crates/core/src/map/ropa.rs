//! The records of processing activities (GDPR Art. 30), generated from the data map: one
//! controller record per privacy declaration of every system (Art. 30(1) (a)–(g)) and one
//! processor record per system that processes on others' behalf (Art. 30(2) (a)–(d)).

use std::fmt::Write as _;

use super::{Contact, DataMap, Declaration, Organization, System, Transfer};
use crate::retention::Rule;
use crate::rights::export::{ExportDisclosure, csv_row, html};
use crate::taxonomy::{self, Kind};

/// One processing activity of the controller (Art. 30(1)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The system's key.
    pub system: String,
    /// The system's name (its key if it has none).
    pub system_name: String,
    /// The declaration's name (its data use if it has none).
    pub name: String,
    /// (b) the purpose: a data-use key.
    pub purpose: String,
    /// The purpose's name in the taxonomy.
    pub purpose_name: Option<String>,
    /// The Art. 6 basis.
    pub legal_basis: Option<String>,
    /// The Art. 9 condition.
    pub special_category_basis: Option<String>,
    /// (c) categories of data subjects.
    pub data_subjects: Vec<String>,
    /// (c) categories of personal data.
    pub data_categories: Vec<String>,
    /// (d) recipients: third parties, recipients and processors.
    pub recipients: Vec<String>,
    /// (e) transfers to third countries, with their mechanism and safeguards.
    pub transfers: Vec<String>,
    /// (f) time limits for erasure, per data category.
    pub retention: Vec<String>,
    /// (g) technical and organisational measures.
    pub security_measures: Option<String>,
    /// (a) joint controllers.
    pub joint_controllers: Option<String>,
    /// The datasets it uses.
    pub datasets: Vec<String>,
    /// The system's owner or department.
    pub owner: Option<String>,
}

/// One processor record (Art. 30(2)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorActivity {
    /// The system's key.
    pub system: String,
    /// (a) the processor: the system's legal name, else its name.
    pub processor: String,
    /// (a) its privacy contact or DPO.
    pub dpo: Option<String>,
    /// (a) the controllers it acts for.
    pub controllers: Vec<String>,
    /// (b) categories of processing: the data uses.
    pub processing: Vec<String>,
    /// (c) transfers.
    pub transfers: Vec<String>,
    /// (d) measures.
    pub security_measures: Option<String>,
}

/// The records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ropa {
    /// (a) the controller.
    pub controller: Option<Organization>,
    /// Controller records.
    pub activities: Vec<Activity>,
    /// Processor records.
    pub processor_activities: Vec<ProcessorActivity>,
}

fn contact_line(c: &Contact) -> String {
    [&c.name, &c.address, &c.email, &c.phone]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// A transfer, as the record states it.
pub fn transfer_line(t: &Transfer) -> String {
    let mut s = t.destination.clone();
    if let Some(r) = &t.recipient {
        let _ = write!(s, " to {r}");
    }
    let _ = write!(
        s,
        " ({})",
        t.mechanism.map_or("no mechanism declared", |m| m.as_str())
    );
    if let Some(g) = &t.safeguards {
        let _ = write!(s, "; safeguards: {g}");
    }
    s
}

/// A retention rule, as the record states it.
pub fn rule_line(r: &Rule) -> String {
    format!(
        "{} after {}, then {} (rule {})",
        r.period,
        r.trigger.as_str().replace('_', " "),
        r.action.as_str().replace('_', "-"),
        r.key
    )
}

/// The rules that bind a category for a use: those covering the category whose uses are
/// empty (every use) or cover the use.
pub fn rules_for<'a>(
    rules: &'a [Rule],
    category: &'a str,
    data_use: &'a str,
) -> impl Iterator<Item = &'a Rule> + 'a {
    rules.iter().filter(move |r| {
        r.covers(category)
            && (r.data_uses.is_empty() || r.data_uses.iter().any(|u| taxonomy::covers(u, data_use)))
    })
}

fn retention(d: &Declaration, rules: &[Rule]) -> Vec<String> {
    d.data_categories
        .iter()
        .map(|c| {
            let bound: Vec<String> = rules_for(rules, c, &d.data_use).map(rule_line).collect();
            let what = if !bound.is_empty() {
                bound.join("; ")
            } else if let Some(p) = &d.retention_period {
                format!("{p} (declared, not enforced)")
            } else {
                "no retention rule".to_owned()
            };
            format!("{c}: {what}")
        })
        .collect()
}

fn recipients(s: &System, d: &Declaration) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if d.shared_with_third_parties {
        out.push(
            d.third_parties
                .clone()
                .unwrap_or_else(|| "third parties (not named)".into()),
        );
    }
    for r in s
        .recipients
        .iter()
        .map(String::clone)
        .chain(s.processors.iter().map(|p| format!("{p} (processor)")))
    {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Generates the records from the map.
pub fn build(map: &DataMap) -> Ropa {
    let mut activities = Vec::new();
    let mut processor_activities = Vec::new();
    let mut systems: Vec<&System> = map.systems.iter().collect();
    systems.sort_by(|a, b| a.key.cmp(&b.key));
    for s in systems {
        let transfers: Vec<String> = s.transfers.iter().map(transfer_line).collect();
        if s.is_processor() {
            let mut processing: Vec<String> =
                s.declarations.iter().map(|d| d.data_use.clone()).collect();
            processing.dedup();
            processor_activities.push(ProcessorActivity {
                system: s.key.clone(),
                processor: s
                    .legal_name
                    .clone()
                    .or_else(|| s.name.clone())
                    .unwrap_or_else(|| s.key.clone()),
                dpo: s.dpo.clone(),
                controllers: s.controllers.clone(),
                processing,
                transfers: transfers.clone(),
                security_measures: s.data_security_practices.clone(),
            });
            if !s
                .responsibility
                .contains(&super::Responsibility::Controller)
            {
                continue;
            }
        }
        for d in &s.declarations {
            activities.push(Activity {
                system: s.key.clone(),
                system_name: s.name.clone().unwrap_or_else(|| s.key.clone()),
                name: d.name.clone().unwrap_or_else(|| d.data_use.clone()),
                purpose: d.data_use.clone(),
                purpose_name: map.taxonomy.name(Kind::DataUse, &d.data_use),
                legal_basis: d.legal_basis.map(|b| b.as_str().to_owned()),
                special_category_basis: d.special_category_legal_basis.clone(),
                data_subjects: d.data_subjects.clone(),
                data_categories: d.data_categories.clone(),
                recipients: recipients(s, d),
                transfers: transfers.clone(),
                retention: retention(d, &map.retention_rules),
                security_measures: s.data_security_practices.clone(),
                joint_controllers: s.joint_controller_info.clone(),
                datasets: d
                    .dataset_references
                    .iter()
                    .chain(&s.dataset_references)
                    .fold(Vec::new(), |mut v, k| {
                        if !v.contains(k) {
                            v.push(k.clone());
                        }
                        v
                    }),
                owner: s.owner.clone().or_else(|| s.department.clone()),
            });
        }
    }
    Ropa {
        controller: map.organizations.first().cloned(),
        activities,
        processor_activities,
    }
}

/// The controller's contact line (name, address, email, phone).
pub fn controller_line(r: &Ropa) -> String {
    r.controller
        .as_ref()
        .map(|o| {
            o.controller
                .as_ref()
                .map(contact_line)
                .filter(|s| !s.is_empty())
                .or_else(|| o.name.clone())
                .unwrap_or_else(|| o.key.clone())
        })
        .unwrap_or_else(|| "no organization declared".into())
}

/// The DPO's and representative's contact lines.
pub fn officers(r: &Ropa) -> (Option<String>, Option<String>) {
    let o = r.controller.as_ref();
    (
        o.and_then(|o| o.dpo.as_ref()).map(contact_line),
        o.and_then(|o| o.representative.as_ref()).map(contact_line),
    )
}

/// The columns of the CSV's controller records.
pub const CSV_HEADER: [&str; 16] = [
    "record",
    "controller",
    "system",
    "activity",
    "purpose",
    "legal_basis",
    "special_category_basis",
    "data_subjects",
    "data_categories",
    "recipients",
    "transfers",
    "retention",
    "security_measures",
    "joint_controllers",
    "datasets",
    "owner",
];

/// The records as CSV: one line per controller activity (`record` = `controller`), then one
/// per processor record (`record` = `processor`; controllers in `controller`, categories of
/// processing in `purpose`). Lists are joined with ` | `.
pub fn csv(r: &Ropa) -> String {
    let j = |v: &[String]| v.join(" | ");
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut out = csv_row(&CSV_HEADER.map(str::to_owned));
    let controller = controller_line(r);
    for a in &r.activities {
        out.push_str(&csv_row(&[
            "controller".into(),
            controller.clone(),
            a.system.clone(),
            a.name.clone(),
            a.purpose.clone(),
            o(&a.legal_basis),
            o(&a.special_category_basis),
            j(&a.data_subjects),
            j(&a.data_categories),
            j(&a.recipients),
            j(&a.transfers),
            j(&a.retention),
            o(&a.security_measures),
            o(&a.joint_controllers),
            j(&a.datasets),
            o(&a.owner),
        ]));
    }
    for p in &r.processor_activities {
        let mut row = vec![String::new(); CSV_HEADER.len()];
        row[0] = "processor".into();
        row[1] = j(&p.controllers);
        row[2] = p.system.clone();
        row[3] = p.processor.clone();
        row[4] = j(&p.processing);
        row[10] = j(&p.transfers);
        row[12] = o(&p.security_measures);
        out.push_str(&csv_row(&row));
    }
    out
}

fn cell_list(v: &[String]) -> String {
    if v.is_empty() {
        return "<td>—</td>".into();
    }
    let items: String = v.iter().map(|s| format!("<li>{}</li>", html(s))).collect();
    format!("<td><ul>{items}</ul></td>")
}

fn cell(v: Option<&str>) -> String {
    format!("<td>{}</td>", v.map_or_else(|| "—".to_owned(), html))
}

/// The records as one self-contained HTML page (every value escaped).
pub fn html_page(r: &Ropa, generated: &str) -> String {
    let (dpo, rep) = officers(r);
    let mut s = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Records of processing activities</title><style>\
         body{font-family:system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;\
         width:100%;margin-bottom:2rem}th,td{border:1px solid #999;padding:.3rem;\
         vertical-align:top;text-align:left}ul{margin:0;padding-left:1rem}</style></head><body>\
         <h1>Records of processing activities (GDPR Art. 30)</h1>",
    );
    let _ = write!(
        s,
        "<p>Generated {}.</p><h2>Controller (Art. 30(1)(a))</h2><table><tr><th>Controller</th>{}</tr>\
         <tr><th>Data protection officer</th>{}</tr><tr><th>Representative</th>{}</tr></table>",
        html(generated),
        cell(Some(&controller_line(r))),
        cell(dpo.as_deref()),
        cell(rep.as_deref()),
    );
    s.push_str(
        "<h2>Processing activities (Art. 30(1))</h2><table><tr><th>System</th><th>Activity</th>\
         <th>Purpose (b)</th><th>Legal basis</th><th>Data subjects (c)</th>\
         <th>Personal data (c)</th><th>Recipients (d)</th><th>Transfers (e)</th>\
         <th>Erasure time limits (f)</th><th>Security measures (g)</th>\
         <th>Joint controllers</th></tr>",
    );
    for a in &r.activities {
        let basis = match (&a.legal_basis, &a.special_category_basis) {
            (Some(b), Some(c)) => Some(format!("{b}; Art. 9: {c}")),
            (Some(b), None) => Some(b.clone()),
            (None, Some(c)) => Some(format!("Art. 9: {c}")),
            (None, None) => None,
        };
        let purpose = match &a.purpose_name {
            Some(n) => format!("{} ({n})", a.purpose),
            None => a.purpose.clone(),
        };
        let _ = write!(
            s,
            "<tr>{}{}{}{}{}{}{}{}{}{}{}</tr>",
            cell(Some(&a.system_name)),
            cell(Some(&a.name)),
            cell(Some(&purpose)),
            cell(basis.as_deref()),
            cell_list(&a.data_subjects),
            cell_list(&a.data_categories),
            cell_list(&a.recipients),
            cell_list(&a.transfers),
            cell_list(&a.retention),
            cell(a.security_measures.as_deref()),
            cell(a.joint_controllers.as_deref()),
        );
    }
    s.push_str("</table>");
    if !r.processor_activities.is_empty() {
        s.push_str(
            "<h2>As a processor (Art. 30(2))</h2><table><tr><th>Processor (a)</th>\
             <th>Contact</th><th>Controllers (a)</th><th>Processing (b)</th>\
             <th>Transfers (c)</th><th>Security measures (d)</th></tr>",
        );
        for p in &r.processor_activities {
            let _ = write!(
                s,
                "<tr>{}{}{}{}{}{}</tr>",
                cell(Some(&p.processor)),
                cell(p.dpo.as_deref()),
                cell_list(&p.controllers),
                cell_list(&p.processing),
                cell_list(&p.transfers),
                cell(p.security_measures.as_deref()),
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</body></html>\n");
    s
}

/// What the map says of each of `categories` (a data subject's): who receives it, where it is
/// sent and how long it is kept, from every declaration whose categories cover it and the
/// retention rules that bind it for those uses (any use when no declaration covers it).
pub fn disclosures(map: &DataMap, categories: &[String]) -> Vec<ExportDisclosure> {
    fn add(v: &mut Vec<String>, x: String) {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    categories
        .iter()
        .map(|c| {
            let mut d = ExportDisclosure {
                category: c.clone(),
                recipients: Vec::new(),
                transfers: Vec::new(),
                retention: Vec::new(),
            };
            let mut declared = false;
            for s in &map.systems {
                for decl in &s.declarations {
                    if !decl
                        .data_categories
                        .iter()
                        .any(|dc| taxonomy::covers(dc, c))
                    {
                        continue;
                    }
                    declared = true;
                    for r in recipients(s, decl) {
                        add(&mut d.recipients, r);
                    }
                    for t in &s.transfers {
                        add(&mut d.transfers, transfer_line(t));
                    }
                    for r in rules_for(&map.retention_rules, c, &decl.data_use) {
                        add(&mut d.retention, rule_line(r));
                    }
                }
            }
            if !declared {
                for r in map.retention_rules.iter().filter(|r| r.covers(c)) {
                    add(&mut d.retention, rule_line(r));
                }
            }
            d
        })
        .collect()
}
