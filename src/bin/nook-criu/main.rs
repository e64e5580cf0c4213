//! `nook-criu`: `nook checkpoint` and `nook restore`, which `nook` runs (exec) from next to
//! itself. A program of its own, as nook-views is, so that the CRIU client, the protobuf
//! messages and these verbs never add to the text, and so to the resident set, of the `nook`
//! that create, start and exec run (see src/commands/views.rs). The work is the library's
//! (`nook::checkpoint`, `nook::criu`).

#[path = "../shared/helper.rs"]
mod helper;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nook::checkpoint::{self, CheckpointOptions, CriuFlags, RestoreOptions};
use nook::criu::rpc::CgMode;

#[derive(Parser, Debug)]
#[command(
    name = "nook",
    bin_name = "nook",
    about = "nook's checkpoint and restore, with CRIU",
    disable_version_flag = true,
    args_override_self = true
)]
struct Cli {
    #[command(flatten)]
    global: helper::Global,
    /// Path to the criu binary (default: criu on PATH)
    #[arg(long, global = true)]
    criu: Option<PathBuf>,
    /// nook's --systemd-cgroup (restore refuses it)
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Checkpoint a running container with CRIU
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint
    Restore(RestoreArgs),
}

/// The CRIU options `checkpoint` and `restore` share.
#[derive(Args, Debug)]
struct CriuArgs {
    /// Directory of the CRIU images (default: ./checkpoint)
    #[arg(long)]
    image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files (default: the image path)
    #[arg(long)]
    work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long)]
    tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long)]
    ext_unix_sk: bool,
    /// Allow a shell job (a session and tty from outside)
    #[arg(long)]
    shell_job: bool,
    /// Handle file locks
    #[arg(long)]
    file_locks: bool,
    /// Cgroups mode: soft, full, strict or ignore (default: soft)
    #[arg(long, value_parser = ["soft", "full", "strict", "ignore"])]
    manage_cgroups_mode: Option<String>,
    /// Create a namespace but do not restore its properties (e.g. network)
    #[arg(long)]
    empty_ns: Vec<String>,
    /// Lazy migration through userfaultfd (not supported by nook yet)
    #[arg(long)]
    lazy_pages: bool,
}

#[derive(Args, Debug)]
struct CheckpointArgs {
    #[command(flatten)]
    criu: CriuArgs,
    /// Path of a previous (pre-dump) checkpoint, relative to the image path
    #[arg(long)]
    parent_path: Option<String>,
    /// Leave the processes running after the checkpoint
    #[arg(long)]
    leave_running: bool,
    /// Skip in-flight TCP connections
    #[arg(long)]
    tcp_skip_in_flight: bool,
    /// Allow CRIU to link-remap files
    #[arg(long)]
    link_remap: bool,
    /// Dump the memory only, leaving the container running (needs soft-dirty tracking)
    #[arg(long)]
    pre_dump: bool,
    /// Deduplicate the images against the parent's
    #[arg(long)]
    auto_dedup: bool,
    /// ADDRESS:PORT of a CRIU page server to send the memory pages to
    #[arg(long)]
    page_server: Option<String>,
    /// Fd CRIU reports the lazy page server ready on (only with --lazy-pages)
    #[arg(long)]
    status_fd: Option<i32>,
    id: String,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    #[command(flatten)]
    criu: CriuArgs,
    /// Bundle directory holding config.json (default: the current directory)
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Return once the container is restored instead of waiting for it
    #[arg(short, long)]
    detach: bool,
    /// Write the restored init's pid to this file
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Unix socket to send the restored terminal's pty master to (process.terminal)
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Accepted for compatibility: nook's restore never makes itself a subreaper
    #[arg(long)]
    no_subreaper: bool,
    /// Accepted for compatibility: CRIU sets up the restored root itself
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for compatibility (deduplication is a checkpoint option)
    #[arg(long)]
    auto_dedup: bool,
    id: String,
}

/// `top` and `monitor` flags, parsed by nook-views (see `nook top --help`).
fn main() -> ExitCode {
    helper::run_main(
        |cli: &Cli| &cli.global,
        |cli| match &cli.command {
            Command::Checkpoint(args) => checkpoint(&cli.global.root, args, cli),
            Command::Restore(args) => restore(&cli.global.root, args, cli),
        },
    )
}

fn criu_path(global: &Cli) -> PathBuf {
    global.criu.clone().unwrap_or_else(|| PathBuf::from("criu"))
}

/// runc's default image directory: `checkpoint` in the current directory.
fn image_path(args: &CriuArgs) -> Result<PathBuf> {
    match &args.image_path {
        Some(p) => Ok(p.clone()),
        None => Ok(std::env::current_dir()
            .context("current directory")?
            .join("checkpoint")),
    }
}

