//! The Data Rights Protocol 1.0 as a Covered Business: who the authorized agents are (the
//! business's copy of the service directory), and the status callbacks pushed to them.
//! The endpoints are in `routes::drp`; the messages and statuses in `custodian_core::rights::drp`.

use std::time::Duration;

use custodian_core::consent::outbox::valid_webhook_url;
use custodian_core::rights::drp::status_of;
use custodian_core::rights::request::RightsRequest;
use custodian_crypto::drp::VerifyKey;
use serde::Deserialize;

use crate::state::AppState;

/// An authorized agent the business accepts requests from (the directory's agent object:
/// fields beyond these are allowed and ignored).
#[derive(Debug, Clone)]
pub struct DrpAgent {
    /// The agent's id (`agent-id`).
    pub id: String,
    /// Its name (shown to operators as the requester's agent).
    pub name: String,
    /// Its verify key.
    pub verify_key: VerifyKey,
}

/// The DRP settings: our business id, the agents, where users verify their identity.
#[derive(Debug, Clone)]
pub struct DrpConfig {
    /// Our `business-id` in the directory.
    pub business_id: String,
    /// The agents that may pair with us.
    pub agents: Vec<DrpAgent>,
    /// The page where a user enters the code emailed to them (the DRP request id is appended
    /// as a path segment); none: the status names no URL and the code email stands alone.
    pub verification_url: Option<String>,
    /// The jurisdiction whose deadlines apply to requests with no `regime` (voluntary ones).
    pub voluntary_jurisdiction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    business_id: String,
    agents: Vec<AgentShape>,
    #[serde(default)]
    verification_url: Option<String>,
    #[serde(default = "default_voluntary")]
    voluntary_jurisdiction: String,
}

fn default_voluntary() -> String {
    "CCPA".to_owned()
}

#[derive(Deserialize)]
struct AgentShape {
    id: String,
    #[serde(default)]
    name: Option<String>,
    verify_key: String,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl DrpConfig {
    /// Reads the settings file (JSON): `business_id`, `agents` (directory agent objects:
    /// `id`, `name`, `verify_key` in base64 or hex), optional `verification_url` and
    /// `voluntary_jurisdiction` (default `CCPA`). Says what is wrong, naming no key.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let f: FileShape = serde_json::from_str(text).map_err(|e| format!("DRP settings: {e}"))?;
        if !valid_id(&f.business_id) {
            return Err("DRP settings: business_id must be 1-100 letters, digits, _ - .".into());
        }
        let mut agents: Vec<DrpAgent> = Vec::new();
        for a in f.agents {
            if !valid_id(&a.id) {
                return Err(
                    "DRP settings: an agent id must be 1-100 letters, digits, _ - .".into(),
                );
            }
            if agents.iter().any(|x| x.id == a.id) {
                return Err(format!("DRP settings: agent {} is listed twice", a.id));
            }
            let verify_key = VerifyKey::parse(&a.verify_key).ok_or_else(|| {
                format!(
                    "DRP settings: agent {}'s verify_key is not an Ed25519 key in base64 or hex",
                    a.id
                )
            })?;
            agents.push(DrpAgent {
                name: a.name.unwrap_or_else(|| a.id.clone()),
                id: a.id,
                verify_key,
            });
        }
        if let Some(u) = &f.verification_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err("DRP settings: verification_url must be an http(s) URL".into());
        }
        crate::rights::rules()
            .map_err(|_| "DRP settings: the deadline rules cannot be read".to_owned())?
            .rule(
                &f.voluntary_jurisdiction,
                custodian_core::rights::RequestType::Erasure,
            )
            .map_err(|_| {
                "DRP settings: voluntary_jurisdiction must be a jurisdiction of the deadline table"
                    .to_owned()
            })?;
        Ok(Self {
            business_id: f.business_id,
            agents,
            verification_url: f.verification_url,
            voluntary_jurisdiction: f.voluntary_jurisdiction,
        })
    }

    /// The agent with this id.
    pub fn agent(&self, id: &str) -> Option<&DrpAgent> {
        self.agents.iter().find(|a| a.id == id)
    }
}

