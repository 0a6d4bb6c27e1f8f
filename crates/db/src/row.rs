//! Typed access to a result row, with errors that name the column.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use crate::DbError;

/// A row of a query result.
pub struct Row(AnyRow);

impl Row {
    pub(crate) fn new(r: AnyRow) -> Self {
        Row(r)
    }

    fn decode<T>(&self, col: &str) -> Result<T, DbError>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        self.0.try_get_unchecked::<T, _>(col).map_err(|e| DbError::Decode { column: col.to_string(), message: e.to_string() })
    }

    pub fn str(&self, col: &str) -> Result<String, DbError> {
        self.opt_str(col)?.ok_or_else(|| DbError::Decode { column: col.to_string(), message: "unexpected NULL".into() })
    }

    /// Text, also when the engine reports it as bytes (MySQL/MariaDB do for TEXT columns with
    /// a binary collation such as utf8mb4_bin).
    pub fn opt_str(&self, col: &str) -> Result<Option<String>, DbError> {
        match self.decode::<Option<String>>(col) {
            Ok(v) => Ok(v),
            Err(text_err) => match self.decode::<Option<Vec<u8>>>(col) {
                Ok(Some(bytes)) => String::from_utf8(bytes).map(Some).map_err(|e| DbError::Decode { column: col.to_string(), message: e.to_string() }),
                Ok(None) => Ok(None),
                Err(_) => Err(text_err),
            },
        }
    }

    pub fn i64(&self, col: &str) -> Result<i64, DbError> {
        self.decode::<i64>(col)
    }

    pub fn opt_i64(&self, col: &str) -> Result<Option<i64>, DbError> {
        self.decode::<Option<i64>>(col)
    }

    pub fn f64(&self, col: &str) -> Result<f64, DbError> {
        self.decode::<f64>(col)
    }

    /// A boolean stored as an integer 0/1.
    pub fn bool(&self, col: &str) -> Result<bool, DbError> {
        Ok(self.i64(col)? != 0)
    }

    pub fn opt_bool(&self, col: &str) -> Result<Option<bool>, DbError> {
        Ok(self.opt_i64(col)?.map(|v| v != 0))
    }
}
