//! The life of a message, in one place: its status and the forward-only order statuses move in,
//! its direction and send type, the state of its SMS fallback, and the kinds of event its changes
//! leave in the event log. Each value knows its stored text (what the store writes), and where
//! the outside world names it, its CAMS name and its Cloud API name. The store's SQL takes the
//! status order from here ([`MessageStatus::rank_sql`]); nothing else spells these strings.

use std::fmt;

/// Declares a closed vocabulary stored as text: `as_str` (the stored text), `parse` (the
/// stored text back; `None` for anything else), `ALL`, `Display`, and serde as the stored text.
macro_rules! stored_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value of a stored text; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

stored_enum! {
    /// Where a message is in its life. Outbound messages start `Accepted` and move forward only
    /// (see [`MessageStatus::may_become`]); inbound ones are `Received` and stay so.
    #[derive(Default)]
    MessageStatus {
        #[default]
        Accepted = "accepted",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
        /// Not sent within its `Ttl`.
        Expired = "expired",
        /// An inbound message.
        Received = "received",
    }
}

impl MessageStatus {
    /// The name CAMS gives it (ListChatappMessage `MessageStatus`, ChatAppStatus `Status`).
    pub const fn cams_name(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Sent => "Sent",
            Self::Delivered => "Delivered",
            Self::Read => "Read",
            Self::Failed => "Failed",
            Self::Expired => "Expired",
            Self::Received => "Received",
        }
    }

    /// What the status means, in a few words (ListChatappMessage `MessageStatusName`).
    pub const fn description(self) -> &'static str {
        match self {
            Self::Accepted => "accepted, not yet sent",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Expired => "expired (Ttl passed)",
            Self::Received => "received from the user",
        }
    }

    /// The status named by CAMS (exactly as CAMS spells it); `None` for anything else.
    pub fn from_cams(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.cams_name() == name)
    }

    /// The Cloud API's name for the statuses Meta reports in webhooks (`sent`, `delivered`,
    /// `read`, `failed`); `None` for ours alone.
    pub const fn cloud_name(self) -> Option<&'static str> {
        match self {
            Self::Sent => Some("sent"),
            Self::Delivered => Some("delivered"),
            Self::Read => Some("read"),
            Self::Failed => Some("failed"),
            _ => None,
        }
    }

    /// A status Meta reports in a webhook; `None` for the ones we do not track (`deleted`,
    /// `warning`, …).
    pub fn from_cloud(name: &str) -> Option<Self> {
        [Self::Sent, Self::Delivered, Self::Read, Self::Failed]
            .into_iter()
            .find(|s| s.cloud_name() == Some(name))
    }

    /// The place in the forward-only order: accepted 0 < sent 1 < delivered 2 < read 3. The
    /// ends that a delivery can still overtake (`failed`) and those outside the order rank -1.
    pub const fn rank(self) -> i32 {
        match self {
            Self::Accepted => 0,
            Self::Sent => 1,
            Self::Delivered => 2,
            Self::Read => 3,
            Self::Failed | Self::Expired | Self::Received => -1,
        }
    }

    /// Whether a message now `self` moves to `next` when a provider reports it: forward in the
    /// order; `failed` ends a message not yet delivered (a late failure after delivery is
    /// ignored); a delivered or read that arrives after a failure wins (the failure was wrong).
    pub fn may_become(self, next: MessageStatus) -> bool {
        match next {
            Self::Failed => matches!(self, Self::Accepted | Self::Sent),
            Self::Sent | Self::Delivered | Self::Read => self.rank() < next.rank(),
            Self::Accepted | Self::Expired | Self::Received => false,
        }
    }

    /// The message reached the user (delivered or read): CAMS's `ClientAcceptStatus=Accepted`.
    pub const fn reached_user(self) -> bool {
        matches!(self, Self::Delivered | Self::Read)
    }

    /// The message will never be delivered (failed or expired).
    pub const fn undeliverable(self) -> bool {
        matches!(self, Self::Failed | Self::Expired)
    }

    /// [`MessageStatus::rank`] as a SQL expression over the text column `column`, built from
    /// the order above so the store's statements cannot drift from it.
    pub fn rank_sql(column: &str) -> String {
        let mut sql = format!("CASE {column}");
        for s in Self::ALL.iter().filter(|s| s.rank() >= 0) {
            sql.push_str(&format!(" WHEN '{}' THEN {}", s.as_str(), s.rank()));
        }
        sql.push_str(" ELSE -1 END");
        sql
    }

    /// A SQL list of the stored texts of `statuses`: `('delivered', 'read')`.
    pub fn sql_list(statuses: &[MessageStatus]) -> String {
        let items: Vec<String> = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", items.join(", "))
    }
}

