use std::process::ExitCode;

use clap::Parser;
use tokenwarden::config::Cli;

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
