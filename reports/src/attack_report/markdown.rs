//! `attack.md`: the attack report explained for a security reviewer.

use std::fmt::Write;

use super::{ATTACK_PLOT_STEMS, AttackCampaign, AttackReport, Distribution};

/// At most this many fork rows are listed; attack.json has all.
pub const LISTED_FORKS_MAX: usize = 60;

/// At most this many violations are listed; attack.json has all.
pub const LISTED_VIOLATIONS_MAX: usize = 40;

/// Table cells cannot hold `|` or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A number for a table: integers without decimals, others with three (one
/// from 100 up). `n/a` for none.
pub fn number(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_string(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
    }
}

/// A value with a fixed number of decimals; `n/a` for none.
fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "n/a".to_string(), |v| format!("{v:.decimals$}"))
}

/// Median (with its unit), interquartile range and range.
fn spread(distribution: &Distribution, unit: &str, decimals: usize) -> [String; 3] {
    if distribution.seeds == 0 {
        return ["n/a".to_string(), "n/a".to_string(), "n/a".to_string()];
    }
    let median = fixed(distribution.median, decimals);
    [
        if unit.is_empty() {
            median
        } else {
            format!("{median} {unit}")
        },
        format!(
            "{} – {}",
            fixed(distribution.q1, decimals),
            fixed(distribution.q3, decimals)
        ),
        format!(
            "{} – {}",
            fixed(distribution.min, decimals),
            fixed(distribution.max, decimals)
        ),
    ]
}

fn plot_title(stem: &str) -> &'static str {
    match stem {
        "finality_cdf" => "Finality latency CDF, attacked vs baseline (pooled over seeds)",
        "throughput" => "Throughput over virtual time, median and interquartile range over seeds",
        "fork_detection" => "Honest cells holding a fork proof over virtual time (attacked)",
        _ => "Plot",
    }
}

