//! (being written)

use axum::Router;

use crate::app::SharedApp;

pub fn routes() -> Router<SharedApp> {
    Router::new()
}
