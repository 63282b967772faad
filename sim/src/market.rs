//! Market agents in a world: the [`AgentPool`] wakes each agent
//! ([`crate::agents::Agent`]) at its own Poisson times, shows it only what
//! its home cell knows ([`CellMarketView`]: that cell's ordered ledger, its
//! own orders, the transactions the cell has received and not yet seen
//! ordered, the EXEC requests it is waiting on), and turns what it decides
//! into commands its cell signs and submits as real TXs through consensus
//! (`CellCommand::Market`) or direct EXEC requests.
//!
//! What the pool knows of transactions comes from the cells' own
//! observations: `MarketSubmitted` names a market TX's content by hash at
//! the cell that signed it, `TxReceived` says a cell has its bytes, and
//! `TxOrdered` that the cell saw it ordered. An agent is shown another
//! account's pending order only once its home cell has received it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use celluler_core::book::Side;
use celluler_core::cell::api::CellNode;
use celluler_core::cell::{Cell, CellCommand, CellObservation};
use celluler_core::identity::CellId;
use celluler_core::message::{ExecTask, TxKind};
use celluler_core::node::CellIndex;
use celluler_core::time::TimeNs;

use crate::agents::{
    Agent, AgentAction, LeaseView, MarketView, OfferView, PendingOrder, RestingOrder,
};
use crate::engine::Observed;
use crate::scenario::{AgentKind, LeaseMarket};

/// PRANA an agent keeps back from what it may spend, for the fees of the
/// actions of one wake (an agent rarely takes more than this many).
const FEE_RESERVE_ACTIONS: u64 = 4;

/// Domain separation of a storage lease's data seed.
const DATA_SEED_CONTEXT: &str = "celluler 2026-12 agent storage data seed";

fn core_market(market: LeaseMarket) -> celluler_core::market::LeaseMarket {
    match market {
        LeaseMarket::Compute => celluler_core::market::LeaseMarket::Compute,
        LeaseMarket::Storage => celluler_core::market::LeaseMarket::Storage,
    }
}

fn scenario_market(market: celluler_core::market::LeaseMarket) -> LeaseMarket {
    match market {
        celluler_core::market::LeaseMarket::Compute => LeaseMarket::Compute,
        celluler_core::market::LeaseMarket::Storage => LeaseMarket::Storage,
    }
}

/// What one agent did, for its report row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentActivity {
    pub txs_submitted: u64,
    pub orders_submitted: u64,
    pub execs_sent: u64,
    /// Wakes that found the home cell down.
    pub wakes_down: u64,
}

/// What the pool keeps per cell that hosts an agent.
#[derive(Debug, Default)]
struct HomeKnowledge {
    /// This cell's own market TXs (its agent's, its storage and fraud
    /// proofs) it signed and has not yet seen ordered.
    own_pending: BTreeSet<[u8; 32]>,
    /// Other accounts' market orders this cell received and has not yet
    /// seen ordered.
    received_orders: BTreeSet<[u8; 32]>,
    /// EXEC requests waiting for an answer, per provider: send times.
    exec_waiting: BTreeMap<u32, VecDeque<TimeNs>>,
}

/// Every agent of a world (module docs).
pub struct AgentPool {
    seed: u64,
    agents: Vec<Agent>,
    activity: Vec<AgentActivity>,
    /// By cell: the index in `agents` of the agent it hosts.
    host: BTreeMap<u32, usize>,
    knowledge: BTreeMap<u32, HomeKnowledge>,
    /// Every member's cell id, by index.
    members: Vec<CellId>,
    /// Cell index by id (lookup only).
    index_of: BTreeMap<CellId, u32>,
    fundamental: Vec<Option<u64>>,
    fee_min: u64,
    /// Market TXs by hash: who signed them, what they ask, and how many
    /// home cells have seen them ordered. Forgotten once every home has
    /// (none can then learn them as pending), so memory follows the TXs
    /// in flight, not the run's length.
    market_txs: BTreeMap<[u8; 32], (u32, TxKind, u32)>,
    /// Storage leases asked for so far (distinct data per lease).
    leases_asked: u64,
    execs_sent: u64,
}

