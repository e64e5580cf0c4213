//! The one error type of the rootfs module: one variant per failing step, each naming the
//! spec field or path, so the message can be shown to the user verbatim.

use std::path::PathBuf;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::options::UnsupportedOption;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("linux.rootfsPropagation: {0}")]
    RootPropagationValue(#[source] UnsupportedOption),
    #[error("setting the propagation of / to {flags:?}: {source}")]
    RootPropagation {
        flags: MsFlags,
        #[source]
        source: Errno,
    },
    #[error("reading {path}: {source}")]
    ReadProcFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no mount in /proc/self/mountinfo holds the rootfs {path}")]
    NoParentMount { path: PathBuf },
    #[error("making {path}, the mount holding the rootfs, private: {source}")]
    ParentPrivate {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("bind-mounting the rootfs {path} onto itself: {source}")]
    BindRootfs {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("opening the rootfs {path}: {source}")]
    OpenRootfs {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("mount destination {destination}: {source}")]
    Option {
        destination: PathBuf,
        #[source]
        source: UnsupportedOption,
    },
    #[error("mount destination {destination}: resolving inside the rootfs: {source}")]
    Resolve {
        destination: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("mount destination {destination}: {fstype:?} must be mounted on a real directory, not a symlink or a file")]
    NotADirectory {
        destination: PathBuf,
        fstype: String,
    },
    #[error("mount destination {destination} resolves to {resolved}, inside /proc: refused")]
    InsideProc {
        destination: PathBuf,
        resolved: PathBuf,
    },
    #[error("mount destination {destination}: a bind mount needs a source")]
    MissingSource { destination: PathBuf },
    #[error("mount destination {destination}: bind source {source_path}: {source}")]
    BindSource {
        destination: PathBuf,
        source_path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mount {fstype:?} on {destination} (data {data:?}): {source}")]
    Mount {
        fstype: String,
        destination: PathBuf,
        data: String,
        #[source]
        source: Errno,
    },
    #[error("remounting {destination} with {flags:?}: {source}")]
    Remount {
        destination: PathBuf,
        flags: MsFlags,
        #[source]
        source: Errno,
    },
    #[error("setting propagation {flags:?} on {destination}: {source}")]
    Propagation {
        destination: PathBuf,
        flags: MsFlags,
        #[source]
        source: Errno,
    },
    #[error("setting recursive mount attributes on {destination}: {source}")]
    SetAttr {
        destination: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("mount destination {destination}: tmpcopyup: copy the image's directory into the tmpfs: {source}")]
    CopyUp {
        destination: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("cgroup mount at {destination}: no cgroup of this process in hierarchy {hierarchy}")]
    CgroupPath {
        destination: PathBuf,
        hierarchy: PathBuf,
    },
    #[error("linux.devices {path}: {reason}")]
    InvalidDevice { path: PathBuf, reason: &'static str },
    #[error("creating device {path}: {source}")]
    Device {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("creating symlink {path} -> {target}: {source}")]
    Symlink {
        path: PathBuf,
        target: String,
        #[source]
        source: Errno,
    },
    #[error("opening {path} for pivot_root: {source}")]
    OpenForPivot {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("changing directory to {path}: {source}")]
    Chdir {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("pivot_root into {path}: {source}")]
    PivotRoot {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("making the old root rslave before detaching it: {source}")]
    OldRootSlave {
        #[source]
        source: Errno,
    },
    #[error("detaching the old root: {source}")]
    UnmountOldRoot {
        #[source]
        source: Errno,
    },
    #[error("--no-pivot: hiding the host's {fstype} at {path}: {source}")]
    HideHostFs {
        path: PathBuf,
        fstype: String,
        #[source]
        source: Errno,
    },
    #[error("--no-pivot: moving {path} onto /: {source}")]
    MoveRoot {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("chroot into {path}: {source}")]
    Chroot {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("linux.maskedPaths {path}: {source}")]
    MaskPath {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("linux.maskedPaths {path}: the container's /dev/null is not the null device (char 1:3); refusing to bind it")]
    FakeDevNull { path: PathBuf },
    #[error("linux.readonlyPaths {path}: {source}")]
    ReadonlyPath {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("remounting {destination} read-only: {source}")]
    RemountReadonly {
        destination: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("root.readonly: remounting / read-only: {source}")]
    ReadonlyRoot {
        #[source]
        source: Errno,
    },
}
