//! The five services of a cell. Each is a [`Service`] on the cell's bus;
//! they reach each other only through bus calls and events, and share the
//! journals as the Nucleus's writers and everyone else's read views.

use std::collections::{BTreeMap, HashSet}; // tidy: lookup-only (seen transactions, visited events)
use std::sync::Arc;

use rand_core::RngCore;

use crate::bus::{Context, Service, ServiceSpec};
use crate::codec::{Reader, Writer};
use crate::hashgraph::{
    Decisions, Event, EventBody, EventHash, InsertError, OrderedEvent, StoreEvent,
};
use crate::identity::{CellId, CellKeys};
use crate::journal::{JournalTag, JournalVerifier, RangeProof};
use crate::ledger::{Ledger, LedgerTx, LedgerTxKind, OrderedItem, PostTx};
use crate::message::{
    Attestation, Auth, Body, Exec, Message, MessageError, MessageType, QUERY_DATA_LEN_MAX,
    QUERY_PROOF_LEN_MAX, Query, QueryTarget, TxKind,
};
use crate::node::CellIndex;
use crate::rng::DetRng;
use crate::trust::{AccessAction, ForkProof as TrustForkProof, InteractionOutcome, TrustNetwork};

use super::api::CellObservation;
use super::api::RecordingHandle;
use super::protocol::{
    CellError, CellEvent, CellProtocol, CellRequest, CellResponse, CellWire, JournalKind,
    RoundOrdered, cost,
};
use super::shared::{IoHandle, JournalReader, JournalSet, Signer, WorldHandle};
use crate::time::TimeNs;
use std::cell::RefCell;
use std::rc::Rc;

type Ctx<'a> = Context<'a, CellProtocol>;
type CallResult = Result<CellResponse, CellError>;

/// Queue an append to one journal (the Nucleus performs it).
fn append(ctx: &mut Ctx<'_>, journal: JournalKind, block: Vec<u8>) {
    ctx.call(CellRequest::NucleusAppend {
        journal,
        blocks: vec![block],
    })
    .expect("the bus accepts an append: queue limits are far above a cell's load");
}

fn misrouted(request: &CellRequest) -> CellError {
    CellError::Misrouted(<CellProtocol as crate::bus::Protocol>::action(request))
}

// ---------------------------------------------------------------- Nucleus

/// The cell's coordinator: its configuration and metadata, the writer of all
/// five journals (every append goes through `nucleus.append`).
pub struct NucleusService {
    journals: Rc<RefCell<Option<JournalSet>>>,
    metadata: Vec<u8>,
}

impl NucleusService {
    pub const NAME: &'static str = "nucleus";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME).action("nucleus.append")
    }

    /// `metadata`: the block recorded at every boot (index, id, config).
    pub fn new(journals: Rc<RefCell<Option<JournalSet>>>, metadata: Vec<u8>) -> Self {
        NucleusService { journals, metadata }
    }

    fn append_now(&mut self, journal: JournalKind, blocks: &[Vec<u8>]) -> Result<(), CellError> {
        let mut set = self.journals.borrow_mut();
        let set = set.as_mut().expect("journals open");
        set.writer_mut(journal)
            .append_batch(blocks)
            .map(|_| ())
            .map_err(|error| CellError::Journal(error.to_string()))
    }
}

impl Service<CellProtocol> for NucleusService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let metadata = self.metadata.clone();
        self.append_now(JournalKind::Nucleus, &[metadata])
            .expect("the boot record fits a journal block");
        ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::NucleusAppend { journal, blocks } => {
                let bytes: usize = blocks.iter().map(Vec::len).sum();
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS + cost::bytes_ns(bytes));
                self.append_now(journal, &blocks)?;
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }
}

// ---------------------------------------------------------------- Identity

/// Identity journal block kinds.
const IDENTITY_GENESIS: u8 = 0;
const IDENTITY_ATTESTED: u8 = 1;
const IDENTITY_ATTESTED_BY: u8 = 2;

/// Trust a completed AUTH exchange gives the subject, in thousandths.
pub const AUTH_TRUST_PERMILLE: u16 = 800;

/// Signs for the cell, runs the AUTH exchange, keeps the trust network and
/// answers access-control questions (through [`AccessControl`]).
pub struct IdentityService {
    keys: Arc<CellKeys>,
    signer: Signer,
    journals: JournalReader,
    io: IoHandle,
    world: WorldHandle,
    trust: Rc<RefCell<TrustNetwork>>,
    rng: DetRng,
    /// Open challenges by nonce.
    challenges: BTreeMap<[u8; 32], Arc<Message>>,
}

