//! The run's fingerprint: a running blake3 hash over a compact record of every
//! input a node handled (start, restart, delivery, timer firing, command).
//! Optionally the records themselves are kept (to write as JSON lines) or
//! checked one by one against a recording, stopping at the first divergence.
//!
//! A trace file (`docs/trace.md`) holds one JSON line per step, then — from
//! `celluler run --trace` — one line per chunk of a round an honest cell
//! decided ([`DecidedRound`]), which `celluler diff` compares. Decided-round
//! lines are no part of the trace hash and a replay checks only the steps.

use std::collections::BTreeMap;
use std::io::{BufRead, Take, Write};

use celluler_core::hashgraph::EventHash;
use celluler_core::identity::hex;
use celluler_core::time::TimeNs;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// Compact records are buffered and hashed in blocks: blake3 over the
/// concatenation is the same however it is fed, and large feeds are faster.
const HASH_BUFFER_BYTES: usize = 16 * 1024;
/// Longest trace line accepted when loading (bounded memory on bad files).
pub const TRACE_LINE_BYTES_MAX: usize = 4096;
/// Most events one decided-round line carries: a larger round is written as
/// several lines. 40 hashes of 64 hex digits keep a line well below
/// [`TRACE_LINE_BYTES_MAX`] (tested).
pub const DECIDED_EVENTS_PER_LINE_MAX: usize = 40;

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
    /// What the input carried: for a delivery the payload's
    /// `Payload::digest` (for a cell's wire message a word over its whole
    /// content — every event of a sync in order, the frontier, the tip —, so
    /// two syncs that differ in one event differ here); the timer id for a
    /// timer; the command's schedule number for a command (not its content:
    /// the engine holds commands of a type without a digest); else 0.
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

/// A 32-byte hash (an event hash, an order digest), written as 64 lowercase
/// hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HexHash(pub [u8; 32]);

impl std::fmt::Debug for HexHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::fmt::Display for HexHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for HexHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = HexHash;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a 32-byte hash as 64 hex digits")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<HexHash, E> {
                let digits = text.as_bytes();
                if digits.len() != 64 {
                    return Err(E::invalid_value(serde::de::Unexpected::Str(text), &self));
                }
                let mut bytes = [0u8; 32];
                for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
                    let nibble = |digit: u8| (digit as char).to_digit(16);
                    match (nibble(pair[0]), nibble(pair[1])) {
                        (Some(high), Some(low)) => *byte = (high * 16 + low) as u8,
                        _ => return Err(E::invalid_value(serde::de::Unexpected::Str(text), &self)),
                    }
                }
                Ok(HexHash(bytes))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// One honest cell's decided round, or a chunk of it: the events at positions
/// `first_position .. first_position + events.len()` of the cell's consensus
/// order, as the run observed them (`CellObservation::RoundDecided`).
/// Written to a trace file as `{"decided": {...}}` after the steps; no part
/// of the trace hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecidedRound {
    /// True virtual time of the observation.
    pub time_ns: TimeNs,
    pub cell: u32,
    pub round: u32,
    /// Events the cell had ordered after this round, this round included.
    pub ordered_events: u64,
    /// The chained hash of every event the cell had ordered after this round.
    pub order_digest: HexHash,
    /// Position in the cell's whole consensus order (from 0) of `events[0]`.
    pub first_position: u64,
    /// At most [`DECIDED_EVENTS_PER_LINE_MAX`] event hashes, in order.
    pub events: Vec<HexHash>,
}

impl DecidedRound {
    /// The lines for a round whose events, in consensus order, end at
    /// position `ordered_events` (exclusive): one per
    /// [`DECIDED_EVENTS_PER_LINE_MAX`] events, one empty line for a round
    /// that ordered nothing.
    pub fn lines(
        time_ns: TimeNs,
        cell: u32,
        round: u32,
        ordered_events: u64,
        order_digest: [u8; 32],
        events: &[EventHash],
    ) -> Vec<DecidedRound> {
        let round_first_position = ordered_events.saturating_sub(events.len() as u64);
        let line = |offset: usize, chunk: &[EventHash]| DecidedRound {
            time_ns,
            cell,
            round,
            ordered_events,
            order_digest: HexHash(order_digest),
            first_position: round_first_position + offset as u64,
            events: chunk.iter().map(|hash| HexHash(hash.0)).collect(),
        };
        if events.is_empty() {
            return vec![line(0, &[])];
        }
        events
            .chunks(DECIDED_EVENTS_PER_LINE_MAX)
            .enumerate()
            .map(|(index, chunk)| line(index * DECIDED_EVENTS_PER_LINE_MAX, chunk))
            .collect()
    }

