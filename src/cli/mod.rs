//! One module per subcommand. Each returns an [`Outcome`], which fixes the
//! exit status: 0 success, 1 a check failed, 2 bad input.

use std::process::ExitCode;

pub mod attack;
pub mod batch;
pub mod bench;
pub mod compare;
pub mod dag;
pub mod diff;
pub mod golden;
pub mod identity;
pub mod markets;
pub mod process;
pub mod run;
pub mod shrink;
pub mod sweep;
pub mod validate;

/// How a command ended.
#[allow(
    dead_code,
    reason = "CheckFailed and BadInput serve the run, attack, validate and dag commands"
)]
#[derive(Debug)]
pub enum Outcome {
    Success,
    /// The run completed but a check did not hold (exit 1).
    CheckFailed(String),
    /// The input was invalid; nothing was run (exit 2).
    BadInput(String),
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::CheckFailed(message) => {
                eprintln!("celluler: check failed: {message}");
                ExitCode::from(1)
            }
            Outcome::BadInput(message) => {
                eprintln!("celluler: {message}");
                ExitCode::from(2)
            }
        }
    }
}
