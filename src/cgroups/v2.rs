//! cgroup v2 (unified): one directory holds every controller; controllers must be enabled
//! in each ancestor's `cgroup.subtree_control` before their files appear in the leaf.

use std::cell::Cell;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::{
    files, v2_devices, v2_resources as res, Backend, CgroupError, SubCgroup, FREEZE_TIMEOUT,
};

/// Controllers a container's limits can use. Others (perf_event, ...) need no delegation.
const WANTED: &[&str] = &[
    "cpu", "cpuset", "io", "memory", "pids", "hugetlb", "misc", "rdma",
];

pub(crate) struct V2 {
    mount: PathBuf,
    rel: PathBuf,
    leaf: PathBuf,
    /// `create` found the leaf already there: an undone create leaves it.
    existed: Cell<bool>,
}

/// A leaf someone froze (`cgroup.freeze` 1) would freeze the init clone3 places in it, and
/// the create would hang waiting for it: refused, as runc refuses it.
pub(crate) fn refuse_if_frozen(leaf: &Path) -> Result<(), CgroupError> {
    // No cgroup.freeze: nothing can have frozen it (kernels before 5.2).
    match files::read_trimmed(leaf, "cgroup.freeze") {
        Ok(v) if v == "1" => Err(CgroupError::Frozen {
            path: leaf.to_path_buf(),
        }),
        Ok(_) => Ok(()),
        Err(CgroupError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

impl V2 {
    pub(crate) fn new(mount: PathBuf, rel: PathBuf) -> V2 {
        let leaf = mount.join(rel.strip_prefix("/").unwrap_or(&rel));
        V2 {
            mount,
            rel,
            leaf,
            existed: Cell::new(false),
        }
    }

    fn frozen_event(&self) -> Result<bool, CgroupError> {
        let events = files::read(&self.leaf, "cgroup.events")?;
        Ok(events.lines().any(|l| l.trim() == "frozen 1"))
    }
}

/// Names listed in a space-separated cgroup file; a missing file lists nothing.
fn listed(dir: &Path, file: &str) -> Vec<String> {
    files::read(dir, file)
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

impl Backend for V2 {
    fn stats(&self) -> Result<super::stats::Stats, CgroupError> {
        super::stats::v2(&self.leaf)
    }

    fn oom_kills(&self) -> u64 {
        super::stats::oom_kills(&self.leaf, true)
    }

    fn create_rest(&self) -> Result<(), CgroupError> {
        Ok(())
    }

    fn sub_cgroups(&self, subs: &[SubCgroup]) -> Result<Box<dyn Backend>, CgroupError> {
        let mut rel = self.rel.clone();
        for (i, sub) in subs.iter().enumerate() {
            let bad = |reason: &str| CgroupError::BadSubCgroup {
                arg: sub.arg.clone(),
                reason: reason.to_string(),
            };
            if !sub.controllers.is_empty() {
                return Err(bad(
                    "cgroup v2 has one tree: give the path without controllers",
                ));
            }
            if i > 0 {
                return Err(bad("cgroup v2 has one tree: give one --cgroup path"));
            }
            rel = super::existing_sub(&self.mount, &self.rel, sub)?.1;
        }
        Ok(Box::new(V2::new(self.mount.clone(), rel)))
    }

    fn create_clone_target(&self) -> Result<(), CgroupError> {
        let rel = self.rel.strip_prefix("/").unwrap_or(&self.rel);
        // Only an existing leaf makes mkdir_all create nothing at all.
        if files::mkdir_all(&self.mount, rel)?.is_empty() {
            self.existed.set(true);
            refuse_if_frozen(&self.leaf)?;
        }
        let mut dir = self.mount.clone();
        for part in rel.components() {
            enable_controllers(&dir);
            dir.push(part);
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        res::check_supported(r)?;
        let dir = &self.leaf;
        // First: a program that cannot be loaded must not leave other limits half-written.
        // An absent or empty list leaves whatever program is attached in place (nook adds
        // its default rules only when the spec restricts devices at all).
        if let Some(d) = r.devices().as_deref().filter(|d| !d.is_empty()) {
            v2_devices::apply_devices(dir, d)?;
        }
        if let Some(m) = r.memory() {
            res::apply_memory(dir, m)?;
        }
        if let Some(p) = r.pids() {
            res::apply_pids(dir, p)?;
        }
        if let Some(c) = r.cpu() {
            res::apply_cpu(dir, c)?;
        }
        if let Some(b) = r.block_io() {
            res::apply_io(dir, b)?;
        }
        if let Some(h) = r.hugepage_limits() {
            res::apply_hugetlb(dir, h)?;
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            super::limits::apply_rdma(dir, rdma)?;
        }
        // Last, so an explicit unified value wins over what the fields above wrote.
        if let Some(u) = r.unified() {
            res::apply_unified(dir, u)?;
        }
        Ok(())
    }

    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = open(&self.leaf, flags, Mode::empty()).map_err(|source| CgroupError::Open {
            path: self.leaf.clone(),
            source,
        })?;
        Ok(Some(fd))
    }

    fn add_process(&self, pid: Pid) -> Result<(), CgroupError> {
        files::write(&self.leaf, "cgroup.procs", &pid.to_string())
    }

    fn exists(&self) -> bool {
        self.leaf.is_dir()
    }

    fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        if !self.exists() {
            return Ok(Vec::new());
        }
        files::read_pids(&self.leaf)
    }

    fn can_freeze(&self) -> bool {
        self.leaf.join("cgroup.freeze").exists()
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        files::write(&self.leaf, "cgroup.freeze", "1")?;
        if !files::wait_until(FREEZE_TIMEOUT, || self.frozen_event())? {
            files::write(&self.leaf, "cgroup.freeze", "0")?;
            return Err(CgroupError::FreezeTimeout {
                path: self.leaf.clone(),
                timeout: FREEZE_TIMEOUT,
            });
        }
        Ok(())
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        files::write(&self.leaf, "cgroup.freeze", "0")
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        if !self.can_freeze() {
            return Ok(false);
        }
        self.frozen_event()
    }

    fn kill_natively(&self) -> Result<bool, CgroupError> {
        // cgroup.kill exists since Linux 5.14.
        if !self.leaf.join("cgroup.kill").exists() {
            return Ok(false);
        }
        files::write(&self.leaf, "cgroup.kill", "1")?;
        Ok(true)
    }

    fn remove(&self) -> Result<(), CgroupError> {
        files::rmdir(&self.leaf)
    }

    fn found_existing(&self) -> bool {
        self.existed.get()
    }

    fn remove_created(&self) -> Result<(), CgroupError> {
        if self.existed.get() {
            return Ok(());
        }
        files::rmdir(&self.leaf)
    }

    fn display_path(&self) -> PathBuf {
        self.leaf.clone()
    }
}

/// Delegate what `dir` has of [`WANTED`] to its children, one controller at a time so one
/// refusal does not block the others. Failures are not errors here: a controller that
/// cannot be delegated only matters if the spec sets one of its limits, and then `apply`
/// fails naming the missing file.
fn enable_controllers(dir: &Path) {
    let available = listed(dir, "cgroup.controllers");
    let enabled = listed(dir, "cgroup.subtree_control");
    for c in WANTED {
        if available.iter().any(|a| a == c) && !enabled.iter().any(|e| e == c) {
            // Deliberately best effort; see above.
            let _ = files::write(dir, "cgroup.subtree_control", &format!("+{c}"));
        }
    }
}
