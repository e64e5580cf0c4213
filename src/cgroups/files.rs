//! The few file operations every backend and controller needs, each failure naming its path.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::CgroupError;

/// Write one value the way the kernel expects it: a single write(2) of the whole value.
/// `create(false)`: a missing control file means the controller is absent, which must surface
/// as an error naming the file, not as a stray regular file.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    let result = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    result.map_err(|source| CgroupError::Write {
        value: value.to_string(),
        path,
        source,
    })
}

/// Several values for one control file that takes one per write(2) (v1 `devices.allow`):
/// opened once, on the first value.
pub(crate) struct Writer {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Writer {
    pub(crate) fn new(dir: &Path, file: &str) -> Writer {
        Writer {
            path: dir.join(file),
            file: None,
        }
    }

    pub(crate) fn write(&mut self, value: &str) -> Result<(), CgroupError> {
        let result = match &mut self.file {
            Some(f) => f.write_all(value.as_bytes()),
            None => OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)
                .and_then(|mut f| {
                    f.write_all(value.as_bytes())?;
                    self.file = Some(f);
                    Ok(())
                }),
        };
        result.map_err(|source| CgroupError::Write {
            value: value.to_string(),
            path: self.path.clone(),
            source,
        })
    }
}

/// Refuse `field` naming `file` when the kernel does not offer it (a feature compiled out, or
/// newer than this kernel), before anything is written.
pub(crate) fn require(
    dir: &Path,
    file: &str,
    field: &'static str,
    why: &'static str,
) -> Result<(), CgroupError> {
    if dir.join(file).exists() {
        return Ok(());
    }
    Err(CgroupError::KernelLacks {
        field,
        file: dir.join(file),
        why,
    })
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
}

pub(crate) fn read_trimmed(dir: &Path, file: &str) -> Result<String, CgroupError> {
    Ok(read(dir, file)?.trim().to_string())
}

/// Sub-cgroups of `dir` (an `exec --cgroup` target, or what a delegated container made).
fn children(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// `cgroup.procs` of `dir` and of every cgroup below it: one pid a line.
pub(crate) fn read_pids(dir: &Path) -> Result<Vec<Pid>, CgroupError> {
    let text = read(dir, "cgroup.procs")?;
    let mut pids = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<i32>()
                .map(Pid::from_raw)
                .map_err(|_| CgroupError::Parse {
                    path: dir.join("cgroup.procs"),
                    content: l.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in children(dir) {
        match read_pids(&child) {
            Ok(more) => pids.extend(more),
            // Removed between the listing and the read.
            Err(CgroupError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pids)
}

/// mkdir -p, returning the directories this call created (outermost first), so callers can
/// initialise exactly those (cpuset) and nothing that already existed.
pub(crate) fn mkdir_all(root: &Path, rel: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    // The common case: the parents exist (the shared /nook stays), one mkdir does it.
    let full = root.join(rel);
    match std::fs::create_dir(&full) {
        Ok(()) => return Ok(vec![full]),
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(Vec::new()),
        Err(source) => return Err(CgroupError::Mkdir { path: full, source }),
    }
    let mut created = Vec::new();
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        dir.push(part);
        match std::fs::create_dir(&dir) {
            Ok(()) => created.push(dir.clone()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => return Err(CgroupError::Mkdir { path: dir, source }),
        }
    }
    Ok(created)
}

/// rmdir of a cgroup and every cgroup below it, that treats "already gone" as success and retries EBUSY briefly: the kernel can
/// report a cgroup busy for a moment after its last task exited.
pub(crate) fn rmdir(path: &Path) -> Result<(), CgroupError> {
    let mut attempt = 0;
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(Errno::EBUSY as i32) && attempt < 20 => {
                // A cgroup with sub-cgroups is busy until they go: looked for only then, so
                // the common case stays one rmdir.
                let subs = children(path);
                for child in &subs {
                    rmdir(child)?;
                }
                if subs.is_empty() {
                    attempt += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Poll `done` until it is true or `timeout` passes. Polling (not inotify/poll on
/// cgroup.events) keeps this identical for v1 and v2 and needs no extra fd handling.
pub(crate) fn wait_until(
    timeout: Duration,
    mut done: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<bool, CgroupError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if done()? {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}
