//! The input of every report: a [`RunRecord`], the typed record of what one
//! run observed, and a [`RunRecorder`] that builds it one observation at a time.
//!
//! These types are plain data, independent of the simulator and the cell
//! stack, so a record can also be written to JSON and reported on later.
//! Every collection is ordered (`Vec` in a defined order or `BTreeMap`), so a
//! record built from the same observations is the same record, byte for byte.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::attack::{AdversaryAct, AttackRecord, AttackTracker};
use crate::market::{MarketRecord, MarketRecordError, TxMarket};

/// Virtual time, or a span of it, in nanoseconds (same meaning as
/// `celluler_core::time::TimeNs`; redefined here to keep this crate independent).
pub type TimeNs = u64;

/// A cell's index in the scenario, `0..cell_count`.
pub type CellIndex = u32;

pub const NS_PER_MS: TimeNs = 1_000_000;
pub const NS_PER_S: TimeNs = 1_000_000_000;

/// The longest run a record may describe: ten virtual days. Bounds the
/// per-second time series a record can make us allocate.
pub const VIRTUAL_DURATION_MAX_NS: TimeNs = 10 * 24 * 3_600 * NS_PER_S;

/// Per-second buckets kept after the run's end (messages still in flight
/// when the simulator stopped); later observations are dropped.
pub const SECONDS_AFTER_END_MAX: u64 = 60;

/// The last virtual second a time series covers for a run of this length.
pub fn last_reported_second(virtual_duration_ns: TimeNs) -> u64 {
    virtual_duration_ns.saturating_sub(1) / NS_PER_S + SECONDS_AFTER_END_MAX
}

/// Everything one run observed, plus the checks its scenario asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub scenario: String,
    pub seed: u64,
    /// The simulator's trace hash: 64 lowercase hex digits.
    pub trace_hash: String,
    pub cell_count: u32,
    /// Honest cells, ascending. Only their observations count in metrics.
    pub honest_cells: Vec<CellIndex>,
    /// Honest cells that were down (crashed, not restarted) when the run ended.
    /// "Live honest cells" are `honest_cells` minus these.
    pub cells_down_at_end: Vec<CellIndex>,
    pub virtual_duration_ns: TimeNs,
    /// Wall-clock milliseconds the run took; the one non-deterministic field.
    pub wall_ms: u64,
    /// The network's median one-way latency: the inversion-rate threshold.
    pub network_median_latency_ns: TimeNs,
    /// One record per submitted transaction, in submission order.
    pub transactions: Vec<TxRecord>,
    /// Consensus rounds decided, ascending by round.
    pub rounds: Vec<RoundRecord>,
    /// Counters per virtual second, ascending by second, without gaps
    /// (a second with nothing counted is a zero bucket).
    pub counters: Vec<CounterBucket>,
    /// Fault windows, in the order the scenario declared them.
    pub faults: Vec<FaultWindow>,
    /// Safety violations seen by the run's checkers or by the recorder
    /// (honest cells disagreeing on a transaction's place in the order).
    pub safety_violations: Vec<String>,
    /// The lowest-position disagreement between honest cells' consensus
    /// orders (or state hashes) the run's checker found; when set,
    /// `safety_violations` describes it too and safety does not hold.
    #[serde(default)]
    pub first_divergence: Option<DivergenceRecord>,
    /// When each honest cell first found a fork proof of each forker,
    /// ordered by (forker, time, cell).
    #[serde(default)]
    pub forks_detected: Vec<ForkDetection>,
    /// What Byzantine cells did and how honest cells reacted (rejections,
    /// double spends applied); empty for a run without an attack.
    #[serde(default)]
    pub attack: AttackRecord,
    pub liveness: LivenessRecord,
    /// Observations about transaction ids that were never submitted; ignored.
    pub unknown_tx_observations: u64,
    pub checks: Checks,
    /// What the run's exchange, lease markets and market agents did;
    /// `None` for a run without markets (docs/metrics.md "Markets").
    #[serde(default)]
    pub markets: Option<MarketRecord>,
}

/// The first divergence between honest cells: where in the total order two
/// of them disagree, who, and on what (docs/metrics.md "Safety and liveness").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivergenceRecord {
    /// `order` (different events at `position`), `event_count` (the round
    /// covers other positions) or `state_hash` (same events, other state).
    pub kind: String,
    pub round: u64,
    /// Position in the total order, from 0 (for `state_hash`, the round's first).
    pub position: u64,
    /// The cell that first reported the position (or round), then the one
    /// that disagreed.
    pub cells: [CellIndex; 2],
    /// What each put at `position`, as event-hash hex; `null` for nothing
    /// (outside its round, or a `state_hash` divergence).
    pub events: [Option<String>; 2],
    /// When the disagreeing report was observed.
    pub time_ns: TimeNs,
}

