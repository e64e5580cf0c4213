//! The container's root filesystem: mounts, devices, masked and read-only paths, pivot_root.
//!
//! Runs inside the container init, after its namespaces exist and before `execve`.
//! Contract with the init sequence (src/process/init.rs):
//!   1. `prepare(spec, rootfs)`   — in the new mount namespace, before pivot_root.
//!   2. `enter(rootfs, no_pivot)` — pivot_root (or chroot with --no-pivot); cwd becomes "/".
//!   3. `finalize(spec)`          — after pivot: masked paths, readonly paths, root.readonly.
//!
//! The rootfs is untrusted: every destination is resolved by the kernel inside it
//! (`resolve::Root`, openat2 RESOLVE_IN_ROOT) and every mount, mkdir and mknod acts on the
//! resolved fd, never on a host path built by string joining.

mod cgroup;
mod copyup;
mod devices;
mod error;
pub mod idmap;
mod masks;
mod mountfd;
mod mounts;
pub mod options;
mod pivot;
mod sources;
pub use sources::BindSources;
pub mod resolve;
#[cfg(test)]
mod root_tests;
use crate::sys::mount as mount_api;

use std::path::Path;

use crate::spec::Bundle;
use nix::mount::{mount, MsFlags};

pub use devices::{default_devices, Device};
pub use error::RootfsError;
pub use options::MountOptions;
// The pure halves of mount and /dev setup, for the config fuzz target (fuzz/).
#[doc(hidden)]
pub use devices::{device_list, needs_dev_setup};
#[doc(hidden)]
pub use mounts::{classify, delays_readonly, Kind};

/// Build the container's mount tree under `rootfs` (absolute, canonical host path).
///
/// Order, as runc: "/" gets the rootfs propagation first so nothing we mount leaks back to the
/// host; the rootfs becomes a mount point (pivot_root needs one); spec mounts go in spec order
/// because later mounts may land inside earlier ones; /dev is populated last, once the /dev
/// tmpfs (if any) exists.
///
/// `cgroups`: the v1 hierarchies the container's cgroup mount shows, when the runtime already
/// knows them (it made the cgroup); otherwise they are read from /proc/self/{mountinfo,cgroup}.
/// `bind_sources`: the runtime's copies of bind sources, for those the init may not reach.
pub fn prepare(
    bundle: &Bundle,
    cgroups: Option<&[crate::cgroups::V1View]>,
    bind_sources: &BindSources,
) -> Result<(), RootfsError> {
    let rootfs = bundle.rootfs.as_path();
    let linux = bundle.linux();
    let propagation = options::root_propagation(linux.rootfs_propagation().as_deref())
        .map_err(RootfsError::RootPropagationValue)?;
    // An unbindable "/" could not be bind-mounted onto itself below: private until the rootfs
    // is "/", then finalize makes it unbindable.
    let propagation = if propagation.contains(MsFlags::MS_UNBINDABLE) {
        (propagation - MsFlags::MS_UNBINDABLE) | MsFlags::MS_PRIVATE
    } else {
        propagation
    };
    mount(None::<&str>, "/", None::<&str>, propagation, None::<&str>).map_err(|source| {
        RootfsError::RootPropagation {
            flags: propagation,
            source,
        }
    })?;
    // After a recursive slave/private/unbindable change no mount here is shared any more, so
    // the rootfs's parent needs no look-up in mountinfo (the default, rslave).
    let none_shared = propagation.contains(MsFlags::MS_REC)
        && propagation.intersects(MsFlags::MS_SLAVE | MsFlags::MS_PRIVATE | MsFlags::MS_UNBINDABLE);
    if !none_shared {
        mounts::make_parent_mount_private(rootfs)?;
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| RootfsError::BindRootfs {
        path: rootfs.to_path_buf(),
        source,
    })?;

    let root = resolve::Root::open(rootfs).map_err(|source| RootfsError::OpenRootfs {
        path: rootfs.to_path_buf(),
        source,
    })?;
    let ctx = mounts::Ctx {
        root: &root,
        rootfs,
        linux,
        cgroups,
        bind_sources,
    };
    let spec_mounts = bundle.mounts();
    for (index, m) in spec_mounts.iter().enumerate() {
        mounts::mount_entry(&ctx, m, index)?;
    }
    if devices::needs_dev_setup(spec_mounts) {
        devices::setup_dev(&root, linux)?;
    }
    Ok(())
}

/// Make `rootfs` the process's "/" and cwd. `no_pivot` is runc's --no-pivot (MS_MOVE + chroot),
/// for when the rootfs lives on a filesystem pivot_root refuses (e.g. initramfs).
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    if no_pivot {
        pivot::move_root(rootfs)
    } else {
        pivot::pivot_root(rootfs)
    }
}

/// Steps that need the container's own view of "/": delayed read-only remounts, the final
/// rootfs propagation, root.readonly, linux.readonlyPaths, linux.maskedPaths (runc's order:
/// readonly paths before masks so a masked path inside a read-only one still gets masked).
pub fn finalize(bundle: &Bundle) -> Result<(), RootfsError> {
    devices::reopen_dev_null();
    masks::finalize(bundle)
}

/// The rootfs module's reads of /proc files (mountinfo, cgroup), with its own error.
mod mountinfo {
    pub use crate::mountinfo::*;

    pub fn read(path: &str) -> Result<String, super::RootfsError> {
        read_proc_text(path).map_err(|source| super::RootfsError::ReadProcFile {
            path: path.into(),
            source,
        })
    }
}
