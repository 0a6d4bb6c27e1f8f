//! Listing as neutron/api/v2/base.py and neutron-lib's db utilities do it: filters on any
//! attribute (repeated keys are ORed; booleans as `True`/`true`; `fixed_ips=ip_address=X`;
//! `tags`, `tags-any`, `not-tags`, `not-tags-any`), `sort_key`/`sort_dir`, `limit`/`marker`
//! with `page_reverse` and the `<resource>_links` next/previous links, and `fields=`.

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::error::{NeutronError, Result};

const CONTROL: &[&str] = &["fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse", "tags", "tags-any", "not-tags", "not-tags-any"];

/// A parsed list query.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub raw: Vec<(String, String)>,
    pub filters: Vec<(String, Vec<String>)>,
    pub fields: Vec<String>,
    pub sort: Vec<(String, bool)>,
    pub limit: Option<usize>,
    pub marker: Option<String>,
    pub page_reverse: bool,
}

impl ListQuery {
    pub fn parse(raw: Vec<(String, String)>, max_limit: Option<usize>) -> Result<ListQuery> {
        let mut q = ListQuery { raw: raw.clone(), ..Default::default() };
        let mut keys = Vec::new();
        let mut dirs = Vec::new();
        for (k, v) in &raw {
            match k.as_str() {
                "fields" => q.fields.extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)),
                "sort_key" => keys.push(v.clone()),
                "sort_dir" => match v.as_str() {
                    "asc" => dirs.push(true),
                    "desc" => dirs.push(false),
                    _ => return Err(NeutronError::HttpBadRequest(format!("Invalid input for sort_dir. Reason: '{v}' is not in ['asc', 'desc']."))),
                },
                "limit" => {
                    let n: i64 = v.trim().parse().map_err(|_| NeutronError::HttpBadRequest(format!("Invalid input for limit. Reason: '{v}' is not an integer.")))?;
                    if n < 0 {
                        return Err(NeutronError::HttpBadRequest(format!("Invalid input for limit. Reason: '{v}' should be non-negative.")));
                    }
                    // limit=0 means "no limit", as upstream.
                    q.limit = usize::try_from(n).ok().filter(|n| *n > 0);
                }
                "marker" => q.marker = Some(v.clone()).filter(|m| !m.is_empty()),
                "page_reverse" => q.page_reverse = v.eq_ignore_ascii_case("true"),
                _ if CONTROL.contains(&k.as_str()) => {}
                _ => match q.filters.iter_mut().find(|(fk, _)| fk == k) {
                    Some((_, vals)) => vals.push(v.clone()),
                    None => q.filters.push((k.clone(), vec![v.clone()])),
                },
            }
        }
        if let Some(max) = max_limit {
            q.limit = Some(q.limit.map_or(max, |l| l.min(max)));
        }
        if !dirs.is_empty() && dirs.len() != keys.len() {
            return Err(NeutronError::HttpBadRequest("The number of sort_keys and sort_dirs must be same".into()));
        }
        q.sort = keys.into_iter().enumerate().map(|(i, k)| (k, dirs.get(i).copied().unwrap_or(true))).collect();
        Ok(q)
    }

    fn tag_values(&self, key: &str) -> Vec<String> {
        self.raw.iter().filter(|(k, _)| k == key).flat_map(|(_, v)| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>()).collect()
    }
}

/// The string form a filter value is compared with.
fn scalar_matches(attr: &Value, wanted: &str) -> bool {
    match attr {
        Value::String(s) => s == wanted,
        Value::Bool(b) => wanted.eq_ignore_ascii_case(if *b { "true" } else { "false" }) || wanted == if *b { "1" } else { "0" },
        Value::Number(n) => n.to_string() == wanted,
        Value::Null => wanted.is_empty() || wanted == "None",
        Value::Array(a) => a.iter().any(|x| scalar_matches(x, wanted)),
        Value::Object(_) => false,
    }
}

