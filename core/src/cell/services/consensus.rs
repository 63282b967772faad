//! ConsensusService: hashgraph gossip, event creation and the consensus order.

use std::collections::{BTreeMap, HashSet}; // tidy: lookup-only (seen transactions, visited events)
use std::sync::Arc;

use crate::bus::{Service, ServiceSpec};
use crate::codec::{Reader, Writer};
use crate::hashgraph::{
    Decisions, Event, EventBody, EventHash, InsertError, OrderedEvent, StoreEvent,
};
use crate::identity::CellKeys;
use crate::node::CellIndex;

use crate::cell::api::CellObservation;
use crate::cell::api::RecordingHandle;
use crate::cell::protocol::{
    CellEvent, CellProtocol, CellRequest, CellResponse, CellWire, JournalKind, RoundOrdered, cost,
};
use crate::cell::shared::{IoHandle, JournalReader, WorldHandle};
use crate::time::TimeNs;

use super::{CallResult, Ctx, IdentityService, NucleusService, StateService, append, misrouted};

/// Runs the hashgraph gossip protocol: sync with a peer every gossip
/// interval, learn what it sends (parents first, each event's signature
/// checked), create an event with the pending transactions whose other-parent
/// is the peer's latest event, and publish each ordered round.
pub struct ConsensusService {
    me: CellIndex,
    keys: Arc<CellKeys>,
    world: WorldHandle,
    io: IoHandle,
    journals: JournalReader,
    view: crate::hashgraph::MemberView,
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
    replaying: bool,
    /// Per member, one plus the highest sequence number among the ancestors
    /// of this cell's latest own event: which events its chain has reached
    /// (empty before the first event).
    chain_reach: Vec<u32>,
    /// What this cell decided, event by event (`CellConfig::record_consensus`).
    recording: RecordingHandle,
}

