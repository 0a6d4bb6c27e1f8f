//! Keystone's default policy evaluated for the personas the API serves (a regression guard for
//! privilege escalation through grants).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use auth::policy::Enforcer;
use serde_json::json;

fn enforcer() -> Enforcer {
    Enforcer::new(keystone::policy::DEFAULTS, None, true).unwrap()
}

fn project_creds(roles: &[&str]) -> serde_json::Value {
    json!({
        "user_id": "u1", "user_domain_id": "default", "project_id": "p1", "project_domain_id": "default",
        "domain_id": null, "system_scope": null, "roles": roles, "is_admin_project": true,
        "token": {"project": {"domain": {"id": "default"}}, "user": {"id": "u1"}}, "trust_id": null
    })
}

#[test]
fn member_cannot_grant_roles() {
    let e = enforcer();
    let target = json!({"target": {
        "project": {"id": "p1", "domain_id": "default"},
        "user": {"id": "u1", "domain_id": "default"},
        "role": {"id": "r-admin", "name": "admin", "domain_id": null}
    }});
    assert!(!e.enforce("identity:create_grant", &target, &project_creds(&["member", "reader"])).unwrap());
    assert!(e.enforce("identity:create_grant", &target, &project_creds(&["admin", "member", "reader"])).unwrap());
}

#[test]
fn member_cannot_create_users_or_projects() {
    let e = enforcer();
    let creds = project_creds(&["member", "reader"]);
    assert!(!e.enforce("identity:create_user", &json!({"target": {"user": {"domain_id": "default"}}}), &creds).unwrap());
    assert!(!e.enforce("identity:create_project", &json!({"target": {"project": {"domain_id": "default"}}}), &creds).unwrap());
}

#[test]
fn every_default_parses_and_references_resolve() {
    let e = enforcer();
    let report = e.check_rules();
    assert!(report.is_empty(), "{report:?}");
}

#[test]
fn token_subject_may_validate_own_token() {
    let e = enforcer();
    let target = json!({"target": {"token": {"user_id": "u1"}}, "token": {"user_id": "u1"}});
    assert!(e.enforce("identity:validate_token", &target, &project_creds(&["member", "reader"])).unwrap());
    let other = json!({"target": {"token": {"user_id": "u2"}}, "token": {"user_id": "u2"}});
    assert!(!e.enforce("identity:validate_token", &other, &project_creds(&["member", "reader"])).unwrap());
}
