//! Metrics, CSV, plots and reports, folded from recorded simulation events.
//!
//! The simulator feeds a [`RunRecorder`] with typed observations; the
//! [`RunRecord`] it produces is folded into [`Metrics`], checked against the
//! scenario's [`Checks`] by [`evaluate_checks`], and written out as
//! `summary.json`, `transactions.csv`, `timeseries.csv`, `report.md` and
//! SVG/PNG plots by [`write_run_outputs`] (for a run with markets, also
//! `markets.csv`, `agents.csv` and market plots: [`market`]). This crate
//! depends on neither the simulator nor the cell stack: its inputs are the
//! plain types of [`record`].

pub mod attack;
pub mod attack_report;
pub mod checks;
pub mod compare;
pub mod markdown;
pub mod market;
pub mod metrics;
pub mod plots;
pub mod record;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod tables;

use std::fs;
use std::path::{Path, PathBuf};

pub use attack::{AdversaryAct, AttackRecord, AttackSummary, SybilStanding};
pub use attack_report::{
    ArmRun, AttackCampaign, AttackReport, Claims, ScriptBlock, SeedRuns, write_attack_outputs,
};
pub use checks::{CheckResult, evaluate_checks};
pub use markdown::render_report;
pub use market::{
    AgentRecord, BookTop, CapacityRecord, LeaseEventRecord, LedgerViolationRecord, MarketMetrics,
    MarketRecord, MarketRoundRecord, MarketsSummary, OrderRecord, RejectedRecord, TradeRecord,
    TxMarket,
};
pub use metrics::{
    FairnessMetrics, GammaFairness, Metrics, Percentiles, TimeseriesRow, nearest_rank,
};
pub use plots::{PlotError, write_plots};
pub use record::{
    CellIndex, Checks, Counter, CounterBucket, DivergenceRecord, FaultWindow, LivenessRecord,
    RecordError, RoundRecord, RunRecord, RunRecorder, TimeNs, TxOrder, TxRecord,
};
pub use summary::Summary;
pub use tables::{
    write_agents_csv, write_markets_csv, write_timeseries_csv, write_transactions_csv,
};

/// Why outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("invalid run record: {0}")]
    Record(#[from] RecordError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// Everything computed from one record.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub metrics: Metrics,
    pub checks: Vec<CheckResult>,
    pub summary: Summary,
}

impl RunReport {
    /// Validates the record, computes metrics and evaluates the record's checks.
    pub fn new(record: &RunRecord) -> Result<Self, RecordError> {
        record.validate()?;
        let metrics = Metrics::compute(record);
        let checks = evaluate_checks(&metrics, &record.checks);
        let summary = Summary::new(record, &metrics, &checks);
        Ok(RunReport {
            metrics,
            checks,
            summary,
        })
    }
}

/// Creates `dir` and writes `summary.json`, `transactions.csv`,
/// `timeseries.csv`, `report.md` and the plots (`<stem>.svg`, `<stem>.png`)
/// into it, and for a run with markets `markets.csv`, `agents.csv` and the
/// market plots. Returns the report; `report.summary.passed` is the run's
/// verdict.
pub fn write_run_outputs(record: &RunRecord, dir: &Path) -> Result<RunReport, ReportError> {
    let report = RunReport::new(record)?;
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_error(dir))?;

    let summary_path = dir.join("summary.json");
    fs::write(&summary_path, report.summary.to_json()).map_err(io_error(&summary_path))?;

    let transactions_path = dir.join("transactions.csv");
    let file = fs::File::create(&transactions_path).map_err(io_error(&transactions_path))?;
    write_transactions_csv(record, std::io::BufWriter::new(file)).map_err(|source| {
        ReportError::Csv {
            path: transactions_path.clone(),
            source,
        }
    })?;

    let timeseries_path = dir.join("timeseries.csv");
    let file = fs::File::create(&timeseries_path).map_err(io_error(&timeseries_path))?;
    write_timeseries_csv(&report.metrics, std::io::BufWriter::new(file)).map_err(|source| {
        ReportError::Csv {
            path: timeseries_path.clone(),
            source,
        }
    })?;

    if let (Some(markets), Some(market_metrics)) = (&record.markets, &report.metrics.markets) {
        let markets_path = dir.join("markets.csv");
        let file = fs::File::create(&markets_path).map_err(io_error(&markets_path))?;
        write_markets_csv(markets, std::io::BufWriter::new(file)).map_err(|source| {
            ReportError::Csv {
                path: markets_path.clone(),
                source,
            }
        })?;
        let agents_path = dir.join("agents.csv");
        let file = fs::File::create(&agents_path).map_err(io_error(&agents_path))?;
        write_agents_csv(market_metrics, std::io::BufWriter::new(file)).map_err(|source| {
            ReportError::Csv {
                path: agents_path.clone(),
                source,
            }
        })?;
    }

    write_plots(record, &report.metrics, dir)?;

    let report_path = dir.join("report.md");
    let markdown = render_report(record, &report.metrics, &report.checks);
    fs::write(&report_path, markdown).map_err(io_error(&report_path))?;
    Ok(report)
}
