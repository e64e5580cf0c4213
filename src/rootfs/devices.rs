//! /dev inside the container: runc's default nodes, `linux.devices`, the standard symlinks.
//! Every node is made with mknodat relative to the resolved /dev, never by host path.

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{mknodat, umask, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use oci_spec::runtime::{Linux, LinuxDevice, LinuxDeviceType, Mount};

use super::error::RootfsError;
use super::options;
use super::resolve::{clean_absolute, clean_relative, fd_path, split_last, Root};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Absolute, cleaned, under /dev.
    pub path: PathBuf,
    pub kind: SFlag,
    pub perm: Mode,
    pub major: u64,
    pub minor: u64,
    pub uid: u32,
    pub gid: u32,
}

/// The nodes every container gets (runc's list), char devices, 0666, owned by root.
pub fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        perm: Mode::from_bits_truncate(0o666),
        major,
        minor,
        uid: 0,
        gid: 0,
    })
    .collect()
}

/// (name under /dev, link target). /dev/core is added only where the kernel has /proc/kcore.
pub const DEV_SYMLINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// glibc's makedev: the 64-bit dev_t split into its high and low major/minor bits.
pub fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0x0fff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// A `linux.devices` entry, validated: a node type, and a path that stays under /dev.
pub fn from_spec(d: &LinuxDevice) -> Result<Device, RootfsError> {
    let path = clean_absolute(d.path());
    let invalid = |reason| RootfsError::InvalidDevice {
        path: d.path().clone(),
        reason,
    };
    if !path.starts_with("/dev") || path == Path::new("/dev") {
        return Err(invalid("path must be under /dev"));
    }
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => return Err(invalid("type \"a\" is not a node type")),
    };
    let (major, minor) = match kind {
        // A FIFO has no device number; runc ignores whatever the spec says.
        SFlag::S_IFIFO => (0, 0),
        _ => {
            let major = u64::try_from(d.major()).map_err(|_| invalid("negative major"))?;
            let minor = u64::try_from(d.minor()).map_err(|_| invalid("negative minor"))?;
            (major, minor)
        }
    };
    Ok(Device {
        path,
        kind,
        perm: Mode::from_bits_truncate(d.file_mode().unwrap_or(0o666) & 0o7777),
        major,
        minor,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Defaults first, then the spec's devices; a spec device replaces a default at the same path.
pub fn device_list(spec_devices: &[LinuxDevice]) -> Result<Vec<Device>, RootfsError> {
    let spec: Vec<Device> = spec_devices
        .iter()
        .map(from_spec)
        .collect::<Result<_, _>>()?;
    let mut out: Vec<Device> = default_devices()
        .into_iter()
        .filter(|d| !spec.iter().any(|s| s.path == d.path))
        .collect();
    out.extend(spec);
    Ok(out)
}

/// runc populates /dev unless the spec bind-mounts one from elsewhere.
pub fn needs_dev_setup(mounts: &[Mount]) -> bool {
    !mounts.iter().any(|m| {
        let bind = m.typ().as_deref() == Some("bind")
            || options::parse(m.options().as_deref().unwrap_or_default())
                .is_ok_and(|o| o.is_bind());
        bind && clean_absolute(m.destination()) == Path::new("/dev")
    })
}

pub fn setup_dev(root: &Root, linux: &Linux) -> Result<(), RootfsError> {
    let devices = device_list(linux.devices().as_deref().unwrap_or_default())?;
    // The spec's fileMode is the mode, not a request filtered by our umask.
    let old = umask(Mode::empty());
    let made = devices.iter().try_for_each(|d| create_node(root, d));
    umask(old);
    made?;

    let dev = root
        .mkdir_all(Path::new("dev"), Mode::from_bits_truncate(0o755))
        .map_err(|source| RootfsError::Device {
            path: "/dev".into(),
            source,
        })?;
    let mut links: Vec<(&str, &str)> = DEV_SYMLINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("core", "/proc/kcore"));
    }
    for (name, target) in links {
        match symlinkat(target, &dev, name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(source) => return Err(symlink_error(name, target, source)),
        }
    }
    // /dev/ptmx must be the devpts instance's ptmx, whatever the image had there.
    match unlinkat(&dev, "ptmx", UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(source) => return Err(symlink_error("ptmx", "pts/ptmx", source)),
    }
    symlinkat("pts/ptmx", &dev, "ptmx").map_err(|e| symlink_error("ptmx", "pts/ptmx", e))
}

fn symlink_error(name: &str, target: &str, source: Errno) -> RootfsError {
    RootfsError::Symlink {
        path: Path::new("/dev").join(name),
        target: target.into(),
        source,
    }
}

