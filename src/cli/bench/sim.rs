//! `celluler bench sim`: a trivial gossip protocol over the full network
//! model (regions, lognormal tails, loss, duplication, bandwidth queues, CPU
//! charges), timed on the wall clock. Wall time and memory are measured here,
//! never inside the simulator.

use std::path::PathBuf;
use std::time::Instant;

use celluler_core::node::CellIndex;
use celluler_core::rng::Probability;
use celluler_core::time::{NS_PER_MS, NS_PER_US};
use celluler_sim::gossip::{GossipConfig, GossipNode};
use celluler_sim::{LatencyModel, LinkModel, RegionMatrix, SimConfig, Simulation, TopologySpec};

use crate::cli::{Outcome, process};

#[derive(clap::Args)]
pub struct Args {
    /// Cells in the world.
    #[arg(long, default_value_t = 10_000)]
    cells: u32,
    /// Scenario seed: the same seed gives the same trace hash.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual time to simulate, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    virtual_ms: u64,
    /// Idle cells: no gossip, full mesh (measures the engine's per-cell memory).
    #[arg(long)]
    idle: bool,
    /// Write the full trace as JSON lines to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    trace: Option<PathBuf>,
    /// Replay against a trace written by --trace; report the first divergence.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

const REGIONS: u16 = 4;
const DEGREE: u32 = 8;

fn config(args: &Args) -> SimConfig {
    let mut config = SimConfig::new(args.seed, args.cells);
    if args.idle {
        return config;
    }
    config.topology = TopologySpec::RandomRegular { degree: DEGREE };
    config.link = LinkModel {
        latency: LatencyModel::Constant {
            latency_ns: NS_PER_MS,
        },
        loss: Probability::from_f64(0.01).expect("valid"),
        duplicate: Probability::from_f64(0.005).expect("valid"),
        bandwidth_bytes_per_s: Some(12_500_000), // 100 Mbit/s
        queue_limit_bytes: Some(64 * 1024),
    };
    // Within a region: normal around 5 ms; across: lognormal around 40 ms.
    let latency = (0..REGIONS * REGIONS)
        .map(|entry| {
            if entry / REGIONS == entry % REGIONS {
                LatencyModel::Normal {
                    mean_ns: 5 * NS_PER_MS,
                    std_dev_ns: NS_PER_MS,
                }
            } else {
                LatencyModel::LogNormal {
                    median_ns: 40 * NS_PER_MS,
                    sigma_milli: 300,
                }
            }
        })
        .collect();
    config.regions = Some(RegionMatrix::round_robin(args.cells, REGIONS, latency));
    config
}

pub fn run(args: Args) -> Outcome {
    let mode = match process::trace_mode(args.trace.as_deref(), args.replay.as_deref()) {
        Ok(mode) => mode,
        Err(outcome) => return outcome,
    };
    let gossip = GossipConfig {
        seed: args.seed,
        period_ns: if args.idle { 0 } else { 100 * NS_PER_MS },
        fanout: 2,
        hops: 8,
        cpu_per_message_ns: 2 * NS_PER_US,
    };
    let started = Instant::now();
    let mut simulation = match Simulation::new(config(&args), mode, |cell: CellIndex| {
        GossipNode::new(gossip, cell)
    }) {
        Ok(simulation) => simulation,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let built_s = started.elapsed().as_secs_f64();
    let running = Instant::now();
    let cpu_before_s = process::cpu_s();
    let virtual_ns = args.virtual_ms.saturating_mul(NS_PER_MS);
    let events = simulation.run_until(virtual_ns);
    let wall_s = running.elapsed().as_secs_f64();
    let run_cpu_s = match (cpu_before_s, process::cpu_s()) {
        (Some(before), Some(after)) => after - before,
        _ => f64::NAN,
    };

    let totals = simulation.metrics().totals();
    let deliveries = totals.delivered;
    let deliveries_per_s = deliveries as f64 / wall_s;
    let virtual_to_wall = virtual_ns as f64 / 1e9 / wall_s;
    let peak_rss_mb = process::peak_rss_mb().unwrap_or(f64::NAN);
    let trace_hash = simulation.trace().hash_hex();

    println!(
        "bench sim: {} cells, seed {}, {} ms virtual{}",
        args.cells,
        args.seed,
        args.virtual_ms,
        if args.idle { " (idle)" } else { "" }
    );
    println!("  built in {built_s:.3} s; {events} events in {wall_s:.3} s wall");
    println!(
        "  sent {} delivered {} dropped {} duplicated {}",
        totals.sent,
        deliveries,
        totals.dropped_total(),
        totals.duplicated
    );
    println!(
        "  deliveries/s {deliveries_per_s:.0} (per CPU second {:.0})  virtual/wall {virtual_to_wall:.3}  peak RSS {peak_rss_mb:.1} MiB",
        deliveries as f64 / run_cpu_s
    );
    println!("  trace hash {trace_hash}");
    if args.idle {
        println!(
            "  per cell: engine slot {} B, node {} B (before heap allocations)",
            Simulation::<GossipNode>::cell_slot_bytes(),
            std::mem::size_of::<GossipNode>()
        );
    }

    if let Some(path) = &args.trace {
        match process::write_trace(simulation.trace(), path) {
            Ok(count) => println!("  trace: {count} records to {}", path.display()),
            Err(outcome) => return outcome,
        }
    }
    let divergence = simulation.trace().divergence();
    if args.replay.is_some() && divergence.is_none() {
        println!("  replay: every step matches the recording");
    }
    if args.json {
        let summary = serde_json::json!({
            "cells": args.cells,
            "seed": args.seed,
            "virtual_ms": args.virtual_ms,
            "idle": args.idle,
            "events": events,
            "deliveries": deliveries,
            "wall_s": wall_s,
            "cpu_s": run_cpu_s,
            "deliveries_per_cpu_s": deliveries as f64 / run_cpu_s,
            "deliveries_per_s": deliveries_per_s,
            "virtual_to_wall": virtual_to_wall,
            "peak_rss_mb": peak_rss_mb,
            "trace_hash": trace_hash,
        });
        println!("{summary}");
    }
    match divergence {
        Some(divergence) => Outcome::CheckFailed(divergence.to_string()),
        None => Outcome::Success,
    }
}
