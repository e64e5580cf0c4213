//! The `nook` command: parse flags, run one verb, print any error once, exit 0 or 1 (255 for a
//! failed `exec`).

mod cli;
mod commands;

use std::process::ExitCode;

use nook::logging::{Level, Logger};

fn main() -> ExitCode {
    // First thing: a nook process (including one a container tricks into running through
    // `#!/proc/self/exe`) keeps other processes out of its /proc/<pid>/{exe,mem,fd}. The verbs
    // that enter a container also run from a read-only image (nook::security::exe), so even a
    // process that does get at /proc/<pid>/exe cannot write the host binary through it.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        eprintln!("nook: PR_SET_DUMPABLE: {e}");
        return ExitCode::FAILURE;
    }
    // Re-execute from a sealed image before spending a parse on this one (when it is not already
    // sealed, the call does not return). Only when this fast path did not settle it does
    // commands::run check after the parse, where a failure also reaches the --log file.
    let sealed = cli::enters_a_container(&std::env::args_os().collect::<Vec<_>>())
        && nook::security::exe::ensure_sealed().is_ok();
    // Usage errors exit 1 like every other failure (runc's convention; callers test for it).
    let cli = match cli::parse() {
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
    if cli.global.version {
        print!("{}", commands::version());
        return ExitCode::SUCCESS;
    }
    let logger = match Logger::open(
        cli.global.log.as_deref(),
        cli.global.log_format.into(),
        cli.global.debug,
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("open log file: {e}");
            return ExitCode::FAILURE;
        }
    };
    let log_file = logger.has_file();
    nook::logging::install(logger);
    if cli.global.debug {
        if let Ok(sink) = Logger::open(
            cli.global.log.as_deref(),
            cli.global.log_format.into(),
            true,
        ) {
            nook::logging::enable_steps(sink);
        }
    }
    match commands::run(&cli, sealed) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let msg = format!("{err:#}");
            if log_file {
                nook::logging::log(Level::Error, &msg);
            }
            eprintln!("{msg}");
            ExitCode::from(commands::failure_code(&cli))
        }
    }
}
