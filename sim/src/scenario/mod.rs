//! Scenario files: the TOML a protocol engineer writes, parsed into a fully
//! validated [`Scenario`] before anything runs.
//!
//! Every quantity is already an integer where it can decide something
//! (durations in ns, bandwidth in bits per second, rates as reduced fractions,
//! Byzantine shares in parts per million); network probabilities are `f64`
//! checked to lie in `0..=1`, with
//! [`core::rng::Probability`](celluler_core::rng::Probability) conversions for
//! the deciding path. Cell groups are sorted, duplicate-free cell indices, all
//! below `cells.count`. Field by field documentation: `docs/scenarios.md`.
//!
//! Invalid input gives one [`ScenarioError`] with file, line and column; the
//! parser never panics and never allocates from a number in the file before
//! checking it against the cell count.

mod convert;
mod error;
pub mod overrides;
mod parse;
pub mod shrink;
pub mod units;

use std::path::Path;

use celluler_core::rng::Probability;
use celluler_core::time::TimeNs;
use serde::Serialize;

pub use error::ScenarioError;
pub use units::Rate;

/// Largest scenario file we read; a scenario is a page of settings.
pub const FILE_BYTES_MAX: usize = 1 << 20;
/// Most cells one scenario may hold.
pub const CELLS_MAX: u32 = 100_000;
/// Most regions in a latency matrix.
pub const REGIONS_MAX: usize = 64;
/// Most workload clients (non-member accounts) one scenario may hold.
pub const CLIENTS_MAX: u32 = 100_000;

/// A cell's position, `0..cells.count`.
pub type CellIndex = u32;

/// A fully validated scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scenario {
    pub name: String,
    pub seed: u64,
    /// Virtual time the run lasts.
    pub duration_ns: TimeNs,
    pub cells: Cells,
    pub consensus: Consensus,
    pub network: Network,
    pub workload: Workload,
    /// In file order.
    pub faults: Vec<Fault>,
    pub byzantine: Byzantine,
    pub checks: Checks,
    /// The claims an attack run is judged by; every one unset by default.
    pub expect: Expect,
    /// Reputation-based access control of every cell; open by default.
    pub access: Access,
    /// The market layer's settings; `None` when the file has no `[markets]`.
    pub markets: Option<Markets>,
    /// `[[agents]]` blocks in file order; every cell hosts at most one agent.
    pub agents: Vec<AgentBlock>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cells {
    pub count: u32,
    /// Consensus stake of every cell (Hashgraph's weighted votes).
    pub stake: u64,
    /// PRANA each cell holds at genesis.
    pub genesis_balance: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Consensus {
    /// How often each cell gossips a sync to a random peer.
    pub gossip_interval_ns: TimeNs,
    /// Hashgraph's `c`: every c-th round of a fame election is a coin round.
    pub coin_round_frequency: u32,
    /// Whether the requester of a sync pushes back what the responder
    /// lacks (`"push-pull"`) or not (`"pull"`).
    pub sync: celluler_core::cell::SyncMode,
    /// Whom each cell's gossip timer picks: `"random"`, `"least-recent"`
    /// or `"stake-weighted"`.
    pub peer_selection: celluler_core::cell::PeerSelection,
    /// Most events one sync response or push carries; `None`: all.
    pub max_events_per_sync: Option<u32>,
    /// Most transactions one event carries.
    pub max_transactions_per_event: u32,
    /// Most encoded bytes of transactions one event carries (a longer
    /// transaction is refused when submitted).
    pub max_event_bytes: u32,
    /// Least fee a TX must pay (the ledger rejects one that pays less).
    pub min_fee: u64,
    /// Where each cell's consensus keeps its events and decisions:
    /// `"shared"` (views over one arena) or `"independent"` (an engine per
    /// cell). Both give the same run.
    pub store: crate::arena::StoreMode,
    /// How each cell's consensus stake is set: `[cells] stake` each, or its
    /// genesis PRANA.
    pub stake: StakeRule,
}

/// `[consensus] stake`: where each member's consensus stake comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum StakeRule {
    /// Every cell has `[cells] stake` (`"equal"`, the default).
    Equal,
    /// Every cell's stake is its genesis PRANA (`"prana"`): `[cells]
    /// genesis_balance`, or its `[[markets.genesis]]` block's `prana`.
    Prana,
}

impl StakeRule {
    pub const ALL: [StakeRule; 2] = [StakeRule::Equal, StakeRule::Prana];

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        match self {
            StakeRule::Equal => "equal",
            StakeRule::Prana => "prana",
        }
    }
}

/// A latency distribution; all times in ns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Distribution {
    Constant {
        value_ns: TimeNs,
    },
    /// Uniform in `min_ns..=max_ns`.
    Uniform {
        min_ns: TimeNs,
        max_ns: TimeNs,
    },
    /// Normal, clamped at 0.
    Normal {
        mean_ns: TimeNs,
        stddev_ns: TimeNs,
    },
    /// `median · e^(sigma·Z)`.
    LogNormal {
        median_ns: TimeNs,
        sigma: f64,
    },
    /// Pareto type I: `scale / U^(1/shape)`, never below `scale`.
    Pareto {
        scale_ns: TimeNs,
        shape: f64,
    },
}

/// Where one message's delay comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Latency {
    /// Every pair of cells draws from the same distribution.
    Uniform(Distribution),
    /// Cells belong to regions; a pair draws from `matrix[from][to]`.
    Regions(Regions),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regions {
    /// In file order; a region's index is its position here.
    pub names: Vec<String>,
    /// `region_of_cell[cell]` is an index into `names`; every cell has one.
    pub region_of_cell: Vec<u32>,
    /// `matrix[from_region][to_region]`, square, `names.len()` wide.
    pub matrix: Vec<Vec<Distribution>>,
}

