//! cargo-fuzz target `publish_request`; the oracle is `harness::publish_request`.
#![no_main]

// Each target uses its own part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::publish_request(data));
