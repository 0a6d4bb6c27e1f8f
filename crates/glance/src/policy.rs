//! Glance's default policy rules, as glance/policies (image.py, metadef.py and base.py), with
//! upstream's names and check strings. The target of an image rule is the image as Glance's ImageTarget
//! presents it: `project_id` and `owner` are the image's owner, `visibility` its visibility,
//! `member_id` the caller's project when the caller is a member of the image.

use auth::policy::RuleDefault;

macro_rules! admin {
    () => {
        "rule:context_is_admin"
    };
}
macro_rules! project_member {
    () => {
        "role:member and project_id:%(project_id)s"
    };
}
macro_rules! project_reader {
    () => {
        "role:reader and project_id:%(project_id)s"
    };
}
macro_rules! visible_to {
    ($role:literal) => {
        concat!(
            "role:", $role, " and (project_id:%(project_id)s or project_id:%(member_id)s ",
            "or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s)"
        )
    };
}

const ADMIN_OR_PROJECT_MEMBER: &str = concat!(admin!(), " or (", project_member!(), ")");
const ADMIN_OR_PROJECT_READER: &str = concat!(admin!(), " or (", project_reader!(), ")");
const ADMIN_OR_PROJECT_READER_GET_IMAGE: &str = concat!(admin!(), " or (", visible_to!("reader"), ")");
const ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE: &str = concat!(admin!(), " or (", visible_to!("member"), ")");
const ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE: &str = concat!(admin!(), " or (", project_member!(), " and project_id:%(owner)s)");
const ADMIN_OR_SHARED_MEMBER: &str = concat!(admin!(), " or (role:member and project_id:%(member_id)s)");
const ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER: &str = concat!(admin!(), " or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)");
/// A metadef namespace is readable by a reader of its owner project, or by anyone with a
/// reader role when it is public (glance/policies/base.py's PROJECT_READER_OR_PUBLIC_NAMESPACE).
const ADMIN_OR_PROJECT_READER_GET_NAMESPACE: &str = concat!(admin!(), " or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))");
const METADEF_ADMIN: &str = "rule:metadef_admin";
const SERVICE_OR_PROJECT_MEMBER: &str = concat!("rule:service_api or (", project_member!(), " and project_id:%(owner)s)");
const PROJECT: &[&str] = &["project"];

const fn rule(name: &'static str, check_str: &'static str, description: &'static str) -> RuleDefault {
    RuleDefault { name, check_str, scope_types: PROJECT, description }
}

