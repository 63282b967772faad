//! Flat-tree indexing (Hypercore's `flat-tree`): a binary tree laid out in one
//! array. Block `i` is node `2i`; parents have odd indexes; a node's depth is
//! its count of trailing 1-bits, and its offset is its position among the nodes
//! of that depth. The peaks ("full roots") of `n` blocks follow the binary
//! decomposition of `n`: 5 blocks have peaks 3 (blocks 0..4) and 8 (block 4).
//!
//! Indexes are `u64`; callers keep lengths below [`super::MAX_JOURNAL_LENGTH`]
//! (2^60 blocks), so `2 * length` and every span below never overflow.

/// The node at `depth` and `offset` (its position among nodes of that depth).
pub fn index(depth: u32, offset: u64) -> u64 {
    (offset << (depth + 1)) | ((1u64 << depth) - 1)
}

/// Height above the leaves: 0 for a block, 1 for a parent of two blocks...
pub fn depth(index: u64) -> u32 {
    index.trailing_ones()
}

/// Position of the node among the nodes of its depth, left to right.
pub fn offset(index: u64) -> u64 {
    index >> (depth(index) + 1)
}

pub fn parent(index: u64) -> u64 {
    self::index(depth(index) + 1, offset(index) >> 1)
}

pub fn sibling(index: u64) -> u64 {
    self::index(depth(index), offset(index) ^ 1)
}

/// Whether the node is the left child of its parent.
pub fn is_left(index: u64) -> bool {
    offset(index) & 1 == 0
}

/// The left and right children, or `None` for a block (depth 0).
pub fn children(index: u64) -> Option<(u64, u64)> {
    let depth = depth(index);
    if depth == 0 {
        return None;
    }
    let offset = offset(index) * 2;
    Some((
        self::index(depth - 1, offset),
        self::index(depth - 1, offset + 1),
    ))
}

/// Number of blocks under the node: `2^depth`.
pub fn leaf_count(index: u64) -> u64 {
    1u64 << depth(index)
}

/// The first block under the node (a block index, not a node index).
pub fn first_block(index: u64) -> u64 {
    offset(index) << depth(index)
}

/// One past the last block under the node.
pub fn end_block(index: u64) -> u64 {
    first_block(index) + leaf_count(index)
}

/// The leftmost node index under `index` (a leaf).
pub fn left_span(index: u64) -> u64 {
    first_block(index) * 2
}

/// The rightmost node index under `index` (a leaf).
pub fn right_span(index: u64) -> u64 {
    (end_block(index) - 1) * 2
}

/// The peaks of a tree of `length` blocks, left to right: one per set bit of
/// `length`, biggest first. Each peak's blocks follow the previous peak's.
pub fn peaks(length: u64) -> impl Iterator<Item = u64> {
    let mut remaining = length;
    let mut first = 0u64;
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        let depth = 63 - remaining.leading_zeros();
        let size = 1u64 << depth;
        let peak = index(depth, first >> depth);
        first += size;
        remaining -= size;
        Some(peak)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hypercore_reference_values() {
        // Values from mafintosh/flat-tree's README and tests.
        assert_eq!(index(0, 0), 0);
        assert_eq!(index(0, 1), 2);
        assert_eq!(index(1, 0), 1);
        assert_eq!(index(1, 1), 5);
        assert_eq!(index(2, 0), 3);
        assert_eq!(parent(0), 1);
        assert_eq!(parent(2), 1);
        assert_eq!(parent(1), 3);
        assert_eq!(parent(5), 3);
        assert_eq!(sibling(0), 2);
        assert_eq!(sibling(1), 5);
        assert_eq!(children(3), Some((1, 5)));
        assert_eq!(children(0), None);
        assert_eq!(left_span(3), 0);
        assert_eq!(right_span(3), 6);
        assert_eq!(right_span(23), 30);
        assert_eq!(peaks(5).collect::<Vec<_>>(), [3, 8]);
        assert_eq!(peaks(6).collect::<Vec<_>>(), [3, 9]);
        assert_eq!(peaks(7).collect::<Vec<_>>(), [3, 9, 12]);
        assert_eq!(peaks(8).collect::<Vec<_>>(), [7]);
        assert_eq!(peaks(0).count(), 0);
    }

    proptest! {
        #[test]
        fn flat_tree_laws(node in 0u64..(1 << 60)) {
            prop_assert_eq!(index(depth(node), offset(node)), node);
            prop_assert_eq!(depth(parent(node)), depth(node) + 1);
            prop_assert_eq!(sibling(sibling(node)), node);
            prop_assert_eq!(parent(sibling(node)), parent(node));
            prop_assert_eq!(is_left(node), node < sibling(node));
            let (left, right) = children(parent(node)).unwrap();
            prop_assert!(left == node || right == node);
            prop_assert_eq!(left_span(parent(node)), left_span(left));
            prop_assert_eq!(right_span(parent(node)), right_span(right));
            prop_assert!(left_span(node) <= node && node <= right_span(node));
            prop_assert_eq!(right_span(node) - left_span(node), 2 * (leaf_count(node) - 1));
            prop_assert_eq!(first_block(node) * 2, left_span(node));
            if let Some((left, right)) = children(node) {
                prop_assert_eq!(parent(left), node);
                prop_assert_eq!(parent(right), node);
                prop_assert_eq!(right_span(left) + 2, left_span(right));
            }
        }

        #[test]
        fn peaks_partition_the_blocks(length in 0u64..(1 << 60)) {
            let peaks: Vec<u64> = peaks(length).collect();
            prop_assert_eq!(peaks.len() as u32, length.count_ones());
            let mut next_block = 0;
            for (position, &peak) in peaks.iter().enumerate() {
                prop_assert_eq!(first_block(peak), next_block);
                if position > 0 {
                    prop_assert!(leaf_count(peak) < leaf_count(peaks[position - 1]));
                }
                next_block = end_block(peak);
            }
            prop_assert_eq!(next_block, length);
        }
    }
}
