//! A Celluler cell: the five services (Nucleus, Message, State, Identity,
//! Consensus) on an in-cell bus, as one sans-IO [`crate::node::Node`].
//!
//! - [`protocol`]: the bus protocol ([`CellRequest`], [`CellEvent`]…), the
//!   wire messages ([`CellWire`]) and the virtual CPU cost model ([`cost`]).
//! - [`services`]: the five services.
//! - [`shared`]: what the services of a cell share (the member directory;
//!   journals: the Nucleus writes, the others read; the signing capability).
//! - [`env`]: the environment port — what the cell's host provides (a fresh
//!   event store at every start, content-only checks it may memoise);
//!   [`env::Standalone`] is a host of one cell.
//! - [`store`]: the store port its consensus reaches events through.
//!
//! Start order (dependencies first): nucleus, identity, state, consensus,
//! message. A gossip timer drives consensus: every `gossip_interval_ns` the
//! cell asks a peer (picked as its [`GossipPolicy`] says: by default drawn
//! from its seeded stream) for what it lacks; the answer is learned and
//! recorded in a new event.
//!
//! Crash and restart: only [`CellDurable`] survives (keys, config — the
//! member directory included —, the five journals' storage); the host hands
//! the environment back with it ([`CrashedCell`]). [`Cell::recover`] reopens the journals; on `Restart` every
//! service rebuilds from them: Identity replays its attestations into the
//! trust network; Consensus starts from an empty store, takes its own events
//! from its journal (each is journaled before it leaves the cell), learns
//! the history back by gossip (its first sync asks for everything),
//! re-deciding each journaled round and checking it against the journal,
//! learns its own journaled events as their parents arrive and creates no
//! event before the latest; State replays the re-decided rounds into a fresh
//! ledger and checks each against its journaled state block, and Message
//! resubmits the TX/POSTs it had journaled (consensus drops those already
//! seen).

pub mod api;
pub mod client;
pub mod env;
pub mod protocol;
pub mod services;
pub mod shared;
pub mod store;

#[cfg(test)]
mod tests;

use std::cell::{Ref, RefCell};
use std::rc::Rc;
use std::sync::Arc;

pub use api::{
    AdversaryAction, CellCommand, CellObservation, ConsensusRecording, OrderedFacts, RecordedEvent,
    TxId,
};
pub use env::{Environment, EnvironmentHandle, Standalone};
pub use protocol::{
    CellEvent, CellProtocol, CellRequest, CellResponse, CellWire, EventRejection, JournalKind,
    WireEvent, cost,
};
pub use shared::{Directory, MemberInfo};

use crate::bus::{Bus, BusConfig, BusMetrics, Lifecycle};
use crate::codec::Writer;
use crate::identity::{CellId, CellKeys};
use crate::journal::MemoryStorage;
use crate::ledger::{Ledger, LedgerConfig};
use crate::message::{Body, Chat, Post, Tx, TxKind};
use crate::node::{CellIndex, Context, Input, Node, Peers, TimerId};
use crate::rng::{self, DetRng};
use crate::time::TimeNs;
use crate::trust::{AccessPolicy, TrustConfig, TrustEdge, TrustNetwork};
use rand_core::RngCore;

use services::{
    AccessControl, ConsensusService, IdentityService, MessageService, NucleusService, StateService,
};
use shared::{CellIo, IoHandle, JournalReader, JournalSet};

/// The gossip timer.
pub const GOSSIP_TIMER: TimerId = TimerId(1);

