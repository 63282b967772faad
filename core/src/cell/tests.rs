//! Unit tests of the cell services.
