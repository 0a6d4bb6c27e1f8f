//! Tasks (glance/api/v2/tasks.py and glance/async_): the admin-only `/v2/tasks` API, whose one
//! user-creatable type is the legacy `import` (create an image from `image_properties` and
//! fill it from `import_from` over HTTP), and the `api_image_import` task each interoperable
//! import records so `/v2/images/{id}/tasks` can show how it went. A task goes pending →
//! processing → success or failure, and stays listed for `task_time_to_live` hours after it
//! finishes.

use std::collections::BTreeMap;
use std::sync::Arc;

use auth::RequestContext;
use serde_json::{json, Map, Value};

use super::{now, web, App};
use crate::db::images as idb;
use crate::db::tasks::{self as tdb, Task};
use crate::error::{GlanceError, Result};

/// Task statuses and types a list may filter on.
const STATUSES: &[&str] = &["pending", "processing", "success", "failure"];
const SORT_KEYS: &[&str] = &["created_at", "updated_at", "id", "status", "type", "owner", "expires_at"];

/// One page of tasks, and the marker for the next when the page was full.
pub struct TaskPage {
    pub tasks: Vec<Task>,
    pub next_marker: Option<String>,
}

impl App {
    fn enforce_tasks_api(&self, ctx: &RequestContext, rule: &str) -> Result<()> {
        let target = json!({"project_id": ctx.project_id(), "owner": ctx.project_id()});
        self.enforce(ctx, "tasks_api_access", &target)?;
        self.enforce(ctx, rule, &target)
    }

    /// POST /v2/tasks
    pub async fn task_create(self: &Arc<Self>, ctx: &RequestContext, body: &Value) -> Result<Task> {
        self.enforce_tasks_api(ctx, "add_task")?;
        let body = body.as_object().ok_or_else(|| GlanceError::BadRequest("Body expected in request.".into()))?;
        for key in body.keys() {
            if !["type", "input"].contains(&key.as_str()) {
                return Err(GlanceError::BadRequest(format!("Attribute '{key}' is read-only.")));
            }
        }
        let kind = body.get("type").ok_or_else(|| GlanceError::BadRequest("Task 'type' is required".into()))?;
        let input = body.get("input").ok_or_else(|| GlanceError::BadRequest("Task 'input' is required".into()))?;
        let kind = kind.as_str().ok_or_else(|| GlanceError::BadRequest("Task 'type' must be a string".into()))?;
        if kind != "import" {
            return Err(GlanceError::BadRequest(format!("Task type '{kind}' is not supported; the only type is 'import'.")));
        }
        let input = input.as_object().ok_or_else(|| GlanceError::BadRequest("Task 'input' must be an object".into()))?;
        let import_from = input.get("import_from").and_then(Value::as_str).ok_or_else(|| GlanceError::BadRequest("Input does not contain 'import_from' field".into()))?;
        if web::validate_import_uri(&self.cfg.import_filter, import_from).await.is_none() {
            return Err(GlanceError::BadRequest(format!("URI for legacy import task does not pass filtering: {import_from}")));
        }
        let ts = now();
        let task = Task {
            id: common::ids::new_uuid(),
            kind: kind.to_string(),
            status: "pending".into(),
            owner: ctx.project_id().map(str::to_string),
            input: Value::Object(input.clone()),
            result: None,
            message: String::new(),
            image_id: None,
            request_id: Some(ctx.request_id.clone()),
            user_id: ctx.user_id().map(str::to_string),
            expires_at: None,
            created_at: ts,
            updated_at: ts,
        };
        tdb::task_create(&self.db, &task).await?;
        let (app, ctx, mut running) = (self.clone(), ctx.clone(), task.clone());
        tokio::spawn(async move {
            let outcome = app.run_legacy_import(&ctx, &mut running).await;
            app.task_finish(&mut running, outcome).await;
        });
        Ok(task)
    }

