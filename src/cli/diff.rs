//! `celluler diff TRACE_A TRACE_B [--context N]`: where two trace files
//! written by `celluler run --trace` (docs/trace.md) first differ. Prints
//! both files' step counts, then "identical" or the first divergent step
//! with the N steps before it from both files side by side, then the first
//! (round, position) at which some honest cell's ordered event differs
//! between the files, the two events and the cells that disagree. Exit 0
//! when identical, 1 when the traces diverge, 2 when a file cannot be read
//! or is malformed (file:line and what was expected).
//!
//! Steps are compared as the files are read, in memory bounded by the
//! context and the line limit; decided rounds are kept per (position, cell)
//! until both files are read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use celluler_sim::trace::{
    HexHash, InputKind, TRACE_LINE_BYTES_MAX, TraceFileError, TraceLine, TraceLines, TraceRecord,
};

use super::Outcome;

/// The most steps of context `--context` may ask for.
const CONTEXT_STEPS_MAX: u64 = 10_000;

#[derive(clap::Args)]
pub struct Args {
    /// The first trace file (JSON lines from `celluler run --trace`).
    trace_a: PathBuf,
    /// The second trace file.
    trace_b: PathBuf,
    /// Steps shown before the first divergent step (at most 10000).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(..=CONTEXT_STEPS_MAX)
    )]
    context: u64,
}

pub fn run(args: Args) -> Outcome {
    diff(&args).unwrap_or_else(|outcome| outcome)
}

fn diff(args: &Args) -> Result<Outcome, Outcome> {
    let mut a = TraceReader::open(&args.trace_a)?;
    let mut b = TraceReader::open(&args.trace_b)?;
    let context_steps_max = args.context as usize;
    let mut context: VecDeque<TraceRecord> = VecDeque::new();
    let mut step = 0u64;
    let step_divergence = loop {
        let (step_a, step_b) = (a.next_step()?, b.next_step()?);
        match (step_a, step_b) {
            (None, None) => break None,
            (Some(same), Some(other)) if same == other => {
                if context_steps_max > 0 {
                    if context.len() == context_steps_max {
                        context.pop_front();
                    }
                    context.push_back(same);
                }
                step += 1;
            }
            _ => {
                break Some(StepDivergence {
                    step,
                    a: step_a,
                    b: step_b,
                });
            }
        }
    };
    // Read both files to the end: their step counts, decided rounds and
    // any malformed line after the divergence.
    a.read_to_end()?;
    b.read_to_end()?;

    for (label, reader) in [("A", &a), ("B", &b)] {
        let cells: BTreeSet<u32> = reader.decided.keys().map(|&(_, cell)| cell).collect();
        println!(
            "{label} {}: {} steps; {} ordered events decided by {} honest cells",
            reader.path.display(),
            reader.steps,
            reader.decided.len(),
            cells.len()
        );
    }
    let mut differences = Vec::new();
    match &step_divergence {
        None => println!("steps: identical ({} steps)", a.steps),
        Some(divergence) => {
            println!(
                "steps: first divergent step {} ({})",
                divergence.step,
                divergence.describe()
            );
            print_context(&context, divergence);
            differences.push(format!("at step {}", divergence.step));
        }
    }
    match first_consensus_divergence(&a.decided, &b.decided) {
        ConsensusComparison::NotRecorded => {
            println!("consensus: not compared (no decided rounds recorded in A or B)")
        }
        ConsensusComparison::Identical { positions } => println!(
            "consensus: identical ({positions} cell positions decided in both files agree)"
        ),
        ConsensusComparison::Diverged(divergence) => {
            divergence.print();
            differences.push(format!(
                "in consensus at round {}, position {}",
                divergence.round_a, divergence.position
            ));
        }
    }
    if differences.is_empty() {
        println!("identical");
        Ok(Outcome::Success)
    } else {
        println!("diverged");
        Ok(Outcome::CheckFailed(format!(
            "the traces diverge {}",
            differences.join(" and ")
        )))
    }
}

/// One trace file, read a line at a time: its steps in order, the decided
/// rounds kept as they pass.
struct TraceReader {
    path: PathBuf,
    lines: TraceLines<BufReader<File>>,
    /// Steps read so far.
    steps: u64,
    /// Each honest cell's ordered event at each position it decided:
    /// (position, cell) → (round, event). The first report of a position
    /// stands.
    decided: BTreeMap<(u64, u32), (u32, HexHash)>,
}

