//! Each kind's decisions against a fake view: `(view → actions)`, budgets,
//! memory across wakes, and determinism of draws and wake times.

use std::collections::BTreeMap;

use celluler_core::time::NS_PER_S;

use super::*;
use crate::scenario::{
    ComputeProviderParams, ConsumerParams, FrontRunnerParams, MarketMakerParams, MomentumParams,
    NoiseTraderParams, StorageProviderParams, ValueParams,
};

/// Everything a home cell could show, set field by field.
#[derive(Debug, Clone, Default)]
struct FakeView {
    now_ns: u64,
    home: u32,
    best_bid: Option<u64>,
    best_ask: Option<u64>,
    last_trade: Option<u64>,
    fundamental: Option<u64>,
    prana_free: u64,
    token_free: u64,
    my_orders: Vec<RestingOrder>,
    offers: Vec<(LeaseMarket, OfferView)>,
    leases: Vec<LeaseView>,
    trust_ppm: BTreeMap<u32, u32>,
    pending_orders: Vec<PendingOrder>,
    pending_own: u32,
    exec_unanswered_ns: BTreeMap<u32, u64>,
}

impl MarketView for FakeView {
    fn now_ns(&self) -> u64 {
        self.now_ns
    }
    fn home(&self) -> u32 {
        self.home
    }
    fn token_count(&self) -> u16 {
        1
    }
    fn best_bid(&self, token: u16) -> Option<u64> {
        self.best_bid.filter(|_| token == 0)
    }
    fn best_ask(&self, token: u16) -> Option<u64> {
        self.best_ask.filter(|_| token == 0)
    }
    fn last_trade_price(&self, token: u16) -> Option<u64> {
        self.last_trade.filter(|_| token == 0)
    }
    fn fundamental(&self, token: u16) -> Option<u64> {
        self.fundamental.filter(|_| token == 0)
    }
    fn prana_free(&self) -> u64 {
        self.prana_free
    }
    fn token_free(&self, token: u16) -> u64 {
        if token == 0 { self.token_free } else { 0 }
    }
    fn my_orders(&self, token: u16) -> Vec<RestingOrder> {
        if token == 0 {
            self.my_orders.clone()
        } else {
            Vec::new()
        }
    }
    fn offers(&self, market: LeaseMarket) -> Vec<OfferView> {
        self.offers
            .iter()
            .filter(|(offer_market, _)| *offer_market == market)
            .map(|(_, offer)| *offer)
            .collect()
    }
    fn my_offers(&self, market: LeaseMarket) -> Vec<OfferView> {
        self.offers(market)
            .into_iter()
            .filter(|offer| offer.provider == self.home)
            .collect()
    }
    fn my_leases(&self) -> Vec<LeaseView> {
        self.leases.clone()
    }
    fn trust_ppm(&self, cell: u32) -> u32 {
        self.trust_ppm.get(&cell).copied().unwrap_or(0)
    }
    fn pending_orders(&self) -> Vec<PendingOrder> {
        self.pending_orders.clone()
    }
    fn pending_own(&self) -> u32 {
        self.pending_own
    }
    fn exec_unanswered_ns(&self, provider: u32) -> Option<u64> {
        self.exec_unanswered_ns.get(&provider).copied()
    }
}

/// A rich account on cell 3, last trade at 100.
fn rich_view() -> FakeView {
    FakeView {
        home: 3,
        last_trade: Some(100),
        prana_free: 1_000_000,
        token_free: 1_000,
        ..FakeView::default()
    }
}

fn block(params: AgentParams, per_second: u64) -> AgentBlock {
    AgentBlock {
        kind: params.kind(),
        cells: vec![3],
        rate: Rate {
            count: per_second,
            per_ns: NS_PER_S,
        },
        params,
    }
}

fn agent(params: AgentParams) -> Agent {
    Agent::new(0, &block(params, 2), 3, 7)
}

