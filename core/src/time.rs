//! Virtual time. Always integer nanoseconds; never the wall clock.

/// A point in virtual time, or a span of it, in nanoseconds.
pub type TimeNs = u64;

pub const NS_PER_US: TimeNs = 1_000;
pub const NS_PER_MS: TimeNs = 1_000_000;
pub const NS_PER_S: TimeNs = 1_000_000_000;