pub const DEFAULTS: &[RuleDefault] = &[
    RuleDefault { name: "context_is_admin", check_str: "role:admin", scope_types: &[], description: "Decides what is an admin context." },
    RuleDefault { name: "default", check_str: "", scope_types: &[], description: "The fallback rule." },
    RuleDefault { name: "service_api", check_str: "role:service", scope_types: &[], description: "A service calling on a user's behalf." },
    rule("add_image", ADMIN_OR_PROJECT_MEMBER_CREATE_IMAGE, "Create a new image."),
    rule("delete_image", ADMIN_OR_PROJECT_MEMBER, "Delete an image."),
    rule("get_image", ADMIN_OR_PROJECT_READER_GET_IMAGE, "Show an image."),
    rule("get_images", ADMIN_OR_PROJECT_READER, "List images."),
    rule("modify_image", ADMIN_OR_PROJECT_MEMBER, "Update an image."),
    rule("publicize_image", admin!(), "Make an image public."),
    rule("tasks_api_access", admin!(), "Use the tasks API at all (each call is also checked against its own rule)."),
    rule("get_task", "rule:default", "Show a task."),
    rule("get_tasks", "rule:default", "List tasks."),
    rule("add_task", "rule:default", "Create a task."),
    rule("modify_task", "rule:default", "Not used: tasks cannot be changed."),
    rule("communitize_image", ADMIN_OR_PROJECT_MEMBER, "Make an image community-visible."),
    rule("download_image", ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE, "Download image data."),
    rule("download_from_store", ADMIN_OR_PROJECT_MEMBER_DOWNLOAD_IMAGE, "Download image data from a given store."),
    rule("upload_image", ADMIN_OR_PROJECT_MEMBER, "Upload image data."),
    rule("delete_image_location", admin!(), "Delete an image location."),
    rule("get_image_location", ADMIN_OR_PROJECT_READER, "Show image locations."),
    rule("set_image_location", ADMIN_OR_PROJECT_MEMBER, "Set image locations."),
    rule("add_image_location", SERVICE_OR_PROJECT_MEMBER, "Add an image location."),
    rule("fetch_image_location", "rule:service_api", "Fetch image locations."),
    rule("add_member", ADMIN_OR_PROJECT_MEMBER, "Share an image with a project."),
    rule("delete_member", ADMIN_OR_PROJECT_MEMBER, "Stop sharing an image with a project."),
    rule("get_member", ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER, "Show an image member."),
    rule("get_members", ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER, "List image members."),
    rule("modify_member", ADMIN_OR_SHARED_MEMBER, "Accept or reject a shared image."),
    rule("manage_image_cache", admin!(), "Manage the image cache."),
    rule("deactivate", ADMIN_OR_PROJECT_MEMBER, "Deactivate an image."),
    rule("reactivate", ADMIN_OR_PROJECT_MEMBER, "Reactivate an image."),
    rule("copy_image", admin!(), "Copy an image to other stores."),
    rule("stores_info_detail", admin!(), "Show store details."),
    // Metadata definitions (glance/policies/metadef.py): reads follow the namespace's
    // visibility, writes are the cloud admin's. `metadef_default` is the rule upstream's
    // deprecated read defaults pointed at; a policy.yaml may still name it.
    RuleDefault { name: "metadef_default", check_str: "", scope_types: &[], description: "The rule metadef reads used before project scope (open to all)." },
    RuleDefault { name: "metadef_admin", check_str: admin!(), scope_types: &[], description: "Who may write metadata definitions." },
    rule("get_metadef_namespace", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get a specific namespace."),
    rule("get_metadef_namespaces", ADMIN_OR_PROJECT_READER, "List namespaces."),
    rule("modify_metadef_namespace", METADEF_ADMIN, "Modify an existing namespace."),
    rule("add_metadef_namespace", METADEF_ADMIN, "Create a namespace."),
    rule("delete_metadef_namespace", METADEF_ADMIN, "Delete a namespace."),
    rule("get_metadef_object", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get a specific object from a namespace."),
    rule("get_metadef_objects", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get objects from a namespace."),
    rule("modify_metadef_object", METADEF_ADMIN, "Update an object within a namespace."),
    rule("add_metadef_object", METADEF_ADMIN, "Create an object within a namespace."),
    rule("delete_metadef_object", METADEF_ADMIN, "Delete an object within a namespace."),
    rule("list_metadef_resource_types", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "List metadef resource types."),
    rule("get_metadef_resource_type", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get metadef resource type associations."),
    rule("add_metadef_resource_type_association", METADEF_ADMIN, "Create a metadef resource type association."),
    rule("remove_metadef_resource_type_association", METADEF_ADMIN, "Delete a metadef resource type association."),
    rule("get_metadef_property", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get a specific metadef property."),
    rule("get_metadef_properties", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "List metadef properties."),
    rule("modify_metadef_property", METADEF_ADMIN, "Update a metadef property."),
    rule("add_metadef_property", METADEF_ADMIN, "Create a metadef property."),
    rule("remove_metadef_property", METADEF_ADMIN, "Delete a metadef property."),
    rule("get_metadef_tag", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "Get a tag definition."),
    rule("get_metadef_tags", ADMIN_OR_PROJECT_READER_GET_NAMESPACE, "List tag definitions."),
    rule("modify_metadef_tag", METADEF_ADMIN, "Update a tag definition."),
    rule("add_metadef_tag", METADEF_ADMIN, "Add a tag definition."),
    rule("add_metadef_tags", METADEF_ADMIN, "Create tag definitions."),
    rule("delete_metadef_tag", METADEF_ADMIN, "Delete a tag definition."),
    rule("delete_metadef_tags", METADEF_ADMIN, "Delete all tag definitions of a namespace."),
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
        let member = json!({"roles": ["member", "reader"], "project_id": "p1"});
        let other = json!({"roles": ["member", "reader"], "project_id": "p2"});
        let own = json!({"project_id": "p1", "owner": "p1", "visibility": "private", "member_id": null});
        assert!(e.enforce("get_image", &own, &member).unwrap());
        assert!(!e.enforce("get_image", &own, &other).unwrap());
        assert!(!e.enforce("publicize_image", &own, &member).unwrap());
        assert!(e.enforce("publicize_image", &own, &json!({"roles": ["admin"], "project_id": "p9"})).unwrap());
        let shared = json!({"project_id": "p1", "owner": "p1", "visibility": "shared", "member_id": "p2"});
        assert!(e.enforce("modify_member", &shared, &other).unwrap());
        assert!(!e.enforce("delete_image", &shared, &other).unwrap());
    }

    #[test]
    fn metadef_reads_follow_visibility_and_writes_are_admin_only() {
        let e = Enforcer::new(DEFAULTS, None, true).unwrap();
        let reader = json!({"roles": ["reader"], "project_id": "p2"});
        let admin = json!({"roles": ["admin", "member", "reader"], "project_id": "p9"});
        let public = json!({"project_id": "p1", "visibility": "public"});
        let private = json!({"project_id": "p1", "visibility": "private"});
        assert!(e.enforce("get_metadef_namespace", &public, &reader).unwrap());
        assert!(!e.enforce("get_metadef_namespace", &private, &reader).unwrap());
        assert!(e.enforce("get_metadef_namespace", &private, &json!({"roles": ["reader"], "project_id": "p1"})).unwrap());
        assert!(e.enforce("get_metadef_namespace", &private, &admin).unwrap());
        assert!(!e.enforce("add_metadef_namespace", &json!({"project_id": "p2"}), &json!({"roles": ["member", "reader"], "project_id": "p2"})).unwrap());
        assert!(e.enforce("add_metadef_namespace", &json!({"project_id": "p9"}), &admin).unwrap());
        assert!(e.enforce("delete_metadef_tags", &public, &admin).unwrap());
    }
}
