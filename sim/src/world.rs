//! A world of Celluler cells over the simulator, built from plain data, and
//! the invariant checker that watches every run.
//!
//! [`CellWorld::new`] makes one key pair per cell (from the seed), one
//! shared hashgraph store for the world ([`SharedWorld`]: each event and its
//! consensus facts held once, each signature checked once), and one
//! [`Cell`] per simulated node. [`CellWorld::run_until`] advances the
//! simulation and feeds every new observation to the [`InvariantChecker`]:
//! - every honest cell's consensus order is a prefix of every other's: at an
//!   equal count of ordered events, equal `order_digest`;
//! - honest cells agree on the state hash of each round both decided;
//! - PRANA is conserved (the ledger asserts it after every round;
//!   [`CellWorld::check_ledgers`] checks the totals of the live cells too).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use celluler_core::cell::{
    Cell, CellCommand, CellConfig, CellObservation, SharedWorld, WorldHandle,
};
use celluler_core::hashgraph::replay::{self, DagEvent, DagFile, RecordedFacts};
use celluler_core::hashgraph::{self, EventHash};
use celluler_core::identity::{CellKeys, hex};
use celluler_core::ledger::LedgerConfig;
use celluler_core::node::CellIndex;
use celluler_core::time::{NS_PER_MS, TimeNs};
use celluler_core::trust::{AccessPolicy, TrustConfig};

use crate::{ConfigError, Observed, SimConfig, Simulation, TraceMode};

/// Everything a world of cells needs, as plain data (what `celluler run`
/// builds from a scenario file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldConfig {
    /// Seeds keys, gossip choices and (through `sim.seed`) the network.
    pub seed: u64,
    pub cells: u32,
    /// Time between two syncs a cell starts.
    pub gossip_interval_ns: TimeNs,
    /// The hashgraph's coin round frequency (at least 2).
    pub coin_round_frequency: u32,
    /// Every cell's genesis PRANA balance.
    pub genesis_balance: u64,
    /// Every cell's hashgraph stake (equal stake).
    pub stake: u64,
    /// Least fee a TX must pay.
    pub fee_min: u64,
    /// Network, topology and faults. `sim.cells` must equal `cells`.
    pub sim: SimConfig,
    /// Cells that keep a [`celluler_core::cell::ConsensusRecording`] of
    /// what they decide (to export their view of the hashgraph).
    pub record_consensus: Vec<u32>,
}

/// The default gossip interval: 100 ms. Over a WAN with tens of
/// milliseconds of one-way latency a push-pull sync takes about as long, so
/// a cell syncs about as often as a deployed hashgraph member that syncs
/// back to back; at 200 ms finality in a 100-cell world doubled to ~9 s.
pub const DEFAULT_GOSSIP_INTERVAL_NS: TimeNs = 100 * NS_PER_MS;

