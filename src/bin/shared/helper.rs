//! What nook's helper programs (nook-views, nook-criu) share, included by each as a module:
//! the global flags `nook` passes them (its --root and log flags) and their `main`, which
//! parses, opens the --log sink, runs the command and reports an error once (to stderr, and to
//! the --log file when there is one, as `nook` does).

use std::path::PathBuf;
use std::process::ExitCode;

use nook::logging::{Format, Level, Logger};

#[derive(clap::Args, Debug)]
pub struct Global {
    /// Directory of container state (passed by nook: its --root)
    #[arg(long, global = true, default_value = "/run/nook")]
    pub root: PathBuf,
    /// Write log lines to this file instead of stderr
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, default_value = "text")]
    pub log_format: String,
    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,
}

/// Parse `C` (usage errors exit 1, --help 0, as in `nook`), install the log sink its `Global`
/// names, run `run` and turn its result into the exit status.
pub fn run_main<C: clap::Parser>(
    global: impl Fn(&C) -> &Global,
    run: impl FnOnce(&C) -> anyhow::Result<u8>,
) -> ExitCode {
    let cli = match C::try_parse() {
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
    let g = global(&cli);
    let format = if g.log_format == "json" {
        Format::Json
    } else {
        Format::Text
    };
    let log_file = g.log.is_some();
    match Logger::open(g.log.as_deref(), format, g.debug) {
        Ok(logger) => nook::logging::install(logger),
        Err(e) => {
            eprintln!("open log file: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let msg = format!("{err:#}");
            if log_file {
                nook::logging::log(Level::Error, &msg);
            }
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
