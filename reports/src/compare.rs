//! `celluler compare`: two sweeps of one grid — two builds, or two values
//! of one knob split out of one sweep — compared per grid point and metric
//! over their shared seeds: both medians, the paired differences' median
//! with a seeded bootstrap interval, a Wilcoxon signed-rank p-value, and a
//! verdict. A candidate is a regression when a metric moves the wrong way
//! beyond its threshold with p below [`SIGNIFICANCE`], or when it violates
//! safety on a seed where the base did not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use crate::plots::{DrawResult, PLOT_SIZE, PlotError, cdf_points_of, draw_legend, render_both};
use crate::stats::{
    BOOTSTRAP_RESAMPLES, CONFIDENCE_PPM, Interval, WilcoxonResult, bootstrap_median_interval,
    median, wilcoxon_signed_rank,
};
use crate::sweep::{Sweep, SweepRun, format_value, format_with_interval, plots_section, short};
use crate::{ReportError, sweep::HEADLINE_METRICS};

pub const COMPARE_FORMAT: &str = "celluler-compare/1";
/// A move counts only with a two-sided p-value below this.
pub const SIGNIFICANCE: f64 = 0.05;
/// How far a metric may move the wrong way, relative to the base median,
/// before it counts (ppm): 5 %.
pub const DEFAULT_THRESHOLD_PPM: u64 = 50_000;

/// Metrics where more is better (every other metric: less is better).
const HIGHER_IS_BETTER: [&str; 5] = [
    "throughput_tps",
    "txs_finalized",
    "fairness.kendall_tau",
    "fairness.jain_index",
    "fairness.measured_txs",
];

/// One metric as compare judges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricSpec {
    /// A dotted `summary.json` key.
    pub name: String,
    pub higher_is_better: bool,
    /// The wrong-way move allowed, in ppm of the base median.
    pub threshold_ppm: u64,
}

impl MetricSpec {
    /// `name` with its usual direction and the default threshold.
    pub fn named(name: &str) -> MetricSpec {
        MetricSpec {
            name: name.to_string(),
            higher_is_better: HIGHER_IS_BETTER.contains(&name),
            threshold_ppm: DEFAULT_THRESHOLD_PPM,
        }
    }

    /// The headline metrics of a sweep.
    pub fn defaults() -> Vec<MetricSpec> {
        HEADLINE_METRICS
            .iter()
            .map(|(name, _)| MetricSpec::named(name))
            .collect()
    }
}

/// One side of a comparison: a sweep, and the `KEY=VALUE` that selects its
/// half when both sides come from one sweep.
pub struct Side<'a> {
    pub label: String,
    pub sweep: &'a Sweep,
    pub select: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SideSummary {
    pub label: String,
    pub scenario: String,
    pub scenario_hash: String,
    pub version: String,
    pub build: String,
    pub select: Option<String>,
    pub seeds: u64,
    pub points: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Moved the wrong way beyond the threshold, significantly.
    Worse,
    /// Moved the right way beyond the threshold, significantly.
    Better,
    /// Neither.
    Same,
    /// No shared seed with a value on both sides.
    NotMeasured,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    pub metric: String,
    pub higher_is_better: bool,
    pub threshold_ppm: u64,
    pub base_median: Option<f64>,
    pub candidate_median: Option<f64>,
    /// Seeds with a value on both sides.
    pub pairs: u64,
    /// Median of candidate − base over the pairs, its bootstrap interval,
    /// and that median relative to the base median.
    pub median_difference: Option<f64>,
    pub interval: Option<Interval>,
    pub relative_change: Option<f64>,
    pub wilcoxon: Option<WilcoxonResult>,
    pub verdict: Verdict,
    /// (seed, candidate − base), by seed: the paired differences.
    pub differences: Vec<(u64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointComparison {
    /// The grid point's settings (without a selecting key).
    pub settings: Vec<(String, String)>,
    pub metrics: Vec<MetricComparison>,
}

/// A seed where the candidate violated safety and the base did not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetyRegression {
    pub settings: Vec<(String, String)>,
    pub seed: u64,
    pub failures: Vec<String>,
    pub command: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub format: String,
    pub base: SideSummary,
    pub candidate: SideSummary,
    /// What differs between the sides that should not, or is worth knowing.
    pub notes: Vec<String>,
    pub points: Vec<PointComparison>,
    /// Grid points only one side has.
    pub unmatched_points: Vec<String>,
    pub safety_regressions: Vec<SafetyRegression>,
    /// Whether the candidate regressed (the exit status is 1 when it did).
    pub regressed: bool,
    pub reasons: Vec<String>,
}

/// A side's grid points: per point, its settings without the selecting key,
/// and its runs by seed. Points the selection leaves out are skipped.
fn points_of<'a>(side: &Side<'a>) -> BTreeMap<Vec<(String, String)>, BTreeMap<u64, &'a SweepRun>> {
    let mut points = BTreeMap::new();
    for (index, settings) in side.sweep.grid.points().into_iter().enumerate() {
        if let Some((key, value)) = &side.select
            && !settings.iter().any(|(k, v)| k == key && v == value)
        {
            continue;
        }
        let kept: Vec<(String, String)> = settings
            .into_iter()
            .filter(|(k, _)| side.select.as_ref().is_none_or(|(key, _)| k != key))
            .collect();
        let runs: BTreeMap<u64, &SweepRun> = side
            .sweep
            .runs
            .iter()
            .filter(|run| run.point as usize == index)
            .map(|run| (run.seed, run))
            .collect();
        points.insert(kept, runs);
    }
    points
}

