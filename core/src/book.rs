//! A deterministic limit order book: the exchange's matching engine (issue
//! #11), applied in consensus order, so consensus order is its only clock.
//!
//! **Price-time priority.** A bid matches the lowest ask at or below its
//! price, an ask the highest bid at or above it; within a price, the order
//! that arrived first (the lower sequence number) fills first. A trade
//! happens at the resting (maker) order's price. A limit order's unfilled
//! rest stays in the book; a market order takes what the book has and its
//! rest is cancelled, never resting. An order may trade against its owner's
//! own resting orders (no self-trade prevention: the ledger settles both
//! legs to one account).
//!
//! **Invariants** ([`OrderBook::check`]): after every operation the book is
//! never crossed (best bid < best ask), every resting order has quantity
//! above 0, and the price levels and the order index agree. Every order's
//! quantity is conserved: filled + resting + cancelled = submitted.
//!
//! Prices are integer PRANA per unit and quantities integer units: nothing
//! here is a float. Iteration is over `BTreeMap`s in price-then-sequence
//! order, never hash order.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::identity::CellId;

/// An order's identity: its sequence number in the book's arrival order.
pub type OrderId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Bid,
    Ask,
}

/// What an order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// Trade at `price` or better; the rest rests.
    Limit { price: u64 },
    /// Trade at any price the book offers; the rest is cancelled.
    Market,
}

/// One trade: `quantity` units at the maker's `price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub maker: OrderId,
    pub maker_owner: CellId,
    pub taker: OrderId,
    pub taker_owner: CellId,
    /// The taker's side (a bid taker buys).
    pub taker_side: Side,
    pub price: u64,
    pub quantity: u64,
}

/// What submitting an order did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub id: OrderId,
    /// In the order they happened.
    pub fills: Vec<Fill>,
    /// Left in the book (a limit order's rest).
    pub resting: u64,
    /// Dropped (a market order's rest).
    pub cancelled: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    #[error("an order needs a quantity above 0")]
    ZeroQuantity,
    #[error("a limit order needs a price above 0")]
    ZeroPrice,
    #[error("no resting order {0}")]
    UnknownOrder(OrderId),
    #[error("order {0} belongs to another account")]
    NotOwner(OrderId),
}

