//! Timestamps in the formats OpenStack APIs put on the wire.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Keystone's token and resource format: `2026-11-23T12:00:00.000000Z`.
pub fn iso_micros_z(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Microseconds without a zone suffix, as Nova renders `launched_at`, action times and
/// service `updated_at`, and Keystone a credential's `expires_at`.
pub fn iso_micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// Seconds precision with a `Z`, as Nova and Glance render `created_at`.
pub fn iso_seconds_z(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Microseconds since the Unix epoch, how Ferrostack stores instants in SQL (portable across
/// SQLite, PostgreSQL and MySQL, and ordered).
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The instant a stored microsecond count stands for.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(us).single().unwrap_or_default()
}

/// Parses the ISO 8601 forms clients send (`2026-11-23T12:00:00Z`, with or without fraction,
/// offset or `Z`, and the offset-less form Keystone accepts as UTC).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// Now, truncated to microseconds (what every store keeps).
pub fn now() -> DateTime<Utc> {
    from_micros(to_micros(Utc::now()))
}

/// Evaluates an OpenStack timestamp filter (`gte:2026-01-01T00:00:00Z`; the operator is one of
/// lt, lte, gt, gte, eq, neq and defaults to eq) against an instant in microseconds, at second
/// precision as clients pass whole seconds. The error names the timestamp that did not parse.
pub fn matches_time_filter(filter: &str, value_micros: i64) -> Result<bool, String> {
    let (op, ts) = match filter.split_once(':') {
        Some((op, ts)) if ["lt", "lte", "gt", "gte", "eq", "neq"].contains(&op) => (op, ts),
        _ => ("eq", filter),
    };
    let t = parse_iso(ts).ok_or_else(|| ts.to_string())?;
    let (v, t) = (value_micros.div_euclid(1_000_000), to_micros(t).div_euclid(1_000_000));
    Ok(match op {
        "lt" => v < t,
        "lte" => v <= t,
        "gt" => v > t,
        "gte" => v >= t,
        "neq" => v != t,
        _ => v == t,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = parse_iso("2026-11-23T12:01:02.123456Z").unwrap();
        assert_eq!(iso_micros_z(t), "2026-11-23T12:01:02.123456Z");
        assert_eq!(iso_seconds_z(t), "2026-11-23T12:01:02Z");
        assert_eq!(from_micros(to_micros(t)), t);
        assert!(parse_iso("2026-11-23T12:01:02").is_some());
        assert!(parse_iso("2026-11-23T12:01:02+02:00").is_some());
        assert!(parse_iso("yesterday").is_none());
    }

    #[test]
    fn time_filters() {
        let t = to_micros(parse_iso("2026-11-23T12:00:00.5Z").unwrap());
        assert!(matches_time_filter("gte:2026-11-23T12:00:00Z", t).unwrap());
        assert!(matches_time_filter("2026-11-23T12:00:00Z", t).unwrap());
        assert!(!matches_time_filter("lt:2026-11-23T12:00:00Z", t).unwrap());
        assert!(matches_time_filter("neq:2026-01-01T00:00:00Z", t).unwrap());
        assert_eq!(matches_time_filter("gt:soon", t).unwrap_err(), "soon");
    }
}
