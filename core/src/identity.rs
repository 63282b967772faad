//! Cell identity: an ed25519 key pair derived from a 32-byte seed, and the
//! [`CellId`], the blake3 hash of the public key.
//!
//! Signing is a capability: [`CellKeys`] is deliberately not `Clone`, so the
//! code that owns a cell's keys is the only code that can sign for it.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

pub use ed25519_dalek::Signature;

/// Length of a [`CellId`] in bytes.
pub const CELL_ID_LEN: usize = 32;
/// Length of an encoded public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an encoded signature in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// Domain separation for the identity seed of a simulated cell.
const CELL_IDENTITY_COMPONENT: &str = "cell-identity";

/// A cell's signing key pair. Not `Clone`: whoever holds it can sign.
pub struct CellKeys {
    signing: SigningKey,
    public: PublicKey,
}

impl CellKeys {
    /// Keys from a 32-byte secret seed (the ed25519 secret key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let signing = SigningKey::from_bytes(&seed);
        let public = PublicKey(signing.verifying_key());
        CellKeys { signing, public }
    }

    /// The identity of simulated cell `cell_index` in a scenario with
    /// `scenario_seed`: the same pair always yields the same keys, and adding
    /// cells never changes the keys of the others.
    pub fn for_simulated_cell(scenario_seed: u64, cell_index: u32) -> Self {
        Self::from_seed(crate::rng::derive_seed(
            scenario_seed,
            CELL_IDENTITY_COMPONENT,
            u64::from(cell_index),
        ))
    }

    /// Keys derived from a human-readable name (used by hand-written DAG files
    /// and tests, so their signatures are reproducible).
    pub fn from_name(name: &str) -> Self {
        Self::from_seed(blake3::derive_key(
            "celluler 2026-11 named identity seed",
            name.as_bytes(),
        ))
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn cell_id(&self) -> CellId {
        self.public.cell_id()
    }

    /// Deterministic ed25519 signature (RFC 8032) over `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }
}

impl fmt::Debug for CellKeys {
    // Never print the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CellKeys({})", self.cell_id().short())
    }
}

/// An ed25519 public key, checked to be a valid curve point on decode.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; PUBLIC_KEY_LEN]) -> Result<Self, SignatureError> {
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| SignatureError::InvalidPublicKey)
    }

    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.to_bytes()
    }

    pub fn as_bytes(&self) -> &[u8; PUBLIC_KEY_LEN] {
        self.0.as_bytes()
    }

    pub fn cell_id(&self) -> CellId {
        CellId(*blake3::hash(self.0.as_bytes()).as_bytes())
    }

    /// Strict verification (rejects small-order keys and non-canonical
    /// signatures), so that a signature has exactly one valid encoding.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        self.0
            .verify_strict(message, signature)
            .map_err(|_| SignatureError::BadSignature)
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex(&self.as_bytes()[..4]))
    }
}

/// Verify many `(key, message, signature)` triples at once. All-or-nothing:
/// on failure, fall back to [`PublicKey::verify`] to find the culprit.
pub fn verify_batch(
    messages: &[&[u8]],
    signatures: &[Signature],
    keys: &[PublicKey],
) -> Result<(), SignatureError> {
    if messages.len() != signatures.len() || messages.len() != keys.len() {
        return Err(SignatureError::BatchShape);
    }
    let keys: Vec<VerifyingKey> = keys.iter().map(|k| k.0).collect();
    ed25519_dalek::verify_batch(messages, signatures, &keys)
        .map_err(|_| SignatureError::BadSignature)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("bytes are not a valid ed25519 public key")]
    InvalidPublicKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("batch verification needs as many messages, signatures and keys")]
    BatchShape,
}

/// A cell's identity: blake3 of its ed25519 public key. Prints as lowercase
/// hex (all 64 digits, so it parses back); [`CellId::short`] gives the first
/// 8 digits for logs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellId(pub [u8; CELL_ID_LEN]);

impl CellId {
    pub fn as_bytes(&self) -> &[u8; CELL_ID_LEN] {
        &self.0
    }

    /// First 4 bytes as 8 hex digits, for humans.
    pub fn short(&self) -> String {
        hex(&self.0[..4])
    }
}

impl fmt::Display for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for CellId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CellId({})", self.short())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellIdParseError {
    #[error("a cell id is {expected} hex digits, got {actual}")]
    WrongLength { expected: usize, actual: usize },
    #[error("a cell id is hex (0-9, a-f); found {found:?} at position {position}")]
    NotHex { position: usize, found: char },
}

impl FromStr for CellId {
    type Err = CellIdParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let expected = CELL_ID_LEN * 2;
        let count = text.chars().count();
        if count != expected {
            return Err(CellIdParseError::WrongLength {
                expected,
                actual: count,
            });
        }
        let mut bytes = [0u8; CELL_ID_LEN];
        for (position, found) in text.chars().enumerate() {
            let nibble = found
                .to_digit(16)
                .ok_or(CellIdParseError::NotHex { position, found })?
                as u8;
            bytes[position / 2] |= if position % 2 == 0 {
                nibble << 4
            } else {
                nibble
            };
        }
        Ok(CellId(bytes))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 section 7.1, TEST 1: empty message.
        let seed: [u8; 32] =
            parse_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .try_into()
                .unwrap();
        let keys = CellKeys::from_seed(seed);
        assert_eq!(
            hex(keys.public().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let signature = keys.sign(b"");
        assert_eq!(
            hex(&signature.to_bytes()),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        keys.public().verify(b"", &signature).unwrap();
        assert_eq!(
            keys.public().verify(b"x", &signature),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn simulated_identities_are_stable_and_distinct() {
        let a = CellKeys::for_simulated_cell(7, 0);
        let b = CellKeys::for_simulated_cell(7, 0);
        let c = CellKeys::for_simulated_cell(7, 1);
        let d = CellKeys::for_simulated_cell(8, 0);
        assert_eq!(a.cell_id(), b.cell_id());
        assert_ne!(a.cell_id(), c.cell_id());
        assert_ne!(a.cell_id(), d.cell_id());
    }

    #[test]
    fn cell_id_round_trips_through_text() {
        let id = CellKeys::from_name("alice").cell_id();
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.parse::<CellId>().unwrap(), id);
        assert_eq!(text.to_uppercase().parse::<CellId>().unwrap(), id);
        assert!(text.starts_with(&id.short()));
    }

    #[test]
    fn cell_id_parse_errors_are_clear() {
        assert_eq!(
            "abc".parse::<CellId>(),
            Err(CellIdParseError::WrongLength {
                expected: 64,
                actual: 3
            })
        );
        let mut bad = "0".repeat(63);
        bad.push('g');
        assert_eq!(
            bad.parse::<CellId>(),
            Err(CellIdParseError::NotHex {
                position: 63,
                found: 'g'
            })
        );
        let unicode = "é".repeat(64);
        assert!(matches!(
            unicode.parse::<CellId>(),
            Err(CellIdParseError::NotHex { position: 0, .. })
        ));
    }

    fn parse_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
