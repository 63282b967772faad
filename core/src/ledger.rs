//! The PRANA ledger and the global dataset of POSTs: the deterministic state
//! machine StateService runs over consensus-ordered transactions.
//!
//! Input is one consensus round at a time ([`Ledger::apply_round`]): the
//! round's items in consensus order, each a [`LedgerTx`] or a [`PostTx`].
//! Every item is either applied in full or rejected with a typed
//! [`Rejection`] and changes nothing; a rejection is a normal outcome (the
//! transaction was ordered, so every honest cell rejects it identically), not
//! an error of the ledger.
//!
//! Rules, all documented where they are enforced:
//! - **Genesis**: a fixed allocation of balances; its sum is the ledger's
//!   `genesis_total`, which never changes.
//! - **Accounts**: a sender must have an account (any balance entry, even
//!   zero). Receiving opens an account, so PRANA can reach new cells.
//! - **Nonces**: each sender's transactions carry `0, 1, 2, …` and are
//!   applied in that order. Consensus orders a sender's transactions by
//!   their events' consensus timestamps, and two events of one creator that
//!   peers learned in the same sync get equal timestamps, which the
//!   whitened-signature tie-break may order either way: so a transaction up
//!   to [`NONCE_AHEAD_MAX`] ahead of its sender's next nonce **waits** in the
//!   ledger (part of the state) and is applied right after the one it
//!   follows, in the same round or a later one; after [`HOLD_ROUNDS_MAX`]
//!   rounds it is refused (`nonce-gap`). A replayed nonce, a second waiting
//!   transaction with one nonce, or one further ahead is refused
//!   (`bad-nonce`).
//! - **Two kinds of refusal.** A transaction failing the *account checks*
//!   (an account, the next nonce, at least `fee_min`, a balance that pays
//!   the fee) changes nothing. One that passes them and whose *action* is
//!   refused (a transfer or order it cannot fund, a lease on a full offer,
//!   a false fraud proof, …) consumes its nonce and pays its fee, and its
//!   action changes nothing: a sender's later transactions, signed with
//!   the following nonces and perhaps already in flight, stay valid (as on
//!   any account-nonce chain: otherwise one refused order would block its
//!   sender for good).
//! - **Fees**: at least `fee_min`, paid by the sender on top of what the
//!   transaction moves, into the **fee pool**. At the end of every round the
//!   pool is paid out in equal shares to the round's payees (the creators of
//!   its unique famous witnesses: who did the consensus work); the remainder
//!   of the division stays for the next round. A [`LedgerTxKind::Burn`]
//!   destroys PRANA into `burned`, which never decreases.
//! - **Exchange**: one [`OrderBook`] per market token against PRANA, in
//!   consensus order. A bid locks `price × quantity` PRANA (a market bid
//!   what the book's asks would cost now, checked before matching), an ask
//!   locks its units; trades settle at the maker's price, and a resting
//!   order's lock is exactly `price × rest` (bids) or `rest` (asks), so the
//!   book itself is the escrow's record. Cancels return what is locked.
//! - **Compute and storage markets**: a provider's offer locks its
//!   collateral; a lease locks `amount × price × intervals` in escrow. A
//!   compute lease pays one interval's price to the provider for every
//!   `interval_ns` of consensus time that passes; a storage lease pays one
//!   only for an answered challenge (a block drawn from the round's
//!   randomness, proven with the provider's storage journal's
//!   `RangeProof`). Every interval is paid exactly once. A fraud proof (the
//!   provider's own signed, wrong EXEC result) or a challenge unanswered past
//!   its window **slashes** the offer: all its collateral goes to the wronged
//!   consumer, the offer closes, and every live lease on it ends with its
//!   unpaid escrow returned.
//! - **Invariants**, checked after every round and reported (never a
//!   panic) as [`LedgerViolation`]s: PRANA conservation — Σ balances + Σ
//!   locked in bids + Σ lease escrow + Σ collateral + fee pool + burned =
//!   genesis + minted (no rule mints yet: the term is there so one can) —,
//!   token conservation per token (Σ balances + Σ locked in asks = genesis),
//!   no book crossed, and per offer Σ live leases = leased ≤ capacity with
//!   each live lease's escrow equal to its unpaid intervals.
//! - **State hash**: blake3 (derived key, domain-separated) over a canonical
//!   encoding of the whole state — round, accounts (id, balance, next nonce,
//!   tokens) ascending by id, fee pool, burned, minted, genesis totals, the
//!   books' resting orders in price-time order, offers and leases by id, and
//!   the POST dataset's running digest. Equal states give equal hashes on
//!   every machine; it is recomputed after every round.
//!
//! The POST dataset is append-only in consensus order, so it enters the state
//! hash as a chained digest `d' = H(d ‖ post)`, which is equal for equal
//! datasets without rehashing every post each round.

use std::collections::{BTreeMap, HashMap}; // tidy: lookup-only (the account index)
use std::hash::{BuildHasherDefault, Hasher};

use crate::book::{BookError, OrderBook, OrderKind, Side};
use crate::codec::Writer;
use crate::identity::{CellId, PublicKey};
use crate::journal::{JournalVerifier, RangeProof};
use crate::market::{
    BookTop, Capacity, Challenge, GenesisAccount, LEASE_INTERVALS_MAX, Lease, LeaseEvent,
    LeaseEventKind, LeaseMarket, MarketConfig, MarketRoundReport, Offer, OrderOutcome, Refused,
    STORAGE_LEASE_BLOCKS_MAX, TOKENS_MAX, Trade, challenge_index, storage_block,
    storage_journal_tag,
};
use crate::message::{Body, Exec, ExecTask, Message};

/// Domain separation for the state hash.
const STATE_HASH_CONTEXT: &str = "celluler 2026-12 ledger state hash";
/// Domain separation for the POST dataset's chained digest and post ids.
const POST_CHAIN_CONTEXT: &str = "celluler 2026-11 post chain";
const POST_ID_CONTEXT: &str = "celluler 2026-11 post id";

/// Longest POST topic, in bytes.
pub const POST_TOPIC_BYTES_MAX: usize = 256;
/// Longest POST content, in bytes.
pub const POST_CONTENT_BYTES_MAX: usize = 64 * 1024;
/// Most items a single consensus round may carry.
pub const ROUND_ITEMS_MAX: usize = 1 << 20;
/// How far ahead of its sender's next nonce a transaction may be and still
/// wait for the ones before it (module docs, "Nonces").
pub const NONCE_AHEAD_MAX: u64 = 256;
/// Rounds a waiting transaction waits before it is refused (`nonce-gap`).
pub const HOLD_ROUNDS_MAX: u64 = 16;

/// Hashes a [`CellId`] for the account index. A cell id is already a
/// uniform blake3 output, so folding its bytes is enough; the index is only
/// ever looked up, never iterated, so its order cannot reach an output.
#[derive(Default)]
struct CellIdHasher(u64);

impl Hasher for CellIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One account: its free balance, the nonce its next transaction must
/// carry, and its free units of each exchange token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Account {
    balance: u64,
    next_nonce: u64,
    tokens: Vec<u64>,
}

/// Ledger parameters fixed at genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerConfig {
    /// The smallest fee a transaction may pay, in PRANA units.
    pub fee_min: u64,
    /// The exchange's tokens and the lease markets' clock.
    pub market: MarketConfig,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            fee_min: 1,
            market: MarketConfig::default(),
        }
    }
}

/// A PRANA transaction, as the ledger sees it (the wire TX body maps to this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTx {
    /// The transaction's id (the hash of the signed message that carries
    /// it), which reports name it by; the rules never read it.
    pub id: [u8; 32],
    pub sender: CellId,
    /// Must equal the sender's next nonce (0 for its first transaction).
    pub nonce: u64,
    pub fee: u64,
    pub kind: LedgerTxKind,
}

/// What a ledger transaction does; the market kinds mirror
/// [`crate::message::TxKind`] (module docs give the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerTxKind {
    /// Move `amount` from the sender to `to` (which need not exist yet).
    Transfer {
        to: CellId,
        amount: u64,
    },
    /// Destroy `amount` of the sender's PRANA.
    Burn {
        amount: u64,
    },
    Order {
        token: u16,
        side: Side,
        price: Option<u64>,
        quantity: u64,
    },
    Cancel {
        token: u16,
        order: u64,
    },
    /// `provider_key`: the key the offer's message was signed with.
    Offer {
        market: LeaseMarket,
        capacity: u64,
        price: u64,
        collateral: u64,
        provider_key: PublicKey,
    },
    Lease {
        offer: u64,
        amount: u64,
        intervals: u32,
        data_seed: [u8; 32],
    },
    EndLease {
        lease: u64,
    },
    WithdrawOffer {
        offer: u64,
    },
    FraudProof {
        lease: u64,
        task: ExecTask,
        result: Vec<u8>,
    },
    StorageProof {
        lease: u64,
        challenge: u64,
        proof: Vec<u8>,
    },
}

impl LedgerTxKind {
    pub fn label(&self) -> &'static str {
        match self {
            LedgerTxKind::Transfer { .. } => "transfer",
            LedgerTxKind::Burn { .. } => "burn",
            LedgerTxKind::Order { .. } => "order",
            LedgerTxKind::Cancel { .. } => "cancel",
            LedgerTxKind::Offer {
                market: LeaseMarket::Compute,
                ..
            } => "compute-offer",
            LedgerTxKind::Offer {
                market: LeaseMarket::Storage,
                ..
            } => "storage-offer",
            LedgerTxKind::Lease { .. } => "lease",
            LedgerTxKind::EndLease { .. } => "end-lease",
            LedgerTxKind::WithdrawOffer { .. } => "withdraw-offer",
            LedgerTxKind::FraudProof { .. } => "fraud-proof",
            LedgerTxKind::StorageProof { .. } => "storage-proof",
        }
    }
}

/// A POST entering the global dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTx {
    pub author: CellId,
    pub topic: String,
    pub content: Vec<u8>,
}

/// One consensus-ordered item of a round.
// Items live for one round's application: boxing the larger variant would
// allocate per transaction for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderedItem {
    Tx(LedgerTx),
    Post(PostTx),
}

impl OrderedItem {
    pub fn label(&self) -> &'static str {
        match self {
            OrderedItem::Tx(tx) => tx.kind.label(),
            OrderedItem::Post(_) => "post",
        }
    }

    fn sender(&self) -> CellId {
        match self {
            OrderedItem::Tx(tx) => tx.sender,
            OrderedItem::Post(post) => post.author,
        }
    }
}

/// Where an item sits in the consensus order: its round received and its
/// index in the whole order (across rounds, from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct ConsensusPosition {
    pub round: u64,
    pub order_index: u64,
}

/// A POST's identity: blake3 over its author, topic, content and position.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PostId(pub [u8; 32]);

impl std::fmt::Debug for PostId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostId({})", crate::identity::hex(&self.0[..4]))
    }
}

/// A POST in the global dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: PostId,
    pub author: CellId,
    pub topic: String,
    pub content: Vec<u8>,
    pub position: ConsensusPosition,
}

