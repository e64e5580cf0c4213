//! runtime-spec 1.3 fields and runc 1.2+ flags: `linux.netDevices`, `linux.memoryPolicy`,
//! `linux.personality` flags, the CPU affinity reset, `--pidfd-socket`, `run --no-subreaper`.
//! runc 1.1.5 predates most of them (it ignores the fields), so those tests are skipped, visibly,
//! when it is the runtime under test.

use crate::support::{assert_failed_create_left_nothing, container_test, is_runc, skip};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").arg("-c").arg(script).output().unwrap()
}

/// A veth pair made for one test, deleted (if still on the host) when dropped. This kernel has
/// no `dummy` driver.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn new(tag: &str) -> Veth {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let base = format!("nk{}{tag}{n}", std::process::id() % 10000);
        let (a, b) = (format!("{base}a"), format!("{base}b"));
        let out = sh(&format!("ip link add {a} type veth peer name {b}"));
        assert!(out.status.success(), "ip link add: {out:?}");
        Veth { a, b }
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = sh(&format!("ip link del {} 2>/dev/null", self.a));
        let _ = sh(&format!("ip link del {} 2>/dev/null", self.b));
    }
}

fn on_host(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Polls until the host has (or lacks) `name`: namespaces are cleaned up asynchronously.
#[track_caller]
fn wait_on_host(name: &str, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while on_host(name) != present {
        assert!(
            Instant::now() < deadline,
            "{name} on the host: expected {present}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn runc_lacks(test: &str, feature: &str) -> bool {
    if is_runc() {
        skip(
            test,
            feature,
            "runc 1.1.5 predates it (runtime-spec 1.3 / runc 1.2+)",
        );
        return true;
    }
    false
}

container_test! {
    fn net_device_is_moved_in_renamed_and_up(f) {
        if runc_lacks("net_device_is_moved_in_renamed_and_up", "netDevices") {
            return;
        }
        let veth = Veth::new("m");
        f.config["linux"]["netDevices"] = json!({ &veth.a: {"name": "ctr0"} });
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        // Gone from the host as soon as the container exists.
        assert!(!on_host(&veth.a), "{} still on the host", veth.a);
        assert!(on_host(&veth.b));
        let out = f
            .rt(&["exec", &f.id, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/ctr0/flags"])
            .ok();
        let names: Vec<&str> = out.stdout.lines().collect();
        assert!(names.contains(&"ctr0") && !names.contains(&veth.a.as_str()), "{out}");
        let flags = names.last().unwrap().trim_start_matches("0x");
        let flags = u32::from_str_radix(flags, 16).unwrap();
        assert_eq!(flags & 1, 1, "ctr0 is not up: {out}");
        // runtime-spec 1.3: the runtime does not move it out at delete; the namespace dies
        // with the container and takes a virtual device (and its peer) with it.
        f.rt(&["delete", "--force", &f.id]).ok();
        wait_on_host(&veth.b, false);
        assert!(!on_host(&veth.a) && !on_host("ctr0"));
    }
}

container_test! {
    fn net_device_stays_in_a_joined_namespace_after_delete(f) {
        if runc_lacks("net_device_stays_in_a_joined_namespace_after_delete", "netDevices") {
            return;
        }
        let veth = Veth::new("j");
        let ns = format!("{}ns", veth.a);
        assert!(sh(&format!("ip netns add {ns}")).status.success());
        let path = format!("/var/run/netns/{ns}");
        f.config["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "network", "path": path}, {"type": "ipc"},
            {"type": "uts"}, {"type": "mount"}
        ]);
        f.config["linux"]["netDevices"] = json!({ &veth.a: {} });
        let out = f.run_sh(&format!("cat /sys/class/net/{}/flags", veth.a));
        let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).unwrap();
        assert_eq!(flags & 1, 1, "not up inside: {out}");
        let inside = sh(&format!("ip netns exec {ns} cat /sys/class/net/{}/ifindex", veth.a));
        let _ = sh(&format!("ip netns del {ns}"));
        assert!(inside.status.success(), "not left in {ns}: {inside:?}");
        assert!(!on_host(&veth.a));
    }
}

container_test! {
    fn net_devices_bad_input_fails_and_leaves_the_host_as_it_was(f) {
        if runc_lacks("net_devices_bad_input_fails_and_leaves_the_host_as_it_was", "netDevices") {
            return;
        }
        let first = Veth::new("a");
        let second = Veth::new("b");
        f.set_args(&["true"]);
        let cases = [
            // No such interface on the host.
            (json!({"nkmissing0": {}}), None),
            // Two devices given one name inside.
            (json!({ &first.a: {"name": "eth1"}, &second.a: {"name": "eth1"} }), None),
            // An invalid name.
            (json!({ &first.a: {"name": "a/b"} }), None),
            // A clash inside the new namespace (its "lo"), found by the kernel after the
            // first device moved: that one must come back under its own name.
            (json!({ &first.a: {"name": "eth1"}, &second.a: {"name": "lo"} }), Some("lo")),
        ];
        for (devices, clash) in cases {
            f.config["linux"]["netDevices"] = devices.clone();
            let out = f.create().failed();
            assert!(out.stderr.contains("linux.netDevices"), "{devices}: {out}");
            if let Some(name) = clash {
                assert!(out.stderr.contains(&format!("{name:?}")), "{out}");
            }
            assert_failed_create_left_nothing(&f);
            for name in [&first.a, &first.b, &second.a, &second.b] {
                assert!(on_host(name), "{name} not on the host after {devices}");
            }
            assert!(!on_host("eth1"));
        }
        // No network namespace of the container's own: nothing to move the devices into.
        f.config["linux"]["netDevices"] = json!({ &first.a: {} });
        f.config["linux"]["namespaces"] =
            json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]);
        let out = f.create().failed();
        assert!(out.stderr.contains("linux.netDevices"), "{out}");
        assert_failed_create_left_nothing(&f);
        assert!(on_host(&first.a));
    }
}