/// Whether a status callback URL may be called: HTTPS, or HTTP on a loopback address (the
/// same rule as consent webhooks).
pub fn valid_callback(url: &str) -> bool {
    valid_webhook_url(url).is_ok()
}

/// The status a request filed over DRP shows its agent, if it was filed over DRP.
pub fn status(state: &AppState, r: &RightsRequest) -> Option<serde_json::Value> {
    let link = r.drp.as_ref()?;
    let url = state
        .config
        .drp
        .as_ref()
        .and_then(|d| d.verification_url.as_deref());
    Some(status_of(r, link, url))
}

const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
/// Waits before each try: at once, then after 2 s and 30 s.
const CALLBACK_BACKOFF: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_secs(2),
    Duration::from_secs(30),
];

/// Pushes `after`'s status to its agent's `status_callback` when it differs from `before`'s
/// (status or reason), in the background, trying three times. Outcomes go to the log and
/// metrics, which name the agent, never the requester.
pub fn push_status(state: &AppState, before: &RightsRequest, after: &RightsRequest) {
    let Some(link) = after.drp.as_ref() else {
        return;
    };
    let Some(url) = link.status_callback.clone() else {
        return;
    };
    let (Some(old), Some(new)) = (status(state, before), status(state, after)) else {
        return;
    };
    let key = |v: &serde_json::Value| (v.get("status").cloned(), v.get("reason").cloned());
    if key(&old) == key(&new) {
        return;
    }
    let agent = link.agent_id.clone();
    tokio::spawn(async move {
        let Ok(http) = reqwest::Client::builder()
            .timeout(CALLBACK_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("Custodian-DRP/1")
            .build()
        else {
            tracing::error!("cannot build the DRP callback client");
            return;
        };
        for wait in CALLBACK_BACKOFF {
            tokio::time::sleep(wait).await;
            match http.post(&url).json(&new).send().await {
                Ok(resp) if resp.status().is_success() => {
                    metrics::counter!("custodian_drp_callbacks_total", "outcome" => "delivered")
                        .increment(1);
                    return;
                }
                Ok(resp) => {
                    tracing::warn!(agent = %agent, status = resp.status().as_u16(), "DRP status callback refused");
                }
                Err(e) => {
                    tracing::warn!(agent = %agent, error = %e.without_url(), "DRP status callback failed");
                }
            }
        }
        metrics::counter!("custodian_drp_callbacks_total", "outcome" => "failed").increment(1);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn settings_are_read_and_checked() {
        let ok = format!(
            r#"{{"business_id":"acme","agents":[{{"id":"AGENT_A","name":"Agent A","verify_key":"{KEY}","web_url":"https://a.example"}}]}}"#
        );
        let c = DrpConfig::from_json(&ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.voluntary_jurisdiction, "CCPA");
        assert_eq!(c.agent("AGENT_A").map(|a| a.name.as_str()), Some("Agent A"));
        assert!(c.agent("AGENT_B").is_none());
        for bad in [
            r#"{"business_id":"acme","agents":[{"id":"A","verify_key":"nope"}]}"#.to_owned(),
            r#"{"business_id":"a b","agents":[]}"#.to_owned(),
            r#"{"business_id":"acme","agents":[],"extra":1}"#.to_owned(),
            r#"{"business_id":"acme","agents":[],"voluntary_jurisdiction":"MARS"}"#.to_owned(),
            r#"{"business_id":"acme","agents":[],"verification_url":"ftp://x"}"#.to_owned(),
            format!(
                r#"{{"business_id":"acme","agents":[{{"id":"A","verify_key":"{KEY}"}},{{"id":"A","verify_key":"{KEY}"}}]}}"#
            ),
        ] {
            assert!(DrpConfig::from_json(&bad).is_err(), "{bad}");
        }
    }
}
