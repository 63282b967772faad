//! The canonical binary encoding shared by messages, journal proofs and
//! hashgraph events: fixed-width little-endian integers, `u32` length prefixes,
//! one byte tags. Written by hand (not through a serializer) so that the bytes
//! that are hashed and signed can never change silently; every decoder reads
//! through [`Reader`], which turns any malformed input into a [`DecodeError`].

/// Why a byte string could not be decoded. Never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated: {field} needs {needed} more bytes at offset {offset}, {available} left")]
    Truncated {
        field: &'static str,
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("{field} is {length} long, the limit is {limit}")]
    TooLong {
        field: &'static str,
        length: u64,
        limit: u64,
    },
    #[error("unknown {field} tag {tag}")]
    UnknownTag { field: &'static str, tag: u8 },
    #[error("{count} trailing bytes after the end of the value")]
    TrailingBytes { count: usize },
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

/// Appends canonical encodings to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.bytes.push(value);
        self
    }

    pub fn u16(&mut self, value: u16) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(u8::from(value))
    }

    /// Bytes of a length known to both sides (hashes, keys, signatures).
    pub fn fixed(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// A `u32` length prefix, then the bytes. Callers enforce their own
    /// limits before writing; `Reader::bytes` enforces them on the way in.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let length = u32::try_from(bytes.len()).expect("encoded fields are far below 4 GiB");
        self.u32(length);
        self.fixed(bytes)
    }

    pub fn str(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads canonical encodings from a byte slice, with a typed error for every
/// way the input can be wrong.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, offset: 0 }
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.offset
    }

    pub fn take(&mut self, field: &'static str, count: usize) -> Result<&'a [u8], DecodeError> {
        let available = self.remaining();
        if count > available {
            return Err(DecodeError::Truncated {
                field,
                offset: self.offset,
                needed: count,
                available,
            });
        }
        let slice = &self.bytes[self.offset..self.offset + count];
        self.offset += count;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let slice = self.take(field, N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    /// Only 0 and 1 are booleans, so every value has one encoding.
    pub fn bool(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        match self.u8(field)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid {
                field,
                reason: "a boolean is 0 or 1",
            }),
        }
    }

    /// A length-prefixed byte string of at most `limit` bytes. The limit is
    /// checked before anything is allocated.
    pub fn bytes(&mut self, field: &'static str, limit: usize) -> Result<&'a [u8], DecodeError> {
        let length = self.u32(field)?;
        if length as usize > limit {
            return Err(DecodeError::TooLong {
                field,
                length: u64::from(length),
                limit: limit as u64,
            });
        }
        self.take(field, length as usize)
    }

    pub fn str(&mut self, field: &'static str, limit: usize) -> Result<&'a str, DecodeError> {
        let bytes = self.bytes(field, limit)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError::Invalid {
            field,
            reason: "not UTF-8",
        })
    }

    /// A `u32` element count of at most `limit`.
    pub fn count(&mut self, field: &'static str, limit: usize) -> Result<usize, DecodeError> {
        let count = self.u32(field)?;
        if count as usize > limit {
            return Err(DecodeError::TooLong {
                field,
                length: u64::from(count),
                limit: limit as u64,
            });
        }
        Ok(count as usize)
    }

    /// Every byte must be consumed: one value, one encoding.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_exact_bytes() {
        let mut writer = Writer::new();
        writer.u8(1).u16(0x0203).u32(4).u64(5).bool(true).str("hi");
        let bytes = writer.finish();
        assert_eq!(
            bytes,
            [
                1, 3, 2, 4, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, b'h', b'i'
            ]
        );
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.u8("a").unwrap(), 1);
        assert_eq!(reader.u16("b").unwrap(), 0x0203);
        assert_eq!(reader.u32("c").unwrap(), 4);
        assert_eq!(reader.u64("d").unwrap(), 5);
        assert!(reader.bool("e").unwrap());
        assert_eq!(reader.str("f", 2).unwrap(), "hi");
        reader.finish().unwrap();
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        assert!(matches!(
            Reader::new(&[1, 2]).u32("x"),
            Err(DecodeError::Truncated {
                needed: 4,
                available: 2,
                ..
            })
        ));
        assert!(matches!(
            Reader::new(&[2]).bool("x"),
            Err(DecodeError::Invalid { .. })
        ));
        let huge = [0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            Reader::new(&huge).bytes("x", 10),
            Err(DecodeError::TooLong { .. })
        ));
        assert!(matches!(
            Reader::new(&[3, 0, 0, 0, 0xff, 0xfe, 0xfd]).str("x", 10),
            Err(DecodeError::Invalid { .. })
        ));
        let mut reader = Reader::new(&[1, 2]);
        reader.u8("x").unwrap();
        assert_eq!(
            reader.finish(),
            Err(DecodeError::TrailingBytes { count: 1 })
        );
    }
}
