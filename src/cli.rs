//! The command line, spelled as runc spells it (see ../shared/CALLERS.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    about = "A runc-compatible OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The flags before (or, for the global ones, anywhere after) the verb.
#[derive(Args, Debug)]
pub struct Global {
    /// Directory for container state
    #[arg(long, global = true, default_value = "/run/nook")]
    pub root: PathBuf,
    /// Write log lines to this file instead of stderr
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (callers pass it blindly): true, false or auto
    #[arg(long, value_parser = ["true", "false", "auto"])]
    pub rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
}

/// Parse the process's command line.
///
/// clap builds the whole definition (every verb, flag and help text, as heap structures)
/// before it parses: at each start that was about half of nook's heap and a tenth of a
/// millisecond, for one verb used. A command line that names a verb callers run on every
/// container (create, start, state, kill, delete, run, exec) and asks for no help is parsed
/// against the global flags and that verb alone. Anything else, and anything that one does not
/// accept, goes through the full definition, so help and error messages are the same either way.
pub fn parse() -> Result<Cli, clap::Error> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match parse_one_verb(&args) {
        Some(cli) => Ok(cli),
        None => Cli::try_parse_from(args),
    }
}

fn parse_one_verb(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::{Command as Def, FromArgMatches};
    if args.iter().any(|a| a == "-h" || a == "--help") {
        return None;
    }
    let verb = match verb_of(args)? {
        "create" => CreateArgs::augment_args(Def::new("create")),
        "start" => IdArg::augment_args(Def::new("start")),
        "state" => IdArg::augment_args(Def::new("state")),
        "kill" => KillArgs::augment_args(Def::new("kill")),
        "delete" => DeleteArgs::augment_args(Def::new("delete")),
        "run" => RunArgs::augment_args(Def::new("run")),
        "exec" => ExecArgs::augment_args(Def::new("exec")),
        _ => return None,
    };
    let def = Global::augment_args(Def::new("nook").disable_version_flag(true)).subcommand(verb);
    let matches = def.try_get_matches_from(args).ok()?;
    Some(Cli {
        global: Global::from_arg_matches(&matches).ok()?,
        command: Some(Command::from_arg_matches(&matches).ok()?),
    })
}

/// The verb of a command line: its first word that is neither a flag nor the value of a global
/// flag that takes one.
fn verb_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<&str> {
    const TAKES_VALUE: [&str; 4] = ["--root", "--log", "--log-format", "--rootless"];
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.as_ref().to_str()?;
        if TAKES_VALUE.contains(&arg) {
            args.next();
        } else if !arg.starts_with('-') {
            return Some(arg);
        }
    }
    None
}

