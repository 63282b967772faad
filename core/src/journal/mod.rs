//! Hypercore-style signed append-only journals.
//!
//! A journal is a log of blocks under a binary Merkle tree in flat-tree order
//! ([`flat_tree`], [`hash`]); after every append batch the writer signs one
//! [`SignedHead`] (tree hash, length, fork). A reader holding only the
//! writer's public key checks blocks, ranges and upgrades with the proofs of
//! [`proof`] and a [`JournalVerifier`].
//!
//! Write access is a capability: [`JournalWriter`] holds the signing keys, is
//! not `Clone`, and hands out `&Journal`, the read view, which can read blocks,
//! heads and old versions and build proofs, but has no method that appends.
//!
//! Versions: every append batch keeps its signed head, so the journal as it
//! was at any signed length can be read and proved. Truncation to an earlier
//! length bumps the fork id, drops later heads and signs a new head.

pub mod flat_tree;
pub mod hash;
pub mod head;
pub mod proof;
pub mod storage;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use crate::identity::{CellKeys, PublicKey, SignatureError};

pub use hash::{Hash, TreeNode};
pub use head::{JournalTag, SignedHead};
pub use proof::{ForkConflict, JournalVerifier, ProofNode, RangeProof, UpgradeProof, VerifyError};
pub use storage::{MemoryStorage, Storage, StorageError};

/// Most blocks a journal may hold: keeps every flat-tree index (`< 2^61`)
/// far from overflow, and is checked on every decoded length.
pub const MAX_JOURNAL_LENGTH: u64 = 1 << 60;
/// Largest block, in bytes (so a proof carrying blocks has a bounded size).
pub const MAX_BLOCK_LEN: usize = 1 << 20;

