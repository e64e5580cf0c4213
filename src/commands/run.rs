use std::path::Path;

use anyhow::{Context, Result};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nook::container;

use crate::cli::RunArgs;

/// `run`: create and start; unless detached, forward signals to the init and exit with its
/// status (128+signal when it was killed), then delete the container.
pub fn run(root: &Path, args: &RunArgs) -> Result<u8> {
    let id = &args.create.id;
    let opts = super::create::options(&args.create);
    // Blocked before the init is released, so an instant exit's SIGCHLD waits for sigwait.
    // The init unblocks everything before execve.
    let forwarded = SigSet::all();
    if !args.detach {
        forwarded
            .thread_block()
            .context("block signals for forwarding")?;
    }
    let pid = container::create(root, id, &args.create.bundle, &opts).map_err(super::chain)?;
    if let Err(e) = container::start(root, id) {
        let _ = container::delete(root, id, true);
        return Err(super::chain(e));
    }
    if args.detach {
        return Ok(0);
    }
    let code = forward_until_exit(pid, &forwarded)?;
    if !args.keep {
        container::delete(root, id, true).map_err(super::chain)?;
    }
    Ok(code)
}

pub(super) fn forward_until_exit(init: Pid, set: &SigSet) -> Result<u8> {
    loop {
        let sig = set.wait().context("wait for signals")?;
        if sig != Signal::SIGCHLD {
            // The init may already be gone; its exit arrives as SIGCHLD next.
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
