//! Image data from the web, for the `web-download` import method and legacy `import` tasks:
//! which URIs may be fetched (upstream's `[import_filtering_opts]`, as
//! glance/common/utils.py `validate_import_uri` applies them, including its refusal of
//! encoded IP addresses and of host names that do not resolve), and the fetch itself, which
//! streams the response body and follows only redirects that pass the same filter.

use std::net::IpAddr;

use futures::StreamExt;
use reqwest::Url;

use crate::config::ImportFilter;
use crate::store::ByteStream;

/// Checks `uri` against the filter; the parsed URL when it may be fetched.
pub async fn validate_import_uri(filter: &ImportFilter, uri: &str) -> Option<Url> {
    let url = Url::parse(uri).ok()?;
    if !passes_static_checks(filter, &url, uri) {
        return None;
    }
    match url.host()? {
        url::Host::Domain(name) => {
            // Only names that really resolve; numeric look-alikes never reach DNS.
            if name.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return None;
            }
            let probe = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
            tokio::net::lookup_host((probe.as_str(), 80)).await.ok()?.next()?;
        }
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => {}
    }
    Some(url)
}

/// Scheme, host and port rules (no DNS): what a redirect target must pass too.
fn passes_static_checks(filter: &ImportFilter, url: &Url, original: &str) -> bool {
    let scheme = url.scheme();
    let scheme_ok = if !filter.allowed_schemes.is_empty() { filter.allowed_schemes.iter().any(|s| s == scheme) } else { !filter.disallowed_schemes.iter().any(|s| s == scheme) };
    if !scheme_ok {
        return false;
    }
    let Some(host) = normalized_host(url, original) else { return false };
    let host_ok = if !filter.allowed_hosts.is_empty() { filter.allowed_hosts.contains(&host) } else { !filter.disallowed_hosts.contains(&host) };
    if !host_ok {
        return false;
    }
    match url.port() {
        Some(port) if !filter.allowed_ports.is_empty() => filter.allowed_ports.contains(&port),
        Some(port) => !filter.disallowed_ports.contains(&port),
        None => true,
    }
}

/// The host as the filter compares it: an IP address in its standard form, or the name.
/// An IP written any other way (`127.1`, `0x7f000001`, `2130706433`), which URL parsers
/// quietly normalize, is refused as upstream refuses it.
fn normalized_host(url: &Url, original: &str) -> Option<String> {
    let written = written_host(original)?;
    match url.host()? {
        url::Host::Ipv4(ip) => (written == ip.to_string()).then(|| ip.to_string()),
        url::Host::Ipv6(ip) => {
            let inner = written.trim_start_matches('[').trim_end_matches(']');
            (inner.parse::<IpAddr>().ok()? == IpAddr::V6(ip)).then(|| ip.to_string())
        }
        url::Host::Domain(name) => (!name.is_empty()).then(|| name.to_string()),
    }
}

/// The host exactly as written in `uri` (no user info, no port).
fn written_host(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if hostport.starts_with('[') {
        return hostport.find(']').map(|end| &hostport[..=end]);
    }
    Some(hostport.split(':').next().unwrap_or(hostport))
}

/// GETs `url` and streams its body.
pub async fn fetch(filter: &ImportFilter, url: Url) -> Result<ByteStream, String> {
    let redirect_filter = filter.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else if passes_static_checks(&redirect_filter, attempt.url(), attempt.url().as_str()) {
                attempt.follow()
            } else {
                let to = attempt.url().to_string();
                attempt.error(format!("Redirect to disallowed URL: {to}"))
            }
        }))
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let shown = url.to_string();
    let resp = client.get(url).send().await.map_err(|e| format!("cannot fetch {shown}: {}", error_chain(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("fetching {shown} failed: HTTP {}", resp.status()));
    }
    Ok(Box::pin(resp.bytes_stream().map(|chunk| chunk.map_err(std::io::Error::other))))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn default_filter() -> ImportFilter {
        ImportFilter { allowed_schemes: vec!["http".into(), "https".into()], allowed_ports: vec![80, 443], ..Default::default() }
    }

    #[tokio::test]
    async fn filters_schemes_ports_and_encoded_addresses() {
        let f = default_filter();
        assert!(validate_import_uri(&f, "http://127.0.0.1/image.qcow2").await.is_some());
        assert!(validate_import_uri(&f, "http://127.0.0.1:80/x").await.is_some());
        assert!(validate_import_uri(&f, "http://[::1]/x").await.is_some());
        assert!(validate_import_uri(&f, "ftp://127.0.0.1/x").await.is_none(), "scheme not allowed");
        assert!(validate_import_uri(&f, "http://127.0.0.1:8080/x").await.is_none(), "port not allowed");
        for encoded in ["http://127.1/x", "http://0x7f000001/x", "http://2130706433/x", "http://017700000001/x"] {
            assert!(validate_import_uri(&f, encoded).await.is_none(), "{encoded} must be refused");
        }
        assert!(validate_import_uri(&f, "http://does-not.exist.invalid/x").await.is_none(), "unresolvable host");
        assert!(validate_import_uri(&f, "not a uri").await.is_none());
        let only_local = ImportFilter { allowed_hosts: vec!["127.0.0.1".into()], allowed_ports: vec![8080], ..default_filter() };
        assert!(validate_import_uri(&only_local, "http://127.0.0.1:8080/x").await.is_some());
        assert!(validate_import_uri(&only_local, "http://[::1]:8080/x").await.is_none());
    }

    #[test]
    fn written_host_strips_user_info_and_port() {
        assert_eq!(written_host("http://u:p@example.com:81/a"), Some("example.com"));
        assert_eq!(written_host("http://[::1]:81/a"), Some("[::1]"));
        assert_eq!(written_host("http://h?x=1"), Some("h"));
    }
}
