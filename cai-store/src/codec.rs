//! How records become rows and rows become records, alike in every SQL backend: ids
//! as 16 bytes (`BLOB`/`BYTEA`), subjects as 17 bytes, timestamps as Unix
//! milliseconds, counters as 64-bit integers, and the
//! JSON body of a record (cai-core's JSON form minus the fields with columns of their
//! own). Every failure to decode a row is [`StoreError::Corrupt`] naming the record,
//! so one bad row fails only the read that meets it.

use cai_core::Timestamp;
use cai_core::id::{
    AccountId, BlobId, EventId, GroupId, GuestId, ID_LEN, IncidentId, InvitationId, ItemId, RoleId,
    RoomId, SessionId, SubjectId, TenantId,
};
use cai_core::ports::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A cai-core id stored as its 16 bytes.
pub(crate) trait IdBlob: Sized + Copy {
    /// The id's bytes.
    fn blob(&self) -> &[u8];
    /// The id with these bytes.
    fn from_blob(bytes: [u8; ID_LEN]) -> Self;
}

macro_rules! id_blob {
    ($($id:ty),+) => {$(
        impl IdBlob for $id {
            fn blob(&self) -> &[u8] {
                self.as_bytes()
            }
            fn from_blob(bytes: [u8; ID_LEN]) -> Self {
                <$id>::from_bytes(bytes)
            }
        }
    )+};
}

id_blob!(
    TenantId,
    AccountId,
    GuestId,
    RoleId,
    GroupId,
    SessionId,
    InvitationId,
    RoomId,
    ItemId,
    EventId,
    IncidentId,
    BlobId
);

/// `Corrupt` naming `what`.
pub(crate) const fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt { what }
}

/// A sqlx failure as a [`StoreError`]: a value that does not decode is `Corrupt`,
/// anything else (I/O, locks, pool timeouts) is `Backend`.
pub(crate) fn db_error(e: sqlx::Error, what: &'static str) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. } => corrupt(what),
        other => StoreError::backend(other),
    }
}

