//! `celluler`: the one command-line entry point.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(
    name = "celluler",
    version,
    about = "Deterministic network simulator and test harness for the Celluler cell network"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the identity (cell id and public key) a scenario seed gives a cell.
    Identity(cli::identity::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Identity(args) => cli::identity::run(args),
    };
    outcome.exit_code()
}