/// One transaction's life: submission, receipt, order, finality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxRecord {
    pub id: String,
    pub submitter: CellIndex,
    pub submit_ns: TimeNs,
    /// When each honest cell first received the transaction. The submitter,
    /// when honest, receives it at `submit_ns`.
    pub received_ns: BTreeMap<CellIndex, TimeNs>,
    /// Its place in the consensus order, as first reported by an honest cell.
    pub order: Option<TxOrder>,
    /// When each honest cell first knew the transaction's final position.
    pub final_ns: BTreeMap<CellIndex, TimeNs>,
    /// Per honest cell (crashed later or not): the timestamp its first own
    /// event with the transaction as an ancestor claims — the cell's input
    /// to the consensus timestamp, a median of such claims.
    #[serde(default)]
    pub reached_claim_ns: BTreeMap<CellIndex, TimeNs>,
    /// The client that signed it, for a client's TX relayed by an entry
    /// cell (`submitter`); `submit_ns` is then the client's first
    /// submission, so finality includes any entry cell's censorship.
    #[serde(default)]
    pub client: Option<u32>,
    /// What the TX asks of the markets; `None` for a TX that is not a
    /// market TX.
    #[serde(default)]
    pub market: Option<TxMarket>,
}

/// A transaction's place in the consensus total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOrder {
    pub round_received: u64,
    pub consensus_timestamp_ns: TimeNs,
    /// Index in the total order, 0-based, unique per transaction.
    pub position: u64,
}

/// An honest cell's first fork proof of one forker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkDetection {
    pub forker: CellIndex,
    /// The honest cell that found the proof.
    pub cell: CellIndex,
    pub time_ns: TimeNs,
}

/// When a consensus round was first decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: u64,
    /// First decided by any honest cell.
    pub first_decided_ns: TimeNs,
    /// Decided by every live honest cell, if that happened.
    pub all_decided_ns: Option<TimeNs>,
    /// The round's unique famous witnesses, and how many of them Byzantine
    /// cells created (as the first honest cell to decide it reported).
    /// While Byzantine creators are fewer than half, every consensus
    /// timestamp the round gives lies inside the band of honest claims.
    #[serde(default)]
    pub unique_famous_witnesses: u32,
    #[serde(default)]
    pub byzantine_famous_witnesses: u32,
}

impl RoundRecord {
    /// Byzantine creators hold half or more of the round's unique famous
    /// witnesses: the median of their claims is theirs to move.
    pub fn byzantine_hold_half_the_famous(&self) -> bool {
        self.unique_famous_witnesses > 0
            && 2 * self.byzantine_famous_witnesses >= self.unique_famous_witnesses
    }
}

/// Counters summed over one virtual second `[second, second + 1) s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CounterBucket {
    pub second: u64,
    pub messages_sent: u64,
    pub messages_dropped: u64,
    pub events_created: u64,
}

/// What a [`RunRecorder::count`] call adds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    MessagesSent,
    MessagesDropped,
    EventsCreated,
}

/// A fault active over `[start_ns, end_ns)`; reports shade it on time plots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    /// The scenario's fault kind: "partition", "crash", "link", "clock-skew", …
    pub kind: String,
    /// A short human description, e.g. "cells 0..8 | 8..16".
    pub label: String,
    pub start_ns: TimeNs,
    /// The end of the fault; the run's end when it never heals.
    pub end_ns: TimeNs,
}

/// Progress of consensus over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LivenessRecord {
    /// The highest round decided by any honest cell.
    pub last_decided_round: Option<u64>,
    /// The longest virtual time without a new round first decided, counting
    /// from the run's start and up to its end.
    pub longest_stall_ns: TimeNs,
    /// When a round was last first decided.
    pub last_decision_ns: Option<TimeNs>,
    /// The most voting rounds an honest cell's election of one witness
    /// took, over every round.
    pub longest_election_rounds: u32,
    /// Rounds where some honest cell's election of a witness reached a
    /// coin round (took at least the coin round frequency in voting rounds).
    pub rounds_with_coin_round: u64,
}

/// The checks a scenario asks for; a run fails when one does not hold.
/// Absent (`None`/`false`) checks are not evaluated.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Checks {
    /// No safety violation.
    pub safety: bool,
    /// Consensus made progress after the last fault window ended.
    pub liveness: bool,
    /// p99 of finality by all live honest cells, `finality_ms.p99`, at most this.
    pub max_finality_p99_ns: Option<TimeNs>,
    /// `throughput_tps` at least this.
    pub min_throughput_tps: Option<f64>,
    /// `liveness.longest_stall_ms` at most this.
    pub max_stall_ns: Option<TimeNs>,
    /// `fairness.inversion_rate` at most this.
    pub max_inversion_rate: Option<f64>,
    /// `fairness.timestamp_band_violations` at most this.
    pub max_timestamp_band_violations: Option<u64>,
}

