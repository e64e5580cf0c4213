use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::sys::signal::SigSet;
use nook::container::{self, ExecOptions};
use oci_spec::runtime::{Capabilities, Capability, Process};

use crate::cli::ExecArgs;

/// `exec`: the process comes from --process, or from config.json's process with the command
/// line's overrides, as runc builds it.
pub fn run(root: &Path, args: &ExecArgs) -> Result<u8> {
    let mut process = match &args.process {
        Some(path) => {
            nook::spec::parse_process(path).map_err(|e| anyhow::anyhow!(nook::error_chain(&e)))?
        }
        None => from_command_line(root, args)?,
    };
    // Checked against the host's LSMs with the rest of the process when the exec starts.
    if let Some(profile) = &args.apparmor {
        process.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        process.set_selinux_label(Some(label.clone()));
    }
    let opts = ExecOptions {
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        preserve_fds: args.preserve_fds as i32,
        ignore_paused: args.ignore_paused,
        own_pty: !args.detach,
        pidfd_socket: args.pidfd_socket.clone(),
        sub_cgroups: args
            .cgroup
            .iter()
            .map(|a| nook::cgroups::SubCgroup::parse(a))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!(nook::error_chain(&e)))?,
    };
    let forwarded = SigSet::all();
    if !args.detach {
        forwarded
            .thread_block()
            .context("block signals for forwarding")?;
    }
    let execed = container::exec(root, &args.id, &process, &opts).map_err(super::chain)?;
    if args.detach {
        return Ok(0);
    }
    let attached = execed.pty_master.map(super::run::Attached::new);
    super::run::wait_foreground(execed.pid, &forwarded, attached)
}

fn from_command_line(root: &Path, args: &ExecArgs) -> Result<Process> {
    if args.command.is_empty() {
        bail!("exec: give a command after the container id, or --process FILE");
    }
    let mut p = container::config_process(root, &args.id).map_err(super::chain)?;
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(args.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some(user) = &args.user {
        let (uid, gid) = parse_user(user)?;
        p.user_mut().set_uid(uid);
        if let Some(gid) = gid {
            p.user_mut().set_gid(gid);
        }
    }
    if !args.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(args.additional_gids.clone()));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &args.cap {
            let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
                .with_context(|| format!("--cap: unknown capability {name}"))?;
            let add = |set: &Option<Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}

/// `uid` or `uid:gid`, numbers only (names would need the container's /etc/passwd).
fn parse_user(text: &str) -> Result<(u32, Option<u32>)> {
    let (u, g) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let uid = u
        .parse()
        .with_context(|| format!("--user {text:?}: uid must be a number"))?;
    let gid = g
        .map(|g| {
            g.parse()
                .with_context(|| format!("--user {text:?}: gid must be a number"))
        })
        .transpose()?;
    Ok((uid, gid))
}
