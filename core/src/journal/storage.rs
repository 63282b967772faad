//! Where a journal keeps its blocks, tree nodes and signed heads. The storage
//! is the journal's durable state: a crashed cell reopens its journals from it
//! ([`super::Journal::open`]). [`MemoryStorage`] is the default; a file-backed
//! store implements the same trait.

use std::borrow::Cow;

use super::flat_tree;
use super::hash::{Hash, TreeNode};
use super::head::SignedHead;

/// Why a storage backend failed (I/O, corruption found by the backend).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal storage failed: {reason}")]
pub struct StorageError {
    pub reason: String,
}

/// The journal's persistence. Blocks are appended in order; tree nodes are
/// stored by flat-tree index; signed heads are stored in increasing length,
/// one per append batch (the journal's version history).
pub trait Storage: Send {
    /// Blocks stored (0..block_count).
    fn block_count(&self) -> Result<u64, StorageError>;
    fn block(&self, index: u64) -> Result<Option<Cow<'_, [u8]>>, StorageError>;
    /// Append block number `block_count()`.
    fn append_block(&mut self, data: &[u8]) -> Result<(), StorageError>;
    fn node(&self, index: u64) -> Result<Option<TreeNode>, StorageError>;
    fn put_node(&mut self, node: TreeNode) -> Result<(), StorageError>;
    /// The head signed at exactly `length` blocks, if one was.
    fn head(&self, length: u64) -> Result<Option<SignedHead>, StorageError>;
    fn latest_head(&self) -> Result<Option<SignedHead>, StorageError>;
    /// Record a head; its length is at least the latest head's, and a head at
    /// the same length replaces it.
    fn put_head(&mut self, head: SignedHead) -> Result<(), StorageError>;
    /// Forget blocks `length..`, the nodes above them and the heads signed at
    /// lengths `length..` (a truncation signs a fresh head at `length`).
    fn truncate(&mut self, length: u64) -> Result<(), StorageError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredNode {
    size: u64,
    hash: Hash,
}

/// In-memory storage, compact: all block bytes in one buffer, nodes in one
/// vector indexed by flat-tree index, heads in one vector. An empty store
/// allocates nothing; appends grow the vectors (amortised), never copy per
/// block.
#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    data: Vec<u8>,
    /// `block_ends[i]` is one past the last byte of block `i` in `data`.
    block_ends: Vec<u64>,
    nodes: Vec<Option<StoredNode>>,
    heads: Vec<SignedHead>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        MemoryStorage::default()
    }

    /// Heap bytes held (capacity, not length), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.data.capacity()
            + self.block_ends.capacity() * size_of::<u64>()
            + self.nodes.capacity() * size_of::<Option<StoredNode>>()
            + self.heads.capacity() * size_of::<SignedHead>()
    }

    /// Every signed head kept, in increasing length.
    pub fn heads(&self) -> &[SignedHead] {
        &self.heads
    }
}

impl Storage for MemoryStorage {
    fn block_count(&self) -> Result<u64, StorageError> {
        Ok(self.block_ends.len() as u64)
    }

    fn block(&self, index: u64) -> Result<Option<Cow<'_, [u8]>>, StorageError> {
        let Ok(position) = usize::try_from(index) else {
            return Ok(None);
        };
        let Some(&end) = self.block_ends.get(position) else {
            return Ok(None);
        };
        let start = if position == 0 {
            0
        } else {
            self.block_ends[position - 1]
        };
        Ok(Some(Cow::Borrowed(
            &self.data[start as usize..end as usize],
        )))
    }

    fn append_block(&mut self, data: &[u8]) -> Result<(), StorageError> {
        self.data.extend_from_slice(data);
        self.block_ends.push(self.data.len() as u64);
        Ok(())
    }

    fn node(&self, index: u64) -> Result<Option<TreeNode>, StorageError> {
        let stored = usize::try_from(index)
            .ok()
            .and_then(|position| self.nodes.get(position).copied().flatten());
        Ok(stored.map(|stored| TreeNode {
            index,
            size: stored.size,
            hash: stored.hash,
        }))
    }

    fn put_node(&mut self, node: TreeNode) -> Result<(), StorageError> {
        let position = usize::try_from(node.index).map_err(|_| StorageError {
            reason: format!("node index {} beyond memory", node.index),
        })?;
        if self.nodes.len() <= position {
            self.nodes.resize(position + 1, None);
        }
        self.nodes[position] = Some(StoredNode {
            size: node.size,
            hash: node.hash,
        });
        Ok(())
    }

    fn head(&self, length: u64) -> Result<Option<SignedHead>, StorageError> {
        Ok(self
            .heads
            .binary_search_by_key(&length, |head| head.length)
            .ok()
            .map(|position| self.heads[position].clone()))
    }

    fn latest_head(&self) -> Result<Option<SignedHead>, StorageError> {
        Ok(self.heads.last().cloned())
    }

    fn put_head(&mut self, head: SignedHead) -> Result<(), StorageError> {
        match self.heads.last() {
            Some(last) if last.length > head.length => Err(StorageError {
                reason: format!(
                    "head at length {} after a head at length {}",
                    head.length, last.length
                ),
            }),
            Some(last) if last.length == head.length => {
                *self.heads.last_mut().expect("checked above") = head;
                Ok(())
            }
            _ => {
                self.heads.push(head);
                Ok(())
            }
        }
    }

    fn truncate(&mut self, length: u64) -> Result<(), StorageError> {
        let kept = usize::try_from(length)
            .unwrap_or(usize::MAX)
            .min(self.block_ends.len());
        let data_end = if kept == 0 {
            0
        } else {
            self.block_ends[kept - 1]
        };
        self.block_ends.truncate(kept);
        self.data.truncate(data_end as usize);
        // Nodes over any block at or past `length` are stale: every index from
        // the first stale leaf on, plus the ancestors below it whose span
        // reaches past it (they are recomputed when blocks come back).
        let first_stale_leaf = 2 * kept;
        self.nodes.truncate(first_stale_leaf);
        for (index, slot) in self.nodes.iter_mut().enumerate() {
            if slot.is_some() && flat_tree::right_span(index as u64) >= first_stale_leaf as u64 {
                *slot = None;
            }
        }
        let kept_heads = self.heads.partition_point(|head| head.length < length);
        self.heads.truncate(kept_heads);
        Ok(())
    }
}
