//! Runtime state that faults change: the partition, per-link cuts and
//! slowdowns, and each cell's local clock. The timeline itself is
//! configuration (`config::ScheduledFault`); the engine applies it.

use std::collections::BTreeMap;

use celluler_core::node::CellIndex;
use celluler_core::rng::Probability;

use crate::config::LatencyModel;
use celluler_core::time::TimeNs;

const PPM: i128 = 1_000_000;

/// A cell's local clock: piecewise linear in true time. Each skew or drift
/// fault starts a new piece at the true time it applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalClock {
    base_true_ns: TimeNs,
    base_local_ns: TimeNs,
    drift_ppm: i64,
}

impl LocalClock {
    /// Local time at true time `true_ns` (`true_ns` ≥ the last fault's time).
    pub fn local(&self, true_ns: TimeNs) -> TimeNs {
        let elapsed = true_ns.saturating_sub(self.base_true_ns);
        if self.drift_ppm == 0 {
            return self.base_local_ns.saturating_add(elapsed);
        }
        let scaled = i128::from(elapsed) * (PPM + i128::from(self.drift_ppm)) / PPM;
        let local = i128::from(self.base_local_ns) + scaled;
        u64::try_from(local).unwrap_or(u64::MAX)
    }

    /// The earliest true time at which the local clock reads `local_ns` or
    /// later (never before the current piece began).
    pub fn true_time_of(&self, local_ns: TimeNs) -> TimeNs {
        let Some(ahead) = local_ns.checked_sub(self.base_local_ns) else {
            return self.base_true_ns;
        };
        if self.drift_ppm == 0 {
            return self.base_true_ns.saturating_add(ahead);
        }
        let rate = PPM + i128::from(self.drift_ppm);
        let elapsed = (i128::from(ahead) * PPM + rate - 1) / rate;
        u64::try_from(i128::from(self.base_true_ns) + elapsed).unwrap_or(u64::MAX)
    }

    /// Jump the local clock by `offset_ns` at true time `now_ns`.
    pub fn skew(&mut self, now_ns: TimeNs, offset_ns: i64) {
        let local = self.local(now_ns).saturating_add_signed(offset_ns);
        self.base_true_ns = now_ns;
        self.base_local_ns = local;
    }

    /// From `now_ns` on, run at `1 + drift_ppm / 10^6` of true time.
    pub fn set_drift(&mut self, now_ns: TimeNs, drift_ppm: i64) {
        assert!(drift_ppm > -1_000_000, "a clock must move forward");
        self.base_local_ns = self.local(now_ns);
        self.base_true_ns = now_ns;
        self.drift_ppm = drift_ppm;
    }
}

/// What the network asks of the fault state for one directed link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFault {
    pub cut: bool,
    /// Drawn and added to each message's latency.
    pub extra: Option<LatencyModel>,
    /// Replaces the network's loss probability.
    pub loss: Option<Probability>,
}

#[derive(Debug, Clone, Default)]
pub struct FaultState {
    /// Empty when there is no partition; else the group of every cell.
    partition_group: Vec<u32>,
    link_faults: BTreeMap<(CellIndex, CellIndex), LinkFault>,
}

impl FaultState {
    pub fn partition(&mut self, cells: u32, groups: &[Vec<CellIndex>]) {
        let unlisted = groups.len() as u32;
        self.partition_group = vec![unlisted; cells as usize];
        for (group, members) in groups.iter().enumerate() {
            for cell in members {
                self.partition_group[cell.as_usize()] = group as u32;
            }
        }
    }

    pub fn heal(&mut self) {
        self.partition_group = Vec::new();
    }

    /// True when a partition separates the two cells.
    #[inline]
    pub fn separated(&self, a: CellIndex, b: CellIndex) -> bool {
        !self.partition_group.is_empty()
            && self.partition_group[a.as_usize()] != self.partition_group[b.as_usize()]
    }

    #[inline]
    pub fn link(&self, from: CellIndex, to: CellIndex) -> LinkFault {
        if self.link_faults.is_empty() {
            return LinkFault::default();
        }
        self.link_faults
            .get(&(from, to))
            .copied()
            .unwrap_or_default()
    }

    pub fn cut(&mut self, from: CellIndex, to: CellIndex) {
        self.link_faults.entry((from, to)).or_default().cut = true;
    }

    pub fn slow(&mut self, from: CellIndex, to: CellIndex, extra: LatencyModel) {
        self.link_faults.entry((from, to)).or_default().extra = Some(extra);
    }

    pub fn lossy(&mut self, from: CellIndex, to: CellIndex, loss: Probability) {
        self.link_faults.entry((from, to)).or_default().loss = Some(loss);
    }

    pub fn restore(&mut self, from: CellIndex, to: CellIndex) {
        self.link_faults.remove(&(from, to));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_skew_and_drift() {
        let mut clock = LocalClock::default();
        assert_eq!(clock.local(500), 500);
        clock.skew(1_000, 250);
        assert_eq!(clock.local(1_000), 1_250);
        assert_eq!(clock.local(2_000), 2_250);
        clock.set_drift(2_000, 100_000); // 10 % fast
        assert_eq!(clock.local(12_000), 2_250 + 11_000);
        assert_eq!(clock.true_time_of(2_250 + 11_000), 12_000);
        clock.skew(12_000, -20_000);
        assert_eq!(clock.local(12_000), 0, "clamped at zero");
        let mut slow = LocalClock::default();
        slow.set_drift(0, -500_000);
        assert_eq!(slow.local(1_000), 500);
        assert_eq!(slow.true_time_of(333), 666);
        assert!(slow.local(slow.true_time_of(333)) >= 333);
    }
}
