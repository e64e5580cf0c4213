//! `checkpoint` and `restore` (nook::checkpoint, through CRIU).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use nix::sys::signal::SigSet;
use nook::checkpoint::{self, CheckpointOptions, CriuFlags, RestoreOptions};
use nook::criu::rpc::CgMode;

use crate::cli::{CheckpointArgs, CriuArgs, Global, RestoreArgs};

fn criu_path(global: &Global) -> PathBuf {
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

pub fn checkpoint(root: &Path, args: &CheckpointArgs, global: &Global) -> Result<u8> {
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

pub fn restore(root: &Path, args: &RestoreArgs, global: &Global) -> Result<u8> {
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
    let code = super::run::forward_until_exit(pid, &forwarded)?;
    nook::container::delete(root, &args.id, true).map_err(super::chain)?;
    Ok(code)
}
