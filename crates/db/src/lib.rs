//! The SQL layer every service uses: one connection pool per service database, chosen by the
//! `[database] connection` URL (SQLite by default, PostgreSQL or MariaDB/MySQL for multi-node),
//! SQL written once with `?` placeholders and rewritten per dialect, a writer lock that makes
//! SQLite transactions serialize instead of failing with "database is locked", and the
//! per-service migration runner (what `keystone-manage db_sync` and friends do).
//!
//! Conventions that keep one schema portable across the three engines: integers and booleans
//! are `BIGINT` (0/1), instants are `BIGINT` microseconds since the epoch, keys are
//! `VARCHAR(n)`, free text and JSON are `TEXT` (`{long_text}` in migrations becomes `LONGTEXT`
//! on MySQL), and nullable parts of unique keys use a sentinel instead of NULL.

pub mod migrate;
mod row;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions};
use sqlx::{AnyPool, Arguments};

pub use migrate::{Migration, MigrationError};
pub use row::Row;

/// Which SQL engine a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

/// Errors from the SQL layer. Unique-key violations are told apart because services turn them
/// into 409 Conflict.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL '{0}': use sqlite://, postgresql:// or mysql://")]
    UnsupportedUrl(String),
    #[error("duplicate entry: {0}")]
    Duplicate(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Sql(#[source] sqlx::Error),
    #[error("stored value of column '{column}' is not valid: {message}")]
    Decode { column: String, message: String },
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return DbError::Duplicate(d.message().to_string());
            }
        }
        DbError::Sql(e)
    }
}

/// One bound parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A NULL of text type (PostgreSQL checks a NULL parameter's type against the column).
    Null,
    /// A NULL of integer type.
    NullInt,
    NullReal,
    Int(i64),
    Real(f64),
    Text(String),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Self {
        Value::Text(s.clone())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}
impl From<usize> for Value {
    fn from(i: usize) -> Self {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Int(i64::from(b))
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Real(f)
    }
}
impl From<Option<String>> for Value {
    fn from(o: Option<String>) -> Self {
        o.map(Value::Text).unwrap_or(Value::Null)
    }
}
impl From<&Option<String>> for Value {
    fn from(o: &Option<String>) -> Self {
        o.clone().map(Value::Text).unwrap_or(Value::Null)
    }
}
impl From<Option<&str>> for Value {
    fn from(o: Option<&str>) -> Self {
        o.map(Value::from).unwrap_or(Value::Null)
    }
}
impl From<Option<i64>> for Value {
    fn from(o: Option<i64>) -> Self {
        o.map(Value::Int).unwrap_or(Value::NullInt)
    }
}
impl From<&Option<i64>> for Value {
    fn from(o: &Option<i64>) -> Self {
        o.map(Value::Int).unwrap_or(Value::NullInt)
    }
}
impl From<Option<bool>> for Value {
    fn from(o: Option<bool>) -> Self {
        o.map(Value::from).unwrap_or(Value::NullInt)
    }
}
impl From<Option<f64>> for Value {
    fn from(o: Option<f64>) -> Self {
        o.map(Value::Real).unwrap_or(Value::NullReal)
    }
}

/// Builds a parameter list: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { Vec::<$crate::Value>::new() };
    ($($v:expr),+ $(,)?) => { vec![$($crate::Value::from($v)),+] };
}

/// A service's database.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// SQLite allows one writer; holding this for every write makes writers queue in-process
    /// instead of failing (a deferred transaction cannot wait for the lock once it has read).
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Dialect {
    pub fn of_url(url: &str) -> Result<Dialect, DbError> {
        let scheme = url.split(':').next().unwrap_or("").split('+').next().unwrap_or("");
        match scheme {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(DbError::UnsupportedUrl(url.to_string())),
        }
    }

    /// Rewrites `?` placeholders to `$1, $2, ...` for PostgreSQL (outside quoted strings).
    pub fn rewrite<'a>(&self, sql: &'a str) -> std::borrow::Cow<'a, str> {
        if *self != Dialect::Postgres || !sql.contains('?') {
            return std::borrow::Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        let mut in_quote = false;
        for c in sql.chars() {
            match c {
                '\'' => {
                    in_quote = !in_quote;
                    out.push(c);
                }
                '?' if !in_quote => {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                }
                _ => out.push(c),
            }
        }
        std::borrow::Cow::Owned(out)
    }

    /// Applies the DDL substitutions of migrations.
    pub fn ddl(&self, sql: &str) -> String {
        let long_text = if *self == Dialect::MySql { "LONGTEXT" } else { "TEXT" };
        sql.replace("{long_text}", long_text)
    }
}

