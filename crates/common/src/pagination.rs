//! limit/marker pagination as Nova, Neutron, Cinder and Keystone take it: `?limit=N&marker=ID`,
//! a maximum page size from config, and a `rel=next` link that repeats the query with the last
//! item as the new marker.

use std::collections::BTreeMap;

/// Why pagination parameters were refused (rendered as 400 by each service).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaginationError {
    #[error("limit must be a non-negative integer, got '{0}'")]
    BadLimit(String),
}

/// A page request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageParams {
    pub limit: Option<usize>,
    pub marker: Option<String>,
}

impl PageParams {
    /// Reads `limit` and `marker` from decoded query parameters; `max_limit` caps the page.
    pub fn from_query(query: &BTreeMap<String, String>, max_limit: usize) -> Result<Self, PaginationError> {
        let limit = match query.get("limit") {
            None => None,
            Some(s) => {
                let n: i64 = s.trim().parse().map_err(|_| PaginationError::BadLimit(s.clone()))?;
                if n < 0 {
                    return Err(PaginationError::BadLimit(s.clone()));
                }
                Some((n as usize).min(max_limit))
            }
        };
        Ok(Self { limit, marker: query.get("marker").cloned().filter(|m| !m.is_empty()) })
    }

    /// Applies the page to an already filtered and sorted list, given each item's id.
    /// Returns the page and whether a next link is owed (the page was full).
    pub fn apply<T>(&self, items: Vec<T>, id_of: impl Fn(&T) -> &str) -> Result<(Vec<T>, bool), String> {
        let mut items = items;
        if let Some(marker) = &self.marker {
            match items.iter().position(|i| id_of(i) == marker) {
                Some(pos) => {
                    items.drain(..=pos);
                }
                None => return Err(marker.clone()),
            }
        }
        match self.limit {
            Some(limit) if items.len() > limit => {
                items.truncate(limit);
                Ok((items, true))
            }
            Some(limit) => {
                let full = limit > 0 && items.len() == limit;
                Ok((items, full))
            }
            None => Ok((items, false)),
        }
    }
}

/// Builds the `rel=next` href: the same path and query, with `marker` replaced.
pub fn next_href(base_url: &str, path: &str, query: &BTreeMap<String, String>, marker: &str) -> String {
    let mut q: Vec<String> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "marker")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    q.push(format!("marker={}", encode(marker)));
    format!("{}{}?{}", base_url.trim_end_matches('/'), path, q.join("&"))
}

fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let mut q = BTreeMap::new();
        q.insert("limit".to_string(), "2".to_string());
        let p = PageParams::from_query(&q, 1000).unwrap();
        let (page, more) = p.apply(vec!["a", "b", "c"], |s| s).unwrap();
        assert_eq!(page, vec!["a", "b"]);
        assert!(more);
        let p = PageParams { limit: Some(2), marker: Some("b".into()) };
        let (page, more) = p.apply(vec!["a", "b", "c"], |s| s).unwrap();
        assert_eq!(page, vec!["c"]);
        assert!(!more);
        assert!(PageParams { limit: None, marker: Some("z".into()) }.apply(vec!["a"], |s| s).is_err());
        q.insert("limit".to_string(), "-1".to_string());
        assert!(PageParams::from_query(&q, 10).is_err());
        assert_eq!(next_href("http://h:1/", "/v2.1/servers", &BTreeMap::new(), "x y"), "http://h:1/v2.1/servers?marker=x%20y");
    }
}
