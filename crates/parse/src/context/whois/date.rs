//! Lenient date parsing for the many spellings WHOIS servers use, normalised to UTC.
//!
//! The text is split into tokens (numbers, words, times, zones) rather than matched against a
//! fixed list of patterns, so that `2004/06/15`, `15-jun-2004`, `2012. 05. 19.`, `19961206 #24302`,
//! `Tue Jan 21 2003`, `2017/06/01 01:05:09 (JST)`, `2010-08-13 23:16:40 (UTC+8)` and RFC 3339 all
//! take the same path. A time without a zone is read as UTC. Day-first is assumed for
//! all-numeric dates with the year last (`05.06.2019` is 5 June) unless that is impossible.

use chrono::{Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use threatintel_model::Timestamp;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A run of digits, with its length (leading zeros matter for `YYYYMMDD`).
    Num(u32, usize),
    Month(u32),
    /// `hh:mm[:ss[.frac]]`, as nanoseconds since midnight.
    Time(NaiveTime),
    /// A UTC offset in seconds, from `Z`, `+09:00`, `UTC+8`, `JST`, ...
    Zone(i32),
    /// `am` / `pm`.
    Meridiem(bool),
    /// `T` between a date and a time.
    T,
}

const MONTHS: [(&str, u32); 12] = [
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
];

/// Month names and abbreviations in the languages registries answer in.
const MONTH_WORDS: [(&str, u32); 30] = [
    ("janvier", 1),
    ("fevrier", 2),
    ("février", 2),
    ("mars", 3),
    ("avril", 4),
    ("mai", 5),
    ("juin", 6),
    ("juillet", 7),
    ("aout", 8),
    ("août", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("decembre", 12),
    ("décembre", 12),
    ("januar", 1),
    ("februar", 2),
    ("märz", 3),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("agosto", 8),
    ("septiembre", 9),
    ("diciembre", 12),
];

/// Zone abbreviations with a fixed, unambiguous-enough offset (hours east of UTC, in minutes).
const ZONES: [(&str, i32); 38] = [
    ("wat", 60),
    ("cat", 120),
    ("sast", 120),
    ("eat", 180),
    ("utc", 0),
    ("gmt", 0),
    ("ut", 0),
    ("z", 0),
    ("wet", 0),
    ("west", 60),
    ("bst", 60),
    ("cet", 60),
    ("met", 60),
    ("cest", 120),
    ("mest", 120),
    ("eet", 120),
    ("eest", 180),
    ("msk", 180),
    ("msd", 240),
    ("ist", 330),
    ("ict", 420),
    ("wib", 420),
    ("hkt", 480),
    ("sgt", 480),
    ("awst", 480),
    ("jst", 540),
    ("kst", 540),
    ("acst", 570),
    ("aest", 600),
    ("aedt", 660),
    ("nzst", 720),
    ("nzdt", 780),
    ("est", -300),
    ("edt", -240),
    ("cdt", -300),
    ("mst", -420),
    ("pst", -480),
    ("pdt", -420),
];

fn zone_word(word: &str) -> Option<i32> {
    // `CST` is China Standard Time in CNNIC answers and US Central elsewhere; registries that
    // write it are mostly US registrars, but `.cn` answers carry no zone at all.
    match word {
        "cst" => return Some(-360 * 60),
        "mdt" => return Some(-360 * 60),
        "clt" => return Some(-240 * 60),
        "clst" => return Some(-180 * 60),
        "brt" => return Some(-180 * 60),
        _ => {}
    }
    ZONES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, minutes)| minutes * 60)
}

fn month_word(word: &str) -> Option<u32> {
    if let Some((_, m)) = MONTH_WORDS.iter().find(|(w, _)| *w == word) {
        return Some(*m);
    }
    if word.len() >= 3 && word.is_ascii() {
        let prefix = &word[..3];
        let (name, m) = MONTHS.iter().find(|(n, _)| *n == prefix)?;
        // `march`, `sept`, `sept.`: the full English name or a prefix of it.
        let full = [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ][*m as usize - 1];
        if full.starts_with(word) || (*name == "sep" && word == "sept") {
            return Some(*m);
        }
    }
    None
}