fn noise(limit_share_ppm: u32, price_range_ppm: u32) -> AgentParams {
    AgentParams::NoiseTrader(NoiseTraderParams {
        token: 0,
        quantity_max: 10,
        limit_share_ppm,
        price_range_ppm,
    })
}

fn market_maker(inventory_max: u64) -> AgentParams {
    AgentParams::MarketMaker(MarketMakerParams {
        token: 0,
        spread: 4,
        quantity: 10,
        inventory_max,
    })
}

fn consumer(market: LeaseMarket, trust_min_ppm: u32) -> AgentParams {
    AgentParams::Consumer(ConsumerParams {
        market,
        amount: 10,
        intervals: 10,
        price_max: 5,
        trust_min_ppm,
        work: 1_000,
        exec_timeout_ns: 3 * NS_PER_S,
    })
}

fn order(side: Side, price: Option<u64>, quantity: u64) -> AgentAction {
    AgentAction::Order {
        token: 0,
        side,
        price,
        quantity,
    }
}

#[test]
fn reference_price_falls_back_in_the_documented_order() {
    let mut view = FakeView {
        last_trade: Some(120),
        best_bid: Some(90),
        best_ask: Some(101),
        fundamental: Some(70),
        ..FakeView::default()
    };
    assert_eq!(exchange::reference_price(&view, 0), 120);
    view.last_trade = None;
    assert_eq!(exchange::reference_price(&view, 0), 95, "mid, rounded down");
    view.best_ask = None;
    assert_eq!(exchange::reference_price(&view, 0), 70, "fundamental");
    view.fundamental = None;
    assert_eq!(exchange::reference_price(&view, 0), 90, "the one side");
    view.best_bid = None;
    assert_eq!(exchange::reference_price(&view, 0), REFERENCE_PRICE_DEFAULT);
}

#[test]
fn noise_trader_orders_around_the_reference_with_its_limit_share() {
    let mut trader = agent(noise(700_000, 50_000));
    let mut view = rich_view();
    view.best_bid = Some(99);
    view.best_ask = Some(101);
    let (mut limits, mut markets, mut bids, mut asks) = (0, 0, 0, 0);
    for _ in 0..2_000 {
        view.now_ns = trader.next_wake_ns();
        let actions = trader.wake(&view);
        assert_eq!(actions.len(), 1, "enough of everything: one order a wake");
        let AgentAction::Order {
            token,
            side,
            price,
            quantity,
        } = actions[0]
        else {
            panic!("{actions:?}");
        };
        assert_eq!(token, 0);
        assert!((1..=10).contains(&quantity), "{quantity}");
        match price {
            // ±5% of the last trade, 100.
            Some(price) => {
                assert!((95..=105).contains(&price), "{price}");
                limits += 1;
            }
            None => markets += 1,
        }
        match side {
            Side::Bid => bids += 1,
            Side::Ask => asks += 1,
        }
    }
    assert!(
        (1_300..=1_500).contains(&limits),
        "{limits} limit orders of 2000"
    );
    assert_eq!(limits + markets, 2_000);
    assert!((900..=1_100).contains(&bids), "{bids} bids, {asks} asks");
}

#[test]
fn noise_trader_never_orders_more_than_it_can_pay_for() {
    // Limit orders only, exactly at 100: a bid of q needs 100·q PRANA.
    let mut trader = agent(noise(1_000_000, 0));
    let mut view = rich_view();
    view.prana_free = 250;
    view.token_free = 3;
    let mut seen = 0;
    for _ in 0..500 {
        view.now_ns = trader.next_wake_ns();
        for action in trader.wake(&view) {
            let AgentAction::Order {
                side,
                price,
                quantity,
                ..
            } = action
            else {
                panic!("{action:?}");
            };
            assert_eq!(price, Some(100));
            match side {
                Side::Bid => assert!(quantity * 100 <= 250, "{quantity}"),
                Side::Ask => assert!(quantity <= 3, "{quantity}"),
            }
            seen += 1;
        }
    }
    assert!(seen > 400, "it still trades what it can: {seen}");
    // Nothing at all: no order.
    view.prana_free = 0;
    view.token_free = 0;
    for _ in 0..100 {
        view.now_ns = trader.next_wake_ns();
        assert_eq!(trader.wake(&view), Vec::new());
    }
}

