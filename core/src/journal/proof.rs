//! Proofs a reader checks knowing only the writer's public key and the
//! journal's tag, and their canonical encodings.
//!
//! - [`RangeProof`]: blocks `start..start+count` against the head signed at
//!   some length (a single block is a range of one). The verifier rebuilds
//!   each peak depth-first, left to right: a node wholly outside the range
//!   comes from the proof, a node overlapping it is hashed from its children,
//!   a block in the range is hashed from its data. One tree-hash comparison
//!   and one signature check, whatever the range's size; O(log n) nodes.
//! - [`UpgradeProof`]: the tree signed at length `n` extends a trusted tree at
//!   `m <= n`. The proof carries the peaks of `m` (checked against the trusted
//!   tree hash) and the right-hand nodes that complete the peaks of `n`.
//! - [`ForkConflict`]: two valid heads with the same (length, fork) and
//!   different tree hashes, evidence that the writer equivocated.
//!
//! Size limits, all checked before anything is allocated: a range carries at
//! most [`MAX_RANGE_BLOCKS`] blocks of at most [`MAX_BLOCK_LEN`] bytes; a
//! proof carries at most [`MAX_PROOF_NODES`] nodes (a tree of 2^60 blocks
//! needs at most 2·60 + 60); a length is at most [`MAX_JOURNAL_LENGTH`].

use crate::codec::{DecodeError, Reader, Writer};
use crate::identity::PublicKey;

use super::hash::{self, Hash, TreeNode};
use super::head::{JournalTag, SignedHead};
use super::{MAX_BLOCK_LEN, MAX_JOURNAL_LENGTH, flat_tree};

/// Most blocks in one [`RangeProof`].
pub const MAX_RANGE_BLOCKS: usize = 1024;
/// Most nodes in one proof.
pub const MAX_PROOF_NODES: usize = 256;

/// A node sent in a proof; its flat-tree index is implied by its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofNode {
    pub size: u64,
    pub hash: Hash,
}

