//! `celluler attack`'s report: one scenario run over many seeds, attacked
//! and as its honest baseline (the same seeds, the Byzantine cells present
//! but silent), judged by the scenario's claims. Input: an [`AttackCampaign`]
//! of compact per-run results ([`ArmRun`]); output: `attack.json`
//! ([`AttackReport`]), `attack.md` and plots, by [`write_attack_outputs`].
//!
//! Nothing here reads a clock: the same runs give the same bytes, whatever
//! the number of threads that produced them. Definitions: docs/metrics.md,
//! "Attack reports".

mod markdown;
mod plots;

use std::fs;
use std::path::Path;

use serde::Serialize;

use crate::attack::AttackSummary;
use crate::checks::describe_divergence;
use crate::record::{CellIndex, DivergenceRecord, NS_PER_S, TimeNs};
use crate::summary::{DivergenceSummary, ns_to_ms};
use crate::{ReportError, RunReport};

pub use markdown::render_attack_report;
pub use plots::{ATTACK_PLOT_STEMS, write_attack_plots};

/// The `format` of `attack.json`.
pub const ATTACK_FORMAT: &str = "celluler-attack/1";

/// At most this many violation texts are kept per run in `attack.json`
/// (each run's `summary.json` has all of them).
pub const RUN_VIOLATIONS_LISTED_MAX: usize = 5;

/// What a scenario claims holds despite its attack (`true`) or is broken by
/// it (`false`); `None` makes no claim. The scenario's `[expect]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Claims {
    /// No two honest cells decide different orders.
    pub agreement: Option<bool>,
    /// Honest cells reach the same states and no double spend is finalized.
    pub state: Option<bool>,
    /// Rounds keep being decided (`summary.json` `liveness.ok`).
    pub liveness: Option<bool>,
}

impl Claims {
    fn is_empty(&self) -> bool {
        self.agreement.is_none() && self.state.is_none() && self.liveness.is_none()
    }
}

/// One `[[byzantine]]` block of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptBlock {
    /// `equivocate`, `withhold`, …
    pub behaviour: String,
    /// `equivocate on 7..10 from 2s`.
    pub description: String,
    pub cells: Vec<CellIndex>,
    pub from_ns: TimeNs,
    /// `None`: the end of the run.
    pub until_ns: Option<TimeNs>,
}

/// Everything an attack report is made of.
#[derive(Debug, Clone)]
pub struct AttackCampaign {
    pub scenario: String,
    /// The scenario file as given on the command line (replay commands use it).
    pub file: String,
    /// `Scenario::summary()`: one paragraph.
    pub description: String,
    pub virtual_duration_ns: TimeNs,
    pub cells: u32,
    /// Ascending.
    pub byzantine_cells: Vec<CellIndex>,
    /// Every cell's consensus stake.
    pub stake_per_cell: u64,
    /// In file order; empty when the Byzantine cells are only labelled.
    pub script: Vec<ScriptBlock>,
    /// The scenario's `[expect]`, as written.
    pub expect: Claims,
    /// One entry per seed, ascending.
    pub runs: Vec<SeedRuns>,
}

/// One seed's two runs.
#[derive(Debug, Clone, Serialize)]
pub struct SeedRuns {
    pub seed: u64,
    pub attacked: ArmRun,
    pub baseline: ArmRun,
}

