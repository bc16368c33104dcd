//! The signed-in user's settings pages.

pub mod tokens;