/// Normalizes oslo.db-style URLs (`mysql+pymysql://`, `postgresql+psycopg2://`, `sqlite:////abs`)
/// to what sqlx takes.
pub fn normalize_url(url: &str) -> Result<(String, Dialect), DbError> {
    let dialect = Dialect::of_url(url)?;
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    let url = match dialect {
        Dialect::Sqlite => {
            // oslo: sqlite:///relative or sqlite:////absolute; sqlx: sqlite://path
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let (path, query) = path.split_once('?').map(|(p, q)| (p, Some(q))).unwrap_or((path, None));
            let mut s = format!("sqlite://{path}");
            s.push_str(&format!("?{}", query.unwrap_or("mode=rwc")));
            s
        }
        Dialect::Postgres => format!("postgres://{rest}"),
        Dialect::MySql => {
            // drop oslo-only options like ?charset=utf8
            let rest = rest.split('?').next().unwrap_or(rest);
            format!("mysql://{rest}")
        }
    };
    Ok((url, dialect))
}

impl Db {
    /// Connects, creating the database first when the server has none of that name (as the
    /// all-in-one does for its per-service databases).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let (url, dialect) = normalize_url(url)?;
        if dialect != Dialect::Sqlite {
            create_database_if_missing(&url, dialect).await?;
        }
        let max = if dialect == Dialect::Sqlite { 8 } else { 16 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        use sqlx::Executor;
                        conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;").await?;
                    } else if dialect == Dialect::MySql {
                        use sqlx::Executor;
                        conn.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'").await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(DbError::Connect)?;
        let write_lock = (dialect == Dialect::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Db { pool, dialect, write_lock })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Runs a statement that changes rows; returns the number of rows affected.
    pub async fn exec(&self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        let _guard = match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let sql = self.dialect.rewrite(sql);
        let r = sqlx::query_with(&sql, bind(params)).execute(&self.pool).await?;
        Ok(r.rows_affected())
    }

    pub async fn fetch_all(&self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        let sql = self.dialect.rewrite(sql);
        let rows = sqlx::query_with(&sql, bind(params)).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Row::new).collect())
    }

    pub async fn fetch_optional(&self, sql: &str, params: Vec<Value>) -> Result<Option<Row>, DbError> {
        let sql = self.dialect.rewrite(sql);
        let row = sqlx::query_with(&sql, bind(params)).fetch_optional(&self.pool).await?;
        Ok(row.map(Row::new))
    }

    /// Starts a write transaction (serialized with other writers on SQLite).
    /// A transaction for reading only: several reads see one snapshot (SQLite's deferred
    /// transaction in WAL mode, the engine's for the servers) without queueing behind writers.
    pub async fn begin_read(&self) -> Result<Tx, DbError> {
        let tx = self.pool.begin().await?;
        Ok(Tx { tx, dialect: self.dialect, _guard: None })
    }

    pub async fn begin(&self) -> Result<Tx, DbError> {
        let guard = match &self.write_lock {
            Some(l) => Some(l.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(Tx { tx, dialect: self.dialect, _guard: guard })
    }

    /// Closes the pool (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A transaction: commit it, or drop it to roll back.
pub struct Tx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    dialect: Dialect,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Tx {
    pub async fn exec(&mut self, sql: &str, params: Vec<Value>) -> Result<u64, DbError> {
        let sql = self.dialect.rewrite(sql);
        let r = sqlx::query_with(&sql, bind(params)).execute(&mut *self.tx).await?;
        Ok(r.rows_affected())
    }

    pub async fn fetch_all(&mut self, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, DbError> {
        let sql = self.dialect.rewrite(sql);
        let rows = sqlx::query_with(&sql, bind(params)).fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(Row::new).collect())
    }

    pub async fn fetch_optional(&mut self, sql: &str, params: Vec<Value>) -> Result<Option<Row>, DbError> {
        let sql = self.dialect.rewrite(sql);
        let row = sqlx::query_with(&sql, bind(params)).fetch_optional(&mut *self.tx).await?;
        Ok(row.map(Row::new))
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Rolls back now. Dropping a `Tx` rolls back too, but only when the driver gets to it,
    /// after the SQLite writer lock is already released: the next writer, whose deferred
    /// transaction has begun reading, then finds the database locked (SQLITE_BUSY, which
    /// SQLite does not retry for a transaction that already reads). Writers that may fail
    /// after writing should call this.
    pub async fn rollback(self) -> Result<(), DbError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

fn bind(params: Vec<Value>) -> AnyArguments<'static> {
    let mut args = AnyArguments::default();
    for p in params {
        // Adding a value of a supported type cannot fail for the Any driver.
        let _ = match p {
            Value::Null => args.add(Option::<String>::None),
            Value::NullInt => args.add(Option::<i64>::None),
            Value::NullReal => args.add(Option::<f64>::None),
            Value::Int(i) => args.add(i),
            Value::Real(f) => args.add(f),
            Value::Text(s) => args.add(s),
        };
    }
    args
}

async fn create_database_if_missing(url: &str, dialect: Dialect) -> Result<(), DbError> {
    use sqlx::{Connection, Executor};
    let (server, name) = match url.rsplit_once('/') {
        Some((server, name)) if !name.is_empty() => (server, name.split('?').next().unwrap_or(name)),
        _ => return Ok(()),
    };
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Ok(());
    }
    let admin_url = match dialect {
        Dialect::Postgres => format!("{server}/postgres"),
        _ => server.to_string(),
    };
    let mut conn = match sqlx::AnyConnection::connect(&admin_url).await {
        Ok(c) => c,
        // Without rights on the server's admin database, assume the operator created ours.
        Err(_) => return Ok(()),
    };
    let exists = match dialect {
        Dialect::Postgres => {
            let q = format!("SELECT 1 FROM pg_database WHERE datname = '{name}'");
            conn.fetch_optional(q.as_str()).await.map_err(DbError::Connect)?.is_some()
        }
        _ => {
            let q = format!("SELECT SCHEMA_NAME FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = '{name}'");
            conn.fetch_optional(q.as_str()).await.map_err(DbError::Connect)?.is_some()
        }
    };
    if !exists {
        let q = match dialect {
            Dialect::Postgres => format!("CREATE DATABASE \"{name}\""),
            _ => format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"),
        };
        if let Err(e) = conn.execute(q.as_str()).await {
            tracing::warn!(database = name, error = %e, "could not create database");
        }
    }
    let _ = conn.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders() {
        assert_eq!(Dialect::Postgres.rewrite("a = ? AND b = '?' AND c = ?"), "a = $1 AND b = '?' AND c = $2");
        assert_eq!(Dialect::MySql.rewrite("a = ?"), "a = ?");
    }

    #[test]
    fn urls() {
        assert_eq!(normalize_url("sqlite:////var/lib/k.db").unwrap().0, "sqlite:///var/lib/k.db?mode=rwc");
        assert_eq!(normalize_url("mysql+pymysql://root@127.0.0.1/keystone?charset=utf8").unwrap().0, "mysql://root@127.0.0.1/keystone");
        assert_eq!(normalize_url("postgresql+psycopg2://u@h/k").unwrap().1, Dialect::Postgres);
        assert!(normalize_url("oracle://x").is_err());
    }

    #[tokio::test]
    async fn sqlite_roundtrip_and_duplicates() {
        let dir = std::env::temp_dir().join(format!("ferrostack-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite:///{}/t.db", dir.display());
        let db = Db::connect(&url).await.unwrap();
        let migs = [Migration { version: 1, name: "init", up: &["CREATE TABLE t (id VARCHAR(64) PRIMARY KEY, n BIGINT, s {long_text})"] }];
        migrate::run(&db, "test", &migs).await.unwrap();
        migrate::run(&db, "test", &migs).await.unwrap();
        db.exec("INSERT INTO t (id, n, s) VALUES (?, ?, ?)", params!["a", 1i64, Option::<String>::None]).await.unwrap();
        let e = db.exec("INSERT INTO t (id, n, s) VALUES (?, ?, ?)", params!["a", 2i64, "x"]).await.unwrap_err();
        assert!(matches!(e, DbError::Duplicate(_)));
        let mut tx = db.begin().await.unwrap();
        tx.exec("UPDATE t SET n = ? WHERE id = ?", params![true, "a"]).await.unwrap();
        drop(tx);
        let r = db.fetch_optional("SELECT id, n, s FROM t WHERE id = ?", params!["a"]).await.unwrap().unwrap();
        assert_eq!(r.i64("n").unwrap(), 1);
        assert_eq!(r.opt_str("s").unwrap(), None);
        assert!(r.bool("n").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
