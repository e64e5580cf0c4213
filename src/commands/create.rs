use std::path::Path;

use anyhow::Result;
use nook::container::{self, CreateOptions};

use crate::cli::CreateArgs;

pub fn options(args: &CreateArgs, rootless: Option<bool>, systemd_cgroup: bool) -> CreateOptions {
    CreateOptions {
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        preserve_fds: args.preserve_fds as i32 + listen_fds(),
        own_pty: false,
        no_new_keyring: args.no_new_keyring,
        rootless,
        systemd_cgroup,
        pidfd_socket: args.pidfd_socket.clone(),
    }
}

/// Socket activation: fds passed with LISTEN_FDS are preserved too, as runc does.
fn listen_fds() -> i32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(0)
}

pub fn run(
    root: &Path,
    args: &CreateArgs,
    rootless: Option<bool>,
    systemd_cgroup: bool,
) -> Result<u8> {
    let opts = options(args, rootless, systemd_cgroup);
    container::create(root, &args.id, &args.bundle, &opts).map_err(super::chain)?;
    Ok(0)
}
