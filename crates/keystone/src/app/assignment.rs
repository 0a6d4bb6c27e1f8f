//! Roles, implied roles and role assignments (keystone/assignment/core.py): grants to users and
//! groups on projects, domains and the system; inheritance (OS-INHERIT) from a domain to its
//! projects and from a project to its subtree; the effective roles a token carries.

use std::collections::{BTreeMap, HashSet};

use super::tokens::RoleRef;
use super::App;
use crate::db::assignment::{self as adb, Assignment, SYSTEM_TARGET};
use crate::db::{identity as idb, resource as rdb};
use crate::error::Result;

/// What a token (or a check) is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleTarget {
    Project(String),
    Domain(String),
    System,
}

impl App {
    /// The roles `user_id` effectively holds on `target`: direct and through groups, inherited
    /// from the project's domain and ancestors, with implied roles added and domain-specific
    /// roles (which only ever imply others) removed.
    pub async fn effective_roles(&self, user_id: &str, target: &RoleTarget) -> Result<Vec<RoleRef>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(idb::group_ids_for_user(&self.db, user_id).await?);
        let assignments = adb::assignment_list_for_actors(&self.db, &actors).await?;
        let role_ids = self.role_ids_on_target(&assignments, target).await?;
        self.roles_with_implied(&role_ids).await
    }

    /// Role ids granted (directly or by inheritance) on a target, from a set of assignments.
    pub(crate) async fn role_ids_on_target(&self, assignments: &[Assignment], target: &RoleTarget) -> Result<Vec<String>> {
        let mut ids: Vec<String> = Vec::new();
        let mut push = |id: &str| {
            if !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        };
        match target {
            RoleTarget::System => {
                for a in assignments.iter().filter(|a| a.target_id == SYSTEM_TARGET && a.kind.ends_with("System")) {
                    push(&a.role_id);
                }
            }
            RoleTarget::Domain(d) => {
                for a in assignments.iter().filter(|a| &a.target_id == d && a.kind.ends_with("Domain") && !a.inherited) {
                    push(&a.role_id);
                }
            }
            RoleTarget::Project(p) => {
                let Some(project) = rdb::project_or_domain_get(&self.db, p).await? else { return Ok(vec![]) };
                for a in assignments.iter().filter(|a| &a.target_id == p && a.kind.ends_with("Project") && !a.inherited) {
                    push(&a.role_id);
                }
                // A project acting as a domain takes its own domain-level grants.
                if project.is_domain {
                    for a in assignments.iter().filter(|a| &a.target_id == p && a.kind.ends_with("Domain") && !a.inherited) {
                        push(&a.role_id);
                    }
                }
                for a in assignments.iter().filter(|a| a.target_id == project.domain_id && a.kind.ends_with("Domain") && a.inherited) {
                    push(&a.role_id);
                }
                let ancestors = rdb::project_ancestors(&self.db, &project).await?;
                for anc in &ancestors {
                    for a in assignments.iter().filter(|a| a.target_id == anc.id && a.kind.ends_with("Project") && a.inherited) {
                        push(&a.role_id);
                    }
                }
            }
        }
        Ok(ids)
    }

    /// Expands implied roles transitively and drops domain-specific roles.
    pub(crate) async fn roles_with_implied(&self, role_ids: &[String]) -> Result<Vec<RoleRef>> {
        if role_ids.is_empty() {
            return Ok(vec![]);
        }
        let expanded = self.expand_role_ids(role_ids).await?;
        let all: BTreeMap<String, adb::Role> = adb::role_list_all(&self.db).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for id in expanded {
            if let Some(r) = all.get(&id) {
                if r.domain_id.is_none() && seen.insert(id.clone()) {
                    out.push(RoleRef { id: r.id.clone(), name: r.name.clone(), domain_id: None });
                }
            }
        }
        Ok(out)
    }

    /// Projects on which the user has any effective role (for /v3/auth/projects and
    /// /v3/users/{id}/projects).
    pub async fn projects_for_user(&self, user_id: &str) -> Result<Vec<rdb::Project>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(idb::group_ids_for_user(&self.db, user_id).await?);
        let assignments = adb::assignment_list_for_actors(&self.db, &actors).await?;
        let mut ids: Vec<String> = Vec::new();
        for a in &assignments {
            if a.kind.ends_with("Project") {
                if !ids.contains(&a.target_id) {
                    ids.push(a.target_id.clone());
                }
                if a.inherited {
                    for d in rdb::project_descendants(&self.db, &a.target_id).await? {
                        if !ids.contains(&d.id) {
                            ids.push(d.id);
                        }
                    }
                }
            } else if a.kind.ends_with("Domain") && a.inherited {
                for p in rdb::project_list(&self.db, Some(&a.target_id)).await? {
                    if !ids.contains(&p.id) {
                        ids.push(p.id);
                    }
                }
            }
        }
        // Only projects where a direct (non-inherited) project grant exists count for the
        // direct ids above; inherited ones were expanded to their subtrees.
        let mut projects = rdb::project_list_by_ids(&self.db, &ids).await?;
        projects.retain(|p| !p.is_domain);
        Ok(projects)
    }

    /// Domains on which the user has a domain-level role (for /v3/auth/domains).
    pub async fn domains_for_user(&self, user_id: &str) -> Result<Vec<rdb::Project>> {
        let mut actors = vec![user_id.to_string()];
        actors.extend(idb::group_ids_for_user(&self.db, user_id).await?);
        let assignments = adb::assignment_list_for_actors(&self.db, &actors).await?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for a in assignments.iter().filter(|a| a.kind.ends_with("Domain") && !a.inherited) {
            if seen.insert(a.target_id.clone()) {
                if let Some(d) = rdb::domain_get(&self.db, &a.target_id).await? {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}
