//! Time: the engine's one wall clock ([`now_ms`]), and calendar dates of Kafka timestamps
//! (milliseconds since the Unix epoch, UTC) for the texts KSML shows: windowed keys'
//! `startTime`/`endTime`, `weir topic`'s timestamps.
//!
//! Code that can take the time as a parameter does (the embedded log's retention and
//! compaction, so tests control it); the rest asks [`now_ms`], never `SystemTime` itself.

use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock, in milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// A timestamp split into its UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
}

impl Utc {
    /// The UTC date and time of `ms` milliseconds since the epoch (proleptic Gregorian
    /// calendar; negative times are before 1970).
    pub fn of_millis(ms: i64) -> Utc {
        let secs = ms.div_euclid(1000);
        let milli = ms.rem_euclid(1000) as u32;
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let sod = sod as u32;
        Utc { year, month, day, hour: sod / 3600, minute: sod % 3600 / 60, second: sod % 60, milli }
    }
}

#[cfg(test)]
mod tests {
    use super::Utc;

    #[test]
    fn dates_match_known_timestamps() {
        let u = Utc::of_millis(1_700_000_000_123);
        assert_eq!((u.year, u.month, u.day, u.hour, u.minute, u.second, u.milli), (2023, 11, 14, 22, 13, 20, 123));
        let u = Utc::of_millis(-1);
        assert_eq!((u.year, u.month, u.day, u.hour, u.minute, u.second, u.milli), (1969, 12, 31, 23, 59, 59, 999));
        let u = Utc::of_millis(951_782_400_000); // 2000-02-29
        assert_eq!((u.year, u.month, u.day), (2000, 2, 29));
    }
}