/// A record that cannot be reported on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("trace hash must be 64 lowercase hex digits, got {0:?}")]
    TraceHash(String),
    #[error("honest cell {cell} does not exist: the run has {cell_count} cells")]
    HonestCellOutOfRange { cell: CellIndex, cell_count: u32 },
    #[error("honest cells must be strictly ascending")]
    HonestCellsUnordered,
    #[error("transaction {id:?}: submitter cell {cell} does not exist ({cell_count} cells)")]
    SubmitterOutOfRange {
        id: String,
        cell: CellIndex,
        cell_count: u32,
    },
    #[error("counter buckets must be strictly ascending by second")]
    CountersUnordered,
    #[error("honest cells down at the end must be strictly ascending honest cells")]
    CellsDownInvalid,
    #[error("virtual duration {0} ns exceeds the maximum of ten days")]
    DurationTooLong(TimeNs),
    #[error("first divergence names cell {cell}, but the run has {cell_count} cells")]
    DivergenceCellOutOfRange { cell: CellIndex, cell_count: u32 },
    #[error("fault {label:?} ends ({end_ns} ns) before it starts ({start_ns} ns)")]
    FaultInverted {
        label: String,
        start_ns: TimeNs,
        end_ns: TimeNs,
    },
    #[error("markets: {0}")]
    Market(#[from] MarketRecordError),
}

impl RunRecord {
    /// Rejects records the metrics cannot trust (read from a file, say).
    pub fn validate(&self) -> Result<(), RecordError> {
        let hash_ok = self.trace_hash.len() == 64
            && self
                .trace_hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hash_ok {
            return Err(RecordError::TraceHash(self.trace_hash.clone()));
        }
        for &cell in &self.honest_cells {
            if cell >= self.cell_count {
                return Err(RecordError::HonestCellOutOfRange {
                    cell,
                    cell_count: self.cell_count,
                });
            }
        }
        if self.honest_cells.windows(2).any(|w| w[0] >= w[1]) {
            return Err(RecordError::HonestCellsUnordered);
        }
        for tx in &self.transactions {
            if tx.submitter >= self.cell_count {
                return Err(RecordError::SubmitterOutOfRange {
                    id: tx.id.clone(),
                    cell: tx.submitter,
                    cell_count: self.cell_count,
                });
            }
        }
        if self.counters.windows(2).any(|w| w[0].second >= w[1].second) {
            return Err(RecordError::CountersUnordered);
        }
        let down_ok = self.cells_down_at_end.windows(2).all(|w| w[0] < w[1])
            && self
                .cells_down_at_end
                .iter()
                .all(|cell| self.honest_cells.binary_search(cell).is_ok());
        if !down_ok {
            return Err(RecordError::CellsDownInvalid);
        }
        if self.virtual_duration_ns > VIRTUAL_DURATION_MAX_NS {
            return Err(RecordError::DurationTooLong(self.virtual_duration_ns));
        }
        if let Some(divergence) = &self.first_divergence {
            if let Some(&cell) = divergence.cells.iter().find(|&&c| c >= self.cell_count) {
                return Err(RecordError::DivergenceCellOutOfRange {
                    cell,
                    cell_count: self.cell_count,
                });
            }
        }
        for fault in &self.faults {
            if fault.end_ns < fault.start_ns {
                return Err(RecordError::FaultInverted {
                    label: fault.label.clone(),
                    start_ns: fault.start_ns,
                    end_ns: fault.end_ns,
                });
            }
        }
        if let Some(markets) = &self.markets {
            markets.validate(self.cell_count, &self.transactions)?;
        }
        Ok(())
    }

    /// Honest cells up at the end of the run, ascending: the cells whose
    /// knowledge defines finality, reference order and fairness.
    pub fn live_honest_cells(&self) -> Vec<CellIndex> {
        self.honest_cells
            .iter()
            .copied()
            .filter(|cell| self.cells_down_at_end.binary_search(cell).is_err())
            .collect()
    }
}

/// Builds a [`RunRecord`] from observations, in any order of calls.
///
/// The simulator's observer calls it for every observation; each call is
/// O(log n). Observations from cells that are not honest are dropped (their
/// claims are not evidence), except `tx_submitted` and counters.
#[derive(Debug, Clone)]
pub struct RunRecorder {
    record: RunRecord,
    /// Lookup only, never iterated: transaction id → index in `transactions`.
    tx_index: HashMap<String, usize>,
    honest: Vec<bool>,
    /// Honest cells currently down.
    down: Vec<bool>,
    counters: BTreeMap<u64, CounterBucket>,
    /// round → (honest cell → when it decided the round).
    round_decisions: BTreeMap<u64, BTreeMap<CellIndex, TimeNs>>,
    /// round → the most voting rounds an honest cell's election took.
    election_rounds: BTreeMap<u64, u32>,
    /// Round → (unique famous witnesses, Byzantine-created among them), as
    /// the first honest cell to decide the round reported.
    famous_witnesses: BTreeMap<u64, (u32, u32)>,
    /// Hashgraph's `c` in the run (0: unknown, no coin rounds counted).
    coin_round_frequency: u32,
    attack: AttackTracker,
}

