//! `celluler dag FILE [--dot]`: replay a hashgraph DAG file
//! (`docs/dag-format.md`) and print rounds, witnesses, fame, round received,
//! consensus timestamps and the consensus order as JSON, or Graphviz DOT. A
//! recorded DAG (`celluler run --dag`) carries the facts its cell decided;
//! every one the replay decides otherwise is listed, and the exit status is 1.

use std::path::PathBuf;

use celluler_core::hashgraph::replay::{DagFile, replay, to_dot};

use super::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// The DAG file (JSON, format "celluler-dag/1").
    file: PathBuf,
    /// Print Graphviz DOT instead of JSON.
    #[arg(long)]
    dot: bool,
}

pub fn run(args: Args) -> Outcome {
    let text = match std::fs::read_to_string(&args.file) {
        Ok(text) => text,
        Err(error) => {
            return Outcome::BadInput(format!("cannot read {}: {error}", args.file.display()));
        }
    };
    let file: DagFile = match serde_json::from_str(&text) {
        Ok(file) => file,
        Err(error) => {
            return Outcome::BadInput(format!(
                "{}: not a valid DAG file: {error}",
                args.file.display()
            ));
        }
    };
    let replayed = match replay(&file) {
        Ok(replayed) => replayed,
        Err(error) => return Outcome::BadInput(format!("{}: {error}", args.file.display())),
    };
    if args.dot {
        print!("{}", to_dot(&replayed));
        return Outcome::Success;
    }
    let mut events = serde_json::Map::new();
    for (id, info) in &replayed.events {
        events.insert(
            id.clone(),
            serde_json::json!({
                "round": info.round,
                "witness": info.witness,
                "famous": info.famous,
                "round_received": info.round_received,
                "consensus_timestamp": info.consensus_timestamp_ns,
            }),
        );
    }
    let mut output = serde_json::json!({
        "events": events,
        "consensus_order": replayed.consensus_order,
        "forks": replayed.forks.iter().map(|(a, b)| [a, b]).collect::<Vec<_>>(),
    });
    if replayed.recorded_events > 0 {
        output["recorded"] = serde_json::json!({
            "events": replayed.recorded_events,
            "disagreements": replayed.recorded_disagreements,
        });
    }
    match serde_json::to_string_pretty(&output) {
        Ok(text) => println!("{text}"),
        Err(error) => return Outcome::CheckFailed(format!("cannot print the result: {error}")),
    }
    match replayed.recorded_disagreements.as_slice() {
        [] => Outcome::Success,
        [first, ..] => Outcome::CheckFailed(format!(
            "{}: the replay disagrees with {} recorded fact(s); first: {first}",
            args.file.display(),
            replayed.recorded_disagreements.len()
        )),
    }
}
