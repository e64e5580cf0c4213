//! The `nook` command: parse flags, run one verb, print any error once, exit 0 or 1.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use nook::logging::{Level, Logger};

fn main() -> ExitCode {
    // First thing: a nook process (including one a container tricks into running through
    // `#!/proc/self/exe`) must not let other processes open its /proc/<pid>/exe, which leads
    // to the host binary (CVE-2019-5736 class). This narrows the window to process start-up;
    // issue #3 tracks closing it.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("nook: PR_SET_DUMPABLE: {e}");
        return ExitCode::FAILURE;
    }
    // Usage errors exit 1 like every other failure (runc's convention; callers test for it).
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if cli.version {
        print!("{}", commands::version());
        return ExitCode::SUCCESS;
    }
    let mut logger = match Logger::open(cli.log.as_deref(), cli.log_format.into(), cli.debug) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("open log file: {e}");
            return ExitCode::FAILURE;
        }
    };
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let msg = format!("{err:#}");
            if logger.has_file() {
                logger.log(Level::Error, &msg);
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
