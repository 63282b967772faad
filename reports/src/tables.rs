//! `transactions.csv` and `timeseries.csv`, and for a run with markets
//! `markets.csv` and `agents.csv`. Times are integer virtual nanoseconds
//! (`markets.csv`: milliseconds); an empty cell means "never" or "none"
//! (not ordered, not final, no such side of the book).

use std::io::Write;

use crate::market::{MarketMetrics, MarketRecord, format_mid};
use crate::metrics::Metrics;
use crate::record::{RunRecord, TimeNs};
use crate::summary::ns_to_ms;

pub const TRANSACTIONS_HEADER: [&str; 13] = [
    "id",
    "submitter",
    "submit_ns",
    "round_received",
    "consensus_timestamp_ns",
    "position",
    "first_final_ns",
    "all_final_ns",
    "market_kind",
    "market_token",
    "market_side",
    "market_price",
    "market_quantity",
];

pub const MARKETS_HEADER: [&str; 12] = [
    "round",
    "time_ms",
    "token",
    "best_bid",
    "best_ask",
    "mid",
    "spread",
    "bid_depth",
    "ask_depth",
    "trades",
    "volume_units",
    "volume_prana",
];

pub const AGENTS_HEADER: [&str; 12] = [
    "cell",
    "kind",
    "byzantine",
    "initial_prana",
    "final_prana",
    "initial_value_prana",
    "final_value_prana",
    "pnl_prana",
    "fees_paid",
    "txs_submitted",
    "orders_submitted",
    "txs_rejected",
];

pub const TIMESERIES_HEADER: [&str; 7] = [
    "second",
    "txs_submitted",
    "txs_finalized",
    "rounds_decided",
    "messages_sent",
    "messages_dropped",
    "events_created",
];

fn optional(value: Option<u64>) -> String {
    value.map_or_else(String::new, |v| v.to_string())
}

fn optional_text(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// One row per transaction, in submission order. `first_final_ns` is when
/// the first live honest cell knew it final, `all_final_ns` when the last did
/// (empty unless every live honest cell did). The `market_*` columns say
/// what a market TX asks for (the token by name when the record's exchange
/// lists it, else by id); they are empty for any other TX.
pub fn write_transactions_csv<W: Write>(record: &RunRecord, out: W) -> Result<(), csv::Error> {
    let live = record.live_honest_cells();
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(TRANSACTIONS_HEADER)?;
    for tx in &record.transactions {
        let known_final: Vec<TimeNs> = live
            .iter()
            .filter_map(|cell| tx.final_ns.get(cell).copied())
            .collect();
        let first_final = known_final.iter().copied().min();
        let all_final = (!live.is_empty() && known_final.len() == live.len())
            .then(|| known_final.iter().copied().max())
            .flatten();
        let market = tx.market.as_ref();
        writer.write_record([
            tx.id.clone(),
            tx.submitter.to_string(),
            tx.submit_ns.to_string(),
            optional(tx.order.map(|o| o.round_received)),
            optional(tx.order.map(|o| o.consensus_timestamp_ns)),
            optional(tx.order.map(|o| o.position)),
            optional(first_final),
            optional(all_final),
            market.map_or_else(String::new, |m| m.kind.clone()),
            optional_text(
                market
                    .and_then(|m| m.token)
                    .map(|token| match &record.markets {
                        Some(markets) => markets.token_name(token),
                        None => token.to_string(),
                    }),
            ),
            optional_text(market.and_then(|m| m.side.clone())),
            optional(market.and_then(|m| m.price)),
            optional(market.and_then(|m| m.quantity)),
        ])?;
    }
    writer.flush()?;
    Ok(())
}

/// One row per virtual second, from second 0 to the end of the run.
pub fn write_timeseries_csv<W: Write>(metrics: &Metrics, out: W) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(TIMESERIES_HEADER)?;
    for row in &metrics.timeseries {
        writer.write_record(
            [
                row.second,
                row.txs_submitted,
                row.txs_finalized,
                row.rounds_decided,
                row.messages_sent,
                row.messages_dropped,
                row.events_created,
            ]
            .map(|value| value.to_string()),
        )?;
    }
    writer.flush()?;
    Ok(())
}

/// One row per market round and token (round-major, then token id): the
/// book's top after the round, and the round's trades of the token.
/// `mid` is exact (`n` or `n.5`); `mid` and `spread` are empty unless both
/// sides of the book exist, as are `best_bid`/`best_ask` for an empty side
/// (and every book column when the round did not report the token's book).
pub fn write_markets_csv<W: Write>(markets: &MarketRecord, out: W) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(MARKETS_HEADER)?;
    for round in &markets.rounds {
        for (token, name) in markets.tokens.iter().enumerate() {
            let book = round
                .books
                .iter()
                .find(|book| usize::from(book.token) == token);
            let both_sides = book.and_then(|book| book.both_sides());
            let (trades, volume_units, volume_prana) = round
                .trades
                .iter()
                .filter(|trade| usize::from(trade.token) == token)
                .fold((0u64, 0u128, 0u128), |(count, units, prana), trade| {
                    (
                        count + 1,
                        units + u128::from(trade.quantity),
                        prana + u128::from(trade.price) * u128::from(trade.quantity),
                    )
                });
            writer.write_record([
                round.round.to_string(),
                ns_to_ms(round.time_ns).to_string(),
                name.clone(),
                optional(book.and_then(|book| book.best_bid)),
                optional(book.and_then(|book| book.best_ask)),
                both_sides.map_or_else(String::new, |(bid, ask)| format_mid(bid, ask)),
                optional(both_sides.map(|(bid, ask)| ask.saturating_sub(bid))),
                optional(book.map(|book| book.bid_depth)),
                optional(book.map(|book| book.ask_depth)),
                trades.to_string(),
                volume_units.to_string(),
                volume_prana.to_string(),
            ])?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// One row per agent, ascending by cell; values at the mark prices of
/// docs/metrics.md "Agents".
pub fn write_agents_csv<W: Write>(metrics: &MarketMetrics, out: W) -> Result<(), csv::Error> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(AGENTS_HEADER)?;
    for agent in &metrics.agents {
        writer.write_record([
            agent.cell.to_string(),
            agent.kind.clone(),
            agent.byzantine.to_string(),
            agent.initial_prana.to_string(),
            agent.final_prana.to_string(),
            agent.initial_value_prana.to_string(),
            agent.final_value_prana.to_string(),
            agent.pnl_prana.to_string(),
            agent.fees_paid.to_string(),
            agent.txs_submitted.to_string(),
            agent.orders_submitted.to_string(),
            agent.txs_rejected.to_string(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
