//! Tenant export/import and per-person export: the format, alike on every backend.
//!
//! A **tenant export** is JSON lines (UTF-8, one JSON value per `\n`-terminated line):
//!
//! 1. a header object: `{"format":"cai-store-tenant","version":1,"schema":4,"tenant":"<32 hex>"}`
//!    — `version` is [`TENANT_FORMAT_VERSION`], `schema` the number of the newest
//!    migration of the store that wrote it ([`SCHEMA_VERSION`]);
//! 2. for every table of [`TABLES`], in that order (parents before children), a
//!    section object `{"table":"<name>","columns":["<col>",…]}` followed by one JSON
//!    array per row, its values in the order of `columns`: `BLOB`/`BYTEA` columns as
//!    standard base64 strings (with padding), `TEXT` as strings, integers as numbers,
//!    SQL `NULL` as `null`. The tenant column is left out of the rows (the header names
//!    the tenant); rows come in primary-key order;
//! 3. a trailer object `{"end":{"rows":<number of rows>}}`; nothing after it.
//!
//! Every row is exported exactly as stored — audit hashes, digests, personal parts,
//! checkpoints, ciphertext — so the audit chain verifies after an import and the
//! store never decrypts anything. A line is at most [`MAX_LINE`] bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cai_core::ports::StoreError;
use serde_json::Value;

/// The `format` of a tenant export's header.
pub const TENANT_FORMAT: &str = "cai-store-tenant";
/// The version of the tenant export format this build writes and reads.
pub const TENANT_FORMAT_VERSION: u64 = 1;
/// The `format` of a per-person export.
pub const PERSON_FORMAT: &str = "cai-store-person";
/// The version of the per-person export format this build writes.
pub const PERSON_FORMAT_VERSION: u64 = 1;
/// The schema (newest migration number) this build's stores have; an import takes an
/// export of exactly this schema.
pub const SCHEMA_VERSION: u64 = 5;
/// The longest line an import reads (16 MiB): a longer one is malformed input, so an
/// import never holds more than this of its input at a time.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// The SQL type of a column, as the export writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Bytes (`BLOB`/`BYTEA`), base64 in the export.
    Blob,
    /// Text, a JSON string.
    Text,
    /// A 64-bit integer, a JSON number.
    Int,
}

/// One column of an exported table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ColumnType,
    /// Whether it may be `NULL`.
    pub nullable: bool,
}

/// One exported table: its name, the column holding the tenant, its other columns
/// (in export order) and its primary key (the order of its rows).
#[derive(Clone, Copy, Debug)]
pub struct Table {
    /// The table.
    pub name: &'static str,
    /// The column with the tenant's id (`id` for `tenants`, `tenant` elsewhere).
    pub tenant_column: &'static str,
    /// Every other column, in the order the rows list them.
    pub columns: &'static [Column],
    /// The primary key columns after the tenant column.
    pub key: &'static str,
}

const fn c(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
    }
}

const fn n(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
    }
}

use ColumnType::{Blob, Int, Text};

