//! In development on its own branch; replaced when its issue lands.

use super::Outcome;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Outcome {
    Outcome::BadInput("this command is not built yet".to_string())
}