impl TraceReader {
    fn open(path: &Path) -> Result<TraceReader, Outcome> {
        let file = File::open(path)
            .map_err(|error| Outcome::BadInput(format!("{}: {error}", path.display())))?;
        Ok(TraceReader {
            path: path.to_path_buf(),
            lines: TraceLines::new(BufReader::new(file)),
            steps: 0,
            decided: BTreeMap::new(),
        })
    }

    /// The next step, keeping the decided rounds on the way; `None` at the
    /// end of the file.
    fn next_step(&mut self) -> Result<Option<TraceRecord>, Outcome> {
        for line in self.lines.by_ref() {
            match line.map_err(|error| file_error(&self.path, error))? {
                (_, TraceLine::Step(record)) => {
                    self.steps += 1;
                    return Ok(Some(record));
                }
                (_, TraceLine::Decided(round)) => {
                    for (position, event) in round.positioned_events() {
                        self.decided
                            .entry((position, round.cell))
                            .or_insert((round.round, event));
                    }
                }
            }
        }
        Ok(None)
    }

    fn read_to_end(&mut self) -> Result<(), Outcome> {
        while self.next_step()?.is_some() {}
        Ok(())
    }
}

/// A trace file error as `FILE:LINE: what was expected`.
fn file_error(path: &Path, error: TraceFileError) -> Outcome {
    let path = path.display();
    Outcome::BadInput(match error {
        TraceFileError::Io(error) => format!("{path}: {error}"),
        TraceFileError::LineTooLong { line } => format!(
            "{path}:{line}: a trace line is at most {TRACE_LINE_BYTES_MAX} bytes, this one is longer"
        ),
        TraceFileError::Parse { line, message } => format!("{path}:{line}: {message}"),
    })
}

/// The first step at which the files differ; `None` on a side: that file
/// ended first.
struct StepDivergence {
    step: u64,
    a: Option<TraceRecord>,
    b: Option<TraceRecord>,
}

impl StepDivergence {
    /// Which fields differ, or which file ended.
    fn describe(&self) -> String {
        match (&self.a, &self.b) {
            (Some(a), Some(b)) => {
                let fields = [
                    ("time", a.time_ns != b.time_ns),
                    ("cell", a.cell != b.cell),
                    ("kind", a.kind != b.kind),
                    ("from", a.from != b.from),
                    ("digest", a.detail != b.detail),
                ];
                let differing: Vec<&str> = fields
                    .iter()
                    .filter(|(_, differs)| *differs)
                    .map(|(name, _)| *name)
                    .collect();
                format!("differs in {}", differing.join(", "))
            }
            (None, _) => "A ends here".to_string(),
            (_, None) => "B ends here".to_string(),
        }
    }
}

/// Characters of one file's columns in the context table.
const SIDE_WIDTH: usize = 50;

/// The context steps and the divergent one, A left and B right.
fn print_context(context: &VecDeque<TraceRecord>, divergence: &StepDivergence) {
    let row = |marker: &str, step: &dyn std::fmt::Display, a: &str, b: &str| {
        let line = format!("{marker} {step:>10}  {a:<SIDE_WIDTH$} | {b}");
        println!("{}", line.trim_end());
    };
    let header = format!(
        "{:>13} {:>5} {:<7} {:>5} {}",
        "time ms", "cell", "kind", "from", "digest"
    );
    row(" ", &"step", &header, &header);
    let first_step = divergence.step - context.len() as u64;
    for (step, record) in (first_step..).zip(context) {
        let side = step_columns(Some(record));
        row(" ", &step, &side, &side);
    }
    row(
        ">",
        &divergence.step,
        &step_columns(divergence.a.as_ref()),
        &step_columns(divergence.b.as_ref()),
    );
}

/// One step's columns: time (ms with µs), cell, kind, sender, digest.
fn step_columns(record: Option<&TraceRecord>) -> String {
    let Some(record) = record else {
        return "(end of trace)".to_string();
    };
    let (kind, from, digest) = match record.kind {
        InputKind::Start => ("start", "-".to_string(), "-".to_string()),
        InputKind::Restart => ("restart", "-".to_string(), "-".to_string()),
        InputKind::Deliver => (
            "deliver",
            record.from.to_string(),
            format!("{:016x}", record.detail),
        ),
        InputKind::Timer => ("timer", "-".to_string(), format!("{:016x}", record.detail)),
        InputKind::Command => ("command", "-".to_string(), format!("#{}", record.detail)),
    };
    format!(
        "{:>9}.{:03} {:>5} {kind:<7} {from:>5} {digest:<16}",
        record.time_ns / 1_000_000,
        record.time_ns / 1_000 % 1_000,
        record.cell
    )
}

