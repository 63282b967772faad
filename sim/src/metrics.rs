//! Counters: dense per cell (indexed by `CellIndex`), sparse and ordered per
//! directed link (each sender's links in a list sorted by destination), so
//! reading them out never depends on hash order.

use celluler_core::node::CellIndex;

use crate::topology::LinkSlot;

/// Why a message did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// The link's loss probability.
    Loss,
    /// Sender and receiver in different partition groups (at send or arrival).
    Partition,
    /// A `CutLink` fault.
    LinkCut,
    /// The link's queue limit would have been exceeded.
    QueueOverflow,
    /// The receiver was crashed when the message arrived.
    CellDown,
    /// The destination index names no cell.
    UnknownCell,
    /// A drop rule of the network adversary (`links::NetworkAdversary`).
    Adversary,
}

impl DropReason {
    /// How many reasons there are (the length of the counter arrays).
    pub const COUNT: usize = 7;

    pub const ALL: [DropReason; DropReason::COUNT] = [
        DropReason::Loss,
        DropReason::Partition,
        DropReason::LinkCut,
        DropReason::QueueOverflow,
        DropReason::CellDown,
        DropReason::UnknownCell,
        DropReason::Adversary,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::LinkCut => "link_cut",
            DropReason::QueueOverflow => "queue_overflow",
            DropReason::CellDown => "cell_down",
            DropReason::UnknownCell => "unknown_cell",
            DropReason::Adversary => "adversary",
        }
    }
}

/// Message counters of one directed link, or summed over a sender's links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageCounters {
    pub sent: u64,
    pub delivered: u64,
    /// Indexed by `DropReason as usize`.
    pub dropped: [u64; DropReason::COUNT],
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Messages a delay rule of the network adversary held (a message the
    /// network duplicated counts once; both copies were held). Not a drop:
    /// they are delivered, late.
    pub adversary_delayed: u64,
}

impl MessageCounters {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Every drop, the network adversary's included.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Messages a drop rule of the network adversary removed.
    pub fn adversary_dropped(&self) -> u64 {
        self.dropped(DropReason::Adversary)
    }

    fn add(&mut self, other: &MessageCounters) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.adversary_delayed += other.adversary_delayed;
        for (total, count) in self.dropped.iter_mut().zip(other.dropped) {
            *total += count;
        }
    }
}

/// Everything counted about one cell. Message counters are by sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellCounters {
    pub messages: MessageCounters,
    /// Deliveries the cell handled as receiver.
    pub received: u64,
    pub timers_fired: u64,
    pub faults_applied: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageEvent {
    Sent,
    Dropped(DropReason),
    Duplicated,
    /// Held by a delay rule of the network adversary.
    AdversaryDelayed,
}

#[derive(Debug, Clone, Copy, Default)]
struct CellEvents {
    timers_fired: u64,
    faults_applied: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RareCounters {
    dropped: [u64; DropReason::COUNT],
    duplicated: u64,
    adversary_delayed: u64,
}

/// The hot path writes one 8-byte counter per message event, in the lines the
/// engine is touching anyway: `sent` by the sender's slot (its own links are
/// contiguous), `delivered` by the *receiver's* slot for the reverse link
/// (the receiver's neighbour list is being read to handle the message).
/// Per-cell and total counts are sums computed when read.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    cells: Vec<CellEvents>,
    /// Links of the (undirected) topology, by dense slot; `dense_keys[slot]`
    /// = `(from, to)`, ascending.
    dense_keys: Vec<(CellIndex, CellIndex)>,
    dense_sent: Vec<u64>,
    /// Indexed by the slot of `to → from`.
    dense_delivered: Vec<u64>,
    dense_rare: Vec<RareCounters>,
    /// Other links: `links[from]` = `(to, counters)` sorted by `to`.
    links: Vec<Vec<(CellIndex, MessageCounters)>>,
    faults_applied: u64,
}

impl Metrics {
    pub(crate) fn new(cells: u32, dense_keys: Vec<(CellIndex, CellIndex)>) -> Metrics {
        Metrics {
            dense_sent: vec![0; dense_keys.len()],
            dense_delivered: vec![0; dense_keys.len()],
            dense_rare: vec![RareCounters::default(); dense_keys.len()],
            dense_keys,
            cells: vec![CellEvents::default(); cells as usize],
            links: vec![Vec::new(); cells as usize],
            faults_applied: 0,
        }
    }

    fn sparse(&mut self, from: CellIndex, to: CellIndex) -> &mut MessageCounters {
        let links = &mut self.links[from.as_usize()];
        let position = match links.binary_search_by_key(&to, |&(to, _)| to) {
            Ok(position) => position,
            Err(position) => {
                links.insert(position, (to, MessageCounters::default()));
                position
            }
        };
        &mut links[position].1
    }

