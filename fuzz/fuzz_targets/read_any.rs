//! `threatintel_parse::read` in every format (picked by the first byte) and `detect` never
//! panic, and every record they yield keeps the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threatintel_model::{Evidence, IpNetwork};
use threatintel_parse::feed::{FeedDefaults, Parsed};
use threatintel_parse::limits::{MAX_FIELD, MAX_LIST, MAX_REASON};
use threatintel_parse::{detect, read, Context, Format};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, input)) = data.split_first() else {
        return;
    };
    let _ = detect("fuzz.txt", input);
    let format = Format::ALL[usize::from(pick) % Format::ALL.len()];
    let mut context = Context::new(
        "fuzz.example.whois.txt",
        FeedDefaults::new("fuzz", "Malware", Default::default()),
    );
    let network: IpNetwork = "10.0.0.0/8".parse().unwrap();
    context.industries = vec![(network, "finance".into())];
    let mut out = Parsed::default();
    let _ = read(format, &mut &input[..], &context, &mut out);
    for r in &out.rejects {
        assert!(r.reason.len() <= MAX_REASON, "reject reason of {} bytes", r.reason.len());
    }
    for e in &out.evidence {
        match e {
            Evidence::Whois(w) => {
                assert!(w.registrar.name.len() <= MAX_FIELD);
                assert!(w.nameservers.len() <= MAX_LIST);
            }
            Evidence::Indicator(i) => {
                assert!(i.label.as_ref().is_none_or(|l| l.len() <= MAX_FIELD));
            }
            _ => {}
        }
    }
});
