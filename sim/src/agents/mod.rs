//! Market agents: the users of the market layer, one per hosting cell,
//! ABIDES-style (Byrd, Hybinette & Balch 2019: agents that wake, look at
//! what they may see, and act).
//!
//! An agent is pure decision logic. It never touches the world: at each
//! wake it reads a [`MarketView`] — what its **home cell** knows (the
//! ordered ledger state of the exchange and the lease markets, its own
//! account, its orders, offers and leases, and the transactions its cell
//! has learned but not yet seen ordered) — and returns [`AgentAction`]s,
//! which the world turns into signed TXs (or EXEC messages) from the
//! cell's own account, submitted in the order given. It then draws its
//! next wake. The world, not the agent, decides whether an action takes
//! effect: the ledger rejects an order it cannot fund, and so on.
//!
//! Determinism: every agent draws from its own ChaCha stream
//! `rng::stream(seed, "agent", index)`; everything it decides is integer
//! arithmetic (prices in PRANA, shares in parts per million). Its wake
//! times are exponential gaps with the block's rate, sampled exactly as the
//! workload samples its arrivals (`libm`, rounded to whole ns before they
//! decide anything). Its private memory is ordered (`VecDeque`,
//! `BTreeSet`).
//!
//! Rules every kind follows:
//! - **One TX in flight.** With `pending_own() > 0` an agent does nothing
//!   at this wake (it never acts twice on the same stale view), except a
//!   front-runner, which races. A market-maker's cancels and quotes are several
//!   actions of one wake, submitted in order from the one account.
//! - **Never spend more than it has**, as far as its view shows: a bid at
//!   price `p` for `q` needs `p·q` free PRANA (a market buy is estimated at
//!   the best ask), an ask needs `q` free tokens; an order that does not
//!   fit is made smaller, or not made. Fees are the world's to add (the
//!   view's free PRANA should leave room for them).
//! - The **reference price** of a token is its last trade price, else the
//!   mid of the best bid and ask, else its fundamental, else the one best
//!   price there is, else [`REFERENCE_PRICE_DEFAULT`].
//!
//! What each kind does at a wake (parameters: `docs/scenarios.md`):
//! - `noise-trader`: a uniformly random side and quantity
//!   `1..=quantity_max`; a limit order (with probability `limit_share`)
//!   at a price uniform within `± price_range` of the reference (at least
//!   1), else a market order.
//! - `market-maker`: quotes a bid at `reference − spread/2` (at least 1)
//!   and an ask `spread` above it, `quantity` each. A resting order at
//!   another price is cancelled (stale); a quote already at the right
//!   price stays. It stops quoting the side that would take its net
//!   position (tokens held, in its free balance and its resting asks, minus
//!   what it held at its first wake) past `± inventory_max`.
//! - `momentum`: remembers the last trade price seen at each wake; when
//!   the latest is above the one `lookback` wakes earlier by more than
//!   `threshold`, buys `quantity` at market; when below by more, sells.
//! - `value`: when the best ask is below `fundamental · (1 − threshold)`
//!   buys `quantity` at that ask (a limit order); when the best bid is
//!   above `fundamental · (1 + threshold)` sells at that bid.
//! - `compute-provider` / `storage-provider`: posts one offer when it has
//!   no standing offer in its market and its free PRANA covers the
//!   collateral (its first wake; again after a slash removed it). Answering
//!   EXEC tasks and storage challenges is its cell's job, not the agent's.
//! - `consumer`: without a live lease as consumer in its market, leases
//!   `amount` for `intervals` from the cheapest open offer (ties: lowest
//!   offer id) with enough free capacity, price at most `price_max`, a
//!   provider other than itself, not given up on, trusted at least
//!   `trust_min` by its home cell, and whose whole cost
//!   (`price · amount · intervals`) its free PRANA covers. With a compute
//!   lease: when its oldest unanswered EXEC to the provider is at least
//!   `exec_timeout` old it sends nothing (a failure); at the second such
//!   wake in a row it ends the lease and gives up on that provider for
//!   the rest of the run; otherwise it sends one EXEC of `work` units. A
//!   storage lease needs nothing (challenges are automatic).
//! - `front-runner`: when it holds more tokens than at its first wake,
//!   sells the excess at market; otherwise, when its cell has learned a
//!   pending bid of another account on its token of at least
//!   `quantity_min`, buys `quantity` at market, hoping its cell orders it
//!   first.

mod exchange;
mod lease;
#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};

use celluler_core::rng::{self, DetRng};

pub use crate::scenario::{AgentBlock, AgentKind, AgentParams, LeaseMarket, Rate, Scenario};
pub use celluler_core::book::Side;

/// The price an agent assumes when its view shows none for a token.
pub const REFERENCE_PRICE_DEFAULT: u64 = 100;
/// Wakes in a row with a timed-out EXEC after which a consumer ends its lease.
pub const EXEC_FAILURES_MAX: u32 = 2;
/// Parts per million in one.
const PPM: u64 = 1_000_000;