/// Most transactions one event carries.
pub const EVENT_TRANSACTIONS_MAX: usize = 256;

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

    pub fn new(
        me: CellIndex,
        keys: Arc<CellKeys>,
        world: WorldHandle,
        io: IoHandle,
        journals: JournalReader,
        recording: RecordingHandle,
    ) -> Self {
        let view = world.borrow().store.new_view();
        ConsensusService {
            me,
            keys,
            world,
            io,
            journals,
            view,
            pending: Vec::new(),
            seen_transactions: HashSet::new(), // tidy: lookup-only
            ordered_events: 0,
            order_digest: [0; 32],
            journaled_rounds: 0,
            journaled: Vec::new(),
            replaying: false,
            chain_reach: Vec::new(),
            recording,
        }
    }

    fn observe(&self, observation: CellObservation) {
        if !self.replaying {
            self.io.borrow_mut().observations.push(observation);
        }
    }

    /// Learn one event the view lacks; its parents must be known.
    fn learn(&mut self, hash: &EventHash, decisions: &mut Decisions) -> bool {
        let found = self.world.borrow().store.find(hash);
        found.is_some_and(|event| self.learn_event(hash, event, decisions))
    }

    /// [`Self::learn`] of an event already found in the store.
    fn learn_event(
        &mut self,
        hash: &EventHash,
        event: StoreEvent,
        decisions: &mut Decisions,
    ) -> bool {
        let world = self.world.borrow();
        match self.view.learn_event(&world.store, event) {
            Ok(learned) => {
                if let Some(recording) = self.recording.borrow_mut().as_mut() {
                    recording.learned(&world.store, event);
                }
                if let Some(event) = world.event(hash) {
                    for transaction in event.transactions() {
                        let tx = *blake3::hash(transaction).as_bytes();
                        if self.seen_transactions.insert(tx) && !self.replaying {
                            self.io
                                .borrow_mut()
                                .observations
                                .push(CellObservation::TxReceived { tx });
                        }
                    }
                }
                decisions.fame.extend(learned.fame);
                decisions.ordered.extend(learned.ordered);
                decisions.forks.extend(learned.forks);
                true
            }
            Err(_) => false,
        }
    }

    /// Learn `targets` and every ancestor the view lacks, parents first.
    fn learn_closure(&mut self, targets: &[EventHash], decisions: &mut Decisions) {
        let mut order: Vec<EventHash> = Vec::new();
        {
            let world = self.world.borrow();
            let mut visited: HashSet<EventHash> = HashSet::new(); // tidy: lookup-only
            // Iterative post-order DFS over parents.
            for &target in targets {
                let mut stack = vec![(target, false)];
                while let Some((hash, expanded)) = stack.pop() {
                    if expanded {
                        order.push(hash);
                        continue;
                    }
                    if self.view.knows(&world.store, &hash) || !visited.insert(hash) {
                        continue;
                    }
                    let Some(event) = world.event(&hash) else {
                        continue;
                    };
                    stack.push((hash, true));
                    for parent in [event.other_parent(), event.self_parent()]
                        .into_iter()
                        .flatten()
                    {
                        stack.push((parent, false));
                    }
                }
            }
        }
        for hash in order {
            self.learn(&hash, decisions);
        }
    }

    /// Create and learn this cell's next event.
    fn create_event(
        &mut self,
        other_parent: Option<EventHash>,
        ctx: &mut Ctx<'_>,
        decisions: &mut Decisions,
    ) {
        let now = self.io.borrow().now;
        let creator = self.me.0;
        let (self_parent, timestamp_ns) = {
            let world = self.world.borrow();
            let self_parent = world.chain(creator).last().copied();
            let parent_time = self_parent
                .and_then(|hash| world.event(&hash).map(|event| event.timestamp_ns()))
                .unwrap_or(0);
            (self_parent, now.max(parent_time + 1))
        };
        let take = self.pending.len().min(EVENT_TRANSACTIONS_MAX);
        let transactions: Vec<Vec<u8>> = self
            .pending
            .drain(..take)
            .map(|bytes| bytes.to_vec())
            .collect();
        let count = transactions.len() as u32;
        // The other parent may be of a round the store has pruned (this cell
        // lagged far behind its peer): then an event on the self-parent
        // alone; failing that, none now, and the transactions wait.
        let mut hash = None;
        for other_parent in [other_parent, None] {
            let event = Event::sign(
                EventBody {
                    creator,
                    self_parent,
                    other_parent,
                    timestamp_ns,
                    transactions: transactions.clone(),
                },
                &self.keys,
            );
            ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::EVENT_LEARN_NS);
            match self.world.borrow_mut().insert_created(event) {
                Ok(inserted) => {
                    hash = Some(inserted);
                    break;
                }
                Err(InsertError::AncientParent { .. } | InsertError::AncientRound { .. }) => {
                    if other_parent.is_none() {
                        break;
                    }
                }
                Err(error) => {
                    panic!("an honest cell's event has known parents and is new: {error}")
                }
            }
        }
        let Some(hash) = hash else {
            self.pending
                .splice(0..0, transactions.into_iter().map(Arc::from));
            self.observe(CellObservation::MessageRejected {
                reason: "own event on parents of rounds pruned long ago",
            });
            return;
        };
        self.learn(&hash, decisions);
        self.observe(CellObservation::EventCreated {
            transactions: count,
        });
        self.observe_reach(&hash, timestamp_ns);
    }

    /// The transactions this cell's chain reaches for the first time with
    /// its new event `own`: those of every event that is an ancestor of
    /// `own` but not of its self-parent. For each, this event's claimed
    /// timestamp is what the cell contributes to the transaction's consensus
    /// timestamp whenever one of its witnesses is famous (Baird 2016,
    /// findOrder: the timestamp of the creator's earliest self-ancestor of
    /// the witness that has the transaction as an ancestor).
    fn observe_reach(&mut self, own: &EventHash, timestamp_ns: TimeNs) {
        let world = self.world.borrow();
        let Some(reach) = world.store.ancestor_reach(own) else {
            return;
        };
        if self.chain_reach.len() != reach.len() {
            self.chain_reach = vec![0; reach.len()];
        }
        let mut reached = Vec::new();
        for (member, (&before, &after)) in self.chain_reach.iter().zip(&reach).enumerate() {
            for seq in before..after {
                let Some(event) = world.store.chain_event(member as u32, seq) else {
                    continue;
                };
                reached.extend(
                    event
                        .transactions()
                        .iter()
                        .map(|transaction| *blake3::hash(transaction).as_bytes()),
                );
            }
        }
        drop(world);
        self.chain_reach = reach;
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
            ctx.emit(CellEvent::Fork {
                creator: fork.creator,
                evidence_hash: *evidence.finalize().as_bytes(),
            })
            .expect("queue has room");
        }
        let decided_after = self.view.decided_rounds();
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
                assert_eq!(
                    self.journaled[round as usize], hashes,
                    "a replayed round orders exactly what was journaled"
                );
            } else {
                let mut writer = Writer::with_capacity(48 + 32 * hashes.len());
                writer
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

    /// Learn a peer's events in order: each one's signature checked (once
    /// per world, paid by every cell), its transactions decoded and checked
    /// (likewise), then learned. Stops at the first bad event.
    fn learn_batch(&mut self, events: &[EventHash], ctx: &mut Ctx<'_>, decisions: &mut Decisions) {
        for hash in events {
            let (received, found) = {
                let mut world = self.world.borrow_mut();
                let found = world.store.find(hash);
                if found.is_some_and(|event| self.view.knows_event(&world.store, event)) {
                    continue;
                }
                (world.receive(hash), found)
            };
            let (Some(received), Some(found)) = (received, found) else {
                self.observe(CellObservation::MessageRejected {
                    reason: "event not in the store",
                });
                break;
            };
            // Every receiver pays for the checks, though the world makes
            // each once: the event's signature and each transaction's two.
            ctx.charge_cpu(
                cost::SIGNATURE_VERIFY_NS
                    + cost::EVENT_LEARN_NS
                    + cost::bytes_ns(received.encoded_bytes as usize)
                    + 2 * cost::SIGNATURE_VERIFY_NS * received.transactions as u64,
            );
            if !received.signature_valid {
                self.observe(CellObservation::MessageRejected {
                    reason: "event signature",
                });
                break;
            }
            if !self.learn_event(hash, found, decisions) {
                self.observe(CellObservation::MessageRejected {
                    reason: "event with unknown parents",
                });
                break;
            }
        }
    }

    pub fn view(&self) -> &crate::hashgraph::MemberView {
        &self.view
    }
}