/// The read side of the trust network other services consult.
#[derive(Clone)]
pub struct AccessControl {
    trust: Rc<RefCell<TrustNetwork>>,
}

impl AccessControl {
    pub fn allows(&self, cell: &CellId, action: AccessAction) -> bool {
        self.trust.borrow_mut().allows(cell, action)
    }

    pub fn record(&self, from: CellId, to: CellId, outcome: InteractionOutcome) {
        // A self-edge is the only error, and a cell never rates itself.
        let _ = self
            .trust
            .borrow_mut()
            .record_interaction(from, to, outcome);
    }
}

impl IdentityService {
    pub const NAME: &'static str = "identity";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .action("identity.authenticate")
            .subscribe("message.inbound")
            .subscribe("consensus.fork")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        keys: Arc<CellKeys>,
        journals: JournalReader,
        io: IoHandle,
        world: WorldHandle,
        trust: TrustNetwork,
        rng: DetRng,
    ) -> Self {
        let signer = Signer::new(keys.clone(), journals.clone());
        IdentityService {
            keys,
            signer,
            journals,
            io,
            world,
            trust: Rc::new(RefCell::new(trust)),
            rng,
            challenges: BTreeMap::new(),
        }
    }

    pub fn signer(&self) -> Signer {
        self.signer.clone()
    }

    pub fn access(&self) -> AccessControl {
        AccessControl {
            trust: self.trust.clone(),
        }
    }

    fn cell_id_of(&self, index: CellIndex) -> Option<CellId> {
        self.world
            .borrow()
            .members
            .get(index.as_usize())
            .map(|member| member.cell_id)
    }

    /// Rebuild the trust edges from the identity journal.
    fn replay_journal(&mut self) {
        let me = self.keys.cell_id();
        for block in self.journals.blocks(JournalKind::Identity) {
            let Some((&kind, rest)) = block.split_first() else {
                continue;
            };
            let Ok(message) = Message::decode(rest) else {
                continue;
            };
            let Body::Auth(Auth::Attestation(attestation)) = &message.body else {
                continue;
            };
            let weight = u64::from(attestation.trust_permille);
            let mut trust = self.trust.borrow_mut();
            match kind {
                IDENTITY_ATTESTED => {
                    let _ = trust.attest(me, attestation.subject(), weight);
                }
                IDENTITY_ATTESTED_BY => {
                    let _ = trust.attest(message.sender, me, weight);
                }
                _ => {}
            }
        }
    }

    fn route(&self, ctx: &mut Ctx<'_>, to: CellIndex, message: Message) {
        ctx.call(CellRequest::MessageRoute {
            to,
            message: Arc::new(message),
        })
        .expect("queue has room");
    }

    fn on_auth(&mut self, from: CellIndex, message: &Arc<Message>, ctx: &mut Ctx<'_>) {
        let Body::Auth(auth) = &message.body else {
            return;
        };
        let now = self.io.borrow().now;
        match auth {
            Auth::Challenge { .. } => {
                // Prove possession of our key: sign a response bound to it.
                let Ok(body) = Message::auth_response_body(message) else {
                    return;
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                if let Ok(response) = self.signer.sign(now, message.sender, body) {
                    self.route(ctx, from, response);
                }
            }
            Auth::Response {
                challenge_nonce, ..
            } => {
                let Some(challenge) = self.challenges.remove(challenge_nonce) else {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "auth response to no open challenge",
                        });
                    return;
                };
                if Message::check_auth_response(&challenge, message).is_err() {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "auth response does not match its challenge",
                        });
                    return;
                }
                let attestation = Attestation {
                    subject_key: message.proof.public_key,
                    subject_identity_head: message.proof.identity_head.clone(),
                    evidence_hash: message.hash(),
                    trust_permille: AUTH_TRUST_PERMILLE,
                    statement: "authenticated by challenge and response".into(),
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let Ok(signed) = self.signer.sign(
                    now,
                    message.sender,
                    Body::Auth(Auth::Attestation(Box::new(attestation))),
                ) else {
                    return;
                };
                let me = self.keys.cell_id();
                let _ = self.trust.borrow_mut().attest(
                    me,
                    message.sender,
                    u64::from(AUTH_TRUST_PERMILLE),
                );
                let mut block = vec![IDENTITY_ATTESTED];
                block.extend(signed.encode());
                append(ctx, JournalKind::Identity, block);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::Authenticated { peer: from });
                self.route(ctx, from, signed);
            }
            Auth::Attestation(attestation) => {
                let me = self.keys.cell_id();
                if attestation.subject() != me {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::MessageRejected {
                            reason: "attestation about another cell",
                        });
                    return;
                }
                let _ = self.trust.borrow_mut().attest(
                    message.sender,
                    me,
                    u64::from(attestation.trust_permille),
                );
                let mut block = vec![IDENTITY_ATTESTED_BY];
                block.extend(message.encode());
                append(ctx, JournalKind::Identity, block);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::Authenticated { peer: from });
            }
        }
    }
}

