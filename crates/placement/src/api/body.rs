//! Reading requests the way Placement's JSON schemas (placement/schemas) and query-string
//! parsers (placement/util.py) do: a JSON body only with `application/json`, no unknown keys,
//! typed fields with upstream's bounds, and query strings where a repeated key is an error
//! unless the key may repeat.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use common::microversion::{Microversion, Version};
use serde_json::{Map, Value};

use crate::error::{codes, PlacementError, Result};

/// A JSON object body.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = PlacementError;

    async fn from_request(req: Request, _state: &S) -> Result<Self> {
        let ctype = req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        if !ctype.as_deref().is_some_and(|c| c.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))) {
            return Err(PlacementError::UnsupportedMediaType(ctype.unwrap_or_else(|| "None".into())));
        }
        let bytes = axum::body::to_bytes(req.into_body(), 16 << 20).await.map_err(|e| PlacementError::BadRequest(format!("cannot read the request body: {e}")))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| PlacementError::BadRequest(format!("Malformed JSON: {e}")))?;
        Ok(JsonBody(v))
    }
}

/// The negotiated microversion (1.0 when the layer did not run).
pub struct Mv(pub Microversion);

impl Mv {
    pub fn at_least(&self, minor: u32) -> bool {
        self.0.at_least(1, minor)
    }

    /// 404 below `1.minor`, as upstream answers for a route or method its version lacks.
    pub fn require(&self, minor: u32) -> Result<()> {
        if self.at_least(minor) {
            Ok(())
        } else {
            Err(PlacementError::NotFound("The resource could not be found.".into()))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Mv {
    type Rejection = PlacementError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        Ok(Mv(parts.extensions.get::<Microversion>().copied().unwrap_or(Microversion(Version::new(1, 0)))))
    }
}

/// The query string as ordered pairs.
pub struct QueryPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryPairs {
    type Rejection = PlacementError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()))
    }
}

impl QueryPairs {
    /// The one value of `key`; a repeated key is 400 `placement.query.duplicate_key`.
    pub fn single(&self, key: &str) -> Result<Option<&str>> {
        let mut it = self.0.iter().filter(|(k, _)| k == key);
        let first = it.next().map(|(_, v)| v.as_str());
        if it.next().is_some() {
            return Err(PlacementError::BadQuery { code: codes::ILLEGAL_DUPLICATE_QUERYPARAM, message: format!("Query parameter {key:?} may be provided only once.") });
        }
        Ok(first)
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// 400 for keys outside `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<()> {
        for (k, _) in &self.0 {
            if !allowed.contains(&k.as_str()) {
                return Err(PlacementError::BadRequest(format!("Invalid query string parameters: Additional properties are not allowed ('{k}' was unexpected)")));
            }
        }
        Ok(())
    }
}

/// The body as an object whose keys are all in `allowed` and which has every `required` key.
pub fn object<'a>(v: &'a Value, allowed: &[&str], required: &[&str]) -> Result<&'a Map<String, Value>> {
    let obj = v.as_object().ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {v} is not of type 'object'")))?;
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(PlacementError::BadRequest(format!("JSON does not validate: Additional properties are not allowed ('{k}' was unexpected)")));
        }
    }
    for k in required {
        if !obj.contains_key(*k) {
            return Err(PlacementError::BadRequest(format!("JSON does not validate: '{k}' is a required property")));
        }
    }
    Ok(obj)
}

/// An integer field within [min, max].
pub fn int_in(obj: &Map<String, Value>, key: &str, min: i64, max: i64) -> Result<Option<i64>> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => {
            let n = v.as_i64().filter(|_| !v.is_f64()).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {v} is not of type 'integer' (in '{key}')")))?;
            if n < min {
                return Err(PlacementError::BadRequest(format!("JSON does not validate: {n} is less than the minimum of {min} (in '{key}')")));
            }
            if n > max {
                return Err(PlacementError::BadRequest(format!("JSON does not validate: {n} is greater than the maximum of {max} (in '{key}')")));
            }
            Ok(Some(n))
        }
    }
}

pub fn string<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(v) => Err(PlacementError::BadRequest(format!("JSON does not validate: {v} is not of type 'string' (in '{key}')"))),
    }
}

/// A UUID string (any accepted form), returned canonical.
pub fn uuid_value(v: &Value, what: &str) -> Result<String> {
    v.as_str().and_then(crate::app::normalize_uuid).ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: {v} is not a 'uuid' (in '{what}')")))
}

/// A generation: a non-negative integer.
pub fn generation(obj: &Map<String, Value>, key: &str) -> Result<i64> {
    int_in(obj, key, 0, i64::MAX)?.ok_or_else(|| PlacementError::BadRequest(format!("JSON does not validate: '{key}' is a required property")))
}