/// A cell's configuration (plain data; recorded in the nucleus journal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellConfig {
    pub seed: u64,
    pub index: CellIndex,
    /// The member directory, in member-index order (= cell-index order):
    /// every member's public key, cell id and stake. The same list for every
    /// cell of a world; an `Arc` so that each cell and service holds it for
    /// the price of a pointer.
    pub members: Arc<Directory>,
    /// The hashgraph engine's parameters (the same for every member).
    pub consensus: crate::hashgraph::Config,
    /// Time between two syncs this cell starts.
    pub gossip_interval_ns: TimeNs,
    /// Every member's genesis PRANA balance.
    pub genesis_balance: u64,
    /// Accounts besides the members' at genesis (clients that are not
    /// consensus members), with their balances.
    pub accounts: Arc<[(CellId, u64)]>,
    /// Genesis allocations that replace the defaults above for the
    /// accounts they name (PRANA and exchange tokens; a scenario's
    /// `[[markets.genesis]]`); an account named nowhere else is opened too.
    pub genesis: Arc<[crate::market::GenesisAccount]>,
    pub ledger: LedgerConfig,
    pub trust: TrustConfig,
    pub access: AccessPolicy,
    /// Keep a [`ConsensusRecording`] of what this cell decides (for
    /// exporting its view of the hashgraph; costs memory per event).
    pub record_consensus: bool,
    /// How consensus breaks timestamp ties: the paper's rule, or (only to
    /// show that the safety checkers fire) a deliberate mutation.
    pub tie_break: crate::hashgraph::TieBreak,
    /// How this cell gossips and fills its events (a scenario's
    /// `[consensus]` knobs); the default is the protocol as it always ran.
    pub gossip: GossipPolicy,
}

/// The gossip protocol's knobs: whom a cell syncs with, what a sync
/// carries, and what each event it creates may hold. Every field's
/// default ([`GossipPolicy::DEFAULT`]) is the behaviour before the knob
/// existed, so a run that sets none is the same run, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipPolicy {
    /// Whether the requester of a sync pushes back what the responder lacks.
    pub sync: SyncMode,
    /// Which peer the gossip timer picks.
    pub peer_selection: PeerSelection,
    /// The most events one sync response (or push) carries: the first ones
    /// of what the peer lacks, parents first, so any prefix is learnable;
    /// the rest come with later syncs. `None`: all of them.
    pub events_per_sync_max: Option<u32>,
    /// The most transactions one event this cell creates carries
    /// (`1 ..=` [`GossipPolicy::TRANSACTIONS_PER_EVENT_CEILING`]).
    pub transactions_per_event_max: u32,
    /// The most transaction bytes (the sum of the transactions' encoded
    /// lengths) one event this cell creates carries
    /// (`..=` [`GossipPolicy::TRANSACTION_BYTES_PER_EVENT_CEILING`]). A
    /// transaction longer than this could never enter an event: it is
    /// refused when submitted (counted under
    /// [`GossipPolicy::OVERSIZED_TRANSACTION`]).
    pub transaction_bytes_per_event_max: u32,
}

impl GossipPolicy {
    /// The protocol as it ran before these knobs: push-pull, a uniformly
    /// random peer, whole syncs, up to 256 transactions per event (the old
    /// constant) and up to 1,000,000 transaction bytes — a bound today's
    /// transactions (at most a few hundred bytes each) never reach at 256
    /// per event; an event past it would exceed the 1 MiB every receiver
    /// refuses ([`crate::hashgraph::event::EVENT_BYTES_MAX`]).
    pub const DEFAULT: GossipPolicy = GossipPolicy {
        sync: SyncMode::PushPull,
        peer_selection: PeerSelection::Random,
        events_per_sync_max: None,
        transactions_per_event_max: 256,
        transaction_bytes_per_event_max: Self::TRANSACTION_BYTES_PER_EVENT_CEILING,
    };

    /// The most `transactions_per_event_max` may be: what a receiver
    /// decodes ([`crate::hashgraph::event::TRANSACTIONS_MAX`]).
    pub const TRANSACTIONS_PER_EVENT_CEILING: u32 =
        crate::hashgraph::event::TRANSACTIONS_MAX as u32;

    /// The most `transaction_bytes_per_event_max` may be: with the 4-byte
    /// length of each of up to [`Self::TRANSACTIONS_PER_EVENT_CEILING`]
    /// transactions and the event's header and signature, an event stays
    /// within [`crate::hashgraph::event::EVENT_BYTES_MAX`].
    pub const TRANSACTION_BYTES_PER_EVENT_CEILING: u32 = 1_000_000;

