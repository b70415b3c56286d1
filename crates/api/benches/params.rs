//! Decoding request parameters, the work done before authentication: a 1 MiB form body of
//! 120,000 parameters (refused once `MAX_PARAMS` are decoded; before the bound, with a linear
//! repeat check per parameter, it cost about two minutes), and a body of exactly `MAX_PARAMS`
//! parameters (accepted), and the query of an anonymous DescribeDomainReport call asking for
//! every Field, decoded for every such call.
//!
//! `cargo bench -p threatintel-api --bench params`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use threatintel_api::params::{Params, MAX_PARAMS};

/// `p0=1&p1=1&...`: `n` distinct parameters.
fn form(n: usize) -> String {
    (0..n)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join("&")
}

fn decoding(c: &mut Criterion) {
    let megabyte = form(120_000);
    assert!(megabyte.len() > 1 << 20);
    c.bench_function("params/1MiB body of 120000 parameters (refused)", |b| {
        b.iter(|| Params::parse("", Some(black_box(megabyte.as_bytes()))).unwrap_err())
    });
    let at_cap = form(MAX_PARAMS);
    c.bench_function("params/64 parameters (accepted)", |b| {
        b.iter(|| Params::parse("", Some(black_box(at_cap.as_bytes()))).unwrap())
    });

    let call = "Action=DescribeDomainReport&Version=2020-05-12&Domain=never851311892z.org\
                &Field=ThreatTypes%2CIntelligences%2CAttackPreferenceTop5%2CAttackCntByThreatType\
                &Format=JSON";
    c.bench_function("params/a DescribeDomainReport query", |b| {
        b.iter(|| Params::parse(black_box(call), None).unwrap())
    });
}

criterion_group!(benches, decoding);
criterion_main!(benches);
