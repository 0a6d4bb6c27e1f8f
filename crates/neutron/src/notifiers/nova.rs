//! The Nova notifier (neutron/notifiers/nova.py): which port changes Nova cares about, and how
//! they reach Nova's `POST /v2.1/os-server-external-events`.
//!
//! Only ports of servers count: `device_owner` starting with `compute:` and a UUID as
//! `device_id`. The events, as upstream sends them:
//!
//! - `network-vif-plugged` when such a port goes from DOWN (or nothing, on create) to ACTIVE
//!   (`failed` status when it goes to ERROR), `network-vif-unplugged` when it goes from ACTIVE
//!   to DOWN; gated by `[DEFAULT] notify_nova_on_port_status_changes`.
//! - `network-changed` when its fixed IPs change or a floating IP is associated with it or
//!   taken off it (create with `port_id`, update of `port_id`, delete of an associated
//!   floating IP; a floating IP moved from one server's port to another's tells both), and
//!   `network-vif-deleted` when it is deleted; gated by `notify_nova_on_port_data_changes`.
//!   Upstream sends `network-changed` on every update of such a port; we send it only when
//!   what Nova caches (the addresses) changed.
//!
//! Events are computed from the records before and after a committed transaction and sent
//! from a spawned task (`App::notify_nova`): never inside the transaction, never failing or
//! slowing the API call; a failure is logged, as upstream logs it.
//!
//! [`NovaNotifier`] is the seam: [`RestNovaNotifier`] talks to Nova with the `[nova]` service
//! user's token (`auth::service_auth::ServiceAuth`), [`RecordingNovaNotifier`] is the fake the
//! tests read back (it can be told to fail, as a Nova that is down).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::service_auth::ServiceAuth;
use serde::Serialize;
use serde_json::{json, Value};

pub const VIF_PLUGGED: &str = "network-vif-plugged";
pub const VIF_UNPLUGGED: &str = "network-vif-unplugged";
pub const VIF_DELETED: &str = "network-vif-deleted";
pub const NETWORK_CHANGED: &str = "network-changed";

/// One event of `os-server-external-events`: `tag` is the port's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NovaEvent {
    pub name: String,
    pub server_uuid: String,
    pub tag: String,
    pub status: String,
}

impl NovaEvent {
    fn for_port(name: &str, port: &Value, status: &str) -> Self {
        Self { name: name.to_string(), server_uuid: text(port, "device_id").to_string(), tag: text(port, "id").to_string(), status: status.to_string() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error("cannot find Nova's endpoint as the [nova] service user: {0}")]
    Auth(String),
    #[error("POST {url} failed")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Nova answered HTTP {status} to POST {url}: {body}")]
    Refused { url: String, status: u16, body: String },
    #[error("{0}")]
    Fake(String),
}

/// Delivers events to Nova.
#[async_trait::async_trait]
pub trait NovaNotifier: Send + Sync {
    async fn send_events(&self, events: &[NovaEvent]) -> Result<(), NotifierError>;
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// oslo's `uuidutils.is_uuid_like`, for the forms a device_id takes: 32 hex digits, with or
/// without the dashes.
fn is_uuid_like(s: &str) -> bool {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) && (s.len() == 32 || s.len() == 36)
}

/// Whether `port` belongs to a server (upstream's `_is_compute_port`).
pub fn is_compute_port(port: &Value) -> bool {
    text(port, "device_owner").starts_with("compute:") && is_uuid_like(text(port, "device_id"))
}

/// The status event for a port that went from `before` (None on create) to its current
/// status, if Nova cares.
pub fn port_status_event(before: Option<&str>, port: &Value) -> Option<NovaEvent> {
    if !is_compute_port(port) {
        return None;
    }
    match (before, text(port, "status")) {
        (Some("ACTIVE"), "DOWN") => Some(NovaEvent::for_port(VIF_UNPLUGGED, port, "completed")),
        (None | Some("DOWN" | "BUILD"), "ACTIVE") => Some(NovaEvent::for_port(VIF_PLUGGED, port, "completed")),
        (None | Some("DOWN" | "BUILD"), "ERROR") => Some(NovaEvent::for_port(VIF_PLUGGED, port, "failed")),
        _ => None,
    }
}

/// `network-changed` for a server's port.
pub fn network_changed(port: &Value) -> Option<NovaEvent> {
    is_compute_port(port).then(|| NovaEvent::for_port(NETWORK_CHANGED, port, "completed"))
}

/// `network-vif-deleted` for a server's port that is gone.
pub fn vif_deleted(port: &Value) -> Option<NovaEvent> {
    is_compute_port(port).then(|| NovaEvent::for_port(VIF_DELETED, port, "completed"))
}

/// Whether an update changed what Nova caches of a port: its addresses.
pub fn fixed_ips_changed(before: &Value, after: &Value) -> bool {
    let set = |p: &Value| {
        let mut v: Vec<(String, String)> = p["fixed_ips"].as_array().map(|a| a.iter().map(|f| (text(f, "subnet_id").to_string(), text(f, "ip_address").to_string())).collect()).unwrap_or_default();
        v.sort();
        v
    };
    set(before) != set(after)
}

/// Talks to Nova's API as the `[nova]` service user.
pub struct RestNovaNotifier {
    auth: Arc<ServiceAuth>,
    http: reqwest::Client,
}

impl RestNovaNotifier {
    pub fn new(auth: Arc<ServiceAuth>) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Self { auth, http }
    }

