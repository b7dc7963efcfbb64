//! Values with preconditions: parsed once at the edge, trusted everywhere after.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::DomainError;

/// Service time, kept exactly as whole minutes (no floats anywhere near hours).
/// Always positive: a participation of zero minutes is not a participation.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minutes(u32);

impl Minutes {
    /// A day: no member serves more than this on one date.
    pub const DAY: u32 = 24 * 60;

    /// Exact minutes; zero is rejected, and so is more than a day.
    pub fn new(minutes: u32) -> Option<Self> {
        (1..=Self::DAY).contains(&minutes).then_some(Self(minutes))
    }

    /// Parses hours as a clerk types them: `2`, `2.5`, `1.25` or `2:30` (h:mm). The value
    /// must be a whole number of minutes, positive, and at most 24 hours.
    pub fn parse_hours(field: &str, text: &str) -> Result<Self, DomainError> {
        let bad = |reason: &str| DomainError::InvalidHours {
            field: field.to_owned(),
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let text_trim = text.trim();
        let minutes: u64 = if let Some((h, m)) = text_trim.split_once(':') {
            let h: u64 = h.parse().map_err(|_| bad("hours must be digits"))?;
            let m: u64 = m.parse().map_err(|_| bad("minutes must be digits"))?;
            if m >= 60 || h > 24 {
                return Err(bad("expected h:mm with minutes below 60"));
            }
            h * 60 + m
        } else {
            let (whole, frac) = text_trim.split_once('.').unwrap_or((text_trim, ""));
            if whole.is_empty() && frac.is_empty() || frac.len() > 4 {
                return Err(bad("expected hours such as 2, 2.5 or 2:30"));
            }
            if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("hours must be a positive number"));
            }
            let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad("too large"))? };
            if whole > 24 {
                return Err(bad("more than 24 hours"));
            }
            // Scale the fraction to ten-thousandths, then require whole minutes.
            let scale = 10u64.pow(4 - frac.len() as u32);
            let frac_units: u64 =
                if frac.is_empty() { 0 } else { frac.parse::<u64>().map_err(|_| bad("bad fraction"))? * scale };
            let total = whole * 10_000 + frac_units; // hours × 10⁴
            if (total * 60) % 10_000 != 0 {
                return Err(bad("not a whole number of minutes"));
            }
            total * 60 / 10_000
        };
        if minutes == 0 {
            return Err(bad("hours must be positive"));
        }
        if minutes > Self::DAY as u64 {
            return Err(bad("more than 24 hours"));
        }
        Ok(Self(minutes as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Minutes shown as hours with two decimals, rounded half up ("1.50" for 90 minutes),
/// as ledgers and reports print them; totals may exceed a day.
pub fn hours_text(minutes: u64) -> String {
    // Digits by hand: ledgers print this for every line, and `format!` cost a few
    // percent of an API ledger page.
    let hundredths = (minutes * 100 + 30) / 60;
    let mut digits = [0u8; 24];
    let mut i = digits.len();
    let mut rest = hundredths;
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 && i <= digits.len() - 3 {
            break;
        }
    }
    let whole = &digits[i..digits.len() - 2];
    let mut text = String::with_capacity(whole.len() + 3);
    text.extend(whole.iter().map(|b| *b as char));
    text.push('.');
    text.extend(digits[digits.len() - 2..].iter().map(|b| *b as char));
    text
}

impl fmt::Display for Minutes {
    /// Hours with two decimals, as reports show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hours_text(self.0 as u64))
    }
}

impl fmt::Debug for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}min", self.0)
    }
}

/// A time of day in minutes after midnight, 00:00 to 24:00 (24:00 ends a day).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClockTime(u16);

impl ClockTime {
    pub fn parse(field: &str, text: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is not a time of day (HH:MM, 00:00–24:00)"),
        };
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        if h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u16 = h.parse().map_err(|_| bad())?;
        let m: u16 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(Self(h * 60 + m))
    }

    pub fn from_minutes(minutes: u16) -> Option<Self> {
        (minutes <= 24 * 60).then_some(Self(minutes))
    }

    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m) = ((self.0 / 60) as u8, (self.0 % 60) as u8);
        let text = [b'0' + h / 10, b'0' + h % 10, b':', b'0' + m / 10, b'0' + m % 10];
        f.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