impl Regions {
    pub fn distribution(&self, from: CellIndex, to: CellIndex) -> &Distribution {
        let from_region = self.region_of_cell[from as usize] as usize;
        let to_region = self.region_of_cell[to as usize] as usize;
        &self.matrix[from_region][to_region]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Topology {
    /// Every cell links to every other.
    FullMesh,
    /// Every cell has exactly `degree` neighbours, drawn by the seeded RNG.
    RandomRegular { degree: u32 },
    /// Watts–Strogatz: a ring with `neighbors` nearest neighbours (even), each
    /// edge rewired with probability `rewire` (`0..=1`).
    SmallWorld { neighbors: u32, rewire: f64 },
    /// Barabási–Albert: each new cell attaches `edges` links preferentially.
    ScaleFree { edges: u32 },
    /// Exactly these undirected links, sorted, `from < to`, no duplicates.
    Edges(Vec<(CellIndex, CellIndex)>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Network {
    pub latency: Latency,
    /// Probability each message is lost, `0..=1`.
    pub loss: f64,
    /// Probability each delivered message is delivered twice, `0..=1`.
    pub duplicate: f64,
    /// Per-link bandwidth in bits per second; `None` is unlimited.
    pub bandwidth_bits_per_second: Option<u64>,
    /// Bytes that may wait on one link behind its bandwidth; a message that
    /// would exceed it is dropped. `None` is unbounded. Needs a bandwidth.
    pub queue_limit_bytes: Option<u64>,
    pub topology: Topology,
}

impl Network {
    pub fn loss_probability(&self) -> Probability {
        probability(self.loss)
    }

    pub fn duplicate_probability(&self) -> Probability {
        probability(self.duplicate)
    }
}

/// A validated `0..=1` value as the integer threshold the deciding path uses.
pub fn probability(value: f64) -> Probability {
    let converted = Probability::from_f64(value);
    assert!(
        converted.is_some(),
        "probability {value} escaped validation"
    );
    converted.unwrap_or(Probability::NEVER)
}

/// Relative weights of the non-TX messages cells send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MessageMix {
    pub chat: u32,
    pub auth: u32,
    pub post: u32,
    pub query: u32,
    pub exec: u32,
}

impl MessageMix {
    pub fn total(&self) -> u64 {
        [self.chat, self.auth, self.post, self.query, self.exec]
            .iter()
            .map(|&weight| u64::from(weight))
            .sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workload {
    /// TXs submitted per unit time, over all submitters together.
    pub tx_rate: Rate,
    /// Cells that submit TXs, spread by the RNG; default every honest cell.
    pub submitters: Option<Vec<CellIndex>>,
    /// Other signed messages (CHAT, AUTH, POST, QUERY, EXEC) per unit time.
    pub message_rate: Rate,
    pub message_mix: MessageMix,
    /// Accounts that are not consensus members: each signs its own TXs and
    /// submits them through an entry cell. `0..=CLIENTS_MAX`, default 0.
    pub clients: u32,
    /// Cells clients submit through; `None` is every honest cell. Only set
    /// when `clients > 0`.
    pub entry: Option<Vec<CellIndex>>,
    /// A client resubmits through another entry cell when its TX is not
    /// ordered this long after it was submitted. More than 0.
    pub retry_after_ns: TimeNs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Direction {
    /// Messages both ways between `from` and `to` are affected.
    Both,
    /// Only messages from a `from` cell to a `to` cell.
    OneWay,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Fault {
    /// From `at` until `heal` (or the end), only cells in the same group talk.
    Partition {
        at_ns: TimeNs,
        heal_ns: Option<TimeNs>,
        /// Disjoint, together covering every cell.
        groups: Vec<Vec<CellIndex>>,
    },
    /// The cells stop at `at`, lose what they have not persisted, and start
    /// again from their journals at `restart` (or never).
    Crash {
        cells: Vec<CellIndex>,
        at_ns: TimeNs,
        restart_ns: Option<TimeNs>,
    },
    /// Degrades the links between two groups of cells.
    Link {
        from: Vec<CellIndex>,
        to: Vec<CellIndex>,
        at_ns: TimeNs,
        until_ns: Option<TimeNs>,
        /// Replaces the network's loss on these links.
        loss: Option<f64>,
        /// Added to the latency each message on these links draws.
        extra_latency: Option<Distribution>,
        direction: Direction,
    },
    /// The cells' local clocks read `virtual + offset + drift·elapsed` from `at`.
    ClockSkew {
        cells: Vec<CellIndex>,
        at_ns: TimeNs,
        offset_ns: i64,
        /// Parts per million the clock runs fast (positive) or slow.
        drift_ppm: i32,
    },
    /// The cells receive and act on nothing from `at` until `until`; messages
    /// to them queue and are handled on resume.
    Pause {
        cells: Vec<CellIndex>,
        at_ns: TimeNs,
        until_ns: TimeNs,
    },
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Partition { .. } => "partition",
            Fault::Crash { .. } => "crash",
            Fault::Link { .. } => "link",
            Fault::ClockSkew { .. } => "clock-skew",
            Fault::Pause { .. } => "pause",
        }
    }

    pub fn at_ns(&self) -> TimeNs {
        match self {
            Fault::Partition { at_ns, .. }
            | Fault::Crash { at_ns, .. }
            | Fault::Link { at_ns, .. }
            | Fault::ClockSkew { at_ns, .. }
            | Fault::Pause { at_ns, .. } => *at_ns,
        }
    }

    /// Short human form: `crash of 5 cells at 10s, restarted at 25s`.
    pub fn describe(&self) -> String {
        let cells = |cells: &[CellIndex]| {
            format!(
                "{} cell{}",
                cells.len(),
                if cells.len() == 1 { "" } else { "s" }
            )
        };
        let ending = |verb: &str, end: Option<TimeNs>| {
            end.map(|end| format!(", {verb} {}", format_duration(end)))
                .unwrap_or_default()
        };
        match self {
            Fault::Partition {
                at_ns,
                heal_ns,
                groups,
            } => format!(
                "partition into {} groups at {}{}",
                groups.len(),
                format_duration(*at_ns),
                ending("healed at", *heal_ns)
            ),
            Fault::Crash {
                cells: crashed,
                at_ns,
                restart_ns,
            } => format!(
                "crash of {} at {}{}",
                cells(crashed),
                format_duration(*at_ns),
                ending("restarted at", *restart_ns)
            ),
            Fault::Link {
                from,
                to,
                at_ns,
                until_ns,
                loss,
                extra_latency,
                direction,
            } => {
                let mut effects = Vec::new();
                if let Some(loss) = loss {
                    effects.push(format!("{}% loss", format_number(loss * 100.0)));
                }
                if let Some(latency) = extra_latency {
                    effects.push(format!("+{} latency", latency.describe()));
                }
                format!(
                    "link fault {} {} {} ({}) at {}{}",
                    cells(from),
                    if *direction == Direction::Both {
                        "<->"
                    } else {
                        "->"
                    },
                    cells(to),
                    effects.join(", "),
                    format_duration(*at_ns),
                    ending("until", *until_ns)
                )
            }
            Fault::ClockSkew {
                cells: skewed,
                at_ns,
                offset_ns,
                drift_ppm,
            } => format!(
                "clock skew of {} ({}{}, {drift_ppm} ppm) from {}",
                cells(skewed),
                if *offset_ns < 0 { "-" } else { "+" },
                format_duration(offset_ns.unsigned_abs()),
                format_duration(*at_ns)
            ),
            Fault::Pause {
                cells: paused,
                at_ns,
                until_ns,
            } => format!(
                "pause of {} at {} until {}",
                cells(paused),
                format_duration(*at_ns),
                format_duration(*until_ns)
            ),
        }
    }

    /// When the fault stops, if it does.
    pub fn end_ns(&self) -> Option<TimeNs> {
        match self {
            Fault::Partition { heal_ns, .. } => *heal_ns,
            Fault::Crash { restart_ns, .. } => *restart_ns,
            Fault::Link { until_ns, .. } => *until_ns,
            Fault::ClockSkew { .. } => None,
            Fault::Pause { until_ns, .. } => Some(*until_ns),
        }
    }
}

/// Which cells are Byzantine, and what each does when.
///
/// Two file forms. The table `[byzantine]` (`count = N` for the last N cells,
/// or `cells = ...`) labels cells that run honest code and are left out of the
/// honest metrics; `behaviours` is then empty. The array `[[byzantine]]` gives
/// one [`BehaviourBlock`] per entry; a cell may appear in several.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Byzantine {
    /// Sorted, without duplicates; empty when every cell is honest. With
    /// behaviour blocks: the union of their cells. A cell with any behaviour is
    /// Byzantine for the whole run, not only inside its windows.
    pub cells: Vec<CellIndex>,
    /// In file order.
    pub behaviours: Vec<BehaviourBlock>,
}

impl Byzantine {
    /// The blocks that give `cell` a behaviour, in file order.
    pub fn blocks_of(&self, cell: CellIndex) -> impl Iterator<Item = &BehaviourBlock> {
        self.behaviours
            .iter()
            .filter(move |block| block.cells.binary_search(&cell).is_ok())
    }
}

/// One `[[byzantine]]` entry: these cells behave so during the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BehaviourBlock {
    /// Sorted, without duplicates, never empty. For `eclipse` and `delay`, the
    /// coalition acting together.
    pub cells: Vec<CellIndex>,
    /// The window opens here (default 0), before the end of the run.
    pub from_ns: TimeNs,
    /// The window closes here, after `from_ns` and at most the run's
    /// duration; `None` is the end of the run.
    pub until_ns: Option<TimeNs>,
    pub behaviour: Behaviour,
    /// 1-based line of the block in the scenario file, for messages.
    pub line: u32,
}

impl BehaviourBlock {
    /// Whether the window `from_ns .. until_ns` (end excluded) holds `time_ns`.
    pub fn is_active_at(&self, time_ns: TimeNs) -> bool {
        time_ns >= self.from_ns && self.until_ns.is_none_or(|until_ns| time_ns < until_ns)
    }

    /// Short human form: `equivocate on 12..16 from 5s until 40s`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} on {}", self.behaviour.name(), format_cells(&self.cells));
        // Whom a coalition acts on is part of what it does.
        match &self.behaviour {
            Behaviour::Eclipse { victims, .. } => {
                text.push_str(&format!(" around {}", format_cells(victims)));
            }
            Behaviour::Delay {
                victims: Some(victims),
                ..
            } => text.push_str(&format!(" towards {}", format_cells(victims))),
            Behaviour::Sybil {
                identities,
                attack_edges,
                rate,
            } => text.push_str(&format!(
                " ({identities} identities, {attack_edges} attack edge{}, CHATs at {}/s per cell)",
                if *attack_edges == 1 { "" } else { "s" },
                format_number(rate.per_second())
            )),
            _ => {}
        }
        if self.from_ns > 0 {
            text.push_str(&format!(" from {}", format_duration(self.from_ns)));
        }
        if let Some(until_ns) = self.until_ns {
            text.push_str(&format!(" until {}", format_duration(until_ns)));
        }
        text
    }
}

/// What a Byzantine cell does instead of (or on top of) the honest protocol.
/// Every parameter is exact: durations in ns, rates as [`Rate`], shares in
/// parts per million. Meanings and defaults: `docs/scenarios.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Behaviour {
    /// Creates `branches` twin events on each self-parent and sends each branch
    /// to a disjoint set of peers. `2..=8`.
    Equivocate { branches: u32 },
    /// Holds its own events `hold_ns`, then releases them in one burst.
    Withhold {
        hold_ns: TimeNs,
        release: WithholdRelease,
    },
    /// The coalition surrounds `victims` (disjoint from the block's cells) and
    /// drops, or delays by `delay_ns`, what passes between them and the rest.
    Eclipse {
        victims: Vec<CellIndex>,
        mode: EclipseMode,
        /// Used with [`EclipseMode::Delay`] only.
        delay_ns: TimeNs,
    },
    /// An adversarial scheduler: holds messages `hold_ns` on the links the
    /// coalition controls (those touching its cells, and those touching
    /// `victims`), for `share_ppm` of the honest cells' traffic.
    Delay {
        hold_ns: TimeNs,
        /// `None`: no listed links, only links touching the coalition.
        victims: Option<Vec<CellIndex>>,
        /// Parts per million of honest cells whose traffic is held, `0..=1_000_000`.
        share_ppm: u32,
    },
    /// Adds `offset_ns` (non-zero) to every timestamp the cell claims in its events.
    TimestampSkew { offset_ns: i64 },
    /// As an entry cell, drops or holds the TXs of `clients`.
    Censor {
        /// Client indices `0..workload.clients`; `None` is every client.
        clients: Option<Vec<u32>>,
        mode: CensorMode,
        /// Used with [`CensorMode::Hold`] only.
        hold_ns: TimeNs,
    },
    /// Orders its own TX ahead of each TX it sees from `victims`, paying
    /// `fee_bump` more.
    FrontRun {
        /// `None`: every honest cell.
        victims: Option<Vec<CellIndex>>,
        fee_bump: u64,
    },
    /// Floods valid-looking TXs or events at `rate` (more than 0).
    Spam { rate: Rate, kind: SpamKind },
    /// Sends invalid messages of `kinds` (sorted, distinct, non-empty) at
    /// `rate` (more than 0).
    Garbage { rate: Rate, kinds: Vec<GarbageKind> },
    /// Runs `identities` non-member identities (spread over the block's
    /// cells, which carry their traffic), which send CHATs to honest cells
    /// at `rate` (0: none); `attack_edges` honest cells each vouch for one of
    /// them (an AUTH exchange their user starts).
    Sybil {
        identities: u32,
        attack_edges: u32,
        rate: Rate,
    },
    /// At `at_ns` (inside the window) signs two conflicting transfers with one
    /// nonce to two different honest cells on the two sides.
    DoubleSpend {
        at_ns: TimeNs,
        /// `None`: its whole balance.
        amount: Option<u64>,
    },
    /// A cheating compute provider: each EXEC result the cell sends is
    /// wrong (its output's first byte flipped, signed with the cell's key)
    /// with probability `share_ppm`.
    WrongExec { share_ppm: u32 },
}

impl Behaviour {
    /// The name a scenario file uses: `"timestamp-skew"`.
    pub fn name(&self) -> &'static str {
        match self {
            Behaviour::Equivocate { .. } => "equivocate",
            Behaviour::Withhold { .. } => "withhold",
            Behaviour::Eclipse { .. } => "eclipse",
            Behaviour::Delay { .. } => "delay",
            Behaviour::TimestampSkew { .. } => "timestamp-skew",
            Behaviour::Censor { .. } => "censor",
            Behaviour::FrontRun { .. } => "front-run",
            Behaviour::Spam { .. } => "spam",
            Behaviour::Garbage { .. } => "garbage",
            Behaviour::Sybil { .. } => "sybil",
            Behaviour::DoubleSpend { .. } => "double-spend",
            Behaviour::WrongExec { .. } => "wrong-exec",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum WithholdRelease {
    /// Each held event is released, with everything held with it, after `hold`.
    Burst,
    /// Nothing is released while the window is open; all of it in one burst
    /// when it closes.
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EclipseMode {
    Drop,
    Delay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CensorMode {
    Drop,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum SpamKind {
    /// Transactions (`"tx"`).
    Transactions,
    /// Events (`"events"`).
    Events,
}

/// Kinds of invalid message, in the order the file syntax lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum GarbageKind {
    /// Bytes that do not decode (`"malformed"`).
    Malformed,
    /// Well formed, signature does not verify (`"bad-signature"`).
    BadSignature,
    /// A valid message sent again (`"replay"`).
    Replay,
    /// A valid message with a field changed after signing (`"mutated"`).
    Mutated,
}

/// `[access]`: the least reputation (parts per million of the total, in
/// the receiving cell's own trust network) a sender needs for each kind of
/// direct message. 0 (the default) leaves it open to every cell except a
/// proven forker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Access {
    pub chat_min_ppm: u32,
    pub auth_min_ppm: u32,
    pub query_min_ppm: u32,
    pub exec_min_ppm: u32,
}

impl Access {
    /// The cells' access policy.
    pub fn policy(&self) -> celluler_core::trust::AccessPolicy {
        use celluler_core::trust::AccessAction;
        [
            (AccessAction::Chat, self.chat_min_ppm),
            (AccessAction::Auth, self.auth_min_ppm),
            (AccessAction::Query, self.query_min_ppm),
            (AccessAction::Exec, self.exec_min_ppm),
        ]
        .into_iter()
        .filter(|&(_, ppm)| ppm > 0)
        .fold(
            celluler_core::trust::AccessPolicy::default(),
            |policy, (action, ppm)| policy.with_threshold(action, u64::from(ppm)),
        )
    }
}

/// Most exchange tokens one scenario lists.
pub const MARKET_TOKENS_MAX: usize = 16;
/// Longest exchange token name, in bytes.
pub const TOKEN_NAME_BYTES_MAX: usize = 32;
/// Most `[[markets.genesis]]` blocks, and most `[[agents]]` blocks.
pub const MARKET_BLOCKS_MAX: usize = 256;
/// Largest price (PRANA per unit, or per unit per interval) a scenario
/// gives: prices times quantities stay far inside `u128`, and a price a
/// person writes is never near `u64::MAX`.
pub const PRICE_MAX: u64 = 1_000_000_000_000;
/// Largest quantity (tokens, compute units, storage blocks) one agent
/// parameter gives.
pub const QUANTITY_MAX: u64 = 1_000_000_000;
/// Most wakes a momentum agent looks back (it keeps that many prices).
pub const LOOKBACK_WAKES_MAX: u32 = 10_000;
/// Most lease intervals a consumer asks for at once.
pub const LEASE_INTERVALS_MAX: u32 = 1_000_000;
/// Most work units one EXEC task of a consumer asks for.
pub const EXEC_WORK_MAX: u32 = 1_000_000;

/// `[markets]`: the exchange's tokens and the lease markets' clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Markets {
    /// Exchange tokens, each traded against PRANA in its own order book; a
    /// token's index here is its id. Empty: no exchange.
    pub tokens: Vec<String>,
    /// Per token, the public fundamental price in PRANA per unit (`None`
    /// when the file gives none). As long as `tokens`.
    pub fundamental: Vec<Option<u64>>,
    /// Lease payments and storage challenges happen once per interval of
    /// consensus time. More than 0.
    pub interval_ns: TimeNs,
    /// How long a storage challenge may go unanswered before the provider
    /// is slashed. More than 0.
    pub challenge_window_ns: TimeNs,
    /// In file order; no cell is in two blocks.
    pub genesis: Vec<MarketGenesis>,
}

impl Default for Markets {
    /// The settings of a scenario without `[markets]`: no exchange, 1 s
    /// intervals, 3 s challenge window, no extra genesis.
    fn default() -> Markets {
        Markets {
            tokens: Vec::new(),
            fundamental: Vec::new(),
            interval_ns: celluler_core::time::NS_PER_S,
            challenge_window_ns: 10 * celluler_core::time::NS_PER_S,
            genesis: Vec::new(),
        }
    }
}

impl Markets {
    /// The genesis block that names `cell`, if any.
    pub fn genesis_of(&self, cell: CellIndex) -> Option<&MarketGenesis> {
        self.genesis
            .iter()
            .find(|block| block.cells.binary_search(&cell).is_ok())
    }
}

/// One `[[markets.genesis]]` block: what these cells hold at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarketGenesis {
    /// Sorted, without duplicates, never empty.
    pub cells: Vec<CellIndex>,
    /// Each cell's PRANA (replaces `[cells] genesis_balance` for them).
    pub prana: u64,
    /// Each cell's balance of every exchange token, by token index.
    pub tokens: Vec<u64>,
}

/// What kind of market participant an agent is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AgentKind {
    NoiseTrader,
    MarketMaker,
    Momentum,
    Value,
    ComputeProvider,
    StorageProvider,
    Consumer,
    FrontRunner,
}

impl AgentKind {
    /// In the order the file syntax lists them.
    pub const ALL: [AgentKind; 8] = [
        AgentKind::NoiseTrader,
        AgentKind::MarketMaker,
        AgentKind::Momentum,
        AgentKind::Value,
        AgentKind::ComputeProvider,
        AgentKind::StorageProvider,
        AgentKind::Consumer,
        AgentKind::FrontRunner,
    ];

