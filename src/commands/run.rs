use std::path::Path;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, OutputFlags, SetArg, Termios};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use nook::container;
use nook::sys;

use crate::cli::RunArgs;

/// `run`: create and start; unless detached, forward signals to the init and exit with its
/// status (128+signal when it was killed), then delete the container.
pub fn run(
    root: &Path,
    args: &RunArgs,
    rootless: Option<bool>,
    systemd_cgroup: bool,
) -> Result<u8> {
    let id = &args.create.id;
    let opts = super::create::options(&args.create, rootless, systemd_cgroup);
    // Blocked before the init is released, so an instant exit's SIGCHLD waits for sigwait.
    // The init unblocks everything before execve.
    let forwarded = SigSet::all();
    if !args.detach {
        forwarded
            .thread_block()
            .context("block signals for forwarding")?;
    }
    let opts = container::CreateOptions {
        own_pty: !args.detach,
        ..opts
    };
    let created = container::create(root, id, &args.create.bundle, &opts).map_err(super::chain)?;
    let container::Created {
        pid,
        pty_master,
        cgroup,
    } = created;
    // Attached (our terminal raw) before start, so the first keystrokes already reach the
    // container unchanged.
    let attached = pty_master.map(Attached::new);
    if let Err(e) = container::start_run(root, id) {
        drop(attached);
        let _ = container::delete_failed_run(root, id);
        return Err(super::chain(e));
    }
    nook::logging::step("started");
    if args.detach {
        return Ok(0);
    }
    let code = wait_foreground(pid, &forwarded, attached)?;
    nook::logging::step("container exited");
    if !args.keep {
        container::delete_run(root, id, &cgroup).map_err(super::chain)?;
        nook::logging::step("deleted");
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
        if let Some(code) = reap(init) {
            return Ok(code);
        }
    }
}

/// Waits for `pid` as `forward_until_exit` does, proxying its pty when we hold one.
pub(super) fn wait_foreground(pid: Pid, set: &SigSet, attached: Option<Attached>) -> Result<u8> {
    match attached {
        Some(attached) => proxy_until_exit(pid, set, attached),
        None => forward_until_exit(pid, set),
    }
}

/// A pty the container made for us (foreground `run`, `exec -t` without --console-socket),
/// with the caller's terminal, if it has one, raw until this is dropped.
pub(super) struct Attached {
    master: OwnedFd,
    host: Option<RawTerminal>,
}

impl Attached {
    pub(super) fn new(master: OwnedFd) -> Attached {
        Attached {
            master,
            host: RawTerminal::enter(),
        }
    }

    /// Give the container's pty the window size of the caller's terminal.
    fn resize(&self) {
        if let Some(host) = &self.host {
            if let Ok((rows, cols)) = sys::window_size(host.fd.as_fd()) {
                let _ = sys::set_window_size(self.master.as_fd(), rows, cols);
            }
        }
    }
}

/// The caller's terminal in raw mode while a container owns the pty; restored on drop. As in
/// runc, it is the first of stderr, stdout and stdin that is a terminal, else the controlling
/// terminal, so `exec -t` at a terminal with stdin redirected still gets its window size.
struct RawTerminal {
    fd: OwnedFd,
    saved: Termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let (stderr, stdout, stdin) = (std::io::stderr(), std::io::stdout(), std::io::stdin());
        let found = [stderr.as_fd(), stdout.as_fd(), stdin.as_fd()]
            .into_iter()
            .find_map(|fd| tcgetattr(fd).ok().map(|t| (fd.try_clone_to_owned(), t)));
        let (fd, saved) = match found {
            Some((fd, saved)) => (fd.ok()?, saved),
            None => {
                let tty = OwnedFd::from(std::fs::File::open("/dev/tty").ok()?);
                let saved = tcgetattr(&tty).ok()?;
                (tty, saved)
            }
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        // The container's pty has ONLCR off; our terminal adds the `\r` on the way out.
        raw.output_flags.insert(OutputFlags::OPOST);
        tcsetattr(&fd, SetArg::TCSANOW, &raw).ok()?;
        Some(RawTerminal { fd, saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = tcsetattr(&self.fd, SetArg::TCSANOW, &self.saved);
    }
}

/// Like `forward_until_exit`, while copying stdin to the container's pty and the pty to
/// stdout, and passing window-size changes on.
fn proxy_until_exit(init: Pid, set: &SigSet, attached: Attached) -> Result<u8> {
    let sigfd = SignalFd::with_flags(set, SfdFlags::SFD_CLOEXEC).context("signalfd")?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    attached.resize();
    let master = &attached.master;
    let mut stdin_open = true;
    let mut buf = [0u8; 8192];
    loop {
        let mut fds = vec![
            PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(master.as_fd(), PollFlags::POLLIN),
        ];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            other => other.context("poll")?,
        };
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (sig_ready, pty_ready, in_ready) = (ready(0), ready(1), ready(2));
        drop(fds);
        if pty_ready {
            match nix::unistd::read(master, &mut buf) {
                Ok(n) if n > 0 => {
                    stdout.write_all(&buf[..n])?;
                    stdout.flush()?;
                }
                _ => {}
            }
        }
        if in_ready {
            match nix::unistd::read(&stdin, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = nix::unistd::write(master, &buf[..n]);
                }
                _ => stdin_open = false,
            }
        }
        if !sig_ready {
            continue;
        }
        let Ok(Some(info)) = sigfd.read_signal() else {
            continue;
        };
        match Signal::try_from(info.ssi_signo as i32) {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap(init) {
                    drain(master, &mut stdout);
                    return Ok(code);
                }
            }
            Ok(Signal::SIGWINCH) => attached.resize(),
            Ok(sig) => {
                let _ = kill(init, sig);
            }
            Err(_) => {}
        }
    }
}

/// Whatever the container wrote before it exited still goes out.
fn drain(master: &OwnedFd, stdout: &mut std::io::Stdout) {
    let _ = nix::fcntl::fcntl(
        master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    let mut buf = [0u8; 8192];
    while let Ok(n) = nix::unistd::read(master, &mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = stdout.flush();
}

/// The init's exit code (128+signal when killed), once it has exited.
fn reap(init: Pid) -> Option<u8> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == init => return Some(code as u8),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == init => {
                return Some(128 + sig as i32 as u8)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}
