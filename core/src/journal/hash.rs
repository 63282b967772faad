//! The journal's Merkle hashes, blake3 keyed with a namespace derived by
//! `blake3::derive_key` and domain-separated by a leading type byte, so a
//! leaf can never be read as a parent, nor either as a tree hash:
//!
//! - leaf   = H(0x00 ‖ u64le(len) ‖ data)
//! - parent = H(0x01 ‖ u64le(left.size + right.size) ‖ left.hash ‖ right.hash)
//! - tree   = H(0x02 ‖ for each peak, left to right: hash ‖ u64le(index) ‖ u64le(size))
//!
//! `size` is the number of data bytes under a node, so the peaks also commit
//! to the journal's byte length.

use std::sync::LazyLock;

const TREE_NAMESPACE_CONTEXT: &str = "celluler 2026-11 journal merkle tree";

static TREE_KEY: LazyLock<[u8; 32]> =
    LazyLock::new(|| blake3::derive_key(TREE_NAMESPACE_CONTEXT, b""));

const LEAF_TYPE: u8 = 0x00;
const PARENT_TYPE: u8 = 0x01;
const TREE_TYPE: u8 = 0x02;

pub type Hash = [u8; 32];

/// A node of the tree: its flat-tree index, the data bytes under it, its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeNode {
    pub index: u64,
    pub size: u64,
    pub hash: Hash,
}

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new_keyed(&TREE_KEY);
    hasher.update(&[LEAF_TYPE]);
    hasher.update(&(data.len() as u64).to_le_bytes());
    hasher.update(data);
    *hasher.finalize().as_bytes()
}

/// `size` is the sum of the children's sizes (the caller checks overflow).
pub fn parent_hash(size: u64, left: &Hash, right: &Hash) -> Hash {
    let mut hasher = blake3::Hasher::new_keyed(&TREE_KEY);
    hasher.update(&[PARENT_TYPE]);
    hasher.update(&size.to_le_bytes());
    hasher.update(left);
    hasher.update(right);
    *hasher.finalize().as_bytes()
}

/// The hash over the peaks of a tree (left to right), which the head signs.
pub fn tree_hash<'a>(peaks: impl IntoIterator<Item = &'a TreeNode>) -> Hash {
    let mut hasher = blake3::Hasher::new_keyed(&TREE_KEY);
    hasher.update(&[TREE_TYPE]);
    for peak in peaks {
        hasher.update(&peak.hash);
        hasher.update(&peak.index.to_le_bytes());
        hasher.update(&peak.size.to_le_bytes());
    }
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_separated() {
        // The same 32+8 bytes hashed as a leaf, a parent or a tree must differ.
        let leaf = leaf_hash(&[0; 72]);
        let parent = parent_hash(72, &[0; 32], &[0; 32]);
        let tree = tree_hash(&[TreeNode {
            index: 0,
            size: 0,
            hash: [0; 32],
        }]);
        assert_ne!(leaf, parent);
        assert_ne!(leaf, tree);
        assert_ne!(parent, tree);
        assert_ne!(leaf_hash(b""), leaf_hash(b"\0"));
        assert_ne!(tree_hash(&[]), leaf_hash(b""));
    }
}
