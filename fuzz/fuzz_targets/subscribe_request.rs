//! cargo-fuzz target `subscribe_request`; the oracle is `harness::subscribe_request`.
#![no_main]

// Each target uses its own part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::subscribe_request(data));
