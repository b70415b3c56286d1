//! The test suite's fake RDAP, WHOIS, DNS and TLS servers on 127.0.0.1, for benchmarks:
//! `cargo run --release -p threatintel-enrich --example loopback_servers -- DIR` writes
//! `DIR/bootstrap.json` and `DIR/enrich.toml` (an `[enrich]` table pointing at the servers),
//! prints `ready`, and serves until killed. Names `bench-N.com` are registered and resolve to
//! 127.0.0.1, where the TLS server answers. See scripts/bench-enrich.sh.

#[allow(dead_code)]
#[path = "../tests/enrich/fakes.rs"]
mod fakes;

use std::path::PathBuf;

#[tokio::main]
async fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: loopback_servers DIR"),
    );
    let servers = fakes::Fakes::start().await;
    let bootstrap = dir.join("bootstrap.json");
    std::fs::write(&bootstrap, servers.bootstrap()).expect("writing the bootstrap");
    let config = format!(
        "[enrich]\nrdap_bootstrap = \"{}\"\nwhois_root = \"{}\"\ndns_upstreams = [\"{}\"]\n\
         tls_port = {}\nallow_private_addresses = true\nper_upstream = 64\n",
        bootstrap.display(),
        servers.whois_root,
        servers.dns,
        servers.tls.port()
    );
    std::fs::write(dir.join("enrich.toml"), config).expect("writing the config");
    println!("ready");
    std::future::pending::<()>().await;
}
