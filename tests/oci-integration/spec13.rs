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

/// The veth tests need iproute2's `ip` (busybox's ignores `peer name` and has no `netns`, as in
/// the VM lane's initramfs).
fn lacks_iproute2(test: &str) -> bool {
    let out = Command::new("ip").arg("-V").output();
    let has = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("iproute2"));
    if !has {
        skip(
            test,
            "iproute2",
            "no iproute2 `ip` on this host to make veth pairs",
        );
    }
    !has
}

/// The running kernel's (major, minor) version.
fn kernel_version() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
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
        if runc_lacks("net_device_is_moved_in_renamed_and_up", "netDevices") || lacks_iproute2("net_device_is_moved_in_renamed_and_up") {
            return;
        }
        let veth = Veth::new("m");
        // Permanent global addresses go along (runtime-spec 1.3); the kernel alone drops them.
        let v4 = "10.123.45.2/24";
        let v6 = "2001:db8:45::2/64";
        for cmd in [
            format!("ip addr add {v4} dev {}", veth.a),
            format!("ip -6 addr add {v6} dev {} nodad", veth.a),
        ] {
            assert!(sh(&cmd).status.success(), "{cmd}");
        }
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
        let out = f.rt(&["exec", &f.id, "ip", "-o", "addr", "show", "dev", "ctr0"]).ok();
        assert!(out.stdout.contains(v4) && out.stdout.contains(v6), "addresses: {out}");
        // A name with `%d` is a template the kernel fills in.
        let other = Veth::new("t");
        f.config["linux"]["netDevices"] = json!({ &other.a: {"name": "tpl%d"} });
        f.set_args(&["ls", "/sys/class/net"]);
        let id = f.another_id("tpl");
        f.write_config();
        let bundle = f.bundle();
        let out = f.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]).ok();
        assert!(out.stdout.lines().any(|l| l == "tpl0"), "{out}");
        // runtime-spec 1.3: the runtime does not move it out at delete; the namespace dies
        // with the container and takes a virtual device (and its peer) with it.
        f.rt(&["delete", "--force", &f.id]).ok();
        wait_on_host(&veth.b, false);
        assert!(!on_host(&veth.a) && !on_host("ctr0"));
    }
}

container_test! {
    fn net_device_stays_in_a_joined_namespace_after_delete(f) {
        if runc_lacks("net_device_stays_in_a_joined_namespace_after_delete", "netDevices") || lacks_iproute2("net_device_stays_in_a_joined_namespace_after_delete") {
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
        if runc_lacks("net_devices_bad_input_fails_and_leaves_the_host_as_it_was", "netDevices") || lacks_iproute2("net_devices_bad_input_fails_and_leaves_the_host_as_it_was") {
            return;
        }
        let first = Veth::new("a");
        let second = Veth::new("b");
        let addr = "10.123.46.2/24";
        assert!(sh(&format!("ip addr add {addr} dev {}", first.a)).status.success());
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
            let shown = sh(&format!("ip -o addr show dev {}", first.a));
            let shown = String::from_utf8_lossy(&shown.stdout);
            assert!(shown.contains(addr), "{} lost {addr} after {devices}: {shown}", first.a);
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

/// Whether the first /proc/self/numa_maps line (`<address> <policy> <details>`) shows `policy`.
fn shows_policy(out: &str, policy: &str) -> bool {
    let line = out.lines().next().unwrap_or_default();
    line.split_once(' ')
        .is_some_and(|(_, rest)| rest.starts_with(&format!("{policy} ")))
}

container_test! {
    fn memory_policy_every_mode_and_flag_applies_in_the_init_and_exec(f) {
        if runc_lacks("memory_policy_every_mode_and_flag_applies_in_the_init_and_exec", "memoryPolicy") {
            return;
        }
        // This host has one NUMA node, 0.
        let cases = [
            (json!({"mode": "MPOL_DEFAULT"}), "default"),
            (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
            (json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}), "interleave:0"),
            (json!({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"}), "weighted interleave:0"),
            (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
            (json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}), "prefer (many):0"),
            (json!({"mode": "MPOL_LOCAL"}), "local"),
            (json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}), "bind=static:0"),
            (json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}), "interleave=relative:0"),
            (json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}), "bind=balancing:0"),
        ];
        for (policy, expected) in cases {
            f.config["linux"]["memoryPolicy"] = policy.clone();
            if policy["mode"] == "MPOL_WEIGHTED_INTERLEAVE" && kernel_version() < (6, 9) {
                // Linux 6.9 added the mode: before, the kernel refuses it, and so does create.
                skip(
                    "memory_policy_every_mode_and_flag_applies_in_the_init_and_exec",
                    "MPOL_WEIGHTED_INTERLEAVE",
                    "kernel older than 6.9",
                );
                f.set_args(&["true"]);
                let out = f.run().failed();
                assert!(out.stderr.contains("linux.memoryPolicy"), "{out}");
                continue;
            }
            let out = f.run_sh("head -n1 /proc/self/numa_maps");
            assert!(shows_policy(&out, expected), "{policy}: not {expected:?} in {out}");
        }
        // An exec'd process gets the container's policy too.
        f.config["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
        f.set_args(&["sleep", "100"]);
        let id = f.another_id("exec");
        f.create_with(&id, &[]).ok();
        let out = f.rt(&["exec", &id, "head", "-n1", "/proc/self/numa_maps"]).ok();
        assert!(shows_policy(&out.stdout, "interleave:0"), "{out}");
        f.rt(&["delete", "--force", &id]).ok();
    }
}

