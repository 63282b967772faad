//! Market plots, SVG and PNG like every plot: price over virtual time per
//! token (mid line, trades, fundamental, and the spread below), traded
//! volume per virtual second, PnL by agent kind, and lease capacity
//! utilisation over virtual time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::market::{MarketMetrics, MarketRecord, TokenMetrics};
use crate::plots::{DrawResult, PLOT_SIZE, PlotError, draw_legend, render_both, seconds};
use crate::record::{NS_PER_S, TimeNs};

/// At most this many tokens get a price plot (the first by id).
pub const MARKET_PRICE_PLOTS_MAX: usize = 16;

/// At most this many trades are drawn as points on a price plot; above it,
/// trades at even index steps are.
pub const TRADE_POINTS_MAX: usize = 5_000;

const MID_COLOR: RGBColor = RGBColor(38, 139, 210);
const TRADE_COLOR: RGBColor = RGBColor(211, 54, 130);
const FUNDAMENTAL_COLOR: RGBColor = RGBColor(133, 153, 0);
const SPREAD_COLOR: RGBColor = RGBColor(181, 137, 0);
const RANGE_COLOR: RGBColor = RGBColor(88, 110, 117);

/// What a market plot shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketPlotKind {
    /// Price and spread of one token.
    Price(u16),
    Volume,
    PnlByKind,
    Capacity,
}

/// One market plot: its file stem, its title in the report, what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketPlot {
    pub stem: String,
    pub title: String,
    pub kind: MarketPlotKind,
}

/// The market plots of a run, in the order the report lists them: a price
/// plot per token (up to [`MARKET_PRICE_PLOTS_MAX`]), volume, PnL by kind
/// (when there are agents), capacity (when a lease market reported it).
pub fn market_plots(metrics: &MarketMetrics) -> Vec<MarketPlot> {
    let mut plots: Vec<MarketPlot> = metrics
        .tokens
        .iter()
        .take(MARKET_PRICE_PLOTS_MAX)
        .map(|token| MarketPlot {
            stem: format!("market_price_{}", token.token),
            title: format!("Price of {} over virtual time", token.name),
            kind: MarketPlotKind::Price(token.token),
        })
        .collect();
    if !metrics.tokens.is_empty() {
        plots.push(MarketPlot {
            stem: "market_volume".to_string(),
            title: "Traded volume per virtual second".to_string(),
            kind: MarketPlotKind::Volume,
        });
    }
    if !metrics.agent_kinds.is_empty() {
        plots.push(MarketPlot {
            stem: "market_pnl_by_kind".to_string(),
            title: "PnL by agent kind".to_string(),
            kind: MarketPlotKind::PnlByKind,
        });
    }
    if metrics
        .lease_markets
        .iter()
        .any(|market| !market.capacity.is_empty())
    {
        plots.push(MarketPlot {
            stem: "market_capacity".to_string(),
            title: "Lease capacity utilisation over virtual time".to_string(),
            kind: MarketPlotKind::Capacity,
        });
    }
    plots
}

/// Writes every plot of [`market_plots`] into `dir`; returns the paths
/// written, in that order, SVG before PNG.
pub fn write_market_plots(
    markets: &MarketRecord,
    metrics: &MarketMetrics,
    duration_s: f64,
    dir: &Path,
) -> Result<Vec<PathBuf>, PlotError> {
    // Consensus timestamps can run a little past the end of the run.
    let last_round_s = markets
        .rounds
        .last()
        .map_or(0.0, |round| seconds(round.time_ns));
    let duration_s = duration_s.max(last_round_s);
    let mut written = Vec::new();
    for plot in market_plots(metrics) {
        let stem = plot.stem.as_str();
        match plot.kind {
            MarketPlotKind::Price(token) => {
                let token = &metrics.tokens[usize::from(token)];
                written.extend(render_both!(
                    dir, stem, draw_price, markets, token, duration_s
                ));
            }
            MarketPlotKind::Volume => {
                written.extend(render_both!(dir, stem, draw_volume, markets, duration_s));
            }
            MarketPlotKind::PnlByKind => {
                written.extend(render_both!(dir, stem, draw_pnl_by_kind, metrics));
            }
            MarketPlotKind::Capacity => {
                written.extend(render_both!(dir, stem, draw_capacity, metrics, duration_s));
            }
        }
    }
    Ok(written)
}