fn namespace_bit(name: &str) -> Result<u32> {
    Ok(match name {
        "network" => libc::CLONE_NEWNET,
        "pid" => libc::CLONE_NEWPID,
        "ipc" => libc::CLONE_NEWIPC,
        "uts" => libc::CLONE_NEWUTS,
        "mount" => libc::CLONE_NEWNS,
        "user" => libc::CLONE_NEWUSER,
        "cgroup" => libc::CLONE_NEWCGROUP,
        other => bail!(
            "--empty-ns {other}: not a namespace (network, pid, ipc, uts, mount, user, cgroup)"
        ),
    } as u32)
}

fn flags(args: &CriuArgs) -> Result<CriuFlags> {
    if args.lazy_pages {
        bail!(
            "--lazy-pages: not supported by nook yet (CRIU's lazy restore failed in its page \
             server on this host)"
        );
    }
    let mut empty_ns = 0;
    for name in &args.empty_ns {
        for n in name.split(',').filter(|n| !n.is_empty()) {
            empty_ns |= namespace_bit(n)?;
        }
    }
    let cgroups_mode = args.manage_cgroups_mode.as_deref().map(|m| match m {
        "full" => CgMode::Full,
        "strict" => CgMode::Strict,
        "ignore" => CgMode::Ignore,
        _ => CgMode::Soft,
    });
    Ok(CriuFlags {
        tcp_established: args.tcp_established,
        ext_unix_sk: args.ext_unix_sk,
        shell_job: args.shell_job,
        file_locks: args.file_locks,
        cgroups_mode,
        empty_ns,
    })
}

fn chain(err: checkpoint::CheckpointError) -> anyhow::Error {
    anyhow::anyhow!(nook::error_chain(&err))
}

fn checkpoint(root: &Path, args: &CheckpointArgs, global: &Cli) -> Result<u8> {
    let flags = flags(&args.criu)?;
    if args.status_fd.is_some() {
        bail!("--status-fd: only with --lazy-pages, which nook does not support yet");
    }
    let page_server = match &args.page_server {
        None => None,
        Some(spec) => {
            let (address, port) = spec
                .rsplit_once(':')
                .with_context(|| format!("--page-server {spec}: expected ADDRESS:PORT"))?;
            let port = port
                .parse::<u16>()
                .with_context(|| format!("--page-server {spec}: bad port"))?;
            Some((address.to_string(), i32::from(port)))
        }
    };
    let opts = CheckpointOptions {
        criu: criu_path(global),
        image_path: image_path(&args.criu)?,
        work_path: args.criu.work_path.clone(),
        leave_running: args.leave_running,
        tcp_skip_in_flight: args.tcp_skip_in_flight,
        link_remap: args.link_remap,
        pre_dump: args.pre_dump,
        parent_path: args.parent_path.clone(),
        auto_dedup: args.auto_dedup,
        page_server,
        flags,
    };
    checkpoint::checkpoint(root, &args.id, &opts).map_err(chain)?;
    Ok(0)
}

fn restore(root: &Path, args: &RestoreArgs, global: &Cli) -> Result<u8> {
    let flags = flags(&args.criu)?;
    if global.systemd_cgroup {
        bail!("--systemd-cgroup: restore into a systemd scope is not supported by nook yet");
    }
    let opts = RestoreOptions {
        criu: criu_path(global),
        image_path: image_path(&args.criu)?,
        work_path: args.criu.work_path.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        flags,
    };
    // Blocked before the init exists, so its exit waits for the loop below.
    let forwarded = SigSet::all();
    if !args.detach {
        forwarded
            .thread_block()
            .context("block signals for forwarding")?;
    }
    let pid = checkpoint::restore(root, &args.id, &args.bundle, &opts).map_err(chain)?;
    if args.detach {
        return Ok(0);
    }
    let code = forward_until_exit(pid, &forwarded)?;
    nook::container::delete(root, &args.id, true)
        .map_err(|e| anyhow::anyhow!(nook::error_chain(&e)))?;
    Ok(code)
}

/// Forward every signal to the restored init until it exits; its status (128+signal when
/// killed) is the exit code, as `run`'s.
fn forward_until_exit(init: Pid, set: &SigSet) -> Result<u8> {
    loop {
        let sig = set.wait().context("wait for signals")?;
        if sig != Signal::SIGCHLD {
            let _ = kill(init, sig);
            continue;
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == init => return Ok(code as u8),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                    return Ok(128 + sig as i32 as u8)
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