/// Why an ordered item was not applied. Every honest cell rejects the same
/// items for the same reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("sender {sender:?} has no account")]
    UnknownAccount { sender: CellId },
    #[error("bad nonce from {sender:?}: expected {expected}, got {got}")]
    BadNonce {
        sender: CellId,
        expected: u64,
        got: u64,
    },
    #[error("fee {fee} is below the minimum {fee_min}")]
    FeeTooLow { fee: u64, fee_min: u64 },
    #[error("insufficient funds: {needed} needed, {available} available")]
    InsufficientFunds { needed: u64, available: u64 },
    #[error("insufficient token {token}: {needed} needed, {available} available")]
    InsufficientTokens {
        token: u16,
        needed: u64,
        available: u64,
    },
    #[error("amount plus fee or a balance would overflow u64")]
    Overflow,
    #[error("POST topic is {bytes} bytes, the limit is {limit}")]
    TopicTooLong { bytes: usize, limit: usize },
    #[error("POST content is {bytes} bytes, the limit is {limit}")]
    ContentTooLong { bytes: usize, limit: usize },
    #[error("no exchange token {0}")]
    UnknownToken(u16),
    #[error("order book: {0}")]
    Book(BookError),
    #[error("no offer {0}")]
    UnknownOffer(u64),
    #[error("offer {0} is closed")]
    OfferClosed(u64),
    #[error("offer {0} still has live leases")]
    OfferInUse(u64),
    #[error("only the provider may do this to offer or lease {0}")]
    NotProvider(u64),
    #[error("only the consumer may end lease {0}")]
    NotConsumer(u64),
    #[error("a provider may not lease its own offer {0}")]
    SelfLease(u64),
    #[error("bad terms: {0}")]
    BadTerms(&'static str),
    #[error("offer {offer} has {free} free, {asked} asked")]
    CapacityExceeded { offer: u64, free: u64, asked: u64 },
    #[error("no lease {0}")]
    UnknownLease(u64),
    #[error("lease {0} has ended")]
    LeaseEnded(u64),
    #[error("lease {0} is in the other market")]
    WrongMarket(u64),
    #[error("the offer behind lease {0} was already slashed")]
    AlreadySlashed(u64),
    #[error("invalid fraud proof: {0}")]
    InvalidFraudProof(&'static str),
    #[error("no open challenge {challenge} on lease {lease}")]
    NoChallenge { lease: u64, challenge: u64 },
    #[error("invalid storage proof: {0}")]
    InvalidStorageProof(&'static str),
    #[error("the transactions before it never came")]
    NonceGap,
}

impl Rejection {
    /// A fixed name per reason, for counters and reports.
    pub fn label(&self) -> &'static str {
        match self {
            Rejection::UnknownAccount { .. } => "unknown-account",
            Rejection::BadNonce { .. } => "bad-nonce",
            Rejection::FeeTooLow { .. } => "fee-too-low",
            Rejection::InsufficientFunds { .. } => "insufficient-funds",
            Rejection::InsufficientTokens { .. } => "insufficient-tokens",
            Rejection::Overflow => "overflow",
            Rejection::TopicTooLong { .. } => "topic-too-long",
            Rejection::ContentTooLong { .. } => "content-too-long",
            Rejection::UnknownToken(_) => "unknown-token",
            Rejection::Book(BookError::ZeroQuantity) => "zero-quantity",
            Rejection::Book(BookError::ZeroPrice) => "zero-price",
            Rejection::Book(BookError::UnknownOrder(_)) => "unknown-order",
            Rejection::Book(BookError::NotOwner(_)) => "not-owner",
            Rejection::UnknownOffer(_) => "unknown-offer",
            Rejection::OfferClosed(_) => "offer-closed",
            Rejection::OfferInUse(_) => "offer-in-use",
            Rejection::NotProvider(_) => "not-provider",
            Rejection::NotConsumer(_) => "not-consumer",
            Rejection::SelfLease(_) => "self-lease",
            Rejection::BadTerms(_) => "bad-terms",
            Rejection::CapacityExceeded { .. } => "capacity-exceeded",
            Rejection::UnknownLease(_) => "unknown-lease",
            Rejection::LeaseEnded(_) => "lease-ended",
            Rejection::WrongMarket(_) => "wrong-market",
            Rejection::AlreadySlashed(_) => "already-slashed",
            Rejection::InvalidFraudProof(_) => "invalid-fraud-proof",
            Rejection::NoChallenge { .. } => "no-challenge",
            Rejection::InvalidStorageProof(_) => "invalid-storage-proof",
            Rejection::NonceGap => "nonce-gap",
        }
    }
}

/// Errors of the ledger's own API (not of ordered items).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the genesis allocation sums past u64::MAX")]
    GenesisOverflow,
    #[error("the genesis allocation lists {cell:?} twice")]
    GenesisDuplicate { cell: CellId },
    #[error("the genesis allocation gives {cell:?} {got} token balances for {tokens} tokens")]
    GenesisTokens {
        cell: CellId,
        got: usize,
        tokens: usize,
    },
    #[error("{count} exchange tokens configured, the limit is {limit}")]
    TooManyTokens { count: usize, limit: usize },
    #[error("round {got} applied after round {last}: rounds must increase")]
    RoundNotIncreasing { last: u64, got: u64 },
    #[error("a round carries {count} items, the limit is {limit}")]
    RoundTooLarge { count: usize, limit: usize },
}

/// A broken ledger invariant (module docs), found by the check after a
/// round: reported, never a panic, so a run records where the state went
/// wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerViolation {
    /// `prana-conservation`, `token-conservation`, `book-crossed`,
    /// `book-index`, `lease-capacity` or `lease-escrow`.
    pub invariant: &'static str,
    pub detail: String,
}

/// The consensus facts a round is applied with (besides its items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundContext {
    pub round: u64,
    /// The round's consensus time: its latest consensus timestamp. The
    /// lease markets' only clock (the ledger keeps it monotone).
    pub consensus_time_ns: u64,
    /// Unpredictable before the round is decided, equal at every cell
    /// after (the round's consensus order digest): draws storage challenges.
    pub randomness: [u8; 32],
    /// Who the fee pool pays this round, in order.
    pub fee_payees: Vec<CellId>,
}

impl RoundContext {
    /// A round with no clock, randomness or payees (tests and tools).
    pub fn bare(round: u64) -> RoundContext {
        RoundContext {
            round,
            consensus_time_ns: 0,
            randomness: [0; 32],
            fee_payees: Vec::new(),
        }
    }
}

/// What applying one round did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundOutcome {
    pub round: u64,
    pub applied: usize,
    /// `(index within the round, reason)`, in order.
    pub rejected: Vec<(usize, Rejection)>,
    /// Posts added this round, in order.
    pub posts: Vec<PostId>,
    /// Items of this round still waiting for their sender's earlier nonces
    /// when it ended (applied or refused in a later round).
    pub held: Vec<usize>,
    pub state_hash: [u8; 32],
    pub market: MarketRoundReport,
    /// Invariants found broken after this round (empty when all hold).
    pub violations: Vec<LedgerViolation>,
}

/// The PRANA ledger, its markets and the POST dataset. See the module docs.
#[derive(Debug, Clone)]
pub struct Ledger {
    config: LedgerConfig,
    genesis_total: u64,
    /// Per token: units at genesis.
    token_genesis: Vec<u64>,
    minted: u64,
    /// Accounts in creation order; `index` finds them by id (lookups only),
    /// `order` iterates them by ascending id (for hashing and listing).
    accounts: Vec<Account>,
    index: HashMap<CellId, u32, BuildHasherDefault<CellIdHasher>>, // tidy: lookup-only
    order: BTreeMap<CellId, u32>,
    fee_pool: u64,
    burned: u64,
    /// Last round applied; `None` before the first.
    last_round: Option<u64>,
    /// Consensus time of the last round applied.
    consensus_time_ns: u64,
    /// Items ever ordered (applied or rejected): the next `order_index`.
    ordered_items: u64,
    books: Vec<OrderBook>,
    /// Per token: the price of its latest trade.
    last_trade_price: Vec<Option<u64>>,
    offers: BTreeMap<u64, Offer>,
    leases: BTreeMap<u64, Lease>,
    /// Transactions waiting for their sender's earlier nonces, with the
    /// round they arrived in.
    held: BTreeMap<(CellId, u64), (LedgerTx, u64)>,
    next_offer_id: u64,
    next_lease_id: u64,
    posts: BTreeMap<PostId, Post>,
    /// Post ids per topic, in consensus order.
    posts_by_topic: BTreeMap<String, Vec<PostId>>,
    post_chain: [u8; 32],
    state_hash: [u8; 32],
}

fn to_u64(value: u128) -> Result<u64, Rejection> {
    u64::try_from(value).map_err(|_| Rejection::Overflow)
}

impl Ledger {
    /// A ledger holding `allocation` (PRANA only) at genesis. Every listed
    /// cell gets an account, even with a zero balance.
    pub fn genesis(
        config: LedgerConfig,
        allocation: impl IntoIterator<Item = (CellId, u64)>,
    ) -> Result<Ledger, LedgerError> {
        Ledger::genesis_accounts(
            config,
            allocation.into_iter().map(|(cell, prana)| GenesisAccount {
                cell,
                prana,
                tokens: Vec::new(),
            }),
        )
    }

    /// A ledger holding `accounts` (PRANA and tokens) at genesis.
    pub fn genesis_accounts(
        config: LedgerConfig,
        accounts: impl IntoIterator<Item = GenesisAccount>,
    ) -> Result<Ledger, LedgerError> {
        let tokens = config.market.tokens.len();
        if tokens > TOKENS_MAX {
            return Err(LedgerError::TooManyTokens {
                count: tokens,
                limit: TOKENS_MAX,
            });
        }
        let mut ledger = Ledger {
            config,
            genesis_total: 0,
            token_genesis: vec![0; tokens],
            minted: 0,
            accounts: Vec::new(),
            index: HashMap::default(), // tidy: lookup-only
            order: BTreeMap::new(),
            fee_pool: 0,
            burned: 0,
            last_round: None,
            consensus_time_ns: 0,
            ordered_items: 0,
            books: vec![OrderBook::new(); tokens],
            last_trade_price: vec![None; tokens],
            offers: BTreeMap::new(),
            leases: BTreeMap::new(),
            held: BTreeMap::new(),
            next_offer_id: 0,
            next_lease_id: 0,
            posts: BTreeMap::new(),
            posts_by_topic: BTreeMap::new(),
            post_chain: [0; 32],
            state_hash: [0; 32],
        };
        for account in accounts {
            if ledger.index.contains_key(&account.cell) {
                return Err(LedgerError::GenesisDuplicate { cell: account.cell });
            }
            if !account.tokens.is_empty() && account.tokens.len() != tokens {
                return Err(LedgerError::GenesisTokens {
                    cell: account.cell,
                    got: account.tokens.len(),
                    tokens,
                });
            }
            ledger.genesis_total = ledger
                .genesis_total
                .checked_add(account.prana)
                .ok_or(LedgerError::GenesisOverflow)?;
            for (total, units) in ledger.token_genesis.iter_mut().zip(&account.tokens) {
                *total = total
                    .checked_add(*units)
                    .ok_or(LedgerError::GenesisOverflow)?;
            }
            let slot = ledger.open_account(account.cell);
            ledger.accounts[slot].balance = account.prana;
            if !account.tokens.is_empty() {
                ledger.accounts[slot].tokens = account.tokens;
            }
        }
        ledger.state_hash = ledger.compute_state_hash();
        Ok(ledger)
    }

    /// The slot of `cell`'s account, opening an empty one if needed.
    fn open_account(&mut self, cell: CellId) -> usize {
        if let Some(&slot) = self.index.get(&cell) {
            return slot as usize;
        }
        let slot = u32::try_from(self.accounts.len()).expect("fewer than 2^32 accounts");
        self.accounts.push(Account {
            balance: 0,
            next_nonce: 0,
            tokens: vec![0; self.config.market.tokens.len()],
        });
        self.index.insert(cell, slot);
        self.order.insert(cell, slot);
        slot as usize
    }

    fn account(&self, cell: &CellId) -> Option<&Account> {
        self.index
            .get(cell)
            .map(|&slot| &self.accounts[slot as usize])
    }

    /// Credit `amount` PRANA to `cell` (opening its account). Credits never
    /// overflow while conservation holds (every balance is a part of a u64
    /// total); a broken ledger saturates and the check after the round
    /// reports it.
    fn credit(&mut self, cell: CellId, amount: u64) {
        let slot = self.open_account(cell);
        let balance = &mut self.accounts[slot].balance;
        *balance = balance.saturating_add(amount);
    }

    fn credit_tokens(&mut self, cell: CellId, token: u16, units: u64) {
        let slot = self.open_account(cell);
        let balance = &mut self.accounts[slot].tokens[usize::from(token)];
        *balance = balance.saturating_add(units);
    }

