//! Forks flow end to end: a test-only double-signing cell (a wrapper around
//! an honest cell, as Byzantine behaviours are) signs a second event on the
//! self-parent of one of its own and sends it to one peer instead of the
//! first. Both circulate; every honest cell's view learns two events of one
//! creator at one sequence number, gets the fork proof, journals it, emits
//! `consensus.fork` on its bus, and Identity zeroes the forker's trust
//! (observed as `ForkDetected`). Honest cells still agree on one order.

use std::collections::BTreeSet;
use std::sync::Arc;

use celluler_core::cell::api::CellNode;
use celluler_core::cell::{
    Cell, CellCommand, CellObservation, CellWire, CrashedCell, JournalKind, WireEvent,
};
use celluler_core::hashgraph::{Event, EventBody};
use celluler_core::node::{CellIndex, Context, Input, Node, Output};
use celluler_core::time::{NS_PER_MS, NS_PER_S, TimeNs};
use celluler_sim::TraceMode;
use celluler_sim::arena::StoreMode;
use celluler_sim::world::{CellWorld, WorldConfig};

/// Signs a twin of the first own event it pushes after `from_ns`: same
/// creator, parents and transactions, another timestamp. The twin replaces
/// the event in that one push; the cell itself builds on the original.
struct DoubleSigner {
    inner: Cell,
    from_ns: TimeNs,
    forked: bool,
}

impl Node for DoubleSigner {
    type Message = CellWire;
    type Observation = CellObservation;
    type Command = CellCommand;
    type Durable = CrashedCell;

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        let first_output = ctx.outputs.len();
        self.inner.handle(input, ctx);
        if self.forked || ctx.now < self.from_ns {
            return;
        }
        let me = ctx.me.0;
        for output in &mut ctx.outputs[first_output..] {
            let Output::Send {
                message: CellWire::SyncPush { events },
                ..
            } = output
            else {
                continue;
            };
            let own = events
                .iter()
                .position(|wire| matches!(wire, WireEvent::Shared(event) if event.creator() == me));
            let Some(position) = own else { continue };
            let WireEvent::Shared(original) = &events[position] else {
                unreachable!("matched above")
            };
            let mut body: EventBody = original.body().clone();
            body.timestamp_ns += 1;
            let twin = Event::sign(body, self.inner.keys());
            let mut rewritten: Vec<WireEvent> = events.to_vec();
            rewritten[position] = WireEvent::Shared(Arc::new(twin));
            *events = rewritten.into();
            self.forked = true;
            return;
        }
    }

    fn crash(self) -> CrashedCell {
        self.inner.crash()
    }

    fn recover(durable: CrashedCell) -> Self {
        DoubleSigner {
            inner: Cell::recover(durable),
            from_ns: TimeNs::MAX,
            forked: true,
        }
    }
}

/// Either an honest cell or the double signer, so one world holds both.
enum Node8 {
    Honest(Cell),
    Forker(DoubleSigner),
}

impl Node for Node8 {
    type Message = CellWire;
    type Observation = CellObservation;
    type Command = CellCommand;
    type Durable = (bool, CrashedCell);

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        match self {
            Node8::Honest(cell) => cell.handle(input, ctx),
            Node8::Forker(forker) => forker.handle(input, ctx),
        }
    }

    fn crash(self) -> (bool, CrashedCell) {
        match self {
            Node8::Honest(cell) => (false, cell.crash()),
            Node8::Forker(forker) => (true, forker.crash()),
        }
    }

    fn recover((forker, durable): (bool, CrashedCell)) -> Self {
        if forker {
            Node8::Forker(DoubleSigner::recover(durable))
        } else {
            Node8::Honest(Cell::recover(durable))
        }
    }
}

impl CellNode for Node8 {
    fn cell(&self) -> &Cell {
        match self {
            Node8::Honest(cell) => cell,
            Node8::Forker(forker) => &forker.inner,
        }
    }
}

const FORKER: u32 = 3;

