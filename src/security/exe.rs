//! Keep the host `nook` binary out of a container's reach (the CVE-2019-5736 class).
//!
//! nook forks its container processes, so until their `execve` they run the nook image, and
//! `/proc/<pid>/exe` of such a process (or of a nook that a container re-runs through a
//! `#!/proc/self/exe` script) leads to the binary nook was started from. A container root that
//! opens that link, waits for the process to exit and reopens it for writing would replace the
//! runtime on the host.
//!
//! The defence: before a command that puts a process into a container, make sure the image this
//! process runs is not writable through any path a container can reach. Three cases:
//!
//! - the binary already sits on a read-only mount (an operator can bind-mount it read-only once,
//!   `mount --bind -o ro /usr/local/bin/nook /usr/local/bin/nook`, and pay nothing), or is a
//!   sealed memfd: nothing to do, one `open` and one `fstatvfs`;
//! - otherwise nook makes a detached, read-only bind mount of its own binary (`open_tree` +
//!   `mount_setattr`, no copy, no path in any mount table) and re-executes itself from it with
//!   `execveat`, keeping its pid, argv and environment. `/proc/<pid>/exe` then names a file on a
//!   read-only mount that only this process holds: reopening it for writing fails with EROFS;
//! - where the new mount API is not allowed (an old kernel, no CAP_SYS_ADMIN), the fallback is a
//!   sealed memfd copy of the binary (F_SEAL_WRITE and friends), the costly path, taken only
//!   there.
//!
//! This is the one place nook executes itself again; it happens before any container work, so
//! the container init is still forked from the process that parsed the spec.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use nix::unistd::execveat;

use crate::sys::mount::{
    clone_tree, mount_setattr, MountAttr, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY,
};

#[derive(Debug, thiserror::Error)]
pub enum ExeError {
    #[error("open /proc/self/exe: {0}")]
    Open(io::Error),
    #[error("seal the nook binary ({step}): {errno}")]
    Seal { step: &'static str, errno: Errno },
    #[error("copy the nook binary into a sealed memfd: {0}")]
    Copy(io::Error),
    #[error("re-execute nook from its sealed copy: {0}")]
    Exec(Errno),
}

/// How the running image is protected, as far as this process can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExeGuard {
    /// On a read-only mount (ours or the operator's).
    ReadOnlyMount,
    /// A memfd with its write seals set.
    SealedMemfd,
    /// Writable: the container could reach the host binary.
    Writable,
}

/// Classify the image this process runs.
pub fn current_guard() -> Result<ExeGuard, ExeError> {
    let exe = File::open("/proc/self/exe").map_err(ExeError::Open)?;
    classify(exe.as_fd())
}

fn classify(exe: BorrowedFd<'_>) -> Result<ExeGuard, ExeError> {
    let vfs = fstatvfs(exe).map_err(|errno| ExeError::Seal {
        step: "fstatvfs",
        errno,
    })?;
    if vfs.flags().contains(FsFlags::ST_RDONLY) {
        return Ok(ExeGuard::ReadOnlyMount);
    }
    match fcntl(exe, FcntlArg::F_GET_SEALS) {
        Ok(seals) if SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_WRITE) => {
            Ok(ExeGuard::SealedMemfd)
        }
        // EINVAL: not a file that takes seals, the common case.
        _ => Ok(ExeGuard::Writable),
    }
}

/// Make sure the running image cannot be written through /proc/<pid>/exe: returns when it is
/// protected, and otherwise re-executes this process from a protected image (the call does not
/// return then). The caller must not have started threads or container work yet.
pub fn ensure_sealed() -> Result<(), ExeError> {
    let exe = File::open("/proc/self/exe").map_err(ExeError::Open)?;
    if classify(exe.as_fd())? != ExeGuard::Writable {
        return Ok(());
    }
    match read_only_bind(exe.as_fd()) {
        Ok(image) => reexec(image.as_fd()),
        // No new mount API, or no right to use it: fall back to a sealed copy.
        Err(ExeError::Seal {
            errno: Errno::ENOSYS | Errno::EPERM | Errno::EINVAL,
            ..
        }) => {
            let image = sealed_copy(exe)?;
            reexec(image.as_fd())
        }
        Err(e) => Err(e),
    }
}

/// A detached read-only bind mount of the file `exe`, verified read-only.
fn read_only_bind(exe: BorrowedFd<'_>) -> Result<std::os::fd::OwnedFd, ExeError> {
    let seal = |step| move |errno| ExeError::Seal { step, errno };
    let image = clone_tree(exe, false).map_err(seal("open_tree"))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        ..MountAttr::default()
    };
    mount_setattr(image.as_fd(), false, &attr).map_err(seal("mount_setattr"))?;
    // Trust the result, not the request: re-executing from a writable image would loop.
    let vfs = fstatvfs(image.as_fd()).map_err(seal("fstatvfs"))?;
    if !vfs.flags().contains(FsFlags::ST_RDONLY) {
        return Err(ExeError::Seal {
            step: "verify read-only",
            errno: Errno::EROFS,
        });
    }
    Ok(image)
}

/// A memfd holding a copy of `exe`, sealed against every change.
fn sealed_copy(exe: File) -> Result<std::os::fd::OwnedFd, ExeError> {
    let seal = |step| move |errno| ExeError::Seal { step, errno };
    let memfd = memfd_create(
        c"nook-sealed",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(seal("memfd_create"))?;
    let mut dst = File::from(memfd);
    let mut src = exe;
    io::copy(&mut src, &mut dst).map_err(ExeError::Copy)?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(dst.as_fd(), FcntlArg::F_ADD_SEALS(seals)).map_err(seal("F_ADD_SEALS"))?;
    Ok(dst.into())
}

fn reexec(image: BorrowedFd<'_>) -> Result<(), ExeError> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStringExt;
    let cstrings = |items: Vec<std::ffi::OsString>| -> Vec<CString> {
        // Arguments and environment came from the kernel as C strings: no interior NULs.
        items
            .into_iter()
            .filter_map(|s| CString::new(s.into_vec()).ok())
            .collect()
    };
    let argv = cstrings(std::env::args_os().collect());
    let envp = cstrings(
        std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect(),
    );
    let err = execveat(image, c"", &argv, &envp, nix::fcntl::AtFlags::AT_EMPTY_PATH).unwrap_err();
    Err(ExeError::Exec(err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_plain_file_is_writable() {
        let file = tempfile::tempfile().unwrap();
        assert_eq!(classify(file.as_fd()).unwrap(), ExeGuard::Writable);
    }

    #[test]
    fn the_fallback_copy_is_sealed_and_identical() {
        let src = File::open("/proc/self/exe").unwrap();
        let sealed = File::from(sealed_copy(src).unwrap());
        assert_eq!(classify(sealed.as_fd()).unwrap(), ExeGuard::SealedMemfd);
        let copy = std::fs::read(format!("/proc/self/fd/{}", sealed.as_raw_fd())).unwrap();
        assert!(copy == std::fs::read("/proc/self/exe").unwrap());
        // The seal holds even for the owner: opening for writing may succeed, writing may not.
        use std::io::Write;
        let path = format!("/proc/self/fd/{}", sealed.as_raw_fd());
        if let Ok(mut w) = std::fs::OpenOptions::new().write(true).open(path) {
            assert!(w.write_all(b"x").is_err());
        }
    }
}
