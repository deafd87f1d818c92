//! Request timestamps: `YYYY-MM-DDThh:mm:ssZ` (an optional fraction and numeric offset accepted).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::{CamsError, Code};

/// The accepted clock skew, and how long a nonce stays used.
pub const SKEW_SECS: i64 = 15 * 60;

pub fn parse(raw: &str) -> Result<OffsetDateTime, CamsError> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339).map_err(|_| {
        CamsError::new(
            Code::InvalidTimeStampFormat,
            format!("Specified time stamp or date value is not well formatted: {raw:?}; use UTC YYYY-MM-DDThh:mm:ssZ."),
        )
    })
}

/// Checks `|now − ts| ≤ 15 min`.
pub fn check_window(ts: OffsetDateTime, now_unix: i64) -> Result<(), CamsError> {
    if (now_unix - ts.unix_timestamp()).abs() > SKEW_SECS {
        return Err(CamsError::of(Code::InvalidTimeStampExpired));
    }
    Ok(())
}

/// Formats a unix time as the SDKs do.
pub fn format(unix: i64) -> String {
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds() {
        let t = parse("2025-01-15T08:30:00Z").unwrap();
        assert_eq!(format(t.unix_timestamp()), "2025-01-15T08:30:00Z");
        assert!(parse("2025-01-15T08:30:00.123+00:00").is_ok());
        assert_eq!(
            parse("15/01/2025").unwrap_err().code,
            Code::InvalidTimeStampFormat
        );
        let now = t.unix_timestamp();
        assert!(check_window(t, now + 900).is_ok());
        assert_eq!(
            check_window(t, now + 901).unwrap_err().code,
            Code::InvalidTimeStampExpired
        );
        assert!(check_window(t, now - 901).is_err());
    }
}
