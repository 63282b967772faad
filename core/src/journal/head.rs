//! The signed head of a journal: what one ed25519 signature commits to after
//! every append (Hypercore's "signable": namespace ‖ tree hash ‖ length ‖ fork),
//! plus a tag naming which of a cell's journals it is, so a head of one journal
//! can never be passed off as a head of another journal of the same cell.

use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::{CellKeys, PublicKey, SIGNATURE_LEN, Signature, SignatureError};

/// Bytes in the signable message.
pub const SIGNABLE_LEN: usize = 32 + 32 + 32 + 8 + 8;
/// Bytes in an encoded [`SignedHead`].
pub const SIGNED_HEAD_LEN: usize = 32 + 32 + 8 + 8 + SIGNATURE_LEN;

const SIGNATURE_NAMESPACE_CONTEXT: &str = "celluler 2026-11 journal signature namespace";
const JOURNAL_TAG_CONTEXT: &str = "celluler 2026-11 journal tag";

/// A 32-byte tag naming one of a cell's journals (`"identity"`, `"message"`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JournalTag(pub [u8; 32]);

impl JournalTag {
    pub fn named(name: &str) -> JournalTag {
        JournalTag(blake3::derive_key(JOURNAL_TAG_CONTEXT, name.as_bytes()))
    }
}

/// The exact bytes signed for a journal of `length` blocks whose Merkle tree
/// hashes to `tree_hash`, in fork `fork`. Built by hand, never by a serializer.
pub fn signable(
    tag: &JournalTag,
    tree_hash: &[u8; 32],
    length: u64,
    fork: u64,
) -> [u8; SIGNABLE_LEN] {
    let namespace = blake3::derive_key(SIGNATURE_NAMESPACE_CONTEXT, b"");
    let mut bytes = [0u8; SIGNABLE_LEN];
    bytes[..32].copy_from_slice(&namespace);
    bytes[32..64].copy_from_slice(&tag.0);
    bytes[64..96].copy_from_slice(tree_hash);
    bytes[96..104].copy_from_slice(&length.to_le_bytes());
    bytes[104..112].copy_from_slice(&fork.to_le_bytes());
    bytes
}

/// A journal's signed state at one version: length, fork and tree hash, and the
/// writer's signature over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    pub tag: JournalTag,
    pub tree_hash: [u8; 32],
    pub length: u64,
    pub fork: u64,
    pub signature: Signature,
}

impl SignedHead {
    pub fn sign(
        keys: &CellKeys,
        tag: JournalTag,
        tree_hash: [u8; 32],
        length: u64,
        fork: u64,
    ) -> SignedHead {
        let signature = keys.sign(&signable(&tag, &tree_hash, length, fork));
        SignedHead {
            tag,
            tree_hash,
            length,
            fork,
            signature,
        }
    }

    pub fn verify(&self, key: &PublicKey) -> Result<(), SignatureError> {
        key.verify(
            &signable(&self.tag, &self.tree_hash, self.length, self.fork),
            &self.signature,
        )
    }

    pub fn encode(&self, writer: &mut Writer) {
        writer
            .fixed(&self.tag.0)
            .fixed(&self.tree_hash)
            .u64(self.length)
            .u64(self.fork)
            .fixed(&self.signature.to_bytes());
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<SignedHead, DecodeError> {
        Ok(SignedHead {
            tag: JournalTag(reader.array("journal tag")?),
            tree_hash: reader.array("journal tree hash")?,
            length: reader.u64("journal length")?,
            fork: reader.u64("journal fork")?,
            signature: Signature::from_bytes(&reader.array("journal signature")?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_signs_round_trips_and_rejects_tampering() {
        let keys = CellKeys::from_name("head-test");
        let head = SignedHead::sign(&keys, JournalTag::named("identity"), [7; 32], 5, 0);
        head.verify(keys.public()).unwrap();
        let mut writer = Writer::new();
        head.encode(&mut writer);
        assert_eq!(writer.len(), SIGNED_HEAD_LEN);
        let bytes = writer.finish();
        let mut reader = Reader::new(&bytes);
        assert_eq!(SignedHead::decode(&mut reader).unwrap(), head);
        reader.finish().unwrap();

        let other_journal = SignedHead {
            tag: JournalTag::named("message"),
            ..head.clone()
        };
        assert!(other_journal.verify(keys.public()).is_err());
        let longer = SignedHead {
            length: 6,
            ..head.clone()
        };
        assert!(longer.verify(keys.public()).is_err());
        let forked = SignedHead {
            fork: 1,
            ..head.clone()
        };
        assert!(forked.verify(keys.public()).is_err());
        assert!(
            head.verify(CellKeys::from_name("someone else").public())
                .is_err()
        );
    }
}
