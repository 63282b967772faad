//! What a cell's operator (a workload generator, a market agent, a test)
//! may ask of it, and what it records for metrics and reports. This is the
//! contract between the cell stack and everything that drives or watches it;
//! the simulator and `celluler run` depend on nothing else of a cell.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::hashgraph::{Decisions, Event, EventHash};
use crate::identity::CellId;
use crate::message::{ExecTask, MessageType};
use crate::node::CellIndex;
use crate::time::TimeNs;

/// A transaction's identity: blake3 of the encoding of the signed message that
/// carries it (`Message::hash`), so every cell names it the same way.
pub type TxId = [u8; 32];

/// A local request to a cell (`Input::Command`). Peers are named by their
/// index in the world; the cell knows every member's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellCommand {
    /// Transfer PRANA to a peer, through consensus (a TX message).
    Transfer {
        to: CellIndex,
        amount: u64,
        fee: u64,
    },
    /// Share content to the global dataset, through consensus (a POST).
    Post { topic: String, content: Vec<u8> },
    /// A direct, journaled message to a peer (CHAT).
    Chat { to: CellIndex, text: String },
    /// Prove identities to each other and attest (the AUTH exchange): with
    /// the member at `with`, or (`identity`) with a non-member identity
    /// reached over `with`'s link — the cell's user chose to vouch for it.
    Authenticate {
        with: CellIndex,
        identity: Option<CellId>,
    },
    /// Ask a peer for its posts on `topic`, answered with journal proofs.
    Query { to: CellIndex, topic: String },
    /// Ask a peer to run a small deterministic task for PRANA (EXEC).
    Exec {
        to: CellIndex,
        task: ExecTask,
        max_payment: u64,
    },
    /// Submit a market action from this cell's own account, through
    /// consensus (a TX message with the cell's next nonce).
    Market { kind: crate::message::TxKind },
    /// As an entry cell, submit client `client`'s signed TX through
    /// consensus (the client first submitted it at `first_submitted_ns`).
    Relay {
        client: u32,
        encoded: Arc<[u8]>,
        first_submitted_ns: TimeNs,
    },
}