#[test]
fn market_orders_need_the_other_side_of_the_book() {
    // Market orders only, on an empty book: nothing to trade against.
    let mut trader = agent(noise(0, 0));
    let mut view = rich_view();
    for _ in 0..100 {
        view.now_ns = trader.next_wake_ns();
        assert_eq!(trader.wake(&view), Vec::new());
    }
    // A market bid is funded at the best ask.
    view.best_ask = Some(200);
    view.best_bid = Some(190);
    view.prana_free = 1_000;
    for _ in 0..200 {
        view.now_ns = trader.next_wake_ns();
        for action in trader.wake(&view) {
            if let AgentAction::Order {
                side: Side::Bid,
                quantity,
                price,
                ..
            } = action
            {
                assert_eq!(price, None);
                assert!(quantity * 200 <= 1_000, "{quantity}");
            }
        }
    }
}

#[test]
fn every_kind_waits_while_its_own_tx_is_pending() {
    let kinds = [
        noise(700_000, 50_000),
        market_maker(200),
        AgentParams::Momentum(MomentumParams {
            token: 0,
            lookback: 1,
            quantity: 5,
            threshold_ppm: 0,
        }),
        AgentParams::Value(ValueParams {
            token: 0,
            fundamental: 1_000,
            threshold_ppm: 0,
            quantity: 5,
        }),
        AgentParams::ComputeProvider(ComputeProviderParams {
            units: 100,
            price: 2,
            collateral: 10,
        }),
        AgentParams::StorageProvider(StorageProviderParams {
            blocks: 64,
            price: 1,
            collateral: 10,
        }),
        consumer(LeaseMarket::Compute, 0),
    ];
    for params in kinds {
        let mut waiting = agent(params.clone());
        let mut view = rich_view();
        view.best_bid = Some(99);
        view.best_ask = Some(101);
        view.offers = vec![(
            LeaseMarket::Compute,
            OfferView {
                id: 1,
                provider: 5,
                free: 100,
                price: 1,
                collateral: 0,
            },
        )];
        view.pending_orders = vec![PendingOrder {
            sender: 5,
            token: 0,
            side: Side::Bid,
            price: None,
            quantity: 50,
        }];
        view.pending_own = 1;
        let first_wake_ns = waiting.next_wake_ns();
        view.now_ns = first_wake_ns;
        assert_eq!(waiting.wake(&view), Vec::new(), "{params:?}");
        assert!(
            waiting.next_wake_ns() > first_wake_ns,
            "it still sleeps until its next wake"
        );
        // Once the TX is ordered, the same view makes it act.
        view.pending_own = 0;
        view.now_ns = waiting.next_wake_ns();
        view.last_trade = Some(150);
        assert!(!waiting.wake(&view).is_empty(), "{params:?}");
    }
}

#[test]
fn a_front_runner_races_even_with_its_own_tx_pending() {
    let mut racer = agent(AgentParams::FrontRunner(FrontRunnerParams {
        token: 0,
        quantity_min: 1,
        quantity: 1,
    }));
    let mut view = rich_view();
    view.best_bid = Some(99);
    view.best_ask = Some(101);
    view.pending_orders = vec![PendingOrder {
        sender: 5,
        token: 0,
        side: Side::Bid,
        price: None,
        quantity: 50,
    }];
    view.pending_own = 1;
    view.now_ns = racer.next_wake_ns();
    assert_eq!(
        racer.wake(&view),
        vec![AgentAction::Order {
            token: 0,
            side: Side::Bid,
            price: None,
            quantity: 1
        }]
    );
}

