//! One spec `mounts[]` entry at a time, onto a destination resolved inside the rootfs.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fchmodat, fstat, FchmodatFlags, Mode, SFlag};
use oci_spec::runtime::Mount;

use super::copyup;
use super::error::RootfsError;
use super::mountfd::{
    after_mount, bind_remount, mount_error, reopen, resolve_error, set_propagation,
};
use super::options::{self, MountOptions};
use super::resolve::{clean_absolute, clean_relative, fd_path, file_type, in_root_path};
use super::{cgroup, mount_api, mountinfo};

pub use super::mountfd::Ctx;

/// What kind of mount an entry is; decided from its type and options alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Bind,
    /// "cgroup": v1 hierarchies on a v1/hybrid host, cgroup2 on a unified one.
    Cgroup,
    Cgroup2,
    /// proc and sysfs: only ever on a real directory (CVE-2019-16884 class).
    Kernel(String),
    Fs(String),
}

pub fn classify(typ: Option<&str>, opts: &MountOptions) -> Kind {
    match typ {
        _ if opts.is_bind() => Kind::Bind,
        Some("bind") => Kind::Bind,
        Some("cgroup") => Kind::Cgroup,
        Some("cgroup2") => Kind::Cgroup2,
        Some(t @ ("proc" | "sysfs")) => Kind::Kernel(t.to_owned()),
        Some(t) => Kind::Fs(t.to_owned()),
        None => Kind::Fs(String::new()),
    }
}

/// Mounts that must stay writable until /dev is populated or the tmpfs chmod-ed; finalize
/// makes them read-only afterwards (as runc).
pub fn delays_readonly(kind: &Kind, destination: &Path) -> bool {
    matches!(kind, Kind::Fs(t) if t == "tmpfs") || clean_absolute(destination) == Path::new("/dev")
}

/// runc refuses mounts inside /proc except over a few files lxcfs emulates, and at /proc
/// itself accepts only a fresh procfs (or a bind of one).
pub fn proc_destination_allowed(resolved: &Path, kind: &Kind, bind_of_procfs: bool) -> bool {
    const LXCFS_FILES: &[&str] = &[
        "/proc/cpuinfo",
        "/proc/diskstats",
        "/proc/meminfo",
        "/proc/stat",
        "/proc/swaps",
        "/proc/uptime",
        "/proc/loadavg",
        "/proc/slabinfo",
        "/proc/net/dev",
        "/proc/sys/kernel/ns_last_pid",
        "/proc/sys/crypto/fips_enabled",
    ];
    if resolved == Path::new("/proc") {
        return matches!(kind, Kind::Kernel(t) if t == "proc") || bind_of_procfs;
    }
    !resolved.starts_with("/proc") || LXCFS_FILES.iter().any(|f| resolved == Path::new(f))
}

/// Mount `m`, which is `spec.mounts[index]`.
pub fn mount_entry(ctx: &Ctx, m: &Mount, index: usize) -> Result<(), RootfsError> {
    let dest = clean_absolute(m.destination());
    let opts = options::parse(m.options().as_deref().unwrap_or_default()).map_err(|source| {
        RootfsError::Option {
            destination: dest.clone(),
            source,
        }
    })?;
    match classify(m.typ().as_deref(), &opts) {
        Kind::Bind => bind_entry(ctx, m, &dest, &opts, index),
        Kind::Cgroup => cgroup::mount_cgroup(ctx, &dest, &opts),
        Kind::Cgroup2 => cgroup::mount_cgroup2(ctx, &dest, &opts),
        kind => fs_entry(ctx, m, &dest, &opts, &kind),
    }
}

fn bind_entry(
    ctx: &Ctx,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
    index: usize,
) -> Result<(), RootfsError> {
    if let Some(copy) = ctx.bind_sources.idmapped(index) {
        return bind_runtime_copy(ctx, copy, dest, opts);
    }
    let source = m
        .source()
        .as_deref()
        .ok_or_else(|| RootfsError::MissingSource {
            destination: dest.into(),
        })?;
    let meta = match std::fs::metadata(source) {
        Ok(meta) => meta,
        Err(e) => {
            let refused = e.kind() == std::io::ErrorKind::PermissionDenied;
            if let (true, Some(copy)) = (refused, ctx.bind_sources.get(index)) {
                return bind_runtime_copy(ctx, copy, dest, opts);
            }
            return Err(RootfsError::BindSource {
                destination: dest.into(),
                source_path: source.into(),
                source: e,
            });
        }
    };
    let rel = clean_relative(dest);
    let target = if meta.is_dir() {
        ctx.root.mkdir_all(&rel, Mode::from_bits_truncate(0o755))
    } else {
        ctx.root.create_file(&rel, Mode::from_bits_truncate(0o644))
    }
    .map_err(|source| resolve_error(dest, source))?;
    let procfs = nix::sys::statfs::statfs(source)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    check_proc(ctx, dest, &target, &Kind::Bind, procfs)?;
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    mount(
        Some(source),
        &fd_path(&target),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| mount_error("bind", dest, opts, e))?;
    let mounted = reopen(ctx, dest)?;
    if let Some(extra) = opts.bind_remount_flags() {
        bind_remount(&mounted, dest, extra)?;
    }
    after_mount(&mounted, dest, opts)
}

