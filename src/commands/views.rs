//! `top` and `monitor` are another program, `nook-views`, installed next to `nook`: this
//! verb only replaces the process with it. nook's resident set is about the size of its text
//! (fault-around maps every 64 KiB window a start touches, and a start touches nearly all of
//! them), so the views' code — a terminal table, an HTTP server, JSON documents — would cost
//! every create, start and exec about 200 KiB even unrun; in their own executable it costs
//! them nothing. Both read the statistics `events --stats` reads (`nook::container::stats`).

use std::os::unix::process::CommandExt;

use anyhow::{anyhow, Result};

use crate::cli::{Global, LogFormat, ViewArgs};

pub fn run(global: &Global, verb: &str, args: &ViewArgs) -> Result<u8> {
    run_helper(global, "nook-views", verb, args)
}

/// Replace this process with `program` (installed next to nook) running `verb` with the global
/// flags and `args`. `checkpoint` and `restore` are `nook-criu`, for the same reason as the views.
pub fn run_helper(global: &Global, program: &str, verb: &str, args: &ViewArgs) -> Result<u8> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("{verb}: find nook's own path: {e}"))?;
    let views = exe.with_file_name(program);
    let mut cmd = std::process::Command::new(&views);
    cmd.arg("--root").arg(global.state_root());
    if let Some(log) = &global.log {
        cmd.arg("--log").arg(log);
    }
    if let LogFormat::Json = global.log_format {
        cmd.args(["--log-format", "json"]);
    }
    if global.debug {
        cmd.arg("--debug");
    }
    if program == "nook-criu" {
        if let Some(criu) = &global.criu {
            cmd.arg("--criu").arg(criu);
        }
        if global.systemd_cgroup {
            cmd.arg("--systemd-cgroup");
        }
    }
    cmd.arg(verb).args(&args.args);
    let err = cmd.exec();
    Err(anyhow!(
        "{verb}: run {}: {err} (nook's {verb} is that program, installed next to nook)",
        views.display()
    ))
}
