//! `linux.netDevices`: host network interfaces moved into the container's network namespace,
//! renamed as asked and set up there, in one RTM_NEWLINK each (rename and move together, so a
//! name taken on the host does not get in the way).
//!
//! As runtime-spec 1.3 says ("Namespace Lifecycle and Container Termination") and runc 1.4
//! does, nothing moves an interface back at `delete`: it belongs to the network namespace from
//! then on. When that namespace goes (the container's own, with its last process), the kernel
//! returns physical devices to the host and destroys virtual ones (veth, macvlan...). Only a
//! `create` that fails after moving interfaces moves them back, under their host names, so a
//! failed create leaves the host as it was.
//!
//! Used only when a config lists netDevices: the common path never opens a netlink socket.

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsRawFd;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNetDevice;

use crate::sys::netlink::{LinkChange, Route};

#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    #[error("linux.netDevices: {name:?}: no such network device on the host")]
    Missing { name: String },
    #[error("linux.netDevices: {name:?}: look up the device on the host: {source}")]
    Lookup {
        name: String,
        #[source]
        source: Errno,
    },
    #[error(
        "linux.netDevices: {name:?}: a device named {target:?} already exists in the \
         container's network namespace"
    )]
    Clash { name: String, target: String },
    #[error("linux.netDevices: {name:?}: move into the container's network namespace as {target:?}: {source}")]
    Move {
        name: String,
        target: String,
        #[source]
        source: Errno,
    },
    #[error("linux.netDevices: {name:?}: set the device up in the container: {source}")]
    Up {
        name: String,
        #[source]
        source: Errno,
    },
    #[error("linux.netDevices: {name:?}: add its address again in the container: {source}")]
    Address {
        name: String,
        #[source]
        source: Errno,
    },
    #[error("linux.netDevices: {what}: {source}")]
    Namespace {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("linux.netDevices: netlink socket: {0}")]
    Socket(#[source] Errno),
}

/// The devices in a stable order (the config's object has none): by host name.
fn sorted(devices: &HashMap<String, LinuxNetDevice>) -> Vec<(&str, &str)> {
    let mut list: Vec<(&str, &str)> = devices
        .iter()
        .map(|(host, d)| (host.as_str(), d.name().as_deref().unwrap_or(host.as_str())))
        .collect();
    list.sort();
    list
}

/// A name the kernel accepts for an interface (dev_valid_name), `%d` aside.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace())
}

/// What the config alone can tell: valid names, no two devices given the same name inside.
pub fn validate(devices: &HashMap<String, LinuxNetDevice>) -> Result<(), String> {
    let mut inside: HashMap<&str, &str> = HashMap::new();
    for (host, target) in sorted(devices) {
        if !valid_name(host) {
            return Err(format!("{host:?} is not a valid interface name"));
        }
        if !valid_name(target) {
            return Err(format!(
                "{host:?}: name {target:?} is not a valid interface name"
            ));
        }
        // "eth%d" is a template: the kernel picks a free number, so it cannot clash.
        if !target.contains('%') {
            if let Some(other) = inside.insert(target, host) {
                return Err(format!(
                    "{other:?} and {host:?} are both to be named {target:?} in the container"
                ));
            }
        }
    }
    Ok(())
}

/// Every listed device exists on the host: checked before anything is made.
pub fn check_host(devices: &HashMap<String, LinuxNetDevice>) -> Result<(), NetDevError> {
    let mut route = Route::open().map_err(NetDevError::Socket)?;
    for (host, _) in sorted(devices) {
        index_on_host(&mut route, host)?;
    }
    Ok(())
}

fn index_on_host(route: &mut Route, name: &str) -> Result<u32, NetDevError> {
    match route.get_link(0, Some(name)) {
        Ok((i, _)) => Ok(i),
        Err(Errno::ENODEV) => Err(NetDevError::Missing {
            name: name.to_string(),
        }),
        Err(source) => Err(NetDevError::Lookup {
            name: name.to_string(),
            source,
        }),
    }
}

fn open_ns(path: String) -> Result<File, NetDevError> {
    File::open(&path).map_err(|source| NetDevError::Namespace {
        what: format!("open {path}"),
        source,
    })
}

fn enter(ns: &File, what: &str) -> Result<(), NetDevError> {
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(|e| NetDevError::Namespace {
        what: format!("setns into {what}"),
        source: e.into(),
    })
}

/// One moved device: its host name and its index inside.
struct MovedDevice {
    host: String,
    index: u32,
    /// Its permanent addresses on the host, to give back with it.
    addresses: Vec<crate::sys::netlink::Address>,
}

/// Devices moved into a container being created: moved back to the host when dropped, unless
/// `keep` is called once the container exists. Holding the container's namespace open keeps it
/// (and the devices in it) alive even if the init is already gone.
pub struct Moved {
    host_ns: File,
    host: Route,
    inside: Route,
    devices: Vec<MovedDevice>,
}

