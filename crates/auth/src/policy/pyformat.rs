//! Python's `str()` of JSON values, as oslo.policy's checks see them.
//!
//! oslo.policy decides by comparing strings that Python produced: `self.match % target`
//! renders a target value with `str()`, and a generic check compares that result with
//! `str()` of a credential value or of a literal. To give the same answers we render a
//! JSON value the way Python renders the object `json.loads` would have built from it:
//! `True`, `None`, `1.0`, `1e-05`, `['a', 'b']`, `{'k': 'v'}`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

/// `str(value)` for the Python object that `json.loads` would build from `value`.
pub(crate) fn py_str(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text.as_str()),
        // For None, booleans, numbers, lists and dicts, str() is repr().
        other => Cow::Owned(py_repr(other)),
    }
}

/// Python's truth value of the object `json.loads` would build from `value`.
pub(crate) fn py_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// `repr(value)` for the Python object that `json.loads` would build from `value`.
pub(crate) fn py_repr(value: &Value) -> String {
    let mut out = String::new();
    write_repr(value, &mut out);
    out
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                let _ = write!(out, "{integer}");
            } else if let Some(integer) = number.as_u64() {
                let _ = write!(out, "{integer}");
            } else {
                out.push_str(&py_float(number.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(text) => write_str_repr(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (index, (key, item)) in map.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_str_repr(key, out);
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// `repr()` of a Python str: single quotes unless the text holds a single quote and no
/// double quote.
fn write_str_repr(text: &str, out: &mut String) {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in -4..16 (always with a fractional part, `1.0`), otherwise in
/// scientific notation with a signed two-digit exponent (`1e-05`, `1.5e+16`).
pub(crate) fn py_float(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    let sign = if value.is_sign_negative() { "-" } else { "" };
    // Rust's `{:e}` already gives the shortest round-trip digits: "1.5e16", "0e0".
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let (first, rest) = digits.split_at(1.min(digits.len()));

    if !(-4..16).contains(&exponent) {
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exponent_sign}{:02}", exponent.unsigned_abs());
    }
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = exponent as usize + 1;
    if digits.len() <= point {
        let zeros = "0".repeat(point - digits.len());
        format!("{sign}{digits}{zeros}.0")
    } else {
        let (whole, fraction) = digits.split_at(point);
        format!("{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_render_like_python() {
        assert_eq!(py_str(&json!(null)), "None");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(false)), "False");
        assert_eq!(py_str(&json!(42)), "42");
        assert_eq!(py_str(&json!(-7)), "-7");
        assert_eq!(py_str(&json!(u64::MAX)), "18446744073709551615");
        assert_eq!(py_str(&json!("text")), "text");
    }

    #[test]
    fn floats_render_like_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e100, "1e+100"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
        ];
        for (value, expected) in cases {
            assert_eq!(py_float(value), expected, "{value}");
        }
    }

    #[test]
    fn containers_render_like_python_repr() {
        assert_eq!(py_str(&json!(["a", 1, null, true])), "['a', 1, None, True]");
        assert_eq!(py_str(&json!({"k": "v"})), "{'k': 'v'}");
        assert_eq!(py_str(&json!(["it's"])), "[\"it's\"]");
        assert_eq!(py_str(&json!(["a\nb"])), "['a\\nb']");
        assert_eq!(py_str(&json!([])), "[]");
    }

    #[test]
    fn truthiness_follows_python() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({})] {
            assert!(!py_truthy(&falsy), "{falsy}");
        }
        for truthy in [json!(true), json!(1), json!("all"), json!([0]), json!({"a": 1})] {
            assert!(py_truthy(&truthy), "{truthy}");
        }
    }
}
