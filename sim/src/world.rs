//! A world of Celluler cells over the simulator, built from plain data, and
//! the invariant checker that watches every run.
//!
//! [`CellWorld::new`] makes one key pair per cell (from the seed), one
//! environment for the world ([`SimEnvironment`]: the shared arena, each
//! event and its ancestry facts held once, each signature checked once),
//! and one [`Cell`] per simulated node. [`CellWorld::run_until`] advances the
//! simulation and feeds every new observation to the [`InvariantChecker`],
//! which compares honest cells' consensus orders position by position and
//! their state hash per round, and names the first [`Divergence`]. (PRANA
//! conservation needs no checker here: the ledger asserts it after every
//! round.)

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::Arc;

use celluler_core::cell::api::CellNode;
use celluler_core::cell::{
    AdversaryAction, Cell, CellCommand, CellConfig, CellObservation, Directory, MemberInfo,
};
use celluler_core::hashgraph::replay::{self, DagEvent, DagFile, RecordedFacts};
use celluler_core::hashgraph::{self, EventHash};
use celluler_core::identity::{CellKeys, hex};
use celluler_core::ledger::LedgerConfig;
use celluler_core::market::{GenesisAccount, MarketConfig};

use crate::market::AgentPool;
use celluler_core::node::CellIndex;
use celluler_core::time::{NS_PER_MS, TimeNs};
use celluler_core::trust::{AccessPolicy, TrustConfig};

use crate::arena::{SimEnvironment, StoreMode};
use crate::clients::ClientPool;
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
    /// Cells that break consensus-timestamp ties by descending event hash:
    /// a planted protocol mutation, to show the safety checkers fire.
    pub mutated_tie_break: Vec<u32>,
    /// Where every cell's consensus keeps its events and decisions: views
    /// over one shared arena (fast), or an engine per cell (the proof that
    /// the arena decides nothing for anyone: the same run, bit for bit).
    pub store: StoreMode,
    /// Accounts of workload clients (not consensus members) at genesis,
    /// each with `genesis_balance`.
    pub client_accounts: Vec<celluler_core::identity::CellId>,
    /// Every cell's reputation-based access control (open by default).
    pub access: AccessPolicy,
    /// Every cell's gossip policy: sync mode, peer selection, events per
    /// sync, transactions and bytes per event (the protocol as it always
    /// ran by default).
    pub gossip: celluler_core::cell::GossipPolicy,
    /// The exchange's tokens and the lease markets' clock (no tokens, the
    /// default intervals: markets exist but nobody trades).
    pub market: MarketConfig,
    /// Cells whose genesis allocation differs from `genesis_balance`
    /// (a scenario's `[[markets.genesis]]`), ascending by cell.
    pub genesis: Vec<CellGenesis>,
    /// Each cell's consensus stake, when not all equal to `stake` (a
    /// scenario's `[consensus] stake = "prana"`).
    pub stakes: Option<Vec<u64>>,
}

/// One cell's genesis allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellGenesis {
    pub cell: u32,
    pub prana: u64,
    /// Per exchange token (empty: none).
    pub tokens: Vec<u64>,
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
            mutated_tie_break: Vec::new(),
            store: StoreMode::Shared,
            client_accounts: Vec::new(),
            access: AccessPolicy::default(),
            gossip: celluler_core::cell::GossipPolicy::DEFAULT,
            market: MarketConfig::default(),
            genesis: Vec::new(),
            stakes: None,
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

/// What two honest cells disagree on (see [`Divergence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivergenceKind {
    /// They put different events at `position` of the total order.
    Order,
    /// Their reports of `round` cover different positions: the first cell's
    /// round holds `counts.0` events, the other's `counts.1`; `position` is
    /// the lowest position one of them puts in the round and the other not.
    EventCount { counts: (u64, u64) },
    /// They ordered the same events in `round` (at the same positions) but
    /// reached different state hashes after it (`hashes.0` the first cell's).
    StateHash { hashes: ([u8; 32], [u8; 32]) },
}

impl DivergenceKind {
    /// A stable label: `order`, `event_count` or `state_hash`.
    pub fn label(&self) -> &'static str {
        match self {
            DivergenceKind::Order => "order",
            DivergenceKind::EventCount { .. } => "event_count",
            DivergenceKind::StateHash { .. } => "state_hash",
        }
    }
}

/// Two honest cells' reports that cannot both be right, located in the total
/// order. `cells.0` first reported the position (for an order divergence) or
/// the round (otherwise); `cells.1` disagreed with it at `time_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divergence {
    pub kind: DivergenceKind,
    /// The round the disagreeing cell (`cells.1`) was reporting.
    pub round: u32,
    /// Position in the total order, from 0. For a state-hash divergence, the
    /// round's first position.
    pub position: u64,
    pub cells: (CellIndex, CellIndex),
    /// What each cell put at `position`: for an order divergence, the two
    /// different events; for an event-count divergence, what each cell's
    /// report of `round` holds there (`None`: the position is outside its
    /// round); for a state-hash divergence, `None` (the orders agree).
    pub events: (Option<EventHash>, Option<EventHash>),
    /// When the disagreeing report was observed (true virtual time).
    pub time_ns: TimeNs,
}