/// Parses `+0900`, `+09:00`, `+9`, `-07`, `+0:00` (the sign already consumed) into seconds.
fn offset_digits(sign: i32, text: &str) -> Option<i32> {
    let (h, m) = match text.split_once(':') {
        Some((h, m)) => (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?),
        None if text.len() == 4 => (text[..2].parse().ok()?, text[2..].parse().ok()?),
        None if !text.is_empty() && text.len() <= 2 => (text.parse().ok()?, 0),
        None => return None,
    };
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let mut parts = text.splitn(3, ':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let (s, nanos) = match parts.next() {
        None => (0, 0),
        Some(rest) => {
            let (s, frac) = match rest.split_once(['.', ',']) {
                Some((s, f)) => (s, f),
                None => (rest, ""),
            };
            let s: u32 = s.parse().ok()?;
            let mut nanos = 0u32;
            let digits: String = frac.chars().take(9).collect();
            if !digits.is_empty() {
                if !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                nanos = digits.parse::<u32>().ok()? * 10u32.pow(9 - digits.len() as u32);
            }
            (s, nanos)
        }
    };
    if h == 24 && m == 0 && s == 0 {
        return NaiveTime::from_hms_opt(23, 59, 59);
    }
    NaiveTime::from_hms_nano_opt(h, m, s.min(59), nanos)
}

fn tokenize(text: &str) -> Option<Vec<Tok>> {
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == ':') {
                i += 1;
            }
            // Fractional seconds belong to a time.
            let run: String = chars[start..i].iter().collect();
            if run.contains(':') {
                let mut end = i;
                if end < chars.len()
                    && (chars[end] == '.' || chars[end] == ',')
                    && chars.get(end + 1).is_some_and(|c| c.is_ascii_digit())
                {
                    end += 1;
                    while end < chars.len() && chars[end].is_ascii_digit() {
                        end += 1;
                    }
                }
                let full: String = chars[start..end].iter().collect();
                i = end;
                // A time right after a sign is an offset (`+09:00`), handled where the sign is.
                toks.push(Tok::Time(parse_time(&full)?));
            } else {
                let value: u32 = run.parse().ok()?;
                toks.push(Tok::Num(value, run.len()));
            }
            continue;
        }
        if c == '+' || (c == '-' && matches!(toks.last(), Some(Tok::Time(_)))) {
            // A UTC offset follows a time (`10:00:00+09:00`, `10:00:00 -0700`).
            let sign = if c == '+' { 1 } else { -1 };
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && (chars[end].is_ascii_digit() || chars[end] == ':') {
                end += 1;
            }
            let digits: String = chars[start..end].iter().collect();
            if let Some(off) = offset_digits(sign, &digits) {
                if matches!(toks.last(), Some(Tok::Zone(0))) {
                    toks.pop();
                }
                toks.push(Tok::Zone(off));
                i = end;
                continue;
            }
            i += 1;
            continue;
        }
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word == "t" {
                toks.push(Tok::T);
            } else if let Some(m) = month_word(&word) {
                toks.push(Tok::Month(m));
            } else if let Some(off) = zone_word(&word) {
                toks.push(Tok::Zone(off));
            } else if word == "am" || word == "pm" {
                toks.push(Tok::Meridiem(word == "pm"));
            } else if matches!(
                word.as_str(),
                "mon"
                    | "tue"
                    | "wed"
                    | "thu"
                    | "fri"
                    | "sat"
                    | "sun"
                    | "monday"
                    | "tuesday"
                    | "wednesday"
                    | "thursday"
                    | "friday"
                    | "saturday"
                    | "sunday"
                    | "th"
                    | "st"
                    | "nd"
                    | "rd"
                    | "of"
                    | "at"
                    | "on"
                    | "yyyy"
                    | "mm"
                    | "dd"
                    | "hh"
                    | "ss"
            ) {
                // Weekdays, ordinals and format hints carry nothing.
            } else if word == "before" && toks.is_empty() {
                // Nominet's `before Aug-1996`: registered before its records began; the
                // bound is the best date there is.
            } else {
                // Anything else (`until`, a note) makes the text not a plain date.
                return None;
            }
            continue;
        }
        if c == '#' {
            // `19961206 #24302`: a ticket number after the date.
            break;
        }
        i += 1;
    }
    Some(toks)
}

