//! Hypercore-style signed append-only journals.

pub mod head;
