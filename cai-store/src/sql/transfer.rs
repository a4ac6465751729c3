//! Tenant export/import and per-person export on this backend (the format is
//! [`crate::transfer`]'s). The SQL texts are built from the constant table list of
//! that module, never from input; every value is a bound parameter.

use std::io::{BufRead, Write};

use cai_core::id::{AccountId, SubjectId, TenantId};
use cai_core::ports::{StoreError, StoreResult};
use futures_util::TryStreamExt as _;
use serde_json::{Map, Value, json};
use sqlx::Row as _;

use super::Engine;
use super::codec::{IdBlob, Row, corrupt, db_error, query, subject_blob};
use crate::transfer::{
    Cell, Column, ColumnType, PERSON_FORMAT, PERSON_FORMAT_VERSION, TABLES, Table, TransferError,
    header, parse_header, read_line,
};

const EXPORT: &str = "exported row";

/// The value of `column` in `row`.
fn cell_of(row: &Row, column: &Column) -> StoreResult<Cell> {
    let e = |e| db_error(e, EXPORT);
    Ok(match column.ty {
        ColumnType::Blob => Cell::Blob(row.try_get(column.name).map_err(e)?),
        ColumnType::Text => Cell::Text(row.try_get(column.name).map_err(e)?),
        ColumnType::Int => Cell::Int(row.try_get(column.name).map_err(e)?),
    })
}

fn names(columns: &[Column]) -> Vec<&'static str> {
    columns.iter().map(|c| c.name).collect()
}

fn select_sql(table: &Table, columns: &[Column], filter: &str) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} = ?{} ORDER BY {}",
        names(columns).join(", "),
        table.name,
        table.tenant_column,
        filter,
        table.key
    )
}