fn series_color(index: usize) -> RGBAColor {
    Palette99::pick(index).mix(1.0)
}

/// Every `step`-th item so that at most `max` remain (all when fewer).
fn thinned<T: Copy>(items: &[T], max: usize) -> Vec<T> {
    let step = items.len().div_ceil(max.max(1)).max(1);
    items.iter().step_by(step).copied().collect()
}

fn draw_price<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    markets: &MarketRecord,
    token: &TokenMetrics,
    duration_s: f64,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let trades: Vec<(f64, f64)> = markets
        .rounds
        .iter()
        .flat_map(|round| {
            round
                .trades
                .iter()
                .filter(|trade| trade.token == token.token)
                .map(move |trade| (seconds(round.time_ns), trade.price as f64))
        })
        .collect();
    // The price axis spans the prices drawn, with a tenth of margin.
    let prices: Vec<f64> = token
        .mids
        .iter()
        .map(|point| point.mid())
        .chain(trades.iter().map(|&(_, price)| price))
        .chain(token.fundamental.map(|value| value as f64))
        .collect();
    let price_low = prices.iter().copied().fold(f64::INFINITY, f64::min);
    let price_high = prices.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (price_low, price_high) = if prices.is_empty() {
        (0.0, 1.0)
    } else {
        let margin = ((price_high - price_low) * 0.1).max(1.0);
        ((price_low - margin).max(0.0), price_high + margin)
    };
    let (upper, lower) = root.split_vertically(PLOT_SIZE.1 * 2 / 3);

    let mut chart = ChartBuilder::on(&upper)
        .caption(
            format!("Price of {} over virtual time", token.name),
            ("sans-serif", 24),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_s, price_low..price_high)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .y_desc("PRANA per unit")
        .draw()
        .map_err(|e| e.to_string())?;
    if let Some(fundamental) = token.fundamental {
        chart
            .draw_series(LineSeries::new(
                [(0.0, fundamental as f64), (duration_s, fundamental as f64)],
                FUNDAMENTAL_COLOR.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?
            .label("fundamental value")
            .legend(|(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], FUNDAMENTAL_COLOR.stroke_width(1))
            });
    }
    chart
        .draw_series(LineSeries::new(
            token
                .mids
                .iter()
                .map(|point| (seconds(point.time_ns), point.mid())),
            MID_COLOR.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label("mid price (best bid + best ask) / 2")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], MID_COLOR.stroke_width(2)));
    chart
        .draw_series(
            thinned(&trades, TRADE_POINTS_MAX)
                .into_iter()
                .map(|point| Circle::new(point, 2, TRADE_COLOR.filled())),
        )
        .map_err(|e| e.to_string())?
        .label(format!("trade ({} in all)", trades.len()))
        .legend(|(x, y)| Circle::new((x + 10, y), 3, TRADE_COLOR.filled()));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;

    let spread_max = token
        .mids
        .iter()
        .map(|point| point.spread() as f64)
        .fold(1.0f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&lower)
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..duration_s, 0.0..spread_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("spread")
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(LineSeries::new(
            token
                .mids
                .iter()
                .map(|point| (seconds(point.time_ns), point.spread() as f64)),
            SPREAD_COLOR.stroke_width(1),
        ))
        .map_err(|e| e.to_string())?
        .label("spread: best ask − best bid")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], SPREAD_COLOR.stroke_width(1)));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// Units of each token traded per virtual second, from second 0 to the
/// last second of the run (or of the last trade), zeros included.
pub fn volume_per_second(markets: &MarketRecord, duration_s: f64) -> Vec<Vec<(u64, u128)>> {
    let last_second = markets
        .rounds
        .iter()
        .filter(|round| !round.trades.is_empty())
        .map(|round| round.time_ns / NS_PER_S)
        .max()
        .unwrap_or(0)
        .max((duration_s.ceil() as u64).saturating_sub(1));
    let mut per_token: Vec<BTreeMap<u64, u128>> = vec![BTreeMap::new(); markets.tokens.len()];
    for round in &markets.rounds {
        let second: TimeNs = round.time_ns / NS_PER_S;
        for trade in &round.trades {
            if let Some(buckets) = per_token.get_mut(usize::from(trade.token)) {
                *buckets.entry(second).or_default() += u128::from(trade.quantity);
            }
        }
    }
    per_token
        .iter()
        .map(|buckets| {
            (0..=last_second)
                .map(|second| (second, buckets.get(&second).copied().unwrap_or(0)))
                .collect()
        })
        .collect()
}

