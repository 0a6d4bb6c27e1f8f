//! `keystone-manage bootstrap` (keystone/cmd/bootstrap.py): the default domain, the admin
//! project and user, the default roles with their implications (admin → manager → member →
//! reader), the admin's role on the project and on the system, the region and the identity
//! service with its three endpoints. Safe to run again: what exists is kept.

use serde_json::{json, Map};

use crate::app::App;
use crate::db::assignment::{self as adb, Assignment, Role, SYSTEM_TARGET};
use crate::db::catalog::{self as cdb, Endpoint, Region, Service};
use crate::db::identity::{self as idb, User};
use crate::db::resource::{self as rdb, Project};
use crate::db::schema::DOMAIN_ROOT;
use crate::error::Result;

/// What to bootstrap.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub admin_username: String,
    pub admin_password: String,
    pub project_name: String,
    pub region_id: String,
    pub public_url: String,
    pub internal_url: String,
    pub admin_url: String,
}

impl App {
    pub async fn bootstrap(&self, b: &Bootstrap) -> Result<()> {
        if rdb::domain_get(&self.db, "default").await?.is_none() {
            let d = Project {
                id: "default".into(),
                name: "Default".into(),
                domain_id: DOMAIN_ROOT.into(),
                parent_id: None,
                description: "The default domain".into(),
                enabled: true,
                is_domain: true,
                extra: Map::new(),
            };
            rdb::project_create(&self.db, &d, &[]).await?;
        }
        let project = match rdb::project_get_by_name(&self.db, &b.project_name, "default").await? {
            Some(p) => p,
            None => {
                let p = Project {
                    id: common::ids::new_hex_id(),
                    name: b.project_name.clone(),
                    domain_id: "default".into(),
                    parent_id: Some("default".into()),
                    description: "Bootstrap project for initializing the cloud.".into(),
                    enabled: true,
                    is_domain: false,
                    extra: Map::new(),
                };
                rdb::project_create(&self.db, &p, &[]).await?;
                p
            }
        };
        let mut role_ids = std::collections::HashMap::new();
        for name in ["reader", "member", "manager", "admin", "service"] {
            let r = match adb::role_get_by_name(&self.db, name, None).await? {
                Some(r) => r,
                None => {
                    let r = Role {
                        id: common::ids::new_hex_id(),
                        name: name.into(),
                        domain_id: None,
                        description: None,
                        options: Map::new(),
                        extra: Map::new(),
                    };
                    adb::role_create(&self.db, &r).await?;
                    r
                }
            };
            role_ids.insert(name, r.id);
        }
        let implied = adb::implied_role_list_all(&self.db).await?;
        for (prior, imp) in [("admin", "manager"), ("manager", "member"), ("member", "reader")] {
            let pair = (role_ids[prior].clone(), role_ids[imp].clone());
            if !implied.contains(&pair) {
                adb::implied_role_create(&self.db, &pair.0, &pair.1).await?;
            }
        }
        let admin = match idb::user_get_by_name(&self.db, &b.admin_username, "default").await? {
            Some(u) => u,
            None => {
                let u = User {
                    id: common::ids::new_hex_id(),
                    domain_id: "default".into(),
                    name: b.admin_username.clone(),
                    enabled: true,
                    default_project_id: None,
                    extra: Map::new(),
                    options: Map::new(),
                    created_at: common::time::to_micros(common::time::now()),
                    last_active_at: None,
                    failed_auth_count: 0,
                    failed_auth_at: None,
                };
                let pw = idb::Password {
                    id: common::ids::new_hex_id(),
                    user_id: u.id.clone(),
                    password_hash: crate::app::auth::hash_password(b.admin_password.clone(), self.cfg.password_hash_rounds).await?,
                    created_at: u.created_at,
                    expires_at: None,
                    self_service: true,
                };
                idb::user_create(&self.db, &u, Some(&pw)).await?;
                u
            }
        };
        for a in [
            Assignment { kind: "UserProject".into(), actor_id: admin.id.clone(), target_id: project.id.clone(), role_id: role_ids["admin"].clone(), inherited: false },
            Assignment { kind: "UserSystem".into(), actor_id: admin.id.clone(), target_id: SYSTEM_TARGET.into(), role_id: role_ids["admin"].clone(), inherited: false },
        ] {
            adb::assignment_create(&self.db, &a).await?;
        }
        if cdb::region_get(&self.db, &b.region_id).await?.is_none() {
            cdb::region_create(&self.db, &Region { id: b.region_id.clone(), description: String::new(), parent_region_id: None, extra: Map::new() }).await?;
        }
        self.register_service("keystone", "identity", "OpenStack Identity", &b.region_id, &[("public", &b.public_url), ("internal", &b.internal_url), ("admin", &b.admin_url)]).await?;
        self.bump();
        Ok(())
    }

