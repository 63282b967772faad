//! The market layer's types: what the ledger keeps for the exchange and the
//! compute and storage markets, and what one round of markets did
//! ([`MarketRoundReport`]). The rules live where they are applied, in
//! [`crate::ledger`]; this module holds the data and the pure helpers both
//! the ledger and the cells that serve leases need (a storage lease's
//! blocks and journal tag).

use crate::book::{Fill, OrderId, Side};
use crate::identity::{CellId, PublicKey};
use crate::journal::JournalTag;

/// Most intervals one lease may run.
pub const LEASE_INTERVALS_MAX: u32 = 100_000;
/// Most blocks one storage lease may hold.
pub const STORAGE_LEASE_BLOCKS_MAX: u64 = 4_096;
/// Most exchange tokens a ledger trades.
pub const TOKENS_MAX: usize = 16;

/// Domain separation of a storage lease's data blocks.
const STORAGE_BLOCK_CONTEXT: &str = "celluler 2026-12 storage lease block";
/// Domain separation of a storage challenge's block index.
const STORAGE_CHALLENGE_CONTEXT: &str = "celluler 2026-12 storage challenge";

/// Market parameters fixed at genesis (part of every cell's ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketConfig {
    /// Exchange tokens, each with one order book against PRANA; a token's
    /// id is its index here.
    pub tokens: Vec<String>,
    /// Lease payment and storage challenge interval, in consensus time.
    pub interval_ns: u64,
    /// How long a storage challenge may go unanswered, in consensus time.
    pub challenge_window_ns: u64,
    /// Bytes per storage lease block.
    pub storage_block_bytes: u32,
    /// A planted bug for the conservation checker's test: every fill
    /// credits the buyer one token unit nobody paid for. Never set outside
    /// tests.
    pub mutation_mint_on_fill: bool,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            tokens: Vec::new(),
            interval_ns: 1_000_000_000,
            challenge_window_ns: 10_000_000_000,
            storage_block_bytes: 64,
            mutation_mint_on_fill: false,
        }
    }
}

/// One account at genesis: PRANA and, per exchange token, units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisAccount {
    pub cell: CellId,
    pub prana: u64,
    /// Per token; empty means none of any.
    pub tokens: Vec<u64>,
}

/// The two lease markets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeaseMarket {
    Compute,
    Storage,
}

impl LeaseMarket {
    pub fn label(self) -> &'static str {
        match self {
            LeaseMarket::Compute => "compute",
            LeaseMarket::Storage => "storage",
        }
    }
}

/// A provider's standing offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: u64,
    pub market: LeaseMarket,
    pub provider: CellId,
    /// The key that signed the offer: storage proofs and fraud proofs are
    /// checked against it.
    pub provider_key: PublicKey,
    /// EXEC units per interval, or blocks.
    pub capacity: u64,
    /// Of `capacity`, what live leases hold.
    pub leased: u64,
    /// PRANA per unit (or block) and interval.
    pub price: u64,
    /// PRANA the provider locked; lost to the wronged consumer when slashed.
    pub collateral: u64,
    /// Open for new leases (a withdrawn or slashed offer is closed).
    pub open: bool,
}

impl Offer {
    pub fn free(&self) -> u64 {
        if self.open {
            self.capacity - self.leased
        } else {
            0
        }
    }
}

/// A storage challenge the provider must answer before `deadline_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    pub lease: u64,
    pub provider: CellId,
    /// The lease's challenge number, from 0.
    pub seq: u64,
    /// The block whose proof answers it.
    pub index: u64,
    pub deadline_ns: u64,
}

/// A lease of part of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: u64,
    pub market: LeaseMarket,
    pub offer: u64,
    pub provider: CellId,
    pub consumer: CellId,
    /// Units or blocks.
    pub amount: u64,
    pub intervals: u32,
    /// Intervals paid to the provider so far (each exactly once).
    pub paid_intervals: u32,
    pub price_per_interval: u64,
    /// PRANA still held for the provider: `price_per_interval × (intervals
    /// − paid_intervals)` while live, 0 after.
    pub escrow: u64,
    /// Consensus time the lease opened.
    pub start_ns: u64,
    /// Names a storage lease's data ([`storage_block`]).
    pub data_seed: [u8; 32],
    /// Storage challenges issued so far.
    pub challenges_issued: u64,
    pub challenge: Option<Challenge>,
    pub live: bool,
}