impl From<TreeNode> for ProofNode {
    fn from(node: TreeNode) -> Self {
        ProofNode {
            size: node.size,
            hash: node.hash,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the head belongs to another journal (tag differs)")]
    WrongJournal,
    #[error("the head's signature does not verify with this journal's key")]
    BadSignature,
    #[error("the rebuilt tree hash differs from the signed one")]
    TreeHashMismatch,
    #[error("the trusted head's tree hash does not match the proof's older peaks")]
    TrustedTreeMismatch,
    #[error("blocks {start}..{end} are not a non-empty range within length {length}")]
    BadRange { start: u64, end: u64, length: u64 },
    #[error("length {length} exceeds the journal limit {limit}")]
    LengthTooLarge { length: u64, limit: u64 },
    #[error("the proof has too few nodes")]
    MissingNodes,
    #[error("the proof has {count} unused nodes")]
    ExtraNodes { count: usize },
    #[error("the proof has {actual} older peaks, length {length} has {expected}")]
    PeakCount {
        length: u64,
        expected: usize,
        actual: usize,
    },
    #[error("node sizes overflow")]
    SizeOverflow,
    #[error("an upgrade cannot go from length {from} back to {to}")]
    Backwards { from: u64, to: u64 },
    #[error("the upgrade starts at length {proof}, the trusted head is at {trusted}")]
    WrongStart { proof: u64, trusted: u64 },
}

/// Verifies proofs of one journal, knowing only its writer's public key and
/// its tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalVerifier {
    key: PublicKey,
    tag: JournalTag,
}

impl JournalVerifier {
    pub fn new(key: PublicKey, tag: JournalTag) -> Self {
        JournalVerifier { key, tag }
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    pub fn tag(&self) -> JournalTag {
        self.tag
    }

    /// A head is this journal's, within limits, and signed by its writer.
    pub fn verify_head(&self, head: &SignedHead) -> Result<(), VerifyError> {
        if head.tag != self.tag {
            return Err(VerifyError::WrongJournal);
        }
        if head.length > MAX_JOURNAL_LENGTH {
            return Err(VerifyError::LengthTooLarge {
                length: head.length,
                limit: MAX_JOURNAL_LENGTH,
            });
        }
        head.verify(&self.key)
            .map_err(|_| VerifyError::BadSignature)
    }

    /// Blocks `proof.start..` are the journal's at the proof's head.
    pub fn verify_range(&self, proof: &RangeProof) -> Result<(), VerifyError> {
        let length = proof.head.length;
        if length > MAX_JOURNAL_LENGTH {
            return Err(VerifyError::LengthTooLarge {
                length,
                limit: MAX_JOURNAL_LENGTH,
            });
        }
        let end = proof.start.saturating_add(proof.blocks.len() as u64);
        if proof.blocks.is_empty() || end > length {
            return Err(VerifyError::BadRange {
                start: proof.start,
                end,
                length,
            });
        }
        let mut rebuild = RangeRebuild {
            start: proof.start,
            end,
            blocks: &proof.blocks,
            nodes: proof.nodes.iter(),
        };
        let peaks = flat_tree::peaks(length)
            .map(|peak| rebuild.node(peak))
            .collect::<Result<Vec<_>, _>>()?;
        let unused = rebuild.nodes.len();
        if unused > 0 {
            return Err(VerifyError::ExtraNodes { count: unused });
        }
        if hash::tree_hash(&peaks) != proof.head.tree_hash {
            return Err(VerifyError::TreeHashMismatch);
        }
        self.verify_head(&proof.head)
    }

    /// The proof's head extends `trusted` (already verified by the caller):
    /// the first `trusted.length` blocks are unchanged. Returns the new head.
    pub fn verify_upgrade<'p>(
        &self,
        trusted: &SignedHead,
        proof: &'p UpgradeProof,
    ) -> Result<&'p SignedHead, VerifyError> {
        let (from, to) = (proof.from_length, proof.head.length);
        if from != trusted.length {
            return Err(VerifyError::WrongStart {
                proof: from,
                trusted: trusted.length,
            });
        }
        if to > MAX_JOURNAL_LENGTH {
            return Err(VerifyError::LengthTooLarge {
                length: to,
                limit: MAX_JOURNAL_LENGTH,
            });
        }
        if from > to {
            return Err(VerifyError::Backwards { from, to });
        }
        if trusted.tag != self.tag {
            return Err(VerifyError::WrongJournal);
        }
        let expected = from.count_ones() as usize;
        if proof.from_peaks.len() != expected {
            return Err(VerifyError::PeakCount {
                length: from,
                expected,
                actual: proof.from_peaks.len(),
            });
        }
        let from_peaks: Vec<TreeNode> = flat_tree::peaks(from)
            .zip(&proof.from_peaks)
            .map(|(index, node)| TreeNode {
                index,
                size: node.size,
                hash: node.hash,
            })
            .collect();
        if hash::tree_hash(&from_peaks) != trusted.tree_hash {
            return Err(VerifyError::TrustedTreeMismatch);
        }
        let mut rebuild = UpgradeRebuild {
            from_length: from,
            from_peaks: from_peaks.iter(),
            nodes: proof.nodes.iter(),
        };
        let peaks = flat_tree::peaks(to)
            .map(|peak| rebuild.node(peak))
            .collect::<Result<Vec<_>, _>>()?;
        let unused = rebuild.nodes.len() + rebuild.from_peaks.len();
        if unused > 0 {
            return Err(VerifyError::ExtraNodes { count: unused });
        }
        if hash::tree_hash(&peaks) != proof.head.tree_hash {
            return Err(VerifyError::TreeHashMismatch);
        }
        self.verify_head(&proof.head)?;
        Ok(&proof.head)
    }

    /// Whether two heads prove the writer equivocated: both valid for this
    /// journal, same length and fork, different trees.
    pub fn detect_conflict(&self, first: &SignedHead, second: &SignedHead) -> Option<ForkConflict> {
        let conflict = ForkConflict {
            first: first.clone(),
            second: second.clone(),
        };
        self.verify_conflict(&conflict).ok().map(|()| conflict)
    }

