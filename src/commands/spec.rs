use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::cli::SpecArgs;

pub fn run(args: &SpecArgs) -> Result<u8> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = default_spec(args.rootless, unified_cgroup_fs());
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

/// Whether /sys/fs/cgroup is itself a cgroup2 mount (a unified host, not a hybrid or v1 one):
/// only there does `runc spec` ask for a cgroup namespace, and so does `nook spec`.
fn unified_cgroup_fs() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The same document `runc spec` writes on the same host (hostname included, so a caller's
/// tooling sees no difference): a busybox-friendly shell with few capabilities.
fn default_spec(rootless: bool, cgroup_ns: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": nook::state::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if cgroup_ns {
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.push(json!({"type": "cgroup"}));
        }
    }
    if rootless {
        make_rootless(&mut spec);
    }
    spec
}

/// A spec an unprivileged user can run: own user namespace mapping only themselves, no
/// network namespace of its own to configure, /sys bound from the host, no cgroup limits
/// (the cgroup mount stays, as runc keeps it).
fn make_rootless(spec: &mut Value) {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let linux = &mut spec["linux"];
    linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
    linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
    linux.as_object_mut().expect("object").remove("resources");
    let ns = linux["namespaces"].as_array_mut().expect("array");
    ns.retain(|n| n["type"] != "network");
    ns.push(json!({"type": "user"}));
    let mounts = spec["mounts"].as_array_mut().expect("array");
    for m in mounts.iter_mut() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
        // get_mut, not m["options"]: indexing would add `"options": null` to /proc.
        if let Some(opts) = m.get_mut("options").and_then(Value::as_array_mut) {
            opts.retain(|o| o != "gid=5");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn default_spec_parses_and_validates_except_terminal() {
        for (rootless, cgroup_ns) in [(false, false), (true, false), (false, true), (true, true)] {
            let text = default_spec(rootless, cgroup_ns).to_string();
            let spec = nook::spec::parse_reader(text.as_bytes(), Path::new("config.json")).unwrap();
            nook::spec::validate(&spec).unwrap();
        }
    }
}