fn event_text(event: Option<EventHash>) -> String {
    event.map_or_else(|| "nothing".to_string(), |hash| hex(&hash.0))
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (round, position) = (self.round, self.position);
        let (a, b) = (self.cells.0.0, self.cells.1.0);
        let (first, other) = (event_text(self.events.0), event_text(self.events.1));
        match self.kind {
            DivergenceKind::Order => write!(
                f,
                "order diverges at round {round}, position {position}: \
                 cell {a} ordered {first} but cell {b} ordered {other}"
            ),
            DivergenceKind::EventCount { counts } => write!(
                f,
                "number of events diverges at round {round}, position {position}: \
                 cell {a} ordered {} events in the round ({first} at that position) \
                 but cell {b} ordered {} ({other} at that position)",
                counts.0, counts.1
            ),
            DivergenceKind::StateHash { hashes } => write!(
                f,
                "state hash diverges at round {round}, position {position}: \
                 cells {a} and {b} ordered the same events but cell {a} reached state {} \
                 and cell {b} reached state {}",
                hex(&hashes.0),
                hex(&hashes.1)
            ),
        }
    }
}

/// The first honest report of a round.
#[derive(Debug, Clone, Copy)]
struct RoundReport {
    cell: CellIndex,
    /// Its positions, `start..end`.
    start: u64,
    end: u64,
    order_digest: [u8; 32],
    state_hash: [u8; 32],
}

/// Folds honest cells' `RoundDecided` observations into the run's safety
/// verdict, and names the first divergence.
///
/// It keeps one canonical total order — at each position, the event the
/// first honest cell to report that position put there, and who that was —
/// and the first honest report of each round (its positions, order digest
/// and state hash). Each later report is compared with them position by
/// position (O(events in the report)); memory is O(ordered events + rounds).
/// A report can show:
/// - an order divergence: a different event at some position (only the
///   report's lowest such position is recorded: after a shift every later
///   position differs);
/// - an event-count divergence: its round covers other positions than the
///   round's first report;
/// - a state-hash divergence: the same positions, no differing event, a
///   different state hash; it counts as at the round's first position. Not
///   looked for when either cell already diverged in order or count (its
///   state is then expected to differ, from a lower position on).
///
/// Cross-checks, recorded as text only: a report whose event list does not
/// fit its count, one that starts beyond every position reported so far
/// (observations are missing), and equal positions and events but a
/// different `order_digest` between cells that never diverged (a cell's
/// `events` disagree with its digest).
///
/// Disagreement is recorded, never asserted. Observations of dishonest
/// cells are ignored.
#[derive(Debug, Default)]
pub struct InvariantChecker {
    /// The canonical order, by position.
    order: Vec<EventHash>,
    /// Who first reported each position, run-length encoded: (first
    /// position of the run, cell), ascending by position.
    reporters: Vec<(u64, CellIndex)>,
    /// The first honest report of each round.
    rounds: BTreeMap<u32, RoundReport>,
    /// Cells with a recorded divergence (their digests are expected to differ).
    diverged: Vec<bool>,
    dishonest: Vec<bool>,
    /// The divergence at the lowest position (earliest observed among equals).
    first: Option<Divergence>,
    /// Where `first` is in `violations`, if it was kept there.
    first_index: Option<usize>,
    /// Every violation in the order found (time observed, text), bounded.
    violations: Vec<(TimeNs, String)>,
    /// Rounds decided, summed over cells.
    pub rounds_checked: u64,
    /// Some honest cells ordered differently (an order or event-count
    /// divergence).
    agreement_violated: bool,
    /// Honest cells reached different states, or one finalized a double
    /// spend.
    state_violated: bool,
    /// Each TX of a Byzantine double-spend attempt, with its attempt's
    /// number (lookup only).
    double_spend_txs: BTreeMap<[u8; 32], usize>,
    /// Per (honest cell, attempt): how many of its TXs the cell applied.
    double_spend_applied: BTreeMap<(CellIndex, usize), u32>,
    /// Broken ledger invariants honest cells reported.
    pub ledger_violations: u64,
}

/// Most violations kept besides the first divergence (the first ones explain
/// a run).
const VIOLATIONS_MAX: usize = 100;

impl InvariantChecker {
    pub fn new(cells: u32) -> Self {
        InvariantChecker {
            dishonest: vec![false; cells as usize],
            diverged: vec![false; cells as usize],
            ..InvariantChecker::default()
        }
    }

    /// Exclude a cell from the honest-agreement checks.
    pub fn mark_dishonest(&mut self, cell: CellIndex) {
        if let Some(flag) = self.dishonest.get_mut(cell.as_usize()) {
            *flag = true;
        }
    }