impl RunRecorder {
    /// `honest_cells` in any order; cells outside `0..cell_count` are ignored.
    pub fn new(
        scenario: &str,
        seed: u64,
        cell_count: u32,
        honest_cells: impl IntoIterator<Item = CellIndex>,
        network_median_latency_ns: TimeNs,
        checks: Checks,
    ) -> Self {
        let mut honest = vec![false; cell_count as usize];
        for cell in honest_cells {
            if let Some(slot) = honest.get_mut(cell as usize) {
                *slot = true;
            }
        }
        let honest_list = (0..cell_count).filter(|&c| honest[c as usize]).collect();
        RunRecorder {
            record: RunRecord {
                scenario: scenario.to_string(),
                seed,
                trace_hash: String::new(),
                cell_count,
                honest_cells: honest_list,
                cells_down_at_end: Vec::new(),
                virtual_duration_ns: 0,
                wall_ms: 0,
                network_median_latency_ns,
                transactions: Vec::new(),
                rounds: Vec::new(),
                counters: Vec::new(),
                faults: Vec::new(),
                safety_violations: Vec::new(),
                first_divergence: None,
                forks_detected: Vec::new(),
                attack: AttackRecord::default(),
                liveness: LivenessRecord::default(),
                unknown_tx_observations: 0,
                checks,
                markets: None,
            },
            tx_index: HashMap::new(),
            honest,
            down: vec![false; cell_count as usize],
            counters: BTreeMap::new(),
            round_decisions: BTreeMap::new(),
            election_rounds: BTreeMap::new(),
            famous_witnesses: BTreeMap::new(),
            coin_round_frequency: 0,
            attack: AttackTracker::default(),
        }
    }

    fn is_honest(&self, cell: CellIndex) -> bool {
        self.honest.get(cell as usize).copied().unwrap_or(false)
    }

    fn tx_mut(&mut self, id: &str) -> Option<&mut TxRecord> {
        match self.tx_index.get(id) {
            Some(&index) => Some(&mut self.record.transactions[index]),
            None => {
                self.record.unknown_tx_observations += 1;
                None
            }
        }
    }

    /// A transaction entered the system at `submitter`. A second submission
    /// of the same id is counted as an unknown observation and ignored.
    pub fn tx_submitted(&mut self, time_ns: TimeNs, submitter: CellIndex, id: &str) {
        if self.tx_index.contains_key(id) {
            self.record.unknown_tx_observations += 1;
            return;
        }
        self.push_tx(id, submitter, time_ns, time_ns, None);
    }

    /// A new transaction, received by `submitter` (when honest) at
    /// `received_at_ns`.
    fn push_tx(
        &mut self,
        id: &str,
        submitter: CellIndex,
        submit_ns: TimeNs,
        received_at_ns: TimeNs,
        client: Option<u32>,
    ) {
        let mut received_ns = BTreeMap::new();
        if self.is_honest(submitter) {
            received_ns.insert(submitter, received_at_ns);
        }
        self.tx_index
            .insert(id.to_string(), self.record.transactions.len());
        self.record.transactions.push(TxRecord {
            id: id.to_string(),
            submitter,
            submit_ns,
            received_ns,
            order: None,
            final_ns: BTreeMap::new(),
            reached_claim_ns: BTreeMap::new(),
            client,
            market: None,
        });
    }

    /// Entry cell `entry` put client `client`'s TX into consensus at
    /// `time_ns`; the client first submitted it at `first_submitted_ns`.
    /// A TX relayed again (the client retried elsewhere) is the same TX.
    pub fn tx_relayed(
        &mut self,
        time_ns: TimeNs,
        entry: CellIndex,
        id: &str,
        client: u32,
        first_submitted_ns: TimeNs,
    ) {
        if let Some(&index) = self.tx_index.get(id) {
            let honest = self.is_honest(entry);
            let tx = &mut self.record.transactions[index];
            if tx.client != Some(client) {
                // The same id from another client, or a cell's own TX.
                self.record.unknown_tx_observations += 1;
            } else if honest {
                // Only an honest entry's receipt counts (as everywhere).
                keep_earliest(&mut tx.received_ns, entry, time_ns);
            }
            return;
        }
        self.push_tx(
            id,
            entry,
            first_submitted_ns.min(time_ns),
            time_ns,
            Some(client),
        );
    }

    /// `cell` received the transaction; only the earliest receipt is kept.
    pub fn tx_received(&mut self, time_ns: TimeNs, cell: CellIndex, id: &str) {
        if !self.is_honest(cell) {
            return;
        }
        if let Some(tx) = self.tx_mut(id) {
            keep_earliest(&mut tx.received_ns, cell, time_ns);
        }
    }

    /// `cell` computed the transaction's place in the consensus order, and
    /// so knows it final. Honest cells that disagree are a safety violation.
    pub fn tx_ordered(&mut self, time_ns: TimeNs, cell: CellIndex, id: &str, order: TxOrder) {
        if !self.is_honest(cell) {
            return;
        }
        let mut disagreement = None;
        if let Some(tx) = self.tx_mut(id) {
            match tx.order {
                None => tx.order = Some(order),
                Some(known) if known != order => {
                    disagreement = Some(format!(
                        "at {time_ns} ns cell {cell} ordered transaction {id:?} as \
                         (round {}, timestamp {} ns, position {}) but an earlier honest cell \
                         as (round {}, timestamp {} ns, position {})",
                        order.round_received,
                        order.consensus_timestamp_ns,
                        order.position,
                        known.round_received,
                        known.consensus_timestamp_ns,
                        known.position
                    ))
                }
                Some(_) => {}
            }
            keep_earliest(&mut tx.final_ns, cell, time_ns);
        }
        if let Some(violation) = disagreement {
            self.record.safety_violations.push(violation);
        }
    }

