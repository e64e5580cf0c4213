//! What nook remembers about a container between commands, under `<root>/<id>/`.
//!
//! Layout: `state.json` (written whole: temp file, fsync, rename), `start.sock` (exists while the
//! init waits for `start`). Commands on one id serialise on an flock of the directory itself.
//! The init's start time is stored with its pid, so a recycled pid never passes for the container.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::id;

pub const OCI_VERSION: &str = "1.3.0";
const STATE_FILE: &str = "state.json";
pub const START_SOCKET: &str = "start.sock";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Id(#[from] id::IdError),
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id {0} already exists")]
    Exists(String),
    #[error("create state directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parse {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("remove {path}: {source}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The lifecycle as the OCI state document names it (runc adds `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }

    /// Whether `start` may run in this status.
    pub fn can_start(self) -> bool {
        self == Status::Created
    }

    /// Whether signals can reach a process of the container.
    pub fn can_signal(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }

    /// Whether `delete` without --force may remove the container.
    pub fn can_delete(self) -> bool {
        matches!(self, Status::Created | Status::Stopped | Status::Creating)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What state.json holds.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    /// Host pid of the init; 0 until the init exists.
    pub pid: i32,
    /// The init's start time in clock ticks since boot (/proc/<pid>/stat field 22).
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroup path as `cgroups::Cgroup::path` gave it.
    pub cgroup_path: PathBuf,
    /// With `--systemd-cgroup`: the scope systemd owns at `cgroup_path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
    /// Hooks for later commands (poststart, poststop): the bundle may change after create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The container's seccomp profile, applied to every `exec`'d process as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// `linux.memoryPolicy`, set in every `exec`'d process as in the init.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<oci_spec::runtime::LinuxMemoryPolicy>,
    /// The container's resctrl group (`linux.intelRdt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<crate::resctrl::Group>,
}

/// The per-container directory, locked for the lifetime of this value.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    /// None for a read-only look (`state`, `list`), which must not wait behind a create.
    lock: Option<Flock<File>>,
}

impl ContainerDir {
    /// Create `<root>/<id>` for a new container; fails if the id is taken.
    pub fn create(root: &Path, id: &str) -> Result<Self, StateError> {
        id::validate(id)?;
        let mkdir = |p: &Path| fs::DirBuilder::new().mode(0o700).create(p);
        if let Err(source) = mkdir(root) {
            if source.kind() != std::io::ErrorKind::AlreadyExists {
                fs::DirBuilder::new()
                    .mode(0o700)
                    .recursive(true)
                    .create(root)
                    .map_err(|source| StateError::CreateDir {
                        path: root.to_path_buf(),
                        source,
                    })?;
            }
        }
        let path = root.join(id);
        match mkdir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StateError::Exists(id.to_string()))
            }
            Err(source) => return Err(StateError::CreateDir { path, source }),
        }
        Self::lock(id, path, FlockArg::LockExclusive)
    }

    /// Open and lock an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<Self, StateError> {
        id::validate(id)?;
        let path = root.join(id);
        Self::lock(id, path, FlockArg::LockExclusive)
    }

    /// Look without locking: state.json is replaced atomically, so a read is always whole.
    pub fn peek(root: &Path, id: &str) -> Result<Self, StateError> {
        id::validate(id)?;
        let path = root.join(id);
        if !path.is_dir() {
            return Err(StateError::NotExist(id.to_string()));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: None,
        })
    }

    /// Whether another command holds the lock right now (a create in progress).
    pub fn busy(&self) -> bool {
        if self.lock.is_some() {
            return false;
        }
        matches!(
            Self::lock(&self.id, self.path.clone(), FlockArg::LockSharedNonblock),
            Err(StateError::Lock {
                source: nix::Error::EWOULDBLOCK,
                ..
            })
        )
    }

    fn lock(id: &str, path: PathBuf, how: FlockArg) -> Result<Self, StateError> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc_o_directory())
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::NotExist(id.to_string()))
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        let lock = Flock::lock(file, how).map_err(|(_, source)| StateError::Lock {
            path: path.clone(),
            source,
        })?;
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            lock: Some(lock),
        })
    }

    pub fn start_socket(&self) -> PathBuf {
        self.path.join(START_SOCKET)
    }

    /// start.sock as an address for bind/connect. A unix socket address holds at most 107
    /// bytes, and roots like docker's (`.../runtime-runc/moby/<64 hex>`) are longer: those go
    /// through `/proc/self/fd/<dir fd>/start.sock`, which needs the lock's fd.
    pub fn start_socket_addr(&self) -> PathBuf {
        let full = self.start_socket();
        match &self.lock {
            Some(lock) if full.as_os_str().len() >= 100 => {
                PathBuf::from(format!("/proc/self/fd/{}/{START_SOCKET}", lock.as_raw_fd()))
            }
            _ => full,
        }
    }

    pub fn load(&self) -> Result<Record, StateError> {
        let path = self.path.join(STATE_FILE);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A create that died before its first write: nothing but the directory.
                return Ok(Record {
                    id: self.id.clone(),
                    ..Default::default()
                });
            }
            Err(source) => return Err(StateError::Read { path, source }),
        };
        serde_json::from_slice(&bytes).map_err(|source| StateError::Parse { path, source })
    }

    /// Replace state.json atomically: a reader sees the old or the new record, never half.
    pub fn save(&self, record: &Record) -> Result<(), StateError> {
        let path = self.path.join(STATE_FILE);
        let tmp = self.path.join(".state.json.tmp");
        let werr = |source| StateError::Write {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(werr)?;
        let bytes = serde_json::to_vec(record).expect("state serialises");
        file.write_all(&bytes).map_err(werr)?;
        file.sync_all().map_err(werr)?;
        fs::rename(&tmp, &path).map_err(werr)?;
        Ok(())
    }

    /// Remove the directory and everything in it; the lock goes with it.
    pub fn remove(self) -> Result<(), StateError> {
        fs::remove_dir_all(&self.path).map_err(|source| StateError::Remove {
            path: self.path.clone(),
            source,
        })
    }
}