fn year_of(value: u32, len: usize) -> Option<i32> {
    match len {
        4 => Some(value as i32),
        2 | 1 => Some(if value < 70 {
            2000 + value as i32
        } else {
            1900 + value as i32
        }),
        _ => None,
    }
}

/// Parses one WHOIS date; `None` when the text is not a date (it may still hold one inside
/// words, such as `before 1 January 1996`, which is not an exact date).
pub fn parse_date(text: &str) -> Option<Timestamp> {
    parse_date_ordered(text, false)
}

/// Like [`parse_date`]; with `month_first`, all-numeric `a/b/yyyy` dates are read as
/// month/day (an answer that also holds `11/29/2016` writes dates that way).
pub fn parse_date_ordered(text: &str, month_first: bool) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() || text.len() > 80 {
        return None;
    }
    // Epoch seconds are not used by any port-43 server; a bare long number is `YYYYMMDD`.
    let toks = tokenize(text)?;
    let mut nums: Vec<(u32, usize)> = Vec::new();
    let mut month: Option<u32> = None;
    let mut time: Option<NaiveTime> = None;
    let mut zone: Option<i32> = None;
    let mut pm: Option<bool> = None;
    for tok in &toks {
        match tok {
            Tok::Num(v, l) => nums.push((*v, *l)),
            Tok::Month(m) => {
                if month.is_some() {
                    return None;
                }
                month = Some(*m);
            }
            Tok::Time(t) => {
                if time.is_none() {
                    time = Some(*t);
                }
            }
            Tok::Zone(z) => {
                if zone.is_none() || zone == Some(0) {
                    zone = Some(*z);
                }
            }
            Tok::Meridiem(p) => pm = Some(*p),
            Tok::T => {}
        }
    }
    let (y, m, d) = ymd(&nums, month, month_first)?;
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let mut t = time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = pm {
        let h = t.hour() % 12 + if pm { 12 } else { 0 };
        t = t.with_hour(h)?;
    }
    let local = date.and_time(t);
    let utc = Utc.from_utc_datetime(&local) - Duration::seconds(i64::from(zone.unwrap_or(0)));
    Some(utc)
}

/// Orders the numbers of a date into (year, month, day).
fn ymd(nums: &[(u32, usize)], month: Option<u32>, month_first: bool) -> Option<(i32, u32, u32)> {
    match (nums, month) {
        // `20190131`
        ([(v, 8), ..], None) => Some((*v as i32 / 10000, v / 100 % 100, v % 100)),
        ([(y, 4), (m, ml), (d, dl), ..], None) if *ml <= 2 && *dl <= 2 => Some((*y as i32, *m, *d)),
        ([(a, al), (b, bl), (y, 4), ..], None) if *al <= 2 && *bl <= 2 => {
            // Day first unless impossible (`12/31/2019`).
            if (*b > 12 || month_first) && *a <= 12 {
                Some((*y as i32, *a, *b))
            } else {
                Some((*y as i32, *b, *a))
            }
        }
        // `2019 Jan 31`, `2019-jan-31`
        ([(y, 4), (d, dl), ..], Some(m)) if *dl <= 2 => Some((*y as i32, m, *d)),
        // `Aug-1996`: the first of the month.
        ([(y, 4)], Some(m)) => Some((*y as i32, m, 1)),
        // `31 Jan 2019`, `Jan 31 2019`, `Jan 31, 2019`, `31-jan-19`
        ([(d, dl), (y, yl), ..], Some(m)) if *dl <= 2 => Some((year_of(*y, *yl)?, m, *d)),
        _ => None,
    }
}

