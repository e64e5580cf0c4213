//! What every kind of mount shares (`mounts.rs` for spec entries, `cgroup.rs` for cgroupfs):
//! the context a mount is made in, acting on a mount once it exists through an fd looked up
//! again inside the rootfs, and the errors naming its destination.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{fstatvfs, FsFlags};
use oci_spec::runtime::Linux;

use super::error::RootfsError;
use super::mount_api;
use super::options::MountOptions;
use super::resolve::{clean_relative, fd_path, Root};

pub struct Ctx<'a> {
    pub root: &'a Root,
    /// Host path of the rootfs, to read back where a resolved fd landed.
    pub rootfs: &'a Path,
    /// The container's `linux` section (rootfs propagation, mount label, namespaces).
    pub linux: &'a Linux,
    /// The v1 hierarchies of the container's cgroup, if known without reading /proc.
    pub cgroups: Option<&'a [crate::cgroups::V1View]>,
    /// The runtime's copies of bind sources (in a user namespace only).
    pub bind_sources: &'a super::BindSources,
}

/// The fd we mounted onto points beneath the new mount; later steps must act on the mount
/// itself, so look the destination up again.
pub fn reopen(ctx: &Ctx, dest: &Path) -> Result<OwnedFd, RootfsError> {
    ctx.root
        .resolve(&clean_relative(dest))
        .map_err(|e| resolve_error(dest, e))
}

/// MS_REMOUNT|MS_BIND changes per-mount flags. In a user namespace flags inherited from a
/// more privileged mount (nosuid, nodev, noexec, atime) are locked and dropping them is EPERM;
/// retry keeping whatever the mount already has, as runc does.
pub fn bind_remount(fd: &OwnedFd, dest: &Path, extra: MsFlags) -> Result<(), RootfsError> {
    let flags = extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    let remount = |flags| change_mount(fd, flags);
    let err = |source| RootfsError::Remount {
        destination: dest.into(),
        flags,
        source,
    };
    match remount(flags) {
        Err(Errno::EPERM) => {
            let locked = locked_flags(fstatvfs(fd).map_err(err)?.flags());
            remount(flags | locked).map_err(err)
        }
        other => other.map_err(err),
    }
}

pub fn locked_flags(st: FsFlags) -> MsFlags {
    let pairs = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(s, _)| st.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m)
}

/// mount(2) without source, type or data on the mount `fd` is: a remount or a propagation
/// change of that mount.
fn change_mount(fd: &OwnedFd, flags: MsFlags) -> Result<(), Errno> {
    mount(
        None::<&str>,
        &fd_path(fd),
        None::<&str>,
        flags,
        None::<&str>,
    )
}

/// A propagation change (shared, slave, private, unbindable; recursive or not) of the mount
/// `fd` is, its error naming `dest`.
pub fn set_propagation(fd: &OwnedFd, dest: &Path, flags: MsFlags) -> Result<(), RootfsError> {
    change_mount(fd, flags).map_err(|source| RootfsError::Propagation {
        destination: dest.into(),
        flags,
        source,
    })
}

/// Propagation changes and recursive attributes only make sense once the mount exists.
pub fn after_mount(fd: &OwnedFd, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    for &flags in &opts.propagation {
        set_propagation(fd, dest, flags)?;
    }
    if let Some(attr) = &opts.rec_attr {
        mount_api::mount_setattr(fd, true, attr).map_err(|source| RootfsError::SetAttr {
            destination: dest.into(),
            source,
        })?;
    }
    Ok(())
}

pub fn resolve_error(dest: &Path, source: Errno) -> RootfsError {
    RootfsError::Resolve {
        destination: dest.into(),
        source,
    }
}

pub fn mount_error(fstype: &str, dest: &Path, opts: &MountOptions, source: Errno) -> RootfsError {
    RootfsError::Mount {
        fstype: fstype.into(),
        destination: dest.into(),
        data: opts.data_string().unwrap_or_default(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_flags_mapping() {
        let f = locked_flags(FsFlags::ST_NOSUID | FsFlags::ST_NODEV | FsFlags::ST_RDONLY);
        assert_eq!(f, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
    }
}
