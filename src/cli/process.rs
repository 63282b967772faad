//! What the CLI reads about its own process (never the simulation: these
//! figures go to benchmark output only) and the trace-file options shared by
//! the commands that run a simulation.

use std::io::{BufReader, BufWriter};
use std::path::Path;

use celluler_core::cell::CellObservation;
use celluler_sim::Observed;
use celluler_sim::trace::{self, DecidedRound, Trace, TraceMode};

use super::Outcome;

/// CPU time this process has run, in seconds, from /proc/self/schedstat:
/// on a shared machine wall time counts other processes' turns too.
pub fn cpu_s() -> Option<f64> {
    let schedstat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let ns: f64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Peak resident set (VmHWM) in MiB, from /proc/self/status.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The trace mode for `--trace FILE` (record) or `--replay FILE` (verify
/// against a recording); hash only otherwise. A bad replay file is bad input.
pub fn trace_mode(trace: Option<&Path>, replay: Option<&Path>) -> Result<TraceMode, Outcome> {
    match replay {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|error| Outcome::BadInput(format!("{}: {error}", path.display())))?;
            let expected = trace::read_json_lines(BufReader::new(file))
                .map_err(|error| Outcome::BadInput(format!("{}: {error}", path.display())))?;
            Ok(TraceMode::Verify {
                expected,
                divergence: None,
            })
        }
        None if trace.is_some() => Ok(TraceMode::Record(Vec::new())),
        None => Ok(TraceMode::HashOnly),
    }
}

/// Writes a recorded trace as JSON lines; returns how many records.
pub fn write_trace(recorded: &Trace, path: &Path) -> Result<usize, Outcome> {
    write_run_trace(recorded, &DecidedRounds::default(), path)
}

/// Writes a recorded trace as JSON lines, the steps then each honest cell's
/// decided rounds (`docs/trace.md`); returns how many step records.
pub fn write_run_trace(
    recorded: &Trace,
    decided: &DecidedRounds,
    path: &Path,
) -> Result<usize, Outcome> {
    let records = recorded.records().unwrap_or_default();
    std::fs::File::create(path)
        .map_err(trace::TraceFileError::from)
        .and_then(|file| trace::write_trace_file(records, &decided.lines, BufWriter::new(file)))
        .map_err(|error| Outcome::BadInput(format!("{}: {error}", path.display())))?;
    Ok(records.len())
}

/// Each honest cell's decided rounds as the run observes them, in
/// observation order, as the lines a `--trace` file ends with.
#[derive(Debug, Default)]
pub struct DecidedRounds {
    /// Cell indices, ascending.
    honest_cells: Vec<u32>,
    lines: Vec<DecidedRound>,
}

impl DecidedRounds {
    pub fn new(mut honest_cells: Vec<u32>) -> DecidedRounds {
        honest_cells.sort_unstable();
        DecidedRounds {
            honest_cells,
            lines: Vec::new(),
        }
    }

    /// Keeps `observed` if it is an honest cell's decided round.
    pub fn observe(&mut self, observed: &Observed<CellObservation>) {
        let CellObservation::RoundDecided {
            round,
            ordered_events,
            order_digest,
            events,
            ..
        } = &observed.observation
        else {
            return;
        };
        if self.honest_cells.binary_search(&observed.cell.0).is_err() {
            return;
        }
        self.lines.extend(DecidedRound::lines(
            observed.time_ns,
            observed.cell.0,
            *round,
            *ordered_events,
            *order_digest,
            events,
        ));
    }
}