    fn violation(&mut self, time_ns: TimeNs, text: String) {
        if self.violations.len() < VIOLATIONS_MAX {
            self.violations.push((time_ns, text));
        }
    }

    fn diverged(&self, cell: CellIndex) -> bool {
        self.diverged.get(cell.as_usize()).copied().unwrap_or(false)
    }

    fn divergence(&mut self, divergence: Divergence) {
        match divergence.kind {
            DivergenceKind::StateHash { .. } => self.state_violated = true,
            DivergenceKind::Order | DivergenceKind::EventCount { .. } => {
                self.agreement_violated = true;
            }
        }
        for cell in [divergence.cells.0, divergence.cells.1] {
            if let Some(flag) = self.diverged.get_mut(cell.as_usize()) {
                *flag = true;
            }
        }
        let kept = self.violations.len() < VIOLATIONS_MAX;
        if kept {
            self.violations
                .push((divergence.time_ns, divergence.to_string()));
        }
        if self
            .first
            .is_none_or(|first| divergence.position < first.position)
        {
            self.first = Some(divergence);
            self.first_index = kept.then(|| self.violations.len() - 1);
        }
    }

    /// The cell that first reported `position` (which is in the canonical order).
    fn reporter(&self, position: u64) -> CellIndex {
        let run = self
            .reporters
            .partition_point(|&(start, _)| start <= position);
        self.reporters[run - 1].1
    }

    /// Whether some honest cells ordered differently.
    pub fn agreement_violated(&self) -> bool {
        self.agreement_violated
    }

    /// Whether honest cells reached different states or one finalized a
    /// double spend.
    pub fn state_violated(&self) -> bool {
        self.state_violated
    }

    pub fn observe(&mut self, observed: &Observed<CellObservation>) {
        let (time_ns, cell) = (observed.time_ns, observed.cell);
        if let CellObservation::LedgerViolation {
            round,
            invariant,
            detail,
        } = &observed.observation
            && !self.dishonest.get(cell.as_usize()).copied().unwrap_or(true)
        {
            // An honest cell's own ledger broke an invariant after a round
            // every honest cell applied: the state is wrong, wherever.
            self.state_violated = true;
            self.ledger_violations += 1;
            self.violation(
                time_ns,
                format!("cell {cell} round {round}: ledger invariant {invariant} broken: {detail}"),
            );
            return;
        }
        if let CellObservation::Adversary {
            action: AdversaryAction::DoubleSpend { txs },
            ..
        } = &observed.observation
        {
            let attempt = self.double_spend_txs.len();
            for tx in txs {
                self.double_spend_txs.insert(*tx, attempt);
            }
        }
        if self.dishonest.get(cell.as_usize()).copied().unwrap_or(true) {
            return;
        }
        if let CellObservation::TxOrdered {
            tx, applied: true, ..
        } = observed.observation
            && let Some(&attempt) = self.double_spend_txs.get(&tx)
        {
            let applied = self
                .double_spend_applied
                .entry((cell, attempt))
                .or_insert(0);
            *applied += 1;
            if *applied == 2 {
                self.state_violated = true;
                self.violation(
                    time_ns,
                    format!(
                        "double spend finalized: cell {} applied two conflicting spends of \
                         one attempt (the second: TX {})",
                        cell.0,
                        hex(&tx)
                    ),
                );
            }
            return;
        }
        if let CellObservation::ReplayDiverged { round, journal } = observed.observation {
            self.violation(
                time_ns,
                format!(
                    "cell {cell} re-decided round {round} after a restart otherwise than its \
                     {journal} journal holds"
                ),
            );
            return;
        }
        let CellObservation::RoundDecided {
            round,
            ordered_events,
            order_digest,
            state_hash,
            ref events,
            ..
        } = observed.observation
        else {
            return;
        };
        self.rounds_checked += 1;
        let Some(start) = ordered_events.checked_sub(events.len() as u64) else {
            self.violation(
                time_ns,
                format!(
                    "cell {} reports {} events in round {round} but {ordered_events} \
                     ordered events in all",
                    cell.0,
                    events.len()
                ),
            );
            return;
        };
        let end = ordered_events;
        let order_diverged = self.compare_order(time_ns, cell, round, start, events);

        let Some(&first) = self.rounds.get(&round) else {
            self.rounds.insert(
                round,
                RoundReport {
                    cell,
                    start,
                    end,
                    order_digest,
                    state_hash,
                },
            );
            return;
        };
        if (first.start, first.end) != (start, end) {
            let position = if first.start != start {
                first.start.min(start)
            } else {
                first.end.min(end)
            };
            let theirs = (first.start..first.end)
                .contains(&position)
                .then(|| self.order.get(position as usize).copied())
                .flatten();
            let ours = (start..end)
                .contains(&position)
                .then(|| events[(position - start) as usize]);
            self.divergence(Divergence {
                kind: DivergenceKind::EventCount {
                    counts: (first.end - first.start, end - start),
                },
                round,
                position,
                cells: (first.cell, cell),
                events: (theirs, ours),
                time_ns,
            });
        } else if !order_diverged && !self.diverged(first.cell) && !self.diverged(cell) {
            if first.state_hash != state_hash {
                self.divergence(Divergence {
                    kind: DivergenceKind::StateHash {
                        hashes: (first.state_hash, state_hash),
                    },
                    round,
                    position: start,
                    cells: (first.cell, cell),
                    events: (None, None),
                    time_ns,
                });
            } else if first.order_digest != order_digest {
                self.violation(
                    time_ns,
                    format!(
                        "order digests of cells {} and {} differ after {ordered_events} \
                         ordered events (round {round}) although every position they \
                         reported agrees: a cell's reported events do not match its digest",
                        first.cell.0, cell.0
                    ),
                );
            }
        }
    }

