//! The smaller Keystone stores: policy blobs (keystone/policy/backends/sql.py), domain-specific
//! configuration (keystone/resource/config_backends/sql.py), OAuth1 consumers
//! (keystone/oauth1/backends/sql.py), and unified limits (keystone/limit/backends/sql.py).

use db::{params, Db, DbError, Row, Value};
use serde_json::{Map, Value as Json};

use super::{extra_of, extra_text};

// ------------------------------------------------------------------------------------ policy

/// A policy blob (`/v3/policies`): an opaque document of some MIME type.
#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub policy_type: String,
    pub blob: String,
    pub extra: Map<String, Json>,
}

fn policy_from_row(r: &Row) -> Result<Policy, DbError> {
    Ok(Policy { id: r.str("id")?, policy_type: r.str("type")?, blob: r.str("policy_blob")?, extra: extra_of(r.opt_str("extra")?) })
}

pub async fn policy_get(db: &Db, id: &str) -> Result<Option<Policy>, DbError> {
    db.fetch_optional("SELECT id, type, policy_blob, extra FROM policy WHERE id = ?", params![id]).await?.as_ref().map(policy_from_row).transpose()
}

pub async fn policy_list(db: &Db) -> Result<Vec<Policy>, DbError> {
    db.fetch_all("SELECT id, type, policy_blob, extra FROM policy ORDER BY id", params![]).await?.iter().map(policy_from_row).collect()
}

pub async fn policy_create(db: &Db, p: &Policy) -> Result<(), DbError> {
    db.exec("INSERT INTO policy (id, type, policy_blob, extra) VALUES (?, ?, ?, ?)", params![&p.id, &p.policy_type, &p.blob, extra_text(&p.extra)]).await?;
    Ok(())
}

pub async fn policy_update(db: &Db, p: &Policy) -> Result<(), DbError> {
    db.exec("UPDATE policy SET type = ?, policy_blob = ?, extra = ? WHERE id = ?", params![&p.policy_type, &p.blob, extra_text(&p.extra), &p.id]).await?;
    Ok(())
}

pub async fn policy_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM policy WHERE id = ?", params![id]).await
}

// ----------------------------------------------------------------------------- domain config

/// One option of a domain's configuration; `value` is any JSON value, as upstream stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainConfigOption {
    pub group: String,
    pub option: String,
    pub value: Json,
    pub sensitive: bool,
}

fn config_option_from_row(r: &Row) -> Result<DomainConfigOption, DbError> {
    let text = r.str("value")?;
    Ok(DomainConfigOption {
        group: r.str("group_name")?,
        option: r.str("option_name")?,
        value: serde_json::from_str(&text).unwrap_or(Json::String(text)),
        sensitive: r.bool("is_sensitive")?,
    })
}

/// A domain's options, narrowed to a group and option when given, sensitive or not.
pub async fn domain_config_list(db: &Db, domain_id: &str, group: Option<&str>, option: Option<&str>, sensitive: bool) -> Result<Vec<DomainConfigOption>, DbError> {
    let mut sql = String::from("SELECT group_name, option_name, value, is_sensitive FROM domain_config WHERE domain_id = ? AND is_sensitive = ?");
    let mut args = params![domain_id, sensitive];
    if let Some(g) = group {
        sql.push_str(" AND group_name = ?");
        args.push(Value::from(g));
    }
    if let Some(o) = option {
        sql.push_str(" AND option_name = ?");
        args.push(Value::from(o));
    }
    sql.push_str(" ORDER BY group_name, option_name");
    db.fetch_all(&sql, args).await?.iter().map(config_option_from_row).collect()
}

/// Replaces a domain's whole configuration (PUT).
pub async fn domain_config_replace(db: &Db, domain_id: &str, options: &[DomainConfigOption]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM domain_config WHERE domain_id = ?", params![domain_id]).await?;
    for o in options {
        tx.exec(
            "INSERT INTO domain_config (domain_id, group_name, option_name, value, is_sensitive) VALUES (?, ?, ?, ?, ?)",
            params![domain_id, &o.group, &o.option, o.value.to_string(), o.sensitive],
        )
        .await?;
    }
    tx.commit().await
}

