//! Byzantine cells: scripted behaviours wrapped around honest cells.
//!
//! A Byzantine cell is an [`Attacker`]: one or more honest [`Cell`]s on the
//! cell's key, and the behaviours of its scenario blocks, which see and may
//! rewrite the cell's inputs and outputs and hold its signing capability —
//! never a fork of the cell's code, so the honest paths stay the ones under
//! test. Behaviours that act on traffic between other cells (`eclipse`,
//! `delay`) are the network adversary's ([`crate::links`]).
//!
//! - `equivocate` (Twins, Bano et al. 2020): from the window's start,
//!   `branches` instances of the cell on one key, each an honest cell
//!   talking only to its own group of honest peers (contiguous groups by
//!   index; other Byzantine cells talk to the first instance). The extra
//!   instances start as the cell would restart at that moment (a copy of its
//!   journals), so every branch continues the cell's chain from its latest
//!   event: a fork on one self-parent, each group seeing its own branch,
//!   which honest cells detect once both branches reach one of them.
//! - `double-spend`: two instances (unless `equivocate` made more); at `at`
//!   each spends the cell's whole balance (or `amount`) to an honest cell of
//!   its own group: the same PRANA on both sides.
//! - `withhold`: messages carrying the cell's own events are held and sent
//!   in one burst every `hold` (or, `release = "never"`, when the window
//!   closes).
//! - `timestamp-skew`: the cell's clock runs `offset` off, so every event
//!   and message timestamp it claims does.
//! - `front-run`: on seeing a victim's TX in a sync it receives, the cell
//!   queues its own TX (fee + `fee_bump`) before learning the sync, so its
//!   next event carries it: a transfer, or for a victim's buy order the
//!   same buy at market from its own account (a front-runner agent there
//!   sells it after).
//! - `spam`: valid TXs (transfers of 1 to random honest cells) or valid
//!   events (extra syncs, each making an event) at `rate`.
//! - `garbage`: at `rate`, one of: malformed bytes (as an event or a direct
//!   message), an event signed with the wrong key, a replayed direct message
//!   sent to the wrong cell, a real event with one byte flipped.
//! - `sybil`: the cell hosts non-member identities (zero stake, keys of
//!   their own) whose traffic crosses its links. At `rate` one of them
//!   sends a CHAT to a random honest cell; it answers AUTH challenges
//!   addressed to any of them. The attack edges are honest cells' own
//!   choice to vouch ([`scenario_world`] schedules their users' AUTH
//!   commands), never something the attacker writes into their state.
//!
//! Each act is recorded as a [`CellObservation::Adversary`] so reports can
//! say what an attack did. Randomness comes from one stream per Byzantine
//! cell, `(seed, "adversary", cell)`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use celluler_core::cell::api::CellNode;
use celluler_core::cell::client::Client;
use celluler_core::cell::{
    AdversaryAction, Cell, CellCommand, CellObservation, CellWire, CrashedCell, GOSSIP_TIMER,
    WireEvent,
};
use celluler_core::hashgraph::{Event, EventBody};
use celluler_core::identity::{CellId, CellKeys};
use celluler_core::message::{Auth, Body, Chat, Exec, Message, TxKind};
use celluler_core::node::{CellIndex, Context, Input, Node, Output, Peers, TimerId};
use celluler_core::rng::{self, DetRng};
use celluler_core::time::TimeNs;

use crate::scenario::{
    Behaviour, BehaviourBlock, CensorMode, GarbageKind, Scenario, SpamKind, WithholdRelease,
};

/// Timers of the wrapper itself carry this bit (an honest cell's are small).
const OWN_TIMER: u64 = 1 << 62;
/// A twin's timers carry its branch number from this bit up.
const TWIN_SHIFT: u32 = 48;

/// What the wrapper's own timers are for.
const TIMER_SPAWN_TWINS: u64 = 1;
const TIMER_RETIRE_TWINS: u64 = 2;
const TIMER_RELEASE: u64 = 3;
const TIMER_DOUBLE_SPEND: u64 = 4;
const TIMER_CENSOR_RELEASE: u64 = 5;
/// Per block: `TIMER_TICK + block index` (spam and garbage ticks).
const TIMER_TICK: u64 = 16;

/// Every cell's behaviour blocks, from a scenario.
#[derive(Debug, Clone, Default)]
pub struct AdversaryPlan {
    seed: u64,
    cells: u32,
    /// Byzantine cells, ascending.
    byzantine: Vec<CellIndex>,
    /// Cell-level blocks per cell (network ones are the links').
    blocks: Vec<(CellIndex, Vec<BehaviourBlock>)>,
    /// Per cell of `blocks`, the sybil identities it hosts.
    hosted: Vec<(CellIndex, HostedSeeds)>,
}

/// One non-member identity of a `sybil` block: the block (its index among
/// the scenario's behaviour blocks), its number in the block, the Byzantine
/// cell that hosts it (its traffic crosses that cell's links) and the seed
/// of its keys.
#[derive(Debug, Clone)]
pub struct SybilIdentity {
    pub block: usize,
    pub number: u32,
    pub operator: CellIndex,
    pub cell_id: CellId,
    key_seed: [u8; 32],
}