    /// `cell` made its first own event with the transaction as an ancestor;
    /// that event claims `event_timestamp_ns` (the cell's local clock). The
    /// earliest claim is kept. Observations of ids never submitted (a POST)
    /// are ignored without being counted.
    pub fn tx_reached(&mut self, cell: CellIndex, id: &str, event_timestamp_ns: TimeNs) {
        if !self.is_honest(cell) {
            return;
        }
        if let Some(&index) = self.tx_index.get(id) {
            let tx = &mut self.record.transactions[index];
            keep_earliest(&mut tx.reached_claim_ns, cell, event_timestamp_ns);
        }
    }

    /// `cell` learned the transaction's final position (without, or before,
    /// reporting the order itself); the earliest time is kept.
    pub fn tx_final_at_cell(&mut self, time_ns: TimeNs, cell: CellIndex, id: &str) {
        if !self.is_honest(cell) {
            return;
        }
        if let Some(tx) = self.tx_mut(id) {
            keep_earliest(&mut tx.final_ns, cell, time_ns);
        }
    }

    /// `cell` decided every witness's fame in `round`.
    pub fn round_decided(&mut self, time_ns: TimeNs, cell: CellIndex, round: u64) {
        if !self.is_honest(cell) {
            return;
        }
        let decisions = self.round_decisions.entry(round).or_default();
        keep_earliest(decisions, cell, time_ns);
    }

    /// An honest cell's elections of `round`'s witnesses took at most
    /// `election_rounds` voting rounds.
    pub fn round_elections(&mut self, cell: CellIndex, round: u64, election_rounds: u32) {
        if !self.is_honest(cell) {
            return;
        }
        let longest = self.election_rounds.entry(round).or_insert(0);
        *longest = (*longest).max(election_rounds);
    }

    /// An honest cell decided `round` with these creators of its unique
    /// famous witnesses (the first report counts: honest cells agree).
    pub fn round_famous(&mut self, cell: CellIndex, round: u64, unique_famous_creators: &[u32]) {
        if !self.is_honest(cell) {
            return;
        }
        let byzantine = unique_famous_creators
            .iter()
            .filter(|&&creator| !self.is_honest(creator))
            .count() as u32;
        self.famous_witnesses
            .entry(round)
            .or_insert((unique_famous_creators.len() as u32, byzantine));
    }

    /// The run's coin round frequency (Hashgraph's `c`), to count the
    /// rounds whose elections reached a coin round.
    pub fn coin_round_frequency(&mut self, frequency: u32) {
        self.coin_round_frequency = frequency;
    }

    /// Adds `amount` to a counter in the virtual second containing `time_ns`.
    /// Counts more than [`SECONDS_AFTER_END_MAX`] after the run's end are
    /// dropped when the record is finished.
    pub fn count(&mut self, time_ns: TimeNs, counter: Counter, amount: u64) {
        let second = time_ns / NS_PER_S;
        let bucket = self.counters.entry(second).or_insert(CounterBucket {
            second,
            ..CounterBucket::default()
        });
        let slot = match counter {
            Counter::MessagesSent => &mut bucket.messages_sent,
            Counter::MessagesDropped => &mut bucket.messages_dropped,
            Counter::EventsCreated => &mut bucket.events_created,
        };
        *slot = slot.saturating_add(amount);
    }

    /// What submitted TX `id` asks of the markets (an order, a lease, …).
    /// The last call for an id wins; an id never submitted is counted as an
    /// unknown observation.
    pub fn tx_market(&mut self, id: &str, market: TxMarket) {
        if let Some(tx) = self.tx_mut(id) {
            tx.market = Some(market);
        }
    }

    /// The run's markets, converted from what cells observed. Agents are
    /// put in order of cell and rounds in order of round (a stable sort:
    /// equal keys keep their order, and validation rejects them).
    pub fn set_markets(&mut self, mut markets: MarketRecord) {
        markets.agents.sort_by_key(|agent| agent.cell);
        markets.rounds.sort_by_key(|round| round.round);
        self.record.markets = Some(markets);
    }

    /// A fault window, for shading plots and the report's fault table.
    pub fn fault(&mut self, window: FaultWindow) {
        self.record.faults.push(window);
    }

    pub fn cell_crashed(&mut self, _time_ns: TimeNs, cell: CellIndex) {
        if let Some(slot) = self.down.get_mut(cell as usize) {
            *slot = true;
        }
    }

    pub fn cell_restarted(&mut self, _time_ns: TimeNs, cell: CellIndex) {
        if let Some(slot) = self.down.get_mut(cell as usize) {
            *slot = false;
        }
    }

    /// A violation found by a checker outside the recorder.
    pub fn safety_violation(&mut self, time_ns: TimeNs, description: &str) {
        self.record
            .safety_violations
            .push(format!("at {time_ns} ns: {description}"));
    }

