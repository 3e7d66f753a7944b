//! ISO 8601 durations as Graph writes them: `PT8H`, `PT1H45M`, `P365D`, `P2W`, `PT0.5S`.
//!
//! Only units of fixed length are accepted: weeks (`W`, alone, as ISO 8601 writes them), days
//! (`D`, taken as 24 hours: role schedules are UTC), hours, minutes and seconds (the last unit
//! may have a decimal fraction, written with `.` or `,`). Years and months are refused: their
//! length depends on the calendar, and a role's maximum duration must mean one thing. Write
//! `P365D` rather than `P1Y`, `P30D` rather than `P1M`. Negative durations are refused.

use chrono::TimeDelta;

/// Why a string is not a duration Portcullis accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing was written.
    #[error("an ISO 8601 duration cannot be empty; write for example PT8H")]
    Empty,
    /// The text does not start with `P`.
    #[error(
        "'{0}' is not an ISO 8601 duration: it must start with 'P' (for example PT8H or P365D)"
    )]
    MissingDesignator(String),
    /// A negative duration.
    #[error("'{0}' is negative; a duration here must be zero or more")]
    Negative(String),
    /// Years or months.
    #[error(
        "'{0}' uses years or months, whose length depends on the calendar; \
         write days instead (P365D for a year, P30D for a month)"
    )]
    CalendarUnit(String),
    /// Any other syntax error, with what is wrong.
    #[error("'{text}' is not an ISO 8601 duration: {reason}")]
    Malformed {
        /// The text as written.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Too long to represent.
    #[error("'{0}' is too long to represent")]
    TooLarge(String),
}

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Parses an ISO 8601 duration of fixed-length units (see the module documentation).
pub fn parse_duration(text: &str) -> Result<TimeDelta, DurationError> {
    let malformed = |reason| DurationError::Malformed {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative(text.to_string()));
    }
    let body = text
        .strip_prefix('P')
        .ok_or_else(|| DurationError::MissingDesignator(text.to_string()))?;
    if body.is_empty() {
        return Err(malformed("it names no unit after 'P'"));
    }
    let (date_part, time_part) = match body.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return Err(malformed(
                    "'T' must be followed by hours, minutes or seconds",
                ));
            }
            (d, Some(t))
        }
        None => (body, None),
    };

    let mut seconds: i64 = 0;
    let mut nanos: i64 = 0;
    let too_large = || DurationError::TooLarge(text.to_string());
    let mut add = |count: i64, unit_seconds: i64| -> Result<(), DurationError> {
        let part = count.checked_mul(unit_seconds).ok_or_else(too_large)?;
        seconds = seconds.checked_add(part).ok_or_else(too_large)?;
        Ok(())
    };

    // Date part: nW alone, or nD.
    let date_units = components(date_part).map_err(malformed)?;
    match date_units.as_slice() {
        [] => {}
        [(n, 'W', None)] => {
            if time_part.is_some() {
                return Err(malformed("weeks cannot be combined with other units"));
            }
            add(*n, 7 * 86_400)?;
        }
        [(n, 'D', None)] => add(*n, 86_400)?,
        units => {
            if units.iter().any(|(_, u, _)| matches!(u, 'Y' | 'M')) {
                return Err(DurationError::CalendarUnit(text.to_string()));
            }
            if units.iter().any(|(_, _, f)| f.is_some()) {
                return Err(malformed("only seconds may have a fraction"));
            }
            return Err(malformed(
                "before 'T' only days (D) or weeks (W) may appear",
            ));
        }
    }

    // Time part: [nH][nM][n[.f]S], in that order, each at most once.
    if let Some(time) = time_part {
        let mut last = 0;
        for (n, unit, fraction) in components(time).map_err(malformed)? {
            let (rank, unit_seconds) = match unit {
                'H' => (1, 3_600),
                'M' => (2, 60),
                'S' => (3, 1),
                _ => {
                    return Err(malformed(
                        "after 'T' only hours (H), minutes (M) and seconds (S) may appear",
                    ))
                }
            };
            if rank <= last {
                return Err(malformed(
                    "units must appear once each, in the order H, M, S",
                ));
            }
            last = rank;
            if let Some(f) = fraction {
                if unit != 'S' {
                    return Err(malformed("only seconds may have a fraction"));
                }
                nanos = f;
            }
            add(n, unit_seconds)?;
        }
    }

    let total_nanos = seconds
        .checked_mul(NANOS_PER_SECOND)
        .and_then(|s| s.checked_add(nanos))
        .ok_or_else(too_large)?;
    Ok(TimeDelta::nanoseconds(total_nanos))
}

/// A number, its unit, and the nanoseconds of its fraction if it has one.
type Component = (i64, char, Option<i64>);

