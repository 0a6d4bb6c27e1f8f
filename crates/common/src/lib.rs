//! What every Ferrostack service shares: OpenStack error envelopes, request ids, microversion
//! negotiation, limit/marker pagination, oslo.config-style INI configuration, version discovery
//! documents, OpenStack timestamp formats and the HTTP server runner.

pub mod config;
pub mod error;
pub mod ids;
pub mod microversion;
pub mod pagination;
pub mod request_id;
pub mod server;
pub mod time;
pub mod version;

pub use error::{Envelope, ErrorBody};
pub use request_id::RequestId;