/// Every table of a tenant, parents before the children that reference them.
pub const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        tenant_column: "id",
        columns: &[c("revision", Int), c("body", Text)],
        key: "id",
    },
    Table {
        name: "accounts",
        tenant_column: "tenant",
        columns: &[
            c("id", Blob),
            n("email", Text),
            n("pseudonymise_at", Int),
            c("revision", Int),
            c("body", Text),
        ],
        key: "id",
    },
    Table {
        name: "account_roles",
        tenant_column: "tenant",
        columns: &[c("account", Blob), c("position", Int), c("role", Blob)],
        key: "account, position",
    },
    Table {
        name: "guests",
        tenant_column: "tenant",
        columns: &[c("id", Blob), c("session", Blob), c("body", Text)],
        key: "id",
    },
    Table {
        name: "roles",
        tenant_column: "tenant",
        columns: &[c("id", Blob), c("revision", Int), c("body", Text)],
        key: "id",
    },
    Table {
        name: "groups",
        tenant_column: "tenant",
        columns: &[c("id", Blob), c("revision", Int), c("body", Text)],
        key: "id",
    },
    Table {
        name: "group_members",
        tenant_column: "tenant",
        columns: &[c("grp", Blob), c("position", Int), c("account", Blob)],
        key: "grp, position",
    },
    Table {
        name: "sessions",
        tenant_column: "tenant",
        columns: &[c("id", Blob), c("revision", Int), c("body", Text)],
        key: "id",
    },
    Table {
        name: "session_groups",
        tenant_column: "tenant",
        columns: &[c("session", Blob), c("position", Int), c("grp", Blob)],
        key: "session, position",
    },
    Table {
        name: "participants",
        tenant_column: "tenant",
        columns: &[c("session", Blob), c("subject", Blob), c("body", Text)],
        key: "session, subject",
    },
    Table {
        name: "invitations",
        tenant_column: "tenant",
        columns: &[
            c("id", Blob),
            c("session", Blob),
            c("created_by", Blob),
            c("secret_hash", Blob),
            n("address_binding", Blob),
            c("revision", Int),
            c("body", Text),
        ],
        key: "id",
    },
    Table {
        name: "rooms",
        tenant_column: "tenant",
        columns: &[
            c("id", Blob),
            c("password", Blob),
            c("revision", Int),
            c("body", Text),
        ],
        key: "id",
    },
    Table {
        name: "items",
        tenant_column: "tenant",
        columns: &[
            c("id", Blob),
            c("session", Blob),
            c("kind", Int),
            c("author", Blob),
            c("created_at", Int),
            c("latest_version", Int),
            n("blob", Blob),
        ],
        key: "id",
    },
    Table {
        name: "versions",
        tenant_column: "tenant",
        columns: &[
            c("item", Blob),
            c("version", Int),
            c("session", Blob),
            c("author", Blob),
            c("created_at", Int),
            c("key_epoch", Int),
            c("body", Blob),
        ],
        key: "item, version",
    },
    Table {
        name: "custody",
        tenant_column: "tenant",
        columns: &[c("session", Blob), c("epoch", Int), c("custody", Blob)],
        key: "session, epoch",
    },
    Table {
        name: "history_grants",
        tenant_column: "tenant",
        columns: &[
            c("session", Blob),
            c("recipient", Blob),
            c("granted_by", Blob),
            c("at", Int),
            c("grant_bytes", Blob),
        ],
        key: "session, recipient",
    },
    Table {
        name: "e2e_epochs",
        tenant_column: "tenant",
        columns: &[
            c("session", Blob),
            c("epoch", Int),
            c("commit_bytes", Blob),
            c("record", Blob),
            n("welcome", Blob),
            c("grp", Blob),
            c("committed_by", Blob),
            c("at", Int),
        ],
        key: "session, epoch",
    },
    Table {
        name: "key_packages",
        tenant_column: "tenant",
        columns: &[
            c("owner", Blob),
            c("reference", Blob),
            c("device", Blob),
            c("last_resort", Int),
            c("package", Blob),
            c("published_at", Int),
        ],
        key: "owner, reference",
    },
    Table {
        name: "key_backups",
        tenant_column: "tenant",
        columns: &[c("account", Blob), c("backup", Blob)],
        key: "account",
    },
    Table {
        name: "credentials",
        tenant_column: "tenant",
        columns: &[
            c("account", Blob),
            c("kind", Int),
            c("data", Blob),
            c("updated_at", Int),
            c("revision", Int),
        ],
        key: "account, kind",
    },
    Table {
        name: "sequences",
        tenant_column: "tenant",
        columns: &[c("name", Text), c("last", Int)],
        key: "name",
    },
    Table {
        name: "audit_events",
        tenant_column: "tenant",
        columns: &[
            c("seq", Int),
            c("id", Blob),
            c("body", Text),
            n("at", Int),
            n("subject", Blob),
            n("about", Blob),
            n("detail", Blob),
            n("detail_digest", Blob),
            n("origin", Blob),
            n("origin_digest", Blob),
            n("hash", Blob),
            n("kind", Text),
        ],
        key: "seq",
    },
    Table {
        name: "audit_checkpoints",
        tenant_column: "tenant",
        columns: &[
            c("seq", Int),
            c("head", Blob),
            c("at", Int),
            c("key", Blob),
            c("signature", Blob),
        ],
        key: "seq",
    },
    Table {
        name: "incidents",
        tenant_column: "tenant",
        columns: &[c("seq", Int), c("id", Blob), c("body", Text)],
        key: "seq",
    },
    Table {
        name: "notifications",
        tenant_column: "tenant",
        columns: &[
            c("seq", Int),
            c("event", Blob),
            c("delivered", Int),
            n("body", Text),
        ],
        key: "seq",
    },
];

