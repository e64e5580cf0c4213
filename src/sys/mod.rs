//! Thin wrappers over the raw syscalls that `nix` does not cover. This is the one module that
//! uses `libc` directly; every `unsafe` here carries a `// SAFETY:` line. The new mount API
//! lives in `mount`, bpf(2) for cgroup v2 device programs in `bpf`.

pub mod bpf;
pub mod mount;
pub mod netlink;
pub mod seccomp;

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::unistd::Pid;

/// `CLONE_INTO_CGROUP` (Linux 5.7): the child starts life inside the cgroup given by fd.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// The kernel's `struct clone_args` (v2 layout, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What `fork_with` returns in each process.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// fork(2) with namespace flags (and CLONE_PARENT), optionally straight into a cgroup v2 directory.
///
/// clone3 without a stack behaves like fork: the child continues on a copy of the caller's
/// stack.
///
/// # Safety
/// The caller must be single-threaded: the child gets a copy of this thread alone, and any lock
/// another thread held (the allocator's, stdio's) would stay locked in it forever.
pub unsafe fn fork_with(
    namespace_flags: u64,
    cgroup: Option<BorrowedFd<'_>>,
) -> Result<Forked, Errno> {
    // With CLONE_PARENT the kernel takes the caller's own exit signal and refuses another.
    let exit_signal = if namespace_flags & libc::CLONE_PARENT as u64 != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = CloneArgs {
        flags: namespace_flags,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: args is a valid clone_args of the size passed; with stack == 0 the child runs on a
    // copy-on-write copy of our stack, exactly like fork, and we are single-threaded.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Pid::from_raw(pid as i32))),
    }
}

/// Mark every fd from `first` upwards close-on-exec, so that execve closes them.
pub fn cloexec_from(first: RawFd) -> Result<(), Errno> {
    // SAFETY: close_range only changes fd flags; it touches no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    Errno::result(ret).map(drop)
}

/// setdomainname(2), which nix does not wrap.
pub fn set_domainname(name: &str) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe `name`'s bytes, which outlive the call.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    Errno::result(ret).map(drop)
}

/// pidfd_open(2): an fd that names the process itself, immune to pid reuse.
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    let fd = Errno::result(ret)? as RawFd;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Why `write_proc` did not write.
#[derive(Debug)]
pub enum ProcWriteError {
    Io(std::io::Error),
    /// The file opened is not on procfs (an overmount or a fake /proc).
    NotProcfs,
}

/// Write a value to a file under /proc, after proving the opened file really is on procfs
/// (so an overmount or a symlink cannot redirect the write).
pub fn write_proc(path: &std::path::Path, value: &str) -> Result<(), ProcWriteError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)
        .map_err(ProcWriteError::Io)?;
    if !is_procfs(std::os::fd::AsFd::as_fd(&file)).unwrap_or(false) {
        return Err(ProcWriteError::NotProcfs);
    }
    file.write_all(value.as_bytes()).map_err(ProcWriteError::Io)
}

/// Whether the filesystem holding `fd` is procfs; writes meant for /proc must land there.
pub fn is_procfs(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    let st = nix::sys::statfs::fstatfs(fd)?;
    Ok(st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

/// Own an fd the kernel just handed us (SCM_RIGHTS, a seccomp listener).
///
/// # Safety
/// `fd` must be open and owned by nothing else (the kernel returned it a moment ago), and must
/// be passed here once: the returned OwnedFd closes it.
pub unsafe fn take_received_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller guarantees `fd` is open and has no other owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// umask(2) with a raw mode from the spec.
pub fn set_umask(mask: u32) {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        mask as libc::mode_t,
    ));
}

/// Make the terminal on `fd` the caller's controlling terminal (the caller leads its session).
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) };
    Errno::result(ret).map(drop)
}

/// Set a terminal's window size.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<(), Errno> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize struct, which lives until the call returns.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCSWINSZ,
            &size as *const libc::winsize,
        )
    };
    Errno::result(ret).map(drop)
}

/// Close every fd from `first` upwards except those in `keep`, using close_range on the gaps.
/// The init calls it first thing, so no fd of the runtime (a state-dir lock, say) stays open
/// in the container's process.
///
/// # Safety
/// No Rust object may own a closed fd and use it afterwards: every fd from `first` on that the
/// caller still needs must be in `keep`.
pub unsafe fn close_fds_from_except(first: RawFd, keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd >= first).collect();
    keep.sort_unstable();
    let mut start = first;
    for fd in keep {
        if fd > start {
            close_range(start as libc::c_uint, (fd - 1) as libc::c_uint)?;
        }
        start = fd + 1;
    }
    close_range(start as libc::c_uint, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: close_range only closes fds; no Rust object of ours owns these ones (the
    // callers keep the fds they still use out of the range).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
    Errno::result(ret).map(drop)
}

/// Restore the default action of SIGPIPE, which Rust's runtime ignores: an ignored signal
/// would be inherited by the container's program across execve.
pub fn default_sigpipe() -> Result<(), Errno> {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: installing SIG_DFL runs no handler code of ours.
    unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map(drop)
}

/// A terminal's window size as (rows, cols).
pub fn window_size(fd: BorrowedFd<'_>) -> Result<(u16, u16), Errno> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize struct into `size`, which outlives the call.
    let ret = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TIOCGWINSZ,
            &mut size as *mut libc::winsize,
        )
    };
    Errno::result(ret).map(|_| (size.ws_row, size.ws_col))
}

/// ioprio_set(IOPRIO_WHO_PROCESS, self, (class << 13) | level).
pub fn set_io_priority(class: u32, level: u32) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    let prio = ((class << 13) | level) as libc::c_int;
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    Errno::result(ret).map(drop)
}

/// personality(2) with a domain such as PER_LINUX32.
pub fn set_personality(persona: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: personality only changes this process's execution domain.
    let ret = unsafe { libc::personality(persona) };
    Errno::result(ret).map(drop)
}

/// set_mempolicy(2) for the calling thread (and what it forks): `mode` with its flags, the
/// nodes as a bit mask (`maxnode` bits), or no mask for MPOL_DEFAULT and MPOL_LOCAL.
pub fn set_mempolicy(mode: i32, nodemask: &[libc::c_ulong]) -> Result<(), Errno> {
    let (ptr, maxnode) = if nodemask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads one bit less than it is told (as libnuma passes, bits + 1).
        let bits = nodemask.len() * libc::c_ulong::BITS as usize;
        (nodemask.as_ptr(), bits as libc::c_ulong + 1)
    };
    // SAFETY: `nodemask` holds `maxnode - 1` readable bits and outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    Errno::result(ret).map(drop)
}

/// The kernel's `struct sched_attr` (first version, 48 bytes, plus the util-clamp fields).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// sched_setattr(2) on the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> Result<(), Errno> {
    let mut attr = *attr;
    attr.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: attr is a valid sched_attr of the size it declares and outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    Errno::result(ret).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a fresh session keyring named `name`.
pub fn join_session_keyring(name: &str) -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    let name = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(drop)
}
