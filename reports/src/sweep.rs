//! Seed sweeps over parameter grids (`celluler sweep`): the result of every
//! run, `sweep.json`, `sweep.csv`, `sweep.md` and one plot per headline
//! metric. Every output is a function of the [`Sweep`] alone — no wall
//! time, no thread count — so a sweep run whole, or in shards merged
//! afterwards, writes the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::plots::{DrawResult, PLOT_SIZE, PlotError, draw_legend, render_both};
use crate::stats::{
    BOOTSTRAP_RESAMPLES, CONFIDENCE_PPM, Interval, bootstrap_median_interval, median,
};
use crate::{ReportError, Summary};

/// `format` of `sweep.json` and of a shard's `shard.json`.
pub const SWEEP_FORMAT: &str = "celluler-sweep/1";

/// The metrics `sweep.md` tabulates and plots (dotted `summary.json` keys),
/// with how a person reads them.
pub const HEADLINE_METRICS: [(&str, &str); 6] = [
    ("finality_ms.p50", "Finality p50 (ms)"),
    ("finality_ms.p99", "Finality p99 (ms)"),
    ("throughput_tps", "Throughput (TX/s)"),
    ("liveness.longest_stall_ms", "Longest stall (ms)"),
    ("fairness.inversion_rate", "Inversion rate"),
    (
        "fairness.timestamp_band_violations",
        "Timestamp band violations",
    ),
];

/// Failing runs `sweep.md` lists (all are in `sweep.csv`).
const FAILURES_LISTED_MAX: usize = 50;

/// The parameter grid: every combination of the keys' values, the first key
/// varying slowest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    pub keys: Vec<String>,
    pub values: Vec<Vec<String>>,
}

impl Grid {
    /// Grid points, in order; each lists `(key, value)` per key.
    pub fn points(&self) -> Vec<Vec<(String, String)>> {
        let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (key, values) in self.keys.iter().zip(&self.values) {
            points = points
                .into_iter()
                .flat_map(|point| {
                    values.iter().map(move |value| {
                        let mut next = point.clone();
                        next.push((key.clone(), value.clone()));
                        next
                    })
                })
                .collect();
        }
        points
    }
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRun {
    /// Index of its grid point in [`Grid::points`].
    pub point: u32,
    pub seed: u64,
    pub trace_hash: String,
    /// What `celluler run` would exit with: 0 every check held, 1 not.
    pub exit_status: u8,
    pub agreement_violated: bool,
    pub state_violated: bool,
    /// `summary.safety.ok`.
    pub safety_ok: bool,
    /// Why it failed: failed checks and violated properties.
    pub failures: Vec<String>,
    /// Every number of the run's `summary.json`, by dotted key (a `null`
    /// there is left out).
    pub numbers: BTreeMap<String, Option<f64>>,
}

impl SweepRun {
    /// The result of one run, from its summary and the world's verdicts.
    pub fn new(
        point: u32,
        seed: u64,
        summary: &Summary,
        agreement_violated: bool,
        state_violated: bool,
        failed_checks: Vec<String>,
    ) -> SweepRun {
        let mut failures = failed_checks;
        if agreement_violated {
            failures.push("agreement violated".to_string());
        }
        if state_violated {
            failures.push("state violated".to_string());
        }
        if !summary.safety.ok && !agreement_violated && !state_violated {
            failures.push("safety violated".to_string());
        }
        let mut numbers = BTreeMap::new();
        let value = serde_json::to_value(summary).expect("a summary serialises");
        flatten_numbers(&value, &mut String::new(), &mut numbers);
        SweepRun {
            point,
            seed,
            trace_hash: summary.trace_hash.clone(),
            exit_status: u8::from(!summary.passed || agreement_violated || state_violated),
            agreement_violated,
            state_violated,
            safety_ok: summary.safety.ok,
            failures,
            numbers,
        }
    }

    /// Whether the run violated a safety property (what `compare` counts).
    pub fn safety_violated(&self) -> bool {
        self.agreement_violated || self.state_violated || !self.safety_ok
    }

