//! cgroup v1 (legacy and hybrid hosts): one directory per hierarchy, each controller in its
//! own place; on hybrid hosts also the controller-less cgroup2 mount, which only tracks
//! membership (systemd and tools read it).

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::detect::{V1Hierarchy, V1View};
use super::{files, v1_resources as res, Backend, CgroupError, SubCgroup, FREEZE_TIMEOUT};

pub(crate) struct V1 {
    /// Each hierarchy with the cgroup's path in it (paths can differ: relative cgroupsPaths
    /// hang below the runtime's own cgroup, which is per hierarchy).
    dirs: Vec<(V1Hierarchy, PathBuf)>,
    unified: Option<(PathBuf, PathBuf)>,
    /// Leaves `create` found already there (a cgroupsPath naming an existing cgroup): an undone
    /// create leaves them as it found them.
    existing: RefCell<Vec<PathBuf>>,
}

/// `/a/b` below `mount`.
fn under(mount: &Path, rel: &Path) -> PathBuf {
    mount.join(rel.strip_prefix("/").unwrap_or(rel))
}

impl V1 {
    pub(crate) fn new(
        dirs: Vec<(V1Hierarchy, PathBuf)>,
        unified: Option<(PathBuf, PathBuf)>,
    ) -> V1 {
        V1 {
            dirs,
            unified,
            existing: RefCell::new(Vec::new()),
        }
    }

    /// mkdir -p the leaf in one hierarchy; true when it was already there.
    fn make_leaf(&self, mount: &Path, rel: &Path) -> Result<bool, CgroupError> {
        let made = files::mkdir_all(mount, rel.strip_prefix("/").unwrap_or(rel))?;
        // Only an existing leaf makes mkdir_all create nothing at all.
        if made.is_empty() {
            self.existing.borrow_mut().push(under(mount, rel));
        }
        Ok(made.is_empty())
    }

    /// (mount, cgroup path) of every place the cgroup exists, v1 and hybrid v2 alike.
    fn places(&self) -> impl Iterator<Item = (&Path, &Path)> {
        let v1 = self
            .dirs
            .iter()
            .map(|(h, r)| (h.mount.as_path(), r.as_path()));
        let v2 = self.unified.iter().map(|(m, r)| (m.as_path(), r.as_path()));
        v1.chain(v2)
    }

    fn dir_of(&self, controller: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .find(|(h, _)| h.has(controller))
            .map(|(h, r)| under(&h.mount, r))
    }

    fn need(&self, controller: &'static str, field: &'static str) -> Result<PathBuf, CgroupError> {
        self.dir_of(controller)
            .ok_or(CgroupError::ControllerMissing { field, controller })
    }

    /// The hierarchy to list members from: any hierarchy holds every member, so prefer
    /// ones that are nearly always mounted.
    fn member_dir(&self) -> Option<PathBuf> {
        ["pids", "freezer", "memory", "cpu"]
            .iter()
            .find_map(|c| self.dir_of(c))
            .or_else(|| self.dirs.first().map(|(h, r)| under(&h.mount, r)))
    }
}

impl Backend for V1 {
    fn stats(&self) -> Result<super::stats::Stats, CgroupError> {
        super::stats::v1(&super::stats::V1Dirs {
            cpuacct: self.dir_of("cpuacct"),
            cpu: self.dir_of("cpu"),
            cpuset: self.dir_of("cpuset"),
            memory: self.dir_of("memory"),
            pids: self.dir_of("pids"),
            blkio: self.dir_of("blkio"),
            hugetlb: self.dir_of("hugetlb"),
        })
    }

    fn oom_kills(&self) -> u64 {
        self.dir_of("memory")
            .map(|d| super::stats::oom_kills(&d, false))
            .unwrap_or(0)
    }

    fn create_clone_target(&self) -> Result<(), CgroupError> {
        if let Some((mount, rel)) = &self.unified {
            if self.make_leaf(mount, rel)? {
                // clone3 would place the init in it, frozen before it could say anything.
                super::v2::refuse_if_frozen(&under(mount, rel))?;
            }
        }
        Ok(())
    }

