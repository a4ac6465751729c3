//! Paged listings: a [`PageRequest`] in, a [`Paged`] answer out, and an opaque
//! [`Cursor`] between them.
//!
//! Every listing of the service is paged. The answer's `next` cursor, sent back
//! unchanged, continues where the page ended, in the same order; it is `None` when the
//! page was not full (nothing more right now). A cursor names the position only — it is
//! no capability: the next call is authorized like the first. A cursor is valid only
//! for the listing that made it, scope included — the same session, group, filter or
//! tenant; given to another listing it is [`Error::Invalid`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ports::{Order, Page};

/// The default page size.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The largest page a listing returns.
pub const MAX_PAGE_LIMIT: u32 = 200;
/// The longest cursor accepted (bytes of its text form).
pub const MAX_CURSOR_LEN: usize = 128;

/// An opaque position in a listing. Clients store and return it as a string; its
/// content is not part of the contract.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cursor(String);

impl TryFrom<String> for Cursor {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        Self::parse(&text)
    }
}

impl From<Cursor> for String {
    fn from(c: Cursor) -> Self {
        c.0
    }
}

impl Cursor {
    /// The text form to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Takes a cursor a client sent back; only length and alphabet are checked here,
    /// the listing checks the rest.
    pub fn parse(text: &str) -> Result<Self> {
        if text.is_empty()
            || text.len() > MAX_CURSOR_LEN
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return Err(invalid());
        }
        Ok(Self(text.to_owned()))
    }

    /// `<kind>.<o|n>.<key>`: the listing it belongs to, the order, the last key seen.
    fn encode(kind: &str, order: Order, key: &str) -> Self {
        let dir = match order {
            Order::OldestFirst => 'o',
            Order::NewestFirst => 'n',
        };
        Self(format!("{kind}.{dir}.{key}"))
    }

    fn decode(&self, kind: &str) -> Result<(Order, &str)> {
        let mut parts = self.0.splitn(3, '.');
        let (Some(k), Some(dir), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid());
        };
        if k != kind {
            return Err(invalid());
        }
        let order = match dir {
            "o" => Order::OldestFirst,
            "n" => Order::NewestFirst,
            _ => return Err(invalid()),
        };
        Ok((order, key))
    }
}

impl fmt::Debug for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cursor({})", self.0)
    }
}

fn invalid() -> Error {
    Error::Invalid {
        what: "cursor",
        reason: "not a cursor of this listing",
    }
}

/// Which page to return. JSON: `{"cursor":…,"limit":…,"newest_first":…}`, each may be
/// left out or `null`; unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PageRequest {
    /// Continue after this cursor (from a previous answer's `next`); `None` for the
    /// first page.
    pub cursor: Option<Cursor>,
    /// At most this many (1..=[`MAX_PAGE_LIMIT`]; `None` or 0 means
    /// [`DEFAULT_PAGE_LIMIT`]; more is capped).
    pub limit: Option<u32>,
    /// Oldest or newest first; `None` takes the listing's default. A cursor keeps the
    /// order it was made with.
    pub newest_first: Option<bool>,
}

impl PageRequest {
    /// The first page with the listing's default size and order.
    pub fn first() -> Self {
        Self::default()
    }

    /// The first page of at most `limit` records.
    pub fn with_limit(limit: u32) -> Self {
        Self {
            limit: Some(limit),
            ..Self::default()
        }
    }

    /// The page after `cursor`.
    pub fn after(cursor: Cursor) -> Self {
        Self {
            cursor: Some(cursor),
            ..Self::default()
        }
    }

    pub(crate) fn limit(&self) -> u32 {
        match self.limit {
            None | Some(0) => DEFAULT_PAGE_LIMIT,
            Some(n) => n.min(MAX_PAGE_LIMIT),
        }
    }

    fn order(&self, default: Order) -> Order {
        match self.newest_first {
            Some(true) => Order::NewestFirst,
            Some(false) => Order::OldestFirst,
            None => default,
        }
    }

    /// The store page for a listing keyed by ids of type `I`.
    pub(crate) fn id_page<I>(&self, kind: &str, default: Order) -> Result<Page<I>>
    where
        I: FromStr<Err = Error>,
    {
        let limit = self.limit();
        match &self.cursor {
            None => Ok(Page {
                after: None,
                limit,
                order: self.order(default),
            }),
            Some(c) => {
                let (order, key) = c.decode(kind)?;
                Ok(Page {
                    after: Some(key.parse().map_err(|_| invalid())?),
                    limit,
                    order,
                })
            }
        }
    }

    /// For listings keyed by a sequence number, one way only: the number to continue
    /// from (`None` for the first page).
    pub(crate) fn seq(&self, kind: &str, order: Order) -> Result<Option<u64>> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => {
                let (o, key) = c.decode(kind)?;
                if o != order || key.len() > 20 || !key.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                key.parse().map(Some).map_err(|_| invalid())
            }
        }
    }
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// The records, in the listing's order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` when this page was not full.
    pub next: Option<Cursor>,
}

impl<T> Paged<T> {
    /// A page keyed by ids: `key` gives a record's id.
    pub(crate) fn by_id<I: fmt::Display>(
        items: Vec<T>,
        kind: &str,
        page: &Page<I>,
        key: impl Fn(&T) -> I,
    ) -> Self {
        let next = next_cursor(&items, page.limit, kind, page.order, |t| key(t).to_string());
        Self { items, next }
    }

    /// A page keyed by sequence numbers.
    pub(crate) fn by_seq(
        items: Vec<T>,
        kind: &str,
        order: Order,
        limit: u32,
        key: impl Fn(&T) -> u64,
    ) -> Self {
        let next = next_cursor(&items, limit, kind, order, |t| key(t).to_string());
        Self { items, next }
    }

