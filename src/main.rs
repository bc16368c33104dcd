use std::process::ExitCode;

use clap::Parser;
use tokenwarden::config::Cli;

/// Turns transparent huge pages off for this process before anything is allocated. Where
/// the kernel backs memory with huge pages (`always`, some distributions' default), the
/// allocator's arenas can be resident 2 MiB at a time, for memory the server uses a little
/// of. It runs from `.init_array`, before Rust's runtime makes the first allocation (from
/// `main` it came too late for mimalloc, the allocator the server had for a while: its
/// first arena's pages were already huge). glibc's malloc is the allocator again: mimalloc
/// saved 8–12% of a request's CPU but held 6 MB more at the peak of the benchmark, past its
/// target (see the README's Performance section).
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