    /// The name a scenario file uses: `"noise-trader"`.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::NoiseTrader => "noise-trader",
            AgentKind::MarketMaker => "market-maker",
            AgentKind::Momentum => "momentum",
            AgentKind::Value => "value",
            AgentKind::ComputeProvider => "compute-provider",
            AgentKind::StorageProvider => "storage-provider",
            AgentKind::Consumer => "consumer",
            AgentKind::FrontRunner => "front-runner",
        }
    }

    /// Whether it trades on the exchange (and needs `[markets] tokens`).
    pub fn trades_tokens(self) -> bool {
        matches!(
            self,
            AgentKind::NoiseTrader
                | AgentKind::MarketMaker
                | AgentKind::Momentum
                | AgentKind::Value
                | AgentKind::FrontRunner
        )
    }
}

/// The two lease markets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum LeaseMarket {
    /// Compute units per interval, used through EXEC tasks.
    Compute,
    /// Storage blocks, checked by per-interval challenges.
    Storage,
}

impl LeaseMarket {
    pub fn name(self) -> &'static str {
        match self {
            LeaseMarket::Compute => "compute",
            LeaseMarket::Storage => "storage",
        }
    }
}

/// One `[[agents]]` block: one agent of `kind` on each of `cells`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentBlock {
    pub kind: AgentKind,
    /// Sorted, without duplicates, never empty; no cell is in two blocks.
    pub cells: Vec<CellIndex>,
    /// How often each agent wakes (Poisson arrivals). More than 0.
    pub rate: Rate,
    /// The kind's parameters, every default filled in.
    pub params: AgentParams,
}

