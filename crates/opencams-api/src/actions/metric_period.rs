//! What GetChatappPhoneNumberMetric and GetChatappTemplateMetric share: the period they count
//! (`Start`, `End`: epoch milliseconds, both required) cut into buckets of their `Granularity`
//! (`DAILY` or `HALF_HOUR`).
//!
//! The SDK models and CAMS's pages say no more than that. Where they are silent we follow the
//! Cloud API analytics CAMS reports from (Meta's `analytics` and `template_analytics`): buckets
//! are UTC-aligned (days start at 00:00 UTC), a period is widened to whole buckets (its start
//! floored, its end rounded up; `End` itself is excluded, so an `End` on a boundary adds no
//! bucket), and every bucket of the period is answered, with zeros where nothing happened.
//! `Granularity` defaults to `DAILY` (the example value of CAMS's pages). A period may hold at
//! most 90 days (Meta's lookback for template analytics) or 7 days of half hours (336 buckets):
//! the answer is one entry per bucket (and number or language), so the bound keeps it small.

use opencams_protocol::{CamsError, Params};
use opencams_store::MetricQuery;

/// The last millisecond of year 9999: later times are refused before any arithmetic on them.
const MAX_MS: i64 = 253_402_300_799_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Daily,
    HalfHour,
}

impl Granularity {
    const ALL: [Granularity; 2] = [Granularity::Daily, Granularity::HalfHour];

    /// As CAMS spells it (the `Granularity` of the request and of the answer's `Data`).
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Daily => "DAILY",
            Granularity::HalfHour => "HALF_HOUR",
        }
    }

    pub fn bucket_ms(self) -> i64 {
        match self {
            Granularity::Daily => 86_400_000,
            Granularity::HalfHour => 1_800_000,
        }
    }

    /// The most buckets one call may ask for.
    fn max_buckets(self) -> i64 {
        match self {
            Granularity::Daily => 90,
            Granularity::HalfHour => 336,
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Granularity::Daily => "days (UTC)",
            Granularity::HalfHour => "half hours",
        }
    }
}

/// A checked period: whole buckets from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub granularity: Granularity,
    pub start: i64,
    pub end: i64,
}

