//! One file per verb. Each turns parsed flags into library calls and returns the exit code;
//! errors travel up to main, which prints them once.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;
mod views;

use anyhow::{bail, Result};

use crate::cli::{Cli, Command};

pub fn version() -> String {
    format!(
        "nook version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("NOOK_COMMIT"),
        nook::state::OCI_VERSION
    )
}

/// The exit status of a command that failed: `exec` exits 255, as runc does, so that its caller
/// can tell a failure of the runtime from the exec'd process's own status 1; every other verb 1.
pub fn failure_code(cli: &Cli) -> u8 {
    match cli.command {
        Some(Command::Exec(_)) => 255,
        _ => 1,
    }
}

/// `sealed`: main already made sure this image is not writable (see security::exe).
pub fn run(cli: &Cli, sealed: bool) -> Result<u8> {
    let Some(command) = &cli.command else {
        bail!("no command given; see `nook --help`");
    };
    if !sealed
        && matches!(
            command,
            Command::Create(_) | Command::Run(_) | Command::Exec(_)
        )
    {
        // These verbs put a process into a container: the image it starts from must not be
        // writable through /proc/<pid>/exe (may re-execute this process; see security::exe).
        nook::security::exe::ensure_sealed()?;
        nook::logging::step("image sealed");
    }
    nook::logging::debug(|| format!("nook {}: {command:?}", env!("CARGO_PKG_VERSION")));
    let result = dispatch(cli, command);
    nook::logging::debug(|| match &result {
        Ok(code) => format!("{}: done, exit code {code}", verb(command)),
        Err(_) => format!("{}: failed", verb(command)),
    });
    result
}

/// The verb as typed, for debug lines.
fn verb(command: &Command) -> &'static str {
    match command {
        Command::Create(_) => "create",
        Command::Start(_) => "start",
        Command::State(_) => "state",
        Command::Kill(_) => "kill",
        Command::Delete(_) => "delete",
        Command::Run(_) => "run",
        Command::List(_) => "list",
        Command::Spec(_) => "spec",
        Command::Pause(_) => "pause",
        Command::Resume(_) => "resume",
        Command::Ps(_) => "ps",
        Command::Exec(_) => "exec",
        Command::Features => "features",
        Command::Update(_) => "update",
        Command::Events(_) => "events",
        Command::Top(_) => "top",
        Command::Monitor(_) => "monitor",
        Command::Checkpoint(_) => "checkpoint",
        Command::Restore(_) => "restore",
    }
}

fn dispatch(cli: &Cli, command: &Command) -> Result<u8> {
    let root = &cli.global.state_root();
    let rootless = cli.global.rootless();
    match command {
        Command::Create(args) => create::run(root, args, rootless, cli.global.systemd_cgroup),
        Command::Start(args) => start::run(root, &args.id),
        Command::State(args) => state::run(root, &args.id),
        Command::Kill(args) => kill::run(root, args),
        Command::Delete(args) => delete::run(root, args),
        Command::Run(args) => run::run(root, args, rootless, cli.global.systemd_cgroup),
        Command::List(args) => list::run(root, args),
        Command::Spec(args) => spec::run(args),
        Command::Pause(args) => pause::pause(root, &args.id),
        Command::Resume(args) => pause::resume(root, &args.id),
        Command::Ps(args) => ps::run(root, args),
        Command::Exec(args) => exec::run(root, args),
        Command::Features => features::run(),
        Command::Update(args) => update::run(root, args, &cli.global),
        Command::Events(args) => events::run(root, args),
        Command::Top(args) => views::run(&cli.global, "top", args),
        Command::Monitor(args) => views::run(&cli.global, "monitor", args),
        Command::Checkpoint(args) => {
            views::run_helper(&cli.global, "nook-criu", "checkpoint", args)
        }
        Command::Restore(args) => views::run_helper(&cli.global, "nook-criu", "restore", args),
    }
}

/// The library error with all its causes, as one line.
fn chain(err: nook::container::ContainerError) -> anyhow::Error {
    anyhow::anyhow!(nook::error_chain(&err))
}
