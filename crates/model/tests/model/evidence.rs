//! The evidence types' text forms.

use threatintel_model::{IpNetwork, Reliability};

#[test]
fn evidence_text_forms() {
    assert_eq!(
        "203.0.113.77/24".parse::<IpNetwork>().unwrap().to_string(),
        "203.0.113.0/24"
    );
    assert_eq!(
        "2001:db8::1".parse::<IpNetwork>().unwrap().to_string(),
        "2001:db8::1/128"
    );
    assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
    assert!("example.com".parse::<IpNetwork>().is_err());
    assert_eq!(" b ".parse::<Reliability>(), Ok(Reliability::B));
    assert!("G".parse::<Reliability>().is_err());
}