/// An agent kind's parameters, all integers: prices in PRANA, shares in
/// parts per million, durations in ns. Meanings and defaults:
/// `docs/scenarios.md`, and [`crate::agents`] for what each agent does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AgentParams {
    NoiseTrader(NoiseTraderParams),
    MarketMaker(MarketMakerParams),
    Momentum(MomentumParams),
    Value(ValueParams),
    ComputeProvider(ComputeProviderParams),
    StorageProvider(StorageProviderParams),
    Consumer(ConsumerParams),
    FrontRunner(FrontRunnerParams),
}

impl AgentParams {
    pub fn kind(&self) -> AgentKind {
        match self {
            AgentParams::NoiseTrader(_) => AgentKind::NoiseTrader,
            AgentParams::MarketMaker(_) => AgentKind::MarketMaker,
            AgentParams::Momentum(_) => AgentKind::Momentum,
            AgentParams::Value(_) => AgentKind::Value,
            AgentParams::ComputeProvider(_) => AgentKind::ComputeProvider,
            AgentParams::StorageProvider(_) => AgentKind::StorageProvider,
            AgentParams::Consumer(_) => AgentKind::Consumer,
            AgentParams::FrontRunner(_) => AgentKind::FrontRunner,
        }
    }

    /// The exchange token it trades, for the kinds that trade one.
    pub fn token(&self) -> Option<u16> {
        match self {
            AgentParams::NoiseTrader(params) => Some(params.token),
            AgentParams::MarketMaker(params) => Some(params.token),
            AgentParams::Momentum(params) => Some(params.token),
            AgentParams::Value(params) => Some(params.token),
            AgentParams::FrontRunner(params) => Some(params.token),
            AgentParams::ComputeProvider(_)
            | AgentParams::StorageProvider(_)
            | AgentParams::Consumer(_) => None,
        }
    }
}

