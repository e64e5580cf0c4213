//! A spec mount of type "cgroup". On a v1 (or hybrid) host it becomes, like in runc, a tmpfs
//! with one mount per v1 hierarchy showing only this container's cgroup; on a unified host it
//! is cgroup2. Read-only exactly when the options ask for it, as runc mounts it; an "ro" that
//! is asked for holds on every path, the bind fallbacks (a user namespace without a cgroup
//! namespace) included: CVE-2023-25809 was such a bind left writable.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::symlinkat;
use oci_spec::runtime::LinuxNamespaceType;

use super::error::RootfsError;
use super::mount_api;
use super::mountfd::{after_mount, bind_remount, mount_error, reopen, resolve_error, Ctx};
use super::mountinfo::{self, MountInfo};
use super::options::MountOptions;
use super::resolve::{clean_relative, fd_path};

const DEFAULT_FLAGS: MsFlags = MsFlags::MS_NOSUID
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC);

/// The spec's flags (read-only only when asked), always nosuid, nodev, noexec.
pub fn cgroup_flags(opts: &MountOptions) -> MsFlags {
    (opts.flags | DEFAULT_FLAGS) - (MsFlags::MS_BIND | MsFlags::MS_REC)
}

/// The MOUNT_ATTR_* bits for `flags`. Access-time bits only when asked for: changing the
/// atime mode of a mount whose mode is locked (in a user namespace) would fail, and relatime is
/// the default anyway.
fn mount_attr_bits(flags: MsFlags) -> u64 {
    let pairs = [
        (MsFlags::MS_RDONLY, mount_api::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, mount_api::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, mount_api::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, mount_api::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, mount_api::MOUNT_ATTR_NODIRATIME),
    ];
    let mut bits = pairs
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .fold(0, |acc, (_, a)| acc | a);
    if flags.contains(MsFlags::MS_NOATIME) {
        bits |= mount_api::MOUNT_ATTR_NOATIME;
    } else if flags.contains(MsFlags::MS_STRICTATIME) {
        bits |= mount_api::MOUNT_ATTR_STRICTATIME;
    }
    bits
}

fn host_is_unified() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

fn has_cgroup_namespace(ctx: &Ctx) -> bool {
    crate::spec::has(ctx.linux, LinuxNamespaceType::Cgroup)
}

pub fn mount_cgroup(ctx: &Ctx, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    if host_is_unified() {
        return mount_cgroup2(ctx, dest, opts);
    }
    let flags = cgroup_flags(opts);
    let cgroupns = has_cgroup_namespace(ctx);
    let hierarchies = match ctx.cgroups {
        Some(known) => known.to_vec(),
        None => {
            let layout = crate::cgroups::parse_layout(&mountinfo::read("/proc/self/mountinfo")?);
            let own = mountinfo::read("/proc/self/cgroup")?;
            layout
                .as_ref()
                .and_then(|l| crate::cgroups::own_v1_views(l, &own, cgroupns))
                .unwrap_or(Ok(Vec::new()))
                .map_err(|hierarchy| RootfsError::CgroupPath {
                    destination: dest.into(),
                    hierarchy,
                })?
        }
    };

    let rel = clean_relative(dest);
    let dir = ctx.root.mkdir_all(&rel, Mode::from_bits_truncate(0o755));
    let dir = dir.map_err(|e| resolve_error(dest, e))?;
    mount(
        Some("tmpfs"),
        &fd_path(&dir),
        Some("tmpfs"),
        DEFAULT_FLAGS,
        Some("mode=755"),
    )
    .map_err(|e| mount_error("tmpfs", dest, opts, e))?;
    let top = reopen(ctx, dest)?;
    for h in &hierarchies {
        let sub = dest.join(&h.dir_name);
        let fd = ctx
            .root
            .mkdir_all(&clean_relative(&sub), Mode::from_bits_truncate(0o755));
        let fd = fd.map_err(|e| resolve_error(&sub, e))?;
        if cgroupns {
            mount(
                Some("cgroup"),
                &fd_path(&fd),
                Some("cgroup"),
                flags,
                Some(h.data.as_str()),
            )
            .map_err(|e| mount_error("cgroup", &sub, opts, e))?;
        } else {
            let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(
                Some(&h.source),
                &fd_path(&fd),
                None::<&str>,
                bind,
                None::<&str>,
            )
            .map_err(|e| mount_error("bind", &sub, opts, e))?;
            // Its flags come with the one recursive mount_setattr below.
        }
        // Co-mounted controllers ("cpu,cpuacct") are also reachable by each name.
        for alias in h.dir_name.split(',').filter(|a| *a != h.dir_name) {
            match symlinkat(h.dir_name.as_str(), &top, alias) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(source) => {
                    return Err(RootfsError::Symlink {
                        path: dest.join(alias),
                        target: h.dir_name.clone(),
                        source,
                    })
                }
            }
        }
    }
    after_mount(&top, dest, opts)?;
    // One call sets the flags on the tmpfs and every hierarchy below it (a remount per bind
    // would cost a mount(2) each).
    let attr_set = mount_attr_bits(flags);
    let attr = mount_api::MountAttr {
        attr_set,
        // Setting an access-time mode takes clearing the old one.
        attr_clr: if attr_set & mount_api::MOUNT_ATTR_ATIME_MASK != 0 {
            mount_api::MOUNT_ATTR_ATIME_MASK
        } else {
            0
        },
        ..Default::default()
    };
    mount_api::mount_setattr(&top, true, &attr).map_err(|source| RootfsError::RemountReadonly {
        destination: dest.into(),
        source,
    })?;
    Ok(())
}