/// Seeds as text: `11..19` when consecutive, else a list.
fn seeds_text(seeds: &[u64]) -> String {
    let consecutive = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    match (seeds.first(), seeds.last()) {
        (Some(first), Some(last)) if consecutive && seeds.len() > 2 => {
            format!("seeds {first}..{} ({} seeds)", last + 1, seeds.len())
        }
        _ => format!(
            "seed{} {}",
            if seeds.len() == 1 { "" } else { "s" },
            seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn yes_no(violated: bool) -> &'static str {
    if violated { "**VIOLATED**" } else { "ok" }
}

/// Renders `attack.md`. The same report gives the same bytes.
pub fn render_attack_report(campaign: &AttackCampaign, report: &AttackReport) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; `let _ =` keeps the code readable.
    let _ = writeln!(out, "# Attack report: {}\n", report.scenario);
    let _ = writeln!(out, "{}\n", report.description);
    let _ = writeln!(
        out,
        "Scenario file `{}`, {}: each seed runs attacked and as its honest baseline (the same \
         seed with the Byzantine cells present but silent: honest code, no workload, out of \
         the metrics), so that the two compare like with like.\n",
        report.file,
        seeds_text(&report.seeds)
    );

    let _ = writeln!(out, "## Verdict\n");
    if report.verdict.claims.is_empty() {
        let _ = writeln!(out, "**NO CLAIM**: {}.\n", report.claims.note);
    } else {
        let failed = report
            .verdict
            .claims
            .iter()
            .filter(|claim| !claim.holds)
            .count();
        if failed == 0 {
            let _ = writeln!(
                out,
                "**HOLDS**: every claim holds on every seed ({}).\n",
                report.claims.note
            );
        } else {
            let _ = writeln!(
                out,
                "**FAILS**: {failed} of {} claims do not hold ({}).\n",
                report.verdict.claims.len(),
                report.claims.note
            );
        }
        let _ = writeln!(
            out,
            "| Property | Claimed | Verdict | Why |\n|---|---|---|---|"
        );
        for claim in &report.verdict.claims {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                claim.property,
                if claim.claimed { "holds" } else { "breaks" },
                if claim.holds { "pass" } else { "**FAIL**" },
                cell(&claim.reason)
            );
        }
        let _ = writeln!(out);
        for claim in &report.verdict.claims {
            if !claim.baseline_violated_seeds.is_empty() {
                let _ = writeln!(
                    out,
                    "Warning: the **baseline** also violated {} on seed(s) {}: a fault that does \
                     not need the attack (see Violations).\n",
                    claim.property,
                    claim
                        .baseline_violated_seeds
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }

    let adversary = &report.adversary;
    let _ = writeln!(out, "## Adversary script\n");
    if adversary.script.is_empty() {
        let _ = writeln!(
            out,
            "No behaviour is scripted: the Byzantine cells are only labelled (they run honest \
             code and are left out of the metrics).\n"
        );
    } else {
        let _ = writeln!(out, "| Behaviour | Cells and window |\n|---|---|");
        for block in &adversary.script {
            let _ = writeln!(
                out,
                "| {} | {} |",
                cell(&block.behaviour),
                cell(&block.description)
            );
        }
        let _ = writeln!(out);
    }
    let cells_list = adversary
        .byzantine_cells
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let share = adversary.byzantine_stake_share * 100.0;
    if adversary.below_one_third {
        let _ = writeln!(
            out,
            "Byzantine cells: {} ({} of {} cells), {share:.1} % of the consensus stake \
             ({} of {}): **below one third**, the protocol's assumption holds, so agreement \
             and state must not break.\n",
            if cells_list.is_empty() {
                "none"
            } else {
                &cells_list
            },
            adversary.byzantine_cells.len(),
            adversary.cells,
            adversary.byzantine_stake,
            adversary.total_stake
        );
    } else {
        let _ = writeln!(
            out,
            "Byzantine cells: {cells_list} ({} of {} cells), {share:.1} % of the consensus \
             stake ({} of {}): **the threshold was crossed** (at or above one third). The \
             protocol promises nothing here; the report shows what happened.\n",
            adversary.byzantine_cells.len(),
            adversary.cells,
            adversary.byzantine_stake,
            adversary.total_stake
        );
    }
    let broken_rounds: u64 = report
        .runs
        .iter()
        .map(|runs| runs.attacked.rounds_byzantine_half_famous)
        .sum();
    let promise_broken: u64 = report
        .runs
        .iter()
        .map(|runs| {
            runs.attacked.timestamp_band_violations_honest_majority
                + runs.baseline.timestamp_band_violations_honest_majority
        })
        .sum();
    let _ = writeln!(
        out,
        "Timestamp band (docs/metrics.md \"Timestamp band\"): in {broken_rounds} decided \
         round(s) over the attacked seeds, Byzantine creators held half or more of the \
         unique famous witnesses — the assumption behind the band does not hold there, and \
         band violations in those rounds measure the attack. Violations in the other rounds, \
         which the protocol promises never happen: {promise_broken}{}.\n",
        if promise_broken > 0 {
            " (**a bug**: each run's summary.json, `fairness`)"
        } else {
            ""
        }
    );

    let _ = writeln!(out, "## Metrics over seeds\n");
    let _ = writeln!(
        out,
        "Median, interquartile range (nearest-rank quartiles) and range over the seeds; a run \
         where a value is undefined (nothing finalized, no pair to measure) is left out of \
         its distribution, `n` says how many count.\n"
    );
    let _ = writeln!(
        out,
        "| Metric | Attacked median | IQR | Min – max | n | Baseline median | IQR | Min – max | n |\n\
         |---|---|---|---|---|---|---|---|---|"
    );
    for metric in &report.metrics {
        let [a_median, a_iqr, a_range] = spread(&metric.attacked, metric.unit, metric.decimals);
        let [b_median, b_iqr, b_range] = spread(&metric.baseline, metric.unit, metric.decimals);
        let _ = writeln!(
            out,
            "| {} | {a_median} | {a_iqr} | {a_range} | {} | {b_median} | {b_iqr} | {b_range} | {} |",
            metric.label, metric.attacked.seeds, metric.baseline.seeds
        );
    }
    let _ = writeln!(out);

    let _ = writeln!(out, "## Plots\n");
    for stem in ATTACK_PLOT_STEMS {
        let title = plot_title(stem);
        let _ = writeln!(
            out,
            "### {title}\n\n![{title}]({stem}.svg)\n\n[PNG]({stem}.png)\n"
        );
    }

    let detection = &report.detection;
    let _ = writeln!(out, "## Detection\n");
    let _ = writeln!(out, "### Forks\n");
    let fork_rows: Vec<String> = detection
        .forks
        .iter()
        .flat_map(|seed| {
            seed.forkers.iter().map(move |fork| {
                format!(
                    "| {} | {} | {} of {} | {} | {} | {} |",
                    seed.seed,
                    fork.forker,
                    fork.cells_detected,
                    fork.honest_cells,
                    number(Some(fork.first_detected_ms)),
                    number(Some(fork.last_detected_ms)),
                    fork.trust_ppm_max_after
                        .map_or_else(|| "n/a".to_string(), |ppm| ppm.to_string())
                )
            })
        })
        .collect();
    if fork_rows.is_empty() {
        let _ = writeln!(out, "No honest cell found a fork proof on any seed.\n");
    } else {
        let _ = writeln!(
            out,
            "| Seed | Forker | Honest cells holding a proof | First proof (ms) | Last proof (ms) | Its highest trust after (ppm) |\n\
             |---|---|---|---|---|---|"
        );
        for row in fork_rows.iter().take(LISTED_FORKS_MAX) {
            let _ = writeln!(out, "{row}");
        }
        if fork_rows.len() > LISTED_FORKS_MAX {
            let _ = writeln!(
                out,
                "| … | {} more rows in attack.json | | | | |",
                fork_rows.len() - LISTED_FORKS_MAX
            );
        }
        let _ = writeln!(
            out,
            "\nA cell holding a proof journals both signed events and zeroes the forker's \
             trust: the last column is the highest reputation any honest cell live at the \
             end of the run gives the forker (0 is the promise).\n"
        );
    }

    let _ = writeln!(out, "### Rejected messages and events\n");
    if detection.rejections_attacked.is_empty() && detection.rejections_baseline.is_empty() {
        let _ = writeln!(out, "No honest cell rejected anything.\n");
    } else {
        let mut reasons: Vec<&String> = detection
            .rejections_attacked
            .keys()
            .chain(detection.rejections_baseline.keys())
            .collect();
        reasons.sort();
        reasons.dedup();
        let _ = writeln!(
            out,
            "Summed over seeds, by the honest cell's reason.\n\n\
             | Reason | Attacked | Baseline |\n|---|---|---|"
        );
        for reason in reasons {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(reason),
                detection.rejections_attacked.get(reason).unwrap_or(&0),
                detection.rejections_baseline.get(reason).unwrap_or(&0)
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "### Adversary actions\n");
    if detection.adversary_actions.is_empty() {
        let _ = writeln!(out, "No Byzantine cell recorded an action.\n");
    } else {
        let _ = writeln!(
            out,
            "What the Byzantine cells did, summed over seeds.\n\n\
             | Behaviour | Action | Count |\n|---|---|---|"
        );
        for (behaviour, actions) in &detection.adversary_actions {
            for (action, count) in actions {
                let _ = writeln!(out, "| {} | {} | {count} |", cell(behaviour), cell(action));
            }
        }
        let _ = writeln!(out);
    }
    let front_running = &detection.front_running;
    if front_running.pairs > 0 {
        let _ = writeln!(
            out,
            "**Front-running**: {} (victim, attacker) TX pairs; {} measured (both ordered, \
             every honest cell that received both received the victim's first), {} of them \
             ordered attacker-first: advantage {} (0 is fair).\n",
            front_running.pairs,
            front_running.measured_pairs,
            front_running.attacker_first,
            number(front_running.advantage)
        );
    }
    if detection.double_spend_attempts > 0 {
        let _ = writeln!(
            out,
            "**Double spends**: {} attempt(s); {} applied twice by some honest cell (the claim \
             is at most one TX of an attempt per cell).\n",
            detection.double_spend_attempts, detection.double_spends_finalized_twice
        );
    }

    if detection.censored_dropped + detection.censored_held > 0 {
        let _ = writeln!(
            out,
            "**Censorship**: censoring entry cells dropped {} and held {} client TX(s), summed \
             over seeds (per client: each run's summary.json, `attack.censored`).\n",
            detection.censored_dropped, detection.censored_held
        );
    }

    if let Some(sybil) = &detection.sybil {
        let ppm = |value: Option<u64>| value.map_or("–".to_string(), |ppm| format!("{ppm} ppm"));
        let _ = writeln!(
            out,
            "**Sybil identities** ({} per run, no consensus stake; summed over seeds): honest \
             cells vouched for them {} time(s) (attack edges); they sent {} message(s), of \
             which honest cells accepted {}. In an honest cell's own trust network their \
             summed reputation reached at most {} and the best single identity {}; some sybil \
             ranked at or above the median member in {} of {} honest cell(s) measured \
             (per cell: each run's summary.json, `attack.sybil`).\n",
            sybil.identities,
            sybil.attack_edges,
            sybil.messages_sent,
            sybil.messages_accepted,
            ppm(sybil.share_ppm_max),
            ppm(sybil.best_sybil_ppm_max),
            sybil.cells_outranked,
            sybil.cells_measured
        );
    }

    let _ = writeln!(out, "## Violations and failed claims\n");
    if report.violations.is_empty() {
        let _ = writeln!(
            out,
            "None: no run violated agreement, state or a check, and no claim failed.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "Each replays with the command shown (`--baseline` runs the honest baseline).\n"
        );
        for violation in report.violations.iter().take(LISTED_VIOLATIONS_MAX) {
            let _ = writeln!(
                out,
                "- **Seed {} ({})**: {}. Replay: `{}`",
                violation.seed,
                violation.arm,
                violation.what.join(", "),
                violation.command
            );
            if let Some(divergence) = &violation.first_divergence {
                let _ = writeln!(out, "  - First divergence: {}", cell(divergence));
            }
            for detail in &violation.details {
                let _ = writeln!(out, "  - {}", cell(detail));
            }
        }
        if report.violations.len() > LISTED_VIOLATIONS_MAX {
            let _ = writeln!(
                out,
                "- … and {} more (all are in attack.json)",
                report.violations.len() - LISTED_VIOLATIONS_MAX
            );
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(out, "## Runs\n");
    let _ = writeln!(
        out,
        "| Seed | Attacked: agreement | state | liveness | checks | Baseline: agreement | state | liveness | checks | Reports |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    for runs in &campaign.runs {
        let (a, b) = (&runs.attacked, &runs.baseline);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | [attacked]({}/report.md), [baseline]({}/report.md) |",
            runs.seed,
            yes_no(a.agreement_violated),
            yes_no(a.state_violated),
            if a.liveness_ok { "ok" } else { "stalled" },
            if a.checks_passed { "pass" } else { "**FAIL**" },
            yes_no(b.agreement_violated),
            yes_no(b.state_violated),
            if b.liveness_ok { "ok" } else { "stalled" },
            if b.checks_passed { "pass" } else { "**FAIL**" },
            a.dir,
            b.dir
        );
    }
    let _ = writeln!(
        out,
        "\n## Data\n\n- [attack.json](attack.json): every number above, per seed and over seeds\n\
         - `attacked/seed-S/`, `baseline/seed-S/`: each run's outputs, as `celluler run` writes them"
    );
    out
}
