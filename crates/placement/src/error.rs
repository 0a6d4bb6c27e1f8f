//! Placement's errors and their JSON envelope, in one place:
//! `{"errors": [{"status", "title", "detail", "code", "request_id"}]}` with upstream's error
//! codes (placement/errors.py). The `code` key appears from microversion 1.23 and the
//! `request_id` is filled in by the router's error layer (`api::error_layer`), which sees the
//! negotiated version and the request id.

use axum::response::{IntoResponse, Response};
use common::error::{Envelope, ErrorBody};
use http::StatusCode;

/// Upstream's error code symbols (placement/errors.py).
pub mod codes {
    pub const DEFAULT: &str = "placement.undefined_code";
    pub const INVENTORY_INUSE: &str = "placement.inventory.inuse";
    pub const CONCURRENT_UPDATE: &str = "placement.concurrent_update";
    pub const DUPLICATE_NAME: &str = "placement.duplicate_name";
    pub const PROVIDER_IN_USE: &str = "placement.resource_provider.inuse";
    pub const PROVIDER_CANNOT_DELETE_PARENT: &str = "placement.resource_provider.cannot_delete_parent";
    pub const RESOURCE_PROVIDER_NOT_FOUND: &str = "placement.resource_provider.not_found";
    pub const ILLEGAL_DUPLICATE_QUERYPARAM: &str = "placement.query.duplicate_key";
    pub const QUERYPARAM_BAD_VALUE: &str = "placement.query.bad_value";
    pub const QUERYPARAM_MISSING_VALUE: &str = "placement.query.missing_value";
}

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("{0}")]
    BadRequest(String),
    /// A bad query string, with the specific code upstream gives it.
    #[error("{message}")]
    BadQuery { code: &'static str, message: String },
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("Policy does not allow {0} to be performed.")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// A resource provider named in a query (in_tree) or body that does not exist.
    #[error("{0}")]
    ProviderNotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A generation (provider or consumer) did not match: someone else wrote first.
    #[error("{0}")]
    ConcurrentUpdate(String),
    #[error("{0}")]
    DuplicateName(String),
    #[error("{0}")]
    InventoryInUse(String),
    #[error("{0}")]
    ProviderInUse(String),
    #[error("{0}")]
    CannotDeleteParent(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("The media type {0} is not supported, use application/json")]
    UnsupportedMediaType(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error")]
    Db(#[from] db::DbError),
}

impl PlacementError {
    pub fn status(&self) -> StatusCode {
        use PlacementError as E;
        match self {
            E::BadRequest(_) | E::BadQuery { .. } => StatusCode::BAD_REQUEST,
            E::Unauthorized => StatusCode::UNAUTHORIZED,
            E::Forbidden(_) => StatusCode::FORBIDDEN,
            E::NotFound(_) | E::ProviderNotFound(_) => StatusCode::NOT_FOUND,
            E::Conflict(_) | E::ConcurrentUpdate(_) | E::DuplicateName(_) | E::InventoryInUse(_) | E::ProviderInUse(_) | E::CannotDeleteParent(_) => StatusCode::CONFLICT,
            E::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            E::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            E::Db(db::DbError::Duplicate(_)) => StatusCode::CONFLICT,
            E::Internal(_) | E::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        use PlacementError as E;
        match self {
            E::BadQuery { code, .. } => code,
            E::ProviderNotFound(_) => codes::RESOURCE_PROVIDER_NOT_FOUND,
            E::ConcurrentUpdate(_) => codes::CONCURRENT_UPDATE,
            E::DuplicateName(_) => codes::DUPLICATE_NAME,
            E::InventoryInUse(_) => codes::INVENTORY_INUSE,
            E::ProviderInUse(_) => codes::PROVIDER_IN_USE,
            E::CannotDeleteParent(_) => codes::PROVIDER_CANNOT_DELETE_PARENT,
            _ => codes::DEFAULT,
        }
    }

    /// Whether retrying the whole transaction may succeed (a provider generation moved under
    /// us while we were checking capacity, or the engine chose us as a deadlock victim).
    pub fn is_retryable(&self) -> bool {
        match self {
            PlacementError::Db(db::DbError::Sql(e)) => {
                let m = e.to_string().to_ascii_lowercase();
                m.contains("deadlock") || m.contains("could not serialize") || m.contains("lock wait timeout")
            }
            _ => false,
        }
    }

    pub fn bad_value(message: impl Into<String>) -> Self {
        PlacementError::BadQuery { code: codes::QUERYPARAM_BAD_VALUE, message: message.into() }
    }
}

impl IntoResponse for PlacementError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "unexpected error");
            "The server has either erred or is incapable of performing the requested operation.".to_string()
        } else if let PlacementError::Db(db::DbError::Duplicate(_)) = self {
            "The resource already exists.".to_string()
        } else {
            self.to_string()
        };
        let mut resp = ErrorBody::new(status, message).with_kind(self.code()).into_response_for(Envelope::Placement);
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Keystone uri=\"\""));
        }
        resp
    }
}

pub type Result<T, E = PlacementError> = std::result::Result<T, E>;