/// What one run contributes to the report, without the run's full record
/// (a campaign keeps one of these per run, not the runs' observations).
#[derive(Debug, Clone, Serialize)]
pub struct ArmRun {
    /// The run's directory, relative to the attack report's.
    pub dir: String,
    pub trace_hash: String,
    /// Some honest cells ordered differently (order or event-count divergence).
    pub agreement_violated: bool,
    /// Honest cells' states diverged, or one applied two TXs of a double spend.
    pub state_violated: bool,
    pub liveness_ok: bool,
    pub safety_ok: bool,
    /// Every `[checks]` entry held.
    pub checks_passed: bool,
    /// `name: reason` of each failed check.
    pub failed_checks: Vec<String>,
    pub first_divergence: Option<DivergenceSummary>,
    /// The first safety violations (at most [`RUN_VIOLATIONS_LISTED_MAX`]).
    pub violations: Vec<String>,
    pub violations_total: u64,
    pub txs_submitted: u64,
    pub txs_finalized: u64,
    pub finality_p50_ms: Option<f64>,
    pub finality_p99_ms: Option<f64>,
    pub throughput_tps: Option<f64>,
    pub longest_stall_ms: f64,
    pub inversion_rate: Option<f64>,
    pub timestamp_band_violations: u64,
    /// Band violations in rounds with mostly honest-created unique famous
    /// witnesses (the protocol promises 0).
    pub timestamp_band_violations_honest_majority: u64,
    /// Rounds where Byzantine creators held half or more of the unique
    /// famous witnesses.
    pub rounds_byzantine_half_famous: u64,
    /// Front-runner agents' mean PnL (PRANA), when the run has any.
    #[serde(default)]
    pub front_runner_pnl_prana: Option<f64>,
    /// Ledger invariants honest cells reported broken.
    #[serde(default)]
    pub ledger_violations: u64,
    pub attack: AttackSummary,
    #[serde(skip)]
    pub first_divergence_record: Option<DivergenceRecord>,
    /// L_all of every finalized TX, ascending (pooled into the CDF plot).
    #[serde(skip)]
    pub finality_all_ns: Vec<TimeNs>,
    /// TXs finalized by all live honest cells per virtual second.
    #[serde(skip)]
    pub finalized_per_second: Vec<u64>,
}

impl ArmRun {
    /// The compact result of a run whose outputs are in `dir`, with the
    /// world checker's verdicts. A double spend some honest cell applied
    /// twice violates state whatever the checker says.
    pub fn new(
        report: &RunReport,
        dir: &str,
        agreement_violated: bool,
        state_violated: bool,
    ) -> ArmRun {
        let summary = &report.summary;
        let metrics = &report.metrics;
        ArmRun {
            dir: dir.to_string(),
            trace_hash: summary.trace_hash.clone(),
            agreement_violated,
            state_violated: state_violated || summary.attack.double_spends.finalized_twice > 0,
            liveness_ok: summary.liveness.ok,
            safety_ok: summary.safety.ok,
            checks_passed: summary.passed,
            failed_checks: report
                .checks
                .iter()
                .filter(|check| !check.passed)
                .map(|check| format!("{}: {}", check.name, check.reason))
                .collect(),
            first_divergence: summary.safety.first_divergence.clone(),
            violations: summary
                .safety
                .violations
                .iter()
                .take(RUN_VIOLATIONS_LISTED_MAX)
                .cloned()
                .collect(),
            violations_total: summary.safety.violations.len() as u64,
            txs_submitted: summary.txs_submitted,
            txs_finalized: summary.txs_finalized,
            finality_p50_ms: summary.finality_ms.p50,
            finality_p99_ms: summary.finality_ms.p99,
            throughput_tps: summary.throughput_tps,
            longest_stall_ms: summary.liveness.longest_stall_ms,
            inversion_rate: summary.fairness.inversion_rate,
            timestamp_band_violations: summary.fairness.timestamp_band_violations,
            timestamp_band_violations_honest_majority: summary
                .fairness
                .timestamp_band_violations_honest_majority,
            rounds_byzantine_half_famous: summary.fairness.rounds_byzantine_half_famous,
            front_runner_pnl_prana: metrics
                .markets
                .as_ref()
                .and_then(|markets| markets.front_running.as_ref())
                .map(|front| front.front_runner_pnl_prana_mean),
            ledger_violations: metrics
                .markets
                .as_ref()
                .map_or(0, |markets| markets.violations_total),
            attack: summary.attack.clone(),
            first_divergence_record: metrics.first_divergence.clone(),
            finality_all_ns: metrics.finality_all_ns.clone(),
            finalized_per_second: metrics
                .timeseries
                .iter()
                .map(|row| row.txs_finalized)
                .collect(),
        }
    }

    fn violated(&self, property: Property) -> bool {
        match property {
            Property::Agreement => self.agreement_violated,
            Property::State => self.state_violated,
            Property::Liveness => !self.liveness_ok,
        }
    }
}

