//! Errors of opening a store. Failures of the ports themselves are cai-core's
//! [`StoreError`](cai_core::ports::StoreError).

/// Opening a database failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The database could not be opened or configured (path, permissions, locks).
    #[error("cannot open the database: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied (e.g. the database has a newer
    /// schema than this build knows).
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A PostgreSQL schema name that is not a plain lower-case identifier (see
    /// `postgres::SchemaName`).
    #[error("not a valid schema name")]
    SchemaName,
    /// Data written by an earlier version could not be brought up to this one (for
    /// example chaining audit entries written before the audit chain existed).
    #[error("cannot upgrade the stored data: {0}")]
    Upgrade(#[source] cai_core::ports::StoreError),
}
