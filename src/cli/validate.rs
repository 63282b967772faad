//! `celluler validate FILE`: parse and check a scenario without running it.

use std::path::PathBuf;

use celluler_sim::scenario::Scenario;

use super::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (TOML) to check.
    file: PathBuf,
}

pub fn run(args: Args) -> Outcome {
    match Scenario::load(&args.file) {
        Ok(scenario) => {
            println!("{}: valid", args.file.display());
            println!("{}", scenario.summary());
            Outcome::Success
        }
        Err(error) => Outcome::BadInput(error.to_string()),
    }
}