    /// The first divergence a checker outside the recorder found (its text
    /// goes to [`RunRecorder::safety_violation`] too). Called more than once,
    /// the lowest position is kept, the earlier call among equals.
    pub fn first_divergence(&mut self, divergence: DivergenceRecord) {
        let first = &mut self.record.first_divergence;
        if first
            .as_ref()
            .is_none_or(|known| divergence.position < known.position)
        {
            *first = Some(divergence);
        }
    }

    /// Honest cell `cell` found a fork proof of `forker` (two events it
    /// signed, neither the other's self-ancestor). The first time per
    /// (cell, forker) is kept; a dishonest cell's claim is no evidence.
    pub fn fork_detected(&mut self, time_ns: TimeNs, cell: CellIndex, forker: CellIndex) {
        if !self.is_honest(cell) {
            return;
        }
        let detections = &mut self.record.forks_detected;
        match detections
            .iter_mut()
            .find(|known| known.cell == cell && known.forker == forker)
        {
            Some(known) => known.time_ns = known.time_ns.min(time_ns),
            None => detections.push(ForkDetection {
                forker,
                cell,
                time_ns,
            }),
        }
    }

    /// Honest cell `cell` rejected a message or event for `reason` (a fixed
    /// label). A dishonest cell's rejections are not counted.
    pub fn message_rejected(&mut self, cell: CellIndex, reason: &str) {
        if !self.is_honest(cell) {
            return;
        }
        *self
            .record
            .attack
            .rejections
            .entry(reason.to_string())
            .or_default() += 1;
    }

    /// Byzantine cell `cell` acted for `behaviour`. Recorded whoever the
    /// cell is: the actor's own account of its attack.
    pub fn adversary(
        &mut self,
        time_ns: TimeNs,
        cell: CellIndex,
        behaviour: &str,
        act: AdversaryAct,
    ) {
        self.attack
            .adversary(&mut self.record.attack, time_ns, cell, behaviour, act);
    }

    /// Honest cell `cell` ordered TX `id` and its ledger applied it or not
    /// (`tx_ordered` records the order). Only double-spend TXs are kept.
    pub fn tx_applied(&mut self, cell: CellIndex, id: &str, applied: bool) {
        if !self.is_honest(cell) {
            return;
        }
        self.attack
            .tx_applied(&mut self.record.attack, cell, id, applied);
    }

    /// The network adversary's totals over the run: messages dropped, and
    /// messages held and delivered late.
    pub fn network_adversary(&mut self, dropped: u64, delayed: u64) {
        self.record.attack.network_dropped = dropped;
        self.record.attack.network_delayed = delayed;
    }

    /// Forkers some honest cell holds a proof of, ascending.
    pub fn forkers_detected(&self) -> Vec<CellIndex> {
        let mut forkers: Vec<CellIndex> = self
            .record
            .forks_detected
            .iter()
            .map(|detection| detection.forker)
            .collect();
        forkers.sort_unstable();
        forkers.dedup();
        forkers
    }

    /// At the end of the run: the highest reputation (ppm) an honest live
    /// cell gives `forker`.
    pub fn forker_trust(&mut self, forker: CellIndex, trust_ppm: u64) {
        self.record
            .attack
            .forker_trust_ppm
            .insert(forker, trust_ppm);
    }

    /// What the scenario's `identities` sybil identities obtained in each
    /// honest cell live at the end (`standings`, any order).
    pub fn sybil_standings(
        &mut self,
        identities: u64,
        mut standings: Vec<crate::attack::SybilStanding>,
    ) {
        standings.sort_by_key(|standing| standing.cell);
        self.record.attack.sybil_identities = identities;
        self.record.attack.sybil_standings = standings;
    }

    /// Closes the record at the end of the run.
    pub fn finish(
        mut self,
        virtual_duration_ns: TimeNs,
        wall_ms: u64,
        trace_hash: &str,
    ) -> RunRecord {
        let record = &mut self.record;
        record
            .forks_detected
            .sort_unstable_by_key(|fork| (fork.forker, fork.time_ns, fork.cell));
        record.virtual_duration_ns = virtual_duration_ns;
        record.wall_ms = wall_ms;
        record.trace_hash = trace_hash.to_string();
        record.cells_down_at_end = record
            .honest_cells
            .iter()
            .copied()
            .filter(|&cell| self.down[cell as usize])
            .collect();
        let live = record.live_honest_cells();

        record.rounds = self
            .round_decisions
            .iter()
            .map(|(&round, decisions)| {
                let first_decided_ns = decisions.values().copied().min().unwrap_or(0);
                let all_decided_ns = if live.is_empty() {
                    None
                } else {
                    live.iter()
                        .map(|cell| decisions.get(cell).copied())
                        .collect::<Option<Vec<_>>>()
                        .and_then(|times| times.into_iter().max())
                };
                let (unique_famous_witnesses, byzantine_famous_witnesses) =
                    self.famous_witnesses.get(&round).copied().unwrap_or((0, 0));
                RoundRecord {
                    round,
                    first_decided_ns,
                    all_decided_ns,
                    unique_famous_witnesses,
                    byzantine_famous_witnesses,
                }
            })
            .collect();
        record.liveness = liveness_of(&record.rounds, virtual_duration_ns);
        record.liveness.longest_election_rounds =
            self.election_rounds.values().copied().max().unwrap_or(0);
        record.liveness.rounds_with_coin_round = self
            .election_rounds
            .values()
            .filter(|&&rounds| self.coin_round_frequency > 0 && rounds >= self.coin_round_frequency)
            .count() as u64;

        // Buckets without gaps up to the last second of the run (or the last
        // counted second, if observations ran a little past the end).
        let last_second_of_run = virtual_duration_ns.saturating_sub(1) / NS_PER_S;
        let last_second = self
            .counters
            .range(..=last_reported_second(virtual_duration_ns))
            .next_back()
            .map_or(0, |(&second, _)| second)
            .max(last_second_of_run);
        record.counters = (0..=last_second)
            .map(|second| {
                self.counters
                    .get(&second)
                    .copied()
                    .unwrap_or(CounterBucket {
                        second,
                        ..CounterBucket::default()
                    })
            })
            .collect();

        // Two transactions in one position: the order is not a total order.
        let mut by_position: BTreeMap<u64, &str> = BTreeMap::new();
        let mut duplicates = Vec::new();
        for tx in &record.transactions {
            if let Some(order) = tx.order {
                if let Some(other) = by_position.insert(order.position, &tx.id) {
                    duplicates.push(format!(
                        "transactions {other:?} and {:?} share position {} in the total order",
                        tx.id, order.position
                    ));
                }
            }
        }
        record.safety_violations.extend(duplicates);
        self.record
    }
}

