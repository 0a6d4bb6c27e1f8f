//! Placement's schema and named queries (`<resource>_<verb>`), as placement/objects and
//! placement/db: reads take the pool, every write takes a transaction so that the app layer
//! can group a capacity check, the writes and the provider generation bumps atomically.

pub mod allocations;
pub mod providers;
pub mod schema;

/// Now, in stored microseconds.
pub fn now() -> i64 {
    common::time::to_micros(common::time::now())
}
