//! ConsensusService: hashgraph gossip, event creation and the consensus order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet}; // tidy: lookup-only (seen transactions, visited events)
use std::sync::Arc;

use crate::bus::{Service, ServiceSpec};
use crate::codec::{DecodeError, Reader, Writer};
use crate::hashgraph::engine::PRUNE_LAG_ROUNDS;
use crate::hashgraph::event::EVENT_BYTES_MAX;
use crate::hashgraph::{
    Decisions, Event, EventBody, EventHash, Frontier, InsertError, OrderedEvent,
};
use crate::identity::CellKeys;
use crate::node::CellIndex;

use crate::cell::api::CellObservation;
use crate::cell::api::RecordingHandle;
use crate::cell::env::EnvironmentHandle;
use crate::cell::protocol::{
    CellEvent, CellProtocol, CellRequest, CellResponse, CellWire, EventRejection, JournalKind,
    RoundOrdered, WireEvent, cost, events_encoded_bytes,
};
use crate::cell::shared::{Directory, IoHandle, JournalReader};
use crate::cell::store::EventStore;
use crate::cell::{GossipPolicy, SyncMode};
use crate::time::TimeNs;

use super::{
    CallResult, Ctx, IdentityService, NucleusService, StateService, append, misrouted,
    record_rejection,
};

/// Runs the hashgraph gossip protocol: sync with a peer every gossip
/// interval, check and learn what it sends (parents first; see
/// [`ConsensusService::learn_batch`]), create an event with the pending
/// transactions on its own latest event and the peer's latest, and publish
/// each ordered round.
pub struct ConsensusService {
    me: CellIndex,
    keys: Arc<CellKeys>,
    /// The member directory ([`crate::cell::CellConfig::members`]).
    members: Arc<Directory>,
    /// Signature checks (a host may make each once for all its cells).
    environment: EnvironmentHandle,
    io: IoHandle,
    journals: JournalReader,
    /// This cell's events and decisions (a view over the world's arena, or
    /// its own engine: [`crate::cell::store`]).
    store: Box<dyn EventStore>,
    /// How it syncs and what its events carry ([`GossipPolicy`]).
    policy: GossipPolicy,
    /// Signed TX/POST bytes waiting for this cell's next event.
    pending: Vec<Arc<[u8]>>,
    /// Transactions in events this view knows, or pending (lookup only).
    seen_transactions: HashSet<[u8; 32]>, // tidy: lookup-only
    ordered_events: u64,
    order_digest: [u8; 32],
    /// Rounds the consensus journal already holds (replayed, not re-journaled).
    journaled_rounds: u32,
    /// Per journaled round: its ordered event hashes, to check the replay.
    journaled: Vec<Vec<EventHash>>,
    /// What this cell decided, event by event (`CellConfig::record_consensus`).
    recording: RecordingHandle,
    /// This cell's latest own event and its timestamp: the self-parent of
    /// its next event (`None` before its first).
    own_latest: Option<(EventHash, TimeNs)>,
    /// Per round not yet published: the most voting rounds an election of
    /// one of its witnesses took in this cell's view.
    election_rounds: BTreeMap<u32, u32>,
    /// Per round not yet ordered, the creators of its famous witnesses (one
    /// entry per famous witness: a forker may have two).
    famous_creators: BTreeMap<u32, Vec<u32>>,
    /// Creators whose fork proof this cell's consensus journal holds.
    journaled_forkers: std::collections::BTreeSet<u32>,
    /// Own events the consensus journal holds (read at start).
    journaled_own_events: u64,
    /// After a restart: this cell's journaled own events it has not
    /// re-learned yet, in chain order. Each is learned from the journal as
    /// soon as gossip has brought its parents; until the last one is, the
    /// cell creates no event (its next one must continue its chain).
    awaiting_own: std::collections::VecDeque<Arc<Event>>,
}

