//! Keystone's named queries (`<resource>_<verb>`), one module per upstream backend area.

pub mod assignment;
pub mod catalog;
pub mod credentials;
pub mod identity;
pub mod misc;
pub mod resource;
pub mod schema;
pub mod tokens;
pub mod trusts;

use serde_json::{Map, Value};

/// Reads an `extra` JSON column (absent or invalid → empty).
pub fn extra_of(text: Option<String>) -> Map<String, Value> {
    text.and_then(|t| serde_json::from_str::<Map<String, Value>>(&t).ok()).unwrap_or_default()
}

/// Writes an `extra` JSON column.
pub fn extra_text(extra: &Map<String, Value>) -> String {
    Value::Object(extra.clone()).to_string()
}

/// `IN (?, ?, ...)` with as many placeholders as values.
pub fn in_list(n: usize) -> String {
    let mut s = String::from("(");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}
