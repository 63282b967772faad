//! Seen-witness rows of the fork-free, equal-stake fast path, stored densely.
//!
//! The row of an event for round `r` is the set of round-`r` witness slots the
//! event sees. Strongly seeing adds up the rows of one event of every member
//! (the member's latest event known to the deciding event), so a count
//! touches `n` rows; kept inside per-event records they cost several
//! dependent cache misses each. Here the rows of one member for one round
//! sit in one array indexed by sequence number, fixed width (without forks a
//! round has at most one witness per member), with their sizes beside them.
//!
//! An event stores its rows for its own round and the round below; an honest
//! chain's rounds never decrease, so the events of one member holding a row
//! for round `r` are consecutive and are appended in sequence order.

use std::collections::VecDeque;

#[derive(Default)]
struct MemberRows {
    first_seq: u32,
    /// `words` words per row, one row per sequence number from `first_seq`.
    bits: Vec<u64>,
    counts: Vec<u32>,
}

pub(super) struct RowStore {
    members: usize,
    words: usize,
    /// Round of `rounds[0]`.
    base_round: u32,
    rounds: VecDeque<Vec<MemberRows>>,
}

impl RowStore {
    pub(super) fn new(members: usize) -> RowStore {
        RowStore {
            members,
            words: members.div_ceil(64),
            base_round: 0,
            rounds: VecDeque::new(),
        }
    }

    /// Words per row.
    pub(super) fn words(&self) -> usize {
        self.words
    }

    fn member_rows(&self, round: u32, member: usize) -> Option<&MemberRows> {
        let index = round.checked_sub(self.base_round)? as usize;
        self.rounds.get(index)?.get(member)
    }

    /// The row of `member`'s event `seq` for `round`, with its size; `None`
    /// when that event holds no row for the round (it sees none of its
    /// witnesses, or is two or more rounds above it).
    pub(super) fn row(&self, round: u32, member: usize, seq: u32) -> Option<(&[u64], u32)> {
        let rows = self.member_rows(round, member)?;
        let index = seq.checked_sub(rows.first_seq)? as usize;
        let count = *rows.counts.get(index)?;
        Some((
            &rows.bits[index * self.words..(index + 1) * self.words],
            count,
        ))
    }

    /// The latest row `member` holds for `round` (rows grow along a chain,
    /// so this is everything its chain has seen of the round).
    pub(super) fn last_row(&self, round: u32, member: usize) -> Option<&[u64]> {
        let rows = self.member_rows(round, member)?;
        let index = rows.counts.len().checked_sub(1)?;
        Some(&rows.bits[index * self.words..(index + 1) * self.words])
    }

    /// Size of a row, 0 when absent.
    pub(super) fn count(&self, round: u32, member: usize, seq: u32) -> u32 {
        self.row(round, member, seq).map_or(0, |(_, count)| count)
    }

    /// Store (or replace, for the chain's latest row) the row of `member`'s
    /// event `seq` for `round`.
    pub(super) fn set(&mut self, round: u32, member: usize, seq: u32, row: &[u64]) {
        assert!(
            round >= self.base_round,
            "rows are written only for rounds still kept"
        );
        let index = (round - self.base_round) as usize;
        while self.rounds.len() <= index {
            self.rounds
                .push_back((0..self.members).map(|_| MemberRows::default()).collect());
        }
        let words = self.words;
        let rows = &mut self.rounds[index][member];
        if rows.counts.is_empty() {
            rows.first_seq = seq;
        }
        let position = seq
            .checked_sub(rows.first_seq)
            .map(|offset| offset as usize)
            .filter(|&offset| offset <= rows.counts.len());
        let Some(position) = position else {
            panic!("a chain's rows for one round are consecutive and appended in order");
        };
        let count = row.iter().map(|word| word.count_ones()).sum();
        if position == rows.counts.len() {
            rows.counts.push(count);
            rows.bits.resize(rows.bits.len() + words, 0);
        } else {
            rows.counts[position] = count;
        }
        let target = &mut rows.bits[position * words..(position + 1) * words];
        target.fill(0);
        let copied = row.len().min(words);
        target[..copied].copy_from_slice(&row[..copied]);
    }

    /// Forget every round below `round`.
    pub(super) fn drop_below(&mut self, round: u32) {
        while self.base_round < round && !self.rounds.is_empty() {
            self.rounds.pop_front();
            self.base_round += 1;
        }
        if self.rounds.is_empty() {
            self.base_round = self.base_round.max(round);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_found_by_round_member_and_sequence() {
        let mut store = RowStore::new(70);
        assert_eq!(store.words(), 2);
        store.set(3, 5, 10, &[0b101]);
        store.set(3, 5, 11, &[0b111, 1]);
        assert_eq!(store.row(3, 5, 10), Some((&[0b101, 0][..], 2)));
        assert_eq!(store.row(3, 5, 11), Some((&[0b111, 1][..], 4)));
        assert_eq!(store.row(3, 5, 9), None);
        assert_eq!(store.row(3, 5, 12), None);
        assert_eq!(store.row(3, 4, 10), None);
        assert_eq!(store.row(2, 5, 10), None);
        assert_eq!(store.last_row(3, 5), Some(&[0b111, 1][..]));
        assert_eq!(store.last_row(3, 6), None);
        // Replacing the latest row (a witness adding its sight of itself).
        store.set(3, 5, 11, &[0b1111, 1]);
        assert_eq!(store.count(3, 5, 11), 5);
        store.drop_below(4);
        assert_eq!(store.row(3, 5, 10), None);
        store.set(4, 0, 0, &[1]);
        assert_eq!(store.count(4, 0, 0), 1);
    }

    #[test]
    #[should_panic(expected = "consecutive")]
    fn a_gap_in_a_chain_is_a_bug() {
        let mut store = RowStore::new(4);
        store.set(0, 1, 0, &[1]);
        store.set(0, 1, 2, &[1]);
    }
}
