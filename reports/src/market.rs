//! Markets: the plain record of what a run's exchange, lease markets and
//! market agents did ([`MarketRecord`]), and the numbers folded from it
//! ([`MarketMetrics`]): prices, volume, fills, leases, the agents' PnL and
//! the ledger invariants cells saw broken. Definitions: docs/metrics.md
//! "Markets".
//!
//! Prices are integer PRANA per unit of a market token; amounts are integer
//! PRANA. Integers decide everything; floats only carry final ratios and
//! means, computed with basic IEEE operations in a fixed order.

pub mod markdown;
pub mod plots;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::nearest_rank;
use crate::record::{CellIndex, TimeNs, TxRecord};
use crate::summary::ns_to_ms;

/// The side label of a bid (buy) order or taker.
pub const SIDE_BID: &str = "bid";
/// The side label of an ask (sell) order or taker.
pub const SIDE_ASK: &str = "ask";
/// The agent kind whose PnL is compared with everyone else's.
pub const FRONT_RUNNER_KIND: &str = "front-runner";
/// Lease event labels ([`LeaseEventRecord::event`]).
pub const LEASE_OPENED: &str = "opened";
pub const LEASE_PAID: &str = "paid";
pub const LEASE_SETTLED: &str = "settled";
pub const LEASE_SLASHED: &str = "slashed";
pub const LEASE_ENDED: &str = "ended";

/// Parts per million: the scale of every ppm metric.
pub const PPM: u64 = 1_000_000;

/// Everything a run's markets did, as the simulator converted it from what
/// cells observed. `None` in [`crate::RunRecord::markets`] for a run without
/// markets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MarketRecord {
    /// The exchange's tokens: index = token id.
    pub tokens: Vec<String>,
    /// Per token: its configured fundamental value, PRANA per unit.
    pub fundamental: Vec<Option<u64>>,
    /// One per agent, ascending by cell.
    pub agents: Vec<AgentRecord>,
    /// One per decided round, ascending by round (the canonical honest report).
    pub rounds: Vec<MarketRoundRecord>,
    /// Every cell's report of a broken ledger or market invariant, in the
    /// order seen.
    pub violations: Vec<LedgerViolationRecord>,
    /// PRANA left in the fee pool when the run ended.
    pub fee_pool_final: u64,
    /// PRANA burned over the run.
    pub burned_final: u64,
}

/// One market agent: the account of one cell.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentRecord {
    pub cell: CellIndex,
    /// "noise-trader", "market-maker", "momentum", "value",
    /// "compute-provider", "storage-provider", "consumer", "front-runner".
    pub kind: String,
    pub byzantine: bool,
    pub initial_prana: u64,
    /// Per token id.
    pub initial_tokens: Vec<u64>,
    /// Everything the account owns in PRANA: free, locked in its bids,
    /// escrow it funds and collateral it posted.
    pub final_prana: u64,
    /// Per token id: free plus locked in its resting asks.
    pub final_tokens: Vec<u64>,
    pub fees_paid: u64,
    pub txs_submitted: u64,
    pub orders_submitted: u64,
    /// Rejection reason label → ordered items of this account the ledger
    /// refused.
    pub rejected: BTreeMap<String, u64>,
}

/// What one decided round did to the markets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MarketRoundRecord {
    pub round: u64,
    /// The round's consensus timestamp (virtual ns).
    pub time_ns: TimeNs,
    /// One per token, after the round.
    pub books: Vec<BookTop>,
    pub trades: Vec<TradeRecord>,
    pub orders: Vec<OrderRecord>,
    pub leases: Vec<LeaseEventRecord>,
    /// Per lease market, after the round.
    pub capacity: Vec<CapacityRecord>,
    /// PRANA paid from the fee pool this round.
    pub fee_payout: u64,
    pub rejected: Vec<RejectedRecord>,
}

/// The top of one token's book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BookTop {
    pub token: u16,
    pub best_bid: Option<u64>,
    pub best_ask: Option<u64>,
    /// Units resting on each side.
    pub bid_depth: u64,
    pub ask_depth: u64,
}

impl BookTop {
    /// The best bid and ask, when both sides exist.
    pub fn both_sides(&self) -> Option<(u64, u64)> {
        Some((self.best_bid?, self.best_ask?))
    }
}

/// One fill: `quantity` units at the maker's `price`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TradeRecord {
    pub token: u16,
    pub price: u64,
    pub quantity: u64,
    /// `None` when the account is not a cell (a workload client).
    pub buyer: Option<CellIndex>,
    pub seller: Option<CellIndex>,
    /// "bid" or "ask".
    pub taker_side: String,
    pub maker_order: u64,
    pub taker_order: u64,
}

