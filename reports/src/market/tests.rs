//! Market metric tests: one small hand-built run whose every number is
//! worked out in the comments, and edge cases (empty book, no trades, an
//! order whose TX is unknown, zero capacity offered).

use std::collections::BTreeMap;

use super::*;
use crate::record::{Checks, NS_PER_MS, NS_PER_S, RunRecord, RunRecorder};

const HASH: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn order(
    id: u64,
    side: &str,
    price: Option<u64>,
    quantity: u64,
    tx: &str,
    filled: u64,
) -> OrderRecord {
    OrderRecord {
        id,
        token: 0,
        owner: Some(0),
        side: side.to_string(),
        price,
        quantity,
        tx: tx.to_string(),
        filled,
        resting: quantity - filled,
        cancelled: 0,
    }
}

fn trade(price: u64, quantity: u64, maker_order: u64, taker_order: u64) -> TradeRecord {
    TradeRecord {
        token: 0,
        price,
        quantity,
        buyer: Some(1),
        seller: Some(0),
        taker_side: SIDE_BID.to_string(),
        maker_order,
        taker_order,
    }
}

fn book(token: u16, best_bid: Option<u64>, best_ask: Option<u64>) -> BookTop {
    BookTop {
        token,
        best_bid,
        best_ask,
        bid_depth: 10,
        ask_depth: 5,
    }
}

fn lease(lease: u64, market: &str, event: &str, amount: u64) -> LeaseEventRecord {
    LeaseEventRecord {
        lease,
        market: market.to_string(),
        provider: Some(2),
        consumer: Some(0),
        event: event.to_string(),
        amount,
        reason: (event == LEASE_SLASHED).then(|| "missed storage proof".to_string()),
    }
}

fn capacity(market: &str, offered: u64, leased: u64) -> CapacityRecord {
    CapacityRecord {
        market: market.to_string(),
        offered,
        leased,
    }
}