    /// Apply one consensus round's items in order, then move the lease
    /// markets' clock to the round's time, pay the fee pool out, check every
    /// invariant and recompute the state hash. Rounds must strictly increase
    /// (a round with no items may be skipped or applied, both are fine).
    pub fn apply_round(
        &mut self,
        context: &RoundContext,
        items: &[OrderedItem],
    ) -> Result<RoundOutcome, LedgerError> {
        let round = context.round;
        if let Some(last) = self.last_round
            && round <= last
        {
            return Err(LedgerError::RoundNotIncreasing { last, got: round });
        }
        if items.len() > ROUND_ITEMS_MAX {
            return Err(LedgerError::RoundTooLarge {
                count: items.len(),
                limit: ROUND_ITEMS_MAX,
            });
        }
        self.consensus_time_ns = self.consensus_time_ns.max(context.consensus_time_ns);
        let mut outcome = RoundOutcome {
            round,
            applied: 0,
            rejected: Vec::new(),
            posts: Vec::new(),
            held: Vec::new(),
            state_hash: [0; 32],
            market: MarketRoundReport {
                consensus_time_ns: self.consensus_time_ns,
                ..MarketRoundReport::default()
            },
            violations: Vec::new(),
        };
        for (index, item) in items.iter().enumerate() {
            let position = ConsensusPosition {
                round,
                order_index: self.ordered_items,
            };
            self.ordered_items += 1;
            let result = match item {
                OrderedItem::Tx(tx) if self.should_hold(tx) => {
                    self.held.insert((tx.sender, tx.nonce), (tx.clone(), round));
                    continue;
                }
                OrderedItem::Tx(tx) => {
                    let result = self.apply_tx(tx, index, &mut outcome.market);
                    if !matches!(result, Err((_, false))) {
                        self.apply_held(tx.sender, round, items, &mut outcome);
                    }
                    result
                }
                OrderedItem::Post(post) => self
                    .apply_post(post, position)
                    .map(|id| {
                        outcome.posts.push(id);
                    })
                    .map_err(|rejection| (rejection, false)),
            };
            match result {
                Ok(()) => outcome.applied += 1,
                Err((rejection, fee_charged)) => {
                    outcome.market.refused.push(Refused {
                        item: index,
                        sender: item.sender(),
                        kind: item.label(),
                        reason: rejection.label(),
                        fee_charged,
                    });
                    outcome.rejected.push((index, rejection));
                }
            }
        }
        self.expire_held(round, &mut outcome);
        outcome.held = self
            .held
            .values()
            .filter(|(_, at)| *at == round)
            .filter_map(|(tx, _)| {
                items
                    .iter()
                    .position(|item| matches!(item, OrderedItem::Tx(t) if t == tx))
            })
            .collect();
        outcome.held.sort_unstable();
        self.tick_leases(&context.randomness, &mut outcome.market);
        outcome.market.fee_payout = self.pay_fees(&context.fee_payees);
        self.last_round = Some(round);
        outcome.market.books = self.book_tops();
        outcome.market.capacity = self.capacity();
        outcome.violations = self.check_invariants();
        self.state_hash = self.compute_state_hash();
        outcome.state_hash = self.state_hash;
        Ok(outcome)
    }

    /// Whether `tx` waits for its sender's earlier nonces (module docs).
    fn should_hold(&self, tx: &LedgerTx) -> bool {
        let Some(account) = self.account(&tx.sender) else {
            return false;
        };
        tx.nonce > account.next_nonce
            && tx.nonce - account.next_nonce <= NONCE_AHEAD_MAX
            && !self.held.contains_key(&(tx.sender, tx.nonce))
    }

    /// Apply `sender`'s waiting transactions its next nonce now reaches.
    /// One of this round's items is recorded under its own index; one from
    /// an earlier round only in the market report.
    fn apply_held(
        &mut self,
        sender: CellId,
        round: u64,
        items: &[OrderedItem],
        outcome: &mut RoundOutcome,
    ) {
        loop {
            let next = self.next_nonce(&sender);
            let Some((tx, held_round)) = self.held.remove(&(sender, next)) else {
                return;
            };
            let index = if held_round == round {
                items
                    .iter()
                    .position(|item| matches!(item, OrderedItem::Tx(t) if *t == tx))
            } else {
                None
            };
            let result = self.apply_tx(&tx, index.unwrap_or(usize::MAX), &mut outcome.market);
            match (result, index) {
                (Ok(()), Some(_)) => outcome.applied += 1,
                (Ok(()), None) => {}
                (Err((rejection, fee_charged)), index) => {
                    outcome.market.refused.push(Refused {
                        item: index.unwrap_or(usize::MAX),
                        sender,
                        kind: tx.kind.label(),
                        reason: rejection.label(),
                        fee_charged,
                    });
                    if let Some(index) = index {
                        outcome.rejected.push((index, rejection));
                    }
                }
            }
        }
    }

    /// Refuse waiting transactions that waited [`HOLD_ROUNDS_MAX`] rounds.
    fn expire_held(&mut self, round: u64, outcome: &mut RoundOutcome) {
        let expired: Vec<(CellId, u64)> = self
            .held
            .iter()
            .filter(|(_, (_, at))| round.saturating_sub(*at) >= HOLD_ROUNDS_MAX)
            .map(|(key, _)| *key)
            .collect();
        for key in expired {
            let (tx, _) = self.held.remove(&key).expect("listed above");
            outcome.market.refused.push(Refused {
                item: usize::MAX,
                sender: tx.sender,
                kind: tx.kind.label(),
                reason: Rejection::NonceGap.label(),
                fee_charged: false,
            });
        }
    }

    /// Check a transfer or burn against the current state without applying
    /// it (for a mempool's admission check; consensus order still decides).
    /// Market kinds depend on the book and leases at their position, so
    /// only their account, nonce and fee are checked.
    pub fn check_tx(&self, tx: &LedgerTx) -> Result<(), Rejection> {
        let available = self.fee_plan(tx)?;
        let needed = match tx.kind {
            LedgerTxKind::Transfer { amount, .. } | LedgerTxKind::Burn { amount } => amount,
            _ => 0,
        };
        Self::require(tx, available, needed)
    }

    /// Account, nonce and fee checks every transaction passes first; the
    /// sender's balance left after the fee.
    fn fee_plan(&self, tx: &LedgerTx) -> Result<u64, Rejection> {
        let account = self
            .account(&tx.sender)
            .ok_or(Rejection::UnknownAccount { sender: tx.sender })?;
        let expected = account.next_nonce;
        if tx.nonce != expected {
            return Err(Rejection::BadNonce {
                sender: tx.sender,
                expected,
                got: tx.nonce,
            });
        }
        if tx.fee < self.config.fee_min {
            return Err(Rejection::FeeTooLow {
                fee: tx.fee,
                fee_min: self.config.fee_min,
            });
        }
        if tx.fee > account.balance {
            return Err(Rejection::InsufficientFunds {
                needed: tx.fee,
                available: account.balance,
            });
        }
        self.fee_pool
            .checked_add(tx.fee)
            .ok_or(Rejection::Overflow)?;
        Ok(account.balance - tx.fee)
    }

    /// The sender's free balance must cover `needed` besides the fee.
    fn require(tx: &LedgerTx, available: u64, needed: u64) -> Result<(), Rejection> {
        let total = needed.checked_add(tx.fee).ok_or(Rejection::Overflow)?;
        if needed > available {
            return Err(Rejection::InsufficientFunds {
                needed: total,
                available: available + tx.fee,
            });
        }
        Ok(())
    }

    fn debit(&mut self, cell: &CellId, amount: u64) {
        let slot = self.index[cell] as usize;
        self.accounts[slot].balance -= amount;
    }

    /// Apply one transaction: the account checks (refused: nothing
    /// changes, `Err((_, false))`), then its action (refused: only the fee
    /// and the nonce are taken, `Err((_, true))`).
    fn apply_tx(
        &mut self,
        tx: &LedgerTx,
        item: usize,
        report: &mut MarketRoundReport,
    ) -> Result<(), (Rejection, bool)> {
        let available = self.fee_plan(tx).map_err(|rejection| (rejection, false))?;
        let result = self.apply_action(tx, available, item, report);
        // The checks left at least the fee, whatever the action did.
        self.debit(&tx.sender, tx.fee);
        self.fee_pool += tx.fee;
        let sender = self.open_account(tx.sender);
        self.accounts[sender].next_nonce = tx.nonce + 1;
        result.map_err(|rejection| (rejection, true))
    }

