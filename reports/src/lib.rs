//! Metrics, CSV, plots and reports, folded from recorded simulation events.
//!
//! The simulator feeds a [`RunRecorder`] with typed observations; the
//! [`RunRecord`] it produces is folded into [`Metrics`], checked against the
//! scenario's [`Checks`], and written out as `summary.json`,
//! `transactions.csv`, `timeseries.csv`, `report.md` and SVG/PNG plots by
//! [`write_run_outputs`]. This crate depends on neither the simulator nor the
//! cell stack: its inputs are the plain types of [`record`].

pub mod metrics;
pub mod record;

pub use metrics::{FairnessMetrics, GammaFairness, Metrics, Percentiles, TimeseriesRow};
pub use record::{
    CellIndex, Checks, Counter, CounterBucket, FaultWindow, LivenessRecord, RecordError,
    RoundRecord, RunRecord, RunRecorder, TimeNs, TxOrder, TxRecord,
};