/// The sybil identities of `scenario`, block by block: identity `i` of a
/// block is hosted by the block's cell `i mod cells`.
pub fn sybil_identities(scenario: &Scenario) -> Vec<SybilIdentity> {
    let mut identities = Vec::new();
    for (block_index, block) in scenario.byzantine.behaviours.iter().enumerate() {
        let Behaviour::Sybil {
            identities: count, ..
        } = block.behaviour
        else {
            continue;
        };
        for number in 0..count {
            let key_seed = rng::derive_seed(
                scenario.seed,
                "sybil-identity",
                ((block_index as u64) << 32) | u64::from(number),
            );
            identities.push(SybilIdentity {
                block: block_index,
                number,
                operator: CellIndex(block.cells[number as usize % block.cells.len()]),
                cell_id: CellKeys::from_seed(key_seed).cell_id(),
                key_seed,
            });
        }
    }
    identities
}

/// The honest users' AUTH commands that make each sybil block's attack
/// edges: edge `k` is honest cell `k` of a shuffle (seeded by the scenario
/// and the block) vouching for identity `k mod identities`, at evenly
/// spaced times over the first tenth of the block's window.
pub fn sybil_attack_edges(scenario: &Scenario) -> Vec<crate::workload::ScheduledCommand> {
    let identities = sybil_identities(scenario);
    let honest: Vec<CellIndex> = scenario.honest_cells().into_iter().map(CellIndex).collect();
    let mut commands = Vec::new();
    for (block_index, block) in scenario.byzantine.behaviours.iter().enumerate() {
        let Behaviour::Sybil {
            identities: count,
            attack_edges,
            ..
        } = block.behaviour
        else {
            continue;
        };
        if honest.is_empty() || attack_edges == 0 {
            continue;
        }
        let mut vouchers = honest.clone();
        let mut stream = rng::stream(scenario.seed, "sybil-attack-edges", block_index as u64);
        rng::shuffle(&mut stream, &mut vouchers);
        let window_ns = block.until_ns.unwrap_or(scenario.duration_ns) - block.from_ns;
        let spread_ns = window_ns / 10;
        let block_identities: Vec<&SybilIdentity> = identities
            .iter()
            .filter(|identity| identity.block == block_index)
            .collect();
        for edge in 0..attack_edges {
            let identity = block_identities[(edge % count) as usize];
            commands.push(crate::workload::ScheduledCommand {
                at_ns: block.from_ns + spread_ns * u64::from(edge) / u64::from(attack_edges),
                cell: vouchers[edge as usize % vouchers.len()],
                command: CellCommand::Authenticate {
                    with: identity.operator,
                    identity: Some(identity.cell_id),
                },
            });
        }
    }
    commands
}

impl AdversaryPlan {
    /// The plan of `scenario` (its run seed, its cells).
    pub fn new(scenario: &Scenario) -> AdversaryPlan {
        let byzantine: Vec<CellIndex> = scenario
            .byzantine
            .cells
            .iter()
            .map(|&cell| CellIndex(cell))
            .collect();
        let sybils = sybil_identities(scenario);
        let mut blocks = Vec::new();
        let mut hosted = Vec::new();
        for &cell in &byzantine {
            let own: Vec<(usize, &BehaviourBlock)> = scenario
                .byzantine
                .behaviours
                .iter()
                .enumerate()
                .filter(|(_, block)| {
                    block.cells.binary_search(&cell.0).is_ok() && is_cell_level(&block.behaviour)
                })
                .collect();
            if own.is_empty() {
                continue;
            }
            let seeds: HostedSeeds = sybils
                .iter()
                .filter(|identity| identity.operator == cell)
                .filter_map(|identity| {
                    let place = own
                        .iter()
                        .position(|(global, _)| *global == identity.block)?;
                    Some((place, identity.key_seed))
                })
                .collect();
            blocks.push((
                cell,
                own.into_iter().map(|(_, block)| block.clone()).collect(),
            ));
            hosted.push((cell, seeds));
        }
        AdversaryPlan {
            seed: scenario.seed,
            cells: scenario.cells.count,
            byzantine,
            blocks,
            hosted,
        }
    }

    /// Whether any cell runs a behaviour.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Node `index` of a world: the honest cell, or an attacker around it.
    pub fn wrap(&self, index: CellIndex, cell: Cell) -> AdversaryNode {
        match self.blocks.iter().find(|(cell, _)| *cell == index) {
            None => AdversaryNode::Honest(cell),
            Some((_, blocks)) => {
                let hosted = self
                    .hosted
                    .iter()
                    .find(|(cell, _)| *cell == index)
                    .map(|(_, seeds)| seeds.clone())
                    .unwrap_or_default();
                AdversaryNode::Byzantine(Box::new(Attacker::new(
                    self,
                    index,
                    cell,
                    blocks.clone(),
                    hosted,
                )))
            }
        }
    }
}

/// The world of `scenario` as `celluler run` runs it: every cell wrapped by
/// its plan, Byzantine cells left out of the checks, the workload scheduled
/// and its clients set. `config` is `scenario.world_config()`, perhaps
/// adjusted (recording, store mode).
pub fn scenario_world(
    scenario: &Scenario,
    config: crate::world::WorldConfig,
    trace: crate::TraceMode,
) -> Result<crate::world::CellWorld<AdversaryNode>, crate::world::WorldError> {
    let plan = AdversaryPlan::new(scenario);
    let mut world =
        crate::world::CellWorld::with_nodes(config, trace, |index, cell| plan.wrap(index, cell))?;
    for &cell in &scenario.byzantine.cells {
        world.checker_mut().mark_dishonest(CellIndex(cell));
    }
    for scheduled in crate::workload::schedule(scenario)
        .into_iter()
        .chain(sybil_attack_edges(scenario))
    {
        world.schedule_command(scheduled.at_ns, scheduled.cell, scheduled.command);
    }
    if let Some(clients) = scenario.client_pool() {
        world.set_clients(clients);
    }
    if !scenario.agents.is_empty() {
        let members = (0..scenario.cells.count)
            .map(|cell| {
                celluler_core::identity::CellKeys::for_simulated_cell(scenario.seed, cell).cell_id()
            })
            .collect();
        let fundamental = scenario
            .markets
            .as_ref()
            .map(|markets| markets.fundamental.clone())
            .unwrap_or_default();
        world.set_agents(crate::market::AgentPool::new(
            scenario.seed,
            crate::agents::agents_of(scenario),
            members,
            fundamental,
            scenario.consensus.min_fee,
        ));
    }
    Ok(world)
}

