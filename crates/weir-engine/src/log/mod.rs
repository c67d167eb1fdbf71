//! The embedded log (being written).