    /// Compares `events`, at positions from `start`, with the canonical
    /// order, records the lowest differing position, and appends what is
    /// new. Returns whether a position differed.
    fn compare_order(
        &mut self,
        time_ns: TimeNs,
        cell: CellIndex,
        round: u32,
        start: u64,
        events: &[EventHash],
    ) -> bool {
        let known = self.order.len() as u64;
        if start > known {
            self.violation(
                time_ns,
                format!(
                    "cell {} reports round {round} at positions {start}..{} but no honest \
                     cell reported positions {known}..{start}: observations are missing",
                    cell.0,
                    start + events.len() as u64
                ),
            );
            return false;
        }
        let overlap = (known - start).min(events.len() as u64) as usize;
        let canonical = &self.order[start as usize..start as usize + overlap];
        let differs = canonical
            .iter()
            .zip(&events[..overlap])
            .position(|(known, reported)| known != reported);
        if let Some(offset) = differs {
            let position = start + offset as u64;
            self.divergence(Divergence {
                kind: DivergenceKind::Order,
                round,
                position,
                cells: (self.reporter(position), cell),
                events: (Some(self.order[position as usize]), Some(events[offset])),
                time_ns,
            });
        }
        if overlap < events.len() {
            if self.reporters.last().map(|&(_, reporter)| reporter) != Some(cell) {
                self.reporters.push((known, cell));
            }
            self.order.extend_from_slice(&events[overlap..]);
        }
        differs.is_some()
    }

    /// The divergence at the lowest position seen (the earliest observed
    /// among those at that position), if any.
    pub fn first_divergence(&self) -> Option<&Divergence> {
        self.first.as_ref()
    }

    /// Every violation with the virtual time it was observed at, the first
    /// divergence first, then the others in the order found. Empty when
    /// every invariant held.
    pub fn timed_violations(&self) -> Vec<(TimeNs, String)> {
        let mut all = Vec::with_capacity(self.violations.len() + 1);
        if let Some(first) = &self.first {
            all.push((first.time_ns, first.to_string()));
        }
        all.extend(
            self.violations
                .iter()
                .enumerate()
                .filter(|&(index, _)| Some(index) != self.first_index)
                .map(|(_, violation)| violation.clone()),
        );
        all
    }

    /// The verdict so far as text: empty when every invariant held.
    pub fn violations(&self) -> Vec<String> {
        self.timed_violations()
            .into_iter()
            .map(|(_, text)| text)
            .collect()
    }

    /// Positions of the canonical total order known so far.
    pub fn ordered_events(&self) -> u64 {
        self.order.len() as u64
    }

    /// The state hash of `round` as its first honest reporter gave it.
    pub fn state_hash(&self, round: u32) -> Option<[u8; 32]> {
        self.rounds.get(&round).map(|report| report.state_hash)
    }

    /// The highest round some honest cell decided.
    pub fn last_round(&self) -> Option<u32> {
        self.rounds.keys().next_back().copied()
    }
}

/// N cells over a `Simulation`, with the invariant checker. Each node is a
/// [`Cell`] or a wrapper around one ([`CellNode`]: a Byzantine behaviour
/// sees and rewrites the cell's inputs and outputs, never its code).
pub struct CellWorld<N: CellNode = Cell> {
    pub config: WorldConfig,
    simulation: Simulation<N>,
    environment: Rc<SimEnvironment>,
    checker: InvariantChecker,
    /// Observations already given to the checker.
    checked: usize,
    /// Workload clients, which act at exact times within `run_until`.
    clients: Option<ClientPool>,
    /// Market agents, which act at exact times within `run_until`.
    agents: Option<AgentPool>,
}

impl CellWorld<Cell> {
    pub fn new(config: WorldConfig) -> Result<CellWorld, WorldError> {
        Self::with_trace(config, TraceMode::HashOnly)
    }

    pub fn with_trace(config: WorldConfig, trace: TraceMode) -> Result<CellWorld, WorldError> {
        CellWorld::with_nodes(config, trace, |_, cell| cell)
    }
}