/// Creates or updates the given options, leaving the others alone (PATCH).
pub async fn domain_config_upsert(db: &Db, domain_id: &str, options: &[DomainConfigOption]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for o in options {
        tx.exec("DELETE FROM domain_config WHERE domain_id = ? AND group_name = ? AND option_name = ?", params![domain_id, &o.group, &o.option]).await?;
        tx.exec(
            "INSERT INTO domain_config (domain_id, group_name, option_name, value, is_sensitive) VALUES (?, ?, ?, ?, ?)",
            params![domain_id, &o.group, &o.option, o.value.to_string(), o.sensitive],
        )
        .await?;
    }
    tx.commit().await
}

/// Deletes a domain's configuration, one group of it, or one option.
pub async fn domain_config_delete(db: &Db, domain_id: &str, group: Option<&str>, option: Option<&str>) -> Result<u64, DbError> {
    let mut sql = String::from("DELETE FROM domain_config WHERE domain_id = ?");
    let mut args = params![domain_id];
    if let Some(g) = group {
        sql.push_str(" AND group_name = ?");
        args.push(Value::from(g));
    }
    if let Some(o) = option {
        sql.push_str(" AND option_name = ?");
        args.push(Value::from(o));
    }
    db.exec(&sql, args).await
}

// --------------------------------------------------------------------------- OAuth1 consumer

/// An OAuth1 consumer; the secret is returned to the client only when it is created.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub id: String,
    pub description: Option<String>,
    pub secret: String,
    pub extra: Map<String, Json>,
}

fn consumer_from_row(r: &Row) -> Result<Consumer, DbError> {
    Ok(Consumer { id: r.str("id")?, description: r.opt_str("description")?, secret: r.str("secret")?, extra: extra_of(r.opt_str("extra")?) })
}

pub async fn consumer_get(db: &Db, id: &str) -> Result<Option<Consumer>, DbError> {
    db.fetch_optional("SELECT id, description, secret, extra FROM oauth_consumer WHERE id = ?", params![id]).await?.as_ref().map(consumer_from_row).transpose()
}

pub async fn consumer_list(db: &Db) -> Result<Vec<Consumer>, DbError> {
    db.fetch_all("SELECT id, description, secret, extra FROM oauth_consumer ORDER BY id", params![]).await?.iter().map(consumer_from_row).collect()
}

pub async fn consumer_create(db: &Db, c: &Consumer) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO oauth_consumer (id, description, secret, extra) VALUES (?, ?, ?, ?)",
        params![&c.id, &c.description, &c.secret, extra_text(&c.extra)],
    )
    .await?;
    Ok(())
}

pub async fn consumer_update(db: &Db, c: &Consumer) -> Result<(), DbError> {
    db.exec("UPDATE oauth_consumer SET description = ?, extra = ? WHERE id = ?", params![&c.description, extra_text(&c.extra), &c.id]).await?;
    Ok(())
}

pub async fn consumer_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM oauth_consumer WHERE id = ?", params![id]).await
}

// ------------------------------------------------------------------------------ unified limits

/// A registered limit: the default for a resource of a service (in a region).
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredLimit {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub default_limit: i64,
    pub description: Option<String>,
}

/// A project's (or domain's) limit overriding a registered limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectLimit {
    pub id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub resource_limit: i64,
    pub description: Option<String>,
}

const REGISTERED_LIMIT_COLUMNS: &str = "id, service_id, region_id, resource_name, default_limit, description";
const LIMIT_COLUMNS: &str = "id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description";

