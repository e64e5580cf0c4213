//! /proc/self/mountinfo, parsed by pure functions over its text (the cgroup layout and
//! /proc/self/cgroup are read in cgroups::detect, the one place for them).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The path inside its filesystem that is mounted (field 4).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    /// Optional fields such as "shared:12" or "master:3".
    pub optional: Vec<String>,
    pub fstype: String,
    pub super_options: String,
}

/// The kernel escapes space, tab, newline and backslash in paths as \ooo octal.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Lines that do not parse are skipped: the format is the kernel's, not the user's.
pub fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let (_id, _parent, _dev) = (l.next()?, l.next()?, l.next()?);
    let root = unescape(l.next()?);
    let mount_point = unescape(l.next()?);
    let _mount_options = l.next()?;
    let optional = l.filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let mut r = right.split(' ');
    let fstype = r.next()?.to_owned();
    let _source = r.next()?;
    let super_options = r.next().unwrap_or("").to_owned();
    Some(MountInfo {
        root,
        mount_point,
        optional,
        fstype,
        super_options,
    })
}

/// The mount that holds `path`: the entry with the longest mount point that is a prefix of it
/// (the last such entry wins: it is the one on top).
pub fn holding_mount<'a>(mounts: &'a [MountInfo], path: &Path) -> Option<&'a MountInfo> {
    mounts
        .iter()
        .filter(|m| path.starts_with(&m.mount_point))
        .fold(None, |best: Option<&MountInfo>, m| match best {
            Some(b) if b.mount_point.as_os_str().len() > m.mount_point.as_os_str().len() => Some(b),
            _ => Some(m),
        })
}

/// Read a small /proc file in one go. procfs reports size 0, so `read_to_string` starts with a
/// 32-byte buffer and doubles it, one read(2) each time, and mountinfo is re-rendered for each.
pub fn read_proc_text(path: &str) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::with_capacity(16 * 1024);
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_mount_points() {
        assert_eq!(unescape("/mnt/a\\040b"), PathBuf::from("/mnt/a b"));
        assert_eq!(unescape("/mnt/a\\"), PathBuf::from("/mnt/a\\"));
    }

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 master:2 - cgroup cgroup rw,cpu
40 31 0:37 /sub /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 0:40 / /srv/with\\040space rw - tmpfs none rw
";

    #[test]
    fn parses_fields_and_escapes() {
        let m = parse_mountinfo(SAMPLE);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0].optional, vec!["shared:1"]);
        assert_eq!(m[2].optional, vec!["shared:9", "master:2"]);
        assert_eq!(m[2].fstype, "cgroup");
        assert_eq!(m[2].super_options, "rw,cpu");
        assert_eq!(m[3].root, PathBuf::from("/sub"));
        assert_eq!(m[5].mount_point, PathBuf::from("/srv/with space"));
        assert!(parse_mountinfo("garbage\n").is_empty());
    }

    #[test]
    fn holding_mount_is_longest_prefix() {
        let m = parse_mountinfo(SAMPLE);
        let h = holding_mount(&m, Path::new("/srv/with space/rootfs")).unwrap();
        assert_eq!(h.mount_point, PathBuf::from("/srv/with space"));
        let h = holding_mount(&m, Path::new("/var/lib/x")).unwrap();
        assert_eq!(h.mount_point, PathBuf::from("/"));
        // Component-wise: /sys/fs/cgroupx is not under /sys/fs/cgroup.
        let h = holding_mount(&m, Path::new("/sys/fs/cgroupx")).unwrap();
        assert_eq!(h.mount_point, PathBuf::from("/"));
    }
}