#[test]
fn market_maker_quotes_around_the_reference_and_replaces_stale_quotes() {
    let mut maker = agent(market_maker(200));
    let mut view = rich_view();
    view.last_trade = None;
    view.fundamental = Some(100);
    assert_eq!(
        maker.wake(&view),
        vec![
            order(Side::Bid, Some(98), 10),
            order(Side::Ask, Some(102), 10)
        ]
    );
    // Its quotes rest; the price has not moved: nothing to do.
    view.token_free -= 10;
    view.my_orders = vec![
        RestingOrder {
            id: 7,
            side: Side::Bid,
            price: 98,
            quantity: 10,
        },
        RestingOrder {
            id: 8,
            side: Side::Ask,
            price: 102,
            quantity: 10,
        },
    ];
    assert_eq!(maker.wake(&view), Vec::new());
    // A trade at 111 moves the reference: both quotes are stale.
    view.last_trade = Some(111);
    assert_eq!(
        maker.wake(&view),
        vec![
            AgentAction::Cancel { token: 0, order: 7 },
            AgentAction::Cancel { token: 0, order: 8 },
            order(Side::Bid, Some(109), 10),
            order(Side::Ask, Some(113), 10),
        ]
    );
    // A reference of 1 keeps the bid at 1 and the spread whole.
    view.last_trade = Some(1);
    view.my_orders.clear();
    view.token_free += 10;
    assert_eq!(
        maker.wake(&view),
        vec![order(Side::Bid, Some(1), 10), order(Side::Ask, Some(5), 10)]
    );
}

#[test]
fn market_maker_stops_the_side_that_would_pass_its_inventory_limit() {
    let mut maker = agent(market_maker(15));
    let mut view = rich_view();
    view.token_free = 100; // its zero position
    assert_eq!(maker.wake(&view).len(), 2);
    // It bought 10: another filled bid would make +20 > 15.
    view.token_free = 110;
    assert_eq!(maker.wake(&view), vec![order(Side::Ask, Some(102), 10)]);
    // It sold 10 from the start: another filled ask would make -20.
    view.token_free = 90;
    assert_eq!(maker.wake(&view), vec![order(Side::Bid, Some(98), 10)]);
    // A resting bid on the side it stopped is cancelled.
    view.token_free = 110;
    view.my_orders = vec![RestingOrder {
        id: 4,
        side: Side::Bid,
        price: 98,
        quantity: 10,
    }];
    assert_eq!(
        maker.wake(&view),
        vec![
            AgentAction::Cancel { token: 0, order: 4 },
            order(Side::Ask, Some(102), 10)
        ]
    );
}

#[test]
fn momentum_follows_the_trend_over_its_lookback() {
    let params = AgentParams::Momentum(MomentumParams {
        token: 0,
        lookback: 3,
        quantity: 5,
        threshold_ppm: 10_000,
    });
    let mut trend = agent(params);
    let mut view = rich_view();
    view.best_bid = Some(99);
    view.best_ask = Some(101);
    let mut run = |price: u64| {
        view.last_trade = Some(price);
        trend.wake(&view)
    };
    // Not enough history yet.
    for price in [100, 100, 100] {
        assert_eq!(run(price), Vec::new());
    }
    // 101 is 1% above 100: not more than the threshold.
    assert_eq!(run(101), Vec::new());
    // 102 vs 100 three wakes ago: up 2%, buy at market.
    assert_eq!(run(102), vec![order(Side::Bid, None, 5)]);
    // 97 vs 100 (three wakes before): down 3%, sell at market.
    assert_eq!(run(97), vec![order(Side::Ask, None, 5)]);
}