impl AgentPool {
    pub fn new(
        seed: u64,
        agents: Vec<Agent>,
        members: Vec<CellId>,
        fundamental: Vec<Option<u64>>,
        fee_min: u64,
    ) -> AgentPool {
        let host = agents
            .iter()
            .enumerate()
            .map(|(position, agent)| (agent.home(), position))
            .collect::<BTreeMap<_, _>>();
        let knowledge = host
            .keys()
            .map(|&cell| (cell, HomeKnowledge::default()))
            .collect();
        let index_of = members
            .iter()
            .enumerate()
            .map(|(index, id)| (*id, index as u32))
            .collect();
        AgentPool {
            seed,
            activity: vec![AgentActivity::default(); agents.len()],
            agents,
            host,
            knowledge,
            members,
            index_of,
            fundamental,
            fee_min,
            market_txs: BTreeMap::new(),
            leases_asked: 0,
            execs_sent: 0,
        }
    }

    pub fn agents(&self) -> &[Agent] {
        &self.agents
    }

    pub fn activity(&self) -> &[AgentActivity] {
        &self.activity
    }

    /// The earliest wake of any agent.
    pub fn next_wakeup(&self) -> Option<TimeNs> {
        self.agents.iter().map(Agent::next_wake_ns).min()
    }

    /// What cells reported: TXs signed, received, ordered; EXEC answers.
    pub fn observe(&mut self, observed: &Observed<CellObservation>) {
        let cell = observed.cell.0;
        match &observed.observation {
            CellObservation::MarketSubmitted { tx, kind } => {
                self.market_txs
                    .insert(*tx, (cell, kind.as_ref().clone(), 0));
                if let Some(home) = self.knowledge.get_mut(&cell) {
                    home.own_pending.insert(*tx);
                }
            }
            CellObservation::TxReceived { tx } => {
                if let Some(home) = self.knowledge.get_mut(&cell)
                    && let Some((sender, TxKind::Order { .. }, _)) = self.market_txs.get(tx)
                    && *sender != cell
                {
                    home.received_orders.insert(*tx);
                }
            }
            CellObservation::TxOrdered { tx, .. } => {
                if let Some(home) = self.knowledge.get_mut(&cell) {
                    home.own_pending.remove(tx);
                    home.received_orders.remove(tx);
                    let homes = self.knowledge.len() as u32;
                    if let Some(entry) = self.market_txs.get_mut(tx) {
                        entry.2 += 1;
                        if entry.2 >= homes {
                            self.market_txs.remove(tx);
                        }
                    }
                }
            }
            CellObservation::ExecCompleted { .. } => {
                // Answers come in request order per provider; a cell that
                // leases from one provider at a time pops that one.
                if let Some(home) = self.knowledge.get_mut(&cell)
                    && let Some(waiting) = home.exec_waiting.values_mut().find(|q| !q.is_empty())
                {
                    waiting.pop_front();
                }
            }
            _ => {}
        }
    }

    /// Wake every agent due by `now`, in index order. `node(cell)` is the
    /// home cell, or `None` while it is down (the agent then sleeps until
    /// its next wake). Returns the commands to hand cells at `now`.
    pub fn wake<'a, N: CellNode + 'a>(
        &mut self,
        now: TimeNs,
        node: impl Fn(CellIndex) -> Option<&'a N>,
    ) -> Vec<(CellIndex, CellCommand)> {
        let mut commands = Vec::new();
        for position in 0..self.agents.len() {
            if self.agents[position].next_wake_ns() > now {
                continue;
            }
            let home = self.agents[position].home();
            let actions = match node(CellIndex(home)) {
                Some(node) => {
                    let view = CellMarketView {
                        pool: self,
                        cell: node.cell(),
                        home,
                        now,
                    };
                    let mut agent = self.agents[position].clone();
                    let actions = agent.wake(&view);
                    self.agents[position] = agent;
                    actions
                }
                None => {
                    self.activity[position].wakes_down += 1;
                    self.agents[position].sleep(now);
                    continue;
                }
            };
            for action in actions {
                if let Some(command) = self.command(position, home, now, action) {
                    commands.push((CellIndex(home), command));
                }
            }
        }
        commands
    }

