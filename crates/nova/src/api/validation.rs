//! Request-body checks in the shape of nova/api/validation (the JSON schemas of
//! nova/api/openstack/compute/schemas and parameter_types.py): a JSON body extractor that
//! answers malformed JSON with a compute 400, and helpers for the parameter types the
//! schemas share. Refusals read "Invalid input for field/attribute X. Value: V. reason", as
//! upstream's validator words them.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use crate::error::NovaError;

/// A JSON request body (any JSON; the handler checks its shape).
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = NovaError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| NovaError::BadRequest(format!("Malformed request body: {e}")))?;
        if bytes.is_empty() {
            return Err(NovaError::BadRequest("Malformed request body".into()));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|_| NovaError::BadRequest("Malformed request body".into()))
    }
}

/// The 400 upstream's schema validator sends.
pub fn invalid(field: &str, value: &Value, reason: &str) -> NovaError {
    let shown = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    NovaError::BadRequest(format!("Invalid input for field/attribute {field}. Value: {shown}. {reason}"))
}

/// `body[key]` as an object, required.
pub fn object<'a>(body: &'a Value, key: &str) -> Result<&'a Map<String, Value>, NovaError> {
    match body.get(key) {
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(invalid(key, other, &format!("{other} is not of type 'object'"))),
        None => Err(NovaError::BadRequest(format!("Invalid input for field/attribute {key}. Value: {body}. '{key}' is a required property"))),
    }
}

/// Refuses properties the schema does not name (`additionalProperties: False`).
pub fn no_extra(obj: &Map<String, Value>, allowed: &[&str], field: &str) -> Result<(), NovaError> {
    let extra: Vec<&String> = obj.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    if extra.is_empty() {
        return Ok(());
    }
    let names = extra.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let verb = if extra.len() == 1 { "was" } else { "were" };
    Err(NovaError::BadRequest(format!("Invalid input for field/attribute {field}. Value: {}. Additional properties are not allowed ({names} {verb} unexpected)", Value::Object(obj.clone()))))
}

/// Requires `key` in `obj`.
pub fn required<'a>(obj: &'a Map<String, Value>, key: &str, field: &str) -> Result<&'a Value, NovaError> {
    obj.get(key).ok_or_else(|| NovaError::BadRequest(format!("Invalid input for field/attribute {field}. Value: {}. '{key}' is a required property", Value::Object(obj.clone()))))
}

/// An integer given as a JSON integer or a string of digits (`volume_size`-like parameter
/// types: `^[0-9]+$` for strings, `minimum`/`maximum` for numbers; the range is checked for
/// both, as nova/utils.validate_integer does after the schema).
pub fn integer(value: &Value, field: &str, min: i64, max: i64, signed: bool) -> Result<i64, NovaError> {
    let n = match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => i,
            None if n.as_f64().is_some_and(|f| f.fract() == 0.0) => n.as_f64().map(|f| f as i64).unwrap_or(0),
            None => return Err(invalid(field, value, &format!("{value} is not of type 'integer', 'string'"))),
        },
        Value::String(s) => {
            let digits = s.strip_prefix('-').filter(|_| signed).unwrap_or(s);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                let pattern = if signed { "^-?[0-9]+$" } else { "^[0-9]+$" };
                return Err(invalid(field, value, &format!("'{s}' does not match '{pattern}'")));
            }
            s.parse::<i64>().map_err(|_| invalid(field, value, &format!("{s} is greater than the maximum of {max}")))?
        }
        other => return Err(invalid(field, other, &format!("{other} is not of type 'integer', 'string'"))),
    };
    if n < min {
        return Err(invalid(field, value, &format!("{n} is less than the minimum of {min}")));
    }
    if n > max {
        return Err(invalid(field, value, &format!("{n} is greater than the maximum of {max}")));
    }
    Ok(n)
}

/// `parameter_types.boolean`: JSON booleans and the spellings upstream lists.
pub fn boolean(value: &Value, field: &str) -> Result<bool, NovaError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.as_str() {
            "True" | "TRUE" | "true" | "1" | "ON" | "On" | "on" | "YES" | "Yes" | "yes" => Ok(true),
            "False" | "FALSE" | "false" | "0" | "OFF" | "Off" | "off" | "NO" | "No" | "no" => Ok(false),
            _ => Err(invalid(field, value, &format!("'{s}' is not one of the allowed values"))),
        },
        other => Err(invalid(field, other, &format!("{other} is not of type 'boolean', 'string'"))),
    }
}

/// Printable as upstream's `_is_printable`: no control, format or unassigned characters and
/// no separators other than spaces.
fn printable(c: char) -> bool {
    !c.is_control() && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{ad}')
}

/// `parameter_types.name`: 1-255 printable characters, not starting or ending with
/// whitespace.
pub fn name(value: &Value, field: &str) -> Result<String, NovaError> {
    let Value::String(s) = value else {
        return Err(invalid(field, value, &format!("{value} is not of type 'string'")));
    };
    let len = s.chars().count();
    if len < 1 {
        return Err(invalid(field, value, &format!("'{s}' is too short")));
    }
    if len > 255 {
        return Err(invalid(field, value, &format!("'{s}' is too long")));
    }
    let edge_ws = s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace);
    if edge_ws || !s.chars().all(printable) {
        return Err(invalid(field, value, "printable characters. Can not start or end with whitespace."));
    }
    Ok(s.clone())
}

/// A description (`['string', 'null']`, printable characters, up to `max` characters).
pub fn description(value: &Value, field: &str, max: usize) -> Result<Option<String>, NovaError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => {
            if s.chars().count() > max {
                return Err(invalid(field, value, &format!("'{s}' is too long")));
            }
            if !s.chars().all(|c| printable(c) || c == ' ') {
                return Err(invalid(field, value, "'description' must be printable characters"));
            }
            Ok(Some(s.clone()))
        }
        other => Err(invalid(field, other, &format!("{other} is not of type 'string', 'null'"))),
    }
}

/// Refuses unknown query parameters (from 2.75 for most GETs: `additionalProperties: False`).
pub fn no_extra_query(query: &std::collections::BTreeMap<String, String>, allowed: &[&str]) -> Result<(), NovaError> {
    let extra: Vec<&String> = query.keys().filter(|k| !allowed.contains(&k.as_str())).collect();
    if extra.is_empty() {
        return Ok(());
    }
    let names = extra.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
    let verb = if extra.len() == 1 { "was" } else { "were" };
    Err(NovaError::BadRequest(format!("Invalid input for query parameters. Additional properties are not allowed ({names} {verb} unexpected)")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integers_come_as_numbers_or_digit_strings() {
        assert_eq!(integer(&json!(5), "ram", 1, 10, false).unwrap(), 5);
        assert_eq!(integer(&json!("5"), "ram", 1, 10, false).unwrap(), 5);
        assert!(integer(&json!("-5"), "ram", 1, 10, false).is_err());
        assert_eq!(integer(&json!("-1"), "cores", -1, 10, true).unwrap(), -1);
        assert!(integer(&json!(0), "ram", 1, 10, false).is_err());
        assert!(integer(&json!(1.5), "ram", 1, 10, false).is_err());
        assert!(integer(&json!(true), "ram", 1, 10, false).is_err());
    }

    #[test]
    fn names_are_printable_without_edge_spaces() {
        assert!(name(&json!("m1.tiny"), "name").is_ok());
        assert!(name(&json!(" x"), "name").is_err());
        assert!(name(&json!(""), "name").is_err());
        assert!(name(&json!("a\nb"), "name").is_err());
    }
}