fn draw_volume<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    markets: &MarketRecord,
    duration_s: f64,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let volumes = volume_per_second(markets, duration_s);
    let y_max = volumes
        .iter()
        .flatten()
        .map(|&(_, units)| units as f64)
        .fold(0.0f64, f64::max)
        * 1.15
        + 1.0;
    let x_max = volumes
        .first()
        .map_or(duration_s, |buckets| buckets.len() as f64)
        .max(duration_s);
    let mut chart = ChartBuilder::on(root)
        .caption("Traded volume per virtual second", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("virtual time (s)")
        .y_desc("units traded per second")
        .draw()
        .map_err(|e| e.to_string())?;
    for (index, buckets) in volumes.iter().enumerate() {
        let color = series_color(index);
        // Each bucket's value is drawn at the middle of its second.
        chart
            .draw_series(LineSeries::new(
                buckets
                    .iter()
                    .map(|&(second, units)| (second as f64 + 0.5, units as f64)),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(markets.tokens[index].clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn draw_pnl_by_kind<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metrics: &MarketMetrics,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let kinds = &metrics.agent_kinds;
    let low = kinds
        .iter()
        .map(|kind| kind.pnl_prana_min as f64)
        .fold(0.0f64, f64::min);
    let high = kinds
        .iter()
        .map(|kind| kind.pnl_prana_max as f64)
        .fold(0.0f64, f64::max);
    let pad = ((high - low) * 0.1).max(1.0);
    // A segmented 0..n range has n + 1 slots.
    let last_slot = (kinds.len().max(2) - 1) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "PnL by agent kind (bar: median, line: min to max)",
            ("sans-serif", 24),
        )
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d((0..last_slot).into_segmented(), (low - pad)..(high + pad))
        .map_err(|e| e.to_string())?;
    let labels: Vec<String> = kinds
        .iter()
        .map(|kind| format!("{} ({})", kind.kind, kind.agents))
        .collect();
    chart
        .configure_mesh()
        .x_desc("agent kind (agents)")
        .y_desc("PnL (PRANA, at mark prices)")
        .x_labels(kinds.len().clamp(1, 20))
        .x_label_formatter(&|value| match value {
            SegmentValue::CenterOf(index) => {
                labels.get(*index as usize).cloned().unwrap_or_default()
            }
            _ => String::new(),
        })
        .draw()
        .map_err(|e| e.to_string())?;
    // Bars drawn one by one, in kind order: plotters' `Histogram` sums its
    // data in a hash map, whose order would reach the SVG.
    chart
        .draw_series(kinds.iter().enumerate().map(|(slot, kind)| {
            let slot = slot as u32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(slot), 0.0),
                    (SegmentValue::Exact(slot + 1), kind.pnl_prana_p50 as f64),
                ],
                MID_COLOR.filled(),
            );
            bar.set_margin(0, 0, 20, 20);
            bar
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(kinds.iter().enumerate().map(|(slot, kind)| {
            let x = SegmentValue::CenterOf(slot as u32);
            PathElement::new(
                [
                    (x.clone(), kind.pnl_prana_min as f64),
                    (x, kind.pnl_prana_max as f64),
                ],
                RANGE_COLOR.stroke_width(2),
            )
        }))
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            [(SegmentValue::Exact(0), 0.0), (SegmentValue::Last, 0.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn draw_capacity<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    metrics: &MarketMetrics,
    duration_s: f64,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let percent = |ppm: u64| ppm as f64 / 10_000.0;
    let y_max = metrics
        .lease_markets
        .iter()
        .flat_map(|market| &market.capacity)
        .filter_map(|point| point.utilisation_ppm())
        .map(percent)
        .fold(100.0f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(
            "Lease capacity utilisation over virtual time",
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
        .y_desc("leased / offered (%)")
        .draw()
        .map_err(|e| e.to_string())?;
    for (index, market) in metrics.lease_markets.iter().enumerate() {
        let color = series_color(index);
        let points = market.capacity.iter().filter_map(|point| {
            let ppm = point.utilisation_ppm()?;
            Some((seconds(point.time_ns), percent(ppm)))
        });
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("{} market", market.market))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight)
}
