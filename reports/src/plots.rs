//! Plots, each written as SVG and PNG with plotters: the finality latency
//! CDF, throughput over time, rounds decided over time, and per-cell
//! finality box plots. Plots over virtual time shade the fault windows.
//! A run with markets adds the plots of [`crate::market::plots`].

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::Metrics;
use crate::record::{CellIndex, FaultWindow, NS_PER_S, RunRecord, TimeNs};
use crate::summary::ns_to_ms;

/// Pixel size of every plot.
pub const PLOT_SIZE: (u32, u32) = (960, 540);

/// At most this many cells get a box in the per-cell plot; above it, cells
/// are picked at even index steps so the plot stays readable.
pub const BOX_PLOT_CELLS_MAX: usize = 40;

/// The plot files' stems, in the order the report lists them.
pub const PLOT_STEMS: [&str; 4] = [
    "finality_cdf",
    "throughput",
    "rounds_decided",
    "finality_per_cell",
];

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("plot {path}: {message}")]
pub struct PlotError {
    pub path: PathBuf,
    pub message: String,
}

const FAULT_SHADE: RGBAColor = RGBAColor(220, 50, 47, 0.15);
const ALL_COLOR: RGBColor = RGBColor(38, 139, 210);
const FIRST_COLOR: RGBColor = RGBColor(211, 54, 130);
const SUBMITTED_COLOR: RGBColor = RGBColor(133, 153, 0);

pub(crate) type DrawResult = Result<(), String>;

/// At most this many points per CDF line (large samples, such as finality
/// pooled over seeds, are thinned at even rank steps, the extremes kept).
pub const CDF_POINTS_MAX: usize = 2_000;

/// Draws `$draw(&root, args…)` into `$dir/$stem.svg` and `.png`; evaluates
/// to the two paths written.
macro_rules! render_both {
    ($dir:expr, $stem:expr, $draw:ident, $($arg:expr),*) => {{
        let mut written = Vec::new();
        let svg = $dir.join(format!("{}.svg", $stem));
        {
            let root = SVGBackend::new(&svg, PLOT_SIZE).into_drawing_area();
            $draw(&root, $($arg),*)
                .and_then(|()| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError { path: svg.clone(), message })?;
        }
        written.push(svg);
        let png = $dir.join(format!("{}.png", $stem));
        {
            let root = BitMapBackend::new(&png, PLOT_SIZE).into_drawing_area();
            $draw(&root, $($arg),*)
                .and_then(|()| root.present().map_err(|e| e.to_string()))
                .map_err(|message| PlotError { path: png.clone(), message })?;
        }
        written.push(png);
        written
    }};
}
pub(crate) use render_both;

/// The series legend of every plot, at `position`.
pub(crate) fn draw_legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// Writes every plot into `dir` as `<stem>.svg` and `<stem>.png`; returns
/// the paths written, in [`PLOT_STEMS`] order, SVG before PNG, then for a
/// run with markets the market plots
/// ([`crate::market::plots::market_plots`] order).
pub fn write_plots(
    record: &RunRecord,
    metrics: &Metrics,
    dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    let duration_s = (record.virtual_duration_ns as f64 / NS_PER_S as f64).max(1.0);
    let mut written = Vec::new();
    written.extend(render_both!(dir, PLOT_STEMS[0], draw_finality_cdf, metrics));
    written.extend(render_both!(
        dir,
        PLOT_STEMS[1],
        draw_throughput,
        metrics,
        &record.faults,
        duration_s
    ));
    written.extend(render_both!(
        dir,
        PLOT_STEMS[2],
        draw_rounds_decided,
        record,
        duration_s
    ));
    written.extend(render_both!(
        dir,
        PLOT_STEMS[3],
        draw_finality_per_cell,
        metrics
    ));
    if let (Some(markets), Some(market_metrics)) = (&record.markets, &metrics.markets) {
        written.extend(crate::market::plots::write_market_plots(
            markets,
            market_metrics,
            duration_s,
            dir,
        )?);
    }
    Ok(written)
}

pub(crate) fn seconds(time_ns: TimeNs) -> f64 {
    time_ns as f64 / NS_PER_S as f64
}

/// Empirical CDF points (latency ms, fraction ≤) of an ascending sample,
/// every rank up to [`CDF_POINTS_MAX`] of them, beyond that thinned to that
/// many at even rank steps (the last one included).
pub(crate) fn cdf_points(sorted_ns: &[TimeNs]) -> Vec<(f64, f64)> {
    cdf_points_of(sorted_ns, ns_to_ms)
}

