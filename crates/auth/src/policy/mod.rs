//! The oslo.policy rule engine, as oslo_policy/_checks.py and _parser.py, with the
//! enforcement half of oslo_policy/policy.py (`Enforcer.authorize`).
//!
//! Every service declares its policy defaults in code as [`RuleDefault`]s, named as
//! upstream names them (`identity:get_user`, `os_compute_api:servers:create`). An
//! operator may override any of them, or add helper rules, with a `policy.yaml` (or a
//! legacy `policy.json`). The [`Enforcer`] parses every check string once, when it is
//! built, and then answers [`Enforcer::enforce`] from the parsed trees.
//!
//! # The policy language
//!
//! | check                       | passes when                                                         |
//! |-----------------------------|---------------------------------------------------------------------|
//! | `""` or `@`                 | always                                                              |
//! | `!`                         | never                                                               |
//! | `rule:NAME`                 | the rule `NAME` passes (an undefined rule fails)                    |
//! | `role:NAME`                 | the credentials' `roles` hold `NAME`, compared without case         |
//! | `KEY:VALUE`                 | `str(creds[KEY])` equals `VALUE`; `KEY` may be a dotted path        |
//! | `LITERAL:VALUE`             | `str(LITERAL)` equals `VALUE` (`True`, `'member'`, `3`...)          |
//! | `http:URL`, `https:URL`     | never: remote checks are not supported (see below)                  |
//!
//! `VALUE` (and `NAME` in `role:`) may hold `%(path)s`, filled from the target; if the
//! target lacks `path` the check fails. Checks combine with `not`, `and`, `or` (in that
//! order of precedence) and parentheses.
//!
//! Comparisons are between the strings Python would produce, so `is_admin:True`
//! matches a JSON `true` and `enabled:None` a JSON `null`.
//!
//! # Credentials and target
//!
//! The credentials are oslo's creds dict (what `RequestContext.to_policy_values()`
//! gives): `user_id`, `project_id`, `domain_id`, `system_scope`, `roles`, ... As in
//! oslo, a truthy `system_scope` is also visible as `system`.
//!
//! The target describes the object acted upon. Keystone nests it (`{"target": {"user":
//! {...}}}`) and flattens it into dotted keys before calling oslo, so that
//! `%(target.user.domain_id)s` resolves; here `%(a.b.c)s` finds a flat `"a.b.c"` key
//! or walks nested objects, so either shape works without flattening.
//!
//! # Scope
//!
//! A default's `scope_types` lists the token scopes it may be used with. The token's
//! scope is `system` if `system`/`system_scope` is set, else `domain` if `domain_id` is
//! set, else `project` — oslo counts an unscoped token as project-scoped. With
//! `enforce_scope` on, a mismatch is [`PolicyError::InvalidScope`] (oslo's
//! `InvalidScope`, which services turn into 403); with it off, the rule is evaluated
//! anyway and a warning is logged, as oslo did before it made scope enforcement
//! mandatory. Only the top-level rule's scope types count, not those of rules it
//! refers to.
//!
//! # Where we differ from oslo.policy
//!
//! - A malformed check string is an error when the enforcer is built; oslo logs it and
//!   treats it as `!`. A `policy.yaml` entry with no value is an error too (oslo would
//!   read it as "allow everyone").
//! - A `rule:` cycle makes that reference fail; oslo only warns at load and then
//!   recurses until Python's stack limit.
//! - `http:`/`https:` checks always fail: we do not call out to remote policy servers.
//! - No `default_rule` fallback for unknown names, no deprecated-rule aliasing, no
//!   custom check plugins.
//! - `enforce` only accepts registered defaults, like oslo's `authorize`; rules added
//!   by the policy file can be referred to with `rule:` but not enforced by name.
//! - Python literals as a check's kind are limited to `True`/`False`/`None`, strings
//!   and numbers (no tuples, lists, bytes or complex numbers).
//! - A dict rendered with `str()` may list its keys in another order than Python would.

mod check;
mod parser;
mod pyformat;

use std::collections::HashMap;

use serde_json::Value;

pub use check::Check;
use check::{Context, Creds, Node};

/// A policy default declared in code, like oslo.policy's `RuleDefault` /
/// `DocumentedRuleDefault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDefault {
    /// The policy name, as upstream names it (`identity:get_user`).
    pub name: &'static str,
    /// The default check string, in the policy language.
    pub check_str: &'static str,
    /// The token scopes (`system`, `domain`, `project`) the rule may be used with;
    /// empty means any.
    pub scope_types: &'static [&'static str],
    /// What the rule protects, for generated sample policy files.
    pub description: &'static str,
}

