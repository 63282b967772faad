//! Markets in consensus, driven by agents from scenario files: every run's
//! ledger invariants hold at every honest cell, cheating and crashed
//! providers are slashed, the conservation checker fires on a planted
//! minting bug, and runs are deterministic.

use std::collections::BTreeSet;
use std::path::Path;

use celluler_core::cell::CellObservation;
use celluler_core::market::{LeaseEventKind, LeaseMarket, MarketRoundReport};
use celluler_core::node::CellIndex;
use celluler_sim::TraceMode;
use celluler_sim::adversary::{AdversaryNode, scenario_world};
use celluler_sim::scenario::Scenario;
use celluler_sim::world::CellWorld;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/markets")
        .join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

fn run_with(
    scenario: &Scenario,
    edit: impl FnOnce(&mut celluler_sim::world::WorldConfig),
) -> CellWorld<AdversaryNode> {
    let mut config = scenario.world_config();
    edit(&mut config);
    let mut world = scenario_world(scenario, config, TraceMode::HashOnly).expect("valid world");
    world.run_until(scenario.duration_ns);
    world
}

fn run(scenario: &Scenario) -> CellWorld<AdversaryNode> {
    run_with(scenario, |_| {})
}

/// Every honest cell's market report of every round it decided.
fn reports(world: &CellWorld<AdversaryNode>, cell: u32) -> Vec<(u32, &MarketRoundReport)> {
    world
        .simulation()
        .observations()
        .iter()
        .filter(|observed| observed.cell.0 == cell)
        .filter_map(|observed| match &observed.observation {
            CellObservation::MarketRound { round, report } => Some((*round, report.as_ref())),
            _ => None,
        })
        .collect()
}