/// Whether the behaviour wraps a cell (the rest act on links).
fn is_cell_level(behaviour: &Behaviour) -> bool {
    !matches!(
        behaviour,
        Behaviour::Eclipse { .. } | Behaviour::Delay { .. }
    )
}

/// A node of a world with Byzantine cells.
// The honest variant is the hot path and each node lives once in its
// engine slot: boxing it would cost an indirection per input for nothing.
#[allow(clippy::large_enum_variant)]
pub enum AdversaryNode {
    Honest(Cell),
    Byzantine(Box<Attacker>),
}

/// What survives a crash of an [`AdversaryNode`].
#[allow(clippy::large_enum_variant)]
pub enum AdversaryDurable {
    Honest(CrashedCell),
    Byzantine(Box<AttackerDurable>),
}

impl Node for AdversaryNode {
    type Message = CellWire;
    type Observation = CellObservation;
    type Command = CellCommand;
    type Durable = AdversaryDurable;

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        match self {
            AdversaryNode::Honest(cell) => cell.handle(input, ctx),
            AdversaryNode::Byzantine(attacker) => attacker.handle(input, ctx),
        }
    }

    fn crash(self) -> AdversaryDurable {
        match self {
            AdversaryNode::Honest(cell) => AdversaryDurable::Honest(cell.crash()),
            AdversaryNode::Byzantine(attacker) => {
                AdversaryDurable::Byzantine(Box::new(attacker.crash()))
            }
        }
    }

    fn recover(durable: AdversaryDurable) -> AdversaryNode {
        match durable {
            AdversaryDurable::Honest(crashed) => AdversaryNode::Honest(Cell::recover(crashed)),
            AdversaryDurable::Byzantine(durable) => {
                AdversaryNode::Byzantine(Box::new(Attacker::recover(*durable)))
            }
        }
    }
}

impl CellNode for AdversaryNode {
    fn cell(&self) -> &Cell {
        match self {
            AdversaryNode::Honest(cell) => cell,
            AdversaryNode::Byzantine(attacker) => &attacker.twins[0],
        }
    }
}

/// A Byzantine cell (module docs).
pub struct Attacker {
    me: CellIndex,
    seed: u64,
    /// The instances on the cell's key; `twins[0]` is the cell itself.
    twins: Vec<Cell>,
    /// Per instance, its peers (ascending) while twinned.
    groups: Vec<Vec<CellIndex>>,
    /// Whether the instances past the first are live (inside the window).
    twinned: bool,
    /// Instances wanted (1 unless equivocating or double-spending).
    branches: usize,
    blocks: Vec<BehaviourBlock>,
    honest: Vec<CellIndex>,
    rng: DetRng,
    /// Withheld messages, in the order the cell sent them.
    held: Vec<(CellIndex, CellWire)>,
    /// TXs already front-run (lookup only: each victim TX once).
    front_run: BTreeSet<[u8; 32]>,
    /// The last direct message delivered to the cell (replay material).
    last_direct: Option<Arc<[u8]>>,
    /// The last event the cell sent (mutation material).
    last_event: Option<Arc<Event>>,
    /// Client TXs a censor holds: (release time, the relay command).
    censored: std::collections::VecDeque<(TimeNs, CellCommand)>,
    /// The sybil identities this cell hosts, with the index (into `blocks`)
    /// of the block that runs each.
    sybils: Vec<(usize, Client)>,
    /// Sybil identity → its place in `sybils` (lookup only).
    sybil_by_id: BTreeMap<CellId, usize>,
    /// What `sybils` are made from (kept for a restart).
    hosted: HostedSeeds,
}

/// Sybil identities as a hosting cell runs them: per identity, the index
/// (into the cell's own blocks) of its block and its key seed.
type HostedSeeds = Vec<(usize, [u8; 32])>;

/// The clients that sign for `hosted`, and each one's place by cell id.
fn sybil_clients(hosted: &HostedSeeds) -> (Vec<(usize, Client)>, BTreeMap<CellId, usize>) {
    let clients: Vec<(usize, Client)> = hosted
        .iter()
        .map(|&(block, seed)| (block, Client::new(CellKeys::from_seed(seed))))
        .collect();
    let by_id = clients
        .iter()
        .enumerate()
        .map(|(place, (_, client))| (client.cell_id(), place))
        .collect();
    (clients, by_id)
}

/// What survives an attacker's crash: each instance's durable state and
/// the script.
pub struct AttackerDurable {
    me: CellIndex,
    seed: u64,
    twins: Vec<CrashedCell>,
    twinned: bool,
    groups: Vec<Vec<CellIndex>>,
    branches: usize,
    blocks: Vec<BehaviourBlock>,
    honest: Vec<CellIndex>,
    hosted: HostedSeeds,
}