/// [`cdf_points`] of any ascending sample, each value placed by `x`.
pub(crate) fn cdf_points_of<T: Copy>(sorted: &[T], x: impl Fn(T) -> f64) -> Vec<(f64, f64)> {
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let mut points = vec![(x(sorted[0]), 0.0)];
    let steps = n.min(CDF_POINTS_MAX);
    for step in 0..steps {
        let index = if steps == 1 {
            n - 1
        } else {
            step * (n - 1) / (steps - 1)
        };
        points.push((x(sorted[index]), (index + 1) as f64 / n as f64));
    }
    points
}

fn draw_finality_cdf<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metrics: &Metrics,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max_ms = metrics
        .finality_all_ns
        .last()
        .into_iter()
        .chain(metrics.finality_first_ns.last())
        .map(|&ns| ns_to_ms(ns))
        .fold(1.0f64, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption("Finality latency CDF", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_ms, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("latency since submission (ms)")
        .y_desc("fraction of transactions")
        .draw()
        .map_err(|e| e.to_string())?;
    let series = [
        (
            "known final by all live honest cells (L_all)",
            &metrics.finality_all_ns,
            ALL_COLOR,
        ),
        (
            "known final by the first honest cell (L_first)",
            &metrics.finality_first_ns,
            FIRST_COLOR,
        ),
    ];
    for (label, sample, color) in series {
        chart
            .draw_series(LineSeries::new(cdf_points(sample), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("{label}, n = {}", sample.len()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::LowerRight)
}

/// How a kind of time window is shaded on a time chart.
pub(crate) struct WindowStyle {
    pub shade: RGBAColor,
    /// The name written at the top of each window.
    pub text: RGBColor,
    /// The legend entry of the first window.
    pub legend: &'static str,
}

const FAULT_WINDOWS: WindowStyle = WindowStyle {
    shade: FAULT_SHADE,
    text: RGBColor(150, 30, 30),
    legend: "fault window",
};

/// Shades each `(start_ns, end_ns, name)` window over the whole height of a
/// time chart, named at its top.
pub(crate) fn shade_windows<'a, DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    windows: impl IntoIterator<Item = (TimeNs, TimeNs, &'a str)>,
    style: &WindowStyle,
    y_max: f64,
) -> DrawResult {
    let mut labelled = false;
    for (start_ns, end_ns, name) in windows {
        let area = Rectangle::new(
            [(seconds(start_ns), 0.0), (seconds(end_ns), y_max)],
            style.shade.filled(),
        );
        let drawn = chart
            .draw_series(std::iter::once(area))
            .map_err(|e| e.to_string())?;
        if !labelled {
            let shade = style.shade;
            drawn.label(style.legend).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 20, y + 6)], shade.filled())
            });
            labelled = true;
        }
        chart
            .draw_series(std::iter::once(Text::new(
                name.to_string(),
                (seconds(start_ns), y_max * 0.98),
                ("sans-serif", 14).into_font().color(&style.text),
            )))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Shades every fault window over the whole height of a time chart.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    faults: &[FaultWindow],
    y_max: f64,
) -> DrawResult {
    shade_windows(
        chart,
        faults
            .iter()
            .map(|fault| (fault.start_ns, fault.end_ns, fault.kind.as_str())),
        &FAULT_WINDOWS,
        y_max,
    )
}

fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metrics: &Metrics,
    faults: &[FaultWindow],
    duration_s: f64,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let y_max = metrics
        .timeseries
        .iter()
        .map(|row| row.txs_finalized.max(row.txs_submitted))
        .max()
        .unwrap_or(0) as f64
        * 1.15
        + 1.0;
    let mut chart = ChartBuilder::on(root)
        .caption("Throughput over virtual time", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_s, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("transactions per second")
        .draw()
        .map_err(|e| e.to_string())?;
    shade_faults(&mut chart, faults, y_max)?;
    // Each bucket's value is drawn at the middle of its second.
    let finalized = metrics
        .timeseries
        .iter()
        .map(|row| (row.second as f64 + 0.5, row.txs_finalized as f64));
    let submitted = metrics
        .timeseries
        .iter()
        .map(|row| (row.second as f64 + 0.5, row.txs_submitted as f64));
    chart
        .draw_series(LineSeries::new(finalized, ALL_COLOR.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label("finalized by all live honest cells")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], ALL_COLOR.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(submitted, SUBMITTED_COLOR.stroke_width(1)))
        .map_err(|e| e.to_string())?
        .label("submitted")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], SUBMITTED_COLOR.stroke_width(1)));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// A cumulative step line through ascending event times.
