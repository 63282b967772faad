//! The scenario's `[consensus]` knobs end to end: from the file, through
//! `Scenario::world_config`, into every cell of a small world, and what each
//! changes on the wire and in the ledger.

use std::cell::RefCell;
use std::rc::Rc;

use celluler_core::cell::api::CellNode;
use celluler_core::cell::{Cell, CellCommand, CellObservation, CellWire, CrashedCell, TxId};
use celluler_core::ledger::{LedgerTx, LedgerTxKind, Rejection};
use celluler_core::node::{CellIndex, Context, Input, Node, Output};
use celluler_core::time::{NS_PER_MS, NS_PER_S};
use celluler_sim::TraceMode;
use celluler_sim::scenario::Scenario;
use celluler_sim::workload::TRANSFER_FEE;
use celluler_sim::world::CellWorld;

/// The events every sync response and push of a world carried.
#[derive(Default)]
struct Wire {
    responses: Vec<usize>,
    pushes: Vec<usize>,
}

/// An honest cell whose outgoing sync messages are counted (a wrapper sees
/// outputs; it changes nothing).
struct Counted {
    cell: Cell,
    wire: Rc<RefCell<Wire>>,
}

impl Node for Counted {
    type Message = CellWire;
    type Observation = CellObservation;
    type Command = CellCommand;
    type Durable = (CrashedCell, Rc<RefCell<Wire>>);

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        let before = ctx.outputs.len();
        self.cell.handle(input, ctx);
        let mut wire = self.wire.borrow_mut();
        for output in &ctx.outputs[before..] {
            match output {
                Output::Send {
                    message: CellWire::SyncResponse { events, .. },
                    ..
                } => wire.responses.push(events.len()),
                Output::Send {
                    message: CellWire::SyncPush { events },
                    ..
                } => wire.pushes.push(events.len()),
                _ => {}
            }
        }
    }

    fn crash(self) -> Self::Durable {
        (self.cell.crash(), self.wire)
    }

    fn recover((crashed, wire): Self::Durable) -> Self {
        Counted {
            cell: Cell::recover(crashed),
            wire,
        }
    }
}

impl CellNode for Counted {
    fn cell(&self) -> &Cell {
        &self.cell
    }
}

/// Four cells over 20 ms links, with `consensus` as the `[consensus]` table.
fn scenario(consensus: &str) -> Scenario {
    let text = format!(
        "name = \"knobs\"\nseed = 5\nduration = \"8s\"\n[cells]\ncount = 4\n\
         [consensus]\n{consensus}\n[network]\nlatency = \"20ms\"\n"
    );
    Scenario::parse("knobs.toml", &text).expect("a valid scenario")
}

/// What a run of `scenario` did.
struct Run {
    wire: Wire,
    /// Per cell, the TXs it ordered and whether its ledger applied each.
    orders: Vec<Vec<(TxId, bool)>>,
    /// Rounds each cell decided.
    rounds_decided_by: Vec<u32>,
    /// When the last TX was ordered at any cell (true time).
    last_ordered_ns: u64,
    world: CellWorld<Counted>,
}

/// Run `scenario` for its duration, with eight workload-fee transfers
/// submitted in its first second.
fn run(scenario: &Scenario) -> Run {
    let wire = Rc::new(RefCell::new(Wire::default()));
    let mut world =
        CellWorld::with_nodes(scenario.world_config(), TraceMode::HashOnly, |_, cell| {
            Counted {
                cell,
                wire: wire.clone(),
            }
        })
        .expect("a valid world");
    for i in 0..8u32 {
        world.schedule_command(
            NS_PER_S / 4 + u64::from(i) * 100 * NS_PER_MS,
            CellIndex(i % 4),
            CellCommand::Transfer {
                to: CellIndex((i + 1) % 4),
                amount: 10,
                fee: TRANSFER_FEE,
            },
        );
    }
    world.run_until(scenario.duration_ns);
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
    let mut orders = vec![Vec::new(); 4];
    let mut rounds_decided_by = vec![0; 4];
    let mut last_ordered_ns = 0;
    for observed in world.simulation().observations() {
        match observed.observation {
            CellObservation::TxOrdered { tx, applied, .. } => {
                orders[observed.cell.as_usize()].push((tx, applied));
                last_ordered_ns = last_ordered_ns.max(observed.time_ns);
            }
            CellObservation::RoundDecided { .. } => {
                rounds_decided_by[observed.cell.as_usize()] += 1
            }
            _ => {}
        }
    }
    let wire = std::mem::take(&mut *wire.borrow_mut());
    Run {
        wire,
        orders,
        rounds_decided_by,
        last_ordered_ns,
        world,
    }
}

