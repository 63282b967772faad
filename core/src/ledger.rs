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
//! - **Nonces**: each sender's transactions carry `0, 1, 2, …`; anything else
//!   is rejected (replays and gaps alike). A rejected transaction does not
//!   consume its nonce.
//! - **Fees**: at least `fee_min`, paid by the sender on top of the amount,
//!   and credited to the **fee pool**, a balance owned by no account. The pool
//!   is where a later reward rule (paying the round's creators) takes from;
//!   until one exists it only grows. A [`LedgerTxKind::Burn`] destroys PRANA
//!   into `burned`, which never decreases.
//! - **Conservation** (asserted after every round, in release builds too):
//!   Σ balances + fee pool + burned == genesis total.
//! - **State hash**: blake3 (derived key, domain-separated) over a canonical
//!   encoding of the whole state — round, accounts (id, balance, next nonce)
//!   ascending by id, fee pool, burned,
//!   genesis total, and the POST dataset's running digest. Equal states give
//!   equal hashes on every machine; it is recomputed after every round.
//!
//! The POST dataset is append-only in consensus order, so it enters the state
//! hash as a chained digest `d' = H(d ‖ post)`, which is equal for equal
//! datasets without rehashing every post each round.

use std::collections::{BTreeMap, HashMap}; // tidy: lookup-only (the account index)
use std::hash::{BuildHasherDefault, Hasher};

use crate::codec::Writer;
use crate::identity::CellId;

/// Domain separation for the state hash.
const STATE_HASH_CONTEXT: &str = "celluler 2026-11 ledger state hash";
/// Domain separation for the POST dataset's chained digest and post ids.
const POST_CHAIN_CONTEXT: &str = "celluler 2026-11 post chain";
const POST_ID_CONTEXT: &str = "celluler 2026-11 post id";

/// Longest POST topic, in bytes.
pub const POST_TOPIC_BYTES_MAX: usize = 256;
/// Longest POST content, in bytes.
pub const POST_CONTENT_BYTES_MAX: usize = 64 * 1024;
/// Most items a single consensus round may carry.
pub const ROUND_ITEMS_MAX: usize = 1 << 20;

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

/// One account: its balance and the nonce its next transaction must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Account {
    balance: u64,
    next_nonce: u64,
}

/// Ledger parameters fixed at genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerConfig {
    /// The smallest fee a transaction may pay, in PRANA units.
    pub fee_min: u64,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig { fee_min: 1 }
    }
}

/// A PRANA transaction, as the ledger sees it (the wire TX body maps to this).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerTx {
    pub sender: CellId,
    /// Must equal the sender's next nonce (0 for its first transaction).
    pub nonce: u64,
    pub fee: u64,
    pub kind: LedgerTxKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerTxKind {
    /// Move `amount` from the sender to `to` (which need not exist yet).
    Transfer { to: CellId, amount: u64 },
    /// Destroy `amount` of the sender's PRANA (e.g. the charge for an EXEC).
    Burn { amount: u64 },
}

/// A POST entering the global dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostTx {
    pub author: CellId,
    pub topic: String,
    pub content: Vec<u8>,
}

/// One consensus-ordered item of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderedItem {
    Tx(LedgerTx),
    Post(PostTx),
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
    #[error("amount plus fee or a balance would overflow u64")]
    Overflow,
    #[error("POST topic is {bytes} bytes, the limit is {limit}")]
    TopicTooLong { bytes: usize, limit: usize },
    #[error("POST content is {bytes} bytes, the limit is {limit}")]
    ContentTooLong { bytes: usize, limit: usize },
}

/// Errors of the ledger's own API (not of ordered items).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("the genesis allocation sums past u64::MAX")]
    GenesisOverflow,
    #[error("the genesis allocation lists {cell:?} twice")]
    GenesisDuplicate { cell: CellId },
    #[error("round {got} applied after round {last}: rounds must increase")]
    RoundNotIncreasing { last: u64, got: u64 },
    #[error("a round carries {count} items, the limit is {limit}")]
    RoundTooLarge { count: usize, limit: usize },
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
    pub state_hash: [u8; 32],
}

/// The PRANA ledger and POST dataset. See the module docs for the rules.
#[derive(Debug, Clone)]
pub struct Ledger {
    config: LedgerConfig,
    genesis_total: u64,
    /// Accounts in creation order; `index` finds them by id (lookups only),
    /// `order` iterates them by ascending id (for hashing and listing).
    accounts: Vec<Account>,
    index: HashMap<CellId, u32, BuildHasherDefault<CellIdHasher>>, // tidy: lookup-only
    order: BTreeMap<CellId, u32>,
    fee_pool: u64,
    burned: u64,
    /// Last round applied; `None` before the first.
    last_round: Option<u64>,
    /// Items ever ordered (applied or rejected): the next `order_index`.
    ordered_items: u64,
    posts: BTreeMap<PostId, Post>,
    /// Post ids per topic, in consensus order.
    posts_by_topic: BTreeMap<String, Vec<PostId>>,
    post_chain: [u8; 32],
    state_hash: [u8; 32],
}