/// Whether the command line names a verb that puts a process into a container (create, run,
/// exec), judged from the raw arguments before clap sees them, so that the sealed re-exec
/// (nook::security::exe) happens before, not after, a full parse. Global flags that take a
/// value are skipped with their value. Only a shortcut: the verb is checked again after parsing.
pub fn enters_a_container<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> bool {
    matches!(verb_of(args), Some("create" | "run" | "exec"))
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

impl From<LogFormat> for nook::logging::Format {
    fn from(f: LogFormat) -> Self {
        match f {
            LogFormat::Text => nook::logging::Format::Text,
            LogFormat::Json => nook::logging::Format::Json,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container, leaving its process waiting for `start`
    Create(CreateArgs),
    /// Start the process of a created container
    Start(IdArg),
    /// Print the state of a container as OCI state JSON
    State(IdArg),
    /// Send a signal to the container's init (default SIGTERM)
    Kill(KillArgs),
    /// Delete a container and everything it holds
    Delete(DeleteArgs),
    /// Create and start a container, then wait for it unless --detach
    Run(RunArgs),
    /// List containers
    List(ListArgs),
    /// Write a default config.json
    Spec(SpecArgs),
    /// Freeze every process of a container
    Pause(IdArg),
    /// Thaw a paused container
    Resume(IdArg),
    /// List the processes of a container
    Ps(PsArgs),
    /// Run a new process inside a running container
    Exec(ExecArgs),
    /// Print the runtime-spec features document: what nook implements
    Features,
    /// Change the resource limits of a running container
    Update(UpdateArgs),
    /// Print resource usage and OOM events of a container as JSON lines
    Events(EventsArgs),
    /// Checkpoint a container with CRIU (not supported yet)
    Checkpoint(Unsupported),
    /// Restore a container from a CRIU checkpoint (not supported yet)
    Restore(Unsupported),
}

/// A verb nook knows but does not implement yet: any flags are accepted, then a clear error.
#[derive(Args, Debug)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events, e.g. 5s, 500ms, 1m
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON from a file, or "-" for stdin
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes accepted)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory soft limit in bytes
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 for unlimited)
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long)]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPUs the container may use (e.g. 0-1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of tasks (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Process definition (JSON, as config.json's "process")
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process has started instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Write the new process's host pid to this file
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Allocate a terminal (its master goes to --console-socket, or is proxied to our stdio)
    #[arg(short, long)]
    pub tty: bool,
    /// Pass N extra fds (3..3+N) to the process
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Extra environment variable KEY=VALUE
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User as uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Extra group ids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Working directory inside the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Add a capability to the bounding, effective and permitted sets
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long)]
    pub no_new_privs: bool,
    /// AppArmor profile for the process (refused where AppArmor is not enabled)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process (refused where SELinux is not enabled)
    #[arg(long)]
    pub process_label: Option<String>,
    /// Exec even into a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    pub id: String,
    /// Command and arguments (without --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the init's host pid to this file
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3..3+N) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after start instead of waiting for the container
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process in the container
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is running
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only container ids
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write a spec for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub id: String,
    /// Options passed to ps(1) in table format
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enters(line: &str) -> bool {
        enters_a_container(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn words(line: &str) -> Vec<std::ffi::OsString> {
        line.split_whitespace().map(Into::into).collect()
    }

    #[test]
    fn one_verb_parse_equals_the_full_parse() {
        for line in [
            "nook run -b b id",
            "nook --root /x --log-format json create --bundle b --pid-file p id",
            "nook --debug --log=/l exec --tty -e A=1 -e B=2 --cwd /w id sh -c true",
            "nook exec -d id true --root x",
            "nook --rootless false delete --force id",
            "nook kill id KILL --all",
            "nook kill --root /r id",
            "nook state id",
            "nook start id --systemd-cgroup",
            "nook run --detach --keep --preserve-fds 2 --no-pivot id",
        ] {
            let one = parse_one_verb(&words(line)).unwrap_or_else(|| panic!("{line}"));
            let full = Cli::try_parse_from(words(line)).unwrap();
            assert_eq!(format!("{one:?}"), format!("{full:?}"), "{line}");
        }
    }

    #[test]
    fn help_errors_and_other_verbs_take_the_full_parse() {
        for line in [
            "nook run --help",
            "nook exec id ls -h",
            "nook run --no-such-flag id",
            "nook delete",
            "nook list",
            "nook --version",
            "nook",
        ] {
            assert!(parse_one_verb(&words(line)).is_none(), "{line}");
        }
    }

    #[test]
    fn the_verb_is_found_past_global_flags_and_their_values() {
        assert!(enters("nook run -b b id"));
        assert!(enters(
            "nook --root /x --log-format json create --bundle b id"
        ));
        assert!(enters("nook --debug --log=/l exec id true"));
        assert!(enters("nook --rootless false exec id true"));
        // A flag value that spells a verb is not the verb.
        assert!(!enters("nook --root run state id"));
        assert!(!enters("nook --log exec delete id"));
        assert!(!enters("nook state run"));
        assert!(!enters("nook"));
        assert!(!enters("nook --version"));
    }
}
