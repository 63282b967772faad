//! The run's fingerprint: a running blake3 hash over a compact record of every
//! input a node handled (start, restart, delivery, timer firing). Optionally
//! the records themselves are kept (to write as JSON lines) or checked one by
//! one against a recording, stopping at the first divergence.

use std::io::{BufRead, Write};

use celluler_core::time::TimeNs;
use serde::{Deserialize, Serialize};

/// Compact records are buffered and hashed in blocks: blake3 over the
/// concatenation is the same however it is fed, and large feeds are faster.
const HASH_BUFFER_BYTES: usize = 16 * 1024;
/// Longest trace line accepted when loading (bounded memory on bad files).
pub const TRACE_LINE_BYTES_MAX: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Start,
    Restart,
    Deliver,
    Timer,
    Command,
}

/// One handled input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// True virtual time.
    pub time_ns: TimeNs,
    pub cell: u32,
    pub kind: InputKind,
    /// The sender for a delivery; otherwise 0.
    pub from: u32,
    /// The payload digest for a delivery, the timer id for a timer, the
    /// command's schedule number for a command; else 0.
    pub detail: u64,
}

impl TraceRecord {
    pub const ENCODED_BYTES: usize = 25;

    pub fn encode(&self) -> [u8; Self::ENCODED_BYTES] {
        let mut bytes = [0u8; Self::ENCODED_BYTES];
        bytes[0..8].copy_from_slice(&self.time_ns.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.cell.to_le_bytes());
        bytes[12] = self.kind as u8;
        bytes[13..17].copy_from_slice(&self.from.to_le_bytes());
        bytes[17..25].copy_from_slice(&self.detail.to_le_bytes());
        bytes
    }
}

/// Where a replay first disagreed with its recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based index of the step.
    pub step: u64,
    /// `None`: the recording ended but the run went on.
    pub expected: Option<TraceRecord>,
    /// `None`: the run ended before the recording did.
    pub actual: Option<TraceRecord>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trace diverges at step {}: expected {:?}, got {:?}",
            self.step, self.expected, self.actual
        )
    }
}

#[derive(Debug, Clone)]
pub enum TraceMode {
    /// Hash only (the fast default).
    HashOnly,
    /// Also keep every record.
    Record(Vec<TraceRecord>),
    /// Check every record against a recording.
    Verify {
        expected: Vec<TraceRecord>,
        divergence: Option<Divergence>,
    },
}

#[derive(Debug, Clone)]
pub struct Trace {
    hasher: blake3::Hasher,
    buffer: Vec<u8>,
    steps: u64,
    mode: TraceMode,
}

impl Trace {
    pub fn new(mode: TraceMode) -> Trace {
        Trace {
            hasher: blake3::Hasher::new_derive_key("celluler 2026-11 sim trace"),
            buffer: Vec::with_capacity(HASH_BUFFER_BYTES + TraceRecord::ENCODED_BYTES),
            steps: 0,
            mode,
        }
    }