#[test]
fn value_trades_towards_the_fundamental() {
    let params = AgentParams::Value(ValueParams {
        token: 0,
        fundamental: 100,
        threshold_ppm: 20_000,
        quantity: 5,
    });
    let mut trader = agent(params);
    let mut view = rich_view();
    // 98 is exactly 2% below: not below the band.
    view.best_ask = Some(98);
    view.best_bid = Some(97);
    assert_eq!(trader.wake(&view), Vec::new());
    view.best_ask = Some(97);
    assert_eq!(trader.wake(&view), vec![order(Side::Bid, Some(97), 5)]);
    view.best_ask = Some(110);
    view.best_bid = Some(103);
    assert_eq!(trader.wake(&view), vec![order(Side::Ask, Some(103), 5)]);
    // Without tokens it cannot sell.
    view.token_free = 0;
    assert_eq!(trader.wake(&view), Vec::new());
}

#[test]
fn providers_post_one_offer_when_they_have_none_and_can_back_it() {
    let compute = AgentParams::ComputeProvider(ComputeProviderParams {
        units: 100,
        price: 2,
        collateral: 10_000,
    });
    let mut provider = agent(compute);
    let mut view = rich_view();
    assert_eq!(
        provider.wake(&view),
        vec![AgentAction::ComputeOffer {
            units: 100,
            price_per_unit: 2,
            collateral: 10_000
        }]
    );
    view.offers = vec![(
        LeaseMarket::Compute,
        OfferView {
            id: 1,
            provider: 3,
            free: 0,
            price: 2,
            collateral: 10_000,
        },
    )];
    assert_eq!(provider.wake(&view), Vec::new(), "its offer stands, leased");
    // Slashed: the offer is gone, and so is most of its PRANA.
    view.offers.clear();
    view.prana_free = 9_999;
    assert_eq!(provider.wake(&view), Vec::new());
    view.prana_free = 10_000;
    assert_eq!(provider.wake(&view).len(), 1);

    let storage = AgentParams::StorageProvider(StorageProviderParams {
        blocks: 64,
        price: 1,
        collateral: 500,
    });
    let mut provider = agent(storage);
    // Another provider's storage offer and its own compute offer do not count.
    view.offers = vec![
        (
            LeaseMarket::Storage,
            OfferView {
                id: 2,
                provider: 9,
                free: 64,
                price: 1,
                collateral: 0,
            },
        ),
        (
            LeaseMarket::Compute,
            OfferView {
                id: 3,
                provider: 3,
                free: 64,
                price: 1,
                collateral: 0,
            },
        ),
    ];
    assert_eq!(
        provider.wake(&view),
        vec![AgentAction::StorageOffer {
            blocks: 64,
            price_per_block: 1,
            collateral: 500
        }]
    );
}

fn offer(id: u64, provider: u32, free: u64, price: u64) -> (LeaseMarket, OfferView) {
    (
        LeaseMarket::Compute,
        OfferView {
            id,
            provider,
            free,
            price,
            collateral: 100,
        },
    )
}

#[test]
fn consumer_leases_the_cheapest_acceptable_offer() {
    let mut buyer = agent(consumer(LeaseMarket::Compute, 100_000));
    let mut view = rich_view();
    view.offers = vec![
        offer(1, 3, 100, 1), // its own
        offer(2, 4, 5, 1),   // too little free
        offer(3, 5, 100, 6), // above price_max
        offer(4, 6, 100, 2), // trust below trust_min
        offer(5, 7, 100, 3), // acceptable
        offer(6, 8, 100, 3), // acceptable, same price, higher id
        offer(7, 9, 100, 4), // acceptable, dearer
    ];
    view.trust_ppm = [
        (4, 500_000),
        (5, 500_000),
        (6, 99_999),
        (7, 100_000),
        (8, 200_000),
        (9, 200_000),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        buyer.wake(&view),
        vec![AgentAction::Lease {
            market: LeaseMarket::Compute,
            offer: 5,
            amount: 10,
            intervals: 10
        }]
    );
    // A lease at 3 for 10 units over 10 intervals costs 300.
    view.prana_free = 299;
    let leased = buyer.wake(&view);
    assert_eq!(leased, Vec::new(), "it cannot pay for any acceptable offer");
    view.prana_free = 400;
    assert_eq!(buyer.wake(&view).len(), 1);
}

