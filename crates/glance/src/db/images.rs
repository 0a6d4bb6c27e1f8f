//! Images, their properties, tags and members (glance/db/sqlalchemy/api.py).

use std::collections::BTreeMap;

use db::{params, Db, DbError, Row};

/// An image record (what the API shows, minus rendering).
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    /// Where the data is in the store (`file:///...`), never shown to users.
    pub location: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub properties: BTreeMap<String, String>,
    pub tags: Vec<String>,
}

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub image_id: String,
    pub member: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, status, visibility, protected, os_hidden, owner, disk_format, container_format, size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, location, created_at, updated_at";

fn from_row(r: &Row) -> Result<Image, DbError> {
    Ok(Image {
        id: r.str("id")?,
        name: r.opt_str("name")?,
        status: r.str("status")?,
        visibility: r.str("visibility")?,
        protected: r.bool("protected")?,
        os_hidden: r.bool("os_hidden")?,
        owner: r.opt_str("owner")?,
        disk_format: r.opt_str("disk_format")?,
        container_format: r.opt_str("container_format")?,
        size: r.opt_i64("size")?,
        virtual_size: r.opt_i64("virtual_size")?,
        checksum: r.opt_str("checksum")?,
        os_hash_algo: r.opt_str("os_hash_algo")?,
        os_hash_value: r.opt_str("os_hash_value")?,
        min_disk: r.i64("min_disk")?,
        min_ram: r.i64("min_ram")?,
        location: r.opt_str("location")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
        properties: BTreeMap::new(),
        tags: vec![],
    })
}

async fn decorate(db: &mut db::Tx, mut images: Vec<Image>) -> Result<Vec<Image>, DbError> {
    if images.is_empty() {
        return Ok(images);
    }
    let mut props: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if images.len() == 1 {
        let id = images[0].id.clone();
        for r in db.fetch_all("SELECT image_id, name, value FROM image_property WHERE image_id = ?", params![&id]).await? {
            props.entry(r.str("image_id")?).or_default().insert(r.str("name")?, r.opt_str("value")?.unwrap_or_default());
        }
        for r in db.fetch_all("SELECT image_id, value FROM image_tag WHERE image_id = ? ORDER BY value", params![&id]).await? {
            tags.entry(r.str("image_id")?).or_default().push(r.str("value")?);
        }
    } else {
        for r in db.fetch_all("SELECT p.image_id, p.name, p.value FROM image_property p JOIN image i ON i.id = p.image_id WHERE i.deleted = 0", params![]).await? {
            props.entry(r.str("image_id")?).or_default().insert(r.str("name")?, r.opt_str("value")?.unwrap_or_default());
        }
        for r in db.fetch_all("SELECT t.image_id, t.value FROM image_tag t JOIN image i ON i.id = t.image_id WHERE i.deleted = 0 ORDER BY t.value", params![]).await? {
            tags.entry(r.str("image_id")?).or_default().push(r.str("value")?);
        }
    }
    for i in &mut images {
        i.properties = props.remove(&i.id).unwrap_or_default();
        i.tags = tags.remove(&i.id).unwrap_or_default();
    }
    Ok(images)
}

/// A live (not deleted) image.
pub async fn image_get(db: &Db, id: &str) -> Result<Option<Image>, DbError> {
    // One transaction, so the row and its properties are one snapshot: a reader never sees
    // an import's result properties beside the status from before it (SQLite, WAL).
    let mut tx = db.begin_read().await?;
    let sql = format!("SELECT {COLUMNS} FROM image WHERE id = ? AND deleted = 0");
    let image = match tx.fetch_optional(&sql, params![id]).await? {
        Some(r) => decorate(&mut tx, vec![from_row(&r)?]).await?.pop(),
        None => None,
    };
    tx.rollback().await?;
    Ok(image)
}

/// Every live image (filtering, visibility and paging are applied by the caller).
pub async fn image_list_all(db: &Db) -> Result<Vec<Image>, DbError> {
    let mut tx = db.begin_read().await?;
    let sql = format!("SELECT {COLUMNS} FROM image WHERE deleted = 0");
    let rows = tx.fetch_all(&sql, params![]).await?;
    let images = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let images = decorate(&mut tx, images).await?;
    tx.rollback().await?;
    Ok(images)
}

pub async fn image_create(db: &Db, i: &Image) -> Result<(), DbError> {
    let mut tx = db.begin().await?;
    tx.exec(
        &format!("INSERT INTO image ({COLUMNS}, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"),
        params![
            &i.id, &i.name, &i.status, &i.visibility, i.protected, i.os_hidden, &i.owner, &i.disk_format, &i.container_format, i.size, i.virtual_size,
            &i.checksum, &i.os_hash_algo, &i.os_hash_value, i.min_disk, i.min_ram, &i.location, i.created_at, i.updated_at
        ],
    )
    .await?;
    write_children(&mut tx, i).await?;
    tx.commit().await
}

