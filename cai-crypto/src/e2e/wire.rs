//! Bounds-checked reading of the end-to-end byte formats. Every read either returns the
//! requested bytes or a [`Error::Truncated`]; nothing here can panic.

use crate::{Error, Result};

/// A cursor over an input whose every read is checked.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the structure in errors.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let truncated = Error::Truncated {
            what: self.what,
            needed: self.pos.saturating_add(n),
            got: self.buf.len(),
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let out = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let what = self.what;
        self.take(N)?.try_into().map_err(|_| Error::Malformed {
            what,
            reason: "field length",
        })
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    /// A big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A field with a one-byte length prefix whose length must lie in `1..=max`.
    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array::<8>().map(u64::from_be_bytes)
    }

    pub(crate) fn var8(&mut self, max: usize, reason: &'static str) -> Result<&'a [u8]> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > max {
            return Err(Error::Malformed {
                what: self.what,
                reason,
            });
        }
        self.take(len)
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn finish(&self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Error::Malformed {
                what: self.what,
                reason: "trailing bytes",
            })
        }
    }
}

/// Appends `len(value) value` with a one-byte length. The caller has checked the length.
pub(crate) fn put_var8(out: &mut Vec<u8>, value: &[u8]) -> Result<()> {
    let len = u8::try_from(value.len()).map_err(|_| Error::Malformed {
        what: "e2e encoding",
        reason: "field longer than 255 bytes",
    })?;
    out.push(len);
    out.extend_from_slice(value);
    Ok(())
}

/// Checks the four magic bytes, version, kind and suite that open every end-to-end
/// structure.
pub(crate) fn read_preamble(r: &mut Reader<'_>, what: &'static str, kind: u8) -> Result<()> {
    let magic: [u8; 4] = r.array()?;
    if magic != super::MAGIC {
        return Err(Error::BadMagic { expected: what });
    }
    let version = r.u8()?;
    if version != super::VERSION {
        return Err(Error::UnsupportedVersion { what, version });
    }
    let found = r.u8()?;
    if found != kind {
        return Err(Error::Malformed {
            what,
            reason: "kind byte names another structure",
        });
    }
    let suite = r.u8()?;
    if suite != super::SUITE {
        return Err(Error::UnsupportedSuite { what, suite });
    }
    Ok(())
}

/// Appends magic, version, kind and suite.
pub(crate) fn put_preamble(out: &mut Vec<u8>, kind: u8) {
    out.extend_from_slice(&super::MAGIC);
    out.extend_from_slice(&[super::VERSION, kind, super::SUITE]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded() {
        let mut r = Reader::new(&[1, 0, 2, 3], "t");
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 2);
        assert!(matches!(r.u16(), Err(Error::Truncated { .. })));
        assert_eq!(r.take(1).unwrap(), &[3]);
        r.finish().unwrap();
        assert!(matches!(
            Reader::new(&[0], "t").var8(4, "x"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            Reader::new(&[5, 1], "t").var8(4, "x"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            Reader::new(&[2, 1], "t").var8(4, "x"),
            Err(Error::Truncated { .. })
        ));
        assert!(Reader::new(&[1, 2], "t").take(usize::MAX).is_err());
    }
}