impl RuleDefault {
    pub const fn new(
        name: &'static str,
        check_str: &'static str,
        scope_types: &'static [&'static str],
        description: &'static str,
    ) -> RuleDefault {
        RuleDefault { name, check_str, scope_types, description }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A check string (a default, a policy file entry or an ad hoc check) is malformed.
    #[error("Invalid policy rule {rule}: {message}")]
    Parse { rule: String, message: String },
    /// The rule was not declared in code (oslo's `PolicyNotRegistered`).
    #[error("Policy {0} has not been registered")]
    NotRegistered(String),
    /// The token's scope is not among the rule's scope types (oslo's `InvalidScope`).
    /// `scope` is the token's scope.
    #[error("{rule} requires a different scope, request was made with {scope} scope.")]
    InvalidScope { rule: String, scope: String },
    /// Two defaults share a name (oslo's `DuplicatePolicyError`).
    #[error("Policy {0} is already registered")]
    Duplicate(String),
    /// The policy file is not YAML/JSON, or not a mapping of rule names to check strings.
    #[error("Invalid policy file: {0}")]
    PolicyFile(String),
}

/// Rules that are obviously wrong, as oslo's `Enforcer.check_rules` finds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleReport {
    /// Rules that refer with `rule:` to a rule that does not exist.
    pub undefined: Vec<String>,
    /// Rules whose `rule:` references lead into a cycle.
    pub cyclic: Vec<String>,
}

impl RuleReport {
    pub fn is_empty(&self) -> bool {
        self.undefined.is_empty() && self.cyclic.is_empty()
    }
}

/// One rule as the enforcer holds it: the effective check (the policy file's if it
/// overrides the default) and the default it was registered with, if any.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) check: Check,
    pub(crate) default: Option<RuleDefault>,
}

/// Decides whether a request may proceed, like oslo.policy's `Enforcer`.
///
/// Immutable once built, so it is `Send + Sync` and can be shared behind an `Arc`;
/// reloading a changed `policy.yaml` means building a new one and swapping it in.
#[derive(Debug, Clone)]
pub struct Enforcer {
    rules: HashMap<String, Rule>,
    defaults: Vec<RuleDefault>,
    enforce_scope: bool,
}

impl Enforcer {
    /// Register `defaults` and apply `overrides`, the text of a `policy.yaml` (or a
    /// `policy.json`: YAML is a superset), whose entries replace defaults' check strings
    /// or add new rules. Every check string is parsed here, once.
    pub fn new(
        defaults: &[RuleDefault],
        overrides: Option<&str>,
        enforce_scope: bool,
    ) -> Result<Enforcer, PolicyError> {
        let mut rules = HashMap::with_capacity(defaults.len());
        for default in defaults {
            if rules.contains_key(default.name) {
                return Err(PolicyError::Duplicate(default.name.to_owned()));
            }
            let check = parse_named(default.name, default.check_str)?;
            rules.insert(default.name.to_owned(), Rule { check, default: Some(*default) });
        }
        if let Some(text) = overrides {
            for (name, check) in load_policy_file(text)? {
                match rules.get_mut(&name) {
                    Some(rule) => rule.check = check,
                    None => {
                        rules.insert(name, Rule { check, default: None });
                    }
                }
            }
        }
        let enforcer = Enforcer { rules, defaults: defaults.to_vec(), enforce_scope };

        let report = enforcer.check_rules();
        if !report.undefined.is_empty() {
            tracing::warn!(policies = ?report.undefined, "policies reference a rule that is not defined");
        }
        if !report.cyclic.is_empty() {
            tracing::warn!(policies = ?report.cyclic, "policies are part of a cyclical reference");
        }
        Ok(enforcer)
    }

    /// Evaluate the registered rule `rule` for a caller with `creds` acting on
    /// `target` (oslo's `Enforcer.authorize`).
    ///
    /// `creds` is oslo's creds dict: `{"user_id", "project_id", "domain_id",
    /// "system_scope" ("all" or null), "roles": [names], "is_admin_project",
    /// "user_domain_id", "project_domain_id", ...}`. `target` is a JSON object, nested
    /// or with dotted keys.
    ///
    /// Errors: [`PolicyError::NotRegistered`] if no default declares `rule`;
    /// [`PolicyError::InvalidScope`] if scope is enforced and the token's scope is not
    /// among the rule's scope types.
    pub fn enforce(&self, rule: &str, target: &Value, creds: &Value) -> Result<bool, PolicyError> {
        let Some((name, Rule { check, default: Some(default) })) = self.rules.get_key_value(rule) else {
            return Err(PolicyError::NotRegistered(rule.to_owned()));
        };
        let creds = Creds::new(creds);
        if !default.scope_types.is_empty() {
            let scope = creds.token_scope();
            if !default.scope_types.contains(&scope) {
                if self.enforce_scope {
                    return Err(PolicyError::InvalidScope { rule: rule.to_owned(), scope: scope.to_owned() });
                }
                tracing::warn!(
                    rule,
                    token_scope = scope,
                    scope_types = ?default.scope_types,
                    "policy failed its scope check; evaluating it anyway because scope is not enforced"
                );
            }
        }
        let context = Context { rules: &self.rules, target, creds };
        let mut active = vec![name.as_str()];
        Ok(check.root.evaluate(&context, &mut active))
    }

