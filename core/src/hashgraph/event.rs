//! Hashgraph events (Baird 2016, section 2: "event"): creator, self-parent
//! and other-parent hashes, the creator's claimed timestamp, transactions and
//! the creator's ed25519 signature. The event hash is blake3 of the canonical
//! encoding (signature included), built with [`crate::codec`].
//!
//! Limits on decode (network bytes): at most [`TRANSACTIONS_MAX`] transactions
//! of at most [`TRANSACTION_BYTES_MAX`] bytes each, and at most
//! [`EVENT_BYTES_MAX`] bytes in all. Nothing is allocated from a length field
//! before it is checked against these limits.

use std::fmt;

use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::{CellKeys, PublicKey, SIGNATURE_LEN, Signature, SignatureError};
use crate::time::TimeNs;

/// Index of a member in the member list (the order fixes the index).
pub type MemberIndex = u32;

/// Most transactions one event may carry.
pub const TRANSACTIONS_MAX: usize = 4096;
/// Largest transaction, in bytes.
pub const TRANSACTION_BYTES_MAX: usize = 64 * 1024;
/// Largest encoded event, in bytes.
pub const EVENT_BYTES_MAX: usize = 1024 * 1024;

const ENCODING_VERSION: u8 = 1;
const SIGNING_CONTEXT: &[u8] = b"celluler 2026-11 hashgraph event";

/// blake3 of an event's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventHash(pub [u8; 32]);

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({})", crate::identity::hex(&self.0[..4]))
    }
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::identity::hex(&self.0))
    }
}

/// What the creator signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBody {
    pub creator: MemberIndex,
    pub self_parent: Option<EventHash>,
    pub other_parent: Option<EventHash>,
    /// The creator's claimed creation time (virtual nanoseconds).
    pub timestamp_ns: TimeNs,
    pub transactions: Vec<Vec<u8>>,
}

impl EventBody {
    fn encode_into(&self, writer: &mut Writer) {
        writer.u8(ENCODING_VERSION).u32(self.creator);
        for parent in [&self.self_parent, &self.other_parent] {
            match parent {
                Some(hash) => writer.bool(true).fixed(&hash.0),
                None => writer.bool(false),
            };
        }
        writer.u64(self.timestamp_ns);
        writer.u32(self.transactions.len() as u32);
        for transaction in &self.transactions {
            writer.bytes(transaction);
        }
    }

    /// The exact bytes the creator signs: a domain tag, then the body.
    pub fn signable(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(128);
        writer.fixed(SIGNING_CONTEXT);
        self.encode_into(&mut writer);
        writer.finish()
    }

    /// `None` when the body breaks the documented limits.
    fn check_limits(&self) -> Result<(), DecodeError> {
        if self.transactions.len() > TRANSACTIONS_MAX {
            return Err(DecodeError::TooLong {
                field: "transactions",
                length: self.transactions.len() as u64,
                limit: TRANSACTIONS_MAX as u64,
            });
        }
        for transaction in &self.transactions {
            if transaction.len() > TRANSACTION_BYTES_MAX {
                return Err(DecodeError::TooLong {
                    field: "transaction",
                    length: transaction.len() as u64,
                    limit: TRANSACTION_BYTES_MAX as u64,
                });
            }
        }
        Ok(())
    }
}

/// A signed event with its hash computed once.
#[derive(Clone)]
pub struct Event {
    body: EventBody,
    signature: Signature,
    hash: EventHash,
    /// blake3 of each transaction, computed on first use: a pure function
    /// of the event's content, so every holder of a shared `Arc<Event>`
    /// reuses it.
    transaction_ids: std::sync::OnceLock<Box<[[u8; 32]]>>,
}

/// Equal events have equal hashes: the hash covers every byte.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.hash == other.hash
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("hash", &self.hash)
            .field("creator", &self.body.creator)
            .field("timestamp_ns", &self.body.timestamp_ns)
            .finish()
    }
}

impl Event {
    /// Sign `body` with the creator's keys. Panics only if the body breaks
    /// the documented limits (a programming error of the local creator).
    pub fn sign(body: EventBody, keys: &CellKeys) -> Event {
        assert!(body.check_limits().is_ok(), "event body exceeds the limits");
        let signature = keys.sign(&body.signable());
        Event::from_parts(body, signature)
    }