impl fmt::Debug for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A span of one day's clock: `start < end`. Outings happen within one calendar day,
/// which keeps the 24-hours-a-day rule a rule about one date.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimeRange {
    pub start: ClockTime,
    pub end: ClockTime,
}

impl TimeRange {
    pub fn new(field: &str, start: ClockTime, end: ClockTime) -> Result<Self, DomainError> {
        if start >= end {
            return Err(DomainError::InvalidValue {
                field: field.to_owned(),
                reason: format!("ends at {end}, not after it starts at {start}"),
            });
        }
        Ok(Self { start, end })
    }

    pub fn minutes(self) -> u32 {
        (self.end.0 - self.start.0) as u32
    }

    pub fn contains(self, inner: TimeRange) -> bool {
        self.start <= inner.start && inner.end <= self.end
    }

    pub fn overlaps(self, other: TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.start, self.end)
    }
}

/// Free text a clerk typed: trimmed, non-empty, bounded, no control characters. Chinese
/// text is counted in characters, not bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(String);

impl Text {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(field: &str, text: &str) -> Result<Self, DomainError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DomainError::Empty { field: field.to_owned() });
        }
        let chars = trimmed.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(DomainError::TooLong {
                field: field.to_owned(),
                max_chars: Self::MAX_CHARS,
                actual_chars: chars,
            });
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(DomainError::InvalidValue {
                field: field.to_owned(),
                reason: "contains control characters".to_owned(),
            });
        }
        check_visible(field, trimmed)?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A moment in UTC, microseconds since the Unix epoch. Compact in the log (a varint),
/// exact, and ordered.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        Self((at.unix_timestamp_nanos() / 1_000) as i64)
    }

    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The moment a service date and clock time name, in China Standard Time (UTC+8),
    /// where the service units are.
    pub fn of_service(date: Date, at: ClockTime) -> Self {
        let midnight = date.midnight().assume_offset(time::macros::offset!(+8));
        Self::from_datetime(midnight).plus_minutes(at.minutes() as i64)
    }

    /// The service date (China Standard Time) this moment falls on.
    pub fn service_date(self) -> Date {
        self.to_datetime().to_offset(time::macros::offset!(+8)).date()
    }

    pub fn plus_minutes(self, minutes: i64) -> Self {
        Self(self.0 + minutes * 60_000_000)
    }

    /// RFC 3339 to the whole second (`2026-07-01T08:00:00Z`), as proofs and credentials
    /// state their moments.
    pub fn to_rfc3339_seconds(self) -> String {
        Self(self.0 - self.0.rem_euclid(1_000_000)).to_rfc3339()
    }

    pub fn to_rfc3339(self) -> String {
        self.to_datetime().format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| self.0.to_string())
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Refuses characters that are invisible or change the direction of what follows: a
/// name with a right-to-left override reads one way on a screen, another in a report or
/// a terminal, and one with a zero-width space looks like another name.
pub fn check_visible(field: &str, text: &str) -> Result<(), DomainError> {
    let hidden = |c: &char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}');
    match text.chars().find(hidden) {
        Some(c) => Err(DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("contains U+{:04X}, a character that is invisible or reorders the text", c as u32),
        }),
        None => Ok(()),
    }
}

/// The first date taizhang accepts anywhere (a birth date, an outing, a report's period).
pub const EARLIEST_DATE: Date = time::macros::date!(1900 - 01 - 01);
/// The last date taizhang accepts anywhere.
pub const LATEST_DATE: Date = time::macros::date!(2099 - 12 - 31);

/// Refuses a date outside [`EARLIEST_DATE`]..=[`LATEST_DATE`] (a mistyped year: 0011,
/// 2911).
pub fn check_date(field: &str, date: Date) -> Result<(), DomainError> {
    if (EARLIEST_DATE..=LATEST_DATE).contains(&date) {
        Ok(())
    } else {
        Err(DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{date} is outside {EARLIEST_DATE} to {LATEST_DATE}"),
        })
    }
}

