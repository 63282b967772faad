//! Byzantine behaviours from scenario files, each shown to happen and
//! judged by the checkers.

use std::path::Path;

use celluler_core::cell::{AdversaryAction, CellObservation};
use celluler_core::node::CellIndex;
use celluler_sim::TraceMode;
use celluler_sim::adversary::{AdversaryNode, scenario_world, sybil_identities};
use celluler_sim::scenario::Scenario;
use celluler_sim::world::CellWorld;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/attacks")
        .join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|error| panic!("{error}"))
}

/// Run `scenario` to its end with its behaviours (the way `celluler run`
/// does).
fn run(scenario: &Scenario) -> CellWorld<AdversaryNode> {
    let mut world = scenario_world(scenario, scenario.world_config(), TraceMode::HashOnly)
        .expect("valid world");
    world.run_until(scenario.duration_ns);
    world
}

fn actions(
    world: &CellWorld<AdversaryNode>,
) -> impl Iterator<Item = (CellIndex, &'static str, &AdversaryAction)> {
    world
        .simulation()
        .observations()
        .iter()
        .filter_map(|observed| match &observed.observation {
            CellObservation::Adversary { behaviour, action } => {
                Some((observed.cell, *behaviour, action))
            }
            _ => None,
        })
}

#[test]
fn equivocators_fork_and_every_honest_cell_detects_them() {
    let scenario = scenario("equivocate");
    let world = run(&scenario);
    let twinned = actions(&world)
        .filter(|(_, _, action)| matches!(action, AdversaryAction::Equivocating { .. }))
        .count();
    assert_eq!(twinned, scenario.byzantine.cells.len());
    let honest = scenario.honest_cells();
    for forker in &scenario.byzantine.cells {
        for &cell in &honest {
            let detected = world.simulation().observations().iter().any(|o| {
                o.cell.0 == cell
                    && matches!(o.observation, CellObservation::ForkDetected { creator } if creator.0 == *forker)
            });
            assert!(
                detected,
                "honest cell {cell} never saw forker {forker} fork"
            );
        }
    }
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

/// Observations of honest cells.
fn honest_observations<'a>(
    world: &'a CellWorld<AdversaryNode>,
    scenario: &Scenario,
) -> impl Iterator<Item = &'a celluler_sim::Observed<CellObservation>> {
    let honest = scenario.honest_cells();
    world
        .simulation()
        .observations()
        .iter()
        .filter(move |o| honest.binary_search(&o.cell.0).is_ok())
}

/// Twins are a fork scenario: each instance's view, the forks it sees and
/// what it serves are its own, so an engine per cell gives the same run as
/// views over the shared arena.
#[test]
fn equivocation_gives_the_same_run_in_both_store_modes() {
    let scenario = scenario("equivocate");
    let shared = run(&scenario);
    let mut config = scenario.world_config();
    config.store = celluler_sim::arena::StoreMode::Independent;
    let mut independent =
        scenario_world(&scenario, config, TraceMode::HashOnly).expect("valid world");
    independent.run_until(scenario.duration_ns);
    assert_eq!(
        shared.simulation().trace().hash_hex(),
        independent.simulation().trace().hash_hex()
    );
    assert_eq!(
        shared.simulation().observations(),
        independent.simulation().observations()
    );
}