    /// The same page with its records mapped.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// The cursor after `items` when the page is full; `None` when it is not (nothing more).
fn next_cursor<T>(
    items: &[T],
    limit: u32,
    kind: &str,
    order: Order,
    key: impl Fn(&T) -> String,
) -> Option<Cursor> {
    if limit == 0 || items.len() < limit as usize {
        return None;
    }
    items
        .last()
        .map(|last| Cursor::encode(kind, order, &key(last)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::ItemId;

    #[test]
    fn cursors_continue_in_their_order_and_only_in_their_listing() {
        let id = ItemId::random().unwrap();
        let page: Page<ItemId> = PageRequest::with_limit(1)
            .id_page("itm", Order::NewestFirst)
            .unwrap();
        let paged = Paged::by_id(vec![id], "itm", &page, |i| *i);
        let next = paged.next.clone().unwrap();
        let again = PageRequest {
            cursor: Some(next.clone()),
            limit: Some(5),
            newest_first: Some(false),
        };
        let p: Page<ItemId> = again.id_page("itm", Order::OldestFirst).unwrap();
        assert_eq!(
            (p.after, p.order, p.limit),
            (Some(id), Order::NewestFirst, 5)
        );
        assert!(again.id_page::<ItemId>("ses", Order::OldestFirst).is_err());
        assert!(again.seq("itm", Order::NewestFirst).is_err());
        // A page that is not full has no next cursor.
        let short: Page<ItemId> = PageRequest::with_limit(2)
            .id_page("itm", Order::OldestFirst)
            .unwrap();
        assert!(Paged::by_id(vec![id], "itm", &short, |i| *i).next.is_none());
    }

    #[test]
    fn cursors_travel_as_their_text() {
        let c = Cursor::parse("itm.n.itm_0123").unwrap();
        assert_eq!(c.as_str(), "itm.n.itm_0123");
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#""itm.n.itm_0123""#);
        assert_eq!(serde_json::from_str::<Cursor>(&json).unwrap(), c);
        assert!(serde_json::from_str::<Cursor>(r#""a b""#).is_err());
        assert_eq!(format!("{c:?}"), "Cursor(itm.n.itm_0123)");
    }

    #[test]
    fn boundaries_of_cursors_and_sequence_keys() {
        // Exactly the longest cursor is taken; one more byte is not.
        assert!(Cursor::parse(&"a".repeat(MAX_CURSOR_LEN)).is_ok());
        assert!(Cursor::parse(&"a".repeat(MAX_CURSOR_LEN + 1)).is_err());
        // The largest sequence number (20 digits) continues; 21 digits do not.
        let max = PageRequest::after(Cursor::parse("inc.n.18446744073709551615").unwrap());
        assert_eq!(max.seq("inc", Order::NewestFirst).unwrap(), Some(u64::MAX));
        let long = PageRequest::after(Cursor::parse("inc.n.018446744073709551615").unwrap());
        assert!(long.seq("inc", Order::NewestFirst).is_err());
        // An oldest-first cursor continues oldest first.
        let id = ItemId::random().unwrap();
        let oldest = PageRequest::after(Cursor::parse(&format!("itm.o.{id}")).unwrap());
        let p: Page<ItemId> = oldest.id_page("itm", Order::NewestFirst).unwrap();
        assert_eq!((p.after, p.order), (Some(id), Order::OldestFirst));
        // A sequence page that is not full has no next cursor; a full one has.
        let short = Paged::by_seq(vec![1u64, 2], "inc", Order::NewestFirst, 3, |n| *n);
        assert!(short.next.is_none());
        let full = Paged::by_seq(vec![3u64, 2], "inc", Order::NewestFirst, 2, |n| *n);
        assert_eq!(full.next.unwrap().as_str(), "inc.n.2");
        assert_eq!(PageRequest::first(), PageRequest::default());
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(PageRequest::first().limit(), DEFAULT_PAGE_LIMIT);
        assert_eq!(PageRequest::with_limit(0).limit(), DEFAULT_PAGE_LIMIT);
        assert_eq!(
            PageRequest::with_limit(MAX_PAGE_LIMIT).limit(),
            MAX_PAGE_LIMIT
        );
        assert_eq!(
            PageRequest::with_limit(MAX_PAGE_LIMIT + 1).limit(),
            MAX_PAGE_LIMIT
        );
    }

    #[test]
    fn malformed_cursors_are_typed_errors() {
        for bad in ["", "a b", &"x".repeat(MAX_CURSOR_LEN + 1), "itm/o/1"] {
            assert!(Cursor::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "itm",
            "itm.o",
            "itm.x.itm_00",
            "itm.o.nonsense",
            "itm.n.acc_00000000000000000000000000000000",
        ] {
            let req = PageRequest::after(Cursor::parse(bad).unwrap());
            assert!(
                req.id_page::<ItemId>("itm", Order::OldestFirst).is_err(),
                "{bad:?}"
            );
        }
        for bad in [
            "inc.n.",
            "inc.n.12a",
            "inc.n.99999999999999999999999",
            "inc.o.5",
        ] {
            let req = PageRequest::after(Cursor::parse(bad).unwrap());
            assert!(req.seq("inc", Order::NewestFirst).is_err(), "{bad:?}");
        }
        let ok = PageRequest::after(Cursor::parse("inc.n.7").unwrap());
        assert_eq!(ok.seq("inc", Order::NewestFirst).unwrap(), Some(7));
    }
}
