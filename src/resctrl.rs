//! `linux.intelRdt`: the container's resctrl group (Intel RDT / AMD PQoS cache and memory
//! bandwidth allocation, and monitoring).
//!
//! Every function takes the resctrl mount as a directory, so tests drive them over a tree they
//! make; [`mount_point`] finds the real one in `/proc/self/mountinfo`. Nothing here is read
//! unless the spec sets `linux.intelRdt` (or `update` names a schema): the common path pays
//! nothing.
//!
//! The group is `<mount>/<closID>`, or `<mount>/<container id>` without a closID. A group
//! nook made is removed on delete; one that was there before (a pre-configured class of
//! service, shared by containers) stays. With `enableMonitoring` the container also gets a
//! monitoring group `<group>/mon_groups/<container id>`, always its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxIntelRdt;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RdtError {
    #[error(
        "linux.intelRdt: this host has no resctrl filesystem mounted (Intel RDT needs CPU \
         support and `mount -t resctrl resctrl /sys/fs/resctrl`)"
    )]
    NoResctrl,
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(
        "linux.intelRdt.closID {clos:?}: no such resctrl group in {mount} (without a schema, \
         closID must name a pre-configured group)"
    )]
    NoSuchGroup { clos: String, mount: PathBuf },
    #[error(
        "linux.intelRdt: group {group} exists with schemata line {current:?}, which differs \
         from the requested {wanted:?}"
    )]
    Mismatch {
        group: PathBuf,
        wanted: String,
        current: String,
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
}

/// The container's resctrl group, as the state record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// `<mount>/<closID or id>`.
    pub dir: PathBuf,
    /// Made by this container's create (so removed on delete); false for a group found there.
    pub created: bool,
    /// `<dir>/mon_groups/<id>` with `enableMonitoring`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<PathBuf>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> RdtError {
    RdtError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// Where resctrl is mounted, from the text of /proc/self/mountinfo.
pub fn mount_point(mountinfo: &str) -> Option<PathBuf> {
    crate::mountinfo::parse_mountinfo(mountinfo)
        .into_iter()
        .find(|m| m.fstype == "resctrl")
        .map(|m| m.mount_point)
}

/// The host's resctrl mount, or [`RdtError::NoResctrl`].
pub fn host_mount() -> Result<PathBuf, RdtError> {
    let path = "/proc/self/mountinfo";
    let text = crate::mountinfo::read_proc_text(path).map_err(|source| RdtError::Read {
        path: path.into(),
        source,
    })?;
    mount_point(&text).ok_or(RdtError::NoResctrl)
}

/// Checks that need no resctrl: names that become directories, schema shapes.
pub fn validate(rdt: &LinuxIntelRdt) -> Result<(), RdtError> {
    if let Some(clos) = rdt.clos_id() {
        let reserved = ["info", "mon_groups", "mon_data"];
        if clos.is_empty()
            || clos == "."
            || clos == ".."
            || clos.contains(['/', '\n', '\0'])
            || reserved.contains(&clos.as_str())
        {
            return Err(invalid(
                "linux.intelRdt.closID",
                format!("{clos:?} must be one resctrl group name (no '/', not info or mon_*)"),
            ));
        }
    }
    if let Some(l3) = rdt.l3_cache_schema() {
        if l3.contains('\n') {
            return Err(invalid("linux.intelRdt.l3CacheSchema", "must be one line"));
        }
        if !l3.is_empty() && parse_line(l3).is_none() {
            return Err(invalid(
                "linux.intelRdt.l3CacheSchema",
                format!("{l3:?} is not RESOURCE:id=value;..."),
            ));
        }
    }
    if let Some(mb) = rdt.mem_bw_schema() {
        if !mb.is_empty() && (!mb.starts_with("MB:") || mb.contains('\n')) {
            return Err(invalid(
                "linux.intelRdt.memBwSchema",
                format!("{mb:?} must be one line starting with MB:"),
            ));
        }
    }
    for line in rdt.schemata().iter().flatten() {
        if line.contains('\n') || parse_line(line).is_none() {
            return Err(invalid(
                "linux.intelRdt.schemata",
                format!("{line:?} is not one RESOURCE:id=value;... line"),
            ));
        }
    }
    Ok(())
}

