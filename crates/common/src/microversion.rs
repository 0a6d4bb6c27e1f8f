//! Microversion negotiation, as in nova/api/openstack/api_version_request.py and
//! microversion-parse: the client asks with `OpenStack-API-Version: <service> X.Y` or a legacy
//! header (`X-OpenStack-Nova-API-Version: X.Y`), `latest` means the maximum, no header means the
//! minimum, a version out of range is 406, and the response echoes the version and sends `Vary`.

use axum::{extract::Request, middleware::Next, response::Response};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::error::{Envelope, ErrorBody};

/// A microversion `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Parses `X.Y` (no leading zeros beyond a single `0`, as upstream's regex insists).
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.trim().split_once('.')?;
        let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && (p == "0" || !p.starts_with('0'));
        if !ok(a) || !ok(b) {
            return None;
        }
        Some(Self { major: a.parse().ok()?, minor: b.parse().ok()? })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a service supports and how it is asked.
#[derive(Debug, Clone, Copy)]
pub struct MicroversionSpec {
    /// The service type in `OpenStack-API-Version` (`compute`, `placement`, `volume`).
    pub service_type: &'static str,
    /// The legacy header, if the service has one (`X-OpenStack-Nova-API-Version`).
    pub legacy_header: Option<&'static str>,
    pub min: Version,
    pub max: Version,
    pub envelope: Envelope,
}

/// The negotiated version, available to handlers as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Microversion(pub Version);

impl Microversion {
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.0 >= Version::new(major, minor)
    }
}

/// Why a requested version was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MicroversionError {
    #[error("API Version String {0} is of invalid format. Must be of format MajorNum.MinorNum.")]
    Invalid(String),
    #[error("Version {requested} is not supported by the API. Minimum is {min} and maximum is {max}.")]
    OutOfRange { requested: Version, min: Version, max: Version },
}

impl MicroversionSpec {
    /// Picks the version for a request from its headers.
    pub fn negotiate(&self, headers: &HeaderMap) -> Result<Version, MicroversionError> {
        let mut asked: Option<String> = None;
        for value in headers.get_all("openstack-api-version") {
            let Ok(v) = value.to_str() else { continue };
            // The header may carry several services: "compute 2.1, volume 3.0".
            for part in v.split(',') {
                let mut words = part.split_whitespace();
                if words.next().is_some_and(|s| s.eq_ignore_ascii_case(self.service_type)) {
                    asked = words.next().map(str::to_string);
                }
            }
        }
        if asked.is_none() {
            if let Some(legacy) = self.legacy_header {
                asked = headers.get(legacy).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
            }
        }
        let Some(asked) = asked else { return Ok(self.min) };
        if asked.eq_ignore_ascii_case("latest") {
            return Ok(self.max);
        }
        let v = Version::parse(&asked).ok_or_else(|| MicroversionError::Invalid(asked.clone()))?;
        if v < self.min || v > self.max {
            return Err(MicroversionError::OutOfRange { requested: v, min: self.min, max: self.max });
        }
        Ok(v)
    }

    fn vary(&self) -> String {
        match self.legacy_header {
            Some(l) => format!("OpenStack-API-Version, {l}"),
            None => "OpenStack-API-Version".to_string(),
        }
    }
}

/// Axum middleware: negotiates, stores [`Microversion`] on the request, echoes the headers.
pub async fn microversion_layer(
    axum::extract::State(spec): axum::extract::State<MicroversionSpec>,
    mut req: Request,
    next: Next,
) -> Response {
    let version = match spec.negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => {
            let status = match e {
                MicroversionError::Invalid(_) => StatusCode::BAD_REQUEST,
                MicroversionError::OutOfRange { .. } => StatusCode::NOT_ACCEPTABLE,
            };
            let mut resp = ErrorBody::new(status, e.to_string()).into_response_for(spec.envelope);
            if let Ok(v) = HeaderValue::from_str(&spec.vary()) {
                resp.headers_mut().insert(http::header::VARY, v);
            }
            return resp;
        }
    };
    req.extensions_mut().insert(Microversion(version));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("{} {}", spec.service_type, version)) {
        h.insert("openstack-api-version", v);
    }
    if let Some(legacy) = spec.legacy_header {
        if let (Ok(name), Ok(v)) = (http::HeaderName::from_bytes(legacy.as_bytes()), HeaderValue::from_str(&version.to_string())) {
            h.insert(name, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&spec.vary()) {
        h.append(http::header::VARY, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOVA: MicroversionSpec = MicroversionSpec {
        service_type: "compute",
        legacy_header: Some("X-OpenStack-Nova-API-Version"),
        min: Version::new(2, 1),
        max: Version::new(2, 90),
        envelope: Envelope::Compute,
    };

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(*k, HeaderValue::from_static(v));
        }
        m
    }

    #[test]
    fn negotiation() {
        assert_eq!(NOVA.negotiate(&h(&[])).unwrap(), Version::new(2, 1));
        assert_eq!(NOVA.negotiate(&h(&[("openstack-api-version", "compute 2.53")])).unwrap(), Version::new(2, 53));
        assert_eq!(NOVA.negotiate(&h(&[("openstack-api-version", "volume 3.1, compute latest")])).unwrap(), Version::new(2, 90));
        assert_eq!(NOVA.negotiate(&h(&[("x-openstack-nova-api-version", "2.10")])).unwrap(), Version::new(2, 10));
        assert!(matches!(NOVA.negotiate(&h(&[("openstack-api-version", "compute 2.91")])), Err(MicroversionError::OutOfRange { .. })));
        assert!(matches!(NOVA.negotiate(&h(&[("openstack-api-version", "compute 2.01")])), Err(MicroversionError::Invalid(_))));
        assert!(matches!(NOVA.negotiate(&h(&[("openstack-api-version", "compute 1.0")])), Err(MicroversionError::OutOfRange { .. })));
    }
}