#[test]
fn withholders_hold_and_release_bursts() {
    let scenario = scenario("withhold");
    let world = run(&scenario);
    let held: u32 = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::Held { messages } => Some(*messages),
            _ => None,
        })
        .sum();
    let released: u32 = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::Released { messages } => Some(*messages),
            _ => None,
        })
        .sum();
    assert!(held > 50, "held {held}");
    assert_eq!(released, held, "every held message is released");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn skewed_cells_claim_timestamps_far_ahead() {
    let scenario = scenario("timestamp-skew");
    let world = run(&scenario);
    assert_eq!(
        actions(&world)
            .filter(|(_, _, action)| matches!(action, AdversaryAction::Skewing { .. }))
            .count(),
        3
    );
    // What a skewed cell claims for a TX its events reach, against when.
    let claims: Vec<i128> = world
        .simulation()
        .observations()
        .iter()
        .filter(|o| scenario.byzantine.cells.contains(&o.cell.0))
        .filter_map(|o| match o.observation {
            CellObservation::TxReached {
                event_timestamp_ns, ..
            } => Some(i128::from(event_timestamp_ns) - i128::from(o.time_ns)),
            _ => None,
        })
        .collect();
    assert!(!claims.is_empty());
    assert!(
        claims.iter().all(|&ahead| ahead > 29_000_000_000),
        "every claim ~30 s ahead"
    );
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn front_runners_answer_victim_transactions_with_their_own() {
    let scenario = scenario("front-run");
    let world = run(&scenario);
    let pairs: Vec<([u8; 32], [u8; 32])> = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::FrontRun { victim, own } => Some((*victim, *own)),
            _ => None,
        })
        .collect();
    assert!(pairs.len() > 20, "{} pairs", pairs.len());
    // The attackers' TXs reach consensus.
    let ordered: std::collections::BTreeSet<[u8; 32]> = honest_observations(&world, &scenario)
        .filter_map(|o| match o.observation {
            CellObservation::TxOrdered { tx, .. } => Some(tx),
            _ => None,
        })
        .collect();
    let own_ordered = pairs
        .iter()
        .filter(|(_, own)| ordered.contains(own))
        .count();
    assert!(
        own_ordered * 2 > pairs.len(),
        "{own_ordered} of {}",
        pairs.len()
    );
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn spammers_submit_valid_transactions_at_their_rate() {
    let scenario = scenario("spam");
    let world = run(&scenario);
    let spam = actions(&world)
        .filter(|(_, _, action)| matches!(action, AdversaryAction::Spam { kind: "tx" }))
        .count();
    // 3 cells × 100/s × 13 s.
    assert!((3800..=3900).contains(&spam), "{spam}");
    let submitted_by_spammers = world
        .simulation()
        .observations()
        .iter()
        .filter(|o| scenario.byzantine.cells.contains(&o.cell.0))
        .filter(|o| matches!(o.observation, CellObservation::TxSubmitted { .. }))
        .count();
    assert_eq!(submitted_by_spammers, spam, "each spam act is one valid TX");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn garbage_is_rejected_by_reason_and_never_reaches_consensus() {
    let scenario = scenario("garbage");
    let world = run(&scenario);
    let mut kinds = std::collections::BTreeMap::new();
    for (_, _, action) in actions(&world) {
        if let AdversaryAction::Garbage { kind } = action {
            *kinds.entry(*kind).or_insert(0) += 1;
        }
    }
    for kind in ["malformed", "bad-signature", "replay", "mutated"] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 20,
            "{kind}: {kinds:?}"
        );
    }
    let mut reasons = std::collections::BTreeMap::new();
    for o in honest_observations(&world, &scenario) {
        if let CellObservation::MessageRejected { reason } = o.observation {
            *reasons.entry(reason).or_insert(0) += 1;
        }
    }
    for reason in ["event: bad signature", "event: undecodable"] {
        assert!(
            reasons.get(reason).copied().unwrap_or(0) > 20,
            "{reason}: {reasons:?}"
        );
    }
    assert!(
        reasons.get("undecodable message").copied().unwrap_or(0) > 20,
        "malformed direct messages: {reasons:?}"
    );
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn double_spenders_get_at_most_one_spend_applied_the_same_everywhere() {
    let scenario = scenario("double-spend");
    let world = run(&scenario);
    let attempts: Vec<Vec<[u8; 32]>> = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::DoubleSpend { txs } => Some(txs.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(attempts.len(), 3);
    assert!(attempts.iter().all(|txs| txs.len() == 2));
    let honest = scenario.honest_cells();
    for txs in &attempts {
        let mut applied_by_cell = std::collections::BTreeMap::new();
        for o in honest_observations(&world, &scenario) {
            if let CellObservation::TxOrdered {
                tx, applied: true, ..
            } = o.observation
                && txs.contains(&tx)
            {
                applied_by_cell
                    .entry(o.cell.0)
                    .or_insert_with(Vec::new)
                    .push(tx);
            }
        }
        assert!(applied_by_cell.values().all(|applied| applied.len() <= 1));
        let distinct: std::collections::BTreeSet<_> = applied_by_cell.values().collect();
        assert!(
            distinct.len() <= 1,
            "every honest cell applied the same spend"
        );
        assert!(applied_by_cell.len() == honest.len() || applied_by_cell.is_empty());
    }
    let forks = honest_observations(&world, &scenario)
        .filter(|o| matches!(o.observation, CellObservation::ForkDetected { .. }))
        .count();
    assert!(forks >= honest.len(), "the twins were seen");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
    assert!(!world.checker().state_violated());
}

/// Byzantine stake under a third never breaks agreement or state, on any of
/// 20 seeds of the behaviour.
fn twenty_seeds_keep_agreement_and_state(name: &str) {
    let base = scenario(name);
    let byzantine = base.byzantine.cells.len() as u64;
    assert!(
        3 * byzantine < u64::from(base.cells.count),
        "{name}: under a third"
    );
    for seed in 0..20 {
        let scenario = base.clone().with_seed(seed);
        let world = run(&scenario);
        assert!(
            !world.checker().agreement_violated() && !world.checker().state_violated(),
            "{name} seed {seed}: {:?}",
            world.verdict()
        );
        assert_eq!(
            band_violations(&world, &scenario),
            (0, 0),
            "{name} seed {seed}: a consensus timestamp outside the honest claims"
        );
    }
}

/// TXs whose consensus timestamp (as the first honest cell to order them
/// has it) lies outside the range of honest cells' claims for them (their
/// `TxReached` timestamps): the band of docs/metrics.md. Returns (those in
/// rounds whose unique famous witnesses honest cells created most of, those
/// in rounds where Byzantine creators held half or more).
fn band_violations(world: &CellWorld<AdversaryNode>, scenario: &Scenario) -> (usize, usize) {
    let mut claims: std::collections::BTreeMap<[u8; 32], (u64, u64)> = Default::default();
    let mut consensus: std::collections::BTreeMap<[u8; 32], (u64, u32)> = Default::default();
    let mut byzantine_half: std::collections::BTreeMap<u32, bool> = Default::default();
    for o in honest_observations(world, scenario) {
        match o.observation {
            CellObservation::TxReached {
                tx,
                event_timestamp_ns,
            } => {
                let band = claims
                    .entry(tx)
                    .or_insert((event_timestamp_ns, event_timestamp_ns));
                band.0 = band.0.min(event_timestamp_ns);
                band.1 = band.1.max(event_timestamp_ns);
            }
            CellObservation::TxOrdered {
                tx,
                consensus_timestamp_ns,
                round_received,
                ..
            } => {
                consensus
                    .entry(tx)
                    .or_insert((consensus_timestamp_ns, round_received));
            }
            CellObservation::RoundDecided {
                round,
                ref unique_famous_creators,
                ..
            } => {
                let byzantine = unique_famous_creators
                    .iter()
                    .filter(|creator| scenario.byzantine.cells.contains(creator))
                    .count();
                byzantine_half
                    .entry(round)
                    .or_insert(2 * byzantine >= unique_famous_creators.len());
            }
            _ => {}
        }
    }
    let mut violations = (0, 0);
    for (tx, &(at, round)) in &consensus {
        if claims
            .get(tx)
            .is_some_and(|&(low, high)| at < low || at > high)
        {
            if byzantine_half.get(&round).copied().unwrap_or(false) {
                violations.1 += 1;
            } else {
                violations.0 += 1;
            }
        }
    }
    violations
}

/// With half the cells skewing their clocks, Byzantine creators hold half
/// the famous witnesses of some rounds: there, and only there, consensus
/// timestamps leave the band of honest claims.
#[test]
fn skewed_clocks_move_timestamps_only_where_byzantine_creators_hold_half_the_famous() {
    let mut scenario = scenario("timestamp-skew");
    let half: Vec<u32> = (5..10).collect();
    scenario.byzantine.cells = half.clone();
    scenario.byzantine.behaviours[0].cells = half;
    let world = run(&scenario);
    let (promise_broken, attack) = band_violations(&world, &scenario);
    assert_eq!(promise_broken, 0);
    assert!(attack > 10, "{attack} TXs moved by the skewed half");
}

macro_rules! twenty_seeds {
    ($($test:ident: $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            twenty_seeds_keep_agreement_and_state($name);
        }
    )*};
}