#[allow(deprecated)] // enableCMT/enableMBM: runtime-spec 1.3 folds both into enableMonitoring
fn wants_monitoring(rdt: &LinuxIntelRdt) -> bool {
    [rdt.enable_monitoring(), rdt.enable_cmt(), rdt.enable_mbm()]
        .iter()
        .any(|f| **f == Some(true))
}

/// The schemata lines to write, in order: l3CacheSchema (less any MB line when memBwSchema is
/// set), memBwSchema, then the `schemata` lines, which the spec says are written last.
pub fn lines_to_write(rdt: &LinuxIntelRdt) -> Vec<String> {
    let mb = rdt.mem_bw_schema().as_deref().filter(|s| !s.is_empty());
    let mut out: Vec<String> = Vec::new();
    if let Some(l3) = rdt.l3_cache_schema().as_deref() {
        out.extend(
            l3.split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .filter(|l| mb.is_none() || !l.starts_with("MB:"))
                .map(String::from),
        );
    }
    out.extend(mb.map(String::from));
    out.extend(
        rdt.schemata()
            .iter()
            .flatten()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty()),
    );
    out
}

/// `L3:0=7f0;1=1f` as ("L3", {0: "7f0", 1: "1f"}); None when it is not of that shape.
fn parse_line(line: &str) -> Option<(String, BTreeMap<String, String>)> {
    let (res, rest) = line.trim().split_once(':')?;
    if res.is_empty() || res.contains(char::is_whitespace) {
        return None;
    }
    let mut domains = BTreeMap::new();
    for part in rest.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, value) = part.split_once('=')?;
        if id.trim().is_empty() || value.trim().is_empty() {
            return None;
        }
        domains.insert(id.trim().to_string(), value.trim().to_string());
    }
    Some((res.to_string(), domains))
}