/// `noise-trader`: random orders around the reference price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NoiseTraderParams {
    /// Index into `[markets] tokens` (default 0).
    pub token: u16,
    /// Each order's quantity is uniform in `1..=quantity_max` (default 10).
    pub quantity_max: u64,
    /// Share of its orders that are limit orders, the rest market orders
    /// (`limit_share`, default 0.7).
    pub limit_share_ppm: u32,
    /// Limit prices are uniform within ± this share of the reference price
    /// (`price_range`, default 0.05).
    pub price_range_ppm: u32,
}

/// `market-maker`: a bid and an ask around the reference price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarketMakerParams {
    pub token: u16,
    /// PRANA between its ask and its bid, at least 1 (default 4).
    pub spread: u64,
    /// Quantity of each quote (default 10).
    pub quantity: u64,
    /// Largest net position (tokens held minus tokens held at its first
    /// wake), either way, that a filled quote may reach (default 200).
    pub inventory_max: u64,
}

/// `momentum`: follows the trend of the last trade price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MomentumParams {
    pub token: u16,
    /// Compares the latest price with the one this many wakes earlier
    /// (default 5).
    pub lookback: u32,
    /// Quantity of each market order (default 5).
    pub quantity: u64,
    /// Least relative move that counts as a trend (`threshold`, default
    /// 0.01).
    pub threshold_ppm: u32,
}

