//! Events in a message's life, as the ChatAppStatus records customers receive (cams-api.md
//! §4.2), carrying the message's TaskId, Tag and TrackingData. A status event stores only the
//! facts of its change; the store completes it into the full record from its message when it is
//! read (see `opencams_store::status`).

pub use opencams_store::status::{StatusFacts, status_event, status_record};
