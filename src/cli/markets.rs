//! Folds what cells observed of the markets into the run record's plain
//! `MarketRecord`: each decided round's market report as the first honest
//! cell to report it gave it, every cell's report of a broken ledger
//! invariant, and each agent's standing at the end, read from a live honest
//! cell's ledger.

use std::collections::BTreeMap;

use celluler_core::cell::{Cell, CellObservation};
use celluler_core::identity::CellId;
use celluler_core::market::MarketRoundReport;
use celluler_core::message::TxKind;
use celluler_reports::market::{
    AgentRecord, BookTop, CapacityRecord, LeaseEventRecord, LedgerViolationRecord, MarketRecord,
    MarketRoundRecord, OrderRecord, RejectedRecord, TradeRecord, TxMarket,
};
use celluler_sim::Observed;
use celluler_sim::market::{AgentPool, side_label};
use celluler_sim::scenario::Scenario;

/// The fold (module docs).
pub struct MarketFold {
    members: BTreeMap<CellId, u32>,
    honest: Vec<bool>,
    rounds: BTreeMap<u32, MarketRoundRecord>,
    violations: Vec<LedgerViolationRecord>,
}

impl MarketFold {
    pub fn new(scenario: &Scenario, members: &[CellId]) -> MarketFold {
        let mut honest = vec![false; scenario.cells.count as usize];
        for cell in scenario.honest_cells() {
            honest[cell as usize] = true;
        }
        MarketFold {
            members: members
                .iter()
                .enumerate()
                .map(|(index, id)| (*id, index as u32))
                .collect(),
            honest,
            rounds: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    fn cell_of(&self, id: &CellId) -> Option<u32> {
        self.members.get(id).copied()
    }

    /// The market part of one observation. Returns the TX's market fields
    /// for a `MarketSubmitted` (the caller attaches them to the TX record).
    pub fn observe(&mut self, observed: &Observed<CellObservation>) -> Option<(String, TxMarket)> {
        let cell = observed.cell.0;
        let honest = self.honest.get(cell as usize).copied().unwrap_or(false);
        match &observed.observation {
            CellObservation::MarketSubmitted { tx, kind } => {
                return Some((celluler_core::identity::hex(tx), tx_market(kind)));
            }
            CellObservation::MarketRound { round, report }
                if honest && !self.rounds.contains_key(round) =>
            {
                let record = self.round_record(*round, report);
                self.rounds.insert(*round, record);
            }
            CellObservation::LedgerViolation {
                round,
                invariant,
                detail,
            } => self.violations.push(LedgerViolationRecord {
                cell,
                round: u64::from(*round),
                time_ns: observed.time_ns,
                invariant: invariant.to_string(),
                detail: detail.clone(),
            }),
            _ => {}
        }
        None
    }

    fn round_record(&self, round: u32, report: &MarketRoundReport) -> MarketRoundRecord {
        MarketRoundRecord {
            round: u64::from(round),
            time_ns: report.consensus_time_ns,
            books: report
                .books
                .iter()
                .map(|top| BookTop {
                    token: top.token,
                    best_bid: top.best_bid,
                    best_ask: top.best_ask,
                    bid_depth: top.bid_depth,
                    ask_depth: top.ask_depth,
                })
                .collect(),
            trades: report
                .trades
                .iter()
                .map(|trade| {
                    let fill = &trade.fill;
                    let (buyer, seller) = match fill.taker_side {
                        celluler_core::book::Side::Bid => (fill.taker_owner, fill.maker_owner),
                        celluler_core::book::Side::Ask => (fill.maker_owner, fill.taker_owner),
                    };
                    TradeRecord {
                        token: trade.token,
                        price: fill.price,
                        quantity: fill.quantity,
                        buyer: self.cell_of(&buyer),
                        seller: self.cell_of(&seller),
                        taker_side: side_label(fill.taker_side).to_string(),
                        maker_order: fill.maker,
                        taker_order: fill.taker,
                    }
                })
                .collect(),
            orders: report
                .orders
                .iter()
                .map(|order| OrderRecord {
                    id: order.id,
                    token: order.token,
                    owner: self.cell_of(&order.owner),
                    side: side_label(order.side).to_string(),
                    price: order.price,
                    quantity: order.quantity,
                    tx: celluler_core::identity::hex(&order.tx),
                    filled: order.filled,
                    resting: order.resting,
                    cancelled: order.cancelled,
                })
                .collect(),
            leases: report
                .leases
                .iter()
                .map(|event| LeaseEventRecord {
                    lease: event.lease,
                    market: event.market.label().to_string(),
                    provider: self.cell_of(&event.provider),
                    consumer: self.cell_of(&event.consumer),
                    event: event.kind.label().to_string(),
                    amount: event.amount,
                    reason: match event.kind {
                        celluler_core::market::LeaseEventKind::Slashed { reason } => {
                            Some(reason.to_string())
                        }
                        _ => None,
                    },
                })
                .collect(),
            capacity: report
                .capacity
                .iter()
                .map(|capacity| CapacityRecord {
                    market: capacity.market.label().to_string(),
                    offered: capacity.offered,
                    leased: capacity.leased,
                })
                .collect(),
            fee_payout: report.fee_payout,
            rejected: report
                .refused
                .iter()
                .map(|refused| RejectedRecord {
                    account: self.cell_of(&refused.sender),
                    kind: refused.kind.to_string(),
                    reason: refused.reason.to_string(),
                })
                .collect(),
        }
    }

    /// The record: rounds, violations, and every agent's standing in
    /// `ledger_cell`'s ledger (a live honest cell), or `None` when the
    /// scenario has no markets and no market activity happened.
    pub fn finish(
        self,
        scenario: &Scenario,
        agents: Option<&AgentPool>,
        ledger_cell: Option<&Cell>,
    ) -> Option<MarketRecord> {
        // A run without markets has no markets block (its rounds' reports
        // carry only the fee payout and refused transfers).
        let traded = self.rounds.values().any(|round| {
            !round.orders.is_empty() || !round.trades.is_empty() || !round.leases.is_empty()
        });
        if scenario.markets.is_none()
            && scenario.agents.is_empty()
            && !traded
            && self.violations.is_empty()
        {
            return None;
        }
        let markets = scenario.markets.clone().unwrap_or_default();
        let ledger = ledger_cell.map(Cell::ledger);
        let fee_min = scenario.consensus.min_fee;
        let byzantine = &scenario.byzantine.cells;
        let mut rejected: BTreeMap<u32, BTreeMap<String, u64>> = BTreeMap::new();
        for round in self.rounds.values() {
            for refused in &round.rejected {
                if let Some(account) = refused.account {
                    *rejected
                        .entry(account)
                        .or_default()
                        .entry(refused.reason.clone())
                        .or_default() += 1;
                }
            }
        }
        let agents = agents
            .map(|pool| {
                pool.agents()
                    .iter()
                    .zip(pool.activity())
                    .map(|(agent, activity)| {
                        let home = agent.home();
                        let id = pool.members()[home as usize];
                        let tokens = markets.tokens.len() as u16;
                        let (final_prana, final_tokens, fees_paid) = match &ledger {
                            Some(ledger) => (
                                ledger.prana_owned(&id),
                                (0..tokens).map(|t| ledger.tokens_owned(&id, t)).collect(),
                                ledger.next_nonce(&id).saturating_mul(fee_min),
                            ),
                            None => (0, vec![0; usize::from(tokens)], 0),
                        };
                        AgentRecord {
                            cell: home,
                            kind: agent.kind().name().to_string(),
                            byzantine: byzantine.contains(&home),
                            initial_prana: scenario.genesis_prana(home),
                            initial_tokens: scenario.genesis_tokens(home),
                            final_prana,
                            final_tokens,
                            fees_paid,
                            txs_submitted: activity.txs_submitted,
                            orders_submitted: activity.orders_submitted,
                            rejected: rejected.remove(&home).unwrap_or_default(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(MarketRecord {
            tokens: markets.tokens,
            fundamental: markets.fundamental,
            agents,
            rounds: self.rounds.into_values().collect(),
            violations: self.violations,
            fee_pool_final: ledger.as_ref().map_or(0, |l| l.fee_pool()),
            burned_final: ledger.as_ref().map_or(0, |l| l.burned()),
        })
    }
}

fn tx_market(kind: &TxKind) -> TxMarket {
    let (token, side, price, quantity) = match kind {
        TxKind::Order {
            token,
            side,
            price,
            quantity,
        } => (
            Some(*token),
            Some(side_label(*side).to_string()),
            *price,
            Some(*quantity),
        ),
        TxKind::Cancel { token, .. } => (Some(*token), None, None, None),
        TxKind::ComputeOffer {
            units,
            price_per_unit,
            ..
        } => (None, None, Some(*price_per_unit), Some(*units)),
        TxKind::StorageOffer {
            blocks,
            price_per_block,
            ..
        } => (None, None, Some(*price_per_block), Some(*blocks)),
        TxKind::Lease { amount, .. } => (None, None, None, Some(*amount)),
        _ => (None, None, None, None),
    };
    TxMarket {
        kind: kind.label().to_string(),
        token,
        side,
        price,
        quantity,
    }
}
