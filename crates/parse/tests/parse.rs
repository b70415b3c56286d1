//! The crate's one integration-test binary: every test module is declared here.

mod context;
mod feed;
mod read;
