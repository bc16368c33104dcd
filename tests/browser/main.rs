//! The real-browser suite: headless Chromium, driven through chromedriver, against the real
//! app booted by `spawn_app` on a random port with its own database. Each test is one
//! journey of a person through the app; it asserts what they would see and saves
//! screenshots to `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (and `npm`, which fetches axe-core into
//! `target/axe-core/` on first use). Run with
//! `cargo test --features browser-tests --test browser`. One browser runs at a time (a
//! global lock), whatever `--test-threads` says.

#[path = "../integration/helpers.rs"]
#[expect(dead_code, reason = "the browser tests use only part of the HTTP harness")]
mod helpers;
#[path = "../integration/oidc_provider.rs"]
mod oidc_provider;

mod a11y;
mod harness;
mod steps;

mod accessibility;
mod admin_profile;
mod dashboard;
mod limit_creation;
mod no_javascript;
mod phone;
mod setup_and_login;
mod single_sign_on;
mod student_tokens;