    /// The rejection reason (a [`Cell::rejections`] key and a
    /// `MessageRejected` label) of a transaction submitted for consensus
    /// that is longer than `transaction_bytes_per_event_max`.
    pub const OVERSIZED_TRANSACTION: &'static str =
        "submit: transaction longer than max_event_bytes";
}

// Every event a cell creates within the ceilings decodes at its receivers:
// version, creator, two parents, timestamp, count, lengths, signature.
const _: () = assert!(
    (1 + 4 + 2 * 33 + 8 + 4 + crate::identity::SIGNATURE_LEN)
        + 4 * GossipPolicy::TRANSACTIONS_PER_EVENT_CEILING as usize
        + GossipPolicy::TRANSACTION_BYTES_PER_EVENT_CEILING as usize
        <= crate::hashgraph::event::EVENT_BYTES_MAX
);

impl Default for GossipPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What a sync exchanges ([`GossipPolicy::sync`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncMode {
    /// The requester sends its frontier, the responder what the requester
    /// lacks; the requester learns it, creates its event, and pushes back
    /// (`CellWire::SyncPush`) what the responder's frontier showed it lacks,
    /// the new event included.
    #[default]
    PushPull,
    /// No push back: the responder learns the requester's events only
    /// when it syncs with the requester itself.
    Pull,
}

impl SyncMode {
    pub const ALL: [SyncMode; 2] = [SyncMode::PushPull, SyncMode::Pull];

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        match self {
            SyncMode::PushPull => "push-pull",
            SyncMode::Pull => "pull",
        }
    }
}

/// Which peer a cell's gossip timer picks ([`GossipPolicy::peer_selection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerSelection {
    /// Uniform over the cell's current peers, from its seeded gossip stream.
    #[default]
    Random,
    /// The peer this cell last started a sync with longest ago; peers it
    /// never synced with first, ties to the lowest index. The memory is
    /// volatile: a restarted cell starts again from the lowest index.
    LeastRecent,
    /// A peer with probability proportional to its stake in the member
    /// directory, drawn with integer arithmetic from the seeded gossip
    /// stream (uniform if its peers hold no stake).
    StakeWeighted,
}

impl PeerSelection {
    pub const ALL: [PeerSelection; 3] = [
        PeerSelection::Random,
        PeerSelection::LeastRecent,
        PeerSelection::StakeWeighted,
    ];

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        match self {
            PeerSelection::Random => "random",
            PeerSelection::LeastRecent => "least-recent",
            PeerSelection::StakeWeighted => "stake-weighted",
        }
    }
}

/// Uniform in `0..bound` (`bound > 0`): one [`rng::below`] draw when the
/// bound fits 64 bits (every stake total of a scenario short of 2^64),
/// otherwise two 64-bit words per try, rejecting the top partial range.
fn below_u128(rng: &mut DetRng, bound: u128) -> u128 {
    if let Ok(bound) = u64::try_from(bound) {
        return u128::from(rng::below(rng, bound));
    }
    // Values above `u128::MAX - (2^128 mod bound)` would bias the remainder.
    let limit = u128::MAX - (u128::MAX % bound + 1) % bound;
    loop {
        let value = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
        if value <= limit {
            return value % bound;
        }
    }
}

/// What survives a crash: keys, configuration and the five journals —
/// nothing the cell read from its environment.
pub struct CellDurable {
    pub keys: Arc<CellKeys>,
    pub config: CellConfig,
    /// The five journals, in [`JournalKind`] order.
    pub storages: Vec<MemoryStorage>,
}

/// A crashed cell as its host keeps it: its durable state, and the
/// environment it is handed again at recovery (a host's, not the cell's).
pub struct CrashedCell {
    pub durable: CellDurable,
    pub environment: EnvironmentHandle,
}

