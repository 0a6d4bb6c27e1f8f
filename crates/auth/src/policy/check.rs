//! The check tree and its evaluation, as oslo_policy/_checks.py.
//!
//! A parsed check string is a tree of [`Node`]s: the constants `@` and `!`, `not`,
//! `and`, `or`, and the leaf checks `rule:`, `role:`, `http:`/`https:` and the generic
//! `kind:match`. Evaluating a tree needs the rule set (for `rule:` references), the
//! target (the object acted upon, used to fill `%(name)s` in a check's match) and the
//! credentials (what the token says about the caller).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

use super::pyformat::{py_repr, py_str, py_truthy};
use super::Rule;

/// A parsed check string, ready to be evaluated any number of times.
///
/// Build one with [`Check::parse`] (or let the [`super::Enforcer`] parse its rules) and
/// evaluate it with [`super::Enforcer::check`]. `Display` gives oslo's canonical form
/// (`(role:admin or (role:reader and system_scope:all))`).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub(crate) root: Node,
}

/// One node of a check tree (oslo's `BaseCheck` subclasses).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `@` or the empty check string: always passes (`TrueCheck`).
    True,
    /// `!`: never passes (`FalseCheck`).
    False,
    /// `not X` (`NotCheck`).
    Not(Box<Node>),
    /// `X and Y and ...` (`AndCheck`).
    And(Vec<Node>),
    /// `X or Y or ...` (`OrCheck`).
    Or(Vec<Node>),
    /// `rule:NAME`: the named rule's check (`RuleCheck`); an undefined name fails.
    Rule(String),
    /// `role:NAME`: the credentials hold this role, compared without case (`RoleCheck`).
    Role(Template),
    /// `kind:match` (`GenericCheck`).
    Generic { kind: String, subject: Subject, matcher: Template },
    /// `http:URL` / `https:URL`: oslo asks a remote server. Not supported here: always fails.
    Http { kind: String, url: String },
}

/// What a generic check compares its rendered match with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Subject {
    /// The kind is a Python literal (`True`, `'member'`, `3`): compare with `str()` of it.
    Literal(String),
    /// The kind is a dotted path into the credentials (`project_id`, `token.user.id`).
    Creds(Vec<String>),
}

/// The match half of a check, a Python `%`-format string applied to the target
/// (`%(target.user.domain_id)s`), pre-split into literal text and keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    /// The text as written, for `Display`.
    pub(crate) raw: String,
    pub(crate) pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    /// `%(name)s` (`repr: false`) or `%(name)r` (`repr: true`).
    Key {
        name: String,
        repr: bool,
    },
}

impl Template {
    /// `self.match % target`; `None` when a key is missing (oslo's `KeyError`: the
    /// check fails).
    pub(crate) fn render(&self, target: &Value) -> Option<Cow<'_, str>> {
        match self.pieces.as_slice() {
            [] => Some(Cow::Borrowed("")),
            [Piece::Text(text)] => Some(Cow::Borrowed(text.as_str())),
            pieces => {
                let mut out = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(text) => out.push_str(text),
                        Piece::Key { name, repr } => {
                            let value = lookup_target(target, name)?;
                            if *repr {
                                out.push_str(&py_repr(value));
                            } else {
                                out.push_str(&py_str(value));
                            }
                        }
                    }
                }
                Some(Cow::Owned(out))
            }
        }
    }
}

/// Find `%(name)s` in the target.
///
/// oslo does a plain `target[name]`, and Keystone makes `%(target.user.domain_id)s`
/// work by flattening its nested target into dotted keys before calling oslo. We
/// accept both shapes without flattening: first the key as written, then the dotted
/// path walked through nested objects, trying the longest flat prefix first at each
/// level (so `{"target.user": {"domain_id": ..}}` works too).
pub(crate) fn lookup_target<'v>(target: &'v Value, name: &str) -> Option<&'v Value> {
    let map = target.as_object()?;
    if let Some(value) = map.get(name) {
        return Some(value);
    }
    name.rmatch_indices('.').find_map(|(dot, _)| {
        let inner = map.get(&name[..dot])?;
        lookup_target(inner, &name[dot + 1..])
    })
}

