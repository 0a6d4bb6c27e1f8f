//! OpenStack error envelopes. Each service wraps its errors in its own JSON (or plain-text) shape,
//! and clients pick exception classes from it, so the shape is decided here, once per service:
//!
//! - Keystone: `{"error": {"code": 404, "message": "...", "title": "Not Found"}}`
//! - Nova and Cinder: `{"itemNotFound": {"code": 404, "message": "..."}}` (key chosen by status)
//! - Neutron: `{"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}`
//! - Placement: `{"errors": [{"status": 404, "title": "...", "detail": "...", "code": "...", "request_id": "..."}]}`
//! - Glance and Swift: a short plain-text (HTML-free) body.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// Which service's error shape to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    Keystone,
    Compute,
    Neutron,
    Placement,
    PlainText,
}

/// A service-independent error: status, message and the optional machine-readable type that
/// Neutron (`type`) and Placement (`code`) carry.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub status: StatusCode,
    pub message: String,
    pub kind: Option<String>,
}

impl ErrorBody {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), kind: None }
    }

    pub fn with_kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// The reason phrase used as Keystone's `title` ("Not Found", "Conflict", ...).
    pub fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }

    /// The JSON body for a given envelope (None for plain text).
    pub fn json(&self, envelope: Envelope) -> Option<serde_json::Value> {
        let code = self.status.as_u16();
        match envelope {
            Envelope::Keystone => Some(serde_json::json!({
                "error": {"code": code, "message": self.message, "title": self.title()}
            })),
            Envelope::Compute => Some(serde_json::json!({
                compute_fault_name(self.status): {"code": code, "message": self.message}
            })),
            Envelope::Neutron => Some(serde_json::json!({
                "NeutronError": {
                    "type": self.kind.clone().unwrap_or_else(|| neutron_default_type(self.status).to_string()),
                    "message": self.message,
                    "detail": ""
                }
            })),
            Envelope::Placement => Some(serde_json::json!({
                "errors": [{
                    "status": code,
                    "title": self.title(),
                    "detail": self.message,
                    "code": self.kind.clone().unwrap_or_else(|| "placement.undefined_code".to_string()),
                    "request_id": serde_json::Value::Null,
                }]
            })),
            Envelope::PlainText => None,
        }
    }

    pub fn into_response_for(self, envelope: Envelope) -> Response {
        match self.json(envelope) {
            Some(body) => {
                let mut resp = (self.status, axum::Json(body)).into_response();
                if self.status == StatusCode::UNAUTHORIZED && envelope == Envelope::Keystone {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Keystone uri=\"\""),
                    );
                }
                resp
            }
            None => {
                let text = format!("{}\n\n{}\n", self.title(), self.message);
                (self.status, [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], text).into_response()
            }
        }
    }
}

/// Nova's fault key for a status, as nova/api/openstack/wsgi.py names them.
pub fn compute_fault_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "badRequest",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "itemNotFound",
        405 => "badMethod",
        406 => "notAcceptable",
        409 => "conflictingRequest",
        413 => "overLimit",
        415 => "badMediaType",
        429 => "overLimit",
        501 => "notImplemented",
        503 => "serviceUnavailable",
        _ => "computeFault",
    }
}

fn neutron_default_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "HTTPBadRequest",
        401 => "HTTPUnauthorized",
        403 => "HTTPForbidden",
        404 => "HTTPNotFound",
        405 => "HTTPMethodNotAllowed",
        409 => "HTTPConflict",
        _ => "HTTPInternalServerError",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes() {
        let e = ErrorBody::new(StatusCode::NOT_FOUND, "Could not find user: x.");
        assert_eq!(e.json(Envelope::Keystone).unwrap()["error"]["title"], "Not Found");
        assert_eq!(e.json(Envelope::Compute).unwrap()["itemNotFound"]["code"], 404);
        let n = e.clone().with_kind("NetworkNotFound");
        assert_eq!(n.json(Envelope::Neutron).unwrap()["NeutronError"]["type"], "NetworkNotFound");
        assert_eq!(e.json(Envelope::Placement).unwrap()["errors"][0]["status"], 404);
        assert!(e.json(Envelope::PlainText).is_none());
    }
}
