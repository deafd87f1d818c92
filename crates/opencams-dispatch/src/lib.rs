//! opencams workers, running beside the API in the same process: the dispatcher (claims due
//! messages, throttles per number and per pair, renders, sends, settles and retries, expires
//! past their Ttl), SMS fallback timers and their delivery reports, callback delivery from the
//! durable outbox, and the built-in simulator's template reviews. Every worker runs the one
//! claim loop in `claim_loop` and has a single-pass `tick` for tests on a manual clock. Workers
//! claim durable work from the store with a lease and never hold a transaction across a network
//! call; they never parse client requests. `ingest` applies provider webhooks (the Cloud API
//! adapter's typed events) to the store.

pub mod callbacks;
pub mod claim_loop;
pub mod fallback;
pub mod ingest;
pub mod limits;
pub mod render;
pub mod review;
pub mod worker;