impl Service<CellProtocol> for IdentityService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let empty = self
            .journals
            .with(JournalKind::Identity, |journal| journal.is_empty());
        if empty {
            // The genesis block: the key this identity is. Every message
            // carries the identity head, so it must exist before any signing;
            // it is appended here directly through the bus so that the head
            // exists once the bus has run.
            let mut block = vec![IDENTITY_GENESIS];
            block.extend(self.keys.public().as_bytes());
            append(ctx, JournalKind::Identity, block);
        } else {
            self.replay_journal();
        }
        let members: Vec<CellId> = self
            .world
            .borrow()
            .members
            .iter()
            .map(|member| member.cell_id)
            .collect();
        let mut trust = self.trust.borrow_mut();
        for cell in members {
            trust.add_cell(cell);
            trust.add_pre_trusted(cell);
        }
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        match request {
            CellRequest::IdentityAuthenticate { with } => {
                let peer = self.cell_id_of(with).ok_or(CellError::UnknownCell(with))?;
                let mut nonce = [0u8; 32];
                self.rng.fill_bytes(&mut nonce);
                let now = self.io.borrow().now;
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let challenge = self
                    .signer
                    .sign(now, peer, Body::Auth(Auth::Challenge { nonce }))
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                let challenge = Arc::new(challenge);
                self.challenges.insert(nonce, challenge.clone());
                ctx.call(CellRequest::MessageRoute {
                    to: with,
                    message: challenge,
                })
                .expect("queue has room");
                Ok(CellResponse::Done)
            }
            other => Err(misrouted(&other)),
        }
    }

    fn on_event(&mut self, event: &CellEvent, ctx: &mut Ctx<'_>) {
        match event {
            CellEvent::Inbound { from, message } if message.message_type() == MessageType::Auth => {
                self.on_auth(*from, message, ctx);
            }
            CellEvent::Fork {
                creator,
                evidence_hash,
            } => {
                let forker = self.cell_id_of(CellIndex(*creator));
                if let Some(forker) = forker {
                    let is_new = self.trust.borrow_mut().record_fork_proof(TrustForkProof {
                        forker,
                        reporter: self.keys.cell_id(),
                        evidence_hash: *evidence_hash,
                    });
                    if is_new {
                        self.io
                            .borrow_mut()
                            .observations
                            .push(CellObservation::ForkDetected {
                                creator: CellIndex(*creator),
                            });
                    }
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------- Message

/// Message journal: direction and delivery status of each entry.
const DIRECTION_IN: u8 = 0;
const DIRECTION_OUT: u8 = 1;
const STATUS_DELIVERED: u8 = 0;
const STATUS_REJECTED: u8 = 1;
const STATUS_SUBMITTED: u8 = 2;

/// Builds, timestamps, signs (through the identity [`Signer`]), routes and
/// delivers messages; verifies and access-checks what arrives; journals every
/// message in and out with its delivery status.
pub struct MessageService {
    signer: Signer,
    access: AccessControl,
    journals: JournalReader,
    io: IoHandle,
    world: WorldHandle,
    /// Next TX nonce of this cell (recovered from the journal).
    next_nonce: u64,
    /// Rejections by reason.
    pub rejected: Rc<RefCell<BTreeMap<&'static str, u64>>>,
}

impl MessageService {
    pub const NAME: &'static str = "message";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .depends_on(IdentityService::NAME)
            .depends_on(ConsensusService::NAME)
            .action("message.send")
            .action("message.route")
            .action("message.receive")
            .action("message.submit")
            .subscribe("message.inbound")
    }

    pub fn new(
        signer: Signer,
        access: AccessControl,
        journals: JournalReader,
        io: IoHandle,
        world: WorldHandle,
    ) -> Self {
        MessageService {
            signer,
            access,
            journals,
            io,
            world,
            next_nonce: 0,
            rejected: Rc::new(RefCell::new(BTreeMap::new())),
        }
    }

    fn cell_id_of(&self, index: CellIndex) -> Result<CellId, CellError> {
        self.world
            .borrow()
            .members
            .get(index.as_usize())
            .map(|member| member.cell_id)
            .ok_or(CellError::UnknownCell(index))
    }

    fn journal_entry(
        direction: u8,
        status: u8,
        peer: CellIndex,
        reason: &str,
        encoded: &[u8],
    ) -> Vec<u8> {
        let mut writer = Writer::with_capacity(encoded.len() + 16);
        writer
            .u8(direction)
            .u8(status)
            .u32(peer.0)
            .str(reason)
            .bytes(encoded);
        writer.finish()
    }

    fn reject(&mut self, ctx: &mut Ctx<'_>, from: CellIndex, reason: &'static str, encoded: &[u8]) {
        *self.rejected.borrow_mut().entry(reason).or_default() += 1;
        self.io
            .borrow_mut()
            .observations
            .push(CellObservation::MessageRejected { reason });
        let bounded = &encoded[..encoded.len().min(crate::message::MESSAGE_LEN_MAX)];
        append(
            ctx,
            JournalKind::Message,
            Self::journal_entry(DIRECTION_IN, STATUS_REJECTED, from, reason, bounded),
        );
    }

    fn deliver(&mut self, ctx: &mut Ctx<'_>, to: CellIndex, message: &Message) -> [u8; 32] {
        let encoded = message.encode();
        let hash = *blake3::hash(&encoded).as_bytes();
        ctx.charge_cpu(cost::bytes_ns(encoded.len()));
        append(
            ctx,
            JournalKind::Message,
            Self::journal_entry(DIRECTION_OUT, STATUS_DELIVERED, to, "", &encoded),
        );
        self.io.borrow_mut().sends.push((
            to,
            CellWire::Direct {
                encoded: encoded.into(),
            },
        ));
        hash
    }

    fn receive(&mut self, ctx: &mut Ctx<'_>, from: CellIndex, encoded: &[u8]) {
        ctx.charge_cpu(cost::bytes_ns(encoded.len()));
        let message = match Message::decode(encoded) {
            Ok(message) => message,
            Err(_) => return self.reject(ctx, from, "undecodable message", encoded),
        };
        // Identity head and message signature: two checks.
        ctx.charge_cpu(2 * cost::SIGNATURE_VERIFY_NS);
        let expected = self.cell_id_of(from).ok();
        let verified = match expected {
            Some(sender) => message.verify_from(&sender),
            None => Err(MessageError::IdentityMismatch),
        };
        if let Err(error) = verified {
            let reason = match error {
                MessageError::BadSignature => "bad signature",
                MessageError::WrongSigner { .. } => "signer is not the sending cell",
                MessageError::IdentityMismatch => "key does not match the sender",
                MessageError::BadIdentityHead { .. } => "bad identity proof",
                MessageError::BadAttestation { .. } => "bad attestation",
                _ => "invalid message",
            };
            if let Some(sender) = expected {
                self.access
                    .record(self.signer.cell_id(), sender, InteractionOutcome::Failure);
            }
            return self.reject(ctx, from, reason, encoded);
        }
        if message.receiver != self.signer.cell_id() {
            return self.reject(ctx, from, "addressed to another cell", encoded);
        }
        let kind = message.message_type();
        let action = match kind {
            MessageType::Chat => AccessAction::Chat,
            MessageType::Auth => AccessAction::Auth,
            MessageType::Query => AccessAction::Query,
            MessageType::Exec => AccessAction::Exec,
            MessageType::Tx | MessageType::Post => {
                return self.reject(ctx, from, "tx and post travel through consensus", encoded);
            }
        };
        if !self.access.allows(&message.sender, action) {
            return self.reject(ctx, from, "access denied by reputation", encoded);
        }
        self.access.record(
            self.signer.cell_id(),
            message.sender,
            InteractionOutcome::Success,
        );
        append(
            ctx,
            JournalKind::Message,
            Self::journal_entry(DIRECTION_IN, STATUS_DELIVERED, from, "", encoded),
        );
        self.io
            .borrow_mut()
            .observations
            .push(CellObservation::MessageAccepted { kind });
        ctx.emit(CellEvent::Inbound {
            from,
            message: Arc::new(message),
        })
        .expect("queue has room");
    }

    /// Scan the journal on restart: the next nonce, and the TX/POSTs
    /// submitted to consensus (resubmitted: consensus drops those it has seen).
    fn replay_journal(&mut self, ctx: &mut Ctx<'_>) {
        for block in self.journals.blocks(JournalKind::Message) {
            let mut reader = Reader::new(&block);
            let (Ok(direction), Ok(status)) = (reader.u8("direction"), reader.u8("status")) else {
                continue;
            };
            if direction != DIRECTION_OUT || status != STATUS_SUBMITTED {
                continue;
            }
            let _ = reader.u32("peer");
            let _ = reader.str("reason", 256);
            let Ok(encoded) = reader.bytes("message", crate::message::MESSAGE_LEN_MAX) else {
                continue;
            };
            let Ok(message) = Message::decode(encoded) else {
                continue;
            };
            if let Body::Tx(tx) = &message.body {
                self.next_nonce = self.next_nonce.max(tx.nonce + 1);
            }
            ctx.call(CellRequest::ConsensusSubmit {
                encoded: encoded.into(),
                hash: message.hash(),
            })
            .expect("queue has room");
        }
    }
}

impl Service<CellProtocol> for MessageService {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        self.replay_journal(ctx);
    }

    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        let now = self.io.borrow().now;
        match request {
            CellRequest::MessageSend { to, body } => {
                let receiver = self.cell_id_of(to)?;
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let message = self
                    .signer
                    .sign(now, receiver, body)
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                let hash = self.deliver(ctx, to, &message);
                Ok(CellResponse::Sent { hash })
            }
            CellRequest::MessageRoute { to, message } => {
                let hash = self.deliver(ctx, to, &message);
                Ok(CellResponse::Sent { hash })
            }
            CellRequest::MessageReceive { from, encoded } => {
                self.receive(ctx, from, &encoded);
                Ok(CellResponse::Done)
            }
            CellRequest::MessageSubmit { to, body } => {
                let receiver = self.cell_id_of(to)?;
                let body = match body {
                    Body::Tx(mut tx) => {
                        tx.nonce = self.next_nonce;
                        Body::Tx(tx)
                    }
                    other => other,
                };
                ctx.charge_cpu(cost::SIGNATURE_SIGN_NS);
                let message = self
                    .signer
                    .sign(now, receiver, body)
                    .map_err(|error| CellError::Sign(error.to_string()))?;
                if matches!(message.body, Body::Tx(_)) {
                    self.next_nonce += 1;
                }
                let encoded = message.encode();
                let hash = *blake3::hash(&encoded).as_bytes();
                append(
                    ctx,
                    JournalKind::Message,
                    Self::journal_entry(DIRECTION_OUT, STATUS_SUBMITTED, to, "", &encoded),
                );
                if matches!(message.body, Body::Tx(_)) {
                    self.io
                        .borrow_mut()
                        .observations
                        .push(CellObservation::TxSubmitted { tx: hash });
                }
                ctx.call(CellRequest::ConsensusSubmit {
                    encoded: encoded.into(),
                    hash,
                })
                .expect("queue has room");
                Ok(CellResponse::Sent { hash })
            }
            other => Err(misrouted(&other)),
        }
    }

    fn on_event(&mut self, event: &CellEvent, _ctx: &mut Ctx<'_>) {
        // CHAT ends here: it was verified and journaled on receipt (and on
        // the sender's side when sent).
        if let CellEvent::Inbound { message, .. } = event {
            debug_assert!(message.receiver == self.signer.cell_id());
        }
    }
}

// ---------------------------------------------------------------- Consensus

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

// ---------------------------------------------------------------- State

/// Applies each ordered round to the PRANA ledger and the POST dataset,
/// journals the state history (one block per round, with the round's posts),
/// and answers QUERY (posts with a journal proof) and EXEC requests.
pub struct StateService {
    world: WorldHandle,
    io: IoHandle,
    journals: JournalReader,
    ledger: Rc<RefCell<Ledger>>,
    /// Transactions ordered so far (positions of `TxOrdered`).
    ordered_transactions: u64,
    /// State journal blocks already written (replayed rounds are checked
    /// against them instead).
    journaled_rounds: u64,
    /// Open EXEC requests by task id: the task and its executor.
    exec_requests: BTreeMap<u64, (crate::message::ExecTask, CellIndex)>,
    /// Open QUERY requests by id: the cell and topic asked.
    queries: BTreeMap<u64, (CellIndex, String)>,
    next_request_id: u64,
}

/// Most posts one QUERY asks for.
pub const QUERY_ANSWER_POSTS_MAX: u32 = 64;

/// What an EXEC costs per work unit, in PRANA.
pub const EXEC_PRICE_PER_WORK_UNIT: u64 = 1;

impl StateService {
    pub const NAME: &'static str = "state";

    pub fn spec() -> ServiceSpec {
        ServiceSpec::new(Self::NAME)
            .depends_on(NucleusService::NAME)
            .action("state.query")
            .action("state.exec")
            .subscribe("consensus.round")
            .subscribe("message.inbound")
    }

    pub fn new(
        world: WorldHandle,
        io: IoHandle,
        journals: JournalReader,
        ledger: Rc<RefCell<Ledger>>,
    ) -> Self {
        let journaled_rounds = journals.with(JournalKind::State, |journal| journal.length());
        StateService {
            world,
            io,
            journals,
            ledger,
            ordered_transactions: 0,
            journaled_rounds,
            exec_requests: BTreeMap::new(),
            queries: BTreeMap::new(),
            next_request_id: 0,
        }
    }

    /// A new request id (query or exec), unique within this cell's life:
    /// restarts continue from the message journal's length.
    fn next_id(&mut self) -> u64 {
        let base = self
            .journals
            .with(JournalKind::Message, |journal| journal.length());
        self.next_request_id += 1;
        (base << 20) | self.next_request_id
    }

    fn apply_round(&mut self, round: &RoundOrdered, ctx: &mut Ctx<'_>) {
        let mut items = Vec::new();
        let mut tx_slots: Vec<(usize, [u8; 32], &OrderedEvent)> = Vec::new();
        {
            let mut world = self.world.borrow_mut();
            for ordered in &round.events {
                for bytes in ordered.event.transactions() {
                    let Some(message) = world.transaction(bytes) else {
                        continue;
                    };
                    let item = match &message.body {
                        Body::Tx(tx) => {
                            let TxKind::Transfer { to, amount } = tx.kind;
                            OrderedItem::Tx(LedgerTx {
                                sender: message.sender,
                                nonce: tx.nonce,
                                fee: tx.fee,
                                kind: LedgerTxKind::Transfer { to, amount },
                            })
                        }
                        Body::Post(post) => OrderedItem::Post(PostTx {
                            author: message.sender,
                            topic: post.topic.clone(),
                            content: post.content.clone(),
                        }),
                        _ => continue,
                    };
                    if matches!(item, OrderedItem::Tx(_)) {
                        tx_slots.push((items.len(), message.hash(), ordered));
                    }
                    items.push(item);
                }
            }
        }
        ctx.charge_cpu(cost::LEDGER_ITEM_NS * items.len() as u64);
        let outcome = self
            .ledger
            .borrow_mut()
            .apply_round(u64::from(round.round), &items)
            .expect("consensus rounds strictly increase and carry bounded items");
        let rejected: std::collections::BTreeSet<usize> =
            outcome.rejected.iter().map(|(index, _)| *index).collect();
        if !round.replayed {
            for (index, tx, ordered) in &tx_slots {
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::TxOrdered {
                        tx: *tx,
                        round_received: ordered.round_received,
                        consensus_timestamp_ns: ordered.consensus_timestamp_ns,
                        position: self.ordered_transactions,
                        applied: !rejected.contains(index),
                    });
                self.ordered_transactions += 1;
            }
        } else {
            self.ordered_transactions += tx_slots.len() as u64;
        }
        // The state history: round, state hash, and the round's posts (what
        // QUERY answers prove).
        let mut writer = Writer::new();
        writer
            .u32(round.round)
            .fixed(&outcome.state_hash)
            .u64(round.ordered_events)
            .u32(outcome.posts.len() as u32);
        let ledger = self.ledger.borrow();
        for id in &outcome.posts {
            let post = ledger.post(id).expect("an applied post is in the dataset");
            writer
                .fixed(post.author.as_bytes())
                .str(&post.topic)
                .bytes(&post.content);
        }
        drop(ledger);
        let block = writer.finish();
        if u64::from(round.round) < self.journaled_rounds {
            let journaled = self
                .journals
                .with(JournalKind::State, |journal| {
                    journal
                        .block(u64::from(round.round))
                        .map(|b| b.into_owned())
                })
                .expect("a journaled round is stored");
            assert_eq!(
                journaled, block,
                "replaying a round reproduces its journaled state"
            );
        } else {
            append(ctx, JournalKind::State, block);
        }
        if !round.replayed {
            self.io
                .borrow_mut()
                .observations
                .push(CellObservation::RoundDecided {
                    round: round.round,
                    ordered_events: round.ordered_events,
                    order_digest: round.order_digest,
                    state_hash: outcome.state_hash,
                });
        }
    }

    /// Answer a query for `cell`'s posts on `topic`: the matching posts and
    /// a range proof over the state-journal blocks that hold them.
    fn answer_query(&self, target: &QueryTarget) -> Option<(Vec<u8>, Vec<u8>)> {
        let QueryTarget::PostsByTopic {
            cell,
            topic,
            from_sequence,
            count_max,
        } = target
        else {
            return None;
        };
        self.journals.with(JournalKind::State, |journal| {
            let length = journal.length();
            let mut first_block = None;
            let mut last_block = 0;
            let mut found = Vec::new();
            let mut sequence = 0u64;
            for index in 0..length {
                let block = journal.block(index).ok()?;
                for post in decode_state_posts(&block)? {
                    if post.0 != *cell || post.1 != *topic {
                        continue;
                    }
                    if sequence >= *from_sequence && found.len() < *count_max as usize {
                        first_block.get_or_insert(index);
                        last_block = index;
                        found.push(post);
                    }
                    sequence += 1;
                }
            }
            let mut data = Writer::new();
            data.u32(found.len() as u32);
            for (author, topic, content) in &found {
                data.fixed(author.as_bytes()).str(topic).bytes(content);
            }
            let proof = match first_block {
                Some(first) => journal
                    .range_proof(first, last_block + 1, length)
                    .ok()?
                    .to_bytes(),
                None if length > 0 => journal
                    .range_proof(length - 1, length, length)
                    .ok()?
                    .to_bytes(),
                None => return None,
            };
            let data = data.finish();
            (data.len() <= QUERY_DATA_LEN_MAX && proof.len() <= QUERY_PROOF_LEN_MAX)
                .then_some((data, proof))
        })
    }

    fn on_inbound(&mut self, from: CellIndex, message: &Message, ctx: &mut Ctx<'_>) {
        let reply = |ctx: &mut Ctx<'_>, body: Body| {
            ctx.call(CellRequest::MessageSend { to: from, body })
                .expect("queue has room");
        };
        match &message.body {
            Body::Query(Query::Request { query_id, what }) => {
                ctx.charge_cpu(cost::bytes_ns(1024));
                if let Some((data, proof)) = self.answer_query(what) {
                    reply(
                        ctx,
                        Body::Query(Query::Answer {
                            query_id: *query_id,
                            data,
                            proof,
                        }),
                    );
                }
            }
            Body::Query(Query::Answer {
                query_id,
                data,
                proof,
            }) => {
                let Some((asked, topic)) = self.queries.remove(query_id) else {
                    return;
                };
                ctx.charge_cpu(cost::SIGNATURE_VERIFY_NS);
                let key = self.world.borrow().members[asked.as_usize()].public_key;
                let (verified, items) = verify_query_answer(&key, &topic, data, proof);
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::QueryAnswered { verified, items });
            }
            Body::Exec(Exec::Request {
                task_id,
                task,
                max_payment,
            }) => {
                let work = task.work_units();
                ctx.charge_cpu(cost::EXEC_WORK_UNIT_NS.saturating_mul(work));
                let charged = work
                    .saturating_mul(EXEC_PRICE_PER_WORK_UNIT)
                    .min(*max_payment);
                reply(
                    ctx,
                    Body::Exec(Exec::Result {
                        task_id: *task_id,
                        output: task.run(),
                        charged,
                    }),
                );
            }
            Body::Exec(Exec::Result {
                task_id,
                output,
                charged,
            }) => {
                let Some((task, executor)) = self.exec_requests.remove(task_id) else {
                    return;
                };
                ctx.charge_cpu(cost::EXEC_WORK_UNIT_NS.saturating_mul(task.work_units()));
                let verified = *output == task.run() && from == executor;
                self.io
                    .borrow_mut()
                    .observations
                    .push(CellObservation::ExecCompleted {
                        verified,
                        charged: *charged,
                    });
                if verified && *charged > 0 {
                    // Pay the executor through consensus.
                    let to = self.world.borrow().members[executor.as_usize()].cell_id;
                    ctx.call(CellRequest::MessageSubmit {
                        to: executor,
                        body: Body::Tx(crate::message::Tx {
                            nonce: 0,
                            fee: self.ledger.borrow().config().fee_min,
                            kind: TxKind::Transfer {
                                to,
                                amount: *charged,
                            },
                        }),
                    })
                    .expect("queue has room");
                }
            }
            _ => {}
        }
    }
}

