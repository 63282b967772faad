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
        self.words
            .iter()
            .enumerate()
            .flat_map(|(word_index, &word)| {
                let mut rest = word;
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

    /// Indices set in `self`, in `mask` and (when `and_not` is given) not in it.
    pub fn iter_and<'a>(
        &'a self,
        mask: &'a BitSet,
        and_not: Option<&'a BitSet>,
    ) -> impl Iterator<Item = usize> + 'a {
        let words = self.words.len().min(mask.words.len());
        (0..words).flat_map(move |word_index| {
            let mut rest = self.words[word_index] & mask.words[word_index];
            if let Some(exclude) = and_not {
                rest &= !exclude.words.get(word_index).copied().unwrap_or(0);
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

    /// Size of `self ∩ mask`, or of `self ∩ mask \ and_not`.
    pub fn count_and(&self, mask: &BitSet, and_not: Option<&BitSet>) -> usize {
        let words = self.words.len().min(mask.words.len());
        let mut total = 0;
        for word_index in 0..words {
            let mut word = self.words[word_index] & mask.words[word_index];
            if let Some(exclude) = and_not {
                word &= !exclude.words.get(word_index).copied().unwrap_or(0);
            }
            total += word.count_ones() as usize;
        }
        total
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
}