twenty_seeds! {
    twenty_seeds_of_equivocation: "equivocate",
    twenty_seeds_of_withholding: "withhold",
    twenty_seeds_of_timestamp_skew: "timestamp-skew",
    twenty_seeds_of_front_running: "front-run",
    twenty_seeds_of_spam: "spam",
    twenty_seeds_of_garbage: "garbage",
    twenty_seeds_of_double_spending: "double-spend",
    twenty_seeds_of_eclipse: "eclipse",
    twenty_seeds_of_delay: "delay",
    twenty_seeds_of_censorship: "censor",
    twenty_seeds_of_sybils: "sybil",
}

/// Per honest cell: (sybils it vouched for, their messages it accepted
/// from vouched sybils, from the others, their summed reputation ppm).
fn sybil_standings(
    world: &CellWorld<AdversaryNode>,
    scenario: &Scenario,
) -> Vec<(u64, u64, u64, u64)> {
    let sybils = sybil_identities(scenario);
    scenario
        .honest_cells()
        .into_iter()
        .map(|cell| {
            let cell = world.cell(CellIndex(cell)).expect("live");
            let mut standing = (0, 0, 0, 0);
            for sybil in &sybils {
                standing.3 += cell.trust_score_ppm(sybil.cell_id);
                let Some(edge) = cell.trust_edge(sybil.cell_id) else {
                    continue;
                };
                if edge.attestation_weight > 0 {
                    standing.0 += 1;
                    standing.1 += edge.successes;
                } else {
                    standing.2 += edge.successes;
                }
            }
            standing
        })
        .collect()
}

