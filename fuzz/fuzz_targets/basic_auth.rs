#![no_main]
// The invariants are in fuzz/checks/basic_auth.rs, shared with the property tests of `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwarden_fuzz::basic_auth::check(data));
