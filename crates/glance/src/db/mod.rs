//! Glance's named queries and schema (glance/db/sqlalchemy).

pub mod images;
pub mod metadefs;
pub mod schema;
pub mod tasks;
