//! The command line, spelled as runc spells it (see ../shared/CALLERS.md).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    about = "A runc-compatible OCI container runtime",
    disable_version_flag = true,
    args_override_self = true
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
    /// Directory for container state (default /run/nook; for an unprivileged user with
    /// XDG_RUNTIME_DIR set, $XDG_RUNTIME_DIR/nook)
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Write log lines to this file instead of stderr
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd: the container is a transient scope (cgroupsPath slice:prefix:name)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Manage cgroups as an unprivileged user does (true, false or auto: unprivileged or
    /// in a user namespace)
    #[arg(long, value_parser = ["true", "false", "auto"])]
    pub rootless: Option<String>,
    /// Path to the criu binary for checkpoint and restore (default: criu on PATH)
    #[arg(long, global = true)]
    pub criu: Option<PathBuf>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
}

impl Global {
    /// The state directory: `--root`, else runc's rule: with XDG_RUNTIME_DIR set, an
    /// unprivileged user (euid != 0) keeps state in `$XDG_RUNTIME_DIR/nook`, and so does root in
    /// a user namespace unless `USER` says root (rootless podman runs its runtime as the root of
    /// the user's namespace); everyone else in /run/nook.
    pub fn state_root(&self) -> PathBuf {
        if let Some(root) = &self.root {
            return root.clone();
        }
        let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        match xdg {
            Some(dir)
                if honor_xdg_runtime_dir(
                    nix::unistd::geteuid().is_root(),
                    std::env::var_os("USER").as_deref(),
                    nook::cgroups::rootless::in_user_namespace,
                ) =>
            {
                PathBuf::from(dir).join("nook")
            }
            _ => PathBuf::from("/run/nook"),
        }
    }

    /// `--rootless`: Some(true/false) when given as such, None for auto (decided where it
    /// matters, by the cgroup code, so the common path pays nothing for it).
    pub fn rootless(&self) -> Option<bool> {
        match self.rootless.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }
}

/// Whether XDG_RUNTIME_DIR (when set) holds the state: euid != 0, or euid 0 in a user
/// namespace with `user` (the USER variable) unset or other than root. Only root with
/// XDG_RUNTIME_DIR set, and USER not root, asks `in_user_namespace` (a read of
/// /proc/self/uid_map).
fn honor_xdg_runtime_dir(
    euid_root: bool,
    user: Option<&std::ffi::OsStr>,
    in_user_namespace: impl FnOnce() -> bool,
) -> bool {
    !euid_root || (user != Some(std::ffi::OsStr::new("root")) && in_user_namespace())
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
    let def = Global::augment_args(Def::new("nook").disable_version_flag(true))
        .args_override_self(true)
        .subcommand(verb.args_override_self(true));
    let matches = def.try_get_matches_from(args).ok()?;
    Some(Cli {
        global: Global::from_arg_matches(&matches).ok()?,
        command: Some(Command::from_arg_matches(&matches).ok()?),
    })
}

/// The verb of a command line: its first word that is neither a flag nor the value of a global
/// flag that takes one.
fn verb_of<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<&str> {
    const TAKES_VALUE: [&str; 5] = ["--root", "--log", "--log-format", "--rootless", "--criu"];
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
    /// A live table of the containers' resource usage (nook's own; runs nook-views)
    #[command(disable_help_flag = true)]
    Top(ViewArgs),
    /// Serve a read-only web page of the containers' usage and configs (nook's own; runs nook-views)
    #[command(disable_help_flag = true)]
    Monitor(ViewArgs),
    /// Checkpoint a running container with CRIU (runs nook-criu)
    #[command(disable_help_flag = true)]
    Checkpoint(ViewArgs),
    /// Restore a container from a CRIU checkpoint (runs nook-criu)
    #[command(disable_help_flag = true)]
    Restore(ViewArgs),
}

#[derive(Args, Debug)]
pub struct ViewArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<std::ffi::OsString>,
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

