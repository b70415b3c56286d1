//! The pure protocol layer (parameters, both signature schemes, the verifier, nonce and rate
//! guards, POP errors, the RPC call, XML bodies) against the protocol reference's test files
//! (copied to `testdata/reference/`): every test vector, every captured SDK request, property
//! tests, negative cases. No server, no sockets: time is injected.

pub mod fixtures;

mod captured;
mod errors;
mod negative;
mod properties;
mod rate_limit;
mod rpc_call;
mod vectors;
mod xml_body;