    /// The legacy import: a new image from the task's `image_properties`, filled from
    /// `import_from`. On failure the half-made image is deleted again.
    async fn run_legacy_import(&self, ctx: &RequestContext, task: &mut Task) -> std::result::Result<Option<Value>, String> {
        task.status = "processing".into();
        task.updated_at = now();
        tdb::task_update(&self.db, task).await.map_err(|e| e.to_string())?;
        let input = task.input.as_object().cloned().unwrap_or_default();
        let props: Map<String, Value> = match input.get("image_properties") {
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("Input field 'image_properties' must be an object".into()),
            None => Map::new(),
        };
        let import_from = input.get("import_from").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut image = self.image_create(ctx, &props).await.map_err(|e| format!("cannot create the image: {e}"))?;
        task.image_id = Some(image.id.clone());
        let filled: Result<()> = async {
            if image.disk_format.is_none() || image.container_format.is_none() {
                return Err(GlanceError::BadRequest("Properties disk_format, container_format must be set prior to saving data.".into()));
            }
            let url = web::validate_import_uri(&self.cfg.import_filter, &import_from).await.ok_or_else(|| GlanceError::BadRequest(format!("URI for legacy import task does not pass filtering: {import_from}")))?;
            let body = web::fetch(&self.cfg.import_filter, url).await.map_err(GlanceError::BadRequest)?;
            self.transition(&mut image, &["queued"], "saving").await?;
            let written = self.write_data(self.store.as_ref(), &image, body, true).await?;
            self.activate(&mut image, "saving", written).await
        }
        .await;
        match filled {
            Ok(()) => Ok(Some(json!({"image_id": image.id}))),
            Err(e) => {
                if let Err(d) = idb::image_delete(&self.db, &image.id, now()).await {
                    tracing::error!(image = %image.id, error = %d, "could not delete the image of a failed import task");
                }
                Err(e.to_string())
            }
        }
    }

    /// Records how a task ended; it stays listed for `task_time_to_live` hours.
    pub(crate) async fn task_finish(&self, task: &mut Task, outcome: std::result::Result<Option<Value>, String>) {
        match outcome {
            Ok(result) => {
                task.status = "success".into();
                task.result = result;
            }
            Err(message) => {
                tracing::warn!(task = %task.id, %message, "task failed");
                task.status = "failure".into();
                task.message = message;
            }
        }
        task.updated_at = now();
        task.expires_at = Some(task.updated_at + self.cfg.task_time_to_live_hours * 3_600_000_000);
        if let Err(e) = tdb::task_update(&self.db, task).await {
            tracing::error!(task = %task.id, error = %e, "could not record a finished task");
        }
    }

    /// The task an interoperable import runs under (shown by `/v2/images/{id}/tasks`).
    pub(crate) async fn import_task_start(&self, ctx: &RequestContext, image_id: &str, import_req: &Value) -> Result<Task> {
        let ts = now();
        let task = Task {
            id: common::ids::new_uuid(),
            kind: "api_image_import".into(),
            status: "processing".into(),
            owner: ctx.project_id().map(str::to_string),
            input: json!({"image_id": image_id, "import_req": import_req, "backend": [self.store.id()]}),
            result: None,
            message: String::new(),
            image_id: Some(image_id.to_string()),
            request_id: Some(ctx.request_id.clone()),
            user_id: ctx.user_id().map(str::to_string),
            expires_at: None,
            created_at: ts,
            updated_at: ts,
        };
        tdb::task_create(&self.db, &task).await?;
        Ok(task)
    }