/// One cell: a bus with the five services, and the glue to the node contract.
pub struct Cell {
    config: CellConfig,
    keys: Arc<CellKeys>,
    environment: EnvironmentHandle,
    io: IoHandle,
    journals: Rc<RefCell<Option<JournalSet>>>,
    ledger: Rc<RefCell<Ledger>>,
    /// The read side of IdentityService's trust network (for
    /// [`Cell::trust_edge`]).
    access: AccessControl,
    bus: Bus<CellProtocol>,
    gossip_rng: DetRng,
    /// Per cell index, the number (from 1) of the sync this cell last
    /// started with it; 0 or absent: never since this boot. Kept only
    /// under [`PeerSelection::LeastRecent`].
    last_sync_started: Vec<u64>,
    /// Syncs this cell started since this boot (under least-recent).
    syncs_started: u64,
    recording: api::RecordingHandle,
    /// Failed bus calls (typed service errors), for tests and reports.
    pub call_errors: u64,
}

impl Cell {
    /// A fresh cell (empty journals) that boots on `Input::Start`.
    pub fn new(config: CellConfig, keys: Arc<CellKeys>, environment: EnvironmentHandle) -> Cell {
        Cell::build(config, keys, environment, vec![MemoryStorage::new(); 5])
    }

    fn build(
        config: CellConfig,
        keys: Arc<CellKeys>,
        environment: EnvironmentHandle,
        storages: Vec<MemoryStorage>,
    ) -> Cell {
        let set = JournalSet::open(&keys, storages).expect("a cell's own journal storage reopens");
        let boots = set.journal(JournalKind::Nucleus).length();
        let journals = Rc::new(RefCell::new(Some(set)));
        let reader = JournalReader::new(journals.clone());
        let io: IoHandle = Rc::new(RefCell::new(CellIo::default()));
        let me = config.index;
        let members = config.members.clone();
        let ledger = Rc::new(RefCell::new(
            Ledger::genesis_accounts(config.ledger.clone(), genesis_allocation(&config))
                .expect("a valid genesis allocation"),
        ));
        // Streams are keyed by boot count, so a restarted cell never reuses
        // a nonce or replays its gossip choices.
        let stream_index = u64::from(me.0) | (boots << 32);
        let identity = IdentityService::new(
            keys.clone(),
            reader.clone(),
            io.clone(),
            members.clone(),
            TrustNetwork::new(config.trust, config.access.clone()),
            rng::stream(config.seed, "cell-identity", stream_index),
        );
        let signer = identity.signer();
        let access = identity.access();
        let message = MessageService::new(
            signer,
            access.clone(),
            reader.clone(),
            io.clone(),
            members.clone(),
        );
        let recording: api::RecordingHandle = Rc::new(RefCell::new(
            config.record_consensus.then(ConsensusRecording::default),
        ));
        let consensus = ConsensusService::new(
            &config,
            keys.clone(),
            environment.clone(),
            io.clone(),
            reader.clone(),
            recording.clone(),
        );
        let state = StateService::new(
            members.clone(),
            me,
            environment.clone(),
            io.clone(),
            reader,
            ledger.clone(),
        );
        let mut metadata = Writer::new();
        metadata
            .u8(u8::from(boots > 0))
            .u32(me.0)
            .fixed(keys.cell_id().as_bytes())
            .u32(members.len() as u32)
            .u64(config.gossip_interval_ns)
            .u64(config.genesis_balance)
            .u64(boots);
        let nucleus = NucleusService::new(
            journals.clone(),
            metadata.finish(),
            keys.clone(),
            me,
            config.ledger.fee_min,
        );
        let mut bus = Bus::new(BusConfig::default());
        // Registration order is the tie-break of the start order.
        bus.register(NucleusService::spec(), Box::new(nucleus))
            .expect("unique services");
        bus.register(IdentityService::spec(), Box::new(identity))
            .expect("unique services");
        bus.register(StateService::spec(), Box::new(state))
            .expect("unique services");
        bus.register(ConsensusService::spec(), Box::new(consensus))
            .expect("unique services");
        bus.register(MessageService::spec(), Box::new(message))
            .expect("unique services");
        Cell {
            gossip_rng: rng::stream(config.seed, "cell-gossip", stream_index),
            last_sync_started: Vec::new(),
            syncs_started: 0,
            config,
            keys,
            environment,
            io,
            journals,
            ledger,
            access,
            bus,
            recording,
            call_errors: 0,
        }
    }

