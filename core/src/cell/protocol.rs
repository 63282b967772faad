//! The cell's bus protocol (one request, response, error and event enum for
//! the five services), its wire messages, and the virtual CPU cost model.

use std::sync::Arc;

use crate::bus::Protocol;
use crate::hashgraph::{Event, EventHash, Frontier, OrderedEvent};
use crate::identity::CellId;
use crate::message::{Body, Message};
use crate::node::{CellIndex, Payload};
use crate::time::TimeNs;
use crate::trust::InteractionOutcome;

/// Virtual CPU prices a cell is charged (`Output::ChargeCpu`), in
/// nanoseconds. Figures are those of one core of a 2020s x86_64 server
/// running ed25519-dalek and blake3: a signature costs about 20 µs to make
/// and 50 µs to check; learning an event into the hashgraph costs a few µs.
/// In the simulator a signature is checked once per world and cached, but
/// every cell that receives it pays [`cost::SIGNATURE_VERIFY_NS`] as if it had.
pub mod cost {
    use crate::time::TimeNs;
    /// Making one ed25519 signature (an event, a message, a journal head).
    pub const SIGNATURE_SIGN_NS: TimeNs = 20_000;
    /// Checking one ed25519 signature.
    pub const SIGNATURE_VERIFY_NS: TimeNs = 50_000;
    /// Learning one event into a member view (rounds, sights, votes).
    pub const EVENT_LEARN_NS: TimeNs = 4_000;
    /// Hashing or copying one KiB (decode, journal leaf hashes).
    pub const BYTES_PER_KIB_NS: TimeNs = 1_000;
    /// Applying one ordered item to the ledger.
    pub const LEDGER_ITEM_NS: TimeNs = 2_000;
    /// One unit of [`crate::message::ExecTask::work_units`].
    pub const EXEC_WORK_UNIT_NS: TimeNs = 500;

    /// The price of handling `bytes` bytes.
    pub fn bytes_ns(bytes: usize) -> TimeNs {
        (bytes as TimeNs).div_ceil(1024) * BYTES_PER_KIB_NS
    }
}

/// The five journals of a cell, in the order of
/// [`crate::journal::SERVICE_JOURNAL_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JournalKind {
    Nucleus = 0,
    Message = 1,
    State = 2,
    Identity = 3,
    Consensus = 4,
}

impl JournalKind {
    pub const ALL: [JournalKind; 5] = [
        JournalKind::Nucleus,
        JournalKind::Message,
        JournalKind::State,
        JournalKind::Identity,
        JournalKind::Consensus,
    ];

    pub fn name(self) -> &'static str {
        crate::journal::SERVICE_JOURNAL_NAMES[self as usize]
    }
}

/// One event in a sync, as it travels.
///
/// A real link carries bytes; the simulator lets an honest sender pass the
/// event it already holds by pointer instead of encoding it and having
/// every receiver decode it again. Both forms go through the same receive
/// checks (size, structure, creator, signature, parents): a `Shared` event
/// is trusted no more than bytes are.
#[derive(Debug, Clone)]
pub enum WireEvent {
    /// The honest fast path: the event as the world holds it
    /// ([`crate::cell::SharedWorld::event`]). It is accounted on the wire at
    /// its full encoded size ([`Event::encoded_len`]).
    Shared(Arc<Event>),
    /// Bytes as a real link carries them (what a Byzantine sender may
    /// forge, mutate or garble), decoded by the receiver through the
    /// bounded [`Event::decode`].
    Raw(Arc<[u8]>),
}

impl WireEvent {
    /// Bytes this event takes on the wire.
    pub fn encoded_len(&self) -> usize {
        match self {
            WireEvent::Shared(event) => event.encoded_len(),
            WireEvent::Raw(bytes) => bytes.len(),
        }
    }

    /// What [`CellWire::digest`] folds in for this event: the first 8
    /// bytes of the event hash, or of blake3 of the raw bytes.
    fn digest_word(&self) -> u64 {
        let word = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        match self {
            WireEvent::Shared(event) => word(&event.hash().0),
            WireEvent::Raw(bytes) => word(blake3::hash(bytes).as_bytes()),
        }
    }
}