    fn apply_action(
        &mut self,
        tx: &LedgerTx,
        available: u64,
        item: usize,
        report: &mut MarketRoundReport,
    ) -> Result<(), Rejection> {
        // Each kind checks everything before it writes anything: all or
        // nothing.
        match &tx.kind {
            LedgerTxKind::Transfer { to, amount } => {
                Self::require(tx, available, *amount)?;
                if *to != tx.sender {
                    self.balance(to)
                        .unwrap_or(0)
                        .checked_add(*amount)
                        .ok_or(Rejection::Overflow)?;
                }
                self.debit(&tx.sender, *amount);
                self.credit(*to, *amount);
            }
            LedgerTxKind::Burn { amount } => {
                Self::require(tx, available, *amount)?;
                let burned_after = self
                    .burned
                    .checked_add(*amount)
                    .ok_or(Rejection::Overflow)?;
                self.debit(&tx.sender, *amount);
                self.burned = burned_after;
            }
            LedgerTxKind::Order {
                token,
                side,
                price,
                quantity,
            } => self.apply_order(
                tx, available, item, report, *token, *side, *price, *quantity,
            )?,
            LedgerTxKind::Cancel { token, order } => {
                let book = self
                    .books
                    .get(usize::from(*token))
                    .ok_or(Rejection::UnknownToken(*token))?;
                let (side, price, _, _) = book
                    .order(*order)
                    .ok_or(Rejection::Book(BookError::UnknownOrder(*order)))?;
                let rest = self.books[usize::from(*token)]
                    .cancel(tx.sender, *order)
                    .map_err(Rejection::Book)?;
                match side {
                    // price × rest was locked when the bid rested.
                    Side::Bid => self.credit(tx.sender, price * rest),
                    Side::Ask => self.credit_tokens(tx.sender, *token, rest),
                }
            }
            LedgerTxKind::Offer {
                market,
                capacity,
                price,
                collateral,
                provider_key,
            } => {
                if *capacity == 0 || *price == 0 {
                    return Err(Rejection::BadTerms("capacity and price must be above 0"));
                }
                if *market == LeaseMarket::Storage && *capacity > STORAGE_LEASE_BLOCKS_MAX {
                    return Err(Rejection::BadTerms(
                        "more blocks than a storage lease may hold",
                    ));
                }
                if provider_key.cell_id() != tx.sender {
                    return Err(Rejection::BadTerms("the provider key is not the sender's"));
                }
                Self::require(tx, available, *collateral)?;
                self.debit(&tx.sender, *collateral);
                let id = self.next_offer_id;
                self.next_offer_id += 1;
                self.offers.insert(
                    id,
                    Offer {
                        id,
                        market: *market,
                        provider: tx.sender,
                        provider_key: *provider_key,
                        capacity: *capacity,
                        leased: 0,
                        price: *price,
                        collateral: *collateral,
                        open: true,
                    },
                );
            }
            LedgerTxKind::Lease {
                offer,
                amount,
                intervals,
                data_seed,
            } => self.open_lease(
                tx, available, report, *offer, *amount, *intervals, *data_seed,
            )?,
            LedgerTxKind::EndLease { lease } => {
                let entry = self
                    .leases
                    .get(lease)
                    .ok_or(Rejection::UnknownLease(*lease))?;
                if !entry.live {
                    return Err(Rejection::LeaseEnded(*lease));
                }
                if entry.consumer != tx.sender {
                    return Err(Rejection::NotConsumer(*lease));
                }
                self.end_lease(*lease, LeaseEventKind::Ended, report);
            }
            LedgerTxKind::WithdrawOffer { offer } => {
                let entry = self
                    .offers
                    .get(offer)
                    .ok_or(Rejection::UnknownOffer(*offer))?;
                if entry.provider != tx.sender {
                    return Err(Rejection::NotProvider(*offer));
                }
                if !entry.open {
                    return Err(Rejection::OfferClosed(*offer));
                }
                if entry.leased > 0 {
                    return Err(Rejection::OfferInUse(*offer));
                }
                let collateral = entry.collateral;
                let entry = self.offers.get_mut(offer).expect("checked above");
                entry.open = false;
                entry.collateral = 0;
                self.credit(tx.sender, collateral);
            }
            LedgerTxKind::FraudProof {
                lease,
                task,
                result,
            } => {
                let (offer, reason) = self.check_fraud_proof(*lease, task, result)?;
                self.slash(offer, *lease, reason, report);
            }
            LedgerTxKind::StorageProof {
                lease,
                challenge,
                proof,
            } => self.answer_challenge(tx, report, *lease, *challenge, proof)?,
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_order(
        &mut self,
        tx: &LedgerTx,
        available: u64,
        item: usize,
        report: &mut MarketRoundReport,
        token: u16,
        side: Side,
        price: Option<u64>,
        quantity: u64,
    ) -> Result<(), Rejection> {
        let book = self
            .books
            .get(usize::from(token))
            .ok_or(Rejection::UnknownToken(token))?;
        if quantity == 0 {
            return Err(Rejection::Book(BookError::ZeroQuantity));
        }
        if price == Some(0) {
            return Err(Rejection::Book(BookError::ZeroPrice));
        }
        match (side, price) {
            (Side::Bid, Some(limit)) => {
                let locked = to_u64(u128::from(limit) * u128::from(quantity))?;
                Self::require(tx, available, locked)?;
            }
            (Side::Bid, None) => {
                let (_, cost) = book.market_buy_cost(quantity);
                Self::require(tx, available, to_u64(cost)?)?;
            }
            (Side::Ask, _) => {
                let free = self
                    .account(&tx.sender)
                    .map_or(0, |a| a.tokens[usize::from(token)]);
                if free < quantity {
                    return Err(Rejection::InsufficientTokens {
                        token,
                        needed: quantity,
                        available: free,
                    });
                }
            }
        }
        let kind = match price {
            Some(price) => OrderKind::Limit { price },
            None => OrderKind::Market,
        };
        let submitted = self.books[usize::from(token)]
            .submit(tx.sender, side, kind, quantity)
            .map_err(Rejection::Book)?;
        let mut filled = 0u64;
        let mut paid = 0u64;
        for fill in &submitted.fills {
            filled += fill.quantity;
            // price × quantity ≤ what the checks above saw locked or owned.
            let value = fill.price * fill.quantity;
            paid += value;
            let (buyer, seller) = match side {
                Side::Bid => (tx.sender, fill.maker_owner),
                Side::Ask => (fill.maker_owner, tx.sender),
            };
            self.credit_tokens(buyer, token, fill.quantity);
            if self.config.market.mutation_mint_on_fill {
                self.credit_tokens(buyer, token, 1);
            }
            self.credit(seller, value);
            self.last_trade_price[usize::from(token)] = Some(fill.price);
            report.trades.push(Trade { token, fill: *fill });
        }
        match side {
            Side::Bid => {
                // Makers' prices for what filled, the limit for what rests.
                let locked = price.unwrap_or(0) * submitted.resting;
                self.debit(&tx.sender, paid + locked);
            }
            Side::Ask => {
                let slot = self.index[&tx.sender] as usize;
                self.accounts[slot].tokens[usize::from(token)] -= filled + submitted.resting;
            }
        }
        report.orders.push(OrderOutcome {
            item,
            tx: tx.id,
            token,
            id: submitted.id,
            owner: tx.sender,
            side,
            price,
            quantity,
            filled,
            resting: submitted.resting,
            cancelled: submitted.cancelled,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn open_lease(
        &mut self,
        tx: &LedgerTx,
        available: u64,
        report: &mut MarketRoundReport,
        offer_id: u64,
        amount: u64,
        intervals: u32,
        data_seed: [u8; 32],
    ) -> Result<(), Rejection> {
        let offer = self
            .offers
            .get(&offer_id)
            .ok_or(Rejection::UnknownOffer(offer_id))?;
        if !offer.open {
            return Err(Rejection::OfferClosed(offer_id));
        }
        if offer.provider == tx.sender {
            return Err(Rejection::SelfLease(offer_id));
        }
        if amount == 0 || intervals == 0 || intervals > LEASE_INTERVALS_MAX {
            return Err(Rejection::BadTerms(
                "a lease needs an amount above 0 and 1 to 100000 intervals",
            ));
        }
        if amount > offer.free() {
            return Err(Rejection::CapacityExceeded {
                offer: offer_id,
                free: offer.free(),
                asked: amount,
            });
        }
        let price_per_interval = to_u64(u128::from(amount) * u128::from(offer.price))?;
        let escrow = to_u64(u128::from(price_per_interval) * u128::from(intervals))?;
        Self::require(tx, available, escrow)?;
        let (market, provider) = (offer.market, offer.provider);
        self.debit(&tx.sender, escrow);
        self.offers
            .get_mut(&offer_id)
            .expect("checked above")
            .leased += amount;
        let id = self.next_lease_id;
        self.next_lease_id += 1;
        self.leases.insert(
            id,
            Lease {
                id,
                market,
                offer: offer_id,
                provider,
                consumer: tx.sender,
                amount,
                intervals,
                paid_intervals: 0,
                price_per_interval,
                escrow,
                start_ns: self.consensus_time_ns,
                data_seed,
                challenges_issued: 0,
                challenge: None,
                live: true,
            },
        );
        report.leases.push(LeaseEvent {
            lease: id,
            market,
            provider,
            consumer: tx.sender,
            kind: LeaseEventKind::Opened,
            amount: escrow,
        });
        Ok(())
    }

    /// End a live lease: unpaid escrow back to the consumer, capacity back
    /// to the offer.
    fn end_lease(&mut self, id: u64, kind: LeaseEventKind, report: &mut MarketRoundReport) {
        let lease = self.leases.get_mut(&id).expect("a known lease");
        debug_assert!(lease.live);
        lease.live = false;
        lease.challenge = None;
        let refund = std::mem::take(&mut lease.escrow);
        let (consumer, offer, amount) = (lease.consumer, lease.offer, lease.amount);
        let event = LeaseEvent {
            lease: id,
            market: lease.market,
            provider: lease.provider,
            consumer,
            kind,
            amount: refund,
        };
        if let Some(offer) = self.offers.get_mut(&offer) {
            offer.leased -= amount;
        }
        self.credit(consumer, refund);
        report.leases.push(event);
    }

    /// Pay one interval of a live lease from escrow to its provider; settle
    /// it when every interval is paid.
    fn pay_interval(&mut self, id: u64, report: &mut MarketRoundReport) {
        let lease = self.leases.get_mut(&id).expect("a known lease");
        let amount = lease.price_per_interval;
        lease.escrow -= amount;
        lease.paid_intervals += 1;
        let settled = lease.paid_intervals == lease.intervals;
        let event = LeaseEvent {
            lease: id,
            market: lease.market,
            provider: lease.provider,
            consumer: lease.consumer,
            kind: LeaseEventKind::Paid,
            amount,
        };
        let provider = lease.provider;
        self.credit(provider, amount);
        report.leases.push(event);
        if settled {
            // Escrow is 0 now: ending returns nothing and frees the capacity.
            self.end_lease(id, LeaseEventKind::Settled, report);
        }
    }

    /// Slash offer `offer` for lease `lease`: all its collateral to the
    /// lease's consumer, the offer closed, every live lease on it ended.
    fn slash(
        &mut self,
        offer: u64,
        lease: u64,
        reason: &'static str,
        report: &mut MarketRoundReport,
    ) {
        let entry = self.offers.get_mut(&offer).expect("a known offer");
        let collateral = std::mem::take(&mut entry.collateral);
        entry.open = false;
        let wronged = &self.leases[&lease];
        let event = LeaseEvent {
            lease,
            market: wronged.market,
            provider: wronged.provider,
            consumer: wronged.consumer,
            kind: LeaseEventKind::Slashed { reason },
            amount: collateral,
        };
        let consumer = wronged.consumer;
        self.credit(consumer, collateral);
        report.leases.push(event);
        let live: Vec<u64> = self
            .leases
            .values()
            .filter(|l| l.offer == offer && l.live)
            .map(|l| l.id)
            .collect();
        for id in live {
            self.end_lease(id, LeaseEventKind::Ended, report);
        }
    }

    /// The offer a valid fraud proof against lease `lease` slashes.
    fn check_fraud_proof(
        &self,
        lease: u64,
        task: &ExecTask,
        result: &[u8],
    ) -> Result<(u64, &'static str), Rejection> {
        let entry = self
            .leases
            .get(&lease)
            .ok_or(Rejection::UnknownLease(lease))?;
        if entry.market != LeaseMarket::Compute {
            return Err(Rejection::WrongMarket(lease));
        }
        let offer = &self.offers[&entry.offer];
        if offer.collateral == 0 && !offer.open {
            return Err(Rejection::AlreadySlashed(lease));
        }
        let message = Message::decode(result)
            .map_err(|_| Rejection::InvalidFraudProof("the result does not decode"))?;
        if message.sender != entry.provider || message.proof.public_key != offer.provider_key {
            return Err(Rejection::InvalidFraudProof(
                "the result is not the provider's",
            ));
        }
        if message.receiver != entry.consumer {
            return Err(Rejection::InvalidFraudProof(
                "the result was not sent to the consumer",
            ));
        }
        message
            .verify()
            .map_err(|_| Rejection::InvalidFraudProof("the result's signature does not verify"))?;
        let Body::Exec(Exec::Result {
            task_digest,
            output,
            ..
        }) = &message.body
        else {
            return Err(Rejection::InvalidFraudProof("not an EXEC result"));
        };
        if *task_digest != task.digest() {
            return Err(Rejection::InvalidFraudProof(
                "the result answers another task",
            ));
        }
        if *output == task.run() {
            return Err(Rejection::InvalidFraudProof("the result is correct"));
        }
        Ok((entry.offer, "fraud-proof"))
    }

    fn answer_challenge(
        &mut self,
        tx: &LedgerTx,
        report: &mut MarketRoundReport,
        lease: u64,
        challenge: u64,
        proof: &[u8],
    ) -> Result<(), Rejection> {
        let entry = self
            .leases
            .get(&lease)
            .ok_or(Rejection::UnknownLease(lease))?;
        if entry.market != LeaseMarket::Storage {
            return Err(Rejection::WrongMarket(lease));
        }
        if !entry.live {
            return Err(Rejection::LeaseEnded(lease));
        }
        if entry.provider != tx.sender {
            return Err(Rejection::NotProvider(lease));
        }
        let open = entry
            .challenge
            .filter(|open| open.seq == challenge && self.consensus_time_ns <= open.deadline_ns)
            .ok_or(Rejection::NoChallenge { lease, challenge })?;
        let proof = RangeProof::from_bytes(proof)
            .map_err(|_| Rejection::InvalidStorageProof("the proof does not decode"))?;
        let key = self.offers[&entry.offer].provider_key;
        JournalVerifier::new(key, storage_journal_tag(lease))
            .verify_range(&proof)
            .map_err(|_| Rejection::InvalidStorageProof("the proof does not verify"))?;
        if proof.head.length != entry.amount {
            return Err(Rejection::InvalidStorageProof(
                "the journal has the wrong length",
            ));
        }
        if proof.start != open.index || proof.blocks.len() != 1 {
            return Err(Rejection::InvalidStorageProof(
                "the proof is of another block",
            ));
        }
        let expected = storage_block(
            &entry.data_seed,
            open.index,
            self.config.market.storage_block_bytes,
        );
        if proof.blocks[0] != expected {
            return Err(Rejection::InvalidStorageProof(
                "the block is not the lease's data",
            ));
        }
        self.leases
            .get_mut(&lease)
            .expect("checked above")
            .challenge = None;
        self.pay_interval(lease, report);
        Ok(())
    }

    /// The lease markets' clock: pay compute intervals that passed, slash
    /// storage providers whose challenge expired, issue due challenges.
    fn tick_leases(&mut self, randomness: &[u8; 32], report: &mut MarketRoundReport) {
        let now = self.consensus_time_ns;
        let interval = self.config.market.interval_ns.max(1);
        let live: Vec<u64> = self
            .leases
            .values()
            .filter(|lease| lease.live)
            .map(|lease| lease.id)
            .collect();
        for id in live {
            let lease = &self.leases[&id];
            if !lease.live {
                // Ended by a slash earlier in this loop.
                continue;
            }
            let elapsed = now.saturating_sub(lease.start_ns) / interval;
            match lease.market {
                LeaseMarket::Compute => {
                    let due = elapsed.min(u64::from(lease.intervals)) as u32;
                    for _ in lease.paid_intervals..due {
                        self.pay_interval(id, report);
                    }
                }
                LeaseMarket::Storage => {
                    if let Some(open) = lease.challenge {
                        if now > open.deadline_ns {
                            let offer = lease.offer;
                            self.slash(offer, id, "missed-challenge", report);
                        }
                        continue;
                    }
                    if lease.challenges_issued < u64::from(lease.intervals)
                        && elapsed > lease.challenges_issued
                    {
                        let seq = lease.challenges_issued;
                        let challenge = Challenge {
                            lease: id,
                            provider: lease.provider,
                            seq,
                            index: challenge_index(randomness, id, seq, lease.amount),
                            deadline_ns: now + self.config.market.challenge_window_ns,
                        };
                        let lease = self.leases.get_mut(&id).expect("live");
                        lease.challenges_issued += 1;
                        lease.challenge = Some(challenge);
                        report.challenges.push(challenge);
                    }
                }
            }
        }
    }

    /// Pay the fee pool out in equal shares; the remainder stays.
    fn pay_fees(&mut self, payees: &[CellId]) -> u64 {
        let Ok(count) = u64::try_from(payees.len()) else {
            return 0;
        };
        if count == 0 {
            return 0;
        }
        let share = self.fee_pool / count;
        if share == 0 {
            return 0;
        }
        for payee in payees {
            self.credit(*payee, share);
        }
        self.fee_pool -= share * count;
        share * count
    }

    fn book_tops(&self) -> Vec<BookTop> {
        self.books
            .iter()
            .enumerate()
            .map(|(token, book)| BookTop {
                token: token as u16,
                best_bid: book.best_bid(),
                best_ask: book.best_ask(),
                bid_depth: book.depth(Side::Bid),
                ask_depth: book.depth(Side::Ask),
            })
            .collect()
    }

    fn capacity(&self) -> Vec<Capacity> {
        [LeaseMarket::Compute, LeaseMarket::Storage]
            .into_iter()
            .map(|market| {
                let (offered, leased) = self
                    .offers
                    .values()
                    .filter(|offer| offer.market == market && offer.open)
                    .fold((0u64, 0u64), |(offered, leased), offer| {
                        (
                            offered.saturating_add(offer.capacity),
                            leased.saturating_add(offer.leased),
                        )
                    });
                Capacity {
                    market,
                    offered,
                    leased,
                }
            })
            .collect()
    }

    /// Every invariant of the module docs; the broken ones.
    pub fn check_invariants(&self) -> Vec<LedgerViolation> {
        let mut violations = Vec::new();
        let balances: u128 = self.accounts.iter().map(|a| u128::from(a.balance)).sum();
        let mut bids_locked = 0u128;
        for (token, book) in self.books.iter().enumerate() {
            let (prana, units) = book.locked();
            bids_locked += prana;
            let free: u128 = self
                .accounts
                .iter()
                .map(|a| u128::from(a.tokens[token]))
                .sum();
            if free + units != u128::from(self.token_genesis[token]) {
                violations.push(LedgerViolation {
                    invariant: "token-conservation",
                    detail: format!(
                        "token {token}: balances {free} + locked in asks {units} != genesis {}",
                        self.token_genesis[token]
                    ),
                });
            }
            if let Err(violation) = book.check() {
                violations.push(LedgerViolation {
                    invariant: match violation {
                        crate::book::BookViolation::Crossed { .. } => "book-crossed",
                        _ => "book-index",
                    },
                    detail: format!("token {token}: {violation}"),
                });
            }
        }
        let escrow: u128 = self.leases.values().map(|l| u128::from(l.escrow)).sum();
        let collateral: u128 = self.offers.values().map(|o| u128::from(o.collateral)).sum();
        let total = balances
            + bids_locked
            + escrow
            + collateral
            + u128::from(self.fee_pool)
            + u128::from(self.burned);
        let expected = u128::from(self.genesis_total) + u128::from(self.minted);
        if total != expected {
            violations.push(LedgerViolation {
                invariant: "prana-conservation",
                detail: format!(
                    "balances {balances} + bids {bids_locked} + escrow {escrow} + collateral {collateral} + fee pool {} + burned {} = {total} != genesis {} + minted {}",
                    self.fee_pool, self.burned, self.genesis_total, self.minted
                ),
            });
        }
        let mut leased: BTreeMap<u64, u64> = BTreeMap::new();
        for lease in self.leases.values() {
            if lease.live {
                *leased.entry(lease.offer).or_default() += lease.amount;
                let unpaid =
                    u128::from(lease.intervals - lease.paid_intervals.min(lease.intervals));
                if u128::from(lease.escrow) != unpaid * u128::from(lease.price_per_interval) {
                    violations.push(LedgerViolation {
                        invariant: "lease-escrow",
                        detail: format!(
                            "lease {}: escrow {} for {unpaid} unpaid intervals at {}",
                            lease.id, lease.escrow, lease.price_per_interval
                        ),
                    });
                }
            } else if lease.escrow != 0 {
                violations.push(LedgerViolation {
                    invariant: "lease-escrow",
                    detail: format!("lease {} ended holding escrow {}", lease.id, lease.escrow),
                });
            }
        }
        for offer in self.offers.values() {
            let live = leased.get(&offer.id).copied().unwrap_or(0);
            if live != offer.leased || offer.leased > offer.capacity {
                violations.push(LedgerViolation {
                    invariant: "lease-capacity",
                    detail: format!(
                        "offer {}: live leases hold {live}, recorded {}, capacity {}",
                        offer.id, offer.leased, offer.capacity
                    ),
                });
            }
        }
        violations
    }

    fn apply_post(
        &mut self,
        post: &PostTx,
        position: ConsensusPosition,
    ) -> Result<PostId, Rejection> {
        if post.topic.len() > POST_TOPIC_BYTES_MAX {
            return Err(Rejection::TopicTooLong {
                bytes: post.topic.len(),
                limit: POST_TOPIC_BYTES_MAX,
            });
        }
        if post.content.len() > POST_CONTENT_BYTES_MAX {
            return Err(Rejection::ContentTooLong {
                bytes: post.content.len(),
                limit: POST_CONTENT_BYTES_MAX,
            });
        }
        let mut writer = Writer::with_capacity(64 + post.topic.len() + post.content.len());
        writer
            .fixed(post.author.as_bytes())
            .str(&post.topic)
            .bytes(&post.content)
            .u64(position.round)
            .u64(position.order_index);
        let encoded = writer.finish();
        let id = PostId(
            *blake3::Hasher::new_derive_key(POST_ID_CONTEXT)
                .update(&encoded)
                .finalize()
                .as_bytes(),
        );
        self.post_chain = *blake3::Hasher::new_derive_key(POST_CHAIN_CONTEXT)
            .update(&self.post_chain)
            .update(&encoded)
            .finalize()
            .as_bytes();
        self.posts_by_topic
            .entry(post.topic.clone())
            .or_default()
            .push(id);
        self.posts.insert(
            id,
            Post {
                id,
                author: post.author,
                topic: post.topic.clone(),
                content: post.content.clone(),
                position,
            },
        );
        Ok(id)
    }

    /// The canonical encoding of the whole state, which the state hash covers.
    pub fn canonical_state_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(64 + self.accounts.len() * 48);
        writer
            .u64(self.last_round.map_or(0, |r| r + 1))
            .u64(self.ordered_items)
            .u64(self.genesis_total)
            .u64(self.fee_pool)
            .u64(self.burned)
            .u64(self.config.fee_min);
        writer
            .u64(self.minted)
            .u64(self.consensus_time_ns)
            .u64(self.token_genesis.len() as u64);
        for total in &self.token_genesis {
            writer.u64(*total);
        }
        writer.u64(self.accounts.len() as u64);
        for (cell, &slot) in &self.order {
            let account = &self.accounts[slot as usize];
            writer
                .fixed(cell.as_bytes())
                .u64(account.balance)
                .u64(account.next_nonce);
            for units in &account.tokens {
                writer.u64(*units);
            }
        }
        for (book, last) in self.books.iter().zip(&self.last_trade_price) {
            writer.u64(book.next_order_id()).u64(last.unwrap_or(0));
            for (id, side, price, owner, quantity) in book.resting() {
                writer
                    .u64(id)
                    .u8(side as u8)
                    .u64(price)
                    .fixed(owner.as_bytes())
                    .u64(quantity);
            }
            writer.u8(0xff);
        }
        writer.u64(self.next_offer_id).u64(self.offers.len() as u64);
        for offer in self.offers.values() {
            writer
                .u64(offer.id)
                .u8(offer.market as u8)
                .fixed(offer.provider.as_bytes())
                .u64(offer.capacity)
                .u64(offer.leased)
                .u64(offer.price)
                .u64(offer.collateral)
                .u8(u8::from(offer.open));
        }
        writer.u64(self.next_lease_id).u64(self.leases.len() as u64);
        for lease in self.leases.values() {
            writer
                .u64(lease.id)
                .u64(lease.offer)
                .fixed(lease.consumer.as_bytes())
                .u64(lease.amount)
                .u32(lease.intervals)
                .u32(lease.paid_intervals)
                .u64(lease.escrow)
                .u64(lease.start_ns)
                .fixed(&lease.data_seed)
                .u64(lease.challenges_issued)
                .u8(u8::from(lease.live));
            match lease.challenge {
                Some(open) => writer
                    .u8(1)
                    .u64(open.seq)
                    .u64(open.index)
                    .u64(open.deadline_ns),
                None => writer.u8(0),
            };
        }
        writer.u64(self.held.len() as u64);
        for ((sender, nonce), (tx, round)) in &self.held {
            writer
                .fixed(sender.as_bytes())
                .u64(*nonce)
                .u64(*round)
                .fixed(&tx.id);
        }
        writer.u64(self.posts.len() as u64).fixed(&self.post_chain);
        writer.finish()
    }

    fn compute_state_hash(&self) -> [u8; 32] {
        *blake3::Hasher::new_derive_key(STATE_HASH_CONTEXT)
            .update(&self.canonical_state_bytes())
            .finalize()
            .as_bytes()
    }

    /// The state hash after the last applied round (or at genesis).
    pub fn state_hash(&self) -> [u8; 32] {
        self.state_hash
    }

    /// The balance of an account; `None` if the cell has none.
    pub fn balance(&self, cell: &CellId) -> Option<u64> {
        self.account(cell).map(|a| a.balance)
    }

    /// Every account's balance, ascending by cell id.
    pub fn balances(&self) -> impl Iterator<Item = (CellId, u64)> + '_ {
        self.order
            .iter()
            .map(|(&cell, &slot)| (cell, self.accounts[slot as usize].balance))
    }

    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// The nonce the sender's next transaction must carry.
    pub fn next_nonce(&self, cell: &CellId) -> u64 {
        self.account(cell).map_or(0, |a| a.next_nonce)
    }

    pub fn fee_pool(&self) -> u64 {
        self.fee_pool
    }

    pub fn burned(&self) -> u64 {
        self.burned
    }

    pub fn genesis_total(&self) -> u64 {
        self.genesis_total
    }

    pub fn config(&self) -> &LedgerConfig {
        &self.config
    }

    /// PRANA created after genesis (no rule mints yet).
    pub fn minted(&self) -> u64 {
        self.minted
    }

    /// Consensus time of the last applied round.
    pub fn consensus_time_ns(&self) -> u64 {
        self.consensus_time_ns
    }

    /// `cell`'s free units of `token` (0 without an account or token).
    pub fn token_balance(&self, cell: &CellId, token: u16) -> u64 {
        self.account(cell)
            .and_then(|a| a.tokens.get(usize::from(token)).copied())
            .unwrap_or(0)
    }

    /// The book of `token`.
    pub fn book(&self, token: u16) -> Option<&OrderBook> {
        self.books.get(usize::from(token))
    }

    pub fn token_count(&self) -> u16 {
        self.books.len() as u16
    }

    /// The price of `token`'s latest trade.
    pub fn last_trade_price(&self, token: u16) -> Option<u64> {
        self.last_trade_price
            .get(usize::from(token))
            .copied()
            .flatten()
    }

    /// Every offer, by id.
    pub fn offers(&self) -> impl Iterator<Item = &Offer> + '_ {
        self.offers.values()
    }

    pub fn offer(&self, id: u64) -> Option<&Offer> {
        self.offers.get(&id)
    }

    /// Every lease, by id.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> + '_ {
        self.leases.values()
    }

    pub fn lease(&self, id: u64) -> Option<&Lease> {
        self.leases.get(&id)
    }

    /// Everything `cell` owns, in PRANA: free, locked in its resting bids,
    /// escrow it funds and collateral it posted.
    pub fn prana_owned(&self, cell: &CellId) -> u64 {
        let mut owned = u128::from(self.balance(cell).unwrap_or(0));
        for book in &self.books {
            for (_, side, price, owner, quantity) in book.resting() {
                if side == Side::Bid && owner == *cell {
                    owned += u128::from(price) * u128::from(quantity);
                }
            }
        }
        owned += self
            .leases
            .values()
            .filter(|l| l.consumer == *cell)
            .map(|l| u128::from(l.escrow))
            .sum::<u128>();
        owned += self
            .offers
            .values()
            .filter(|o| o.provider == *cell)
            .map(|o| u128::from(o.collateral))
            .sum::<u128>();
        u64::try_from(owned).unwrap_or(u64::MAX)
    }

    /// Units of `token` `cell` owns: free and locked in its resting asks.
    pub fn tokens_owned(&self, cell: &CellId, token: u16) -> u64 {
        let locked: u64 = self.book(token).map_or(0, |book| {
            book.resting()
                .filter(|(_, side, _, owner, _)| *side == Side::Ask && owner == cell)
                .map(|(.., quantity)| quantity)
                .sum()
        });
        self.token_balance(cell, token).saturating_add(locked)
    }

    pub fn last_round(&self) -> Option<u64> {
        self.last_round
    }

    pub fn post(&self, id: &PostId) -> Option<&Post> {
        self.posts.get(id)
    }

    /// Posts on `topic`, in consensus order.
    pub fn posts_by_topic<'a>(&'a self, topic: &str) -> impl Iterator<Item = &'a Post> + 'a {
        self.posts_by_topic
            .get(topic)
            .into_iter()
            .flatten()
            .map(|id| &self.posts[id])
    }