/// mknod, or — where mknod is not allowed (a user namespace) — bind the host's node onto an
/// empty file, as runc does. An existing entry is left alone.
fn create_node(root: &Root, d: &Device) -> Result<(), RootfsError> {
    let err = |source| RootfsError::Device {
        path: d.path.clone(),
        source,
    };
    let rel = clean_relative(&d.path);
    let (parent, name) = split_last(&rel).ok_or_else(|| err(Errno::EINVAL))?;
    let dir = root
        .mkdir_all(parent, Mode::from_bits_truncate(0o755))
        .map_err(err)?;
    match mknodat(&dir, name, d.kind, d.perm, makedev(d.major, d.minor)) {
        Ok(()) => fchownat(
            &dir,
            name,
            Some(Uid::from_raw(d.uid)),
            Some(Gid::from_raw(d.gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(err),
        Err(Errno::EEXIST) => Ok(()),
        Err(Errno::EPERM) => {
            let target = root.create_file(&rel, Mode::empty()).map_err(err)?;
            mount(
                Some(&d.path),
                &fd_path(&target),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// After pivot_root: a stdio fd that is the host's /dev/null (a caller's `</dev/null`) is
/// replaced by the container's own /dev/null, as runc does. The host's node lies on a mount
/// outside the container, which CRIU cannot dump (`checkpoint` would fail on it); the
/// container's is a node of its own /dev. Best effort: three stat calls on the common path,
/// and a stdio left as it was if the container has no /dev/null to open.
pub fn reopen_dev_null() {
    use std::os::unix::fs::MetadataExt;
    // Through /proc/self/fd, which stat follows to the open file: no handle on the stdio
    // needed (std's would set up its buffers in every init).
    let null = makedev(1, 3);
    let mut ours = None;
    for fd in 0..3 {
        let Ok(st) = std::fs::metadata(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if st.mode() & libc::S_IFMT != libc::S_IFCHR || st.rdev() != null {
            continue;
        }
        let container = ours.get_or_insert_with(|| std::fs::metadata("/dev/null").ok());
        let Some(container) = container else { return };
        if container.dev() == st.dev() && container.ino() == st.ino() {
            continue;
        }
        let Ok(new) = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let _ = match fd {
            0 => nix::unistd::dup2_stdin(&new),
            1 => nix::unistd::dup2_stdout(&new),
            _ => nix::unistd::dup2_stderr(&new),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    fn dev(path: &str, typ: LinuxDeviceType, major: i64, minor: i64) -> LinuxDevice {
        LinuxDeviceBuilder::default()
            .path(path)
            .typ(typ)
            .major(major)
            .minor(minor)
            .build()
            .unwrap()
    }

    #[test]
    fn makedev_matches_libc_encoding() {
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(makedev(5, 0), 0x500);
        assert_eq!(makedev(259, 65536), 0x1001_0300);
        assert_eq!(makedev(0x1000, 0), 0x1000_0000_0000);
    }

    #[test]
    fn defaults_are_runcs_six() {
        let d = default_devices();
        let names: Vec<_> = d.iter().map(|d| d.path.to_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/random",
                "/dev/urandom",
                "/dev/tty"
            ]
        );
        assert!(d
            .iter()
            .all(|d| d.perm.bits() == 0o666 && d.kind == SFlag::S_IFCHR));
        assert_eq!((d[0].major, d[0].minor), (1, 3));
    }

    #[test]
    fn spec_devices_convert_and_override_defaults() {
        let mut fuse = dev("/dev/fuse", LinuxDeviceType::C, 10, 229);
        fuse.set_file_mode(Some(0o20600));
        fuse.set_uid(Some(1000));
        let null = dev("/dev/null", LinuxDeviceType::C, 1, 3);
        let list = device_list(&[fuse, null]).unwrap();
        assert_eq!(list.len(), 7);
        assert_eq!(
            list.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let f = list
            .iter()
            .find(|d| d.path == Path::new("/dev/fuse"))
            .unwrap();
        assert_eq!(
            (f.perm.bits(), f.uid, f.gid, f.kind),
            (0o600, 1000, 0, SFlag::S_IFCHR)
        );
        let b = from_spec(&dev("/dev/sda", LinuxDeviceType::B, 8, 0)).unwrap();
        assert_eq!(b.kind, SFlag::S_IFBLK);
        let p = from_spec(&dev("/dev/fifo", LinuxDeviceType::P, 4, 4)).unwrap();
        assert_eq!((p.kind, p.major), (SFlag::S_IFIFO, 0));
        assert_eq!(
            from_spec(&dev("dev/u", LinuxDeviceType::U, 1, 1))
                .unwrap()
                .path,
            Path::new("/dev/u")
        );
    }

    #[test]
    fn bad_devices_are_refused_by_path() {
        for (path, typ) in [
            ("/etc/passwd", LinuxDeviceType::C),
            ("/dev/../etc/x", LinuxDeviceType::C),
            ("/dev", LinuxDeviceType::C),
            ("/dev/all", LinuxDeviceType::A),
        ] {
            let e = from_spec(&dev(path, typ, 1, 1)).unwrap_err();
            assert!(e.to_string().contains(path), "{e}");
        }
        assert!(from_spec(&dev("/dev/neg", LinuxDeviceType::C, -1, 1)).is_err());
    }

    #[test]
    fn dev_setup_skipped_only_for_bind_dev() {
        use oci_spec::runtime::MountBuilder;
        let tmpfs = MountBuilder::default()
            .destination("/dev")
            .typ("tmpfs")
            .build()
            .unwrap();
        let bind = MountBuilder::default()
            .destination("/dev/")
            .typ("none")
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap();
        assert!(needs_dev_setup(&[]));
        assert!(needs_dev_setup(&[tmpfs]));
        assert!(!needs_dev_setup(&[bind]));
    }
}
