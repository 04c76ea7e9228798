//! Splitting a workflow too big for an engine into parts (paper §IV.B, Algorithm 3).