    /// The positions and events of this line.
    pub fn positioned_events(&self) -> impl Iterator<Item = (u64, HexHash)> + '_ {
        (self.first_position..).zip(self.events.iter().copied())
    }

    /// What a file's line must hold beyond its syntax.
    fn check(&self) -> Result<(), String> {
        if self.events.len() > DECIDED_EVENTS_PER_LINE_MAX {
            return Err(format!(
                "a decided-round line holds at most {DECIDED_EVENTS_PER_LINE_MAX} events, this one {}",
                self.events.len()
            ));
        }
        let end = self.first_position.checked_add(self.events.len() as u64);
        if end.is_none_or(|end| end > self.ordered_events) {
            return Err(format!(
                "events at positions {}.. run past ordered_events {}",
                self.first_position, self.ordered_events
            ));
        }
        Ok(())
    }
}

/// A decided round as its line wraps it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecidedLine<T> {
    decided: T,
}

/// One line of a trace file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceLine {
    Step(TraceRecord),
    Decided(DecidedRound),
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
pub fn write_json_lines(records: &[TraceRecord], out: impl Write) -> Result<(), TraceFileError> {
    write_trace_file(records, &[], out)
}

/// Writes a trace file: one JSON line per step, then one per decided round
/// (or chunk of one).
pub fn write_trace_file(
    records: &[TraceRecord],
    decided: &[DecidedRound],
    mut out: impl Write,
) -> Result<(), TraceFileError> {
    for record in records {
        serde_json::to_writer(&mut out, record).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    for round in decided {
        serde_json::to_writer(&mut out, &DecidedLine { decided: round })
            .map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads the steps of a trace file written by [`write_trace_file`], checking
/// and skipping its decided-round lines. Blank lines are skipped.
pub fn read_json_lines(input: impl BufRead) -> Result<Vec<TraceRecord>, TraceFileError> {
    let mut records = Vec::new();
    for line in TraceLines::new(input) {
        if let (_, TraceLine::Step(record)) = line? {
            records.push(record);
        }
    }
    Ok(records)
}

/// The lines of a trace file one at a time, each with its 1-based line
/// number, in bounded memory: a line longer than [`TRACE_LINE_BYTES_MAX`]
/// is an error. Blank lines are skipped; iteration ends at the first error.
pub struct TraceLines<R> {
    input: Take<R>,
    line: Vec<u8>,
    number: u64,
    failed: bool,
}

impl<R: BufRead> TraceLines<R> {
    pub fn new(input: R) -> TraceLines<R> {
        TraceLines {
            input: input.take(0),
            line: Vec::new(),
            number: 0,
            failed: false,
        }
    }

    fn read_line(&mut self) -> Result<Option<(u64, TraceLine)>, TraceFileError> {
        loop {
            self.line.clear();
            self.number += 1;
            self.input.set_limit(TRACE_LINE_BYTES_MAX as u64 + 1);
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(None);
            }
            if self.line.len() > TRACE_LINE_BYTES_MAX {
                return Err(TraceFileError::LineTooLong { line: self.number });
            }
            let text = self.line.trim_ascii();
            if !text.is_empty() {
                return parse_line(text)
                    .map(|line| Some((self.number, line)))
                    .map_err(|message| TraceFileError::Parse {
                        line: self.number,
                        message,
                    });
            }
        }
    }
}

impl<R: BufRead> Iterator for TraceLines<R> {
    type Item = Result<(u64, TraceLine), TraceFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let line = self.read_line();
        self.failed = line.is_err();
        line.transpose()
    }
}

/// What a step line holds, for error messages.
const STEP_FIELDS: &str = "{time_ns, cell, kind, from, detail}";
/// What a decided-round line holds, for error messages.
const DECIDED_FIELDS: &str =
    "{\"decided\": {time_ns, cell, round, ordered_events, order_digest, first_position, events}}";

/// One non-blank line: a step, or a decided round under the key `decided`.
fn parse_line(text: &[u8]) -> Result<TraceLine, String> {
    let step_error = match serde_json::from_slice::<TraceRecord>(text) {
        Ok(record) => return Ok(TraceLine::Step(record)),
        Err(error) => error,
    };
    // Not a step: a decided round if its one key says so; the step's error
    // otherwise.
    let keys = serde_json::from_slice::<BTreeMap<String, IgnoredAny>>(text);
    if !keys.is_ok_and(|keys| keys.contains_key("decided")) {
        return Err(format!(
            "expected a step {STEP_FIELDS} or a decided round {{\"decided\": {{...}}}}: {}",
            json_error(&step_error)
        ));
    }
    let round = serde_json::from_slice::<DecidedLine<DecidedRound>>(text)
        .map_err(|error| {
            format!(
                "expected a decided round {DECIDED_FIELDS}: {}",
                json_error(&error)
            )
        })?
        .decided;
    round
        .check()
        .map_err(|message| format!("decided round: {message}"))?;
    Ok(TraceLine::Decided(round))
}

/// A JSON error of one line: its message and column (the file's line is
/// named by the caller).
fn json_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} (column {})", error.column()),
        None => text,
    }
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

    fn decided(events: usize) -> Vec<DecidedRound> {
        let hashes: Vec<EventHash> = (0..events)
            .map(|index| EventHash([index as u8 ^ 0xa5; 32]))
            .collect();
        DecidedRound::lines(5_000, 2, 7, 100 + events as u64, [0xff; 32], &hashes)
    }

    #[test]
    fn a_large_round_is_chunked_into_lines_below_the_limit() {
        let lines = decided(2 * DECIDED_EVENTS_PER_LINE_MAX + 1);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines
                .iter()
                .map(|line| line.first_position)
                .collect::<Vec<_>>(),
            [100, 140, 180]
        );
        assert_eq!(lines[2].events.len(), 1);
        let positions: Vec<u64> = lines
            .iter()
            .flat_map(|line| line.positioned_events().map(|(position, _)| position))
            .collect();
        assert_eq!(positions, (100..181).collect::<Vec<_>>());
        let mut bytes = Vec::new();
        write_trace_file(&[], &lines[..1], &mut bytes).unwrap();
        // The widest line a run writes: every number at its maximum.
        let mut widest = lines[0].clone();
        (widest.time_ns, widest.cell, widest.round) = (u64::MAX, u32::MAX, u32::MAX);
        (widest.ordered_events, widest.first_position) = (u64::MAX, u64::MAX);
        let mut widest_bytes = Vec::new();
        write_trace_file(&[], &[widest], &mut widest_bytes).unwrap();
        assert!(
            widest_bytes.len() < TRACE_LINE_BYTES_MAX,
            "{}",
            widest_bytes.len()
        );
        assert_eq!(
            decided(0).len(),
            1,
            "a round that ordered nothing is one line"
        );
    }

    #[test]
    fn decided_rounds_follow_the_steps_and_replays_skip_them() {
        let records: Vec<_> = (0..5).map(record).collect();
        let rounds = decided(45);
        let mut bytes = Vec::new();
        write_trace_file(&records, &rounds, &mut bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(
            text.lines().nth(5).unwrap().starts_with("{\"decided\":{"),
            "{text}"
        );
        assert_eq!(read_json_lines(&bytes[..]).unwrap(), records);
        let lines: Vec<_> = TraceLines::new(&bytes[..])
            .map(|line| line.unwrap())
            .collect();
        assert_eq!(lines.len(), 7);
        assert_eq!(lines[5], (6, TraceLine::Decided(rounds[0].clone())));
        assert_eq!(lines[6], (7, TraceLine::Decided(rounds[1].clone())));
    }

    #[test]
    fn malformed_decided_lines_are_errors_naming_the_line() {
        let step = serde_json::to_string(&record(1)).unwrap();
        let good = serde_json::to_string(&DecidedLine {
            decided: &decided(3)[0],
        })
        .unwrap();
        let bad_lines = [
            good.replace("\"round\":7", "\"round\":-7"),
            good.replace("\"order_digest\":\"ff", "\"order_digest\":\"zz"),
            good.replace(
                "\"first_position\":100",
                "\"first_position\":18446744073709551615",
            ),
            good.replace("\"ordered_events\":103", "\"ordered_events\":102"),
            good.replace("\"cell\":2", "\"cell\":2,\"extra\":1"),
            "{\"decided\":[]}".to_string(),
        ];
        for bad in bad_lines {
            assert_ne!(bad, good);
            let file = format!("{step}\n\n{good}\n{bad}\n{step}\n");
            match read_json_lines(file.as_bytes()) {
                Err(TraceFileError::Parse { line: 4, message }) => {
                    assert!(message.contains("decided"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let mut lines = TraceLines::new(&b"{\"kind\":\"start\"}\n{}\n"[..]);
        assert!(matches!(
            lines.next(),
            Some(Err(TraceFileError::Parse { line: 1, .. }))
        ));
        assert!(lines.next().is_none(), "iteration ends at the first error");
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
