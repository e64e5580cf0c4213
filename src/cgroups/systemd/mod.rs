//! `--systemd-cgroup`: the container's cgroup is a transient scope that systemd creates and
//! owns. This module names the scope from `linux.cgroupsPath` (runc's `slice:prefix:name`),
//! maps `linux.resources` to the unit properties runc sets, and makes the D-Bus calls; the
//! cgroup files themselves are then read and written by the v1/v2 backends as for any
//! cgroup, at the path systemd gave the scope.
//!
//! Nothing here runs unless `--systemd-cgroup` was given at create (the unit name is then
//! kept in the state record for `update` and `delete`).

pub mod dbus;
mod properties;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub use dbus::Value;
pub use properties::{device_properties, resource_properties};

use super::{CgroupError, Version};

/// The system bus (runc's first choice too), then systemd's own socket, which root may use
/// without a bus daemon.
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
const SYSTEMD_PRIVATE: &str = "/run/systemd/private";

#[derive(Debug, thiserror::Error)]
pub enum SystemdError {
    #[error(
        "no D-Bus connection to systemd: {bus} and {private} both failed (is systemd running?)"
    )]
    NoBus {
        bus: PathBuf,
        private: PathBuf,
        #[source]
        source: dbus::DbusError,
    },
    #[error("systemd unit {unit}")]
    Unit {
        unit: String,
        #[source]
        source: dbus::DbusError,
    },
    #[error("systemd unit {unit}: {verb} job finished with {result:?}")]
    Job {
        unit: String,
        verb: &'static str,
        result: String,
    },
}

/// Where runc's `slice:prefix:name` puts a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeName {
    /// The parent slice unit, `system.slice` when not given.
    pub slice: String,
    /// `<prefix>-<name>.scope`.
    pub unit: String,
    /// The scope's cgroup path from the hierarchy root: the slice expanded, then the unit.
    pub path: PathBuf,
}

