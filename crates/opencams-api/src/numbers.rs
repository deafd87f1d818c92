//! The rules a sender number's settings follow, for every way of changing one (`opencams
//! number`, the console).

/// Messages per second a number may be given.
pub const THROUGHPUT: std::ops::RangeInclusive<u32> = 1..=1000;

/// A throughput in [`THROUGHPUT`], or the sentence saying so, naming the field as the caller
/// calls it (`--throughput`, `Throughput`).
pub fn check_throughput(field: &str, throughput: u32) -> Result<u32, String> {
    if THROUGHPUT.contains(&throughput) {
        return Ok(throughput);
    }
    Err(format!(
        "{field} {throughput} is out of range: use {} to {} messages per second",
        THROUGHPUT.start(),
        THROUGHPUT.end()
    ))
}