/// The 8-cell world with the double signer, run for 15 s.
fn run_with_forker(store: StoreMode) -> CellWorld<Node8> {
    let mut config = WorldConfig::new(21, 8);
    config.store = store;
    config.sim.link.latency = celluler_sim::LatencyModel::Uniform {
        min_ns: 5 * NS_PER_MS,
        max_ns: 30 * NS_PER_MS,
    };
    let mut world = CellWorld::with_nodes(config, TraceMode::HashOnly, |index, cell| {
        if index.0 == FORKER {
            Node8::Forker(DoubleSigner {
                inner: cell,
                from_ns: 3 * NS_PER_S,
                forked: false,
            })
        } else {
            Node8::Honest(cell)
        }
    })
    .expect("valid world");
    world.checker_mut().mark_dishonest(CellIndex(FORKER));
    for i in 0..40u32 {
        let from = [0, 1, 2, 4, 5, 6, 7][i as usize % 7];
        world.schedule_command(
            NS_PER_S / 2 + u64::from(i) * 250 * NS_PER_MS,
            CellIndex(from),
            CellCommand::Transfer {
                to: CellIndex((from + 1) % 8),
                amount: 5,
                fee: 1,
            },
        );
    }
    world.run_until(15 * NS_PER_S);
    world
}

#[test]
fn n8_a_double_signing_cell_is_detected_by_every_honest_cell() {
    let world = run_with_forker(StoreMode::Shared);
    let observations = world.simulation().observations();
    let mut detected_at: Vec<Option<TimeNs>> = vec![None; 8];
    for observed in observations {
        if let CellObservation::ForkDetected { creator } = observed.observation {
            assert_eq!(creator, CellIndex(FORKER), "only the double signer forks");
            let slot = &mut detected_at[observed.cell.as_usize()];
            *slot = Some(slot.map_or(observed.time_ns, |t| t.min(observed.time_ns)));
        }
    }
    let honest: Vec<u32> = (0..8).filter(|&cell| cell != FORKER).collect();
    for &cell in &honest {
        let when = detected_at[cell as usize]
            .unwrap_or_else(|| panic!("cell {cell} never found the fork: {detected_at:?}"));
        assert!(when >= 3 * NS_PER_S, "no fork before the double signing");
    }
    // Each detector journaled the proof once, in its consensus journal, and
    // never had reason to report the fork twice.
    for &cell in &honest {
        let count = observations
            .iter()
            .filter(|o| {
                o.cell.0 == cell && matches!(o.observation, CellObservation::ForkDetected { .. })
            })
            .count();
        assert_eq!(count, 1, "cell {cell} reports the forker once");
        let lengths = world.cell(CellIndex(cell)).unwrap().journal_lengths();
        assert!(lengths[JournalKind::Consensus as usize] > 0);
    }
    // Honest cells still agree, and consensus went on after the fork.
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
    let rounds_after: BTreeSet<u32> = observations
        .iter()
        .filter(|o| o.time_ns > 6 * NS_PER_S && honest.contains(&o.cell.0))
        .filter_map(|o| match o.observation {
            CellObservation::RoundDecided { round, .. } => Some(round),
            _ => None,
        })
        .collect();
    assert!(
        rounds_after.len() > 5,
        "rounds decided after the fork: {rounds_after:?}"
    );
}

/// Fork bookkeeping (which events are known, what a peer lacks, which tip is
/// a forker's latest, what an event newly reaches) is each cell's own: a
/// cell viewing the shared arena (whose first-registered branch is whichever
/// some cell inserted first) and a cell running its own engine do and
/// decide the same, event for event, with a forker at work.
#[test]
fn n8_with_a_forker_both_store_modes_give_the_same_run() {
    let shared = run_with_forker(StoreMode::Shared);
    let independent = run_with_forker(StoreMode::Independent);
    let forks = |world: &CellWorld<Node8>| {
        world
            .simulation()
            .observations()
            .iter()
            .filter(|o| matches!(o.observation, CellObservation::ForkDetected { .. }))
            .count()
    };
    assert!(forks(&shared) >= 7, "every honest cell saw the fork");
    assert_eq!(
        shared.simulation().trace().hash_hex(),
        independent.simulation().trace().hash_hex()
    );
    assert_eq!(
        shared.simulation().observations(),
        independent.simulation().observations()
    );
    assert_eq!(shared.verdict(), independent.verdict());
}
