//! Votes on the witnesses of one round, stored densely.
//!
//! A witness of round `t + d` votes on every witness of round `t`; a voter of
//! round `t + d + 1` reads the votes of the round `t + d` witnesses it
//! strongly sees. [`VoteMatrix`] holds the votes of one voting round on one
//! target round: a row per target slot, a bit per voter slot, so a voter's
//! pass over a round's targets reads memory in order.

/// The votes of the witnesses of one round on those of an earlier round.
#[derive(Default)]
pub(super) struct VoteMatrix {
    /// Words per row (voter slots / 64, rounded up).
    stride: usize,
    /// Voters that voted, per target row.
    cast: Vec<u64>,
    /// Voters that voted yes, per target row.
    yes: Vec<u64>,
}

impl VoteMatrix {
    pub(super) fn new(voter_capacity: usize) -> VoteMatrix {
        VoteMatrix {
            stride: voter_capacity.div_ceil(64).max(1),
            cast: Vec::new(),
            yes: Vec::new(),
        }
    }

    /// `(cast, yes)` voter sets on target `slot`; empty when no vote yet.
    pub(super) fn votes_on(&self, slot: usize) -> (&[u64], &[u64]) {
        let range = slot * self.stride..(slot + 1) * self.stride;
        match (self.cast.get(range.clone()), self.yes.get(range)) {
            (Some(cast), Some(yes)) => (cast, yes),
            _ => (&[], &[]),
        }
    }

    pub(super) fn record(&mut self, target_slot: usize, voter_slot: usize, vote: bool) {
        if voter_slot / 64 >= self.stride {
            // More voters than members: only with forks. Widen every row.
            let stride = (voter_slot / 64 + 1).max(self.stride * 2);
            self.cast = widen(&self.cast, self.stride, stride);
            self.yes = widen(&self.yes, self.stride, stride);
            self.stride = stride;
        }
        let end = (target_slot + 1) * self.stride;
        if self.cast.len() < end {
            self.cast.resize(end, 0);
            self.yes.resize(end, 0);
        }
        let (word, bit) = (target_slot * self.stride + voter_slot / 64, voter_slot % 64);
        self.cast[word] |= 1 << bit;
        if vote {
            self.yes[word] |= 1 << bit;
        }
    }
}

fn widen(rows: &[u64], stride: usize, new_stride: usize) -> Vec<u64> {
    let mut widened = Vec::with_capacity(rows.len() / stride * new_stride);
    for row in rows.chunks(stride) {
        widened.extend_from_slice(row);
        widened.resize(widened.len() + new_stride - stride, 0);
    }
    widened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn votes_are_kept_per_target_and_voter() {
        let mut matrix = VoteMatrix::new(3);
        assert_eq!(matrix.votes_on(0), (&[][..], &[][..]));
        matrix.record(2, 1, true);
        matrix.record(2, 2, false);
        matrix.record(0, 0, false);
        assert_eq!(matrix.votes_on(2), (&[0b110][..], &[0b010][..]));
        assert_eq!(matrix.votes_on(0), (&[0b001][..], &[0][..]));
        assert_eq!(matrix.votes_on(1), (&[0][..], &[0][..]));
        // A voter beyond the capacity widens the rows and keeps the votes.
        matrix.record(1, 130, true);
        assert_eq!(matrix.votes_on(2), (&[0b110, 0, 0][..], &[0b010, 0, 0][..]));
        assert_eq!(
            matrix.votes_on(1),
            (&[0, 0, 1 << 2][..], &[0, 0, 1 << 2][..])
        );
        assert_eq!(matrix.votes_on(3), (&[][..], &[][..]));
    }
}