/// An order the round placed, and what placing it did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: u64,
    pub token: u16,
    pub owner: Option<CellIndex>,
    /// "bid" or "ask".
    pub side: String,
    /// `None` for a market order.
    pub price: Option<u64>,
    pub quantity: u64,
    /// The TX that carried it: the same string as [`TxRecord::id`].
    pub tx: String,
    pub filled: u64,
    pub resting: u64,
    pub cancelled: u64,
}

/// One step of a compute or storage lease.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LeaseEventRecord {
    pub lease: u64,
    /// "compute" or "storage".
    pub market: String,
    pub provider: Option<CellIndex>,
    pub consumer: Option<CellIndex>,
    /// "opened", "paid", "settled", "slashed" or "ended".
    pub event: String,
    /// PRANA moved by the event.
    pub amount: u64,
    pub reason: Option<String>,
}

/// A lease market's capacity after a round, in the market's units.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CapacityRecord {
    pub market: String,
    pub offered: u64,
    pub leased: u64,
}

/// An ordered item the ledger refused.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RejectedRecord {
    pub account: Option<CellIndex>,
    /// The item's kind, as [`TxMarket::kind`].
    pub kind: String,
    pub reason: String,
}

/// A cell's report that a ledger or market invariant broke.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LedgerViolationRecord {
    pub cell: CellIndex,
    pub round: u64,
    pub time_ns: TimeNs,
    pub invariant: String,
    pub detail: String,
}

/// What a market TX asks for ([`TxRecord::market`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxMarket {
    /// "order", "cancel", "compute-offer", "storage-offer", "lease",
    /// "end-lease", "fraud-proof", "storage-proof" or "withdraw-offer".
    pub kind: String,
    pub token: Option<u16>,
    pub side: Option<String>,
    pub price: Option<u64>,
    pub quantity: Option<u64>,
}

/// A market record the metrics cannot trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketRecordError {
    #[error("{fundamentals} fundamental values for {tokens} tokens")]
    FundamentalCount { tokens: usize, fundamentals: usize },
    #[error("token {name:?} is listed twice")]
    TokenRepeated { name: String },
    #[error("more than 65536 tokens ({0}): token ids are u16")]
    TooManyTokens(usize),
    #[error("agents must be strictly ascending by cell")]
    AgentsUnordered,
    #[error("agent cell {cell} does not exist ({cell_count} cells)")]
    AgentCellOutOfRange { cell: CellIndex, cell_count: u32 },
    #[error("agent of cell {cell} has {balances} token balances for {tokens} tokens")]
    AgentBalances {
        cell: CellIndex,
        balances: usize,
        tokens: usize,
    },
    #[error("market rounds must be strictly ascending by round")]
    RoundsUnordered,
    #[error("round {round} names token {token}, but the exchange has {tokens} tokens")]
    TokenOutOfRange {
        round: u64,
        token: u16,
        tokens: usize,
    },
    #[error("transaction {id:?} names token {token}, but the exchange has {tokens} tokens")]
    TxTokenOutOfRange {
        id: String,
        token: u16,
        tokens: usize,
    },
    #[error("a ledger violation names cell {cell} ({cell_count} cells)")]
    ViolationCellOutOfRange { cell: CellIndex, cell_count: u32 },
}