fn write_line<W: Write>(out: &mut W, v: &Value) -> Result<(), TransferError> {
    serde_json::to_writer(&mut *out, v).map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

fn malformed(line: u64, reason: &'static str) -> TransferError {
    TransferError::Malformed { line, reason }
}

/// Whether `line` is the section header of `table`, exactly.
fn is_section(line: &[u8], table: &Table) -> bool {
    let Ok(v) = serde_json::from_slice::<Value>(line) else {
        return false;
    };
    v == json!({"table": table.name, "columns": names(table.columns)})
}

impl Engine {
    /// Writes every row of `tenant` to `out` as a tenant export (format: see
    /// [`crate::transfer`]), from one snapshot of the database, a row at a time
    /// (memory stays bounded by the largest row). Returns the number of rows. Writes
    /// continue meanwhile; the export is the state of one moment.
    pub async fn export_tenant<W: Write + Send>(
        &self,
        tenant: TenantId,
        out: &mut W,
    ) -> Result<u64, TransferError> {
        let mut tx = self.begin_read().await?;
        write_line(out, &header(&tenant))?;
        let mut rows = 0_u64;
        for table in TABLES {
            write_line(
                out,
                &json!({"table": table.name, "columns": names(table.columns)}),
            )?;
            let sql = select_sql(table, table.columns, "");
            let mut stream = query(&sql).bind(tenant.blob()).fetch(&mut *tx);
            while let Some(row) = stream.try_next().await.map_err(|e| db_error(e, EXPORT))? {
                let cells = table
                    .columns
                    .iter()
                    .map(|c| cell_of(&row, c).map(|cell| cell.to_json()))
                    .collect::<StoreResult<Vec<Value>>>()?;
                write_line(out, &Value::Array(cells))?;
                rows = rows.saturating_add(1);
            }
        }
        write_line(out, &json!({"end": {"rows": rows}}))?;
        out.flush()?;
        Ok(rows)
    }

    /// Reads a tenant export from `input` into this store, in one batch transaction:
    /// all of it or, on any error, nothing. Refuses (in this order) an input that is
    /// not an export ([`TransferError::NotAnExport`]), a newer format
    /// ([`TransferError::UnsupportedVersion`]), another schema
    /// ([`TransferError::SchemaMismatch`]), a tenant this store already holds any row
    /// of ([`TransferError::TenantExists`]), then any malformed line (also a record
    /// naming another tenant)
    /// ([`TransferError::Malformed`]) or missing trailer ([`TransferError::Truncated`]).
    /// Reads a line at a time (at most [`MAX_LINE`](crate::transfer::MAX_LINE) bytes).
    /// Returns the tenant.
    pub async fn import_tenant<R: BufRead + Send>(
        &self,
        input: &mut R,
    ) -> Result<TenantId, TransferError> {
        let mut buf = Vec::new();
        if !read_line(input, &mut buf, 1)? {
            return Err(TransferError::NotAnExport);
        }
        let tenant = parse_header(&buf)?;
        let mut tx = self.begin_write().await?;
        let result = import_rows(&mut tx, tenant, input, &mut buf).await;
        match result {
            Ok(()) => {
                tx.commit().await.map_err(StoreError::backend)?;
                Ok(tenant)
            }
            Err(e) => {
                // As in a failed batch: roll back now so the next batch does not wait.
                let _rolled_back = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// The personal data the store holds of `account` in `tenant`, as a per-person
    /// export (GDPR art. 15/20; shape in `docs/STORE.md`, "Per-person export"): the
    /// account, its roles and groups, the sessions it takes part in, invitations it
    /// created, content it authored (sealed, as stored), audit entries by or about it,
    /// key package metadata, and only the kinds and dates of its credentials. A
    /// store-level operation for an operator's flow: the caller authorizes.
    pub async fn export_person(&self, tenant: TenantId, account: AccountId) -> StoreResult<Value> {
        let mut tx = self.begin_read().await?;
        let subject = subject_blob(SubjectId::Account(account));
        let mut sections = Map::new();
        for section in PERSON_SECTIONS {
            let table = TABLES
                .iter()
                .find(|t| t.name == section.table)
                .ok_or(corrupt(EXPORT))?;
            let columns: Vec<Column> = section
                .columns
                .iter()
                .map(|name| {
                    table
                        .columns
                        .iter()
                        .find(|c| c.name == *name)
                        .copied()
                        .ok_or(corrupt(EXPORT))
                })
                .collect::<StoreResult<_>>()?;
            let sql = select_sql(table, &columns, section.filter);
            let mut q = query(&sql).bind(tenant.blob());
            for param in section.params {
                q = match param {
                    Param::Tenant => q.bind(tenant.blob()),
                    Param::Account => q.bind(account.blob()),
                    Param::Subject => q.bind(subject.as_slice()),
                };
            }
            let rows = q
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| db_error(e, EXPORT))?;
            let mut list = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut object = Map::new();
                for column in &columns {
                    let value = match cell_of(row, column)? {
                        // Record bodies are JSON: embedded as JSON, not as a string.
                        Cell::Text(Some(text)) if column.name == "body" => {
                            serde_json::from_str(&text).unwrap_or(Value::String(text))
                        }
                        // Audit parts are stored as 16 bytes of salt ‖ JSON: the JSON.
                        Cell::Blob(Some(bytes))
                            if matches!(column.name, "detail" | "origin")
                                && section.table == "audit_events" =>
                        {
                            bytes
                                .get(16..)
                                .and_then(|json| serde_json::from_slice(json).ok())
                                .unwrap_or_else(|| Cell::Blob(Some(bytes)).to_json())
                        }
                        cell => cell.to_json(),
                    };
                    object.insert(column.name.to_owned(), value);
                }
                list.push(Value::Object(object));
            }
            sections.insert(section.name.to_owned(), Value::Array(list));
        }
        Ok(json!({
            "format": PERSON_FORMAT,
            "version": PERSON_FORMAT_VERSION,
            "tenant": hex::encode(tenant.as_bytes()),
            "account": hex::encode(account.as_bytes()),
            "sections": sections,
        }))
    }
}

async fn import_rows<R: BufRead + Send>(
    tx: &mut super::super::driver::Tx,
    tenant: TenantId,
    input: &mut R,
    buf: &mut Vec<u8>,
) -> Result<(), TransferError> {
    for table in TABLES {
        let sql = format!(
            "SELECT 1 FROM {} WHERE {} = ? LIMIT 1",
            table.name, table.tenant_column
        );
        let found = query(&sql)
            .bind(tenant.blob())
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| db_error(e, EXPORT))?;
        if found.is_some() {
            return Err(TransferError::TenantExists);
        }
    }
    let tenant_json = serde_json::to_value(tenant).map_err(|_| corrupt(EXPORT))?;
    let mut line = 2_u64;
    let mut rows = 0_u64;
    if !read_line(input, buf, line)? {
        return Err(TransferError::Truncated);
    }
    for table in TABLES {
        if !is_section(buf, table) {
            return Err(malformed(line, "expected the next table's section header"));
        }
        let sql = format!(
            "INSERT INTO {} ({}, {}) VALUES (?{})",
            table.name,
            table.tenant_column,
            names(table.columns).join(", "),
            ", ?".repeat(table.columns.len())
        );
        loop {
            line = line.saturating_add(1);
            if !read_line(input, buf, line)? {
                return Err(TransferError::Truncated);
            }
            if buf.first() != Some(&b'[') {
                break;
            }
            let values: Vec<Value> =
                serde_json::from_slice(buf).map_err(|_| malformed(line, "not a JSON array"))?;
            if values.len() != table.columns.len() {
                return Err(malformed(line, "wrong number of values"));
            }
            let mut q = query(&sql).bind(tenant.blob());
            for (column, value) in table.columns.iter().zip(&values) {
                let cell = Cell::from_json(column, value)
                    .ok_or(malformed(line, "a value does not fit its column"))?;
                if let Cell::Text(Some(body)) = &cell
                    && column.name == "body"
                    && !body_in_tenant(body, table, &tenant_json)
                {
                    return Err(malformed(line, "a record names another tenant"));
                }
                q = match cell {
                    Cell::Blob(v) => q.bind(v),
                    Cell::Text(v) => q.bind(v),
                    Cell::Int(v) => q.bind(v),
                };
            }
            q.execute(&mut **tx).await.map_err(|e| match e {
                sqlx::Error::Database(_) => malformed(
                    line,
                    "the store refused the row (duplicate key or missing parent)",
                ),
                other => TransferError::Store(StoreError::backend(other)),
            })?;
            rows = rows.saturating_add(1);
        }
    }
    let trailer: Value =
        serde_json::from_slice(buf).map_err(|_| malformed(line, "expected the trailer"))?;
    if trailer != json!({"end": {"rows": rows}}) {
        return Err(malformed(line, "the trailer does not match the rows read"));
    }
    if read_line(input, buf, line.saturating_add(1))? || !buf.is_empty() {
        return Err(malformed(line.saturating_add(1), "data after the trailer"));
    }
    Ok(())
}

/// Whether a record body (JSON) belongs to the tenant being imported: the record's
/// `tenant` field (`id` for the tenant record) must name it, so an edited export
/// cannot plant another tenant's records. A body that is not a JSON object is left to
/// the reads, which report it as corrupt.
fn body_in_tenant(body: &str, table: &Table, tenant: &Value) -> bool {
    let Ok(Value::Object(record)) = serde_json::from_str::<Value>(body) else {
        return true;
    };
    let field = if table.name == "tenants" {
        "id"
    } else {
        "tenant"
    };
    record.get(field).is_none_or(|t| t == tenant)
}

/// What a per-person section selects by, after the tenant.
enum Param {
    Tenant,
    Account,
    Subject,
}

/// One section of a per-person export: rows of `table` (only `columns`) where
/// `filter` holds.
struct PersonSection {
    name: &'static str,
    table: &'static str,
    columns: &'static [&'static str],
    filter: &'static str,
    params: &'static [Param],
}

