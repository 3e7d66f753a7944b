//! ISO 8601 durations (`pim::iso8601::parse_duration`): what PIM reads from a schedule
//! request's `expiration.duration` and a rule's `maximumDuration`.
//!
//! Beyond "no panic": a duration read is never negative, and the way the service writes it back
//! (`format_duration`) reads again to the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pim::iso8601::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(duration) = parse_duration(text) else {
        return;
    };
    assert!(
        duration >= chrono::TimeDelta::zero(),
        "{text} is {duration:?}"
    );
    let written = format_duration(duration);
    assert_eq!(
        parse_duration(&written),
        Ok(duration),
        "{text} is written {written}"
    );
});
