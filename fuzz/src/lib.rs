//! The fuzz targets' shared code: the checks of `fuzz/checks`, also compiled into the main
//! crate's property tests.

#[path = "../checks/mod.rs"]
mod checks;

pub use checks::*;