#[test]
fn consumer_execs_on_its_lease_and_ends_it_after_two_timeouts() {
    let mut buyer = agent(consumer(LeaseMarket::Compute, 0));
    let mut view = rich_view();
    view.offers = vec![offer(5, 7, 100, 3), offer(6, 8, 100, 4)];
    view.leases = vec![LeaseView {
        id: 40,
        market: LeaseMarket::Compute,
        provider: 7,
        consumer: 3,
        amount: 10,
    }];
    let exec = AgentAction::Exec {
        provider: 7,
        lease: 40,
        work: 1_000,
    };
    assert_eq!(buyer.wake(&view), vec![exec]);
    // Unanswered, but younger than the timeout.
    view.exec_unanswered_ns.insert(7, 2 * NS_PER_S);
    assert_eq!(buyer.wake(&view), vec![exec]);
    // One timed-out wake: it waits; answered again: the count restarts.
    view.exec_unanswered_ns.insert(7, 3 * NS_PER_S);
    assert_eq!(buyer.wake(&view), Vec::new());
    view.exec_unanswered_ns.clear();
    assert_eq!(buyer.wake(&view), vec![exec]);
    // Two timed-out wakes in a row: it ends the lease.
    view.exec_unanswered_ns.insert(7, 4 * NS_PER_S);
    assert_eq!(buyer.wake(&view), Vec::new());
    assert_eq!(buyer.wake(&view), vec![AgentAction::EndLease { lease: 40 }]);
    // The lease is gone: it leases again, never from provider 7.
    view.leases.clear();
    assert_eq!(
        buyer.wake(&view),
        vec![AgentAction::Lease {
            market: LeaseMarket::Compute,
            offer: 6,
            amount: 10,
            intervals: 10
        }]
    );
}

#[test]
fn storage_consumer_leases_storage_and_then_waits() {
    let mut buyer = agent(consumer(LeaseMarket::Storage, 0));
    let mut view = rich_view();
    // A compute offer is no storage offer.
    view.offers = vec![offer(5, 7, 100, 1)];
    assert_eq!(buyer.wake(&view), Vec::new());
    view.offers.push((
        LeaseMarket::Storage,
        OfferView {
            id: 9,
            provider: 8,
            free: 64,
            price: 1,
            collateral: 100,
        },
    ));
    assert_eq!(
        buyer.wake(&view),
        vec![AgentAction::Lease {
            market: LeaseMarket::Storage,
            offer: 9,
            amount: 10,
            intervals: 10
        }]
    );
    // Its lease as consumer (one where it provides does not count).
    view.leases = vec![
        LeaseView {
            id: 1,
            market: LeaseMarket::Storage,
            provider: 3,
            consumer: 8,
            amount: 10,
        },
        LeaseView {
            id: 2,
            market: LeaseMarket::Storage,
            provider: 8,
            consumer: 3,
            amount: 10,
        },
    ];
    assert_eq!(buyer.wake(&view), Vec::new());
}

#[test]
fn front_runner_buys_ahead_of_large_pending_bids_then_sells() {
    let params = AgentParams::FrontRunner(FrontRunnerParams {
        token: 0,
        quantity_min: 10,
        quantity: 10,
    });
    let mut runner = agent(params);
    let mut view = rich_view();
    view.best_bid = Some(99);
    view.best_ask = Some(101);
    view.token_free = 50; // its zero position
    let bid = |sender: u32, quantity: u64| PendingOrder {
        sender,
        token: 0,
        side: Side::Bid,
        price: Some(105),
        quantity,
    };
    // Its own bid, a small bid, an ask: no victim.
    view.pending_orders = vec![
        bid(3, 50),
        bid(5, 9),
        PendingOrder {
            side: Side::Ask,
            ..bid(6, 50)
        },
    ];
    assert_eq!(runner.wake(&view), Vec::new());
    view.pending_orders.push(bid(7, 10));
    assert_eq!(runner.wake(&view), vec![order(Side::Bid, None, 10)]);
    // Filled: it holds 10 more than at first, and sells them at market.
    view.token_free = 60;
    assert_eq!(runner.wake(&view), vec![order(Side::Ask, None, 10)]);
    // Too poor to buy ahead at the best ask.
    view.token_free = 50;
    view.prana_free = 100;
    assert_eq!(runner.wake(&view), Vec::new());
}

