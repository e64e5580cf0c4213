//! seccomp(2) with a program nook assembled itself (libseccomp's plus the -ENOSYS prefix of
//! security::enosys), which libseccomp cannot load for us.

use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;

/// The kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// The kernel's `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;
pub const FLAG_NEW_LISTENER: u32 = 1 << 3;
pub const FLAG_TSYNC_ESRCH: u32 = 1 << 4;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 1 << 5;

/// Install `program` on the calling thread. With [`FLAG_NEW_LISTENER`] the kernel returns the
/// notify fd, which the caller then owns.
pub fn set_filter(flags: u32, program: &[SockFilter]) -> Result<Option<OwnedFd>, Errno> {
    let len = u16::try_from(program.len()).map_err(|_| Errno::EINVAL)?;
    let fprog = SockFprog {
        len,
        filter: program.as_ptr(),
    };
    // SAFETY: fprog points at `len` valid sock_filter structs that outlive the call; the
    // kernel copies the program and keeps no pointer into our memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            libc::c_ulong::from(flags),
            &fprog as *const SockFprog,
        )
    };
    let ret = Errno::result(ret)?;
    if flags & FLAG_NEW_LISTENER == 0 {
        return Ok(None);
    }
    let fd = i32::try_from(ret).map_err(|_| Errno::EBADF)?;
    // SAFETY: with NEW_LISTENER the kernel returned a fresh fd that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// Parse the native-endian `struct sock_filter` array libseccomp exports.
pub fn parse_program(bytes: &[u8]) -> Option<Vec<SockFilter>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    let program = bytes
        .chunks_exact(8)
        .map(|c| SockFilter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Some(program)
}