    fn command(
        &mut self,
        position: usize,
        home: u32,
        now: TimeNs,
        action: AgentAction,
    ) -> Option<CellCommand> {
        let activity = &mut self.activity[position];
        let kind = match action {
            AgentAction::Order {
                token,
                side,
                price,
                quantity,
            } => {
                activity.orders_submitted += 1;
                TxKind::Order {
                    token,
                    side,
                    price,
                    quantity,
                }
            }
            AgentAction::Cancel { token, order } => TxKind::Cancel { token, order },
            AgentAction::ComputeOffer {
                units,
                price_per_unit,
                collateral,
            } => TxKind::ComputeOffer {
                units,
                price_per_unit,
                collateral,
            },
            AgentAction::StorageOffer {
                blocks,
                price_per_block,
                collateral,
            } => TxKind::StorageOffer {
                blocks,
                price_per_block,
                collateral,
            },
            AgentAction::Lease {
                offer,
                amount,
                intervals,
                ..
            } => {
                self.leases_asked += 1;
                let data_seed = *blake3::Hasher::new_derive_key(DATA_SEED_CONTEXT)
                    .update(&self.seed.to_le_bytes())
                    .update(&self.leases_asked.to_le_bytes())
                    .finalize()
                    .as_bytes();
                TxKind::Lease {
                    offer,
                    amount,
                    intervals,
                    data_seed,
                }
            }
            AgentAction::EndLease { lease } => TxKind::EndLease { lease },
            AgentAction::Exec { provider, work, .. } => {
                activity.execs_sent += 1;
                self.execs_sent += 1;
                let mut input = self.seed.to_le_bytes().to_vec();
                input.extend(self.execs_sent.to_le_bytes());
                if let Some(home) = self.knowledge.get_mut(&home) {
                    home.exec_waiting
                        .entry(provider)
                        .or_default()
                        .push_back(now);
                }
                return Some(CellCommand::Exec {
                    to: CellIndex(provider),
                    task: ExecTask::HashChain {
                        input,
                        iterations: work,
                    },
                    max_payment: 0,
                });
            }
        };
        activity.txs_submitted += 1;
        Some(CellCommand::Market { kind })
    }

    fn cell_index(&self, id: &CellId) -> u32 {
        self.index_of.get(id).copied().unwrap_or(u32::MAX)
    }

    /// The agent cell `cell` hosts, if any.
    pub fn agent_at(&self, cell: u32) -> Option<(&Agent, &AgentActivity)> {
        let &position = self.host.get(&cell)?;
        Some((&self.agents[position], &self.activity[position]))
    }

    /// Every agent's kind and home, in index order.
    pub fn homes(&self) -> impl Iterator<Item = (u32, AgentKind)> + '_ {
        self.agents.iter().map(|agent| (agent.home(), agent.kind()))
    }

    /// Market TXs whose content the pool still keeps (some home cell has
    /// not seen them ordered).
    pub fn tracked_market_txs(&self) -> usize {
        self.market_txs.len()
    }

    pub fn members(&self) -> &[CellId] {
        &self.members
    }
}

/// One agent's window on its home cell (module docs).
pub struct CellMarketView<'a> {
    pool: &'a AgentPool,
    cell: &'a Cell,
    home: u32,
    now: TimeNs,
}

impl CellMarketView<'_> {
    fn me(&self) -> CellId {
        self.pool.members[self.home as usize]
    }

    fn offer_view(&self, offer: &celluler_core::market::Offer) -> OfferView {
        OfferView {
            id: offer.id,
            provider: self.pool.cell_index(&offer.provider),
            free: offer.free(),
            price: offer.price,
            collateral: offer.collateral,
        }
    }
}