/// Extension for reading typed values out of a row, each failure `Corrupt(what)`.
pub(crate) trait RowExt {
    /// A column as raw bytes.
    fn bytes(&self, col: &str, what: &'static str) -> Result<Vec<u8>, StoreError>;
    /// A nullable BLOB column.
    fn bytes_opt(&self, col: &str, what: &'static str) -> Result<Option<Vec<u8>>, StoreError>;
    /// An INTEGER column.
    fn int(&self, col: &str, what: &'static str) -> Result<i64, StoreError>;
    /// A TEXT column.
    fn text(&self, col: &str, what: &'static str) -> Result<String, StoreError>;
    /// An id column.
    fn id<I: IdBlob>(&self, col: &str, what: &'static str) -> Result<I, StoreError> {
        id_from(&self.bytes(col, what)?, what)
    }
    /// A subject column.
    fn subject(&self, col: &str, what: &'static str) -> Result<SubjectId, StoreError> {
        subject_from(&self.bytes(col, what)?, what)
    }
    /// A timestamp column.
    fn time(&self, col: &str, what: &'static str) -> Result<Timestamp, StoreError> {
        Ok(Timestamp::from_unix_millis(self.int(col, what)?))
    }
    /// A `u32` column.
    fn u32(&self, col: &str, what: &'static str) -> Result<u32, StoreError> {
        u32::try_from(self.int(col, what)?).map_err(|_| corrupt(what))
    }
    /// A `u64` column (revisions, sequence numbers).
    fn u64(&self, col: &str, what: &'static str) -> Result<u64, StoreError> {
        u64::try_from(self.int(col, what)?).map_err(|_| corrupt(what))
    }
}

/// Implements [`RowExt`] for a backend's row type with `sqlx::Row::try_get`: both
/// backends decode the same Rust types (`Vec<u8>`, `i64`, `String`).
macro_rules! row_ext {
    ($row:ty) => {
        impl $crate::codec::RowExt for $row {
            fn bytes(
                &self,
                col: &str,
                what: &'static str,
            ) -> Result<Vec<u8>, cai_core::ports::StoreError> {
                sqlx::Row::try_get::<Vec<u8>, _>(self, col)
                    .map_err(|e| $crate::codec::db_error(e, what))
            }
            fn bytes_opt(
                &self,
                col: &str,
                what: &'static str,
            ) -> Result<Option<Vec<u8>>, cai_core::ports::StoreError> {
                sqlx::Row::try_get::<Option<Vec<u8>>, _>(self, col)
                    .map_err(|e| $crate::codec::db_error(e, what))
            }
            fn int(
                &self,
                col: &str,
                what: &'static str,
            ) -> Result<i64, cai_core::ports::StoreError> {
                sqlx::Row::try_get::<i64, _>(self, col)
                    .map_err(|e| $crate::codec::db_error(e, what))
            }
            fn text(
                &self,
                col: &str,
                what: &'static str,
            ) -> Result<String, cai_core::ports::StoreError> {
                sqlx::Row::try_get::<String, _>(self, col)
                    .map_err(|e| $crate::codec::db_error(e, what))
            }
        }
    };
}
pub(crate) use row_ext;

/// An id from stored bytes.
pub(crate) fn id_from<I: IdBlob>(bytes: &[u8], what: &'static str) -> Result<I, StoreError> {
    let bytes: [u8; ID_LEN] = bytes.try_into().map_err(|_| corrupt(what))?;
    Ok(I::from_blob(bytes))
}

const ACCOUNT_TAG: u8 = 0;
const GUEST_TAG: u8 = 1;

/// A subject's 17 bytes: a tag (accounts before guests, as `SubjectId` orders them)
/// and the id.
pub(crate) fn subject_blob(subject: SubjectId) -> Vec<u8> {
    let (tag, id) = match subject {
        SubjectId::Account(a) => (ACCOUNT_TAG, *a.as_bytes()),
        SubjectId::Guest(g) => (GUEST_TAG, *g.as_bytes()),
    };
    let mut out = Vec::with_capacity(1 + ID_LEN);
    out.push(tag);
    out.extend_from_slice(&id);
    out
}

/// A subject from its stored bytes.
pub(crate) fn subject_from(bytes: &[u8], what: &'static str) -> Result<SubjectId, StoreError> {
    match bytes.split_first() {
        Some((&ACCOUNT_TAG, id)) => id_from(id, what).map(SubjectId::Account),
        Some((&GUEST_TAG, id)) => id_from(id, what).map(SubjectId::Guest),
        _ => Err(corrupt(what)),
    }
}

/// A `u64` (revision) as a 64-bit SQL integer; a value past `i64::MAX` cannot be stored.
pub(crate) fn int_of(n: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Conflict { what })
}

/// `limit` capped at `Page::MAX_LIMIT`, for a `LIMIT` bind.
pub(crate) fn capped(limit: u32) -> i64 {
    i64::from(limit.min(cai_core::ports::Page::<()>::MAX_LIMIT))
}

/// A record's JSON body without `columns`: the fields stored in columns of their own
/// (always `revision`, where there is one), so a body never disagrees with them.
pub(crate) fn body_of<T: Serialize>(
    record: &T,
    columns: &[&str],
    what: &'static str,
) -> Result<String, StoreError> {
    let mut value = serde_json::to_value(record).map_err(|_| encode_failed(what))?;
    if let Value::Object(map) = &mut value {
        for column in columns {
            map.remove(*column);
        }
    }
    serde_json::to_string(&value).map_err(|_| encode_failed(what))
}

/// The record from its JSON body and the fields stored in columns.
pub(crate) fn record_of<T: DeserializeOwned>(
    body: &str,
    columns: Vec<(&str, Value)>,
    what: &'static str,
) -> Result<T, StoreError> {
    let mut map: Map<String, Value> = serde_json::from_str(body).map_err(|_| corrupt(what))?;
    for (name, value) in columns {
        map.insert(name.to_owned(), value);
    }
    serde_json::from_value(Value::Object(map)).map_err(|_| corrupt(what))
}

/// A list of ids as the JSON value `record_of` expects (their text form).
pub(crate) fn id_list<I: Serialize>(ids: &[I], what: &'static str) -> Result<Value, StoreError> {
    serde_json::to_value(ids).map_err(|_| corrupt(what))
}

/// A record cai-core handed over that has no JSON form: cannot happen for the types
/// this crate stores, reported as a backend failure if it ever does.
fn encode_failed(what: &'static str) -> StoreError {
    StoreError::backend(EncodeFailed(what))
}

#[derive(Debug, thiserror::Error)]
#[error("{0} has no JSON form")]
struct EncodeFailed(&'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_order_accounts_first() {
        let a = SubjectId::Account(AccountId::from_bytes([0xff; ID_LEN]));
        let g = SubjectId::Guest(GuestId::from_bytes([0; ID_LEN]));
        assert_eq!(subject_from(&subject_blob(a), "s").unwrap(), a);
        assert_eq!(subject_from(&subject_blob(g), "s").unwrap(), g);
        assert!(a < g && subject_blob(a) < subject_blob(g));
        assert!(matches!(
            subject_from(&[2; 17], "s"),
            Err(StoreError::Corrupt { what: "s" })
        ));
        assert!(matches!(
            subject_from(&[0; 16], "s"),
            Err(StoreError::Corrupt { what: "s" })
        ));
    }

    #[test]
    fn a_body_that_is_not_the_record_is_corrupt() {
        let r: Result<Vec<u8>, _> = record_of("{\"a\":1}", vec![], "x");
        assert!(matches!(r, Err(StoreError::Corrupt { what: "x" })));
        let r: Result<Vec<u8>, _> = record_of("not json", vec![], "x");
        assert!(matches!(r, Err(StoreError::Corrupt { what: "x" })));
    }
}
