//! The attack report's plots, as SVG and PNG: finality CDFs side by side
//! (attacked, baseline; pooled over seeds), throughput over time (median and
//! interquartile band over seeds, both arms) and fork detection over time.
//! Plots over virtual time shade the behaviours' windows.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{ArmRun, AttackCampaign, ScriptBlock, throughput_bands};
use crate::plots::{
    DrawResult, PLOT_SIZE, PlotError, WindowStyle, cdf_points, draw_legend, render_both, seconds,
};
use crate::record::TimeNs;
use crate::summary::ns_to_ms;

/// The plot files' stems, in the order the report lists them.
pub const ATTACK_PLOT_STEMS: [&str; 3] = ["finality_cdf", "throughput", "fork_detection"];

const ATTACKED_COLOR: RGBColor = RGBColor(220, 50, 47);
const BASELINE_COLOR: RGBColor = RGBColor(38, 139, 210);
const WINDOW_SHADE: RGBAColor = RGBAColor(181, 137, 0, 0.12);

/// Writes every plot into `dir` as `<stem>.svg` and `<stem>.png`.
pub fn write_attack_plots(campaign: &AttackCampaign, dir: &Path) -> Result<(), PlotError> {
    let attacked: Vec<&ArmRun> = campaign.runs.iter().map(|runs| &runs.attacked).collect();
    let baseline: Vec<&ArmRun> = campaign.runs.iter().map(|runs| &runs.baseline).collect();
    let pooled_attacked = pooled_sorted(&attacked);
    let pooled_baseline = pooled_sorted(&baseline);
    let _ = render_both!(
        dir,
        ATTACK_PLOT_STEMS[0],
        draw_finality_cdfs,
        &pooled_attacked,
        &pooled_baseline,
        campaign.runs.len()
    );
    let _ = render_both!(
        dir,
        ATTACK_PLOT_STEMS[1],
        draw_throughput,
        campaign,
        &attacked,
        &baseline
    );
    let _ = render_both!(dir, ATTACK_PLOT_STEMS[2], draw_fork_detection, campaign);
    Ok(())
}

fn pooled_sorted(runs: &[&ArmRun]) -> Vec<TimeNs> {
    let mut pooled: Vec<TimeNs> = runs
        .iter()
        .flat_map(|run| run.finality_all_ns.iter().copied())
        .collect();
    pooled.sort_unstable();
    pooled
}

fn draw_finality_cdfs<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    attacked: &[TimeNs],
    baseline: &[TimeNs],
    seeds: usize,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max_ms = attacked
        .last()
        .into_iter()
        .chain(baseline.last())
        .map(|&ns| ns_to_ms(ns))
        .fold(1.0f64, f64::max)
        * 1.05;
    let (left, right) = root.split_horizontally(PLOT_SIZE.0 / 2);
    for (area, title, sample, color) in [
        (&left, "attacked", attacked, ATTACKED_COLOR),
        (&right, "baseline", baseline, BASELINE_COLOR),
    ] {
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("Finality CDF, {title} ({seeds} seeds pooled)"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..max_ms, 0.0..1.0)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("latency since submission (ms)")
            .y_desc("fraction of transactions")
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(cdf_points(sample), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("L_all, n = {}", sample.len()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

type TimeChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

const BEHAVIOUR_WINDOWS: WindowStyle = WindowStyle {
    shade: WINDOW_SHADE,
    text: RGBColor(120, 90, 0),
    legend: "behaviour window",
};

/// Shades each behaviour's window over the chart's height, named at its top.
fn shade_windows<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    script: &[ScriptBlock],
    duration_ns: TimeNs,
    y_max: f64,
) -> DrawResult {
    crate::plots::shade_windows(
        chart,
        script.iter().map(|block| {
            (
                block.from_ns,
                block.until_ns.unwrap_or(duration_ns),
                block.behaviour.as_str(),
            )
        }),
        &BEHAVIOUR_WINDOWS,
        y_max,
    )
}

fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    campaign: &AttackCampaign,
    attacked: &[&ArmRun],
    baseline: &[&ArmRun],
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let duration_ns = campaign.virtual_duration_ns;
    let duration_s = seconds(duration_ns).max(1.0);
    let attacked_bands = throughput_bands(attacked, duration_ns);
    let baseline_bands = throughput_bands(baseline, duration_ns);
    let y_max = attacked_bands
        .iter()
        .chain(&baseline_bands)
        .map(|&(_, _, _, q3)| q3)
        .fold(0.0f64, f64::max)
        * 1.15
        + 1.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Throughput over virtual time (median and IQR over seeds)",
            ("sans-serif", 24),
        )
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_s, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("TXs finalized by all live honest cells per second")
        .draw()
        .map_err(|e| e.to_string())?;
    shade_windows(&mut chart, &campaign.script, duration_ns, y_max)?;
    for (label, bands, color) in [
        ("attacked", &attacked_bands, ATTACKED_COLOR),
        ("baseline", &baseline_bands, BASELINE_COLOR),
    ] {
        if bands.is_empty() {
            continue;
        }
        // The interquartile band: q3 left to right, then q1 back.
        let mut outline: Vec<(f64, f64)> = bands
            .iter()
            .map(|&(second, _, _, q3)| (second as f64 + 0.5, q3))
            .collect();
        outline.extend(
            bands
                .iter()
                .rev()
                .map(|&(second, q1, _, _)| (second as f64 + 0.5, q1)),
        );
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.15).filled(),
            )))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                bands
                    .iter()
                    .map(|&(second, _, median, _)| (second as f64 + 0.5, median)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("{label}, median (band: IQR)"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_fork_detection<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    campaign: &AttackCampaign,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let duration_ns = campaign.virtual_duration_ns;
    let duration_s = seconds(duration_ns).max(1.0);
    let honest = (campaign.cells as usize - campaign.byzantine_cells.len()).max(1) as f64;
    let y_max = honest * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Honest cells holding a fork proof (attacked; one line per seed and forker)",
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_s, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("honest cells holding a proof")
        .draw()
        .map_err(|e| e.to_string())?;
    shade_windows(&mut chart, &campaign.script, duration_ns, y_max)?;
    let mut any = false;
    for runs in &campaign.runs {
        for fork in &runs.attacked.attack.forks {
            let mut times_ms: Vec<f64> = fork.detected_ms.values().copied().collect();
            times_ms.sort_by(f64::total_cmp);
            let mut points = vec![(0.0, 0.0)];
            for (index, &ms) in times_ms.iter().enumerate() {
                points.push((ms / 1e3, index as f64));
                points.push((ms / 1e3, (index + 1) as f64));
            }
            points.push((duration_s, times_ms.len() as f64));
            chart
                .draw_series(LineSeries::new(
                    points,
                    ATTACKED_COLOR.mix(0.6).stroke_width(1),
                ))
                .map_err(|e| e.to_string())?;
            any = true;
        }
    }
    chart
        .draw_series(LineSeries::new(
            [(0.0, honest), (duration_s, honest)],
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label("all honest cells")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.mix(0.5).stroke_width(1)));
    if !any {
        chart
            .draw_series(std::iter::once(Text::new(
                "no honest cell found a fork proof on any seed",
                (duration_s * 0.25, honest * 0.5),
                ("sans-serif", 20).into_font(),
            )))
            .map_err(|e| e.to_string())?;
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}