impl<N: CellNode> CellWorld<N> {
    /// A world whose node `i` is `wrap(i, cell i)`.
    pub fn with_nodes(
        config: WorldConfig,
        trace: TraceMode,
        mut wrap: impl FnMut(CellIndex, Cell) -> N,
    ) -> Result<CellWorld<N>, WorldError> {
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
        if let Some(stakes) = &config.stakes
            && (stakes.len() != config.cells as usize || stakes.contains(&0))
        {
            return Err(WorldError::Config(
                "per-cell stakes must name every cell, each above 0".into(),
            ));
        }
        let keys: Vec<Arc<CellKeys>> = (0..config.cells)
            .map(|index| Arc::new(CellKeys::for_simulated_cell(config.seed, index)))
            .collect();
        let directory: Arc<Directory> = Arc::new(
            keys.iter()
                .enumerate()
                .map(|(index, keys)| {
                    let stake = config.stakes.as_ref().map_or(config.stake, |s| s[index]);
                    MemberInfo::new(*keys.public(), stake)
                })
                .collect(),
        );
        let genesis: Arc<[GenesisAccount]> = config
            .genesis
            .iter()
            .filter_map(|entry| {
                Some(GenesisAccount {
                    cell: keys.get(entry.cell as usize)?.cell_id(),
                    prana: entry.prana,
                    tokens: entry.tokens.clone(),
                })
            })
            .collect();
        let consensus = hashgraph::Config {
            coin_round_frequency: config.coin_round_frequency,
        };
        let environment = Rc::new(SimEnvironment::new(&directory, consensus, config.store)?);
        let accounts: Arc<[(celluler_core::identity::CellId, u64)]> = config
            .client_accounts
            .iter()
            .map(|&account| (account, config.genesis_balance))
            .collect();
        let cell_config = |index: CellIndex| CellConfig {
            accounts: accounts.clone(),
            seed: config.seed,
            index,
            members: directory.clone(),
            consensus,
            gossip_interval_ns: config.gossip_interval_ns,
            genesis_balance: config.genesis_balance,
            genesis: genesis.clone(),
            ledger: LedgerConfig {
                fee_min: config.fee_min,
                market: config.market.clone(),
            },
            trust: TrustConfig::default(),
            access: config.access.clone(),
            record_consensus: config.record_consensus.contains(&index.0),
            tie_break: if config.mutated_tie_break.contains(&index.0) {
                hashgraph::TieBreak::DescendingHash
            } else {
                hashgraph::TieBreak::WhitenedSignature
            },
            gossip: config.gossip,
        };
        let simulation = Simulation::new(config.sim.clone(), trace, |index| {
            let cell = Cell::new(
                cell_config(index),
                keys[index.as_usize()].clone(),
                environment.clone(),
            );
            wrap(index, cell)
        })?;
        Ok(CellWorld {
            checker: InvariantChecker::new(config.cells),
            config,
            simulation,
            environment,
            checked: 0,
            clients: None,
            agents: None,
        })
    }

    /// Workload clients that submit through entry cells (their accounts
    /// must be in `WorldConfig::client_accounts`).
    pub fn set_clients(&mut self, clients: ClientPool) {
        self.clients = Some(clients);
    }

    /// Market agents that trade through their home cells.
    pub fn set_agents(&mut self, agents: AgentPool) {
        self.agents = Some(agents);
    }

    pub fn agents(&self) -> Option<&AgentPool> {
        self.agents.as_ref()
    }

    /// Run until `end_ns` of true virtual time, checking invariants over
    /// everything observed. Clients and agents act at their exact times on
    /// the way (clients first at equal times). Returns the inputs handled.
    pub fn run_until(&mut self, end_ns: TimeNs) -> u64 {
        let mut handled = 0;
        loop {
            let clients = self.clients.as_ref().and_then(ClientPool::next_wakeup);
            let agents = self.agents.as_ref().and_then(AgentPool::next_wakeup);
            let wakeup = match (clients, agents) {
                (Some(c), Some(a)) => Some(c.min(a)),
                (c, a) => c.or(a),
            }
            .filter(|&at| at <= end_ns);
            handled += self.simulation.run_until(wakeup.unwrap_or(end_ns));
            self.check_new_observations();
            let Some(now) = wakeup else {
                return handled;
            };
            if clients == Some(now) {
                let commands = self.clients.as_mut().expect("woken").wake(now);
                for (entry, command) in commands {
                    self.simulation.schedule_command(now, entry, command);
                }
            }
            if agents == Some(now) {
                let simulation = &self.simulation;
                let commands = self
                    .agents
                    .as_mut()
                    .expect("woken")
                    .wake(now, |cell| simulation.node(cell));
                for (home, command) in commands {
                    self.simulation.schedule_command(now, home, command);
                }
            }
        }
    }