/// The rejection for what the store refuses of a received event.
fn insert_rejection(error: InsertError) -> EventRejection {
    match error {
        InsertError::UnknownCreator { .. } => EventRejection::UnknownCreator,
        InsertError::UnknownParent { .. } => EventRejection::UnknownParent,
        InsertError::SelfParentByOtherCreator { .. } => EventRejection::SelfParentByOtherCreator,
        InsertError::AncientParent { .. } | InsertError::AncientRound { .. } => {
            EventRejection::Ancient
        }
        InsertError::BadSignature { .. } => EventRejection::BadSignature,
        // Callers skip events this cell knows; should one slip through, it
        // is refused, not a panic.
        InsertError::Duplicate(_) => EventRejection::UnknownParent,
    }
}

/// Consensus journal block kinds (the first byte of every block).
const CONSENSUS_BLOCK_ROUND: u8 = 0;
const CONSENSUS_BLOCK_FORK: u8 = 1;
/// An event this cell created, journaled before it leaves the cell (write
/// ahead), so that a restart continues the cell's own chain instead of
/// forking it.
const CONSENSUS_BLOCK_OWN_EVENT: u8 = 2;

impl ConsensusService {
    pub const NAME: &'static str = "consensus";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .depends_on(IdentityService::NAME)
            .depends_on(StateService::NAME)
            .action("consensus.gossip")
            .action("consensus.sync_request")
            .action("consensus.sync_response")
            .action("consensus.sync_push")
            .action("consensus.submit")
    }

    /// The service of the cell configured by `config`, over a fresh store
    /// from its environment.
    pub fn new(
        config: &crate::cell::CellConfig,
        keys: Arc<CellKeys>,
        environment: EnvironmentHandle,
        io: IoHandle,
        journals: JournalReader,
        recording: RecordingHandle,
    ) -> Self {
        let me = config.index;
        let members = config.members.clone();
        let store = environment.new_store(config);
        ConsensusService {
            me,
            keys,
            members,
            environment,
            io,
            journals,
            store,
            policy: config.gossip,
            pending: Vec::new(),
            seen_transactions: HashSet::new(), // tidy: lookup-only
            ordered_events: 0,
            order_digest: [0; 32],
            journaled_rounds: 0,
            journaled: Vec::new(),
            recording,
            own_latest: None,
            election_rounds: BTreeMap::new(),
            famous_creators: BTreeMap::new(),
            journaled_forkers: std::collections::BTreeSet::new(),
            journaled_own_events: 0,
            awaiting_own: std::collections::VecDeque::new(),
        }
    }

    fn observe(&self, observation: CellObservation) {
        self.io.borrow_mut().observations.push(observation);
    }

    /// Learn one event this cell lacks, created or accepted by it; its
    /// parents must be known.
    fn learn(&mut self, event: Arc<Event>, decisions: &mut Decisions) -> Result<(), InsertError> {
        let learned = self.store.learn(Arc::clone(&event))?;
        if let Some(recording) = self.recording.borrow_mut().as_mut() {
            let (round, witness) = self
                .store
                .round(&event.hash())
                .expect("a learned event has its facts");
            recording.learned(event.clone(), round, witness);
        }
        for &tx in event.transaction_ids() {
            if self.seen_transactions.insert(tx) {
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::TxReceived { tx });
            }
        }
        decisions.fame.extend(learned.fame);
        decisions.ordered.extend(learned.ordered);
        decisions.forks.extend(learned.forks);
        Ok(())
    }

    /// After a restart: learn the journaled own events whose parents this
    /// cell now knows, in chain order.
    fn relearn_own(&mut self, decisions: &mut Decisions) {
        while let Some(event) = self.awaiting_own.front() {
            if self.store.knows(&event.hash()) {
                self.awaiting_own.pop_front();
                continue;
            }
            let parents = [event.self_parent(), event.other_parent()];
            if self.store.parent_round(parents).is_none() {
                return;
            }
            let event = self.awaiting_own.pop_front().expect("front exists");
            if self.learn(event, decisions).is_err() {
                return;
            }
        }
    }

    /// Create and learn this cell's next event.
    fn create_event(
        &mut self,
        other_parent: Option<EventHash>,
        ctx: &mut Ctx<'_>,
        decisions: &mut Decisions,
    ) {
        self.relearn_own(decisions);
        if let Some((latest, _)) = self.own_latest
            && !self.store.knows(&latest)
        {
            // Restarted, and its chain not re-learned yet: wait.
            return;
        }
        let now = self.io.borrow().now;
        let creator = self.me.0;
        // The cell's own chain is its own: the self-parent is its latest
        // event as it remembers it, never what the world holds.
        let self_parent = self.own_latest.map(|(hash, _)| hash);
        let parent_time = self.own_latest.map_or(0, |(_, time)| time);
        let timestamp_ns = now.max(parent_time + 1);
        let take = self.transactions_for_next_event();
        let transactions: Vec<Vec<u8>> = self
            .pending
            .drain(..take)
            .map(|bytes| bytes.to_vec())
            .collect();
        let count = transactions.len() as u32;
        // The event must not be ancient by this cell's own rule (the one its
        // receivers apply, [`Self::is_ancient`]): when the other parent
        // does not lift it above this cell's horizon, an event on the
        // self-parent alone; failing that, none now, and the transactions
        // wait.
        let mut created = None;
        for other_parent in [other_parent, None] {
            if self.is_ancient([self_parent, other_parent]) {
                continue;
            }
            let event = Arc::new(Event::sign(
                EventBody {
                    creator,
                    self_parent,
                    other_parent,
                    timestamp_ns,
                    transactions: transactions.clone(),
                },
                &self.keys,
            ));
            ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::EVENT_LEARN_NS);
            match self.learn(Arc::clone(&event), decisions) {
                Ok(()) => {
                    created = Some(event);
                    break;
                }
                // A store shared with cells that have pruned further than
                // this one (a restarted cell's) may refuse old parents.
                Err(InsertError::AncientParent { .. } | InsertError::AncientRound { .. }) => {}
                Err(error) => {
                    panic!("an honest cell's event has known parents and is new: {error}")
                }
            }
        }
        let Some(created) = created else {
            self.pending
                .splice(0..0, transactions.into_iter().map(Arc::from));
            self.observe(CellObservation::MessageRejected {
                reason: "own event on parents of rounds pruned long ago",
            });
            return;
        };
        let hash = created.hash();
        self.own_latest = Some((hash, timestamp_ns));
        // Write ahead: journaled before this input's outputs leave the cell.
        let mut block = Vec::with_capacity(1 + created.encoded_len());
        block.push(CONSENSUS_BLOCK_OWN_EVENT);
        block.extend(created.encode());
        append(ctx, JournalKind::Consensus, block);
        self.observe(CellObservation::EventCreated {
            transactions: count,
        });
        self.observe_reach(&hash, self_parent.as_ref(), timestamp_ns);
    }

    /// How many pending transactions, from the first, the next event takes:
    /// as many as keep both [`GossipPolicy::transactions_per_event_max`]
    /// and [`GossipPolicy::transaction_bytes_per_event_max`]. The first
    /// always fits (a longer one is refused at submission), so the queue
    /// never wedges.
    fn transactions_for_next_event(&self) -> usize {
        let count_max = self.policy.transactions_per_event_max as usize;
        let bytes_max = u64::from(self.policy.transaction_bytes_per_event_max);
        let mut bytes = 0u64;
        self.pending
            .iter()
            .take(count_max)
            .take_while(|transaction| {
                bytes += transaction.len() as u64;
                bytes <= bytes_max
            })
            .count()
    }

    /// This cell's one ancient-event rule, applied alike to the events it
    /// creates and to those it receives: an event is ancient when all its
    /// parents (none, for a first event) are of rounds more than
    /// [`PRUNE_LAG_ROUNDS`] below the first round this cell has not ordered.
    /// It depends only on the event's parents (their rounds are facts of
    /// their ancestry) and on this cell's own progress. A cell that lagged
    /// past it rejoins: its next event rests on a recent other parent.
    fn is_ancient(&self, parents: [Option<EventHash>; 2]) -> bool {
        self.store
            .parent_round(parents)
            .is_some_and(|round| self.is_ancient_above(round))
    }

    /// Whether an event whose highest parent round is `parent_round` is
    /// ancient for this cell ([`Self::is_ancient`]).
    fn is_ancient_above(&self, parent_round: u32) -> bool {
        self.store
            .decided_rounds()
            .checked_sub(PRUNE_LAG_ROUNDS)
            .is_some_and(|horizon| parent_round < horizon)
    }

    /// The transactions this cell's chain reaches for the first time with
    /// its new event `own`: those of every event that is an ancestor of
    /// `own` but not of its self-parent. For each, this event's claimed
    /// timestamp is what the cell contributes to the transaction's consensus
    /// timestamp whenever one of its witnesses is famous (Baird 2016,
    /// findOrder: the timestamp of the creator's earliest self-ancestor of
    /// the witness that has the transaction as an ancestor).
    fn observe_reach(
        &mut self,
        own: &EventHash,
        self_parent: Option<&EventHash>,
        timestamp_ns: TimeNs,
    ) {
        let reached: Vec<[u8; 32]> = self
            .store
            .reached_since(own, self_parent)
            .iter()
            .flat_map(|event| event.transaction_ids().iter().copied())
            .collect();
        for tx in reached {
            self.observe(CellObservation::TxReached {
                tx,
                event_timestamp_ns: timestamp_ns,
            });
        }
    }

    /// Publish what `decisions` ordered, one bus event per decided round.
    fn publish(&mut self, decisions: Decisions, decided_before: u32, ctx: &mut Ctx<'_>) {
        if let Some(recording) = self.recording.borrow_mut().as_mut() {
            recording.decided(&decisions);
        }
        for fork in &decisions.forks {
            let mut evidence = blake3::Hasher::new();
            evidence.update(&fork.first.hash().0);
            evidence.update(&fork.second.hash().0);
            if self.journaled_forkers.insert(fork.creator) {
                // The proof itself, both signed events: evidence anyone can
                // check, kept across a restart.
                let first = fork.first.encode();
                let second = fork.second.encode();
                let mut writer = Writer::with_capacity(16 + first.len() + second.len());
                writer
                    .u8(CONSENSUS_BLOCK_FORK)
                    .u32(fork.creator)
                    .bytes(&first)
                    .bytes(&second);
                append(ctx, JournalKind::Consensus, writer.finish());
            }
            ctx.emit(CellEvent::Fork {
                creator: fork.creator,
                evidence_hash: *evidence.finalize().as_bytes(),
            })
            .expect("queue has room");
        }
        let decided_after = self.store.decided_rounds();
        for fame in &decisions.fame {
            if fame.round >= decided_before {
                let longest = self.election_rounds.entry(fame.round).or_insert(0);
                *longest = (*longest).max(fame.decided_in_round.saturating_sub(fame.round));
                if fame.famous
                    && let Some(creator) = self.store.creator(&fame.witness)
                {
                    self.famous_creators
                        .entry(fame.round)
                        .or_default()
                        .push(creator);
                }
            }
        }
        let mut by_round: BTreeMap<u32, Vec<OrderedEvent>> = BTreeMap::new();
        for ordered in decisions.ordered {
            by_round
                .entry(ordered.round_received)
                .or_default()
                .push(ordered);
        }
        for round in decided_before..decided_after {
            let events = by_round.remove(&round).unwrap_or_default();
            let hashes: Vec<EventHash> =
                events.iter().map(|ordered| ordered.event.hash()).collect();
            for hash in &hashes {
                let mut hasher = blake3::Hasher::new();
                hasher.update(&self.order_digest);
                hasher.update(&hash.0);
                self.order_digest = *hasher.finalize().as_bytes();
            }
            self.ordered_events += hashes.len() as u64;
            let replayed = round < self.journaled_rounds;
            if replayed {
                if self.journaled[round as usize] != hashes {
                    // Pushed directly: replay silences other observations.
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::ReplayDiverged {
                            round,
                            journal: "consensus",
                        });
                }
            } else {
                let mut writer = Writer::with_capacity(48 + 32 * hashes.len());
                writer
                    .u8(CONSENSUS_BLOCK_ROUND)
                    .u32(round)
                    .u64(self.ordered_events)
                    .fixed(&self.order_digest)
                    .u32(hashes.len() as u32);
                for hash in &hashes {
                    writer.fixed(&hash.0);
                }
                append(ctx, JournalKind::Consensus, writer.finish());
            }
            ctx.emit(CellEvent::RoundOrdered(Arc::new(RoundOrdered {
                round,
                events,
                hashes: hashes.into(),
                ordered_events: self.ordered_events,
                order_digest: self.order_digest,
                election_rounds: self.election_rounds.remove(&round).unwrap_or(0),
                unique_famous_creators: unique_creators(
                    self.famous_creators.remove(&round).unwrap_or_default(),
                ),
                replayed,
            })))
            .expect("queue has room");
        }
        assert!(
            by_round.is_empty(),
            "every ordered event is in a decided round"
        );
    }

    fn read_journal(&mut self) -> Vec<EventHash> {
        let mut all = Vec::new();
        for block in self.journals.blocks(JournalKind::Consensus) {
            let mut reader = Reader::new(&block);
            match reader.u8("block kind").expect("own journal") {
                CONSENSUS_BLOCK_ROUND => {}
                CONSENSUS_BLOCK_FORK => {
                    let forker = reader.u32("forker").expect("own journal");
                    self.journaled_forkers.insert(forker);
                    continue;
                }
                CONSENSUS_BLOCK_OWN_EVENT => {
                    let event = Arc::new(Event::decode(&block[1..]).expect("own journal"));
                    self.own_latest = Some((event.hash(), event.timestamp_ns()));
                    // Its transactions are in consensus already: a
                    // resubmission of one must not enter another event.
                    self.seen_transactions
                        .extend(event.transaction_ids().iter().copied());
                    self.awaiting_own.push_back(event);
                    self.journaled_own_events += 1;
                    continue;
                }
                other => panic!("own consensus journal block of unknown kind {other}"),
            }
            let round = reader.u32("round").expect("own journal");
            let _ = reader.u64("ordered").expect("own journal");
            let _ = reader.array::<32>("digest").expect("own journal");
            let count = reader.u32("count").expect("own journal");
            let mut hashes = Vec::with_capacity(count as usize);
            for _ in 0..count {
                hashes.push(EventHash(reader.array::<32>("hash").expect("own journal")));
            }
            assert_eq!(
                round as usize,
                self.journaled.len(),
                "one block per round, in order"
            );
            all.extend(&hashes);
            self.journaled.push(hashes);
        }
        self.journaled_rounds = self.journaled.len() as u32;
        all
    }

    /// Check and learn a peer's events, in order. Each event, as a real
    /// receiver would (a [`WireEvent::Shared`] one is trusted no more than
    /// bytes):
    /// 1. size and structure: within the limits of
    ///    [`crate::hashgraph::event`], and a raw one decodes;
    /// 2. if this view knows it already, it is skipped (not an error): its
    ///    hash covers every byte and the signature, and it passed these
    ///    checks when learned, so nothing is checked or paid again;
    /// 3. its creator is a member;
    /// 4. its signature, against the creator's key (checked once per world,
    ///    [`crate::cell::SharedWorld::signature_valid`], but paid by every
    ///    cell, with the event's transactions' decode and check);
    /// 5. its parents are known to this view;
    /// 6. if no creation put it in the store, the store accepts it
    ///    ([`crate::cell::SharedWorld::accept`]; its refusals become
    ///    [`EventRejection`]s), and the view learns it.
    ///
    /// The first event that fails is rejected ([`Self::reject_event`]) and
    /// the rest of the batch is dropped unchecked: its events may build on
    /// the rejected one. A batch so cut short counts as ONE rejection,
    /// under the reason of the event that failed.
    fn learn_batch(
        &mut self,
        from: CellIndex,
        events: &[WireEvent],
        ctx: &mut Ctx<'_>,
        decisions: &mut Decisions,
    ) {
        for wire in events {
            if let Err(rejection) = self.receive_event(wire, ctx, decisions) {
                self.reject_event(ctx, from, rejection, wire);
                break;
            }
        }
    }

    /// The checks of [`Self::learn_batch`] for one event, and its learning.
    fn receive_event(
        &mut self,
        wire: &WireEvent,
        ctx: &mut Ctx<'_>,
        decisions: &mut Decisions,
    ) -> Result<(), EventRejection> {
        let (event, bytes_paid) = match wire {
            WireEvent::Shared(event) => {
                event.check_limits().map_err(|_| EventRejection::TooLarge)?;
                (Arc::clone(event), false)
            }
            WireEvent::Raw(bytes) => {
                if bytes.len() > EVENT_BYTES_MAX {
                    return Err(EventRejection::TooLarge);
                }
                ctx.charge_cpu(cost::bytes_ns(bytes.len()));
                let event = Event::decode(bytes).map_err(|error| match error {
                    DecodeError::TooLong { .. } => EventRejection::TooLarge,
                    _ => EventRejection::Undecodable,
                })?;
                (Arc::new(event), true)
            }
        };
        let hash = event.hash();
        if self.store.knows(&hash) {
            return Ok(());
        }
        {
            let Some(creator) = self.members.get(event.creator() as usize) else {
                return Err(EventRejection::UnknownCreator);
            };
            // Every receiver pays for the checks, though the world makes
            // each once: the event's signature and each transaction's two
            // (its decode and its signature), and the bytes unless a raw
            // event's decode paid them.
            let bytes_ns = if bytes_paid {
                0
            } else {
                cost::bytes_ns(event.encoded_len())
            };
            ctx.charge_cpu(
                cost::SIGNATURE_VERIFY_NS
                    + cost::EVENT_LEARN_NS
                    + bytes_ns
                    + 2 * cost::SIGNATURE_VERIFY_NS * event.transactions().len() as u64,
            );
            if !self
                .environment
                .signature_valid(&event, &creator.public_key)
            {
                return Err(EventRejection::BadSignature);
            }
        }
        let parents = [event.self_parent(), event.other_parent()];
        let Some(parent_round) = self.store.parent_round(parents) else {
            return Err(EventRejection::UnknownParent);
        };
        if self.is_ancient_above(parent_round) {
            return Err(EventRejection::Ancient);
        }
        self.learn(event, decisions).map_err(insert_rejection)
    }

    /// Count, observe and journal a rejected sync event from `from`, with
    /// its encoding cut to [`EVENT_BYTES_MAX`] (and to one journal block),
    /// in the message journal's entry format (direction in, status
    /// rejected, peer, reason, bytes).
    fn reject_event(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: CellIndex,
        rejection: EventRejection,
        wire: &WireEvent,
    ) {
        let encoded: Cow<'_, [u8]> = match wire {
            WireEvent::Shared(event) => Cow::Owned(event.encode()),
            WireEvent::Raw(bytes) => Cow::Borrowed(bytes),
        };
        let bounded = &encoded[..encoded.len().min(EVENT_BYTES_MAX)];
        record_rejection(ctx, &self.io, from, rejection.label(), bounded);
    }

    /// The events this view knows that a peer with `peer` as its frontier
    /// lacks, parents first, as an honest sender sends them: by pointer;
    /// the first [`GossipPolicy::events_per_sync_max`] of them (a prefix
    /// is learnable: each event's parents precede it or the peer has them).
    fn missing_events(&self, peer: &Frontier) -> Arc<[WireEvent]> {
        let cap = self
            .policy
            .events_per_sync_max
            .map_or(usize::MAX, |max| max as usize);
        self.store
            .missing_for(peer)
            .into_iter()
            .take(cap)
            .map(WireEvent::Shared)
            .collect()
    }
}

