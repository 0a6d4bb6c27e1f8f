//! Instances and what hangs off them in the cell database (nova/objects/instance.py,
//! instance_action.py, instance_fault.py): metadata, system metadata, tags, actions with their
//! events, and faults. Every state change is a compare-and-set on the state the writer saw, so
//! two operations can never both move one instance.

use std::collections::BTreeMap;

use db::{params, Db, DbError, Row};

use super::flavors::Flavor;

/// An instance (a server, as the API calls it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Instance {
    pub uuid: String,
    pub display_name: String,
    pub display_description: Option<String>,
    pub hostname: String,
    pub project_id: String,
    pub user_id: String,
    pub image_ref: Option<String>,
    pub flavor: Flavor,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub host: Option<String>,
    pub node: Option<String>,
    pub availability_zone: Option<String>,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub config_drive: Option<String>,
    pub locked_by: Option<String>,
    pub locked_reason: Option<String>,
    pub access_ip_v4: Option<String>,
    pub access_ip_v6: Option<String>,
    pub progress: i64,
    pub launch_index: i64,
    pub reservation_id: Option<String>,
    pub launched_at: Option<i64>,
    pub terminated_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub deleted: bool,
    pub metadata: BTreeMap<String, String>,
    pub system_metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// The info cache: the instance's ports as the network service last described them.
    #[serde(default)]
    pub network_info: Vec<crate::network::Vif>,
}

const COLUMNS: &str = "uuid, display_name, display_description, hostname, project_id, user_id, image_ref, flavor, vm_state, task_state, power_state, host, node, availability_zone, key_name, key_data, user_data, config_drive, locked_by, locked_reason, access_ip_v4, access_ip_v6, progress, launch_index, reservation_id, launched_at, terminated_at, created_at, updated_at, deleted_at, deleted";

fn from_row(r: &Row) -> Result<Instance, DbError> {
    let flavor_json = r.str("flavor")?;
    let flavor: Flavor = serde_json::from_str(&flavor_json).map_err(|e| DbError::Decode { column: "flavor".into(), message: e.to_string() })?;
    Ok(Instance {
        uuid: r.str("uuid")?,
        display_name: r.opt_str("display_name")?.unwrap_or_default(),
        display_description: r.opt_str("display_description")?,
        hostname: r.opt_str("hostname")?.unwrap_or_default(),
        project_id: r.str("project_id")?,
        user_id: r.str("user_id")?,
        image_ref: r.opt_str("image_ref")?,
        flavor,
        vm_state: r.str("vm_state")?,
        task_state: r.opt_str("task_state")?,
        power_state: r.i64("power_state")?,
        host: r.opt_str("host")?,
        node: r.opt_str("node")?,
        availability_zone: r.opt_str("availability_zone")?,
        key_name: r.opt_str("key_name")?,
        key_data: r.opt_str("key_data")?,
        user_data: r.opt_str("user_data")?,
        config_drive: r.opt_str("config_drive")?,
        locked_by: r.opt_str("locked_by")?,
        locked_reason: r.opt_str("locked_reason")?,
        access_ip_v4: r.opt_str("access_ip_v4")?,
        access_ip_v6: r.opt_str("access_ip_v6")?,
        progress: r.i64("progress")?,
        launch_index: r.i64("launch_index")?,
        reservation_id: r.opt_str("reservation_id")?,
        launched_at: r.opt_i64("launched_at")?,
        terminated_at: r.opt_i64("terminated_at")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
        deleted_at: r.opt_i64("deleted_at")?,
        deleted: r.bool("deleted")?,
        metadata: BTreeMap::new(),
        system_metadata: BTreeMap::new(),
        tags: Vec::new(),
        network_info: Vec::new(),
    })
}

