//! cargo-fuzz target `record_batch`; the oracle is `harness::record_batch`.
#![no_main]

// Each target uses its own part of the shared harness.
#[allow(dead_code)]
#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::record_batch(data));