    /// GET /v2/tasks
    pub async fn task_list(&self, ctx: &RequestContext, query: &BTreeMap<String, String>) -> Result<TaskPage> {
        self.enforce_tasks_api(ctx, "get_tasks")?;
        let sort_key = query.get("sort_key").map(String::as_str).unwrap_or("created_at");
        if !SORT_KEYS.contains(&sort_key) {
            return Err(GlanceError::BadRequest(format!("Invalid sort key: {sort_key}. It must be one of the following: {}.", SORT_KEYS.join(", "))));
        }
        let sort_dir = query.get("sort_dir").map(String::as_str).unwrap_or("desc");
        if sort_dir != "asc" && sort_dir != "desc" {
            return Err(GlanceError::BadRequest(format!("Invalid sort direction: {sort_dir}")));
        }
        if let Some(s) = query.get("status") {
            if !STATUSES.contains(&s.as_str()) {
                return Err(GlanceError::BadRequest(format!("Invalid status value: {s}")));
            }
        }
        if let Some(t) = query.get("type") {
            if t != "import" {
                return Err(GlanceError::BadRequest(format!("Invalid type value: {t}")));
            }
        }
        let limit = match query.get("limit") {
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n >= 0 => (n as usize).min(self.cfg.api_limit_max),
                Ok(_) => return Err(GlanceError::BadRequest("limit param must be positive".into())),
                Err(_) => return Err(GlanceError::BadRequest("limit param must be an integer".into())),
            },
            None => self.cfg.limit_param_default.min(self.cfg.api_limit_max),
        };
        let admin = self.is_admin(ctx);
        let mut tasks: Vec<Task> = tdb::task_list_live(&self.db, now())
            .await?
            .into_iter()
            .filter(|t| t.kind == "import")
            .filter(|t| admin || t.owner.as_deref() == ctx.project_id())
            .filter(|t| query.get("status").is_none_or(|s| &t.status == s))
            .collect();
        tasks.sort_by(|a, b| {
            let ord = match sort_key {
                "updated_at" => a.updated_at.cmp(&b.updated_at),
                "id" => a.id.cmp(&b.id),
                "status" => a.status.cmp(&b.status),
                "type" => a.kind.cmp(&b.kind),
                "owner" => a.owner.cmp(&b.owner),
                "expires_at" => a.expires_at.cmp(&b.expires_at),
                _ => a.created_at.cmp(&b.created_at),
            }
            .then_with(|| a.id.cmp(&b.id));
            if sort_dir == "desc" { ord.reverse() } else { ord }
        });
        if let Some(marker) = query.get("marker") {
            let at = tasks.iter().position(|t| &t.id == marker).ok_or_else(|| GlanceError::BadRequest(format!("Invalid marker. Task {marker} could not be found.")))?;
            tasks.drain(..=at);
        }
        let full = tasks.len() > limit;
        tasks.truncate(limit);
        let next_marker = if full { tasks.last().map(|t| t.id.clone()) } else { None };
        Ok(TaskPage { tasks, next_marker })
    }

    /// GET /v2/tasks/{id}
    pub async fn task_show(&self, ctx: &RequestContext, id: &str) -> Result<Task> {
        self.enforce_tasks_api(ctx, "get_task")?;
        let not_found = || GlanceError::NotFound(format!("Failed to find task {id}"));
        let task = tdb::task_get(&self.db, id).await?.ok_or_else(not_found)?;
        if !self.is_admin(ctx) && task.owner.as_deref() != ctx.project_id() {
            return Err(not_found());
        }
        Ok(task)
    }

    /// GET /v2/images/{id}/tasks: the import tasks of an image the caller may see.
    pub async fn image_tasks(&self, ctx: &RequestContext, image_id: &str) -> Result<Vec<Task>> {
        let (image, member) = self.image_for(ctx, image_id, "get_image").await?;
        self.enforce(ctx, "get_image", &self.image_target(&image, member.as_ref()))?;
        Ok(tdb::task_list_for_image(&self.db, image_id).await?)
    }

    /// After a crash: tasks that were running will never finish; say so.
    pub(crate) async fn fail_interrupted_tasks(&self) -> Result<()> {
        for mut t in tdb::task_list_unfinished(&self.db).await? {
            tracing::warn!(task = %t.id, "marking a task interrupted by a restart as failed");
            self.task_finish(&mut t, Err("Task was interrupted by a service restart; retry it.".into())).await;
        }
        Ok(())
    }
}