enum ConsensusComparison {
    /// One file (or both) holds no decided round.
    NotRecorded,
    /// Every (cell, position) decided in both files holds the same event.
    Identical {
        positions: u64,
    },
    Diverged(ConsensusDivergence),
}

/// The lowest position at which some cell's ordered event differs between
/// the files.
struct ConsensusDivergence {
    position: u64,
    /// The round of the position in A and in B, at the first disagreeing
    /// cell.
    round_a: u32,
    round_b: u32,
    /// Each cell whose event at the position differs: (cell, A's, B's).
    disagreeing: Vec<(u32, HexHash, HexHash)>,
    /// Cells that decided the position alike in both files.
    agreeing: Vec<u32>,
}

impl ConsensusDivergence {
    fn print(&self) {
        let round = if self.round_a == self.round_b {
            format!("round {}", self.round_a)
        } else {
            format!("round {} in A, {} in B", self.round_a, self.round_b)
        };
        println!(
            "consensus: first differing ordered event at {round}, position {}",
            self.position
        );
        // Cells that hold the same pair of events, together.
        let mut pairs: Vec<(HexHash, HexHash, Vec<u32>)> = Vec::new();
        for &(cell, event_a, event_b) in &self.disagreeing {
            match pairs
                .iter_mut()
                .find(|(a, b, _)| (*a, *b) == (event_a, event_b))
            {
                Some((_, _, cells)) => cells.push(cell),
                None => pairs.push((event_a, event_b, vec![cell])),
            }
        }
        for (event_a, event_b, cells) in &pairs {
            let noun = if cells.len() == 1 { "cell" } else { "cells" };
            println!("  {noun} {}:", cell_list(cells));
            println!("    A {event_a}");
            println!("    B {event_b}");
        }
        let disagreeing: Vec<u32> = self.disagreeing.iter().map(|(cell, ..)| *cell).collect();
        println!(
            "  cells that disagree: {}; cells that agree: {}",
            cell_list(&disagreeing),
            cell_list(&self.agreeing)
        );
    }
}

/// Ascending cells, runs of consecutive ones as `first-last`: "0-4, 6, 9-15".
fn cell_list(cells: &[u32]) -> String {
    if cells.is_empty() {
        return "none".to_string();
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &cell in cells {
        match runs.last_mut() {
            Some((_, last)) if last.checked_add(1) == Some(cell) => *last = cell,
            _ => runs.push((cell, cell)),
        }
    }
    runs.iter()
        .map(|&(first, last)| match last - first {
            0 => first.to_string(),
            1 => format!("{first}, {last}"),
            _ => format!("{first}-{last}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_consensus_divergence(
    a: &BTreeMap<(u64, u32), (u32, HexHash)>,
    b: &BTreeMap<(u64, u32), (u32, HexHash)>,
) -> ConsensusComparison {
    if a.is_empty() || b.is_empty() {
        return ConsensusComparison::NotRecorded;
    }
    let mut positions = 0;
    let mut first = None;
    for (&(position, cell), &(_, event)) in a {
        if let Some(&(_, other)) = b.get(&(position, cell)) {
            positions += 1;
            if other != event {
                first = Some(position);
                break;
            }
        }
    }
    let Some(position) = first else {
        return ConsensusComparison::Identical { positions };
    };
    let mut divergence = ConsensusDivergence {
        position,
        round_a: 0,
        round_b: 0,
        disagreeing: Vec::new(),
        agreeing: Vec::new(),
    };
    for (&(_, cell), &(round_a, event_a)) in a.range((position, 0)..=(position, u32::MAX)) {
        let Some(&(round_b, event_b)) = b.get(&(position, cell)) else {
            continue;
        };
        if event_a == event_b {
            divergence.agreeing.push(cell);
        } else {
            if divergence.disagreeing.is_empty() {
                (divergence.round_a, divergence.round_b) = (round_a, round_b);
            }
            divergence.disagreeing.push((cell, event_a, event_b));
        }
    }
    ConsensusComparison::Diverged(divergence)
}
