//! Plain, typed simulation configuration. The scenario parser converts TOML
//! into these types; nothing here knows about files. [`SimConfig::validate`]
//! checks every value before a run starts, so the engine can assert instead
//! of handling bad configuration mid-run.

use celluler_core::node::CellIndex;
use celluler_core::rng::Probability;
use celluler_core::time::TimeNs;

use crate::links::NetworkAdversary;

/// A latency distribution. Every parameter is integer: nanoseconds, or a
/// dimensionless shape in thousandths, so a configuration means the same on
/// every machine. Draws are rounded to integer nanoseconds, never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyModel {
    Constant {
        latency_ns: TimeNs,
    },
    /// Uniform in `min_ns..=max_ns`.
    Uniform {
        min_ns: TimeNs,
        max_ns: TimeNs,
    },
    /// Normal, truncated at zero.
    Normal {
        mean_ns: TimeNs,
        std_dev_ns: TimeNs,
    },
    /// `median_ns * exp(sigma * Z)`, `sigma = sigma_milli / 1000`.
    LogNormal {
        median_ns: TimeNs,
        sigma_milli: u32,
    },
    /// Pareto type I: `scale_ns / U^(1/shape)`, `shape = shape_milli / 1000`.
    /// Heavy-tailed; the mean is finite only for shape > 1.
    Pareto {
        scale_ns: TimeNs,
        shape_milli: u32,
    },
}

/// How one directed link treats a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkModel {
    /// Drawn afresh for every message, so jitter reorders messages on its own.
    /// Replaced by the region matrix when one is configured.
    pub latency: LatencyModel,
    pub loss: Probability,
    pub duplicate: Probability,
    /// `None` = unlimited bandwidth (no serialization delay, no queue).
    pub bandwidth_bytes_per_s: Option<u64>,
    /// With a bandwidth: bytes a link may hold waiting to be serialized; a
    /// message that would exceed it is dropped. `None` = unbounded.
    pub queue_limit_bytes: Option<u64>,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency: LatencyModel::Constant {
                latency_ns: celluler_core::time::NS_PER_MS,
            },
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            bandwidth_bytes_per_s: None,
            queue_limit_bytes: None,
        }
    }
}

/// The shape of the neighbour graph (what `Broadcast` reaches and what
/// `Context::peers` lists). Graphs are undirected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopologySpec {
    FullMesh,
    /// Every cell has exactly `degree` neighbours, chosen at random.
    RandomRegular {
        degree: u32,
    },
    /// Watts–Strogatz: a ring where each cell links to `degree / 2` cells on
    /// each side (`degree` even), each edge rewired with probability `rewire`.
    SmallWorld {
        degree: u32,
        rewire: Probability,
    },
    /// Barabási–Albert: each new cell attaches to `edges_per_new_cell`
    /// existing cells chosen in proportion to their degree.
    ScaleFree {
        edges_per_new_cell: u32,
    },
    /// Undirected edges; duplicates are merged, self-loops rejected.
    EdgeList(Vec<(CellIndex, CellIndex)>),
}

/// Cells assigned to regions; latency between regions from a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionMatrix {
    /// `cell_regions[cell]` = the cell's region, `< regions`.
    pub cell_regions: Vec<u16>,
    pub regions: u16,
    /// Row-major `regions × regions`: `latency[from * regions + to]`.
    pub latency: Vec<LatencyModel>,
}

impl RegionMatrix {
    /// Cells dealt to regions in turn: cell `i` in region `i % regions`.
    pub fn round_robin(cells: u32, regions: u16, latency: Vec<LatencyModel>) -> RegionMatrix {
        RegionMatrix {
            cell_regions: (0..cells)
                .map(|cell| (cell % u32::from(regions.max(1))) as u16)
                .collect(),
            regions,
            latency,
        }
    }

