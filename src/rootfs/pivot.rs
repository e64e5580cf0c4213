//! Switching "/" to the prepared rootfs.

use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir};

use super::error::RootfsError;
use super::mountinfo;

fn open_dir(path: &Path) -> Result<std::os::fd::OwnedFd, RootfsError> {
    open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|source| RootfsError::OpenForPivot {
        path: path.into(),
        source,
    })
}

/// pivot_root(".", ".") stacks the old root on top of the new one at "/", so no directory
/// for the old root is needed inside the image; we then detach it from under us.
pub fn pivot_root(rootfs: &Path) -> Result<(), RootfsError> {
    let old_root = open_dir(Path::new("/"))?;
    let new_root = open_dir(rootfs)?;
    fchdir(&new_root).map_err(|source| RootfsError::Chdir {
        path: rootfs.into(),
        source,
    })?;
    nix::unistd::pivot_root(".", ".").map_err(|source| RootfsError::PivotRoot {
        path: rootfs.into(),
        source,
    })?;
    // The kernel leaves cwd on the old root today, but does not promise it: be explicit.
    fchdir(&old_root).map_err(|source| RootfsError::Chdir {
        path: "old root".into(),
        source,
    })?;
    // Unmounting must not propagate to the host's mounts, which the old root still shares.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| RootfsError::OldRootSlave { source })?;
    // MNT_DETACH: our own cwd is on it, so a plain umount would be EBUSY.
    umount2(".", MntFlags::MNT_DETACH).map_err(|source| RootfsError::UnmountOldRoot { source })?;
    chdir("/").map_err(|source| RootfsError::Chdir {
        path: "/".into(),
        source,
    })
}

/// runc's --no-pivot. With chroot the host's mounts stay in the namespace; a full procfs or
/// sysfs among them would both leak host data and let the kernel's "is procfs fully visible"
/// check allow mounts it should not, so those are detached (or covered) first.
pub fn move_root(rootfs: &Path) -> Result<(), RootfsError> {
    let mounts = mountinfo::parse_mountinfo(&mountinfo::read("/proc/self/mountinfo")?);
    let host_fs: Vec<_> = mounts
        .iter()
        .filter(|m| m.root == Path::new("/") && (m.fstype == "proc" || m.fstype == "sysfs"))
        .filter(|m| !m.mount_point.starts_with(rootfs))
        .collect();
    for m in host_fs {
        let p = &m.mount_point;
        let err = |source| RootfsError::HideHostFs {
            path: p.clone(),
            fstype: m.fstype.clone(),
            source,
        };
        match mount(
            None::<&str>,
            p,
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Ok(()) => {}
            // Already gone with an earlier, enclosing detach.
            Err(Errno::ENOENT | Errno::EINVAL) => continue,
            Err(e) => return Err(err(e)),
        }
        match umount2(p, MntFlags::MNT_DETACH) {
            Ok(()) => {}
            // Not allowed to unmount (e.g. locked in a user namespace): cover it instead.
            Err(Errno::EINVAL | Errno::EPERM) => mount(
                Some("tmpfs"),
                p,
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .map_err(err)?,
            Err(e) => return Err(err(e)),
        }
    }
    chdir(rootfs).map_err(|source| RootfsError::Chdir {
        path: rootfs.into(),
        source,
    })?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(|source| RootfsError::MoveRoot {
        path: rootfs.into(),
        source,
    })?;
    chroot(".").map_err(|source| RootfsError::Chroot {
        path: rootfs.into(),
        source,
    })?;
    chdir("/").map_err(|source| RootfsError::Chdir {
        path: "/".into(),
        source,
    })
}