    /// Check conflict evidence received from someone else.
    pub fn verify_conflict(&self, conflict: &ForkConflict) -> Result<(), VerifyError> {
        let (first, second) = (&conflict.first, &conflict.second);
        if first.length != second.length
            || first.fork != second.fork
            || first.tree_hash == second.tree_hash
        {
            return Err(VerifyError::TreeHashMismatch);
        }
        self.verify_head(first)?;
        self.verify_head(second)
    }
}

/// Rebuilds a peak of a range proof (see the module documentation).
struct RangeRebuild<'p> {
    start: u64,
    end: u64,
    blocks: &'p [Vec<u8>],
    nodes: std::slice::Iter<'p, ProofNode>,
}

impl RangeRebuild<'_> {
    fn node(&mut self, index: u64) -> Result<TreeNode, VerifyError> {
        let (first, end) = (flat_tree::first_block(index), flat_tree::end_block(index));
        if end <= self.start || first >= self.end {
            let sent = self.nodes.next().ok_or(VerifyError::MissingNodes)?;
            return Ok(TreeNode {
                index,
                size: sent.size,
                hash: sent.hash,
            });
        }
        match flat_tree::children(index) {
            None => {
                let block = &self.blocks[(first - self.start) as usize];
                Ok(TreeNode {
                    index,
                    size: block.len() as u64,
                    hash: hash::leaf_hash(block),
                })
            }
            Some((left, right)) => {
                let left = self.node(left)?;
                let right = self.node(right)?;
                combine(index, &left, &right)
            }
        }
    }
}

/// Rebuilds a peak of the newer tree of an upgrade proof.
struct UpgradeRebuild<'p> {
    from_length: u64,
    from_peaks: std::slice::Iter<'p, TreeNode>,
    nodes: std::slice::Iter<'p, ProofNode>,
}

impl UpgradeRebuild<'_> {
    fn node(&mut self, index: u64) -> Result<TreeNode, VerifyError> {
        if flat_tree::end_block(index) <= self.from_length {
            // Wholly inside the older tree: exactly its next peak.
            let peak = self.from_peaks.next().ok_or(VerifyError::MissingNodes)?;
            if peak.index != index {
                return Err(VerifyError::MissingNodes);
            }
            return Ok(*peak);
        }
        if flat_tree::first_block(index) >= self.from_length {
            let sent = self.nodes.next().ok_or(VerifyError::MissingNodes)?;
            return Ok(TreeNode {
                index,
                size: sent.size,
                hash: sent.hash,
            });
        }
        let (left, right) = flat_tree::children(index).ok_or(VerifyError::MissingNodes)?;
        let left = self.node(left)?;
        let right = self.node(right)?;
        combine(index, &left, &right)
    }
}

fn combine(index: u64, left: &TreeNode, right: &TreeNode) -> Result<TreeNode, VerifyError> {
    let size = left
        .size
        .checked_add(right.size)
        .ok_or(VerifyError::SizeOverflow)?;
    Ok(TreeNode {
        index,
        size,
        hash: hash::parent_hash(size, &left.hash, &right.hash),
    })
}

/// Blocks `start..start + blocks.len()` with the nodes that tie them to
/// `head`. What a peer sends to answer a QUERY (one block) or to replicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeProof {
    pub start: u64,
    pub blocks: Vec<Vec<u8>>,
    pub nodes: Vec<ProofNode>,
    pub head: SignedHead,
}

/// The tree signed in `head` extends the tree at `from_length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeProof {
    pub from_length: u64,
    pub from_peaks: Vec<ProofNode>,
    pub nodes: Vec<ProofNode>,
    pub head: SignedHead,
}

/// Two signed heads with the same (length, fork) and different tree hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkConflict {
    pub first: SignedHead,
    pub second: SignedHead,
}

fn encode_nodes(writer: &mut Writer, nodes: &[ProofNode]) {
    assert!(
        nodes.len() <= MAX_PROOF_NODES,
        "proof exceeds its node limit"
    );
    writer.u32(nodes.len() as u32);
    for node in nodes {
        writer.u64(node.size).fixed(&node.hash);
    }
}