/// Splits `10D`, `1H30M5.5S` into components.
fn components(s: &str) -> Result<Vec<Component>, &'static str> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let mut digits = String::new();
        while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(c);
            chars.next();
        }
        let mut fraction = None;
        if chars.peek().is_some_and(|c| *c == '.' || *c == ',') {
            chars.next();
            let mut frac = String::new();
            while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
                frac.push(c);
                chars.next();
            }
            if frac.is_empty() || frac.len() > 9 {
                return Err("a fraction needs one to nine digits after the separator");
            }
            let scale = 10_i64.pow(9 - frac.len() as u32);
            let value: i64 = frac.parse().map_err(|_| "the fraction is not a number")?;
            fraction = Some(value * scale);
        }
        if digits.is_empty() {
            return Err("each unit needs a number before it");
        }
        if digits.len() > 12 {
            return Err("a number has too many digits");
        }
        let n: i64 = digits.parse().map_err(|_| "a number is not a number")?;
        let unit = chars.next().ok_or("the last number has no unit")?;
        if !unit.is_ascii_uppercase() {
            return Err("units are upper-case letters: W, D, H, M, S");
        }
        out.push((n, unit, fraction));
    }
    Ok(out)
}

/// Writes a duration the way Graph does: days, then hours, minutes and seconds (`P1DT2H`,
/// `PT8H`, `PT0S`). Negative durations are written as their magnitude with a leading `-`.
pub fn format_duration(d: TimeDelta) -> String {
    if d < TimeDelta::zero() {
        return format!("-{}", format_duration(-d));
    }
    let total = d.num_seconds();
    let nanos = d.subsec_nanos();
    let (days, rest) = (total / 86_400, total % 86_400);
    let (hours, minutes, seconds) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out.push_str(&format!("{days}D"));
    }
    if hours > 0 || minutes > 0 || seconds > 0 || nanos > 0 || days == 0 {
        out.push('T');
        if hours > 0 {
            out.push_str(&format!("{hours}H"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}M"));
        }
        if seconds > 0 || nanos > 0 {
            if nanos > 0 {
                let frac = format!("{nanos:09}");
                out.push_str(&format!("{seconds}.{}S", frac.trim_end_matches('0')));
            } else {
                out.push_str(&format!("{seconds}S"));
            }
        } else if hours == 0 && minutes == 0 {
            out.push_str("0S");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn ok(s: &str) -> TimeDelta {
        match parse_duration(s) {
            Ok(d) => d,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn reads_what_graph_writes() {
        assert_eq!(ok("PT8H"), TimeDelta::hours(8));
        assert_eq!(ok("PT1H45M"), TimeDelta::minutes(105));
        assert_eq!(ok("P365D"), TimeDelta::days(365));
        assert_eq!(ok("P180D"), TimeDelta::days(180));
        assert_eq!(ok("P1DT12H"), TimeDelta::hours(36));
        assert_eq!(ok("P2W"), TimeDelta::days(14));
        assert_eq!(ok("PT30M"), TimeDelta::minutes(30));
        assert_eq!(ok("PT0S"), TimeDelta::zero());
        assert_eq!(ok("PT1.5S"), TimeDelta::milliseconds(1500));
        assert_eq!(ok("PT0,25S"), TimeDelta::milliseconds(250));
        assert_eq!(ok("PT90M"), TimeDelta::minutes(90));
    }

    #[test]
    fn refuses_calendar_units_with_a_hint() {
        for s in ["P1Y", "P6M", "P1Y2M", "P1M10D"] {
            let err = parse_duration(s).unwrap_err();
            assert_eq!(err, DurationError::CalendarUnit(s.into()), "{s}");
            assert!(err.to_string().contains("P365D"), "{err}");
        }
    }

    #[test]
    fn refuses_malformed_text() {
        for s in [
            "P",
            "PT",
            "8H",
            "pt8h",
            "PT8",
            "PTH",
            "P1H",
            "PT1D",
            "PT1M1H",
            "PT1H1H",
            "P1W1D",
            "P1WT1H",
            "PT1.5H",
            "P1.5D",
            "PT1.S",
            "PT 8H",
            "PT8H ",
            "P1D1D",
            "PT1.1234567891S",
            "PT9999999999999H",
        ] {
            assert!(parse_duration(s).is_err(), "{s} accepted");
        }
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert!(matches!(
            parse_duration("-PT8H"),
            Err(DurationError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("8 hours"),
            Err(DurationError::MissingDesignator(_))
        ));
    }

    #[test]
    fn refuses_durations_too_long_to_represent() {
        assert!(matches!(
            parse_duration("P999999999999D"),
            Err(DurationError::TooLarge(_))
        ));
    }

    #[test]
    fn writes_as_graph_does() {
        assert_eq!(format_duration(TimeDelta::hours(8)), "PT8H");
        assert_eq!(format_duration(TimeDelta::days(365)), "P365D");
        assert_eq!(format_duration(TimeDelta::minutes(105)), "PT1H45M");
        assert_eq!(format_duration(TimeDelta::hours(36)), "P1DT12H");
        assert_eq!(format_duration(TimeDelta::zero()), "PT0S");
        assert_eq!(format_duration(TimeDelta::milliseconds(1500)), "PT1.5S");
        assert_eq!(format_duration(TimeDelta::seconds(61)), "PT1M1S");
        assert_eq!(format_duration(-TimeDelta::hours(1)), "-PT1H");
    }
}
