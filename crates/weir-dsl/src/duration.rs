//! Durations and offset reset policies as written in KSML definitions.
//!
//! This module owns two small grammars:
//!
//! * the KSML duration syntax `<long>[unit]` used everywhere a definition accepts a duration
//!   (window sizes, grace periods, retention, producer intervals, ...), see [`parse_duration`];
//! * the `offsetResetPolicy` syntax of stream/table definitions (`earliest`, `latest`, `none`,
//!   `by_duration:<d>`), see [`parse_offset_reset_policy`], including a small ISO-8601 duration
//!   parser (`PnDTnHnMn.nS`) for the `by_duration:` form.

use std::fmt;

/// The accepted duration forms, appended to every duration error message.
const DURATION_FORMS: &str = "expected a number followed by one of ms, s, m, h, d, w (e.g. '30s', '5m'); no unit means milliseconds";

/// Parses a KSML duration and returns it in **milliseconds** as an `i64`.
///
/// Syntax: `<long>[unit]`, case-insensitive, surrounding whitespace ignored. Units: `ms`
/// (milliseconds), `s` (seconds), `m` (minutes), `h` (hours), `d` (days), `w` (weeks); no unit
/// means milliseconds. The number follows Java's `Long.parseLong` (an optional `+` or `-` sign
/// followed by ASCII digits, no inner whitespace, no fractions).
///
/// Negative values: KSML hands the number to `Long.parseLong`, which accepts `-5`, so negative
/// durations parse here too (that is why the result is signed). Callers for which a negative
/// duration is meaningless (window sizes, retention, ...) must reject it themselves.
///
/// A result that does not fit in an `i64` number of milliseconds is an error, never a panic.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("invalid duration '{text}': it is empty; {DURATION_FORMS}"));
    }
    let lower = trimmed.to_ascii_lowercase();
    // (suffix, milliseconds per unit). "ms" must be checked before "s" and "m".
    const UNITS: &[(&str, i64)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000)];
    let (number, factor) =
        UNITS.iter().find_map(|(suffix, factor)| lower.strip_suffix(suffix).map(|n| (n, *factor))).unwrap_or((lower.as_str(), 1));
    let value = parse_java_long(number).map_err(|why| match why {
        LongError::Overflow => format!("invalid duration '{trimmed}': the number is too large"),
        LongError::Syntax => format!("invalid duration '{trimmed}': {DURATION_FORMS}"),
    })?;
    value.checked_mul(factor).ok_or_else(|| format!("invalid duration '{trimmed}': too large to express in milliseconds"))
}

enum LongError {
    Syntax,
    Overflow,
}

/// `Long.parseLong`-compatible: optional sign, then one or more ASCII digits.
fn parse_java_long(s: &str) -> Result<i64, LongError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LongError::Syntax);
    }
    // Only digits and an optional sign remain, so the only possible failure is overflow.
    s.parse::<i64>().map_err(|_| LongError::Overflow)
}

/// Where a consumer starts reading when it has no committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetResetPolicy {
    Earliest,
    Latest,
    /// Fail when no committed offset exists.
    None,
    /// Start at the first record not older than this many milliseconds. Never negative
    /// (Kafka rejects negative durations), hence unsigned.
    ByDuration(u64),
}

impl fmt::Display for OffsetResetPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OffsetResetPolicy::Earliest => f.write_str("earliest"),
            OffsetResetPolicy::Latest => f.write_str("latest"),
            OffsetResetPolicy::None => f.write_str("none"),
            OffsetResetPolicy::ByDuration(ms) => write!(f, "by_duration:{ms}ms"),
        }
    }
}

const POLICY_FORMS: &str = "expected one of earliest, latest, none, by_duration:<duration> \
     (e.g. 'by_duration:1h' or 'by_duration:PT1H')";