fn rejected(account: Option<u32>, kind: &str, reason: &str) -> RejectedRecord {
    RejectedRecord {
        account,
        kind: kind.to_string(),
        reason: reason.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn agent(
    cell: u32,
    kind: &str,
    byzantine: bool,
    initial: (u64, [u64; 2]),
    final_holdings: (u64, [u64; 2]),
    fees_paid: u64,
    rejected: &[(&str, u64)],
) -> AgentRecord {
    AgentRecord {
        cell,
        kind: kind.to_string(),
        byzantine,
        initial_prana: initial.0,
        initial_tokens: initial.1.to_vec(),
        final_prana: final_holdings.0,
        final_tokens: final_holdings.1.to_vec(),
        fees_paid,
        txs_submitted: 3,
        orders_submitted: 2,
        rejected: rejected
            .iter()
            .map(|&(reason, count)| (reason.to_string(), count))
            .collect(),
    }
}

fn violation(cell: u32, round: u64, invariant: &str) -> LedgerViolationRecord {
    LedgerViolationRecord {
        cell,
        round,
        time_ns: round * NS_PER_S,
        invariant: invariant.to_string(),
        detail: format!("{invariant} broken"),
    }
}

/// Two tokens: data-credit (fundamental 100) trades; gpu-hour (no
/// fundamental) never does. Four rounds, one a second.
pub(crate) fn hand_markets() -> MarketRecord {
    MarketRecord {
        tokens: vec!["data-credit".into(), "gpu-hour".into()],
        fundamental: vec![Some(100), None],
        agents: vec![
            // Marks: data-credit 105 (last mid), gpu-hour 0 (nothing).
            // 1000 + 10·105 = 2050 → 1300 + 6·105 = 1930: PnL −120.
            agent(
                0,
                "market-maker",
                false,
                (1000, [10, 3]),
                (1300, [6, 3]),
                5,
                &[("insufficient-funds", 2)],
            ),
            // 1000 → 600 + 6·105 = 1230: PnL +230.
            agent(
                1,
                FRONT_RUNNER_KIND,
                false,
                (1000, [0, 0]),
                (600, [6, 0]),
                3,
                &[],
            ),
            // 500 + 525 → 520 + 525: PnL +20.
            agent(
                2,
                "noise-trader",
                false,
                (500, [5, 1]),
                (520, [5, 1]),
                0,
                &[("bad-price", 1), ("insufficient-funds", 1)],
            ),
            // 500 + 525 = 1025 → 400 + 420 = 820: PnL −205.
            agent(
                3,
                "noise-trader",
                true,
                (500, [5, 0]),
                (400, [4, 0]),
                0,
                &[],
            ),
        ],
        rounds: vec![
            // Round 1: ask o10 rests; one-sided book, no mid.
            MarketRoundRecord {
                round: 1,
                time_ns: NS_PER_S,
                books: vec![book(0, None, Some(102)), book(1, None, None)],
                orders: vec![order(10, SIDE_ASK, Some(102), 4, "a", 0)],
                ..MarketRoundRecord::default()
            },
            // Round 2: bid o11 takes o10's 4 units at 102; mid 100, spread
            // 4, 0 ppm from the fundamental.
            MarketRoundRecord {
                round: 2,
                time_ns: 2 * NS_PER_S,
                books: vec![book(0, Some(98), Some(102))],
                orders: vec![order(11, SIDE_BID, Some(103), 10, "b", 4)],
                trades: vec![trade(102, 4, 10, 11)],
                leases: vec![lease(1, "compute", LEASE_OPENED, 50)],
                capacity: vec![capacity("compute", 10, 4)],
                fee_payout: 7,
                rejected: vec![rejected(Some(0), "order", "insufficient-funds")],
            },
            // Round 3: market ask o12 hits o11 for 2 at 104; o13 claims a
            // fill with no trade and an unknown TX. Mid 101.5, spread 5,
            // |203 − 200|·10⁶/200 = 15000 ppm.
            MarketRoundRecord {
                round: 3,
                time_ns: 3 * NS_PER_S,
                books: vec![book(0, Some(99), Some(104))],
                orders: vec![
                    OrderRecord {
                        cancelled: 3,
                        resting: 0,
                        ..order(12, SIDE_ASK, None, 5, "c", 2)
                    },
                    order(13, SIDE_BID, Some(90), 1, "unknown", 1),
                ],
                trades: vec![TradeRecord {
                    taker_side: SIDE_ASK.to_string(),
                    ..trade(104, 2, 11, 12)
                }],
                leases: vec![
                    lease(1, "compute", LEASE_PAID, 10),
                    lease(1, "compute", LEASE_PAID, 10),
                    lease(2, "storage", LEASE_OPENED, 20),
                ],
                capacity: vec![capacity("compute", 0, 0), capacity("storage", 0, 0)],
                rejected: vec![
                    rejected(Some(2), "order", "bad-price"),
                    rejected(None, "lease", "insufficient-funds"),
                ],
                ..MarketRoundRecord::default()
            },
            // Round 4: mid 105, spread 10, 50000 ppm; gpu-hour one-sided.
            MarketRoundRecord {
                round: 4,
                time_ns: 4 * NS_PER_S,
                books: vec![book(0, Some(100), Some(110)), book(1, Some(5), None)],
                leases: vec![
                    lease(1, "compute", LEASE_SLASHED, 30),
                    lease(1, "compute", LEASE_ENDED, 0),
                    lease(2, "storage", LEASE_SETTLED, 20),
                    lease(2, "storage", "refunded", 0),
                ],
                capacity: vec![capacity("compute", 8, 8)],
                fee_payout: 3,
                ..MarketRoundRecord::default()
            },
        ],
        violations: vec![
            violation(1, 3, "conservation"),
            violation(2, 3, "conservation"),
            violation(1, 4, "escrow"),
        ],
        fee_pool_final: 12,
        burned_final: 4,
    }
}

/// [`hand_markets`] in a run of four cells (cell 3 Byzantine) whose TXs
/// a, b, c were submitted at 0.5 s, 1.5 s and 2.9 s.
pub(crate) fn hand_record() -> RunRecord {
    let mut recorder = RunRecorder::new("market", 7, 4, [0, 1, 2], 10, Checks::default());
    recorder.tx_submitted(500 * NS_PER_MS, 0, "a");
    recorder.tx_submitted(1_500 * NS_PER_MS, 1, "b");
    recorder.tx_submitted(2_900 * NS_PER_MS, 0, "c");
    recorder.tx_submitted(3_000 * NS_PER_MS, 2, "plain");
    recorder.tx_market(
        "b",
        TxMarket {
            kind: "order".into(),
            token: Some(0),
            side: Some(SIDE_BID.into()),
            price: Some(103),
            quantity: Some(10),
        },
    );
    recorder.set_markets(hand_markets());
    recorder.finish(5 * NS_PER_S, 0, HASH)
}

fn hand_metrics() -> MarketMetrics {
    let record = hand_record();
    record.validate().unwrap();
    MarketMetrics::compute(record.markets.as_ref().unwrap(), &record.transactions)
}

#[test]
fn exchange_numbers_per_token() {
    let metrics = hand_metrics();
    let credit = &metrics.tokens[0];
    assert_eq!((credit.token, credit.name.as_str()), (0, "data-credit"));
    // Trades 4 @ 102 and 2 @ 104: 6 units, 408 + 208 = 616 PRANA.
    assert_eq!(credit.trades, 2);
    assert_eq!(credit.volume_units, 6);
    assert_eq!(credit.volume_prana, 616);
    assert_eq!(credit.vwap, Some(616.0 / 6.0));
    assert_eq!(credit.last_trade_price, Some(104));
    let mids: Vec<f64> = credit.mids.iter().map(MidPoint::mid).collect();
    assert_eq!(mids, vec![100.0, 101.5, 105.0]);
    assert_eq!(credit.last_mid, Some(105.0));
    assert_eq!(credit.mark_price, 105);
    // Spreads 4, 5, 10: p50 is rank ⌈1.5⌉ = 2, p90 rank ⌈2.7⌉ = 3.
    assert_eq!((credit.spread_p50, credit.spread_p90), (Some(5), Some(10)));
    // Distances 0, 15000, 50000 ppm.
    assert_eq!(credit.fundamental_distance_ppm_p50, Some(15_000));
    // Orders of 4 + 10 + 5 + 1 = 20 units. Filled: o10 4 (as maker), o11
    // 4 + 2 = 6 (taker, then maker), o12 2, o13 1 (its own claim): 13.
    assert_eq!(credit.orders, 4);
    assert_eq!(credit.units_submitted, 20);
    assert_eq!(credit.units_filled, 13);
    assert_eq!(credit.fill_rate, Some(13.0 / 20.0));
    // First fills: o10 at 2 s (TX at 0.5 s) 1.5 s; o11 at 2 s (1.5 s) 0.5 s;
    // o12 at 3 s (2.9 s) 0.1 s; o13's TX is unknown.
    assert_eq!(
        credit.time_to_fill_ns,
        vec![100 * NS_PER_MS, 500 * NS_PER_MS, 1_500 * NS_PER_MS]
    );
    assert_eq!(credit.time_to_fill_ns_p50, Some(500 * NS_PER_MS));
    assert_eq!(credit.time_to_fill_ns_p99, Some(1_500 * NS_PER_MS));
    assert_eq!(credit.orders_without_tx, 1);
}

#[test]
fn a_token_without_trades_or_a_two_sided_book_has_no_prices() {
    let gpu = &hand_metrics().tokens[1];
    assert_eq!(gpu.trades, 0);
    assert_eq!(gpu.volume_units, 0);
    assert_eq!(gpu.vwap, None);
    assert!(gpu.mids.is_empty());
    assert_eq!(gpu.last_mid, None);
    assert_eq!((gpu.spread_p50, gpu.spread_p90), (None, None));
    assert_eq!(gpu.fundamental_distance_ppm_p50, None);
    assert_eq!(gpu.fill_rate, None);
    assert_eq!(gpu.time_to_fill_ns_p50, None);
    // No mid, no trade, no fundamental: marked at 0.
    assert_eq!(gpu.mark_price, 0);
}

#[test]
fn mark_price_falls_back_to_last_trade_then_fundamental() {
    let mut markets = hand_markets();
    // No two-sided book ever: data-credit marks at its last trade, 104.
    for round in &mut markets.rounds {
        round.books.clear();
    }
    // gpu-hour, never traded, at its fundamental.
    markets.fundamental[1] = Some(7);
    let metrics = MarketMetrics::compute(&markets, &[]);
    assert_eq!(metrics.tokens[0].mark_price, 104);
    assert_eq!(metrics.tokens[1].mark_price, 7);
    // Cell 0: 1000 + 10·104 + 3·7 = 2061 → 1300 + 6·104 + 3·7 = 1945.
    assert_eq!(metrics.agents[0].initial_value_prana, 2061);
    assert_eq!(metrics.agents[0].final_value_prana, 1945);
    assert_eq!(metrics.agents[0].pnl_prana, -116);
    // Without TXs every filled order's TX is unknown.
    assert!(metrics.tokens[0].time_to_fill_ns.is_empty());
    assert_eq!(metrics.tokens[0].orders_without_tx, 4);
}

#[test]
fn mid_spread_and_distance_in_integers() {
    let point = MidPoint {
        round: 1,
        time_ns: 0,
        best_bid: 99,
        best_ask: 104,
    };
    assert_eq!(point.mid(), 101.5);
    assert_eq!(point.mid_floor(), 101);
    assert_eq!(point.spread(), 5);
    assert_eq!(point.fundamental_distance_ppm(100), Some(15_000));
    // |203 − 2·120| · 10⁶ / 240 = 154166.6… → 154166.
    assert_eq!(point.fundamental_distance_ppm(120), Some(154_166));
    assert_eq!(point.fundamental_distance_ppm(0), None);
    let crossed = MidPoint {
        best_bid: 10,
        best_ask: 9,
        ..point
    };
    assert_eq!(crossed.spread(), 0);
    assert_eq!(format_mid(99, 104), "101.5");
    assert_eq!(format_mid(u64::MAX, u64::MAX), u64::MAX.to_string());
}

#[test]
fn agents_pnl_by_kind_and_front_running() {
    let metrics = hand_metrics();
    let pnls: Vec<(u32, i64)> = metrics
        .agents
        .iter()
        .map(|agent| (agent.cell, agent.pnl_prana))
        .collect();
    assert_eq!(pnls, vec![(0, -120), (1, 230), (2, 20), (3, -205)]);
    assert_eq!(metrics.agents[0].initial_value_prana, 2050);
    assert_eq!(metrics.agents[0].final_value_prana, 1930);
    assert_eq!(metrics.agents[0].txs_rejected, 2);
    assert_eq!(metrics.agents[2].txs_rejected, 2);

    let kinds: Vec<&str> = metrics
        .agent_kinds
        .iter()
        .map(|kind| kind.kind.as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![FRONT_RUNNER_KIND, "market-maker", "noise-trader"]
    );
    let noise = &metrics.agent_kinds[2];
    assert_eq!(
        noise,
        &AgentKindMetrics {
            kind: "noise-trader".into(),
            agents: 2,
            byzantine_agents: 1,
            pnl_prana_sum: -185,
            // Nearest rank of 2 values at 500‰: the first, −205.
            pnl_prana_p50: -205,
            pnl_prana_min: -205,
            pnl_prana_max: 20,
            fees_paid: 0,
            txs_rejected: 2,
        }
    );
    assert_eq!(metrics.agent_kinds[1].pnl_prana_sum, -120);

    // Front-runner: 230; the others: (−120 + 20 − 205) / 3.
    let front = metrics.front_running.unwrap();
    assert_eq!(front.front_runners, 1);
    assert_eq!(front.front_runner_pnl_prana_mean, 230.0);
    assert_eq!(front.other_agents, 3);
    assert_eq!(front.other_pnl_prana_mean, Some(-305.0 / 3.0));
    assert_eq!(front.advantage_pnl_prana, Some(230.0 - (-305.0 / 3.0)));

    assert_eq!(metrics.fees_paid, 8);
    assert_eq!(metrics.fee_payouts, 10);
    assert_eq!((metrics.fee_pool_final, metrics.burned_final), (12, 4));
    assert_eq!(
        metrics.rejections,
        BTreeMap::from([
            ("bad-price".to_string(), 1),
            ("insufficient-funds".to_string(), 2)
        ])
    );
}

#[test]
fn lease_markets_and_capacity_utilisation() {
    let metrics = hand_metrics();
    let [compute, storage] = &metrics.lease_markets[..] else {
        panic!("two lease markets: {:?}", metrics.lease_markets);
    };
    assert_eq!(compute.market, "compute");
    assert_eq!(
        (
            compute.leases_opened,
            compute.payments,
            compute.leases_settled,
            compute.leases_slashed,
            compute.leases_ended,
            compute.events_other
        ),
        (1, 2, 0, 1, 1, 0)
    );
    assert_eq!(
        (
            compute.prana_escrowed,
            compute.prana_paid,
            compute.prana_slashed
        ),
        (50, 20, 30)
    );
    // 4/10 = 400000 ppm, round 3 offers nothing (left out), 8/8 = 10⁶.
    assert_eq!(compute.capacity.len(), 3);
    assert_eq!(compute.utilisation_ppm_mean, Some(700_000));
    assert_eq!(storage.leases_opened, 1);
    assert_eq!(storage.leases_settled, 1);
    assert_eq!(storage.events_other, 1);
    assert_eq!(storage.prana_escrowed, 20);
    // Only zero capacity offered: no utilisation.
    assert_eq!(storage.utilisation_ppm_mean, None);
}

#[test]
fn violations_are_counted_per_invariant() {
    let metrics = hand_metrics();
    assert_eq!(metrics.violations_total, 3);
    assert_eq!(
        metrics.violations,
        BTreeMap::from([("conservation".to_string(), 2), ("escrow".to_string(), 1)])
    );
}

#[test]
fn an_empty_market_has_no_numbers() {
    let metrics = MarketMetrics::compute(&MarketRecord::default(), &[]);
    assert!(metrics.tokens.is_empty());
    assert!(metrics.lease_markets.is_empty());
    assert!(metrics.agents.is_empty());
    assert!(metrics.agent_kinds.is_empty());
    assert_eq!(metrics.front_running, None);
    assert_eq!(metrics.violations_total, 0);
    assert!(plots::market_plots(&metrics).is_empty());
}

#[test]
fn front_runners_alone_have_no_one_to_beat() {
    let mut markets = hand_markets();
    markets
        .agents
        .retain(|agent| agent.kind == FRONT_RUNNER_KIND);
    let front = MarketMetrics::compute(&markets, &[]).front_running.unwrap();
    assert_eq!(front.other_agents, 0);
    assert_eq!(front.other_pnl_prana_mean, None);
    assert_eq!(front.advantage_pnl_prana, None);
}

#[test]
fn signed_nearest_rank_keeps_the_order_of_negatives() {
    let values = [i64::MIN, -5, -1, 0, 3, i64::MAX];
    assert_eq!(nearest_rank_signed(&values, 500), Some(-1));
    assert_eq!(nearest_rank_signed(&values, 0), Some(i64::MIN));
    assert_eq!(nearest_rank_signed(&values, 1000), Some(i64::MAX));
    assert_eq!(nearest_rank_signed(&[], 500), None);
}

#[test]
fn validation_rejects_inconsistent_market_records() {
    let record = hand_record();
    record.validate().unwrap();
    let invalid = |edit: fn(&mut MarketRecord)| {
        let mut record = hand_record();
        edit(record.markets.as_mut().unwrap());
        match record.validate() {
            Err(crate::record::RecordError::Market(error)) => error,
            other => panic!("expected a market error, got {other:?}"),
        }
    };
    assert_eq!(
        invalid(|m| {
            m.fundamental.pop();
        }),
        MarketRecordError::FundamentalCount {
            tokens: 2,
            fundamentals: 1
        }
    );
    assert!(matches!(
        invalid(|m| m.tokens[1] = "data-credit".into()),
        MarketRecordError::TokenRepeated { .. }
    ));
    assert_eq!(
        invalid(|m| m.agents.swap(0, 1)),
        MarketRecordError::AgentsUnordered
    );
    assert!(matches!(
        invalid(|m| m.agents[3].cell = 9),
        MarketRecordError::AgentCellOutOfRange { cell: 9, .. }
    ));
    assert!(matches!(
        invalid(|m| m.agents[0].final_tokens.push(1)),
        MarketRecordError::AgentBalances { cell: 0, .. }
    ));
    assert_eq!(
        invalid(|m| m.rounds[1].round = 1),
        MarketRecordError::RoundsUnordered
    );
    assert!(matches!(
        invalid(|m| m.rounds[2].trades[0].token = 2),
        MarketRecordError::TokenOutOfRange {
            round: 3,
            token: 2,
            ..
        }
    ));
    assert!(matches!(
        invalid(|m| m.violations[0].cell = 4),
        MarketRecordError::ViolationCellOutOfRange { cell: 4, .. }
    ));
    let mut record = hand_record();
    record.transactions[1].market.as_mut().unwrap().token = Some(5);
    assert!(matches!(
        record.validate(),
        Err(crate::record::RecordError::Market(
            MarketRecordError::TxTokenOutOfRange { token: 5, .. }
        ))
    ));
}

#[test]
fn the_recorder_attaches_market_txs_and_orders_markets() {
    let mut recorder = RunRecorder::new("t", 1, 4, [0, 1], 10, Checks::default());
    recorder.tx_submitted(0, 0, "a");
    let market = TxMarket {
        kind: "cancel".into(),
        ..TxMarket::default()
    };
    recorder.tx_market("a", market.clone());
    recorder.tx_market("never-submitted", market.clone());
    let mut markets = hand_markets();
    markets.agents.reverse();
    markets.rounds.reverse();
    recorder.set_markets(markets);
    let record = recorder.finish(NS_PER_S, 0, HASH);
    assert_eq!(record.transactions[0].market, Some(market));
    assert_eq!(record.unknown_tx_observations, 1);
    let markets = record.markets.as_ref().unwrap();
    assert_eq!(markets, &hand_markets());
    record.validate().unwrap();
    // A record without markets or market TXs reads back from older JSON.
    let mut json: serde_json::Value = serde_json::to_value(&record).unwrap();
    json.as_object_mut().unwrap().remove("markets");
    json["transactions"][0]
        .as_object_mut()
        .unwrap()
        .remove("market");
    let back: RunRecord = serde_json::from_value(json).unwrap();
    assert_eq!(back.markets, None);
    assert_eq!(back.transactions[0].market, None);
}

#[test]
fn summary_markets_block_is_keyed_by_name_and_absent_without_markets() {
    let record = hand_record();
    let metrics = crate::metrics::Metrics::compute(&record);
    let summary = crate::summary::Summary::new(&record, &metrics, &[]);
    let text = summary.to_json();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let markets = &json["markets"];
    let credit = &markets["tokens"]["data-credit"];
    assert_eq!(credit["token"], 0);
    assert_eq!(credit["trades"], 2);
    assert_eq!(credit["volume_prana"], 616);
    assert_eq!(credit["spread_p50"], 5);
    assert_eq!(credit["fill_rate"], 0.65);
    assert_eq!(credit["time_to_fill_ms_p50"], 500.0);
    assert_eq!(credit["time_to_fill_ms_p99"], 1500.0);
    assert_eq!(credit["fundamental_distance_ppm_p50"], 15_000);
    assert_eq!(
        markets["tokens"]["gpu-hour"]["vwap"],
        serde_json::Value::Null
    );
    assert_eq!(
        markets["lease_markets"]["compute"]["utilisation_ppm_mean"],
        700_000
    );
    assert_eq!(
        markets["agent_kinds"]["noise-trader"]["pnl_prana_sum"],
        -185
    );
    assert_eq!(markets["front_running"]["front_runners"], 1);
    assert_eq!(markets["violations"]["conservation"], 2);
    assert_eq!(markets["agents"], 4);
    assert_eq!(markets["lease_markets"]["storage"]["events_other"], 1);
    // The block sits between attack and checks.
    let position = |key: &str| text.find(&format!("\n  \"{key}\": ")).unwrap();
    assert!(position("attack") < position("markets"));
    assert!(position("markets") < position("checks"));

    let mut plain = record;
    plain.markets = None;
    let metrics = crate::metrics::Metrics::compute(&plain);
    let json = crate::summary::Summary::new(&plain, &metrics, &[]).to_json();
    assert!(!json.contains("\"markets\""), "{json}");
}

#[test]
fn markets_and_agents_csv_rows() {
    let record = hand_record();
    let markets = record.markets.as_ref().unwrap();
    let mut bytes = Vec::new();
    crate::tables::write_markets_csv(markets, &mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], crate::tables::MARKETS_HEADER.join(","));
    // Four rounds × two tokens.
    assert_eq!(lines.len(), 1 + 8);
    assert_eq!(lines[1], "1,1000,data-credit,,102,,,10,5,0,0,0");
    assert_eq!(lines[2], "1,1000,gpu-hour,,,,,10,5,0,0,0");
    assert_eq!(lines[3], "2,2000,data-credit,98,102,100,4,10,5,1,4,408");
    // Round 2 reported no gpu-hour book: every book column empty.
    assert_eq!(lines[4], "2,2000,gpu-hour,,,,,,,0,0,0");
    assert_eq!(lines[5], "3,3000,data-credit,99,104,101.5,5,10,5,1,2,208");

    let metrics = MarketMetrics::compute(markets, &record.transactions);
    let mut bytes = Vec::new();
    crate::tables::write_agents_csv(&metrics, &mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], crate::tables::AGENTS_HEADER.join(","));
    assert_eq!(
        lines[1],
        "0,market-maker,false,1000,1300,2050,1930,-120,5,3,2,2"
    );
    assert_eq!(
        lines[4],
        "3,noise-trader,true,500,400,1025,820,-205,0,3,2,0"
    );

    let mut bytes = Vec::new();
    crate::tables::write_transactions_csv(&record, &mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[2].ends_with(",order,data-credit,bid,103,10"),
        "{}",
        lines[2]
    );
    assert!(lines[1].ends_with(",,,,,"), "{}", lines[1]);
}

