//! Byte-level primitives of the token encoding: a writer into a fixed buffer
//! and a reader over a slice.
//!
//! Every variable-length field is a length prefix (one byte for fields of at
//! most 255 bytes, two bytes big-endian otherwise) followed by the bytes, and
//! every read and write names the field's maximum, so an encoding can neither
//! outgrow its buffer nor make the decoder allocate more than the limit. The
//! writer works in a caller-provided (stack) buffer so minting does not
//! allocate for the plaintext; the reader never panics on any input.

/// The writer ran out of room or a field exceeded its maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong(pub(crate) &'static str);

/// The input ended early, a length exceeded its maximum, or a value was not
/// valid (UTF-8, flag bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Writer<'a> {
        Writer { buf, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn bytes(&mut self, field: &'static str, bytes: &[u8]) -> Result<(), TooLong> {
        let end = self.pos.checked_add(bytes.len()).ok_or(TooLong(field))?;
        let slot = self.buf.get_mut(self.pos..end).ok_or(TooLong(field))?;
        slot.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, field: &'static str, value: u8) -> Result<(), TooLong> {
        self.bytes(field, &[value])
    }

    pub(crate) fn i64(&mut self, field: &'static str, value: i64) -> Result<(), TooLong> {
        self.bytes(field, &value.to_be_bytes())
    }

    pub(crate) fn u64(&mut self, field: &'static str, value: u64) -> Result<(), TooLong> {
        self.bytes(field, &value.to_be_bytes())
    }

    /// A string of at most `max` (≤ 255) bytes behind a one-byte length.
    pub(crate) fn str8(
        &mut self,
        field: &'static str,
        text: &str,
        max: usize,
    ) -> Result<(), TooLong> {
        let len = u8::try_from(text.len()).map_err(|_| TooLong(field))?;
        if text.len() > max {
            return Err(TooLong(field));
        }
        self.u8(field, len)?;
        self.bytes(field, text.as_bytes())
    }

    /// A string of at most `max` bytes behind a two-byte length.
    pub(crate) fn str16(
        &mut self,
        field: &'static str,
        text: &str,
        max: usize,
    ) -> Result<(), TooLong> {
        let len = u16::try_from(text.len()).map_err(|_| TooLong(field))?;
        if text.len() > max {
            return Err(TooLong(field));
        }
        self.bytes(field, &len.to_be_bytes())?;
        self.bytes(field, text.as_bytes())
    }
}

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(len).ok_or(Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Truncated> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A one-byte-length string of at most `max` bytes.
    pub(crate) fn str8(&mut self, max: usize) -> Result<&'a str, Truncated> {
        let len = usize::from(self.u8()?);
        self.text(len, max)
    }

    /// A two-byte-length string of at most `max` bytes.
    pub(crate) fn str16(&mut self, max: usize) -> Result<&'a str, Truncated> {
        let len = usize::from(u16::from_be_bytes(self.array()?));
        self.text(len, max)
    }

    fn text(&mut self, len: usize, max: usize) -> Result<&'a str, Truncated> {
        if len > max {
            return Err(Truncated);
        }
        std::str::from_utf8(self.bytes(len)?).map_err(|_| Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_every_primitive() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        w.u8("a", 7).unwrap();
        w.i64("b", -2).unwrap();
        w.u64("c", 1 << 40).unwrap();
        w.str8("d", "héllo", 10).unwrap();
        w.str16("e", "", 10).unwrap();
        let end = w.position();
        let mut r = Reader::new(&buf[..end]);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.i64(), Ok(-2));
        assert_eq!(r.u64(), Ok(1 << 40));
        assert_eq!(r.str8(10), Ok("héllo"));
        assert_eq!(r.str16(10), Ok(""));
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(Truncated));
    }

    #[test]
    fn limits_hold_on_both_sides() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        assert_eq!(w.str8("f", "abcd", 3), Err(TooLong("f")));
        assert_eq!(w.bytes("g", &[0; 9]), Err(TooLong("g")));
        assert_eq!(w.str8("h", &"x".repeat(300), 1000), Err(TooLong("h")));
        // A declared length past the maximum, past the end, or not UTF-8.
        assert_eq!(
            Reader::new(&[4, b'a', b'b', b'c', b'd']).str8(3),
            Err(Truncated)
        );
        assert_eq!(Reader::new(&[4, b'a']).str8(10), Err(Truncated));
        assert_eq!(Reader::new(&[0, 1, 0xff]).str16(10), Err(Truncated));
    }
}
