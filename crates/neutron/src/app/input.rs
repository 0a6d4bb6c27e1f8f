//! A request body's resource attributes, read the way neutron-lib's attribute validators
//! and converters read them (`convert_to_boolean` accepts "true"/"1", integers may come as
//! strings), with upstream's messages: "Invalid input for <attr>. Reason: <why>." and
//! "Unrecognized attribute(s) '<names>'".

use serde_json::{Map, Value};

use crate::error::{NeutronError, Result};

pub struct Input(pub Map<String, Value>);

pub fn invalid(attr: &str, reason: impl std::fmt::Display) -> NeutronError {
    NeutronError::InvalidInput(format!("Invalid input for {attr}. Reason: {reason}"))
}

impl Input {
    /// Refuses attributes outside `allowed` (for updates, read-only ones get their own message).
    pub fn check_known(&self, allowed: &[&str], read_only: &[&str]) -> Result<()> {
        let mut unknown: Vec<&str> = Vec::new();
        for k in self.0.keys() {
            if allowed.contains(&k.as_str()) {
                continue;
            }
            if read_only.contains(&k.as_str()) {
                return Err(NeutronError::HttpBadRequest(format!("Cannot update read-only attribute {k}")));
            }
            unknown.push(k);
        }
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(NeutronError::HttpBadRequest(format!("Unrecognized attribute(s) '{}'", unknown.join(", "))))
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A string attribute; absent or null is None.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(invalid(key, format!("'{v}' is not a valid string"))),
        }
    }

    /// A string attribute of at most `max` characters.
    pub fn opt_str_max(&self, key: &str, max: usize) -> Result<Option<String>> {
        let s = self.opt_str(key)?;
        if let Some(v) = &s {
            if v.chars().count() > max {
                return Err(invalid(key, format!("'{v}' exceeds maximum length of {max}")));
            }
        }
        Ok(s)
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s == "0" => Ok(Some(false)),
            Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(Some(true)),
            Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(Some(false)),
            Some(v) => Err(invalid(key, format!("'{}' cannot be converted to boolean", display(v)))),
        }
    }

    /// An integer attribute (a numeric string is accepted, as `convert_to_int`); null is None.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => int_of(v).map(Some).ok_or_else(|| invalid(key, format!("'{}' is not an integer", display(v)))),
        }
    }

    /// A list attribute; absent is None, null is an empty list.
    pub fn opt_list(&self, key: &str) -> Result<Option<Vec<Value>>> {
        match self.0.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Vec::new())),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(v) => Err(invalid(key, format!("'{}' is not a list", display(v)))),
        }
    }
}

pub fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as upstream's messages print it (strings bare).
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
