//! placeholder, filled in by the protocol issue