/// Last decided round and the longest gap between successive first decisions,
/// counting the run's start and end as boundaries.
pub fn liveness_of(rounds: &[RoundRecord], virtual_duration_ns: TimeNs) -> LivenessRecord {
    let mut decision_times: Vec<TimeNs> = rounds.iter().map(|r| r.first_decided_ns).collect();
    decision_times.sort_unstable();
    let mut longest_stall_ns = 0;
    let mut previous = 0;
    for &time in &decision_times {
        longest_stall_ns = longest_stall_ns.max(time.saturating_sub(previous));
        previous = previous.max(time);
    }
    longest_stall_ns = longest_stall_ns.max(virtual_duration_ns.saturating_sub(previous));
    LivenessRecord {
        last_decided_round: rounds.iter().map(|r| r.round).max(),
        longest_stall_ns,
        last_decision_ns: decision_times.last().copied(),
        longest_election_rounds: 0,
        rounds_with_coin_round: 0,
    }
}

fn keep_earliest(times: &mut BTreeMap<CellIndex, TimeNs>, cell: CellIndex, time_ns: TimeNs) {
    times
        .entry(cell)
        .and_modify(|t| *t = (*t).min(time_ns))
        .or_insert(time_ns);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(position: u64) -> TxOrder {
        TxOrder {
            round_received: 3,
            consensus_timestamp_ns: 100,
            position,
        }
    }

    #[test]
    fn recorder_keeps_earliest_honest_observations_only() {
        let mut recorder = RunRecorder::new("t", 1, 4, [0, 1, 2], 10, Checks::default());
        recorder.tx_submitted(5, 0, "a");
        recorder.tx_received(9, 1, "a");
        recorder.tx_received(7, 1, "a");
        recorder.tx_received(6, 3, "a"); // Byzantine: dropped.
        recorder.tx_received(8, 1, "nope");
        let record = recorder.finish(NS_PER_S, 0, &"0".repeat(64));
        let tx = &record.transactions[0];
        assert_eq!(tx.received_ns, BTreeMap::from([(0, 5), (1, 7)]));
        assert_eq!(record.unknown_tx_observations, 1);
        assert_eq!(record.counters.len(), 1);
        record.validate().unwrap();
    }

    #[test]
    fn disagreeing_orders_and_shared_positions_are_safety_violations() {
        let mut recorder = RunRecorder::new("t", 1, 3, [0, 1, 2], 10, Checks::default());
        recorder.tx_submitted(0, 0, "a");
        recorder.tx_submitted(0, 1, "b");
        recorder.tx_ordered(10, 0, "a", order(0));
        recorder.tx_ordered(11, 1, "a", order(0));
        recorder.tx_ordered(12, 2, "a", order(1));
        recorder.tx_ordered(12, 2, "b", order(0));
        let record = recorder.finish(100, 0, &"a".repeat(64));
        assert_eq!(
            record.safety_violations.len(),
            2,
            "{:?}",
            record.safety_violations
        );
        assert!(record.safety_violations[0].contains("cell 2"));
        assert!(record.safety_violations[1].contains("share position 0"));
    }

    #[test]
    fn the_recorder_keeps_the_lowest_position_divergence() {
        let divergence = |position, time_ns| DivergenceRecord {
            kind: "order".into(),
            round: 2,
            position,
            cells: [0, 1],
            events: [Some("aa".into()), None],
            time_ns,
        };
        let mut recorder = RunRecorder::new("t", 1, 2, [0, 1], 10, Checks::default());
        recorder.first_divergence(divergence(9, 10));
        recorder.first_divergence(divergence(4, 20));
        recorder.first_divergence(divergence(4, 30));
        recorder.first_divergence(divergence(7, 40));
        let record = recorder.finish(100, 0, &"0".repeat(64));
        assert_eq!(record.first_divergence, Some(divergence(4, 20)));
        record.validate().unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""events":["aa",null]"#), "{json}");
    }

    #[test]
    fn fork_detections_keep_each_honest_cells_first_and_summarise_per_forker() {
        let mut recorder = RunRecorder::new("t", 1, 5, [0, 1, 2, 3], 10, Checks::default());
        recorder.fork_detected(900, 2, 4);
        recorder.fork_detected(700, 1, 4);
        recorder.fork_detected(800, 2, 4); // earlier than 900: kept
        recorder.fork_detected(100, 4, 4); // the forker itself, not honest: dropped
        recorder.fork_detected(950, 0, 3);
        let record = recorder.finish(1_000, 0, &"0".repeat(64));
        let keys: Vec<_> = record
            .forks_detected
            .iter()
            .map(|f| (f.forker, f.cell, f.time_ns))
            .collect();
        assert_eq!(keys, vec![(3, 0, 950), (4, 1, 700), (4, 2, 800)]);
        let summaries = crate::summary::fork_summaries(&record.forks_detected);
        assert_eq!(summaries.len(), 2);
        assert_eq!(summaries[1].forker, 4);
        assert_eq!(summaries[1].first_detected_by, 1);
        assert_eq!(summaries[1].first_detected_ns, 700);
        assert_eq!(summaries[1].detected_by, vec![1, 2]);
        let metrics = crate::metrics::Metrics::compute(&record);
        let report = crate::markdown::render_report(&record, &metrics, &[]);
        assert!(
            report.contains("**Fork**: cell 4") && report.contains("cell 1 found the proof first"),
            "{report}"
        );
    }

    #[test]
    fn elections_keep_each_rounds_longest_honest_one_and_count_coin_rounds() {
        let mut recorder = RunRecorder::new("t", 1, 3, [0, 1], 10, Checks::default());
        recorder.coin_round_frequency(4);
        recorder.round_elections(0, 0, 1);
        recorder.round_elections(1, 0, 4); // reached a coin round
        recorder.round_elections(0, 1, 2);
        recorder.round_elections(2, 1, 9); // not honest: ignored
        recorder.round_elections(1, 2, 5);
        let record = recorder.finish(1_000, 0, &"0".repeat(64));
        assert_eq!(record.liveness.longest_election_rounds, 5);
        assert_eq!(record.liveness.rounds_with_coin_round, 2);
    }

    #[test]
    fn rounds_decided_by_all_live_honest_cells_and_stalls() {
        let mut recorder = RunRecorder::new("t", 1, 3, [0, 1, 2], 10, Checks::default());
        recorder.round_decided(100, 0, 1);
        recorder.round_decided(150, 1, 1);
        recorder.cell_crashed(200, 2);
        recorder.round_decided(900, 0, 2);
        recorder.round_decided(950, 1, 2);
        let record = recorder.finish(1_000, 0, &"f".repeat(64));
        assert_eq!(record.cells_down_at_end, vec![2]);
        assert_eq!(record.rounds[0].all_decided_ns, Some(150));
        assert_eq!(record.rounds[1].first_decided_ns, 900);
        assert_eq!(record.liveness.last_decided_round, Some(2));
        assert_eq!(record.liveness.longest_stall_ns, 800);
    }

    #[test]
    fn counts_far_after_the_end_are_dropped() {
        let mut recorder = RunRecorder::new("t", 1, 1, [0], 10, Checks::default());
        recorder.count(500, Counter::MessagesSent, 2);
        recorder.count(3 * NS_PER_S, Counter::MessagesSent, 1);
        recorder.count(u64::MAX, Counter::MessagesSent, 1);
        let record = recorder.finish(2 * NS_PER_S, 0, &"0".repeat(64));
        assert_eq!(record.counters.len(), 4);
        assert_eq!(record.counters[0].messages_sent, 2);
        assert_eq!(record.counters[3].messages_sent, 1);
    }

    #[test]
    fn validation_rejects_bad_records() {
        let recorder = RunRecorder::new("t", 1, 2, [0, 1], 10, Checks::default());
        let mut record = recorder.finish(100, 0, "xyz");
        assert!(matches!(record.validate(), Err(RecordError::TraceHash(_))));
        record.trace_hash = "0".repeat(64);
        record.honest_cells = vec![0, 5];
        assert!(matches!(
            record.validate(),
            Err(RecordError::HonestCellOutOfRange { cell: 5, .. })
        ));
        record.honest_cells = vec![1, 0];
        assert_eq!(record.validate(), Err(RecordError::HonestCellsUnordered));
        record.honest_cells = vec![0];
        record.cells_down_at_end = vec![1];
        assert_eq!(record.validate(), Err(RecordError::CellsDownInvalid));
        record.cells_down_at_end = vec![];
        record.virtual_duration_ns = u64::MAX;
        assert!(matches!(
            record.validate(),
            Err(RecordError::DurationTooLong(_))
        ));
        record.virtual_duration_ns = 100;
        record.validate().unwrap();
    }
}
