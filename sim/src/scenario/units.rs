//! Text forms of durations, rates and bandwidths, parsed exactly.
//!
//! Every quantity becomes an integer (nanoseconds, bits per second, a reduced
//! fraction of events per nanoseconds) without passing through a float, so
//! "1.5s" is exactly 1_500_000_000 ns on every machine. Each parser returns the
//! message the scenario error will carry; the caller adds file, line and column.

use celluler_core::time::{NS_PER_MS, NS_PER_S, NS_PER_US, TimeNs};

/// Digits after the decimal point we accept; more cannot change an exact
/// integer result and only invite overflow.
const FRACTION_DIGITS_MAX: usize = 18;

const NS_PER_MINUTE: TimeNs = 60 * NS_PER_S;

/// Duration units, in the order the error message lists them.
const DURATION_UNITS: [(&str, TimeNs); 5] = [
    ("ns", 1),
    ("us", NS_PER_US),
    ("ms", NS_PER_MS),
    ("s", NS_PER_S),
    ("m", NS_PER_MINUTE),
];

/// Bandwidth units (SI, bits per second).
const BANDWIDTH_UNITS: [(&str, u64); 5] = [
    ("bps", 1),
    ("kbps", 1_000),
    ("Mbps", 1_000_000),
    ("Gbps", 1_000_000_000),
    ("Tbps", 1_000_000_000_000),
];

/// Byte sizes: decimal (kB = 1000) and binary (KiB = 1024) prefixes.
const SIZE_UNITS: [(&str, u64); 7] = [
    ("B", 1),
    ("kB", 1_000),
    ("KiB", 1_024),
    ("MB", 1_000_000),
    ("MiB", 1_048_576),
    ("GB", 1_000_000_000),
    ("GiB", 1_073_741_824),
];

/// Rate denominators: "20/s", "1200/m", "1/ms".
const RATE_UNITS: [(&str, TimeNs); 3] = [("ms", NS_PER_MS), ("s", NS_PER_S), ("m", NS_PER_MINUTE)];

/// A non-negative decimal number as `mantissa / 10^fraction_digits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    fraction_digits: u32,
}

impl Decimal {
    /// `self * multiplier` if that is a whole number fitting in u64.
    fn times_exact(self, multiplier: u64) -> Result<u64, ExactError> {
        let scaled = self
            .mantissa
            .checked_mul(u128::from(multiplier))
            .ok_or(ExactError::TooLarge)?;
        let divisor = 10u128.pow(self.fraction_digits);
        if scaled % divisor != 0 {
            return Err(ExactError::NotWhole);
        }
        u64::try_from(scaled / divisor).map_err(|_| ExactError::TooLarge)
    }
}

enum ExactError {
    NotWhole,
    TooLarge,
}

/// Parses `digits[.digits]`; `None` on anything else (signs, exponents, spaces).
fn parse_decimal(text: &str) -> Option<Decimal> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if text.contains('.') && fraction.is_empty() {
        return None;
    }
    if fraction.len() > FRACTION_DIGITS_MAX || whole.len() > 30 {
        return None;
    }
    let mut mantissa: u128 = 0;
    for byte in whole.bytes().chain(fraction.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(u128::from(byte - b'0'))?;
    }
    Some(Decimal {
        mantissa,
        fraction_digits: fraction.len() as u32,
    })
}

/// Splits `"1.5ms"` into `("1.5", "ms")`, allowing spaces between the two.
fn split_number_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let unit_start = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    (&text[..unit_start], text[unit_start..].trim_start())
}

fn unit_list<T>(units: &[(&str, T)]) -> String {
    units
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A duration such as `"30s"`, `"1.5s"`, `"250us"`, `"2m"`, as integer ns.
pub fn parse_duration(text: &str) -> Result<TimeNs, String> {
    let expected = || {
        format!(
            "expected a duration like \"30s\" or \"1.5ms\" (a number, then one of {}), got \"{text}\"",
            unit_list(&DURATION_UNITS)
        )
    };
    let (number, unit) = split_number_unit(text);
    let Some(&(_, unit_ns)) = DURATION_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(expected());
    };
    let decimal = parse_decimal(number).ok_or_else(expected)?;
    decimal.times_exact(unit_ns).map_err(|error| match error {
        ExactError::NotWhole => {
            format!("\"{text}\" is not a whole number of nanoseconds")
        }
        ExactError::TooLarge => format!("\"{text}\" is too long (at most 584 years)"),
    })
}

/// A signed duration: `"-200ms"`, `"+1s"` or `"1s"`, as integer ns.
pub fn parse_signed_duration(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let (negative, magnitude) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let magnitude_ns = parse_duration(magnitude).map_err(|message| {
        message.replacen(&format!("\"{magnitude}\""), &format!("\"{text}\""), 1)
    })?;
    let magnitude_ns = i64::try_from(magnitude_ns)
        .map_err(|_| format!("\"{text}\" is too long (at most 292 years)"))?;
    Ok(if negative {
        -magnitude_ns
    } else {
        magnitude_ns
    })
}