impl Service<CellProtocol> for ConsensusService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let journaled = self.read_journal();
        let mut decisions = Decisions::default();
        if self.journaled_own_events == 0 {
            // First boot: the parentless first event.
            self.create_event(None, ctx, &mut decisions);
            self.publish(decisions, 0, ctx);
            return;
        }
        // Restart: the store starts empty. Gossip brings the history back
        // (a first sync asks for everything), rounds are re-decided and
        // checked against the journal as they come, and the cell's own
        // journaled events are learned as soon as their parents are known
        // ([`Self::relearn_own`]); no event is created before the latest.
        let _ = journaled;
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::ConsensusGossip { peer: None } => {
                // A world of one: no one to sync with, so the cell's events
                // carry its transactions on its own chain (it alone is a
                // supermajority of the stake, so rounds still advance).
                let decided_before = self.store.decided_rounds();
                let mut decisions = Decisions::default();
                let other_parent = None;
                self.create_event(other_parent, ctx, &mut decisions);
                self.publish(decisions, decided_before, ctx);
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusGossip { peer: Some(peer) } => {
                let frontier = Arc::new(self.store.frontier());
                self.io
                    .borrow_mut()
                    .sends
                    .push((peer, CellWire::SyncRequest { frontier }));
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncRequest { from, frontier } => {
                let events = self.missing_events(&frontier);
                ctx.charge_cpu(cost::bytes_ns(events_encoded_bytes(&events) as usize));
                // Its latest own event, once its store knows it (a restarted
                // cell's, once re-learned).
                let tip = self
                    .own_latest
                    .map(|(hash, _)| hash)
                    .filter(|hash| self.store.knows(hash));
                self.io.borrow_mut().sends.push((
                    from,
                    CellWire::SyncResponse {
                        events,
                        frontier: Arc::new(self.store.frontier()),
                        tip,
                    },
                ));
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncResponse {
                from,
                events,
                frontier,
                tip,
            } => {
                let decided_before = self.store.decided_rounds();
                let mut decisions = Decisions::default();
                self.learn_batch(from, &events, ctx, &mut decisions);
                // The tip the peer sent, if it is the peer's own and this
                // cell knows it; otherwise the peer's latest event this
                // cell knows.
                let other_parent = tip
                    .filter(|tip| self.store.creator(tip) == Some(from.0))
                    .or_else(|| self.store.latest_of(from.0));
                self.create_event(other_parent, ctx, &mut decisions);
                self.publish(decisions, decided_before, ctx);
                if self.policy.sync == SyncMode::Pull {
                    return Ok(CellResponse::Done);
                }
                // Push back what the responder lacks (this new event included).
                let events = self.missing_events(&frontier);
                if !events.is_empty() {
                    ctx.charge_cpu(cost::bytes_ns(events_encoded_bytes(&events) as usize));
                    self.io
                        .borrow_mut()
                        .sends
                        .push((from, CellWire::SyncPush { events }));
                }
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncPush { from, events } => {
                let decided_before = self.store.decided_rounds();
                let mut decisions = Decisions::default();
                self.learn_batch(from, &events, ctx, &mut decisions);
                self.relearn_own(&mut decisions);
                self.publish(decisions, decided_before, ctx);
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSubmit { encoded, hash } => {
                if encoded.len() as u64 > u64::from(self.policy.transaction_bytes_per_event_max) {
                    // No event could carry it: refused here rather than
                    // held at the head of the queue forever. Counted and
                    // observed, not journaled: the message journal holds
                    // the submission, and a restart refuses it again.
                    let reason = GossipPolicy::OVERSIZED_TRANSACTION;
                    let mut io = self.io.borrow_mut();
                    *io.rejected.entry(reason).or_default() += 1;
                    io.observations
                        .push(CellObservation::MessageRejected { reason });
                    return Ok(CellResponse::Done);
                }
                if self.seen_transactions.insert(hash) {
                    self.pending.push(encoded);
                }
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }
}

/// The creators that appear exactly once in `creators`, ascending.
fn unique_creators(mut creators: Vec<u32>) -> Arc<[u32]> {
    creators.sort_unstable();
    creators
        .iter()
        .enumerate()
        .filter(|&(at, creator)| {
            (at == 0 || creators[at - 1] != *creator) && creators.get(at + 1) != Some(creator)
        })
        .map(|(_, &creator)| creator)
        .collect()
}