/// The five journals of a cell, one per service.
pub const SERVICE_JOURNAL_NAMES: [&str; 5] =
    ["nucleus", "message", "state", "identity", "consensus"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("block of {length} bytes exceeds the limit of {limit}")]
    BlockTooLarge { length: usize, limit: usize },
    #[error("an append batch needs at least one block")]
    EmptyBatch,
    #[error("the journal is full ({limit} blocks)")]
    Full { limit: u64 },
    #[error("length {requested} is beyond the journal's length {length}")]
    BeyondEnd { requested: u64, length: u64 },
    #[error("block range {start}..{end} is empty or beyond length {length}")]
    BadRange { start: u64, end: u64, length: u64 },
    #[error("range of {count} blocks exceeds the proof limit of {limit}")]
    RangeTooLong { count: u64, limit: u64 },
    #[error("no head was signed at length {length}")]
    NoSignedHead { length: u64 },
    #[error("storage lacks {what} {index}")]
    Missing { what: &'static str, index: u64 },
    #[error("stored head at length {length} does not match the stored tree: {reason}")]
    CorruptHead { length: u64, reason: &'static str },
    #[error("stored head signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the keys given do not match the journal's public key")]
    WrongKeys,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The read view of a journal: blocks, heads, old versions, proofs. It has
/// no way to append; only [`JournalWriter`] does.
#[derive(Debug)]
pub struct Journal<S: Storage = MemoryStorage> {
    tag: JournalTag,
    key: PublicKey,
    length: u64,
    fork: u64,
    storage: S,
}

impl Journal<MemoryStorage> {
    fn new(key: PublicKey, tag: JournalTag) -> Self {
        Journal {
            tag,
            key,
            length: 0,
            fork: 0,
            storage: MemoryStorage::new(),
        }
    }
}

impl<S: Storage> Journal<S> {
    /// Reopen a journal from its storage after a crash. Blocks past the last
    /// signed head were never acknowledged (the crash hit mid-append) and are
    /// dropped; the last head must be `key`'s signature over the stored tree.
    pub fn open(mut storage: S, key: PublicKey, tag: JournalTag) -> Result<Self, JournalError> {
        let stored_blocks = storage.block_count()?;
        let Some(head) = storage.latest_head()? else {
            storage.truncate(0)?;
            return Ok(Journal {
                tag,
                key,
                length: 0,
                fork: 0,
                storage,
            });
        };
        if head.length > stored_blocks {
            return Err(JournalError::CorruptHead {
                length: head.length,
                reason: "head is longer than the stored blocks",
            });
        }
        if stored_blocks > head.length {
            storage.truncate(head.length)?;
            // Truncation drops the head at its own length; keep it.
            storage.put_head(head.clone())?;
        }
        let journal = Journal {
            tag,
            key,
            length: head.length,
            fork: head.fork,
            storage,
        };
        journal.check_head(&head)?;
        Ok(journal)
    }

    /// Check that `head` is this journal's, signed by its key, over the tree
    /// stored at `head.length`.
    fn check_head(&self, head: &SignedHead) -> Result<(), JournalError> {
        if head.tag != self.tag {
            return Err(JournalError::CorruptHead {
                length: head.length,
                reason: "head belongs to another journal",
            });
        }
        if self.tree_hash_at(head.length)? != head.tree_hash {
            return Err(JournalError::CorruptHead {
                length: head.length,
                reason: "tree hash differs",
            });
        }
        head.verify(&self.key)?;
        Ok(())
    }

    /// Full audit of the storage: rehash every block and parent, and check
    /// every kept head (signature and tree hash). O(n) hashes, one signature
    /// check per head.
    pub fn audit(&self) -> Result<(), JournalError> {
        for block_index in 0..self.length {
            let block = self.block(block_index)?;
            let node = self.node(2 * block_index)?;
            if node.size != block.len() as u64 || node.hash != hash::leaf_hash(&block) {
                return Err(JournalError::CorruptHead {
                    length: self.length,
                    reason: "a leaf does not hash its block",
                });
            }
            // Check the parents this block completed.
            let mut current = node;
            while !flat_tree::is_left(current.index) {
                let left = self.node(flat_tree::sibling(current.index))?;
                let parent = self.node(flat_tree::parent(current.index))?;
                let size = left.size + current.size;
                if parent.size != size
                    || parent.hash != hash::parent_hash(size, &left.hash, &current.hash)
                {
                    return Err(JournalError::CorruptHead {
                        length: self.length,
                        reason: "a parent does not hash its children",
                    });
                }
                current = parent;
            }
        }
        let mut length = 0;
        loop {
            if let Some(head) = self.storage.head(length)? {
                self.check_head(&head)?;
            }
            if length == self.length {
                return Ok(());
            }
            length += 1;
        }
    }

    /// The journal as it was at `length` blocks (`length <= self.length()`).
    pub fn version(&self, length: u64) -> Result<JournalVersion<'_, S>, JournalError> {
        self.check_length(length)?;
        Ok(JournalVersion {
            journal: self,
            length,
        })
    }

    pub fn tag(&self) -> JournalTag {
        self.tag
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// A verifier for this journal's proofs, holding only the public key.
    pub fn verifier(&self) -> JournalVerifier {
        JournalVerifier::new(self.key, self.tag)
    }

    pub fn length(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    pub fn fork(&self) -> u64 {
        self.fork
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Give the storage back (the durable state kept across a crash).
    pub fn into_storage(self) -> S {
        self.storage
    }

    /// Block `index` (`index < length`).
    pub fn block(&self, index: u64) -> Result<Cow<'_, [u8]>, JournalError> {
        if index >= self.length {
            return Err(JournalError::BeyondEnd {
                requested: index,
                length: self.length,
            });
        }
        self.storage.block(index)?.ok_or(JournalError::Missing {
            what: "block",
            index,
        })
    }

    /// The latest signed head (`None` only for a journal never appended to).
    pub fn head(&self) -> Result<Option<SignedHead>, JournalError> {
        Ok(self.storage.latest_head()?)
    }

    /// The head signed when the journal had `length` blocks, if one was
    /// (one head per append batch).
    pub fn head_at(&self, length: u64) -> Result<Option<SignedHead>, JournalError> {
        self.check_length(length)?;
        Ok(self.storage.head(length)?)
    }

    pub fn tree_hash(&self) -> Result<Hash, JournalError> {
        self.tree_hash_at(self.length)
    }

    /// The tree hash of the first `length` blocks: the same value for as long
    /// as the journal is not truncated below `length`.
    pub fn tree_hash_at(&self, length: u64) -> Result<Hash, JournalError> {
        let peaks = self.peaks_at(length)?;
        Ok(hash::tree_hash(&peaks))
    }

    /// Total bytes in the first `length` blocks (the sum of the peak sizes).
    pub fn byte_length_at(&self, length: u64) -> Result<u64, JournalError> {
        Ok(self.peaks_at(length)?.iter().map(|peak| peak.size).sum())
    }

    pub fn byte_length(&self) -> Result<u64, JournalError> {
        self.byte_length_at(self.length)
    }

    /// The peaks of the tree over the first `length` blocks, left to right.
    pub fn peaks_at(&self, length: u64) -> Result<Vec<TreeNode>, JournalError> {
        self.check_length(length)?;
        flat_tree::peaks(length)
            .map(|index| self.node(index))
            .collect()
    }

    /// A stored node of the current tree.
    pub fn node(&self, index: u64) -> Result<TreeNode, JournalError> {
        self.storage.node(index)?.ok_or(JournalError::Missing {
            what: "tree node",
            index,
        })
    }

    /// Proof of block `index` against the head signed at `length`.
    pub fn block_proof(&self, index: u64, length: u64) -> Result<RangeProof, JournalError> {
        self.range_proof(index, index.saturating_add(1), length)
    }

    /// Proof of blocks `start..end` against the head signed at `length`: the
    /// blocks, the nodes needed to rebuild the tree hash, and the head.
    pub fn range_proof(
        &self,
        start: u64,
        end: u64,
        length: u64,
    ) -> Result<RangeProof, JournalError> {
        self.check_length(length)?;
        if start >= end || end > length {
            return Err(JournalError::BadRange { start, end, length });
        }
        let count = end - start;
        if count > proof::MAX_RANGE_BLOCKS as u64 {
            return Err(JournalError::RangeTooLong {
                count,
                limit: proof::MAX_RANGE_BLOCKS as u64,
            });
        }
        let head = self
            .storage
            .head(length)?
            .ok_or(JournalError::NoSignedHead { length })?;
        let blocks = (start..end)
            .map(|index| self.block(index).map(Cow::into_owned))
            .collect::<Result<Vec<_>, _>>()?;
        let mut nodes = Vec::new();
        for peak in flat_tree::peaks(length) {
            self.collect_range_nodes(peak, start, end, &mut nodes)?;
        }
        Ok(RangeProof {
            start,
            blocks,
            nodes,
            head,
        })
    }

    /// Mirror of the verifier's rebuild: every node wholly outside the range
    /// is sent, in depth-first left-to-right order; nodes overlapping the
    /// range are rebuilt by the verifier from their children.
    fn collect_range_nodes(
        &self,
        index: u64,
        start: u64,
        end: u64,
        nodes: &mut Vec<ProofNode>,
    ) -> Result<(), JournalError> {
        if flat_tree::end_block(index) <= start || flat_tree::first_block(index) >= end {
            nodes.push(ProofNode::from(self.node(index)?));
            return Ok(());
        }
        if let Some((left, right)) = flat_tree::children(index) {
            self.collect_range_nodes(left, start, end, nodes)?;
            self.collect_range_nodes(right, start, end, nodes)?;
        }
        Ok(())
    }

    /// Proof that the tree signed at `to_length` extends the one at
    /// `from_length`: the peaks of `from_length`, the right-hand nodes that
    /// complete the newer tree, and the head signed at `to_length`.
    pub fn upgrade_proof(
        &self,
        from_length: u64,
        to_length: u64,
    ) -> Result<UpgradeProof, JournalError> {
        self.check_length(to_length)?;
        if from_length > to_length {
            return Err(JournalError::BeyondEnd {
                requested: from_length,
                length: to_length,
            });
        }
        let head = self
            .storage
            .head(to_length)?
            .ok_or(JournalError::NoSignedHead { length: to_length })?;
        let from_peaks = self
            .peaks_at(from_length)?
            .into_iter()
            .map(ProofNode::from)
            .collect();
        let mut nodes = Vec::new();
        for peak in flat_tree::peaks(to_length) {
            self.collect_upgrade_nodes(peak, from_length, &mut nodes)?;
        }
        Ok(UpgradeProof {
            from_length,
            from_peaks,
            nodes,
            head,
        })
    }

    fn collect_upgrade_nodes(
        &self,
        index: u64,
        from_length: u64,
        nodes: &mut Vec<ProofNode>,
    ) -> Result<(), JournalError> {
        if flat_tree::end_block(index) <= from_length {
            return Ok(()); // a peak of the older tree: the verifier has it
        }
        if flat_tree::first_block(index) >= from_length {
            nodes.push(ProofNode::from(self.node(index)?));
            return Ok(());
        }
        let (left, right) = flat_tree::children(index)
            .expect("a node straddling from_length spans at least two blocks");
        self.collect_upgrade_nodes(left, from_length, nodes)?;
        self.collect_upgrade_nodes(right, from_length, nodes)
    }

    fn check_length(&self, length: u64) -> Result<(), JournalError> {
        if length > self.length {
            return Err(JournalError::BeyondEnd {
                requested: length,
                length: self.length,
            });
        }
        Ok(())
    }

    /// Store a block and the parents it completes; returns nothing signed.
    fn store_block(&mut self, data: &[u8]) -> Result<(), JournalError> {
        let block_index = self.length;
        self.storage.append_block(data)?;
        let mut current = TreeNode {
            index: 2 * block_index,
            size: data.len() as u64,
            hash: hash::leaf_hash(data),
        };
        self.storage.put_node(current)?;
        while !flat_tree::is_left(current.index) {
            let left = self.node(flat_tree::sibling(current.index))?;
            let size = left.size + current.size;
            current = TreeNode {
                index: flat_tree::parent(current.index),
                size,
                hash: hash::parent_hash(size, &left.hash, &current.hash),
            };
            self.storage.put_node(current)?;
        }
        self.length += 1;
        Ok(())
    }
}

/// A read view of the journal as it was at an earlier length: the same
/// blocks, the tree hash of that length, the head signed at it, proofs
/// against it.
#[derive(Debug, Clone, Copy)]
pub struct JournalVersion<'j, S: Storage = MemoryStorage> {
    journal: &'j Journal<S>,
    length: u64,
}

impl<'j, S: Storage> JournalVersion<'j, S> {
    pub fn length(&self) -> u64 {
        self.length
    }

    pub fn block(&self, index: u64) -> Result<Cow<'j, [u8]>, JournalError> {
        if index >= self.length {
            return Err(JournalError::BeyondEnd {
                requested: index,
                length: self.length,
            });
        }
        self.journal.block(index)
    }

    /// The head signed at this length, if an append batch ended here.
    pub fn head(&self) -> Result<Option<SignedHead>, JournalError> {
        self.journal.head_at(self.length)
    }

    pub fn tree_hash(&self) -> Result<Hash, JournalError> {
        self.journal.tree_hash_at(self.length)
    }

    pub fn byte_length(&self) -> Result<u64, JournalError> {
        self.journal.byte_length_at(self.length)
    }

    pub fn block_proof(&self, index: u64) -> Result<RangeProof, JournalError> {
        self.journal.block_proof(index, self.length)
    }

    pub fn range_proof(&self, start: u64, end: u64) -> Result<RangeProof, JournalError> {
        self.journal.range_proof(start, end, self.length)
    }
}

/// The write capability of one journal: owns (a share of) the cell's signing
/// keys and the journal. Not `Clone`; it derefs to the read view `&Journal`,
/// which services receive.
#[derive(Debug)]
pub struct JournalWriter<S: Storage = MemoryStorage> {
    journal: Journal<S>,
    keys: Arc<CellKeys>,
}

impl JournalWriter<MemoryStorage> {
    /// An empty in-memory journal. Pass `Arc<CellKeys>` to let one Nucleus
    /// write its five journals with the same keys.
    pub fn new(keys: impl Into<Arc<CellKeys>>, tag: JournalTag) -> Self {
        let keys = keys.into();
        JournalWriter {
            journal: Journal::new(*keys.public(), tag),
            keys,
        }
    }
}

impl<S: Storage> JournalWriter<S> {
    /// Reopen a writer over storage that survived a crash (see
    /// [`Journal::open`]); an empty storage gives an empty journal.
    pub fn open(
        keys: impl Into<Arc<CellKeys>>,
        tag: JournalTag,
        storage: S,
    ) -> Result<Self, JournalError> {
        let keys = keys.into();
        let journal = Journal::open(storage, *keys.public(), tag)?;
        Ok(JournalWriter { journal, keys })
    }

    pub fn journal(&self) -> &Journal<S> {
        &self.journal
    }

    /// Give up writing; the storage is the durable state.
    pub fn into_storage(self) -> S {
        self.journal.storage
    }

    /// Append one block and sign the new head.
    pub fn append(&mut self, block: &[u8]) -> Result<SignedHead, JournalError> {
        self.append_batch(&[block])
    }

    /// Append blocks and sign one head over the result. All blocks are
    /// checked before any is stored.
    pub fn append_batch<B: AsRef<[u8]>>(
        &mut self,
        blocks: &[B],
    ) -> Result<SignedHead, JournalError> {
        if blocks.is_empty() {
            return Err(JournalError::EmptyBatch);
        }
        if let Some(large) = blocks
            .iter()
            .find(|block| block.as_ref().len() > MAX_BLOCK_LEN)
        {
            return Err(JournalError::BlockTooLarge {
                length: large.as_ref().len(),
                limit: MAX_BLOCK_LEN,
            });
        }
        if MAX_JOURNAL_LENGTH - self.journal.length < blocks.len() as u64 {
            return Err(JournalError::Full {
                limit: MAX_JOURNAL_LENGTH,
            });
        }
        for block in blocks {
            self.journal.store_block(block.as_ref())?;
        }
        self.sign_head()
    }

    /// Cut the journal back to `length` blocks, start a new fork and sign it.
    /// Heads signed above `length` are forgotten; proofs against them no
    /// longer match the new head.
    pub fn truncate(&mut self, length: u64) -> Result<SignedHead, JournalError> {
        self.journal.check_length(length)?;
        self.journal.storage.truncate(length)?;
        self.journal.length = length;
        self.journal.fork += 1;
        self.sign_head()
    }

    fn sign_head(&mut self) -> Result<SignedHead, JournalError> {
        let journal = &mut self.journal;
        let tree_hash = journal.tree_hash_at(journal.length)?;
        let head = SignedHead::sign(
            &self.keys,
            journal.tag,
            tree_hash,
            journal.length,
            journal.fork,
        );
        journal.storage.put_head(head.clone())?;
        Ok(head)
    }
}

impl<S: Storage> std::ops::Deref for JournalWriter<S> {
    type Target = Journal<S>;

    fn deref(&self) -> &Journal<S> {
        &self.journal
    }
}