/// Whether the slash dates in `values` are month-first: some `a/b/yyyy` has `b > 12` and none
/// has `a > 12`.
pub fn month_first<'a>(values: impl Iterator<Item = &'a str>) -> bool {
    let (mut md, mut dm) = (false, false);
    for v in values {
        for (i, _) in v.match_indices('/') {
            // `aa/bb/yyyy` around this slash as the first one.
            let a: String = v[..i]
                .chars()
                .rev()
                .take_while(char::is_ascii_digit)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let rest = &v[i + 1..];
            let Some((mid, tail)) = rest.split_once('/') else {
                continue;
            };
            let year_digits = tail.bytes().take_while(u8::is_ascii_digit).count();
            if a.is_empty() || a.len() > 2 || mid.is_empty() || mid.len() > 2 || year_digits != 4 {
                continue;
            }
            let (Ok(x), Ok(y)) = (a.parse::<u32>(), mid.parse::<u32>()) else {
                continue;
            };
            if y > 12 && x <= 12 {
                md = true;
            }
            if x > 12 && y <= 12 {
                dm = true;
            }
        }
    }
    md && !dm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        parse_date(s)
            .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
            .unwrap_or_else(|| "-".into())
    }

    #[test]
    fn formats() {
        assert_eq!(p("2018-02-09 11:59:43"), "2018-02-09T11:59:43Z");
        assert_eq!(p("1997-09-15T00:00:00-0700"), "1997-09-15T07:00:00Z");
        assert_eq!(p("2011-04-13T19:52:17.635Z"), "2011-04-13T19:52:17.635Z");
        assert_eq!(p("2001-06-14-T10:32:43Z"), "2001-06-14T10:32:43Z");
        assert_eq!(p("2004/06/15"), "2004-06-15T00:00:00Z");
        assert_eq!(p("2017/06/01 01:05:09 (JST)"), "2017-05-31T16:05:09Z");
        assert_eq!(p("2012. 05. 19."), "2012-05-19T00:00:00Z");
        assert_eq!(p("19961206 #24302"), "1996-12-06T00:00:00Z");
        assert_eq!(p("31 May 1999"), "1999-05-31T00:00:00Z");
        assert_eq!(p("2003-08-18 11:20:09 (GMT+0:00)"), "2003-08-18T11:20:09Z");
        assert_eq!(p("2010-08-13 23:16:40 (UTC+8)"), "2010-08-13T15:16:40Z");
        assert_eq!(p("2005-10-27 (YYYY-MM-DD)"), "2005-10-27T00:00:00Z");
        assert_eq!(p("11-Jun-2014"), "2014-06-11T00:00:00Z");
        assert_eq!(p("05.06.2019"), "2019-06-05T00:00:00Z");
        assert_eq!(p("12/31/2019"), "2019-12-31T00:00:00Z");
        assert_eq!(
            parse_date_ordered("03/02/2012", true).map(|t| t.to_rfc3339()),
            Some("2012-03-02T00:00:00+00:00".to_owned())
        );
        assert_eq!(p("Tue Jan 21 00:00:00 GMT 2003"), "2003-01-21T00:00:00Z");
        assert_eq!(p("2001-11-19T21:00:00Z"), "2001-11-19T21:00:00Z");
        assert_eq!(p("2018-03-12T21:44:25+01:00"), "2018-03-12T20:44:25Z");
        assert_eq!(p("before Aug-1996"), "1996-08-01T00:00:00Z");
        assert_eq!(p("2001-Aug-23."), "2001-08-23T00:00:00Z");
        assert_eq!(p("18 Apr 2003 00:00 EAT"), "2003-04-17T21:00:00Z");
        assert_eq!(p("Fri Mar 29 22:03:53 GMT 2002"), "2002-03-29T22:03:53Z");
        assert_eq!(p("n/a"), "-");
        assert_eq!(p(""), "-");
    }
}
