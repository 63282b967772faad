//! `celluler compare BASE CANDIDATE [--metric M]... [--threshold M=+5%]...
//! [--out DIR]`: two sweeps of one grid, compared per grid point and metric
//! over shared seeds (`celluler_reports::compare`). BASE and CANDIDATE are
//! sweep output directories, each optionally narrowed to one value of a
//! knob (`DIR@consensus.sync=pull`) so that one sweep can be split in two.
//! Exit 1 when the candidate regressed, 2 on bad input.

use std::path::{Path, PathBuf};

use celluler_reports::compare::{Comparison, MetricSpec, Side, write_compare_outputs};
use celluler_reports::sweep::{SWEEP_FORMAT, Sweep};

use super::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// The base sweep: its output directory, optionally `DIR@KEY=VALUE` to
    /// take only the grid points where KEY is VALUE.
    base: String,
    /// The candidate sweep, as BASE.
    candidate: String,
    /// A metric to judge, by its dotted summary.json key (default: the
    /// sweep's headline metrics); `M:higher` or `M:lower` says which way is
    /// better when the name does not. Repeatable.
    #[arg(long = "metric", value_name = "M")]
    metrics: Vec<String>,
    /// How far metric M may move the wrong way, relative to the base median,
    /// before it counts (default 5 %): `--threshold finality_ms.p99=+10%`.
    /// Repeatable.
    #[arg(long = "threshold", value_name = "M=+P%", value_parser = parse_threshold)]
    thresholds: Vec<(String, u64)>,
    /// Where compare.md, compare.json and the plots go (default `compare/`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

fn parse_threshold(text: &str) -> Result<(String, u64), String> {
    let (metric, amount) = text.split_once('=').ok_or_else(|| {
        format!("--threshold {text}: expected M=+P%, for example throughput_tps=+5%")
    })?;
    let percent = amount
        .trim()
        .trim_start_matches('+')
        .strip_suffix('%')
        .ok_or_else(|| format!("--threshold {text}: the amount is a percentage, as +5%"))?;
    let value: f64 = percent
        .parse()
        .map_err(|_| format!("--threshold {text}: {percent:?} is not a number"))?;
    if !(0.0..=1_000_000.0).contains(&value) {
        return Err(format!("--threshold {text}: from 0% to 1000000%"));
    }
    // Whole ppm: the threshold decides, so it is an integer.
    Ok((metric.trim().to_string(), (value * 1e4).round() as u64))
}

/// A side as given (`DIR` or `DIR@KEY=VALUE`), the sweep in DIR, and the
/// selecting `KEY=VALUE`.
type LoadedSide = (String, Sweep, Option<(String, String)>);

fn load_side(argument: &str) -> Result<LoadedSide, Outcome> {
    let (dir, select) = match argument.split_once('@') {
        Some((dir, select)) => {
            let (key, value) = select.split_once('=').ok_or_else(|| {
                Outcome::BadInput(format!(
                    "{argument}: after @ comes KEY=VALUE, for example consensus.sync=pull"
                ))
            })?;
            (dir, Some((key.to_string(), value.to_string())))
        }
        None => (argument, None),
    };
    let path = Path::new(dir).join("sweep.json");
    let label = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|error| Outcome::BadInput(format!("{label}: cannot read: {error}")))?;
    let sweep: Sweep = serde_json::from_str(&text)
        .map_err(|error| Outcome::BadInput(format!("{label}: not a sweep: {error}")))?;
    if sweep.format != SWEEP_FORMAT {
        return Err(Outcome::BadInput(format!(
            "{label}: format {:?}, this build reads {SWEEP_FORMAT:?}",
            sweep.format
        )));
    }
    if let Some((key, value)) = &select {
        let Some(place) = sweep.grid.keys.iter().position(|k| k == key) else {
            return Err(Outcome::BadInput(format!(
                "{argument}: the sweep has no key {key}; its keys: {}",
                if sweep.grid.keys.is_empty() {
                    "none".to_string()
                } else {
                    sweep.grid.keys.join(", ")
                }
            )));
        };
        if !sweep.grid.values[place].contains(value) {
            return Err(Outcome::BadInput(format!(
                "{argument}: {key} has no value {value}; its values: {}",
                sweep.grid.values[place].join(", ")
            )));
        }
    }
    Ok((argument.to_string(), sweep, select))
}