    pub fn model(&self, from: CellIndex, to: CellIndex) -> &LatencyModel {
        let from_region = usize::from(self.cell_regions[from.as_usize()]);
        let to_region = usize::from(self.cell_regions[to.as_usize()]);
        &self.latency[from_region * usize::from(self.regions) + to_region]
    }
}

/// One change to the world at a point in true virtual time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Split the cells into groups; no message crosses between groups (those
    /// in flight across the cut are dropped on arrival). Cells listed in no
    /// group form one more group together. Replaces any earlier partition.
    Partition {
        groups: Vec<Vec<CellIndex>>,
    },
    /// End the partition.
    Heal,
    /// Cut the directed link `from → to` (cut both directions for symmetry).
    CutLink {
        from: CellIndex,
        to: CellIndex,
    },
    /// Add a draw from `extra` to every message on the directed link `from → to`.
    SlowLink {
        from: CellIndex,
        to: CellIndex,
        extra: LatencyModel,
    },
    /// Replace the network's loss probability on the directed link `from → to`.
    LossyLink {
        from: CellIndex,
        to: CellIndex,
        loss: Probability,
    },
    /// Undo `CutLink`, `SlowLink` and `LossyLink` on `from → to`.
    RestoreLink {
        from: CellIndex,
        to: CellIndex,
    },
    /// Volatile state is gone (`Node::crash`); timers and queued inputs too.
    Crash {
        cell: CellIndex,
    },
    /// `Node::recover` from the durable state, then `Input::Restart`.
    Restart {
        cell: CellIndex,
    },
    /// The cell handles nothing; its inputs wait until `Resume`.
    Pause {
        cell: CellIndex,
    },
    Resume {
        cell: CellIndex,
    },
    /// Jump the cell's local clock by `offset_ns` (clamped at zero).
    ClockSkew {
        cell: CellIndex,
        offset_ns: i64,
    },
    /// From now on the local clock runs at `1 + drift_ppm / 10^6` of true time.
    ClockDrift {
        cell: CellIndex,
        drift_ppm: i64,
    },
}

impl Fault {
    /// The cells a fault names, for validation.
    fn cells(&self) -> Vec<CellIndex> {
        match self {
            Fault::Partition { groups } => groups.iter().flatten().copied().collect(),
            Fault::Heal => Vec::new(),
            Fault::CutLink { from, to }
            | Fault::SlowLink { from, to, .. }
            | Fault::LossyLink { from, to, .. }
            | Fault::RestoreLink { from, to } => vec![*from, *to],
            Fault::Crash { cell }
            | Fault::Restart { cell }
            | Fault::Pause { cell }
            | Fault::Resume { cell }
            | Fault::ClockSkew { cell, .. }
            | Fault::ClockDrift { cell, .. } => vec![*cell],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledFault {
    pub at_ns: TimeNs,
    pub fault: Fault,
}

/// Everything a run needs besides the nodes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    pub seed: u64,
    pub cells: u32,
    pub topology: TopologySpec,
    pub link: LinkModel,
    pub regions: Option<RegionMatrix>,
    /// Applied in time order; equal times in list order.
    pub faults: Vec<ScheduledFault>,
    /// Scripted control of links by Byzantine actors (`eclipse`, `delay`):
    /// drops or delays what crosses them. Empty by default, which changes
    /// nothing in a run.
    pub adversary: NetworkAdversary,
}

/// Drift slower than this would stop or reverse a clock.
pub const DRIFT_PPM_MIN: i64 = -999_999;
pub const DRIFT_PPM_MAX: i64 = 1_000_000;
/// Cell indices are u32, and the engine keeps per-cell state densely.
pub const CELLS_MAX: u32 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("a simulation needs at least one cell and at most {CELLS_MAX}, got {0}")]
    CellCount(u32),
    #[error("latency model: {0}")]
    Latency(String),
    #[error("topology: {0}")]
    Topology(String),
    #[error("regions: {0}")]
    Regions(String),
    #[error("link: {0}")]
    Link(String),
    #[error("network adversary: {0}")]
    Adversary(String),
    #[error("fault {index} at {at_ns} ns: {reason}")]
    Fault {
        index: usize,
        at_ns: TimeNs,
        reason: String,
    },
}