    pub fn number(&self, key: &str) -> Option<f64> {
        self.numbers.get(key).copied().flatten()
    }
}

/// Every number under `value`, by dotted key. Arrays are not
/// descended into: their lengths vary and their entries have no stable key.
fn flatten_numbers(
    value: &serde_json::Value,
    prefix: &mut String,
    out: &mut BTreeMap<String, Option<f64>>,
) {
    match value {
        serde_json::Value::Object(map) => {
            // Wall-clock time is the machine's, not the run's: a sweep's
            // outputs must not depend on it.
            for (key, inner) in map.iter().filter(|(key, _)| !key.starts_with("wall")) {
                let length = prefix.len();
                if !prefix.is_empty() {
                    prefix.push('.');
                }
                prefix.push_str(key);
                flatten_numbers(inner, prefix, out);
                prefix.truncate(length);
            }
        }
        serde_json::Value::Number(number) => {
            out.insert(prefix.clone(), number.as_f64());
        }
        // `null` (no value, or an absent block) and text are not numbers.
        _ => {}
    }
}

/// Which part of a grid a shard ran: runs whose index is `index` mod `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether run `run_index` (point-major, then seed) is this shard's.
    pub fn owns(&self, run_index: u64) -> bool {
        run_index % u64::from(self.count) == u64::from(self.index)
    }
}

/// A sweep (or a shard of one): what was run and every run's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    pub format: String,
    pub scenario: String,
    /// The scenario file as given on the command line.
    pub file: String,
    /// blake3 of the scenario file's bytes.
    pub scenario_hash: String,
    /// The binary's version, and blake3 of the binary itself: two builds of
    /// one version differ here.
    pub version: String,
    pub build: String,
    pub seeds: Vec<u64>,
    pub grid: Grid,
    /// `None` for a whole sweep.
    pub shard: Option<Shard>,
    /// In run order: point-major, then seed.
    pub runs: Vec<SweepRun>,
}

/// Why shards cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("no shard given")]
    Empty,
    #[error("{0} is a whole sweep, not a shard")]
    NotAShard(String),
    #[error("{first} and {other} differ in {what}: they are not shards of one sweep")]
    Mixed {
        first: String,
        other: String,
        what: &'static str,
    },
    #[error("shard {index}/{count} is given twice ({first} and {other})")]
    Overlap {
        index: u32,
        count: u32,
        first: String,
        other: String,
    },
    #[error("shard(s) {missing} of {count} missing")]
    Gap { missing: String, count: u32 },
    #[error("{0}: its runs are not the ones its shard owns")]
    WrongRuns(String),
}

impl Sweep {
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a sweep serialises");
        text.push('\n');
        text
    }

    /// Run `run_index` of a sweep with `seeds`: its point and seed.
    pub fn run_at(seeds: &[u64], run_index: u64) -> (u32, u64) {
        let per_point = seeds.len() as u64;
        (
            (run_index / per_point) as u32,
            seeds[(run_index % per_point) as usize],
        )
    }

    /// Joins shards (each labelled for messages) into the whole sweep: the
    /// same scenario, build, seeds and grid, shard indices `0..count` each
    /// once, and every run of the grid exactly once.
    pub fn merge(shards: Vec<(String, Sweep)>) -> Result<Sweep, MergeError> {
        let Some((first_label, first)) = shards.first() else {
            return Err(MergeError::Empty);
        };
        let Some(first_shard) = first.shard else {
            return Err(MergeError::NotAShard(first_label.clone()));
        };
        let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
        for (label, shard) in &shards {
            let mixed = |what| MergeError::Mixed {
                first: first_label.clone(),
                other: label.clone(),
                what,
            };
            let Some(this) = shard.shard else {
                return Err(MergeError::NotAShard(label.clone()));
            };
            if shard.format != first.format {
                return Err(mixed("format"));
            }
            if shard.scenario_hash != first.scenario_hash || shard.scenario != first.scenario {
                return Err(mixed("scenario"));
            }
            if shard.version != first.version || shard.build != first.build {
                return Err(mixed("build"));
            }
            if shard.seeds != first.seeds {
                return Err(mixed("seeds"));
            }
            if shard.grid != first.grid {
                return Err(mixed("grid"));
            }
            if this.count != first_shard.count {
                return Err(mixed("shard count"));
            }
            if let Some(other) = by_index.insert(this.index, label) {
                return Err(MergeError::Overlap {
                    index: this.index,
                    count: this.count,
                    first: other.to_string(),
                    other: label.clone(),
                });
            }
            let points = first.grid.points().len() as u64;
            let owned: Vec<(u32, u64)> = (0..points * first.seeds.len() as u64)
                .filter(|&run| this.owns(run))
                .map(|run| Sweep::run_at(&first.seeds, run))
                .collect();
            let ran: Vec<(u32, u64)> = shard.runs.iter().map(|run| (run.point, run.seed)).collect();
            if owned != ran {
                return Err(MergeError::WrongRuns(label.clone()));
            }
        }
        let missing: Vec<String> = (0..first_shard.count)
            .filter(|index| !by_index.contains_key(index))
            .map(|index| index.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(MergeError::Gap {
                missing: missing.join(", "),
                count: first_shard.count,
            });
        }
        let seed_place: BTreeMap<u64, usize> = first
            .seeds
            .iter()
            .enumerate()
            .map(|(place, &seed)| (seed, place))
            .collect();
        let mut runs: Vec<SweepRun> = shards
            .iter()
            .flat_map(|(_, shard)| shard.runs.iter().cloned())
            .collect();
        runs.sort_by_key(|run| (run.point, seed_place[&run.seed]));
        Ok(Sweep {
            shard: None,
            runs,
            ..first.clone()
        })
    }

    /// The command that replays `run`.
    pub fn replay_command(&self, run: &SweepRun) -> String {
        let mut command = format!("celluler run {} --seed {}", self.file, run.seed);
        if let Some(point) = self.grid.points().get(run.point as usize) {
            for (key, value) in point {
                command.push_str(&format!(" --set {key}={value}"));
            }
        }
        command
    }
}

