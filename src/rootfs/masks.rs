//! The last rootfs steps, run as the container's "/": delayed read-only remounts, the final
//! propagation of "/", root.readonly, readonlyPaths and maskedPaths.
//!
//! After pivot_root the container may have no /proc, so nothing here goes through
//! /proc/self/fd: detached mounts are made and attached by fd with the new mount API.

use std::os::fd::OwnedFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, SFlag};
use oci_spec::runtime::Mount;

use crate::spec::Bundle;

use super::devices::makedev;
use super::error::RootfsError;
use super::mount_api::{self, MountAttr};
use super::mountfd::locked_flags;
use super::mounts::{classify, delays_readonly};
use super::options;
use super::resolve::{clean_absolute, clean_relative, file_type, Root};

pub fn finalize(bundle: &Bundle) -> Result<(), RootfsError> {
    let root = Root::open(Path::new("/")).map_err(|source| RootfsError::OpenRootfs {
        path: "/".into(),
        source,
    })?;
    remount_delayed_readonly(&root, bundle.mounts())?;
    let linux = bundle.linux();
    // Applied again now that "/" is the rootfs: a shared rootfs must be shared from here,
    // not from the host's "/" (private needs no second step: the parent was made private).
    let propagation = options::root_propagation(linux.rootfs_propagation().as_deref())
        .map_err(RootfsError::RootPropagationValue)?;
    if linux.rootfs_propagation().is_some() && !propagation.contains(MsFlags::MS_PRIVATE) {
        mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>).map_err(|source| {
            RootfsError::RootPropagation {
                flags: propagation,
                source,
            }
        })?;
    }
    if bundle.root_readonly() {
        readonly_root()?;
    }
    let paths = |v: Option<&Vec<String>>| v.cloned().unwrap_or_default();
    for p in paths(linux.readonly_paths().as_ref()) {
        readonly_path(&root, Path::new(&p))?;
    }
    for p in paths(linux.masked_paths().as_ref()) {
        mask_path(&root, Path::new(&p))?;
    }
    Ok(())
}

/// tmpfs and /dev mounts were made writable so prepare could fill them.
fn remount_delayed_readonly(root: &Root, mounts: &[Mount]) -> Result<(), RootfsError> {
    for m in mounts {
        let Ok(opts) = options::parse(m.options().as_deref().unwrap_or_default()) else {
            continue; // prepare already refused it
        };
        let kind = classify(m.typ().as_deref(), &opts);
        if !opts.flags.contains(MsFlags::MS_RDONLY) || !delays_readonly(&kind, m.destination()) {
            continue;
        }
        let dest = clean_absolute(m.destination());
        let err = |source| RootfsError::RemountReadonly {
            destination: dest.clone(),
            source,
        };
        let fd = root.resolve(&clean_relative(&dest)).map_err(err)?;
        let attr = MountAttr {
            attr_set: mount_api::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mount_api::mount_setattr(&fd, false, &attr).map_err(err)?;
    }
    Ok(())
}

/// MS_REMOUNT|MS_BIND keeps the filesystem's own options but resets per-mount flags not
/// given, so a first EPERM (locked flags in a user namespace) retries with the current ones.
fn readonly_root() -> Result<(), RootfsError> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    let remount = |f| mount(None::<&str>, "/", None::<&str>, f, None::<&str>);
    let err = |source| RootfsError::ReadonlyRoot { source };
    match remount(flags) {
        Err(Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs("/").map_err(err)?;
            remount(flags | locked_flags(st.flags())).map_err(err)
        }
        other => other.map_err(err),
    }
}

/// Missing paths are skipped (runc): masks and read-only paths are defaults written for
/// every kernel, and not every kernel has every /proc file.
fn resolve_optional(root: &Root, path: &Path) -> Result<Option<OwnedFd>, Errno> {
    match root.resolve(&clean_relative(path)) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A read-only copy of the tree at `path`, attached over it. mount_setattr only sets
/// MOUNT_ATTR_RDONLY, so nosuid/nodev/noexec already on those mounts stay as they are.
fn readonly_path(root: &Root, path: &Path) -> Result<(), RootfsError> {
    let err = |source| RootfsError::ReadonlyPath {
        path: path.into(),
        source,
    };
    let Some(target) = resolve_optional(root, path).map_err(err)? else {
        return Ok(());
    };
    let tree = mount_api::clone_tree(&target, true).map_err(err)?;
    let attr = MountAttr {
        attr_set: mount_api::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    mount_api::mount_setattr(&tree, true, &attr).map_err(err)?;
    mount_api::move_mount_fd(&tree, &target).map_err(err)
}

/// Directories get an empty read-only tmpfs; anything else gets the null device, taken only
/// from a /dev/null proven to be char 1:3 (CVE-2025-31133: an image's /dev/null symlink
/// turned masking into a writable bind of whatever it pointed at).
fn mask_path(root: &Root, path: &Path) -> Result<(), RootfsError> {
    let err = |source| RootfsError::MaskPath {
        path: path.into(),
        source,
    };
    let Some(target) = resolve_optional(root, path).map_err(err)? else {
        return Ok(());
    };
    let is_dir = file_type(&fstat(&target).map_err(err)?) == SFlag::S_IFDIR;
    let cover = if is_dir {
        let attr = mount_api::MOUNT_ATTR_RDONLY
            | mount_api::MOUNT_ATTR_NOSUID
            | mount_api::MOUNT_ATTR_NODEV
            | mount_api::MOUNT_ATTR_NOEXEC;
        mount_api::new_detached_fs(c"tmpfs", attr).map_err(err)?
    } else {
        let null = verified_dev_null(root, path)?;
        mount_api::clone_tree(&null, false).map_err(err)?
    };
    mount_api::move_mount_fd(&cover, &target).map_err(err)
}

fn verified_dev_null(root: &Root, masked: &Path) -> Result<OwnedFd, RootfsError> {
    let fake = || RootfsError::FakeDevNull {
        path: masked.into(),
    };
    // No symlinks at all: /dev/null must be the node itself.
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
    let fd = openat2(root.as_fd(), "dev/null", how).map_err(|_| fake())?;
    let st = fstat(&fd).map_err(|_| fake())?;
    if file_type(&st) != SFlag::S_IFCHR || st.st_rdev != makedev(1, 3) {
        return Err(fake());
    }
    Ok(fd)
}