#[test]
fn the_report_has_a_markets_section() {
    let record = hand_record();
    let metrics = crate::metrics::Metrics::compute(&record);
    let report = crate::markdown::render_report(&record, &metrics, &[]);
    for expected in [
        "## Markets\n",
        "| data-credit | 2 | 6 | 616 | 102.667 | 105.0 | 5 / 10 | 0.6500 | 500.000 ms / 1500.000 ms | 15000 ppm (of 100) |",
        "| gpu-hour | 0 | 0 | 0 | n/a | n/a | n/a / n/a | n/a | n/a / n/a | no fundamental |",
        "1 filled order(s) name a TX the record does not know",
        "| compute | 1 | 2 | 0 | 1 | 1 | 50 | 20 | 30 | 70.00 % |",
        "| storage | 1 | 0 | 1 | 0 | 0 | 20 | 0 | 0 | n/a |",
        "| noise-trader | 2 | 1 | -185 | -205 | -205 | 20 | 0 | 2 |",
        "| 1 | front-runner | 230 | 600 | 3 | 3 | 0 |",
        "| 3 (Byzantine) | noise-trader | -205 | 400 | 0 | 3 | 0 |",
        "Front-running: 1 front-runner(s) made a mean PnL of 230.000 PRANA; the other 3 agent(s), -101.667 (advantage 331.667).",
        "- round 4: compute lease 1, provider cell 2, 30 PRANA slashed: missed storage proof",
        "| conservation | 2 |",
        "- cell 1, round 4 (4000.000 ms): escrow: escrow broken",
        "![Price of data-credit over virtual time](market_price_0.svg)",
        "![Lease capacity utilisation over virtual time](market_capacity.svg)",
        "[agents.csv](agents.csv)",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
    // Highest PnL first: cells 1, 2, 0, 3.
    let order: Vec<usize> = ["| 1 | front", "| 2 | noise", "| 0 | market", "| 3 (Byz"]
        .iter()
        .map(|row| report.find(row).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");

    let mut quiet = hand_markets();
    quiet.violations.clear();
    for round in &mut quiet.rounds {
        round.leases.clear();
    }
    let mut record = record;
    record.markets = Some(quiet);
    let metrics = crate::metrics::Metrics::compute(&record);
    let report = crate::markdown::render_report(&record, &metrics, &[]);
    assert!(report.contains("No provider was slashed."), "{report}");
    assert!(report.contains("### Ledger invariants\n\nNone reported broken."));
}
