//! Keystone's default policy rules, as keystone/common/policies: one [`RuleDefault`] per
//! upstream rule, with upstream's names, effective check strings and scope types.
//!
//! These are the current, scope-aware defaults built on the `admin` / `manager` /
//! `member` / `reader` personas (plus `service` for other services' users); upstream's
//! deprecated pre-Stein check strings are not carried. The personas map onto check
//! strings like this:
//!
//! - cloud admin: `rule:admin_required` (`role:admin` in any scope, or the legacy
//!   `is_admin:1` credential);
//! - system reader: `role:reader and system_scope:all`;
//! - domain reader / manager: `role:reader` / `role:manager` on a domain-scoped token
//!   whose `domain_id` matches the target's domain;
//! - project member / owner: `user_id` or `project_id` matching the target.
//!
//! Upstream writes `system_scope:all` into check strings as well as listing
//! `scope_types`, so the rules stay tight when scope enforcement is off; we keep that.
//! Check strings are kept byte for byte as upstream resolves them, quirks included
//! (see the trust rules), because operators' policy files and oslopolicy-sample output
//! are compared against them.
//!
//! An empty `scope_types` means upstream sets none (any token scope may be used); an
//! empty `check_str` means any authenticated caller passes.

use auth::policy::RuleDefault;

// Building blocks, as keystone/common/policies/base.py. They are macros rather than
// `const`s so that `concat!` can compose them into the `const` check strings below.

macro_rules! admin_required {
    () => {
        "rule:admin_required"
    };
}

macro_rules! system_reader {
    () => {
        "role:reader and system_scope:all"
    };
}

macro_rules! system_admin {
    () => {
        "role:admin and system_scope:all"
    };
}

/// `rule:admin_required or (system reader)`: base.py's RULE_ADMIN_OR_SYSTEM_READER.
macro_rules! admin_or_system_reader {
    () => {
        concat!(admin_required!(), " or (", system_reader!(), ")")
    };
}

macro_rules! credential_owner {
    () => {
        "user_id:%(target.credential.user_id)s"
    };
}

/// The caller is the user named by the target (access rules, user projects, users).
macro_rules! target_user {
    () => {
        "user_id:%(target.user.id)s"
    };
}

macro_rules! trustor {
    () => {
        "user_id:%(target.trust.trustor_user_id)s"
    };
}

macro_rules! trustee {
    () => {
        "user_id:%(target.trust.trustee_user_id)s"
    };
}

/// A domain-scoped `$role` whose domain owns both the actor (user or group) and the
/// target (project or domain) of a grant: grant.py's GRANTS_DOMAIN_{READER,ADMIN,MANAGER}.
macro_rules! grants_domain {
    ($role:literal) => {
        concat!(
            "(role:", $role, " and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or ",
            "(role:", $role, " and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or ",
            "(role:", $role, " and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or ",
            "(role:", $role, " and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)"
        )
    };
}

/// The granted role is global or belongs to the caller's domain.
macro_rules! domain_matches_role {
    () => {
        "domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s"
    };
}

// Scope types.

/// Upstream sets no `scope_types`: any token scope may be used.
const ANY_SCOPE: &[&str] = &[];
const PROJECT: &[&str] = &["project"];
const SYSTEM_PROJECT: &[&str] = &["system", "project"];
const SYSTEM_DOMAIN_PROJECT: &[&str] = &["system", "domain", "project"];

// Check strings shared by many rules.

/// Any authenticated caller.
const ANYONE: &str = "";
const ADMIN_REQUIRED: &str = admin_required!();
const SERVICE_OR_ADMIN: &str = "rule:service_or_admin";
const ADMIN_OR_SYSTEM_READER: &str = admin_or_system_reader!();
const ADMIN_OR_SYSTEM_READER_OR_OWNER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or rule:owner"
);
/// Read a credential: admin, system reader, or the credential's own user.
const ADMIN_OR_SYSTEM_READER_OR_CREDENTIAL_OWNER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or ",
    credential_owner!()
);
const ADMIN_OR_CREDENTIAL_OWNER: &str =
    concat!("(", admin_required!(), ") or ", credential_owner!());
const ADMIN_OR_MEMBER_AND_CREDENTIAL_OWNER: &str = concat!(
    "(",
    admin_required!(),
    ") or (role:member and ",
    credential_owner!(),
    ")"
);
/// Admin, system reader, or a domain reader of the domain in `target.domain_id`
/// (list filters for projects, users and role assignments).
const ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.domain_id)s)"
);

// access_rule.py

const SYSTEM_READER_OR_RULE_OWNER: &str = concat!("(", system_reader!(), ") or ", target_user!());
const SYSTEM_ADMIN_OR_RULE_OWNER: &str = concat!("(", system_admin!(), ") or ", target_user!());

// domain.py

/// Admin, system reader, or any token scoped to the domain or to one of its projects.
const ADMIN_OR_SYSTEM_READER_OR_DOMAIN_USER_OR_PROJECT_USER: &str = concat!(
    admin_required!(),
    " or (",
    system_reader!(),
    ") or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s"
);
const ADMIN_OR_SYSTEM_READER_OR_READER_OF_DOMAIN: &str = concat!(
    admin_or_system_reader!(),
    " or (role:reader and domain_id:%(target.domain.id)s)"
);