stored_enum! {
    /// Which way a message went.
    #[derive(Default)]
    Direction {
        /// From the business to a user.
        #[default]
        Out = "out",
        /// From a user to the business.
        In = "in",
    }
}

impl Direction {
    /// CAMS's `EventAction`: `DOWN` (outbound) or `UP` (inbound).
    pub const fn cams_name(self) -> &'static str {
        match self {
            Self::Out => "DOWN",
            Self::In => "UP",
        }
    }
}

stored_enum! {
    /// CAMS's `Type` of a send: an approved template, or a free-form message inside the window.
    #[derive(Default)]
    SendType {
        Template = "template",
        #[default]
        Message = "message",
    }
}

stored_enum! {
    /// A message's SMS fallback. `Armed` fires when the message fails; `Scheduled` fires at its
    /// due time unless the message was delivered; `Sending` is held by a worker while it sends;
    /// the rest are final, but `Sent` changes once more when the SMS's delivery report arrives.
    FallbackState {
        Armed = "armed",
        Scheduled = "scheduled",
        Sending = "sending",
        Cancelled = "cancelled",
        Sent = "sent",
        Delivered = "delivered",
        Failed = "failed",
    }
}

stored_enum! {
    /// What an event-log entry records.
    EventKind {
        /// A status change of a message, including its fallback's steps (ChatAppStatus).
        Status = "status",
        /// An inbound message (ChatAppInbound).
        Inbound = "inbound",
        /// A template review result (ChatAppAudit).
        Audit = "audit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_reads_back_from_its_stored_text() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(*s));
            assert_eq!(MessageStatus::from_cams(s.cams_name()), Some(*s));
        }
        for d in Direction::ALL {
            assert_eq!(Direction::parse(d.as_str()), Some(*d));
        }
        for t in SendType::ALL {
            assert_eq!(SendType::parse(t.as_str()), Some(*t));
        }
        for f in FallbackState::ALL {
            assert_eq!(FallbackState::parse(f.as_str()), Some(*f));
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(MessageStatus::parse("Delivered"), None);
        assert_eq!(MessageStatus::from_cams("delivered"), None);
    }

    #[test]
    fn cloud_names_are_the_four_meta_reports() {
        let reported: Vec<_> = MessageStatus::ALL
            .iter()
            .filter_map(|s| s.cloud_name())
            .collect();
        assert_eq!(reported, ["sent", "delivered", "read", "failed"]);
        assert_eq!(MessageStatus::from_cloud("deleted"), None);
        assert_eq!(MessageStatus::from_cloud("read"), Some(MessageStatus::Read));
    }

    #[test]
    fn statuses_move_forward_only() {
        use MessageStatus::*;
        assert!(
            Accepted.may_become(Sent) && Sent.may_become(Delivered) && Delivered.may_become(Read)
        );
        assert!(Accepted.may_become(Read), "a skipped step is fine");
        assert!(
            !Read.may_become(Delivered) && !Delivered.may_become(Sent) && !Sent.may_become(Sent)
        );
        assert!(Accepted.may_become(Failed) && Sent.may_become(Failed));
        assert!(!Delivered.may_become(Failed) && !Read.may_become(Failed));
        assert!(Failed.may_become(Delivered) && Failed.may_become(Read) && Failed.may_become(Sent));
        assert!(!Failed.may_become(Failed) && !Expired.may_become(Failed));
        assert!(!Accepted.may_become(Accepted) && !Sent.may_become(Expired));
    }

    #[test]
    fn the_sql_order_is_the_rank() {
        assert_eq!(
            MessageStatus::rank_sql("status"),
            "CASE status WHEN 'accepted' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE -1 END"
        );
        assert_eq!(
            MessageStatus::sql_list(&[MessageStatus::Delivered, MessageStatus::Read]),
            "('delivered', 'read')"
        );
    }
}
