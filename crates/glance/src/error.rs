//! Glance's errors and its (plain-text) error bodies, in one place. Messages follow upstream's
//! wording so clients and operators see what they expect.

use axum::response::{IntoResponse, Response};
use common::error::{Envelope, ErrorBody};
use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum GlanceError {
    #[error("{0}")]
    BadRequest(String),
    #[error("The request you have made requires authentication.")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("No image found with ID {0}")]
    ImageNotFound(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RangeNotSatisfiable(String),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error")]
    Db(#[from] db::DbError),
    #[error("store error: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Metadef(#[from] crate::app::metadefs::MetadefError),
}

impl GlanceError {
    fn status(&self) -> StatusCode {
        match self {
            GlanceError::BadRequest(_) => StatusCode::BAD_REQUEST,
            GlanceError::Unauthorized => StatusCode::UNAUTHORIZED,
            GlanceError::Forbidden(_) => StatusCode::FORBIDDEN,
            GlanceError::ImageNotFound(_) | GlanceError::NotFound(_) => StatusCode::NOT_FOUND,
            GlanceError::Conflict(_) | GlanceError::Db(db::DbError::Duplicate(_)) => StatusCode::CONFLICT,
            GlanceError::RequestEntityTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            GlanceError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            GlanceError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            GlanceError::Internal(_) | GlanceError::Db(_) | GlanceError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            GlanceError::Metadef(e) => {
                use crate::app::metadefs::MetadefError as M;
                match e {
                    M::NamespaceNotFound(_) | M::ObjectNotFound { .. } | M::PropertyNotFound { .. } | M::TagNotFound { .. } | M::AssociationNotFound { .. } | M::PrefixMismatch { .. } => {
                        StatusCode::NOT_FOUND
                    }
                    M::DuplicateNamespace(_) | M::DuplicateObject { .. } | M::DuplicateProperty { .. } | M::DuplicateTag { .. } | M::DuplicateAssociation { .. } => StatusCode::CONFLICT,
                    M::NamespaceProtected(_) | M::ContentProtected { .. } => StatusCode::FORBIDDEN,
                }
            }
        }
    }
}

impl IntoResponse for GlanceError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            tracing::error!(error = ?self, "unexpected error");
            "The server has either erred or is incapable of performing the requested operation.".to_string()
        } else {
            self.to_string()
        };
        ErrorBody::new(status, message).into_response_for(Envelope::PlainText)
    }
}

pub type Result<T, E = GlanceError> = std::result::Result<T, E>;