fn cumulative_steps(mut times_ns: Vec<TimeNs>, duration_s: f64) -> Vec<(f64, f64)> {
    times_ns.sort_unstable();
    let mut points = vec![(0.0, 0.0)];
    for (index, &time) in times_ns.iter().enumerate() {
        points.push((seconds(time), index as f64));
        points.push((seconds(time), (index + 1) as f64));
    }
    points.push((duration_s, times_ns.len() as f64));
    points
}

fn draw_rounds_decided<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    record: &RunRecord,
    duration_s: f64,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let first: Vec<TimeNs> = record.rounds.iter().map(|r| r.first_decided_ns).collect();
    let all: Vec<TimeNs> = record
        .rounds
        .iter()
        .filter_map(|r| r.all_decided_ns)
        .collect();
    let y_max = first.len() as f64 * 1.1 + 1.0;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Consensus rounds decided over virtual time",
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
        .y_desc("rounds decided (cumulative)")
        .draw()
        .map_err(|e| e.to_string())?;
    shade_faults(&mut chart, &record.faults, y_max)?;
    chart
        .draw_series(LineSeries::new(
            cumulative_steps(first, duration_s),
            FIRST_COLOR.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label("decided by the first honest cell")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], FIRST_COLOR.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            cumulative_steps(all, duration_s),
            ALL_COLOR.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label("decided by all live honest cells")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], ALL_COLOR.stroke_width(2)));
    draw_legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The cells shown in the box plot: all with data, or evenly spaced ones.
pub fn box_plot_cells(metrics: &Metrics) -> Vec<CellIndex> {
    let with_data: Vec<CellIndex> = metrics
        .finality_by_cell_ns
        .iter()
        .filter(|(_, latencies)| !latencies.is_empty())
        .map(|(&cell, _)| cell)
        .collect();
    if with_data.len() <= BOX_PLOT_CELLS_MAX {
        return with_data;
    }
    (0..BOX_PLOT_CELLS_MAX)
        .map(|k| with_data[k * (with_data.len() - 1) / (BOX_PLOT_CELLS_MAX - 1)])
        .collect()
}

fn draw_finality_per_cell<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metrics: &Metrics,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let cells = box_plot_cells(metrics);
    let y_max = cells
        .iter()
        .filter_map(|cell| metrics.finality_by_cell_ns[cell].last())
        .map(|&ns| ns_to_ms(ns))
        .fold(1.0f64, f64::max)
        * 1.1;
    let caption = if cells.len() < metrics.finality_by_cell_ns.len() {
        format!(
            "Finality latency per cell ({} of {} live honest cells)",
            cells.len(),
            metrics.finality_by_cell_ns.len()
        )
    } else {
        "Finality latency per live honest cell".to_string()
    };
    // A segmented 0..n range has n + 1 slots.
    let last_slot = (cells.len().max(2) - 1) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d((0..last_slot).into_segmented(), 0.0f32..y_max as f32)
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = cells.iter().map(|cell| cell.to_string()).collect();
    chart
        .configure_mesh()
        .x_desc("cell (boxes: quartiles, whiskers: 1.5 IQR, dots: maximum)")
        .y_desc("latency since submission (ms)")
        .x_labels(cells.len().clamp(1, 20))
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(index) => {
                labels.get(*index as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .draw()
        .map_err(|e| e.to_string())?;
    let boxes = cells.iter().enumerate().map(|(slot, cell)| {
        let latencies_ms: Vec<f64> = metrics.finality_by_cell_ns[cell]
            .iter()
            .map(|&ns| ns_to_ms(ns))
            .collect();
        Boxplot::new_vertical(
            SegmentValue::CenterOf(slot as u32),
            &Quartiles::new(&latencies_ms),
        )
        .width(12)
        .style(ALL_COLOR)
    });
    chart.draw_series(boxes).map_err(|e| e.to_string())?;
    let maxima = cells.iter().enumerate().filter_map(|(slot, cell)| {
        let max_ns = *metrics.finality_by_cell_ns[cell].last()?;
        Some(Circle::new(
            (SegmentValue::CenterOf(slot as u32), ns_to_ms(max_ns) as f32),
            3,
            FIRST_COLOR.filled(),
        ))
    });
    chart.draw_series(maxima).map_err(|e| e.to_string())?;
    Ok(())
}