impl WorldConfig {
    /// `cells` honest cells on a full mesh with the default link and the
    /// default gossip interval.
    pub fn new(seed: u64, cells: u32) -> WorldConfig {
        WorldConfig {
            seed,
            cells,
            gossip_interval_ns: DEFAULT_GOSSIP_INTERVAL_NS,
            coin_round_frequency: 10,
            genesis_balance: 1_000_000,
            stake: 1,
            fee_min: 1,
            sim: SimConfig::new(seed, cells),
            record_consensus: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("world config: {0}")]
    Config(String),
    #[error(transparent)]
    Sim(#[from] ConfigError),
    #[error("hashgraph config: {0}")]
    Hashgraph(#[from] hashgraph::ConfigError),
}

/// Folds observations into the run's invariant verdict.
#[derive(Debug, Default)]
pub struct InvariantChecker {
    /// First (cell, digest) seen at each count of ordered events.
    order_digests: BTreeMap<u64, (CellIndex, [u8; 32])>,
    /// First (cell, ordered events, state hash) seen for each round.
    state_hashes: BTreeMap<u32, (CellIndex, u64, [u8; 32])>,
    dishonest: Vec<bool>,
    violations: Vec<String>,
    /// Rounds decided, summed over cells.
    pub rounds_checked: u64,
}

/// Most violations kept (the first ones explain a run).
const VIOLATIONS_MAX: usize = 100;

impl InvariantChecker {
    pub fn new(cells: u32) -> Self {
        InvariantChecker {
            dishonest: vec![false; cells as usize],
            ..InvariantChecker::default()
        }
    }

    /// Exclude a cell from the honest-agreement checks.
    pub fn mark_dishonest(&mut self, cell: CellIndex) {
        if let Some(flag) = self.dishonest.get_mut(cell.as_usize()) {
            *flag = true;
        }
    }

    fn violation(&mut self, text: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push(text);
        }
    }

    pub fn observe(&mut self, observed: &Observed<CellObservation>) {
        let cell = observed.cell;
        if self.dishonest.get(cell.as_usize()).copied().unwrap_or(true) {
            return;
        }
        if let CellObservation::RoundDecided {
            round,
            ordered_events,
            order_digest,
            state_hash,
            ..
        } = observed.observation
        {
            self.rounds_checked += 1;
            match self.order_digests.get(&ordered_events) {
                Some(&(first, digest)) if digest != order_digest => self.violation(format!(
                    "order diverges: cells {first} and {cell} differ after {ordered_events} ordered events"
                )),
                Some(_) => {}
                None => {
                    self.order_digests
                        .insert(ordered_events, (cell, order_digest));
                }
            }
            match self.state_hashes.get(&round) {
                Some(&(first, events, hash)) if hash != state_hash || events != ordered_events => {
                    self.violation(format!(
                        "state diverges: cells {first} and {cell} differ at round {round}"
                    ))
                }
                Some(_) => {}
                None => {
                    self.state_hashes
                        .insert(round, (cell, ordered_events, state_hash));
                }
            }
        }
    }

    /// The verdict so far: empty when every invariant held.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The agreed state hash of `round`, if some honest cell decided it.
    pub fn state_hash(&self, round: u32) -> Option<[u8; 32]> {
        self.state_hashes.get(&round).map(|&(_, _, hash)| hash)
    }

    /// The highest round some honest cell decided.
    pub fn last_round(&self) -> Option<u32> {
        self.state_hashes.keys().next_back().copied()
    }
}

/// N cells over a `Simulation<Cell>`, with the invariant checker.
pub struct CellWorld {
    pub config: WorldConfig,
    simulation: Simulation<Cell>,
    world: WorldHandle,
    checker: InvariantChecker,
    /// Observations already given to the checker.
    checked: usize,
}

impl CellWorld {
    pub fn new(config: WorldConfig) -> Result<CellWorld, WorldError> {
        Self::with_trace(config, TraceMode::HashOnly)
    }

    pub fn with_trace(config: WorldConfig, trace: TraceMode) -> Result<CellWorld, WorldError> {
        if config.sim.cells != config.cells {
            return Err(WorldError::Config(format!(
                "sim.cells is {} but cells is {}",
                config.sim.cells, config.cells
            )));
        }
        if config.gossip_interval_ns == 0 {
            return Err(WorldError::Config("gossip interval must be > 0".into()));
        }
        if config.stake == 0 {
            return Err(WorldError::Config("stake must be > 0".into()));
        }
        let keys: Vec<Arc<CellKeys>> = (0..config.cells)
            .map(|index| Arc::new(CellKeys::for_simulated_cell(config.seed, index)))
            .collect();
        let members = keys
            .iter()
            .map(|keys| (*keys.public(), config.stake))
            .collect();
        let world = SharedWorld::new(
            members,
            hashgraph::Config {
                coin_round_frequency: config.coin_round_frequency,
            },
        )?
        .handle();
        let cell_config = |index: CellIndex| CellConfig {
            seed: config.seed,
            index,
            gossip_interval_ns: config.gossip_interval_ns,
            genesis_balance: config.genesis_balance,
            ledger: LedgerConfig {
                fee_min: config.fee_min,
            },
            trust: TrustConfig::default(),
            access: AccessPolicy::default(),
            record_consensus: config.record_consensus.contains(&index.0),
        };
        let simulation = Simulation::new(config.sim.clone(), trace, |index| {
            Cell::new(
                cell_config(index),
                keys[index.as_usize()].clone(),
                world.clone(),
            )
        })?;
        Ok(CellWorld {
            checker: InvariantChecker::new(config.cells),
            config,
            simulation,
            world,
            checked: 0,
        })
    }

    /// Run until `end_ns` of true virtual time, checking invariants over
    /// everything observed. Returns the inputs handled.
    pub fn run_until(&mut self, end_ns: TimeNs) -> u64 {
        let handled = self.simulation.run_until(end_ns);
        let observations = self.simulation.observations();
        for observed in &observations[self.checked..] {
            self.checker.observe(observed);
        }
        self.checked = observations.len();
        handled
    }

    /// Hand over the observations so far (already checked); keeps memory
    /// flat in long runs.
    pub fn take_observations(&mut self) -> Vec<Observed<CellObservation>> {
        self.checked = 0;
        self.simulation.take_observations()
    }

    pub fn schedule_command(&mut self, at_ns: TimeNs, cell: CellIndex, command: CellCommand) {
        self.simulation.schedule_command(at_ns, cell, command);
    }

    pub fn simulation(&self) -> &Simulation<Cell> {
        &self.simulation
    }

    pub fn simulation_mut(&mut self) -> &mut Simulation<Cell> {
        &mut self.simulation
    }

    pub fn shared(&self) -> &WorldHandle {
        &self.world
    }

    pub fn checker(&self) -> &InvariantChecker {
        &self.checker
    }

    pub fn checker_mut(&mut self) -> &mut InvariantChecker {
        &mut self.checker
    }

    /// The live cell `index` (None while crashed).
    pub fn cell(&self, index: CellIndex) -> Option<&Cell> {
        self.simulation.node(index)
    }

    /// PRANA totals of every live cell's ledger: balances + fee pool +
    /// burned equal the genesis total. Returns the violations.
    pub fn check_ledgers(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for index in 0..self.config.cells {
            let Some(cell) = self.cell(CellIndex(index)) else {
                continue;
            };
            let ledger = cell.ledger();
            let total: u128 = ledger
                .balances()
                .map(|(_, balance)| u128::from(balance))
                .sum::<u128>()
                + u128::from(ledger.fee_pool())
                + u128::from(ledger.burned());
            if total != u128::from(ledger.genesis_total()) {
                violations.push(format!(
                    "cell #{index}: PRANA total {total} != genesis {}",
                    ledger.genesis_total()
                ));
            }
        }
        violations
    }

    /// Cell `index`'s view of the hashgraph as a `celluler-dag/1` file
    /// (docs/dag-format.md): every event it learned, in the order it learned
    /// them (parents first), with the real keys, signatures, timestamps and
    /// transactions, and the facts the cell decided about each, which
    /// `celluler dag` checks against its own replay. `None` unless the cell
    /// is live and was configured to record (`WorldConfig::record_consensus`).
    pub fn export_dag(&self, index: CellIndex) -> Option<DagFile> {
        let cell = self.cell(index)?;
        let recording = cell.consensus_recording()?;
        let members: Vec<String> = (0..self.config.cells)
            .map(|member| format!("cell-{member}"))
            .collect();
        let public_keys = self
            .world
            .borrow()
            .members
            .iter()
            .map(|member| hex(member.public_key.as_bytes()))
            .collect();
        // Ids name the creator and sequence number; a fork's second event
        // at a sequence number gets its hash appended.
        let mut ids: BTreeMap<EventHash, (String, u32)> = BTreeMap::new();
        let mut taken: BTreeSet<String> = BTreeSet::new();
        let mut events = Vec::with_capacity(recording.events.len());
        for recorded in &recording.events {
            let event = &recorded.event;
            let parent_id = |parent: Option<EventHash>| {
                parent.and_then(|hash| ids.get(&hash).map(|(id, _)| id.clone()))
            };
            let self_parent = parent_id(event.self_parent());
            let other_parent = parent_id(event.other_parent());
            let seq = event
                .self_parent()
                .and_then(|hash| ids.get(&hash))
                .map_or(0, |(_, seq)| seq + 1);
            let creator = &members[event.creator() as usize];
            let mut id = format!("{creator}.{seq}");
            if taken.contains(&id) {
                id = format!("{id}-{}", hex(&recorded.hash.0));
            }
            taken.insert(id.clone());
            ids.insert(recorded.hash, (id.clone(), seq));
            let ordered = recording.ordered.get(&recorded.hash);
            events.push(DagEvent {
                id,
                creator: creator.clone(),
                self_parent,
                other_parent,
                timestamp: event.timestamp_ns(),
                transactions: Vec::new(),
                transactions_hex: event.transactions().iter().map(|tx| hex(tx)).collect(),
                signature: Some(hex(&event.signature().to_bytes())),
                recorded: Some(RecordedFacts {
                    round: recorded.round,
                    witness: recorded.witness,
                    famous: recording.fame.get(&recorded.hash).copied(),
                    round_received: ordered.map(|facts| facts.round_received),
                    consensus_timestamp: ordered.map(|facts| facts.consensus_timestamp_ns),
                    position: ordered.map(|facts| facts.position),
                }),
            });
        }
        Some(DagFile {
            format: replay::FORMAT.to_string(),
            members,
            public_keys: Some(public_keys),
            stake: Some(vec![self.config.stake; self.config.cells as usize]),
            coin_round_frequency: Some(self.config.coin_round_frequency),
            events,
        })
    }

    /// Every invariant violation: the checker's and the ledgers'.
    pub fn verdict(&self) -> Vec<String> {
        let mut all = self.checker.violations().to_vec();
        all.extend(self.check_ledgers());
        all
    }
}
