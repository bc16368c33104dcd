#![no_main]
// The invariants are in fuzz/checks/gateway_paths.rs, shared with the property tests of `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwarden_fuzz::gateway_paths::check(data));