#[test]
fn sybils_get_only_what_honest_vouching_and_the_access_threshold_let_them() {
    let scenario = scenario("sybil");
    let world = run(&scenario);
    let sent = actions(&world)
        .filter(|(_, _, action)| matches!(action, AdversaryAction::SybilMessage { .. }))
        .count();
    assert!(sent > 1_000, "{sent} sybil chats");
    // Each attack edge is an honest user's AUTH exchange, seen from both
    // sides: the operator hears the attestation, the voucher journals it.
    let vouched_by: Vec<CellIndex> = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::SybilVouched { by } => Some(*by),
            _ => None,
        })
        .collect();
    assert_eq!(vouched_by.len(), 2, "{vouched_by:?}");
    let standings = sybil_standings(&world, &scenario);
    assert_eq!(standings.iter().map(|s| s.0).sum::<u64>(), 2);
    // Under the CHAT threshold an unvouched identity (reputation 0) is
    // denied everything; a vouched one gets through to its voucher.
    assert_eq!(
        standings.iter().map(|s| s.2).sum::<u64>(),
        0,
        "{standings:?}"
    );
    assert!(
        standings.iter().map(|s| s.1).sum::<u64>() > 0,
        "{standings:?}"
    );
    for standing in &standings {
        assert_eq!(
            standing.0 == 0,
            standing.3 == 0,
            "reputation only through a voucher: {standings:?}"
        );
    }
    let denied = honest_observations(&world, &scenario)
        .filter(|o| {
            o.observation
                == CellObservation::MessageRejected {
                    reason: "access denied by reputation",
                }
        })
        .count();
    assert!(denied + 50 > sent, "{denied} of {sent} denied");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());

    // Open access: every chat is heard, and each one counts as a good
    // interaction, so volume alone buys reputation (what the report shows).
    let mut open = scenario.clone();
    open.access = Default::default();
    let world = run(&open);
    let standings = sybil_standings(&world, &open);
    let accepted: u64 = standings.iter().map(|s| s.1 + s.2).sum();
    assert!(accepted + 50 > sent as u64, "{accepted} of {sent}");
    assert!(
        standings.iter().all(|s| s.3 > 10_000),
        "every honest cell gives the sybils reputation: {standings:?}"
    );
}

/// Above a third, Twins that eclipse each honest half split consensus: the
/// scenario documents the failure, and the checker names it.
#[test]
fn equivocation_above_a_third_splits_agreement() {
    let scenario = scenario("equivocate-at-third");
    let world = run(&scenario);
    assert!(
        world.checker().agreement_violated(),
        "{:?}",
        world.verdict()
    );
    let first = world.checker().first_divergence().expect("named");
    let sides = [first.cells.0.0, first.cells.1.0];
    assert!(
        sides.iter().any(|&cell| cell < 2) && sides.iter().any(|&cell| (2..4).contains(&cell)),
        "the two eclipsed halves disagree: {first:?}"
    );
}