impl MarketRecord {
    /// Rejects records the metrics cannot trust; `transactions` are the
    /// run's (their market tokens must exist).
    pub fn validate(
        &self,
        cell_count: u32,
        transactions: &[TxRecord],
    ) -> Result<(), MarketRecordError> {
        let tokens = self.tokens.len();
        if tokens > usize::from(u16::MAX) + 1 {
            return Err(MarketRecordError::TooManyTokens(tokens));
        }
        if self.fundamental.len() != tokens {
            return Err(MarketRecordError::FundamentalCount {
                tokens,
                fundamentals: self.fundamental.len(),
            });
        }
        let mut names: Vec<&str> = self.tokens.iter().map(String::as_str).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(MarketRecordError::TokenRepeated {
                name: pair[0].to_string(),
            });
        }
        if self.agents.windows(2).any(|w| w[0].cell >= w[1].cell) {
            return Err(MarketRecordError::AgentsUnordered);
        }
        for agent in &self.agents {
            if agent.cell >= cell_count {
                return Err(MarketRecordError::AgentCellOutOfRange {
                    cell: agent.cell,
                    cell_count,
                });
            }
            for balances in [&agent.initial_tokens, &agent.final_tokens] {
                if balances.len() != tokens {
                    return Err(MarketRecordError::AgentBalances {
                        cell: agent.cell,
                        balances: balances.len(),
                        tokens,
                    });
                }
            }
        }
        if self.rounds.windows(2).any(|w| w[0].round >= w[1].round) {
            return Err(MarketRecordError::RoundsUnordered);
        }
        for round in &self.rounds {
            let named = round
                .books
                .iter()
                .map(|book| book.token)
                .chain(round.trades.iter().map(|trade| trade.token))
                .chain(round.orders.iter().map(|order| order.token));
            for token in named {
                if usize::from(token) >= tokens {
                    return Err(MarketRecordError::TokenOutOfRange {
                        round: round.round,
                        token,
                        tokens,
                    });
                }
            }
        }
        for tx in transactions {
            if let Some(token) = tx.market.as_ref().and_then(|market| market.token) {
                if usize::from(token) >= tokens {
                    return Err(MarketRecordError::TxTokenOutOfRange {
                        id: tx.id.clone(),
                        token,
                        tokens,
                    });
                }
            }
        }
        if let Some(violation) = self.violations.iter().find(|v| v.cell >= cell_count) {
            return Err(MarketRecordError::ViolationCellOutOfRange {
                cell: violation.cell,
                cell_count,
            });
        }
        Ok(())
    }

    /// The name of token `token`, or its id when the exchange has no such token.
    pub fn token_name(&self, token: u16) -> String {
        self.tokens
            .get(usize::from(token))
            .cloned()
            .unwrap_or_else(|| token.to_string())
    }
}

/// A mid price `(bid + ask) / 2` exactly: `n` or `n.5`.
pub fn format_mid(best_bid: u64, best_ask: u64) -> String {
    let sum = u128::from(best_bid) + u128::from(best_ask);
    if sum % 2 == 0 {
        (sum / 2).to_string()
    } else {
        format!("{}.5", sum / 2)
    }
}

/// A book with both sides at one round: the points of the mid-price series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MidPoint {
    pub round: u64,
    pub time_ns: TimeNs,
    pub best_bid: u64,
    pub best_ask: u64,
}

impl MidPoint {
    /// `(bid + ask) / 2`; exact below 2⁵³.
    pub fn mid(&self) -> f64 {
        (self.best_bid as f64 + self.best_ask as f64) / 2.0
    }

    /// `⌊(bid + ask) / 2⌋`: the mid as a mark price.
    pub fn mid_floor(&self) -> u64 {
        ((u128::from(self.best_bid) + u128::from(self.best_ask)) / 2) as u64
    }

    /// `ask − bid`, 0 for a crossed book.
    pub fn spread(&self) -> u64 {
        self.best_ask.saturating_sub(self.best_bid)
    }

    /// `⌊|mid − fundamental| · 10⁶ / fundamental⌋`, in integers; `None`
    /// for a fundamental of 0.
    pub fn fundamental_distance_ppm(&self, fundamental: u64) -> Option<u64> {
        if fundamental == 0 {
            return None;
        }
        let sum = u128::from(self.best_bid) + u128::from(self.best_ask);
        let doubled_fundamental = 2 * u128::from(fundamental);
        let distance = sum.abs_diff(doubled_fundamental);
        Some(saturate_u64(
            distance * u128::from(PPM) / doubled_fundamental,
        ))
    }
}

/// Per token: trades, volume, prices and fills (docs/metrics.md "Exchange").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenMetrics {
    pub token: u16,
    pub name: String,
    pub fundamental: Option<u64>,
    pub trades: u64,
    pub volume_units: u64,
    /// Σ price × quantity over trades (saturating).
    pub volume_prana: u64,
    /// `volume_prana / volume_units`.
    pub vwap: Option<f64>,
    pub last_trade_price: Option<u64>,
    /// Rounds whose book had both sides, ascending.
    pub mids: Vec<MidPoint>,
    pub last_mid: Option<f64>,
    pub spread_p50: Option<u64>,
    pub spread_p90: Option<u64>,
    /// Median over `mids` of the distance of the mid to the fundamental.
    pub fundamental_distance_ppm_p50: Option<u64>,
    /// The price this token's holdings are valued at for PnL: ⌊last mid⌋,
    /// else the last trade price, else the fundamental, else 0.
    pub mark_price: u64,
    pub orders: u64,
    pub units_submitted: u64,
    pub units_filled: u64,
    /// `units_filled / units_submitted`.
    pub fill_rate: Option<f64>,
    /// Filled orders whose TX the record does not know: left out of time to fill.
    pub orders_without_tx: u64,
    /// Per filled order with a known TX: first fill's round time − TX
    /// submission, ascending.
    pub time_to_fill_ns: Vec<TimeNs>,
    pub time_to_fill_ns_p50: Option<TimeNs>,
    pub time_to_fill_ns_p99: Option<TimeNs>,
}

