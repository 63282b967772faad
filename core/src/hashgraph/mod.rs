//! Hashgraph consensus: Baird, "The Swirlds Hashgraph Consensus Algorithm:
//! Fair, Fast, Byzantine Fault Tolerance" (2016), implemented incrementally.
//!
//! - [`event`]: events, their canonical encoding, hash and signature.
//! - [`replay`]: the `celluler-dag/1` file format (`docs/dag-format.md`).
//! - [`gossip`]: seeded random-gossip DAGs for tests and benchmarks.
//! - [`engine`]: [`Hashgraph`], which inserts events one at a time (parents
//!   first, any topological order) and returns what each insertion decided:
//!   divideRounds, decideFame and findOrder of the paper, section 4.
//!
//! Implementation choices (where the paper leaves one open):
//! - Rounds are numbered from 0: a parentless event is in round 0 (the paper
//!   says 1). An event's round is the maximum of its parents' rounds, plus one
//!   if it strongly sees witnesses of that round whose creators hold more than
//!   2/3 of the stake. An event may have an other-parent without a
//!   self-parent (a creator's first event); it is a witness.
//! - Thresholds are stake-weighted: "more than 2n/3" is stake * 3 > total * 2.
//!   Equal stake is the default. Votes in an election are weighted by the
//!   stake of the voting witness's creator; a tie votes yes.
//! - "Ancestor" includes the event itself, as in the paper, so an event counts
//!   its own sights when it decides what it strongly sees.
//! - "See" with forks: `y` sees `x` if `x` is an ancestor of `y` and `y`'s
//!   ancestors hold no fork by `x`'s creator (two events of one creator,
//!   neither a self-ancestor of the other). Strongly see: `y` sees `w`, and
//!   events `y` sees, by members with more than 2/3 of the stake, see `w`.
//! - The coin of a coin round is the middle bit of the voter's signature: bit
//!   256 of 512, the most significant bit of byte 32.
//! - A round is decided when all its known witnesses are decided. A witness
//!   that arrives for a round already decided is decided not famous (the
//!   witnesses that decided the round, which do not have it as ancestor, all
//!   vote it down, so votes would decide the same).
//! - Round received: the first round, in order, whose witnesses are all
//!   decided and whose unique famous witnesses (famous, and the only famous
//!   witness of their creator in that round) all have the event as ancestor.
//!   Consensus timestamp: the median of the timestamps of each unique famous
//!   witness's earliest self-ancestor having the event as ancestor; the upper
//!   middle value for an even count. Total order: round received, then
//!   consensus timestamp, then the signature XOR every unique famous witness's
//!   signature, then (never needed in practice) the event hash.
//! - When two deciding witnesses disagree (possible only when forkers hold
//!   1/3 of the stake or more), the first decision stands; nothing panics.
//! - Strongly seeing, fork-free with equal stake (the common case): every
//!   event keeps its row — the set of witnesses of its round, and of the
//!   round below, that it sees — in a dense per-round, per-member array
//!   (`engine::rows`). An event's strongly-seen set counts, per witness, the
//!   rows of its members' latest events (bit-sliced counters fed sixteen rows
//!   at a time through a carry-save adder tree), and only when those rows
//!   hold at least (2/3 n)^2 (witness, member) cells — a necessary condition
//!   for advancing a round. First sights are the witnesses an event has as
//!   ancestors that its self-parent's row lacks. Once a fork is seen, or with
//!   unequal stake, per-chain running counts take over (exact, slower).
//! - Votes on a round's witnesses are one dense matrix per voting round
//!   (`engine::votes`). A standalone engine stops voting on a witness once it
//!   is decided; a shared store keeps voting two more rounds, so that views
//!   that do not know the first decider find another.
//! - Events inserted into a [`SharedHashgraph`] carry only ancestry facts;
//!   each [`MemberView`] decides for itself (see `engine::shared`).
//! - Memory (standalone engine): the prune horizon is
//!   [`engine::PRUNE_LAG_ROUNDS`] rounds below the next round to order. A new
//!   event needs a parent of the horizon's round or above; otherwise it is
//!   refused ([`InsertError::AncientParent`], or [`InsertError::AncientRound`]
//!   for a first event without parents), as Swirlds' implementation discards
//!   ancient events. Ordered events more than a round below the horizon lose
//!   their ancestor vectors, sights and rows, and once such events are half
//!   of all held, they are forgotten: records, hashes, chain entries and
//!   witnesses are dropped and the rest renumbered in order. A forgotten event
//!   is unknown (a child of it is refused as [`InsertError::UnknownParent`]).
//!   A forking member's events are pruned but never forgotten: their branch
//!   tips are the fork evidence later events inherit.
//!   Memory is therefore flat on long runs without forkers; what remains per
//!   round is one decided-witness count. A shared store prunes behind its views but
//!   forgets nothing (see `engine::shared`).

pub mod bits;
pub mod engine;
pub mod event;
pub mod gossip;
pub mod replay;

pub use engine::frontier::{FRONTIER_TIPS_MAX, Frontier};
pub use engine::shared::{MemberView, SharedHashgraph, StoreEvent, TieBreak, ViewError};
pub use engine::{
    Config, ConfigError, Decisions, EventInfo, FameDecision, ForkProof, Hashgraph, InsertError,
    Member, OrderedEvent, ParentKind,
};
pub use event::{Event, EventBody, EventHash, MemberIndex};
