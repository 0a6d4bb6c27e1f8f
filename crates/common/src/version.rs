//! Helpers for version discovery documents and endpoint URLs. Each service renders its own
//! document shape (they differ upstream); what they share is how the base URL is found: the
//! configured public endpoint if there is one, else the `Host` the client used.

use http::HeaderMap;

/// The base URL (`http://host:port`) to put in links: the configured one, else from `Host`.
pub fn base_url(configured: Option<&str>, headers: &HeaderMap, default_host: &str) -> String {
    if let Some(c) = configured.filter(|c| !c.is_empty()) {
        return c.trim_end_matches('/').to_string();
    }
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or(default_host);
    let scheme = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    format!("{scheme}://{host}")
}