    pub(crate) fn record(&mut self, record: TraceRecord) {
        self.buffer.extend_from_slice(&record.encode());
        if self.buffer.len() >= HASH_BUFFER_BYTES {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
        match &mut self.mode {
            TraceMode::HashOnly => {}
            TraceMode::Record(records) => records.push(record),
            TraceMode::Verify {
                expected,
                divergence,
            } => {
                if divergence.is_none() {
                    let wanted = expected.get(self.steps as usize).copied();
                    if wanted != Some(record) {
                        *divergence = Some(Divergence {
                            step: self.steps,
                            expected: wanted,
                            actual: Some(record),
                        });
                    }
                }
            }
        }
        self.steps += 1;
    }

    /// Inputs handled so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The hash of everything so far, as 64 hex digits.
    pub fn hash_hex(&self) -> String {
        let mut hasher = self.hasher.clone();
        hasher.update(&self.buffer);
        hasher.update(&self.steps.to_le_bytes());
        hasher.finalize().to_hex().to_string()
    }

    pub fn records(&self) -> Option<&[TraceRecord]> {
        match &self.mode {
            TraceMode::Record(records) => Some(records),
            _ => None,
        }
    }

    /// For a verifying trace: the first divergence, counting a run that
    /// stopped short of the recording. `None` for other modes or a match.
    pub fn divergence(&self) -> Option<Divergence> {
        match &self.mode {
            TraceMode::Verify {
                expected,
                divergence,
            } => divergence.clone().or_else(|| {
                (self.steps < expected.len() as u64).then(|| Divergence {
                    step: self.steps,
                    expected: Some(expected[self.steps as usize]),
                    actual: None,
                })
            }),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    #[error("trace file: {0}")]
    Io(#[from] std::io::Error),
    #[error("trace line {line}: longer than {TRACE_LINE_BYTES_MAX} bytes")]
    LineTooLong { line: u64 },
    #[error("trace line {line}: {message}")]
    Parse { line: u64, message: String },
}

/// Writes records as JSON lines.
pub fn write_json_lines(
    records: &[TraceRecord],
    mut out: impl Write,
) -> Result<(), TraceFileError> {
    for record in records {
        serde_json::to_writer(&mut out, record).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads JSON lines written by [`write_json_lines`]. Blank lines are skipped.
pub fn read_json_lines(input: impl BufRead) -> Result<Vec<TraceRecord>, TraceFileError> {
    let mut records = Vec::new();
    let mut input = input.take(0);
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        input.set_limit(TRACE_LINE_BYTES_MAX as u64 + 1);
        let read = input.read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        if line.len() > TRACE_LINE_BYTES_MAX {
            return Err(TraceFileError::LineTooLong { line: number });
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let record = serde_json::from_slice(text).map_err(|error| TraceFileError::Parse {
            line: number,
            message: error.to_string(),
        })?;
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(time_ns: u64) -> TraceRecord {
        TraceRecord {
            time_ns,
            cell: 3,
            kind: InputKind::Deliver,
            from: 1,
            detail: 99,
        }
    }

    #[test]
    fn hash_is_independent_of_buffering_and_sensitive_to_content() {
        let mut a = Trace::new(TraceMode::HashOnly);
        let mut b = Trace::new(TraceMode::HashOnly);
        for time in 0..10_000 {
            a.record(record(time));
            b.record(record(time));
        }
        assert_eq!(a.hash_hex(), b.hash_hex());
        b.record(record(1));
        assert_ne!(a.hash_hex(), b.hash_hex());
    }

    #[test]
    fn json_lines_round_trip_and_reject_garbage() {
        let records: Vec<_> = (0..5).map(record).collect();
        let mut bytes = Vec::new();
        write_json_lines(&records, &mut bytes).unwrap();
        assert_eq!(read_json_lines(&bytes[..]).unwrap(), records);
        assert!(matches!(
            read_json_lines(&b"{\"time_ns\":1}\n"[..]),
            Err(TraceFileError::Parse { line: 1, .. })
        ));
        let long = vec![b'x'; TRACE_LINE_BYTES_MAX + 10];
        assert!(matches!(
            read_json_lines(&long[..]),
            Err(TraceFileError::LineTooLong { line: 1 })
        ));
    }

    #[test]
    fn verify_reports_the_first_divergence() {
        let expected: Vec<_> = (0..5).map(record).collect();
        let mut trace = Trace::new(TraceMode::Verify {
            expected: expected.clone(),
            divergence: None,
        });
        for time in [0, 1, 7, 3] {
            trace.record(record(time));
        }
        let divergence = trace.divergence().unwrap();
        assert_eq!(divergence.step, 2);
        assert_eq!(divergence.expected, Some(record(2)));
        assert_eq!(divergence.actual, Some(record(7)));

        let mut short = Trace::new(TraceMode::Verify {
            expected,
            divergence: None,
        });
        short.record(record(0));
        assert_eq!(short.divergence().unwrap().actual, None);
    }
}