/// Why a cell refused an event it received in a sync. The receiver's checks
/// run in the order of these variants (the last two are the store's
/// refusals, when the event enters it); the first that fails names the
/// rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventRejection {
    /// Over a limit of [`crate::hashgraph::event`] (encoded size,
    /// transaction count or transaction size).
    TooLarge,
    /// Raw bytes that are not an event's canonical encoding.
    Undecodable,
    /// A creator index at or above the member count.
    UnknownCreator,
    /// The signature does not verify under the creator's key.
    BadSignature,
    /// A parent this cell does not know (the batch was not parents first,
    /// or the parent was never sent).
    UnknownParent,
    /// A self-parent created by another member.
    SelfParentByOtherCreator,
    /// Both parents, or the event's round, are below the store's prune
    /// horizon: decided long ago.
    Ancient,
}

impl EventRejection {
    /// The fixed label counted in [`crate::cell::Cell::rejections`],
    /// observed as `MessageRejected { reason }` and journaled.
    pub fn label(self) -> &'static str {
        match self {
            EventRejection::TooLarge => "event: too large",
            EventRejection::Undecodable => "event: undecodable",
            EventRejection::UnknownCreator => "event: unknown creator",
            EventRejection::BadSignature => "event: bad signature",
            EventRejection::UnknownParent => "event: unknown parent",
            EventRejection::SelfParentByOtherCreator => "event: self-parent by another creator",
            EventRejection::Ancient => "event: ancient",
        }
    }
}

/// What travels between cells.
#[derive(Debug, Clone)]
pub enum CellWire {
    /// "Here is what I know (how many events of each member, and the branch
    /// tips of every member I have seen fork); send what I lack."
    SyncRequest { frontier: Arc<Frontier> },
    /// The events the requester lacks, parents first. Their wire size is
    /// their encoded size, whatever their form ([`WireEvent::encoded_len`]).
    SyncResponse {
        events: Arc<[WireEvent]>,
        /// The responder's own frontier, so the requester can push back
        /// what the responder lacks (a push-pull sync: knowledge spreads
        /// both ways in one exchange).
        frontier: Arc<Frontier>,
        /// The responder's latest own event: the other parent of the
        /// requester's next event (an equivocator names the branch it
        /// shows this peer).
        tip: Option<EventHash>,
    },
    /// The requester's push: the events the responder lacks, parents first.
    SyncPush { events: Arc<[WireEvent]> },
    /// A signed message (CHAT, AUTH, QUERY, EXEC), in its canonical encoding.
    Direct { encoded: Arc<[u8]> },
}

/// Bytes of framing per wire message (type tag, length).
const WIRE_FRAME_BYTES: u32 = 8;

/// Encoded bytes of a sync's events.
pub fn events_encoded_bytes(events: &[WireEvent]) -> u32 {
    events
        .iter()
        .map(|event| u32::try_from(event.encoded_len()).unwrap_or(u32::MAX))
        .fold(0u32, u32::saturating_add)
}

impl Payload for CellWire {
    fn wire_bytes(&self) -> u32 {
        let body = match self {
            CellWire::SyncRequest { frontier } => frontier.wire_bytes(),
            CellWire::SyncResponse {
                events,
                frontier,
                tip,
            } => events_encoded_bytes(events)
                .saturating_add(frontier.wire_bytes())
                .saturating_add(if tip.is_some() { 32 } else { 0 }),
            CellWire::SyncPush { events } => events_encoded_bytes(events),
            CellWire::Direct { encoded } => u32::try_from(encoded.len()).unwrap_or(u32::MAX),
        };
        body.saturating_add(WIRE_FRAME_BYTES)
    }