/// A broken invariant of the book ([`OrderBook::check`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookViolation {
    #[error("the book is crossed: best bid {bid} ≥ best ask {ask}")]
    Crossed { bid: u64, ask: u64 },
    #[error("order {0} rests with quantity 0")]
    EmptyOrder(OrderId),
    #[error("order {0} is in the index and the levels differently")]
    IndexMismatch(OrderId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resting {
    owner: CellId,
    quantity: u64,
}

/// The book of one market (module docs).
#[derive(Debug, Clone, Default)]
pub struct OrderBook {
    /// Bids by (highest price first, then arrival).
    bids: BTreeMap<(Reverse<u64>, OrderId), Resting>,
    /// Asks by (lowest price first, then arrival).
    asks: BTreeMap<(u64, OrderId), Resting>,
    /// Resting order → its side and price.
    index: BTreeMap<OrderId, (Side, u64)>,
    next_id: OrderId,
}

impl OrderBook {
    pub fn new() -> OrderBook {
        OrderBook::default()
    }

    pub fn best_bid(&self) -> Option<u64> {
        self.bids.keys().next().map(|(Reverse(price), _)| *price)
    }

    pub fn best_ask(&self) -> Option<u64> {
        self.asks.keys().next().map(|(price, _)| *price)
    }

    /// Best ask − best bid, when both sides have orders.
    pub fn spread(&self) -> Option<u64> {
        Some(self.best_ask()?.saturating_sub(self.best_bid()?))
    }

    /// Units resting on `side`.
    pub fn depth(&self, side: Side) -> u64 {
        match side {
            Side::Bid => self.bids.values().map(|order| order.quantity).sum(),
            Side::Ask => self.asks.values().map(|order| order.quantity).sum(),
        }
    }

    /// A resting order's side, price, owner and remaining quantity.
    pub fn order(&self, id: OrderId) -> Option<(Side, u64, CellId, u64)> {
        let &(side, price) = self.index.get(&id)?;
        let resting = match side {
            Side::Bid => self.bids.get(&(Reverse(price), id)),
            Side::Ask => self.asks.get(&(price, id)),
        }?;
        Some((side, price, resting.owner, resting.quantity))
    }

    /// What buying `quantity` units at market would take from the book
    /// now: (units available, PRANA they cost at the makers' prices). The
    /// ledger checks a market bid's budget with it before matching.
    pub fn market_buy_cost(&self, quantity: u64) -> (u64, u128) {
        let mut units = 0u64;
        let mut cost = 0u128;
        for (&(price, _), resting) in &self.asks {
            if units == quantity {
                break;
            }
            let take = resting.quantity.min(quantity - units);
            units += take;
            cost += u128::from(price) * u128::from(take);
        }
        (units, cost)
    }

    /// Every resting order as `(id, side, price, owner, quantity)`: bids
    /// best first, then asks best first (price-time order).
    pub fn resting(&self) -> impl Iterator<Item = (OrderId, Side, u64, CellId, u64)> + '_ {
        self.bids
            .iter()
            .map(|(&(Reverse(price), id), order)| {
                (id, Side::Bid, price, order.owner, order.quantity)
            })
            .chain(
                self.asks.iter().map(|(&(price, id), order)| {
                    (id, Side::Ask, price, order.owner, order.quantity)
                }),
            )
    }

    /// PRANA locked in resting bids (Σ price × quantity) and units locked
    /// in resting asks: what the ledger holds in escrow for this book.
    pub fn locked(&self) -> (u128, u128) {
        let prana = self
            .bids
            .iter()
            .map(|(&(Reverse(price), _), order)| u128::from(price) * u128::from(order.quantity))
            .sum();
        let units = self
            .asks
            .values()
            .map(|order| u128::from(order.quantity))
            .sum();
        (prana, units)
    }

    /// The id the next submitted order gets.
    pub fn next_order_id(&self) -> OrderId {
        self.next_id
    }

    /// Match `quantity` units for `owner` on `side`, then rest or cancel
    /// the rest (module docs).
    pub fn submit(
        &mut self,
        owner: CellId,
        side: Side,
        kind: OrderKind,
        quantity: u64,
    ) -> Result<Submitted, BookError> {
        if quantity == 0 {
            return Err(BookError::ZeroQuantity);
        }
        if kind == (OrderKind::Limit { price: 0 }) {
            return Err(BookError::ZeroPrice);
        }
        let id = self.next_id;
        self.next_id += 1;
        let limit = match kind {
            OrderKind::Limit { price } => Some(price),
            OrderKind::Market => None,
        };
        let mut remaining = quantity;
        let mut fills = Vec::new();
        while remaining > 0 {
            // The best opposite order, if it crosses the taker's limit.
            let best = match side {
                Side::Bid => self
                    .asks
                    .iter()
                    .next()
                    .filter(|((price, _), _)| limit.is_none_or(|limit| *price <= limit))
                    .map(|(&(price, maker), &resting)| (price, maker, resting)),
                Side::Ask => self
                    .bids
                    .iter()
                    .next()
                    .filter(|((Reverse(price), _), _)| limit.is_none_or(|limit| *price >= limit))
                    .map(|(&(Reverse(price), maker), &resting)| (price, maker, resting)),
            };
            let Some((price, maker, resting)) = best else {
                break;
            };
            let traded = remaining.min(resting.quantity);
            remaining -= traded;
            fills.push(Fill {
                maker,
                maker_owner: resting.owner,
                taker: id,
                taker_owner: owner,
                taker_side: side,
                price,
                quantity: traded,
            });
            let left = resting.quantity - traded;
            match side {
                Side::Bid if left == 0 => {
                    self.asks.remove(&(price, maker));
                }
                Side::Bid => {
                    self.asks
                        .get_mut(&(price, maker))
                        .expect("the best ask")
                        .quantity = left;
                }
                Side::Ask if left == 0 => {
                    self.bids.remove(&(Reverse(price), maker));
                }
                Side::Ask => {
                    self.bids
                        .get_mut(&(Reverse(price), maker))
                        .expect("the best bid")
                        .quantity = left;
                }
            }
            if left == 0 {
                self.index.remove(&maker);
            }
        }
        let (resting, cancelled) = match limit {
            Some(price) if remaining > 0 => {
                let order = Resting {
                    owner,
                    quantity: remaining,
                };
                match side {
                    Side::Bid => self.bids.insert((Reverse(price), id), order),
                    Side::Ask => self.asks.insert((price, id), order),
                };
                self.index.insert(id, (side, price));
                (remaining, 0)
            }
            _ => (0, remaining),
        };
        Ok(Submitted {
            id,
            fills,
            resting,
            cancelled,
        })
    }

    /// Withdraw `owner`'s resting order `id`: the quantity it had left.
    pub fn cancel(&mut self, owner: CellId, id: OrderId) -> Result<u64, BookError> {
        let (side, price, resting_owner, quantity) =
            self.order(id).ok_or(BookError::UnknownOrder(id))?;
        if resting_owner != owner {
            return Err(BookError::NotOwner(id));
        }
        match side {
            Side::Bid => self.bids.remove(&(Reverse(price), id)),
            Side::Ask => self.asks.remove(&(price, id)),
        };
        self.index.remove(&id);
        Ok(quantity)
    }

    /// The book's invariants (module docs); the first broken one.
    pub fn check(&self) -> Result<(), BookViolation> {
        if let (Some(bid), Some(ask)) = (self.best_bid(), self.best_ask())
            && bid >= ask
        {
            return Err(BookViolation::Crossed { bid, ask });
        }
        let levels = self
            .bids
            .iter()
            .map(|(&(Reverse(price), id), order)| (id, Side::Bid, price, order))
            .chain(
                self.asks
                    .iter()
                    .map(|(&(price, id), order)| (id, Side::Ask, price, order)),
            );
        let mut count = 0;
        for (id, side, price, order) in levels {
            count += 1;
            if order.quantity == 0 {
                return Err(BookViolation::EmptyOrder(id));
            }
            if self.index.get(&id) != Some(&(side, price)) {
                return Err(BookViolation::IndexMismatch(id));
            }
        }
        if count != self.index.len() {
            let stray = self
                .index
                .keys()
                .find(|id| self.order(**id).is_none())
                .copied()
                .unwrap_or(0);
            return Err(BookViolation::IndexMismatch(stray));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn account(n: u8) -> CellId {
        CellId([n; 32])
    }

    fn limit(price: u64) -> OrderKind {
        OrderKind::Limit { price }
    }

    #[test]
    fn price_then_time_priority_at_the_makers_price() {
        let mut book = OrderBook::new();
        let a = book.submit(account(1), Side::Ask, limit(101), 5).unwrap();
        let b = book.submit(account(2), Side::Ask, limit(100), 5).unwrap();
        let c = book.submit(account(3), Side::Ask, limit(100), 5).unwrap();
        assert_eq!((book.best_bid(), book.best_ask()), (None, Some(100)));
        // A bid for 12 at 101: b then c (100, by arrival), then 2 of a (101).
        let taker = book.submit(account(9), Side::Bid, limit(101), 12).unwrap();
        let fills: Vec<(OrderId, u64, u64)> = taker
            .fills
            .iter()
            .map(|fill| (fill.maker, fill.price, fill.quantity))
            .collect();
        assert_eq!(fills, vec![(b.id, 100, 5), (c.id, 100, 5), (a.id, 101, 2)]);
        assert_eq!((taker.resting, taker.cancelled), (0, 0));
        assert_eq!(book.order(a.id), Some((Side::Ask, 101, account(1), 3)));
        assert_eq!(book.order(b.id), None);
        book.check().unwrap();
    }

    #[test]
    fn a_limit_rests_its_rest_and_a_market_order_drops_it() {
        let mut book = OrderBook::new();
        book.submit(account(1), Side::Bid, limit(90), 4).unwrap();
        // Ask 10 at 95: does not cross, rests whole.
        let ask = book.submit(account(2), Side::Ask, limit(95), 10).unwrap();
        assert_eq!((ask.fills.len(), ask.resting), (0, 10));
        assert_eq!(book.spread(), Some(5));
        // Market sell 6: takes the 4 bid units at 90, the rest is dropped.
        let sell = book
            .submit(account(3), Side::Ask, OrderKind::Market, 6)
            .unwrap();
        assert_eq!(sell.fills.len(), 1);
        assert_eq!((sell.fills[0].price, sell.fills[0].quantity), (90, 4));
        assert_eq!((sell.resting, sell.cancelled), (0, 2));
        assert_eq!(book.best_bid(), None);
        // Cancel: only by the owner, once.
        assert_eq!(
            book.cancel(account(1), ask.id),
            Err(BookError::NotOwner(ask.id))
        );
        assert_eq!(book.cancel(account(2), ask.id), Ok(10));
        assert_eq!(
            book.cancel(account(2), ask.id),
            Err(BookError::UnknownOrder(ask.id))
        );
        assert_eq!(book.depth(Side::Ask), 0);
        assert_eq!(
            book.submit(account(1), Side::Bid, limit(1), 0),
            Err(BookError::ZeroQuantity)
        );
        assert_eq!(
            book.submit(account(1), Side::Bid, limit(0), 1),
            Err(BookError::ZeroPrice)
        );
        book.check().unwrap();
    }

    #[test]
    fn the_checker_fires_on_a_crossed_or_inconsistent_book() {
        let mut book = OrderBook::new();
        let bid = book.submit(account(1), Side::Bid, limit(100), 1).unwrap();
        book.submit(account(2), Side::Ask, limit(110), 1).unwrap();
        book.check().unwrap();
        // Planted: an ask below the best bid, inserted behind matching's back.
        let mut crossed = book.clone();
        crossed.asks.insert(
            (99, 77),
            Resting {
                owner: account(3),
                quantity: 1,
            },
        );
        crossed.index.insert(77, (Side::Ask, 99));
        assert_eq!(
            crossed.check(),
            Err(BookViolation::Crossed { bid: 100, ask: 99 })
        );
        let mut orphan = book.clone();
        orphan.index.remove(&bid.id);
        assert_eq!(orphan.check(), Err(BookViolation::IndexMismatch(bid.id)));
        let mut empty = book.clone();
        empty
            .bids
            .get_mut(&(Reverse(100), bid.id))
            .unwrap()
            .quantity = 0;
        assert_eq!(empty.check(), Err(BookViolation::EmptyOrder(bid.id)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Submit {
            owner: u8,
            bid: bool,
            market: bool,
            price: u64,
            quantity: u64,
        },
        Cancel {
            owner: u8,
            pick: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..4, any::<bool>(), prop::bool::weighted(0.2), 90u64..110, 1u64..20).prop_map(
                |(owner, bid, market, price, quantity)| Op::Submit { owner, bid, market, price, quantity }
            ),
            1 => (0u8..4, 0usize..64).prop_map(|(owner, pick)| Op::Cancel { owner, pick }),
        ]
    }

    proptest! {
        /// Random order streams: the book is never crossed, and every
        /// order's units are conserved — filled + resting + cancelled =
        /// submitted, and the two sides of every fill are equal.
        #[test]
        fn random_streams_never_cross_and_conserve_units(ops in prop::collection::vec(op(), 1..200)) {
            let mut book = OrderBook::new();
            // Per order: submitted, filled (as maker or taker), cancelled.
            let mut ledger: BTreeMap<OrderId, (u64, u64, u64)> = BTreeMap::new();
            let mut ids: Vec<OrderId> = Vec::new();
            for op in ops {
                match op {
                    Op::Submit { owner, bid, market, price, quantity } => {
                        let side = if bid { Side::Bid } else { Side::Ask };
                        let kind = if market { OrderKind::Market } else { limit(price) };
                        let done = book.submit(account(owner), side, kind, quantity).unwrap();
                        let mut taken = 0;
                        for fill in &done.fills {
                            prop_assert!(fill.quantity > 0);
                            prop_assert_ne!(fill.maker, fill.taker);
                            ledger.get_mut(&fill.maker).expect("a known maker").1 += fill.quantity;
                            taken += fill.quantity;
                            if let OrderKind::Limit { price: limit_price } = kind {
                                // Never worse than the taker's limit.
                                let within = if bid { fill.price <= limit_price } else { fill.price >= limit_price };
                                prop_assert!(within, "fill at {} beyond the limit {}", fill.price, limit_price);
                            }
                        }
                        prop_assert_eq!(taken + done.resting + done.cancelled, quantity);
                        ledger.insert(done.id, (quantity, taken, done.cancelled));
                        ids.push(done.id);
                    }
                    Op::Cancel { owner, pick } => {
                        if ids.is_empty() { continue; }
                        let id = ids[pick % ids.len()];
                        if let Ok(left) = book.cancel(account(owner), id) {
                            ledger.get_mut(&id).unwrap().2 += left;
                        }
                    }
                }
                prop_assert_eq!(book.check(), Ok(()));
            }
            for (&id, &(submitted, filled, cancelled)) in &ledger {
                let resting = book.order(id).map_or(0, |(_, _, _, quantity)| quantity);
                prop_assert_eq!(filled + resting + cancelled, submitted, "order {}", id);
            }
        }
    }
}