/// A property a scenario can claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    Agreement,
    State,
    Liveness,
}

impl Property {
    pub const ALL: [Property; 3] = [Property::Agreement, Property::State, Property::Liveness];

    pub fn name(self) -> &'static str {
        match self {
            Property::Agreement => "agreement",
            Property::State => "state",
            Property::Liveness => "liveness",
        }
    }

    fn claim(self, claims: &Claims) -> Option<bool> {
        match self {
            Property::Agreement => claims.agreement,
            Property::State => claims.state,
            Property::Liveness => claims.liveness,
        }
    }

    /// What a violation of it is, for a sentence.
    fn violation(self) -> &'static str {
        match self {
            Property::Agreement => "honest cells ordered differently",
            Property::State => "honest cells' states diverged or a double spend was finalized",
            Property::Liveness => {
                "consensus stalled (no round decided after the last fault boundary)"
            }
        }
    }
}

/// `attack.json`. Field order is the key order; numbers that cannot be
/// computed are `null`. No wall-clock time: the same runs give the same bytes.
#[derive(Debug, Clone, Serialize)]
pub struct AttackReport {
    pub format: &'static str,
    pub scenario: String,
    pub file: String,
    pub description: String,
    pub virtual_duration_ms: f64,
    pub seeds: Vec<u64>,
    pub adversary: AdversarySection,
    pub claims: ClaimsSection,
    pub verdict: Verdict,
    /// Each metric's distribution over seeds, attacked vs baseline.
    pub metrics: Vec<MetricComparison>,
    pub detection: DetectionSection,
    /// Every violation, failed check and failed claim, with the command
    /// that replays it.
    pub violations: Vec<ViolationEntry>,
    pub runs: Vec<SeedRuns>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AdversarySection {
    pub script: Vec<ScriptBlockSummary>,
    pub cells: u32,
    pub byzantine_cells: Vec<CellIndex>,
    pub byzantine_stake: u64,
    pub total_stake: u64,
    pub byzantine_stake_share: f64,
    /// Byzantine stake < total / 3: the protocol's assumption holds.
    pub below_one_third: bool,
    /// "below one third" or "the threshold was crossed".
    pub threshold: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScriptBlockSummary {
    pub behaviour: String,
    pub description: String,
    pub cells: Vec<CellIndex>,
    pub from_ms: f64,
    /// `null`: the end of the run.
    pub until_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimsSection {
    pub agreement: Option<bool>,
    pub state: Option<bool>,
    pub liveness: Option<bool>,
    /// `expect` (the scenario's `[expect]`), `default` (no `[expect]`,
    /// Byzantine stake below one third: agreement and state are claimed) or
    /// `none` (no `[expect]` and the threshold was crossed: nothing claimed).
    pub source: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Every claim holds (true when nothing is claimed).
    pub holds: bool,
    pub claims: Vec<ClaimVerdict>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimVerdict {
    pub property: String,
    /// `true`: claimed to hold on every seed; `false`: claimed to break on
    /// at least one.
    pub claimed: bool,
    pub holds: bool,
    /// Attacked seeds on which the property was violated.
    pub violated_seeds: Vec<u64>,
    /// Baseline seeds on which it was violated (a fault without the attack).
    pub baseline_violated_seeds: Vec<u64>,
    pub reason: String,
}

/// Median, interquartile range and range of one value over seeds
/// (nearest-rank quartiles: always observed values).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Distribution {
    /// Seeds with a value (a `null` value, e.g. no finalized TX, is left out).
    pub seeds: u64,
    pub median: Option<f64>,
    pub q1: Option<f64>,
    pub q3: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Distribution {
    pub fn of(values: impl IntoIterator<Item = Option<f64>>) -> Distribution {
        let mut sorted: Vec<f64> = values.into_iter().flatten().collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |permille: usize| {
            (!sorted.is_empty()).then(|| {
                let rank = (permille * sorted.len()).div_ceil(1000).max(1);
                sorted[rank - 1]
            })
        };
        Distribution {
            seeds: sorted.len() as u64,
            median: rank(500),
            q1: rank(250),
            q3: rank(750),
            min: sorted.first().copied(),
            max: sorted.last().copied(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricComparison {
    pub name: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    /// Decimals the report prints.
    #[serde(skip)]
    pub decimals: usize,
    pub attacked: Distribution,
    pub baseline: Distribution,
}

/// The metrics compared, in report order: (name, label, unit, decimals
/// printed, value).
type MetricDefinition = (
    &'static str,
    &'static str,
    &'static str,
    usize,
    fn(&ArmRun) -> Option<f64>,
);

const METRICS: [MetricDefinition; 20] = [
    ("finality_p50_ms", "Finality p50 (L_all)", "ms", 1, |run| {
        run.finality_p50_ms
    }),
    ("finality_p99_ms", "Finality p99 (L_all)", "ms", 1, |run| {
        run.finality_p99_ms
    }),
    ("throughput_tps", "Throughput", "TX/s", 2, |run| {
        run.throughput_tps
    }),
    ("longest_stall_ms", "Longest stall", "ms", 1, |run| {
        Some(run.longest_stall_ms)
    }),
    ("inversion_rate", "Inversion rate", "", 4, |run| {
        run.inversion_rate
    }),
    (
        "timestamp_band_violations",
        "Timestamp band violations",
        "TXs",
        0,
        |run| Some(run.timestamp_band_violations as f64),
    ),
    (
        "timestamp_band_violations_honest_majority",
        "… of which in rounds with mostly honest famous witnesses (promise: 0)",
        "TXs",
        0,
        |run| Some(run.timestamp_band_violations_honest_majority as f64),
    ),
    (
        "rounds_byzantine_half_famous",
        "Rounds where Byzantine creators held half the famous witnesses",
        "",
        0,
        |run| Some(run.rounds_byzantine_half_famous as f64),
    ),
    ("rejections", "Rejected messages and events", "", 0, |run| {
        Some(run.attack.rejections_total as f64)
    }),
    ("forks_detected", "Forkers detected", "cells", 0, |run| {
        Some(run.attack.forkers_detected as f64)
    }),
    (
        "front_running_advantage",
        "Front-running advantage",
        "",
        3,
        |run| run.attack.front_running.advantage,
    ),
    (
        "front_runner_pnl_prana",
        "Front-runner agents' mean PnL (marked at the last mid)",
        "PRANA",
        1,
        |run| run.front_runner_pnl_prana,
    ),
    (
        "ledger_violations",
        "Ledger invariants reported broken",
        "",
        0,
        |run| Some(run.ledger_violations as f64),
    ),
    (
        "double_spends_finalized_twice",
        "Double spends applied twice",
        "",
        0,
        |run| Some(run.attack.double_spends.finalized_twice as f64),
    ),
    (
        "txs_censored",
        "Client TXs censored (dropped or held)",
        "",
        0,
        |run| {
            Some(
                run.attack
                    .censored
                    .values()
                    .map(|censored| censored.dropped + censored.held)
                    .sum::<u64>() as f64,
            )
        },
    ),
    (
        "finality_p50_ms_censored_client_txs",
        "Finality p50 of censored client TXs (from first submission)",
        "ms",
        1,
        |run| {
            run.attack
                .censorship
                .and_then(|censorship| censorship.finality_ms_p50_censored)
        },
    ),
    (
        "finality_p50_ms_uncensored_client_txs",
        "Finality p50 of the other client TXs",
        "ms",
        1,
        |run| {
            run.attack
                .censorship
                .and_then(|censorship| censorship.finality_ms_p50_uncensored)
        },
    ),
    (
        "network_adversary_dropped",
        "Messages the network adversary dropped",
        "",
        0,
        |run| Some(run.attack.network_adversary.dropped as f64),
    ),
    (
        "sybil_share_ppm",
        "Sybil identities' share of reputation (median honest cell)",
        "ppm",
        0,
        |run| {
            run.attack
                .sybil
                .as_ref()
                .and_then(|sybil| sybil.share_ppm_median)
                .map(|ppm| ppm as f64)
        },
    ),
    (
        "sybil_messages_accepted",
        "Sybil messages honest cells accepted",
        "",
        0,
        |run| {
            run.attack
                .sybil
                .as_ref()
                .map(|sybil| sybil.messages_accepted as f64)
        },
    ),
];

/// Detection results summed or pooled over seeds (per seed: `runs`).
#[derive(Debug, Clone, Serialize)]
pub struct DetectionSection {
    /// Per attacked seed, the forks honest cells found.
    pub forks: Vec<SeedForks>,
    /// Rejections by reason, summed over seeds.
    pub rejections_attacked: std::collections::BTreeMap<String, u64>,
    pub rejections_baseline: std::collections::BTreeMap<String, u64>,
    /// Behaviour → action kind → count, summed over attacked seeds.
    pub adversary_actions:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
    pub front_running: PooledFrontRunning,
    pub double_spend_attempts: u64,
    pub double_spends_finalized_twice: u64,
    /// Client TXs censoring entry cells dropped, and held, summed over seeds.
    pub censored_dropped: u64,
    pub censored_held: u64,
    /// The highest reputation (ppm) any honest cell live at the end of an
    /// attacked run gave any forker it caught, over seeds (`None`: no fork
    /// was caught). 0 is the protocol's promise.
    pub forker_trust_ppm_max: Option<u64>,
    /// What sybil identities obtained, pooled over attacked seeds (`None`:
    /// no sybil block).
    pub sybil: Option<PooledSybil>,
}

/// docs/metrics.md "Sybil standing", over every attacked seed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PooledSybil {
    pub identities: u64,
    /// Summed over seeds.
    pub attack_edges: u64,
    pub messages_sent: u64,
    pub messages_accepted: u64,
    /// The highest share of one honest cell's reputation the sybils held
    /// together, and the best single sybil's, over seeds (ppm).
    pub share_ppm_max: Option<u64>,
    pub best_sybil_ppm_max: Option<u64>,
    /// Honest cells (summed over seeds) where some sybil ranks at or above
    /// the median member, of the cells measured.
    pub cells_outranked: u64,
    pub cells_measured: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedForks {
    pub seed: u64,
    pub forkers: Vec<ForkerDetection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForkerDetection {
    pub forker: CellIndex,
    pub cells_detected: u64,
    pub honest_cells: u64,
    pub first_detected_ms: f64,
    /// When the last honest cell to find a proof found it.
    pub last_detected_ms: f64,
    /// The highest reputation (ppm) an honest cell live at the end gave it.
    pub trust_ppm_max_after: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PooledFrontRunning {
    pub pairs: u64,
    pub measured_pairs: u64,
    pub attacker_first: u64,
    /// Over every measured pair of every seed; `null` with none.
    pub advantage: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ViolationEntry {
    pub seed: u64,
    /// `attacked` or `baseline`.
    pub arm: &'static str,
    /// What went wrong: `agreement`, `state`, `liveness`, `safety`, `checks`,
    /// or `claim` (a `false` claim no seed showed).
    pub what: Vec<String>,
    /// The command that replays the run.
    pub command: String,
    pub first_divergence: Option<String>,
    pub details: Vec<String>,
}

/// The command that replays one run.
pub fn replay_command(file: &str, seed: u64, baseline: bool) -> String {
    let quoted = if file
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        file.to_string()
    } else {
        format!("'{}'", file.replace('\'', r"'\''"))
    };
    format!(
        "celluler run {quoted} --seed {seed}{}",
        if baseline { " --baseline" } else { "" }
    )
}

impl AttackReport {
    pub fn new(campaign: &AttackCampaign) -> AttackReport {
        let byzantine_stake = campaign.byzantine_cells.len() as u64 * campaign.stake_per_cell;
        let total_stake = u64::from(campaign.cells) * campaign.stake_per_cell;
        let below_one_third = 3 * u128::from(byzantine_stake) < u128::from(total_stake);
        let (claims, source, note) = resolve_claims(campaign.expect, below_one_third);
        let seeds: Vec<u64> = campaign.runs.iter().map(|runs| runs.seed).collect();
        let verdicts: Vec<ClaimVerdict> = Property::ALL
            .iter()
            .filter_map(|&property| {
                property
                    .claim(&claims)
                    .map(|claimed| claim_verdict(campaign, property, claimed))
            })
            .collect();
        AttackReport {
            format: ATTACK_FORMAT,
            scenario: campaign.scenario.clone(),
            file: campaign.file.clone(),
            description: campaign.description.clone(),
            virtual_duration_ms: ns_to_ms(campaign.virtual_duration_ns),
            seeds,
            adversary: AdversarySection {
                script: campaign
                    .script
                    .iter()
                    .map(|block| ScriptBlockSummary {
                        behaviour: block.behaviour.clone(),
                        description: block.description.clone(),
                        cells: block.cells.clone(),
                        from_ms: ns_to_ms(block.from_ns),
                        until_ms: block.until_ns.map(ns_to_ms),
                    })
                    .collect(),
                cells: campaign.cells,
                byzantine_cells: campaign.byzantine_cells.clone(),
                byzantine_stake,
                total_stake,
                byzantine_stake_share: if total_stake == 0 {
                    0.0
                } else {
                    byzantine_stake as f64 / total_stake as f64
                },
                below_one_third,
                threshold: if below_one_third {
                    "below one third".to_string()
                } else {
                    "the threshold was crossed".to_string()
                },
            },
            claims: ClaimsSection {
                agreement: claims.agreement,
                state: claims.state,
                liveness: claims.liveness,
                source: source.to_string(),
                note,
            },
            verdict: Verdict {
                holds: verdicts.iter().all(|verdict| verdict.holds),
                claims: verdicts.clone(),
            },
            metrics: METRICS
                .iter()
                .map(|&(name, label, unit, decimals, value)| MetricComparison {
                    name,
                    label,
                    unit,
                    decimals,
                    attacked: Distribution::of(campaign.runs.iter().map(|r| value(&r.attacked))),
                    baseline: Distribution::of(campaign.runs.iter().map(|r| value(&r.baseline))),
                })
                .collect(),
            detection: detection(campaign),
            violations: violations(campaign, &verdicts),
            runs: campaign.runs.clone(),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut json = serde_json::to_string_pretty(self)
            .expect("an AttackReport has only string keys and finite numbers");
        json.push('\n');
        json
    }
}

/// The claims judged: the scenario's `[expect]` if it states any; otherwise
/// agreement and state while Byzantine stake is below one third, nothing
/// once the threshold is crossed.
fn resolve_claims(expect: Claims, below_one_third: bool) -> (Claims, &'static str, String) {
    if !expect.is_empty() {
        return (
            expect,
            "expect",
            "the claims are the scenario's [expect] table".to_string(),
        );
    }
    if below_one_third {
        (
            Claims {
                agreement: Some(true),
                state: Some(true),
                liveness: None,
            },
            "default",
            "the scenario has no [expect] table; with Byzantine stake below one third, \
             agreement and state are claimed by default"
                .to_string(),
        )
    } else {
        (
            Claims::default(),
            "none",
            "the scenario has no [expect] table and the threshold was crossed \
             (Byzantine stake at or above one third): nothing is claimed"
                .to_string(),
        )
    }
}

fn claim_verdict(campaign: &AttackCampaign, property: Property, claimed: bool) -> ClaimVerdict {
    let violated_seeds: Vec<u64> = campaign
        .runs
        .iter()
        .filter(|runs| runs.attacked.violated(property))
        .map(|runs| runs.seed)
        .collect();
    let baseline_violated_seeds: Vec<u64> = campaign
        .runs
        .iter()
        .filter(|runs| runs.baseline.violated(property))
        .map(|runs| runs.seed)
        .collect();
    let seeds = campaign.runs.len();
    let list = |seeds: &[u64]| {
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (holds, reason) = match (claimed, violated_seeds.is_empty()) {
        (true, true) => (
            true,
            format!("claimed to hold, and it held on all {seeds} seed(s)"),
        ),
        (true, false) => (
            false,
            format!(
                "claimed to hold, but on {} of {seeds} seed(s) ({}) {}",
                violated_seeds.len(),
                list(&violated_seeds),
                property.violation()
            ),
        ),
        (false, false) => (
            true,
            format!(
                "claimed to break, and it broke on {} of {seeds} seed(s) ({}): {}",
                violated_seeds.len(),
                list(&violated_seeds),
                property.violation()
            ),
        ),
        (false, true) => (
            false,
            format!(
                "claimed to break, but it held on all {seeds} seed(s): the attack did not \
                 show the failure the scenario documents"
            ),
        ),
    };
    ClaimVerdict {
        property: property.name().to_string(),
        claimed,
        holds,
        violated_seeds,
        baseline_violated_seeds,
        reason,
    }
}

fn detection(campaign: &AttackCampaign) -> DetectionSection {
    let honest_cells = u64::from(campaign.cells) - campaign.byzantine_cells.len() as u64;
    let mut rejections_attacked = std::collections::BTreeMap::new();
    let mut rejections_baseline = std::collections::BTreeMap::new();
    let mut adversary_actions: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, u64>,
    > = std::collections::BTreeMap::new();
    let mut front_running = PooledFrontRunning {
        pairs: 0,
        measured_pairs: 0,
        attacker_first: 0,
        advantage: None,
    };
    let (mut double_spend_attempts, mut double_spends_finalized_twice) = (0, 0);
    let (mut censored_dropped, mut censored_held) = (0, 0);
    let mut forks = Vec::new();
    for runs in &campaign.runs {
        let attack = &runs.attacked.attack;
        for (reason, count) in &attack.rejections {
            *rejections_attacked.entry(reason.clone()).or_insert(0) += count;
        }
        for (reason, count) in &runs.baseline.attack.rejections {
            *rejections_baseline.entry(reason.clone()).or_insert(0) += count;
        }
        for (behaviour, actions) in &attack.adversary_actions {
            let totals = adversary_actions.entry(behaviour.clone()).or_default();
            for (action, count) in actions {
                *totals.entry(action.clone()).or_insert(0) += count;
            }
        }
        front_running.pairs += attack.front_running.pairs;
        front_running.measured_pairs += attack.front_running.measured_pairs;
        front_running.attacker_first += attack.front_running.attacker_first;
        double_spend_attempts += attack.double_spends.attempts;
        double_spends_finalized_twice += attack.double_spends.finalized_twice;
        for censored in attack.censored.values() {
            censored_dropped += censored.dropped;
            censored_held += censored.held;
        }
        forks.push(SeedForks {
            seed: runs.seed,
            forkers: attack
                .forks
                .iter()
                .map(|fork| ForkerDetection {
                    forker: fork.forker,
                    cells_detected: fork.cells_detected,
                    honest_cells,
                    first_detected_ms: fork.first_detected_ms,
                    last_detected_ms: fork
                        .detected_ms
                        .values()
                        .copied()
                        .fold(fork.first_detected_ms, f64::max),
                    trust_ppm_max_after: fork.trust_ppm_max_after,
                })
                .collect(),
        });
    }
    let forker_trust_ppm_max = forks
        .iter()
        .flat_map(|seed| {
            seed.forkers
                .iter()
                .filter_map(|fork| fork.trust_ppm_max_after)
        })
        .max();
    let mut sybil: Option<PooledSybil> = None;
    for runs in &campaign.runs {
        let Some(run) = &runs.attacked.attack.sybil else {
            continue;
        };
        let pooled = sybil.get_or_insert(PooledSybil {
            identities: run.identities,
            attack_edges: 0,
            messages_sent: 0,
            messages_accepted: 0,
            share_ppm_max: None,
            best_sybil_ppm_max: None,
            cells_outranked: 0,
            cells_measured: 0,
        });
        pooled.attack_edges += run.attack_edges;
        pooled.messages_sent += run.messages_sent;
        pooled.messages_accepted += run.messages_accepted;
        pooled.share_ppm_max = pooled.share_ppm_max.max(run.share_ppm_max);
        pooled.best_sybil_ppm_max = pooled.best_sybil_ppm_max.max(run.best_sybil_ppm_max);
        pooled.cells_outranked += run.cells_outranked;
        pooled.cells_measured += run.cells_measured;
    }
    front_running.advantage = (front_running.measured_pairs > 0)
        .then(|| front_running.attacker_first as f64 / front_running.measured_pairs as f64);
    DetectionSection {
        forks,
        rejections_attacked,
        rejections_baseline,
        adversary_actions,
        front_running,
        double_spend_attempts,
        double_spends_finalized_twice,
        censored_dropped,
        censored_held,
        forker_trust_ppm_max,
        sybil,
    }
}

fn violations(campaign: &AttackCampaign, verdicts: &[ClaimVerdict]) -> Vec<ViolationEntry> {
    // Liveness is a measurement, not a fault, unless the scenario claims it.
    let liveness_claimed = verdicts
        .iter()
        .any(|verdict| verdict.property == Property::Liveness.name());
    let mut entries = Vec::new();
    for runs in &campaign.runs {
        for (arm, run, baseline) in [
            ("attacked", &runs.attacked, false),
            ("baseline", &runs.baseline, true),
        ] {
            let mut what = Vec::new();
            for property in Property::ALL {
                if run.violated(property) && (property != Property::Liveness || liveness_claimed) {
                    what.push(property.name().to_string());
                }
            }
            if !run.safety_ok && !run.agreement_violated && !run.state_violated {
                what.push("safety".to_string());
            }
            if !run.checks_passed {
                what.push("checks".to_string());
            }
            if what.is_empty() {
                continue;
            }
            let mut details = run.violations.clone();
            details.extend(
                run.failed_checks
                    .iter()
                    .map(|check| format!("check {check}")),
            );
            entries.push(ViolationEntry {
                seed: runs.seed,
                arm,
                what,
                command: replay_command(&campaign.file, runs.seed, baseline),
                first_divergence: run
                    .first_divergence_record
                    .as_ref()
                    .map(describe_divergence),
                details,
            });
        }
    }
    // A `false` claim no seed showed: every seed replays the non-event.
    for verdict in verdicts {
        if !verdict.claimed && !verdict.holds {
            if let Some(first) = campaign.runs.first() {
                entries.push(ViolationEntry {
                    seed: first.seed,
                    arm: "attacked",
                    what: vec!["claim".to_string(), verdict.property.clone()],
                    command: replay_command(&campaign.file, first.seed, false),
                    first_divergence: None,
                    details: vec![verdict.reason.clone()],
                });
            }
        }
    }
    entries
}

/// Per-second medians and quartiles of TXs finalized over seeds, from
/// second 0 to the end of the run: (second, q1, median, q3).
pub fn throughput_bands(
    runs: &[&ArmRun],
    virtual_duration_ns: TimeNs,
) -> Vec<(u64, f64, f64, f64)> {
    let seconds = virtual_duration_ns.div_ceil(NS_PER_S);
    (0..seconds)
        .map(|second| {
            let values = runs.iter().map(|run| {
                Some(
                    run.finalized_per_second
                        .get(second as usize)
                        .copied()
                        .unwrap_or(0) as f64,
                )
            });
            let distribution = Distribution::of(values);
            (
                second,
                distribution.q1.unwrap_or(0.0),
                distribution.median.unwrap_or(0.0),
                distribution.q3.unwrap_or(0.0),
            )
        })
        .collect()
}

/// Writes `attack.json`, the plots and `attack.md` into `dir` (which must
/// exist). Returns the report; `report.verdict.holds` is the verdict.
pub fn write_attack_outputs(
    campaign: &AttackCampaign,
    dir: &Path,
) -> Result<AttackReport, ReportError> {
    let report = AttackReport::new(campaign);
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let json_path = dir.join("attack.json");
    fs::write(&json_path, report.to_json()).map_err(io_error(&json_path))?;
    write_attack_plots(campaign, dir)?;
    let markdown_path = dir.join("attack.md");
    fs::write(&markdown_path, render_attack_report(campaign, &report))
        .map_err(io_error(&markdown_path))?;
    Ok(report)
}

#[cfg(test)]
mod tests;