fn ledger_violations(world: &CellWorld<AdversaryNode>) -> Vec<String> {
    world
        .simulation()
        .observations()
        .iter()
        .filter_map(|observed| match &observed.observation {
            CellObservation::LedgerViolation {
                round, invariant, ..
            } => Some(format!("cell {} round {round}: {invariant}", observed.cell)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_exchange_trades_in_consensus_order_and_every_invariant_holds() {
    let scenario = scenario("exchange");
    let world = run(&scenario);
    assert_eq!(ledger_violations(&world), Vec::<String>::new());
    assert_eq!(world.verdict(), Vec::<String>::new());
    // Every honest cell saw the same trades in the same rounds.
    let first = reports(&world, 0);
    let trades: usize = first.iter().map(|(_, report)| report.trades.len()).sum();
    assert!(trades >= 20, "{trades} trades");
    for cell in 1..scenario.cells.count {
        let other = reports(&world, cell);
        let shared = first.len().min(other.len());
        assert!(
            shared + 3 >= first.len(),
            "cell {cell} decided far fewer rounds"
        );
        assert_eq!(first[..shared], other[..shared], "cell {cell}");
    }
    // Books are never crossed after a round, and makers keep a spread.
    for (round, report) in &first {
        for top in &report.books {
            if let (Some(bid), Some(ask)) = (top.best_bid, top.best_ask) {
                assert!(bid < ask, "round {round}: crossed {bid} ≥ {ask}");
            }
        }
    }
    // Agents only act on what their cell knows; none of their orders is
    // refused for a bad nonce (the ledger waits for out-of-order nonces).
    let refused: Vec<_> = first
        .iter()
        .flat_map(|(_, report)| &report.refused)
        .filter(|refused| refused.reason == "bad-nonce" || refused.reason == "nonce-gap")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
    // The pool forgets a market TX once every home cell ordered it: what it
    // keeps is what is still in flight, not the whole run.
    let submitted = world
        .simulation()
        .observations()
        .iter()
        .filter(|o| matches!(o.observation, CellObservation::MarketSubmitted { .. }))
        .count();
    let tracked = world.agents().expect("agents").tracked_market_txs();
    assert!(
        submitted > 200 && tracked * 5 < submitted,
        "{tracked} of {submitted} kept"
    );
}

#[test]
fn a_cheating_compute_provider_is_proven_wrong_slashed_and_distrusted() {
    let scenario = scenario("compute");
    let world = run(&scenario);
    assert_eq!(ledger_violations(&world), Vec::<String>::new());
    assert_eq!(world.verdict(), Vec::<String>::new());
    let cheater = scenario.byzantine.cells[0];
    let report = reports(&world, 0);
    let slashes: Vec<_> = report
        .iter()
        .flat_map(|(_, report)| &report.leases)
        .filter(|event| matches!(event.kind, LeaseEventKind::Slashed { .. }))
        .collect();
    assert!(!slashes.is_empty(), "the cheater was never slashed");
    let members: Vec<_> = (0..scenario.cells.count)
        .map(|cell| world.cell(CellIndex(cell)).unwrap().keys().cell_id())
        .collect();
    for slash in &slashes {
        assert_eq!(slash.market, LeaseMarket::Compute);
        assert_eq!(
            slash.provider, members[cheater as usize],
            "only the cheater"
        );
        assert_eq!(
            slash.kind,
            LeaseEventKind::Slashed {
                reason: "fraud-proof"
            }
        );
    }
    // The honest provider was paid and never slashed; fraud proofs came
    // from consumers that caught it.
    let paid_honest = report
        .iter()
        .flat_map(|(_, report)| &report.leases)
        .any(|event| event.kind == LeaseEventKind::Paid && event.provider == members[0]);
    assert!(paid_honest);
    let proofs = world
        .simulation()
        .observations()
        .iter()
        .filter(|o| matches!(o.observation, CellObservation::FraudProofSubmitted { .. }))
        .count();
    assert!(proofs >= slashes.len());
    // Slashing lowered the cheater's trust at every honest consumer below
    // the honest provider's.
    for consumer in 2..10 {
        let cell = world.cell(CellIndex(consumer)).unwrap();
        let cheater_trust = cell.trust_score_ppm(members[cheater as usize]);
        let honest_trust = cell.trust_score_ppm(members[0]);
        assert!(
            cheater_trust < honest_trust,
            "cell {consumer}: cheater {cheater_trust} ppm, honest {honest_trust} ppm"
        );
    }
}

#[test]
fn a_crashed_storage_provider_misses_its_challenge_and_is_slashed() {
    let scenario = scenario("storage");
    let world = run(&scenario);
    assert_eq!(ledger_violations(&world), Vec::<String>::new());
    assert_eq!(world.verdict(), Vec::<String>::new());
    let members: Vec<_> = (0..scenario.cells.count)
        .map(|cell| {
            celluler_core::identity::CellKeys::for_simulated_cell(scenario.seed, cell).cell_id()
        })
        .collect();
    let report = reports(&world, 0);
    let events: Vec<_> = report.iter().flat_map(|(_, r)| &r.leases).collect();
    let slashed: BTreeSet<_> = events
        .iter()
        .filter(|e| {
            e.kind
                == LeaseEventKind::Slashed {
                    reason: "missed-challenge",
                }
        })
        .map(|e| e.provider)
        .collect();
    assert_eq!(
        slashed,
        BTreeSet::from([members[1]]),
        "only the crashed provider"
    );
    // The live provider answered challenges with journal proofs and was paid
    // for each.
    let paid_live = events
        .iter()
        .filter(|e| e.kind == LeaseEventKind::Paid && e.provider == members[0])
        .count();
    assert!(paid_live >= 5, "{paid_live} answered challenges");
    let challenges: usize = report.iter().map(|(_, r)| r.challenges.len()).sum();
    assert!(challenges > paid_live);
}

#[test]
fn a_planted_minting_bug_makes_every_honest_cells_conservation_check_fire() {
    let scenario = scenario("exchange");
    let world = run_with(&scenario, |config| {
        config.market.mutation_mint_on_fill = true
    });
    let violations = ledger_violations(&world);
    assert!(!violations.is_empty());
    assert!(
        violations.iter().all(|v| v.ends_with("token-conservation")),
        "{violations:?}"
    );
    // Where: every honest cell, at the first round with a trade.
    let first_trade = reports(&world, 0)
        .iter()
        .find(|(_, report)| !report.trades.is_empty())
        .map(|(round, _)| *round)
        .expect("a trade");
    let at_first: BTreeSet<u32> = world
        .simulation()
        .observations()
        .iter()
        .filter_map(|o| match &o.observation {
            CellObservation::LedgerViolation { round, .. } if *round == first_trade => {
                Some(o.cell.0)
            }
            _ => None,
        })
        .collect();
    assert_eq!(at_first.len(), scenario.cells.count as usize);
    let verdict = world.verdict();
    assert!(
        verdict.iter().any(|v| v.contains(&format!(
            "round {first_trade}: ledger invariant token-conservation broken"
        ))),
        "{verdict:?}"
    );
    assert!(world.checker().state_violated());
}

#[test]
fn market_runs_are_deterministic() {
    let scenario = scenario("exchange");
    let hash = |world: &CellWorld<AdversaryNode>| world.simulation().trace().hash_hex();
    let first = run(&scenario);
    let second = run(&scenario);
    assert_eq!(hash(&first), hash(&second));
    assert_eq!(reports(&first, 3), reports(&second, 3));
    let mut other = scenario.clone();
    other.seed += 1;
    assert_ne!(hash(&run(&other)), hash(&first));
}
