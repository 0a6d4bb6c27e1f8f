//! Running a service's router on a listener until shutdown, with the request-id layer on.

use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::request_id::{request_id_layer, RequestIdHeaders};

/// A shutdown signal shared by every task of the process: flips to `true` once.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side of [`Shutdown`].
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger(tx), Shutdown(rx))
    }

    /// Resolves when shutdown has been asked for.
    pub async fn wait(mut self) {
        while !*self.0.borrow() {
            if self.0.changed().await.is_err() {
                return;
            }
        }
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} for {service}: {source}")]
    Bind { service: String, addr: String, #[source] source: std::io::Error },
    #[error("{service} server failed: {source}")]
    Serve { service: String, #[source] source: std::io::Error },
}

/// Binds `addr` (use port 0 for an ephemeral port in tests) and returns the bound address and
/// the listener, so callers can learn the port before serving.
pub async fn bind(service: &str, addr: &str) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { service: service.into(), addr: addr.into(), source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { service: service.into(), addr: addr.into(), source })?;
    Ok((listener, local))
}

/// How a service wants its requests prepared before routing.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Treat `/path/` as `/path` (Keystone does; Glance answers `/v2/images/` with 404).
    pub strip_trailing_slash: bool,
    /// A service's own rewrite before routing (Nova drops the legacy `/{project_id}` segment).
    pub rewrite: Option<fn(axum::extract::Request) -> axum::extract::Request>,
}

/// Serves `router` on `listener` until `shutdown`, adding the request-id layer with `headers`.
pub async fn serve(
    service: &str,
    listener: TcpListener,
    router: Router,
    headers: RequestIdHeaders,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    serve_with(service, listener, router, headers, ServeOptions { strip_trailing_slash: true, rewrite: None }, shutdown).await
}

/// [`serve`] with explicit options.
pub async fn serve_with(
    service: &str,
    listener: TcpListener,
    router: Router,
    headers: RequestIdHeaders,
    options: ServeOptions,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let app = router.layer(axum::middleware::from_fn_with_state(headers, request_id_layer));
    // Routing happens after this rewrite, so `/v3/users/` and `/v3/users` reach one handler.
    let (strip, rewrite) = (options.strip_trailing_slash, options.rewrite);
    let app = tower::ServiceExt::<axum::extract::Request>::map_request(app, move |r| {
        let r = if strip { strip_trailing_slash(r) } else { r };
        match rewrite {
            Some(f) => f(r),
            None => r,
        }
    });
    axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(app))
        .with_graceful_shutdown(shutdown.wait())
        .await
        .map_err(|source| ServeError::Serve { service: service.into(), source })
}

/// Drops one trailing `/` from a request path (but not from `/` itself), as OpenStack's
/// routers accept both forms.
pub fn strip_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let uri = req.uri();
    let path = uri.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        let mut parts = uri.clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(new) = http::Uri::from_parts(parts) {
                *req.uri_mut() = new;
            }
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash() {
        let r = axum::extract::Request::builder().uri("/v3/OS-TRUST/trusts/?a=1").body(axum::body::Body::empty()).unwrap();
        assert_eq!(strip_trailing_slash(r).uri().to_string(), "/v3/OS-TRUST/trusts?a=1");
        let r = axum::extract::Request::builder().uri("/").body(axum::body::Body::empty()).unwrap();
        assert_eq!(strip_trailing_slash(r).uri().path(), "/");
    }
}
