//! `summary.json`: the headline numbers of a run, in a fixed shape.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attack::AttackSummary;
use crate::checks::CheckResult;
use crate::market::MarketsSummary;
use crate::metrics::{Metrics, Percentiles};
use crate::record::{CellIndex, DivergenceRecord, NS_PER_MS, RunRecord, TimeNs};

/// The `summary.json` document. Field order is the JSON key order; maps are
/// ordered; values that cannot be computed are `null`, never NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub trace_hash: String,
    pub cells: u32,
    pub honest_cells: u32,
    pub virtual_duration_ms: f64,
    /// Wall-clock time of the run: the only field that differs between runs.
    pub wall_ms: u64,
    pub txs_submitted: u64,
    pub txs_ordered: u64,
    pub txs_finalized: u64,
    /// L_all: submission until known final by every live honest cell.
    pub finality_ms: PercentilesMs,
    /// L_first: submission until known final by the first honest cell.
    pub first_finality_ms: PercentilesMs,
    pub throughput_tps: Option<f64>,
    pub fairness: FairnessSummary,
    pub safety: SafetySummary,
    pub liveness: LivenessSummary,
    /// What an attack did and how honest cells reacted: zeros and empty
    /// lists for a run without one (docs/metrics.md "Attack").
    pub attack: AttackSummary,
    /// What the markets did (docs/metrics.md "Markets"); absent for a run
    /// without markets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub markets: Option<MarketsSummary>,
    /// Check name → "pass" or "fail".
    pub checks: BTreeMap<String, String>,
    /// Check name → what was measured against what was required.
    pub check_reasons: BTreeMap<String, String>,
    /// Every check passed (true when none was requested).
    pub passed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PercentilesMs {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl From<Percentiles> for PercentilesMs {
    fn from(percentiles: Percentiles) -> Self {
        PercentilesMs {
            p50: percentiles.p50.map(ns_to_ms),
            p90: percentiles.p90.map(ns_to_ms),
            p99: percentiles.p99.map(ns_to_ms),
            max: percentiles.max.map(ns_to_ms),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairnessSummary {
    pub measured_txs: u64,
    pub inversion_rate: Option<f64>,
    /// γ ("0.6", "0.75", "0.9", "1.0") → violation rate.
    pub gamma_violation_rate: BTreeMap<String, Option<f64>>,
    /// 1 when γ-fairness is exact, else the pair sampling stride.
    pub gamma_sampling_stride: u64,
    pub kendall_tau: Option<f64>,
    pub timestamp_band_violations: u64,
    /// Measured transactions with a band (the violations are among these).
    pub timestamp_band_measured: u64,
    /// Violations in rounds whose unique famous witnesses were mostly
    /// honest-created: the protocol promises 0.
    pub timestamp_band_violations_honest_majority: u64,
    /// Rounds where Byzantine creators held half or more of the unique
    /// famous witnesses.
    pub rounds_byzantine_half_famous: u64,
    pub jain_index: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetySummary {
    /// No violation and no divergence.
    pub ok: bool,
    /// Where honest cells first disagree; `null` when they never do.
    pub first_divergence: Option<DivergenceSummary>,
    pub violations: Vec<String>,
    /// Per forker, ascending: who found its fork proofs, and when first.
    pub forks: Vec<ForkSummary>,
}

/// The honest cells that found one forker's fork proof.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForkSummary {
    pub forker: u32,
    pub first_detected_ms: f64,
    #[serde(skip)]
    pub first_detected_ns: TimeNs,
    pub first_detected_by: u32,
    /// Honest cells that found a proof, ascending.
    pub detected_by: Vec<u32>,
}

/// Folds [`crate::record::RunRecord::forks_detected`] (ordered by forker,
/// then time) into one summary per forker.
pub fn fork_summaries(detections: &[crate::record::ForkDetection]) -> Vec<ForkSummary> {
    let mut summaries: Vec<ForkSummary> = Vec::new();
    for detection in detections {
        match summaries.last_mut() {
            Some(summary) if summary.forker == detection.forker => {
                summary.detected_by.push(detection.cell);
            }
            _ => summaries.push(ForkSummary {
                forker: detection.forker,
                first_detected_ms: ns_to_ms(detection.time_ns),
                first_detected_ns: detection.time_ns,
                first_detected_by: detection.cell,
                detected_by: vec![detection.cell],
            }),
        }
    }
    for summary in &mut summaries {
        summary.detected_by.sort_unstable();
    }
    summaries
}

/// `RunRecord::first_divergence` with its time in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DivergenceSummary {
    /// `order`, `event_count` or `state_hash`.
    pub kind: String,
    pub round: u64,
    pub position: u64,
    /// The first cell to report the position (or round), then the one that
    /// disagreed.
    pub cells: [CellIndex; 2],
    /// What each put there (event-hash hex), `null` for nothing.
    pub events: [Option<String>; 2],
    pub time_ms: f64,
}

impl From<&DivergenceRecord> for DivergenceSummary {
    fn from(divergence: &DivergenceRecord) -> Self {
        DivergenceSummary {
            kind: divergence.kind.clone(),
            round: divergence.round,
            position: divergence.position,
            cells: divergence.cells,
            events: divergence.events.clone(),
            time_ms: ns_to_ms(divergence.time_ns),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LivenessSummary {
    pub ok: bool,
    pub last_decided_round: Option<u64>,
    pub longest_stall_ms: f64,
    /// The most voting rounds an honest cell's election of one witness took.
    pub longest_election_rounds: u32,
    /// Rounds whose elections reached a coin round in some honest cell.
    pub rounds_with_coin_round: u64,
}

/// Milliseconds as a float, for display: exact to the nanosecond below 2⁵³ ns.
pub fn ns_to_ms(time_ns: TimeNs) -> f64 {
    time_ns as f64 / NS_PER_MS as f64
}

impl Summary {
    pub fn new(record: &RunRecord, metrics: &Metrics, check_results: &[CheckResult]) -> Self {
        let fairness = &metrics.fairness;
        Summary {
            scenario: record.scenario.clone(),
            seed: record.seed,
            trace_hash: record.trace_hash.clone(),
            cells: record.cell_count,
            honest_cells: record.honest_cells.len() as u32,
            virtual_duration_ms: ns_to_ms(record.virtual_duration_ns),
            wall_ms: record.wall_ms,
            txs_submitted: metrics.txs_submitted,
            txs_ordered: metrics.txs_ordered,
            txs_finalized: metrics.txs_finalized,
            finality_ms: metrics.finality_all.into(),
            first_finality_ms: metrics.finality_first.into(),
            throughput_tps: metrics.throughput_tps,
            fairness: FairnessSummary {
                measured_txs: fairness.measured_txs,
                inversion_rate: fairness.inversion_rate,
                gamma_violation_rate: fairness
                    .gamma
                    .iter()
                    .map(|g| (g.gamma.to_string(), g.violation_rate))
                    .collect(),
                gamma_sampling_stride: fairness.gamma_sampling_stride,
                kendall_tau: fairness.kendall_tau,
                timestamp_band_violations: fairness.timestamp_band_violations,
                timestamp_band_measured: fairness.timestamp_band_measured,
                timestamp_band_violations_honest_majority: fairness
                    .timestamp_band_violations_honest_majority,
                rounds_byzantine_half_famous: fairness.rounds_byzantine_half_famous,
                jain_index: fairness.jain_index,
            },
            safety: SafetySummary {
                ok: metrics.safety_ok(),
                first_divergence: metrics.first_divergence.as_ref().map(Into::into),
                violations: metrics.safety_violations.clone(),
                forks: fork_summaries(&record.forks_detected),
            },
            liveness: LivenessSummary {
                ok: metrics.liveness_ok,
                last_decided_round: metrics.liveness.last_decided_round,
                longest_stall_ms: ns_to_ms(metrics.liveness.longest_stall_ns),
                longest_election_rounds: metrics.liveness.longest_election_rounds,
                rounds_with_coin_round: metrics.liveness.rounds_with_coin_round,
            },
            attack: AttackSummary::new(record),
            markets: metrics.markets.as_ref().map(MarketsSummary::new),
            checks: check_results
                .iter()
                .map(|r| {
                    (
                        r.name.clone(),
                        if r.passed { "pass" } else { "fail" }.to_string(),
                    )
                })
                .collect(),
            check_reasons: check_results
                .iter()
                .map(|r| (r.name.clone(), r.reason.clone()))
                .collect(),
            passed: check_results.iter().all(|r| r.passed),
        }
    }

    /// Pretty JSON with a trailing newline; the same summary gives the same bytes.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("a Summary has only string keys and finite numbers");
        json.push('\n');
        json
    }
}