/// A bind source the init may not reach, attached from the runtime's copy of it (see
/// `sources`). The copy shares the host mount's propagation: made a slave first, as a bind in
/// our rslave'd namespace would be, then given the rootfs propagation like everything here.
fn bind_runtime_copy(
    ctx: &Ctx,
    copy: &OwnedFd,
    dest: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let failed = |e| mount_error("bind", dest, opts, e);
    let st = fstat(copy).map_err(failed)?;
    let rel = clean_relative(dest);
    let target = if file_type(&st) == SFlag::S_IFDIR {
        ctx.root.mkdir_all(&rel, Mode::from_bits_truncate(0o755))
    } else {
        ctx.root.create_file(&rel, Mode::from_bits_truncate(0o644))
    }
    .map_err(|source| resolve_error(dest, source))?;
    let procfs = nix::sys::statfs::fstatfs(copy)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    check_proc(ctx, dest, &target, &Kind::Bind, procfs)?;
    mount_api::move_mount_fd(copy, &target).map_err(failed)?;
    let mounted = reopen(ctx, dest)?;
    let root = options::root_propagation(ctx.linux.rootfs_propagation().as_deref())
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    for flags in [MsFlags::MS_SLAVE | MsFlags::MS_REC, root] {
        set_propagation(&mounted, dest, flags)?;
    }
    if let Some(extra) = opts.bind_remount_flags() {
        bind_remount(&mounted, dest, extra)?;
    }
    after_mount(&mounted, dest, opts)
}

fn fs_entry(
    ctx: &Ctx,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
    kind: &Kind,
) -> Result<(), RootfsError> {
    let (fstype, target) = match kind {
        Kind::Kernel(t) => (t.as_str(), real_dir(ctx, dest, t)?),
        Kind::Fs(t) => {
            let dir = ctx
                .root
                .mkdir_all(&clean_relative(dest), Mode::from_bits_truncate(0o755));
            (t.as_str(), dir.map_err(|e| resolve_error(dest, e))?)
        }
        Kind::Bind | Kind::Cgroup | Kind::Cgroup2 => unreachable!("handled by mount_entry"),
    };
    check_proc(ctx, dest, &target, kind, false)?;
    let old_mode = fstat(&target).map(|st| st.st_mode & 0o7777).ok();
    // tmpcopyup: hold the image directory open, so its contents stay reachable once covered.
    let copy_from = if opts.copy_up && fstype == "tmpfs" {
        Some(copyup::open_dir(&target).map_err(|e| resolve_error(dest, e))?)
    } else {
        None
    };
    let mut flags = opts.flags;
    if delays_readonly(kind, dest) {
        flags -= MsFlags::MS_RDONLY;
    }
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(fstype));
    // linux.mountLabel labels what the mount creates; validation refused it unless SELinux
    // is enabled. proc and sysfs take no context= option.
    let label = match kind {
        Kind::Fs(_) => ctx.linux.mount_label().as_deref(),
        _ => None,
    };
    let data = options::with_mount_label(opts.data_string(), label);
    mount(
        Some(&source),
        &fd_path(&target),
        Some(fstype),
        flags,
        data.as_deref(),
    )
    .map_err(|e| mount_error(fstype, dest, opts, e))?;
    let mounted = reopen(ctx, dest)?;
    // A fresh tmpfs is 0755 (or 1777 without mode=): keep the image's mode for the directory
    // unless the spec chose one, like runc, so e.g. /tmp stays 1777.
    let spec_mode = opts.data.iter().any(|d| d.starts_with("mode="));
    if let (true, false, Some(mode)) = (fstype == "tmpfs", spec_mode, old_mode) {
        fchmodat(
            nix::fcntl::AT_FDCWD,
            &fd_path(&mounted),
            Mode::from_bits_truncate(mode),
            FchmodatFlags::FollowSymlink,
        )
        .map_err(|e| mount_error(fstype, dest, opts, e))?;
    }
    if let Some(from) = copy_from {
        let into = copyup::open_dir(&mounted).map_err(|e| resolve_error(dest, e))?;
        copyup::copy_tree(&from, &into).map_err(|source| RootfsError::CopyUp {
            destination: dest.into(),
            source,
        })?;
    }
    after_mount(&mounted, dest, opts)
}