/// One of the agent's own orders resting in a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: u64,
    pub side: Side,
    /// PRANA per unit.
    pub price: u64,
    /// Units still resting.
    pub quantity: u64,
}

/// A standing compute or storage offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferView {
    pub id: u64,
    pub provider: u32,
    /// Units (or blocks) not leased.
    pub free: u64,
    /// PRANA per unit (or block) per interval.
    pub price: u64,
    pub collateral: u64,
}

/// A live lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseView {
    pub id: u64,
    pub market: LeaseMarket,
    pub provider: u32,
    pub consumer: u32,
    /// Units or blocks leased.
    pub amount: u64,
}

/// An order TX of another account that the home cell has learned and not
/// yet seen ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingOrder {
    pub sender: u32,
    pub token: u16,
    pub side: Side,
    /// `None`: a market order.
    pub price: Option<u64>,
    pub quantity: u64,
}

/// What ONE agent may observe: only its home cell's state. Lists must come
/// in a fixed order (ascending ids are the natural one); agents sort what
/// they pick from anyway.
pub trait MarketView {
    fn now_ns(&self) -> u64;
    /// The agent's cell.
    fn home(&self) -> u32;
    fn token_count(&self) -> u16;
    fn best_bid(&self, token: u16) -> Option<u64>;
    fn best_ask(&self, token: u16) -> Option<u64>;
    fn last_trade_price(&self, token: u16) -> Option<u64>;
    /// Scenario knowledge, public.
    fn fundamental(&self, token: u16) -> Option<u64>;
    /// PRANA of the home account not locked in orders, offers or escrow.
    fn prana_free(&self) -> u64;
    /// Tokens of the home account not locked in asks.
    fn token_free(&self, token: u16) -> u64;
    fn my_orders(&self, token: u16) -> Vec<RestingOrder>;
    /// Open offers (every provider's).
    fn offers(&self, market: LeaseMarket) -> Vec<OfferView>;
    /// The home account's standing offers, leased or not.
    fn my_offers(&self, market: LeaseMarket) -> Vec<OfferView>;
    /// Live leases where the home account is consumer or provider.
    fn my_leases(&self) -> Vec<LeaseView>;
    /// The home cell's trust in `cell`, `0..=1_000_000`.
    fn trust_ppm(&self, cell: u32) -> u32;
    /// Orders of other accounts the home cell has learned and not yet seen
    /// ordered.
    fn pending_orders(&self) -> Vec<PendingOrder>;
    /// The home account's TXs submitted and not yet ordered.
    fn pending_own(&self) -> u32;
    /// Age of the home cell's oldest unanswered EXEC to `provider`.
    fn exec_unanswered_ns(&self, provider: u32) -> Option<u64>;
}

/// What an agent asks its cell to do; the world signs and submits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    /// `price: None` is a market order.
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
    ComputeOffer {
        units: u64,
        price_per_unit: u64,
        collateral: u64,
    },
    StorageOffer {
        blocks: u64,
        price_per_block: u64,
        collateral: u64,
    },
    Lease {
        market: LeaseMarket,
        offer: u64,
        amount: u64,
        intervals: u32,
    },
    EndLease {
        lease: u64,
    },
    /// Ask the compute provider to run a task of `work` units.
    Exec {
        provider: u32,
        lease: u64,
        work: u32,
    },
}

/// What an agent remembers between wakes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Memory {
    Nothing,
    /// Tokens held (free and in resting asks) at the first wake: the
    /// market-maker's and front-runner's zero position.
    Position {
        baseline: Option<u64>,
    },
    /// The momentum agent's last trade prices, one per wake that saw one,
    /// oldest first; at most `lookback + 1`.
    Prices(VecDeque<u64>),
    Consumer {
        /// Wakes in a row with a timed-out EXEC.
        timeouts_in_a_row: u32,
        /// Providers whose lease it ended; never leased from again.
        given_up: BTreeSet<u32>,
    },
}

/// One market participant living on one cell.
#[derive(Debug, Clone)]
pub struct Agent {
    index: u32,
    home: u32,
    rate: Rate,
    params: AgentParams,
    rng: DetRng,
    next_wake_ns: u64,
    memory: Memory,
}

impl Agent {
    /// Agent number `index` (global, over all blocks) of `block`, on cell
    /// `home`, drawing from its own stream of the scenario `seed`. Its first
    /// wake is drawn here.
    pub fn new(index: u32, block: &AgentBlock, home: u32, seed: u64) -> Agent {
        let mut rng = rng::stream(seed, "agent", u64::from(index));
        let next_wake_ns = next_gap_ns(&mut rng, block.rate);
        let memory = match block.kind {
            AgentKind::MarketMaker | AgentKind::FrontRunner => Memory::Position { baseline: None },
            AgentKind::Momentum => Memory::Prices(VecDeque::new()),
            AgentKind::Consumer => Memory::Consumer {
                timeouts_in_a_row: 0,
                given_up: BTreeSet::new(),
            },
            AgentKind::NoiseTrader
            | AgentKind::Value
            | AgentKind::ComputeProvider
            | AgentKind::StorageProvider => Memory::Nothing,
        };
        Agent {
            index,
            home,
            rate: block.rate,
            params: block.params.clone(),
            rng,
            next_wake_ns,
            memory,
        }
    }

