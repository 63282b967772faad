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

pub use consensus::{ConsensusService, EVENT_TRANSACTIONS_MAX};
pub use identity::{AUTH_TRUST_PERMILLE, AccessControl, IdentityService};
pub use message::MessageService;
pub use nucleus::NucleusService;
pub use state::{
    EXEC_PRICE_PER_WORK_UNIT, QUERY_ANSWER_POSTS_MAX, StateService, decode_state_posts,
    verify_query_answer,
};

use crate::bus::Context;

use super::protocol::{CellError, CellProtocol, CellRequest, CellResponse, JournalKind};

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