// grant.py

const ADMIN_OR_SYSTEM_READER_OR_GRANTS_DOMAIN_READER: &str = concat!(
    "(",
    admin_required!(),
    ") or ((",
    system_reader!(),
    ") or (",
    grants_domain!("reader"),
    ") and (",
    domain_matches_role!(),
    "))"
);
const ADMIN_OR_SYSTEM_READER_OR_GRANTS_DOMAIN_READER_LIST: &str = concat!(
    "(",
    admin_required!(),
    ") or ((",
    system_reader!(),
    ") or ",
    grants_domain!("reader"),
    ")"
);
/// A domain admin may grant any role its domain can see; a domain manager only the
/// roles `domain_managed_target_role` allows.
const ADMIN_OR_GRANTS_DOMAIN_ADMIN_OR_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    grants_domain!("admin"),
    ") and (",
    domain_matches_role!(),
    ") or (",
    grants_domain!("manager"),
    ") and rule:domain_managed_target_role"
);

// group.py

const ADMIN_OR_SYSTEM_READER_OR_GROUP_DOMAIN_READER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.group.domain_id)s)"
);
const ADMIN_OR_SYSTEM_READER_OR_USER_DOMAIN_READER_OR_OWNER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s"
);
const ADMIN_OR_SYSTEM_READER_OR_GROUP_AND_USER_DOMAIN_READER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)"
);
const ADMIN_OR_GROUP_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_required!(),
    ") or (role:manager and domain_id:%(target.group.domain_id)s)"
);
const ADMIN_OR_GROUP_AND_USER_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_required!(),
    ") or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)"
);

// limit.py

/// Admin, system reader, a token scoped to the limit's domain (or its project's
/// domain), or a token scoped to the limit's project.
const ADMIN_OR_SYSTEM_READER_OR_LIMIT_DOMAIN_OR_PROJECT_USER: &str = concat!(
    admin_required!(),
    " or (",
    system_reader!(),
    ") or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s)",
    " or (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)"
);

// project.py

const ADMIN_OR_SYSTEM_READER_OR_PROJECT_DOMAIN_READER_OR_PROJECT_USER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
    " or project_id:%(target.project.id)s"
);
const ADMIN_OR_SYSTEM_READER_OR_USER_DOMAIN_READER_OR_USER: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and domain_id:%(target.user.domain_id)s) or ",
    target_user!()
);
const ADMIN_OR_PROJECT_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_required!(),
    ") or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)"
);

// role.py

const ADMIN_OR_SYSTEM_READER_OR_MANAGER_OF_ALLOWED_ROLE: &str = concat!(
    "(",
    admin_or_system_reader!(),
    ") or (role:manager and rule:domain_managed_target_role)"
);
/// `not domain_id:None`: the manager's token is domain-scoped.
const ADMIN_OR_SYSTEM_READER_OR_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_or_system_reader!(),
    ") or (role:manager and not domain_id:None)"
);

// token.py

const ADMIN_OR_TOKEN_SUBJECT: &str = concat!(admin_required!(), " or rule:token_subject");
const ADMIN_OR_SYSTEM_READER_OR_TOKEN_SUBJECT: &str = concat!(
    admin_required!(),
    " or (",
    system_reader!(),
    ") or rule:token_subject"
);
const ADMIN_OR_SYSTEM_READER_OR_SERVICE_OR_TOKEN_SUBJECT: &str = concat!(
    admin_required!(),
    " or (",
    system_reader!(),
    ") or rule:service_role or rule:token_subject"
);

// trust.py. Upstream leaves the system-reader clause unparenthesised inside the outer
// parentheses ("(role:reader and system_scope:all or user_id:...)"); `and` binds
// tighter than `or`, so it means what it looks like, and we keep the exact text.

const ADMIN_OR_TRUSTOR: &str = concat!(admin_required!(), " or ", trustor!());
const ADMIN_OR_SYSTEM_READER_OR_TRUSTOR: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    " or ",
    trustor!(),
    ")"
);
const ADMIN_OR_SYSTEM_READER_OR_TRUSTEE: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    " or ",
    trustee!(),
    ")"
);
const ADMIN_OR_SYSTEM_READER_OR_TRUSTOR_OR_TRUSTEE: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    " or ",
    trustor!(),
    " or ",
    trustee!(),
    ")"
);

// user.py

/// Admin, system reader, a reader scoped to the user's domain, or the user itself.
const ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER_OR_SELF: &str = concat!(
    "(",
    admin_required!(),
    ") or (",
    system_reader!(),
    ") or (role:reader and token.domain.id:%(target.user.domain_id)s) or ",
    target_user!()
);
const ADMIN_OR_USER_DOMAIN_MANAGER: &str = concat!(
    "(",
    admin_required!(),
    ") or (role:manager and token.domain.id:%(target.user.domain_id)s)"
);