/// The credentials as oslo's `enforce` sees them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Creds<'v> {
    map: Option<&'v Map<String, Value>>,
    /// oslo copies a truthy `system_scope` into `system` before evaluating, so that
    /// both `system:all` and `system_scope:all` checks work.
    system: Option<&'v Value>,
}

impl<'v> Creds<'v> {
    pub(crate) fn new(creds: &'v Value) -> Creds<'v> {
        let map = creds.as_object();
        let system = map.and_then(|m| m.get("system_scope")).filter(|v| py_truthy(v));
        Creds { map, system }
    }

    /// A top-level credential.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        if key == "system" {
            if let Some(system) = self.system {
                return Some(system);
            }
        }
        self.map?.get(key)
    }

    /// The token's scope as oslo's `_enforce_scope` decides it: `system` if
    /// `system` (or `system_scope`) is set, else `domain` if `domain_id` is set,
    /// else `project` — an unscoped token counts as project-scoped.
    pub(crate) fn token_scope(&self) -> &'static str {
        if self.get("system").is_some_and(py_truthy) {
            "system"
        } else if self.get("domain_id").is_some_and(py_truthy) {
            "domain"
        } else {
            "project"
        }
    }
}

/// Everything a check tree is evaluated against.
pub(crate) struct Context<'r, 'v> {
    pub(crate) rules: &'r HashMap<String, Rule>,
    pub(crate) target: &'v Value,
    pub(crate) creds: Creds<'v>,
}

impl Node {
    /// Evaluate the tree. `active` holds the names of the rules being evaluated, outermost
    /// first: a `rule:` reference back into one of them is a cycle and fails (oslo would
    /// recurse until Python's stack limit).
    pub(crate) fn evaluate<'r>(&self, context: &Context<'r, '_>, active: &mut Vec<&'r str>) -> bool {
        match self {
            Node::True => true,
            Node::False => false,
            Node::Not(inner) => !inner.evaluate(context, active),
            Node::And(nodes) => nodes.iter().all(|node| node.evaluate(context, active)),
            Node::Or(nodes) => nodes.iter().any(|node| node.evaluate(context, active)),
            Node::Rule(name) => {
                let Some((name, rule)) = context.rules.get_key_value(name.as_str()) else {
                    tracing::debug!(rule = %name, "policy refers to an undefined rule; failing closed");
                    return false;
                };
                if active.contains(&name.as_str()) {
                    tracing::warn!(rule = %name, "policy rule refers back to itself; failing closed");
                    return false;
                }
                active.push(name.as_str());
                let allowed = rule.check.root.evaluate(context, active);
                active.pop();
                allowed
            }
            Node::Role(matcher) => {
                let Some(wanted) = matcher.render(context.target) else {
                    return false;
                };
                let wanted = wanted.to_lowercase();
                let Some(Value::Array(roles)) = context.creds.get("roles") else {
                    return false;
                };
                roles.iter().filter_map(Value::as_str).any(|role| role.to_lowercase() == wanted)
            }
            Node::Generic { subject, matcher, .. } => {
                let Some(wanted) = matcher.render(context.target) else {
                    return false;
                };
                match subject {
                    Subject::Literal(literal) => *literal == wanted,
                    Subject::Creds(path) => match path.split_first() {
                        Some((first, rest)) => {
                            context.creds.get(first).is_some_and(|value| step_into(value, rest, &wanted))
                        }
                        None => false,
                    },
                }
            }
            Node::Http { .. } => false,
        }
    }

    /// The rule names this tree refers to with `rule:`, without following them.
    pub(crate) fn references(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_references(&mut names);
        names
    }

    fn collect_references<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            Node::Rule(name) => names.push(name),
            Node::Not(inner) => inner.collect_references(names),
            Node::And(nodes) | Node::Or(nodes) => {
                for node in nodes {
                    node.collect_references(names);
                }
            }
            _ => {}
        }
    }
}