/// A bandwidth such as `"100Mbps"`, `"1Gbps"`, `"512kbps"`, `"1.5Mbps"`, in
/// bits per second. Zero is rejected: a link that carries nothing is a
/// partition, which has its own fault.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a bandwidth like \"100Mbps\" (a number, then one of {}; bits per second), got \"{text}\"",
            unit_list(&BANDWIDTH_UNITS)
        )
    };
    let (number, unit) = split_number_unit(text);
    let Some(&(_, unit_bps)) = BANDWIDTH_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(expected());
    };
    let decimal = parse_decimal(number).ok_or_else(expected)?;
    let bits_per_second = decimal.times_exact(unit_bps).map_err(|error| match error {
        ExactError::NotWhole => {
            format!("bandwidth \"{text}\" is not a whole number of bits per second")
        }
        ExactError::TooLarge => format!("bandwidth \"{text}\" is too large"),
    })?;
    if bits_per_second == 0 {
        return Err(format!(
            "bandwidth must be more than 0, got \"{text}\" (to cut links, use a partition or link fault)"
        ));
    }
    Ok(bits_per_second)
}

/// A size in bytes: "256KiB", "1.5MB", "4096B".
pub fn parse_size(text: &str) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected a size like \"256KiB\" (a number, then one of {}), got \"{text}\"",
            unit_list(&SIZE_UNITS)
        )
    };
    let (number, unit) = split_number_unit(text);
    let Some(&(_, unit_bytes)) = SIZE_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(expected());
    };
    let decimal = parse_decimal(number).ok_or_else(expected)?;
    let bytes = decimal
        .times_exact(unit_bytes)
        .map_err(|error| match error {
            ExactError::NotWhole => format!("size \"{text}\" is not a whole number of bytes"),
            ExactError::TooLarge => format!("size \"{text}\" is too large"),
        })?;
    if bytes == 0 {
        return Err(format!("a size must be more than 0, got \"{text}\""));
    }
    Ok(bytes)
}

/// Events per unit of virtual time: `count` events every `per_ns` ns, reduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Rate {
    pub count: u64,
    pub per_ns: TimeNs,
}

impl Rate {
    pub const ZERO: Rate = Rate {
        count: 0,
        per_ns: NS_PER_S,
    };

    pub fn is_zero(self) -> bool {
        self.count == 0
    }

    /// Events per second, for display and reports (decides nothing).
    pub fn per_second(self) -> f64 {
        self.count as f64 * (NS_PER_S as f64 / self.per_ns as f64)
    }

    /// The mean gap between events in whole ns; `None` for a zero rate.
    pub fn mean_interval_ns(self) -> Option<TimeNs> {
        (self.count > 0).then(|| (self.per_ns / self.count).max(1))
    }

    /// How many events fall in `span_ns` at this rate, rounded down; exact.
    pub fn events_in(self, span_ns: TimeNs) -> u64 {
        let events = u128::from(self.count) * u128::from(span_ns) / u128::from(self.per_ns);
        u64::try_from(events).unwrap_or(u64::MAX)
    }
}