/// Every default rule Keystone registers, in upstream's order (base.py first, then one
/// block per file of keystone/common/policies).
pub const DEFAULTS: &[RuleDefault] = &[
    // base.py: the helper rules every other rule builds on
    RuleDefault {
        name: "admin_required",
        check_str: "role:admin or is_admin:1",
        scope_types: ANY_SCOPE,
        description: "Caller holds the admin role (or is the legacy admin context).",
    },
    RuleDefault {
        name: "service_role",
        check_str: "role:service",
        scope_types: ANY_SCOPE,
        description: "Caller holds the service role.",
    },
    RuleDefault {
        name: "service_or_admin",
        check_str: "rule:admin_required or rule:service_role",
        scope_types: ANY_SCOPE,
        description: "Caller is an admin or a service user.",
    },
    RuleDefault {
        name: "owner",
        check_str: "user_id:%(user_id)s",
        scope_types: ANY_SCOPE,
        description: "Caller is the user named in the request path.",
    },
    RuleDefault {
        name: "admin_or_owner",
        check_str: "rule:admin_required or rule:owner",
        scope_types: ANY_SCOPE,
        description: "Caller is an admin or the user named in the request path.",
    },
    RuleDefault {
        name: "token_subject",
        check_str: "user_id:%(target.token.user_id)s",
        scope_types: ANY_SCOPE,
        description: "Caller owns the token being acted upon.",
    },
    RuleDefault {
        name: "admin_or_token_subject",
        check_str: "rule:admin_required or rule:token_subject",
        scope_types: ANY_SCOPE,
        description: "Caller is an admin or owns the token being acted upon.",
    },
    RuleDefault {
        name: "service_admin_or_token_subject",
        check_str: "rule:service_or_admin or rule:token_subject",
        scope_types: ANY_SCOPE,
        description: "Caller is an admin, a service user, or owns the token.",
    },
    RuleDefault {
        name: "domain_managed_target_role",
        check_str: "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",
        scope_types: ANY_SCOPE,
        description: "Roles a domain manager may see, grant and revoke.",
    },
    // access_rule.py: /v3/users/{user_id}/access_rules
    RuleDefault {
        name: "identity:get_access_rule",
        check_str: SYSTEM_READER_OR_RULE_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Show access rule details.",
    },
    RuleDefault {
        name: "identity:list_access_rules",
        check_str: SYSTEM_READER_OR_RULE_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "List a user's access rules.",
    },
    RuleDefault {
        name: "identity:delete_access_rule",
        check_str: SYSTEM_ADMIN_OR_RULE_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an access rule.",
    },
    // access_token.py: OS-OAUTH1 access tokens
    RuleDefault {
        name: "identity:authorize_request_token",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "Authorize an OAuth1 request token.",
    },
    RuleDefault {
        name: "identity:get_access_token",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "Show a user's OAuth1 access token.",
    },
    RuleDefault {
        name: "identity:get_access_token_role",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "Show a role of a user's OAuth1 access token.",
    },
    RuleDefault {
        name: "identity:list_access_tokens",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "List a user's OAuth1 access tokens.",
    },
    RuleDefault {
        name: "identity:list_access_token_roles",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "List the roles of an OAuth1 access token.",
    },
    RuleDefault {
        name: "identity:delete_access_token",
        check_str: ADMIN_REQUIRED,
        scope_types: PROJECT,
        description: "Delete an OAuth1 access token.",
    },
    // application_credential.py: /v3/users/{user_id}/application_credentials
    RuleDefault {
        name: "identity:get_application_credential",
        check_str: ADMIN_OR_SYSTEM_READER_OR_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Show application credential details.",
    },
    RuleDefault {
        name: "identity:list_application_credentials",
        check_str: ADMIN_OR_SYSTEM_READER_OR_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "List a user's application credentials.",
    },
    RuleDefault {
        name: "identity:create_application_credential",
        check_str: "user_id:%(user_id)s",
        scope_types: PROJECT,
        description: "Create an application credential for oneself.",
    },
    RuleDefault {
        name: "identity:delete_application_credential",
        check_str: "rule:admin_or_owner",
        scope_types: SYSTEM_PROJECT,
        description: "Delete an application credential.",
    },
    // auth.py: /v3/auth
    RuleDefault {
        name: "identity:get_auth_catalog",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "Show the service catalog for the caller's token.",
    },
    RuleDefault {
        name: "identity:get_auth_projects",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "List the projects the caller has roles on.",
    },
    RuleDefault {
        name: "identity:get_auth_domains",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "List the domains the caller has roles on.",
    },
    RuleDefault {
        name: "identity:get_auth_system",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "List the system the caller has roles on.",
    },
    // consumer.py: OS-OAUTH1 consumers
    RuleDefault {
        name: "identity:get_consumer",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show OAuth1 consumer details.",
    },
    RuleDefault {
        name: "identity:list_consumers",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List OAuth1 consumers.",
    },
    RuleDefault {
        name: "identity:create_consumer",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create an OAuth1 consumer.",
    },
    RuleDefault {
        name: "identity:update_consumer",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update an OAuth1 consumer.",
    },
    RuleDefault {
        name: "identity:delete_consumer",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an OAuth1 consumer.",
    },
    // credential.py: /v3/credentials
    RuleDefault {
        name: "identity:get_credential",
        check_str: ADMIN_OR_SYSTEM_READER_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show credential details.",
    },
    RuleDefault {
        name: "identity:list_credentials",
        check_str: ADMIN_OR_SYSTEM_READER_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List credentials.",
    },
    RuleDefault {
        name: "identity:create_credential",
        check_str: ADMIN_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Create a credential.",
    },
    RuleDefault {
        name: "identity:update_credential",
        check_str: ADMIN_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Update a credential.",
    },
    RuleDefault {
        name: "identity:delete_credential",
        check_str: ADMIN_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Delete a credential.",
    },
    // domain.py: /v3/domains
    RuleDefault {
        name: "identity:get_domain",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_USER_OR_PROJECT_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show domain details.",
    },
    RuleDefault {
        name: "identity:list_domains",
        check_str: ADMIN_OR_SYSTEM_READER_OR_READER_OF_DOMAIN,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List domains.",
    },
    RuleDefault {
        name: "identity:create_domain",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a domain.",
    },
    RuleDefault {
        name: "identity:update_domain",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a domain.",
    },
    RuleDefault {
        name: "identity:delete_domain",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a domain.",
    },
    // domain_config.py: /v3/domains/{domain_id}/config
    RuleDefault {
        name: "identity:create_domain_config",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a domain's configuration.",
    },
    RuleDefault {
        name: "identity:get_domain_config",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show a domain's configuration, a group of it, or one option.",
    },
    RuleDefault {
        name: "identity:get_security_compliance_domain_config",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show the security compliance options (password rules) of a domain.",
    },
    RuleDefault {
        name: "identity:update_domain_config",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a domain's configuration, a group of it, or one option.",
    },
    RuleDefault {
        name: "identity:delete_domain_config",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a domain's configuration, a group of it, or one option.",
    },
    RuleDefault {
        name: "identity:get_domain_config_default",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show the default domain configuration, a group of it, or one option.",
    },
    // ec2_credential.py: /v3/users/{user_id}/credentials/OS-EC2
    RuleDefault {
        name: "identity:ec2_get_credential",
        check_str: ADMIN_OR_SYSTEM_READER_OR_CREDENTIAL_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Show EC2 credential details.",
    },
    RuleDefault {
        name: "identity:ec2_list_credentials",
        check_str: ADMIN_OR_SYSTEM_READER_OR_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "List a user's EC2 credentials.",
    },
    RuleDefault {
        name: "identity:ec2_create_credential",
        check_str: ADMIN_OR_MEMBER_AND_CREDENTIAL_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Create an EC2 credential.",
    },
    RuleDefault {
        name: "identity:ec2_delete_credential",
        check_str: ADMIN_OR_MEMBER_AND_CREDENTIAL_OWNER,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an EC2 credential.",
    },
    // endpoint.py: /v3/endpoints
    RuleDefault {
        name: "identity:get_endpoint",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show endpoint details.",
    },
    RuleDefault {
        name: "identity:list_endpoints",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List endpoints.",
    },
    RuleDefault {
        name: "identity:create_endpoint",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create an endpoint.",
    },
    RuleDefault {
        name: "identity:update_endpoint",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update an endpoint.",
    },
    RuleDefault {
        name: "identity:delete_endpoint",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an endpoint.",
    },
    // endpoint_group.py: OS-EP-FILTER endpoint groups
    RuleDefault {
        name: "identity:create_endpoint_group",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create an endpoint group.",
    },
    RuleDefault {
        name: "identity:list_endpoint_groups",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List endpoint groups.",
    },
    RuleDefault {
        name: "identity:get_endpoint_group",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show endpoint group details.",
    },
    RuleDefault {
        name: "identity:update_endpoint_group",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update an endpoint group.",
    },
    RuleDefault {
        name: "identity:delete_endpoint_group",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an endpoint group.",
    },
    RuleDefault {
        name: "identity:list_projects_associated_with_endpoint_group",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the projects associated with an endpoint group.",
    },
    RuleDefault {
        name: "identity:list_endpoints_associated_with_endpoint_group",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the endpoints in an endpoint group.",
    },
    RuleDefault {
        name: "identity:get_endpoint_group_in_project",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check that an endpoint group is associated with a project.",
    },
    RuleDefault {
        name: "identity:list_endpoint_groups_for_project",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the endpoint groups associated with a project.",
    },
    RuleDefault {
        name: "identity:add_endpoint_group_to_project",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Associate an endpoint group with a project.",
    },
    RuleDefault {
        name: "identity:remove_endpoint_group_from_project",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Remove an endpoint group from a project.",
    },
    // grant.py: role grants on projects, domains and the system
    RuleDefault {
        name: "identity:check_grant",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GRANTS_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Check a role grant of a user or group on a project or domain.",
    },
    RuleDefault {
        name: "identity:list_grants",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GRANTS_DOMAIN_READER_LIST,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List the roles granted to a user or group on a project or domain.",
    },
    RuleDefault {
        name: "identity:create_grant",
        check_str: ADMIN_OR_GRANTS_DOMAIN_ADMIN_OR_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Grant a role to a user or group on a project or domain.",
    },
    RuleDefault {
        name: "identity:revoke_grant",
        check_str: ADMIN_OR_GRANTS_DOMAIN_ADMIN_OR_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Revoke a role from a user or group on a project or domain.",
    },
    RuleDefault {
        name: "identity:list_system_grants_for_user",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List a user's system role grants.",
    },
    RuleDefault {
        name: "identity:check_system_grant_for_user",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check a user's system role grant.",
    },
    RuleDefault {
        name: "identity:create_system_grant_for_user",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Grant a system role to a user.",
    },
    RuleDefault {
        name: "identity:revoke_system_grant_for_user",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Revoke a system role from a user.",
    },
    RuleDefault {
        name: "identity:list_system_grants_for_group",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List a group's system role grants.",
    },
    RuleDefault {
        name: "identity:check_system_grant_for_group",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check a group's system role grant.",
    },
    RuleDefault {
        name: "identity:create_system_grant_for_group",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Grant a system role to a group.",
    },
    RuleDefault {
        name: "identity:revoke_system_grant_for_group",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Revoke a system role from a group.",
    },
    // group.py: /v3/groups
    RuleDefault {
        name: "identity:get_group",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GROUP_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show group details.",
    },
    RuleDefault {
        name: "identity:list_groups",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GROUP_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List groups.",
    },
    RuleDefault {
        name: "identity:list_groups_for_user",
        check_str: ADMIN_OR_SYSTEM_READER_OR_USER_DOMAIN_READER_OR_OWNER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List the groups a user belongs to.",
    },
    RuleDefault {
        name: "identity:create_group",
        check_str: ADMIN_OR_GROUP_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Create a group.",
    },
    RuleDefault {
        name: "identity:update_group",
        check_str: ADMIN_OR_GROUP_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Update a group.",
    },
    RuleDefault {
        name: "identity:delete_group",
        check_str: ADMIN_OR_GROUP_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Delete a group.",
    },
    RuleDefault {
        name: "identity:list_users_in_group",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GROUP_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List the members of a group.",
    },
    RuleDefault {
        name: "identity:remove_user_from_group",
        check_str: ADMIN_OR_GROUP_AND_USER_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Remove a user from a group.",
    },
    RuleDefault {
        name: "identity:check_user_in_group",
        check_str: ADMIN_OR_SYSTEM_READER_OR_GROUP_AND_USER_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Check that a user belongs to a group.",
    },
    RuleDefault {
        name: "identity:add_user_to_group",
        check_str: ADMIN_OR_GROUP_AND_USER_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Add a user to a group.",
    },
    // identity_provider.py: OS-FEDERATION identity providers
    RuleDefault {
        name: "identity:create_identity_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create an identity provider.",
    },
    RuleDefault {
        name: "identity:list_identity_providers",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List identity providers.",
    },
    RuleDefault {
        name: "identity:get_identity_provider",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show identity provider details.",
    },
    RuleDefault {
        name: "identity:update_identity_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update an identity provider.",
    },
    RuleDefault {
        name: "identity:delete_identity_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete an identity provider.",
    },
    // implied_role.py: role inference rules
    RuleDefault {
        name: "identity:get_implied_role",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show one role inference rule.",
    },
    RuleDefault {
        name: "identity:list_implied_roles",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the roles a role implies.",
    },
    RuleDefault {
        name: "identity:create_implied_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a role inference rule.",
    },
    RuleDefault {
        name: "identity:delete_implied_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a role inference rule.",
    },
    RuleDefault {
        name: "identity:list_role_inference_rules",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List all role inference rules.",
    },
    RuleDefault {
        name: "identity:check_implied_role",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check that one role implies another.",
    },
    // limit.py: /v3/limits
    RuleDefault {
        name: "identity:get_limit_model",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show the enforcement model of limits.",
    },
    RuleDefault {
        name: "identity:get_limit",
        check_str: ADMIN_OR_SYSTEM_READER_OR_LIMIT_DOMAIN_OR_PROJECT_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show limit details.",
    },
    RuleDefault {
        name: "identity:list_limits",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List limits.",
    },
    RuleDefault {
        name: "identity:create_limits",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create limits.",
    },
    RuleDefault {
        name: "identity:update_limit",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a limit.",
    },
    RuleDefault {
        name: "identity:delete_limit",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a limit.",
    },
    // mapping.py: OS-FEDERATION mappings
    RuleDefault {
        name: "identity:create_mapping",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a federation mapping.",
    },
    RuleDefault {
        name: "identity:get_mapping",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show federation mapping details.",
    },
    RuleDefault {
        name: "identity:list_mappings",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List federation mappings.",
    },
    RuleDefault {
        name: "identity:delete_mapping",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a federation mapping.",
    },
    RuleDefault {
        name: "identity:update_mapping",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a federation mapping.",
    },
    // policy.py: /v3/policies
    RuleDefault {
        name: "identity:get_policy",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show policy blob details.",
    },
    RuleDefault {
        name: "identity:list_policies",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List policy blobs.",
    },
    RuleDefault {
        name: "identity:create_policy",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a policy blob.",
    },
    RuleDefault {
        name: "identity:update_policy",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a policy blob.",
    },
    RuleDefault {
        name: "identity:delete_policy",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a policy blob.",
    },
    // policy_association.py: OS-ENDPOINT-POLICY
    RuleDefault {
        name: "identity:create_policy_association_for_endpoint",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Associate a policy with an endpoint.",
    },
    RuleDefault {
        name: "identity:check_policy_association_for_endpoint",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check a policy's association with an endpoint.",
    },
    RuleDefault {
        name: "identity:delete_policy_association_for_endpoint",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Remove a policy's association with an endpoint.",
    },
    RuleDefault {
        name: "identity:create_policy_association_for_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Associate a policy with a service.",
    },
    RuleDefault {
        name: "identity:check_policy_association_for_service",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check a policy's association with a service.",
    },
    RuleDefault {
        name: "identity:delete_policy_association_for_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Remove a policy's association with a service.",
    },
    RuleDefault {
        name: "identity:create_policy_association_for_region_and_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Associate a policy with a service in a region.",
    },
    RuleDefault {
        name: "identity:check_policy_association_for_region_and_service",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check a policy's association with a service in a region.",
    },
    RuleDefault {
        name: "identity:delete_policy_association_for_region_and_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Remove a policy's association with a service in a region.",
    },
    RuleDefault {
        name: "identity:get_policy_for_endpoint",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show the policy associated with an endpoint.",
    },
    RuleDefault {
        name: "identity:list_endpoints_for_policy",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the endpoints associated with a policy.",
    },
    // project.py: /v3/projects and project tags
    RuleDefault {
        name: "identity:get_project",
        check_str: ADMIN_OR_SYSTEM_READER_OR_PROJECT_DOMAIN_READER_OR_PROJECT_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show project details.",
    },
    RuleDefault {
        name: "identity:list_projects",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List projects.",
    },
    RuleDefault {
        name: "identity:list_user_projects",
        check_str: ADMIN_OR_SYSTEM_READER_OR_USER_DOMAIN_READER_OR_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List the projects a user has roles on.",
    },
    RuleDefault {
        name: "identity:create_project",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Create a project.",
    },
    RuleDefault {
        name: "identity:update_project",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Update a project.",
    },
    RuleDefault {
        name: "identity:delete_project",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Delete a project.",
    },
    RuleDefault {
        name: "identity:list_project_tags",
        check_str: ADMIN_OR_SYSTEM_READER_OR_PROJECT_DOMAIN_READER_OR_PROJECT_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List a project's tags.",
    },
    RuleDefault {
        name: "identity:get_project_tag",
        check_str: ADMIN_OR_SYSTEM_READER_OR_PROJECT_DOMAIN_READER_OR_PROJECT_USER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Check that a project has a tag.",
    },
    RuleDefault {
        name: "identity:update_project_tags",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Replace a project's tags.",
    },
    RuleDefault {
        name: "identity:create_project_tag",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Add a tag to a project.",
    },
    RuleDefault {
        name: "identity:delete_project_tags",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Remove all tags from a project.",
    },
    RuleDefault {
        name: "identity:delete_project_tag",
        check_str: ADMIN_OR_PROJECT_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Remove one tag from a project.",
    },
    // project_endpoint.py: OS-EP-FILTER project endpoints
    RuleDefault {
        name: "identity:list_projects_for_endpoint",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the projects associated with an endpoint.",
    },
    RuleDefault {
        name: "identity:add_endpoint_to_project",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Associate an endpoint with a project.",
    },
    RuleDefault {
        name: "identity:check_endpoint_in_project",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Check that an endpoint is associated with a project.",
    },
    RuleDefault {
        name: "identity:list_endpoints_for_project",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List the endpoints associated with a project.",
    },
    RuleDefault {
        name: "identity:remove_endpoint_from_project",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Remove an endpoint from a project.",
    },
    // protocol.py: OS-FEDERATION protocols
    RuleDefault {
        name: "identity:create_protocol",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a federation protocol for an identity provider.",
    },
    RuleDefault {
        name: "identity:update_protocol",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a federation protocol.",
    },
    RuleDefault {
        name: "identity:get_protocol",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show federation protocol details.",
    },
    RuleDefault {
        name: "identity:list_protocols",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List an identity provider's federation protocols.",
    },
    RuleDefault {
        name: "identity:delete_protocol",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a federation protocol.",
    },
    // region.py: /v3/regions
    RuleDefault {
        name: "identity:get_region",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show region details.",
    },
    RuleDefault {
        name: "identity:list_regions",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List regions.",
    },
    RuleDefault {
        name: "identity:create_region",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a region.",
    },
    RuleDefault {
        name: "identity:update_region",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a region.",
    },
    RuleDefault {
        name: "identity:delete_region",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a region.",
    },
    // registered_limit.py: /v3/registered_limits
    RuleDefault {
        name: "identity:get_registered_limit",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show registered limit details.",
    },
    RuleDefault {
        name: "identity:list_registered_limits",
        check_str: ANYONE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List registered limits.",
    },
    RuleDefault {
        name: "identity:create_registered_limits",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create registered limits.",
    },
    RuleDefault {
        name: "identity:update_registered_limit",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a registered limit.",
    },
    RuleDefault {
        name: "identity:delete_registered_limit",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a registered limit.",
    },
    // revoke_event.py: OS-REVOKE
    RuleDefault {
        name: "identity:list_revoke_events",
        check_str: SERVICE_OR_ADMIN,
        scope_types: SYSTEM_PROJECT,
        description: "List token revocation events.",
    },
    // role.py: /v3/roles, global and domain-specific
    RuleDefault {
        name: "identity:get_role",
        check_str: ADMIN_OR_SYSTEM_READER_OR_MANAGER_OF_ALLOWED_ROLE,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show role details.",
    },
    RuleDefault {
        name: "identity:list_roles",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List roles.",
    },
    RuleDefault {
        name: "identity:create_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a role.",
    },
    RuleDefault {
        name: "identity:update_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a role.",
    },
    RuleDefault {
        name: "identity:delete_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a role.",
    },
    RuleDefault {
        name: "identity:get_domain_role",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show domain-specific role details.",
    },
    RuleDefault {
        name: "identity:list_domain_roles",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List domain-specific roles.",
    },
    RuleDefault {
        name: "identity:create_domain_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a domain-specific role.",
    },
    RuleDefault {
        name: "identity:update_domain_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a domain-specific role.",
    },
    RuleDefault {
        name: "identity:delete_domain_role",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a domain-specific role.",
    },
    // role_assignment.py: /v3/role_assignments
    RuleDefault {
        name: "identity:list_role_assignments",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List role assignments.",
    },
    RuleDefault {
        name: "identity:list_role_assignments_for_tree",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List role assignments in a project's subtree.",
    },
    // s3tokens.py: /v3/s3tokens
    RuleDefault {
        name: "identity:s3tokens_validate",
        check_str: SERVICE_OR_ADMIN,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Validate an S3 signature and return a token.",
    },
    // ec2tokens.py: /v3/ec2tokens
    RuleDefault {
        name: "identity:ec2tokens_validate",
        check_str: SERVICE_OR_ADMIN,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Validate an EC2 signature and return a token.",
    },
    // service.py: /v3/services
    RuleDefault {
        name: "identity:get_service",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show service details.",
    },
    RuleDefault {
        name: "identity:list_services",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List services.",
    },
    RuleDefault {
        name: "identity:create_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a service.",
    },
    RuleDefault {
        name: "identity:update_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a service.",
    },
    RuleDefault {
        name: "identity:delete_service",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a service.",
    },
    // service_provider.py: OS-FEDERATION service providers
    RuleDefault {
        name: "identity:create_service_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Create a service provider.",
    },
    RuleDefault {
        name: "identity:list_service_providers",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List service providers.",
    },
    RuleDefault {
        name: "identity:get_service_provider",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "Show service provider details.",
    },
    RuleDefault {
        name: "identity:update_service_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Update a service provider.",
    },
    RuleDefault {
        name: "identity:delete_service_provider",
        check_str: ADMIN_REQUIRED,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a service provider.",
    },
    // token_revocation.py: the retired PKI revocation list
    RuleDefault {
        name: "identity:revocation_list",
        check_str: SERVICE_OR_ADMIN,
        scope_types: SYSTEM_PROJECT,
        description: "List revoked PKI tokens (deprecated upstream; always 410 Gone).",
    },
    // token.py: /v3/auth/tokens
    RuleDefault {
        name: "identity:check_token",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TOKEN_SUBJECT,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Check that a token is valid.",
    },
    RuleDefault {
        name: "identity:validate_token",
        check_str: ADMIN_OR_SYSTEM_READER_OR_SERVICE_OR_TOKEN_SUBJECT,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Validate a token and show its contents.",
    },
    RuleDefault {
        name: "identity:revoke_token",
        check_str: ADMIN_OR_TOKEN_SUBJECT,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Revoke a token.",
    },
    // trust.py: OS-TRUST
    RuleDefault {
        name: "identity:create_trust",
        check_str: "user_id:%(target.trust.trustor_user_id)s",
        scope_types: PROJECT,
        description: "Create a trust as its trustor.",
    },
    RuleDefault {
        name: "identity:list_trusts",
        check_str: ADMIN_OR_SYSTEM_READER,
        scope_types: SYSTEM_PROJECT,
        description: "List all trusts.",
    },
    RuleDefault {
        name: "identity:list_trusts_for_trustor",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TRUSTOR,
        scope_types: SYSTEM_PROJECT,
        description: "List the trusts a user delegated.",
    },
    RuleDefault {
        name: "identity:list_trusts_for_trustee",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TRUSTEE,
        scope_types: SYSTEM_PROJECT,
        description: "List the trusts delegated to a user.",
    },
    RuleDefault {
        name: "identity:list_roles_for_trust",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TRUSTOR_OR_TRUSTEE,
        scope_types: SYSTEM_PROJECT,
        description: "List the roles a trust delegates.",
    },
    RuleDefault {
        name: "identity:get_role_for_trust",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TRUSTOR_OR_TRUSTEE,
        scope_types: SYSTEM_PROJECT,
        description: "Check that a trust delegates a role.",
    },
    RuleDefault {
        name: "identity:delete_trust",
        check_str: ADMIN_OR_TRUSTOR,
        scope_types: SYSTEM_PROJECT,
        description: "Delete a trust.",
    },
    RuleDefault {
        name: "identity:get_trust",
        check_str: ADMIN_OR_SYSTEM_READER_OR_TRUSTOR_OR_TRUSTEE,
        scope_types: SYSTEM_PROJECT,
        description: "Show trust details.",
    },
    // user.py: /v3/users
    RuleDefault {
        name: "identity:get_user",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER_OR_SELF,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Show user details.",
    },
    RuleDefault {
        name: "identity:list_users",
        check_str: ADMIN_OR_SYSTEM_READER_OR_DOMAIN_READER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "List users.",
    },
    RuleDefault {
        name: "identity:list_projects_for_user",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "List the projects a federated user may scope to.",
    },
    RuleDefault {
        name: "identity:list_domains_for_user",
        check_str: ANYONE,
        scope_types: ANY_SCOPE,
        description: "List the domains a federated user may scope to.",
    },
    RuleDefault {
        name: "identity:create_user",
        check_str: ADMIN_OR_USER_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Create a user.",
    },
    RuleDefault {
        name: "identity:update_user",
        check_str: ADMIN_OR_USER_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Update a user.",
    },
    RuleDefault {
        name: "identity:delete_user",
        check_str: ADMIN_OR_USER_DOMAIN_MANAGER,
        scope_types: SYSTEM_DOMAIN_PROJECT,
        description: "Delete a user.",
    },
];