    /// An event from a body and a signature (not verified).
    pub fn from_parts(body: EventBody, signature: Signature) -> Event {
        let mut writer = Writer::with_capacity(256);
        body.encode_into(&mut writer);
        writer.fixed(&signature.to_bytes());
        let hash = EventHash(*blake3::hash(writer.as_slice()).as_bytes());
        Event {
            body,
            signature,
            hash,
            transaction_ids: std::sync::OnceLock::new(),
        }
    }

    pub fn body(&self) -> &EventBody {
        &self.body
    }

    pub fn creator(&self) -> MemberIndex {
        self.body.creator
    }

    pub fn self_parent(&self) -> Option<EventHash> {
        self.body.self_parent
    }

    pub fn other_parent(&self) -> Option<EventHash> {
        self.body.other_parent
    }

    pub fn timestamp_ns(&self) -> TimeNs {
        self.body.timestamp_ns
    }

    pub fn transactions(&self) -> &[Vec<u8>] {
        &self.body.transactions
    }

    /// blake3 of each transaction, in order (a transaction's id: for a
    /// signed message, `Message::hash`), computed once per event.
    pub fn transaction_ids(&self) -> &[[u8; 32]] {
        self.transaction_ids.get_or_init(|| {
            self.body
                .transactions
                .iter()
                .map(|transaction| *blake3::hash(transaction).as_bytes())
                .collect()
        })
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    pub fn hash(&self) -> EventHash {
        self.hash
    }

    /// Check the creator's signature. The simulator calls this once per event
    /// and charges its CPU model; [`super::Hashgraph::insert_verified`] then
    /// trusts the result.
    pub fn verify(&self, creator_key: &PublicKey) -> Result<(), SignatureError> {
        creator_key.verify(&self.body.signable(), &self.signature)
    }

    /// The length of [`Event::encode`], computed without encoding (what a
    /// sync accounts on the wire for an event it sends by pointer).
    pub fn encoded_len(&self) -> usize {
        let parents: usize = [self.body.self_parent, self.body.other_parent]
            .iter()
            .map(|parent| 1 + parent.map_or(0, |_| 32))
            .sum();
        let transactions: usize = self
            .body
            .transactions
            .iter()
            .map(|transaction| 4 + transaction.len())
            .sum();
        // Version, creator, parents, timestamp, count, transactions, signature.
        1 + 4 + parents + 8 + 4 + transactions + SIGNATURE_LEN
    }

    /// Whether the event keeps the documented limits ([`TRANSACTIONS_MAX`],
    /// [`TRANSACTION_BYTES_MAX`], [`EVENT_BYTES_MAX`]) that [`Event::decode`]
    /// enforces on network bytes: for an event that arrived already decoded
    /// (built with [`Event::from_parts`], which checks nothing).
    pub fn check_limits(&self) -> Result<(), DecodeError> {
        self.body.check_limits()?;
        let length = self.encoded_len();
        if length > EVENT_BYTES_MAX {
            return Err(DecodeError::TooLong {
                field: "event",
                length: length as u64,
                limit: EVENT_BYTES_MAX as u64,
            });
        }
        Ok(())
    }

    /// The canonical encoding (what is hashed and sent on the network).
    pub fn encode(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(256);
        self.body.encode_into(&mut writer);
        writer.fixed(&self.signature.to_bytes());
        writer.finish()
    }

    /// Decode network bytes. Never panics; enforces the documented limits.
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        if bytes.len() > EVENT_BYTES_MAX {
            return Err(DecodeError::TooLong {
                field: "event",
                length: bytes.len() as u64,
                limit: EVENT_BYTES_MAX as u64,
            });
        }
        let mut reader = Reader::new(bytes);
        let version = reader.u8("event version")?;
        if version != ENCODING_VERSION {
            return Err(DecodeError::UnknownTag {
                field: "event version",
                tag: version,
            });
        }
        let creator = reader.u32("creator")?;
        let mut parents = [None, None];
        for parent in &mut parents {
            if reader.bool("parent present")? {
                *parent = Some(EventHash(reader.array("parent hash")?));
            }
        }
        let timestamp_ns = reader.u64("timestamp")?;
        let count = reader.count("transactions", TRANSACTIONS_MAX)?;
        // Each transaction takes at least its 4-byte length prefix, so the
        // count is also bounded by the bytes actually present.
        let mut transactions = Vec::with_capacity(count.min(reader.remaining() / 4));
        for _ in 0..count {
            transactions.push(reader.bytes("transaction", TRANSACTION_BYTES_MAX)?.to_vec());
        }
        let signature = Signature::from_bytes(&reader.array::<SIGNATURE_LEN>("signature")?);
        reader.finish()?;
        let [self_parent, other_parent] = parents;
        Ok(Event::from_parts(
            EventBody {
                creator,
                self_parent,
                other_parent,
                timestamp_ns,
                transactions,
            },
            signature,
        ))
    }
}

