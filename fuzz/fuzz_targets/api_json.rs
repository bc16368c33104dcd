#![no_main]
// The invariants are in fuzz/checks/api_json.rs, shared with the property tests of `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwarden_fuzz::api_json::check(data));