/// Parse `linux.cgroupsPath` as runc does with `--systemd-cgroup`: empty means
/// `system.slice:runc:<id>`; otherwise exactly three `:`-separated parts.
pub fn parse_cgroups_path(cgroups_path: Option<&Path>, id: &str) -> Result<ScopeName, CgroupError> {
    let raw = cgroups_path
        .map(|p| p.to_string_lossy())
        .unwrap_or_default();
    let bad = |reason| CgroupError::BadPath {
        path: PathBuf::from(raw.as_ref()),
        reason,
    };
    let (slice, prefix, name) = if raw.is_empty() {
        ("", "runc", id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        match parts[..] {
            [s, p, n] => (s, p, n),
            _ => return Err(bad("must be slice:prefix:name with --systemd-cgroup")),
        }
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if name.is_empty() {
        return Err(bad("the name part of slice:prefix:name is empty"));
    }
    if name.ends_with(".slice") {
        return Err(bad(
            "a slice as the container's own unit is not supported by nook",
        ));
    }
    if !unit_chars_ok(prefix) || !unit_chars_ok(name) {
        return Err(bad(
            "prefix and name may only hold ASCII letters, digits and \"_.-@\\\"",
        ));
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if unit.len() > 255 {
        return Err(bad(
            "the scope's unit name is longer than systemd's 255 bytes",
        ));
    }
    let parent = expand_slice(slice).ok_or_else(|| {
        bad("the slice must be a systemd slice name like a-b.slice (no '/', no empty part between dashes)")
    })?;
    Ok(ScopeName {
        slice: slice.to_string(),
        path: parent.join(&unit),
        unit,
    })
}

fn unit_chars_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_.-@\\".contains(&b))
}

/// systemd nests slices by their dashes: `a-b-c.slice` is `/a.slice/a-b.slice/a-b-c.slice`;
/// `-.slice` is the root.
pub fn expand_slice(slice: &str) -> Option<PathBuf> {
    let stem = slice.strip_suffix(".slice")?;
    if slice.contains('/') || !unit_chars_ok(stem) {
        return None;
    }
    let mut path = PathBuf::from("/");
    if stem == "-" {
        return Some(path);
    }
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return None;
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Some(path)
}

/// The container's scope: its unit name, and the D-Bus connection, made on first use.
pub struct Scope {
    pub name: ScopeName,
    bus: OnceCell<dbus::Bus>,
}

impl Scope {
    /// For `create`: connects now, so that no bus fails the create before anything exists.
    pub fn connect(name: ScopeName) -> Result<Scope, CgroupError> {
        let scope = Scope {
            name,
            bus: OnceCell::new(),
        };
        scope.bus()?;
        Ok(scope)
    }

    /// For later verbs: the unit named in the state record; no connection until needed.
    pub fn named(unit: &str, path: &Path) -> Scope {
        Scope {
            name: ScopeName {
                slice: String::new(),
                unit: unit.to_string(),
                path: path.to_path_buf(),
            },
            bus: OnceCell::new(),
        }
    }

    fn bus(&self) -> Result<&dbus::Bus, CgroupError> {
        if let Some(bus) = self.bus.get() {
            return Ok(bus);
        }
        let bus = connect()?;
        Ok(self.bus.get_or_init(|| bus))
    }

    fn unit_err(&self, source: dbus::DbusError) -> CgroupError {
        CgroupError::Systemd(SystemdError::Unit {
            unit: self.name.unit.clone(),
            source,
        })
    }

    /// StartTransientUnit with the init in it, the limits systemd knows as properties, and
    /// wait for the job. A scope left over from a failed run is reset and tried once more.
    pub fn start(
        &self,
        pid: Pid,
        version: Version,
        resources: Option<&LinuxResources>,
    ) -> Result<(), CgroupError> {
        let mut props: Vec<(&str, Value)> = vec![
            (
                "Description",
                Value::Str(format!("nook container {}", self.name.unit)),
            ),
            ("Slice", Value::Str(self.name.slice.clone())),
            ("PIDs", Value::U32s(vec![pid.as_raw() as u32])),
            ("Delegate", Value::Bool(true)),
            ("MemoryAccounting", Value::Bool(true)),
            ("CPUAccounting", Value::Bool(true)),
            ("TasksAccounting", Value::Bool(true)),
            ("DefaultDependencies", Value::Bool(false)),
        ];
        props.push(match version {
            Version::V2 => ("IOAccounting", Value::Bool(true)),
            Version::V1 => ("BlockIOAccounting", Value::Bool(true)),
        });
        if let Some(r) = resources {
            props.extend(resource_properties(version, r)?);
            props.extend(device_properties(r, &properties::proc_devices));
        }
        let mut w = dbus::Writer::default();
        w.str(&self.name.unit);
        w.str("replace");
        w.properties(&props);
        w.array(8, |_| {});
        let bus = self.bus()?;
        let call = || bus.call("StartTransientUnit", "ssa(sv)a(sa(sv))", &w.buf);
        let reply = match call() {
            Err(dbus::DbusError::Call { name, .. })
                if name == "org.freedesktop.systemd1.UnitExists" =>
            {
                self.reset_failed();
                call()
            }
            other => other,
        }
        .map_err(|e| self.unit_err(e))?;
        self.wait(bus, &reply.body, "start")
    }

    fn wait(&self, bus: &dbus::Bus, reply: &[u8], verb: &'static str) -> Result<(), CgroupError> {
        let job = dbus::Reader::new(reply).str().unwrap_or_default();
        let result = bus.wait_job(&job).map_err(|e| self.unit_err(e))?;
        if result != "done" {
            self.reset_failed();
            return Err(CgroupError::Systemd(SystemdError::Job {
                unit: self.name.unit.clone(),
                verb,
                result,
            }));
        }
        Ok(())
    }

    /// StopUnit and wait; a unit systemd no longer knows is already stopped.
    pub fn stop(&self) -> Result<(), CgroupError> {
        let mut w = dbus::Writer::default();
        w.str(&self.name.unit);
        w.str("replace");
        let bus = self.bus()?;
        match bus.call("StopUnit", "ss", &w.buf) {
            Ok(reply) => self.wait(bus, &reply.body, "stop")?,
            Err(dbus::DbusError::Call { name, .. })
                if name == "org.freedesktop.systemd1.NoSuchUnit" => {}
            Err(e) => return Err(self.unit_err(e)),
        }
        self.reset_failed();
        Ok(())
    }

    /// Let systemd forget a failed unit of this name (best effort, as runc).
    fn reset_failed(&self) {
        let mut w = dbus::Writer::default();
        w.str(&self.name.unit);
        if let Ok(bus) = self.bus() {
            let _ = bus.call("ResetFailedUnit", "s", &w.buf);
        }
    }

    /// `update`: the new limits as unit properties (runtime only), before the files.
    pub fn set_properties(
        &self,
        version: Version,
        resources: &LinuxResources,
    ) -> Result<(), CgroupError> {
        let mut props = resource_properties(version, resources)?;
        props.extend(device_properties(resources, &properties::proc_devices));
        if props.is_empty() {
            return Ok(());
        }
        let mut w = dbus::Writer::default();
        w.str(&self.name.unit);
        w.bool(true);
        w.properties(&props);
        self.bus()?
            .call("SetUnitProperties", "sba(sv)", &w.buf)
            .map_err(|e| self.unit_err(e))?;
        Ok(())
    }
}

/// `$DBUS_SYSTEM_BUS_ADDRESS` (its `unix:path=`) or the default system bus, then systemd's
/// private socket.
fn connect() -> Result<dbus::Bus, CgroupError> {
    let bus = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .ok()
        .and_then(|a| bus_path(&a))
        .unwrap_or_else(|| PathBuf::from(SYSTEM_BUS));
    let private = PathBuf::from(SYSTEMD_PRIVATE);
    match dbus::Bus::connect(&bus, true) {
        Ok(b) => Ok(b),
        Err(first) => dbus::Bus::connect(&private, false).map_err(|_| {
            CgroupError::Systemd(SystemdError::NoBus {
                bus,
                private,
                source: first,
            })
        }),
    }
}

/// The socket of a `unix:path=...[,guid=...][;...]` address.
pub fn bus_path(address: &str) -> Option<PathBuf> {
    let first = address.split(';').next()?;
    let params = first.strip_prefix("unix:")?;
    params
        .split(',')
        .find_map(|kv| kv.strip_prefix("path="))
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests;