/// Fills metadata, system metadata, tags and the info cache.
async fn decorate(db: &Db, mut list: Vec<Instance>) -> Result<Vec<Instance>, DbError> {
    for i in &mut list {
        for r in db.fetch_all("SELECT meta_key, meta_value FROM instance_metadata WHERE instance_uuid = ?", params![&i.uuid]).await? {
            i.metadata.insert(r.str("meta_key")?, r.opt_str("meta_value")?.unwrap_or_default());
        }
        for r in db.fetch_all("SELECT meta_key, meta_value FROM instance_system_metadata WHERE instance_uuid = ?", params![&i.uuid]).await? {
            i.system_metadata.insert(r.str("meta_key")?, r.opt_str("meta_value")?.unwrap_or_default());
        }
        for r in db.fetch_all("SELECT tag FROM tags WHERE resource_id = ? ORDER BY tag", params![&i.uuid]).await? {
            i.tags.push(r.str("tag")?);
        }
        if let Some(r) = db.fetch_optional("SELECT network_info FROM instance_info_caches WHERE instance_uuid = ?", params![&i.uuid]).await? {
            i.network_info = serde_json::from_str(&r.str("network_info")?).map_err(|e| DbError::Decode { column: "network_info".into(), message: e.to_string() })?;
        }
    }
    Ok(list)
}

pub async fn instance_create(db: &Db, i: &Instance) -> Result<(), DbError> {
    let flavor = serde_json::to_string(&i.flavor).map_err(|e| DbError::Decode { column: "flavor".into(), message: e.to_string() })?;
    let mut tx = db.begin().await?;
    tx.exec(
        &format!("INSERT INTO instances ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        params![
            &i.uuid, &i.display_name, &i.display_description, &i.hostname, &i.project_id, &i.user_id, &i.image_ref, flavor, &i.vm_state, &i.task_state, i.power_state, &i.host, &i.node,
            &i.availability_zone, &i.key_name, &i.key_data, &i.user_data, &i.config_drive, &i.locked_by, &i.locked_reason, &i.access_ip_v4, &i.access_ip_v6, i.progress, i.launch_index,
            &i.reservation_id, i.launched_at, i.terminated_at, i.created_at, i.updated_at, i.deleted_at, i.deleted
        ],
    )
    .await?;
    write_children(&mut tx, i).await?;
    tx.commit().await
}

async fn write_children(tx: &mut db::Tx, i: &Instance) -> Result<(), DbError> {
    tx.exec("DELETE FROM instance_metadata WHERE instance_uuid = ?", params![&i.uuid]).await?;
    for (k, v) in &i.metadata {
        tx.exec("INSERT INTO instance_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)", params![&i.uuid, k, v]).await?;
    }
    tx.exec("DELETE FROM instance_system_metadata WHERE instance_uuid = ?", params![&i.uuid]).await?;
    for (k, v) in &i.system_metadata {
        tx.exec("INSERT INTO instance_system_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)", params![&i.uuid, k, v]).await?;
    }
    tx.exec("DELETE FROM tags WHERE resource_id = ?", params![&i.uuid]).await?;
    for t in &i.tags {
        tx.exec("INSERT INTO tags (resource_id, tag) VALUES (?, ?)", params![&i.uuid, t]).await?;
    }
    Ok(())
}

/// An instance, deleted ones included (the caller decides what a deleted one means).
pub async fn instance_get(db: &Db, uuid: &str) -> Result<Option<Instance>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM instances WHERE uuid = ?");
    let Some(r) = db.fetch_optional(&sql, params![uuid]).await? else { return Ok(None) };
    Ok(decorate(db, vec![from_row(&r)?]).await?.pop())
}

/// Instances of `project` (every project when `None`), live ones unless `with_deleted`.
pub async fn instance_list(db: &Db, project: Option<&str>, with_deleted: bool) -> Result<Vec<Instance>, DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM instances WHERE 1 = 1");
    let mut args = Vec::new();
    if let Some(p) = project {
        sql.push_str(" AND project_id = ?");
        args.push(db::Value::from(p));
    }
    if !with_deleted {
        sql.push_str(" AND deleted = 0");
    }
    sql.push_str(" ORDER BY created_at DESC, uuid DESC");
    let rows = db.fetch_all(&sql, args).await?;
    decorate(db, rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?).await
}

/// Live instances whose state a restart must look at (building, or with a task in flight).
pub async fn instance_list_unfinished(db: &Db) -> Result<Vec<Instance>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM instances WHERE deleted = 0 AND (vm_state = 'building' OR task_state IS NOT NULL)");
    let rows = db.fetch_all(&sql, params![]).await?;
    decorate(db, rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?).await
}

