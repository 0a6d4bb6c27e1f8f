//! Services (nova-compute, nova-conductor, nova-scheduler heartbeats: `os-services`) and
//! compute nodes (what each hypervisor offers: `os-hypervisors`), in the cell database.

use db::{params, Db, DbError, Row};

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub topic: Option<String>,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub last_seen_up: Option<i64>,
    pub report_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `[DEFAULT] service_down_time`: a service not heard from for longer is down.
pub const SERVICE_DOWN_TIME_US: i64 = 60_000_000;

impl Service {
    /// Up: not forced down, and heard from within `service_down_time` of `now`.
    pub fn is_up(&self, now: i64) -> bool {
        !self.forced_down && self.last_seen_up.is_some_and(|t| now - t <= SERVICE_DOWN_TIME_US)
    }
}

fn service_from_row(r: &Row) -> Result<Service, DbError> {
    Ok(Service {
        id: r.i64("id")?,
        uuid: r.str("uuid")?,
        host: r.str("host")?,
        binary: r.str("service_binary")?,
        topic: r.opt_str("topic")?,
        disabled: r.bool("disabled")?,
        disabled_reason: r.opt_str("disabled_reason")?,
        forced_down: r.bool("forced_down")?,
        last_seen_up: r.opt_i64("last_seen_up")?,
        report_count: r.i64("report_count")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

const SERVICE_COLUMNS: &str = "id, uuid, host, service_binary, topic, disabled, disabled_reason, forced_down, last_seen_up, report_count, created_at, updated_at";

/// The service record for (host, binary), created on first report; every report is a
/// heartbeat (`last_seen_up`).
pub async fn service_heartbeat(db: &Db, host: &str, binary: &str, topic: &str, now: i64) -> Result<Service, DbError> {
    let n = db.exec("UPDATE services SET last_seen_up = ?, report_count = report_count + 1, updated_at = ? WHERE host = ? AND service_binary = ?", params![now, now, host, binary]).await?;
    if n == 0 {
        let mut tx = db.begin().await?;
        let next = super::next_id(&mut tx, "services").await?;
        let inserted = tx
            .exec(
                &format!("INSERT INTO services ({SERVICE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, NULL, 0, ?, 1, ?, ?)"),
                params![next, common::ids::new_uuid(), host, binary, topic, now, now, now],
            )
            .await;
        match inserted {
            Ok(_) => tx.commit().await?,
            // Another process registered it at the same moment: theirs stands.
            Err(DbError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let sql = format!("SELECT {SERVICE_COLUMNS} FROM services WHERE host = ? AND service_binary = ?");
    let r = db.fetch_optional(&sql, params![host, binary]).await?.ok_or_else(|| DbError::Decode { column: "services".into(), message: format!("service {binary} on {host} vanished") })?;
    service_from_row(&r)
}

pub async fn service_list(db: &Db) -> Result<Vec<Service>, DbError> {
    let sql = format!("SELECT {SERVICE_COLUMNS} FROM services ORDER BY id");
    db.fetch_all(&sql, params![]).await?.iter().map(service_from_row).collect()
}

/// What a hypervisor offers.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeNode {
    pub uuid: String,
    pub id: i64,
    pub service_id: i64,
    pub host: String,
    pub hypervisor_hostname: String,
    pub hypervisor_type: String,
    pub hypervisor_version: i64,
    pub host_ip: Option<String>,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub local_gb: i64,
    pub cpu_allocation_ratio: f64,
    pub ram_allocation_ratio: f64,
    pub disk_allocation_ratio: f64,
    pub cpu_info: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const NODE_COLUMNS: &str = "uuid, id, service_id, host, hypervisor_hostname, hypervisor_type, hypervisor_version, host_ip, vcpus, memory_mb, local_gb, cpu_allocation_ratio, ram_allocation_ratio, disk_allocation_ratio, cpu_info, created_at, updated_at";

fn node_from_row(r: &Row) -> Result<ComputeNode, DbError> {
    Ok(ComputeNode {
        uuid: r.str("uuid")?,
        id: r.i64("id")?,
        service_id: r.i64("service_id")?,
        host: r.str("host")?,
        hypervisor_hostname: r.str("hypervisor_hostname")?,
        hypervisor_type: r.str("hypervisor_type")?,
        hypervisor_version: r.i64("hypervisor_version")?,
        host_ip: r.opt_str("host_ip")?,
        vcpus: r.i64("vcpus")?,
        memory_mb: r.i64("memory_mb")?,
        local_gb: r.i64("local_gb")?,
        cpu_allocation_ratio: r.f64("cpu_allocation_ratio")?,
        ram_allocation_ratio: r.f64("ram_allocation_ratio")?,
        disk_allocation_ratio: r.f64("disk_allocation_ratio")?,
        cpu_info: r.opt_str("cpu_info")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

pub async fn compute_node_get_by_hostname(db: &Db, hypervisor_hostname: &str) -> Result<Option<ComputeNode>, DbError> {
    let sql = format!("SELECT {NODE_COLUMNS} FROM compute_nodes WHERE hypervisor_hostname = ?");
    db.fetch_optional(&sql, params![hypervisor_hostname]).await?.as_ref().map(node_from_row).transpose()
}

pub async fn compute_node_list(db: &Db) -> Result<Vec<ComputeNode>, DbError> {
    let sql = format!("SELECT {NODE_COLUMNS} FROM compute_nodes ORDER BY id");
    db.fetch_all(&sql, params![]).await?.iter().map(node_from_row).collect()
}

/// Creates or refreshes a node's record (keyed by hypervisor hostname; the uuid, which is
/// also its placement resource provider, never changes once created).
pub async fn compute_node_upsert(db: &Db, n: &ComputeNode) -> Result<ComputeNode, DbError> {
    let updated = db
        .exec(
            "UPDATE compute_nodes SET service_id = ?, host = ?, hypervisor_type = ?, hypervisor_version = ?, host_ip = ?, vcpus = ?, memory_mb = ?, local_gb = ?, cpu_allocation_ratio = ?, ram_allocation_ratio = ?, disk_allocation_ratio = ?, cpu_info = ?, updated_at = ? WHERE hypervisor_hostname = ?",
            params![n.service_id, &n.host, &n.hypervisor_type, n.hypervisor_version, &n.host_ip, n.vcpus, n.memory_mb, n.local_gb, n.cpu_allocation_ratio, n.ram_allocation_ratio, n.disk_allocation_ratio, &n.cpu_info, n.updated_at, &n.hypervisor_hostname],
        )
        .await?;
    if updated == 0 {
        let mut tx = db.begin().await?;
        let next = super::next_id(&mut tx, "compute_nodes").await?;
        let inserted = tx
            .exec(
                &format!("INSERT INTO compute_nodes ({NODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                params![&n.uuid, next, n.service_id, &n.host, &n.hypervisor_hostname, &n.hypervisor_type, n.hypervisor_version, &n.host_ip, n.vcpus, n.memory_mb, n.local_gb, n.cpu_allocation_ratio, n.ram_allocation_ratio, n.disk_allocation_ratio, &n.cpu_info, n.created_at, n.updated_at],
            )
            .await;
        match inserted {
            Ok(_) => tx.commit().await?,
            Err(DbError::Duplicate(_)) => {}
            Err(e) => return Err(e),
        }
    }
    compute_node_get_by_hostname(db, &n.hypervisor_hostname).await?.ok_or_else(|| DbError::Decode { column: "compute_nodes".into(), message: format!("node {} vanished", n.hypervisor_hostname) })
}

/// Enables/disables a service (with a reason) or forces it down.
pub async fn service_update(db: &Db, host: &str, binary: &str, disabled: Option<bool>, reason: Option<&str>, forced_down: Option<bool>, now: i64) -> Result<u64, DbError> {
    let mut n = 0;
    if let Some(d) = disabled {
        n = db.exec("UPDATE services SET disabled = ?, disabled_reason = ?, updated_at = ? WHERE host = ? AND service_binary = ?", params![d, if d { reason } else { None }, now, host, binary]).await?;
    }
    if let Some(f) = forced_down {
        n = db.exec("UPDATE services SET forced_down = ?, updated_at = ? WHERE host = ? AND service_binary = ?", params![f, now, host, binary]).await?;
    }
    Ok(n)
}
