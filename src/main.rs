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
    /// Replay a hashgraph DAG file and print rounds, fame and consensus order.
    Dag(cli::dag::Args),
    /// Run a scenario: simulate, check, and write metrics, CSVs, plots and a report.
    Run(cli::run::Args),
    /// Run an attack scenario over many seeds against its honest baseline,
    /// in parallel, and judge its [expect] claims (attack.json, attack.md).
    Attack(cli::attack::Args),
    /// Check a scenario file without running it.
    Validate(cli::validate::Args),
    /// Run a scenario over seeds × a grid of --set values, in parallel:
    /// sweep.csv, sweep.md with medians and bootstrap intervals, plots.
    Sweep(cli::sweep::Args),
    /// Join the shards of a sweep (--shard I/N) into the whole sweep's outputs.
    Merge(cli::sweep::MergeArgs),
    /// Compare two sweeps of one grid per point and metric (Wilcoxon
    /// signed-rank, bootstrap intervals); exit 1 on a regression.
    Compare(cli::compare::Args),
    /// Delta-debug a failing run: make the scenario smaller one step at a
    /// time while the run at the same seed fails the same way, printing
    /// each step, and write the smallest scenario found.
    Shrink(cli::shrink::Args),
    /// Run every library scenario and check its trace hash and headline
    /// metrics against scenarios/golden.json (--update rewrites it).
    Golden(cli::golden::Args),
    /// Compare two trace files (`celluler run --trace`): the first divergent
    /// step with context, and the first ordered event the runs' cells
    /// decided differently.
    Diff(cli::diff::Args),
    /// Measure the speed of one part of the system.
    #[command(subcommand)]
    Bench(cli::bench::BenchCommand),
}

fn main() -> ExitCode {
    // A closed pipe on stdout (`celluler sweep ... | head`) ends the process
    // as it would any Unix tool, instead of a panic in `println!`.
    #[cfg(unix)]
    // SAFETY: called first, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Identity(args) => cli::identity::run(args),
        Command::Dag(args) => cli::dag::run(args),
        Command::Run(args) => cli::run::run(args),
        Command::Attack(args) => cli::attack::run(args),
        Command::Validate(args) => cli::validate::run(args),
        Command::Sweep(args) => cli::sweep::run(args),
        Command::Merge(args) => cli::sweep::merge(args),
        Command::Compare(args) => cli::compare::run(args),
        Command::Shrink(args) => cli::shrink::run(args),
        Command::Golden(args) => cli::golden::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Bench(command) => cli::bench::run(command),
    };
    outcome.exit_code()
}