fn matches(item: &Value, key: &str, wanted: &[String]) -> bool {
    let Some(attr) = item.get(key) else { return false };
    wanted.iter().any(|w| {
        // `fixed_ips=ip_address=10.0.0.3` / `fixed_ips=subnet_id=...` and the like for lists of dicts.
        // (ip-substring-filtering: `fixed_ips=ip_address_substr=10.0.`).
        if let (Value::Array(list), Some((sub, val))) = (attr, w.split_once('=')) {
            if let Some(field) = sub.strip_suffix("_substr") {
                return list.iter().any(|e| e.get(field).and_then(Value::as_str).is_some_and(|x| x.contains(val)));
            }
            return list.iter().any(|e| e.get(sub).is_some_and(|x| scalar_matches(x, val)));
        }
        scalar_matches(attr, w)
    })
}

fn tags_of(item: &Value) -> Vec<&str> {
    item.get("tags").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        (x, y) => x.to_string().cmp(&y.to_string()),
    }
}

/// Filters, sorts, pages and projects `items` (already visible to the caller and rendered).
/// Returns the page and its links (`[{"rel": "next"|"previous", "href"}]`).
pub fn apply(items: Vec<Value>, q: &ListQuery, base_href: &str) -> Result<(Vec<Value>, Vec<Value>)> {
    let (all_tags, any_tags, not_all, not_any) = (q.tag_values("tags"), q.tag_values("tags-any"), q.tag_values("not-tags"), q.tag_values("not-tags-any"));
    // Without the filter-validation extension, upstream ignores filters on attributes the
    // resource does not have.
    let known: Vec<&(String, Vec<String>)> = q.filters.iter().filter(|(k, _)| items.iter().any(|i| i.get(k).is_some())).collect();
    let mut items: Vec<Value> = items
        .into_iter()
        .filter(|i| known.iter().all(|(k, v)| matches(i, k, v)))
        .filter(|i| {
            let t = tags_of(i);
            all_tags.iter().all(|x| t.contains(&x.as_str()))
                && (any_tags.is_empty() || any_tags.iter().any(|x| t.contains(&x.as_str())))
                && (not_all.is_empty() || !not_all.iter().all(|x| t.contains(&x.as_str())))
                && !not_any.iter().any(|x| t.contains(&x.as_str()))
        })
        .collect();
    if !q.sort.is_empty() {
        if let Some(first) = items.first() {
            for (k, _) in &q.sort {
                if first.get(k).is_none() {
                    return Err(NeutronError::HttpBadRequest(format!("{k} is invalid attribute for sort_key")));
                }
            }
        }
        items.sort_by(|a, b| {
            for (k, asc) in &q.sort {
                let o = compare(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null));
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            crate::app::str_of(a, "id").cmp(crate::app::str_of(b, "id"))
        });
    }
    let mut links = Vec::new();
    if q.limit.is_some() || q.marker.is_some() {
        let pos = match &q.marker {
            Some(m) => Some(items.iter().position(|i| crate::app::str_of(i, "id") == m).ok_or_else(|| NeutronError::HttpBadRequest(format!("Marker {m} could not be found.")))?),
            None => None,
        };
        let page: Vec<Value>;
        let (more_before, more_after);
        if q.page_reverse {
            let end = pos.unwrap_or(items.len());
            let start = q.limit.map_or(0, |l| end.saturating_sub(l));
            more_before = start > 0;
            more_after = pos.is_some();
            page = items[start..end].to_vec();
        } else {
            let start = pos.map_or(0, |p| p + 1);
            let end = q.limit.map_or(items.len(), |l| (start + l).min(items.len()));
            more_before = pos.is_some();
            more_after = end < items.len();
            page = items[start..end].to_vec();
        }
        let href = |marker: &str, reverse: bool| {
            let mut parts: Vec<String> = q
                .raw
                .iter()
                .filter(|(k, _)| k != "marker" && k != "page_reverse")
                .map(|(k, v)| format!("{}={}", url::form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>(), url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
                .collect();
            if !q.raw.iter().any(|(k, _)| k == "limit") {
                if let Some(l) = q.limit {
                    parts.push(format!("limit={l}"));
                }
            }
            parts.push(format!("marker={}", url::form_urlencoded::byte_serialize(marker.as_bytes()).collect::<String>()));
            if reverse {
                parts.push("page_reverse=True".into());
            }
            format!("{base_href}?{}", parts.join("&"))
        };
        if let (Some(last), true) = (page.last(), more_after && q.limit.is_some()) {
            links.push(json!({"rel": "next", "href": href(crate::app::str_of(last, "id"), false)}));
        }
        if let (Some(first), true) = (page.first(), more_before) {
            links.push(json!({"rel": "previous", "href": href(crate::app::str_of(first, "id"), true)}));
        }
        items = page;
    }
    let items = if q.fields.is_empty() { items } else { items.into_iter().map(|i| project(i, &q.fields)).collect() };
    Ok((items, links))
}

/// Keeps only `fields` of a rendered resource (`?fields=id&fields=name`).
pub fn project(item: Value, fields: &[String]) -> Value {
    match item {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(k, _)| fields.iter().any(|f| f == k)).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[(&str, &str)]) -> ListQuery {
        ListQuery::parse(s.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(), None).unwrap()
    }

    #[test]
    fn filters_sorts_pages() {
        let items = vec![
            json!({"id": "a", "name": "x", "admin_state_up": true, "tags": ["red"], "fixed_ips": [{"ip_address": "10.0.0.3"}]}),
            json!({"id": "b", "name": "y", "admin_state_up": false, "tags": ["red", "blue"], "fixed_ips": []}),
            json!({"id": "c", "name": "x", "admin_state_up": true, "tags": [], "fixed_ips": []}),
        ];
        let (r, _) = apply(items.clone(), &q(&[("name", "x")]), "h").unwrap();
        assert_eq!(r.len(), 2);
        let (r, _) = apply(items.clone(), &q(&[("name", "x"), ("name", "y")]), "h").unwrap();
        assert_eq!(r.len(), 3);
        let (r, _) = apply(items.clone(), &q(&[("admin_state_up", "False")]), "h").unwrap();
        assert_eq!(r[0]["id"], "b");
        let (r, _) = apply(items.clone(), &q(&[("no_such_attribute", "x")]), "h").unwrap();
        assert_eq!(r.len(), 3);
        let (r, _) = apply(items.clone(), &q(&[("fixed_ips", "ip_address=10.0.0.3")]), "h").unwrap();
        assert_eq!(r[0]["id"], "a");
        let (r, _) = apply(items.clone(), &q(&[("fixed_ips", "ip_address_substr=0.0.")]), "h").unwrap();
        assert_eq!(r.len(), 1);
        let (r, _) = apply(items.clone(), &q(&[("tags", "red,blue")]), "h").unwrap();
        assert_eq!(r.len(), 1);
        let (r, _) = apply(items.clone(), &q(&[("not-tags-any", "red")]), "h").unwrap();
        assert_eq!(r[0]["id"], "c");
        let (r, _) = apply(items.clone(), &q(&[("sort_key", "name"), ("sort_dir", "desc")]), "h").unwrap();
        assert_eq!(r[0]["id"], "b");
        let (r, links) = apply(items.clone(), &q(&[("limit", "2")]), "http://h/v2.0/networks").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(links[0]["rel"], "next");
        assert_eq!(links[0]["href"], "http://h/v2.0/networks?limit=2&marker=b");
        let (r, links) = apply(items.clone(), &q(&[("limit", "2"), ("marker", "b")]), "h").unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0]["rel"], "previous");
        let (r, _) = apply(items.clone(), &q(&[("limit", "2"), ("marker", "c"), ("page_reverse", "True")]), "h").unwrap();
        assert_eq!(r.iter().map(|i| i["id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["a", "b"]);
        let (r, _) = apply(items, &q(&[("fields", "id"), ("fields", "name")]), "h").unwrap();
        assert_eq!(r[0].as_object().unwrap().len(), 2);
    }
}
