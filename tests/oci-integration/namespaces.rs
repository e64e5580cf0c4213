//! Namespaces: new ones really are new, joined ones really are joined, the user namespace maps
//! ids, and the UTS and sysctl settings land in the container's namespaces only.

use crate::support::{container_test, host_ns, is_runc};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KINDS: [&str; 6] = ["pid", "net", "ipc", "uts", "mnt", "cgroup"];

/// Parses `kind=target` lines printed by the container.
fn ns_lines(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn print_ns_script() -> String {
    KINDS
        .iter()
        .map(|k| format!("echo {k}=$(readlink /proc/self/ns/{k});"))
        .collect()
}

container_test! {
    fn configured_namespaces_are_new(f) {
        f.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "cgroup"}));
        let out = f.run_sh(&print_ns_script());
        let seen = ns_lines(&out);
        assert_eq!(seen.len(), KINDS.len(), "{out}");
        for (kind, target) in seen {
            assert!(target.starts_with(&format!("{kind}:[")), "{out}");
            assert_ne!(target, host_ns(&kind), "{kind} namespace is the host's");
        }
    }
}

container_test! {
    fn unlisted_namespaces_are_shared_with_the_host(f) {
        f.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "pid"}]);
        // A hostname needs a private UTS namespace.
        f.config.as_object_mut().unwrap().remove("hostname");
        let out = f.run_sh(&print_ns_script());
        let seen = ns_lines(&out);
        assert_eq!(seen.len(), KINDS.len(), "{out}");
        for (kind, target) in seen {
            if kind == "mnt" || kind == "pid" {
                assert_ne!(target, host_ns(&kind), "{kind} should be new");
            } else {
                assert_eq!(target, host_ns(&kind), "{kind} should be the host's");
            }
        }
    }
}

/// A `sleep` in its own network and UTS namespaces, killed on drop.
struct Holder(Child);