/// What happened to a lease in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEventKind {
    /// Escrow locked (`amount`: the whole price).
    Opened,
    /// `amount` paid from escrow to the provider.
    Paid,
    /// Every interval paid; the capacity is free again.
    Settled,
    /// The provider lost `amount` of collateral to the consumer.
    Slashed { reason: &'static str },
    /// Ended early: `amount` of escrow returned to the consumer.
    Ended,
}

impl LeaseEventKind {
    pub fn label(self) -> &'static str {
        match self {
            LeaseEventKind::Opened => "opened",
            LeaseEventKind::Paid => "paid",
            LeaseEventKind::Settled => "settled",
            LeaseEventKind::Slashed { .. } => "slashed",
            LeaseEventKind::Ended => "ended",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseEvent {
    pub lease: u64,
    pub market: LeaseMarket,
    pub provider: CellId,
    pub consumer: CellId,
    pub kind: LeaseEventKind,
    pub amount: u64,
}

/// One order the round's items placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderOutcome {
    /// Index of the placing item within the round (`usize::MAX` for one
    /// that waited since an earlier round for its sender's earlier nonces).
    pub item: usize,
    /// The placing TX's id (`crate::ledger::LedgerTx::id`).
    pub tx: [u8; 32],
    pub token: u16,
    pub id: OrderId,
    pub owner: CellId,
    pub side: Side,
    pub price: Option<u64>,
    pub quantity: u64,
    pub filled: u64,
    pub resting: u64,
    pub cancelled: u64,
}

/// One trade of token `token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade {
    pub token: u16,
    pub fill: Fill,
}

/// A book's top after a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookTop {
    pub token: u16,
    pub best_bid: Option<u64>,
    pub best_ask: Option<u64>,
    pub bid_depth: u64,
    pub ask_depth: u64,
}

/// A lease market's capacity after a round: offered by open offers, and of
/// that, leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub market: LeaseMarket,
    pub offered: u64,
    pub leased: u64,
}

/// An ordered item the ledger refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub item: usize,
    pub sender: CellId,
    /// [`crate::ledger::OrderedItem::label`].
    pub kind: &'static str,
    /// [`crate::ledger::Rejection::label`].
    pub reason: &'static str,
    /// Whether it passed the account checks, so its nonce and fee were
    /// taken (its action was refused).
    pub fee_charged: bool,
}

/// What one round did to the markets and accounts, beyond its state hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketRoundReport {
    /// The round's consensus time (its latest consensus timestamp).
    pub consensus_time_ns: u64,
    pub orders: Vec<OrderOutcome>,
    pub trades: Vec<Trade>,
    pub leases: Vec<LeaseEvent>,
    /// Storage challenges issued this round.
    pub challenges: Vec<Challenge>,
    pub refused: Vec<Refused>,
    /// PRANA paid from the fee pool to the round's payees.
    pub fee_payout: u64,
    /// One per token.
    pub books: Vec<BookTop>,
    /// Compute, then storage.
    pub capacity: Vec<Capacity>,
}

/// Block `index` of the data a storage lease with `data_seed` holds:
/// `block_bytes` bytes of blake3 output, so the ledger can check a proven
/// block without anyone shipping the data through consensus.
pub fn storage_block(data_seed: &[u8; 32], index: u64, block_bytes: u32) -> Vec<u8> {
    let mut hasher = blake3::Hasher::new_derive_key(STORAGE_BLOCK_CONTEXT);
    hasher.update(data_seed).update(&index.to_le_bytes());
    let mut block = vec![0u8; block_bytes as usize];
    hasher.finalize_xof().fill(&mut block);
    block
}

/// The journal tag of storage lease `lease`'s journal at its provider: a
/// proof for one lease is never a proof for another.
pub fn storage_journal_tag(lease: u64) -> JournalTag {
    JournalTag::named(&format!("storage/{lease}"))
}

/// The block challenge `seq` of a lease of `blocks` blocks asks for: drawn
/// from the round's randomness (its consensus order digest), which no
/// provider knows before the round is decided.
pub fn challenge_index(randomness: &[u8; 32], lease: u64, seq: u64, blocks: u64) -> u64 {
    let digest = blake3::Hasher::new_derive_key(STORAGE_CHALLENGE_CONTEXT)
        .update(randomness)
        .update(&lease.to_le_bytes())
        .update(&seq.to_le_bytes())
        .finalize();
    let mut word = [0u8; 8];
    word.copy_from_slice(&digest.as_bytes()[..8]);
    // blocks ≤ STORAGE_LEASE_BLOCKS_MAX, so the modulo bias is below 2^-50.
    u64::from_le_bytes(word) % blocks.max(1)
}