/// What the check strings above read, for whoever builds the enforcement call.
///
/// Keystone's enforcer (keystone/common/rbac_enforcer) hands oslo.policy one flat
/// target dict: the URL path parameters as they are (`user_id`, `project_id`, ...), and
/// the object acted upon under `target.<type>` with nested keys joined by dots. The
/// keys the defaults use are:
///
/// - `user_id` (path): `owner`, application credential creation, `list_groups_for_user`;
/// - `target.user.id`, `target.user.domain_id`: users, user projects, groups, grants,
///   access rules;
/// - `target.group.domain_id`: groups and grants;
/// - `target.project.id`, `target.project.domain_id`: projects, tags, grants;
/// - `target.domain.id`: domains and domain grants; `target.domain_id`: the domain
///   filter of user, project and role assignment lists;
/// - `target.role.name`, `target.role.domain_id`: roles and grants;
/// - `target.credential.user_id`: credentials and EC2 credentials;
/// - `target.trust.trustor_user_id`, `target.trust.trustee_user_id`: trusts;
/// - `target.token.user_id`: the subject token of `/v3/auth/tokens`;
/// - `target.limit.domain.id`, `target.limit.project.domain_id`,
///   `target.limit.project_id`: limits.
///
/// The credentials side is oslo.context's policy values plus Keystone's two extras:
/// `user_id`, `project_id`, `domain_id` (the token's domain scope, `None` otherwise),
/// `system_scope`, `roles`, `is_admin`, and the rendered token under `token`
/// (`token.domain.id`, `token.project.domain.id`). A missing target key makes its check
/// fail; a target value of `None` compares equal to the literal `None`.
pub const TARGETS_NOTE: &str = "target keys: user_id, target.user.id, target.user.domain_id, \
target.group.domain_id, target.project.id, target.project.domain_id, target.domain.id, \
target.domain_id, target.role.name, target.role.domain_id, target.credential.user_id, \
target.trust.trustor_user_id, target.trust.trustee_user_id, target.token.user_id, \
target.limit.domain.id, target.limit.project.domain_id, target.limit.project_id";

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = HashSet::new();
        for rule in DEFAULTS {
            assert!(seen.insert(rule.name), "duplicate rule {}", rule.name);
        }
    }

    #[test]
    fn referenced_rules_are_defined() {
        let names: HashSet<&str> = DEFAULTS.iter().map(|rule| rule.name).collect();
        for rule in DEFAULTS {
            for (at, _) in rule.check_str.match_indices("rule:") {
                let rest = &rule.check_str[at + "rule:".len()..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ')')
                    .unwrap_or(rest.len());
                let referenced = &rest[..end];
                assert!(
                    names.contains(referenced),
                    "{} refers to undefined rule:{referenced}",
                    rule.name
                );
            }
        }
    }

    #[test]
    fn scope_types_are_known() {
        for rule in DEFAULTS {
            for scope in rule.scope_types {
                assert!(
                    ["system", "domain", "project"].contains(scope),
                    "{} has scope type {scope}",
                    rule.name
                );
            }
        }
    }

    #[test]
    fn parentheses_balance() {
        for rule in DEFAULTS {
            let mut depth = 0i32;
            for c in rule.check_str.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                assert!(
                    depth >= 0,
                    "{} closes a parenthesis it never opened",
                    rule.name
                );
            }
            assert_eq!(depth, 0, "{} leaves a parenthesis open", rule.name);
        }
    }

    #[test]
    fn targets_note_names_every_target_key() {
        for rule in DEFAULTS {
            // `%(name)s` placeholders are the target keys a check string reads.
            for (at, _) in rule.check_str.match_indices("%(") {
                let rest = &rule.check_str[at + 2..];
                let key = &rest[..rest.find(")s").unwrap_or(rest.len())];
                let listed = TARGETS_NOTE
                    .split([':', ','])
                    .any(|item| item.trim() == key);
                assert!(
                    listed,
                    "{} reads target key {key}, missing from TARGETS_NOTE",
                    rule.name
                );
            }
        }
    }
}
