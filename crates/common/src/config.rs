//! oslo.config-style INI configuration: `[section]` headers, `key = value` options, `#`/`;`
//! comments, indented continuation lines, repeated keys for multi-valued options, and the
//! `[DEFAULT]` section as a fallback for every other section (as oslo.config does).
//! Option names are the upstream services' own (`[database] connection`, `[token] expiration`).

use std::collections::BTreeMap;
use std::path::Path;

/// Why a configuration file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, #[source] source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Syntax { path: String, line: usize, message: String },
    #[error("option [{section}] {key} = '{value}' is invalid: {message}")]
    Invalid { section: String, key: String, value: String, message: String },
}

/// A parsed configuration: section -> option -> values (last one wins for single-valued reads).
#[derive(Debug, Clone, Default)]
pub struct Config {
    sections: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let mut cfg = Config::default();
        let mut section: Option<String> = None;
        let mut last_key: Option<String> = None;
        for (n, raw) in text.lines().enumerate() {
            let line_no = n + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            // A continuation line: indented, directly after an option.
            if raw.starts_with([' ', '\t']) {
                if let (Some(s), Some(k)) = (&section, &last_key) {
                    if let Some(v) = cfg.sections.get_mut(s).and_then(|m| m.get_mut(k)).and_then(|v| v.last_mut()) {
                        v.push('\n');
                        v.push_str(trimmed);
                        continue;
                    }
                }
            }
            if let Some(name) = trimmed.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or_else(|| ConfigError::Syntax {
                    path: origin.to_string(),
                    line: line_no,
                    message: format!("unterminated section header: {trimmed}"),
                })?;
                section = Some(name.trim().to_string());
                cfg.sections.entry(name.trim().to_string()).or_default();
                last_key = None;
                continue;
            }
            let Some(s) = &section else {
                return Err(ConfigError::Syntax { path: origin.to_string(), line: line_no, message: "option outside of any [section]".into() });
            };
            let (k, v) = trimmed.split_once(['=', ':']).ok_or_else(|| ConfigError::Syntax {
                path: origin.to_string(),
                line: line_no,
                message: format!("expected 'key = value', got: {trimmed}"),
            })?;
            let key = k.trim().to_string();
            let mut value = v.trim().to_string();
            if value.len() >= 2 && ((value.starts_with('"') && value.ends_with('"')) || (value.starts_with('\'') && value.ends_with('\''))) {
                value = value[1..value.len() - 1].to_string();
            }
            cfg.sections.entry(s.clone()).or_default().entry(key.clone()).or_default().push(value);
            last_key = Some(key);
        }
        Ok(cfg)
    }

    /// Sets an option (used for command-line overrides and defaults computed at start-up).
    pub fn set(&mut self, section: &str, key: &str, value: impl Into<String>) {
        self.sections.entry(section.to_string()).or_default().insert(key.to_string(), vec![value.into()]);
    }

    /// The option's value, falling back to `[DEFAULT]`.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|m| m.get(key))
            .or_else(|| self.sections.get("DEFAULT").and_then(|m| m.get(key)))
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn get_or<'a>(&'a self, section: &str, key: &str, default: &'a str) -> &'a str {
        self.get(section, key).unwrap_or(default)
    }

    /// Every value of a multi-valued option.
    pub fn get_all(&self, section: &str, key: &str) -> Vec<&str> {
        self.sections.get(section).and_then(|m| m.get(key)).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default()
    }

    pub fn get_bool(&self, section: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(self.invalid(section, key, v, "expected a boolean (true/false)")),
            },
        }
    }

    pub fn get_int(&self, section: &str, key: &str, default: i64) -> Result<i64, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| self.invalid(section, key, v, "expected an integer")),
        }
    }

    pub fn get_float(&self, section: &str, key: &str, default: f64) -> Result<f64, ConfigError> {
        match self.get(section, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| self.invalid(section, key, v, "expected a number")),
        }
    }

    /// A comma-separated list option.
    pub fn get_list(&self, section: &str, key: &str) -> Vec<String> {
        self.get(section, key)
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    fn invalid(&self, section: &str, key: &str, value: &str, message: &str) -> ConfigError {
        ConfigError::Invalid { section: section.into(), key: key.into(), value: value.into(), message: message.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_oslo_style() {
        let c = Config::parse(
            "# comment\n[DEFAULT]\ndebug = true\n[database]\nconnection = sqlite:///x.db\n[token]\nexpiration=3600\n[x]\nmulti = a\nmulti = b\nlong = one\n  two\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.get("database", "connection"), Some("sqlite:///x.db"));
        assert_eq!(c.get_int("token", "expiration", 0).unwrap(), 3600);
        assert!(c.get_bool("token", "debug", false).unwrap());
        assert_eq!(c.get_all("x", "multi"), vec!["a", "b"]);
        assert_eq!(c.get("x", "long"), Some("one\ntwo"));
        assert!(Config::parse("key = v\n", "t").is_err());
        assert!(c.get_int("database", "connection", 0).is_err());
    }
}
