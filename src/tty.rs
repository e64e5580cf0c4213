//! Terminals: with `process.terminal` and `--console-socket`, the init opens a pty inside the
//! container, sends the master to the caller's socket (SCM_RIGHTS), and makes the slave its
//! controlling terminal, its stdio and /dev/console. A foreground `run` or `exec -t` without a
//! socket receives the master itself, over a socketpair, and copies it to its own stdio.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, MsFlags};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::termios::{tcgetattr, tcsetattr, OutputFlags, SetArg};
use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fchown, Uid};

use crate::sys;

#[derive(Debug, thiserror::Error)]
pub enum TtyError {
    #[error("--console-socket {path}: connect: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("console: {step}: {source}")]
    Step {
        step: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("console: create a socketpair for the pty: {0}")]
    Pair(#[source] std::io::Error),
    #[error("console: receive the pty master: {0}")]
    Receive(#[source] nix::Error),
    #[error("console: the container sent no pty master")]
    NoMaster,
    #[error("console: /dev/console in the rootfs is not a regular file we created or may use (symlink?): {0}")]
    UnsafeConsole(#[source] nix::Error),
}

fn step(step: &'static str) -> impl FnOnce(nix::Error) -> TtyError {
    move |source| TtyError::Step { step, source }
}

/// Runtime side: connect to the caller's socket before forking, so a socket nobody listens
/// on fails `create` up front.
pub fn connect(path: &Path) -> Result<UnixStream, TtyError> {
    let err = |source| TtyError::Connect {
        path: path.to_path_buf(),
        source,
    };
    // A unix socket address holds at most 107 bytes; reach longer paths through their
    // directory's fd.
    if path.as_os_str().len() < 100 {
        return UnixStream::connect(path).map_err(err);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return UnixStream::connect(path).map_err(err);
    };
    let dir = std::fs::File::open(parent).map_err(err)?;
    let short = Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name);
    UnixStream::connect(short).map_err(err)
}

/// Container side, after pivot_root while still root: create the pty in the container's devpts,
/// hand the master to the socket, and make the slave our terminal and stdio (and, for the
/// init, /dev/console). The slave goes to the process's `uid`; its group and mode stay what the
/// devpts mount gives it (`gid=5,mode=0620` in the usual config), as runc leaves them.
pub fn setup_console(
    socket: &UnixStream,
    size: Option<(u16, u16)>,
    uid: u32,
    console: bool,
) -> Result<(), TtyError> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(step("open /dev/ptmx"))?;
    grantpt(&master).map_err(step("grantpt"))?;
    unlockpt(&master).map_err(step("unlockpt"))?;
    let slave_path = ptsname_r(&master).map_err(step("ptsname"))?;
    if let Some((rows, cols)) = size {
        sys::set_window_size(master.as_fd(), rows, cols).map_err(step("set window size"))?;
    }
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(step("open pty slave"))?;
    fchown(&slave, Some(Uid::from_raw(uid)), None).map_err(step("chown pty slave"))?;
    if console {
        bind_console(&slave)?;
    }
    send_master(socket, &master, slave_path.as_bytes())?;
    drop(master);
    dup2_stdin(&slave).map_err(step("dup2 stdin"))?;
    dup2_stdout(&slave).map_err(step("dup2 stdout"))?;
    dup2_stderr(&slave).map_err(step("dup2 stderr"))?;
    let stdin = std::io::stdin();
    sys::set_controlling_terminal(stdin.as_fd()).map_err(step("TIOCSCTTY"))?;
    Ok(())
}

/// Send a pty master over the console socket (SCM_RIGHTS), with the slave's name as the data.
pub fn send_master(
    socket: &UnixStream,
    master: &impl AsRawFd,
    name: &[u8],
) -> Result<(), TtyError> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(name)],
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(step("send pty master to console socket"))?;
    Ok(())
}

/// Bind the slave onto /dev/console. The target is opened without following links and
/// created if missing, and the mount goes onto that fd, so a symlink planted in the image
/// cannot redirect it (CVE-2025-52565 class).
fn bind_console(slave: &OwnedFd) -> Result<(), TtyError> {
    let dev = nix::fcntl::open(
        "/dev",
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_PATH,
        Mode::empty(),
    )
    .map_err(step("open /dev"))?;
    let console = openat(
        &dev,
        "console",
        OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_RDONLY,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(TtyError::UnsafeConsole)?;
    let st = nix::sys::stat::fstat(&console).map_err(step("stat /dev/console"))?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if kind != SFlag::S_IFREG && kind != SFlag::S_IFCHR {
        return Err(TtyError::UnsafeConsole(nix::Error::EINVAL));
    }
    let source = format!("/proc/self/fd/{}", slave.as_raw_fd());
    let target = format!("/proc/self/fd/{}", console.as_raw_fd());
    mount(
        Some(source.as_str()),
        target.as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(step("bind pty slave onto /dev/console"))?;
    Ok(())
}

/// Receive the pty master the container sends over `socket` (SCM_RIGHTS) for the runtime to
/// copy to its own stdout, and turn ONLCR off, as runc does: what the container writes then
/// arrives byte for byte (`\n`, not `\r\n`), and the caller's terminal, if any, adds the `\r`.
/// Called before the process is let go, so even its first write is untranslated.
pub fn receive_own_master(socket: &UnixStream) -> Result<OwnedFd, TtyError> {
    let master = receive_master(socket)?;
    // On a master, the termios calls act on its slave.
    let mut termios = tcgetattr(&master).map_err(step("read pty termios"))?;
    termios.output_flags.remove(OutputFlags::ONLCR);
    tcsetattr(&master, SetArg::TCSANOW, &termios).map_err(step("clear ONLCR"))?;
    Ok(master)
}

fn receive_master(socket: &UnixStream) -> Result<OwnedFd, TtyError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(TtyError::Receive)?;
    for cmsg in msg.cmsgs().map_err(TtyError::Receive)? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel installed this fd in our table for this message; nothing
                // else holds it.
                return Ok(unsafe { crate::sys::take_received_fd(*fd) });
            }
        }
    }
    Err(TtyError::NoMaster)
}
