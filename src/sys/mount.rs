//! Raw wrappers for the new mount API (`open_tree`, `move_mount`, `fsopen`/`fsmount`,
//! `mount_setattr`), which `nix` does not cover; used by the rootfs module. Every `unsafe`
//! block carries a `// SAFETY:` line.

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

// Values from <linux/mount.h> and <linux/fcntl.h>; they are kernel ABI and never change.
pub const AT_EMPTY_PATH: libc::c_uint = 0x1000;
pub const AT_RECURSIVE: libc::c_uint = 0x8000;
pub const OPEN_TREE_CLONE: libc::c_uint = 0x1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// `struct mount_attr` (MOUNT_ATTR_SIZE_VER0).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

const EMPTY: &CStr = c"";

/// mount_setattr(2) on the mount `fd` refers to (AT_EMPTY_PATH), optionally recursively.
pub fn mount_setattr<Fd: AsFd>(fd: Fd, recursive: bool, attr: &MountAttr) -> nix::Result<()> {
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is a valid NUL-terminated string, `attr` points to a live, correctly sized
    // struct mount_attr, and the kernel only reads from both for the duration of the call.
    let res = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(res).map(drop)
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount (tree) at `fd`.
pub fn clone_tree<Fd: AsFd>(fd: Fd, recursive: bool) -> nix::Result<OwnedFd> {
    let flags = AT_EMPTY_PATH
        | OPEN_TREE_CLONE
        | OPEN_TREE_CLOEXEC
        | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: the path is a valid NUL-terminated string that outlives the call.
    let res = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            fd.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            flags,
        )
    };
    let raw = Errno::result(res)?;
    // SAFETY: on success open_tree returns a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) })
}

/// move_mount(2) the detached mount `from` onto the file or directory `to` refers to.
pub fn move_mount_fd<F: AsFd, T: AsFd>(from: F, to: T) -> nix::Result<()> {
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let res = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            to.as_fd().as_raw_fd(),
            EMPTY.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(res).map(drop)
}

/// A new, detached instance of filesystem `fstype` with no options, carrying `attr_flags`
/// (MOUNT_ATTR_*) — fsopen + FSCONFIG_CMD_CREATE + fsmount.
pub fn new_detached_fs(fstype: &CStr, attr_flags: u64) -> nix::Result<OwnedFd> {
    // SAFETY: `fstype` is a valid NUL-terminated string that outlives the call.
    let res = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    let raw = Errno::result(res)?;
    // SAFETY: fsopen returned a new file descriptor that nothing else owns.
    let fsfd = unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) };
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: FSCONFIG_CMD_CREATE takes no key/value; the null pointers are what the ABI asks for.
    let res = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fsfd.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            null,
            null,
            0,
        )
    };
    Errno::result(res)?;
    // SAFETY: plain integer arguments; `fsfd` is a live fs context.
    let res = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fsfd.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attr_flags,
        )
    };
    let raw = Errno::result(res)?;
    // SAFETY: fsmount returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw as libc::c_int) })
}
