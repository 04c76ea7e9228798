//! Artifact caching under a storage budget (paper §IV.A): policies and the trace simulator.