/// A lease market's capacity at one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapacityPoint {
    pub round: u64,
    pub time_ns: TimeNs,
    pub offered: u64,
    pub leased: u64,
}

impl CapacityPoint {
    /// `⌊leased · 10⁶ / offered⌋`; `None` when nothing is offered.
    pub fn utilisation_ppm(&self) -> Option<u64> {
        (self.offered > 0).then(|| {
            saturate_u64(u128::from(self.leased) * u128::from(PPM) / u128::from(self.offered))
        })
    }
}

/// Per lease market (docs/metrics.md "Lease markets").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseMarketMetrics {
    pub market: String,
    pub leases_opened: u64,
    /// `paid` events: escrow paid to a provider for one interval.
    pub payments: u64,
    pub leases_settled: u64,
    pub leases_slashed: u64,
    pub leases_ended: u64,
    /// Events with any other label.
    pub events_other: u64,
    /// Σ amount of `opened` events.
    pub prana_escrowed: u64,
    /// Σ amount of `paid` events.
    pub prana_paid: u64,
    /// Σ amount of `slashed` events.
    pub prana_slashed: u64,
    /// After each round that reported it, ascending.
    pub capacity: Vec<CapacityPoint>,
    /// Mean of `utilisation_ppm` over rounds with capacity offered.
    pub utilisation_ppm_mean: Option<u64>,
}

/// One agent's result (docs/metrics.md "Agents").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentMetrics {
    pub cell: CellIndex,
    pub kind: String,
    pub byzantine: bool,
    pub initial_prana: u64,
    pub final_prana: u64,
    /// PRANA plus token holdings at the mark prices (saturating).
    pub initial_value_prana: u64,
    pub final_value_prana: u64,
    /// Final value − initial value (saturating at the i64 bounds).
    pub pnl_prana: i64,
    pub fees_paid: u64,
    pub txs_submitted: u64,
    pub orders_submitted: u64,
    /// Ordered items of the account the ledger refused.
    pub txs_rejected: u64,
}

/// The agents of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentKindMetrics {
    pub kind: String,
    pub agents: u64,
    pub byzantine_agents: u64,
    pub pnl_prana_sum: i64,
    /// Nearest-rank median.
    pub pnl_prana_p50: i64,
    pub pnl_prana_min: i64,
    pub pnl_prana_max: i64,
    pub fees_paid: u64,
    pub txs_rejected: u64,
}

/// Front-runners' PnL against everyone else's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrontRunningMetrics {
    pub front_runners: u64,
    pub front_runner_pnl_prana_mean: f64,
    pub other_agents: u64,
    /// `null` when every agent is a front-runner.
    pub other_pnl_prana_mean: Option<f64>,
    /// Front-runners' mean − the others' mean.
    pub advantage_pnl_prana: Option<f64>,
}

/// Every market number of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketMetrics {
    /// Index = token id.
    pub tokens: Vec<TokenMetrics>,
    /// Ascending by market name.
    pub lease_markets: Vec<LeaseMarketMetrics>,
    /// Ascending by cell.
    pub agents: Vec<AgentMetrics>,
    /// Ascending by kind.
    pub agent_kinds: Vec<AgentKindMetrics>,
    /// `None` without a front-runner agent.
    pub front_running: Option<FrontRunningMetrics>,
    /// Σ over agents.
    pub fees_paid: u64,
    /// Σ over rounds of the fee pool's payouts.
    pub fee_payouts: u64,
    pub fee_pool_final: u64,
    pub burned_final: u64,
    /// Rounds' refused items, by reason.
    pub rejections: BTreeMap<String, u64>,
    /// Ledger invariant → reports of it broken.
    pub violations: BTreeMap<String, u64>,
    pub violations_total: u64,
}

