//! Evaluating a scenario's [`Checks`] against a run's [`Metrics`].

use serde::Serialize;

use crate::metrics::Metrics;
use crate::record::{Checks, DivergenceRecord, NS_PER_MS, TimeNs};

/// One check's outcome. `reason` says what was measured against what was
/// required, for passes and failures alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub reason: String,
}

impl CheckResult {
    fn new(name: &str, passed: bool, reason: String) -> Self {
        CheckResult {
            name: name.to_string(),
            passed,
            reason,
        }
    }
}

/// Evaluates every requested check, in a fixed order (the field order of
/// [`Checks`]). Checks that were not requested produce no result.
pub fn evaluate_checks(metrics: &Metrics, checks: &Checks) -> Vec<CheckResult> {
    let mut results = Vec::new();
    if checks.safety {
        let violations = metrics.safety_violations.len();
        let reason = match &metrics.first_divergence {
            Some(divergence) => format!(
                "{violations} safety violation(s); first divergence: {}",
                describe_divergence(divergence)
            ),
            None if violations == 0 => "no safety violation".to_string(),
            None => format!(
                "{violations} safety violation(s); first: {}",
                metrics.safety_violations[0]
            ),
        };
        results.push(CheckResult::new("safety", metrics.safety_ok(), reason));
    }
    if checks.liveness {
        results.push(CheckResult::new(
            "liveness",
            metrics.liveness_ok,
            match (metrics.liveness_ok, metrics.liveness.last_decision_ns) {
                (true, Some(time)) => format!(
                    "a round was decided after the last fault boundary (last decision at {})",
                    format_ms(time)
                ),
                (_, None) => "no round was ever decided".to_string(),
                (false, Some(time)) => format!(
                    "no round was decided after the last fault boundary (last decision at {})",
                    format_ms(time)
                ),
            },
        ));
    }
    if let Some(threshold_ns) = checks.max_finality_p99_ns {
        results.push(finality_p99_check(metrics, threshold_ns));
    }
    if let Some(threshold) = checks.min_throughput_tps {
        let (passed, reason) = match metrics.throughput_tps {
            Some(tps) => (
                tps >= threshold,
                format!(
                    "throughput {tps:.3} tx/s {} the minimum {threshold} tx/s",
                    if tps >= threshold {
                        "meets"
                    } else {
                        "is below"
                    }
                ),
            ),
            None => (false, "throughput is undefined (zero duration)".to_string()),
        };
        results.push(CheckResult::new("min_throughput_tps", passed, reason));
    }
    if let Some(threshold_ns) = checks.max_stall_ns {
        let stall_ns = metrics.liveness.longest_stall_ns;
        results.push(CheckResult::new(
            "max_stall",
            stall_ns <= threshold_ns,
            format!(
                "longest stall {} {} the maximum {}",
                format_ms(stall_ns),
                if stall_ns <= threshold_ns {
                    "within"
                } else {
                    "exceeds"
                },
                format_ms(threshold_ns)
            ),
        ));
    }
    if let Some(threshold) = checks.max_inversion_rate {
        let (passed, reason) = match metrics.fairness.inversion_rate {
            Some(rate) => (
                rate <= threshold,
                format!(
                    "inversion rate {rate:.6} {} the maximum {threshold}",
                    if rate <= threshold {
                        "within"
                    } else {
                        "exceeds"
                    }
                ),
            ),
            None => (true, "no pair of transactions to compare".to_string()),
        };
        results.push(CheckResult::new("max_inversion_rate", passed, reason));
    }
    if let Some(threshold) = checks.max_timestamp_band_violations {
        let violations = metrics.fairness.timestamp_band_violations;
        results.push(CheckResult::new(
            "max_timestamp_band_violations",
            violations <= threshold,
            format!("{violations} timestamp band violation(s), maximum {threshold}"),
        ));
    }
    results
}

/// p99 of L_all, counting transactions that never finalized although they
/// were submitted at least `threshold_ns` before the end as infinitely late:
/// a run that loses transactions cannot pass a latency check by omission.
fn finality_p99_check(metrics: &Metrics, threshold_ns: TimeNs) -> CheckResult {
    let overdue = metrics
        .unfinalized_submit_ns
        .iter()
        .filter(|&&submit| submit.saturating_add(threshold_ns) <= metrics.virtual_duration_ns)
        .count() as u64;
    let finalized = metrics.finality_all_ns.len() as u64;
    let population = finalized + overdue;
    if population == 0 {
        return CheckResult::new(
            "max_finality_p99",
            false,
            "no transaction finalized, none could be measured".to_string(),
        );
    }
    let rank = (990 * population).div_ceil(1000).max(1);
    if rank > finalized {
        return CheckResult::new(
            "max_finality_p99",
            false,
            format!(
                "{overdue} of {population} transactions submitted at least {} before the end \
                 never finalized, so p99 is unbounded (maximum {})",
                format_ms(threshold_ns),
                format_ms(threshold_ns)
            ),
        );
    }
    let p99_ns = metrics.finality_all_ns[(rank - 1) as usize];
    let passed = p99_ns <= threshold_ns;
    let mut reason = format!(
        "finality p99 {} {} the maximum {}",
        format_ms(p99_ns),
        if passed { "within" } else { "exceeds" },
        format_ms(threshold_ns)
    );
    if overdue > 0 {
        reason.push_str(&format!(
            " ({overdue} overdue unfinalized transaction(s) counted as infinitely late)"
        ));
    }
    CheckResult::new("max_finality_p99", passed, reason)
}