    /// A controller-less argument moves the process in every hierarchy (the hybrid cgroup2
    /// one too); `memory:path` only in the hierarchy holding memory. Each controller is named once (checked before).
    fn sub_cgroups(&self, subs: &[SubCgroup]) -> Result<Box<dyn Backend>, CgroupError> {
        let mut dirs = self.dirs.clone();
        let mut unified = self.unified.clone();
        for sub in subs {
            if sub.controllers.is_empty() {
                for ((h, rel), (_, base)) in dirs.iter_mut().zip(&self.dirs) {
                    *rel = super::existing_sub(&h.mount, base, sub)?.1;
                }
                if let (Some((mount, rel)), Some((_, base))) = (&mut unified, &self.unified) {
                    *rel = super::existing_sub(mount, base, sub)?.1;
                }
                continue;
            }
            for c in &sub.controllers {
                let name = c.strip_prefix("name=").unwrap_or(c);
                let found = dirs
                    .iter_mut()
                    .zip(&self.dirs)
                    .find(|((h, _), _)| h.has(c) || h.name.as_deref() == Some(name));
                let Some(((h, rel), (_, base))) = found else {
                    return Err(CgroupError::BadSubCgroup {
                        arg: sub.arg.clone(),
                        reason: format!("no cgroup v1 hierarchy holds controller {c:?}"),
                    });
                };
                *rel = super::existing_sub(&h.mount, base, sub)?.1;
            }
        }
        Ok(Box::new(V1::new(dirs, unified)))
    }

