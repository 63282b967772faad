//! Metrics, CSV, plots and reports, folded from recorded simulation events.
