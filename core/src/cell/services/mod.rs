//! The five services of a cell. Each is a [`Service`] on the cell's bus;
//! they reach each other only through bus calls and events, and share the
//! journals as the Nucleus's writers and everyone else's read views.
//!
//! One module per service: [`nucleus`], [`identity`], [`message`],
//! [`consensus`], [`state`].

mod consensus;
mod identity;
mod message;
mod nucleus;
mod state;

pub use consensus::ConsensusService;
pub(crate) use identity::IDENTITY_GENESIS;
pub use identity::{AUTH_TRUST_PERMILLE, AccessControl, IdentityService};
pub use message::MessageService;
pub use nucleus::NucleusService;
pub use state::{
    EXEC_PRICE_PER_WORK_UNIT, QUERY_ANSWER_POSTS_MAX, StateService, decode_state_posts,
    verify_query_answer,
};

use crate::bus::Context;
use crate::codec::Writer;
use crate::node::CellIndex;

use super::api::CellObservation;
use super::protocol::{CellError, CellProtocol, CellRequest, CellResponse, JournalKind};
use super::shared::IoHandle;

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

/// Message journal: direction and delivery status of each entry.
const DIRECTION_IN: u8 = 0;
const DIRECTION_OUT: u8 = 1;
const STATUS_DELIVERED: u8 = 0;
const STATUS_REJECTED: u8 = 1;
const STATUS_SUBMITTED: u8 = 2;
/// A client's TX this cell entered into consensus for it.
const STATUS_RELAYED: u8 = 3;

/// One message-journal block: direction, status, peer, reason (empty unless
/// rejected) and the bytes concerned (a message, or a sync event).
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

/// Count, observe and journal one rejected input from `from`: `bounded` is
/// its encoding, already cut to the limit of its kind, and cut here to what
/// fits one journal block with the entry's header
/// ([`crate::journal::MAX_BLOCK_LEN`]).
fn record_rejection(
    ctx: &mut Ctx<'_>,
    io: &IoHandle,
    from: CellIndex,
    reason: &'static str,
    bounded: &[u8],
) {
    {
        let mut io = io.borrow_mut();
        *io.rejected.entry(reason).or_default() += 1;
        io.observations
            .push(CellObservation::MessageRejected { reason });
    }
    // Direction, status, peer, the reason's length and bytes, the bytes' length.
    let header = 1 + 1 + 4 + 4 + reason.len() + 4;
    let room = crate::journal::MAX_BLOCK_LEN.saturating_sub(header);
    let bounded = &bounded[..bounded.len().min(room)];
    append(
        ctx,
        JournalKind::Message,
        journal_entry(DIRECTION_IN, STATUS_REJECTED, from, reason, bounded),
    );
}