/// Actions and wake times of `wakes` wakes against views that change with
/// time, so draws and memory both matter.
fn trace(mut subject: Agent, wakes: usize) -> Vec<(u64, Vec<AgentAction>)> {
    let mut view = rich_view();
    view.best_bid = Some(99);
    view.best_ask = Some(101);
    (0..wakes)
        .map(|wake| {
            view.now_ns = subject.next_wake_ns();
            view.last_trade = Some(90 + (wake as u64 * 7) % 21);
            (view.now_ns, subject.wake(&view))
        })
        .collect()
}

#[test]
fn same_seed_same_agent_gives_the_same_actions_and_wake_times() {
    let block = block(noise(500_000, 100_000), 2);
    let first = trace(Agent::new(4, &block, 3, 11), 300);
    assert_eq!(first, trace(Agent::new(4, &block, 3, 11), 300));
    // Another agent index or another seed: another stream.
    let other_index = trace(Agent::new(5, &block, 3, 11), 300);
    let other_seed = trace(Agent::new(4, &block, 3, 12), 300);
    assert_ne!(first, other_index);
    assert_ne!(first, other_seed);
    assert_ne!(
        Agent::new(4, &block, 3, 11).next_wake_ns(),
        Agent::new(5, &block, 3, 11).next_wake_ns()
    );
}

#[test]
fn wakes_are_poisson_at_the_block_rate() {
    let mut sleeper = Agent::new(0, &block(noise(0, 0), 2), 3, 1);
    let mut view = FakeView::default();
    let mut previous_ns = 0;
    let wakes = 4_000u64;
    for _ in 0..wakes {
        let at_ns = sleeper.next_wake_ns();
        assert!(at_ns > previous_ns, "strictly later");
        previous_ns = at_ns;
        view.now_ns = at_ns;
        sleeper.wake(&view);
    }
    // 2/s: a mean gap of 0.5 s, within 5 % over 4000 gaps.
    let mean_ns = previous_ns / wakes;
    assert!(
        (475_000_000..=525_000_000).contains(&mean_ns),
        "mean gap {mean_ns} ns"
    );
    // A late call schedules from the call, not the missed wake.
    view.now_ns = sleeper.next_wake_ns() + 100 * NS_PER_S;
    sleeper.wake(&view);
    assert!(sleeper.next_wake_ns() > view.now_ns);
}

#[test]
fn agents_of_a_scenario_are_numbered_block_by_block() {
    let text = r#"
name = "agents"
seed = 5
duration = "10s"
[cells]
count = 8
[markets]
tokens = ["data-credit"]
fundamental = [100]
[[agents]]
kind = "noise-trader"
cells = [5, 6]
[[agents]]
kind = "market-maker"
count = 2
rate = "4/s"
"#;
    let scenario = Scenario::parse("agents.toml", text).unwrap();
    let agents = agents_of(&scenario);
    let placed: Vec<(u32, u32, AgentKind)> = agents
        .iter()
        .map(|agent| (agent.index(), agent.home(), agent.kind()))
        .collect();
    assert_eq!(
        placed,
        vec![
            (0, 5, AgentKind::NoiseTrader),
            (1, 6, AgentKind::NoiseTrader),
            (2, 0, AgentKind::MarketMaker),
            (3, 1, AgentKind::MarketMaker),
        ]
    );
    for agent in &agents {
        let (index, block) = scenario.agent_of(agent.home()).unwrap();
        assert_eq!(index, agent.index());
        assert_eq!(block.kind, agent.kind());
    }
    assert!(scenario.agent_of(2).is_none());
}