/// cgroup2 at `dest`. Without a cgroup namespace the kernel may refuse a fresh mount (EPERM,
/// EBUSY); then bind this process's own cgroup directory instead, as runc does.
pub fn mount_cgroup2(ctx: &Ctx, dest: &Path, opts: &MountOptions) -> Result<(), RootfsError> {
    let flags = cgroup_flags(opts);
    let dir = ctx
        .root
        .mkdir_all(&clean_relative(dest), Mode::from_bits_truncate(0o755));
    let dir = dir.map_err(|e| resolve_error(dest, e))?;
    let data = opts.data_string();
    match mount(
        Some("cgroup2"),
        &fd_path(&dir),
        Some("cgroup2"),
        flags,
        data.as_deref(),
    ) {
        Ok(()) => {}
        Err(Errno::EPERM | Errno::EBUSY) => {
            let mounts = mountinfo::parse_mountinfo(&mountinfo::read("/proc/self/mountinfo")?);
            let cgroups = crate::cgroups::parse_proc_cgroup(&mountinfo::read("/proc/self/cgroup")?);
            let Some(source) = own_cgroup2_dir(&mounts, &cgroups) else {
                // Inside a cgroup namespace (a rootless container's whose /sys is the host's,
                // where the kernel refuses the same filesystem over itself: EBUSY) this
                // process's cgroup has no path under the host's mount to bind. As runc does
                // then, an empty read-only tmpfs covers the destination: the container sees
                // no cgroup files rather than the host's.
                let attr = mount_api::MOUNT_ATTR_RDONLY
                    | mount_api::MOUNT_ATTR_NOSUID
                    | mount_api::MOUNT_ATTR_NODEV
                    | mount_api::MOUNT_ATTR_NOEXEC;
                let cover = mount_api::new_detached_fs(c"tmpfs", attr)
                    .and_then(|cover| mount_api::move_mount_fd(&cover, &dir));
                cover.map_err(|e| mount_error("tmpfs", dest, opts, e))?;
                return Ok(());
            };
            let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(
                Some(&source),
                &fd_path(&dir),
                None::<&str>,
                bind,
                None::<&str>,
            )
            .map_err(|e| mount_error("bind", dest, opts, e))?;
            bind_remount(&reopen(ctx, dest)?, dest, flags)?;
        }
        Err(e) => return Err(mount_error("cgroup2", dest, opts, e)),
    }
    after_mount(&reopen(ctx, dest)?, dest, opts)
}