/// `value`: trades towards the fundamental price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ValueParams {
    pub token: u16,
    /// The price it believes (default: `[markets] fundamental` of its token).
    pub fundamental: u64,
    /// Least relative mispricing it trades on (`threshold`, default 0.02).
    pub threshold_ppm: u32,
    /// Quantity of each order (default 5).
    pub quantity: u64,
}

/// `compute-provider`: offers compute units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ComputeProviderParams {
    /// Units offered per interval (default 100).
    pub units: u64,
    /// PRANA per unit per interval (default 2).
    pub price: u64,
    /// PRANA locked as collateral, slashed on a proven wrong result
    /// (default 10000).
    pub collateral: u64,
}

/// `storage-provider`: offers storage blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StorageProviderParams {
    /// Blocks offered (default 64).
    pub blocks: u64,
    /// PRANA per block per interval (default 1).
    pub price: u64,
    /// PRANA locked as collateral, slashed on a missed challenge (default
    /// 10000).
    pub collateral: u64,
}

/// `consumer`: leases compute or storage and uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConsumerParams {
    /// Which market it leases from (default compute).
    pub market: LeaseMarket,
    /// Units or blocks per lease (default 10).
    pub amount: u64,
    /// Intervals per lease (default 10).
    pub intervals: u32,
    /// Highest price per unit (or block) per interval it pays (default 5).
    pub price_max: u64,
    /// Least trust, in its home cell's trust network, a provider needs
    /// (`trust_min`, default 0).
    pub trust_min_ppm: u32,
    /// Work units of each EXEC task (default 1000).
    pub work: u32,
    /// An EXEC unanswered this long counts as a failure (default 3 s).
    pub exec_timeout_ns: TimeNs,
}

/// `front-runner`: buys ahead of large pending bids it learns of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FrontRunnerParams {
    pub token: u16,
    /// Smallest pending victim bid it reacts to (default 10).
    pub quantity_min: u64,
    /// Quantity it buys ahead (default 10).
    pub quantity: u64,
}

/// The keys of `[checks]`, in the order a run's report lists them.
pub const CHECK_KEYS: [&str; 7] = [
    "safety",
    "liveness",
    "max_finality_p99",
    "min_throughput_tps",
    "max_stall",
    "max_inversion_rate",
    "max_timestamp_band_violations",
];

