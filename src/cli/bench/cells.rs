//! `celluler bench cells`: N honest cells (the full stack: five services,
//! journals, hashgraph gossip with a real ed25519 signature on every event)
//! under a steady TX load, timed on the wall clock. Reports virtual-to-wall
//! ratio, events and TXs ordered per wall second, finality, peak memory, and
//! checks that every TX submitted before the last 10 virtual seconds was
//! ordered and that the run's invariants held.

use std::collections::{HashMap, HashSet}; // lookup-only: TX id -> submission
use std::time::Instant;

use celluler_core::cell::{CellCommand, CellObservation, TxId};
use celluler_core::node::CellIndex;
use celluler_core::rng::Probability;
use celluler_core::time::{NS_PER_MS, NS_PER_S, TimeNs};
use celluler_reports::nearest_rank;
use celluler_sim::LatencyModel;
use celluler_sim::world::{CellWorld, DEFAULT_GOSSIP_INTERVAL_NS, WorldConfig};

use crate::cli::{Outcome, process};

#[derive(clap::Args)]
pub struct Args {
    /// Cells in the world, every one a hashgraph member.
    #[arg(long, default_value_t = 100)]
    cells: u32,
    /// Virtual seconds to simulate.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Loss probability of every message.
    #[arg(long, default_value_t = 0.05)]
    loss: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Network-wide TX submissions per virtual second.
    #[arg(long, default_value_t = 100)]
    tx_per_s: u64,
    /// Gossip interval in milliseconds (default 200).
    #[arg(long, default_value_t = DEFAULT_GOSSIP_INTERVAL_NS / NS_PER_MS)]
    gossip_ms: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

/// TXs submitted this close to the end may still be in flight.
const SETTLE_NS: TimeNs = 10 * NS_PER_S;

/// Nearest-rank percentile (the reports' definition, docs/metrics.md) of
/// ascending nanoseconds, in milliseconds; `None` for no sample.
fn percentile_ms(sorted: &[TimeNs], permille: u64) -> Option<f64> {
    nearest_rank(sorted, permille).map(|ns| ns as f64 / NS_PER_MS as f64)
}

/// `"4750 ms"`, or `"n/a"` when there was no sample.
fn show_ms(ms: Option<f64>) -> String {
    ms.map_or_else(|| "n/a".to_string(), |ms| format!("{ms:.0} ms"))
}

pub fn run(args: Args) -> Outcome {
    let Some(loss) = Probability::from_f64(args.loss) else {
        return Outcome::BadInput(format!("--loss {} is not a probability", args.loss));
    };
    if args.cells < 2 {
        return Outcome::BadInput("--cells must be at least 2".into());
    }
    let mut config = WorldConfig::new(args.seed, args.cells);
    config.gossip_interval_ns = args.gossip_ms.max(1) * NS_PER_MS;
    config.sim.link.loss = loss;
    // Uniform 10..60 ms one-way: a continental WAN.
    config.sim.link.latency = LatencyModel::Uniform {
        min_ns: 10 * NS_PER_MS,
        max_ns: 60 * NS_PER_MS,
    };
    let end_ns = args.seconds * NS_PER_S;
    let started = Instant::now();
    let mut world = match CellWorld::new(config) {
        Ok(world) => world,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    // The steady load: TX i from cell i mod N to the next cell, evenly spaced.
    let tx_total = args.tx_per_s * args.seconds;
    for i in 0..tx_total {
        let at = NS_PER_S / 2 + i * NS_PER_S / args.tx_per_s.max(1);
        if at >= end_ns {
            break;
        }
        let from = (i % u64::from(args.cells)) as u32;
        world.schedule_command(
            at,
            CellIndex(from),
            CellCommand::Transfer {
                to: CellIndex((from + 1) % args.cells),
                amount: 1,
                fee: 1,
            },
        );
    }
    let built_s = started.elapsed().as_secs_f64();
    let running = Instant::now();
    let mut submitted: HashMap<TxId, (CellIndex, TimeNs)> = HashMap::new();
    let mut finality_ns: Vec<TimeNs> = Vec::new();
    let mut ordered: HashSet<TxId> = HashSet::new();
    let mut ordered_events = 0u64;
    let mut rounds_decided = 0u32;
    let mut inputs = 0u64;
    let mut second = 0;
    while second < args.seconds {
        second += 1;
        inputs += world.run_until(second * NS_PER_S);
        for observed in world.take_observations() {
            match observed.observation {
                CellObservation::TxSubmitted { tx } => {
                    submitted.insert(tx, (observed.cell, observed.time_ns));
                }
                CellObservation::TxOrdered { tx, .. } => {
                    if let Some(&(cell, at)) = submitted.get(&tx)
                        && cell == observed.cell
                    {
                        finality_ns.push(observed.time_ns - at);
                        ordered.insert(tx);
                    }
                }
                CellObservation::RoundDecided {
                    round,
                    ordered_events: events,
                    ..
                } => {
                    ordered_events = ordered_events.max(events);
                    rounds_decided = rounds_decided.max(round + 1);
                }
                _ => {}
            }
        }
    }
    let wall_s = running.elapsed().as_secs_f64();
    let virtual_to_wall = end_ns as f64 / 1e9 / wall_s;
    let txs_ordered = finality_ns.len() as u64;
    let unordered_early = submitted
        .iter()
        .filter(|(tx, (_, at))| *at + SETTLE_NS <= end_ns && !ordered.contains(*tx))
        .count();
    finality_ns.sort_unstable();
    let finality_p50_ms = percentile_ms(&finality_ns, 500);
    let finality_p99_ms = percentile_ms(&finality_ns, 990);
    let peak_rss_mb = process::peak_rss_mb().unwrap_or(f64::NAN);
    let events_per_s = ordered_events as f64 / wall_s;
    let txs_ordered_per_s = txs_ordered as f64 / wall_s;
    let store_events = world.environment().arena().event_count();
    let signatures_checked = world.environment().arena().signatures_checked;
    let verdict = world.verdict();
    let trace_hash = world.simulation().trace().hash_hex();

    println!(
        "bench cells: {} cells, {} s virtual, loss {}, seed {}, gossip every {} ms, {} TX/s",
        args.cells, args.seconds, args.loss, args.seed, args.gossip_ms, args.tx_per_s
    );
    println!("  built in {built_s:.3} s; {inputs} inputs in {wall_s:.3} s wall");
    println!(
        "  events created {store_events}, ordered {ordered_events} in {rounds_decided} rounds; signatures checked once each: {signatures_checked}"
    );
    println!(
        "  TXs submitted {} ordered {txs_ordered}; finality p50 {} p99 {}",
        submitted.len(),
        show_ms(finality_p50_ms),
        show_ms(finality_p99_ms)
    );
    println!(
        "  virtual/wall {virtual_to_wall:.3}  events ordered/s {events_per_s:.0}  TXs ordered/s {txs_ordered_per_s:.0}  peak RSS {peak_rss_mb:.1} MiB"
    );
    println!("  trace hash {trace_hash}");
    if args.json {
        let summary = serde_json::json!({
            "cells": args.cells,
            "seconds": args.seconds,
            "loss": args.loss,
            "seed": args.seed,
            "gossip_ms": args.gossip_ms,
            "virtual_to_wall": virtual_to_wall,
            "events_per_s": events_per_s,
            "txs_ordered_per_s": txs_ordered_per_s,
            "peak_rss_mb": peak_rss_mb,
            "wall_s": wall_s,
            "events_ordered": ordered_events,
            "rounds_decided": rounds_decided,
            "txs_submitted": submitted.len(),
            "txs_ordered": txs_ordered,
            "finality_ms_p50": finality_p50_ms,
            "finality_ms_p99": finality_p99_ms,
            "trace_hash": trace_hash,
        });
        println!("{summary}");
    }
    if !verdict.is_empty() {
        return Outcome::CheckFailed(format!("invariants violated: {}", verdict.join("; ")));
    }
    if unordered_early > 0 {
        return Outcome::CheckFailed(format!(
            "{unordered_early} TXs submitted before the last 10 virtual seconds were not ordered"
        ));
    }
    Outcome::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finality_percentiles_are_the_reports_nearest_rank_in_ms() {
        let sorted: Vec<TimeNs> = (1..=4).map(|ms| ms * NS_PER_MS).collect();
        assert_eq!(percentile_ms(&sorted, 500), Some(2.0));
        assert_eq!(percentile_ms(&sorted, 510), Some(3.0));
        assert_eq!(percentile_ms(&sorted, 990), Some(4.0));
        assert_eq!(percentile_ms(&[], 500), None);
        assert_eq!(show_ms(Some(4750.4)), "4750 ms");
        assert_eq!(show_ms(None), "n/a");
    }
}