impl LatencyModel {
    pub fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            LatencyModel::Uniform { min_ns, max_ns } if min_ns > max_ns => Err(
                ConfigError::Latency(format!("uniform min {min_ns} ns > max {max_ns} ns")),
            ),
            LatencyModel::Pareto { shape_milli: 0, .. } => {
                Err(ConfigError::Latency("pareto shape must be > 0".into()))
            }
            LatencyModel::Pareto { scale_ns: 0, .. } => {
                Err(ConfigError::Latency("pareto scale must be > 0 ns".into()))
            }
            _ => Ok(()),
        }
    }
}

impl SimConfig {
    /// A full mesh with the default link and no faults.
    pub fn new(seed: u64, cells: u32) -> SimConfig {
        SimConfig {
            seed,
            cells,
            topology: TopologySpec::FullMesh,
            link: LinkModel::default(),
            regions: None,
            faults: Vec::new(),
            adversary: NetworkAdversary::default(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.cells == 0 || self.cells > CELLS_MAX {
            return Err(ConfigError::CellCount(self.cells));
        }
        let in_range = |cell: CellIndex| cell.0 < self.cells;
        self.link.latency.validate()?;
        if self.link.bandwidth_bytes_per_s == Some(0) {
            return Err(ConfigError::Link("bandwidth must be > 0 bytes/s".into()));
        }
        if self.link.queue_limit_bytes.is_some() && self.link.bandwidth_bytes_per_s.is_none() {
            return Err(ConfigError::Link(
                "a queue limit needs a bandwidth (without one nothing queues)".into(),
            ));
        }
        match &self.topology {
            TopologySpec::FullMesh => {}
            TopologySpec::RandomRegular { degree } => {
                if *degree >= self.cells || (u64::from(*degree) * u64::from(self.cells)) % 2 == 1 {
                    return Err(ConfigError::Topology(format!(
                        "no {degree}-regular graph on {} cells (need degree < cells, degree × cells even)",
                        self.cells
                    )));
                }
            }
            TopologySpec::SmallWorld { degree, .. } => {
                if *degree % 2 == 1 || *degree >= self.cells {
                    return Err(ConfigError::Topology(format!(
                        "small-world degree {degree} must be even and < cells ({})",
                        self.cells
                    )));
                }
            }
            TopologySpec::ScaleFree { edges_per_new_cell } => {
                if *edges_per_new_cell == 0 || *edges_per_new_cell >= self.cells {
                    return Err(ConfigError::Topology(format!(
                        "scale-free edges per new cell {edges_per_new_cell} must be in 1..cells ({})",
                        self.cells
                    )));
                }
            }
            TopologySpec::EdgeList(edges) => {
                for &(a, b) in edges {
                    if !in_range(a) || !in_range(b) {
                        return Err(ConfigError::Topology(format!("edge {a}–{b} names no cell")));
                    }
                    if a == b {
                        return Err(ConfigError::Topology(format!("self-loop at {a}")));
                    }
                }
            }
        }
        if let Some(regions) = &self.regions {
            if regions.regions == 0 {
                return Err(ConfigError::Regions("at least one region".into()));
            }
            if regions.cell_regions.len() != self.cells as usize {
                return Err(ConfigError::Regions(format!(
                    "{} cell regions for {} cells",
                    regions.cell_regions.len(),
                    self.cells
                )));
            }
            if let Some(region) = regions.cell_regions.iter().find(|&&r| r >= regions.regions) {
                return Err(ConfigError::Regions(format!(
                    "region {region} ≥ region count {}",
                    regions.regions
                )));
            }
            let entries = usize::from(regions.regions) * usize::from(regions.regions);
            if regions.latency.len() != entries {
                return Err(ConfigError::Regions(format!(
                    "latency matrix has {} entries, needs {entries}",
                    regions.latency.len()
                )));
            }
            for model in &regions.latency {
                model.validate()?;
            }
        }
        for (index, scheduled) in self.faults.iter().enumerate() {
            let error = |reason: String| ConfigError::Fault {
                index,
                at_ns: scheduled.at_ns,
                reason,
            };
            if let Some(cell) = scheduled.fault.cells().into_iter().find(|&c| !in_range(c)) {
                return Err(error(format!("cell {cell} does not exist")));
            }
            match &scheduled.fault {
                Fault::Partition { groups } => {
                    let mut seen = vec![false; self.cells as usize];
                    for cell in groups.iter().flatten() {
                        if std::mem::replace(&mut seen[cell.as_usize()], true) {
                            return Err(error(format!("cell {cell} is in two groups")));
                        }
                    }
                }
                Fault::CutLink { from, to }
                | Fault::SlowLink { from, to, .. }
                | Fault::LossyLink { from, to, .. }
                | Fault::RestoreLink { from, to }
                    if from == to =>
                {
                    return Err(error(format!("link {from}→{to} is a self-loop")));
                }
                Fault::SlowLink { extra, .. } => extra.validate()?,
                Fault::ClockDrift { drift_ppm, .. }
                    if !(DRIFT_PPM_MIN..=DRIFT_PPM_MAX).contains(drift_ppm) =>
                {
                    return Err(error(format!(
                        "drift {drift_ppm} ppm outside {DRIFT_PPM_MIN}..={DRIFT_PPM_MAX}"
                    )));
                }
                _ => {}
            }
        }
        self.adversary
            .validate(self.cells)
            .map_err(ConfigError::Adversary)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_values() {
        let mut config = SimConfig::new(1, 0);
        assert!(matches!(config.validate(), Err(ConfigError::CellCount(0))));
        config.cells = 5;
        assert_eq!(config.validate(), Ok(()));
        config.topology = TopologySpec::RandomRegular { degree: 3 };
        assert!(matches!(config.validate(), Err(ConfigError::Topology(_))));
        config.topology = TopologySpec::EdgeList(vec![(CellIndex(0), CellIndex(9))]);
        assert!(matches!(config.validate(), Err(ConfigError::Topology(_))));
        config.topology = TopologySpec::FullMesh;
        config.link.latency = LatencyModel::Uniform {
            min_ns: 5,
            max_ns: 4,
        };
        assert!(matches!(config.validate(), Err(ConfigError::Latency(_))));
        config.link.latency = LatencyModel::Constant { latency_ns: 1 };
        config.faults.push(ScheduledFault {
            at_ns: 3,
            fault: Fault::Partition {
                groups: vec![vec![CellIndex(1)], vec![CellIndex(1)]],
            },
        });
        assert!(matches!(
            config.validate(),
            Err(ConfigError::Fault { index: 0, .. })
        ));
        config.faults[0].fault = Fault::ClockDrift {
            cell: CellIndex(0),
            drift_ppm: -1_000_000,
        };
        assert!(matches!(config.validate(), Err(ConfigError::Fault { .. })));
        config.faults[0].fault = Fault::Crash { cell: CellIndex(7) };
        assert!(matches!(config.validate(), Err(ConfigError::Fault { .. })));
        config.faults.clear();
        config.adversary.push(crate::links::LinkRule {
            name: "eclipse",
            from: crate::links::CellSet::all_but([4]),
            to: crate::links::CellSet::only([5]),
            from_ns: 0,
            until_ns: None,
            action: crate::links::LinkAction::Drop,
        });
        assert_eq!(
            config.validate(),
            Err(ConfigError::Adversary(
                "rule 0 (eclipse): cell 5 does not exist (5 cells)".into()
            ))
        );
    }
}
