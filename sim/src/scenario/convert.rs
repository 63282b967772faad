//! From the user-facing [`Scenario`] to the engine's plain [`SimConfig`]:
//! distributions to integer latency models, bandwidth to bytes, and every
//! scenario fault expanded into the engine's per-cell, per-link timeline;
//! the `eclipse` and `delay` behaviour blocks become the rules of the
//! [`NetworkAdversary`].

use celluler_core::node::CellIndex as EngineCell;
use celluler_core::rng;
use celluler_core::time::TimeNs;

use super::{
    Behaviour, Direction, Distribution, EclipseMode, Fault, Latency, Scenario, Topology,
    probability,
};
use crate::config::{
    Fault as EngineFault, LatencyModel, LinkModel, RegionMatrix, ScheduledFault, SimConfig,
    TopologySpec,
};
use crate::links::{CellSet, LinkAction, LinkRule, NetworkAdversary};
use crate::world::WorldConfig;

/// A dimensionless shape as thousandths, the engine's integer form (sigma 0.4
/// → 400). Scenario validation keeps shapes positive and finite.
fn milli(shape: f64) -> u32 {
    let scaled = (shape * 1000.0).round();
    if scaled < 1.0 {
        1
    } else {
        scaled.min(f64::from(u32::MAX)) as u32
    }
}

impl Distribution {
    /// The distribution's median, in ns (for normal: the mean, as clamping at
    /// zero moves the median only for means below zero, which are rejected).
    pub fn median_ns(&self) -> TimeNs {
        match *self {
            Distribution::Constant { value_ns } => value_ns,
            Distribution::Uniform { min_ns, max_ns } => min_ns + (max_ns - min_ns) / 2,
            Distribution::Normal { mean_ns, .. } => mean_ns,
            Distribution::LogNormal { median_ns, .. } => median_ns,
            // Pareto type I: scale · 2^(1/shape).
            Distribution::Pareto { scale_ns, shape } => {
                let median = scale_ns as f64 * libm::pow(2.0, 1.0 / shape);
                if median >= 1e18 {
                    1_000_000_000_000_000_000
                } else {
                    median as TimeNs
                }
            }
        }
    }

    /// The engine's model of this distribution (shapes rounded to 1/1000).
    pub fn latency_model(&self) -> LatencyModel {
        match *self {
            Distribution::Constant { value_ns } => LatencyModel::Constant {
                latency_ns: value_ns,
            },
            Distribution::Uniform { min_ns, max_ns } => LatencyModel::Uniform { min_ns, max_ns },
            Distribution::Normal { mean_ns, stddev_ns } => LatencyModel::Normal {
                mean_ns,
                std_dev_ns: stddev_ns,
            },
            Distribution::LogNormal { median_ns, sigma } => LatencyModel::LogNormal {
                median_ns,
                sigma_milli: milli(sigma),
            },
            Distribution::Pareto { scale_ns, shape } => LatencyModel::Pareto {
                scale_ns,
                shape_milli: milli(shape),
            },
        }
    }
}

fn cells(indices: &[u32]) -> impl Iterator<Item = EngineCell> + '_ {
    indices.iter().map(|&cell| EngineCell(cell))
}

impl Scenario {
    /// The median one-way latency of the network (over the region matrix's
    /// cell pairs, when there is one): the threshold below which two TXs'
    /// reference times count as simultaneous in the fairness metrics.
    pub fn network_median_latency_ns(&self) -> TimeNs {
        match &self.network.latency {
            Latency::Uniform(distribution) => distribution.median_ns(),
            Latency::Regions(regions) => {
                let cells = regions.region_of_cell.len() as u64;
                // Weight each region pair by its number of cell pairs.
                let mut weighted: Vec<(TimeNs, u64)> = Vec::new();
                for (from, row) in regions.matrix.iter().enumerate() {
                    for (to, distribution) in row.iter().enumerate() {
                        let count = |region: usize| {
                            regions
                                .region_of_cell
                                .iter()
                                .filter(|&&r| r as usize == region)
                                .count() as u64
                        };
                        weighted.push((distribution.median_ns(), count(from) * count(to)));
                    }
                }
                weighted.sort();
                let half = (cells * cells).div_ceil(2);
                let mut seen = 0;
                for (median_ns, weight) in &weighted {
                    seen += weight;
                    if seen >= half {
                        return *median_ns;
                    }
                }
                weighted.last().map_or(0, |&(median_ns, _)| median_ns)
            }
        }
    }