fn decode_nodes(
    reader: &mut Reader<'_>,
    field: &'static str,
) -> Result<Vec<ProofNode>, DecodeError> {
    let count = reader.count(field, MAX_PROOF_NODES)?;
    let mut nodes = Vec::with_capacity(count.min(reader.remaining() / 40));
    for _ in 0..count {
        nodes.push(ProofNode {
            size: reader.u64("proof node size")?,
            hash: reader.array("proof node hash")?,
        });
    }
    Ok(nodes)
}

fn decode_head(reader: &mut Reader<'_>) -> Result<SignedHead, DecodeError> {
    let head = SignedHead::decode(reader)?;
    if head.length > MAX_JOURNAL_LENGTH {
        return Err(DecodeError::TooLong {
            field: "journal length",
            length: head.length,
            limit: MAX_JOURNAL_LENGTH,
        });
    }
    Ok(head)
}

impl RangeProof {
    /// Layout: u64 start ‖ u32 block count ‖ blocks (u32 length ‖ bytes) ‖
    /// u32 node count ‖ nodes (u64 size ‖ 32-byte hash) ‖ signed head.
    pub fn encode(&self, writer: &mut Writer) {
        assert!(
            self.blocks.len() <= MAX_RANGE_BLOCKS,
            "range exceeds its block limit"
        );
        writer.u64(self.start).u32(self.blocks.len() as u32);
        for block in &self.blocks {
            assert!(block.len() <= MAX_BLOCK_LEN, "block exceeds its size limit");
            writer.bytes(block);
        }
        encode_nodes(writer, &self.nodes);
        self.head.encode(writer);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        writer.finish()
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = reader.u64("range start")?;
        let count = reader.count("range block count", MAX_RANGE_BLOCKS)?;
        let mut blocks = Vec::with_capacity(count.min(reader.remaining() / 4));
        for _ in 0..count {
            blocks.push(reader.bytes("range block", MAX_BLOCK_LEN)?.to_vec());
        }
        let nodes = decode_nodes(reader, "range proof node count")?;
        let head = decode_head(reader)?;
        Ok(RangeProof {
            start,
            blocks,
            nodes,
            head,
        })
    }

    /// Decode a whole byte string (no trailing bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let proof = Self::decode(&mut reader)?;
        reader.finish()?;
        Ok(proof)
    }
}

impl UpgradeProof {
    /// Layout: u64 from_length ‖ u32 count ‖ older peaks ‖ u32 count ‖
    /// nodes (each u64 size ‖ 32-byte hash) ‖ signed head.
    pub fn encode(&self, writer: &mut Writer) {
        writer.u64(self.from_length);
        encode_nodes(writer, &self.from_peaks);
        encode_nodes(writer, &self.nodes);
        self.head.encode(writer);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        writer.finish()
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let from_length = reader.u64("upgrade from length")?;
        if from_length > MAX_JOURNAL_LENGTH {
            return Err(DecodeError::TooLong {
                field: "upgrade from length",
                length: from_length,
                limit: MAX_JOURNAL_LENGTH,
            });
        }
        let from_peaks = decode_nodes(reader, "upgrade older peak count")?;
        let nodes = decode_nodes(reader, "upgrade node count")?;
        let head = decode_head(reader)?;
        Ok(UpgradeProof {
            from_length,
            from_peaks,
            nodes,
            head,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let proof = Self::decode(&mut reader)?;
        reader.finish()?;
        Ok(proof)
    }
}

impl ForkConflict {
    /// Layout: the two signed heads, one after the other.
    pub fn encode(&self, writer: &mut Writer) {
        self.first.encode(writer);
        self.second.encode(writer);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::new();
        self.encode(&mut writer);
        writer.finish()
    }

    pub fn decode(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ForkConflict {
            first: decode_head(reader)?,
            second: decode_head(reader)?,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        let conflict = Self::decode(&mut reader)?;
        reader.finish()?;
        Ok(conflict)
    }
}