/// One metric at one grid point over its seeds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PointMetric {
    /// Seeds with a value.
    pub runs: u64,
    pub median: Option<f64>,
    /// Seeded bootstrap interval of the median ([`CONFIDENCE_PPM`]).
    pub interval: Option<Interval>,
}

/// The bootstrap seed of a metric at a point: fixed by the two, so the
/// interval is the same in every output of the same sweep.
fn bootstrap_seed(point: u32, metric: &str) -> u64 {
    // FNV-1a: stable everywhere, unlike std's hashers.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in metric.bytes().chain(point.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// `metric` at grid point `point` over the runs of `sweep`.
pub fn point_metric(sweep: &Sweep, point: u32, metric: &str) -> PointMetric {
    let values: Vec<f64> = sweep
        .runs
        .iter()
        .filter(|run| run.point == point)
        .filter_map(|run| run.number(metric))
        .collect();
    PointMetric {
        runs: values.len() as u64,
        median: median(&values),
        interval: bootstrap_median_interval(
            &values,
            bootstrap_seed(point, metric),
            BOOTSTRAP_RESAMPLES,
            CONFIDENCE_PPM,
        ),
    }
}

/// Writes `sweep.json`, `sweep.csv`, `sweep.md` and the plots into `dir`.
pub fn write_sweep_outputs(sweep: &Sweep, dir: &Path) -> Result<(), ReportError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let json_path = dir.join("sweep.json");
    fs::write(&json_path, sweep.to_json()).map_err(io_error(&json_path))?;
    let csv_path = dir.join("sweep.csv");
    let file = fs::File::create(&csv_path).map_err(io_error(&csv_path))?;
    write_sweep_csv(sweep, std::io::BufWriter::new(file)).map_err(|source| ReportError::Csv {
        path: csv_path.clone(),
        source,
    })?;
    let plots = write_sweep_plots(sweep, dir)?;
    let markdown_path = dir.join("sweep.md");
    fs::write(&markdown_path, render_sweep_markdown(sweep, &plots))
        .map_err(io_error(&markdown_path))?;
    Ok(())
}

