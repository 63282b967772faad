//! One ancient-event rule, applied alike by creators and receivers: a cell
//! that lags far past it (cut off while the others decide many more than
//! `PRUNE_LAG_ROUNDS` rounds) rejoins. Its next events rest on recent other
//! parents, so no honest cell refuses them, and it does not drop out for
//! good because its old self-ancestor is below everyone's horizon.

use celluler_core::cell::{CellCommand, CellObservation};
use celluler_core::hashgraph::engine::PRUNE_LAG_ROUNDS;
use celluler_core::node::CellIndex;
use celluler_core::time::{NS_PER_MS, NS_PER_S};
use celluler_sim::world::{CellWorld, WorldConfig};
use celluler_sim::{Fault, ScheduledFault};

const LAGGARD: u32 = 7;

#[test]
fn n8_a_cell_cut_off_past_the_ancient_horizon_rejoins() {
    let mut config = WorldConfig::new(31, 8);
    config.sim.link.latency = celluler_sim::LatencyModel::Uniform {
        min_ns: 5 * NS_PER_MS,
        max_ns: 30 * NS_PER_MS,
    };
    let others: Vec<CellIndex> = (0..LAGGARD).map(CellIndex).collect();
    config.sim.faults = vec![
        ScheduledFault {
            at_ns: NS_PER_S,
            fault: Fault::Partition {
                groups: vec![others, vec![CellIndex(LAGGARD)]],
            },
        },
        ScheduledFault {
            at_ns: 16 * NS_PER_S,
            fault: Fault::Heal,
        },
    ];
    let mut world = CellWorld::new(config).expect("valid world");
    // The laggard submits after it rejoins; the others all along.
    for i in 0..20u32 {
        world.schedule_command(
            20 * NS_PER_S + u64::from(i) * 200 * NS_PER_MS,
            CellIndex(LAGGARD),
            CellCommand::Transfer {
                to: CellIndex(i % LAGGARD),
                amount: 3,
                fee: 1,
            },
        );
    }
    world.run_until(16 * NS_PER_S);
    let decided = |world: &CellWorld, cell: u32| {
        world
            .simulation()
            .observations()
            .iter()
            .filter(|o| o.cell.0 == cell)
            .filter_map(|o| match o.observation {
                CellObservation::RoundDecided { round, .. } => Some(round + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    };
    let (laggard_at_heal, others_at_heal) = (decided(&world, LAGGARD), decided(&world, 0));
    assert!(
        others_at_heal > laggard_at_heal + 2 * PRUNE_LAG_ROUNDS,
        "the laggard fell far behind: {laggard_at_heal} vs {others_at_heal} rounds"
    );

    world.run_until(40 * NS_PER_S);
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
    let (laggard_at_end, others_at_end) = (decided(&world, LAGGARD), decided(&world, 0));
    assert!(
        laggard_at_end + 3 >= others_at_end && laggard_at_end > others_at_heal,
        "the laggard caught up: {laggard_at_end} vs {others_at_end} rounds"
    );
    // What it submitted after rejoining is ordered by every other cell.
    let submitted: Vec<[u8; 32]> = world
        .simulation()
        .observations()
        .iter()
        .filter(|o| o.cell.0 == LAGGARD)
        .filter_map(|o| match o.observation {
            CellObservation::TxSubmitted { tx } => Some(tx),
            _ => None,
        })
        .collect();
    assert_eq!(submitted.len(), 20);
    for cell in 0..LAGGARD {
        let ordered = world
            .simulation()
            .observations()
            .iter()
            .filter(|o| o.cell.0 == cell)
            .filter(|o| {
                matches!(o.observation, CellObservation::TxOrdered { tx, .. } if submitted.contains(&tx))
            })
            .count();
        assert_eq!(ordered, 20, "cell {cell} ordered the laggard's transfers");
    }
}