fn summary_of(side: &Side<'_>) -> SideSummary {
    let sweep = side.sweep;
    SideSummary {
        label: side.label.clone(),
        scenario: sweep.scenario.clone(),
        scenario_hash: sweep.scenario_hash.clone(),
        version: sweep.version.clone(),
        build: sweep.build.clone(),
        select: side.select.as_ref().map(|(k, v)| format!("{k}={v}")),
        seeds: sweep.seeds.len() as u64,
        points: points_of(side).len() as u64,
    }
}

/// The bootstrap seed of a point and metric (FNV-1a: stable everywhere).
fn bootstrap_seed(settings: &[(String, String)], metric: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let text = settings
        .iter()
        .map(|(k, v)| format!("{k}={v};"))
        .collect::<String>()
        + metric;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn compare_metric(
    spec: &MetricSpec,
    settings: &[(String, String)],
    base: &BTreeMap<u64, &SweepRun>,
    candidate: &BTreeMap<u64, &SweepRun>,
) -> MetricComparison {
    let values = |runs: &BTreeMap<u64, &SweepRun>| -> Vec<f64> {
        runs.values()
            .filter_map(|run| run.number(&spec.name))
            .collect()
    };
    let differences: Vec<(u64, f64)> = base
        .iter()
        .filter_map(|(seed, run)| {
            let other = candidate.get(seed)?;
            Some((*seed, other.number(&spec.name)? - run.number(&spec.name)?))
        })
        .collect();
    let deltas: Vec<f64> = differences.iter().map(|&(_, d)| d).collect();
    let base_median = median(&values(base));
    let median_difference = median(&deltas);
    let relative_change = match (median_difference, base_median) {
        (Some(delta), Some(reference)) if reference != 0.0 => Some(delta / reference.abs()),
        (Some(0.0), Some(_)) => Some(0.0),
        _ => None,
    };
    let wilcoxon = wilcoxon_signed_rank(&deltas);
    let verdict = match (median_difference, wilcoxon) {
        (Some(delta), Some(test)) => {
            let beyond = match relative_change {
                Some(relative) => relative.abs() * 1e6 > spec.threshold_ppm as f64,
                // A move away from a base of 0 is beyond any threshold.
                None => delta != 0.0,
            };
            let wrong_way = if spec.higher_is_better {
                delta < 0.0
            } else {
                delta > 0.0
            };
            if !beyond || test.p_value >= SIGNIFICANCE || delta == 0.0 {
                Verdict::Same
            } else if wrong_way {
                Verdict::Worse
            } else {
                Verdict::Better
            }
        }
        _ => Verdict::NotMeasured,
    };
    MetricComparison {
        metric: spec.name.clone(),
        higher_is_better: spec.higher_is_better,
        threshold_ppm: spec.threshold_ppm,
        base_median,
        candidate_median: median(&values(candidate)),
        pairs: deltas.len() as u64,
        median_difference,
        interval: bootstrap_median_interval(
            &deltas,
            bootstrap_seed(settings, &spec.name),
            BOOTSTRAP_RESAMPLES,
            CONFIDENCE_PPM,
        ),
        relative_change,
        wilcoxon,
        verdict,
        differences,
    }
}

impl Comparison {
    pub fn new(base: &Side<'_>, candidate: &Side<'_>, metrics: &[MetricSpec]) -> Comparison {
        let mut notes = Vec::new();
        let (b, c) = (base.sweep, candidate.sweep);
        if b.scenario_hash != c.scenario_hash {
            notes.push(format!(
                "the scenario files differ ({} against {}): unless that is the change under \
                 test, the two are not comparable",
                short(&b.scenario_hash),
                short(&c.scenario_hash)
            ));
        }
        if b.build == c.build && base.select.is_none() && candidate.select.is_none() {
            notes.push(
                "both sweeps ran the same build: any difference is the runs' own".to_string(),
            );
        } else if b.build != c.build {
            notes.push(format!(
                "builds differ: base {} ({}), candidate {} ({})",
                b.version,
                short(&b.build),
                c.version,
                short(&c.build)
            ));
        }
        if b.seeds != c.seeds {
            notes.push(format!(
                "the seed sets differ ({} and {} seeds): only shared seeds are paired",
                b.seeds.len(),
                c.seeds.len()
            ));
        }
        let base_points = points_of(base);
        let candidate_points = points_of(candidate);
        let describe = |settings: &Vec<(String, String)>| {
            if settings.is_empty() {
                "(the scenario as written)".to_string()
            } else {
                settings
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut unmatched_points = Vec::new();
        for settings in base_points.keys() {
            if !candidate_points.contains_key(settings) {
                unmatched_points.push(format!("base only: {}", describe(settings)));
            }
        }
        for settings in candidate_points.keys() {
            if !base_points.contains_key(settings) {
                unmatched_points.push(format!("candidate only: {}", describe(settings)));
            }
        }
        let mut points = Vec::new();
        let mut safety_regressions = Vec::new();
        let mut reasons = Vec::new();
        for (settings, base_runs) in &base_points {
            let Some(candidate_runs) = candidate_points.get(settings) else {
                continue;
            };
            for (seed, run) in candidate_runs {
                if run.safety_violated()
                    && base_runs
                        .get(seed)
                        .is_some_and(|base_run| !base_run.safety_violated())
                {
                    safety_regressions.push(SafetyRegression {
                        settings: settings.clone(),
                        seed: *seed,
                        failures: run.failures.clone(),
                        command: c.replay_command(run),
                    });
                    reasons.push(format!(
                        "safety violated at {} seed {seed}, where the base kept it",
                        describe(settings)
                    ));
                }
            }
            let compared: Vec<MetricComparison> = metrics
                .iter()
                .map(|spec| compare_metric(spec, settings, base_runs, candidate_runs))
                .collect();
            for metric in &compared {
                if metric.verdict == Verdict::Worse {
                    reasons.push(format!(
                        "{} worse at {}: median {} → {} (median paired difference {}, {:+.1} %, \
                         p = {:.4})",
                        metric.metric,
                        describe(settings),
                        format_value(metric.base_median),
                        format_value(metric.candidate_median),
                        format_value(metric.median_difference),
                        metric.relative_change.unwrap_or(f64::NAN) * 100.0,
                        metric.wilcoxon.map_or(f64::NAN, |w| w.p_value)
                    ));
                }
            }
            points.push(PointComparison {
                settings: settings.clone(),
                metrics: compared,
            });
        }
        Comparison {
            format: COMPARE_FORMAT.to_string(),
            base: summary_of(base),
            candidate: summary_of(candidate),
            notes,
            points,
            unmatched_points,
            safety_regressions,
            regressed: !reasons.is_empty(),
            reasons,
        }
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a comparison serialises");
        text.push('\n');
        text
    }
}

/// Writes `compare.json`, `compare.md` and, per metric, the paired
/// differences by seed and both sides' CDFs.
pub fn write_compare_outputs(
    comparison: &Comparison,
    base: &Side<'_>,
    candidate: &Side<'_>,
    dir: &Path,
) -> Result<(), ReportError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let json_path = dir.join("compare.json");
    fs::write(&json_path, comparison.to_json()).map_err(io_error(&json_path))?;
    let plots = write_compare_plots(comparison, base, candidate, dir)?;
    let markdown_path = dir.join("compare.md");
    fs::write(&markdown_path, render_compare_markdown(comparison, &plots))
        .map_err(io_error(&markdown_path))?;
    Ok(())
}

pub fn render_compare_markdown(comparison: &Comparison, plots: &[(String, String)]) -> String {
    let mut out = String::new();
    let (base, candidate) = (&comparison.base, &comparison.candidate);
    let _ = writeln!(
        out,
        "# Compare: {} against {}\n",
        candidate.label, base.label
    );
    let side = |s: &SideSummary| {
        format!(
            "`{}`{}: scenario {} (blake3 `{}`), celluler {} (build `{}`), {} seed(s), {} grid \
             point(s)",
            s.label,
            s.select
                .as_ref()
                .map(|select| format!(" where {select}"))
                .unwrap_or_default(),
            s.scenario,
            short(&s.scenario_hash),
            s.version,
            short(&s.build),
            s.seeds,
            s.points
        )
    };
    let _ = writeln!(
        out,
        "- Base: {}\n- Candidate: {}\n",
        side(base),
        side(candidate)
    );
    for note in &comparison.notes {
        let _ = writeln!(out, "> Note: {note}\n");
    }
    let _ = writeln!(out, "## Verdict\n");
    if comparison.regressed {
        let _ = writeln!(out, "**REGRESSED**:\n");
        for reason in &comparison.reasons {
            let _ = writeln!(out, "- {reason}");
        }
        let _ = writeln!(out);
    } else {
        let _ = writeln!(
            out,
            "**No regression**: no metric moved the wrong way beyond its threshold with p < \
             {SIGNIFICANCE}, and the candidate violated safety on no seed where the base kept \
             it.\n"
        );
    }
    let _ = writeln!(
        out,
        "Per grid point and metric: both medians over the seeds; the median of the paired \
         differences (candidate − base, over shared seeds) with a seeded bootstrap {} % \
         interval; its size relative to the base median; the two-sided Wilcoxon signed-rank \
         p-value (exact up to 50 pairs without ties, else normal with tie and continuity \
         corrections; zero differences dropped). With n pairs the smallest exact p is \
         2/2ⁿ: 6 seeds are the fewest that can reach p < {SIGNIFICANCE}.\n",
        CONFIDENCE_PPM / 10_000
    );
    for point in &comparison.points {
        let title = if point.settings.is_empty() {
            "The scenario as written".to_string()
        } else {
            point
                .settings
                .iter()
                .map(|(k, v)| format!("`{k}={v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(out, "### {title}\n");
        let _ = writeln!(
            out,
            "| Metric | Better | Threshold | Base median | Candidate median | Pairs | Median \
             difference [interval] | Relative | p | Verdict |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for metric in &point.metrics {
            let _ = writeln!(
                out,
                "| `{}` | {} | {:.1} % | {} | {} | {} | {} | {} | {} | {} |",
                metric.metric,
                if metric.higher_is_better {
                    "higher"
                } else {
                    "lower"
                },
                metric.threshold_ppm as f64 / 1e4,
                format_value(metric.base_median),
                format_value(metric.candidate_median),
                metric.pairs,
                format_with_interval(metric.median_difference, metric.interval),
                metric
                    .relative_change
                    .map_or("n/a".to_string(), |r| format!("{:+.1} %", r * 100.0)),
                metric
                    .wilcoxon
                    .map_or("n/a".to_string(), |w| format!("{:.4}", w.p_value)),
                match metric.verdict {
                    Verdict::Worse => "**worse**",
                    Verdict::Better => "better",
                    Verdict::Same => "same",
                    Verdict::NotMeasured => "n/a",
                }
            );
        }
        let _ = writeln!(out);
    }
    if !comparison.unmatched_points.is_empty() {
        let _ = writeln!(out, "## Grid points on one side only\n");
        for point in &comparison.unmatched_points {
            let _ = writeln!(out, "- {point}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Safety\n");
    if comparison.safety_regressions.is_empty() {
        let _ = writeln!(
            out,
            "The candidate violated safety on no seed where the base kept it.\n"
        );
    } else {
        for regression in &comparison.safety_regressions {
            let _ = writeln!(
                out,
                "- seed {}: {} — `{}`",
                regression.seed,
                regression.failures.join("; "),
                regression.command
            );
        }
        let _ = writeln!(out);
    }
    plots_section(&mut out, plots);
    let _ = writeln!(
        out,
        "## Data\n\n- [compare.json](compare.json): every number above, with each pair's difference by seed"
    );
    out
}

const BASE_COLOR: RGBColor = RGBColor(38, 139, 210);
const CANDIDATE_COLOR: RGBColor = RGBColor(211, 54, 130);

fn write_compare_plots(
    comparison: &Comparison,
    base: &Side<'_>,
    candidate: &Side<'_>,
    dir: &Path,
) -> Result<Vec<(String, String)>, PlotError> {
    let metrics: Vec<String> = comparison
        .points
        .first()
        .map(|point| point.metrics.iter().map(|m| m.metric.clone()).collect())
        .unwrap_or_default();
    let base_points = points_of(base);
    let candidate_points = points_of(candidate);
    let mut written = Vec::new();
    for (place, metric) in metrics.iter().enumerate() {
        // Differences: x = grid point (in comparison order), one dot per seed.
        let dots: Vec<(f64, f64)> = comparison
            .points
            .iter()
            .enumerate()
            .flat_map(|(x, point)| {
                point.metrics[place]
                    .differences
                    .iter()
                    .map(move |&(_, d)| (x as f64, d))
            })
            .collect();
        let stem_base = metric.replace('.', "_");
        if !dots.is_empty() {
            let stem = format!("compare_{stem_base}_differences");
            let title = format!("{metric}: candidate − base per seed, by grid point");
            let _ = render_both!(
                dir,
                &stem,
                draw_differences,
                &title,
                &dots,
                comparison.points.len()
            );
            written.push((stem, title));
        }
        // Both sides' values pooled over the matched points.
        let pooled = |points: &BTreeMap<Vec<(String, String)>, BTreeMap<u64, &SweepRun>>| {
            let mut values: Vec<f64> = comparison
                .points
                .iter()
                .filter_map(|point| points.get(&point.settings))
                .flat_map(|runs| runs.values().filter_map(|run| run.number(metric)))
                .filter(|v| v.is_finite())
                .collect();
            values.sort_by(f64::total_cmp);
            values
        };
        let (base_values, candidate_values) = (pooled(&base_points), pooled(&candidate_points));
        if !base_values.is_empty() && !candidate_values.is_empty() {
            let stem = format!("compare_{stem_base}_cdf");
            let title = format!("{metric}: CDF over runs, base and candidate");
            let _ = render_both!(
                dir,
                &stem,
                draw_cdfs,
                &title,
                metric,
                &base_values,
                &candidate_values
            );
            written.push((stem, title));
        }
    }
    Ok(written)
}

fn draw_differences<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    dots: &[(f64, f64)],
    points: usize,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (y_min, y_max) = dots
        .iter()
        .fold((0.0f64, 0.0f64), |(lo, hi), &(_, y)| (lo.min(y), hi.max(y)));
    let pad = ((y_max - y_min) * 0.1).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..(points as f64 - 0.5), (y_min - pad)..(y_max + pad))
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("grid point (compare.md order)")
        .y_desc("candidate − base")
        .x_labels(points.clamp(1, 20))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            [(-0.5, 0.0), (points as f64 - 0.5, 0.0)],
            BLACK.mix(0.5),
        ))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(
            dots.iter()
                .map(|&(x, y)| Circle::new((x, y), 4, CANDIDATE_COLOR.mix(0.7).filled())),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn draw_cdfs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    metric: &str,
    base: &[f64],
    candidate: &[f64],
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_min = base[0].min(candidate[0]);
    let x_max = base[base.len() - 1].max(candidate[candidate.len() - 1]);
    let pad = ((x_max - x_min) * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d((x_min - pad)..(x_max + pad), 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(metric)
        .y_desc("fraction of runs")
        .draw()
        .map_err(|e| e.to_string())?;
    for (label, values, color) in [
        ("base", base, BASE_COLOR),
        ("candidate", candidate, CANDIDATE_COLOR),
    ] {
        chart
            .draw_series(LineSeries::new(
                cdf_points_of(values, |v| v),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Grid, SWEEP_FORMAT, test_run};

    fn run(point: u32, seed: u64, p50: f64, safe: bool) -> SweepRun {
        test_run(
            point,
            seed,
            &[("finality_ms.p50", p50), ("throughput_tps", 10.0)],
            safe,
        )
    }

    /// One sweep over `consensus.sync` = push-pull, pull and 8 seeds; the
    /// pull half's finality is `factor` times the other's, plus noise.
    fn sweep_of(factor: f64, unsafe_seed: Option<u64>) -> Sweep {
        let mut runs = Vec::new();
        for point in 0..2u32 {
            for seed in 0..8u64 {
                let base = 1000.0 + 10.0 * seed as f64;
                let p50 = if point == 1 {
                    base * factor + (seed % 3) as f64
                } else {
                    base
                };
                runs.push(run(
                    point,
                    seed,
                    p50,
                    !(point == 1 && Some(seed) == unsafe_seed),
                ));
            }
        }
        Sweep {
            format: SWEEP_FORMAT.into(),
            scenario: "s".into(),
            file: "s.toml".into(),
            scenario_hash: "ab".repeat(32),
            version: "0.1.0".into(),
            build: "cd".repeat(32),
            seeds: (0..8).collect(),
            grid: Grid {
                keys: vec!["consensus.sync".into()],
                values: vec![vec!["push-pull".into(), "pull".into()]],
            },
            shard: None,
            runs,
        }
    }

    fn side<'a>(sweep: &'a Sweep, value: &str) -> Side<'a> {
        Side {
            label: format!("s@{value}"),
            sweep,
            select: Some(("consensus.sync".into(), value.into())),
        }
    }

    #[test]
    fn a_doubled_finality_is_a_significant_regression() {
        let sweep = sweep_of(2.0, None);
        let comparison = Comparison::new(
            &side(&sweep, "push-pull"),
            &side(&sweep, "pull"),
            &MetricSpec::defaults(),
        );
        assert_eq!(comparison.points.len(), 1);
        let p50 = &comparison.points[0].metrics[0];
        assert_eq!(p50.metric, "finality_ms.p50");
        assert_eq!(p50.pairs, 8);
        // Every difference is positive: W− = 0, exact p = 2/2⁸.
        assert_eq!(p50.wilcoxon.unwrap().p_value, 2.0 / 256.0);
        assert_eq!(p50.verdict, Verdict::Worse);
        assert!(comparison.regressed);
        assert!(
            comparison.reasons[0].starts_with("finality_ms.p50 worse at (the scenario as written)")
        );
        // Throughput did not move: same.
        assert_eq!(comparison.points[0].metrics[2].verdict, Verdict::Same);
        // The other way round it is an improvement, not a regression.
        let reverse = Comparison::new(
            &side(&sweep, "pull"),
            &side(&sweep, "push-pull"),
            &MetricSpec::defaults(),
        );
        assert_eq!(reverse.points[0].metrics[0].verdict, Verdict::Better);
        assert!(!reverse.regressed);
    }

    #[test]
    fn the_same_sweep_twice_passes_and_a_small_move_stays_under_its_threshold() {
        let sweep = sweep_of(1.0, None);
        let whole = |label: &str| Side {
            label: label.into(),
            sweep: &sweep,
            select: None,
        };
        let comparison = Comparison::new(&whole("a"), &whole("b"), &MetricSpec::defaults());
        assert!(!comparison.regressed, "{:?}", comparison.reasons);
        assert_eq!(comparison.points.len(), 2);
        assert!(
            comparison
                .notes
                .iter()
                .any(|note| note.contains("same build"))
        );
        assert_eq!(
            comparison.points[0].metrics[0].wilcoxon.unwrap().p_value,
            1.0
        );
        // +2 % with every pair worse: significant but under 5 %.
        let slower = sweep_of(1.02, None);
        let comparison = Comparison::new(
            &side(&slower, "push-pull"),
            &side(&slower, "pull"),
            &MetricSpec::defaults(),
        );
        assert_eq!(comparison.points[0].metrics[0].verdict, Verdict::Same);
        let strict = vec![MetricSpec {
            threshold_ppm: 10_000,
            ..MetricSpec::named("finality_ms.p50")
        }];
        let comparison =
            Comparison::new(&side(&slower, "push-pull"), &side(&slower, "pull"), &strict);
        assert_eq!(comparison.points[0].metrics[0].verdict, Verdict::Worse);
    }

    #[test]
    fn a_seed_unsafe_only_in_the_candidate_is_a_regression() {
        let sweep = sweep_of(1.0, Some(3));
        let comparison = Comparison::new(
            &side(&sweep, "push-pull"),
            &side(&sweep, "pull"),
            &MetricSpec::defaults(),
        );
        assert!(comparison.regressed);
        assert_eq!(comparison.safety_regressions.len(), 1);
        assert_eq!(comparison.safety_regressions[0].seed, 3);
        assert_eq!(
            comparison.safety_regressions[0].command,
            "celluler run s.toml --seed 3 --set consensus.sync=pull"
        );
        // Unsafe in the base too: not the candidate's regression.
        let comparison = Comparison::new(
            &side(&sweep, "pull"),
            &side(&sweep, "pull"),
            &MetricSpec::defaults(),
        );
        assert!(comparison.safety_regressions.is_empty());
    }
}