    /// When the agent next wants to wake, in virtual ns.
    pub fn next_wake_ns(&self) -> u64 {
        self.next_wake_ns
    }

    /// Decides what to do now, then draws the next wake: an exponential gap
    /// after now (or after the planned wake, if the world calls early).
    pub fn wake(&mut self, view: &dyn MarketView) -> Vec<AgentAction> {
        let actions = self.decide(view);
        let from_ns = view.now_ns().max(self.next_wake_ns);
        self.next_wake_ns = from_ns.saturating_add(next_gap_ns(&mut self.rng, self.rate));
        actions
    }

    /// Skip a wake (its home cell is down): draw the next one, decide
    /// nothing.
    pub fn sleep(&mut self, now_ns: u64) {
        let from_ns = now_ns.max(self.next_wake_ns);
        self.next_wake_ns = from_ns.saturating_add(next_gap_ns(&mut self.rng, self.rate));
    }

    pub fn kind(&self) -> AgentKind {
        self.params.kind()
    }

    pub fn home(&self) -> u32 {
        self.home
    }

    /// Its global index (and stream index).
    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn params(&self) -> &AgentParams {
        &self.params
    }

    fn decide(&mut self, view: &dyn MarketView) -> Vec<AgentAction> {
        // What an agent remembers of this wake, it remembers even when it
        // then waits for its TX in flight.
        match (&self.params, &mut self.memory) {
            (AgentParams::Momentum(params), Memory::Prices(prices)) => {
                exchange::remember_price(params, view, prices);
            }
            (AgentParams::MarketMaker(params), Memory::Position { baseline }) => {
                baseline.get_or_insert_with(|| exchange::tokens_held(view, params.token));
            }
            (AgentParams::FrontRunner(params), Memory::Position { baseline }) => {
                baseline.get_or_insert_with(|| exchange::tokens_held(view, params.token));
            }
            _ => {}
        }
        // A front-runner races: waiting for its last TX would forfeit the
        // one it is racing for (and its cell may front-run for it).
        if view.pending_own() > 0 && !matches!(self.params, AgentParams::FrontRunner(_)) {
            return Vec::new();
        }
        match (&self.params, &mut self.memory) {
            (AgentParams::NoiseTrader(params), _) => {
                exchange::noise_trader(params, view, &mut self.rng)
            }
            (AgentParams::MarketMaker(params), Memory::Position { baseline }) => {
                exchange::market_maker(params, view, baseline.unwrap_or(0))
            }
            (AgentParams::Momentum(params), Memory::Prices(prices)) => {
                exchange::momentum(params, view, prices)
            }
            (AgentParams::Value(params), _) => exchange::value(params, view),
            (AgentParams::FrontRunner(params), Memory::Position { baseline }) => {
                exchange::front_runner(params, view, baseline.unwrap_or(0))
            }
            (AgentParams::ComputeProvider(params), _) => lease::compute_provider(params, view),
            (AgentParams::StorageProvider(params), _) => lease::storage_provider(params, view),
            (
                AgentParams::Consumer(params),
                Memory::Consumer {
                    timeouts_in_a_row,
                    given_up,
                },
            ) => lease::consumer(params, view, timeouts_in_a_row, given_up),
            // `new` gives every kind its memory; no other pairing exists.
            _ => Vec::new(),
        }
    }
}

/// Every agent of `scenario`, in global index order: block by block in file
/// order, each block's cells ascending (the numbering of
/// [`Scenario::agent_of`]).
pub fn agents_of(scenario: &Scenario) -> Vec<Agent> {
    let mut agents = Vec::new();
    let mut index: u32 = 0;
    for block in &scenario.agents {
        for &cell in &block.cells {
            agents.push(Agent::new(index, block, cell, scenario.seed));
            index += 1;
        }
    }
    agents
}

/// Exponential inter-arrival time for `rate`, at least 1 ns; the
/// workload's own sampling (`crate::workload`): a 53-bit uniform and
/// `libm::log`, rounded to integer ns before it decides. A zero rate
/// (which validation refuses) never wakes again.
fn next_gap_ns(rng: &mut DetRng, rate: Rate) -> u64 {
    if rate.is_zero() {
        return u64::MAX;
    }
    let mean_ns = rate.per_ns as f64 / rate.count as f64;
    let uniform = 1.0 - rng::unit_f64(rng); // (0, 1]: the log is finite
    let gap = -libm::log(uniform) * mean_ns;
    if gap < 1.0 {
        1
    } else {
        libm::round(gap.min(1e18)) as u64
    }
}

/// `value · ppm / 1_000_000`, rounded down, saturating.
fn share_of(value: u64, ppm: u64) -> u64 {
    u64::try_from(u128::from(value) * u128::from(ppm) / u128::from(PPM)).unwrap_or(u64::MAX)
}
