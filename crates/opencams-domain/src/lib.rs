//! The opencams domain: the typed values that requests become (phone numbers, templates,
//! message contents), their validation, template linting and rendering; the message lifecycle
//! (`lifecycle`: statuses and their forward-only order, direction, send type, fallback state,
//! event kinds, with their stored, CAMS and Cloud API names); the send rules (`send`: the 24-hour
//! window, the sender, sendable templates, Label, FallBackRule=sentFailed, the `NewOutbound` a
//! send becomes); where callbacks may go (`callback_url`); the clock. It owns the business rules;
//! it never does I/O (no database, no HTTP, no clock reads: time is passed in).
//!
//! Validation failures are `opencams_protocol::CamsError`s, so each rule names its stable CAMS
//! code in exactly one place.

pub mod callback_url;
pub mod clock;
pub mod ids;
pub mod lifecycle;
pub mod message;
pub mod meter;
pub mod phone;
pub mod send;
pub mod template;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock};
pub use ids::IdGenerator;
pub use lifecycle::{Direction, EventKind, FallbackState, MessageStatus, SendType};
pub use opencams_protocol::{CamsError, Code};
pub use phone::PhoneNumber;