impl Attacker {
    fn new(
        plan: &AdversaryPlan,
        me: CellIndex,
        cell: Cell,
        blocks: Vec<BehaviourBlock>,
        hosted: HostedSeeds,
    ) -> Attacker {
        let honest: Vec<CellIndex> = (0..plan.cells)
            .map(CellIndex)
            .filter(|cell| plan.byzantine.binary_search(cell).is_err())
            .collect();
        let branches = blocks
            .iter()
            .map(|block| match block.behaviour {
                Behaviour::Equivocate { branches } => branches as usize,
                Behaviour::DoubleSpend { .. } => 2,
                _ => 1,
            })
            .max()
            .unwrap_or(1)
            .min(honest.len().max(1));
        // Contiguous groups of honest peers, one per branch; the other
        // Byzantine cells talk to the first instance.
        let mut groups: Vec<Vec<CellIndex>> = (0..branches)
            .map(|branch| {
                let from = branch * honest.len() / branches;
                let to = (branch + 1) * honest.len() / branches;
                honest[from..to].to_vec()
            })
            .collect();
        groups[0].extend(plan.byzantine.iter().copied().filter(|&cell| cell != me));
        groups[0].sort_unstable();
        let (sybils, sybil_by_id) = sybil_clients(&hosted);
        Attacker {
            me,
            seed: plan.seed,
            twins: vec![cell],
            groups,
            twinned: false,
            branches,
            blocks,
            honest,
            rng: rng::stream(plan.seed, "adversary", u64::from(me.0)),
            held: Vec::new(),
            front_run: BTreeSet::new(),
            last_direct: None,
            last_event: None,
            censored: std::collections::VecDeque::new(),
            sybils,
            sybil_by_id,
            hosted,
        }
    }

    fn crash(self) -> AttackerDurable {
        AttackerDurable {
            me: self.me,
            seed: self.seed,
            twins: self.twins.into_iter().map(Cell::crash).collect(),
            twinned: self.twinned,
            groups: self.groups,
            branches: self.branches,
            blocks: self.blocks,
            honest: self.honest,
            hosted: self.hosted,
        }
    }

    fn recover(durable: AttackerDurable) -> Attacker {
        let twinned = durable.twinned;
        // The identities' keys and genesis heads are pure functions of
        // their seeds: rebuilt as they were.
        let (sybils, sybil_by_id) = sybil_clients(&durable.hosted);
        Attacker {
            me: durable.me,
            seed: durable.seed,
            twins: durable.twins.into_iter().map(Cell::recover).collect(),
            groups: durable.groups,
            twinned,
            branches: durable.branches,
            blocks: durable.blocks,
            honest: durable.honest,
            // A restart draws from a stream of its own.
            rng: rng::stream(durable.seed, "adversary-restarted", u64::from(durable.me.0)),
            held: Vec::new(),
            front_run: BTreeSet::new(),
            last_direct: None,
            last_event: None,
            censored: std::collections::VecDeque::new(),
            sybils,
            sybil_by_id,
            hosted: durable.hosted,
        }
    }

    fn active(&self, now: TimeNs) -> impl Iterator<Item = (usize, &BehaviourBlock)> {
        self.blocks
            .iter()
            .enumerate()
            .filter(move |(_, block)| block.is_active_at(now))
    }

    /// The window of the blocks that make instances (the earliest start and
    /// the latest end; `None`: to the end of the run).
    fn twin_window(&self) -> Option<(TimeNs, Option<TimeNs>)> {
        let twin_blocks: Vec<&BehaviourBlock> = self
            .blocks
            .iter()
            .filter(|block| {
                matches!(
                    block.behaviour,
                    Behaviour::Equivocate { .. } | Behaviour::DoubleSpend { .. }
                )
            })
            .collect();
        let from = twin_blocks.iter().map(|block| block.from_ns).min()?;
        let until = if twin_blocks.iter().any(|block| block.until_ns.is_none()) {
            None
        } else {
            twin_blocks.iter().filter_map(|block| block.until_ns).max()
        };
        Some((from, until))
    }