impl Ledger {
    /// A ledger holding `allocation` at genesis. Every listed cell gets an
    /// account, even with a zero balance.
    pub fn genesis(
        config: LedgerConfig,
        allocation: impl IntoIterator<Item = (CellId, u64)>,
    ) -> Result<Ledger, LedgerError> {
        let mut ledger = Ledger {
            config,
            genesis_total: 0,
            accounts: Vec::new(),
            index: HashMap::default(), // tidy: lookup-only
            order: BTreeMap::new(),
            fee_pool: 0,
            burned: 0,
            last_round: None,
            ordered_items: 0,
            posts: BTreeMap::new(),
            posts_by_topic: BTreeMap::new(),
            post_chain: [0; 32],
            state_hash: [0; 32],
        };
        for (cell, balance) in allocation {
            if ledger.index.contains_key(&cell) {
                return Err(LedgerError::GenesisDuplicate { cell });
            }
            ledger.genesis_total = ledger
                .genesis_total
                .checked_add(balance)
                .ok_or(LedgerError::GenesisOverflow)?;
            let slot = ledger.open_account(cell);
            ledger.accounts[slot].balance = balance;
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

    /// Apply one consensus round's items in order, then assert conservation
    /// and recompute the state hash. Rounds must strictly increase (a round
    /// with no items may be skipped or applied, both are fine).
    pub fn apply_round(
        &mut self,
        round: u64,
        items: &[OrderedItem],
    ) -> Result<RoundOutcome, LedgerError> {
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
        let mut outcome = RoundOutcome {
            round,
            applied: 0,
            rejected: Vec::new(),
            posts: Vec::new(),
            state_hash: [0; 32],
        };
        for (index, item) in items.iter().enumerate() {
            let position = ConsensusPosition {
                round,
                order_index: self.ordered_items,
            };
            self.ordered_items += 1;
            let result = match item {
                OrderedItem::Tx(tx) => self.apply_tx(tx),
                OrderedItem::Post(post) => self.apply_post(post, position).map(|id| {
                    outcome.posts.push(id);
                }),
            };
            match result {
                Ok(()) => outcome.applied += 1,
                Err(rejection) => outcome.rejected.push((index, rejection)),
            }
        }
        self.last_round = Some(round);
        self.assert_conserved();
        self.state_hash = self.compute_state_hash();
        outcome.state_hash = self.state_hash;
        Ok(outcome)
    }

    /// Check a transaction against the current state without applying it
    /// (for a mempool's admission check; consensus order still decides).
    pub fn check_tx(&self, tx: &LedgerTx) -> Result<(), Rejection> {
        self.debit_plan(tx).map(|_| ())
    }

    /// The sender's balance after the debit, or why the debit is impossible.
    fn debit_plan(&self, tx: &LedgerTx) -> Result<u64, Rejection> {
        let account = self
            .account(&tx.sender)
            .ok_or(Rejection::UnknownAccount { sender: tx.sender })?;
        let available = account.balance;
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
        let amount = match tx.kind {
            LedgerTxKind::Transfer { amount, .. } | LedgerTxKind::Burn { amount } => amount,
        };
        let needed = amount.checked_add(tx.fee).ok_or(Rejection::Overflow)?;
        if needed > available {
            return Err(Rejection::InsufficientFunds { needed, available });
        }
        Ok(available - needed)
    }

    fn apply_tx(&mut self, tx: &LedgerTx) -> Result<(), Rejection> {
        let sender_after = self.debit_plan(tx)?;
        // Check every credit before writing anything: all or nothing.
        let fee_pool_after = self
            .fee_pool
            .checked_add(tx.fee)
            .ok_or(Rejection::Overflow)?;
        match tx.kind {
            LedgerTxKind::Transfer { to, amount } => {
                let recipient_after = if to == tx.sender {
                    sender_after
                        .checked_add(amount)
                        .ok_or(Rejection::Overflow)?
                } else {
                    self.balance(&to)
                        .unwrap_or(0)
                        .checked_add(amount)
                        .ok_or(Rejection::Overflow)?
                };
                let sender = self.open_account(tx.sender);
                self.accounts[sender].balance = sender_after;
                let recipient = self.open_account(to);
                self.accounts[recipient].balance = recipient_after;
            }
            LedgerTxKind::Burn { amount } => {
                let burned_after = self.burned.checked_add(amount).ok_or(Rejection::Overflow)?;
                let sender = self.open_account(tx.sender);
                self.accounts[sender].balance = sender_after;
                self.burned = burned_after;
            }
        }
        self.fee_pool = fee_pool_after;
        let sender = self.open_account(tx.sender);
        self.accounts[sender].next_nonce = tx.nonce + 1;
        Ok(())
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

    /// Σ balances + fee pool + burned == genesis total. Kept in release.
    fn assert_conserved(&self) {
        let balances: u128 = self.accounts.iter().map(|a| u128::from(a.balance)).sum();
        let total = balances + u128::from(self.fee_pool) + u128::from(self.burned);
        assert_eq!(
            total,
            u128::from(self.genesis_total),
            "PRANA conservation violated: balances {balances} + fee pool {} + burned {} != genesis {}",
            self.fee_pool,
            self.burned,
            self.genesis_total
        );
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
        writer.u64(self.accounts.len() as u64);
        for (cell, &slot) in &self.order {
            let account = &self.accounts[slot as usize];
            writer
                .fixed(cell.as_bytes())
                .u64(account.balance)
                .u64(account.next_nonce);
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

    pub fn config(&self) -> LedgerConfig {
        self.config
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
    use proptest::prelude::*;

    fn cell(name: &str) -> CellId {
        CellKeys::from_name(name).cell_id()
    }

    fn transfer(sender: CellId, nonce: u64, fee: u64, to: CellId, amount: u64) -> OrderedItem {
        OrderedItem::Tx(LedgerTx {
            sender,
            nonce,
            fee,
            kind: LedgerTxKind::Transfer { to, amount },
        })
    }

    fn two_accounts() -> (Ledger, CellId, CellId) {
        let (alice, bob) = (cell("alice"), cell("bob"));
        let ledger =
            Ledger::genesis(LedgerConfig { fee_min: 2 }, [(alice, 1_000), (bob, 50)]).unwrap();
        (ledger, alice, bob)
    }

    #[test]
    fn transfer_moves_amount_and_fee_goes_to_pool() {
        let (mut ledger, alice, bob) = two_accounts();
        let outcome = ledger
            .apply_round(1, &[transfer(alice, 0, 3, bob, 100)])
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
    fn rejections_are_typed_and_change_nothing() {
        let (mut ledger, alice, bob) = two_accounts();
        let carol = cell("carol");
        let before = ledger.canonical_state_bytes();
        let items = [
            transfer(carol, 0, 2, alice, 1),
            transfer(alice, 1, 2, bob, 1),
            transfer(alice, 0, 1, bob, 1),
            transfer(bob, 0, 2, alice, 49),
            transfer(alice, 0, 2, bob, u64::MAX),
        ];
        let outcome = ledger.apply_round(1, &items).unwrap();
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
                        got: 1
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
        // Only the round counters moved.
        let after = ledger.canonical_state_bytes();
        assert_eq!(before[16..], after[16..]);
    }

    #[test]
    fn check_tx_predicts_the_outcome_without_applying() {
        let (mut ledger, alice, bob) = two_accounts();
        let good = LedgerTx {
            sender: alice,
            nonce: 0,
            fee: 2,
            kind: LedgerTxKind::Transfer {
                to: bob,
                amount: 998,
            },
        };
        let too_much = LedgerTx {
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
            .apply_round(1, &[OrderedItem::Tx(good.clone())])
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
        ledger.apply_round(1, std::slice::from_ref(&tx)).unwrap();
        let outcome = ledger
            .apply_round(2, &[tx, transfer(alice, 1, 2, bob, 10)])
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
    fn receiving_opens_an_account_that_can_then_send() {
        let (mut ledger, alice, _) = two_accounts();
        let dave = cell("dave");
        assert_eq!(ledger.balance(&dave), None);
        ledger
            .apply_round(
                1,
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
            sender: alice,
            nonce: 1,
            fee: 2,
            kind: LedgerTxKind::Burn { amount: 100 },
        });
        ledger
            .apply_round(1, &[transfer(alice, 0, 2, alice, 500), burn])
            .unwrap();
        assert_eq!(ledger.balance(&alice), Some(1_000 - 2 - 102));
        assert_eq!(ledger.burned(), 100);
        assert_eq!(ledger.fee_pool(), 4);
    }

    #[test]
    fn rounds_must_increase_and_genesis_is_checked() {
        let (mut ledger, _, _) = two_accounts();
        ledger.apply_round(5, &[]).unwrap();
        assert_eq!(
            ledger.apply_round(5, &[]),
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
                1,
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
            .apply_round(1, &[post(bob, "weather", b"sun")])
            .unwrap();
        assert_ne!(outcome_other.posts[0], outcome.posts[1]);
    }

    #[test]
    fn state_hash_pinned_for_a_fixed_history() {
        // Guards the canonical encoding against silent change.
        let (mut ledger, alice, bob) = two_accounts();
        ledger
            .apply_round(1, &[transfer(alice, 0, 2, bob, 7)])
            .unwrap();
        insta::assert_snapshot!(crate::identity::hex(&ledger.state_hash()), @"81924431b8b67855a8fcdaedd53a72f26b7236c01158d16d3d7f22f520e24d25");
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
        let a = forward.apply_round(1, &round).unwrap();
        let b = backward.apply_round(1, &round).unwrap();
        assert_eq!(a.state_hash, b.state_hash);
        let listed: Vec<(CellId, u64)> = forward.balances().collect();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(listed, sorted);
        assert_eq!(forward.account_count(), 3);
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
                let a = first.apply_round(round_number, &items).unwrap();
                let b = second.apply_round(round_number, &items).unwrap();
                prop_assert_eq!(&a, &b);
                let total: u64 = first.balances().map(|(_, b)| b).sum::<u64>() + first.fee_pool();
                prop_assert_eq!(total, 1_500);
            }
        }
    }
}