container_test! {
    fn memory_policy_bad_input_is_refused_naming_the_field(f) {
        if runc_lacks("memory_policy_bad_input_is_refused_naming_the_field", "memoryPolicy") {
            return;
        }
        f.set_args(&["true"]);
        let cases = [
            (json!({"mode": "MPOL_BIND", "nodes": "7"}), "linux.memoryPolicy.nodes"),
            (json!({"mode": "MPOL_BIND", "nodes": "0-9999"}), "linux.memoryPolicy.nodes"),
            (json!({"mode": "MPOL_BIND"}), "linux.memoryPolicy.nodes"),
            (json!({"mode": "MPOL_LOCAL", "nodes": "0"}), "linux.memoryPolicy.nodes"),
            (json!({"mode": "MPOL_NOPE", "nodes": "0"}), "linux.memoryPolicy.mode"),
            (json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NOPE"]}), "linux.memoryPolicy.flags"),
            (json!({"mode": "MPOL_BIND", "nodes": "0",
                    "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}), "linux.memoryPolicy.flags"),
        ];
        for (policy, field) in cases {
            f.config["linux"]["memoryPolicy"] = policy.clone();
            let out = f.create().failed();
            assert!(out.stderr.contains(field), "{policy}: {out}");
            assert_failed_create_left_nothing(&f);
        }
    }
}

container_test! {
    fn personality_flags_apply(f) {
        if runc_lacks("personality_flags_apply", "personality flags") {
            return;
        }
        f.config["linux"]["personality"] =
            json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE", "SHORT_INODE"]});
        let out = f.run_sh("cat /proc/self/personality");
        // ADDR_NO_RANDOMIZE 0x0040000 | SHORT_INODE 0x1000000, domain PER_LINUX 0 (x86_64's
        // execve clears READ_IMPLIES_EXEC for a binary with a non-executable stack, so that one
        // would not show).
        assert_eq!(out.trim(), "01040000", "{out}");
        f.config["linux"]["personality"] = json!({"domain": "LINUX32", "flags": ["UNAME26"]});
        let out = f.run_sh("cat /proc/self/personality; uname -m");
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("00020008"), "{out}");
        assert_eq!(lines.next(), Some("i686"), "{out}");
        f.config["linux"]["personality"] = json!({"domain": "LINUX", "flags": ["NO_SUCH_FLAG"]});
        f.set_args(&["true"]);
        let out = f.create().failed();
        assert!(out.stderr.contains("linux.personality.flags"), "{out}");
        assert_failed_create_left_nothing(&f);
    }
}

/// The CPUs this host has online, as the kernel lists them ("0-1").
fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .unwrap()
        .trim()
        .to_string()
}

fn cpus_allowed(status: &str) -> &str {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap_or_else(|| panic!("no Cpus_allowed_list in {status}"))
        .trim()
}

container_test! {
    fn an_inherited_cpu_affinity_is_reset_to_the_cpuset(f) {
        if runc_lacks("an_inherited_cpu_affinity_is_reset_to_the_cpuset", "CPU affinity reset") {
            return;
        }
        let all = online_cpus();
        if all == "0" {
            skip(
                "an_inherited_cpu_affinity_is_reset_to_the_cpuset",
                "several CPUs",
                "one CPU: a reset cannot be told from the inherited affinity",
            );
            return;
        }
        // The container's cpuset holds every CPU (no cpu limit): taskset's CPU 0 must not stick.
        f.set_args(&["sleep", "100"]);
        f.write_config();
        f.remember(&f.id);
        let bundle = f.bundle();
        let mut create = Command::new("taskset");
        create.args(["-c", "0"]).arg(&f.runtime).arg("--root").arg(f.root());
        create.args(["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
        f.exec(create).ok();
        f.rt(&["start", &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert_eq!(cpus_allowed(&status), all, "init: {status}");
        let mut exec = Command::new("taskset");
        exec.args(["-c", "0"]).arg(&f.runtime).arg("--root").arg(f.root());
        exec.args(["exec", &f.id, "cat", "/proc/self/status"]);
        let out = f.exec(exec).ok();
        assert_eq!(cpus_allowed(&out.stdout), all, "exec: {out}");
        // With execCPUAffinity the config's CPUs win, as before.
        f.rt(&["delete", "--force", &f.id]).ok();
        f.config["process"]["execCPUAffinity"] = json!({"final": "1"});
        f.set_sh("cat /proc/self/status");
        f.write_config();
        let mut run = Command::new("taskset");
        run.args(["-c", "0"]).arg(&f.runtime).arg("--root").arg(f.root());
        run.args(["run", "--bundle", bundle.to_str().unwrap(), &f.id]);
        let out = f.exec(run).ok();
        assert_eq!(cpus_allowed(&out.stdout), "1", "{out}");
    }
}

/// A `--pidfd-socket` receiver: python3 listening on `path`; it takes one message, checks that
/// the fd it carries is a pidfd, and prints the message and the pid it names; with `kill`, it
/// then waits for a line on its stdin, sends SIGKILL through the pidfd and prints "killed".
fn pidfd_receiver(path: &Path, kill: bool) -> std::process::Child {
    let script = r#"
import array, os, signal, socket, sys
path, kill = sys.argv[1], sys.argv[2] == "1"
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, _, _ = conn.recvmsg(64, socket.CMSG_SPACE(fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
assert len(fds) == 1, anc
fd = fds[0]
assert os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:[pidfd]", os.readlink(f"/proc/self/fd/{fd}")
pid = [l.split()[1] for l in open(f"/proc/self/fdinfo/{fd}") if l.startswith("Pid:")][0]
print(msg.decode(), pid, flush=True)
if kill:
    sys.stdin.readline()
    signal.pidfd_send_signal(fd, signal.SIGKILL)
    print("killed", flush=True)
"#;
    let child = Command::new("python3")
        .args([
            "-c",
            script,
            path.to_str().unwrap(),
            if kill { "1" } else { "0" },
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "receiver never listened on {path:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// What the receiver printed, after telling it to go on (to kill, if it was asked to).
fn received(mut child: std::process::Child) -> Vec<String> {
    use std::io::Write;
    let _ = child.stdin.take().unwrap().write_all(b"go\n");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "receiver failed: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

container_test! {
    fn pidfd_socket_receives_a_pidfd_of_the_init_and_of_an_exec(f) {
        let test = "pidfd_socket_receives_a_pidfd_of_the_init_and_of_an_exec";
        if runc_lacks(test, "--pidfd-socket") {
            return;
        }
        if Command::new("python3").arg("-V").output().is_err() {
            skip(test, "python3", "the receiver is a python3 script");
            return;
        }
        f.set_args(&["sleep", "100"]);
        let sock = f.dir.path().join("pidfd.sock");
        let receiver = pidfd_receiver(&sock, false);
        f.create_with(&f.id, &["--pidfd-socket", sock.to_str().unwrap()]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        assert_eq!(received(receiver), [format!("standard {pid}")]);
        f.rt(&["start", &f.id]).ok();

        let sock = f.dir.path().join("pidfd-exec.sock");
        let pid_file = f.dir.path().join("exec.pid");
        let receiver = pidfd_receiver(&sock, true);
        f.rt(&[
            "exec", "-d", "--pid-file", pid_file.to_str().unwrap(),
            "--pidfd-socket", sock.to_str().unwrap(), &f.id, "sleep", "100",
        ])
        .ok();
        let exec_pid = std::fs::read_to_string(&pid_file).unwrap();
        assert_eq!(received(receiver), [format!("setns {exec_pid}"), "killed".to_string()]);

        // `run -d` too; the receiver kills the init through its pidfd.
        let id = f.another_id("run");
        let sock = f.dir.path().join("pidfd-run.sock");
        let receiver = pidfd_receiver(&sock, true);
        let bundle = f.bundle();
        f.rt(&[
            "run", "-d", "--bundle", bundle.to_str().unwrap(),
            "--pidfd-socket", sock.to_str().unwrap(), &id,
        ])
        .ok();
        let lines = received(receiver);
        assert!(lines[0].starts_with("standard ") && lines[1] == "killed", "{lines:?}");
        f.wait_status(&id, "stopped");
    }
}

container_test! {
    fn pidfd_socket_nobody_listens_on_fails_up_front(f) {
        if runc_lacks("pidfd_socket_nobody_listens_on_fails_up_front", "--pidfd-socket") {
            return;
        }
        f.set_args(&["sleep", "100"]);
        let sock = f.dir.path().join("nobody.sock");
        let out = f.create_with(&f.id, &["--pidfd-socket", sock.to_str().unwrap()]).failed();
        assert!(out.stderr.contains("--pidfd-socket"), "{out}");
        assert_failed_create_left_nothing(&f);
    }
}

container_test! {
    fn run_accepts_no_subreaper(f) {
        f.set_args(&["echo", "reaped"]);
        f.write_config();
        f.remember(&f.id);
        let bundle = f.bundle();
        let out = f
            .rt(&["run", "--no-subreaper", "--bundle", bundle.to_str().unwrap(), &f.id])
            .ok();
        assert_eq!(out.stdout, "reaped\n");
    }
}