/// Every cell ordered all eight TXs, in the same order.
fn all_ordered_alike(run: &Run) {
    for order in &run.orders {
        assert_eq!(order.len(), 8);
        assert_eq!(order, &run.orders[0]);
    }
}

#[test]
fn n4_pull_sends_no_sync_push() {
    let push_pull = run(&scenario("sync = \"push-pull\""));
    assert!(push_pull.wire.pushes.iter().any(|&events| events > 0));
    let pull = run(&scenario("sync = \"pull\""));
    assert!(
        pull.wire.pushes.is_empty(),
        "{} pushes",
        pull.wire.pushes.len()
    );
    assert!(!pull.wire.responses.is_empty());
    all_ordered_alike(&pull);
}

#[test]
fn n4_every_peer_selection_reaches_agreement() {
    for selection in ["random", "least-recent", "stake-weighted"] {
        let run = run(&scenario(&format!("peer_selection = \"{selection}\"")));
        all_ordered_alike(&run);
        assert!(
            run.rounds_decided_by.iter().all(|&rounds| rounds > 0),
            "{selection}"
        );
    }
}

#[test]
fn n4_max_events_per_sync_agrees_more_slowly() {
    let whole = run(&scenario(""));
    assert!(whole.wire.responses.iter().any(|&events| events > 1));
    all_ordered_alike(&whole);
    // One event per sync: a cell learns about two events an interval (its
    // sync's response, a push) while the other three create three, so its
    // view falls ever further behind and its new events' other parents are
    // ever older. Rounds crawl, but every decided round agrees.
    let one = run(&scenario("max_events_per_sync = 1"));
    let carried = one.wire.responses.iter().chain(&one.wire.pushes);
    assert!(carried.clone().all(|&events| events <= 1));
    assert!(carried.clone().any(|&events| events == 1));
    for cell in 0..4 {
        assert!(one.rounds_decided_by[cell] >= 1, "cell {cell} decides");
    }
    assert!(
        one.rounds_decided_by[0] * 10 < whole.rounds_decided_by[0],
        "one event per sync: {} rounds, whole syncs: {}",
        one.rounds_decided_by[0],
        whole.rounds_decided_by[0]
    );
    // Two per sync keep up with the world: every TX is ordered, later.
    let two = run(&scenario("max_events_per_sync = 2"));
    assert!(
        two.wire
            .responses
            .iter()
            .chain(&two.wire.pushes)
            .all(|&events| events <= 2)
    );
    all_ordered_alike(&two);
    assert!(two.rounds_decided_by[0] < whole.rounds_decided_by[0]);
    assert!(
        two.last_ordered_ns > whole.last_ordered_ns,
        "two per sync ordered the last TX at {} ns, whole syncs at {} ns",
        two.last_ordered_ns,
        whole.last_ordered_ns
    );
}

#[test]
fn n4_min_fee_above_the_workload_fee_rejects_transfers() {
    let paid = run(&scenario(""));
    assert!(paid.orders.iter().flatten().all(|&(_, applied)| applied));
    let scenario = scenario(&format!("min_fee = {}", TRANSFER_FEE + 1));
    assert_eq!(scenario.world_config().fee_min, TRANSFER_FEE + 1);
    let refused = run(&scenario);
    // Ordered by consensus, each rejected by every ledger: counted as
    // not applied, and no balance moved.
    all_ordered_alike(&refused);
    assert!(
        refused
            .orders
            .iter()
            .flatten()
            .all(|&(_, applied)| !applied)
    );
    let cell = refused.world.cell(CellIndex(0)).expect("running");
    let ledger = cell.ledger();
    let sender = cell.config().members[0].cell_id;
    assert_eq!(ledger.fee_pool(), 0);
    assert_eq!(ledger.next_nonce(&sender), 0);
    assert_eq!(
        ledger.balance(&sender),
        Some(scenario.cells.genesis_balance)
    );
    // The ledger's typed reason.
    let transfer = LedgerTx {
        id: [0; 32],
        sender,
        nonce: 0,
        fee: TRANSFER_FEE,
        kind: LedgerTxKind::Transfer {
            to: cell.config().members[1].cell_id,
            amount: 10,
        },
    };
    assert_eq!(
        ledger.check_tx(&transfer),
        Err(Rejection::FeeTooLow {
            fee: TRANSFER_FEE,
            fee_min: TRANSFER_FEE + 1
        })
    );
}