/// Nanoseconds as milliseconds with three decimals, e.g. "1234.567 ms".
/// A first divergence in one line, for report.md and the safety check.
pub fn describe_divergence(divergence: &DivergenceRecord) -> String {
    let [a, b] = divergence.cells;
    let [first, other] = divergence
        .events
        .clone()
        .map(|event| event.unwrap_or_else(|| "nothing".to_string()));
    let (round, position) = (divergence.round, divergence.position);
    let at = format_ms(divergence.time_ns);
    match divergence.kind.as_str() {
        "order" => format!(
            "order diverges at round {round}, position {position}, at {at}: \
             cell {a} ordered {first} but cell {b} ordered {other}"
        ),
        "event_count" => format!(
            "number of events in round {round} diverges at position {position}, at {at}: \
             cell {a} put {first} there in the round but cell {b} put {other}"
        ),
        "state_hash" => format!(
            "state hash diverges at round {round} (position {position}), at {at}: \
             cells {a} and {b} ordered the same events but reached different states"
        ),
        kind => format!(
            "{kind} divergence at round {round}, position {position}, at {at}: \
             cell {a} put {first} there but cell {b} put {other}"
        ),
    }
}

pub fn format_ms(time_ns: TimeNs) -> String {
    format!(
        "{}.{:03} ms",
        time_ns / NS_PER_MS,
        (time_ns % NS_PER_MS) / 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{NS_PER_S, RunRecorder, TxOrder};

    /// Ten transactions, one a second, each final everywhere `i·100 ms` later.
    fn metrics(checks: &Checks, lose_last: bool) -> Metrics {
        let mut recorder = RunRecorder::new("c", 1, 2, [0, 1], NS_PER_MS, checks.clone());
        for i in 0..10u64 {
            let id = format!("tx{i}");
            recorder.tx_submitted(i * NS_PER_S, 0, &id);
            if lose_last && i == 0 {
                continue;
            }
            let order = TxOrder {
                round_received: i,
                consensus_timestamp_ns: i * NS_PER_S,
                position: i,
            };
            for cell in 0..2 {
                recorder.tx_ordered(i * NS_PER_S + i * 100 * NS_PER_MS, cell, &id, order);
            }
        }
        recorder.round_decided(5 * NS_PER_S, 0, 1);
        Metrics::compute(&recorder.finish(10 * NS_PER_S, 0, &"0".repeat(64)))
    }

    #[test]
    fn thresholds_pass_and_fail() {
        let checks = Checks {
            safety: true,
            liveness: true,
            max_finality_p99_ns: Some(900 * NS_PER_MS),
            min_throughput_tps: Some(1.0),
            max_stall_ns: Some(5 * NS_PER_S),
            max_inversion_rate: Some(0.0),
            max_timestamp_band_violations: Some(0),
        };
        let results = evaluate_checks(&metrics(&checks, false), &checks);
        let passed: Vec<_> = results
            .iter()
            .map(|r| (r.name.as_str(), r.passed))
            .collect();
        assert_eq!(
            passed,
            vec![
                ("safety", true),
                ("liveness", true),
                ("max_finality_p99", true),
                ("min_throughput_tps", true),
                ("max_stall", true),
                ("max_inversion_rate", true),
                ("max_timestamp_band_violations", true),
            ]
        );

        let strict = Checks {
            max_finality_p99_ns: Some(899 * NS_PER_MS),
            min_throughput_tps: Some(1.5),
            max_stall_ns: Some(4 * NS_PER_S),
            ..checks
        };
        let results = evaluate_checks(&metrics(&strict, false), &strict);
        let failed: Vec<_> = results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(
            failed,
            vec!["max_finality_p99", "min_throughput_tps", "max_stall"]
        );
        assert!(
            results[2]
                .reason
                .contains("900.000 ms exceeds the maximum 899.000 ms")
        );
    }

    #[test]
    fn lost_transactions_fail_the_latency_check() {
        let checks = Checks {
            max_finality_p99_ns: Some(2 * NS_PER_S),
            ..Checks::default()
        };
        let results = evaluate_checks(&metrics(&checks, true), &checks);
        assert!(!results[0].passed);
        assert!(
            results[0].reason.contains("never finalized"),
            "{}",
            results[0].reason
        );
    }

    #[test]
    fn unrequested_checks_are_not_evaluated() {
        assert!(
            evaluate_checks(&metrics(&Checks::default(), false), &Checks::default()).is_empty()
        );
    }
}
