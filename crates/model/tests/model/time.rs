//! `parse_time`: every form the CLI's `--at` and the API's `at` accept, and the refusals.

use chrono::{TimeZone, Utc};
use threatintel_model::{parse_time, InvalidTime};

#[test]
fn every_accepted_form_reads_the_same_instant() {
    let noon = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    for text in [
        "2024-05-01T12:00:00Z",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01 12:00:00",
        " 1714564800 ",
    ] {
        assert_eq!(parse_time(text), Ok(noon), "{text:?}");
    }
    assert_eq!(
        parse_time("2024-05-01"),
        Ok(Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(parse_time("0"), Ok(Utc.timestamp_opt(0, 0).unwrap()));
    assert_eq!(
        parse_time("-86400"),
        Ok(Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap())
    );
}

#[test]
fn anything_else_is_refused_with_the_text_and_the_forms() {
    for text in [
        "",
        "yesterday",
        "2024-13-01",
        "1714564800.5",
        "+1714564800",
        "-",
        "99999999999999999999",
    ] {
        let err = parse_time(text).unwrap_err();
        assert_eq!(err, InvalidTime(text.trim().to_owned()));
        let message = err.to_string();
        assert!(
            message.contains("RFC 3339") && message.contains("Unix seconds"),
            "{message}"
        );
    }
}