    /// The external events URL under the compute endpoint, which is `.../v2.1` in a catalog
    /// (nova's own registration) but may be the unversioned root.
    fn events_url(endpoint: &str) -> String {
        let base = endpoint.trim_end_matches('/');
        if base.ends_with("/v2.1") || base.ends_with("/v2") {
            format!("{base}/os-server-external-events")
        } else {
            format!("{base}/v2.1/os-server-external-events")
        }
    }

    async fn post(&self, events: &[NovaEvent]) -> Result<reqwest::Response, NotifierError> {
        let (token, endpoint) = self.auth.token_and_endpoint("compute").await.map_err(NotifierError::Auth)?;
        let url = Self::events_url(&endpoint);
        self.http
            .post(&url)
            .header("x-auth-token", token)
            .header("x-openstack-nova-api-version", "2.1")
            .json(&json!({"events": events}))
            .send()
            .await
            .map_err(|source| NotifierError::Http { url, source })
    }
}

#[async_trait::async_trait]
impl NovaNotifier for RestNovaNotifier {
    async fn send_events(&self, events: &[NovaEvent]) -> Result<(), NotifierError> {
        let mut resp = self.post(events).await?;
        if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
            // The token was revoked or Keystone restarted: once more with a fresh one.
            self.auth.invalidate().await;
            resp = self.post(events).await?;
        }
        let (status, url) = (resp.status(), resp.url().to_string());
        match status.as_u16() {
            // Nova knows none of the servers (deleted meanwhile): nothing to do, as upstream.
            404 => {
                tracing::debug!(?events, "Nova returned NotFound for the events");
                Ok(())
            }
            200 | 207 => {
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                for e in body["events"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    if e["code"] == json!(200) {
                        tracing::info!(event = %e, "Nova event response");
                    } else {
                        tracing::warn!(event = %e, "Nova event returned with failed status");
                    }
                }
                Ok(())
            }
            code => Err(NotifierError::Refused { url, status: code, body: resp.text().await.unwrap_or_default() }),
        }
    }
}

/// The fake Nova: records what it was sent; told to fail, it records nothing and errs.
#[derive(Default)]
pub struct RecordingNovaNotifier {
    events: Mutex<Vec<NovaEvent>>,
    failing: AtomicBool,
}

impl RecordingNovaNotifier {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Everything received so far.
    pub fn events(&self) -> Vec<NovaEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// Makes every later delivery fail (as a Nova that is down).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Waits (up to `timeout`) until at least `n` events arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<NovaEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let events = self.events();
            if events.len() >= n || tokio::time::Instant::now() >= deadline {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[async_trait::async_trait]
impl NovaNotifier for RecordingNovaNotifier {
    async fn send_events(&self, events: &[NovaEvent]) -> Result<(), NotifierError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(NotifierError::Fake("the fake Nova was told to fail".into()));
        }
        if let Ok(mut e) = self.events.lock() {
            e.extend_from_slice(events);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: &str = "6f1c3bd2-6a43-4b55-8b7a-5b0d3b4a8a11";

    fn port(owner: &str, status: &str) -> Value {
        json!({"id": "p1", "device_id": SERVER, "device_owner": owner, "status": status, "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.3"}]})
    }

    #[test]
    fn only_server_ports_count() {
        assert!(is_compute_port(&port("compute:nova", "DOWN")));
        assert!(!is_compute_port(&port("network:dhcp", "DOWN")));
        assert!(!is_compute_port(&json!({"device_owner": "compute:nova", "device_id": "not-a-uuid"})));
        assert!(is_compute_port(&json!({"device_owner": "compute:az1", "device_id": SERVER.replace('-', "")})));
    }

    #[test]
    fn status_transitions_as_upstream() {
        let name = |before, p: &Value| port_status_event(before, p).map(|e| (e.name, e.status));
        assert_eq!(name(Some("DOWN"), &port("compute:nova", "ACTIVE")), Some((VIF_PLUGGED.into(), "completed".into())));
        assert_eq!(name(None, &port("compute:nova", "ACTIVE")), Some((VIF_PLUGGED.into(), "completed".into())));
        assert_eq!(name(Some("DOWN"), &port("compute:nova", "ERROR")), Some((VIF_PLUGGED.into(), "failed".into())));
        assert_eq!(name(Some("ACTIVE"), &port("compute:nova", "DOWN")), Some((VIF_UNPLUGGED.into(), "completed".into())));
        assert_eq!(name(Some("ACTIVE"), &port("compute:nova", "ACTIVE")), None);
        assert_eq!(name(None, &port("compute:nova", "DOWN")), None);
        assert_eq!(name(Some("DOWN"), &port("network:router_interface", "ACTIVE")), None);
        let e = port_status_event(None, &port("compute:nova", "ACTIVE")).unwrap();
        assert_eq!(serde_json::to_value(&e).unwrap(), json!({"name": VIF_PLUGGED, "server_uuid": SERVER, "tag": "p1", "status": "completed"}));
    }

    #[test]
    fn address_changes() {
        let a = port("compute:nova", "ACTIVE");
        let mut b = a.clone();
        assert!(!fixed_ips_changed(&a, &b));
        b["fixed_ips"] = json!([{"subnet_id": "s", "ip_address": "10.0.0.4"}]);
        assert!(fixed_ips_changed(&a, &b));
    }

    #[test]
    fn events_url_under_the_compute_endpoint() {
        assert_eq!(RestNovaNotifier::events_url("http://h:8774/v2.1/"), "http://h:8774/v2.1/os-server-external-events");
        assert_eq!(RestNovaNotifier::events_url("http://h/compute"), "http://h/compute/v2.1/os-server-external-events");
    }
}