/// Parses a date for the named field: ISO (`2011-06-15`), or year, month and day
/// separated by `/` or `-` without leading zeros (`2011/6/15`), as spreadsheets in China
/// write dates. A well-formed date that is not on the calendar is told apart from a
/// text that is not a date.
pub fn parse_date(field: &str, text: &str) -> Result<Date, DomainError> {
    let invalid = |reason: String| DomainError::InvalidValue { field: field.to_owned(), reason };
    let trimmed = text.trim();
    let parts: Vec<&str> = trimmed.split(['-', '/']).collect();
    let number = |part: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<u16>().ok())?
    };
    let same_separator = trimmed.contains('-') != trimmed.contains('/');
    let numbers = match parts.as_slice() {
        [y, m, d] if same_separator => number(y, 4..=4).zip(number(m, 1..=2)).zip(number(d, 1..=2)),
        _ => None,
    };
    let Some(((year, month), day)) = numbers else {
        return Err(invalid(format!("{text:?} is not a date (YYYY-MM-DD, or YYYY/M/D as spreadsheets write it)")));
    };
    let month = u8::try_from(month).ok().and_then(|m| time::Month::try_from(m).ok());
    month
        .and_then(|month| Date::from_calendar_date(i32::from(year), month, u8::try_from(day).ok()?).ok())
        .ok_or_else(|| invalid(format!("{trimmed} is not a day of the calendar")))
}

/// An inclusive range of dates, such as a service month. Periods are data, not code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Period {
    pub first: Date,
    pub last: Date,
}

impl Period {
    pub fn new(first: Date, last: Date) -> Result<Self, DomainError> {
        check_date("period.first", first)?;
        check_date("period.last", last)?;
        if last < first {
            return Err(DomainError::InvalidValue {
                field: "period".to_owned(),
                reason: format!("ends {last} before it starts {first}"),
            });
        }
        Ok(Self { first, last })
    }

    /// A calendar month, e.g. the service month of June 2011.
    pub fn month(year: i32, month: time::Month) -> Result<Self, DomainError> {
        let first = Date::from_calendar_date(year, month, 1)
            .map_err(|e| DomainError::InvalidValue { field: "period".to_owned(), reason: e.to_string() })?;
        let last = Date::from_calendar_date(year, month, month.length(year))
            .map_err(|e| DomainError::InvalidValue { field: "period".to_owned(), reason: e.to_string() })?;
        Ok(Self { first, last })
    }

    pub fn contains(self, date: Date) -> bool {
        self.first <= date && date <= self.last
    }
}

/// A half-year, the period of an evaluation (一诺双评): `2011H1` is January to June.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HalfYear {
    pub year: i32,
    /// 1 or 2.
    pub half: u8,
}

impl HalfYear {
    pub fn parse(field: &str, text: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is not a half-year such as 2011H1"),
        };
        let (year, half) = text.trim().split_once(['H', 'h']).ok_or_else(bad)?;
        let year: i32 = year.parse().map_err(|_| bad())?;
        let half: u8 = half.parse().map_err(|_| bad())?;
        if !(1..=2).contains(&half) || !(1900..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, half })
    }

    pub fn containing(date: Date) -> Self {
        Self { year: date.year(), half: if (date.month() as u8) <= 6 { 1 } else { 2 } }
    }

    /// The half-year before this one.
    pub fn previous(self) -> Self {
        if self.half == 2 {
            Self { year: self.year, half: 1 }
        } else {
            Self { year: self.year - 1, half: 2 }
        }
    }

    pub fn period(self) -> Period {
        let (first, last) = if self.half == 1 {
            (time::Month::January, time::Month::June)
        } else {
            (time::Month::July, time::Month::December)
        };
        let first = Date::from_calendar_date(self.year, first, 1).expect("valid year");
        let last = Date::from_calendar_date(self.year, last, last.length(self.year)).expect("valid year");
        Period { first, last }
    }
}

impl fmt::Display for HalfYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}H{}", self.year, self.half)
    }
}

/// An ISO week (Monday to Sunday), the period of a unit's weekly summary (一周一小结):
/// `2011-W23` is 6 to 12 June 2011.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IsoWeek {
    pub year: i32,
    /// 1 to 52 or 53.
    pub week: u8,
}