/// Hashes a blake3-derived key (an event hash, a message hash) for the
/// lookup-only caches: the key is already uniform, so its first 8 bytes are
/// a good hash, and SipHash would cost more than the rest of a lookup.
#[derive(Default)]
pub struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(word) = bytes.get(..8) {
            self.0 ^= u64::from_le_bytes(word.try_into().expect("8 bytes"));
        } else {
            for &byte in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(byte);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Event, CellKeys) {
        let keys = CellKeys::from_name("alice");
        let body = EventBody {
            creator: 3,
            self_parent: Some(EventHash([7; 32])),
            other_parent: None,
            timestamp_ns: 42,
            transactions: vec![b"tx".to_vec(), Vec::new()],
        };
        (Event::sign(body, &keys), keys)
    }

    #[test]
    fn encode_decode_round_trip_and_verify() {
        let (event, keys) = sample();
        let bytes = event.encode();
        let decoded = Event::decode(&bytes).unwrap();
        assert_eq!(decoded, event);
        assert_eq!(decoded.hash(), event.hash());
        decoded.verify(keys.public()).unwrap();
        let other = CellKeys::from_name("bob");
        assert!(decoded.verify(other.public()).is_err());
    }

    #[test]
    fn decode_rejects_every_truncation_and_garbage() {
        let (event, _) = sample();
        let bytes = event.encode();
        assert_eq!(event.encoded_len(), bytes.len());
        for cut in 0..bytes.len() {
            assert!(Event::decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(
            Event::decode(&extra),
            Err(DecodeError::TrailingBytes { count: 1 })
        ));
        let mut bad_version = bytes.clone();
        bad_version[0] = 9;
        assert!(Event::decode(&bad_version).is_err());
        // A huge transaction count is refused before allocating.
        let mut huge = Writer::new();
        huge.u8(1)
            .u32(0)
            .bool(false)
            .bool(false)
            .u64(0)
            .u32(u32::MAX);
        assert!(matches!(
            Event::decode(&huge.finish()),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn encoded_len_and_limits_of_events_built_from_parts() {
        let (event, _) = sample();
        let parentless = EventBody {
            self_parent: None,
            other_parent: Some(EventHash([1; 32])),
            transactions: Vec::new(),
            ..event.body().clone()
        };
        let parentless = Event::from_parts(parentless, *event.signature());
        assert_eq!(parentless.encoded_len(), parentless.encode().len());
        assert!(event.check_limits().is_ok());
        let mut body = event.body().clone();
        body.transactions = vec![vec![0; TRANSACTION_BYTES_MAX + 1]];
        let oversized = Event::from_parts(body, *event.signature());
        assert!(matches!(
            oversized.check_limits(),
            Err(DecodeError::TooLong { .. })
        ));
        let mut body = event.body().clone();
        body.transactions =
            vec![vec![0; TRANSACTION_BYTES_MAX]; EVENT_BYTES_MAX / TRANSACTION_BYTES_MAX];
        let too_long = Event::from_parts(body, *event.signature());
        assert_eq!(too_long.encoded_len(), too_long.encode().len());
        assert!(matches!(
            too_long.check_limits(),
            Err(DecodeError::TooLong { field: "event", .. })
        ));
        assert!(Event::decode(&too_long.encode()).is_err());
    }

    #[test]
    fn tampering_changes_hash_and_breaks_signature() {
        let (event, keys) = sample();
        let mut body = event.body().clone();
        body.timestamp_ns += 1;
        let forged = Event::from_parts(body, *event.signature());
        assert_ne!(forged.hash(), event.hash());
        assert!(forged.verify(keys.public()).is_err());
    }
}