/// Parses an `offsetResetPolicy` value.
///
/// * empty (or only whitespace) → `Ok(None)`: use the broker/consumer default;
/// * `earliest`, `latest`, `none`, case-insensitive;
/// * `by_duration:<d>` (prefix case-insensitive) where `<d>` is first tried as a KSML duration
///   ([`parse_duration`], e.g. `1h`, `30m`, `3600000`) and otherwise as an ISO-8601 duration as
///   accepted by Java's `Duration.parse` (`PnDTnHnMn.nS`, e.g. `PT1H`, `P2D`, `PT0.5S`).
///   Sub-millisecond fractions are truncated. Negative durations are rejected (as Kafka does).
///
/// Surrounding whitespace is ignored (a small leniency over KSML).
pub fn parse_offset_reset_policy(text: &str) -> Result<Option<OffsetResetPolicy>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let lower = t.to_ascii_lowercase();
    match lower.as_str() {
        "earliest" => return Ok(Some(OffsetResetPolicy::Earliest)),
        "latest" => return Ok(Some(OffsetResetPolicy::Latest)),
        "none" => return Ok(Some(OffsetResetPolicy::None)),
        _ => {}
    }
    const PREFIX: &str = "by_duration:";
    if lower.starts_with(PREFIX) {
        // The prefix is ASCII, so this byte index is a char boundary of `t` as well.
        let d = t[PREFIX.len()..].trim();
        if d.is_empty() {
            return Err(format!(
                "invalid offset reset policy '{t}': missing duration after 'by_duration:' \
                 (e.g. 'by_duration:1h' or 'by_duration:PT1H')"
            ));
        }
        let ms: i64 = match parse_duration(d) {
            Ok(ms) => ms,
            Err(_) => parse_iso8601_duration(d).map_err(|e| {
                format!(
                    "invalid offset reset policy '{t}': '{d}' is neither a KSML duration \
                     (a number followed by one of ms, s, m, h, d, w, e.g. '30s', '5m') nor an \
                     ISO-8601 duration (e.g. 'PT1H', 'P2D', 'PT0.5S'): {e}"
                )
            })?,
        };
        return u64::try_from(ms)
            .map(|ms| Some(OffsetResetPolicy::ByDuration(ms)))
            .map_err(|_| format!("invalid offset reset policy '{t}': the duration must not be negative"));
    }
    Err(format!("unknown offset reset policy '{t}': {POLICY_FORMS}"))
}