/// A typed record of something a cell did or learned, emitted as
/// `Output::Observe`. Reports are folds over these; protocol code never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellObservation {
    /// This cell signed a TX (from `CellCommand::Transfer`) and queued it for
    /// its next event.
    TxSubmitted { tx: TxId },
    /// The TX this cell just signed (also a `TxSubmitted`) is a market
    /// action: what it asks, so reports and agents can name it.
    MarketSubmitted {
        tx: TxId,
        kind: Arc<crate::message::TxKind>,
    },
    /// As an entry cell, this cell checked a client's TX and queued it for
    /// its next event; the client first submitted it at
    /// `first_submitted_ns` (through this or another entry cell).
    TxRelayed {
        tx: TxId,
        client: u32,
        first_submitted_ns: TimeNs,
    },
    /// This cell first saw the TX (in an event it learned, or its own).
    TxReceived { tx: TxId },
    /// This cell knows the TX's final place in the consensus order.
    TxOrdered {
        tx: TxId,
        round_received: u32,
        consensus_timestamp_ns: TimeNs,
        /// Position among all ordered transactions, from 0.
        position: u64,
        /// Whether the ledger applied it (false: rejected, e.g. funds).
        applied: bool,
    },
    /// This cell decided the fame of every witness of `round` and ordered
    /// what it received. `order_digest` chains the hashes of every event
    /// ordered so far; `state_hash` is the state after applying them. Honest
    /// cells must agree on both for every round they have both decided.
    RoundDecided {
        round: u32,
        ordered_events: u64,
        order_digest: [u8; 32],
        state_hash: [u8; 32],
        /// The round's events in this cell's consensus order: positions
        /// `ordered_events - events.len() .. ordered_events`.
        events: Arc<[EventHash]>,
        /// The most voting rounds this cell's election of any of the round's
        /// witnesses took; at the coin round frequency or more, a coin
        /// round was reached (a liveness measure).
        election_rounds: u32,
        /// Creators of the round's unique famous witnesses, ascending.
        unique_famous_creators: Arc<[u32]>,
    },
    /// This cell created and signed a hashgraph event.
    EventCreated { transactions: u32 },
    /// This cell's new event, claiming `event_timestamp_ns`, is its first
    /// own event with the TX as an ancestor. That claim is what the cell
    /// adds to the TX's consensus timestamp (the median of such claims over
    /// a round's famous witnesses' creators), so honest claims bound it.
    TxReached {
        tx: TxId,
        event_timestamp_ns: TimeNs,
    },
    /// A verified message of this type arrived.
    MessageAccepted { kind: MessageType },
    /// A message (or event) was rejected; `reason` is a fixed label.
    MessageRejected { reason: &'static str },
    /// A QUERY answer arrived; `verified`: its journal proofs checked out.
    QueryAnswered { verified: bool, items: u32 },
    /// An EXEC result arrived; `verified`: signed by the executor and equal
    /// to running the task locally.
    ExecCompleted { verified: bool, charged: u64 },
    /// The AUTH exchange with `peer` completed and was attested.
    Authenticated { peer: CellIndex },
    /// Consensus found two signed events of `creator` that fork.
    ForkDetected { creator: CellIndex },
    /// A restarted cell re-decided `round` otherwise than its `journal`
    /// ("consensus": the round's order, "state": the state after it) holds
    /// from before the crash: a disagreement with itself, recorded rather
    /// than a panic. It keeps what it decided now.
    ReplayDiverged { round: u32, journal: &'static str },
    /// What a Byzantine behaviour wrapped around this cell did: recorded
    /// by the test harness's wrapper (the simulator's `adversary`), never
    /// by the cell's own code, so that reports can say what an attack did.
    Adversary {
        behaviour: &'static str,
        action: AdversaryAction,
    },
    /// What a decided round did to the markets (only for a ledger with
    /// markets, or a round with market activity): trades, orders, lease
    /// events, challenges, refusals, fee payout, books and capacity.
    MarketRound {
        round: u32,
        report: Arc<crate::market::MarketRoundReport>,
    },
    /// The ledger's check after `round` found an invariant broken
    /// (`crate::ledger::LedgerViolation`): recorded, never a panic.
    LedgerViolation {
        round: u32,
        invariant: &'static str,
        detail: String,
    },
    /// This cell, as a lease consumer, found its provider's signed EXEC
    /// result wrong and submitted the fraud proof.
    FraudProofSubmitted { lease: u64, provider: CellIndex },
    /// A restarted cell rebuilt its services from its journals.
    Recovered {
        /// Rounds it had decided before the crash (its state journal's
        /// blocks), which it re-decides as gossip brings the history back.
        decided_rounds: u32,
        journal_blocks: u64,
    },
}

/// One act of a Byzantine behaviour ([`CellObservation::Adversary`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdversaryAction {
    /// The cell runs `branches` instances on one key (Twins), each talking
    /// to its own group of peers: every own event it signs exists once per
    /// branch.
    Equivocating { branches: u32 },
    /// `messages` carrying its own events were held back.
    Held { messages: u32 },
    /// Held messages sent at once.
    Released { messages: u32 },
    /// It saw the victim's TX in gossip and queued its own for its next
    /// event.
    FrontRun { victim: TxId, own: TxId },
    /// Conflicting spends of the same funds, one per branch.
    DoubleSpend { txs: Vec<TxId> },
    /// It sent bytes of this kind (`malformed`, `bad-signature`, `replay`,
    /// `mutated`) to a peer.
    Garbage { kind: &'static str },
    /// As an entry cell it dropped (`held_ns` `None`) or held a client's TX.
    Censored {
        client: u32,
        tx: TxId,
        held_ns: Option<TimeNs>,
    },
    /// It triggered a valid TX or event beyond its honest rate.
    Spam { kind: &'static str },
    /// Its clock, and so every timestamp it claims, runs `offset_ns` off.
    Skewing { offset_ns: i64 },
    /// One of the non-member identities it hosts sent a message of `kind`
    /// to an honest cell.
    SybilMessage { kind: &'static str },
    /// Honest cell `by` vouched for one of its sybil identities (an AUTH
    /// exchange `by` started, ending in an attestation): an attack edge.
    SybilVouched { by: CellIndex },
}

/// The consensus facts a cell decided about one event it ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderedFacts {
    pub round_received: u32,
    pub consensus_timestamp_ns: TimeNs,
    /// Position in this cell's total order, from 0.
    pub position: u64,
}

/// One event as a cell learned it, with its ancestry facts (the same for
/// every cell that holds the event).
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub event: Arc<Event>,
    pub hash: EventHash,
    pub round: u32,
    pub witness: bool,
}

/// A cell's consensus as it decided it, kept only when
/// `CellConfig::record_consensus` is set (`celluler run --dag`): every event
/// it learned, in the order it learned them (parents first), the fame it
/// decided for each witness and the place it gave each ordered event. A
/// restarted cell records again from its restart (it learns its history
/// back by gossip, from an empty store).
#[derive(Debug, Clone, Default)]
pub struct ConsensusRecording {
    pub events: Vec<RecordedEvent>,
    pub fame: BTreeMap<EventHash, bool>,
    pub ordered: BTreeMap<EventHash, OrderedFacts>,
}

impl ConsensusRecording {
    pub(crate) fn learned(&mut self, event: Arc<Event>, round: u32, witness: bool) {
        self.events.push(RecordedEvent {
            hash: event.hash(),
            event,
            round,
            witness,
        });
    }

    pub(crate) fn decided(&mut self, decisions: &Decisions) {
        for fame in &decisions.fame {
            self.fame.entry(fame.witness).or_insert(fame.famous);
        }
        for ordered in &decisions.ordered {
            self.ordered.insert(
                ordered.event.hash(),
                OrderedFacts {
                    round_received: ordered.round_received,
                    consensus_timestamp_ns: ordered.consensus_timestamp_ns,
                    position: ordered.position,
                },
            );
        }
    }
}

/// Shared by a cell and its consensus service; `None` when not recording.
pub type RecordingHandle = Rc<RefCell<Option<ConsensusRecording>>>;

/// A node that is a cell, or wraps one: what a world of cells runs. A
/// wrapper (a Byzantine behaviour, a fault injector) sees and may rewrite
/// the cell's inputs and outputs, never its code; [`CellNode::cell`] gives
/// checkers and reports the honest cell inside.
pub trait CellNode:
    crate::node::Node<Message = super::CellWire, Observation = CellObservation, Command = CellCommand>
{
    fn cell(&self) -> &super::Cell;
}

impl CellNode for super::Cell {
    fn cell(&self) -> &super::Cell {
        self
    }
}