/// Live instances on `host`.
pub async fn instance_list_by_host(db: &Db, host: &str) -> Result<Vec<Instance>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM instances WHERE deleted = 0 AND host = ?");
    let rows = db.fetch_all(&sql, params![host]).await?;
    decorate(db, rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?).await
}

/// Writes every attribute of `i` if its stored task_state is still one of `expected`
/// (`None` in the list meaning "no task"). Returns whether it applied.
pub async fn instance_save(db: &Db, i: &Instance, expected_task_states: Option<&[Option<&str>]>) -> Result<bool, DbError> {
    let flavor = serde_json::to_string(&i.flavor).map_err(|e| DbError::Decode { column: "flavor".into(), message: e.to_string() })?;
    let mut sql = String::from(
        "UPDATE instances SET display_name = ?, display_description = ?, hostname = ?, image_ref = ?, flavor = ?, vm_state = ?, task_state = ?, power_state = ?, host = ?, node = ?, availability_zone = ?, key_name = ?, key_data = ?, user_data = ?, config_drive = ?, locked_by = ?, locked_reason = ?, access_ip_v4 = ?, access_ip_v6 = ?, progress = ?, launched_at = ?, terminated_at = ?, updated_at = ?, deleted_at = ?, deleted = ? WHERE uuid = ? AND deleted = 0",
    );
    let mut args = params![
        &i.display_name, &i.display_description, &i.hostname, &i.image_ref, flavor, &i.vm_state, &i.task_state, i.power_state, &i.host, &i.node, &i.availability_zone, &i.key_name,
        &i.key_data, &i.user_data, &i.config_drive, &i.locked_by, &i.locked_reason, &i.access_ip_v4, &i.access_ip_v6, i.progress, i.launched_at, i.terminated_at, i.updated_at,
        i.deleted_at, i.deleted, &i.uuid
    ];
    if let Some(expected) = expected_task_states {
        let mut alts = Vec::new();
        for e in expected {
            match e {
                Some(s) => {
                    alts.push("task_state = ?");
                    args.push(db::Value::from(*s));
                }
                None => alts.push("task_state IS NULL"),
            }
        }
        if !alts.is_empty() {
            sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
        }
    }
    let mut tx = db.begin().await?;
    if tx.exec(&sql, args).await? == 0 {
        return Ok(false);
    }
    write_children(&mut tx, i).await?;
    tx.commit().await?;
    Ok(true)
}

/// Sets one system metadata key of an instance.
pub async fn system_metadata_set(db: &Db, uuid: &str, key: &str, value: &str) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?", params![uuid, key]).await?;
    tx.exec("INSERT INTO instance_system_metadata (instance_uuid, meta_key, meta_value) VALUES (?, ?, ?)", params![uuid, key, value]).await?;
    tx.commit().await
}

/// Removes one system metadata key of an instance.
pub async fn system_metadata_delete(db: &Db, uuid: &str, key: &str) -> Result<(), DbError> {
    db.exec("DELETE FROM instance_system_metadata WHERE instance_uuid = ? AND meta_key = ?", params![uuid, key]).await?;
    Ok(())
}

/// Replaces the info cache of an instance (written apart from the instance row, so a save of
/// other attributes never brings back an older cache).
pub async fn info_cache_update(db: &Db, uuid: &str, vifs: &[crate::network::Vif], at: i64) -> Result<(), DbError> {
    let nw = serde_json::to_string(vifs).map_err(|e| DbError::Decode { column: "network_info".into(), message: e.to_string() })?;
    let mut tx = db.begin().await?;
    tx.exec("DELETE FROM instance_info_caches WHERE instance_uuid = ?", params![uuid]).await?;
    tx.exec("INSERT INTO instance_info_caches (instance_uuid, network_info, updated_at) VALUES (?, ?, ?)", params![uuid, nw, at]).await?;
    tx.commit().await
}

/// A fault recorded on an instance (shown as `fault` while it is in ERROR).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
    pub host: Option<String>,
    pub created_at: i64,
}

