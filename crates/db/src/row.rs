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
        self.decode::<String>(col)
    }

    pub fn opt_str(&self, col: &str) -> Result<Option<String>, DbError> {
        self.decode::<Option<String>>(col)
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
