//! A growable bitset over dense indices (witness slots, member indices), for
//! strongly-seen sets and vote columns: set algebra is a few machine words.

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub fn new() -> Self {
        BitSet { words: Vec::new() }
    }

    pub fn with_len(len: usize) -> Self {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub fn insert(&mut self, index: usize) {
        let word = index / 64;
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << (index % 64);
    }

    pub fn remove(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 64) {
            *word &= !(1 << (index % 64));
        }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.words
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn set_word(&mut self, index: usize, word: u64) {
        if index >= self.words.len() {
            self.words.resize(index + 1, 0);
        }
        self.words[index] = word;
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn clear(&mut self) {
        self.words.clear();
    }

    /// Indices in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        iter_and_words(&self.words, &self.words, None)
    }

    /// Indices set in `self`, in `mask` and (when `and_not` is given) not in it.
    pub fn iter_and<'a>(
        &'a self,
        mask: &'a BitSet,
        and_not: Option<&'a BitSet>,
    ) -> impl Iterator<Item = usize> + 'a {
        iter_and_words(&self.words, &mask.words, and_not.map(BitSet::words))
    }

    /// Size of `self ∩ mask`, or of `self ∩ mask \ and_not`.
    pub fn count_and(&self, mask: &BitSet, and_not: Option<&BitSet>) -> usize {
        count_and_words(&self.words, &mask.words, and_not.map(BitSet::words))
    }
}

/// Number of bits set in `a & b & !exclude`, word by word (missing words are
/// zero).
pub fn count_and_words(a: &[u64], b: &[u64], exclude: Option<&[u64]>) -> usize {
    let words = a.len().min(b.len());
    let mut total = 0;
    for word in 0..words {
        let mut bits = a[word] & b[word];
        if let Some(exclude) = exclude {
            bits &= !exclude.get(word).copied().unwrap_or(0);
        }
        total += bits.count_ones() as usize;
    }
    total
}

/// Indices set in `a & b & !exclude`, in increasing order.
pub fn iter_and_words<'a>(
    a: &'a [u64],
    b: &'a [u64],
    exclude: Option<&'a [u64]>,
) -> impl Iterator<Item = usize> + 'a {
    let words = a.len().min(b.len());
    (0..words).flat_map(move |word_index| {
        let mut rest = a[word_index] & b[word_index];
        if let Some(exclude) = exclude {
            rest &= !exclude.get(word_index).copied().unwrap_or(0);
        }
        std::iter::from_fn(move || {
            if rest == 0 {
                return None;
            }
            let bit = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            Some(word_index * 64 + bit)
        })
    })
}

/// The columns (bit positions below `columns`) set in at least `threshold`
/// of `rows`, each row `columns.div_ceil(64)` words (shorter rows are
/// zero-padded); at most `max_rows` rows.
///
/// Counts are bit-sliced (plane `p` holds bit `p` of every column's count), and
/// rows are added sixteen at a time through a carry-save adder tree
/// (Harley–Seal): about five word operations per row word instead of a
/// carry ripple per row.
pub fn columns_at_least<'a>(
    rows: impl IntoIterator<Item = &'a [u64]>,
    columns: usize,
    max_rows: usize,
    threshold: u64,
) -> BitSet {
    const BATCH: usize = 16;
    let words = columns.div_ceil(64);
    let planes_count = (usize::BITS - max_rows.leading_zeros()) as usize;
    let mut planes = vec![0u64; planes_count * words];
    // Running carry-save sums: ones, twos, fours, eights, per word.
    let mut partial = vec![[0u64; 4]; words];
    let mut batch: [&[u64]; BATCH] = [&[]; BATCH];
    let mut batched = 0;
    let mut rows_seen = 0usize;
    let word_of = |row: &[u64], word: usize| row.get(word).copied().unwrap_or(0);
    for row in rows {
        rows_seen += 1;
        assert!(rows_seen <= max_rows, "more rows than announced");
        batch[batched] = row;
        batched += 1;
        if batched < BATCH {
            continue;
        }
        batched = 0;
        for (word, sums) in partial.iter_mut().enumerate() {
            let d = |i: usize| word_of(batch[i], word);
            let [mut ones, mut twos, mut fours, mut eights] = *sums;
            let mut eights_pair = [0u64; 2];
            for (half, eights_out) in eights_pair.iter_mut().enumerate() {
                let base = half * 8;
                let mut fours_pair = [0u64; 2];
                for (quarter, fours_out) in fours_pair.iter_mut().enumerate() {
                    let base = base + quarter * 4;
                    let (twos_a, o) = carry_save(ones, d(base), d(base + 1));
                    let (twos_b, o) = carry_save(o, d(base + 2), d(base + 3));
                    ones = o;
                    let (f, t) = carry_save(twos, twos_a, twos_b);
                    twos = t;
                    *fours_out = f;
                }
                let (e, f) = carry_save(fours, fours_pair[0], fours_pair[1]);
                fours = f;
                *eights_out = e;
            }
            let (sixteens, e) = carry_save(eights, eights_pair[0], eights_pair[1]);
            eights = e;
            *sums = [ones, twos, fours, eights];
            add_to_planes(&mut planes, words, word, 4, sixteens);
        }
    }
    for row in &batch[..batched] {
        for word in 0..words {
            add_to_planes(&mut planes, words, word, 0, word_of(row, word));
        }
    }
    for (word, sums) in partial.iter().enumerate() {
        for (plane, &bits) in sums.iter().enumerate() {
            add_to_planes(&mut planes, words, word, plane, bits);
        }
    }
    let mut result = BitSet::with_len(columns);
    if threshold >> planes_count != 0 {
        return result; // no count reaches the threshold
    }
    for word in 0..words {
        // Compare each column's count with `threshold`, high plane first.
        let (mut greater, mut equal) = (0u64, u64::MAX);
        for plane in (0..planes_count).rev() {
            let bits = planes[plane * words + word];
            if (threshold >> plane) & 1 == 1 {
                equal &= bits;
            } else {
                greater |= equal & bits;
                equal &= !bits;
            }
        }
        let mut at_least = greater | equal;
        if word == words - 1 && columns % 64 != 0 {
            at_least &= (1u64 << (columns % 64)) - 1;
        }
        result.set_word(word, at_least);
    }
    result
}