fn saturate_u64(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// [`nearest_rank`] of signed values, through the order-preserving map
/// of `i64` onto `u64` (flip the sign bit).
pub fn nearest_rank_signed(sorted: &[i64], permille: u64) -> Option<i64> {
    let flip = |value: i64| (value as u64) ^ (1 << 63);
    let mapped: Vec<u64> = sorted.iter().map(|&value| flip(value)).collect();
    nearest_rank(&mapped, permille).map(|value| (value ^ (1 << 63)) as i64)
}

/// Running totals of one token while folding the rounds.
#[derive(Default)]
struct TokenFold {
    trades: u64,
    volume_units: u128,
    volume_prana: u128,
    last_trade_price: Option<u64>,
    mids: Vec<MidPoint>,
    spreads: Vec<u64>,
    distances_ppm: Vec<u64>,
    orders: u64,
    units_submitted: u128,
    units_filled: u128,
    orders_without_tx: u64,
    time_to_fill_ns: Vec<TimeNs>,
}

impl MarketMetrics {
    /// Folds a market record; `transactions` give each order's submission
    /// time. The record should have passed [`MarketRecord::validate`];
    /// nothing here panics on an unvalidated one (what names a token that
    /// does not exist is left out).
    pub fn compute(markets: &MarketRecord, transactions: &[TxRecord]) -> MarketMetrics {
        let tokens = token_metrics(markets, transactions);
        let marks: Vec<u64> = tokens.iter().map(|token| token.mark_price).collect();
        let agents: Vec<AgentMetrics> = markets
            .agents
            .iter()
            .map(|agent| agent_metrics(agent, &marks))
            .collect();
        let agent_kinds = agent_kind_metrics(&agents);
        let front_running = front_running(&agents);
        let mut rejections: BTreeMap<String, u64> = BTreeMap::new();
        for rejected in markets.rounds.iter().flat_map(|round| &round.rejected) {
            *rejections.entry(rejected.reason.clone()).or_default() += 1;
        }
        let mut violations: BTreeMap<String, u64> = BTreeMap::new();
        for violation in &markets.violations {
            *violations.entry(violation.invariant.clone()).or_default() += 1;
        }
        MarketMetrics {
            tokens,
            lease_markets: lease_market_metrics(markets),
            fees_paid: agents
                .iter()
                .fold(0u64, |sum, agent| sum.saturating_add(agent.fees_paid)),
            agents,
            agent_kinds,
            front_running,
            fee_payouts: markets
                .rounds
                .iter()
                .fold(0u64, |sum, round| sum.saturating_add(round.fee_payout)),
            fee_pool_final: markets.fee_pool_final,
            burned_final: markets.burned_final,
            rejections,
            violations,
            violations_total: markets.violations.len() as u64,
        }
    }
}

/// docs/metrics.md "Exchange".
fn token_metrics(markets: &MarketRecord, transactions: &[TxRecord]) -> Vec<TokenMetrics> {
    let token_count = markets.tokens.len();
    let mut folds: Vec<TokenFold> = (0..token_count).map(|_| TokenFold::default()).collect();
    // (token, order id) → (units in trades naming the order, first such round's time).
    let mut fills: BTreeMap<(u16, u64), (u128, TimeNs)> = BTreeMap::new();
    for round in &markets.rounds {
        for book in &round.books {
            let (Some(fold), Some((best_bid, best_ask))) =
                (folds.get_mut(usize::from(book.token)), book.both_sides())
            else {
                continue;
            };
            let point = MidPoint {
                round: round.round,
                time_ns: round.time_ns,
                best_bid,
                best_ask,
            };
            fold.spreads.push(point.spread());
            if let Some(distance) = markets
                .fundamental
                .get(usize::from(book.token))
                .copied()
                .flatten()
                .and_then(|fundamental| point.fundamental_distance_ppm(fundamental))
            {
                fold.distances_ppm.push(distance);
            }
            fold.mids.push(point);
        }
        for trade in &round.trades {
            let Some(fold) = folds.get_mut(usize::from(trade.token)) else {
                continue;
            };
            fold.trades += 1;
            fold.volume_units += u128::from(trade.quantity);
            fold.volume_prana += u128::from(trade.price) * u128::from(trade.quantity);
            fold.last_trade_price = Some(trade.price);
            let mut named = vec![trade.maker_order, trade.taker_order];
            named.dedup();
            for order in named {
                let fill = fills
                    .entry((trade.token, order))
                    .or_insert((0, round.time_ns));
                fill.0 += u128::from(trade.quantity);
            }
        }
    }
    // Lookup only: TX id → submission time.
    let submitted_ns: BTreeMap<&str, TimeNs> = transactions
        .iter()
        .map(|tx| (tx.id.as_str(), tx.submit_ns))
        .collect();
    for round in &markets.rounds {
        for order in &round.orders {
            let Some(fold) = folds.get_mut(usize::from(order.token)) else {
                continue;
            };
            fold.orders += 1;
            fold.units_submitted += u128::from(order.quantity);
            let (traded, first_trade_ns) = match fills.get(&(order.token, order.id)) {
                Some(&(units, time_ns)) => (units, Some(time_ns)),
                None => (0, None),
            };
            let filled = traded
                .max(u128::from(order.filled))
                .min(u128::from(order.quantity));
            fold.units_filled += filled;
            if filled == 0 {
                continue;
            }
            let filled_ns = first_trade_ns.unwrap_or(round.time_ns);
            match submitted_ns.get(order.tx.as_str()) {
                Some(&submit_ns) => fold
                    .time_to_fill_ns
                    .push(filled_ns.saturating_sub(submit_ns)),
                None => fold.orders_without_tx += 1,
            }
        }
    }
    folds
        .into_iter()
        .enumerate()
        .map(|(index, mut fold)| {
            let fundamental = markets.fundamental.get(index).copied().flatten();
            fold.spreads.sort_unstable();
            fold.distances_ppm.sort_unstable();
            fold.time_to_fill_ns.sort_unstable();
            let last_mid = fold.mids.last().copied();
            let mark_price = last_mid
                .map(|point| point.mid_floor())
                .or(fold.last_trade_price)
                .or(fundamental)
                .unwrap_or(0);
            TokenMetrics {
                token: index as u16,
                name: markets.tokens[index].clone(),
                fundamental,
                trades: fold.trades,
                volume_units: saturate_u64(fold.volume_units),
                volume_prana: saturate_u64(fold.volume_prana),
                vwap: (fold.volume_units > 0)
                    .then(|| fold.volume_prana as f64 / fold.volume_units as f64),
                last_trade_price: fold.last_trade_price,
                last_mid: last_mid.map(|point| point.mid()),
                spread_p50: nearest_rank(&fold.spreads, 500),
                spread_p90: nearest_rank(&fold.spreads, 900),
                fundamental_distance_ppm_p50: nearest_rank(&fold.distances_ppm, 500),
                mids: fold.mids,
                mark_price,
                orders: fold.orders,
                units_submitted: saturate_u64(fold.units_submitted),
                units_filled: saturate_u64(fold.units_filled),
                fill_rate: (fold.units_submitted > 0)
                    .then(|| fold.units_filled as f64 / fold.units_submitted as f64),
                orders_without_tx: fold.orders_without_tx,
                time_to_fill_ns_p50: nearest_rank(&fold.time_to_fill_ns, 500),
                time_to_fill_ns_p99: nearest_rank(&fold.time_to_fill_ns, 990),
                time_to_fill_ns: fold.time_to_fill_ns,
            }
        })
        .collect()
}

/// PRANA plus every token balance at its mark price.
fn value_prana(prana: u64, balances: &[u64], marks: &[u64]) -> i128 {
    balances
        .iter()
        .zip(marks)
        .fold(i128::from(prana), |value, (&units, &mark)| {
            value + i128::from(units) * i128::from(mark)
        })
}

/// docs/metrics.md "Agents".
fn agent_metrics(agent: &AgentRecord, marks: &[u64]) -> AgentMetrics {
    let initial = value_prana(agent.initial_prana, &agent.initial_tokens, marks);
    let final_value = value_prana(agent.final_prana, &agent.final_tokens, marks);
    let to_u64 = |value: i128| u64::try_from(value).unwrap_or(u64::MAX);
    AgentMetrics {
        cell: agent.cell,
        kind: agent.kind.clone(),
        byzantine: agent.byzantine,
        initial_prana: agent.initial_prana,
        final_prana: agent.final_prana,
        initial_value_prana: to_u64(initial),
        final_value_prana: to_u64(final_value),
        pnl_prana: saturate_i64(final_value - initial),
        fees_paid: agent.fees_paid,
        txs_submitted: agent.txs_submitted,
        orders_submitted: agent.orders_submitted,
        txs_rejected: agent
            .rejected
            .values()
            .fold(0u64, |sum, &count| sum.saturating_add(count)),
    }
}

fn agent_kind_metrics(agents: &[AgentMetrics]) -> Vec<AgentKindMetrics> {
    let mut by_kind: BTreeMap<&str, Vec<&AgentMetrics>> = BTreeMap::new();
    for agent in agents {
        by_kind.entry(agent.kind.as_str()).or_default().push(agent);
    }
    by_kind
        .into_iter()
        .map(|(kind, members)| {
            let mut pnls: Vec<i64> = members.iter().map(|agent| agent.pnl_prana).collect();
            pnls.sort_unstable();
            let sum: i128 = pnls.iter().map(|&pnl| i128::from(pnl)).sum();
            AgentKindMetrics {
                kind: kind.to_string(),
                agents: members.len() as u64,
                byzantine_agents: members.iter().filter(|agent| agent.byzantine).count() as u64,
                pnl_prana_sum: saturate_i64(sum),
                pnl_prana_p50: nearest_rank_signed(&pnls, 500).unwrap_or(0),
                pnl_prana_min: pnls.first().copied().unwrap_or(0),
                pnl_prana_max: pnls.last().copied().unwrap_or(0),
                fees_paid: members
                    .iter()
                    .fold(0u64, |total, agent| total.saturating_add(agent.fees_paid)),
                txs_rejected: members.iter().fold(0u64, |total, agent| {
                    total.saturating_add(agent.txs_rejected)
                }),
            }
        })
        .collect()
}

/// docs/metrics.md "Front-running".
fn front_running(agents: &[AgentMetrics]) -> Option<FrontRunningMetrics> {
    let mean = |pnls: &[i64]| -> Option<f64> {
        let sum: i128 = pnls.iter().map(|&pnl| i128::from(pnl)).sum();
        (!pnls.is_empty()).then(|| sum as f64 / pnls.len() as f64)
    };
    let (front, others): (Vec<&AgentMetrics>, Vec<&AgentMetrics>) = agents
        .iter()
        .partition(|agent| agent.kind == FRONT_RUNNER_KIND);
    let front: Vec<i64> = front.iter().map(|agent| agent.pnl_prana).collect();
    let others: Vec<i64> = others.iter().map(|agent| agent.pnl_prana).collect();
    let front_mean = mean(&front)?;
    let other_mean = mean(&others);
    Some(FrontRunningMetrics {
        front_runners: front.len() as u64,
        front_runner_pnl_prana_mean: front_mean,
        other_agents: others.len() as u64,
        other_pnl_prana_mean: other_mean,
        advantage_pnl_prana: other_mean.map(|other| front_mean - other),
    })
}

/// docs/metrics.md "Lease markets".
fn lease_market_metrics(markets: &MarketRecord) -> Vec<LeaseMarketMetrics> {
    let mut by_market: BTreeMap<&str, LeaseMarketMetrics> = BTreeMap::new();
    let empty = |market: &str| LeaseMarketMetrics {
        market: market.to_string(),
        leases_opened: 0,
        payments: 0,
        leases_settled: 0,
        leases_slashed: 0,
        leases_ended: 0,
        events_other: 0,
        prana_escrowed: 0,
        prana_paid: 0,
        prana_slashed: 0,
        capacity: Vec::new(),
        utilisation_ppm_mean: None,
    };
    for round in &markets.rounds {
        for lease in &round.leases {
            let metrics = by_market
                .entry(lease.market.as_str())
                .or_insert_with(|| empty(&lease.market));
            let add = |total: &mut u64| *total = total.saturating_add(lease.amount);
            match lease.event.as_str() {
                LEASE_OPENED => {
                    metrics.leases_opened += 1;
                    add(&mut metrics.prana_escrowed);
                }
                LEASE_PAID => {
                    metrics.payments += 1;
                    add(&mut metrics.prana_paid);
                }
                LEASE_SETTLED => metrics.leases_settled += 1,
                LEASE_SLASHED => {
                    metrics.leases_slashed += 1;
                    add(&mut metrics.prana_slashed);
                }
                LEASE_ENDED => metrics.leases_ended += 1,
                _ => metrics.events_other += 1,
            }
        }
        for capacity in &round.capacity {
            by_market
                .entry(capacity.market.as_str())
                .or_insert_with(|| empty(&capacity.market))
                .capacity
                .push(CapacityPoint {
                    round: round.round,
                    time_ns: round.time_ns,
                    offered: capacity.offered,
                    leased: capacity.leased,
                });
        }
    }
    by_market
        .into_values()
        .map(|mut metrics| {
            let utilisations: Vec<u64> = metrics
                .capacity
                .iter()
                .filter_map(CapacityPoint::utilisation_ppm)
                .collect();
            let sum: u128 = utilisations.iter().map(|&ppm| u128::from(ppm)).sum();
            metrics.utilisation_ppm_mean =
                (!utilisations.is_empty()).then(|| saturate_u64(sum / utilisations.len() as u128));
            metrics
        })
        .collect()
}

/// The `markets` block of `summary.json` (docs/metrics.md "Markets"):
/// maps keyed by name, so a sweep's dotted keys name the token or market.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketsSummary {
    /// Token name → its numbers.
    pub tokens: BTreeMap<String, TokenSummary>,
    /// Lease market → its numbers.
    pub lease_markets: BTreeMap<String, LeaseMarketSummary>,
    pub agents: u64,
    /// Agent kind → its agents' PnL.
    pub agent_kinds: BTreeMap<String, AgentKindSummary>,
    pub front_running: Option<FrontRunningMetrics>,
    pub fees_paid: u64,
    pub fee_payouts: u64,
    pub fee_pool_final: u64,
    pub burned_final: u64,
    pub rejections: BTreeMap<String, u64>,
    pub violations_total: u64,
    pub violations: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenSummary {
    pub token: u16,
    pub trades: u64,
    pub volume_units: u64,
    pub volume_prana: u64,
    pub vwap: Option<f64>,
    pub last_mid: Option<f64>,
    pub fundamental: Option<u64>,
    pub fundamental_distance_ppm_p50: Option<u64>,
    pub spread_p50: Option<u64>,
    pub spread_p90: Option<u64>,
    pub orders: u64,
    pub fill_rate: Option<f64>,
    pub time_to_fill_ms_p50: Option<f64>,
    pub time_to_fill_ms_p99: Option<f64>,
    pub orders_without_tx: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeaseMarketSummary {
    pub leases_opened: u64,
    pub payments: u64,
    pub leases_settled: u64,
    pub leases_slashed: u64,
    pub leases_ended: u64,
    pub events_other: u64,
    pub prana_escrowed: u64,
    pub prana_paid: u64,
    pub prana_slashed: u64,
    pub utilisation_ppm_mean: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentKindSummary {
    pub agents: u64,
    pub byzantine_agents: u64,
    pub pnl_prana_sum: i64,
    pub pnl_prana_p50: i64,
    pub pnl_prana_min: i64,
    pub pnl_prana_max: i64,
    pub fees_paid: u64,
    pub txs_rejected: u64,
}

impl MarketsSummary {
    pub fn new(metrics: &MarketMetrics) -> MarketsSummary {
        MarketsSummary {
            tokens: metrics
                .tokens
                .iter()
                .map(|token| {
                    let summary = TokenSummary {
                        token: token.token,
                        trades: token.trades,
                        volume_units: token.volume_units,
                        volume_prana: token.volume_prana,
                        vwap: token.vwap,
                        last_mid: token.last_mid,
                        fundamental: token.fundamental,
                        fundamental_distance_ppm_p50: token.fundamental_distance_ppm_p50,
                        spread_p50: token.spread_p50,
                        spread_p90: token.spread_p90,
                        orders: token.orders,
                        fill_rate: token.fill_rate,
                        time_to_fill_ms_p50: token.time_to_fill_ns_p50.map(ns_to_ms),
                        time_to_fill_ms_p99: token.time_to_fill_ns_p99.map(ns_to_ms),
                        orders_without_tx: token.orders_without_tx,
                    };
                    (token.name.clone(), summary)
                })
                .collect(),
            lease_markets: metrics
                .lease_markets
                .iter()
                .map(|market| {
                    let summary = LeaseMarketSummary {
                        leases_opened: market.leases_opened,
                        payments: market.payments,
                        leases_settled: market.leases_settled,
                        leases_slashed: market.leases_slashed,
                        leases_ended: market.leases_ended,
                        events_other: market.events_other,
                        prana_escrowed: market.prana_escrowed,
                        prana_paid: market.prana_paid,
                        prana_slashed: market.prana_slashed,
                        utilisation_ppm_mean: market.utilisation_ppm_mean,
                    };
                    (market.market.clone(), summary)
                })
                .collect(),
            agents: metrics.agents.len() as u64,
            agent_kinds: metrics
                .agent_kinds
                .iter()
                .map(|kind| {
                    let summary = AgentKindSummary {
                        agents: kind.agents,
                        byzantine_agents: kind.byzantine_agents,
                        pnl_prana_sum: kind.pnl_prana_sum,
                        pnl_prana_p50: kind.pnl_prana_p50,
                        pnl_prana_min: kind.pnl_prana_min,
                        pnl_prana_max: kind.pnl_prana_max,
                        fees_paid: kind.fees_paid,
                        txs_rejected: kind.txs_rejected,
                    };
                    (kind.kind.clone(), summary)
                })
                .collect(),
            front_running: metrics.front_running.clone(),
            fees_paid: metrics.fees_paid,
            fee_payouts: metrics.fee_payouts,
            fee_pool_final: metrics.fee_pool_final,
            burned_final: metrics.burned_final,
            rejections: metrics.rejections.clone(),
            violations_total: metrics.violations_total,
            violations: metrics.violations.clone(),
        }
    }
}
