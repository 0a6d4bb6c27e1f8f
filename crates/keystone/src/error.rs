//! Keystone's errors, mapped to its envelope `{"error": {"code", "message", "title"}}` in one
//! place, with upstream's messages so clients and operators see what they expect.

use axum::response::{IntoResponse, Response};
use common::error::{Envelope, ErrorBody};
use http::StatusCode;

/// Every way a Keystone request can fail.
#[derive(Debug, thiserror::Error)]
pub enum KeystoneError {
    /// 400: the request body or query is invalid.
    #[error("{0}")]
    Validation(String),
    /// 401: no or bad credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but policy (or a rule like "disable before delete") says no.
    #[error("{0}")]
    Forbidden(String),
    /// 404: `Could not find <kind>: <id>.`
    #[error("Could not find {kind}: {id}.")]
    NotFound { kind: &'static str, id: String },
    /// 404 with a free message.
    #[error("{0}")]
    NotFoundMessage(String),
    /// 409: a name or id already exists, or the resource is in use.
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error")]
    Db(#[from] db::DbError),
}

impl KeystoneError {
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        KeystoneError::NotFound { kind, id: id.into() }
    }

    /// Upstream's duplicate message: `Conflict occurred attempting to store <type> - <detail>.`
    pub fn duplicate(kind: &str, detail: impl std::fmt::Display) -> Self {
        KeystoneError::Conflict(format!("Conflict occurred attempting to store {kind} - {detail}."))
    }

    pub fn forbidden_action(action: &str) -> Self {
        KeystoneError::Forbidden(format!("You are not authorized to perform the requested action: {action}."))
    }

    pub fn invalid_field(field: &str, detail: impl std::fmt::Display) -> Self {
        KeystoneError::Validation(format!("Invalid input for field '{field}': {detail}"))
    }

    pub fn unauthenticated() -> Self {
        KeystoneError::Unauthorized("The request you have made requires authentication.".into())
    }

    fn status(&self) -> StatusCode {
        match self {
            KeystoneError::Validation(_) => StatusCode::BAD_REQUEST,
            KeystoneError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            KeystoneError::Forbidden(_) => StatusCode::FORBIDDEN,
            KeystoneError::NotFound { .. } | KeystoneError::NotFoundMessage(_) => StatusCode::NOT_FOUND,
            KeystoneError::Conflict(_) => StatusCode::CONFLICT,
            KeystoneError::Db(db::DbError::Duplicate(_)) => StatusCode::CONFLICT,
            KeystoneError::Internal(_) | KeystoneError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for KeystoneError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            KeystoneError::Db(db::DbError::Duplicate(d)) => format!("Conflict occurred attempting to store a duplicate - {d}."),
            _ if status.is_server_error() => {
                // The chain goes to the log under the request id; the client gets the id only.
                tracing::error!(error = ?self, "unexpected error");
                "An unexpected error prevented the server from fulfilling your request.".to_string()
            }
            _ => self.to_string(),
        };
        ErrorBody::new(status, message).into_response_for(Envelope::Keystone)
    }
}

pub type Result<T, E = KeystoneError> = std::result::Result<T, E>;