/// `[expect]`: what an attack run claims. `None` makes no claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Expect {
    /// No two honest cells ever decide different orders.
    pub agreement: Option<bool>,
    /// No double spend is finalised and PRANA is conserved.
    pub state: Option<bool>,
    /// Rounds keep being decided.
    pub liveness: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checks {
    /// No two honest cells decide different orders.
    pub safety: bool,
    /// Consensus keeps deciding rounds to the end of the run.
    pub liveness: bool,
    pub max_finality_p99_ns: Option<TimeNs>,
    pub min_throughput_tps: Option<f64>,
    /// Longest gap between consecutive first round decisions at most this.
    pub max_stall_ns: Option<TimeNs>,
    /// Fairness inversion rate (0 ..= 1) at most this.
    pub max_inversion_rate: Option<f64>,
    /// Transactions whose consensus timestamp left the receive band, at most this.
    pub max_timestamp_band_violations: Option<u64>,
}

impl Scenario {
    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
        parse::parse(file, text)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&path.display().to_string(), &Scenario::read_text(path)?)
    }

    /// Reads and validates a scenario file with `settings` applied (`--set`).
    pub fn load_with_settings(
        path: &Path,
        settings: &[overrides::Setting],
    ) -> Result<Scenario, ScenarioError> {
        overrides::with_settings(
            &path.display().to_string(),
            &Scenario::read_text(path)?,
            settings,
        )
    }

    /// A scenario file's text: bounded in size, UTF-8.
    pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
        let file = path.display().to_string();
        let metadata = std::fs::metadata(path)
            .map_err(|error| ScenarioError::whole_file(&file, format!("cannot read: {error}")))?;
        if metadata.len() > FILE_BYTES_MAX as u64 {
            return Err(ScenarioError::whole_file(
                &file,
                format!(
                    "file is {} bytes; scenario files are at most {FILE_BYTES_MAX}",
                    metadata.len()
                ),
            ));
        }
        let bytes = std::fs::read(path)
            .map_err(|error| ScenarioError::whole_file(&file, format!("cannot read: {error}")))?;
        String::from_utf8(bytes)
            .map_err(|_| ScenarioError::whole_file(&file, "file is not UTF-8 text"))
    }

    /// The same scenario under another seed (`celluler run --seed N`).
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.seed = seed;
        self
    }

    /// The honest baseline of an attack: the same scenario and seed with
    /// the same Byzantine cells present but silent — honest code, no
    /// behaviour (of a cell or on links), no workload from them (they never
    /// have one), left out of the metrics — so that attacked and baseline
    /// runs compare like with like.
    pub fn baseline(&self) -> Scenario {
        let mut baseline = self.clone();
        baseline.byzantine.behaviours.clear();
        baseline
    }

    /// Honest cells, ascending.
    pub fn honest_cells(&self) -> Vec<CellIndex> {
        (0..self.cells.count)
            .filter(|cell| self.byzantine.cells.binary_search(cell).is_err())
            .collect()
    }

    /// PRANA `cell` holds at genesis: its `[[markets.genesis]]` block's, or
    /// `[cells] genesis_balance`.
    pub fn genesis_prana(&self, cell: CellIndex) -> u64 {
        self.markets
            .as_ref()
            .and_then(|markets| markets.genesis_of(cell))
            .map_or(self.cells.genesis_balance, |block| block.prana)
    }

    /// Each exchange token's balance `cell` holds at genesis, by token
    /// index (zeros without a genesis block; empty without tokens).
    pub fn genesis_tokens(&self, cell: CellIndex) -> Vec<u64> {
        let Some(markets) = &self.markets else {
            return Vec::new();
        };
        markets.genesis_of(cell).map_or_else(
            || vec![0; markets.tokens.len()],
            |block| block.tokens.clone(),
        )
    }

    /// Every cell's consensus stake under `[consensus] stake`, by cell
    /// index. Validation made every entry more than 0 and their sum fit
    /// in `u64`.
    pub fn stakes(&self) -> Vec<u64> {
        match self.consensus.stake {
            StakeRule::Equal => vec![self.cells.stake; self.cells.count as usize],
            StakeRule::Prana => (0..self.cells.count)
                .map(|cell| self.genesis_prana(cell))
                .collect(),
        }
    }

    /// The agent `cell` hosts: (its global index, its block). Agents are
    /// numbered block by block in file order, each block's cells ascending.
    pub fn agent_of(&self, cell: CellIndex) -> Option<(u32, &AgentBlock)> {
        let mut first: u32 = 0;
        for block in &self.agents {
            if let Ok(position) = block.cells.binary_search(&cell) {
                return Some((first + position as u32, block));
            }
            first += block.cells.len() as u32;
        }
        None
    }

    /// One paragraph a person reads: what this scenario runs.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "Scenario \"{}\" (seed {}): {} cells{} for {} of virtual time",
            self.name,
            self.seed,
            self.cells.count,
            if self.byzantine.cells.is_empty() {
                String::new()
            } else if self.byzantine.behaviours.is_empty() {
                format!(" ({} Byzantine)", self.byzantine.cells.len())
            } else {
                let blocks: Vec<String> = self
                    .byzantine
                    .behaviours
                    .iter()
                    .map(BehaviourBlock::describe)
                    .collect();
                format!(
                    " ({} Byzantine: {})",
                    self.byzantine.cells.len(),
                    blocks.join("; ")
                )
            },
            format_duration(self.duration_ns),
        );
        let latency = match &self.network.latency {
            Latency::Uniform(distribution) => format!("{} latency", distribution.describe()),
            Latency::Regions(regions) => format!(
                "{} regions ({})",
                regions.names.len(),
                regions.names.join(", ")
            ),
        };
        text.push_str(&format!(
            ", {latency}, {}% loss, {} topology, {} TX/s",
            format_number(self.network.loss * 100.0),
            self.network.topology.name(),
            format_number(self.workload.tx_rate.per_second())
        ));
        if self.workload.clients > 0 {
            text.push_str(&format!(
                ", {} client{}",
                self.workload.clients,
                if self.workload.clients == 1 { "" } else { "s" }
            ));
        }
        text.push_str(&format!(
            "; gossip every {}",
            format_duration(self.consensus.gossip_interval_ns)
        ));
        let access = self.access;
        let thresholds: Vec<String> = [
            ("CHAT", access.chat_min_ppm),
            ("AUTH", access.auth_min_ppm),
            ("QUERY", access.query_min_ppm),
            ("EXEC", access.exec_min_ppm),
        ]
        .iter()
        .filter(|(_, ppm)| *ppm > 0)
        .map(|(kind, ppm)| format!("{kind} needs {}%", format_number(f64::from(*ppm) / 1e4)))
        .collect();
        if !thresholds.is_empty() {
            text.push_str(&format!(
                "; access by reputation: {}",
                thresholds.join(", ")
            ));
        }
        if let Some(markets) = &self.markets
            && !markets.tokens.is_empty()
        {
            text.push_str(&format!(
                "; exchange of {} ({})",
                if markets.tokens.len() == 1 {
                    "1 token".to_string()
                } else {
                    format!("{} tokens", markets.tokens.len())
                },
                markets.tokens.join(", ")
            ));
        }
        if !self.agents.is_empty() {
            let blocks: Vec<String> = self
                .agents
                .iter()
                .map(|block| {
                    format!(
                        "{} {} at {}",
                        block.cells.len(),
                        block.kind.name(),
                        shrink::format_rate(block.rate)
                    )
                })
                .collect();
            text.push_str(&format!("; agents: {}", blocks.join(", ")));
        }
        if self.faults.is_empty() {
            text.push_str("; no faults");
        } else {
            let faults: Vec<String> = self.faults.iter().map(Fault::describe).collect();
            text.push_str(&format!(
                "; {} fault{}: {}",
                faults.len(),
                if faults.len() == 1 { "" } else { "s" },
                faults.join("; ")
            ));
        }
        text.push('.');
        text
    }
}