    pub fn config(&self) -> &CellConfig {
        &self.config
    }

    pub fn keys(&self) -> &CellKeys {
        &self.keys
    }

    /// A second instance of this cell as it would come back from a crash
    /// now — the same keys, configuration and environment, a copy of its
    /// journals — to be handed `Input::Restart`: what the test harness's
    /// Twins run for an equivocating cell (one honest instance per branch on
    /// one key, both continuing the chain from its latest event). Not a
    /// protocol operation: an honest deployment never runs two.
    pub fn spawn_twin(&self) -> Cell {
        let storages = self
            .journals
            .borrow()
            .as_ref()
            .expect("journals open")
            .copy_storages();
        Cell::build(
            self.config.clone(),
            self.keys.clone(),
            self.environment.clone(),
            storages,
        )
    }

    pub fn environment(&self) -> &EnvironmentHandle {
        &self.environment
    }

    /// Per-service calls, events, errors and virtual CPU time.
    pub fn bus_metrics(&self) -> &BusMetrics {
        self.bus.metrics()
    }

    /// The cell's ledger (balances, posts, state hash).
    pub fn ledger(&self) -> Ref<'_, Ledger> {
        self.ledger.borrow()
    }

    /// What this cell's trust network holds about `peer`: the attestation
    /// weight it gave it and its successful and failed interactions with it
    /// (`None`: nothing yet).
    pub fn trust_edge(&self, peer: CellId) -> Option<TrustEdge> {
        self.access.edge(self.keys.cell_id(), peer)
    }

    /// `peer`'s reputation in this cell's trust network (ppm; a forker whose
    /// proof this cell holds scores 0).
    pub fn trust_score_ppm(&self, peer: CellId) -> u64 {
        self.access.score_ppm(&peer)
    }

    /// What this cell decided, if it records (`CellConfig::record_consensus`).
    pub fn consensus_recording(&self) -> Option<Ref<'_, ConsensusRecording>> {
        Ref::filter_map(self.recording.borrow(), Option::as_ref).ok()
    }

    /// Rejected incoming messages and sync events by reason (event
    /// reasons are [`EventRejection::label`]s, `"event: …"`).
    pub fn rejections(&self) -> std::collections::BTreeMap<&'static str, u64> {
        self.io.borrow().rejected.clone()
    }

    /// Blocks in each journal, in [`JournalKind`] order.
    pub fn journal_lengths(&self) -> [u64; 5] {
        let set = self.journals.borrow();
        let set = set.as_ref().expect("journals open");
        JournalKind::ALL.map(|kind| set.journal(kind).length())
    }

    fn boot(&mut self, restart: bool, ctx: &mut Context<'_, CellWire, CellObservation>) {
        self.bus
            .start()
            .expect("the five services form a dependency DAG");
        self.drain(ctx);
        if restart {
            let journal_blocks = self
                .journals
                .borrow()
                .as_ref()
                .map_or(0, JournalSet::total_blocks);
            // Rounds its state journal holds: decided before the crash, and
            // re-decided (and checked) as gossip brings the history back.
            let decided_rounds = self
                .journals
                .borrow()
                .as_ref()
                .map_or(0, |set| set.journal(JournalKind::State).length() as u32);
            ctx.observe(CellObservation::Recovered {
                decided_rounds,
                journal_blocks,
            });
        }
        // Spread the first syncs over one interval.
        let first = rng::below(&mut self.gossip_rng, self.config.gossip_interval_ns.max(1));
        ctx.set_timer(GOSSIP_TIMER, first + 1);
    }

    /// The peer the gossip timer syncs with ([`GossipPolicy::peer_selection`]);
    /// `None` for a cell without peers. Least-recent and stake-weighted
    /// look at every peer once per pick: the same order of work as the
    /// frontier (a count per member) the sync request carries.
    fn pick_gossip_peer(&mut self, peers: Peers<'_>) -> Option<CellIndex> {
        if peers.is_empty() {
            return None;
        }
        let peer = match self.config.gossip.peer_selection {
            PeerSelection::Random => {
                let position = rng::index(&mut self.gossip_rng, peers.len());
                peers.get(position).expect("position below len")
            }
            PeerSelection::LeastRecent => {
                let last = &self.last_sync_started;
                // `min_by_key` keeps the first of equal keys: the lowest
                // index (peers ascend); never-synced peers have key 0.
                let peer = peers
                    .iter()
                    .min_by_key(|peer| last.get(peer.as_usize()).copied().unwrap_or(0))
                    .expect("peers is not empty");
                self.syncs_started += 1;
                if self.last_sync_started.len() <= peer.as_usize() {
                    self.last_sync_started.resize(peer.as_usize() + 1, 0);
                }
                self.last_sync_started[peer.as_usize()] = self.syncs_started;
                peer
            }
            PeerSelection::StakeWeighted => {
                let members = &self.config.members;
                // A peer outside the member directory has no stake.
                let stake_of = |peer: CellIndex| {
                    u128::from(
                        members
                            .get(peer.as_usize())
                            .map_or(0, |member| member.stake),
                    )
                };
                let total: u128 = peers.iter().map(stake_of).sum();
                if total == 0 {
                    let position = rng::index(&mut self.gossip_rng, peers.len());
                    peers.get(position).expect("position below len")
                } else {
                    let mut draw = below_u128(&mut self.gossip_rng, total);
                    peers
                        .iter()
                        .find(|&peer| {
                            let stake = stake_of(peer);
                            if draw < stake {
                                return true;
                            }
                            draw -= stake;
                            false
                        })
                        .expect("the draw is below the peers' total stake")
                }
            }
        };
        Some(peer)
    }

    fn call(&mut self, request: CellRequest) {
        self.bus
            .call(request)
            .expect("the bus queue has room between inputs");
    }

    /// Run the bus to quiescence and turn what the services produced into
    /// node outputs.
    fn drain(&mut self, ctx: &mut Context<'_, CellWire, CellObservation>) {
        loop {
            match self.bus.run() {
                Ok(_) => break,
                Err(crate::bus::BusError::StepLimit { .. }) => continue,
                Err(error) => panic!("the cell's bus failed: {error}"),
            }
        }
        for (_, result) in self.bus.take_replies() {
            self.call_errors += u64::from(result.is_err());
        }
        ctx.charge_cpu(self.bus.take_cpu_ns());
        let mut io = self.io.borrow_mut();
        for (to, message) in io.sends.drain(..) {
            ctx.send(to, message);
        }
        for observation in io.observations.drain(..) {
            ctx.observe(observation);
        }
    }

    fn command(&mut self, command: CellCommand) {
        let me = self.config.index;
        let request = match command {
            CellCommand::Transfer { to, amount, fee } => {
                let receiver = self
                    .config
                    .members
                    .get(to.as_usize())
                    .map(|member| member.cell_id);
                let Some(receiver) = receiver else {
                    self.call_errors += 1;
                    return;
                };
                CellRequest::MessageSubmit {
                    to,
                    body: Body::Tx(Tx {
                        nonce: 0,
                        fee,
                        kind: TxKind::Transfer {
                            to: receiver,
                            amount,
                        },
                    }),
                }
            }
            CellCommand::Market { kind } => CellRequest::MessageSubmit {
                to: me,
                body: Body::Tx(Tx {
                    nonce: 0,
                    fee: self.ledger.borrow().config().fee_min,
                    kind,
                }),
            },
            CellCommand::Post { topic, content } => CellRequest::MessageSubmit {
                to: me,
                body: Body::Post(Post { topic, content }),
            },
            CellCommand::Chat { to, text } => CellRequest::MessageSend {
                to,
                body: Body::Chat(Chat { text }),
            },
            CellCommand::Authenticate { with, identity } => {
                CellRequest::IdentityAuthenticate { with, identity }
            }
            CellCommand::Query { to, topic } => CellRequest::StateQuery { to, topic },
            CellCommand::Exec {
                to,
                task,
                max_payment,
            } => CellRequest::StateExec {
                to,
                task,
                max_payment,
            },
            CellCommand::Relay {
                client,
                encoded,
                first_submitted_ns,
            } => CellRequest::MessageRelay {
                client,
                encoded,
                first_submitted_ns,
            },
        };
        self.call(request);
    }
}

