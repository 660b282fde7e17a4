//! Minimal UTC date handling: ISO-8601 basic format and IMF-fixdate.

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u32, |acc, d| acc.checked_mul(10)?.checked_add(u32::from(d - b'0')))
}

fn to_epoch(year: i64, month: u32, day: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + mi * 60 + s))
}

/// Parses `YYYYMMDD'T'HHMMSS'Z'` into seconds since the Unix epoch.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    to_epoch(
        i64::from(digits(&b[0..4])?),
        digits(&b[4..6])?,
        digits(&b[6..8])?,
        digits(&b[9..11])?,
        digits(&b[11..13])?,
        digits(&b[13..15])?,
    )
}

/// Parses an HTTP `Date` header: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`)
/// or, as some SigV4 clients send, the ISO-8601 basic format.
pub fn parse_http_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(t) = parse_amz_date(s) {
        return Some(t);
    }
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    if parts.len() != 6 || !parts[0].ends_with(',') || parts[5] != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let day = digits(parts[1].as_bytes())?;
    let month = MONTHS.iter().position(|m| *m == parts[2])? as u32 + 1;
    if parts[3].len() != 4 {
        return None;
    }
    let year = i64::from(digits(parts[3].as_bytes())?);
    let hms: Vec<&str> = parts[4].split(':').collect();
    if hms.len() != 3 || hms.iter().any(|p| p.len() != 2) {
        return None;
    }
    to_epoch(year, month, day, digits(hms[0].as_bytes())?, digits(hms[1].as_bytes())?, digits(hms[2].as_bytes())?)
}

/// Formats seconds since the Unix epoch as `YYYYMMDD'T'HHMMSS'Z'`.
pub fn format_amz_date(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, (secs % 3600) / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in [0i64, 1_440_938_160, 951_782_400, 4_102_444_799, 1_709_251_199] {
            assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
        }
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
    }

    #[test]
    fn rejects_bad_dates() {
        for s in [
            "",
            "20150830T123600",
            "20150230T123600Z",
            "20150830T243600Z",
            "2015083OT123600Z",
            "+0150830T123600Z",
            "20150830t123600Z",
        ] {
            assert_eq!(parse_amz_date(s), None, "{s}");
        }
        assert_eq!(parse_amz_date("20240229T000000Z"), Some(1_709_164_800));
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT"), Some(1_440_938_160));
        assert_eq!(parse_http_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT"), None);
        assert_eq!(parse_http_date("Sun 30 Aug 2015 12:36:00 GMT"), None);
    }
}