    fn digest(&self) -> u64 {
        // Equal on every machine and cheap: one word per event of a sync
        // (the first 8 bytes of its hash; blake3 of the bytes, once, for a
        // raw one), so two syncs that differ in any event differ here.
        let fold = |bytes: &[u8]| u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        match self {
            CellWire::SyncRequest { frontier } => frontier.digest_word(),
            CellWire::SyncResponse { events, .. } | CellWire::SyncPush { events } => {
                // The variant is folded in: a push and a response of the
                // same events are different messages. Multiplying by an odd
                // constant before each word makes the fold depend on the
                // events' order, not only on which events there are.
                let variant: u64 = if matches!(self, CellWire::SyncPush { .. }) {
                    3
                } else {
                    1
                };
                let mut seed = ((events.len() as u64) << 2) | variant;
                if let CellWire::SyncResponse { frontier, tip, .. } = self {
                    seed ^= frontier.digest_word().rotate_left(11);
                    if let Some(tip) = tip {
                        seed ^= fold(&tip.0).rotate_left(29);
                    }
                }
                events.iter().fold(seed, |acc, event| {
                    acc.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(23) ^ event.digest_word()
                })
            }
            CellWire::Direct { encoded } => {
                let hash = blake3::hash(encoded);
                fold(hash.as_bytes())
            }
        }
    }
}

/// One ordered round as consensus publishes it to the state machine.
#[derive(Debug, Clone)]
pub struct RoundOrdered {
    pub round: u32,
    /// The round's events in consensus order.
    pub events: Vec<OrderedEvent>,
    /// Their hashes, in the same order.
    pub hashes: Arc<[EventHash]>,
    /// Events ordered so far, this round included.
    pub ordered_events: u64,
    /// Chained hash of every ordered event's hash so far.
    pub order_digest: [u8; 32],
    /// The most voting rounds this cell's election of any witness of the
    /// round took (fame decided by a witness of round `round + n`: `n`).
    pub election_rounds: u32,
    /// Creators of the round's unique famous witnesses (each creator with
    /// exactly one famous witness in the round), ascending: the members
    /// whose claims the round's consensus timestamps are medians of.
    pub unique_famous_creators: Arc<[u32]>,
    /// True while a restarted cell replays rounds it had journaled: nothing
    /// is journaled or observed again.
    pub replayed: bool,
}