    /// The world of cells this scenario describes: consensus and ledger
    /// parameters, and the simulator configuration.
    pub fn world_config(&self) -> WorldConfig {
        WorldConfig {
            seed: self.seed,
            cells: self.cells.count,
            gossip_interval_ns: self.consensus.gossip_interval_ns,
            coin_round_frequency: self.consensus.coin_round_frequency,
            genesis_balance: self.cells.genesis_balance,
            stake: self.cells.stake,
            fee_min: self.consensus.min_fee,
            sim: self.sim_config(),
            record_consensus: Vec::new(),
            mutated_tie_break: Vec::new(),
            store: self.consensus.store,
            client_accounts: crate::clients::ClientPool::account_ids(
                self.seed,
                self.workload.clients,
            ),
            access: self.access.policy(),
            gossip: celluler_core::cell::GossipPolicy {
                sync: self.consensus.sync,
                peer_selection: self.consensus.peer_selection,
                events_per_sync_max: self.consensus.max_events_per_sync,
                transactions_per_event_max: self.consensus.max_transactions_per_event,
                transaction_bytes_per_event_max: self.consensus.max_event_bytes,
            },
            market: self.market_config(),
            genesis: (0..self.cells.count)
                .filter(|&cell| {
                    self.markets
                        .as_ref()
                        .is_some_and(|markets| markets.genesis_of(cell).is_some())
                })
                .map(|cell| crate::world::CellGenesis {
                    cell,
                    prana: self.genesis_prana(cell),
                    tokens: self.genesis_tokens(cell),
                })
                .collect(),
            stakes: (self.consensus.stake == super::StakeRule::Prana).then(|| self.stakes()),
        }
    }

    /// The ledger's market parameters: the exchange's tokens and the lease
    /// markets' clock (the defaults without a `[markets]` section).
    pub fn market_config(&self) -> celluler_core::market::MarketConfig {
        let markets = self.markets.clone().unwrap_or_default();
        celluler_core::market::MarketConfig {
            tokens: markets.tokens,
            interval_ns: markets.interval_ns,
            challenge_window_ns: markets.challenge_window_ns,
            ..celluler_core::market::MarketConfig::default()
        }
    }

    /// The simulator configuration this scenario describes.
    pub fn sim_config(&self) -> SimConfig {
        let network = &self.network;
        let (latency, regions) = match &network.latency {
            Latency::Uniform(distribution) => (distribution.latency_model(), None),
            Latency::Regions(regions) => {
                let latency = regions
                    .matrix
                    .iter()
                    .flatten()
                    .map(Distribution::latency_model)
                    .collect::<Vec<_>>();
                let matrix = RegionMatrix {
                    cell_regions: regions.region_of_cell.iter().map(|&r| r as u16).collect(),
                    regions: regions.names.len() as u16,
                    latency,
                };
                (matrix.latency[0], Some(matrix))
            }
        };
        let link = LinkModel {
            latency,
            loss: network.loss_probability(),
            duplicate: network.duplicate_probability(),
            bandwidth_bytes_per_s: network
                .bandwidth_bits_per_second
                .map(|bits| (bits / 8).max(1)),
            queue_limit_bytes: network.queue_limit_bytes,
        };
        let topology = match &network.topology {
            Topology::FullMesh => TopologySpec::FullMesh,
            Topology::RandomRegular { degree } => TopologySpec::RandomRegular { degree: *degree },
            Topology::SmallWorld { neighbors, rewire } => TopologySpec::SmallWorld {
                degree: *neighbors,
                rewire: probability(*rewire),
            },
            Topology::ScaleFree { edges } => TopologySpec::ScaleFree {
                edges_per_new_cell: *edges,
            },
            Topology::Edges(edges) => TopologySpec::EdgeList(
                edges
                    .iter()
                    .map(|&(a, b)| (EngineCell(a), EngineCell(b)))
                    .collect(),
            ),
        };
        let mut faults = Vec::new();
        for fault in &self.faults {
            expand_fault(fault, &mut faults);
        }
        // Stable by time: faults at one instant keep file order.
        faults.sort_by_key(|scheduled| scheduled.at_ns);
        SimConfig {
            seed: self.seed,
            cells: self.cells.count,
            topology,
            link,
            regions,
            faults,
            adversary: self.network_adversary(),
        }
    }