fn greatest_common_divisor(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A rate such as `"20/s"`, `"0.5/s"`, `"1200/m"`, `"3/ms"`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let expected = || {
        format!(
            "expected a rate like \"20/s\" (a number, '/', then one of {}), got \"{text}\"",
            unit_list(&RATE_UNITS)
        )
    };
    let (number, unit) = text.trim().split_once('/').ok_or_else(expected)?;
    let unit = unit.trim();
    let Some(&(_, unit_ns)) = RATE_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(expected());
    };
    let decimal = parse_decimal(number.trim()).ok_or_else(expected)?;
    // mantissa / 10^digits events per unit_ns = mantissa events per unit_ns * 10^digits.
    let per_ns = u128::from(unit_ns) * 10u128.pow(decimal.fraction_digits);
    if decimal.mantissa == 0 {
        return Ok(Rate::ZERO);
    }
    let divisor = greatest_common_divisor(decimal.mantissa, per_ns);
    let too_large = || format!("rate \"{text}\" is out of range");
    let count = u64::try_from(decimal.mantissa / divisor).map_err(|_| too_large())?;
    let per_ns = u64::try_from(per_ns / divisor).map_err(|_| too_large())?;
    Ok(Rate { count, per_ns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn unit_parsers_never_panic(text in "\\PC{0,40}") {
            let _ = parse_duration(&text);
            let _ = parse_signed_duration(&text);
            let _ = parse_bandwidth(&text);
            let _ = parse_size(&text);
            let _ = parse_rate(&text);
        }

        #[test]
        fn decimal_seconds_are_exact(whole in 0u64..1_000_000, millis in 0u64..1000) {
            let text = format!("{whole}.{millis:03}s");
            prop_assert_eq!(parse_duration(&text), Ok(whole * NS_PER_S + millis * NS_PER_MS));
        }

        #[test]
        fn durations_round_trip_through_format(ns in 0u64..u64::MAX / 2) {
            let text = super::super::format_duration(ns);
            prop_assert_eq!(parse_duration(&text), Ok(ns), "{}", text);
        }
    }

    #[test]
    fn durations_in_every_unit() {
        let table: [(&str, TimeNs); 12] = [
            ("0s", 0),
            ("7ns", 7),
            ("3us", 3_000),
            ("250ms", 250_000_000),
            ("30s", 30_000_000_000),
            ("2m", 120_000_000_000),
            ("1.5s", 1_500_000_000),
            ("0.1s", 100_000_000),
            ("0.000000001s", 1),
            ("1.25ms", 1_250_000),
            (" 30 s ", 30_000_000_000),
            ("0.5m", 30_000_000_000),
        ];
        for (text, expected_ns) in table {
            assert_eq!(parse_duration(text), Ok(expected_ns), "{text}");
        }
    }

    #[test]
    fn decimal_durations_are_exact_where_floats_are_not() {
        // 0.3 * 1e9 in f64 is 299999999.99999994; the exact parser gives 300 ms.
        assert_eq!(parse_duration("0.3s"), Ok(300_000_000));
        assert_eq!(parse_duration("4.35s"), Ok(4_350_000_000));
        assert_eq!(parse_duration("0.1m"), Ok(6_000_000_000));
    }

    #[test]
    fn bad_durations_say_what_is_allowed() {
        for text in [
            "", "s", "30", "30sec", "30h", "1.s", ".5s", "-1s", "1e3ms", "1,5s", "3 0s", "ms30",
        ] {
            let message = parse_duration(text).unwrap_err();
            assert!(message.contains("ns, us, ms, s, m"), "{text}: {message}");
        }
        let message = parse_duration("1.5ns").unwrap_err();
        assert!(
            message.contains("not a whole number of nanoseconds"),
            "{message}"
        );
        let message = parse_duration("600000000000m").unwrap_err();
        assert!(message.contains("too long"), "{message}");
        assert!(parse_duration("99999999999999999999999999999999999s").is_err());
        assert!(parse_duration("1.0000000000000000000000s").is_err());
    }

    #[test]
    fn signed_durations() {
        assert_eq!(parse_signed_duration("-200ms"), Ok(-200_000_000));
        assert_eq!(parse_signed_duration("+1s"), Ok(1_000_000_000));
        assert_eq!(parse_signed_duration("1.5us"), Ok(1_500));
        assert!(parse_signed_duration("--1s").is_err());
        assert!(parse_signed_duration("-").is_err());
        assert!(
            parse_signed_duration("-200000000m")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("256KiB"), Ok(262_144));
        assert_eq!(parse_size("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_size("4096B"), Ok(4_096));
        assert_eq!(parse_size("2GiB"), Ok(2_147_483_648));
        assert!(parse_size("0B").unwrap_err().contains("more than 0"));
        assert!(parse_size("0.5B").unwrap_err().contains("whole number"));
        for text in ["256kib", "256", "big", "KiB"] {
            let message = parse_size(text).unwrap_err();
            assert!(message.contains("B, kB, KiB, MB"), "{text}: {message}");
        }
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("100Mbps"), Ok(100_000_000));
        assert_eq!(parse_bandwidth("1Gbps"), Ok(1_000_000_000));
        assert_eq!(parse_bandwidth("512kbps"), Ok(512_000));
        assert_eq!(parse_bandwidth("1.5Mbps"), Ok(1_500_000));
        assert_eq!(parse_bandwidth("9600bps"), Ok(9_600));
        assert_eq!(parse_bandwidth("10 Gbps"), Ok(10_000_000_000));
        for text in ["100MBps", "100", "100mbps", "fast", "1.5.5Mbps", "Mbps"] {
            let message = parse_bandwidth(text).unwrap_err();
            assert!(
                message.contains("bps, kbps, Mbps, Gbps"),
                "{text}: {message}"
            );
        }
        assert!(
            parse_bandwidth("0Mbps")
                .unwrap_err()
                .contains("more than 0")
        );
        assert!(
            parse_bandwidth("0.5bps")
                .unwrap_err()
                .contains("whole number")
        );
        assert!(
            parse_bandwidth("99999999999Tbps")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("20/s"),
            Ok(Rate {
                count: 1,
                per_ns: 50_000_000
            })
        );
        assert_eq!(parse_rate("20/s").unwrap().per_second(), 20.0);
        assert_eq!(
            parse_rate("0.5/s").unwrap().mean_interval_ns(),
            Some(2_000_000_000)
        );
        assert_eq!(parse_rate("1200/m").unwrap().per_second(), 20.0);
        assert_eq!(parse_rate("3/ms").unwrap().per_second(), 3000.0);
        assert_eq!(parse_rate("2.5/s").unwrap().events_in(10 * NS_PER_S), 25);
        assert_eq!(parse_rate("0/s"), Ok(Rate::ZERO));
        assert!(parse_rate("0/s").unwrap().is_zero());
        assert_eq!(parse_rate("0/s").unwrap().mean_interval_ns(), None);
        assert_eq!(parse_rate(" 20 / s "), parse_rate("20/s"));
        for text in ["20", "20/h", "/s", "x/s", "20/", "-1/s", "20//s"] {
            let message = parse_rate(text).unwrap_err();
            assert!(message.contains("like \"20/s\""), "{text}: {message}");
        }
    }
}