#[test]
fn an_eclipse_drops_what_reaches_its_victims_from_outside_the_coalition() {
    let scenario = scenario("eclipse");
    let world = run(&scenario);
    let totals = world.simulation().metrics().totals();
    assert!(totals.adversary_dropped() > 100, "{totals:?}");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
    // The victims still decide: after the eclipse they catch up.
    for victim in [0u32, 1] {
        let last = world
            .simulation()
            .observations()
            .iter()
            .filter(|o| o.cell.0 == victim)
            .filter_map(|o| match o.observation {
                CellObservation::RoundDecided { round, .. } => Some(round),
                _ => None,
            })
            .max();
        assert!(
            last.is_some_and(|round| round > 5),
            "victim {victim}: {last:?}"
        );
    }
}

#[test]
fn a_delaying_coalition_holds_messages_on_its_links() {
    let scenario = scenario("delay");
    let world = run(&scenario);
    let totals = world.simulation().metrics().totals();
    assert!(totals.adversary_delayed > 100, "{totals:?}");
    assert_eq!(totals.adversary_dropped(), 0);
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}

#[test]
fn censoring_entries_delay_chosen_clients_until_they_retry_elsewhere() {
    let scenario = scenario("censor");
    let world = run(&scenario);
    let censored: Vec<(u32, [u8; 32])> = actions(&world)
        .filter_map(|(_, _, action)| match action {
            AdversaryAction::Censored { client, tx, .. } => Some((*client, *tx)),
            _ => None,
        })
        .collect();
    assert!(censored.len() > 10, "{}", censored.len());
    assert!(
        censored.iter().all(|(client, _)| *client < 10),
        "only clients 0..10"
    );
    // Every relayed client TX: when first submitted, when cell 0 ordered it.
    let mut first_submitted = std::collections::BTreeMap::new();
    let mut ordered_at = std::collections::BTreeMap::new();
    for o in honest_observations(&world, &scenario) {
        match o.observation {
            CellObservation::TxRelayed {
                tx,
                first_submitted_ns,
                client,
            } => {
                first_submitted.insert(tx, (client, first_submitted_ns));
            }
            CellObservation::TxOrdered { tx, applied, .. } if o.cell.0 == 0 => {
                assert!(applied, "client TXs are valid");
                ordered_at.entry(tx).or_insert(o.time_ns);
            }
            _ => {}
        }
    }
    // A censored TX got through an honest entry later, and was ordered.
    let mut censored_delay = Vec::new();
    let mut other_delay = Vec::new();
    for (tx, (client, submitted)) in &first_submitted {
        let Some(ordered) = ordered_at.get(tx) else {
            continue;
        };
        if censored.iter().any(|(_, censored_tx)| censored_tx == tx) {
            censored_delay.push(ordered - submitted);
        } else if *client >= 10 {
            other_delay.push(ordered - submitted);
        }
    }
    assert!(!censored_delay.is_empty() && !other_delay.is_empty());
    let mean = |delays: &[u64]| delays.iter().sum::<u64>() / delays.len() as u64;
    assert!(
        mean(&censored_delay) > mean(&other_delay) + 1_500_000_000,
        "a censored TX waits out its retry: {} vs {} ns",
        mean(&censored_delay),
        mean(&other_delay)
    );
    // Nothing censored is lost: a TX censored early enough to pass three
    // censoring entries in a row (2 s each) and be ordered was ordered.
    let censored_at =
        world
            .simulation()
            .observations()
            .iter()
            .filter_map(|o| match o.observation {
                CellObservation::Adversary {
                    action: AdversaryAction::Censored { tx, .. },
                    ..
                } => Some((tx, o.time_ns)),
                _ => None,
            });
    let mut checked = 0;
    for (tx, at) in censored_at {
        if at + 10_000_000_000 < scenario.duration_ns {
            assert!(ordered_at.contains_key(&tx), "a censored TX was lost");
            checked += 1;
        }
    }
    assert!(checked > 5, "{checked}");
    assert!(world.verdict().is_empty(), "{:?}", world.verdict());
}