/// One row per run: its grid point and values, seed, trace hash, exit
/// status, then every number of its summary (the union of keys over runs,
/// sorted; empty where a run has none or `null`).
pub fn write_sweep_csv<W: std::io::Write>(sweep: &Sweep, writer: W) -> Result<(), csv::Error> {
    let mut csv = csv::Writer::from_writer(writer);
    let metrics: BTreeSet<&str> = sweep
        .runs
        .iter()
        .flat_map(|run| run.numbers.keys().map(String::as_str))
        .collect();
    let mut header: Vec<String> = vec!["point".to_string()];
    header.extend(sweep.grid.keys.iter().cloned());
    header.extend(["seed", "trace_hash", "exit_status"].map(String::from));
    header.extend(metrics.iter().map(|metric| metric.to_string()));
    csv.write_record(&header)?;
    let points = sweep.grid.points();
    for run in &sweep.runs {
        let mut row: Vec<String> = vec![run.point.to_string()];
        if let Some(point) = points.get(run.point as usize) {
            row.extend(point.iter().map(|(_, value)| value.clone()));
        }
        row.push(run.seed.to_string());
        row.push(run.trace_hash.clone());
        row.push(run.exit_status.to_string());
        row.extend(
            metrics
                .iter()
                .map(|metric| run.number(metric).map_or(String::new(), |v| v.to_string())),
        );
        csv.write_record(&row)?;
    }
    csv.flush()?;
    Ok(())
}

