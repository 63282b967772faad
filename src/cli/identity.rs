//! `celluler identity --seed S --cell I`

use celluler_core::identity::{CellKeys, hex};

use super::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario seed.
    #[arg(long)]
    seed: u64,
    /// Cell index within the scenario.
    #[arg(long)]
    cell: u32,
}

pub fn run(args: Args) -> Outcome {
    let keys = CellKeys::for_simulated_cell(args.seed, args.cell);
    println!("cell_id    {}", keys.cell_id());
    println!("public_key {}", hex(keys.public().as_bytes()));
    Outcome::Success
}
