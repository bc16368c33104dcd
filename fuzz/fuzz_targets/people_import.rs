#![no_main]
// The invariants are in fuzz/checks/people_import.rs, shared with the property tests of `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwarden_fuzz::people_import::check(data));