/// The posts (author, topic, content) of one state-journal block; `None`
/// if the block does not decode.
pub fn decode_state_posts(block: &[u8]) -> Option<Vec<(CellId, String, Vec<u8>)>> {
    let mut reader = Reader::new(block);
    reader.u32("round").ok()?;
    reader.array::<32>("state hash").ok()?;
    reader.u64("ordered events").ok()?;
    let count = reader.count("posts", crate::ledger::ROUND_ITEMS_MAX).ok()?;
    let mut posts = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let author = CellId(reader.array::<32>("author").ok()?);
        let topic = reader
            .str("topic", crate::ledger::POST_TOPIC_BYTES_MAX)
            .ok()?
            .to_string();
        let content = reader
            .bytes("content", crate::ledger::POST_CONTENT_BYTES_MAX)
            .ok()?
            .to_vec();
        posts.push((author, topic, content));
    }
    reader.finish().ok()?;
    Some(posts)
}

/// The asker's check of a QUERY answer: the proof is a valid range of the
/// answerer's state journal (signed by `key`), and every post in `data` is
/// in a proven block, by the answerer, on `topic`. Returns (verified, items).
pub fn verify_query_answer(
    key: &crate::identity::PublicKey,
    topic: &str,
    data: &[u8],
    proof: &[u8],
) -> (bool, u32) {
    let Ok(proof) = RangeProof::from_bytes(proof) else {
        return (false, 0);
    };
    let verifier = JournalVerifier::new(*key, JournalTag::named(JournalKind::State.name()));
    if verifier.verify_range(&proof).is_err() {
        return (false, 0);
    }
    let mut proven = Vec::new();
    for block in &proof.blocks {
        match decode_state_posts(block) {
            Some(posts) => proven.extend(posts),
            None => return (false, 0),
        }
    }
    let mut reader = Reader::new(data);
    let Ok(count) = reader.count("posts", crate::message::QUERY_COUNT_MAX) else {
        return (false, 0);
    };
    let author = key.cell_id();
    let mut items = 0;
    for _ in 0..count {
        let (Ok(post_author), Ok(post_topic), Ok(content)) = (
            reader.array::<32>("author"),
            reader.str("topic", crate::ledger::POST_TOPIC_BYTES_MAX),
            reader.bytes("content", crate::ledger::POST_CONTENT_BYTES_MAX),
        ) else {
            return (false, items);
        };
        let post = (
            CellId(post_author),
            post_topic.to_string(),
            content.to_vec(),
        );
        if post.0 != author || post.1 != topic || !proven.contains(&post) {
            return (false, items);
        }
        items += 1;
    }
    (reader.finish().is_ok(), items)
}

