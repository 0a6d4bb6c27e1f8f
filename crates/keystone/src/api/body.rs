//! Request-body reading with Keystone's answers for bad input: malformed JSON and wrong
//! types are 400 in Keystone's envelope (never axum's plain-text rejections), with a message
//! naming the field.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::KeystoneError;

/// A JSON request body, parsed into a value and checked to be an object.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = KeystoneError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| KeystoneError::Validation(format!("Could not read the request body: {e}")))?;
        if bytes.is_empty() {
            return Err(KeystoneError::Validation("Expecting to find a request body but it was empty.".into()));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| KeystoneError::Validation(format!("Malformed request body: {e}")))?;
        match v {
            Value::Object(m) => Ok(JsonBody(m)),
            _ => Err(KeystoneError::Validation("The request body must be a JSON object.".into())),
        }
    }
}

impl JsonBody {
    /// The object under `key` (`{"user": {...}}`), required.
    pub fn entity(mut self, key: &str) -> Result<Map<String, Value>, KeystoneError> {
        match self.0.remove(key) {
            Some(Value::Object(m)) => Ok(m),
            Some(_) => Err(KeystoneError::invalid_field(key, "must be an object")),
            None => Err(KeystoneError::Validation(format!("Invalid input for field '{key}': '{key}' is a required property"))),
        }
    }
}

/// Field readers that give Keystone's validation errors.
pub trait Fields {
    fn req_str(&self, key: &str, max: usize) -> Result<String, KeystoneError>;
    fn opt_str(&self, key: &str, max: usize) -> Result<Option<String>, KeystoneError>;
    /// A string field that may be explicitly `null` (Some(None)) or absent (None).
    fn nullable_str(&self, key: &str, max: usize) -> Result<Option<Option<String>>, KeystoneError>;
    fn opt_bool(&self, key: &str) -> Result<Option<bool>, KeystoneError>;
    fn opt_i64(&self, key: &str) -> Result<Option<i64>, KeystoneError>;
}

impl Fields for Map<String, Value> {
    fn req_str(&self, key: &str, max: usize) -> Result<String, KeystoneError> {
        match self.opt_str(key, max)? {
            Some(s) => Ok(s),
            None => Err(KeystoneError::Validation(format!("Invalid input for field '{key}': '{key}' is a required property"))),
        }
    }

    fn opt_str(&self, key: &str, max: usize) -> Result<Option<String>, KeystoneError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => {
                if s.chars().count() > max {
                    return Err(KeystoneError::invalid_field(key, format!("'{s}' is too long (at most {max} characters)")));
                }
                Ok(Some(s.clone()))
            }
            Some(Value::Null) => Err(KeystoneError::invalid_field(key, "None is not of type 'string'")),
            Some(other) => Err(KeystoneError::invalid_field(key, format!("{other} is not of type 'string'"))),
        }
    }

    fn nullable_str(&self, key: &str, max: usize) -> Result<Option<Option<String>>, KeystoneError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(_) => Ok(Some(self.opt_str(key, max)?)),
        }
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, KeystoneError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(KeystoneError::invalid_field(key, format!("{other} is not of type 'boolean'"))),
        }
    }

    fn opt_i64(&self, key: &str) -> Result<Option<i64>, KeystoneError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
            Some(other) => Err(KeystoneError::invalid_field(key, format!("{other} is not of type 'integer'"))),
        }
    }
}

/// Names must not be empty or only white space (Keystone's `name` schema).
pub fn check_name(key: &str, name: &str) -> Result<(), KeystoneError> {
    if name.trim().is_empty() {
        return Err(KeystoneError::invalid_field(key, format!("'{name}' does not match '^[^\\s]+.*'")));
    }
    Ok(())
}

/// The attributes of an entity body that are not among `known`: Keystone keeps them as
/// "extra" and returns them as given.
pub fn extra_from(body: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    body.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// An update body must name at least one attribute (the schemas' `minProperties: 1`).
pub fn not_empty(key: &str, body: &Map<String, Value>) -> Result<(), KeystoneError> {
    if body.is_empty() {
        return Err(KeystoneError::invalid_field(key, "{} does not have enough properties"));
    }
    Ok(())
}

/// `_require_matching_id`: an `id` in an update body must be the one in the path.
pub fn matching_id(body: &Map<String, Value>, id: &str) -> Result<(), KeystoneError> {
    match body.get("id") {
        Some(Value::Null) | None => Ok(()),
        Some(v) if v.as_str() == Some(id) => Ok(()),
        Some(_) => Err(KeystoneError::Validation("Cannot change ID".into())),
    }
}