fn own_cgroup2_dir(mounts: &[MountInfo], cgroups: &[(String, PathBuf)]) -> Option<PathBuf> {
    let (_, path) = cgroups.iter().find(|(c, _)| c.is_empty())?;
    let m = mounts.iter().rev().find(|m| m.fstype == "cgroup2")?;
    Some(m.mount_point.join(path.strip_prefix(&m.root).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::options;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
    const CGROUP: &str = "\
4:cpu,cpuacct:/ctr
3:cpuset:/ctr
2:name=systemd:/user.slice/ctr
1:devices:/ctr
0::/ctr2
";

    #[test]
    fn the_runtimes_view_of_the_cgroup_is_what_the_init_would_read() {
        use crate::cgroups::{own_v1_views, parse_layout, Cgroup};
        let layout = parse_layout(MOUNTINFO).unwrap();
        let cg = Cgroup::from_layout(layout.clone(), &[], Some(Path::new("/ctr")), "x").unwrap();
        let mut known = cg.v1_views().unwrap();
        let joined = "4:cpu,cpuacct:/ctr\n3:cpuset:/ctr\n2:name=systemd:/ctr\n0::/ctr\n";
        let mut read = own_v1_views(&layout, joined, false).unwrap().unwrap();
        known.sort_by(|a, b| a.dir_name.cmp(&b.dir_name));
        read.sort_by(|a, b| a.dir_name.cmp(&b.dir_name));
        assert_eq!(known, read);
    }

    #[test]
    fn hierarchies_match_controllers_to_mounts() {
        use crate::cgroups::{own_v1_views, parse_layout, parse_proc_cgroup};
        let layout = parse_layout(MOUNTINFO).unwrap();
        let h = own_v1_views(&layout, CGROUP, false).unwrap().unwrap();
        assert_eq!(h.len(), 3, "devices has no mount and is skipped: {h:?}");
        assert_eq!(h[0].dir_name, "cpu,cpuacct");
        assert_eq!(h[0].source, PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/ctr"));
        assert_eq!(h[0].data, "cpu,cpuacct");
        assert_eq!(h[1].dir_name, "cpuset");
        assert_eq!(
            h[2].source,
            PathBuf::from("/sys/fs/cgroup/systemd/user.slice/ctr")
        );
        assert_eq!(h[2].data, "name=systemd");
        let mounts = mountinfo::parse_mountinfo(MOUNTINFO);
        assert_eq!(
            own_cgroup2_dir(&mounts, &parse_proc_cgroup(CGROUP)),
            Some(PathBuf::from("/sys/fs/cgroup/unified/ctr2"))
        );
    }

    #[test]
    fn cgroup_path_outside_mount_root_is_an_error() {
        use crate::cgroups::{own_v1_views, parse_layout};
        let layout =
            parse_layout("32 31 0:29 /other /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n")
                .unwrap();
        assert_eq!(
            own_v1_views(&layout, "4:cpu:/ctr\n", false),
            Some(Err(PathBuf::from("/sys/fs/cgroup/cpu")))
        );
    }

    #[test]
    fn attribute_bits_follow_the_flags() {
        let f = cgroup_flags(&options::parse(&["nosuid", "noatime", "ro"]).unwrap());
        let bits = mount_attr_bits(f);
        assert_eq!(
            bits,
            mount_api::MOUNT_ATTR_RDONLY
                | mount_api::MOUNT_ATTR_NOSUID
                | mount_api::MOUNT_ATTR_NODEV
                | mount_api::MOUNT_ATTR_NOEXEC
                | mount_api::MOUNT_ATTR_NOATIME
        );
        let rw = mount_attr_bits(cgroup_flags(&options::parse(&["rw"]).unwrap()));
        assert_eq!(rw & mount_api::MOUNT_ATTR_RDONLY, 0);
        assert_eq!(rw & mount_api::MOUNT_ATTR_ATIME_MASK, 0);
    }

    #[test]
    fn read_only_exactly_when_asked() {
        let f = cgroup_flags(&options::parse(&["nosuid", "ro"]).unwrap());
        assert!(f.contains(MsFlags::MS_RDONLY | DEFAULT_FLAGS));
        let f = cgroup_flags(&options::parse(&["nosuid"]).unwrap());
        assert!(f.contains(DEFAULT_FLAGS) && !f.contains(MsFlags::MS_RDONLY));
        let f = cgroup_flags(&options::parse(&["rw"]).unwrap());
        assert!(!f.contains(MsFlags::MS_RDONLY));
        let f = cgroup_flags(&options::parse(&["rbind", "ro"]).unwrap());
        assert!(!f.intersects(MsFlags::MS_BIND | MsFlags::MS_REC));
    }
}