impl IsoWeek {
    /// `2011-W23` (or `2011W23`); a week the year does not have is refused.
    pub fn parse(field: &str, text: &str) -> Result<Self, DomainError> {
        let bad = |why: &str| DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{text:?} is not an ISO week such as 2011-W23{why}"),
        };
        let (year, week) = text.trim().split_once(['W', 'w']).ok_or_else(|| bad(""))?;
        let year: i32 = year.trim_end_matches('-').parse().map_err(|_| bad(""))?;
        let week: u8 = week.parse().map_err(|_| bad(""))?;
        let first = Date::from_iso_week_date(year, week, time::Weekday::Monday).map_err(|_| bad(": no such week"))?;
        check_date(field, first)?;
        Ok(Self { year, week })
    }

    pub fn containing(date: Date) -> Self {
        let (year, week, _) = date.to_iso_week_date();
        Self { year, week }
    }

    /// Monday to Sunday.
    pub fn period(self) -> Period {
        let day = |weekday| Date::from_iso_week_date(self.year, self.week, weekday).expect("a parsed week exists");
        Period { first: day(time::Weekday::Monday), last: day(time::Weekday::Sunday) }
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

/// An evaluation score, 0 to 100.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(u8);

impl Score {
    pub fn new(field: &str, value: i64) -> Result<Self, DomainError> {
        u8::try_from(value).ok().filter(|v| *v <= 100).map(Self).ok_or_else(|| DomainError::InvalidValue {
            field: field.to_owned(),
            reason: format!("{value} is not a score from 0 to 100"),
        })
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_years_and_scores() {
        let h = HalfYear::parse("h", "2011H1").unwrap();
        assert_eq!(
            h.period(),
            Period::new(parse_date("d", "2011-01-01").unwrap(), parse_date("d", "2011-06-30").unwrap()).unwrap()
        );
        assert_eq!(HalfYear::containing(parse_date("d", "2011-07-01").unwrap()).to_string(), "2011H2");
        for bad in ["2011", "2011H3", "H1", "2011H0"] {
            assert!(HalfYear::parse("h", bad).is_err(), "{bad}");
        }
        assert!(Score::new("s", 100).is_ok());
        assert!(Score::new("s", 101).is_err());
        assert!(Score::new("s", -1).is_err());
    }

    #[test]
    fn hours_print_with_two_decimals_rounded_half_up() {
        let cases = [(0, "0.00"), (1, "0.02"), (30, "0.50"), (90, "1.50"), (100, "1.67"), (1440, "24.00")];
        for (minutes, text) in cases {
            assert_eq!(hours_text(minutes), text);
        }
        assert_eq!(hours_text(6_000_000), "100000.00");
        assert_eq!(ClockTime::from_minutes(8 * 60 + 5).unwrap().to_string(), "08:05");
        assert_eq!(ClockTime::from_minutes(24 * 60).unwrap().to_string(), "24:00");
    }

    #[test]
    fn hours_parse_exactly_and_reject_what_is_not_whole_positive_minutes() {
        let ok = |s: &str| Minutes::parse_hours("hours", s).map(Minutes::get);
        assert_eq!(ok("2").unwrap(), 120);
        assert_eq!(ok("2.5").unwrap(), 150);
        assert_eq!(ok("1.25").unwrap(), 75);
        assert_eq!(ok("0.05").unwrap(), 3);
        assert_eq!(ok("2:30").unwrap(), 150);
        assert_eq!(ok("24").unwrap(), 1440);
        for bad in ["0", "0.0", "-1", "1.33", "24.5", "25", "abc", "", ".", "1e3", "2:75", "NaN"] {
            assert!(ok(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(Minutes::new(150).unwrap().to_string(), "2.50");
        assert_eq!(Minutes::new(20).unwrap().to_string(), "0.33");
        assert!(Minutes::new(0).is_none());
    }

    #[test]
    fn clock_times_and_ranges() {
        let t = |s| ClockTime::parse("t", s).unwrap();
        assert_eq!(t("08:30").minutes(), 510);
        assert_eq!(t("24:00").minutes(), 1440);
        for bad in ["24:01", "8", "08:60", "x:00", "-1:00", "08:5"] {
            assert!(ClockTime::parse("t", bad).is_err(), "{bad}");
        }
        assert!(TimeRange::new("span", t("10:00"), t("09:00")).is_err());
        assert!(TimeRange::new("span", t("10:00"), t("10:00")).is_err());
        let morning = TimeRange::new("span", t("08:00"), t("12:00")).unwrap();
        let noon = TimeRange::new("span", t("12:00"), t("13:00")).unwrap();
        assert!(!morning.overlaps(noon), "touching spans do not overlap");
        assert!(morning.overlaps(TimeRange::new("s", t("11:59"), t("12:30")).unwrap()));
        assert_eq!(morning.minutes(), 240);
    }

    #[test]
    fn text_is_trimmed_counted_in_characters_and_bounded() {
        assert_eq!(Text::parse("name", "  十堰市税务大厅 ").unwrap().as_str(), "十堰市税务大厅");
        assert!(matches!(Text::parse("name", "  "), Err(DomainError::Empty { .. })));
        assert!(Text::parse("name", &"汉".repeat(500)).is_ok());
        assert!(matches!(Text::parse("name", &"汉".repeat(501)), Err(DomainError::TooLong { .. })));
        assert!(Text::parse("name", "a\u{0}b").is_err());
        for hidden in ["王\u{202E}俊", "王\u{200B}俊", "\u{2066}王俊", "王俊\u{FEFF}x"] {
            assert_eq!(Text::parse("name", hidden).unwrap_err().field(), Some("name"), "{hidden:?}");
        }
        assert!(Text::parse("name", "王俊 (Wáng Jùn) ❤").is_ok());
    }

    #[test]
    fn service_moments_are_in_china_standard_time() {
        let date = parse_date("date", "2011-06-15").unwrap();
        let at = Timestamp::of_service(date, ClockTime::parse("t", "08:00").unwrap());
        assert_eq!(at.to_rfc3339(), "2011-06-15T00:00:00Z");
        assert!(parse_date("date", "2011-02-30").is_err());
        for written in ["2011/6/15", "2011-6-15", "2011/06/15", " 2011-06-15 "] {
            assert_eq!(parse_date("date", written).unwrap(), date, "{written}");
        }
        for wrong in ["2011/6-15", "11/6/15", "2011/6/15/1", "2011-06-15T00:00", "6/15/2011", "二〇一一年六月", ""]
        {
            let reason = parse_date("date", wrong).unwrap_err().to_string();
            assert!(reason.contains("is not a date (YYYY-MM-DD"), "{wrong}: {reason}");
        }
        let reason = parse_date("date", "1975-02-30").unwrap_err().to_string();
        assert_eq!(reason, "date: 1975-02-30 is not a day of the calendar");
        assert!(check_date("date", parse_date("date", "1900-01-01").unwrap()).is_ok());
        for far in ["0000-01-01", "1899-12-31", "2100-01-01", "9999-12-31"] {
            assert!(check_date("date", parse_date("date", far).unwrap()).is_err(), "{far}");
        }
        assert!(Period::new(parse_date("d", "0165-09-06").unwrap(), parse_date("d", "2000-01-01").unwrap()).is_err());
        let june = Period::month(2011, time::Month::June).unwrap();
        assert!(june.contains(parse_date("d", "2011-06-30").unwrap()));
        assert!(!june.contains(parse_date("d", "2011-07-01").unwrap()));
    }
}

/// Codes a person reads off paper or a poster and types on a phone (a certificate's
/// check code, an outing's site code): Crockford's base 32, which leaves out I, L, O and
/// U, so that what is typed has no look-alikes.
pub mod typed_code {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

    /// The first `len` characters (at most 12) of `bits` in Crockford's base 32, five
    /// bits each from the top.
    pub fn encode(bits: u64, len: usize) -> String {
        (0..len.min(12)).map(|i| ALPHABET[((bits >> (59 - 5 * i)) & 31) as usize] as char).collect()
    }

    /// A code as typed: case, spaces and dashes ignored, and the letters the alphabet
    /// leaves out read as the digits they look like (O as 0, I and L as 1).
    pub fn normalise(typed: &str) -> String {
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_code_is_read_as_typed_from_paper() {
            let code = super::encode(0x0123_4567_89AB_CDEF, 10);
            assert_eq!(code.len(), 10);
            assert!(!code.contains(['I', 'L', 'O', 'U']));
            assert_eq!(super::normalise(&format!(" {} ", code.to_lowercase())), code);
            assert_eq!(super::normalise("o1-il 0"), "01110");
        }
    }
}