impl Distribution {
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Constant { .. } => "constant",
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::LogNormal { .. } => "lognormal",
            Distribution::Pareto { .. } => "pareto",
        }
    }

    /// Short human form: `lognormal(median 50ms, sigma 0.4)`.
    pub fn describe(&self) -> String {
        match self {
            Distribution::Constant { value_ns } => {
                format!("constant {}", format_duration(*value_ns))
            }
            Distribution::Uniform { min_ns, max_ns } => format!(
                "uniform({}..{})",
                format_duration(*min_ns),
                format_duration(*max_ns)
            ),
            Distribution::Normal { mean_ns, stddev_ns } => format!(
                "normal(mean {}, stddev {})",
                format_duration(*mean_ns),
                format_duration(*stddev_ns)
            ),
            Distribution::LogNormal { median_ns, sigma } => format!(
                "lognormal(median {}, sigma {})",
                format_duration(*median_ns),
                format_number(*sigma)
            ),
            Distribution::Pareto { scale_ns, shape } => format!(
                "pareto(scale {}, shape {})",
                format_duration(*scale_ns),
                format_number(*shape)
            ),
        }
    }
}

impl Topology {
    pub fn name(&self) -> &'static str {
        match self {
            Topology::FullMesh => "full-mesh",
            Topology::RandomRegular { .. } => "random-regular",
            Topology::SmallWorld { .. } => "small-world",
            Topology::ScaleFree { .. } => "scale-free",
            Topology::Edges(_) => "edges",
        }
    }
}

/// `30s`, `1.5s`, `250ms`, `2m`: the largest unit that shows the value exactly
/// with at most three decimals.
pub fn format_duration(ns: TimeNs) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    for (unit, unit_ns) in UNITS {
        let exact_in_thousandths = (u128::from(ns % unit_ns) * 1000) % u128::from(unit_ns) == 0;
        if ns == 0 {
            return "0s".to_string();
        }
        if ns >= unit_ns && exact_in_thousandths || unit_ns == 1 {
            let whole = ns / unit_ns;
            let thousandths = (ns % unit_ns) * 1000 / unit_ns;
            if thousandths == 0 {
                return format!("{whole}{unit}");
            }
            let fraction = format!("{thousandths:03}");
            return format!("{whole}.{}{unit}", fraction.trim_end_matches('0'));
        }
    }
    format!("{ns}ns")
}

/// Compact list of cells in the file's syntax: `3, 5..8, 12` (ranges
/// half-open).
pub fn format_cells(cells: &[CellIndex]) -> String {
    cell_runs(cells)
        .into_iter()
        .map(|(start, end)| {
            if end == start {
                start.to_string()
            } else {
                format!("{start}..{}", u64::from(end) + 1)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The runs of consecutive cells in ascending `cells`: (first, last).
pub(crate) fn cell_runs(cells: &[CellIndex]) -> Vec<(CellIndex, CellIndex)> {
    let mut runs: Vec<(CellIndex, CellIndex)> = Vec::new();
    for &cell in cells {
        match runs.last_mut() {
            Some((_, end)) if u64::from(*end) + 1 == u64::from(cell) => *end = cell,
            _ => runs.push((cell, cell)),
        }
    }
    runs
}

fn format_number(value: f64) -> String {
    let text = format!("{value:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests;
