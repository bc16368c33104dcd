use std::process::ExitCode;

use clap::Parser;
use tokenwarden::config::Cli;

/// mimalloc for Rust's allocations: measured on the release build with the Access Tokens
/// page under load, 12% less CPU a request than glibc's malloc, and 8% for the API (see the
/// README's Performance section). SQLite and libpq still allocate through glibc, which
/// `startup::tune_allocator` tunes.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process before anything is allocated.
/// mimalloc commits its arenas whole, and where the kernel backs memory with huge pages
/// (`always`, some distributions' default) each arena it touches is resident 2 MiB at a
/// time: on a small database, peak RSS under load was 62 MB instead of 44. Its `no_thp`
/// feature only stops it asking for them (`madvise`). It runs from `.init_array`, before
/// Rust's runtime makes the first allocation, which is what creates mimalloc's first arena:
/// set from `main`, the arena's first pages were already huge (51 MB).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static SMALL_PAGES: extern "C" fn() = {
    extern "C" fn small_pages() {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's memory; a kernel
        // without it returns an error and nothing changes, which is harmless.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    small_pages
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tokenwarden::telemetry::init(&cli.global.log_level, cli.global.log_format);
    match tokenwarden::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