/// A full adder over 64 lanes: `(carry, sum)` of `a + b + c`.
fn carry_save(a: u64, b: u64, c: u64) -> (u64, u64) {
    let partial = a ^ b;
    ((a & b) | (partial & c), partial ^ c)
}

/// Add `bits` (weight `2^plane`) into the bit-sliced counters of `word`.
fn add_to_planes(planes: &mut [u64], words: usize, word: usize, plane: usize, bits: u64) {
    let mut carry = bits;
    let mut plane = plane;
    while carry != 0 {
        let cell = planes
            .get_mut(plane * words + word)
            .expect("a column count exceeds the number of rows");
        let next = *cell & carry;
        *cell ^= carry;
        carry = next;
        plane += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_algebra() {
        let mut a = BitSet::new();
        for i in [0, 5, 63, 64, 130] {
            a.insert(i);
        }
        let mut mask = BitSet::with_len(200);
        for i in [5, 64, 130, 199] {
            mask.insert(i);
        }
        let mut exclude = BitSet::new();
        exclude.insert(64);
        assert_eq!(a.iter().collect::<Vec<_>>(), [0, 5, 63, 64, 130]);
        assert_eq!(a.iter_and(&mask, None).collect::<Vec<_>>(), [5, 64, 130]);
        assert_eq!(
            a.iter_and(&mask, Some(&exclude)).collect::<Vec<_>>(),
            [5, 130]
        );
        assert_eq!(a.count_and(&mask, Some(&exclude)), 2);
        assert!(a.contains(130) && !a.contains(131) && !a.contains(100_000));
        a.remove(130);
        assert_eq!(a.count(), 4);
    }

    fn naive_columns_at_least(rows: &[Vec<u64>], columns: usize, threshold: u64) -> BitSet {
        let mut result = BitSet::with_len(columns);
        for column in 0..columns {
            let count = rows
                .iter()
                .filter(|row| {
                    row.get(column / 64)
                        .is_some_and(|w| w >> (column % 64) & 1 == 1)
                })
                .count() as u64;
            if count >= threshold {
                result.insert(column);
            }
        }
        result
    }

    proptest::proptest! {
        #[test]
        fn column_counts_match_counting_one_by_one(
            columns in 1usize..200,
            rows in proptest::collection::vec(proptest::collection::vec(proptest::num::u64::ANY, 0..5), 0..70),
            dense in proptest::bool::ANY,
            threshold in 0u64..80,
        ) {
            // Dense rows exercise long carries; random rows the general case.
            let rows: Vec<Vec<u64>> = rows
                .into_iter()
                .map(|row| if dense { row.iter().map(|w| w | 0xF0F0_FFFF_0000_FFFF).collect() } else { row })
                .collect();
            let expected = naive_columns_at_least(&rows, columns, threshold);
            let got = columns_at_least(rows.iter().map(Vec::as_slice), columns, rows.len(), threshold);
            proptest::prop_assert_eq!(got.words(), expected.words());
        }
    }

    #[test]
    fn every_row_full_reaches_the_row_count() {
        let rows = vec![vec![u64::MAX; 2]; 1000];
        let columns = 100;
        let all = columns_at_least(rows.iter().map(Vec::as_slice), columns, 1000, 1000);
        assert_eq!(all.count(), columns);
        let none = columns_at_least(rows.iter().map(Vec::as_slice), columns, 1000, 1001);
        assert_eq!(none.count(), 0);
    }
}
