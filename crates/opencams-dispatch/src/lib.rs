//! opencams workers, running beside the API in the same process: the built-in simulator's
//! template reviews (and, as the delivery issues land, sending, status settlement, retries,
//! fallback timers and callback delivery), and the ingest of provider webhooks (`ingest`: the
//! Cloud API adapter's typed events applied to the store). Workers claim durable work from the
//! store; they never parse client requests.

pub mod callbacks;
pub mod fallback;
pub mod ingest;
pub mod limits;
pub mod render;
pub mod review;
pub mod worker;