impl MarketView for CellMarketView<'_> {
    fn now_ns(&self) -> u64 {
        self.now
    }

    fn home(&self) -> u32 {
        self.home
    }

    fn token_count(&self) -> u16 {
        self.cell.ledger().token_count()
    }

    fn best_bid(&self, token: u16) -> Option<u64> {
        self.cell.ledger().book(token)?.best_bid()
    }

    fn best_ask(&self, token: u16) -> Option<u64> {
        self.cell.ledger().book(token)?.best_ask()
    }

    fn last_trade_price(&self, token: u16) -> Option<u64> {
        self.cell.ledger().last_trade_price(token)
    }

    fn fundamental(&self, token: u16) -> Option<u64> {
        self.pool
            .fundamental
            .get(usize::from(token))
            .copied()
            .flatten()
    }

    fn prana_free(&self) -> u64 {
        let reserve = self.pool.fee_min.saturating_mul(FEE_RESERVE_ACTIONS);
        self.cell
            .ledger()
            .balance(&self.me())
            .unwrap_or(0)
            .saturating_sub(reserve)
    }

    fn token_free(&self, token: u16) -> u64 {
        self.cell.ledger().token_balance(&self.me(), token)
    }

    fn my_orders(&self, token: u16) -> Vec<RestingOrder> {
        let me = self.me();
        let ledger = self.cell.ledger();
        let Some(book) = ledger.book(token) else {
            return Vec::new();
        };
        let mut orders: Vec<RestingOrder> = book
            .resting()
            .filter(|(.., owner, _)| *owner == me)
            .map(|(id, side, price, _, quantity)| RestingOrder {
                id,
                side,
                price,
                quantity,
            })
            .collect();
        orders.sort_by_key(|order| order.id);
        orders
    }

    fn offers(&self, market: LeaseMarket) -> Vec<OfferView> {
        let market = core_market(market);
        self.cell
            .ledger()
            .offers()
            .filter(|offer| offer.market == market && offer.open)
            .map(|offer| self.offer_view(offer))
            .collect()
    }

    fn my_offers(&self, market: LeaseMarket) -> Vec<OfferView> {
        let (market, me) = (core_market(market), self.me());
        self.cell
            .ledger()
            .offers()
            .filter(|offer| offer.market == market && offer.open && offer.provider == me)
            .map(|offer| self.offer_view(offer))
            .collect()
    }

    fn my_leases(&self) -> Vec<LeaseView> {
        let me = self.me();
        self.cell
            .ledger()
            .leases()
            .filter(|lease| lease.live && (lease.consumer == me || lease.provider == me))
            .map(|lease| LeaseView {
                id: lease.id,
                market: scenario_market(lease.market),
                provider: self.pool.cell_index(&lease.provider),
                consumer: self.pool.cell_index(&lease.consumer),
                amount: lease.amount,
            })
            .collect()
    }

    fn trust_ppm(&self, cell: u32) -> u32 {
        let Some(id) = self.pool.members.get(cell as usize) else {
            return 0;
        };
        self.cell.trust_score_ppm(*id).min(1_000_000) as u32
    }

    fn pending_orders(&self) -> Vec<PendingOrder> {
        let Some(home) = self.pool.knowledge.get(&self.home) else {
            return Vec::new();
        };
        home.received_orders
            .iter()
            .filter_map(|tx| match self.pool.market_txs.get(tx)? {
                (
                    sender,
                    TxKind::Order {
                        token,
                        side,
                        price,
                        quantity,
                    },
                    _,
                ) => Some(PendingOrder {
                    sender: *sender,
                    token: *token,
                    side: *side,
                    price: *price,
                    quantity: *quantity,
                }),
                _ => None,
            })
            .collect()
    }

    fn pending_own(&self) -> u32 {
        self.pool
            .knowledge
            .get(&self.home)
            .map_or(0, |home| home.own_pending.len() as u32)
    }

    fn exec_unanswered_ns(&self, provider: u32) -> Option<u64> {
        let waiting = self
            .pool
            .knowledge
            .get(&self.home)?
            .exec_waiting
            .get(&provider)?;
        waiting.front().map(|&sent| self.now.saturating_sub(sent))
    }
}

/// `Side` as the reports name it.
pub fn side_label(side: Side) -> &'static str {
    match side {
        Side::Bid => "bid",
        Side::Ask => "ask",
    }
}