    fn record(
        ctx: &mut Context<'_, CellWire, CellObservation>,
        behaviour: &'static str,
        action: AdversaryAction,
    ) {
        ctx.observe(CellObservation::Adversary { behaviour, action });
    }

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        match input {
            Input::Start | Input::Restart => {
                let restart = matches!(input, Input::Restart);
                for twin in 0..self.twins.len() {
                    let input = if restart {
                        Input::Restart
                    } else {
                        Input::Start
                    };
                    let _ = self.run_twin(twin, input, ctx);
                }
                self.schedule(ctx, restart);
            }
            Input::Timer(TimerId(id)) if id & OWN_TIMER != 0 => self.on_timer(id & !OWN_TIMER, ctx),
            Input::Timer(TimerId(id)) => {
                let twin = (id >> TWIN_SHIFT) as usize;
                let id = id & ((1 << TWIN_SHIFT) - 1);
                if twin < self.twins.len() && (twin == 0 || self.twinned) {
                    let _ = self.run_twin(twin, Input::Timer(TimerId(id)), ctx);
                }
            }
            Input::Deliver { from, message } => {
                if let CellWire::Direct { encoded } = &message {
                    if self.sybil_inbound(from, encoded, ctx) {
                        return;
                    }
                    self.last_direct = Some(Arc::clone(encoded));
                }
                let twin = self.twin_of(from);
                if twin == 0 {
                    self.front_run(&message, ctx);
                }
                let _ = self.run_twin(twin, Input::Deliver { from, message }, ctx);
            }
            Input::Command(command) => {
                if let Some(command) = self.censor(command, ctx) {
                    let _ = self.run_twin(0, Input::Command(command), ctx);
                }
            }
        }
    }

    /// The instance that talks with `peer`.
    fn twin_of(&self, peer: CellIndex) -> usize {
        if !self.twinned {
            return 0;
        }
        self.groups
            .iter()
            .position(|group| group.binary_search(&peer).is_ok())
            .filter(|&twin| twin < self.twins.len())
            .unwrap_or(0)
    }

    /// Arm the wrapper's timers for the script (relative to now).
    fn schedule(&mut self, ctx: &mut Context<'_, CellWire, CellObservation>, restart: bool) {
        let now = ctx.now;
        let at = |ctx: &mut Context<'_, CellWire, CellObservation>, what: u64, at_ns: TimeNs| {
            ctx.set_timer(TimerId(OWN_TIMER | what), at_ns.saturating_sub(now).max(1));
        };
        if let Some((from, until)) = self.twin_window()
            && self.branches > 1
            && !restart
        {
            at(ctx, TIMER_SPAWN_TWINS, from);
            if let Some(until) = until {
                at(ctx, TIMER_RETIRE_TWINS, until);
            }
        }
        for (index, block) in self.blocks.clone().iter().enumerate() {
            match &block.behaviour {
                Behaviour::Spam { rate, .. }
                | Behaviour::Garbage { rate, .. }
                | Behaviour::Sybil { rate, .. } => {
                    if let Some(interval) = tick_interval_ns(rate.count, rate.per_ns) {
                        at(
                            ctx,
                            TIMER_TICK + index as u64,
                            block.from_ns.max(now) + interval,
                        );
                    }
                }
                Behaviour::Withhold { hold_ns, release } => {
                    let first = match release {
                        WithholdRelease::Burst => Some(block.from_ns.max(now) + hold_ns),
                        WithholdRelease::Never => block.until_ns,
                    };
                    if let Some(first) = first {
                        at(ctx, TIMER_RELEASE, first);
                    }
                }
                Behaviour::DoubleSpend { at_ns, .. } if !restart && *at_ns >= now => {
                    at(ctx, TIMER_DOUBLE_SPEND, *at_ns);
                }
                Behaviour::TimestampSkew { offset_ns } => {
                    Self::record(
                        ctx,
                        "timestamp-skew",
                        AdversaryAction::Skewing {
                            offset_ns: *offset_ns,
                        },
                    );
                }
                _ => {}
            }
        }
    }

    fn on_timer(&mut self, what: u64, ctx: &mut Context<'_, CellWire, CellObservation>) {
        match what {
            TIMER_SPAWN_TWINS => {
                while self.twins.len() < self.branches {
                    let twin = self.twins[0].spawn_twin();
                    self.twins.push(twin);
                    let index = self.twins.len() - 1;
                    self.twinned = true;
                    let _ = self.run_twin(index, Input::Restart, ctx);
                }
                self.twinned = true;
                Self::record(
                    ctx,
                    "equivocate",
                    AdversaryAction::Equivocating {
                        branches: self.twins.len() as u32,
                    },
                );
            }
            TIMER_RETIRE_TWINS => self.twinned = false,
            TIMER_RELEASE => self.release(ctx),
            TIMER_DOUBLE_SPEND => self.double_spend(ctx),
            TIMER_CENSOR_RELEASE => {
                while self.censored.front().is_some_and(|(at, _)| *at <= ctx.now) {
                    let (_, command) = self.censored.pop_front().expect("checked");
                    let _ = self.run_twin(0, Input::Command(command), ctx);
                }
                if let Some((at, _)) = self.censored.front() {
                    ctx.set_timer(TimerId(OWN_TIMER | TIMER_CENSOR_RELEASE), at - ctx.now);
                }
            }
            tick if tick >= TIMER_TICK => {
                let index = (tick - TIMER_TICK) as usize;
                let Some(block) = self.blocks.get(index).cloned() else {
                    return;
                };
                if !block.is_active_at(ctx.now) {
                    return;
                }
                match &block.behaviour {
                    Behaviour::Spam { rate, kind } => {
                        self.spam(*kind, ctx);
                        if let Some(interval) = tick_interval_ns(rate.count, rate.per_ns) {
                            ctx.set_timer(TimerId(OWN_TIMER | tick), interval);
                        }
                    }
                    Behaviour::Garbage { rate, kinds } => {
                        let kind = kinds[rng::index(&mut self.rng, kinds.len())];
                        self.garbage(kind, ctx);
                        if let Some(interval) = tick_interval_ns(rate.count, rate.per_ns) {
                            ctx.set_timer(TimerId(OWN_TIMER | tick), interval);
                        }
                    }
                    Behaviour::Sybil { rate, .. } => {
                        self.sybil_chat(index, ctx);
                        if let Some(interval) = tick_interval_ns(rate.count, rate.per_ns) {
                            ctx.set_timer(TimerId(OWN_TIMER | tick), interval);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Hand `input` to instance `twin` with its peers and clock, and pass
    /// its outputs on through the script. Returns the TX ids it submitted.
    fn run_twin(
        &mut self,
        twin: usize,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) -> Vec<[u8; 32]> {
        let now = ctx.now;
        let skew: i64 = self
            .active(now)
            .filter_map(|(_, block)| match block.behaviour {
                Behaviour::TimestampSkew { offset_ns } => Some(offset_ns),
                _ => None,
            })
            .sum();
        let local_now = now.saturating_add_signed(skew);
        let mut outputs = Vec::new();
        {
            let peers = if self.twinned {
                Peers::List(&self.groups[twin])
            } else {
                ctx.peers
            };
            let mut inner = Context {
                now: local_now,
                me: ctx.me,
                peers,
                outputs: &mut outputs,
            };
            self.twins[twin].handle(input, &mut inner);
        }
        let submitted = submitted_txs(&outputs);
        let withholding = self
            .active(now)
            .any(|(_, block)| matches!(block.behaviour, Behaviour::Withhold { .. }));
        let mut held = 0;
        for output in outputs {
            match output {
                Output::SetTimer { timer, after_ns } => ctx.outputs.push(Output::SetTimer {
                    timer: twin_timer(twin, timer),
                    after_ns,
                }),
                Output::CancelTimer { timer } => ctx.outputs.push(Output::CancelTimer {
                    timer: twin_timer(twin, timer),
                }),
                // One instance speaks for the cell in the records.
                Output::Observe(_) if twin > 0 => {}
                Output::Send { to, message } => {
                    let message = self.wrong_exec(twin, message, ctx);
                    self.remember_sent(&message);
                    if withholding && self.carries_own_event(&message) {
                        self.held.push((to, message));
                        held += 1;
                    } else {
                        ctx.outputs.push(Output::Send { to, message });
                    }
                }
                other => ctx.outputs.push(other),
            }
        }
        if held > 0 {
            Self::record(ctx, "withhold", AdversaryAction::Held { messages: held });
        }
        submitted
    }

    fn carries_own_event(&self, message: &CellWire) -> bool {
        let events = match message {
            CellWire::SyncResponse { events, .. } | CellWire::SyncPush { events } => events,
            _ => return false,
        };
        events.iter().any(|wire| match wire {
            WireEvent::Shared(event) => event.creator() == self.me.0,
            WireEvent::Raw(_) => false,
        })
    }

    fn remember_sent(&mut self, message: &CellWire) {
        if let CellWire::SyncResponse { events, .. } | CellWire::SyncPush { events } = message
            && let Some(WireEvent::Shared(event)) = events.last()
        {
            self.last_event = Some(Arc::clone(event));
        }
    }

    /// Send every held message now, in order.
    fn release(&mut self, ctx: &mut Context<'_, CellWire, CellObservation>) {
        let held = std::mem::take(&mut self.held);
        if !held.is_empty() {
            Self::record(
                ctx,
                "withhold",
                AdversaryAction::Released {
                    messages: held.len() as u32,
                },
            );
        }
        for (to, message) in held {
            ctx.send(to, message);
        }
        // Burst mode releases every `hold` while the window is open.
        let next = self.blocks.iter().find_map(|block| match block.behaviour {
            Behaviour::Withhold {
                hold_ns,
                release: WithholdRelease::Burst,
            } if block.until_ns.is_none_or(|until| ctx.now < until) => Some(hold_ns),
            _ => None,
        });
        if let Some(hold_ns) = next {
            ctx.set_timer(TimerId(OWN_TIMER | TIMER_RELEASE), hold_ns.max(1));
        } else if let Some(until) = self
            .blocks
            .iter()
            .filter_map(|block| match block.behaviour {
                Behaviour::Withhold { .. } => block.until_ns,
                _ => None,
            })
            .find(|&until| until > ctx.now)
        {
            ctx.set_timer(TimerId(OWN_TIMER | TIMER_RELEASE), until - ctx.now);
        }
    }

    /// Hand a command to instance `twin`: the TX ids it submitted.
    fn command(
        &mut self,
        twin: usize,
        command: CellCommand,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) -> Vec<[u8; 32]> {
        self.run_twin(twin, Input::Command(command), ctx)
    }

    fn random_honest(&mut self) -> CellIndex {
        self.honest[rng::index(&mut self.rng, self.honest.len())]
    }

    fn fee_min(&self) -> u64 {
        self.twins[0].config().ledger.fee_min
    }

    fn spam(&mut self, kind: SpamKind, ctx: &mut Context<'_, CellWire, CellObservation>) {
        match kind {
            SpamKind::Transactions => {
                let to = self.random_honest();
                let fee = self.fee_min();
                let _ = self.command(0, CellCommand::Transfer { to, amount: 1, fee }, ctx);
                Self::record(ctx, "spam", AdversaryAction::Spam { kind: "tx" });
            }
            SpamKind::Events => {
                // An extra sync: the answer makes an event.
                let _ = self.run_twin(0, Input::Timer(GOSSIP_TIMER), ctx);
                Self::record(ctx, "spam", AdversaryAction::Spam { kind: "events" });
            }
        }
    }

    fn garbage(&mut self, kind: GarbageKind, ctx: &mut Context<'_, CellWire, CellObservation>) {
        let to = self.random_honest();
        let (label, message) = match kind {
            GarbageKind::Malformed => {
                let length = 8 + rng::below(&mut self.rng, 200) as usize;
                let bytes: Vec<u8> = (0..length)
                    .map(|_| rng::below(&mut self.rng, 256) as u8)
                    .collect();
                let message = if rng::below(&mut self.rng, 2) == 0 {
                    CellWire::SyncPush {
                        events: vec![WireEvent::Raw(bytes.into())].into(),
                    }
                } else {
                    CellWire::Direct {
                        encoded: bytes.into(),
                    }
                };
                ("malformed", message)
            }
            GarbageKind::BadSignature => {
                // Signed as this cell, with a key that is not its own.
                let wrong = CellKeys::for_simulated_cell(self.seed ^ 0xbad5_1600, self.me.0);
                let event = Event::sign(
                    EventBody {
                        creator: self.me.0,
                        self_parent: None,
                        other_parent: None,
                        timestamp_ns: ctx.now,
                        transactions: Vec::new(),
                    },
                    &wrong,
                );
                (
                    "bad-signature",
                    CellWire::SyncPush {
                        events: vec![WireEvent::Raw(event.encode().into())].into(),
                    },
                )
            }
            GarbageKind::Replay => match self.last_direct.clone() {
                // A real message, signed for this cell, sent to another.
                Some(encoded) => ("replay", CellWire::Direct { encoded }),
                None => match self.last_event.clone() {
                    Some(event) => (
                        "replay",
                        CellWire::SyncPush {
                            events: vec![WireEvent::Shared(event)].into(),
                        },
                    ),
                    None => return,
                },
            },
            GarbageKind::Mutated => {
                let Some(event) = self.last_event.clone() else {
                    return;
                };
                let mut bytes = event.encode();
                let at = rng::index(&mut self.rng, bytes.len());
                bytes[at] ^= 1 << rng::below(&mut self.rng, 8);
                (
                    "mutated",
                    CellWire::SyncPush {
                        events: vec![WireEvent::Raw(bytes.into())].into(),
                    },
                )
            }
        };
        ctx.send(to, message);
        Self::record(ctx, "garbage", AdversaryAction::Garbage { kind: label });
    }

    /// One CHAT from a random identity of sybil block `block` to a random
    /// honest cell.
    fn sybil_chat(&mut self, block: usize, ctx: &mut Context<'_, CellWire, CellObservation>) {
        let own: Vec<usize> = (0..self.sybils.len())
            .filter(|&place| self.sybils[place].0 == block)
            .collect();
        if own.is_empty() || self.honest.is_empty() {
            return;
        }
        let place = own[rng::index(&mut self.rng, own.len())];
        let to = self.random_honest();
        let Some(receiver) = self.twins[0].config().members.get(to.as_usize()) else {
            return;
        };
        let text = format!("hello from {}", place);
        let Ok(message) =
            self.sybils[place]
                .1
                .sign(ctx.now, receiver.cell_id, Body::Chat(Chat { text }))
        else {
            return;
        };
        ctx.send(
            to,
            CellWire::Direct {
                encoded: message.encode().into(),
            },
        );
        Self::record(ctx, "sybil", AdversaryAction::SybilMessage { kind: "chat" });
    }

    /// A direct message addressed to one of the hosted sybil identities:
    /// answered as that identity (an AUTH challenge) or recorded (the
    /// attestation an honest cell sends when it vouches). Returns whether
    /// the message was for a sybil identity (the cell never sees those).
    fn sybil_inbound(
        &mut self,
        from: CellIndex,
        encoded: &[u8],
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) -> bool {
        if self.sybils.is_empty() {
            return false;
        }
        let Ok(message) = Message::decode(encoded) else {
            return false;
        };
        let Some(&place) = self.sybil_by_id.get(&message.receiver) else {
            return false;
        };
        match &message.body {
            Body::Auth(Auth::Challenge { .. }) => {
                let Ok(body) = Message::auth_response_body(&message) else {
                    return true;
                };
                let timestamp = ctx.now.max(message.timestamp);
                if let Ok(response) = self.sybils[place].1.sign(timestamp, message.sender, body) {
                    ctx.send(
                        from,
                        CellWire::Direct {
                            encoded: response.encode().into(),
                        },
                    );
                }
            }
            Body::Auth(Auth::Attestation(attestation))
                if attestation.subject() == message.receiver =>
            {
                Self::record(ctx, "sybil", AdversaryAction::SybilVouched { by: from });
            }
            _ => {}
        }
        true
    }

    /// A cheating compute provider's outgoing EXEC result: its output
    /// changed and signed again with the cell's own key (with the
    /// behaviour's probability), so the consumer holds signed evidence.
    fn wrong_exec(
        &mut self,
        twin: usize,
        message: CellWire,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) -> CellWire {
        let Some(share_ppm) = self
            .active(ctx.now)
            .find_map(|(_, block)| match block.behaviour {
                Behaviour::WrongExec { share_ppm } => Some(share_ppm),
                _ => None,
            })
        else {
            return message;
        };
        let CellWire::Direct { encoded } = &message else {
            return message;
        };
        let Ok(decoded) = Message::decode(encoded) else {
            return message;
        };
        let Body::Exec(Exec::Result {
            task_id,
            task_digest,
            output,
            charged,
        }) = &decoded.body
        else {
            return message;
        };
        if share_ppm < 1_000_000 && rng::below(&mut self.rng, 1_000_000) >= u64::from(share_ppm) {
            return message;
        }
        let mut wrong = output.clone();
        match wrong.first_mut() {
            Some(byte) => *byte ^= 1,
            None => wrong.push(1),
        }
        let body = Body::Exec(Exec::Result {
            task_id: *task_id,
            task_digest: *task_digest,
            output: wrong,
            charged: *charged,
        });
        let Ok(signed) = Message::sign(
            self.twins[twin].keys(),
            decoded.proof.identity_head.clone(),
            decoded.timestamp,
            decoded.receiver,
            body,
        ) else {
            return message;
        };
        Self::record(
            ctx,
            "wrong-exec",
            AdversaryAction::Garbage { kind: "wrong-exec" },
        );
        CellWire::Direct {
            encoded: signed.encode().into(),
        }
    }

    /// Front-run every victim TX in a sync the cell receives (once each).
    fn front_run(&mut self, message: &CellWire, ctx: &mut Context<'_, CellWire, CellObservation>) {
        let Some((victims, fee_bump)) =
            self.active(ctx.now)
                .find_map(|(_, block)| match &block.behaviour {
                    Behaviour::FrontRun { victims, fee_bump } => Some((victims.clone(), *fee_bump)),
                    _ => None,
                })
        else {
            return;
        };
        let events = match message {
            CellWire::SyncResponse { events, .. } | CellWire::SyncPush { events } => events,
            _ => return,
        };
        let members = self.twins[0].config().members.clone();
        let mut victim_txs = Vec::new();
        for wire in events.iter() {
            let WireEvent::Shared(event) = wire else {
                continue;
            };
            if event.creator() == self.me.0 {
                continue;
            }
            for (bytes, id) in event.transactions().iter().zip(event.transaction_ids()) {
                if self.front_run.contains(id) {
                    continue;
                }
                let Ok(decoded) = Message::decode(bytes) else {
                    continue;
                };
                let Body::Tx(victim_tx) = &decoded.body else {
                    continue;
                };
                let Some(sender) = members
                    .iter()
                    .position(|member| member.cell_id == decoded.sender)
                else {
                    continue;
                };
                let sender = CellIndex(sender as u32);
                let victim = match &victims {
                    Some(list) => list.binary_search(&sender.0).is_ok(),
                    None => self.honest.binary_search(&sender).is_ok(),
                };
                if victim {
                    self.front_run.insert(*id);
                    victim_txs.push((*id, victim_tx.kind.clone()));
                }
            }
        }
        for (victim, kind) in victim_txs {
            let command = match kind {
                // A victim's buy: the same buy, at market, ahead of it (the
                // cell's own account trades; a front-runner agent there
                // sells what it bought once the victim's order moved the
                // price). Other orders are left alone.
                TxKind::Order {
                    token,
                    side: celluler_core::book::Side::Bid,
                    quantity,
                    ..
                } => CellCommand::Market {
                    kind: TxKind::Order {
                        token,
                        side: celluler_core::book::Side::Bid,
                        price: None,
                        quantity,
                    },
                },
                TxKind::Order { .. } => continue,
                _ => {
                    let to = self.random_honest();
                    let fee = self.fee_min() + fee_bump;
                    CellCommand::Transfer { to, amount: 1, fee }
                }
            };
            let own = self.command(0, command, ctx);
            if let Some(&own) = own.first() {
                Self::record(ctx, "front-run", AdversaryAction::FrontRun { victim, own });
            }
        }
    }

    /// As an entry cell, drop or hold the TXs of censored clients; what
    /// passes is returned.
    fn censor(
        &mut self,
        command: CellCommand,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) -> Option<CellCommand> {
        let CellCommand::Relay {
            client, encoded, ..
        } = &command
        else {
            return Some(command);
        };
        let rule = self
            .active(ctx.now)
            .find_map(|(_, block)| match &block.behaviour {
                Behaviour::Censor {
                    clients,
                    mode,
                    hold_ns,
                } if clients
                    .as_ref()
                    .is_none_or(|listed| listed.binary_search(client).is_ok()) =>
                {
                    Some((*mode, *hold_ns))
                }
                _ => None,
            });
        let Some((mode, hold_ns)) = rule else {
            return Some(command);
        };
        let tx = *blake3::hash(encoded).as_bytes();
        let client = *client;
        let held_ns = (mode == CensorMode::Hold).then_some(hold_ns.max(1));
        Self::record(
            ctx,
            "censor",
            AdversaryAction::Censored {
                client,
                tx,
                held_ns,
            },
        );
        if let Some(held_ns) = held_ns {
            if self.censored.is_empty() {
                ctx.set_timer(TimerId(OWN_TIMER | TIMER_CENSOR_RELEASE), held_ns);
            }
            self.censored.push_back((ctx.now + held_ns, command));
        }
        None
    }

    /// Each instance spends the same funds to an honest cell of its group.
    fn double_spend(&mut self, ctx: &mut Context<'_, CellWire, CellObservation>) {
        let amount = self.blocks.iter().find_map(|block| match block.behaviour {
            Behaviour::DoubleSpend { amount, .. } => Some(amount),
            _ => None,
        });
        let Some(amount) = amount else { return };
        if !self.twinned || self.twins.len() < 2 {
            return;
        }
        let fee = self.fee_min();
        let me = self.twins[0].config().members[self.me.as_usize()].cell_id;
        let mut txs = Vec::new();
        for twin in 0..self.twins.len() {
            let balance = self.twins[twin].ledger().balance(&me).unwrap_or(0);
            let amount = amount.unwrap_or(balance.saturating_sub(fee));
            let Some(&to) = self.groups[twin]
                .iter()
                .find(|cell| self.honest.binary_search(cell).is_ok())
            else {
                continue;
            };
            txs.extend(self.command(twin, CellCommand::Transfer { to, amount, fee }, ctx));
        }
        Self::record(ctx, "double-spend", AdversaryAction::DoubleSpend { txs });
    }
}

/// Instance `twin`'s timer as the engine keys it (the first instance's
/// timers are the cell's own).
fn twin_timer(twin: usize, timer: TimerId) -> TimerId {
    TimerId(timer.0 | ((twin as u64) << TWIN_SHIFT))
}

/// The TX ids among `outputs`' `TxSubmitted` observations.
fn submitted_txs(outputs: &[Output<CellWire, CellObservation>]) -> Vec<[u8; 32]> {
    outputs
        .iter()
        .filter_map(|output| match output {
            Output::Observe(CellObservation::TxSubmitted { tx }) => Some(*tx),
            _ => None,
        })
        .collect()
}

/// Time between ticks of a rate of `count` per `per_ns` (`None`: never).
fn tick_interval_ns(count: u64, per_ns: TimeNs) -> Option<TimeNs> {
    (count > 0).then(|| (per_ns / count).max(1))
}