/// The sections of a per-person export, in output order (documented in
/// `docs/STORE.md`). Credentials: kinds and dates only; invitations without their
/// secret's hash.
const PERSON_SECTIONS: &[PersonSection] = &[
    PersonSection {
        name: "account",
        table: "accounts",
        columns: &["id", "email", "pseudonymise_at", "revision", "body"],
        filter: " AND id = ?",
        params: &[Param::Account],
    },
    PersonSection {
        name: "role_assignments",
        table: "account_roles",
        columns: &["position", "role"],
        filter: " AND account = ?",
        params: &[Param::Account],
    },
    PersonSection {
        name: "roles",
        table: "roles",
        columns: &["id", "revision", "body"],
        filter: " AND id IN (SELECT role FROM account_roles WHERE tenant = ? AND account = ?)",
        params: &[Param::Tenant, Param::Account],
    },
    PersonSection {
        name: "groups",
        table: "groups",
        columns: &["id", "revision", "body"],
        filter: " AND id IN (SELECT grp FROM group_members WHERE tenant = ? AND account = ?)",
        params: &[Param::Tenant, Param::Account],
    },
    PersonSection {
        name: "participations",
        table: "participants",
        columns: &["session", "body"],
        filter: " AND subject = ?",
        params: &[Param::Subject],
    },
    PersonSection {
        name: "sessions",
        table: "sessions",
        columns: &["id", "revision", "body"],
        filter: " AND id IN (SELECT session FROM participants WHERE tenant = ? AND subject = ?)",
        params: &[Param::Tenant, Param::Subject],
    },
    PersonSection {
        name: "invitations_created",
        table: "invitations",
        columns: &["id", "session", "revision", "body"],
        filter: " AND created_by = ?",
        params: &[Param::Account],
    },
    PersonSection {
        name: "items_authored",
        table: "items",
        columns: &["id", "session", "kind", "created_at", "latest_version"],
        filter: " AND author = ?",
        params: &[Param::Subject],
    },
    PersonSection {
        name: "versions_authored",
        table: "versions",
        columns: &[
            "item",
            "version",
            "session",
            "created_at",
            "key_epoch",
            "body",
        ],
        filter: " AND author = ?",
        params: &[Param::Subject],
    },
    PersonSection {
        name: "key_packages",
        table: "key_packages",
        columns: &["reference", "device", "last_resort", "published_at"],
        filter: " AND owner = ?",
        params: &[Param::Subject],
    },
    PersonSection {
        name: "credentials",
        table: "credentials",
        columns: &["kind", "updated_at"],
        filter: " AND account = ?",
        params: &[Param::Account],
    },
    PersonSection {
        name: "audit_entries",
        table: "audit_events",
        columns: &["seq", "id", "at", "body", "detail", "origin"],
        filter: " AND (subject = ? OR about = ?)",
        params: &[Param::Subject, Param::Subject],
    },
];
