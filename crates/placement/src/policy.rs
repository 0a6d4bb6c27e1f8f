//! Placement's default policy rules, as placement/policies: every API is the cloud admin's or
//! a service's (`role:admin or role:service`), except `GET /usages` which a project reader may
//! call for their own project, and the reshaper which only a service may call.

use auth::policy::RuleDefault;

const ADMIN_OR_SERVICE: &str = "rule:admin_or_service_api";
const PROJECT: &[&str] = &["project"];

const fn rule(name: &'static str, check_str: &'static str, description: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: PROJECT, description }
}

pub const DEFAULTS: &[RuleDefault] = &[
    rule("admin_api", "role:admin", "Default rule for most placement APIs."),
    rule("service_api", "role:service", "Default rule for service-to-service placement APIs."),
    rule("admin_or_service_api", "role:admin or role:service", "Default rule for most placement APIs."),
    RuleDefault { name: "project_reader_api", check_str: "role:reader and project_id:%(project_id)s", scope_types: &[], description: "Default rule for Project level reader APIs." },
    rule("admin_or_project_reader_or_service_api", "role:admin or rule:project_reader_api or role:service", "Default rule for project level reader APIs."),
    rule("placement:resource_providers:list", ADMIN_OR_SERVICE, "List resource providers."),
    rule("placement:resource_providers:create", ADMIN_OR_SERVICE, "Create resource provider."),
    rule("placement:resource_providers:show", ADMIN_OR_SERVICE, "Show resource provider."),
    rule("placement:resource_providers:update", ADMIN_OR_SERVICE, "Update resource provider."),
    rule("placement:resource_providers:delete", ADMIN_OR_SERVICE, "Delete resource provider."),
    rule("placement:resource_classes:list", ADMIN_OR_SERVICE, "List resource classes."),
    rule("placement:resource_classes:create", ADMIN_OR_SERVICE, "Create resource class."),
    rule("placement:resource_classes:show", ADMIN_OR_SERVICE, "Show resource class."),
    rule("placement:resource_classes:update", ADMIN_OR_SERVICE, "Update resource class."),
    rule("placement:resource_classes:delete", ADMIN_OR_SERVICE, "Delete resource class."),
    rule("placement:resource_providers:inventories:list", ADMIN_OR_SERVICE, "List resource provider inventories."),
    rule("placement:resource_providers:inventories:create", ADMIN_OR_SERVICE, "Create one resource provider inventory."),
    rule("placement:resource_providers:inventories:show", ADMIN_OR_SERVICE, "Show resource provider inventory."),
    rule("placement:resource_providers:inventories:update", ADMIN_OR_SERVICE, "Update resource provider inventory."),
    rule("placement:resource_providers:inventories:delete", ADMIN_OR_SERVICE, "Delete resource provider inventory."),
    rule("placement:resource_providers:aggregates:list", ADMIN_OR_SERVICE, "List resource provider aggregates."),
    rule("placement:resource_providers:aggregates:update", ADMIN_OR_SERVICE, "Update resource provider aggregates."),
    rule("placement:resource_providers:usages", ADMIN_OR_SERVICE, "List resource provider usages."),
    rule("placement:usages", "rule:admin_or_project_reader_or_service_api", "List total resource usages for a given project."),
    rule("placement:traits:list", ADMIN_OR_SERVICE, "List traits."),
    rule("placement:traits:show", ADMIN_OR_SERVICE, "Show trait."),
    rule("placement:traits:update", ADMIN_OR_SERVICE, "Update trait."),
    rule("placement:traits:delete", ADMIN_OR_SERVICE, "Delete trait."),
    rule("placement:resource_providers:traits:list", ADMIN_OR_SERVICE, "List resource provider traits."),
    rule("placement:resource_providers:traits:update", ADMIN_OR_SERVICE, "Update resource provider traits."),
    rule("placement:resource_providers:traits:delete", ADMIN_OR_SERVICE, "Delete resource provider traits."),
    rule("placement:allocations:manage", ADMIN_OR_SERVICE, "Manage allocations."),
    rule("placement:allocations:list", ADMIN_OR_SERVICE, "List allocations."),
    rule("placement:allocations:update", ADMIN_OR_SERVICE, "Update allocations."),
    rule("placement:allocations:delete", ADMIN_OR_SERVICE, "Delete allocations."),
    rule("placement:resource_providers:allocations:list", ADMIN_OR_SERVICE, "List resource provider allocations."),
    rule("placement:allocation_candidates:list", ADMIN_OR_SERVICE, "List allocation candidates."),
    rule("placement:reshaper:reshape", "rule:service_api", "Reshape Inventory and Allocations."),
];

#[cfg(test)]
mod tests {
    use super::*;
    use auth::policy::Enforcer;
    use serde_json::json;

    #[test]
    fn defaults_parse_and_shape_access() {
        let e = Enforcer::new(DEFAULTS, None, true).unwrap();
        assert!(e.check_rules().is_empty());
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p1"});
        let service = json!({"roles": ["service"], "project_id": "svc"});
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let t = json!({"project_id": "p1"});
        assert!(e.enforce("placement:resource_providers:create", &t, &admin).unwrap());
        assert!(e.enforce("placement:allocations:update", &t, &service).unwrap());
        assert!(!e.enforce("placement:resource_providers:list", &t, &member).unwrap());
        assert!(e.enforce("placement:usages", &t, &member).unwrap());
        assert!(!e.enforce("placement:usages", &json!({"project_id": "p2"}), &member).unwrap());
        assert!(!e.enforce("placement:reshaper:reshape", &t, &admin).unwrap());
    }
}