    /// The rules of the network adversary, from the `eclipse` and `delay`
    /// behaviour blocks in file order (other behaviours act through their
    /// cells, not on links). Each rule's window is its block's.
    ///
    /// - `eclipse` (coalition C, victims V): every message to a victim from a
    ///   cell outside C — another victim included — is dropped (`mode =
    ///   "drop"`) or delayed by `delay`. Messages from C to V pass, so the
    ///   victims hear only the coalition. What the victims send is not judged.
    /// - `delay` (coalition C, `hold`): the targets T are the listed
    ///   `victims`, or else the first ⌈`share` × honest cells⌉ honest cells of
    ///   a shuffle drawn from `(seed, "delay-targets", block index)` (the
    ///   index among all behaviour blocks). With listed victims the adversary
    ///   controls their links: every message to a target is held `hold`.
    ///   Without, it controls the links touching its own cells: messages from
    ///   C to T, and from T to C, are held `hold`.
    pub fn network_adversary(&self) -> NetworkAdversary {
        let mut adversary = NetworkAdversary::default();
        for (index, block) in self.byzantine.behaviours.iter().enumerate() {
            let rule = |name, from, to, action| LinkRule {
                name,
                from,
                to,
                from_ns: block.from_ns,
                until_ns: block.until_ns,
                action,
            };
            match &block.behaviour {
                Behaviour::Eclipse {
                    victims,
                    mode,
                    delay_ns,
                } => {
                    let action = match mode {
                        EclipseMode::Drop => LinkAction::Drop,
                        EclipseMode::Delay => LinkAction::Delay {
                            extra_ns: *delay_ns,
                        },
                    };
                    adversary.push(rule(
                        "eclipse",
                        CellSet::all_but(block.cells.iter().copied()),
                        CellSet::only(victims.iter().copied()),
                        action,
                    ));
                }
                Behaviour::Delay {
                    hold_ns,
                    victims,
                    share_ppm,
                } => {
                    let action = LinkAction::Delay { extra_ns: *hold_ns };
                    match victims {
                        Some(victims) => adversary.push(rule(
                            "delay",
                            CellSet::any(),
                            CellSet::only(victims.iter().copied()),
                            action,
                        )),
                        None => {
                            let targets = self.delay_targets(index, *share_ppm);
                            let coalition = || CellSet::only(block.cells.iter().copied());
                            let targets = || CellSet::only(targets.iter().copied());
                            adversary.push(rule("delay", coalition(), targets(), action));
                            adversary.push(rule("delay", targets(), coalition(), action));
                        }
                    }
                }
                _ => {}
            }
        }
        adversary
    }

    /// The honest cells a `delay` block without victims holds the traffic
    /// of: the first ⌈`share_ppm` × honest / 10^6⌉ of a Fisher–Yates shuffle
    /// of the honest cells (ascending before shuffling) drawn from
    /// `(seed, "delay-targets", block_index)`; returned ascending.
    pub fn delay_targets(&self, block_index: usize, share_ppm: u32) -> Vec<u32> {
        let mut honest = self.honest_cells();
        let count = (u64::from(share_ppm) * honest.len() as u64)
            .div_ceil(1_000_000)
            .min(honest.len() as u64) as usize;
        let mut stream = rng::stream(self.seed, "delay-targets", block_index as u64);
        rng::shuffle(&mut stream, &mut honest);
        honest.truncate(count);
        honest.sort_unstable();
        honest
    }
}