/// oslo's `GenericCheck._find_in_dict` after the first key: a list at any step means
/// "any element matches the rest of the path".
fn step_into(value: &Value, path: &[String], wanted: &str) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| find_in(item, path, wanted)),
        other => find_in(other, path, wanted),
    }
}

fn find_in(value: &Value, path: &[String], wanted: &str) -> bool {
    match path.split_first() {
        None => py_str(value) == wanted,
        Some((key, rest)) => match value {
            Value::Object(map) => map.get(key).is_some_and(|inner| step_into(inner, rest, wanted)),
            // Python would raise indexing a non-dict; failing the check is the safe reading.
            _ => false,
        },
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root.fmt(f)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, nodes: &[Node], operator: &str| {
            f.write_str("(")?;
            for (index, node) in nodes.iter().enumerate() {
                if index > 0 {
                    write!(f, " {operator} ")?;
                }
                write!(f, "{node}")?;
            }
            f.write_str(")")
        };
        match self {
            Node::True => f.write_str("@"),
            Node::False => f.write_str("!"),
            Node::Not(inner) => write!(f, "not {inner}"),
            Node::And(nodes) => join(f, nodes, "and"),
            Node::Or(nodes) => join(f, nodes, "or"),
            Node::Rule(name) => write!(f, "rule:{name}"),
            Node::Role(matcher) => write!(f, "role:{}", matcher.raw),
            Node::Generic { kind, matcher, .. } => write!(f, "{kind}:{}", matcher.raw),
            Node::Http { kind, url } => write!(f, "{kind}:{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn target_lookup_accepts_flat_nested_and_mixed_shapes() {
        let flat = json!({"target.user.domain_id": "d1"});
        let nested = json!({"target": {"user": {"domain_id": "d2"}}});
        let mixed = json!({"target.user": {"domain_id": "d3"}});
        let top = json!({"project_id": "p1"});
        assert_eq!(lookup_target(&flat, "target.user.domain_id"), Some(&json!("d1")));
        assert_eq!(lookup_target(&nested, "target.user.domain_id"), Some(&json!("d2")));
        assert_eq!(lookup_target(&mixed, "target.user.domain_id"), Some(&json!("d3")));
        assert_eq!(lookup_target(&top, "project_id"), Some(&json!("p1")));
        assert_eq!(lookup_target(&nested, "target.user.id"), None);
        assert_eq!(lookup_target(&nested, "target.user.domain_id.x"), None);
        assert_eq!(lookup_target(&json!(null), "a"), None);
    }

    #[test]
    fn flat_key_wins_over_nested_path() {
        let both = json!({"a.b": "flat", "a": {"b": "nested"}});
        assert_eq!(lookup_target(&both, "a.b"), Some(&json!("flat")));
    }

    #[test]
    fn system_scope_is_copied_into_system() {
        let creds = json!({"system_scope": "all"});
        let view = Creds::new(&creds);
        assert_eq!(view.get("system"), Some(&json!("all")));
        assert_eq!(view.token_scope(), "system");
        let creds = json!({"system_scope": null, "system": "all"});
        assert_eq!(Creds::new(&creds).get("system"), Some(&json!("all")));
    }

    #[test]
    fn token_scope_follows_oslo() {
        let scope = |creds: Value| Creds::new(&creds).token_scope();
        assert_eq!(scope(json!({"system_scope": "all", "domain_id": "d"})), "system");
        assert_eq!(scope(json!({"domain_id": "d", "project_id": null})), "domain");
        assert_eq!(scope(json!({"project_id": "p"})), "project");
        assert_eq!(scope(json!({"domain_id": "", "system_scope": null})), "project");
        assert_eq!(scope(json!({})), "project");
        assert_eq!(scope(json!(null)), "project");
    }
}
