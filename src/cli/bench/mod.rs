//! `celluler bench …`: benchmarks of whole subsystems (criterion covers the
//! small primitives). With `--json`, each prints one JSON object as the last
//! line of stdout.

use super::Outcome;

pub mod cells;
pub mod hashgraph;
pub mod sim;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Run honest cells (the full stack) under a steady TX load.
    Cells(cells::Args),
    /// Insert and order a random-gossip DAG of signed events.
    Hashgraph(hashgraph::Args),
    /// Run a trivial gossip protocol over the full network model.
    Sim(sim::Args),
}

pub fn run(command: BenchCommand) -> Outcome {
    match command {
        BenchCommand::Cells(args) => cells::run(args),
        BenchCommand::Hashgraph(args) => hashgraph::run(args),
        BenchCommand::Sim(args) => sim::run(args),
    }
}