    fn check_new_observations(&mut self) {
        let observations = self.simulation.observations();
        for observed in &observations[self.checked..] {
            self.checker.observe(observed);
            if let Some(clients) = &mut self.clients {
                clients.observe(observed);
            }
            if let Some(agents) = &mut self.agents {
                agents.observe(observed);
            }
        }
        self.checked = observations.len();
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

    pub fn simulation(&self) -> &Simulation<N> {
        &self.simulation
    }

    pub fn simulation_mut(&mut self) -> &mut Simulation<N> {
        &mut self.simulation
    }

    /// The environment every cell was handed (the arena and memos).
    pub fn environment(&self) -> &SimEnvironment {
        &self.environment
    }

    pub fn checker(&self) -> &InvariantChecker {
        &self.checker
    }

    pub fn checker_mut(&mut self) -> &mut InvariantChecker {
        &mut self.checker
    }

    /// The live cell `index` (None while crashed).
    pub fn cell(&self, index: CellIndex) -> Option<&Cell> {
        self.simulation.node(index).map(CellNode::cell)
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
        let public_keys = cell
            .config()
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

    /// Every invariant violation, as text: the checker's
    /// ([`InvariantChecker::violations`], the first divergence first). There
    /// is no separate ledger check: `Ledger::apply_round` asserts PRANA
    /// conservation (balances + fee pool + burned = genesis) after every
    /// round, so a live ledger's total cannot differ from its genesis.
    pub fn verdict(&self) -> Vec<String> {
        self.checker.violations()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event hash number `n` (distinct for distinct `n`).
    fn event(n: u8) -> EventHash {
        EventHash([n; 32])
    }

    /// What the forged cells report, kept per cell like the consensus
    /// service does: total ordered events and the chained order digest.
    struct Forger {
        ordered: Vec<u64>,
        digest: Vec<[u8; 32]>,
    }

    impl Forger {
        fn new(cells: usize) -> Forger {
            Forger {
                ordered: vec![0; cells],
                digest: vec![[0; 32]; cells],
            }
        }

        /// `cell`'s report of `round`, holding `events`, with state hash
        /// `state` (one byte repeated).
        fn round(
            &mut self,
            time_ns: TimeNs,
            cell: u32,
            round: u32,
            events: &[u8],
            state: u8,
        ) -> Observed<CellObservation> {
            let slot = cell as usize;
            let hashes: Vec<EventHash> = events.iter().map(|&n| event(n)).collect();
            for hash in &hashes {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&self.digest[slot]);
                hasher.update(&hash.0);
                self.digest[slot] = *hasher.finalize().as_bytes();
            }
            self.ordered[slot] += hashes.len() as u64;
            Observed {
                time_ns,
                cell: CellIndex(cell),
                observation: CellObservation::RoundDecided {
                    round,
                    ordered_events: self.ordered[slot],
                    order_digest: self.digest[slot],
                    state_hash: [state; 32],
                    events: Arc::from(hashes),
                    election_rounds: 1,
                    unique_famous_creators: Arc::from([0u32, 1, 2]),
                },
            }
        }
    }

    /// Rounds 0..3 as cell 0 orders them (positions 0..3, 3..7, 7..9).
    const ROUNDS: [&[u8]; 3] = [&[1, 2, 3], &[4, 5, 6, 7], &[8, 9]];

    fn feed(checker: &mut InvariantChecker, observations: Vec<Observed<CellObservation>>) {
        for observed in &observations {
            checker.observe(observed);
        }
    }

    #[test]
    fn identical_orders_from_three_cells_hold() {
        let mut checker = InvariantChecker::new(3);
        let mut forger = Forger::new(3);
        let mut time_ns = 0;
        for (round, events) in ROUNDS.iter().enumerate() {
            for cell in 0..3 {
                time_ns += 10;
                checker.observe(&forger.round(time_ns, cell, round as u32, events, round as u8));
            }
        }
        assert!(
            checker.violations().is_empty(),
            "{:?}",
            checker.violations()
        );
        assert_eq!(checker.first_divergence(), None);
        assert_eq!(checker.rounds_checked, 9);
        assert_eq!(checker.ordered_events(), 9);
        assert_eq!(checker.last_round(), Some(2));
        assert_eq!(checker.state_hash(1), Some([1; 32]));
    }

    #[test]
    fn swapped_events_inside_a_round_are_the_first_divergence() {
        let mut checker = InvariantChecker::new(3);
        let mut forger = Forger::new(3);
        let mut observations = Vec::new();
        for cell in 0..3 {
            observations.push(forger.round(10 + u64::from(cell), cell, 0, ROUNDS[0], 0));
        }
        observations.push(forger.round(20, 0, 1, ROUNDS[1], 1));
        observations.push(forger.round(21, 1, 1, ROUNDS[1], 1));
        // Cell 2 swaps events 5 and 6: positions 4 and 5.
        observations.push(forger.round(22, 2, 1, &[4, 6, 5, 7], 1));
        feed(&mut checker, observations);

        let first = *checker.first_divergence().expect("the swap is found");
        assert_eq!(
            first,
            Divergence {
                kind: DivergenceKind::Order,
                round: 1,
                position: 4,
                cells: (CellIndex(0), CellIndex(2)),
                events: (Some(event(5)), Some(event(6))),
                time_ns: 22,
            }
        );
        let violations = checker.violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(
            violations[0],
            format!(
                "order diverges at round 1, position 4: cell 0 ordered {} but cell 2 ordered {}",
                hex(&event(5).0),
                hex(&event(6).0)
            )
        );
        assert_eq!(checker.timed_violations()[0].0, 22);
        assert!(checker.agreement_violated() && !checker.state_violated());
    }

    #[test]
    fn the_lowest_position_wins_over_an_earlier_report() {
        let mut checker = InvariantChecker::new(4);
        let mut forger = Forger::new(4);
        let mut observations = vec![
            forger.round(10, 0, 0, ROUNDS[0], 0),
            forger.round(11, 0, 1, ROUNDS[1], 1),
            forger.round(12, 1, 0, ROUNDS[0], 0),
            // Cell 1 diverges at position 6 first…
            forger.round(13, 1, 1, &[4, 5, 6, 9], 1),
        ];
        feed(&mut checker, std::mem::take(&mut observations));
        let later = *checker.first_divergence().expect("position 6 differs");
        assert_eq!((later.position, later.time_ns), (6, 13));

        // …then cell 2 diverges at position 1, later in time.
        observations.push(forger.round(30, 2, 0, &[1, 3, 2], 0));
        // A second divergence at position 1, observed later still: the
        // earliest observation among equals stays first.
        observations.push(forger.round(31, 3, 0, &[1, 3, 2], 0));
        feed(&mut checker, observations);
        let first = *checker.first_divergence().expect("position 1 differs");
        assert_eq!(first.position, 1);
        assert_eq!(first.round, 0);
        assert_eq!(first.cells, (CellIndex(0), CellIndex(2)));
        assert_eq!(first.events, (Some(event(2)), Some(event(3))));
        assert_eq!(first.time_ns, 30);

        let violations = checker.timed_violations();
        assert_eq!(violations.len(), 3, "{violations:?}");
        assert_eq!(violations[0], (30, first.to_string()));
        assert!(violations[1].1.contains("position 6"), "{violations:?}");
        assert!(violations[2].1.contains("position 1"), "{violations:?}");
        assert!(violations[2].1.contains("cell 3 ordered"), "{violations:?}");
    }

    #[test]
    fn equal_orders_with_a_different_state_hash_diverge_at_the_round() {
        let mut checker = InvariantChecker::new(2);
        let mut forger = Forger::new(2);
        feed(
            &mut checker,
            vec![
                forger.round(10, 0, 0, ROUNDS[0], 0),
                forger.round(11, 1, 0, ROUNDS[0], 0),
                forger.round(20, 1, 1, ROUNDS[1], 1),
                forger.round(21, 0, 1, ROUNDS[1], 0xee),
            ],
        );
        let first = *checker.first_divergence().expect("state hashes differ");
        assert_eq!(
            first,
            Divergence {
                kind: DivergenceKind::StateHash {
                    hashes: ([1; 32], [0xee; 32])
                },
                round: 1,
                position: 3,
                cells: (CellIndex(1), CellIndex(0)),
                events: (None, None),
                time_ns: 21,
            }
        );
        let violations = checker.violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].starts_with(
                "state hash diverges at round 1, position 3: cells 1 and 0 ordered the same events"
            ),
            "{violations:?}"
        );
        assert_eq!(first.kind.label(), "state_hash");
    }