    /// Counts an event on `from → to`, whose slot is `slot`. A delivery is
    /// counted with [`Metrics::delivered`] instead.
    #[inline]
    pub(crate) fn record(
        &mut self,
        from: CellIndex,
        to: CellIndex,
        slot: LinkSlot,
        event: MessageEvent,
    ) {
        match slot.dense() {
            Some(slot) => match event {
                MessageEvent::Sent => self.dense_sent[slot] += 1,
                MessageEvent::Dropped(reason) => {
                    self.dense_rare[slot].dropped[reason as usize] += 1
                }
                MessageEvent::Duplicated => self.dense_rare[slot].duplicated += 1,
                MessageEvent::AdversaryDelayed => self.dense_rare[slot].adversary_delayed += 1,
            },
            None => {
                let link = self.sparse(from, to);
                match event {
                    MessageEvent::Sent => link.sent += 1,
                    MessageEvent::Dropped(reason) => link.dropped[reason as usize] += 1,
                    MessageEvent::Duplicated => link.duplicated += 1,
                    MessageEvent::AdversaryDelayed => link.adversary_delayed += 1,
                }
            }
        }
    }

    /// Counts a delivery on `from → to`; `reverse_slot` is the slot of
    /// `to → from` (dense exactly when `from → to` is).
    #[inline]
    pub(crate) fn delivered(&mut self, from: CellIndex, to: CellIndex, reverse_slot: LinkSlot) {
        match reverse_slot.dense() {
            Some(reverse_slot) => self.dense_delivered[reverse_slot] += 1,
            None => self.sparse(from, to).delivered += 1,
        }
    }

    pub(crate) fn timer_fired(&mut self, cell: CellIndex) {
        self.cells[cell.as_usize()].timers_fired += 1;
    }

    /// A fault applied; `cells` are the cells it touched (none for a heal).
    pub(crate) fn fault_applied(&mut self, cells: &[CellIndex]) {
        self.faults_applied += 1;
        for cell in cells {
            self.cells[cell.as_usize()].faults_applied += 1;
        }
    }

    /// One cell's counters (sums over links: O(links)).
    pub fn cell(&self, cell: CellIndex) -> CellCounters {
        self.cells()[cell.as_usize()]
    }

    /// Every cell's counters, indexed by cell.
    pub fn cells(&self) -> Vec<CellCounters> {
        let mut cells: Vec<CellCounters> = self
            .cells
            .iter()
            .map(|events| CellCounters {
                timers_fired: events.timers_fired,
                faults_applied: events.faults_applied,
                ..CellCounters::default()
            })
            .collect();
        for (from, to, counters) in self.links() {
            cells[from.as_usize()].messages.add(&counters);
            cells[to.as_usize()].received += counters.delivered;
        }
        cells
    }

    fn dense_counters(&self, slot: usize) -> MessageCounters {
        let (from, to) = self.dense_keys[slot];
        let reverse = self
            .dense_keys
            .binary_search(&(to, from))
            .expect("the topology is undirected");
        MessageCounters {
            sent: self.dense_sent[slot],
            delivered: self.dense_delivered[reverse],
            dropped: self.dense_rare[slot].dropped,
            duplicated: self.dense_rare[slot].duplicated,
            adversary_delayed: self.dense_rare[slot].adversary_delayed,
        }
    }

    pub fn link(&self, from: CellIndex, to: CellIndex) -> Option<MessageCounters> {
        if let Ok(slot) = self.dense_keys.binary_search(&(from, to)) {
            return Some(self.dense_counters(slot));
        }
        let links = self.links.get(from.as_usize())?;
        let position = links.binary_search_by_key(&to, |&(to, _)| to).ok()?;
        Some(links[position].1)
    }

    /// Every link that carried or dropped a message, ordered by `(from, to)`.
    pub fn links(&self) -> Vec<(CellIndex, CellIndex, MessageCounters)> {
        let quiet = MessageCounters::default();
        let mut links: Vec<_> = (0..self.dense_keys.len())
            .map(|slot| {
                (
                    self.dense_keys[slot].0,
                    self.dense_keys[slot].1,
                    self.dense_counters(slot),
                )
            })
            .filter(|(_, _, counters)| *counters != quiet)
            .chain(self.links.iter().enumerate().flat_map(|(from, links)| {
                links
                    .iter()
                    .map(move |(to, counters)| (CellIndex(from as u32), *to, *counters))
            }))
            .collect();
        links.sort_unstable_by_key(|&(from, to, _)| (from, to));
        links
    }

    pub fn totals(&self) -> MessageCounters {
        let mut totals = MessageCounters::default();
        for (_, _, counters) in self.links() {
            totals.add(&counters);
        }
        totals
    }

    pub fn faults_applied(&self) -> u64 {
        self.faults_applied
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_has_its_own_counter() {
        for (index, reason) in DropReason::ALL.into_iter().enumerate() {
            assert_eq!(reason as usize, index, "{}", reason.name());
        }
        let mut metrics = Metrics::new(2, Vec::new());
        let (a, b) = (CellIndex(0), CellIndex(1));
        metrics.record(a, b, LinkSlot::NONE, MessageEvent::Sent);
        metrics.record(a, b, LinkSlot::NONE, MessageEvent::Sent);
        metrics.record(
            a,
            b,
            LinkSlot::NONE,
            MessageEvent::Dropped(DropReason::Adversary),
        );
        metrics.record(a, b, LinkSlot::NONE, MessageEvent::AdversaryDelayed);
        let totals = metrics.totals();
        assert_eq!(
            (
                totals.adversary_dropped(),
                totals.dropped_total(),
                totals.adversary_delayed
            ),
            (1, 1, 1)
        );
        assert_eq!(metrics.cell(a).messages.adversary_delayed, 1);
    }
}