/// Every member with the default balance, then the other accounts, each
/// replaced by its entry in `config.genesis` when it has one; then the
/// entries of `config.genesis` named nowhere else.
fn genesis_allocation(config: &CellConfig) -> Vec<crate::market::GenesisAccount> {
    use crate::market::GenesisAccount;
    let overrides: std::collections::BTreeMap<CellId, &GenesisAccount> = config
        .genesis
        .iter()
        .map(|account| (account.cell, account))
        .collect();
    let mut listed = std::collections::BTreeSet::new();
    let defaults = config
        .members
        .iter()
        .map(|member| (member.cell_id, config.genesis_balance))
        .chain(config.accounts.iter().copied());
    let mut allocation = Vec::new();
    for (cell, prana) in defaults {
        if !listed.insert(cell) {
            continue;
        }
        allocation.push(match overrides.get(&cell) {
            Some(account) => (*account).clone(),
            None => GenesisAccount {
                cell,
                prana,
                tokens: Vec::new(),
            },
        });
    }
    for account in config.genesis.iter() {
        if listed.insert(account.cell) {
            allocation.push(account.clone());
        }
    }
    allocation
}

impl Node for Cell {
    type Message = CellWire;
    type Observation = CellObservation;
    type Command = CellCommand;
    type Durable = CrashedCell;