/// Whether two values of one resource mean the same: cache masks are hex (the kernel pads
/// them), bandwidths decimal.
fn same_value(res: &str, a: &str, b: &str) -> bool {
    let radix = if res == "MB" || res == "SMBA" { 10 } else { 16 };
    match (u64::from_str_radix(a, radix), u64::from_str_radix(b, radix)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The first `wanted` line the current schemata does not hold, with the current line.
fn first_mismatch(current: &str, wanted: &[String]) -> Option<(String, String)> {
    let current: Vec<(String, BTreeMap<String, String>)> =
        current.lines().filter_map(parse_line).collect();
    for line in wanted {
        let Some((res, domains)) = parse_line(line) else {
            return Some((line.clone(), String::new()));
        };
        let Some((_, have)) = current.iter().find(|(r, _)| *r == res) else {
            return Some((line.clone(), String::new()));
        };
        let same = domains
            .iter()
            .all(|(id, v)| have.get(id).is_some_and(|h| same_value(&res, v, h)));
        if !same {
            let shown: Vec<String> = have.iter().map(|(i, v)| format!("{i}={v}")).collect();
            return Some((line.clone(), format!("{res}:{}", shown.join(";"))));
        }
    }
    None
}

fn read(path: &Path) -> Result<String, RdtError> {
    std::fs::read_to_string(path).map_err(|source| RdtError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// One write(2) of the whole value, as resctrl parses it; never creates the file.
fn write(path: &Path, value: &str) -> Result<(), RdtError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()))
        .map_err(|source| RdtError::Write {
            value: value.to_string(),
            path: path.to_path_buf(),
            source,
        })
}

fn mkdir(path: &Path) -> Result<(), RdtError> {
    std::fs::create_dir(path).map_err(|source| RdtError::Mkdir {
        path: path.to_path_buf(),
        source,
    })
}

/// Make (or find) the container's group under `mount` and write its schemata; the
/// monitoring group too. Nothing is written to `tasks` yet: see [`Group::join`].
/// On failure whatever this call made is removed again.
pub fn setup(mount: &Path, rdt: &LinuxIntelRdt, id: &str) -> Result<Group, RdtError> {
    validate(rdt)?;
    let name = rdt.clos_id().as_deref().unwrap_or(id);
    let dir = mount.join(name);
    let lines = lines_to_write(rdt);
    let exists = dir.is_dir();
    if exists && !lines.is_empty() {
        // A group someone else configured is not rewritten under them: it must already say
        // what this container asks for.
        let current = read(&dir.join("schemata"))?;
        if let Some((wanted, current)) = first_mismatch(&current, &lines) {
            return Err(RdtError::Mismatch {
                group: dir,
                wanted,
                current,
            });
        }
    }
    if !exists && rdt.clos_id().is_some() && lines.is_empty() {
        return Err(RdtError::NoSuchGroup {
            clos: name.to_string(),
            mount: mount.to_path_buf(),
        });
    }
    let mut group = Group {
        dir,
        created: !exists,
        monitor: None,
    };
    if group.created {
        mkdir(&group.dir)?;
        if !lines.is_empty() {
            if let Err(e) = write(&group.dir.join("schemata"), &(lines.join("\n") + "\n")) {
                let _ = group.remove();
                return Err(e);
            }
        }
    }
    if wants_monitoring(rdt) {
        let mon = group.dir.join("mon_groups").join(id);
        if let Err(e) = mkdir(&mon) {
            let _ = group.remove();
            return Err(e);
        }
        group.monitor = Some(mon);
    }
    Ok(group)
}

impl Group {
    /// Put `pid` (the init, or an exec'd process) in the group, and in its monitoring group.
    /// The control group first: the kernel moves a task into a monitoring group only from its
    /// parent control group.
    pub fn join(&self, pid: i32) -> Result<(), RdtError> {
        write(&self.dir.join("tasks"), &pid.to_string())?;
        if let Some(mon) = &self.monitor {
            write(&mon.join("tasks"), &pid.to_string())?;
        }
        Ok(())
    }

    /// rmdir the monitoring group, and the group itself when this container made it and no
    /// task is left in it: a `closID` group this container made may since hold another
    /// container that named the same class (resctrl would move those tasks out with the
    /// rmdir). Already gone is fine. Called once the container's own processes are dead.
    pub fn remove(&self) -> Result<(), RdtError> {
        let rmdir = |path: &Path| match std::fs::remove_dir(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(RdtError::Rmdir {
                path: path.to_path_buf(),
                source: e,
            }),
            _ => Ok(()),
        };
        if let Some(mon) = &self.monitor {
            rmdir(mon)?;
        }
        if self.created && !self.in_use()? {
            rmdir(&self.dir)?;
        }
        Ok(())
    }

    fn in_use(&self) -> Result<bool, RdtError> {
        match std::fs::read_to_string(self.dir.join("tasks")) {
            Ok(tasks) => Ok(tasks.lines().any(|l| !l.trim().is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(RdtError::Read {
                path: self.dir.join("tasks"),
                source,
            }),
        }
    }

    /// `update --l3-cache-schema` / `--mem-bw-schema`: the new lines, one write.
    pub fn update(&self, l3: Option<&str>, mb: Option<&str>) -> Result<(), RdtError> {
        let mut rdt = LinuxIntelRdt::default();
        rdt.set_l3_cache_schema(l3.map(String::from));
        rdt.set_mem_bw_schema(mb.map(String::from));
        validate(&rdt)?;
        let lines = lines_to_write(&rdt);
        if lines.is_empty() {
            return Ok(());
        }
        write(&self.dir.join("schemata"), &(lines.join("\n") + "\n"))
    }
}

#[cfg(test)]
mod tests;