impl Holder {
    fn start() -> Holder {
        let child = Command::new("unshare")
            .args(["--net", "--uts", "sleep", "1000"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn unshare (util-linux)");
        let holder = Holder(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while holder.ns("net") == host_ns("net") {
            assert!(
                Instant::now() < deadline,
                "unshare never entered a new netns"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        holder
    }

    fn path(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.0.id())
    }

    fn ns(&self, kind: &str) -> String {
        std::fs::read_link(self.path(kind))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

container_test! {
    fn namespaces_are_joined_by_path(f) {
        let holder = Holder::start();
        f.config["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
            {"type": "network", "path": holder.path("net")},
            {"type": "uts", "path": holder.path("uts")}
        ]);
        // Joining a UTS namespace means the config must not set a hostname for it.
        f.config.as_object_mut().unwrap().remove("hostname");
        let out = f.run_sh("readlink /proc/self/ns/net; readlink /proc/self/ns/uts");
        assert_eq!(out, format!("{}\n{}\n", holder.ns("net"), holder.ns("uts")));
    }
}

container_test! {
    fn user_namespace_maps_ids(f) {
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        // sysfs and cgroupfs cannot be mounted from a user namespace that does not own them.
        f.config["mounts"].as_array_mut().unwrap().retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
        let out = f.run_sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; readlink /proc/self/ns/user");
        let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
        assert_eq!(lines[1], ["0", "200000", "65536"], "{out}");
        assert_eq!(lines[2], ["0"], "{out}");
        assert_ne!(lines[3][0], host_ns("user"));
    }
}

container_test! {
    fn hostname_and_domainname_apply(f) {
        f.config["hostname"] = json!("nook-host");
        f.config["domainname"] = json!("nook.example");
        let host_before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let out = f.run_sh("hostname; cat /proc/sys/kernel/domainname");
        let (hostname, domainname) = out.split_once('\n').unwrap();
        assert_eq!(hostname, "nook-host");
        // runc 1.1.5 predates `domainname` (runc 1.2 added it) and ignores it.
        if !is_runc() {
            assert_eq!(domainname, "nook.example\n");
        }
        assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_before);
    }
}

container_test! {
    fn namespaced_sysctls_apply_inside_only(f) {
        let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
        let host_rmid = std::fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap();
        let forward = if host_forward.trim() == "1" { "0" } else { "1" };
        let rmid = if host_rmid.trim() == "1" { "0" } else { "1" };
        f.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": forward, "kernel.shm_rmid_forced": rmid});
        let out = f.run_sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shm_rmid_forced");
        assert_eq!(out, format!("{forward}\n{rmid}\n"));
        assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_forward);
        assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shm_rmid_forced").unwrap(), host_rmid);
    }
}

container_test! {
    fn pid_namespace_makes_the_process_pid_1(f) {
        assert_eq!(f.run_sh("echo $$"), "1\n");
    }
}

container_test! {
    fn without_a_mount_namespace_the_container_shares_the_hosts_mounts_untouched(f) {
        // runtime-spec: a namespace type not listed is inherited from the runtime, the mount
        // namespace included. The container then sees the host's mount table, and the runtime
        // must not change it: nothing mounted, nothing pivoted.
        if is_runc() {
            // runc 1.1.5 sets the rootfs up in the host's mount table (and leaves /proc, /dev
            // and /sys mounted in the bundle); runc 1.2 and later skip it as nook does.
            crate::support::skip(
                "without_a_mount_namespace_the_container_shares_the_hosts_mounts_untouched",
                "runc",
                "runc 1.1.5 mounts in the host's table",
            );
            return;
        }
        f.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
        f.config["linux"].as_object_mut().unwrap().remove("maskedPaths");
        f.config["linux"].as_object_mut().unwrap().remove("readonlyPaths");
        let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        // The host's root: its /bin/sh, its mount namespace.
        let out = f.run_sh("readlink /proc/self/ns/mnt; hostname");
        let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert_eq!(out.lines().next(), Some(host_ns("mnt").as_str()), "{out}");
        // Other tests and lanes may mount elsewhere meanwhile: what must not appear is a mount
        // of this container's, in its bundle (or anywhere else under its directory).
        let dir = f.dir.path().display().to_string();
        for line in before.lines().chain(after.lines()) {
            assert!(!line.contains(&dir), "a mount of the container's: {line}");
        }
    }
}

container_test! {
    fn masked_paths_without_a_mount_namespace_are_refused(f) {
        f.config["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "uts"}]);
        f.config["linux"].as_object_mut().unwrap().remove("readonlyPaths");
        f.config["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        let out = f.create();
        if is_runc() {
            // runc 1.1.5 masks in the host's mount table; runc 1.2 and later refuse as nook does.
            crate::support::skip(
                "masked_paths_without_a_mount_namespace_are_refused",
                "runc",
                "runc 1.1.5 applies them to the host",
            );
            let _ = f.rt(&["delete", "--force", &f.id]);
            return;
        }
        let out = out.failed();
        assert!(out.stderr.contains("linux.maskedPaths"), "{out}");
        crate::support::assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn a_uts_namespace_joined_by_path_takes_the_hostname(f) {
        let holder = Command::new("unshare")
            .args(["--uts", "sleep", "100"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let holder = KillOnDrop(holder);
        let path = format!("/proc/{}/ns/uts", holder.0.id());
        // unshare has run once the sleep's uts namespace differs from ours.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(&path).map(|l| l.to_string_lossy() == host_ns("uts")).unwrap_or(true) {
            assert!(Instant::now() < deadline, "unshare --uts did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        f.config["hostname"] = json!("joined-uts");
        let namespaces = f.config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|n| n["type"] != "uts");
        namespaces.push(json!({"type": "uts", "path": path}));
        let out = f.run_sh("hostname; readlink /proc/self/ns/uts");
        let ns = std::fs::read_link(&path).unwrap().to_string_lossy().into_owned();
        assert_eq!(out, format!("joined-uts\n{ns}\n"));
        assert_eq!(std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(), host_name);
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Gives the fixture's config a new user namespace mapping container 0 to host 100000, without
/// the mounts a user namespace cannot make (sysfs, cgroupfs).
fn with_user_namespace(f: &mut crate::support::Fixture) {
    f.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    f.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    f.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
}

container_test! {
    fn a_joined_user_namespace_owns_a_new_pid_namespace(f) {
        // A: a container in a new user namespace.
        with_user_namespace(&mut f);
        f.set_args(&["sleep", "100"]);
        let a = f.another_id("a");
        f.create_with(&a, &[]).ok();
        let a_pid = f.state(&a)["pid"].as_i64().unwrap();
        // B joins A's user namespace by path and gets new pid, mount and other namespaces,
        // which belong to that user namespace (mounting B's /proc needs that).
        let namespaces = f.config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|n| n["type"] != "user");
        namespaces.push(json!({"type": "user", "path": format!("/proc/{a_pid}/ns/user")}));
        // The mappings stay: runc 1.1.5 insists on them even for a joined user namespace (the
        // namespace's own maps apply).
        let out = f.run_sh("echo $$; cat /proc/self/uid_map; readlink /proc/self/ns/user; readlink /proc/self/ns/pid");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "1", "{out}");
        let a_map = std::fs::read_to_string(format!("/proc/{a_pid}/uid_map")).unwrap();
        assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), a_map.split_whitespace().collect::<Vec<_>>(), "{out}");
        let a_ns = |kind: &str| std::fs::read_link(format!("/proc/{a_pid}/ns/{kind}")).unwrap().to_string_lossy().into_owned();
        assert_eq!(lines[2], a_ns("user"), "{out}");
        assert_ne!(lines[3], a_ns("pid"), "{out}");
        assert_ne!(lines[3], host_ns("pid"), "{out}");
    }
}

container_test! {
    fn an_empty_namespace_path_means_a_new_namespace(f) {
        f.config["linux"]["namespaces"] = json!([
            {"type": "pid", "path": ""}, {"type": "network", "path": ""}, {"type": "ipc", "path": ""},
            {"type": "uts", "path": ""}, {"type": "mount", "path": ""}
        ]);
        let out = f.run_sh(&print_ns_script());
        let seen = ns_lines(&out);
        assert_eq!(seen.len(), KINDS.len(), "{out}");
        for (kind, target) in seen {
            if kind == "cgroup" {
                assert_eq!(target, host_ns(&kind), "{out}");
            } else {
                assert_ne!(target, host_ns(&kind), "{kind} namespace is the host's");
            }
        }
        // The hostname needs a new UTS namespace: the empty path gave one.
        f.set_sh("hostname");
        assert_eq!(f.run().ok().stdout, "runc\n");
    }
}