impl Service<CellProtocol> for ConsensusService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let journaled = self.read_journal();
        let mut decisions = Decisions::default();
        if journaled.is_empty() && self.world.borrow().chain(self.me.0).is_empty() {
            // First boot: the parentless first event.
            self.create_event(None, ctx, &mut decisions);
            self.publish(decisions, 0, ctx);
            return;
        }
        // Restart: re-learn the journaled order and this cell's own events
        // (with their ancestry), so the next event continues its own chain.
        self.replaying = true;
        let mut targets = journaled;
        let own_latest = self.world.borrow().chain(self.me.0).last().copied();
        if let Some(own_latest) = own_latest {
            targets.push(own_latest);
            // What the chain had reached before the crash.
            self.chain_reach = self
                .world
                .borrow()
                .store
                .ancestor_reach(&own_latest)
                .unwrap_or_default();
        }
        ctx.charge_cpu(cost::EVENT_LEARN_NS * targets.len() as u64);
        self.learn_closure(&targets, &mut decisions);
        self.publish(decisions, 0, ctx);
        self.replaying = false;
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::ConsensusGossip { peer: None } => {
                // A world of one: no one to sync with, so the cell's events
                // carry its transactions on its own chain (it alone is a
                // supermajority of the stake, so rounds still advance).
                let decided_before = self.view.decided_rounds();
                let mut decisions = Decisions::default();
                let other_parent = None;
                self.create_event(other_parent, ctx, &mut decisions);
                self.publish(decisions, decided_before, ctx);
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusGossip { peer: Some(peer) } => {
                let known_counts: Arc<[u32]> = self.view.known_counts().into();
                self.io
                    .borrow_mut()
                    .sends
                    .push((peer, CellWire::SyncRequest { known_counts }));
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncRequest { from, known_counts } => {
                let world = self.world.borrow();
                let missing = self.view.missing_for(&world.store, &known_counts);
                let encoded_bytes = missing
                    .iter()
                    .map(|hash| world.encoded_bytes(hash))
                    .fold(0u32, u32::saturating_add);
                drop(world);
                ctx.charge_cpu(cost::bytes_ns(encoded_bytes as usize));
                let own_counts: Arc<[u32]> = self.view.known_counts().into();
                self.io.borrow_mut().sends.push((
                    from,
                    CellWire::SyncResponse {
                        events: missing.into(),
                        encoded_bytes,
                        known_counts: own_counts,
                    },
                ));
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncResponse {
                from,
                events,
                known_counts,
            } => {
                let decided_before = self.view.decided_rounds();
                let mut decisions = Decisions::default();
                self.learn_batch(&events, ctx, &mut decisions);
                let other_parent = {
                    let known = self
                        .view
                        .known_counts()
                        .get(from.as_usize())
                        .copied()
                        .unwrap_or(0);
                    known
                        .checked_sub(1)
                        .and_then(|last| self.world.borrow().chain_event(from.0, last))
                };
                self.create_event(other_parent, ctx, &mut decisions);
                self.publish(decisions, decided_before, ctx);
                // Push back what the responder lacks (this new event included).
                let world = self.world.borrow();
                let missing = self.view.missing_for(&world.store, &known_counts);
                if !missing.is_empty() {
                    let encoded_bytes = missing
                        .iter()
                        .map(|hash| world.encoded_bytes(hash))
                        .fold(0u32, u32::saturating_add);
                    drop(world);
                    ctx.charge_cpu(cost::bytes_ns(encoded_bytes as usize));
                    self.io.borrow_mut().sends.push((
                        from,
                        CellWire::SyncPush {
                            events: missing.into(),
                            encoded_bytes,
                        },
                    ));
                }
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSyncPush { events, .. } => {
                let decided_before = self.view.decided_rounds();
                let mut decisions = Decisions::default();
                self.learn_batch(&events, ctx, &mut decisions);
                self.publish(decisions, decided_before, ctx);
                Ok(CellResponse::Done)
            }
            CellRequest::ConsensusSubmit { encoded, hash } => {
                if self.seen_transactions.insert(hash) {
                    self.pending.push(encoded);
                }
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }
}