    fn handle(
        &mut self,
        input: Input<CellWire, CellCommand>,
        ctx: &mut Context<'_, CellWire, CellObservation>,
    ) {
        self.io.borrow_mut().now = ctx.now;
        match input {
            Input::Start => return self.boot(false, ctx),
            Input::Restart => return self.boot(true, ctx),
            _ if self.bus.lifecycle() != Lifecycle::Started => return,
            Input::Deliver { from, message } => {
                let request = match message {
                    CellWire::SyncRequest { frontier } => {
                        CellRequest::ConsensusSyncRequest { from, frontier }
                    }
                    CellWire::SyncResponse {
                        events,
                        frontier,
                        tip,
                    } => CellRequest::ConsensusSyncResponse {
                        from,
                        events,
                        frontier,
                        tip,
                    },
                    CellWire::SyncPush { events } => {
                        CellRequest::ConsensusSyncPush { from, events }
                    }
                    CellWire::Direct { encoded } => CellRequest::MessageReceive { from, encoded },
                };
                self.call(request);
            }
            Input::Timer(GOSSIP_TIMER) => {
                let peer = self.pick_gossip_peer(ctx.peers);
                self.call(CellRequest::ConsensusGossip { peer });
                ctx.set_timer(GOSSIP_TIMER, self.config.gossip_interval_ns.max(1));
            }
            Input::Timer(_) => {}
            Input::Command(command) => self.command(command),
        }
        self.drain(ctx);
    }

    fn crash(self) -> CrashedCell {
        let set = self.journals.borrow_mut().take().expect("journals open");
        CrashedCell {
            durable: CellDurable {
                keys: self.keys,
                config: self.config,
                storages: set.into_storages(),
            },
            environment: self.environment,
        }
    }

    fn recover(crashed: CrashedCell) -> Cell {
        let CrashedCell {
            durable,
            environment,
        } = crashed;
        Cell::build(durable.config, durable.keys, environment, durable.storages)
    }
}