    /// Evaluate an arbitrary check string. It may refer to the enforcer's rules with
    /// `rule:`; no scope check applies. The string is parsed on every call: to
    /// evaluate one often, parse it once with [`Check::parse`] and use [`Enforcer::check`].
    pub fn check_str(&self, check: &str, target: &Value, creds: &Value) -> Result<bool, PolicyError> {
        Ok(self.check(&Check::parse(check)?, target, creds))
    }

    /// Evaluate a parsed check. It may refer to the enforcer's rules with `rule:`; no
    /// scope check applies.
    pub fn check(&self, check: &Check, target: &Value, creds: &Value) -> bool {
        let context = Context { rules: &self.rules, target, creds: Creds::new(creds) };
        check.root.evaluate(&context, &mut Vec::new())
    }

    /// Whether `name` was declared in code, and so can be enforced.
    pub fn is_registered(&self, name: &str) -> bool {
        self.rules.get(name).is_some_and(|rule| rule.default.is_some())
    }

    /// The defaults, in the order they were registered (for sample policy files).
    pub fn defaults(&self) -> &[RuleDefault] {
        &self.defaults
    }

    /// The check in force for `name`: the policy file's if it overrides the default.
    pub fn rule(&self, name: &str) -> Option<&Check> {
        self.rules.get(name).map(|rule| &rule.check)
    }

    /// Rules that refer to undefined rules or lead into a `rule:` cycle (oslo's
    /// `check_rules`); `new` logs these as warnings. Names are sorted.
    pub fn check_rules(&self) -> RuleReport {
        let mut report = RuleReport::default();
        for (name, rule) in &self.rules {
            if rule.check.root.references().iter().any(|reference| !self.rules.contains_key(*reference)) {
                report.undefined.push(name.clone());
            }
            if self.reaches_cycle(&rule.check.root, &mut vec![name.as_str()]) {
                report.cyclic.push(name.clone());
            }
        }
        report.undefined.sort();
        report.cyclic.sort();
        report
    }

    fn reaches_cycle<'a>(&'a self, node: &'a Node, path: &mut Vec<&'a str>) -> bool {
        node.references().into_iter().any(|reference| {
            if path.contains(&reference) {
                return true;
            }
            let Some(rule) = self.rules.get(reference) else {
                return false;
            };
            path.push(reference);
            let found = self.reaches_cycle(&rule.check.root, path);
            path.pop();
            found
        })
    }
}

impl Check {
    /// Parse a check string in the policy language.
    pub fn parse(text: &str) -> Result<Check, PolicyError> {
        parse_named(text, text)
    }
}

fn parse_named(name: &str, text: &str) -> Result<Check, PolicyError> {
    parser::parse_text_rule(text)
        .map(|root| Check { root })
        .map_err(|message| PolicyError::Parse { rule: name.to_owned(), message })
}

/// Read a policy file: a mapping of rule names to check strings, or to the legacy
/// list-of-lists form (oslo's `parse_file_contents` + `Rules.load`). An empty file
/// holds no rules.
fn load_policy_file(text: &str) -> Result<Vec<(String, Check)>, PolicyError> {
    use serde_yaml::Value as Yaml;

    let document: Yaml = serde_yaml::from_str(text).map_err(|e| PolicyError::PolicyFile(e.to_string()))?;
    let entries = match document {
        Yaml::Null => return Ok(Vec::new()),
        Yaml::Mapping(entries) => entries,
        _ => return Err(PolicyError::PolicyFile("expected a mapping of rule names to check strings".to_owned())),
    };
    let mut rules = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let Yaml::String(name) = key else {
            return Err(PolicyError::PolicyFile(format!("rule name {key:?} is not a string")));
        };
        let parsed = match value {
            Yaml::String(text) => parser::parse_text_rule(&text),
            Yaml::Sequence(alternatives) => legacy_list(alternatives).and_then(|lists| parser::parse_list_rule(&lists)),
            Yaml::Null => Err("no check string (write \"\" to allow everyone, \"!\" to allow no one)".to_owned()),
            other => Err(format!("expected a check string, found {other:?}")),
        };
        match parsed {
            Ok(root) => rules.push((name, Check { root })),
            Err(message) => return Err(PolicyError::Parse { rule: name, message }),
        }
    }
    Ok(rules)
}

/// The legacy `[["role:a", "role:b"], ["rule:c"]]` form as lists of strings; a bare
/// string stands for a one-element list and an empty one for an empty list.
fn legacy_list(alternatives: Vec<serde_yaml::Value>) -> Result<Vec<Vec<String>>, String> {
    use serde_yaml::Value as Yaml;

    alternatives
        .into_iter()
        .map(|alternative| match alternative {
            Yaml::String(check) if check.is_empty() => Ok(Vec::new()),
            Yaml::String(check) => Ok(vec![check]),
            Yaml::Sequence(checks) => checks
                .into_iter()
                .map(|check| match check {
                    Yaml::String(check) => Ok(check),
                    other => Err(format!("expected a check string in the list, found {other:?}")),
                })
                .collect(),
            other => Err(format!("expected a list of check strings, found {other:?}")),
        })
        .collect()
}

#[cfg(test)]
mod tests;