pub fn run(args: Args) -> Outcome {
    let (base_label, base_sweep, base_select) = match load_side(&args.base) {
        Ok(side) => side,
        Err(outcome) => return outcome,
    };
    let (candidate_label, candidate_sweep, candidate_select) = match load_side(&args.candidate) {
        Ok(side) => side,
        Err(outcome) => return outcome,
    };
    if base_select.as_ref().map(|(k, _)| k) != candidate_select.as_ref().map(|(k, _)| k) {
        return Outcome::BadInput(
            "split one knob on both sides (DIR@KEY=A and DIR@KEY=B), or on neither".to_string(),
        );
    }
    let mut metrics: Vec<MetricSpec> = if args.metrics.is_empty() {
        MetricSpec::defaults()
    } else {
        let mut metrics = Vec::new();
        for metric in &args.metrics {
            let spec = match metric.rsplit_once(':') {
                Some((name, "higher")) => MetricSpec {
                    higher_is_better: true,
                    ..MetricSpec::named(name)
                },
                Some((name, "lower")) => MetricSpec {
                    higher_is_better: false,
                    ..MetricSpec::named(name)
                },
                Some((_, other)) => {
                    return Outcome::BadInput(format!(
                        "--metric {metric}: after : comes higher or lower, not {other:?}"
                    ));
                }
                None => MetricSpec::named(metric),
            };
            metrics.push(spec);
        }
        metrics
    };
    // A metric no run of either sweep has is a typo, not a metric.
    for spec in &metrics {
        let known = [&base_sweep, &candidate_sweep].iter().any(|sweep| {
            sweep
                .runs
                .iter()
                .any(|run| run.numbers.contains_key(&spec.name))
        });
        if !known {
            return Outcome::BadInput(format!(
                "--metric {}: no run has it (dotted summary.json keys, as the columns of \
                 sweep.csv)",
                spec.name
            ));
        }
    }
    for (metric, ppm) in &args.thresholds {
        let Some(spec) = metrics.iter_mut().find(|spec| &spec.name == metric) else {
            return Outcome::BadInput(format!(
                "--threshold {metric}: not among the metrics judged ({})",
                metrics
                    .iter()
                    .map(|spec| spec.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        spec.threshold_ppm = *ppm;
    }
    let base = Side {
        label: base_label,
        sweep: &base_sweep,
        select: base_select,
    };
    let candidate = Side {
        label: candidate_label,
        sweep: &candidate_sweep,
        select: candidate_select,
    };
    let comparison = Comparison::new(&base, &candidate, &metrics);
    if comparison.points.is_empty() {
        return Outcome::BadInput(format!(
            "the two sweeps share no grid point: {}",
            comparison.unmatched_points.join("; ")
        ));
    }
    let out = args.out.unwrap_or_else(|| PathBuf::from("compare"));
    if let Err(error) = write_compare_outputs(&comparison, &base, &candidate, &out) {
        return Outcome::BadInput(format!("writing {}: {error}", out.display()));
    }
    println!(
        "{} against {}: {} grid point(s), {} metric(s)",
        candidate.label,
        base.label,
        comparison.points.len(),
        metrics.len()
    );
    for note in &comparison.notes {
        println!("  note: {note}");
    }
    for reason in &comparison.reasons {
        println!("  {reason}");
    }
    println!("  report: {}", out.join("compare.md").display());
    if comparison.regressed {
        Outcome::CheckFailed(format!(
            "the candidate regressed ({} finding(s); compare.md lists them)",
            comparison.reasons.len()
        ))
    } else {
        println!("  no regression");
        Outcome::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_whole_ppm_percentages() {
        assert_eq!(parse_threshold("a=+5%"), Ok(("a".to_string(), 50_000)));
        assert_eq!(parse_threshold("b.c=0.5%"), Ok(("b.c".to_string(), 5_000)));
        for bad in ["a", "a=5", "a=-5%", "a=x%"] {
            assert!(parse_threshold(bad).is_err(), "{bad}");
        }
    }
}
