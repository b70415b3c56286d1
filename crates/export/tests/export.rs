//! The export crate's tests: selection, every format, real consumers (Unbound, suricata-check,
//! stix2-validator) and the retro-hunt over real DNS logs.

mod export {
    pub mod fixture;
    mod formats;
    mod scan;
    mod stix;
    mod suricata;
    mod unbound;
}

#[path = "../../../testdata/paths.rs"]
mod testdata;