fn registered_limit_from_row(r: &Row) -> Result<RegisteredLimit, DbError> {
    Ok(RegisteredLimit {
        id: r.str("id")?,
        service_id: r.str("service_id")?,
        region_id: r.opt_str("region_id")?,
        resource_name: r.str("resource_name")?,
        default_limit: r.i64("default_limit")?,
        description: r.opt_str("description")?,
    })
}

fn limit_from_row(r: &Row) -> Result<ProjectLimit, DbError> {
    Ok(ProjectLimit {
        id: r.str("id")?,
        project_id: r.opt_str("project_id")?,
        domain_id: r.opt_str("domain_id")?,
        service_id: r.str("service_id")?,
        region_id: r.opt_str("region_id")?,
        resource_name: r.str("resource_name")?,
        resource_limit: r.i64("resource_limit")?,
        description: r.opt_str("description")?,
    })
}

pub async fn registered_limit_get(db: &Db, id: &str) -> Result<Option<RegisteredLimit>, DbError> {
    let sql = format!("SELECT {REGISTERED_LIMIT_COLUMNS} FROM registered_limit WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(registered_limit_from_row).transpose()
}

pub async fn registered_limit_list(db: &Db) -> Result<Vec<RegisteredLimit>, DbError> {
    let sql = format!("SELECT {REGISTERED_LIMIT_COLUMNS} FROM registered_limit ORDER BY id");
    db.fetch_all(&sql, params![]).await?.iter().map(registered_limit_from_row).collect()
}

/// Creates a batch of registered limits, all or none.
pub async fn registered_limit_create_many(db: &Db, limits: &[RegisteredLimit]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for l in limits {
        tx.exec(
            "INSERT INTO registered_limit (id, service_id, region_id, resource_name, default_limit, description) VALUES (?, ?, ?, ?, ?, ?)",
            params![&l.id, &l.service_id, &l.region_id, &l.resource_name, l.default_limit, &l.description],
        )
        .await?;
    }
    tx.commit().await
}

pub async fn registered_limit_update(db: &Db, l: &RegisteredLimit) -> Result<(), DbError> {
    db.exec(
        "UPDATE registered_limit SET service_id = ?, region_id = ?, resource_name = ?, default_limit = ?, description = ? WHERE id = ?",
        params![&l.service_id, &l.region_id, &l.resource_name, l.default_limit, &l.description, &l.id],
    )
    .await?;
    Ok(())
}

pub async fn registered_limit_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM registered_limit WHERE id = ?", params![id]).await
}

pub async fn limit_get(db: &Db, id: &str) -> Result<Option<ProjectLimit>, DbError> {
    let sql = format!("SELECT {LIMIT_COLUMNS} FROM project_limit WHERE id = ?");
    db.fetch_optional(&sql, params![id]).await?.as_ref().map(limit_from_row).transpose()
}

pub async fn limit_list(db: &Db) -> Result<Vec<ProjectLimit>, DbError> {
    let sql = format!("SELECT {LIMIT_COLUMNS} FROM project_limit ORDER BY id");
    db.fetch_all(&sql, params![]).await?.iter().map(limit_from_row).collect()
}

/// Creates a batch of limits, all or none.
pub async fn limit_create_many(db: &Db, limits: &[ProjectLimit]) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    for l in limits {
        tx.exec(
            "INSERT INTO project_limit (id, project_id, domain_id, service_id, region_id, resource_name, resource_limit, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params![&l.id, &l.project_id, &l.domain_id, &l.service_id, &l.region_id, &l.resource_name, l.resource_limit, &l.description],
        )
        .await?;
    }
    tx.commit().await
}

pub async fn limit_update(db: &Db, l: &ProjectLimit) -> Result<(), DbError> {
    db.exec("UPDATE project_limit SET resource_limit = ?, description = ? WHERE id = ?", params![l.resource_limit, &l.description, &l.id]).await?;
    Ok(())
}

pub async fn limit_delete(db: &Db, id: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM project_limit WHERE id = ?", params![id]).await
}