    fn create_rest(&self) -> Result<(), CgroupError> {
        // The freezer first, so that a frozen leaf (which would freeze the init as it joins,
        // and hang the create) is refused before any other hierarchy gets a directory.
        let freezer = self.dirs.iter().filter(|(h, _)| h.has("freezer"));
        let others = self.dirs.iter().filter(|(h, _)| !h.has("freezer"));
        for (h, rel) in freezer.clone() {
            if self.make_leaf(&h.mount, rel)? {
                let dir = under(&h.mount, rel);
                if files::read_trimmed(&dir, "freezer.state")? != "THAWED" {
                    return Err(CgroupError::Frozen { path: dir });
                }
            }
        }
        for (h, rel) in others {
            self.make_leaf(&h.mount, rel)?;
        }
        // A new cpuset cgroup starts with no cpus and no mems, and cannot take a task
        // until both are set; the kernel requires them to be a subset of the parent's.
        if let Some((h, rel)) = self.dirs.iter().find(|(h, _)| h.has("cpuset")) {
            let mut dir = h.mount.clone();
            for part in rel.strip_prefix("/").unwrap_or(rel).components() {
                let parent = dir.clone();
                dir.push(part);
                res::inherit_cpuset(&parent, &dir)?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        res::check_supported(r)?;
        if let Some(m) = r.memory() {
            res::apply_memory(&self.need("memory", "linux.resources.memory")?, m)?;
        }
        if let Some(p) = r.pids() {
            res::apply_pids(&self.need("pids", "linux.resources.pids")?, p)?;
        }
        if let Some(c) = r.cpu() {
            if res::has_cpu_fields(c) {
                res::apply_cpu(&self.need("cpu", "linux.resources.cpu")?, c)?;
            }
            if res::has_cpuset_fields(c) {
                res::apply_cpuset(&self.need("cpuset", "linux.resources.cpu.cpus")?, c)?;
            }
        }
        if let Some(b) = r.block_io() {
            res::apply_blkio(&self.need("blkio", "linux.resources.blockIO")?, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_deref().filter(|h| !h.is_empty()) {
            res::apply_hugetlb(&self.need("hugetlb", "linux.resources.hugepageLimits")?, h)?;
        }
        if let Some(d) = r.devices().as_deref().filter(|d| !d.is_empty()) {
            res::apply_devices(&self.need("devices", "linux.resources.devices")?, d)?;
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                let dir = self.need("net_cls", "linux.resources.network.classID")?;
                res::apply_net_cls(&dir, id)?;
            }
            if let Some(p) = n.priorities().as_deref().filter(|p| !p.is_empty()) {
                let dir = self.need("net_prio", "linux.resources.network.priorities")?;
                res::apply_net_prio(&dir, p)?;
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            super::limits::apply_rdma(&self.need("rdma", "linux.resources.rdma")?, rdma)?;
        }
        Ok(())
    }

    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        let Some((mount, rel)) = &self.unified else {
            return Ok(None);
        };
        let leaf = under(mount, rel);
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = open(&leaf, flags, Mode::empty())
            .map_err(|source| CgroupError::Open { path: leaf, source })?;
        Ok(Some(fd))
    }

    fn self_join_files(&self) -> Result<Vec<OwnedFd>, CgroupError> {
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        self.dirs
            .iter()
            .map(|(h, r)| {
                let path = under(&h.mount, r).join("tasks");
                open(&path, flags, Mode::empty())
                    .map_err(|source| CgroupError::Open { path, source })
            })
            .collect()
    }

    fn v1_views(&self) -> Option<Vec<V1View>> {
        let views = self.dirs.iter().map(|(h, rel)| V1View {
            dir_name: h
                .mount
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            source: under(&h.mount, rel),
            data: h.key(),
        });
        Some(views.collect())
    }

    fn add_process(&self, pid: Pid) -> Result<(), CgroupError> {
        for (mount, rel) in self.places() {
            files::write(&under(mount, rel), "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn exists(&self) -> bool {
        self.places().any(|(m, r)| under(m, r).is_dir())
    }

    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        match self.member_dir() {
            Some(dir) if dir.is_dir() => files::read_pids(&dir),
            _ => Ok(Vec::new()),
        }
    }

    fn can_freeze(&self) -> bool {
        self.dir_of("freezer").is_some()
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let dir = self.freezer()?;
        files::write(&dir, "freezer.state", "FROZEN")?;
        // FREEZING can linger (a task in uninterruptible sleep); re-requesting FROZEN
        // makes the kernel retry the tasks it has not caught yet.
        let frozen = files::wait_until(FREEZE_TIMEOUT, || {
            if files::read_trimmed(&dir, "freezer.state")? == "FROZEN" {
                return Ok(true);
            }
            files::write(&dir, "freezer.state", "FROZEN")?;
            Ok(false)
        })?;
        if !frozen {
            files::write(&dir, "freezer.state", "THAWED")?;
            return Err(CgroupError::FreezeTimeout {
                path: dir,
                timeout: FREEZE_TIMEOUT,
            });
        }
        Ok(())
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        files::write(&self.freezer()?, "freezer.state", "THAWED")
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        // A create that failed half-way may have made the unified directory but not this one.
        match self.dir_of("freezer") {
            Some(dir) if dir.is_dir() => {
                Ok(files::read_trimmed(&dir, "freezer.state")? == "FROZEN")
            }
            _ => Ok(false),
        }
    }

    fn kill_natively(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }

    fn remove(&self) -> Result<(), CgroupError> {
        for (mount, rel) in self.places() {
            files::rmdir(&under(mount, rel))?;
        }
        Ok(())
    }

    fn found_existing(&self) -> bool {
        !self.existing.borrow().is_empty()
    }

    fn remove_created(&self) -> Result<(), CgroupError> {
        let existing = self.existing.borrow();
        for (mount, rel) in self.places() {
            let leaf = under(mount, rel);
            if !existing.contains(&leaf) {
                files::rmdir(&leaf)?;
            }
        }
        Ok(())
    }

    fn display_path(&self) -> PathBuf {
        self.member_dir().unwrap_or_default()
    }
}

impl V1 {
    fn freezer(&self) -> Result<PathBuf, CgroupError> {
        self.dir_of("freezer")
            .ok_or_else(|| CgroupError::NoFreezer {
                path: self.display_path(),
            })
    }
}