/// Parses an ISO-8601 duration the way Java's `Duration.parse` does, returning milliseconds
/// (fractions below a millisecond are truncated toward zero).
///
/// Grammar (case-insensitive): `[+-]P[nD][T[nH][nM][n[.f]S]]` where each `n` may carry its own
/// sign, `f` is 0–9 digits (`.` or `,` as separator), at least one component must be present and
/// a `T` must be followed by at least one time component. Years, months and weeks are not
/// durations in this sense and are rejected.
pub fn parse_iso8601_duration(text: &str) -> Result<i64, String> {
    let s = text.trim().to_ascii_uppercase();
    let b = s.as_bytes();
    let mut i = 0;
    let mut negate = false;
    if let Some(&c) = b.first()
        && (c == b'+' || c == b'-')
    {
        negate = c == b'-';
        i += 1;
    }
    if b.get(i) != Some(&b'P') {
        return Err("an ISO-8601 duration starts with 'P'".to_string());
    }
    i += 1;
    // Total in nanoseconds; i128 cannot overflow for any input that fits the digit limits below.
    let mut total: i128 = 0;
    let mut components = 0;
    let mut in_time = false;
    // Order of allowed designators; each may appear at most once and in this order.
    let mut last_rank = 0u8;
    while i < b.len() {
        if b[i] == b'T' {
            if in_time {
                return Err("'T' appears twice".to_string());
            }
            in_time = true;
            i += 1;
            if i >= b.len() {
                return Err("'T' must be followed by hours, minutes or seconds".to_string());
            }
            continue;
        }
        // signed integer
        let start = i;
        let mut neg = false;
        if b[i] == b'+' || b[i] == b'-' {
            neg = b[i] == b'-';
            i += 1;
        }
        let digits_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == digits_start {
            return Err(format!("expected a number at position {start}"));
        }
        if i - digits_start > 19 {
            return Err("number too large".to_string());
        }
        let mut whole: i128 = 0;
        for &d in &b[digits_start..i] {
            whole = whole * 10 + i128::from(d - b'0');
        }
        let mut frac_nanos: i128 = 0;
        if i < b.len() && (b[i] == b'.' || b[i] == b',') {
            i += 1;
            let fs = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let n = i - fs;
            if n > 9 {
                return Err("at most 9 fractional digits are allowed".to_string());
            }
            for k in 0..9 {
                let digit = if k < n { i128::from(b[fs + k] - b'0') } else { 0 };
                frac_nanos = frac_nanos * 10 + digit;
            }
            if b.get(i) != Some(&b'S') {
                return Err("a fraction is only allowed on seconds".to_string());
            }
        }
        let Some(&unit) = b.get(i) else {
            return Err("number without a unit designator (D, H, M or S)".to_string());
        };
        i += 1;
        let (rank, nanos_per_unit): (u8, i128) = match (in_time, unit) {
            (false, b'D') => (1, 86_400 * 1_000_000_000),
            (true, b'H') => (2, 3_600 * 1_000_000_000),
            (true, b'M') => (3, 60 * 1_000_000_000),
            (true, b'S') => (4, 1_000_000_000),
            (false, b'Y' | b'M' | b'W') => {
                return Err("years, months and weeks are not supported; use days (nD) or a time part (T...)".to_string());
            }
            (false, b'H' | b'S') => {
                return Err("hours, minutes and seconds must follow 'T' (e.g. 'PT1H')".to_string());
            }
            _ => return Err(format!("unexpected designator '{}'", char::from(unit))),
        };
        if rank <= last_rank {
            return Err("components must appear once each, in the order D, H, M, S".to_string());
        }
        last_rank = rank;
        let mut value = whole * nanos_per_unit + frac_nanos;
        if neg {
            value = -value;
        }
        total += value;
        components += 1;
    }
    if components == 0 {
        return Err("no components after 'P' (e.g. 'PT1H', 'P2D')".to_string());
    }
    if negate {
        total = -total;
    }
    // Truncate toward zero like java.time.Duration#toMillis does for positive values.
    let ms = total / 1_000_000;
    i64::try_from(ms).map_err(|_| "duration too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_all_units() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("100", 100),
            ("100ms", 100),
            ("100MS", 100),
            ("30s", 30_000),
            ("30S", 30_000),
            ("5m", 300_000),
            ("5M", 300_000),
            ("2h", 7_200_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("  15s  ", 15_000),
            ("+5s", 5_000),
            ("-5", -5),
            ("-5m", -300_000),
            ("9223372036854775807", i64::MAX),
            ("9223372036854775807ms", i64::MAX),
        ];
        for (text, ms) in cases {
            assert_eq!(parse_duration(text), Ok(*ms), "{text}");
        }
    }

    #[test]
    fn duration_errors() {
        let forms = "expected a number followed by one of ms, s, m, h, d, w (e.g. '30s', '5m'); no unit means milliseconds";
        assert_eq!(parse_duration("5 minutes"), Err(format!("invalid duration '5 minutes': {forms}")));
        assert_eq!(parse_duration(""), Err(format!("invalid duration '': it is empty; {forms}")));
        assert_eq!(parse_duration("   "), Err(format!("invalid duration '   ': it is empty; {forms}")));
        for bad in ["5 m", "1.5s", "s", "ms", "abc", "5x", "--5", "+", "-", "5sec", "PT1H", "1_000", "٣s"] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.starts_with(&format!("invalid duration '{}'", bad.trim())), "{err}");
            assert!(err.contains("ms, s, m, h, d, w"), "{err}");
        }
        assert_eq!(
            parse_duration("9223372036854775808"),
            Err("invalid duration '9223372036854775808': the number is too large".to_string())
        );
        assert_eq!(
            parse_duration("9223372036854775807s"),
            Err("invalid duration '9223372036854775807s': too large to express in milliseconds".to_string())
        );
        assert!(parse_duration("99999999999999999999999999w").is_err());
        assert!(parse_duration("-9223372036854775807w").is_err());
    }

    #[test]
    fn policies() {
        use OffsetResetPolicy::*;
        let cases: &[(&str, Option<OffsetResetPolicy>)] = &[
            ("", Option::None),
            ("  ", Option::None),
            ("earliest", Some(Earliest)),
            ("EARLIEST", Some(Earliest)),
            ("Latest", Some(Latest)),
            (" latest ", Some(Latest)),
            ("none", Some(None)),
            ("NONE", Some(None)),
            ("by_duration:1h", Some(ByDuration(3_600_000))),
            ("BY_DURATION:30m", Some(ByDuration(1_800_000))),
            ("by_duration:1000", Some(ByDuration(1000))),
            ("by_duration: 2d", Some(ByDuration(172_800_000))),
            ("by_duration:PT1H", Some(ByDuration(3_600_000))),
            ("by_duration:pt1h", Some(ByDuration(3_600_000))),
            ("by_duration:P2D", Some(ByDuration(172_800_000))),
            ("by_duration:PT0.5S", Some(ByDuration(500))),
            ("by_duration:PT0,25S", Some(ByDuration(250))),
            ("by_duration:P1DT2H3M4.005S", Some(ByDuration(93_784_005))),
            ("by_duration:PT1H-30M", Some(ByDuration(1_800_000))),
            ("by_duration:PT0S", Some(ByDuration(0))),
            ("by_duration:PT0.0009S", Some(ByDuration(0))),
            ("by_duration:+PT1M", Some(ByDuration(60_000))),
        ];
        for (text, want) in cases {
            assert_eq!(parse_offset_reset_policy(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn policy_errors() {
        assert_eq!(
            parse_offset_reset_policy("beginning"),
            Err("unknown offset reset policy 'beginning': expected one of earliest, latest, none, \
                 by_duration:<duration> (e.g. 'by_duration:1h' or 'by_duration:PT1H')"
                .to_string())
        );
        assert_eq!(
            parse_offset_reset_policy("by_duration:"),
            Err("invalid offset reset policy 'by_duration:': missing duration after 'by_duration:' \
                 (e.g. 'by_duration:1h' or 'by_duration:PT1H')"
                .to_string())
        );
        assert_eq!(
            parse_offset_reset_policy("by_duration:-5m"),
            Err("invalid offset reset policy 'by_duration:-5m': the duration must not be negative".to_string())
        );
        assert_eq!(
            parse_offset_reset_policy("by_duration:-PT1H"),
            Err("invalid offset reset policy 'by_duration:-PT1H': the duration must not be negative".to_string())
        );
        let e = parse_offset_reset_policy("by_duration:5 minutes").unwrap_err();
        assert!(e.starts_with("invalid offset reset policy 'by_duration:5 minutes': '5 minutes' is neither"), "{e}");
        for bad in [
            "by_duration:P",
            "by_duration:PT",
            "by_duration:P1Y",
            "by_duration:P1M",
            "by_duration:P1W",
            "by_duration:P1H",
            "by_duration:PT1D",
            "by_duration:PT1.5H",
            "by_duration:PT1M1H",
            "by_duration:PT1H1H",
            "by_duration:PTT1H",
            "by_duration:PT1",
            "by_duration:PT0.1234567891S",
            "by_duration:PT99999999999999999999S",
            "by_duration:P106751991167301D",
            "by_duration",
            "earliest,latest",
        ] {
            assert!(parse_offset_reset_policy(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iso_details() {
        assert_eq!(parse_iso8601_duration("PT1.S"), Ok(1000));
        assert_eq!(parse_iso8601_duration("-PT-1H"), Ok(3_600_000));
        assert_eq!(parse_iso8601_duration("P-1D"), Ok(-86_400_000));
        assert_eq!(parse_iso8601_duration("1H"), Err("an ISO-8601 duration starts with 'P'".to_string()));
        assert_eq!(
            parse_iso8601_duration("P1Y"),
            Err("years, months and weeks are not supported; use days (nD) or a time part (T...)".to_string())
        );
    }

    #[test]
    fn display_round_trip() {
        for p in [
            OffsetResetPolicy::Earliest,
            OffsetResetPolicy::Latest,
            OffsetResetPolicy::None,
            OffsetResetPolicy::ByDuration(0),
            OffsetResetPolicy::ByDuration(123_456),
            OffsetResetPolicy::ByDuration(i64::MAX as u64),
        ] {
            assert_eq!(parse_offset_reset_policy(&p.to_string()), Ok(Some(p.clone())));
        }
    }

    #[test]
    fn never_panics() {
        let alphabet: Vec<char> = "0123456789+-.,:_ msdhwMSDHWPTYptyé by_duration:earliest".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut s = String::new();
            if next() % 3 == 0 {
                s.push_str("by_duration:");
            }
            for _ in 0..len {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            let _ = parse_duration(&s);
            let _ = parse_offset_reset_policy(&s);
            let _ = parse_iso8601_duration(&s);
        }
    }
}
