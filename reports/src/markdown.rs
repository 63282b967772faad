//! `report.md`: the run explained for a person, linking the plots.

use std::fmt::Write;

use crate::checks::{CheckResult, describe_divergence, format_ms};
use crate::metrics::{Metrics, Percentiles};
use crate::plots::PLOT_STEMS;
use crate::record::RunRecord;

/// At most this many safety violations are listed; summary.json has all.
pub const LISTED_VIOLATIONS_MAX: usize = 20;

pub(crate) fn or_na(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

fn percentiles_ms(percentiles: &Percentiles) -> String {
    [
        percentiles.p50,
        percentiles.p90,
        percentiles.p99,
        percentiles.max,
    ]
    .map(|value| value.map_or_else(|| "n/a".to_string(), format_ms))
    .join(" / ")
}

/// Table cells cannot hold `|` or line breaks.
pub(crate) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn plot_title(stem: &str) -> &'static str {
    match stem {
        "finality_cdf" => "Finality latency CDF",
        "throughput" => "Throughput over virtual time",
        "rounds_decided" => "Consensus rounds decided over virtual time",
        "finality_per_cell" => "Finality latency per cell",
        _ => "Plot",
    }
}

/// Renders the report. Deterministic: the same inputs give the same bytes,
/// except for the wall-clock line.
pub fn render_report(record: &RunRecord, metrics: &Metrics, checks: &[CheckResult]) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; `let _ =` keeps the code readable.
    let _ = writeln!(
        out,
        "# Run report: {} (seed {})\n",
        record.scenario, record.seed
    );
    let down = record.cells_down_at_end.len();
    let _ = writeln!(
        out,
        "{} cells ({} honest, {} of them down at the end) · {} virtual · {} ms wall clock  ",
        record.cell_count,
        record.honest_cells.len(),
        down,
        format_ms(record.virtual_duration_ns),
        record.wall_ms
    );
    let _ = writeln!(out, "Trace hash `{}`\n", record.trace_hash);

    let _ = writeln!(out, "## Verdict\n");
    let failed = checks.iter().filter(|c| !c.passed).count();
    if checks.is_empty() {
        let _ = writeln!(out, "**PASS**: the scenario requested no checks.\n");
    } else if failed == 0 {
        let _ = writeln!(out, "**PASS**: all {} checks hold.\n", checks.len());
    } else {
        let _ = writeln!(
            out,
            "**FAIL**: {failed} of {} checks do not hold.\n",
            checks.len()
        );
    }
    if !checks.is_empty() {
        let _ = writeln!(out, "| Check | Result | Why |\n|---|---|---|");
        for check in checks {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                check.name,
                if check.passed { "pass" } else { "**FAIL**" },
                cell(&check.reason)
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Headline numbers\n");
    let _ = writeln!(out, "| Metric | Value |\n|---|---|");
    let _ = writeln!(
        out,
        "| Transactions submitted / ordered / finalized by all | {} / {} / {} |",
        metrics.txs_submitted, metrics.txs_ordered, metrics.txs_finalized
    );
    let _ = writeln!(
        out,
        "| Throughput (finalized by all, per virtual second) | {} tx/s |",
        or_na(metrics.throughput_tps, 3)
    );
    let _ = writeln!(
        out,
        "| Finality, all live honest cells (p50 / p90 / p99 / max) | {} |",
        percentiles_ms(&metrics.finality_all)
    );
    let _ = writeln!(
        out,
        "| Finality, first honest cell (p50 / p90 / p99 / max) | {} |",
        percentiles_ms(&metrics.finality_first)
    );
    let _ = writeln!(
        out,
        "| Last decided round | {} |",
        metrics
            .liveness
            .last_decided_round
            .map_or_else(|| "none".to_string(), |r| r.to_string())
    );
    let _ = writeln!(
        out,
        "| Longest stall without a new decided round | {} |",
        format_ms(metrics.liveness.longest_stall_ns)
    );
    let _ = writeln!(
        out,
        "| Liveness (progress after the last fault boundary) | {} |",
        if metrics.liveness_ok { "ok" } else { "**no**" }
    );
    let _ = writeln!(
        out,
        "| Safety | {} |\n",
        if metrics.safety_ok() {
            "ok".to_string()
        } else {
            format!("**{} violation(s)**", metrics.safety_violations.len())
        }
    );

    let fairness = &metrics.fairness;
    let _ = writeln!(out, "## Fairness\n");
    let _ = writeln!(
        out,
        "Measured over {} ordered transactions received by at least one live honest cell. \
         The reference order is each transaction's median honest receive time. \
         Definitions: docs/metrics.md.\n",
        fairness.measured_txs
    );
    let _ = writeln!(
        out,
        "| Metric | Value | Pairs (violated / eligible) |\n|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| Inversion rate (reference times more than {} apart) | {} | {} / {} |",
        format_ms(record.network_median_latency_ns),
        or_na(fairness.inversion_rate, 6),
        fairness.inversion_violated_pairs,
        fairness.inversion_eligible_pairs
    );
    for gamma in &fairness.gamma {
        let _ = writeln!(
            out,
            "| γ-receive-order-fairness violation rate, γ = {} | {} | {} / {} |",
            gamma.gamma,
            or_na(gamma.violation_rate, 6),
            gamma.violated_pairs,
            gamma.eligible_pairs
        );
    }
    let _ = writeln!(
        out,
        "| Kendall τ, final order vs reference order | {} | |",
        or_na(fairness.kendall_tau, 6)
    );
    let _ = writeln!(
        out,
        "| Consensus timestamps outside the band of honest claims | {} | of {} with a band; {} \
         in rounds whose unique famous witnesses were mostly honest-created (the protocol \
         promises 0); {} round(s) where Byzantine creators held half or more |",
        fairness.timestamp_band_violations,
        fairness.timestamp_band_measured,
        fairness.timestamp_band_violations_honest_majority,
        fairness.rounds_byzantine_half_famous
    );
    let _ = writeln!(
        out,
        "| Jain index of mean inclusion latency over {} submitters | {} | |\n",
        fairness.jain_submitters,
        or_na(fairness.jain_index, 6)
    );
    if fairness.gamma_sampling_stride > 1 {
        let _ = writeln!(
            out,
            "γ-fairness sampled every {}-th pair with overlapping receive times \
             (exact for all other pairs).\n",
            fairness.gamma_sampling_stride
        );
    }

    let _ = writeln!(out, "## Safety\n");
    if let Some(divergence) = &metrics.first_divergence {
        let _ = writeln!(
            out,
            "**First divergence**: {}.\n",
            cell(&describe_divergence(divergence))
        );
    }
    for fork in crate::summary::fork_summaries(&record.forks_detected) {
        let _ = writeln!(
            out,
            "**Fork**: cell {} signed two events on one self-parent; cell {} found the proof \
             first, at {}, and {} honest cell(s) in all.\n",
            fork.forker,
            fork.first_detected_by,
            format_ms(fork.first_detected_ns),
            fork.detected_by.len()
        );
    }
    if metrics.safety_ok() {
        let _ = writeln!(out, "No safety violation.\n");
    } else if !metrics.safety_violations.is_empty() {
        for violation in metrics.safety_violations.iter().take(LISTED_VIOLATIONS_MAX) {
            let _ = writeln!(out, "- {}", cell(violation));
        }
        if metrics.safety_violations.len() > LISTED_VIOLATIONS_MAX {
            let _ = writeln!(
                out,
                "- … and {} more (all are in summary.json)",
                metrics.safety_violations.len() - LISTED_VIOLATIONS_MAX
            );
        }
        let _ = writeln!(out);
    }

    render_attack_section(&mut out, record);
    if let (Some(markets), Some(market_metrics)) = (&record.markets, &metrics.markets) {
        crate::market::markdown::render_market_section(&mut out, markets, market_metrics);
    }

    let _ = writeln!(out, "## Faults\n");
    if record.faults.is_empty() {
        let _ = writeln!(out, "No fault was injected.\n");
    } else {
        let _ = writeln!(out, "| Kind | What | Start | End |\n|---|---|---|---|");
        for fault in &record.faults {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&fault.kind),
                cell(&fault.label),
                format_ms(fault.start_ns),
                format_ms(fault.end_ns)
            );
        }
        let _ = writeln!(
            out,
            "\nFault windows are shaded red on the plots over time.\n"
        );
    }

    let _ = writeln!(out, "## Plots\n");
    for stem in PLOT_STEMS {
        let title = plot_title(stem);
        let _ = writeln!(
            out,
            "### {title}\n\n![{title}]({stem}.svg)\n\n[PNG]({stem}.png)\n"
        );
    }
    for plot in metrics
        .markets
        .as_ref()
        .map(crate::market::plots::market_plots)
        .unwrap_or_default()
    {
        let (title, stem) = (cell(&plot.title), plot.stem);
        let _ = writeln!(
            out,
            "### {title}\n\n![{title}]({stem}.svg)\n\n[PNG]({stem}.png)\n"
        );
    }

    let _ = writeln!(out, "## Data\n");
    let _ = writeln!(
        out,
        "- [summary.json](summary.json): every number above\n\
         - [transactions.csv](transactions.csv): one row per transaction\n\
         - [timeseries.csv](timeseries.csv): one row per virtual second"
    );
    if record.markets.is_some() {
        let _ = writeln!(
            out,
            "- [markets.csv](markets.csv): one row per market round and token\n\
             - [agents.csv](agents.csv): one row per market agent"
        );
    }
    out
}