pub async fn fault_create(db: &Db, instance: &str, f: &Fault) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO instance_faults (id, instance_uuid, code, message, details, host, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        params![common::ids::new_uuid(), instance, f.code, &f.message, &f.details, &f.host, f.created_at],
    )
    .await?;
    Ok(())
}

/// The latest fault of an instance.
pub async fn fault_latest(db: &Db, instance: &str) -> Result<Option<Fault>, DbError> {
    let r = db.fetch_optional("SELECT code, message, details, host, created_at FROM instance_faults WHERE instance_uuid = ? ORDER BY created_at DESC", params![instance]).await?;
    r.map(|r| Ok(Fault { code: r.i64("code")?, message: r.str("message")?, details: r.opt_str("details")?, host: r.opt_str("host")?, created_at: r.i64("created_at")? })).transpose()
}

/// An instance action (`os-instance-actions`): what was asked, by whom, and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub id: String,
    pub instance_uuid: String,
    pub action: String,
    pub request_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub start_time: i64,
    pub finish_time: Option<i64>,
    pub message: Option<String>,
    pub updated_at: i64,
}

pub async fn action_start(db: &Db, a: &Action) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO instance_actions (id, instance_uuid, action, request_id, user_id, project_id, start_time, finish_time, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![&a.id, &a.instance_uuid, &a.action, &a.request_id, &a.user_id, &a.project_id, a.start_time, a.finish_time, &a.message, a.updated_at],
    )
    .await?;
    Ok(())
}

/// The action a request started on an instance.
pub async fn action_by_request(db: &Db, instance: &str, request_id: &str) -> Result<Option<Action>, DbError> {
    let r = db.fetch_optional("SELECT * FROM instance_actions WHERE instance_uuid = ? AND request_id = ?", params![instance, request_id]).await?;
    r.as_ref().map(action_from_row).transpose()
}

pub async fn action_list(db: &Db, instance: &str) -> Result<Vec<Action>, DbError> {
    db.fetch_all("SELECT * FROM instance_actions WHERE instance_uuid = ? ORDER BY start_time DESC, id DESC", params![instance]).await?.iter().map(action_from_row).collect()
}

fn action_from_row(r: &Row) -> Result<Action, DbError> {
    Ok(Action {
        id: r.str("id")?,
        instance_uuid: r.str("instance_uuid")?,
        action: r.str("action")?,
        request_id: r.str("request_id")?,
        user_id: r.opt_str("user_id")?,
        project_id: r.opt_str("project_id")?,
        start_time: r.i64("start_time")?,
        finish_time: r.opt_i64("finish_time")?,
        message: r.opt_str("message")?,
        updated_at: r.i64("updated_at")?,
    })
}

/// An event within an action (`compute_build_and_run_instance`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionEvent {
    pub event: String,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub host: Option<String>,
    pub start_time: i64,
    pub finish_time: Option<i64>,
}

/// Records a finished event and closes its action (with `Error` as the message on failure).
pub async fn action_event_finish(db: &Db, action_id: &str, e: &ActionEvent) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO instance_actions_events (id, action_id, event, result, traceback, host, start_time, finish_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        params![common::ids::new_uuid(), action_id, &e.event, &e.result, &e.traceback, &e.host, e.start_time, e.finish_time],
    )
    .await?;
    let message: Option<&str> = (e.result.as_deref() == Some("Error")).then_some("Error");
    let now = e.finish_time.unwrap_or(e.start_time);
    db.exec("UPDATE instance_actions SET finish_time = ?, message = COALESCE(message, ?), updated_at = ? WHERE id = ?", params![now, message, now, action_id]).await?;
    Ok(())
}

pub async fn action_events(db: &Db, action_id: &str) -> Result<Vec<ActionEvent>, DbError> {
    db.fetch_all("SELECT event, result, traceback, host, start_time, finish_time FROM instance_actions_events WHERE action_id = ? ORDER BY start_time", params![action_id])
        .await?
        .iter()
        .map(|r| Ok(ActionEvent { event: r.str("event")?, result: r.opt_str("result")?, traceback: r.opt_str("traceback")?, host: r.opt_str("host")?, start_time: r.i64("start_time")?, finish_time: r.opt_i64("finish_time")? }))
        .collect()
}
