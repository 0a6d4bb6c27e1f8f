//! Request ids: every response carries `x-openstack-request-id` (and any extra headers a service
//! adds, like Nova's `x-compute-request-id`), and every log line of the request is inside a
//! tracing span that names it, so a 500 seen by a client can be found in the log.

use axum::{extract::Request, middleware::Next, response::Response};
use http::HeaderValue;
use tracing::Instrument;

/// The id of the request being served, available to handlers as a request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Header names under which a service echoes the request id.
#[derive(Debug, Clone, Copy)]
pub struct RequestIdHeaders(pub &'static [&'static str]);

impl Default for RequestIdHeaders {
    fn default() -> Self {
        RequestIdHeaders(&["x-openstack-request-id"])
    }
}

/// Axum middleware: assigns the id, opens the span, logs the access line, sets the headers.
pub async fn request_id_layer(
    axum::extract::State(headers): axum::extract::State<RequestIdHeaders>,
    mut req: Request,
    next: Next,
) -> Response {
    let id = crate::ids::new_request_id();
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().clone();
    let uri = req.uri().path().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    let started = std::time::Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    span.in_scope(|| {
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        if status.is_server_error() {
            tracing::error!(%method, path = %uri, status = status.as_u16(), elapsed_ms, "request failed");
        } else {
            tracing::info!(%method, path = %uri, status = status.as_u16(), elapsed_ms, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        for name in headers.0 {
            resp.headers_mut().insert(*name, v.clone());
        }
    }
    resp
}
