//! The container's root filesystem: mounts, devices, masked and read-only paths, pivot_root.
//!
//! Runs inside the container init, after its namespaces exist and before `execve`.
//! Contract with the init sequence (src/process/init.rs):
//!   1. `prepare(spec, rootfs)`   — in the new mount namespace, before pivot_root.
//!   2. `enter(rootfs, no_pivot)` — pivot_root (or chroot with --no-pivot); cwd becomes "/".
//!   3. `finalize(spec)`          — after pivot: masked paths, readonly paths, root.readonly.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

/// One variant per failing step, each naming the path it failed on.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("rootfs {path}: not implemented")]
    Unimplemented { path: PathBuf },
}

pub fn prepare(_spec: &Spec, rootfs: &Path) -> Result<(), RootfsError> {
    Err(RootfsError::Unimplemented {
        path: rootfs.to_path_buf(),
    })
}

pub fn enter(rootfs: &Path, _no_pivot: bool) -> Result<(), RootfsError> {
    Err(RootfsError::Unimplemented {
        path: rootfs.to_path_buf(),
    })
}

pub fn finalize(_spec: &Spec) -> Result<(), RootfsError> {
    Err(RootfsError::Unimplemented { path: "/".into() })
}
