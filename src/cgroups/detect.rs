//! Which cgroup layout this host has, read from `/proc/self/mountinfo`, and where the runtime
//! itself sits in each hierarchy (`/proc/self/cgroup`), needed for relative `cgroupsPath`s.
//! Pure parsing: the callers pass the text in.

use std::path::{Path, PathBuf};

/// One v1 hierarchy: where it is mounted and what it controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mount: PathBuf,
    /// The cgroup path (in the hierarchy) that is the mount's root, normally `/`.
    pub mount_root: PathBuf,
    /// Controllers, e.g. `["cpu", "cpuacct"]`; empty for a named hierarchy.
    pub controllers: Vec<String>,
    /// `name=systemd` gives `Some("systemd")`.
    pub name: Option<String>,
}

impl V1Hierarchy {
    /// The key `/proc/self/cgroup` uses for this hierarchy: `cpu,cpuacct` or `name=systemd`.
    pub fn key(&self) -> String {
        let mut parts = self.controllers.clone();
        if let Some(name) = &self.name {
            parts.push(format!("name={name}"));
        }
        parts.join(",")
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// What a process in a cgroup sees of one v1 hierarchy, as the container's cgroup mount shows
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1View {
    /// Directory name under the cgroup mount: the host's mount point name (`cpu,cpuacct`).
    pub dir_name: String,
    /// Host path of the cgroup in the hierarchy (for a bind mount).
    pub source: PathBuf,
    /// Mount data selecting the hierarchy, its `/proc/self/cgroup` key (for a fresh mount in a
    /// cgroup namespace).
    pub data: String,
}

impl V1Hierarchy {
    /// The view of `path` (a cgroup path in this hierarchy, as /proc/<pid>/cgroup shows it).
    /// A path outside the hierarchy's mount root is an error naming the mount, unless in a
    /// cgroup namespace, where the hierarchy is mounted fresh and the source is not used.
    pub fn view(&self, path: &Path, cgroupns: bool) -> Result<V1View, PathBuf> {
        let source = match path.strip_prefix(&self.mount_root) {
            Ok(rel) => self.mount.join(rel),
            Err(_) if cgroupns => self.mount.clone(),
            Err(_) => return Err(self.mount.clone()),
        };
        let dir_name = self.mount.file_name().unwrap_or_default();
        Ok(V1View {
            dir_name: dir_name.to_string_lossy().into_owned(),
            source,
            data: self.key(),
        })
    }
}

/// The v1 hierarchies a process is in (its `/proc/<pid>/cgroup` text), as views, for the ones
/// mounted in `layout`. None on a unified host.
pub fn own_v1_views(
    layout: &Layout,
    proc_cgroup: &str,
    cgroupns: bool,
) -> Option<Result<Vec<V1View>, PathBuf>> {
    let Layout::V1 { hierarchies, .. } = layout else {
        return None;
    };
    let own = parse_proc_cgroup(proc_cgroup);
    let views = own
        .iter()
        .filter(|(key, _)| !key.is_empty())
        .filter_map(|(key, path)| {
            let h = hierarchies.iter().find(|h| h.key() == *key)?;
            Some(h.view(path, cgroupns))
        });
    Some(views.collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Legacy or hybrid: v1 hierarchies, plus (hybrid) a controller-less cgroup2 mount that
    /// only tracks processes.
    V1 {
        hierarchies: Vec<V1Hierarchy>,
        unified: Option<PathBuf>,
    },
    /// Pure v2: one cgroup2 mount holds every controller.
    V2 { mount: PathBuf },
}

/// Super options that are not controller names.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "clone_children",
    "noprefix",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
];

/// The layout described by a mountinfo text. v1 wins if any v1 hierarchy is mounted: a hybrid
/// host's cgroup2 mount carries no controllers. Among duplicate mounts of one hierarchy
/// (bind mounts), the first one under `/sys/fs/cgroup` is kept.
pub fn parse_mountinfo(text: &str) -> Option<Layout> {
    let mut hierarchies: Vec<V1Hierarchy> = Vec::new();
    let mut v2: Vec<PathBuf> = Vec::new();
    for mount in crate::mountinfo::parse_mountinfo(text) {
        match mount.fstype.as_str() {
            "cgroup2" => v2.push(mount.mount_point.clone()),
            "cgroup" => {
                let mut h = V1Hierarchy {
                    mount: mount.mount_point.clone(),
                    mount_root: mount.root.clone(),
                    controllers: Vec::new(),
                    name: None,
                };
                for opt in mount.super_options.split(',') {
                    if let Some(name) = opt.strip_prefix("name=") {
                        h.name = Some(name.to_string());
                    } else if !NOT_CONTROLLERS.contains(&opt) && !opt.contains('=') {
                        h.controllers.push(opt.to_string());
                    }
                }
                h.controllers.sort();
                match hierarchies.iter_mut().find(|o| o.key() == h.key()) {
                    Some(old) if !old.mount.starts_with("/sys/fs/cgroup") => *old = h,
                    Some(_) => {}
                    None => hierarchies.push(h),
                }
            }
            _ => {}
        }
    }
    let preferred = |paths: &[PathBuf], want: &str| {
        paths
            .iter()
            .find(|p| p.as_path() == Path::new(want))
            .or_else(|| paths.first())
            .cloned()
    };
    if !hierarchies.is_empty() {
        let unified = preferred(&v2, "/sys/fs/cgroup/unified");
        return Some(Layout::V1 {
            hierarchies,
            unified,
        });
    }
    preferred(&v2, "/sys/fs/cgroup").map(|mount| Layout::V2 { mount })
}

/// `/proc/self/cgroup` as (key, path) pairs: key `""` is the v2 hierarchy, `cpu,cpuacct`
/// or `name=systemd` a v1 one (controller lists sorted to match [`V1Hierarchy::key`]).
pub fn parse_proc_cgroup(text: &str) -> Vec<(String, PathBuf)> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let keys = parts.next()?;
            let path = parts.next()?;
            let mut keys: Vec<&str> = keys.split(',').filter(|k| !k.is_empty()).collect();
            keys.sort_by_key(|k| (k.starts_with("name="), *k));
            Some((keys.join(","), PathBuf::from(path)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpuacct,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 20 0:32 /x /mnt/mem\\040copy rw - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_host_is_v1_with_unified_tracking() {
        let Some(Layout::V1 {
            hierarchies,
            unified,
        }) = parse_mountinfo(HYBRID)
        else {
            panic!("expected v1");
        };
        assert_eq!(unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        let keys: Vec<String> = hierarchies.iter().map(|h| h.key()).collect();
        assert_eq!(keys, ["cpu,cpuacct", "memory", "name=systemd"]);
        assert_eq!(hierarchies[1].mount, Path::new("/sys/fs/cgroup/memory"));
    }

    #[test]
    fn pure_v2() {
        let text = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            parse_mountinfo(text),
            Some(Layout::V2 {
                mount: "/sys/fs/cgroup".into()
            })
        );
        assert_eq!(
            parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"),
            None
        );
    }

    #[test]
    fn proc_self_cgroup_keys_match_hierarchy_keys() {
        let own = parse_proc_cgroup("4:memory:/a/b\n2:cpu,cpuacct:/\n9:name=systemd:/s\n0::/u\n");
        assert_eq!(own[0], ("memory".to_string(), PathBuf::from("/a/b")));
        assert_eq!(own[1].0, "cpu,cpuacct");
        assert_eq!(own[2].0, "name=systemd");
        assert_eq!(own[3], (String::new(), PathBuf::from("/u")));
    }
}
