//! `celluler bench hashgraph`: insert and order a random-gossip DAG of signed
//! events. Events are generated and signed in batches outside the timed part;
//! signature checks are timed separately (the simulator verifies each event
//! once and charges its CPU model), then the batch is inserted with
//! `insert_verified`, which is what `events_per_s` measures.

use std::time::{Duration, Instant};

use celluler_core::hashgraph::gossip::{GossipConfig, GossipGenerator};
use celluler_core::hashgraph::{Config, Hashgraph};

use crate::cli::Outcome;

const BATCH_EVENTS: usize = 20_000;

#[derive(clap::Args)]
pub struct Args {
    /// Members (all with equal stake).
    #[arg(long, default_value_t = 32)]
    members: u32,
    /// Events to insert.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Members that fork (the first N; each forks one event in four). Fewer
    /// than a third of the members.
    #[arg(long, default_value_t = 0)]
    forkers: u32,
    /// Seed of the gossip DAG.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object as the last line of stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Outcome {
    if args.members == 0 || args.events == 0 {
        return Outcome::BadInput("--members and --events must be at least 1".to_string());
    }
    if u64::from(args.forkers) * 3 >= u64::from(args.members) {
        return Outcome::BadInput(format!(
            "--forkers must be fewer than a third of --members ({} of {})",
            args.forkers, args.members
        ));
    }
    let mut generator = GossipGenerator::new(&GossipConfig {
        members: args.members,
        events: args.events,
        seed: args.seed,
        forkers: (0..args.forkers).collect(),
        fork_window: 0..usize::MAX,
        transaction_bytes: 0,
    });
    let keys = generator.public_keys();
    let mut graph = match Hashgraph::with_equal_stake(keys.clone(), Config::default()) {
        Ok(graph) => graph,
        Err(error) => return Outcome::BadInput(error.to_string()),
    };
    let (mut sign_time, mut verify_time, mut insert_time) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut inserted = 0;
    while inserted < args.events {
        let batch_len = BATCH_EVENTS.min(args.events - inserted);
        let started = Instant::now();
        let batch: Vec<_> = (0..batch_len).map(|_| generator.next_event()).collect();
        sign_time += started.elapsed();
        let started = Instant::now();
        for event in &batch {
            if let Err(error) = event.verify(&keys[event.creator() as usize]) {
                return Outcome::CheckFailed(format!("generated event does not verify: {error}"));
            }
        }
        verify_time += started.elapsed();
        let started = Instant::now();
        for event in batch {
            if let Err(error) = graph.insert_verified(event) {
                return Outcome::CheckFailed(format!("insert failed: {error}"));
            }
        }
        insert_time += started.elapsed();
        inserted += batch_len;
    }
    let seconds = insert_time.as_secs_f64();
    let events_per_s = inserted as f64 / seconds;
    let decided_rounds = graph.decided_rounds();
    let ordered = graph.ordered_count();
    let events_per_round = if decided_rounds == 0 {
        0.0
    } else {
        ordered as f64 / f64::from(decided_rounds)
    };
    let peak_rss_mb = peak_rss_mb();
    println!(
        "hashgraph: {} members ({} forking), {} events (seed {})",
        args.members, args.forkers, inserted, args.seed
    );
    println!(
        "  insert+order: {:.3} s, {:.0} events/s; {} ordered, {} rounds decided, {:.1} events/round",
        seconds, events_per_s, ordered, decided_rounds, events_per_round
    );
    println!(
        "  outside the timed part: generate+sign {:.3} s, verify {:.3} s ({:.1} us/event)",
        sign_time.as_secs_f64(),
        verify_time.as_secs_f64(),
        verify_time.as_secs_f64() * 1e6 / inserted as f64
    );
    println!(
        "  peak RSS: {peak_rss_mb:.1} MB; events still held at the end: {}",
        graph.retained_events()
    );
    if args.json {
        let summary = serde_json::json!({
            "members": args.members,
            "forkers": args.forkers,
            "forks_detected": graph.forks().len(),
            "events": inserted,
            "seed": args.seed,
            "events_per_s": events_per_s,
            "ordered_events": ordered,
            "decided_rounds": decided_rounds,
            "events_per_round": events_per_round,
            "peak_rss_mb": peak_rss_mb,
            "retained_events": graph.retained_events(),
            "verify_us_per_event": verify_time.as_secs_f64() * 1e6 / inserted as f64,
        });
        println!("{summary}");
    }
    Outcome::Success
}

/// Peak resident set size of this process (Linux `VmHWM`), 0 if unknown.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
