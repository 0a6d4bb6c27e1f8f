//! Nova's errors and their `{"itemNotFound": {"code": 404, "message": ...}}` bodies, in one
//! place. Messages follow upstream's wording where clients or Tempest look at them.

use axum::response::{IntoResponse, Response};
use common::error::{Envelope, ErrorBody};
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum NovaError {
    #[error("{0}")]
    BadRequest(String),
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Quota exceeded: 403 with upstream's message (413 only for some legacy paths).
    #[error("{0}")]
    OverQuota(String),
    /// 501: the deployment's hypervisor cannot do this (upstream's HTTPNotImplemented).
    #[error("{0}")]
    Unsupported(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error")]
    Db(#[from] db::DbError),
}

impl NovaError {
    fn status(&self) -> StatusCode {
        match self {
            NovaError::BadRequest(_) => StatusCode::BAD_REQUEST,
            NovaError::Unauthorized => StatusCode::UNAUTHORIZED,
            NovaError::Forbidden(_) | NovaError::OverQuota(_) => StatusCode::FORBIDDEN,
            NovaError::NotFound(_) => StatusCode::NOT_FOUND,
            NovaError::Conflict(_) | NovaError::Db(db::DbError::Duplicate(_)) => StatusCode::CONFLICT,
            NovaError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            NovaError::Internal(_) | NovaError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for NovaError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            tracing::error!(error = ?self, "unexpected error");
            "Unexpected API Error. Please report this at https://bugs.launchpad.net/nova/ and attach the Nova API log if possible.".to_string()
        } else {
            self.to_string()
        };
        ErrorBody::new(status, message).into_response_for(Envelope::Compute)
    }
}

pub type Result<T, E = NovaError> = std::result::Result<T, E>;