/// Calls on the cell's bus.
#[derive(Debug, Clone)]
pub enum CellRequest {
    /// Append blocks to one journal (only the Nucleus holds the writers).
    NucleusAppend {
        journal: JournalKind,
        blocks: Vec<Vec<u8>>,
    },
    /// Sign `body` for `to` and deliver it.
    MessageSend { to: CellIndex, body: Body },
    /// Deliver a message another service already signed.
    MessageRoute {
        to: CellIndex,
        message: Arc<Message>,
    },
    /// Bytes of a signed message that arrived from `from`.
    MessageReceive { from: CellIndex, encoded: Arc<[u8]> },
    /// Build and submit a PRANA transfer or a POST (through consensus).
    MessageSubmit { to: CellIndex, body: Body },
    /// A client's signed TX to submit through consensus as this cell's
    /// entry (the client first submitted it at `first_submitted_ns`).
    MessageRelay {
        client: u32,
        encoded: Arc<[u8]>,
        first_submitted_ns: TimeNs,
    },
    /// Ask a peer for its posts on `topic` (QUERY).
    StateQuery { to: CellIndex, topic: String },
    /// Ask a peer to run a task for PRANA (EXEC).
    StateExec {
        to: CellIndex,
        task: crate::message::ExecTask,
        max_payment: u64,
    },
    /// Start the AUTH exchange with a peer.
    /// AUTH with the member at `with`, or with `identity` over its link.
    IdentityAuthenticate {
        with: CellIndex,
        identity: Option<CellId>,
    },
    /// Sync with `peer` (the gossip timer fired); `None` when the cell has no
    /// peer at all, and so makes its next event alone.
    ConsensusGossip { peer: Option<CellIndex> },
    ConsensusSyncRequest {
        from: CellIndex,
        frontier: Arc<Frontier>,
    },
    ConsensusSyncResponse {
        from: CellIndex,
        events: Arc<[WireEvent]>,
        frontier: Arc<Frontier>,
        tip: Option<EventHash>,
    },
    ConsensusSyncPush {
        from: CellIndex,
        events: Arc<[WireEvent]>,
    },
    /// Keep a storage lease's data: open its journal (provider side).
    NucleusStorageOpen { lease: u64, blocks: Vec<Vec<u8>> },
    /// Answer a storage challenge: prove block `index` of lease `lease`'s
    /// journal and submit the proof through consensus.
    NucleusStorageAnswer {
        lease: u64,
        challenge: u64,
        index: u64,
    },
    /// Queue a signed TX/POST (its canonical bytes) for the next event.
    ConsensusSubmit { encoded: Arc<[u8]>, hash: [u8; 32] },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellResponse {
    Done,
    /// The signed message's hash (a TX id for TX/POST).
    Sent {
        hash: [u8; 32],
    },
}

/// Typed failures of the services.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("journal append failed: {0}")]
    Journal(String),
    #[error("cannot sign the message: {0}")]
    Sign(String),
    #[error("unknown cell {0}")]
    UnknownCell(CellIndex),
    #[error("request {0} is not handled by this service")]
    Misrouted(&'static str),
}

/// Events on the cell's bus.
#[derive(Debug, Clone)]
pub enum CellEvent {
    /// Consensus ordered a round (topic `consensus.round`).
    RoundOrdered(Arc<RoundOrdered>),
    /// A verified, accepted direct message (topic `message.inbound`).
    Inbound {
        from: CellIndex,
        message: Arc<Message>,
    },
    /// Consensus found a fork by `creator` (topic `consensus.fork`).
    Fork {
        creator: u32,
        evidence_hash: [u8; 32],
    },
    /// How a direct message from `peer` went (topic `message.interaction`):
    /// `Success` once it passed every receive check, `Failure` if it failed
    /// verification against the sending cell's identity. IdentityService
    /// records it in the trust network.
    Interaction {
        peer: CellId,
        outcome: InteractionOutcome,
    },
    /// The ledger slashed `provider` in a round this cell applied (topic
    /// `state.slashed`): IdentityService withdraws its trust.
    Slashed { provider: CellId },
}

/// The cell's protocol on the bus.
pub struct CellProtocol;

impl Protocol for CellProtocol {
    type Request = CellRequest;
    type Response = CellResponse;
    type Error = CellError;
    type Event = CellEvent;

    fn action(request: &CellRequest) -> &'static str {
        match request {
            CellRequest::NucleusAppend { .. } => "nucleus.append",
            CellRequest::NucleusStorageOpen { .. } => "nucleus.storage_open",
            CellRequest::NucleusStorageAnswer { .. } => "nucleus.storage_answer",
            CellRequest::MessageSend { .. } => "message.send",
            CellRequest::MessageRoute { .. } => "message.route",
            CellRequest::MessageReceive { .. } => "message.receive",
            CellRequest::MessageSubmit { .. } => "message.submit",
            CellRequest::MessageRelay { .. } => "message.relay",
            CellRequest::StateQuery { .. } => "state.query",
            CellRequest::StateExec { .. } => "state.exec",
            CellRequest::IdentityAuthenticate { .. } => "identity.authenticate",
            CellRequest::ConsensusGossip { .. } => "consensus.gossip",
            CellRequest::ConsensusSyncRequest { .. } => "consensus.sync_request",
            CellRequest::ConsensusSyncResponse { .. } => "consensus.sync_response",
            CellRequest::ConsensusSyncPush { .. } => "consensus.sync_push",
            CellRequest::ConsensusSubmit { .. } => "consensus.submit",
        }
    }

    fn topic(event: &CellEvent) -> &'static str {
        match event {
            CellEvent::RoundOrdered(_) => "consensus.round",
            CellEvent::Inbound { .. } => "message.inbound",
            CellEvent::Fork { .. } => "consensus.fork",
            CellEvent::Interaction { .. } => "message.interaction",
            CellEvent::Slashed { .. } => "state.slashed",
        }
    }
}