/// The run's attack, when there was one: what the Byzantine cells did and
/// how the honest cells reacted (docs/metrics.md "Attack"). Nothing for a
/// run where nothing happened.
fn render_attack_section(out: &mut String, record: &RunRecord) {
    let attack = crate::attack::AttackSummary::new(record);
    let nothing = attack.adversary_actions.is_empty()
        && attack.rejections.is_empty()
        && attack.network_adversary.dropped == 0
        && attack.network_adversary.delayed == 0;
    if nothing {
        return;
    }
    let _ = writeln!(out, "## Attack\n");
    if !attack.adversary_actions.is_empty() {
        let _ = writeln!(out, "| Behaviour | Action | Count |\n|---|---|---|");
        for (behaviour, actions) in &attack.adversary_actions {
            for (action, count) in actions {
                let _ = writeln!(out, "| {} | {} | {count} |", cell(behaviour), cell(action));
            }
        }
        let _ = writeln!(out);
    }
    if attack.messages_held > 0 || attack.messages_released > 0 {
        let _ = writeln!(
            out,
            "Withheld: {} message(s) held, {} released.\n",
            attack.messages_held, attack.messages_released
        );
    }
    let network = attack.network_adversary;
    if network.dropped > 0 || network.delayed > 0 {
        let _ = writeln!(
            out,
            "The network adversary dropped {} message(s) and delayed {}.\n",
            network.dropped, network.delayed
        );
    }
    if !attack.rejections.is_empty() {
        let _ = writeln!(
            out,
            "Honest cells rejected {} message(s) and event(s):\n\n| Reason | Count |\n|---|---|",
            attack.rejections_total
        );
        for (reason, count) in &attack.rejections {
            let _ = writeln!(out, "| {} | {count} |", cell(reason));
        }
        let _ = writeln!(out);
    }
    let front_running = attack.front_running;
    if front_running.pairs > 0 {
        let _ = writeln!(
            out,
            "Front-running: {} pair(s), {} measured, {} ordered attacker-first (advantage {}).\n",
            front_running.pairs,
            front_running.measured_pairs,
            front_running.attacker_first,
            or_na(front_running.advantage, 3)
        );
    }
    for attempt in &attack.double_spends.detail {
        let _ = writeln!(
            out,
            "Double spend by cell {} at {:.3} ms ({} TXs): the most any honest cell applied is {}{}.\n",
            attempt.attacker,
            attempt.time_ms,
            attempt.txs.len(),
            attempt.max_applied,
            if attempt.max_applied > 1 {
                " — **finalized twice**"
            } else {
                ""
            }
        );
    }
}