impl Service<CellProtocol> for StateService {
    fn on_call(&mut self, request: CellRequest, ctx: &mut Ctx<'_>) -> CallResult {
        let (to, body) = match request {
            CellRequest::StateQuery { to, topic } => {
                let query_id = self.next_id();
                let cell = self
                    .world
                    .borrow()
                    .members
                    .get(to.as_usize())
                    .map(|member| member.cell_id)
                    .ok_or(CellError::UnknownCell(to))?;
                self.queries.insert(query_id, (to, topic.clone()));
                let what = QueryTarget::PostsByTopic {
                    cell,
                    topic,
                    from_sequence: 0,
                    count_max: QUERY_ANSWER_POSTS_MAX,
                };
                (to, Body::Query(Query::Request { query_id, what }))
            }
            CellRequest::StateExec {
                to,
                task,
                max_payment,
            } => {
                let task_id = self.next_id();
                self.exec_requests.insert(task_id, (task.clone(), to));
                (
                    to,
                    Body::Exec(Exec::Request {
                        task_id,
                        task,
                        max_payment,
                    }),
                )
            }
            other => return Err(misrouted(&other)),
        };
        ctx.call(CellRequest::MessageSend { to, body })
            .expect("queue has room");
        Ok(CellResponse::Done)
    }

    fn on_event(&mut self, event: &CellEvent, ctx: &mut Ctx<'_>) {
        match event {
            CellEvent::RoundOrdered(round) => self.apply_round(round, ctx),
            CellEvent::Inbound { from, message } => self.on_inbound(*from, message, ctx),
            CellEvent::Fork { .. } => {}
        }
    }
}