fn libc_o_directory() -> i32 {
    nix::fcntl::OFlag::O_DIRECTORY.bits()
}

/// Whether `pid` is still the process started at `start` (and not a zombie).
pub fn process_alive(pid: i32, start: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match procfs::process::Process::new(pid).and_then(|p| p.stat()) {
        Ok(stat) => stat.starttime == start && stat.state != 'Z' && stat.state != 'X',
        Err(_) => false,
    }
}

/// The start time of a live process, to be recorded next to its pid.
/// The processes in `init`'s pid namespace (found through /proc), for a container without a
/// cgroup to list them: `init` alone when that namespace is the caller's own (the container
/// shares the host's), nothing when `init` is gone.
pub fn pid_namespace_members(init: Pid) -> Vec<Pid> {
    let ns_of = |pid: &str| fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(ns) = ns_of(&init.to_string()) else {
        return Vec::new();
    };
    if ns_of("self").as_ref() == Some(&ns) {
        return vec![init];
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return vec![init];
    };
    let mut pids: Vec<Pid> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| ns_of(&pid.to_string()).as_ref() == Some(&ns))
        .map(Pid::from_raw)
        .collect();
    pids.sort();
    pids
}

pub fn start_time(pid: Pid) -> Result<u64, procfs::ProcError> {
    Ok(procfs::process::Process::new(pid.as_raw())?
        .stat()?
        .starttime)
}

/// Every container id under the root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>, StateError> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Read {
                path: root.to_path_buf(),
                source,
            })
        }
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|id| id::validate(id).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// The OCI state document as `nook state` prints it, in runc's field order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
    pub owner: &'a str,
}

impl Record {
    /// The state document as hooks receive it on stdin.
    pub fn state_json(&self, status: Status) -> String {
        serde_json::to_string(&self.oci_state(status)).expect("state serialises")
    }

    pub fn oci_state(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            status,
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: &self.created,
            annotations: &self.annotations,
            owner: &self.owner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_open_roundtrip() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let dir = ContainerDir::create(&root, "c1").unwrap();
        let rec = Record {
            id: "c1".into(),
            pid: 42,
            pid_start: 7,
            bundle: "/b".into(),
            ..Default::default()
        };
        dir.save(&rec).unwrap();
        drop(dir);
        let dir = ContainerDir::open(&root, "c1").unwrap();
        let back = dir.load().unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(back.pid_start, 7);
        assert!(!dir.path.join(".state.json.tmp").exists());
        assert_eq!(list_ids(&root).unwrap(), vec!["c1".to_string()]);
        dir.remove().unwrap();
        assert!(matches!(
            ContainerDir::open(&root, "c1"),
            Err(StateError::NotExist(_))
        ));
    }

    #[test]
    fn duplicate_and_bad_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let _a = ContainerDir::create(tmp.path(), "dup").unwrap();
        assert!(matches!(
            ContainerDir::create(tmp.path(), "dup"),
            Err(StateError::Exists(_))
        ));
        assert!(matches!(
            ContainerDir::create(tmp.path(), "../x"),
            Err(StateError::Id(_))
        ));
        assert!(!tmp.path().join("x").exists());
    }

    #[test]
    fn exclusive_lock_blocks_shared_probe() {
        let tmp = tempfile::tempdir().unwrap();
        let held = ContainerDir::create(tmp.path(), "busy").unwrap();
        let look = ContainerDir::peek(tmp.path(), "busy").unwrap();
        assert!(look.busy());
        drop(held);
        assert!(!look.busy());
    }

    #[test]
    fn status_transitions() {
        assert!(Status::Created.can_start());
        assert!(!Status::Running.can_start());
        assert!(!Status::Stopped.can_signal());
        assert!(Status::Paused.can_signal());
        assert!(!Status::Running.can_delete());
        assert!(Status::Stopped.can_delete());
    }

    #[test]
    fn dead_pid_is_not_alive() {
        assert!(!process_alive(0, 0));
        let me = std::process::id() as i32;
        let start = start_time(Pid::from_raw(me)).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