/// Move every device into the network namespace of `pid` and set it up there.
pub fn move_in(pid: Pid, devices: &HashMap<String, LinuxNetDevice>) -> Result<Moved, NetDevError> {
    let host_ns = open_ns("/proc/thread-self/ns/net".into())?;
    let ctr_ns = open_ns(format!("/proc/{pid}/ns/net"))?;
    let host = Route::open().map_err(NetDevError::Socket)?;
    // A netlink socket works in the namespace it was opened in: open one inside and come back.
    enter(&ctr_ns, "the container's network namespace")?;
    let inside = Route::open();
    enter(&host_ns, "the runtime's network namespace")?;
    let mut moved = Moved {
        host_ns,
        host,
        inside: inside.map_err(NetDevError::Socket)?,
        devices: Vec::new(),
    };
    for (name, target) in sorted(devices) {
        let index = index_on_host(&mut moved.host, name)?;
        let err = |source| NetDevError::Move {
            name: name.to_string(),
            target: target.to_string(),
            source,
        };
        // The kernel drops addresses on the move (and IPv6 ones already when the link goes
        // down): the permanent global ones are taken now and added again inside.
        let addresses = moved.host.addresses(index).map_err(err)?;
        // Down first, so the move does not carry traffic across; then rename and move at once.
        let down = LinkChange {
            index,
            up: Some(false),
            ..Default::default()
        };
        moved.host.set_link(&down).map_err(err)?;
        let change = LinkChange {
            index,
            name: Some(target),
            netns_fd: Some(ctr_ns.as_raw_fd()),
            ..Default::default()
        };
        if let Err(e) = moved.host.set_link(&change) {
            // The kernel moves before it renames: a rename refused inside (the name is
            // taken there) leaves the device inside under its host name, to be moved back.
            if let Ok((index, _)) = moved.inside.get_link(0, Some(name)) {
                moved.devices.push(MovedDevice {
                    host: name.to_string(),
                    index,
                    addresses,
                });
            }
            return Err(match e {
                Errno::EEXIST => NetDevError::Clash {
                    name: name.to_string(),
                    target: target.to_string(),
                },
                e => err(e),
            });
        }
        // The kernel keeps the index unless it is taken in the namespace.
        let inside_index = match moved.inside.get_link(index, None) {
            Ok((i, _)) => i,
            Err(_) if !target.contains('%') => moved
                .inside
                .get_link(0, Some(target))
                .map(|(i, _)| i)
                .map_err(err)?,
            Err(e) => return Err(err(e)),
        };
        moved.devices.push(MovedDevice {
            host: name.to_string(),
            index: inside_index,
            addresses: addresses.clone(),
        });
        for addr in &addresses {
            moved
                .inside
                .add_address(inside_index, addr)
                .map_err(|source| NetDevError::Address {
                    name: name.to_string(),
                    source,
                })?;
        }
        let up = LinkChange {
            index: inside_index,
            up: Some(true),
            ..Default::default()
        };
        moved
            .inside
            .set_link(&up)
            .map_err(|source| NetDevError::Up {
                name: name.to_string(),
                source,
            })?;
    }
    Ok(moved)
}

impl Moved {
    /// The container exists: the devices are its namespace's from now on.
    pub fn keep(mut self) {
        self.devices.clear();
    }
}

impl Drop for Moved {
    fn drop(&mut self) {
        for dev in self.devices.drain(..).rev() {
            let down = LinkChange {
                index: dev.index,
                up: Some(false),
                ..Default::default()
            };
            let _ = self.inside.set_link(&down);
            let back = LinkChange {
                index: dev.index,
                name: Some(&dev.host),
                netns_fd: Some(self.host_ns.as_raw_fd()),
                ..Default::default()
            };
            let restored = self.inside.set_link(&back).and_then(|()| {
                let (index, _) = self.host.get_link(0, Some(&dev.host))?;
                dev.addresses
                    .iter()
                    .try_for_each(|addr| match self.host.add_address(index, addr) {
                        Err(Errno::EEXIST) => Ok(()),
                        other => other,
                    })
            });
            if let Err(e) = restored {
                crate::logging::warn(&format!(
                    "linux.netDevices: move {:?} back to the host: {e}",
                    dev.host
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(json: &str) -> HashMap<String, LinuxNetDevice> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn names_are_checked() {
        validate(&devices(
            r#"{"veth0":{},"veth1":{"name":"eth%d"},"veth2":{"name":"eth%d"}}"#,
        ))
        .unwrap();
        for bad in [
            r#"{"a":{"name":"x"},"b":{"name":"x"}}"#,
            r#"{"a":{},"b":{"name":"a"}}"#,
            r#"{"a":{"name":"has space"}}"#,
            r#"{"a/b":{}}"#,
            r#"{"a":{"name":"sixteen-chars-xx"}}"#,
            r#"{"a":{"name":""}}"#,
        ] {
            assert!(validate(&devices(bad)).is_err(), "{bad}");
        }
    }
}