    /// A service user (what `openstack user create --project service nova` plus `role add
    /// admin` and `role add service` do in the install guide): the `service` project, the user
    /// with `password` (reset to it on every call, so the service's config file is the truth),
    /// and its admin and service roles there. Returns the user id.
    pub async fn ensure_service_user(&self, name: &str, password: &str) -> Result<String> {
        let project = match rdb::project_get_by_name(&self.db, "service", "default").await? {
            Some(p) => p,
            None => {
                let p = Project {
                    id: common::ids::new_hex_id(),
                    name: "service".into(),
                    domain_id: "default".into(),
                    parent_id: Some("default".into()),
                    description: "Service project: the users OpenStack services act as.".into(),
                    enabled: true,
                    is_domain: false,
                    extra: Map::new(),
                };
                rdb::project_create(&self.db, &p, &[]).await?;
                p
            }
        };
        let now = common::time::to_micros(common::time::now());
        let hash = crate::app::auth::hash_password(password.to_string(), self.cfg.password_hash_rounds).await?;
        let user = match idb::user_get_by_name(&self.db, name, "default").await? {
            Some(u) => u,
            None => User {
                id: common::ids::new_hex_id(),
                domain_id: "default".into(),
                name: name.into(),
                enabled: true,
                default_project_id: Some(project.id.clone()),
                extra: Map::new(),
                options: Map::new(),
                created_at: now,
                last_active_at: None,
                failed_auth_count: 0,
                failed_auth_at: None,
            },
        };
        let pw = idb::Password { id: common::ids::new_hex_id(), user_id: user.id.clone(), password_hash: hash, created_at: now, expires_at: None, self_service: false };
        if idb::user_get(&self.db, &user.id).await?.is_some() {
            idb::user_update(&self.db, &user, Some(&pw), 0).await?;
        } else {
            idb::user_create(&self.db, &user, Some(&pw)).await?;
        }
        for role in ["admin", "service"] {
            if let Some(r) = adb::role_get_by_name(&self.db, role, None).await? {
                adb::assignment_create(&self.db, &Assignment { kind: "UserProject".into(), actor_id: user.id.clone(), target_id: project.id.clone(), role_id: r.id, inherited: false }).await?;
            }
        }
        self.bump();
        Ok(user.id)
    }

    /// Registers a service and its endpoints in the catalog if absent (idempotent; an
    /// endpoint's URL is updated when it changed, e.g. a new host address).
    pub async fn register_service(&self, name: &str, service_type: &str, description: &str, region: &str, endpoints: &[(&str, &str)]) -> Result<()> {
        let existing = cdb::service_list(&self.db).await?.into_iter().find(|s| s.service_type == service_type && s.extra.get("name").and_then(|n| n.as_str()) == Some(name));
        let service = match existing {
            Some(s) => s,
            None => {
                let mut extra = Map::new();
                extra.insert("name".into(), json!(name));
                extra.insert("description".into(), json!(description));
                let s = Service { id: common::ids::new_hex_id(), service_type: service_type.into(), enabled: true, extra };
                cdb::service_create(&self.db, &s).await?;
                s
            }
        };
        let current = cdb::endpoint_list(&self.db).await?;
        for (interface, url) in endpoints {
            match current.iter().find(|e| e.service_id == service.id && e.interface == *interface && e.region_id.as_deref() == Some(region)) {
                Some(e) if e.url == *url => {}
                Some(e) => {
                    let mut e = e.clone();
                    e.url = url.to_string();
                    cdb::endpoint_update(&self.db, &e).await?;
                }
                None => {
                    let e = Endpoint {
                        id: common::ids::new_hex_id(),
                        service_id: service.id.clone(),
                        interface: interface.to_string(),
                        region_id: Some(region.to_string()),
                        url: url.to_string(),
                        enabled: true,
                        extra: Map::new(),
                    };
                    cdb::endpoint_create(&self.db, &e).await?;
                }
            }
        }
        self.bump();
        Ok(())
    }
}
