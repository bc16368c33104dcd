#![no_main]
// The invariants are in fuzz/checks/forwarded_for.rs, shared with the property tests of `cargo test`.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tokenwarden_fuzz::forwarded_for::check(data));