/// runc's spelling of every flag; `-1` (unlimited) may follow a flag as its own word.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// LinuxResources JSON from a file, or "-" for stdin
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes accepted; -1 for unlimited)
    #[arg(short, long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory soft limit in bytes (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Obsolete in runc: accepted, warned about and ignored
    #[arg(long, hide = true, allow_negative_numbers = true)]
    pub kernel_memory: Option<String>,
    /// Obsolete in runc: accepted, warned about and ignored
    #[arg(long, hide = true, allow_negative_numbers = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS burst in microseconds
    #[arg(long)]
    pub cpu_burst: Option<u64>,
    /// CPU realtime period in microseconds (cgroup v1 only)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds (cgroup v1 only; -1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// 1 for SCHED_IDLE, 0 for the default
    #[arg(long, allow_negative_numbers = true)]
    pub cpu_idle: Option<i64>,
    /// CPUs the container may use (e.g. 0-1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of tasks (-1 for unlimited)
    #[arg(long, allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Intel RDT/CAT L3 cache schema (L3:<cache id>=<mask>;...) for the container's resctrl group
    #[arg(long, alias = "rdt-l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (MB:<cache id>=<bandwidth>;...)
    #[arg(long, alias = "rdt-mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
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
    /// Run the process in an existing sub-cgroup of the container's, [<controller>:]<path>
    /// (repeatable on cgroup v1; one path without controllers on v2)
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Unix socket that receives a pidfd of the process
    #[arg(long)]
    pub pidfd_socket: Option<PathBuf>,
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
    /// Unix socket that receives a pidfd of the init
    #[arg(long)]
    pub pidfd_socket: Option<PathBuf>,
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
    /// Accepted for compatibility: nook's `run` never makes itself a subreaper
    #[arg(long)]
    pub no_subreaper: bool,
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

    #[test]
    fn xdg_runtime_dir_rule_is_runcs() {
        use std::ffi::OsStr;
        let asked = |answer: bool| move || answer;
        let never = || -> bool { panic!("asked about the user namespace") };
        // Unprivileged: always, whatever USER says.
        assert!(honor_xdg_runtime_dir(
            false,
            Some(OsStr::new("root")),
            never
        ));
        // Root on the host: never.
        assert!(!honor_xdg_runtime_dir(
            true,
            Some(OsStr::new("alice")),
            asked(false)
        ));
        assert!(!honor_xdg_runtime_dir(true, None, asked(false)));
        // Root of a user namespace (rootless podman's runtime): unless USER is root.
        assert!(honor_xdg_runtime_dir(
            true,
            Some(OsStr::new("alice")),
            asked(true)
        ));
        assert!(honor_xdg_runtime_dir(true, None, asked(true)));
        assert!(!honor_xdg_runtime_dir(
            true,
            Some(OsStr::new("root")),
            never
        ));
    }

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
            "nook --criu /c kill id 0",
        ] {
            let one = parse_one_verb(&words(line)).unwrap_or_else(|| panic!("{line}"));
            let full = Cli::try_parse_from(words(line)).unwrap();
            assert_eq!(format!("{one:?}"), format!("{full:?}"), "{line}");
        }
    }

    /// Every flag runc 1.1 to 1.4 takes for these verbs, in runc's spelling (long and short).
    const RUNC_SPELLINGS: &[&str] = &[
        "nook --debug --log /l --log-format json --root /r --criu /c --systemd-cgroup \
         --rootless auto state id",
        "nook update --resources - -r - id",
        "nook update --blkio-weight 500 --cpu-period 100000 --cpu-quota 50000 --cpu-burst 10 \
         --cpu-share 512 --cpu-rt-period 1000 --cpu-rt-runtime 500 --cpuset-cpus 0 \
         --cpuset-mems 0 --kernel-memory 1m --kernel-memory-tcp 1m --memory 1g --cpu-idle 1 \
         --memory-reservation 512m --memory-swap 2g --pids-limit 10 --l3-cache-schema L3:0=f \
         --mem-bw-schema MB:0=50 id",
        "nook update --rdt-l3-cache-schema L3:0=f --rdt-mem-bw-schema MB:0=50 id",
        "nook update --memory -1 --memory-swap -1 --memory-reservation -1 --cpu-quota -1 \
         --cpu-rt-runtime -1 --pids-limit -1 --kernel-memory -1 --kernel-memory-tcp -1 id",
        "nook update --cpu-shares 512 id",
        "nook exec --console-socket /s --pidfd-socket /p --cwd /w --env A=1 -e B=2 --tty -t \
         --user 1:1 -u 1 --additional-gids 5 -g 6 --process /p.json -p /p.json --detach -d \
         --pid-file /f --process-label l --apparmor a --no-new-privs --cap CAP_KILL -c CAP_CHOWN \
         --preserve-fds 1 --cgroup / --cgroup cpu,cpuacct:/ --ignore-paused id true",
        "nook create --bundle b -b b --console-socket /s --pidfd-socket /p --pid-file /f \
         --no-pivot --no-new-keyring --preserve-fds 1 id",
        "nook run --bundle b -b b --console-socket /s --pidfd-socket /p --detach -d --keep \
         --pid-file /f --no-subreaper --no-pivot --no-new-keyring --preserve-fds 1 id",
        "nook delete --force -f id",
        "nook kill --all -a id KILL",
        "nook kill id 0",
        "nook kill --all id 0",
        "nook ps --format json -f table id",
        "nook list --format json -f table --quiet -q",
        "nook events --interval 1s --stats id",
        "nook spec --bundle b -b b --rootless",
        "nook pause id",
        "nook resume id",
        "nook state id",
        "nook start id",
    ];

    #[test]
    fn every_runc_spelling_parses_and_the_one_verb_parse_agrees() {
        for line in RUNC_SPELLINGS {
            let full = Cli::try_parse_from(words(line)).unwrap_or_else(|e| panic!("{line}: {e}"));
            if let Some(one) = parse_one_verb(&words(line)) {
                assert_eq!(format!("{one:?}"), format!("{full:?}"), "{line}");
            }
        }
    }

    #[test]
    fn a_repeated_flag_takes_the_last_value_and_lists_still_collect() {
        let line = "nook exec -u 1 --user 2 -e A=1 --env B=2 -c CAP_KILL --cap CAP_CHOWN id true";
        for cli in [
            Cli::try_parse_from(words(line)).unwrap(),
            parse_one_verb(&words(line)).unwrap(),
        ] {
            let Some(Command::Exec(e)) = cli.command else {
                panic!("not exec: {cli:?}");
            };
            assert_eq!(e.user.as_deref(), Some("2"));
            assert_eq!(e.env, ["A=1", "B=2"]);
            assert_eq!(e.cap, ["CAP_KILL", "CAP_CHOWN"]);
        }
    }

    #[test]
    fn minus_one_is_a_value_of_its_own() {
        let cli = Cli::try_parse_from(words(
            "nook update --memory-swap -1 --pids-limit -1 --cpu-quota -1 id",
        ))
        .unwrap();
        let Some(Command::Update(u)) = cli.command else {
            panic!("not update: {cli:?}");
        };
        assert_eq!(u.memory_swap.as_deref(), Some("-1"));
        assert_eq!((u.pids_limit, u.cpu_quota), (Some(-1), Some(-1)));
        // A flag is still not taken for a value.
        assert!(Cli::try_parse_from(words("nook update --memory --pids-limit 1 id")).is_err());
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
        assert!(!enters("nook --criu exec state id"));
        assert!(!enters("nook state run"));
        assert!(!enters("nook"));
        assert!(!enters("nook --version"));
    }
}