async fn write_children(tx: &mut db::Tx, i: &Image) -> Result<(), DbError> {
    tx.exec("DELETE FROM image_property WHERE image_id = ?", params![&i.id]).await?;
    tx.exec("DELETE FROM image_tag WHERE image_id = ?", params![&i.id]).await?;
    for (k, v) in &i.properties {
        tx.exec("INSERT INTO image_property (image_id, name, value) VALUES (?, ?, ?)", params![&i.id, k, v]).await?;
    }
    for t in &i.tags {
        tx.exec("INSERT INTO image_tag (image_id, value) VALUES (?, ?)", params![&i.id, t]).await?;
    }
    Ok(())
}

/// Writes every attribute of `i`, but only if the stored status is still `expected_status`
/// (so two uploads, or an upload and a delete, cannot both win). Returns whether it applied.
pub async fn image_update_if_status(db: &Db, i: &Image, expected_status: &str) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let n = tx
        .exec(
            "UPDATE image SET name = ?, status = ?, visibility = ?, protected = ?, os_hidden = ?, owner = ?, disk_format = ?, container_format = ?, size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?, min_disk = ?, min_ram = ?, location = ?, updated_at = ? WHERE id = ? AND deleted = 0 AND status = ?",
            params![
                &i.name, &i.status, &i.visibility, i.protected, i.os_hidden, &i.owner, &i.disk_format, &i.container_format, i.size, i.virtual_size,
                &i.checksum, &i.os_hash_algo, &i.os_hash_value, i.min_disk, i.min_ram, &i.location, i.updated_at, &i.id, expected_status
            ],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    write_children(&mut tx, i).await?;
    tx.commit().await?;
    Ok(true)
}

/// Soft-deletes an image and its members.
pub async fn image_delete(db: &Db, id: &str, now: i64) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let n = tx.exec("UPDATE image SET deleted = 1, status = 'deleted', deleted_at = ?, updated_at = ? WHERE id = ? AND deleted = 0", params![now, now, id]).await?;
    tx.exec("DELETE FROM image_member WHERE image_id = ?", params![id]).await?;
    tx.commit().await?;
    Ok(n)
}

fn member_from_row(r: &Row) -> Result<Member, DbError> {
    Ok(Member {
        image_id: r.str("image_id")?,
        member: r.str("member")?,
        status: r.str("status")?,
        created_at: r.i64("created_at")?,
        updated_at: r.i64("updated_at")?,
    })
}

pub async fn member_list(db: &Db, image_id: &str) -> Result<Vec<Member>, DbError> {
    db.fetch_all("SELECT image_id, member, status, created_at, updated_at FROM image_member WHERE image_id = ? ORDER BY created_at", params![image_id])
        .await?
        .iter()
        .map(member_from_row)
        .collect()
}

/// Memberships of one project (for listing images shared with it).
pub async fn member_list_for_project(db: &Db, project_id: &str) -> Result<Vec<Member>, DbError> {
    db.fetch_all("SELECT image_id, member, status, created_at, updated_at FROM image_member WHERE member = ?", params![project_id])
        .await?
        .iter()
        .map(member_from_row)
        .collect()
}

pub async fn member_get(db: &Db, image_id: &str, member: &str) -> Result<Option<Member>, DbError> {
    db.fetch_optional("SELECT image_id, member, status, created_at, updated_at FROM image_member WHERE image_id = ? AND member = ?", params![image_id, member])
        .await?
        .as_ref()
        .map(member_from_row)
        .transpose()
}

pub async fn member_create(db: &Db, m: &Member) -> Result<(), DbError> {
    db.exec(
        "INSERT INTO image_member (image_id, member, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        params![&m.image_id, &m.member, &m.status, m.created_at, m.updated_at],
    )
    .await?;
    Ok(())
}

pub async fn member_update(db: &Db, m: &Member) -> Result<(), DbError> {
    db.exec("UPDATE image_member SET status = ?, updated_at = ? WHERE image_id = ? AND member = ?", params![&m.status, m.updated_at, &m.image_id, &m.member]).await?;
    Ok(())
}

pub async fn member_delete(db: &Db, image_id: &str, member: &str) -> Result<u64, DbError> {
    db.exec("DELETE FROM image_member WHERE image_id = ? AND member = ?", params![image_id, member]).await
}