/// proc and sysfs destinations must be directories in their own right: a symlink there is
/// refused, not followed, even inside the rootfs.
fn real_dir(ctx: &Ctx, dest: &Path, fstype: &str) -> Result<OwnedFd, RootfsError> {
    let rel = clean_relative(dest);
    let not_dir = || RootfsError::NotADirectory {
        destination: dest.into(),
        fstype: fstype.into(),
    };
    let fd = match ctx.root.resolve_no_final_link(&rel) {
        Err(Errno::ENOENT) => {
            let (parent, name) = super::resolve::split_last(&rel).ok_or_else(not_dir)?;
            let dir = ctx.root.mkdir_all(parent, Mode::from_bits_truncate(0o755));
            let dir = dir.map_err(|e| resolve_error(dest, e))?;
            match nix::sys::stat::mkdirat(&dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(resolve_error(dest, e)),
            }
            ctx.root.resolve_no_final_link(&rel)
        }
        other => other,
    };
    let fd = fd.map_err(|e| {
        if e == Errno::ELOOP {
            not_dir()
        } else {
            resolve_error(dest, e)
        }
    })?;
    let st = fstat(&fd).map_err(|e| resolve_error(dest, e))?;
    if file_type(&st) != SFlag::S_IFDIR {
        return Err(not_dir());
    }
    Ok(fd)
}

fn check_proc(
    ctx: &Ctx,
    dest: &Path,
    target: &OwnedFd,
    kind: &Kind,
    bind_of_procfs: bool,
) -> Result<(), RootfsError> {
    let resolved = in_root_path(target, ctx.rootfs).map_err(|e| resolve_error(dest, e))?;
    if proc_destination_allowed(&resolved, kind, bind_of_procfs) {
        Ok(())
    } else {
        Err(RootfsError::InsideProc {
            destination: dest.into(),
            resolved,
        })
    }
}

/// pivot_root fails if the mount holding the new root is shared, and our bind of the rootfs
/// would propagate to the host through it: make just that mount private (runc does the same).
pub fn make_parent_mount_private(rootfs: &Path) -> Result<(), RootfsError> {
    let text = mountinfo::read("/proc/self/mountinfo")?;
    let mounts = mountinfo::parse_mountinfo(&text);
    let parent =
        mountinfo::holding_mount(&mounts, rootfs).ok_or_else(|| RootfsError::NoParentMount {
            path: rootfs.into(),
        })?;
    if parent.optional.iter().any(|o| o.starts_with("shared:")) {
        mount(
            None::<&str>,
            &parent.mount_point,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|source| RootfsError::ParentPrivate {
            path: parent.mount_point.clone(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(o: &[&str]) -> MountOptions {
        options::parse(o).unwrap()
    }

    #[test]
    fn classify_by_type_and_options() {
        assert_eq!(classify(Some("bind"), &opts(&[])), Kind::Bind);
        assert_eq!(classify(Some("none"), &opts(&["rbind"])), Kind::Bind);
        assert_eq!(classify(None, &opts(&["bind", "ro"])), Kind::Bind);
        assert_eq!(
            classify(Some("proc"), &opts(&[])),
            Kind::Kernel("proc".into())
        );
        assert_eq!(
            classify(Some("sysfs"), &opts(&["ro"])),
            Kind::Kernel("sysfs".into())
        );
        assert_eq!(classify(Some("cgroup"), &opts(&["ro"])), Kind::Cgroup);
        assert_eq!(classify(Some("cgroup2"), &opts(&[])), Kind::Cgroup2);
        assert_eq!(
            classify(Some("tmpfs"), &opts(&[])),
            Kind::Fs("tmpfs".into())
        );
    }

    #[test]
    fn readonly_is_delayed_for_tmpfs_and_dev() {
        let tmpfs = Kind::Fs("tmpfs".into());
        assert!(delays_readonly(&tmpfs, Path::new("/run")));
        assert!(delays_readonly(&Kind::Bind, Path::new("/dev/")));
        assert!(delays_readonly(
            &Kind::Fs("devtmpfs".into()),
            Path::new("dev")
        ));
        assert!(!delays_readonly(
            &Kind::Kernel("sysfs".into()),
            Path::new("/sys")
        ));
    }

    #[test]
    fn proc_destinations() {
        let proc = Kind::Kernel("proc".into());
        let tmpfs = Kind::Fs("tmpfs".into());
        assert!(proc_destination_allowed(Path::new("/proc"), &proc, false));
        assert!(!proc_destination_allowed(Path::new("/proc"), &tmpfs, false));
        assert!(!proc_destination_allowed(
            Path::new("/proc"),
            &Kind::Bind,
            false
        ));
        assert!(proc_destination_allowed(
            Path::new("/proc"),
            &Kind::Bind,
            true
        ));
        assert!(proc_destination_allowed(
            Path::new("/proc/cpuinfo"),
            &Kind::Bind,
            false
        ));
        assert!(!proc_destination_allowed(
            Path::new("/proc/sysrq-trigger"),
            &Kind::Bind,
            false
        ));
        assert!(!proc_destination_allowed(
            Path::new("/proc/sys"),
            &tmpfs,
            false
        ));
        assert!(proc_destination_allowed(
            Path::new("/procfoo"),
            &tmpfs,
            false
        ));
        assert!(proc_destination_allowed(
            Path::new("/sys"),
            &Kind::Kernel("sysfs".into()),
            false
        ));
    }
}