impl Period {
    /// `Start`, `End` and `Granularity` as CAMS takes them, with CAMS-style errors naming the
    /// parameter and what would be valid.
    pub fn parse(p: &Params) -> Result<Period, CamsError> {
        let start = time(p, "Start")?;
        let end = time(p, "End")?;
        let granularity = match p.get("Granularity").map(str::trim) {
            None => Granularity::Daily,
            Some(g) => Granularity::ALL
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(g))
                .ok_or_else(|| {
                    CamsError::invalid(
                        "Granularity",
                        format_args!("{g:?} is not a granularity; use DAILY or HALF_HOUR"),
                    )
                })?,
        };
        if end <= start {
            return Err(CamsError::invalid(
                "End",
                format_args!(
                    "End ({end}) must be later than Start ({start}); both are epoch milliseconds"
                ),
            ));
        }
        let b = granularity.bucket_ms();
        let first = start - start.rem_euclid(b);
        let last = end + (b - end.rem_euclid(b)) % b;
        let buckets = (last - first) / b;
        if buckets > granularity.max_buckets() {
            return Err(CamsError::invalid(
                "End",
                format_args!(
                    "the period from Start to End covers {buckets} {}; with Granularity {} at most {} \
                     can be asked at once: move End closer to Start{}",
                    granularity.unit(),
                    granularity.as_str(),
                    granularity.max_buckets(),
                    if granularity == Granularity::HalfHour {
                        " or use DAILY"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(Period {
            granularity,
            start: first,
            end: last,
        })
    }

    /// The start of every bucket, in order.
    pub fn buckets(&self) -> impl Iterator<Item = i64> + use<> {
        let b = self.granularity.bucket_ms();
        (self.start..self.end).step_by(usize::try_from(b).unwrap_or(usize::MAX))
    }

    pub fn bucket_ms(&self) -> i64 {
        self.granularity.bucket_ms()
    }

    /// The store's query of this period in `space_id`.
    pub fn query(&self, space_id: &str) -> MetricQuery {
        MetricQuery {
            space_id: space_id.to_string(),
            from: self.start,
            to: self.end,
            bucket_ms: self.bucket_ms(),
        }
    }
}

/// A required epoch-milliseconds parameter.
fn time(p: &Params, name: &'static str) -> Result<i64, CamsError> {
    p.require(name)?;
    p.get_int(name, 0, MAX_MS)?
        .ok_or_else(|| CamsError::missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const HALF: i64 = 1_800_000;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Params::from_parts(&query.join("&"), None).unwrap()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<Period, CamsError> {
        Period::parse(&params(pairs))
    }

    fn code(r: Result<Period, CamsError>) -> String {
        match r {
            Ok(p) => format!("ok {p:?}"),
            Err(e) => e.code.as_str().into_owned(),
        }
    }

    #[test]
    fn a_period_is_widened_to_whole_utc_buckets() {
        let day0 = 19_675 * DAY;
        let (s, e) = ((day0 + 5).to_string(), (day0 + DAY + 1).to_string());
        let p = parse(&[("Start", &s), ("End", &e)]).unwrap();
        assert_eq!(p.granularity, Granularity::Daily);
        assert_eq!((p.start, p.end), (day0, day0 + 2 * DAY));
        assert_eq!(p.buckets().collect::<Vec<_>>(), [day0, day0 + DAY]);
        // an end on a boundary adds no bucket
        let e = (day0 + DAY).to_string();
        let p = parse(&[("Start", &day0.to_string()), ("End", &e)]).unwrap();
        assert_eq!(p.buckets().collect::<Vec<_>>(), [day0]);
        let p = parse(&[
            ("Start", &(day0 + HALF - 1).to_string()),
            ("End", &(day0 + HALF + 1).to_string()),
            ("Granularity", "half_hour"),
        ])
        .unwrap();
        assert_eq!(p.buckets().collect::<Vec<_>>(), [day0, day0 + HALF]);
        assert_eq!(p.query("sp").bucket_ms, HALF);
    }

    #[test]
    fn bad_periods_are_refused_naming_the_parameter() {
        assert_eq!(code(parse(&[("End", "5")])), "MissingStart");
        assert_eq!(code(parse(&[("Start", "5")])), "MissingEnd");
        assert_eq!(
            code(parse(&[("Start", "x"), ("End", "5")])),
            "InvalidParameter"
        );
        assert_eq!(
            code(parse(&[("Start", "-1"), ("End", "5")])),
            "InvalidParameter"
        );
        assert_eq!(
            code(parse(&[("Start", "1"), ("End", "99999999999999999999")])),
            "InvalidParameter"
        );
        assert_eq!(
            code(parse(&[("Start", "5"), ("End", "5")])),
            "InvalidParameter"
        );
        assert_eq!(
            code(parse(&[("Start", "6"), ("End", "5")])),
            "InvalidParameter"
        );
        let e = parse(&[("Start", "1"), ("End", "5"), ("Granularity", "HOURLY")]);
        assert!(
            e.as_ref().is_err_and(
                |e| e.message.contains("Granularity") && e.message.contains("HALF_HOUR")
            ),
            "{e:?}"
        );
        // 90 days are fine, 91 are not; 7 days of half hours are fine, a millisecond more not
        let ninety = (90 * DAY).to_string();
        assert!(parse(&[("Start", "0"), ("End", &ninety)]).is_ok());
        let more = (90 * DAY + 1).to_string();
        let e = parse(&[("Start", "0"), ("End", &more)]);
        assert!(
            e.as_ref().is_err_and(|e| e.message.contains("91 days")),
            "{e:?}"
        );
        let week = (7 * DAY).to_string();
        assert!(parse(&[("Start", "0"), ("End", &week), ("Granularity", "HALF_HOUR")]).is_ok());
        let more = (7 * DAY + 1).to_string();
        let e = parse(&[("Start", "0"), ("End", &more), ("Granularity", "HALF_HOUR")]);
        assert!(
            e.as_ref().is_err_and(|e| e.message.contains("use DAILY")),
            "{e:?}"
        );
        let max = MAX_MS.to_string();
        assert!(parse(&[("Start", &(MAX_MS - 1).to_string()), ("End", &max)]).is_ok());
    }
}