fn expand_fault(fault: &Fault, out: &mut Vec<ScheduledFault>) {
    let mut at = |at_ns, fault| out.push(ScheduledFault { at_ns, fault });
    match fault {
        Fault::Partition {
            at_ns,
            heal_ns,
            groups,
        } => {
            let groups = groups.iter().map(|group| cells(group).collect()).collect();
            at(*at_ns, EngineFault::Partition { groups });
            if let Some(heal_ns) = heal_ns {
                at(*heal_ns, EngineFault::Heal);
            }
        }
        Fault::Crash {
            cells: crashed,
            at_ns,
            restart_ns,
        } => {
            for cell in cells(crashed) {
                at(*at_ns, EngineFault::Crash { cell });
                if let Some(restart_ns) = restart_ns {
                    at(*restart_ns, EngineFault::Restart { cell });
                }
            }
        }
        Fault::Link {
            from,
            to,
            at_ns,
            until_ns,
            loss,
            extra_latency,
            direction,
        } => {
            let mut links = Vec::new();
            for a in cells(from) {
                for b in cells(to) {
                    if a == b {
                        continue;
                    }
                    links.push((a, b));
                    if *direction == Direction::Both {
                        links.push((b, a));
                    }
                }
            }
            links.sort();
            links.dedup();
            for &(from, to) in &links {
                match loss {
                    // A link that loses everything is cut: counted as such.
                    Some(loss) if *loss >= 1.0 => at(*at_ns, EngineFault::CutLink { from, to }),
                    Some(loss) => at(
                        *at_ns,
                        EngineFault::LossyLink {
                            from,
                            to,
                            loss: probability(*loss),
                        },
                    ),
                    None => {}
                }
                if let Some(extra) = extra_latency {
                    at(
                        *at_ns,
                        EngineFault::SlowLink {
                            from,
                            to,
                            extra: extra.latency_model(),
                        },
                    );
                }
                if let Some(until_ns) = until_ns {
                    at(*until_ns, EngineFault::RestoreLink { from, to });
                }
            }
        }
        Fault::ClockSkew {
            cells: skewed,
            at_ns,
            offset_ns,
            drift_ppm,
        } => {
            for cell in cells(skewed) {
                if *offset_ns != 0 {
                    at(
                        *at_ns,
                        EngineFault::ClockSkew {
                            cell,
                            offset_ns: *offset_ns,
                        },
                    );
                }
                if *drift_ppm != 0 {
                    at(
                        *at_ns,
                        EngineFault::ClockDrift {
                            cell,
                            drift_ppm: i64::from(*drift_ppm),
                        },
                    );
                }
            }
        }
        Fault::Pause {
            cells: paused,
            at_ns,
            until_ns,
        } => {
            for cell in cells(paused) {
                at(*at_ns, EngineFault::Pause { cell });
                at(*until_ns, EngineFault::Resume { cell });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use celluler_core::time::{NS_PER_MS, NS_PER_S};

    const BASE: &str = r#"
name = "convert"
seed = 3
duration = "30s"
[cells]
count = 4
[network]
latency = { distribution = "lognormal", median = "50ms", sigma = 0.4 }
loss = 0.25
bandwidth = "8Mbps"
queue_limit = "64KiB"
topology = { kind = "random-regular", degree = 2 }
"#;

    fn config(extra: &str) -> SimConfig {
        let scenario = Scenario::parse("convert.toml", &format!("{BASE}{extra}")).unwrap();
        let config = scenario.sim_config();
        config.validate().unwrap();
        config
    }

    #[test]
    fn network_converts_to_integer_models() {
        let config = config("");
        assert_eq!((config.seed, config.cells), (3, 4));
        assert_eq!(
            config.link.latency,
            LatencyModel::LogNormal {
                median_ns: 50 * NS_PER_MS,
                sigma_milli: 400
            }
        );
        assert_eq!(config.link.loss, probability(0.25));
        assert_eq!(config.link.bandwidth_bytes_per_s, Some(1_000_000));
        assert_eq!(config.link.queue_limit_bytes, Some(65_536));
        assert_eq!(config.topology, TopologySpec::RandomRegular { degree: 2 });
        assert!(config.faults.is_empty());
    }

    #[test]
    fn medians_of_distributions_and_region_matrices() {
        assert_eq!(
            config("").link.latency,
            Distribution::LogNormal {
                median_ns: 50 * NS_PER_MS,
                sigma: 0.4
            }
            .latency_model()
        );
        let pareto = Distribution::Pareto {
            scale_ns: 1_000,
            shape: 2.0,
        };
        assert_eq!(pareto.median_ns(), 1_414);
        assert_eq!(
            Distribution::Uniform {
                min_ns: 10,
                max_ns: 20
            }
            .median_ns(),
            15
        );
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/regions.toml");
        let regions = Scenario::load(&path).unwrap();
        let median = regions.network_median_latency_ns();
        let Latency::Regions(matrix) = &regions.network.latency else {
            panic!("regions")
        };
        let medians: Vec<TimeNs> = matrix
            .matrix
            .iter()
            .flatten()
            .map(Distribution::median_ns)
            .collect();
        assert!(
            medians.contains(&median),
            "{median} is one of the matrix's medians"
        );
        assert!(
            median > *medians.iter().min().unwrap(),
            "cross-region pairs outnumber same-region ones"
        );
    }

    #[test]
    fn faults_expand_per_cell_and_per_link_in_time_order() {
        let config = config(
            r#"
[[faults]]
kind = "pause"
cells = [1]
at = "20s"
until = "21s"
[[faults]]
kind = "partition"
at = "10s"
heal = "15s"
groups = ["0..2", "2..4"]
[[faults]]
kind = "crash"
cells = [2, 3]
at = "5s"
restart = "8s"
[[faults]]
kind = "link"
from = [0]
to = [1]
at = "1s"
until = "2s"
loss = 1.0
latency = { distribution = "constant", value = "5ms" }
"#,
        );
        let timeline: Vec<(u64, &EngineFault)> = config
            .faults
            .iter()
            .map(|f| (f.at_ns / NS_PER_S, &f.fault))
            .collect();
        let (a, b) = (EngineCell(0), EngineCell(1));
        let slow = LatencyModel::Constant {
            latency_ns: 5 * NS_PER_MS,
        };
        assert_eq!(
            timeline,
            vec![
                (1, &EngineFault::CutLink { from: a, to: b }),
                (
                    1,
                    &EngineFault::SlowLink {
                        from: a,
                        to: b,
                        extra: slow
                    }
                ),
                (1, &EngineFault::CutLink { from: b, to: a }),
                (
                    1,
                    &EngineFault::SlowLink {
                        from: b,
                        to: a,
                        extra: slow
                    }
                ),
                (2, &EngineFault::RestoreLink { from: a, to: b }),
                (2, &EngineFault::RestoreLink { from: b, to: a }),
                (
                    5,
                    &EngineFault::Crash {
                        cell: EngineCell(2)
                    }
                ),
                (
                    5,
                    &EngineFault::Crash {
                        cell: EngineCell(3)
                    }
                ),
                (
                    8,
                    &EngineFault::Restart {
                        cell: EngineCell(2)
                    }
                ),
                (
                    8,
                    &EngineFault::Restart {
                        cell: EngineCell(3)
                    }
                ),
                (
                    10,
                    &EngineFault::Partition {
                        groups: vec![vec![a, b], vec![EngineCell(2), EngineCell(3)]]
                    }
                ),
                (15, &EngineFault::Heal),
                (20, &EngineFault::Pause { cell: b }),
                (21, &EngineFault::Resume { cell: b }),
            ]
        );
    }

    /// Two link blocks and a cell-level block between them (10 cells; the
    /// honest cells are 0..6).
    const LINK_BLOCKS: &str = r#"
name = "links"
seed = 21
duration = "60s"
[cells]
count = 10
[[byzantine]]
behavior = "eclipse"
cells = [8, 9]
from = "5s"
until = "40s"
params = { victims = [0, 1] }
[[byzantine]]
behavior = "equivocate"
cells = [6]
[[byzantine]]
behavior = "delay"
cells = [7]
params = { hold = "300ms", share = 0.34 }
[[byzantine]]
behavior = "delay"
cells = [7]
until = "30s"
params = { hold = "1s", victims = [2, 3] }
[[byzantine]]
behavior = "eclipse"
cells = [6]
from = "50s"
params = { victims = [5], mode = "delay", delay = "2s" }
"#;

    #[test]
    fn eclipse_and_delay_blocks_become_link_rules_in_file_order() {
        let scenario = Scenario::parse("links.toml", LINK_BLOCKS).unwrap();
        assert_eq!(scenario.honest_cells(), vec![0, 1, 2, 3, 4, 5]);
        let config = scenario.sim_config();
        assert_eq!(config.validate(), Ok(()));
        // ⌈0.34 × 6⌉ = 3 of the honest cells, drawn for block 2.
        let targets = scenario.delay_targets(2, 340_000);
        assert_eq!(targets.len(), 3);
        assert!(targets.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(targets.iter().all(|cell| *cell < 6));
        let hold = LinkAction::Delay {
            extra_ns: 300 * NS_PER_MS,
        };
        let expected = [
            LinkRule {
                name: "eclipse",
                from: CellSet::all_but([8, 9]),
                to: CellSet::only([0, 1]),
                from_ns: 5 * NS_PER_S,
                until_ns: Some(40 * NS_PER_S),
                action: LinkAction::Drop,
            },
            LinkRule {
                name: "delay",
                from: CellSet::only([7]),
                to: CellSet::only(targets.clone()),
                from_ns: 0,
                until_ns: None,
                action: hold,
            },
            LinkRule {
                name: "delay",
                from: CellSet::only(targets.clone()),
                to: CellSet::only([7]),
                from_ns: 0,
                until_ns: None,
                action: hold,
            },
            LinkRule {
                name: "delay",
                from: CellSet::any(),
                to: CellSet::only([2, 3]),
                from_ns: 0,
                until_ns: Some(30 * NS_PER_S),
                action: LinkAction::Delay { extra_ns: NS_PER_S },
            },
            LinkRule {
                name: "eclipse",
                from: CellSet::all_but([6]),
                to: CellSet::only([5]),
                from_ns: 50 * NS_PER_S,
                until_ns: None,
                action: LinkAction::Delay {
                    extra_ns: 2 * NS_PER_S,
                },
            },
        ];
        assert_eq!(config.adversary.rules(), &expected[..]);
        let lines = config.adversary.describe();
        assert_eq!(
            lines[0],
            "eclipse: 2 victims (0..2) hear only 8..10, dropping the rest, 5s..40s"
        );
        assert_eq!(
            lines[3],
            "delay: messages from any cell to 2 cells (2..4) held 1s, 0s..30s"
        );
        assert_eq!(
            lines[4],
            "eclipse: 1 victim (5) hear only 6, delaying the rest 2s, 50s..end"
        );
        // The same seed draws the same targets; other seeds draw others.
        let again = Scenario::parse("links.toml", LINK_BLOCKS).unwrap();
        assert_eq!(again.sim_config().adversary, config.adversary);
        let drawn: std::collections::BTreeSet<Vec<u32>> = (0..32)
            .map(|seed| scenario.clone().with_seed(seed).delay_targets(2, 340_000))
            .collect();
        assert!(drawn.len() > 5, "{drawn:?}");
        // The block index is part of the stream: another block draws anew.
        let per_block: std::collections::BTreeSet<Vec<u32>> = (0..32)
            .map(|block| scenario.delay_targets(block, 340_000))
            .collect();
        assert!(per_block.len() > 5, "{per_block:?}");
    }

    /// Table: share in ppm → how many of the 6 honest cells are held
    /// (⌈share × 6 / 10^6⌉); a larger share holds a superset.
    #[test]
    fn delay_targets_round_the_share_up_and_grow_with_it() {
        let scenario = Scenario::parse("links.toml", LINK_BLOCKS).unwrap();
        let mut previous: Vec<u32> = Vec::new();
        for (share_ppm, count) in [
            (0, 0),
            (1, 1),
            (166_666, 1),
            (166_667, 2),
            (340_000, 3),
            (500_000, 3),
            (500_001, 4),
            (999_999, 6),
            (1_000_000, 6),
        ] {
            let targets = scenario.delay_targets(2, share_ppm);
            assert_eq!(targets.len(), count, "{share_ppm} ppm");
            assert!(
                previous.iter().all(|cell| targets.contains(cell)),
                "{share_ppm} ppm: {targets:?} ⊉ {previous:?}"
            );
            previous = targets;
        }
        assert_eq!(previous, vec![0, 1, 2, 3, 4, 5]);
        // A scenario without link blocks has no adversary.
        assert!(config("").adversary.is_empty());
    }

    #[test]
    fn every_library_scenario_converts_to_a_valid_configuration() {
        let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let mut paths: Vec<_> = std::fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        assert!(paths.len() >= 8);
        for path in paths {
            let scenario = Scenario::load(&path).unwrap();
            let config = scenario.sim_config();
            assert_eq!(config.validate(), Ok(()), "{}", path.display());
        }
    }
}
