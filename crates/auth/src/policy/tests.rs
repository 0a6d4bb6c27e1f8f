//! Tests of the enforcer: the policy language end to end, overrides and scope.

use serde_json::{json, Value};

use super::*;

const ANY: &[&str] = &[];
const SYSTEM: &[&str] = &["system"];
const ALL_SCOPES: &[&str] = &["system", "domain", "project"];
const PROJECT: &[&str] = &["project"];

fn enforcer(defaults: &[RuleDefault]) -> Enforcer {
    Enforcer::new(defaults, None, true).unwrap()
}

fn empty() -> Enforcer {
    enforcer(&[])
}

/// Evaluate a check string against the given target and creds.
fn check(enforcer: &Enforcer, rule: &str, target: Value, creds: Value) -> bool {
    enforcer.check_str(rule, &target, &creds).unwrap()
}

fn with_roles(roles: &[&str]) -> Value {
    json!({ "roles": roles })
}

#[test]
fn enforcer_is_send_sync_and_cheap_to_share() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Enforcer>();
    assert_send_sync::<Check>();
    assert_send_sync::<PolicyError>();
}

#[test]
fn constants() {
    let e = empty();
    assert!(check(&e, "", json!({}), json!({})));
    assert!(check(&e, "@", json!({}), json!({})));
    assert!(!check(&e, "!", json!({}), json!({})));
    assert!(check(&e, "not !", json!({}), json!({})));
}