/// A failed tenant export or import. Malformed input is always one of these, never a
/// panic; nothing of a failed import stays in the store (it is one transaction).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// Reading the input or writing the output failed.
    #[error("export/import I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The store failed (or holds a row it cannot export).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input is not a tenant export (or not of a format this build knows).
    #[error("not a tenant export")]
    NotAnExport,
    /// The export's format version is one this build does not read (newer).
    #[error("export format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The export's version.
        found: u64,
        /// The version this build reads.
        supported: u64,
    },
    /// The export was written by a store with another schema (migration number).
    #[error("export of schema {found}, this build's schema is {expected}")]
    SchemaMismatch {
        /// The export's schema.
        found: u64,
        /// This build's schema.
        expected: u64,
    },
    /// The store already holds rows of the export's tenant.
    #[error("the tenant already exists in this store")]
    TenantExists,
    /// A line of the input is malformed (1-based line number and what is wrong).
    #[error("malformed export at line {line}: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The input ended before the trailer.
    #[error("the export is truncated")]
    Truncated,
}

/// One value of a row, typed by its column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Blob(Option<Vec<u8>>),
    Text(Option<String>),
    Int(Option<i64>),
}

impl Cell {
    /// The value as JSON: base64 for bytes.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Blob(Some(b)) => Value::String(STANDARD.encode(b)),
            Self::Text(Some(s)) => Value::String(s.clone()),
            Self::Int(Some(i)) => Value::from(*i),
            Self::Blob(None) | Self::Text(None) | Self::Int(None) => Value::Null,
        }
    }

    /// The value of `column` from its JSON form; `None` when it does not fit.
    pub(crate) fn from_json(column: &Column, v: &Value) -> Option<Self> {
        if v.is_null() {
            if !column.nullable {
                return None;
            }
            return Some(match column.ty {
                Blob => Self::Blob(None),
                Text => Self::Text(None),
                Int => Self::Int(None),
            });
        }
        Some(match column.ty {
            Blob => Self::Blob(Some(STANDARD.decode(v.as_str()?).ok()?)),
            Text => Self::Text(Some(v.as_str()?.to_owned())),
            Int => Self::Int(Some(v.as_i64()?)),
        })
    }
}

/// The header line of a tenant export.
pub(crate) fn header(tenant: &cai_core::id::TenantId) -> Value {
    serde_json::json!({
        "format": TENANT_FORMAT,
        "version": TENANT_FORMAT_VERSION,
        "schema": SCHEMA_VERSION,
        "tenant": hex::encode(tenant.as_bytes()),
    })
}

/// The tenant named by a header line, after checking format, version and schema.
pub(crate) fn parse_header(line: &[u8]) -> Result<cai_core::id::TenantId, TransferError> {
    let v: Value = serde_json::from_slice(line).map_err(|_| TransferError::NotAnExport)?;
    if v.get("format").and_then(Value::as_str) != Some(TENANT_FORMAT) {
        return Err(TransferError::NotAnExport);
    }
    let version = v
        .get("version")
        .and_then(Value::as_u64)
        .ok_or(TransferError::NotAnExport)?;
    if version != TENANT_FORMAT_VERSION {
        return Err(TransferError::UnsupportedVersion {
            found: version,
            supported: TENANT_FORMAT_VERSION,
        });
    }
    let schema = v
        .get("schema")
        .and_then(Value::as_u64)
        .ok_or(TransferError::NotAnExport)?;
    if schema != SCHEMA_VERSION {
        return Err(TransferError::SchemaMismatch {
            found: schema,
            expected: SCHEMA_VERSION,
        });
    }
    let tenant = v
        .get("tenant")
        .and_then(Value::as_str)
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or(TransferError::Malformed {
            line: 1,
            reason: "the tenant is not 16 bytes in hex",
        })?;
    Ok(cai_core::id::TenantId::from_bytes(tenant))
}

