//! Online backup and restore of a SQLite store (R-O2).
//!
//! [`SqliteStore::backup_to`] writes a consistent copy of the whole database with
//! `VACUUM INTO` on a reader connection: one read snapshot (WAL mode), so batches go
//! on meanwhile and the copy holds every batch that committed before the snapshot
//! and none after it — each batch all or nothing. The copy is compact, holds no
//! free pages (so nothing erased lingers in it) and no write-ahead log of its own.
//!
//! [`SqliteStore::restore_from`] copies a backup to a new file and opens it like any
//! store: the migrations of this build are applied (a backup of an older build is
//! upgraded on the copy, never on the backup itself), and SQLite's integrity check
//! must pass. Opening a backup file directly with [`SqliteStore::open`] works too, but
//! writes into it: a restore keeps the backup unchanged for the next restore.

use std::path::{Path, PathBuf};

use super::SqliteStore;
use crate::OpenError;

/// A failed backup or restore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The target file exists already: a backup or restore never overwrites one.
    #[error("{0} exists already")]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("backup I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The database refused the backup (`VACUUM INTO`) or the integrity check.
    #[error("backup failed in the database: {0}")]
    Database(#[from] sqlx::Error),
    /// The restored copy could not be opened as a store (migrations, upgrade).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The restored copy fails SQLite's integrity check (`PRAGMA integrity_check`).
    #[error("the backup is damaged: {0}")]
    Damaged(String),
}

impl SqliteStore {
    /// Writes a consistent copy of the database to `path` while writes go on (see the
    /// module docs). `path` must not exist ([`BackupError::Exists`]); its directory
    /// must. The copy is a plain SQLite database of this build's schema.
    pub async fn backup_to(&self, path: impl AsRef<Path>) -> Result<(), BackupError> {
        let path = path.as_ref();
        if path.exists() {
            return Err(BackupError::Exists(path.to_path_buf()));
        }
        let target = path
            .to_str()
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the backup path is not UTF-8",
                )
            })?
            .to_owned();
        // SQLite itself refuses a target that exists and is not empty, should one
        // appear between the check above and here.
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.readers)
            .await?;
        Ok(())
    }

    /// Restores the backup at `backup` into a new database file at `target` (which
    /// must not exist: [`BackupError::Exists`]) and opens it: this build's migrations
    /// are applied to the copy and SQLite's integrity check must pass. The backup file
    /// is left unchanged.
    pub async fn restore_from(
        backup: impl AsRef<Path>,
        target: impl AsRef<Path>,
    ) -> Result<Self, BackupError> {
        let target = target.as_ref();
        let copy = {
            let mut from = std::fs::File::open(backup.as_ref())?;
            let mut to = match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(target)
            {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(BackupError::Exists(target.to_path_buf()));
                }
                Err(e) => return Err(e.into()),
            };
            std::io::copy(&mut from, &mut to).and_then(|_| to.sync_all())
        };
        if let Err(e) = copy {
            // A partial copy is no database: removed, so a retry can use the name.
            let _removed = std::fs::remove_file(target);
            return Err(e.into());
        }
        let store = Self::open(target).await?;
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&store.readers)
            .await?;
        if check != "ok" {
            store.close().await;
            return Err(BackupError::Damaged(check));
        }
        Ok(store)
    }
}
