//! The container's cgroup: where it lives, creating it, applying `linux.resources`, moving
//! processes in, freezing, signalling and removing it.
//!
//! cgroup v1 (legacy and hybrid hosts) and v2 (unified) sit behind one [`Backend`] trait, one
//! implementation per layout ([`v1::V1`], [`v2::V2`]). What a resource means for a given
//! layout is written as plain functions of (resources, cgroup directory) in
//! [`v1_resources`] and [`v2_resources`], tested against a tempdir tree.
//!
//! Every base directory comes from a [`Layout`]: [`Cgroup::resolve`] reads it from
//! `/proc/self/mountinfo`; tests build one over a tempdir with [`Cgroup::with_root`].
//!
//! Every resource field is either applied or refused with [`CgroupError::Unsupported`]; none
//! is silently ignored. The few zero values runc and Go-based callers use to mean "unset"
//! (cpu shares/quota/period 0, memory swap 0, pids limit 0) are treated as unset.

use crate::sys::bpf;
pub mod default_devices;
mod detect;
mod files;
mod limits;
mod none;
pub mod rootless;
pub mod stats;
pub mod systemd;
mod v1;
mod v1_resources;
mod v2;
mod v2_devices;
mod v2_resources;

use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub use detect::{
    own_v1_views, parse_mountinfo as parse_layout, parse_proc_cgroup, Layout, V1Hierarchy, V1View,
};

/// The parent of every cgroup nook names itself; removed on destroy once empty.
const DEFAULT_PARENT: &str = "/nook";

/// How long `destroy` keeps killing and waiting for the cgroup to empty.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a freeze may take before it is undone and reported.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(2);