    pub fn post_count(&self) -> usize {
        self.posts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::CellKeys;
    use crate::market::GenesisAccount;
    use proptest::prelude::*;

    fn cell(name: &str) -> CellId {
        CellKeys::from_name(name).cell_id()
    }

    fn transfer(sender: CellId, nonce: u64, fee: u64, to: CellId, amount: u64) -> OrderedItem {
        OrderedItem::Tx(LedgerTx {
            id: [0; 32],
            sender,
            nonce,
            fee,
            kind: LedgerTxKind::Transfer { to, amount },
        })
    }

    fn two_accounts() -> (Ledger, CellId, CellId) {
        let (alice, bob) = (cell("alice"), cell("bob"));
        let ledger = Ledger::genesis(
            LedgerConfig {
                fee_min: 2,
                ..LedgerConfig::default()
            },
            [(alice, 1_000), (bob, 50)],
        )
        .unwrap();
        (ledger, alice, bob)
    }

    #[test]
    fn transfer_moves_amount_and_fee_goes_to_pool() {
        let (mut ledger, alice, bob) = two_accounts();
        let outcome = ledger
            .apply_round(&RoundContext::bare(1), &[transfer(alice, 0, 3, bob, 100)])
            .unwrap();
        assert_eq!(outcome.applied, 1);
        assert!(outcome.rejected.is_empty());
        assert_eq!(ledger.balance(&alice), Some(897));
        assert_eq!(ledger.balance(&bob), Some(150));
        assert_eq!(ledger.fee_pool(), 3);
        assert_eq!(ledger.next_nonce(&alice), 1);
        assert_eq!(ledger.next_nonce(&bob), 0);
    }

    #[test]
    fn rejections_are_typed_and_only_refused_actions_pay_the_fee() {
        let (mut ledger, alice, bob) = two_accounts();
        let carol = cell("carol");
        let before = ledger.canonical_state_bytes();
        let items = [
            transfer(carol, 0, 2, alice, 1),
            transfer(alice, 1_000, 2, bob, 1),
            transfer(alice, 0, 1, bob, 1),
            transfer(bob, 0, 2, alice, 49),
            transfer(alice, 0, 2, bob, u64::MAX),
        ];
        let outcome = ledger.apply_round(&RoundContext::bare(1), &items).unwrap();
        assert_eq!(outcome.applied, 0);
        assert_eq!(
            outcome.rejected,
            vec![
                (0, Rejection::UnknownAccount { sender: carol }),
                (
                    1,
                    Rejection::BadNonce {
                        sender: alice,
                        expected: 0,
                        got: 1_000
                    }
                ),
                (2, Rejection::FeeTooLow { fee: 1, fee_min: 2 }),
                (
                    3,
                    Rejection::InsufficientFunds {
                        needed: 51,
                        available: 50
                    }
                ),
                (4, Rejection::Overflow),
            ]
        );
        // Items 0-2 failed the account checks and changed nothing; 3 and 4
        // passed them, so each paid its fee and used its nonce, and its
        // action changed nothing.
        assert_eq!(ledger.balance(&alice), Some(998));
        assert_eq!(ledger.balance(&bob), Some(48));
        assert_eq!((ledger.next_nonce(&alice), ledger.next_nonce(&bob)), (1, 1));
        assert_eq!(ledger.fee_pool(), 4);
        let charged: Vec<bool> = outcome
            .market
            .refused
            .iter()
            .map(|r| r.fee_charged)
            .collect();
        assert_eq!(charged, [false, false, false, true, true]);
        let mut expected = two_accounts().0;
        let paid_fees = [transfer(bob, 0, 2, bob, 0), transfer(alice, 0, 2, alice, 0)];
        expected
            .apply_round(&RoundContext::bare(1), &paid_fees)
            .unwrap();
        assert_eq!(
            before.len(),
            expected.canonical_state_bytes().len(),
            "no account was opened"
        );
        // Equal but for the count of items ordered (2 there, 5 here).
        assert_eq!(
            ledger.canonical_state_bytes()[16..],
            expected.canonical_state_bytes()[16..]
        );
    }

    #[test]
    fn check_tx_predicts_the_outcome_without_applying() {
        let (mut ledger, alice, bob) = two_accounts();
        let good = LedgerTx {
            id: [0; 32],
            sender: alice,
            nonce: 0,
            fee: 2,
            kind: LedgerTxKind::Transfer {
                to: bob,
                amount: 998,
            },
        };
        let too_much = LedgerTx {
            id: [0; 32],
            kind: LedgerTxKind::Burn { amount: 999 },
            ..good.clone()
        };
        let before = ledger.state_hash();
        assert_eq!(ledger.check_tx(&good), Ok(()));
        assert_eq!(
            ledger.check_tx(&too_much),
            Err(Rejection::InsufficientFunds {
                needed: 1_001,
                available: 1_000
            })
        );
        assert_eq!(ledger.state_hash(), before);
        ledger
            .apply_round(&RoundContext::bare(1), &[OrderedItem::Tx(good.clone())])
            .unwrap();
        assert_eq!(ledger.balance(&alice), Some(0));
        assert_eq!(
            ledger.check_tx(&good),
            Err(Rejection::BadNonce {
                sender: alice,
                expected: 1,
                got: 0
            })
        );
    }

    #[test]
    fn replay_is_rejected_and_nonces_are_sequential() {
        let (mut ledger, alice, bob) = two_accounts();
        let tx = transfer(alice, 0, 2, bob, 10);
        ledger
            .apply_round(&RoundContext::bare(1), std::slice::from_ref(&tx))
            .unwrap();
        let outcome = ledger
            .apply_round(
                &RoundContext::bare(2),
                &[tx, transfer(alice, 1, 2, bob, 10)],
            )
            .unwrap();
        assert_eq!(
            outcome.rejected,
            vec![(
                0,
                Rejection::BadNonce {
                    sender: alice,
                    expected: 1,
                    got: 0
                }
            )]
        );
        assert_eq!(outcome.applied, 1);
        assert_eq!(ledger.balance(&bob), Some(70));
    }

    #[test]
    fn a_transaction_ahead_of_its_nonce_waits_for_the_ones_before_it() {
        let (mut ledger, alice, bob) = two_accounts();
        // Consensus may order a sender's events with equal timestamps
        // either way: nonce 1 before 0 in one round, 3 before 2 across two.
        let outcome = ledger
            .apply_round(
                &RoundContext::bare(1),
                &[
                    transfer(alice, 1, 2, bob, 10),
                    transfer(alice, 0, 2, bob, 10),
                    transfer(alice, 3, 2, bob, 10),
                ],
            )
            .unwrap();
        assert_eq!(outcome.applied, 2);
        assert!(outcome.rejected.is_empty());
        assert_eq!(outcome.held, vec![2]);
        assert_eq!(ledger.next_nonce(&alice), 2);
        let outcome = ledger
            .apply_round(&RoundContext::bare(2), &[transfer(alice, 2, 2, bob, 10)])
            .unwrap();
        assert_eq!(outcome.applied, 1);
        assert_eq!(ledger.next_nonce(&alice), 4);
        assert_eq!(ledger.balance(&bob), Some(50 + 40));
        // Too far ahead, and a second waiting copy of one nonce: refused.
        let far = transfer(alice, 4 + NONCE_AHEAD_MAX + 1, 2, bob, 1);
        let gap = transfer(alice, 6, 2, bob, 1);
        let outcome = ledger
            .apply_round(&RoundContext::bare(3), &[far, gap.clone(), gap])
            .unwrap();
        let reasons: Vec<_> = outcome
            .rejected
            .iter()
            .map(|(i, r)| (*i, r.label()))
            .collect();
        assert_eq!(reasons, [(0, "bad-nonce"), (2, "bad-nonce")]);
        assert_eq!(outcome.held, vec![1]);
        let waiting = ledger.state_hash();
        // Nonce 5 never comes: nonce 6 is refused after HOLD_ROUNDS_MAX.
        for round in 4..3 + HOLD_ROUNDS_MAX {
            let outcome = ledger.apply_round(&RoundContext::bare(round), &[]).unwrap();
            assert!(outcome.market.refused.is_empty(), "round {round}");
        }
        let outcome = ledger
            .apply_round(&RoundContext::bare(3 + HOLD_ROUNDS_MAX), &[])
            .unwrap();
        assert_eq!(outcome.market.refused.len(), 1);
        assert_eq!(outcome.market.refused[0].reason, "nonce-gap");
        assert!(!outcome.market.refused[0].fee_charged);
        assert_ne!(ledger.state_hash(), waiting);
        assert_eq!(ledger.next_nonce(&alice), 4);
    }

    #[test]
    fn receiving_opens_an_account_that_can_then_send() {
        let (mut ledger, alice, _) = two_accounts();
        let dave = cell("dave");
        assert_eq!(ledger.balance(&dave), None);
        ledger
            .apply_round(
                &RoundContext::bare(1),
                &[
                    transfer(alice, 0, 2, dave, 10),
                    transfer(dave, 0, 2, alice, 8),
                ],
            )
            .unwrap();
        assert_eq!(ledger.balance(&dave), Some(0));
        assert_eq!(ledger.balance(&alice), Some(1_000 - 12 + 8));
    }

    #[test]
    fn self_transfer_pays_only_the_fee_and_burn_is_counted() {
        let (mut ledger, alice, _) = two_accounts();
        let burn = OrderedItem::Tx(LedgerTx {
            id: [0; 32],
            sender: alice,
            nonce: 1,
            fee: 2,
            kind: LedgerTxKind::Burn { amount: 100 },
        });
        ledger
            .apply_round(
                &RoundContext::bare(1),
                &[transfer(alice, 0, 2, alice, 500), burn],
            )
            .unwrap();
        assert_eq!(ledger.balance(&alice), Some(1_000 - 2 - 102));
        assert_eq!(ledger.burned(), 100);
        assert_eq!(ledger.fee_pool(), 4);
    }

    #[test]
    fn rounds_must_increase_and_genesis_is_checked() {
        let (mut ledger, _, _) = two_accounts();
        ledger.apply_round(&RoundContext::bare(5), &[]).unwrap();
        assert_eq!(
            ledger.apply_round(&RoundContext::bare(5), &[]),
            Err(LedgerError::RoundNotIncreasing { last: 5, got: 5 })
        );
        let alice = cell("alice");
        assert_eq!(
            Ledger::genesis(LedgerConfig::default(), [(alice, u64::MAX), (cell("b"), 1)])
                .unwrap_err(),
            LedgerError::GenesisOverflow
        );
        assert_eq!(
            Ledger::genesis(LedgerConfig::default(), [(alice, 1), (alice, 1)]).unwrap_err(),
            LedgerError::GenesisDuplicate { cell: alice }
        );
    }

    #[test]
    fn posts_are_found_by_topic_and_id_and_enter_the_state_hash() {
        let (mut ledger, alice, bob) = two_accounts();
        let post = |author, topic: &str, content: &[u8]| {
            OrderedItem::Post(PostTx {
                author,
                topic: topic.to_string(),
                content: content.to_vec(),
            })
        };
        let hash_before = ledger.state_hash();
        let outcome = ledger
            .apply_round(
                &RoundContext::bare(1),
                &[
                    post(alice, "weather", b"rain"),
                    transfer(alice, 0, 2, bob, 1),
                    post(bob, "weather", b"sun"),
                    post(bob, "news", b"none"),
                    post(bob, &"t".repeat(POST_TOPIC_BYTES_MAX + 1), b""),
                ],
            )
            .unwrap();
        assert_ne!(outcome.state_hash, hash_before);
        assert_eq!(outcome.posts.len(), 3);
        assert_eq!(
            outcome.rejected,
            vec![(
                4,
                Rejection::TopicTooLong {
                    bytes: POST_TOPIC_BYTES_MAX + 1,
                    limit: POST_TOPIC_BYTES_MAX
                }
            )]
        );
        let weather: Vec<&[u8]> = ledger
            .posts_by_topic("weather")
            .map(|p| p.content.as_slice())
            .collect();
        assert_eq!(weather, vec![b"rain".as_slice(), b"sun".as_slice()]);
        let third = ledger.post(&outcome.posts[2]).unwrap();
        assert_eq!(third.topic, "news");
        assert_eq!(
            third.position,
            ConsensusPosition {
                round: 1,
                order_index: 3
            }
        );
        assert_eq!(ledger.posts_by_topic("absent").count(), 0);

        // The same content in another position is a different post.
        let mut other = two_accounts().0;
        let outcome_other = other
            .apply_round(&RoundContext::bare(1), &[post(bob, "weather", b"sun")])
            .unwrap();
        assert_ne!(outcome_other.posts[0], outcome.posts[1]);
    }

    #[test]
    fn state_hash_pinned_for_a_fixed_history() {
        // Guards the canonical encoding against silent change.
        let (mut ledger, alice, bob) = two_accounts();
        ledger
            .apply_round(&RoundContext::bare(1), &[transfer(alice, 0, 2, bob, 7)])
            .unwrap();
        insta::assert_snapshot!(crate::identity::hex(&ledger.state_hash()), @"d5f5cd7bc2761f9ddd12f7f521b0ade79cc5da379ac57a87016c67c986cff679");
    }

    #[test]
    fn equal_states_hash_equal_whatever_the_account_creation_order() {
        let (alice, bob, carol) = (cell("alice"), cell("bob"), cell("carol"));
        let mut forward =
            Ledger::genesis(LedgerConfig::default(), [(alice, 10), (bob, 10)]).unwrap();
        let mut backward =
            Ledger::genesis(LedgerConfig::default(), [(bob, 10), (alice, 10)]).unwrap();
        assert_eq!(forward.state_hash(), backward.state_hash());
        // carol's account opens in the middle of the index in one, at the end
        // of the creation order in both.
        let round = [
            transfer(alice, 0, 1, carol, 3),
            transfer(bob, 0, 1, alice, 2),
        ];
        let a = forward.apply_round(&RoundContext::bare(1), &round).unwrap();
        let b = backward
            .apply_round(&RoundContext::bare(1), &round)
            .unwrap();
        assert_eq!(a.state_hash, b.state_hash);
        let listed: Vec<(CellId, u64)> = forward.balances().collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert_eq!(forward.account_count(), 3);
    }

    // ---- markets ----

    use crate::book::Side;
    use crate::market::{LeaseEventKind, LeaseMarket, MarketConfig, storage_block};

    struct Market {
        ledger: Ledger,
        keys: Vec<CellKeys>,
        nonces: Vec<u64>,
        round: u64,
    }

    impl Market {
        /// Four accounts with 10,000 PRANA and 1,000 units of one token.
        fn new(config: MarketConfig) -> Market {
            let keys: Vec<CellKeys> = (0..4)
                .map(|i| CellKeys::from_name(&format!("m{i}")))
                .collect();
            let ledger = Ledger::genesis_accounts(
                LedgerConfig {
                    fee_min: 1,
                    market: config,
                },
                keys.iter().map(|k| GenesisAccount {
                    cell: k.cell_id(),
                    prana: 10_000,
                    tokens: vec![1_000],
                }),
            )
            .unwrap();
            Market {
                ledger,
                keys,
                nonces: vec![0; 4],
                round: 0,
            }
        }

        fn id(&self, who: usize) -> CellId {
            self.keys[who].cell_id()
        }

        fn tx(&mut self, who: usize, kind: LedgerTxKind) -> OrderedItem {
            let nonce = self.nonces[who];
            self.nonces[who] += 1;
            OrderedItem::Tx(LedgerTx {
                id: [0; 32],
                sender: self.id(who),
                nonce,
                fee: 1,
                kind,
            })
        }

        fn order(
            &mut self,
            who: usize,
            side: Side,
            price: Option<u64>,
            quantity: u64,
        ) -> OrderedItem {
            self.tx(
                who,
                LedgerTxKind::Order {
                    token: 0,
                    side,
                    price,
                    quantity,
                },
            )
        }

        fn round_at(&mut self, time_ns: u64, items: &[OrderedItem]) -> RoundOutcome {
            self.round += 1;
            let context = RoundContext {
                round: self.round,
                consensus_time_ns: time_ns,
                randomness: [self.round as u8; 32],
                fee_payees: Vec::new(),
            };
            let outcome = self.ledger.apply_round(&context, items).unwrap();
            assert_eq!(outcome.violations, vec![], "round {}", self.round);
            // A rejected item burns no nonce.
            for who in 0..self.keys.len() {
                self.nonces[who] = self.ledger.next_nonce(&self.id(who));
            }
            outcome
        }
    }

    fn seconds(n: u64) -> u64 {
        n * 1_000_000_000
    }

    fn market_config() -> MarketConfig {
        MarketConfig {
            tokens: vec!["data-credit".into()],
            ..MarketConfig::default()
        }
    }

    #[test]
    fn orders_lock_escrow_trade_at_the_makers_price_and_cancel_returns_the_lock() {
        let mut m = Market::new(market_config());
        let (a, b) = (m.id(0), m.id(1));
        let ask = m.order(1, Side::Ask, Some(10), 50);
        let bid = m.order(0, Side::Bid, Some(12), 80);
        let outcome = m.round_at(0, &[ask, bid]);
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        // 50 traded at the maker's 10; 30 rest at 12, locking 360.
        assert_eq!(outcome.market.trades.len(), 1);
        assert_eq!(outcome.market.trades[0].fill.price, 10);
        assert_eq!(m.ledger.balance(&a), Some(10_000 - 500 - 360 - 1));
        assert_eq!(m.ledger.token_balance(&a, 0), 1_050);
        assert_eq!(m.ledger.balance(&b), Some(10_000 + 500 - 1));
        assert_eq!(m.ledger.token_balance(&b, 0), 950);
        assert_eq!(m.ledger.book(0).unwrap().best_bid(), Some(12));
        assert_eq!(m.ledger.prana_owned(&a), 10_000 - 500 - 1);
        assert_eq!(m.ledger.last_trade_price(0), Some(10));
        let order = outcome.market.orders[1];
        assert_eq!((order.filled, order.resting, order.cancelled), (50, 30, 0));
        // The bid's owner cancels: the 360 come back; another may not.
        let theft = m.tx(
            1,
            LedgerTxKind::Cancel {
                token: 0,
                order: order.id,
            },
        );
        let cancel = m.tx(
            0,
            LedgerTxKind::Cancel {
                token: 0,
                order: order.id,
            },
        );
        let outcome = m.round_at(0, &[theft, cancel]);
        assert_eq!(outcome.rejected[0].1.label(), "not-owner");
        assert_eq!(m.ledger.balance(&a), Some(10_000 - 500 - 2));
        assert_eq!(m.ledger.book(0).unwrap().best_bid(), None);
    }

    #[test]
    fn market_orders_are_checked_against_the_book_and_never_rest() {
        let mut m = Market::new(market_config());
        let asks = [
            m.order(1, Side::Ask, Some(5), 10),
            m.order(2, Side::Ask, Some(7), 10),
        ];
        m.round_at(0, &asks);
        // 15 at market: 10 × 5 + 5 × 7 = 85.
        let buy = m.order(0, Side::Bid, None, 15);
        let outcome = m.round_at(0, &[buy]);
        assert!(outcome.rejected.is_empty());
        assert_eq!(m.ledger.balance(&m.id(0)), Some(10_000 - 85 - 1));
        // More than the book holds: what it has fills, the rest is dropped.
        let buy = m.order(0, Side::Bid, None, 100);
        let outcome = m.round_at(0, &[buy]);
        let order = outcome.market.orders[0];
        assert_eq!((order.filled, order.resting, order.cancelled), (5, 0, 95));
        // A seller without the units is refused, whole.
        let short = m.order(3, Side::Ask, None, 5_000);
        let outcome = m.round_at(0, &[short]);
        assert_eq!(outcome.rejected[0].1.label(), "insufficient-tokens");
        // A buyer who cannot pay the market is refused before matching.
        let asks = [m.order(1, Side::Ask, Some(1_000), 20)];
        m.round_at(0, &asks);
        let rich_ask = m.order(3, Side::Bid, None, 20);
        let outcome = m.round_at(0, &[rich_ask]);
        assert_eq!(outcome.rejected[0].1.label(), "insufficient-funds");
        assert_eq!(m.ledger.book(0).unwrap().depth(Side::Ask), 20);
    }

    #[test]
    fn fee_pool_is_paid_to_the_rounds_payees_and_keeps_the_remainder() {
        let mut m = Market::new(market_config());
        let items: Vec<_> = (0..3)
            .map(|who| m.order(who, Side::Ask, Some(9), 1))
            .collect();
        m.round += 1;
        let context = RoundContext {
            round: m.round,
            consensus_time_ns: 0,
            randomness: [0; 32],
            fee_payees: vec![m.id(3), m.id(0)],
        };
        let outcome = m.ledger.apply_round(&context, &items).unwrap();
        assert_eq!(outcome.market.fee_payout, 2);
        assert_eq!(m.ledger.fee_pool(), 1);
        assert_eq!(m.ledger.balance(&m.id(3)), Some(10_001));
        assert!(outcome.violations.is_empty());
    }

    #[test]
    fn a_compute_lease_pays_each_interval_once_and_settles() {
        let mut m = Market::new(market_config());
        let key = *m.keys[1].public();
        let offer = m.tx(
            1,
            LedgerTxKind::Offer {
                market: LeaseMarket::Compute,
                capacity: 10,
                price: 3,
                collateral: 1_000,
                provider_key: key,
            },
        );
        m.round_at(0, &[offer]);
        let lease = m.tx(
            0,
            LedgerTxKind::Lease {
                offer: 0,
                amount: 4,
                intervals: 3,
                data_seed: [0; 32],
            },
        );
        // Asking for more than is free is refused.
        let greedy = m.tx(
            2,
            LedgerTxKind::Lease {
                offer: 0,
                amount: 7,
                intervals: 1,
                data_seed: [0; 32],
            },
        );
        let outcome = m.round_at(seconds(10), &[lease, greedy]);
        assert_eq!(outcome.rejected[0].1.label(), "capacity-exceeded");
        assert_eq!(m.ledger.balance(&m.id(0)), Some(10_000 - 36 - 1));
        // 2.5 intervals later: two paid; much later: the third, then settled.
        let outcome = m.round_at(seconds(12) + seconds(1) / 2, &[]);
        let paid: Vec<_> = outcome
            .market
            .leases
            .iter()
            .map(|e| e.kind.label())
            .collect();
        assert_eq!(paid, ["paid", "paid"]);
        let outcome = m.round_at(seconds(100), &[]);
        let paid: Vec<_> = outcome
            .market
            .leases
            .iter()
            .map(|e| e.kind.label())
            .collect();
        assert_eq!(paid, ["paid", "settled"]);
        assert_eq!(m.ledger.balance(&m.id(1)), Some(10_000 - 1_000 - 1 + 36));
        assert_eq!(m.ledger.offer(0).unwrap().leased, 0);
        m.round_at(seconds(200), &[]);
        assert_eq!(m.ledger.balance(&m.id(1)), Some(10_000 - 1_000 - 1 + 36));
    }

    fn compute_lease(m: &mut Market) {
        let key = *m.keys[1].public();
        let offer = m.tx(
            1,
            LedgerTxKind::Offer {
                market: LeaseMarket::Compute,
                capacity: 10,
                price: 1,
                collateral: 2_000,
                provider_key: key,
            },
        );
        let lease = m.tx(
            0,
            LedgerTxKind::Lease {
                offer: 0,
                amount: 10,
                intervals: 100,
                data_seed: [0; 32],
            },
        );
        m.round_at(0, &[offer, lease]);
    }

    fn signed_result(keys: CellKeys, to: CellId, task: &ExecTask, output: Vec<u8>) -> Vec<u8> {
        crate::cell::client::Client::new(keys)
            .sign(
                0,
                to,
                crate::message::Body::Exec(crate::message::Exec::Result {
                    task_id: 9,
                    task_digest: task.digest(),
                    output,
                    charged: 0,
                }),
            )
            .unwrap()
            .encode()
    }

    #[test]
    fn a_fraud_proof_slashes_the_provider_and_a_false_one_is_refused() {
        let mut m = Market::new(market_config());
        compute_lease(&mut m);
        let task = ExecTask::Sum {
            values: vec![1, 2, 3],
        };
        let consumer = m.id(0);
        // A correct result is no proof; neither is a wrong one signed by
        // someone else.
        let honest = signed_result(CellKeys::from_name("m1"), consumer, &task, task.run());
        let forged = signed_result(CellKeys::from_name("m2"), consumer, &task, vec![0; 16]);
        let wrong = signed_result(CellKeys::from_name("m1"), consumer, &task, vec![0; 16]);
        let mut reasons = Vec::new();
        let mut outcome = None;
        for result in [honest, forged, wrong.clone(), wrong] {
            let item = m.tx(
                0,
                LedgerTxKind::FraudProof {
                    lease: 0,
                    task: task.clone(),
                    result,
                },
            );
            let round = m.round_at(seconds(1) / 2, &[item]);
            reasons.push(round.rejected.first().map(|(_, r)| r.label()));
            if reasons.len() == 3 {
                outcome = Some(round);
            }
        }
        assert_eq!(
            reasons,
            [
                Some("invalid-fraud-proof"),
                Some("invalid-fraud-proof"),
                None,
                Some("already-slashed")
            ]
        );
        let outcome = outcome.unwrap();
        let kinds: Vec<_> = outcome.market.leases.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                LeaseEventKind::Slashed {
                    reason: "fraud-proof"
                },
                LeaseEventKind::Ended
            ]
        );
        // Collateral 2,000 and the unpaid escrow 1,000 come back to the
        // consumer, who paid the lease's fee and one per proof, refused or not.
        assert_eq!(
            m.ledger.balance(&consumer),
            Some(10_000 - 1_000 - 5 + 2_000 + 1_000)
        );
        assert!(!m.ledger.offer(0).unwrap().open);
    }

    fn storage_lease(m: &mut Market, blocks: u64) -> [u8; 32] {
        let key = *m.keys[1].public();
        let offer = m.tx(
            1,
            LedgerTxKind::Offer {
                market: LeaseMarket::Storage,
                capacity: 64,
                price: 2,
                collateral: 500,
                provider_key: key,
            },
        );
        let seed = [42; 32];
        let lease = m.tx(
            0,
            LedgerTxKind::Lease {
                offer: 0,
                amount: blocks,
                intervals: 2,
                data_seed: seed,
            },
        );
        let outcome = m.round_at(0, &[offer, lease]);
        assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
        seed
    }

    fn storage_proof(seed: &[u8; 32], blocks: u64, index: u64, block_bytes: u32) -> Vec<u8> {
        let mut journal = crate::journal::JournalWriter::open(
            std::sync::Arc::new(CellKeys::from_name("m1")),
            crate::market::storage_journal_tag(0),
            crate::journal::MemoryStorage::new(),
        )
        .unwrap();
        let data: Vec<Vec<u8>> = (0..blocks)
            .map(|i| storage_block(seed, i, block_bytes))
            .collect();
        journal.append_batch(&data).unwrap();
        journal
            .range_proof(index, index + 1, blocks)
            .unwrap()
            .to_bytes()
    }

    #[test]
    fn storage_pays_only_answered_challenges_and_slashes_a_missed_one() {
        let mut m = Market::new(MarketConfig {
            challenge_window_ns: seconds(3),
            ..market_config()
        });
        let seed = storage_lease(&mut m, 8);
        let block_bytes = m.ledger.config().market.storage_block_bytes;
        let outcome = m.round_at(seconds(1), &[]);
        let challenge = outcome.market.challenges[0];
        assert_eq!((challenge.lease, challenge.seq), (0, 0));
        // A proof of the wrong block, then the right one.
        let wrong_index = (challenge.index + 1) % 8;
        let proof = storage_proof(&seed, 8, wrong_index, block_bytes);
        let item = m.tx(
            1,
            LedgerTxKind::StorageProof {
                lease: 0,
                challenge: 0,
                proof,
            },
        );
        let outcome = m.round_at(seconds(1) + seconds(1) / 2, &[item]);
        assert_eq!(outcome.rejected[0].1.label(), "invalid-storage-proof");
        let proof = storage_proof(&seed, 8, challenge.index, block_bytes);
        let item = m.tx(
            1,
            LedgerTxKind::StorageProof {
                lease: 0,
                challenge: 0,
                proof,
            },
        );
        let outcome = m.round_at(seconds(2), &[item]);
        assert_eq!(outcome.market.leases[0].kind, LeaseEventKind::Paid);
        assert_eq!(outcome.market.leases[0].amount, 16);
        // The next challenge comes at once (two intervals have passed) and
        // goes unanswered past its 3 s window: slashed.
        assert_eq!(outcome.market.challenges.len(), 1);
        let outcome = m.round_at(seconds(5), &[]);
        assert!(outcome.market.leases.is_empty());
        let outcome = m.round_at(seconds(5) + 1, &[]);
        let kinds: Vec<_> = outcome
            .market
            .leases
            .iter()
            .map(|e| e.kind.label())
            .collect();
        assert_eq!(kinds, ["slashed", "ended"]);
        assert_eq!(outcome.market.leases[0].amount, 500);
        assert_eq!(outcome.market.leases[1].amount, 16);
    }

    #[test]
    fn the_planted_minting_bug_makes_the_conservation_check_fire() {
        let mut m = Market::new(MarketConfig {
            mutation_mint_on_fill: true,
            ..market_config()
        });
        let items = [
            m.order(1, Side::Ask, Some(10), 5),
            m.order(0, Side::Bid, Some(10), 5),
        ];
        m.round += 1;
        let outcome = m
            .ledger
            .apply_round(&RoundContext::bare(m.round), &items)
            .unwrap();
        assert_eq!(outcome.violations.len(), 1, "{:?}", outcome.violations);
        assert_eq!(outcome.violations[0].invariant, "token-conservation");
        assert!(
            outcome.violations[0]
                .detail
                .contains("balances 4001 + locked in asks 0 != genesis 4000"),
            "{}",
            outcome.violations[0].detail
        );
    }

    fn arbitrary_market_item() -> impl Strategy<Value = (usize, u8, bool, u64, u64)> {
        // (account, action, side, price, quantity)
        (0..4usize, 0u8..8, any::<bool>(), 1u64..20, 1u64..60)
    }

    proptest! {
        #[test]
        fn random_market_streams_keep_every_invariant(
            rounds in proptest::collection::vec(proptest::collection::vec(arbitrary_market_item(), 0..10), 1..8)
        ) {
            let mut m = Market::new(market_config());
            let mut time = 0;
            for round in rounds {
                let mut items = Vec::new();
                for (who, action, bid, price, quantity) in round {
                    let side = if bid { Side::Bid } else { Side::Ask };
                    let kind = match action {
                        0 | 1 => LedgerTxKind::Order { token: 0, side, price: Some(price), quantity },
                        2 => LedgerTxKind::Order { token: 0, side, price: None, quantity },
                        3 => LedgerTxKind::Cancel { token: 0, order: quantity % 8 },
                        4 => LedgerTxKind::Offer {
                            market: if bid { LeaseMarket::Compute } else { LeaseMarket::Storage },
                            capacity: quantity,
                            price,
                            collateral: price * 10,
                            provider_key: *m.keys[who].public(),
                        },
                        5 => LedgerTxKind::Lease { offer: price % 4, amount: quantity % 16 + 1, intervals: (price % 3) as u32 + 1, data_seed: [1; 32] },
                        6 => LedgerTxKind::EndLease { lease: price % 4 },
                        _ => LedgerTxKind::WithdrawOffer { offer: price % 4 },
                    };
                    items.push(m.tx(who, kind));
                }
                time += seconds(1) * 7 / 10;
                m.round += 1;
                let context = RoundContext { round: m.round, consensus_time_ns: time, randomness: [3; 32], fee_payees: vec![m.id(0)] };
                let before = m.ledger.clone();
                let outcome = m.ledger.apply_round(&context, &items).unwrap();
                prop_assert_eq!(&outcome.violations, &vec![]);
                // Every rejected item changed nothing it owned: replaying
                // the same round on the state before gives the same outcome.
                let mut again = before;
                prop_assert_eq!(again.apply_round(&context, &items).unwrap(), outcome);
                // Rejections burn no nonce: resync the test's nonces.
                for who in 0..4 {
                    m.nonces[who] = m.ledger.next_nonce(&m.id(who));
                }
            }
        }
    }

    fn arbitrary_round(cells: usize) -> impl Strategy<Value = Vec<(usize, u64, u64, usize, u64)>> {
        proptest::collection::vec((0..cells, 0u64..4, 0u64..5, 0..cells, 0u64..400), 0..12)
    }

    proptest! {
        #[test]
        fn conservation_and_hash_determinism_hold_for_any_history(
            rounds in proptest::collection::vec(arbitrary_round(4), 1..6)
        ) {
            let cells: Vec<CellId> = (0..4).map(|i| cell(&format!("p{i}"))).collect();
            let genesis: Vec<(CellId, u64)> =
                cells.iter().take(3).map(|&c| (c, 500)).collect();
            let mut first = Ledger::genesis(LedgerConfig::default(), genesis.clone()).unwrap();
            let mut second = Ledger::genesis(LedgerConfig::default(), genesis).unwrap();
            for (round_index, round) in rounds.iter().enumerate() {
                let items: Vec<OrderedItem> = round
                    .iter()
                    .map(|&(from, nonce, fee, to, amount)| {
                        transfer(cells[from], nonce, fee, cells[to], amount)
                    })
                    .collect();
                let round_number = round_index as u64 + 1;
                let a = first.apply_round(&RoundContext::bare(round_number), &items).unwrap();
                let b = second.apply_round(&RoundContext::bare(round_number), &items).unwrap();
                prop_assert_eq!(&a, &b);
                let total: u64 = first.balances().map(|(_, b)| b).sum::<u64>() + first.fee_pool();
                prop_assert_eq!(total, 1_500);
            }
        }
    }
}