    #[test]
    fn a_double_spend_finalized_by_an_honest_cell_is_a_state_violation() {
        let mut checker = InvariantChecker::new(3);
        checker.mark_dishonest(CellIndex(2));
        let ordered = |time_ns: TimeNs, cell: u32, tx: u8| Observed {
            time_ns,
            cell: CellIndex(cell),
            observation: CellObservation::TxOrdered {
                tx: [tx; 32],
                round_received: 3,
                consensus_timestamp_ns: 5,
                position: u64::from(tx),
                applied: true,
            },
        };
        checker.observe(&Observed {
            time_ns: 10,
            cell: CellIndex(2),
            observation: CellObservation::Adversary {
                behaviour: "double-spend",
                action: AdversaryAction::DoubleSpend {
                    txs: vec![[7; 32], [8; 32]],
                },
            },
        });
        // Cell 0 applies one spend: fine. The attacker's own ledger is not
        // judged. Cell 1 applies both: the violation, with where.
        for observed in [
            ordered(20, 0, 7),
            ordered(20, 2, 7),
            ordered(20, 2, 8),
            ordered(21, 1, 7),
        ] {
            checker.observe(&observed);
        }
        assert!(checker.violations().is_empty() && !checker.state_violated());
        checker.observe(&ordered(30, 1, 8));
        let violations = checker.timed_violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].0, 30);
        assert!(
            violations[0].1.contains("double spend finalized: cell 1"),
            "{violations:?}"
        );
        assert!(checker.state_violated() && !checker.agreement_violated());
    }

    #[test]
    fn a_restarted_cell_that_re_decides_otherwise_is_a_violation_not_a_panic() {
        let mut checker = InvariantChecker::new(3);
        checker.mark_dishonest(CellIndex(2));
        for cell in [1, 2] {
            checker.observe(&Observed {
                time_ns: 70,
                cell: CellIndex(cell),
                observation: CellObservation::ReplayDiverged {
                    round: 4,
                    journal: "state",
                },
            });
        }
        let violations = checker.violations();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(
            violations[0].contains("cell #1") && violations[0].contains("round 4"),
            "{violations:?}"
        );
        assert!(violations[0].contains("state journal"), "{violations:?}");
    }

    #[test]
    fn a_dishonest_cells_divergent_report_is_ignored() {
        let mut checker = InvariantChecker::new(3);
        checker.mark_dishonest(CellIndex(2));
        let mut forger = Forger::new(3);
        feed(
            &mut checker,
            vec![
                // The dishonest cell reports first: it does not set the
                // canonical order either.
                forger.round(5, 2, 0, &[3, 2, 1], 9),
                forger.round(10, 0, 0, ROUNDS[0], 0),
                forger.round(11, 1, 0, ROUNDS[0], 0),
                forger.round(12, 2, 1, &[7, 7], 9),
                forger.round(20, 0, 1, ROUNDS[1], 1),
            ],
        );
        assert!(
            checker.violations().is_empty(),
            "{:?}",
            checker.violations()
        );
        assert_eq!(checker.first_divergence(), None);
        assert_eq!(checker.rounds_checked, 3);

        // The same report from an honest cell is found.
        let mut checker = InvariantChecker::new(3);
        let mut forger = Forger::new(3);
        feed(
            &mut checker,
            vec![
                forger.round(10, 0, 0, ROUNDS[0], 0),
                forger.round(12, 2, 0, &[3, 2, 1], 9),
            ],
        );
        let first = checker.first_divergence().expect("an honest cell diverged");
        assert_eq!((first.position, first.cells.1), (0, CellIndex(2)));
    }

    #[test]
    fn a_round_with_another_number_of_events_diverges_where_the_rounds_part() {
        let mut checker = InvariantChecker::new(2);
        let mut forger = Forger::new(2);
        feed(
            &mut checker,
            vec![
                forger.round(10, 0, 0, ROUNDS[0], 0),
                forger.round(11, 0, 1, ROUNDS[1], 1),
                // Cell 1 orders event 3 a round later: the same order,
                // other rounds.
                forger.round(20, 1, 0, &[1, 2], 0),
                forger.round(21, 1, 1, &[3, 4, 5, 6, 7], 1),
            ],
        );
        let first = *checker.first_divergence().expect("round 0 differs");
        assert_eq!(
            first,
            Divergence {
                kind: DivergenceKind::EventCount { counts: (3, 2) },
                round: 0,
                position: 2,
                cells: (CellIndex(0), CellIndex(1)),
                events: (Some(event(3)), None),
                time_ns: 20,
            }
        );
        let violations = checker.violations();
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert_eq!(
            violations[0],
            format!(
                "number of events diverges at round 0, position 2: cell 0 ordered 3 events in \
                 the round ({} at that position) but cell 1 ordered 2 (nothing at that position)",
                hex(&event(3).0)
            )
        );
        // Round 1 parts at the same position, the other way round.
        assert!(
            violations[1].starts_with("number of events diverges at round 1, position 2: cell 0 ordered 4 events in the round (nothing"),
            "{violations:?}"
        );
    }

    #[test]
    fn inconsistent_reports_are_recorded_as_text() {
        let mut checker = InvariantChecker::new(2);
        let mut forger = Forger::new(2);
        checker.observe(&forger.round(10, 0, 0, ROUNDS[0], 0));
        // More events in the round than in the whole order.
        let mut observed = forger.round(11, 1, 0, ROUNDS[0], 0);
        if let CellObservation::RoundDecided { ordered_events, .. } = &mut observed.observation {
            *ordered_events = 1;
        }
        checker.observe(&observed);
        // A round starting beyond every reported position.
        let mut observed = forger.round(12, 1, 5, &[40], 5);
        if let CellObservation::RoundDecided { ordered_events, .. } = &mut observed.observation {
            *ordered_events = 20;
        }
        checker.observe(&observed);
        // Same positions and events, another digest.
        let mut observed = forger.round(13, 1, 0, ROUNDS[0], 0);
        if let CellObservation::RoundDecided {
            ordered_events,
            order_digest,
            ..
        } = &mut observed.observation
        {
            *ordered_events = 3;
            *order_digest = [7; 32];
        }
        checker.observe(&observed);
        let violations = checker.violations();
        assert_eq!(checker.first_divergence(), None);
        assert_eq!(violations.len(), 3, "{violations:?}");
        assert!(violations[0].contains("3 events in round 0 but 1 ordered events"));
        assert!(violations[1].contains("positions 19..20"));
        assert!(violations[1].contains("observations are missing"));
        assert!(violations[2].starts_with("order digests of cells 0 and 1 differ"));
    }
}