/// Reads one line (without its `\n`) into `buf`; `false` at the end of the input.
/// A line longer than [`MAX_LINE`] is malformed; a last line without `\n` is
/// truncated.
pub(crate) fn read_line<R: std::io::BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    line: u64,
) -> Result<bool, TransferError> {
    use std::io::{BufRead as _, Read as _};
    buf.clear();
    let limit = u64::try_from(MAX_LINE)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let read = reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(false);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            TransferError::Malformed {
                line,
                reason: "the line is too long",
            }
        } else {
            TransferError::Truncated
        });
    }
    buf.pop();
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn cells_round_trip_and_refuse_what_does_not_fit() {
        let blob = c("x", Blob);
        let cell = Cell::Blob(Some(vec![0, 1, 255]));
        assert_eq!(Cell::from_json(&blob, &cell.to_json()).unwrap(), cell);
        assert!(Cell::from_json(&blob, &Value::Null).is_none());
        assert!(Cell::from_json(&blob, &Value::from("%%")).is_none());
        assert!(Cell::from_json(&blob, &Value::from(3)).is_none());
        let int = n("i", Int);
        assert_eq!(
            Cell::from_json(&int, &Value::Null).unwrap(),
            Cell::Int(None)
        );
        assert!(Cell::from_json(&int, &Value::from(1.5)).is_none());
        assert!(Cell::from_json(&int, &Value::from(u64::MAX)).is_none());
        let text = c("t", Text);
        assert!(Cell::from_json(&text, &Value::from(1)).is_none());
    }

    #[test]
    fn headers_are_checked() {
        let t = cai_core::id::TenantId::from_bytes([7; 16]);
        let line = serde_json::to_vec(&header(&t)).unwrap();
        assert_eq!(parse_header(&line).unwrap(), t);
        let newer = String::from_utf8(line)
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        assert!(matches!(
            parse_header(newer.as_bytes()),
            Err(TransferError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(matches!(
            parse_header(b"{\"format\":\"x\"}"),
            Err(TransferError::NotAnExport)
        ));
        assert!(matches!(
            parse_header(b"\xff"),
            Err(TransferError::NotAnExport)
        ));
    }

    #[test]
    fn long_and_unterminated_lines_are_refused() {
        let mut buf = Vec::new();
        let mut r: &[u8] = b"ab\ncd";
        assert!(read_line(&mut r, &mut buf, 1).unwrap());
        assert_eq!(buf, b"ab");
        assert!(matches!(
            read_line(&mut r, &mut buf, 2),
            Err(TransferError::Truncated)
        ));
        let long = vec![b'x'; MAX_LINE + 2];
        let mut r: &[u8] = &long;
        assert!(matches!(
            read_line(&mut r, &mut buf, 1),
            Err(TransferError::Malformed { line: 1, .. })
        ));
        let mut r: &[u8] = b"";
        assert!(!read_line(&mut r, &mut buf, 1).unwrap());
        // The documented limit, exactly: 16 MiB is a line, one byte more is not.
        assert_eq!(MAX_LINE, 16 << 20);
        let mut exact = vec![b'x'; MAX_LINE];
        let mut r: &[u8] = &exact;
        assert!(matches!(
            read_line(&mut r, &mut buf, 1),
            Err(TransferError::Truncated)
        ));
        exact.push(b'\n');
        let mut r: &[u8] = &exact;
        assert!(read_line(&mut r, &mut buf, 1).unwrap());
        assert_eq!(buf.len(), MAX_LINE);
    }
}
