//! The sans-IO contract between a node (a cell, or any state machine the
//! simulator runs) and its environment.
//!
//! A node never performs I/O. The environment hands it one [`Input`] at a
//! time with a [`Context`] (its local time, its index, its peers); the node
//! appends [`Output`]s. The simulator is one environment; a real network could
//! be another. Byzantine behaviours wrap a node: they may rewrite its inputs
//! before `handle` and its outputs after, never fork its code.

use crate::time::TimeNs;

/// A node's index in its world: dense, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CellIndex(pub u32);

impl CellIndex {
    pub fn as_usize(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for CellIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A node-chosen timer name. Setting a timer that is already set moves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// What the environment hands a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<M, C> {
    /// First boot.
    Start,
    /// Boot after a crash: the node was rebuilt by [`Node::recover`] from what
    /// it had made durable; everything volatile is gone.
    Restart,
    /// A message from a peer arrived.
    Deliver { from: CellIndex, message: M },
    /// A timer set earlier fired.
    Timer(TimerId),
    /// A local request from whoever operates the node (a workload generator,
    /// a market agent, a test): submit a TX, send a CHAT... Agents drive a
    /// cell only through this input, as its user would.
    Command(C),
}

/// What a node asks of its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output<M, O> {
    /// Send to one peer (which the network may delay, drop or duplicate).
    Send {
        to: CellIndex,
        message: M,
    },
    /// Send to every current neighbour in the topology.
    Broadcast {
        message: M,
    },
    /// Fire `Input::Timer(timer)` after `after_ns` of the node's local clock.
    SetTimer {
        timer: TimerId,
        after_ns: TimeNs,
    },
    CancelTimer {
        timer: TimerId,
    },
    /// Virtual CPU time this input cost (signature checks, hashing...): the
    /// node's later outputs and inputs are delayed by it.
    ChargeCpu {
        ns: TimeNs,
    },
    /// A typed record for metrics and reports. Protocol code never prints.
    Observe(O),
}

/// What the network needs to know about a message.
pub trait Payload: Clone {
    /// Size on the wire, for bandwidth and queue limits.
    fn wire_bytes(&self) -> u32;
    /// A digest folded into the run's trace hash. Equal messages must give
    /// equal digests on every machine.
    fn digest(&self) -> u64;
}

impl Payload for std::sync::Arc<[u8]> {
    fn wire_bytes(&self) -> u32 {
        u32::try_from(self.len()).unwrap_or(u32::MAX)
    }

    fn digest(&self) -> u64 {
        let hash = blake3::hash(self);
        u64::from_le_bytes(hash.as_bytes()[..8].try_into().expect("8 bytes"))
    }
}

/// A node's neighbours, ascending. A full mesh of N cells is "everyone but
/// me", which no shared slice can express without N² storage, so neighbours
/// are either a borrowed list or that rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers<'a> {
    /// An explicit ascending list.
    List(&'a [CellIndex]),
    /// Every cell in `0..cells` except `me`.
    AllExcept { cells: u32, me: CellIndex },
}

impl<'a> Peers<'a> {
    pub fn len(&self) -> usize {
        match *self {
            Peers::List(list) => list.len(),
            Peers::AllExcept { cells, me } => cells as usize - usize::from(me.0 < cells),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `position`-th neighbour in ascending order.
    pub fn get(&self, position: usize) -> Option<CellIndex> {
        match *self {
            Peers::List(list) => list.get(position).copied(),
            Peers::AllExcept { me, .. } => {
                if position >= self.len() {
                    return None;
                }
                let position = position as u32;
                Some(CellIndex(if position < me.0 {
                    position
                } else {
                    position + 1
                }))
            }
        }
    }

    pub fn contains(&self, cell: CellIndex) -> bool {
        match *self {
            Peers::List(list) => list.binary_search(&cell).is_ok(),
            Peers::AllExcept { cells, me } => cell.0 < cells && cell != me,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = CellIndex> + 'a {
        let peers = *self;
        (0..peers.len()).map(move |position| peers.get(position).expect("in range"))
    }
}

/// Everything a node may read about its environment while handling an input,
/// and the list its outputs go to.
pub struct Context<'a, M, O> {
    /// The node's local clock: true virtual time, skewed and drifted by any
    /// clock fault applied to this node.
    pub now: TimeNs,
    pub me: CellIndex,
    /// Current neighbours in the topology, ascending.
    pub peers: Peers<'a>,
    pub outputs: &'a mut Vec<Output<M, O>>,
}

impl<M, O> Context<'_, M, O> {
    pub fn send(&mut self, to: CellIndex, message: M) {
        self.outputs.push(Output::Send { to, message });
    }

    pub fn broadcast(&mut self, message: M) {
        self.outputs.push(Output::Broadcast { message });
    }

    pub fn set_timer(&mut self, timer: TimerId, after_ns: TimeNs) {
        self.outputs.push(Output::SetTimer { timer, after_ns });
    }

    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.outputs.push(Output::CancelTimer { timer });
    }

    pub fn charge_cpu(&mut self, ns: TimeNs) {
        if ns > 0 {
            self.outputs.push(Output::ChargeCpu { ns });
        }
    }

    pub fn observe(&mut self, observation: O) {
        self.outputs.push(Output::Observe(observation));
    }
}

/// A deterministic, sans-IO state machine.
pub trait Node: Sized {
    type Message: Payload;
    type Observation;
    /// Local requests the node accepts from its operator (`Input::Command`).
    type Command;
    /// What survives a crash (the journals' storage, the keys).
    type Durable;

    fn handle(
        &mut self,
        input: Input<Self::Message, Self::Command>,
        ctx: &mut Context<'_, Self::Message, Self::Observation>,
    );

    /// Crash: consume the node, keep only what it had made durable. Volatile
    /// state is dropped by construction, not by convention.
    fn crash(self) -> Self::Durable;

    /// Rebuild a node from durable state; it then receives `Input::Restart`.
    fn recover(durable: Self::Durable) -> Self;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_all_except_skips_me() {
        let peers = Peers::AllExcept {
            cells: 5,
            me: CellIndex(2),
        };
        let listed: Vec<u32> = peers.iter().map(|cell| cell.0).collect();
        assert_eq!(listed, [0, 1, 3, 4]);
        assert_eq!(peers.len(), 4);
        assert!(!peers.contains(CellIndex(2)));
        assert!(peers.contains(CellIndex(4)));
        assert!(!peers.contains(CellIndex(5)));
        assert_eq!(peers.get(4), None);
        let list = [CellIndex(1), CellIndex(7)];
        let peers = Peers::List(&list);
        assert_eq!(peers.iter().collect::<Vec<_>>(), list);
        assert!(peers.contains(CellIndex(7)) && !peers.contains(CellIndex(2)));
    }
}