/// A number as the reports print it: fewer decimals the larger it is.
pub(crate) fn format_value(value: Option<f64>) -> String {
    match value {
        None => "n/a".to_string(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.3}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn format_point_metric(metric: &PointMetric) -> String {
    format_with_interval(metric.median, metric.interval)
}

/// A `## Plots` section listing `(stem, title)` plots (SVG shown, PNG
/// linked); nothing without plots.
pub(crate) fn plots_section(out: &mut String, plots: &[(String, String)]) {
    if plots.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Plots\n");
    for (stem, title) in plots {
        let _ = writeln!(
            out,
            "### {title}\n\n![{title}]({stem}.svg)\n[PNG]({stem}.png)\n"
        );
    }
}

/// `value [low, high]`, or n/a without both.
pub(crate) fn format_with_interval(value: Option<f64>, interval: Option<Interval>) -> String {
    match (value, interval) {
        (Some(value), Some(interval)) => format!(
            "{} [{}, {}]",
            format_value(Some(value)),
            format_value(Some(interval.low)),
            format_value(Some(interval.high))
        ),
        _ => "n/a".to_string(),
    }
}

/// `sweep.md`.
pub fn render_sweep_markdown(sweep: &Sweep, plots: &[(String, String)]) -> String {
    let mut out = String::new();
    let points = sweep.grid.points();
    let _ = writeln!(out, "# Sweep: {}\n", sweep.scenario);
    let _ = writeln!(
        out,
        "Scenario file `{}` (blake3 `{}`), celluler {} (build `{}`). {} seed(s) ({}), {} grid \
         point(s), {} run(s); each run is deterministic, and these outputs are the same \
         whatever `--threads` and however the sweep was sharded.\n",
        sweep.file,
        short(&sweep.scenario_hash),
        sweep.version,
        short(&sweep.build),
        sweep.seeds.len(),
        seed_range(&sweep.seeds),
        points.len(),
        sweep.runs.len()
    );
    if sweep.grid.keys.is_empty() {
        let _ = writeln!(
            out,
            "No `--set`: one grid point, the scenario as written.\n"
        );
    } else {
        let _ = writeln!(out, "| Key | Values |\n|---|---|");
        for (key, values) in sweep.grid.keys.iter().zip(&sweep.grid.values) {
            let _ = writeln!(out, "| `{key}` | {} |", values.join(", "));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "## Metrics per grid point\n");
    let _ = writeln!(
        out,
        "Median over the point's seeds and, in brackets, a seeded bootstrap {} % interval of \
         the median ({} resamples); runs without a value are left out.\n",
        CONFIDENCE_PPM / 10_000,
        BOOTSTRAP_RESAMPLES
    );
    let mut header = String::from("| Point |");
    let mut rule = String::from("|---|");
    for key in &sweep.grid.keys {
        header.push_str(&format!(" `{key}` |"));
        rule.push_str("---|");
    }
    header.push_str(" Runs | Failed |");
    rule.push_str("---|---|");
    for (_, label) in HEADLINE_METRICS {
        header.push_str(&format!(" {label} |"));
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    for (index, point) in points.iter().enumerate() {
        let index = index as u32;
        let runs: Vec<&SweepRun> = sweep.runs.iter().filter(|run| run.point == index).collect();
        let failed = runs.iter().filter(|run| run.exit_status != 0).count();
        let mut row = format!("| {index} |");
        for (_, value) in point {
            row.push_str(&format!(" {value} |"));
        }
        row.push_str(&format!(" {} | {failed} |", runs.len()));
        for (metric, _) in HEADLINE_METRICS {
            row.push_str(&format!(
                " {} |",
                format_point_metric(&point_metric(sweep, index, metric))
            ));
        }
        let _ = writeln!(out, "{row}");
    }
    let _ = writeln!(out);
    plots_section(&mut out, plots);
    let failing: Vec<&SweepRun> = sweep
        .runs
        .iter()
        .filter(|run| run.exit_status != 0)
        .collect();
    let _ = writeln!(out, "## Failing runs\n");
    if failing.is_empty() {
        let _ = writeln!(out, "None: every run passed its checks and kept safety.\n");
    } else {
        let _ = writeln!(
            out,
            "{} run(s) failed a check or a safety property; each replays with the command \
             shown{}.\n",
            failing.len(),
            if failing.len() > FAILURES_LISTED_MAX {
                format!(" (the first {FAILURES_LISTED_MAX}; all are in sweep.csv)")
            } else {
                String::new()
            }
        );
        for run in failing.iter().take(FAILURES_LISTED_MAX) {
            let _ = writeln!(
                out,
                "- point {}, seed {}: {} — `{}`",
                run.point,
                run.seed,
                run.failures.join("; "),
                sweep.replay_command(run)
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "## Data\n\n- [sweep.csv](sweep.csv): one row per run, every number of its summary.json\n\
         - [sweep.json](sweep.json): the same, with the grid, seeds, scenario hash and build \
         (what `celluler compare` reads)"
    );
    out
}

/// The first 16 hex digits of a hash.
pub(crate) fn short(hash: &str) -> &str {
    &hash[..hash.len().min(16)]
}

fn seed_range(seeds: &[u64]) -> String {
    match (seeds.first(), seeds.last()) {
        (Some(first), Some(last)) if (last - first) as usize + 1 == seeds.len() => {
            format!("{first}..{}", last + 1)
        }
        _ => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

const SERIES_COLORS: [RGBColor; 6] = [
    RGBColor(38, 139, 210),
    RGBColor(211, 54, 130),
    RGBColor(133, 153, 0),
    RGBColor(203, 75, 22),
    RGBColor(108, 113, 196),
    RGBColor(42, 161, 152),
];

/// One line of a metric-against-parameter plot: the other keys' values, and
/// per value of the first key (x position), the median and interval.
type Series = (String, Vec<(f64, f64, Interval)>);

/// Per headline metric, the median and interval against the first key's
/// values (numbers on a numeric axis, else evenly spaced), one line per
/// combination of the other keys. Returns `(stem, title)` per plot written;
/// none without a key.
fn write_sweep_plots(sweep: &Sweep, dir: &Path) -> Result<Vec<(String, String)>, PlotError> {
    let Some(first_values) = sweep.grid.values.first() else {
        return Ok(Vec::new());
    };
    let numeric: Option<Vec<f64>> = first_values.iter().map(|v| v.parse::<f64>().ok()).collect();
    let positions: Vec<f64> = numeric
        .clone()
        .unwrap_or_else(|| (0..first_values.len()).map(|i| i as f64).collect());
    let points = sweep.grid.points();
    let per_first = points.len() / first_values.len();
    let mut written = Vec::new();
    for (metric, label) in HEADLINE_METRICS {
        let mut series: Vec<Series> = Vec::new();
        for (rest, first_point) in points.iter().take(per_first).enumerate() {
            let name = first_point[1..]
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect::<Vec<_>>()
                .join(", ");
            let mut line = Vec::new();
            for (place, &x) in positions.iter().enumerate() {
                let point = (place * per_first + rest) as u32;
                let measured = point_metric(sweep, point, metric);
                if let (Some(median), Some(interval)) = (measured.median, measured.interval) {
                    line.push((x, median, interval));
                }
            }
            if !line.is_empty() {
                series.push((name, line));
            }
        }
        if series.is_empty() {
            continue;
        }
        let stem = format!("sweep_{}", metric.replace('.', "_"));
        let title = format!(
            "{label} against {} (median, bootstrap interval)",
            sweep.grid.keys[0]
        );
        let categories = numeric.is_none().then_some(first_values.as_slice());
        let _ = render_both!(
            dir,
            &stem,
            draw_metric,
            &title,
            &sweep.grid.keys[0],
            label,
            &series,
            categories
        );
        written.push((stem, title));
    }
    Ok(written)
}

fn draw_metric<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    categories: Option<&[String]>,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let xs = series.iter().flat_map(|(_, line)| line.iter().map(|p| p.0));
    let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let ys = series
        .iter()
        .flat_map(|(_, line)| line.iter().flat_map(|p| [p.1, p.2.low, p.2.high]));
    let (y_min, y_max) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let x_pad = if x_max > x_min {
        (x_max - x_min) * 0.08
    } else {
        x_max.abs().max(1.0) * 0.5
    };
    let y_pad = ((y_max - y_min) * 0.1).max(y_max.abs() * 0.05).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x_min - x_pad)..(x_max + x_pad),
            (y_min - y_pad).min(0.0f64.max(y_min - y_pad))..(y_max + y_pad),
        )
        .map_err(|e| e.to_string())?;
    let label_of = |x: &f64| match categories {
        Some(names) => {
            let place = x.round();
            if (x - place).abs() < 1e-9 && place >= 0.0 {
                names.get(place as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        }
        // Ticks land between grid values: six significant digits at most.
        None => format!("{}", (x * 1e6).round() / 1e6),
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&label_of)
        .draw()
        .map_err(|e| e.to_string())?;
    for (index, (name, line)) in series.iter().enumerate() {
        let color = SERIES_COLORS[index % SERIES_COLORS.len()];
        let mut outline: Vec<(f64, f64)> = line.iter().map(|&(x, _, i)| (x, i.high)).collect();
        outline.extend(line.iter().rev().map(|&(x, _, i)| (x, i.low)));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.15).filled(),
            )))
            .map_err(|e| e.to_string())?;
        let legend = if name.is_empty() {
            "median".to_string()
        } else {
            name.clone()
        };
        chart
            .draw_series(LineSeries::new(
                line.iter().map(|&(x, median, _)| (x, median)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(legend)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(
                line.iter()
                    .map(|&(x, median, _)| Circle::new((x, median), 3, color.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A run with `numbers`, and its safety kept or not (tests of sweeps and
/// comparisons).
#[cfg(test)]
pub(crate) fn test_run(point: u32, seed: u64, numbers: &[(&str, f64)], safe: bool) -> SweepRun {
    SweepRun {
        point,
        seed,
        trace_hash: String::new(),
        exit_status: u8::from(!safe),
        agreement_violated: !safe,
        state_violated: false,
        safety_ok: safe,
        failures: if safe {
            vec![]
        } else {
            vec!["agreement violated".into()]
        },
        numbers: numbers
            .iter()
            .map(|&(key, value)| (key.to_string(), Some(value)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(point: u32, seed: u64, p50: f64, failed: bool) -> SweepRun {
        let mut run = test_run(point, seed, &[("finality_ms.p50", p50)], !failed);
        run.trace_hash = format!("{point}-{seed}");
        run
    }

    fn sweep(shard: Option<Shard>, runs: Vec<SweepRun>) -> Sweep {
        Sweep {
            format: SWEEP_FORMAT.to_string(),
            scenario: "s".into(),
            file: "s.toml".into(),
            scenario_hash: "ab".repeat(32),
            version: "0.1.0".into(),
            build: "cd".repeat(32),
            seeds: vec![5, 6, 7],
            grid: Grid {
                keys: vec!["network.loss".into(), "consensus.sync".into()],
                values: vec![
                    vec!["0".into(), "0.1".into()],
                    vec!["push-pull".into(), "pull".into()],
                ],
            },
            shard,
            runs,
        }
    }

    fn whole() -> Sweep {
        let mut runs = Vec::new();
        for point in 0..4u32 {
            for seed in [5, 6, 7] {
                runs.push(run(
                    point,
                    seed,
                    100.0 * f64::from(point + 1) + seed as f64,
                    point == 3 && seed == 6,
                ));
            }
        }
        sweep(None, runs)
    }

    #[test]
    fn grid_points_vary_the_first_key_slowest() {
        let points = whole().grid.points();
        assert_eq!(points.len(), 4);
        assert_eq!(
            points[1],
            vec![
                ("network.loss".into(), "0".into()),
                ("consensus.sync".into(), "pull".into())
            ]
        );
        assert_eq!(points[2][0].1, "0.1");
        assert_eq!(
            Grid {
                keys: vec![],
                values: vec![]
            }
            .points(),
            vec![Vec::new()]
        );
    }

    #[test]
    fn shards_merge_back_into_the_whole_sweep_and_refuse_gaps_overlaps_and_mixtures() {
        let whole = whole();
        let shard_of = |index| {
            let shard = Shard { index, count: 3 };
            let runs = whole
                .runs
                .iter()
                .enumerate()
                .filter(|(at, _)| shard.owns(*at as u64))
                .map(|(_, run)| run.clone())
                .collect();
            (format!("shard-{index}"), sweep(Some(shard), runs))
        };
        // In any order.
        let merged = Sweep::merge(vec![shard_of(2), shard_of(0), shard_of(1)]).unwrap();
        assert_eq!(merged, whole);
        assert_eq!(merged.to_json(), whole.to_json());
        assert!(matches!(
            Sweep::merge(vec![shard_of(0), shard_of(2)]),
            Err(MergeError::Gap { .. })
        ));
        assert!(matches!(
            Sweep::merge(vec![shard_of(0), shard_of(1), shard_of(1), shard_of(2)]),
            Err(MergeError::Overlap { index: 1, .. })
        ));
        let (label, mut other) = shard_of(1);
        other.scenario_hash = "ff".repeat(32);
        assert!(matches!(
            Sweep::merge(vec![shard_of(0), (label, other), shard_of(2)]),
            Err(MergeError::Mixed {
                what: "scenario",
                ..
            })
        ));
        let (label, mut short) = shard_of(1);
        short.runs.pop();
        assert!(matches!(
            Sweep::merge(vec![shard_of(0), (label, short), shard_of(2)]),
            Err(MergeError::WrongRuns(_))
        ));
        assert!(matches!(
            Sweep::merge(vec![("whole".into(), whole.clone())]),
            Err(MergeError::NotAShard(_))
        ));
    }

    #[test]
    fn csv_has_one_row_per_run_and_markdown_lists_failures_with_their_replay() {
        let whole = whole();
        let mut bytes = Vec::new();
        write_sweep_csv(&whole, &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "point,network.loss,consensus.sync,seed,trace_hash,exit_status,finality_ms.p50"
        );
        assert_eq!(lines.len(), 13);
        assert_eq!(lines[11], "3,0.1,pull,6,3-6,1,406");
        let markdown = render_sweep_markdown(&whole, &[]);
        assert!(
            markdown.contains(
                "- point 3, seed 6: agreement violated — `celluler run s.toml --seed 6 --set network.loss=0.1 --set consensus.sync=pull`"
            ),
            "{markdown}"
        );
        // Point 0's finality p50: 105, 106, 107: median 106.
        let p50 = point_metric(&whole, 0, "finality_ms.p50");
        assert_eq!((p50.runs, p50.median), (3, Some(106.0)));
        let interval = p50.interval.unwrap();
        assert!(
            interval.low >= 105.0 && interval.high <= 107.0,
            "{interval:?}"
        );
        assert_eq!(point_metric(&whole, 0, "fairness.kendall_tau").median, None);
        assert_eq!(point_metric(&whole, 0, "fairness.kendall_tau").runs, 0);
    }

    #[test]
    fn summaries_flatten_to_dotted_numbers() {
        let value = serde_json::json!({
            "a": 1, "b": { "c": 2.5, "d": null, "e": [1, 2], "f": "text" }, "g": true,
            "wall_ms": 12
        });
        let mut numbers = BTreeMap::new();
        flatten_numbers(&value, &mut String::new(), &mut numbers);
        assert_eq!(
            numbers,
            BTreeMap::from([("a".to_string(), Some(1.0)), ("b.c".to_string(), Some(2.5)),])
        );
    }
}