/// One variant per failing step; each names the file, path or field it failed on, and ends with
/// its source's message (the crate's rule, see `error_chain`).
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("write {value:?} to {path}: {source}")]
    Write {
        value: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mkdir {path}: {source}")]
    Mkdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rmdir {path}: {source}")]
    Rmdir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("send {signal} to pid {pid} of cgroup {path}: {source}")]
    Signal {
        signal: Signal,
        pid: Pid,
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("{path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },
    #[error("no cgroup hierarchy found in {path}")]
    NoHierarchy { path: PathBuf },
    #[error("linux.cgroupsPath {path:?}: {reason}")]
    BadPath { path: PathBuf, reason: &'static str },
    #[error("{field}: not supported on cgroup {version}: {why}")]
    Unsupported {
        field: &'static str,
        version: &'static str,
        why: &'static str,
    },
    #[error("{field}: invalid value {value:?}: {why}")]
    InvalidValue {
        field: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("{field}: the {controller} cgroup controller is not mounted on this host")]
    ControllerMissing {
        field: &'static str,
        controller: &'static str,
    },
    #[error("freeze {path}: the cgroup did not freeze within {timeout:?}")]
    FreezeTimeout { path: PathBuf, timeout: Duration },
    #[error(
        "container's cgroup unexpectedly frozen: {path} (thaw it, or name another cgroupsPath)"
    )]
    Frozen { path: PathBuf },
    #[error("freeze {path}: no freezer on this host")]
    NoFreezer { path: PathBuf },
    #[error("load the device eBPF program for {path}: {source}; verifier log: {log:?}")]
    BpfLoad {
        path: PathBuf,
        log: String,
        #[source]
        source: Errno,
    },
    #[error("attach the device eBPF program to {path}: {source}")]
    BpfAttach {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("list the device eBPF programs attached to {path}: {source}")]
    BpfQuery {
        path: PathBuf,
        #[source]
        source: Errno,
    },
    #[error("detach the old device eBPF program {prog_id} from {path}: {source}")]
    BpfDetach {
        path: PathBuf,
        prog_id: u32,
        #[source]
        source: Errno,
    },
    #[error(
        "{field}: no cgroup can hold this limit ({why}); an unprivileged user needs a cgroup \
         delegated to them (chowned) and named in linux.cgroupsPath"
    )]
    NoCgroupForLimit { field: &'static str, why: String },
    #[error("destroy {path}: processes still running after {timeout:?} of SIGKILL")]
    NotEmpty { path: PathBuf, timeout: Duration },
    #[error("{field}: the kernel offers no {file} ({why})")]
    KernelLacks {
        field: &'static str,
        file: PathBuf,
        why: &'static str,
    },
    #[error("exec --cgroup {arg:?}: {reason}")]
    BadSubCgroup { arg: String, reason: String },
    #[error(transparent)]
    Systemd(#[from] systemd::SystemdError),
}

/// One `exec --cgroup` argument: `[controller[,controller...]:]path`, the path relative to the
/// container's cgroup. No controllers: every hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubCgroup {
    pub arg: String,
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

impl SubCgroup {
    pub fn parse(arg: &str) -> Result<SubCgroup, CgroupError> {
        let bad = |reason: &str| CgroupError::BadSubCgroup {
            arg: arg.to_string(),
            reason: reason.to_string(),
        };
        let (controllers, path) = match arg.split_once(':') {
            Some((c, p)) => {
                let c: Vec<String> = c.split(',').map(String::from).collect();
                if c.iter().any(String::is_empty) {
                    return Err(bad("empty controller name"));
                }
                (c, p)
            }
            None => (Vec::new(), arg),
        };
        let mut rel = PathBuf::new();
        for c in Path::new(path).components() {
            match c {
                Component::RootDir | Component::CurDir => {}
                Component::Normal(n) => rel.push(n),
                _ => return Err(bad("the path must stay inside the container's cgroup")),
            }
        }
        Ok(SubCgroup {
            arg: arg.to_string(),
            controllers,
            path: rel,
        })
    }
}

/// In a freshly forked, single-threaded child: move the calling thread (so the whole
/// process) into the cgroup through the files of [`Cgroup::self_join_files`].
pub fn join_self(tasks: &[OwnedFd]) -> Result<(), Errno> {
    for fd in tasks {
        nix::unistd::write(fd, b"0")?;
    }
    Ok(())
}

/// What a layout must provide. Generic sequences (signalling, destroying) live on [`Cgroup`].
trait Backend {
    /// mkdir the cgroup2 leaf clone3 places the init in (v2: all of it; hybrid: the unified
    /// hierarchy's directory; pure v1: nothing).
    fn create_clone_target(&self) -> Result<(), CgroupError>;
    /// mkdir everything else (the v1 hierarchies).
    fn create_rest(&self) -> Result<(), CgroupError>;
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError>;
    /// v1 `tasks` files of every hierarchy [`Backend::clone_into_fd`] does not cover.
    fn self_join_files(&self) -> Result<Vec<OwnedFd>, CgroupError> {
        Ok(Vec::new())
    }
    fn add_process(&self, pid: Pid) -> Result<(), CgroupError>;
    /// See [`Cgroup::v1_views`].
    fn v1_views(&self) -> Option<Vec<V1View>> {
        None
    }
    fn exists(&self) -> bool;
    fn pids(&self) -> Result<Vec<Pid>, CgroupError>;
    fn can_freeze(&self) -> bool;
    fn freeze(&self) -> Result<(), CgroupError>;
    fn thaw(&self) -> Result<(), CgroupError>;
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// Kill everything in one kernel operation if the layout has one (v2 `cgroup.kill`).
    /// Returns false when it does not, and the caller signals pid by pid.
    fn kill_natively(&self) -> Result<bool, CgroupError>;
    /// rmdir the leaf everywhere. The shared [`DEFAULT_PARENT`] stays, as a systemd slice
    /// does: removing it with its last child and making it again for the next container cost
    /// an rmdir, a mkdir and its setup (cpuset copy, subtree_control) per hierarchy per run.
    fn remove(&self) -> Result<(), CgroupError>;
    /// Whether `create` found any leaf already there (then not all of it is ours to undo).
    fn found_existing(&self) -> bool;
    /// rmdir the leaves `create` made, leaving those it found.
    fn remove_created(&self) -> Result<(), CgroupError>;
    /// A path in one hierarchy, for messages.
    fn display_path(&self) -> PathBuf;
    fn stats(&self) -> Result<stats::Stats, CgroupError>;
    /// Processes the kernel has OOM-killed in the cgroup so far.
    fn oom_kills(&self) -> u64;
    /// The same cgroup with `subs` below it (see [`Cgroup::for_exec`]).
    fn sub_cgroups(&self, subs: &[SubCgroup]) -> Result<Box<dyn Backend>, CgroupError>;
}

/// As runc takes them: a path without controllers stands alone, and no controller is named
/// twice.
fn check_sub_cgroups(subs: &[SubCgroup]) -> Result<(), CgroupError> {
    let mut seen: Vec<&str> = Vec::new();
    for sub in subs {
        let bad = |reason: String| CgroupError::BadSubCgroup {
            arg: sub.arg.clone(),
            reason,
        };
        if sub.controllers.is_empty() && subs.len() > 1 {
            return Err(bad(
                "a path without controllers must be the only --cgroup".into()
            ));
        }
        for c in &sub.controllers {
            if seen.contains(&c.as_str()) {
                return Err(bad(format!("controller {c:?} is named more than once")));
            }
            seen.push(c);
        }
    }
    Ok(())
}

/// `rel` + `sub`, which must be an existing directory under `mount`.
fn existing_sub(
    mount: &Path,
    rel: &Path,
    sub: &SubCgroup,
) -> Result<(PathBuf, PathBuf), CgroupError> {
    let joined = rel.join(&sub.path);
    let dir = mount.join(joined.strip_prefix("/").unwrap_or(&joined));
    if !dir.is_dir() {
        return Err(CgroupError::BadSubCgroup {
            arg: sub.arg.clone(),
            reason: format!(
                "{} does not exist (make the sub-cgroup first)",
                dir.display()
            ),
        });
    }
    Ok((mount.to_path_buf(), joined))
}

/// Which cgroup version the test constructor should lay out under its root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

pub struct Cgroup {
    saved: PathBuf,
    backend: Box<dyn Backend>,
    /// With `--systemd-cgroup`: the scope systemd owns at `saved`.
    scope: Option<Box<systemd::Scope>>,
}

impl Cgroup {
    /// Where the container's cgroup lives: `linux.cgroupsPath` if set (absolute: from the
    /// hierarchy root; relative: below the runtime's own cgroup, per hierarchy, as runc's
    /// cgroupfs driver does), else `/nook/<id>`. Detects v1/v2 from `/proc/self/mountinfo`.
    pub fn resolve(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let mountinfo = read_proc("/proc/self/mountinfo")?;
        let layout = detect::parse_mountinfo(&mountinfo).ok_or(CgroupError::NoHierarchy {
            path: "/proc/self/mountinfo".into(),
        })?;
        let own = detect::parse_proc_cgroup(&read_proc("/proc/self/cgroup")?);
        // An unprivileged user cannot move processes between cgroup2 cgroups unless it owns
        // their common ancestor (which systemd's delegation gives on v2 hosts). On a hybrid
        // host the cgroup2 mount holds no controllers, only membership: leave it out for such
        // a user rather than fail the clone into it with EACCES.
        let layout = match layout {
            Layout::V1 { hierarchies, .. } if !nix::unistd::geteuid().is_root() => Layout::V1 {
                hierarchies,
                unified: None,
            },
            other => other,
        };
        Cgroup::from_layout(layout, &own, cgroups_path, id)
    }

    /// No cgroup: see [`rootless`]. Saved as an empty path.
    pub fn none() -> Cgroup {
        Cgroup {
            saved: PathBuf::new(),
            backend: Box::new(none::NoCgroup),
            scope: None,
        }
    }

    /// The cgroup a container's record names (an empty path: it has none).
    pub fn of_record(saved: &Path, id: &str) -> Result<Cgroup, CgroupError> {
        if saved.as_os_str().is_empty() {
            return Ok(Cgroup::none());
        }
        Cgroup::resolve(Some(saved), id)
    }

    /// The cgroup an `exec --cgroup` process joins: `subs` below this one, each in the
    /// hierarchies it names (v1), or in the one v2 tree. Every directory must exist already
    /// (made by whoever manages the container's sub-tree), as runc requires.
    pub fn for_exec(&self, subs: &[SubCgroup]) -> Result<Cgroup, CgroupError> {
        if let Some(s) = subs.first().filter(|_| self.is_none()) {
            return Err(CgroupError::BadSubCgroup {
                arg: s.arg.clone(),
                reason: "the container has no cgroup (rootless without one)".into(),
            });
        }
        check_sub_cgroups(subs)?;
        Ok(Cgroup {
            saved: self.saved.clone(),
            backend: self.backend.sub_cgroups(subs)?,
            scope: None,
        })
    }

    /// Whether the container has no cgroup at all.
    pub fn is_none(&self) -> bool {
        self.saved.as_os_str().is_empty()
    }

    /// A cgroup over a fake tree: for v2, `root` is the cgroup2 mount; for v1, every
    /// subdirectory of `root` is a hierarchy named by its controllers (`cpu,cpuacct`,
    /// `memory`, ...), with `systemd` as `name=systemd` and `unified` as the hybrid mount.
    /// The runtime's own cgroup is taken to be `/` everywhere.
    pub fn with_root(
        root: &Path,
        version: Version,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let layout = match version {
            Version::V2 => Layout::V2 {
                mount: root.to_path_buf(),
            },
            Version::V1 => layout_from_dirs(root)?,
        };
        Cgroup::from_layout(layout, &[], cgroups_path, id)
    }

    /// `own`: the runtime's own cgroups as listed by `/proc/self/cgroup`.
    pub fn from_layout(
        layout: Layout,
        own: &[(String, PathBuf)],
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let requested = requested_path(cgroups_path, id)?;
        let own_of = |key: &str, mount_root: &Path| -> PathBuf {
            let own = own.iter().find(|(k, _)| k == key).map(|(_, p)| p.as_path());
            own_cgroup(own.unwrap_or(Path::new("/")), mount_root)
        };
        match layout {
            Layout::V2 { mount } => {
                let own = v2_own(&own_of("", Path::new("/")));
                let rel = join_checked(&own, &requested)?;
                Ok(Cgroup {
                    saved: rel.clone(),
                    backend: Box::new(v2::V2::new(mount, rel)),
                    scope: None,
                })
            }
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                let mut dirs = Vec::new();
                for h in hierarchies {
                    let rel = join_checked(&own_of(&h.key(), &h.mount_root), &requested)?;
                    dirs.push((h, rel));
                }
                let unified = match unified {
                    Some(mount) => {
                        let own = own_of("", Path::new("/"));
                        Some((mount, join_checked(&own, &requested)?))
                    }
                    None => None,
                };
                // One saved path must lead back to the same directories later, from a
                // process that may sit elsewhere: absolute when all hierarchies agree.
                let first = dirs.first().map(|(_, r)| r.clone());
                let saved = match first {
                    Some(f) if dirs.iter().all(|(_, r)| *r == f) => f,
                    _ => requested.clone(),
                };
                Ok(Cgroup {
                    saved,
                    backend: Box::new(v1::V1::new(dirs, unified)),
                    scope: None,
                })
            }
        }
    }

    /// `--systemd-cgroup` at create: `linux.cgroupsPath` read as runc's `slice:prefix:name`,
    /// the cgroup at the path systemd will give that scope, and a D-Bus connection to
    /// systemd (made now: without one the create fails before anything exists).
    pub fn resolve_systemd(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup, CgroupError> {
        let name = systemd::parse_cgroups_path(cgroups_path, id)?;
        let mut cgroup = Cgroup::resolve(Some(&name.path), id)?;
        cgroup.scope = Some(Box::new(systemd::Scope::connect(name)?));
        Ok(cgroup)
    }

    /// A container created with `--systemd-cgroup`: `unit` as the state record keeps it.
    pub fn with_unit(mut self, unit: Option<&str>) -> Cgroup {
        if let Some(unit) = unit {
            self.scope = Some(Box::new(systemd::Scope::named(unit, &self.saved)));
        }
        self
    }

    /// The systemd unit, when systemd owns this cgroup.
    pub fn unit(&self) -> Option<&str> {
        self.scope.as_ref().map(|s| s.name.unit.as_str())
    }

    fn version(&self) -> Version {
        if self.backend.v1_views().is_some() {
            Version::V1
        } else {
            Version::V2
        }
    }

    /// The path to save in state.json and to give back to `resolve` later.
    pub fn path(&self) -> &Path {
        &self.saved
    }

    /// mkdir -p in every hierarchy (v1 cpuset: cpus/mems copied down so it can hold tasks;
    /// v2: controllers enabled in each ancestor's `cgroup.subtree_control`).
    pub fn create(&self) -> Result<(), CgroupError> {
        self.backend.create_clone_target()?;
        self.backend.create_rest()
    }

    /// The first half of [`Cgroup::create`], for a `create` that forks the init before the
    /// rest of the cgroup exists: the directory clone3 places the init in, and its fd
    /// ([`Cgroup::clone_into_fd`]).
    /// With systemd nothing: the scope can only be made around a running process, so the
    /// init is forked where the runtime is and then moved by [`Cgroup::place_init`].
    pub fn create_clone_target(&self) -> Result<Option<OwnedFd>, CgroupError> {
        if self.scope.is_some() {
            return Ok(None);
        }
        self.backend.create_clone_target()?;
        self.backend.clone_into_fd()
    }

    /// The second half of [`Cgroup::create`]: the v1 hierarchies, which the init joins
    /// itself through [`Cgroup::self_join_files`] once they exist (nothing on v2).
    pub fn create_rest(&self) -> Result<(), CgroupError> {
        self.backend.create_rest()
    }

    /// With systemd: ask for the scope with the init in it and the limits systemd knows,
    /// then enable the controllers below it as for any cgroup. Nothing otherwise.
    pub fn place_init(
        &self,
        pid: Pid,
        resources: Option<&LinuxResources>,
    ) -> Result<(), CgroupError> {
        let Some(scope) = &self.scope else {
            return Ok(());
        };
        scope.start(pid, self.version(), resources)?;
        self.backend.create_clone_target()
    }

    /// `update`: the unit's properties first when systemd owns the cgroup (or its next
    /// reload would undo the files), then the files.
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        if let Some(scope) = &self.scope {
            let version = self.version();
            check_resources(version, resources)?;
            scope.set_properties(version, resources)?;
        }
        self.backend.apply(resources)
    }

    /// Apply `linux.resources`. Unsupported fields are refused before anything is written.
    pub fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        self.backend.apply(resources)
    }

    /// An `O_PATH|O_DIRECTORY|O_CLOEXEC` fd of the cgroup2 leaf (the unified hierarchy of a
    /// hybrid host too), for `clone3(CLONE_INTO_CGROUP)`. `None` on a pure v1 host.
    pub fn clone_into_fd(&self) -> Result<Option<OwnedFd>, CgroupError> {
        self.backend.clone_into_fd()
    }

    /// Files a new single-threaded child writes "0" to, to move itself into the v1
    /// hierarchies: [`join_self`]. Empty on v2, where [`Cgroup::clone_into_fd`] covers it.
    ///
    /// Why not the parent writing the pid to `cgroup.procs`: moving a whole thread group takes
    /// the kernel's global threadgroup lock for writing, which waits for an RCU grace period,
    /// 3-15 ms on this kind of host. Moving only the calling thread (pid 0 in `tasks`) skips
    /// that lock, and a child that has not started threads is its whole thread group.
    pub fn self_join_files(&self) -> Result<Vec<OwnedFd>, CgroupError> {
        self.backend.self_join_files()
    }

    pub fn add_process(&self, pid: Pid) -> Result<(), CgroupError> {
        self.backend.add_process(pid)
    }

    /// What a process in this cgroup sees of each v1 hierarchy, as the container's cgroup
    /// mount shows it. Known here without the init reading /proc/self/mountinfo again. None on
    /// a unified host.
    pub fn v1_views(&self) -> Option<Vec<V1View>> {
        self.backend.v1_views()
    }

    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        self.backend.pids()
    }

    /// v2 SIGKILL: `cgroup.kill`. Otherwise freeze (so nothing forks past the snapshot),
    /// signal each pid, thaw. A container that was already paused stays paused, unless the
    /// signal is SIGKILL, which a v1-frozen task can only act on once thawed.
    pub fn signal_all(&self, sig: Signal) -> Result<(), CgroupError> {
        // Nothing to signal, and no freezer files to read.
        if !self.backend.exists() {
            return Ok(());
        }
        if sig == Signal::SIGKILL && self.backend.kill_natively()? {
            return Ok(());
        }
        let freezer = self.backend.can_freeze();
        let was_frozen = freezer && self.backend.is_frozen()?;
        if freezer && !was_frozen {
            self.backend.freeze()?;
        }
        let sent = self.signal_each(sig);
        if freezer && (!was_frozen || sig == Signal::SIGKILL) {
            self.backend.thaw()?;
        }
        sent
    }

    fn signal_each(&self, sig: Signal) -> Result<(), CgroupError> {
        for pid in self.backend.pids()? {
            match kill(pid, sig) {
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(source) => {
                    return Err(CgroupError::Signal {
                        signal: sig,
                        pid,
                        path: self.backend.display_path(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// v1: `freezer.state` FROZEN, waiting until the kernel reports FROZEN.
    /// v2: `cgroup.freeze` 1, waiting for `frozen 1` in `cgroup.events`.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.backend.freeze()
    }

    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.backend.thaw()
    }

    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        self.backend.is_frozen()
    }

    /// Kill anything left, wait (up to [`DESTROY_TIMEOUT`]) until empty, rmdir the leaf in
    /// every hierarchy and the default parent if now empty. An absent cgroup is fine.
    /// Usage numbers in runc's `events --stats` shape.
    pub fn stats(&self) -> Result<stats::Stats, CgroupError> {
        self.backend.stats()
    }

    /// Processes the kernel has OOM-killed in the cgroup so far.
    pub fn oom_kills(&self) -> u64 {
        self.backend.oom_kills()
    }

    pub fn destroy(&self) -> Result<(), CgroupError> {
        if self.backend.exists() {
            self.kill_until_empty()?;
        }
        if let Some(scope) = &self.scope {
            scope.stop()?;
        }
        self.backend.remove()
    }

    /// Undo a create that failed: [`Cgroup::destroy`] when every directory is this create's
    /// own. A cgroupsPath naming an existing cgroup is left as found (still frozen, say), with
    /// whatever else runs in it: only the directories this create made go (the init itself is
    /// killed by its launcher).
    pub fn undo_create(&self) -> Result<(), CgroupError> {
        if self.backend.found_existing() && self.scope.is_none() {
            return self.backend.remove_created();
        }
        self.destroy()
    }

    /// No freezing here: a process that forks between snapshots is caught by the next
    /// round, and a stuck freeze must not prevent cleanup.
    fn kill_until_empty(&self) -> Result<(), CgroupError> {
        // A v1-frozen task cannot act on SIGKILL until thawed.
        if !self.backend.kill_natively()?
            && self.backend.can_freeze()
            && self.backend.is_frozen()?
        {
            self.backend.thaw()?;
        }
        let emptied = files::wait_until(DESTROY_TIMEOUT, || {
            let pids = self.backend.pids()?;
            if pids.is_empty() {
                return Ok(true);
            }
            self.signal_each(Signal::SIGKILL)?;
            Ok(false)
        })?;
        if !emptied {
            return Err(CgroupError::NotEmpty {
                path: self.backend.display_path(),
                timeout: DESTROY_TIMEOUT,
            });
        }
        Ok(())
    }
}

fn read_proc(path: &str) -> Result<String, CgroupError> {
    crate::mountinfo::read_proc_text(path).map_err(|source| CgroupError::Read {
        path: path.into(),
        source,
    })
}

fn layout_from_dirs(root: &Path) -> Result<Layout, CgroupError> {
    let entries = std::fs::read_dir(root).map_err(|source| CgroupError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut hierarchies = Vec::new();
    let mut unified = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mount = entry.path();
        match name.as_str() {
            "unified" => unified = Some(mount),
            "systemd" => hierarchies.push(V1Hierarchy {
                mount,
                mount_root: "/".into(),
                controllers: Vec::new(),
                name: Some(name),
            }),
            _ => {
                let mut controllers: Vec<String> = name.split(',').map(String::from).collect();
                controllers.sort();
                hierarchies.push(V1Hierarchy {
                    mount,
                    mount_root: "/".into(),
                    controllers,
                    name: None,
                });
            }
        }
    }
    hierarchies.sort_by(|a, b| a.mount.cmp(&b.mount));
    if hierarchies.is_empty() {
        return Err(CgroupError::NoHierarchy {
            path: root.to_path_buf(),
        });
    }
    Ok(Layout::V1 {
        hierarchies,
        unified,
    })
}

/// The refusals `apply` makes before its first write, for a given version, without a cgroup:
/// lets the config fuzz target (fuzz/) reach v2 device rule compilation, whose `apply` would
/// load a BPF program.
#[doc(hidden)]
pub fn check_resources(version: Version, resources: &LinuxResources) -> Result<(), CgroupError> {
    match version {
        Version::V1 => v1_resources::check_supported(resources),
        Version::V2 => v2_resources::check_supported(resources),
    }
}

/// The spec's path, or the default. The id must be one path component: it is user input.
fn requested_path(cgroups_path: Option<&Path>, id: &str) -> Result<PathBuf, CgroupError> {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => Ok(p.to_path_buf()),
        _ => {
            if id.is_empty() || id == "." || id == ".." || id.contains('/') {
                return Err(CgroupError::InvalidValue {
                    field: "container id",
                    value: id.to_string(),
                    why: "must be a single path component to name a cgroup",
                });
            }
            Ok(Path::new(DEFAULT_PARENT).join(id))
        }
    }
}

/// The runtime's own cgroup relative to what the mount shows (a mount of a sub-tree, as
/// inside a container, exposes only the part below its root).
fn own_cgroup(own: &Path, mount_root: &Path) -> PathBuf {
    match own.strip_prefix(mount_root) {
        Ok(rest) => Path::new("/").join(rest),
        Err(_) => PathBuf::from("/"),
    }
}

/// systemd keeps its own process in `init.scope` on v2; a cgroup with processes cannot
/// delegate controllers to children, so runc-style relative paths go next to it instead.
fn v2_own(own: &Path) -> PathBuf {
    if own.file_name().is_some_and(|n| n == "init.scope") {
        own.parent().unwrap_or(Path::new("/")).to_path_buf()
    } else {
        own.to_path_buf()
    }
}

/// Lexically resolve `path` (absolute, or relative to `base`) to an absolute cgroup path,
/// refusing any `..` that climbs above the hierarchy root and the root itself: the root
/// cgroup holds the whole host, and `destroy` would kill everything in it.
fn join_checked(base: &Path, path: &Path) -> Result<PathBuf, CgroupError> {
    let bad = |reason| CgroupError::BadPath {
        path: path.to_path_buf(),
        reason,
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    let start = if path.is_absolute() {
        Path::new("/")
    } else {
        base
    };
    for c in start.components().chain(path.components()) {
        match c {
            Component::RootDir | Component::Prefix(_) => parts.clear(),
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(bad("escapes the cgroup hierarchy root"));
                }
            }
            Component::Normal(n) => parts.push(n),
        }
    }
    if parts.is_empty() {
        return Err(bad("is the cgroup hierarchy root"));
    }
    let mut out = PathBuf::from("/");
    out.extend(parts);
    Ok(out)
}

#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod stats_tests;
#[cfg(test)]
mod sub_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod v2_devices_tests;
