//! `transactions.csv` and `timeseries.csv`. Times are integer virtual
//! nanoseconds; an empty cell means "never" (not ordered, not final).

use std::io::Write;

use crate::metrics::Metrics;
use crate::record::{RunRecord, TimeNs};

pub const TRANSACTIONS_HEADER: [&str; 8] = [
    "id",
    "submitter",
    "submit_ns",
    "round_received",
    "consensus_timestamp_ns",
    "position",
    "first_final_ns",
    "all_final_ns",
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

/// One row per transaction, in submission order. `first_final_ns` is when
/// the first live honest cell knew it final, `all_final_ns` when the last did
/// (empty unless every live honest cell did).
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
        writer.write_record([
            tx.id.clone(),
            tx.submitter.to_string(),
            tx.submit_ns.to_string(),
            optional(tx.order.map(|o| o.round_received)),
            optional(tx.order.map(|o| o.consensus_timestamp_ns)),
            optional(tx.order.map(|o| o.position)),
            optional(first_final),
            optional(all_final),
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
