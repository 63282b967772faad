//! `celluler bench …`: benchmarks of whole subsystems (criterion covers the
//! small primitives). With `--json`, each prints one JSON object as the last
//! line of stdout.

use super::Outcome;

pub mod hashgraph;
pub mod sim;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Insert and order a random-gossip DAG of signed events.
    Hashgraph(hashgraph::Args),
    /// Run a trivial gossip protocol over the full network model.
    Sim(sim::Args),
}

pub fn run(command: BenchCommand) -> Outcome {
    match command {
        BenchCommand::Hashgraph(args) => hashgraph::run(args),
        BenchCommand::Sim(args) => sim::run(args),
    }
}
