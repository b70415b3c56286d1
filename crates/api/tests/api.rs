//! The crate's one integration-test binary: the real server (`threatintel_api::serve` on a
//! fixture store) on 127.0.0.1, called over HTTP with requests signed by the tests' own
//! implementation of both signature schemes (`api/sign.rs`, written from the protocol
//! reference and checked against its vectors, so that it is an independent check of the
//! server's). One module per area, each in `tests/api/` (hence the `#[path]`s: a plain
//! `mod x;` here would look for `tests/x.rs`):
//!
//! - `rpc`: DescribeDomainReport success bodies (JSON and XML, V1 and V3);
//! - `ip`: DescribeIpReport success bodies, its parameter errors and the native address routes;
//! - `console`: the analyst's console (sign-in, sessions, CSRF, every page, search and CSV);
//! - `browser`: the console in headless Chromium over WebDriver, with screenshots;
//! - `connections`: raw sockets against servers with short limits (header-read and keep-alive
//!   timeouts, the connection cap, stalled and broken bodies, shutdown with requests open);
//! - `enrichment`: live lookups against the enrich tests' fake servers (the refresh route,
//!   TTLs through reports, the inline budget, 429s, private addresses);
//! - `errors`: every error code with its HTTP status and body shape;
//! - `export`: `/api/v1/export/{format}` (the CLI's bytes, validators and 304s, who may pull);
//! - `limits`: per-key rate limits and nonces;
//! - `native`: the native API, health, metrics and OpenAPI;
//! - `negative`: a table of malformed requests, each answered with a 4xx POP error body by a
//!   server that keeps answering;
//! - `sdk`: the official Python SDKs against the real binary (`scripts/sdk-tests/run.sh`), over
//!   HTTP and once over HTTPS;
//! - `tls`: `[server.tls]` over a rustls client (certificates made with rcgen, SIGHUP reload);
//! - `sign`, `support`, `xml`: the tests' own signer, server harness and XML reader;
//! - `protocol`: the pure protocol layer without a server (signature vectors, every captured
//!   SDK request, property tests, negative cases, error and XML rendering, the RPC call, the
//!   rate limiter and nonce guard with injected time).

#[path = "api/browser.rs"]
mod browser;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/console.rs"]
mod console;
#[path = "api/enrichment.rs"]
mod enrichment;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/export.rs"]
mod export;
#[path = "api/file.rs"]
mod file;
#[path = "api/ip.rs"]
mod ip;
#[path = "api/limits.rs"]
mod limits;
#[path = "api/native.rs"]
mod native;
#[path = "api/negative.rs"]
mod negative;
#[path = "api/protocol/mod.rs"]
mod protocol;
#[path = "api/rpc.rs"]
mod rpc;
#[path = "api/sdk.rs"]
mod sdk;
#[path = "api/sign.rs"]
mod sign;
#[path = "api/support.rs"]
mod support;
#[path = "api/tls.rs"]
mod tls;
#[path = "api/xml.rs"]
mod xml;