#[test]
fn and_binds_tighter_than_or() {
    let e = empty();
    let rule = "role:a or role:b and role:c";
    assert!(check(&e, rule, json!({}), with_roles(&["a"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["b"])));
    assert!(check(&e, rule, json!({}), with_roles(&["b", "c"])));
    let rule = "role:a and role:b or role:c";
    assert!(check(&e, rule, json!({}), with_roles(&["c"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["a"])));
    assert!(check(&e, rule, json!({}), with_roles(&["a", "b"])));
}

#[test]
fn not_binds_tightest() {
    let e = empty();
    let rule = "not role:a and role:b";
    assert!(check(&e, rule, json!({}), with_roles(&["b"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["a", "b"])));
    // Not "not (role:a or role:b)":
    let rule = "not role:a or role:b";
    assert!(check(&e, rule, json!({}), with_roles(&["a", "b"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["a"])));
    assert!(check(&e, "not not role:a", json!({}), with_roles(&["a"])));
}

#[test]
fn parentheses_override_precedence() {
    let e = empty();
    let rule = "(role:a or role:b) and role:c";
    assert!(!check(&e, rule, json!({}), with_roles(&["a"])));
    assert!(check(&e, rule, json!({}), with_roles(&["a", "c"])));
    assert!(check(&e, rule, json!({}), with_roles(&["b", "c"])));
    let rule = "not (role:a or role:b)";
    assert!(check(&e, rule, json!({}), with_roles(&["c"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["b"])));
    let rule = "((role:a and (role:b or role:c)) or role:d)";
    assert!(check(&e, rule, json!({}), with_roles(&["a", "c"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["a"])));
    assert!(check(&e, rule, json!({}), with_roles(&["d"])));
}

#[test]
fn rule_references_are_followed() {
    let e = enforcer(&[
        RuleDefault::new("admin_required", "role:admin", ANY, ""),
        RuleDefault::new("owner", "user_id:%(user_id)s", ANY, ""),
        RuleDefault::new("admin_or_owner", "rule:admin_required or rule:owner", ANY, ""),
        RuleDefault::new("identity:get_thing", "rule:admin_or_owner", ANY, ""),
    ]);
    let target = json!({"user_id": "u1"});
    let owner = json!({"user_id": "u1", "roles": ["member"]});
    let stranger = json!({"user_id": "u2", "roles": ["member"]});
    let admin = json!({"user_id": "u2", "roles": ["admin"]});
    assert!(e.enforce("identity:get_thing", &target, &owner).unwrap());
    assert!(!e.enforce("identity:get_thing", &target, &stranger).unwrap());
    assert!(e.enforce("identity:get_thing", &target, &admin).unwrap());
    assert!(e.check_str("rule:admin_required", &target, &admin).unwrap());
    assert!(e.check_rules().is_empty());
}

#[test]
fn undefined_rule_fails_closed() {
    let e = enforcer(&[RuleDefault::new("uses_missing", "rule:missing or role:b", ANY, "")]);
    let creds = with_roles(&["a"]);
    assert!(!e.enforce("uses_missing", &json!({}), &creds).unwrap());
    assert!(e.enforce("uses_missing", &json!({}), &with_roles(&["b"])).unwrap());
    assert!(!check(&e, "rule:missing", json!({}), creds.clone()));
    assert!(check(&e, "not rule:missing", json!({}), creds));
    assert_eq!(e.check_rules().undefined, vec!["uses_missing".to_owned()]);
}

#[test]
fn rule_cycles_fail_instead_of_recursing_forever() {
    let e = enforcer(&[
        RuleDefault::new("a", "rule:b", ANY, ""),
        RuleDefault::new("b", "rule:a", ANY, ""),
        RuleDefault::new("self", "rule:self", ANY, ""),
        RuleDefault::new("escape", "rule:a or role:x", ANY, ""),
        RuleDefault::new("fine", "role:x", ANY, ""),
    ]);
    let creds = with_roles(&["x"]);
    assert!(!e.enforce("a", &json!({}), &creds).unwrap());
    assert!(!e.enforce("self", &json!({}), &creds).unwrap());
    // The cyclic branch fails; the other branch of the `or` still decides.
    assert!(e.enforce("escape", &json!({}), &creds).unwrap());
    let report = e.check_rules();
    assert_eq!(report.cyclic, vec!["a", "b", "escape", "self"]);
    assert!(report.undefined.is_empty());
}

#[test]
fn a_rule_used_twice_is_not_a_cycle() {
    let e = enforcer(&[
        RuleDefault::new("reader", "role:reader", ANY, ""),
        RuleDefault::new("both", "rule:reader and (rule:reader or !)", ANY, ""),
    ]);
    assert!(e.enforce("both", &json!({}), &with_roles(&["reader"])).unwrap());
    assert!(e.check_rules().is_empty());
}

#[test]
fn roles_compare_without_case() {
    let e = empty();
    assert!(check(&e, "role:Admin", json!({}), with_roles(&["ADMIN"])));
    assert!(check(&e, "role:admin", json!({}), with_roles(&["reader", "Admin"])));
    assert!(!check(&e, "role:admin", json!({}), with_roles(&["administrator"])));
    assert!(!check(&e, "role:admin", json!({}), json!({"user_id": "u"})));
    assert!(!check(&e, "role:admin", json!({}), json!({"roles": "admin"})));
}

#[test]
fn role_names_can_come_from_the_target() {
    let e = empty();
    let rule = "role:%(target.role.name)s";
    let nested = json!({"target": {"role": {"name": "Member"}}});
    let flat = json!({"target.role.name": "member"});
    assert!(check(&e, rule, nested.clone(), with_roles(&["member"])));
    assert!(check(&e, rule, flat, with_roles(&["MEMBER"])));
    assert!(!check(&e, rule, nested, with_roles(&["reader"])));
    assert!(!check(&e, rule, json!({}), with_roles(&["member"])));
}

#[test]
fn target_interpolation_nested_and_flat() {
    let e = empty();
    let rule = "domain_id:%(target.user.domain_id)s";
    let creds = json!({"domain_id": "d1"});
    let nested = json!({"target": {"user": {"domain_id": "d1", "id": "u1"}}, "other": 1});
    let flat = json!({"target.user.domain_id": "d1", "target.user.id": "u1"});
    let mixed = json!({"target.user": {"domain_id": "d1"}});
    let wrong = json!({"target": {"user": {"domain_id": "d2"}}});
    assert!(check(&e, rule, nested, creds.clone()));
    assert!(check(&e, rule, flat, creds.clone()));
    assert!(check(&e, rule, mixed, creds.clone()));
    assert!(!check(&e, rule, wrong, creds.clone()));
    // Text around the interpolation is kept.
    let rule = "name:user-%(target.user.id)s";
    assert!(check(&e, rule, json!({"target": {"user": {"id": "u1"}}}), json!({"name": "user-u1"})));
}

#[test]
fn missing_target_keys_fail_the_check() {
    let e = empty();
    let creds = json!({"project_id": "p1", "roles": ["member"]});
    assert!(!check(&e, "project_id:%(project_id)s", json!({}), creds.clone()));
    assert!(!check(&e, "project_id:%(target.project.id)s", json!({"target": {}}), creds.clone()));
    assert!(!check(&e, "project_id:%(project_id)s", json!(null), creds.clone()));
    // Only that check fails: `not` inverts it, `or` moves on (as in oslo).
    assert!(check(&e, "not project_id:%(project_id)s", json!({}), creds.clone()));
    assert!(check(&e, "project_id:%(project_id)s or role:member", json!({}), creds));
}

#[test]
fn missing_credentials_fail_the_check() {
    let e = empty();
    assert!(!check(&e, "project_id:%(project_id)s", json!({"project_id": "p1"}), json!({})));
    assert!(!check(&e, "project_id:p1", json!({}), json!(null)));
    assert!(!check(&e, "token.user.id:u1", json!({}), json!({"token": "not an object"})));
}

#[test]
fn values_compare_as_python_strings() {
    let e = empty();
    // Target and creds values are rendered with Python's str().
    assert!(check(&e, "is_admin:True", json!({}), json!({"is_admin": true})));
    assert!(!check(&e, "is_admin:true", json!({}), json!({"is_admin": true})));
    assert!(!check(&e, "is_admin:1", json!({}), json!({"is_admin": true})));
    assert!(check(&e, "count:%(n)s", json!({"n": 3}), json!({"count": 3})));
    assert!(check(&e, "ratio:1.0", json!({}), json!({"ratio": 1.0})));
    assert!(check(&e, "is_admin_project:%(flag)s", json!({"flag": false}), json!({"is_admin_project": false})));
    // oslo quirk kept on purpose: null on both sides renders "None" == "None".
    assert!(check(
        &e,
        "domain_id:%(target.domain_id)s",
        json!({"target": {"domain_id": null}}),
        json!({"domain_id": null})
    ));
    assert!(!check(&e, "domain_id:%(target.domain_id)s", json!({"target": {"domain_id": null}}), json!({})));
}

#[test]
fn literal_kinds_compare_with_the_target() {
    let e = empty();
    let enabled = |value: Value| json!({"target": {"user": {"enabled": value}}});
    let rule = "True:%(target.user.enabled)s";
    assert!(check(&e, rule, enabled(json!(true)), json!({})));
    assert!(!check(&e, rule, enabled(json!(false)), json!({})));
    assert!(!check(&e, rule, enabled(json!("true")), json!({})));
    assert!(check(&e, "False:%(target.user.enabled)s", enabled(json!(false)), json!({})));
    assert!(check(&e, "None:%(target.user.enabled)s", enabled(json!(null)), json!({})));
    assert!(check(&e, "'member':%(role.name)s", json!({"role.name": "member"}), json!({})));
    assert!(check(&e, "\"member\":%(role.name)s", json!({"role": {"name": "member"}}), json!({})));
    assert!(!check(&e, "'member':%(role.name)s", json!({"role.name": "Member"}), json!({})));
    assert!(check(&e, "3:%(n)s", json!({"n": 3}), json!({})));
    assert!(!check(&e, "3:%(n)s", json!({"n": 3.0}), json!({})));
    assert!(check(&e, "1.5:%(n)s", json!({"n": 1.5}), json!({})));
    // A literal kind never looks at the creds.
    assert!(!check(&e, "'member':x", json!({}), json!({"'member'": "x", "member": "x"})));
    assert!(check(&e, "'x':x", json!({}), json!({})));
}

#[test]
fn generic_checks_walk_dotted_creds_and_lists() {
    let e = empty();
    let creds = json!({
        "token": {"user": {"id": "u1", "domain": {"id": "d1"}}, "roles": [{"name": "reader"}, {"name": "member"}]},
        "roles": ["reader", "member"],
        "group_ids": ["g1", "g2"],
    });
    assert!(check(&e, "token.user.id:%(id)s", json!({"id": "u1"}), creds.clone()));
    assert!(check(&e, "token.user.domain.id:d1", json!({}), creds.clone()));
    assert!(!check(&e, "token.user.domain.name:d1", json!({}), creds.clone()));
    assert!(check(&e, "token.roles.name:member", json!({}), creds.clone()));
    assert!(!check(&e, "token.roles.name:admin", json!({}), creds.clone()));
    assert!(check(&e, "group_ids:%(group.id)s", json!({"group": {"id": "g2"}}), creds.clone()));
    // Unlike role:, a generic check on the roles list is case-sensitive.
    assert!(!check(&e, "roles:Reader", json!({}), creds));
}

#[test]
fn system_scope_checks() {
    let e = empty();
    let system = json!({"system_scope": "all", "roles": ["reader"]});
    let project = json!({"system_scope": null, "project_id": "p1", "roles": ["reader"]});
    assert!(check(&e, "system_scope:all", json!({}), system.clone()));
    assert!(check(&e, "system:all", json!({}), system.clone()));
    assert!(!check(&e, "system_scope:all", json!({}), project.clone()));
    assert!(!check(&e, "system:all", json!({}), project));
}

#[test]
fn remote_http_checks_are_unsupported_and_fail() {
    let e = empty();
    assert!(!check(&e, "http://policy.example.com/check", json!({}), json!({})));
    assert!(!check(&e, "https://policy.example.com/%(x)s", json!({}), json!({})));
    assert!(check(&e, "not http://policy.example.com/check", json!({}), json!({})));
}

#[test]
fn scope_is_enforced_when_asked() {
    let defaults = [
        RuleDefault::new("system_only", "role:admin", SYSTEM, ""),
        RuleDefault::new("project_only", "role:admin", PROJECT, ""),
        RuleDefault::new("anywhere", "role:admin", ALL_SCOPES, ""),
        RuleDefault::new("unscoped_rule", "role:admin", ANY, ""),
    ];
    let strict = Enforcer::new(&defaults, None, true).unwrap();
    let lax = Enforcer::new(&defaults, None, false).unwrap();
    let system = json!({"system_scope": "all", "roles": ["admin"]});
    let domain = json!({"domain_id": "d1", "roles": ["admin"]});
    let project = json!({"project_id": "p1", "domain_id": null, "roles": ["admin"]});
    let unscoped = json!({"user_id": "u1", "roles": ["admin"]});
    let target = json!({});

    assert!(strict.enforce("system_only", &target, &system).unwrap());
    match strict.enforce("system_only", &target, &project) {
        Err(PolicyError::InvalidScope { rule, scope }) => {
            assert_eq!(rule, "system_only");
            assert_eq!(scope, "project");
        }
        other => panic!("expected InvalidScope, got {other:?}"),
    }
    assert!(matches!(
        strict.enforce("system_only", &target, &domain),
        Err(PolicyError::InvalidScope { scope, .. }) if scope == "domain"
    ));
    // oslo counts an unscoped token as project-scoped.
    assert!(matches!(
        strict.enforce("system_only", &target, &unscoped),
        Err(PolicyError::InvalidScope { scope, .. }) if scope == "project"
    ));
    assert!(strict.enforce("project_only", &target, &unscoped).unwrap());
    assert!(matches!(strict.enforce("project_only", &target, &system), Err(PolicyError::InvalidScope { .. })));
    // The scope check comes before, and regardless of, the rule's answer.
    let no_roles = json!({"project_id": "p1"});
    assert!(matches!(strict.enforce("system_only", &target, &no_roles), Err(PolicyError::InvalidScope { .. })));
    for creds in [&system, &domain, &project, &unscoped] {
        assert!(strict.enforce("anywhere", &target, creds).unwrap());
        assert!(strict.enforce("unscoped_rule", &target, creds).unwrap());
    }

    // Without enforcement the rule is simply evaluated.
    assert!(lax.enforce("system_only", &target, &project).unwrap());
    assert!(!lax.enforce("system_only", &target, &no_roles).unwrap());
}

#[test]
fn scope_of_referenced_rules_does_not_apply() {
    let e = enforcer(&[
        RuleDefault::new("system_reader", "role:reader and system_scope:all", SYSTEM, ""),
        RuleDefault::new("get", "rule:system_reader or project_id:%(project_id)s", ALL_SCOPES, ""),
    ]);
    let project = json!({"project_id": "p1", "roles": ["reader"]});
    assert!(e.enforce("get", &json!({"project_id": "p1"}), &project).unwrap());
}

#[test]
fn unknown_rules_are_not_registered() {
    let e = enforcer(&[RuleDefault::new("known", "@", ANY, "")]);
    assert!(
        matches!(e.enforce("unknown", &json!({}), &json!({})), Err(PolicyError::NotRegistered(name)) if name == "unknown")
    );
    assert!(e.is_registered("known"));
    assert!(!e.is_registered("unknown"));
}

#[test]
fn policy_file_overrides_a_default() {
    let defaults = [
        RuleDefault::new("admin_required", "role:admin", ANY, ""),
        RuleDefault::new("identity:list_projects", "rule:admin_required", SYSTEM, ""),
    ];
    let yaml = r#"
# operators may comment their policy.yaml
"identity:list_projects": "role:auditor"
"#;
    let e = Enforcer::new(&defaults, Some(yaml), true).unwrap();
    let auditor = json!({"system_scope": "all", "roles": ["auditor"]});
    let admin = json!({"system_scope": "all", "roles": ["admin"]});
    assert!(e.enforce("identity:list_projects", &json!({}), &auditor).unwrap());
    assert!(!e.enforce("identity:list_projects", &json!({}), &admin).unwrap());
    assert_eq!(e.rule("identity:list_projects").unwrap().to_string(), "role:auditor");
    // The default's scope types still apply to the overridden rule.
    let project = json!({"project_id": "p", "roles": ["auditor"]});
    assert!(matches!(e.enforce("identity:list_projects", &json!({}), &project), Err(PolicyError::InvalidScope { .. })));
    // Other defaults are untouched.
    assert_eq!(e.rule("admin_required").unwrap().to_string(), "role:admin");
}

#[test]
fn policy_file_adds_rules_for_reference() {
    let defaults = [RuleDefault::new("compute:get", "rule:owner_or_admin", ANY, "")];
    let yaml = "owner_or_admin: 'role:admin or project_id:%(project_id)s'\n";
    let e = Enforcer::new(&defaults, Some(yaml), true).unwrap();
    let owner = json!({"project_id": "p1", "roles": []});
    assert!(e.enforce("compute:get", &json!({"project_id": "p1"}), &owner).unwrap());
    assert!(!e.enforce("compute:get", &json!({"project_id": "p2"}), &owner).unwrap());
    // File-only rules can be referred to, but only registered defaults can be enforced.
    assert!(matches!(e.enforce("owner_or_admin", &json!({}), &owner), Err(PolicyError::NotRegistered(_))));
    assert!(e.check_str("rule:owner_or_admin", &json!({"project_id": "p1"}), &owner).unwrap());
    assert!(e.check_rules().is_empty());
}

#[test]
fn policy_json_and_legacy_lists_are_accepted() {
    let defaults =
        [RuleDefault::new("a", "!", ANY, ""), RuleDefault::new("b", "!", ANY, ""), RuleDefault::new("c", "!", ANY, "")];
    let json_file = r#"{
        "a": "role:x or role:y",
        "b": [["role:x", "role:y"], ["role:z"]],
        "c": []
    }"#;
    let e = Enforcer::new(&defaults, Some(json_file), true).unwrap();
    assert!(e.enforce("a", &json!({}), &with_roles(&["y"])).unwrap());
    assert!(!e.enforce("b", &json!({}), &with_roles(&["x"])).unwrap());
    assert!(e.enforce("b", &json!({}), &with_roles(&["x", "y"])).unwrap());
    assert!(e.enforce("b", &json!({}), &with_roles(&["z"])).unwrap());
    assert!(e.enforce("c", &json!({}), &with_roles(&[])).unwrap());
}

#[test]
fn empty_policy_file_changes_nothing() {
    let defaults = [RuleDefault::new("a", "role:x", ANY, "")];
    for text in ["", "   \n", "# only a comment\n", "{}", "~"] {
        let e = Enforcer::new(&defaults, Some(text), true).unwrap();
        assert_eq!(e.rule("a").unwrap().to_string(), "role:x", "{text:?}");
    }
}

#[test]
fn empty_check_string_allows_everyone() {
    let e = Enforcer::new(&[RuleDefault::new("open", "!", ANY, "")], Some("open: ''"), true).unwrap();
    assert!(e.enforce("open", &json!({}), &json!({})).unwrap());
}

#[test]
fn parse_errors_name_the_rule() {
    let bad_default = Enforcer::new(&[RuleDefault::new("broken", "role:a and", ANY, "")], None, true);
    assert!(matches!(bad_default, Err(PolicyError::Parse { rule, .. }) if rule == "broken"));

    let defaults = [RuleDefault::new("a", "@", ANY, "")];
    let cases = [
        ("a: '(role:x'", "a"),
        ("new_rule: 'role:x or or role:y'", "new_rule"),
        ("a: admin", "a"),
        ("a:\n", "a"),
        ("a: 5", "a"),
        ("a: [[5]]", "a"),
        ("a: 'tenant:%(tenant_id)d'", "a"),
    ];
    for (yaml, name) in cases {
        match Enforcer::new(&defaults, Some(yaml), true) {
            Err(PolicyError::Parse { rule, message }) => {
                assert_eq!(rule, name, "{yaml}");
                assert!(!message.is_empty());
            }
            other => panic!("{yaml:?}: expected a parse error, got {other:?}"),
        }
    }
    let error = Enforcer::new(&defaults, Some("a: '(role:x'"), true).unwrap_err();
    assert!(error.to_string().starts_with("Invalid policy rule a:"), "{error}");

    assert!(matches!(Enforcer::new(&defaults, Some("a: [unclosed"), true), Err(PolicyError::PolicyFile(_))));
    assert!(matches!(Enforcer::new(&defaults, Some("- a\n- b\n"), true), Err(PolicyError::PolicyFile(_))));
    assert!(matches!(Enforcer::new(&defaults, Some("1: '@'"), true), Err(PolicyError::PolicyFile(_))));

    let e = empty();
    assert!(matches!(e.check_str("role:", &json!({}), &json!({})), Ok(false)));
    assert!(matches!(
        e.check_str("role:a role:b", &json!({}), &json!({})),
        Err(PolicyError::Parse { rule, .. }) if rule == "role:a role:b"
    ));
}

#[test]
fn duplicate_defaults_are_refused() {
    let result = Enforcer::new(&[RuleDefault::new("a", "@", ANY, ""), RuleDefault::new("a", "!", ANY, "")], None, true);
    assert!(matches!(result, Err(PolicyError::Duplicate(name)) if name == "a"));
}

#[test]
fn parsed_checks_can_be_reused() {
    let e = enforcer(&[RuleDefault::new("admin_required", "role:admin", ANY, "")]);
    let parsed = Check::parse("rule:admin_required or user_id:%(user_id)s").unwrap();
    assert_eq!(parsed.to_string(), "(rule:admin_required or user_id:%(user_id)s)");
    assert!(e.check(&parsed, &json!({"user_id": "u1"}), &json!({"user_id": "u1"})));
    assert!(e.check(&parsed, &json!({"user_id": "u1"}), &json!({"roles": ["admin"]})));
    assert!(!e.check(&parsed, &json!({"user_id": "u1"}), &json!({"user_id": "u2"})));
    assert_eq!(e.defaults().len(), 1);
}

/// Check strings as Keystone and Nova ship them.
#[test]
fn keystone_style_rules() {
    const SYSTEM_READER: &str = "role:reader and system_scope:all";
    let defaults = [
        RuleDefault::new("admin_required", "role:admin", ANY, ""),
        RuleDefault::new("service_role", "role:service", ANY, ""),
        RuleDefault::new("service_or_admin", "rule:admin_required or rule:service_role", ANY, ""),
        RuleDefault::new("owner", "user_id:%(user_id)s", ANY, ""),
        RuleDefault::new("admin_or_owner", "rule:admin_required or rule:owner", ANY, ""),
        RuleDefault::new("token_subject", "user_id:%(target.token.user_id)s", ANY, ""),
        RuleDefault::new("admin_or_token_subject", "rule:admin_required or rule:token_subject", ANY, ""),
        RuleDefault::new(
            "identity:get_user",
            "(rule:admin_required) or (role:reader and system_scope:all) or \
             (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
            ALL_SCOPES,
            "Show user details.",
        ),
        RuleDefault::new(
            "identity:list_users",
            "(rule:admin_required) or (role:reader and system_scope:all) or \
             (role:reader and domain_id:%(target.domain_id)s)",
            ALL_SCOPES,
            "List users.",
        ),
        RuleDefault::new(
            "identity:create_user",
            "(rule:admin_required) or (role:admin and domain_id:%(target.user.domain_id)s)",
            ALL_SCOPES,
            "Create a user.",
        ),
        RuleDefault::new("identity:list_regions", "", ANY, "List regions."),
        RuleDefault::new("identity:get_system_grant", SYSTEM_READER, SYSTEM, ""),
        RuleDefault::new("identity:validate_token", "rule:service_admin_or_token_subject", ALL_SCOPES, ""),
        RuleDefault::new("identity:revoke_token", "rule:admin_or_token_subject", ALL_SCOPES, "Revoke a token."),
        RuleDefault::new("os_compute_api:servers:index", "role:reader and project_id:%(project_id)s", PROJECT, ""),
    ];
    let overrides = "service_admin_or_token_subject: rule:service_or_admin or rule:token_subject\n";
    let e = Enforcer::new(&defaults, Some(overrides), true).unwrap();
    assert!(e.check_rules().is_empty(), "{:?}", e.check_rules());

    // Keystone's target for GET /v3/users/{id}: {"target": {"user": {...}}}.
    let user_target = json!({"target": {"user": {"id": "u1", "domain_id": "d1", "name": "alice"}}});
    let system_reader = json!({"user_id": "admin", "system_scope": "all", "roles": ["reader"]});
    let domain_reader = json!({"user_id": "r", "domain_id": "d1", "roles": ["reader"]});
    let other_domain_reader = json!({"user_id": "r", "domain_id": "d2", "roles": ["reader"]});
    let project_admin = json!({"user_id": "x", "project_id": "p1", "roles": ["admin", "member", "reader"]});
    let the_user = json!({"user_id": "u1", "project_id": "p1", "roles": ["member"]});
    let someone = json!({"user_id": "u2", "project_id": "p1", "roles": ["member", "reader"]});

    let get_user = |creds: &Value| e.enforce("identity:get_user", &user_target, creds).unwrap();
    assert!(get_user(&system_reader));
    assert!(get_user(&domain_reader));
    assert!(!get_user(&other_domain_reader));
    assert!(get_user(&project_admin));
    assert!(get_user(&the_user));
    assert!(!get_user(&someone));

    // The same rule against a flattened target, as Keystone hands it to oslo.
    let flattened = json!({"target.user.id": "u1", "target.user.domain_id": "d1"});
    assert!(e.enforce("identity:get_user", &flattened, &domain_reader).unwrap());
    assert!(e.enforce("identity:get_user", &flattened, &the_user).unwrap());
    assert!(!e.enforce("identity:get_user", &flattened, &someone).unwrap());

    let list_target = json!({"target": {"domain_id": "d1"}});
    assert!(e.enforce("identity:list_users", &list_target, &domain_reader).unwrap());
    assert!(!e.enforce("identity:list_users", &list_target, &other_domain_reader).unwrap());
    assert!(!e.enforce("identity:list_users", &list_target, &someone).unwrap());
    // A domain-scoped filter missing from the target fails only that branch.
    assert!(e.enforce("identity:list_users", &json!({}), &system_reader).unwrap());
    assert!(!e.enforce("identity:list_users", &json!({}), &domain_reader).unwrap());

    let domain_admin = json!({"user_id": "da", "domain_id": "d1", "roles": ["admin"]});
    let create_target = json!({"target": {"user": {"domain_id": "d1"}}});
    assert!(e.enforce("identity:create_user", &create_target, &domain_admin).unwrap());
    assert!(!e.enforce("identity:create_user", &create_target, &domain_reader).unwrap());

    assert!(e.enforce("identity:list_regions", &json!({}), &json!({})).unwrap());

    assert!(e.enforce("identity:get_system_grant", &json!({}), &system_reader).unwrap());
    assert!(matches!(
        e.enforce("identity:get_system_grant", &json!({}), &domain_reader),
        Err(PolicyError::InvalidScope { .. })
    ));

    let token_target = json!({"target": {"token": {"user_id": "u1"}}});
    assert!(e.enforce("identity:validate_token", &token_target, &the_user).unwrap());
    assert!(!e.enforce("identity:validate_token", &token_target, &someone).unwrap());
    let service = json!({"user_id": "nova", "project_id": "service", "roles": ["service"]});
    assert!(e.enforce("identity:validate_token", &token_target, &service).unwrap());
    assert!(e.enforce("identity:revoke_token", &token_target, &the_user).unwrap());
    assert!(!e.enforce("identity:revoke_token", &token_target, &service).unwrap());

    let servers = json!({"project_id": "p1"});
    assert!(e.enforce("os_compute_api:servers:index", &servers, &someone).unwrap());
    assert!(!e.enforce("os_compute_api:servers:index", &json!({"project_id": "p2"}), &someone).unwrap());
    assert!(matches!(
        e.enforce("os_compute_api:servers:index", &servers, &system_reader),
        Err(PolicyError::InvalidScope { .. })
    ));
}
