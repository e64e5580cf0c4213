//! `linux.resources`: the limits a config asks for must land in the container's cgroup (read back
//! from the host while it runs, on a v1/hybrid host and on a pure v2 host alike), must bite inside
//! the container, and the cgroup must be gone after `delete`.

use crate::support::{assert_nothing_left, container_test, is_runc, Fixture};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// True on a pure cgroup v2 host (the cgroup2 root is mounted at /sys/fs/cgroup itself).
fn host_is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroups of one running process, as the host sees them.
struct Cgroups {
    v2: bool,
    lines: String,
}

impl Cgroups {
    fn of(pid: i64) -> Cgroups {
        let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        // v1 and hybrid: one line per controller; pure v2: only the "0::" line.
        let v2 = lines.lines().all(|l| l.starts_with("0::"));
        Cgroups { v2, lines }
    }

    /// The process's path in `controller`'s hierarchy (in the one v2 hierarchy on v2).
    fn path_in(&self, controller: &str) -> Option<String> {
        self.lines.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let hit = if self.v2 {
                ctrls.is_empty()
            } else {
                ctrls.split(',').any(|c| c == controller)
            };
            hit.then(|| path.to_string())
        })
    }

    /// Where `controller`'s file is: `v1_file` under the controller's hierarchy, or `v2_file` in
    /// the v2 directory. None if the host does not mount that v1 controller at all.
    fn file(&self, controller: &str, v1_file: &str, v2_file: &str) -> Option<PathBuf> {
        let path = self.path_in(controller)?;
        let path = path.trim_end_matches('/');
        Some(if self.v2 {
            PathBuf::from(format!("/sys/fs/cgroup{path}/{v2_file}"))
        } else {
            PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}/{v1_file}"))
        })
    }

    /// The trimmed contents of the file, if it exists.
    fn try_read(&self, controller: &str, v1_file: &str, v2_file: &str) -> Option<String> {
        let path = self.file(controller, v1_file, v2_file)?;
        fs::read_to_string(path).ok().map(|s| s.trim().to_string())
    }

    #[track_caller]
    fn read(&self, controller: &str, v1_file: &str, v2_file: &str) -> String {
        let path = self
            .file(controller, v1_file, v2_file)
            .unwrap_or_else(|| panic!("no {controller} hierarchy in {}", self.lines));
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .to_string()
    }
}

/// Creates and starts `id` from the current config (which should run something long-lived),
/// waits for it to run and returns its cgroups.
#[track_caller]
fn start(f: &Fixture, id: &str) -> Cgroups {
    f.create_with(id, &[]).ok();
    f.rt(&["start", id]).ok();
    let state = f.wait_status(id, "running");
    Cgroups::of(state["pid"].as_i64().unwrap())
}

/// Kills and deletes `id`, then checks that nothing of it (cgroup dirs included) is left.
#[track_caller]
fn remove(f: &Fixture, id: &str) {
    f.rt(&["delete", "--force", id]).ok();
    assert_nothing_left(f, id);
}

/// Which of `v1_files` (on v1) or `v2_files` (on v2) a container's `controller` cgroup has on
/// this kernel, found with a throwaway container without limits. Some files depend on kernel
/// config and on the I/O scheduler (blkio/io weights), or on a controller the host may not have
/// at all (hugetlb), so the tests that need them skip when the kernel offers none.
fn probe(
    f: &mut Fixture,
    controller: &str,
    v1_files: &[&str],
    v2_files: &[&str],
) -> Option<String> {
    let saved = f.config["linux"]["resources"].clone();
    f.config["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    f.set_args(&["sleep", "100"]);
    let id = f.another_id("probe");
    let cgroups = start(f, &id);
    let names = if cgroups.v2 { v2_files } else { v1_files };
    let found = names
        .iter()
        .find(|name| {
            cgroups
                .file(controller, name, name)
                .is_some_and(|p| p.exists())
        })
        .map(|name| name.to_string());
    remove(f, &id);
    f.config["linux"]["resources"] = saved;
    found
}

fn set_resources(f: &mut Fixture, extra: Value) {
    let mut resources = json!({"devices": [{"allow": false, "access": "rwm"}]});
    for (key, value) in extra.as_object().unwrap() {
        resources[key] = value.clone();
    }
    f.config["linux"]["resources"] = resources;
}

container_test! {
    fn memory_limits_land_in_the_cgroup(f) {
        let v2 = host_is_v2();
        let mut memory = json!({
            "limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20
        });
        if !v2 {
            memory["swappiness"] = json!(10); // cgroup v2 has no per-cgroup swappiness
        }
        set_resources(&mut f, json!({"memory": memory}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        assert_eq!(cg.read("memory", "memory.limit_in_bytes", "memory.max"), (64 << 20).to_string());
        assert_eq!(cg.read("memory", "memory.soft_limit_in_bytes", "memory.low"), (32 << 20).to_string());
        // The swap file is absent when the kernel does not account swap; v1's memsw limit is
        // memory+swap, v2's swap.max is the swap alone.
        if let Some(swap) = cg.try_read("memory", "memory.memsw.limit_in_bytes", "memory.swap.max") {
            let want: u64 = if cg.v2 { 64 << 20 } else { 128 << 20 };
            assert_eq!(swap, want.to_string());
        }
        if !cg.v2 {
            assert_eq!(cg.read("memory", "memory.swappiness", ""), "10");
            // On v1 the container's own memory cgroup is what it sees at /sys/fs/cgroup/memory.
            let out = f.rt(&["exec", &id, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]).ok();
            assert_eq!(out.stdout.trim(), (64 << 20).to_string(), "{out}");
        }
        remove(&f, &id);
    }
}

container_test! {
    fn memory_limit_oom_kills_an_allocation_past_it(f) {
        // Swap equal to the limit: no swap to spill into, even on a host that has some.
        set_resources(&mut f, json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}}));
        // busybox dd allocates a bs-sized buffer and fills it from /dev/zero.
        f.set_sh("dd if=/dev/zero of=/dev/null bs=8M count=1 && echo small-ok");
        let out = f.run().ok();
        assert!(out.stdout.contains("small-ok"), "{out}");
        assert_nothing_left(&f, &f.id);

        f.id = f.another_id("big");
        f.set_sh("dd if=/dev/zero of=/dev/null bs=100M count=1 && echo big-ok");
        let out = f.run();
        assert_eq!(out.code(), Some(137), "expected an OOM kill (128+SIGKILL): {out}");
        assert!(!out.stdout.contains("big-ok"), "{out}");
        f.rt(&["delete", "--force", &f.id]).ok();
        assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn pids_limit_caps_forks(f) {
        set_resources(&mut f, json!({"pids": {"limit": 10}}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        assert_eq!(cg.read("pids", "pids.max", "pids.max"), "10");
        let out = f.rt(&["exec", &id, "sh", "-c", "for i in $(seq 20); do sleep 30 & done; echo all-forked"]);
        assert!(!out.stdout.contains("all-forked"), "20 forks succeeded under pids.max 10: {out}");
        assert!(
            out.stderr.contains("fork") || out.stderr.contains("Resource temporarily unavailable"),
            "{out}"
        );
        let current: u32 = cg.read("pids", "pids.current", "pids.current").parse().unwrap();
        assert!(current <= 10, "pids.current {current} over the limit");
        remove(&f, &id);
    }
}

container_test! {
    fn cpu_shares_quota_and_cpuset_land_in_the_cgroup(f) {
        set_resources(&mut f, json!({
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"}
        }));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        let shares = cg.read("cpu", "cpu.shares", "cpu.weight");
        // v2 weight from shares, as runc converts it: 1 + ((shares - 2) * 9999) / 262142.
        let want = if cg.v2 { 1 + ((512 - 2) * 9999) / 262142 } else { 512 };
        assert_eq!(shares, want.to_string());
        if cg.v2 {
            assert_eq!(cg.read("cpu", "", "cpu.max"), "50000 100000");
        } else {
            assert_eq!(cg.read("cpu", "cpu.cfs_quota_us", ""), "50000");
            assert_eq!(cg.read("cpu", "cpu.cfs_period_us", ""), "100000");
        }
        assert_eq!(cg.read("cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
        let out = f.rt(&["exec", &id, "grep", "Cpus_allowed_list", "/proc/self/status"]).ok();
        assert_eq!(out.stdout.split_whitespace().nth(1), Some("0"), "{out}");
        remove(&f, &id);
    }
}

container_test! {
    fn blkio_weight_lands_in_the_cgroup(f) {
        // The weight file exists only with a weight-aware I/O scheduler or io.cost (CFQ's
        // blkio.weight is gone since Linux 5.0; BFQ's is blkio.bfq.weight / io.bfq.weight), so
        // on a kernel that offers none this test checks only that weight 0 (unset) is accepted.
        let Some(file) = probe(
            &mut f,
            "blkio",
            &["blkio.bfq.weight", "blkio.weight"],
            &["io.bfq.weight", "io.weight"],
        ) else {
            crate::support::skip(
                "blkio_weight_lands_in_the_cgroup",
                "blkio-weight",
                "no blkio/io weight file on this kernel; checking weight 0 only",
            );
            set_resources(&mut f, json!({"blockIO": {"weight": 0}}));
            let out = f.run_sh("echo ran");
            assert!(out.contains("ran"), "{out}");
            assert_nothing_left(&f, &f.id);
            return;
        };
        set_resources(&mut f, json!({"blockIO": {"weight": 500}}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        let text = cg.read("blkio", &file, &file);
        // io.weight and the bfq files read "default <n>" (bfq v1 may print a bare number); v2's
        // io.weight is converted from the 10..1000 blkio range: 1 + (w - 10) * 9999 / 990.
        let want = if file == "io.weight" { 1 + (500 - 10) * 9999 / 990 } else { 500 };
        let got = text.lines().next().unwrap().split_whitespace().last().unwrap();
        assert_eq!(got, want.to_string(), "{file}: {text}");
        remove(&f, &id);
    }
}

/// A loop device over a sparse file in the fixture's directory, with its I/O scheduler set:
/// per-device weights are taken only for a disk whose scheduler has them. Detached on drop.
struct LoopDevice {
    path: String,
    major: u64,
    minor: u64,
}

impl LoopDevice {
    /// None (with the reason) where loop devices or the scheduler are not available.
    fn with_scheduler(f: &Fixture, scheduler: &str) -> Result<LoopDevice, String> {
        let image = f.dir.path().join("loop.img");
        fs::File::create(&image)
            .and_then(|file| file.set_len(16 << 20))
            .map_err(|e| format!("sparse file: {e}"))?;
        let out = std::process::Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image)
            .output()
            .map_err(|e| format!("losetup: {e}"))?;
        if !out.status.success() {
            return Err(format!("losetup: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = path.trim_start_matches("/dev/").to_string();
        let dev = fs::read_to_string(format!("/sys/block/{name}/dev")).unwrap_or_default();
        let (major, minor) = dev.trim().split_once(':').unwrap_or(("", ""));
        let (major, minor) = (major.parse().unwrap_or(0), minor.parse().unwrap_or(0));
        let device = LoopDevice { path, major, minor };
        fs::write(format!("/sys/block/{name}/queue/scheduler"), scheduler)
            .map_err(|e| format!("{path}: no {scheduler} scheduler: {e}", path = device.path))?;
        Ok(device)
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .args(["-d", &self.path])
            .status();
    }
}

container_test! {
    fn per_device_block_io_weight_lands_in_the_cgroup(f) {
        // blockIO.weightDevice: CFQ's blkio.weight_device is gone since Linux 5.0; runc then writes
        // BFQ's blkio.bfq.weight_device (v2: io.bfq.weight), as for blockIO.weight. The kernel takes
        // a per-device weight only for a disk scheduled by BFQ, so the test switches a loop device
        // of its own to it. Fails if nook writes the missing CFQ file (the create fails) or nothing.
        let Some(file) = probe(
            &mut f,
            "blkio",
            &["blkio.bfq.weight_device", "blkio.weight_device"],
            &["io.bfq.weight"],
        ) else {
            crate::support::skip(
                "per_device_block_io_weight_lands_in_the_cgroup",
                "bfq",
                "the kernel has no BFQ or CFQ per-device weight file",
            );
            return;
        };
        let scheduler = if file.contains("bfq") { "bfq" } else { "cfq" };
        let disk = match LoopDevice::with_scheduler(&f, scheduler) {
            Ok(disk) => disk,
            Err(why) => {
                crate::support::skip("per_device_block_io_weight_lands_in_the_cgroup", "bfq", &why);
                return;
            }
        };
        set_resources(&mut f, json!({"blockIO": {
            "weight": 300,
            "weightDevice": [{"major": disk.major, "minor": disk.minor, "weight": 200}]
        }}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        let text = cg.read("blkio", &file, &file);
        let line = format!("{}:{} 200", disk.major, disk.minor);
        assert!(text.lines().any(|l| l.trim() == line), "no {line:?} in {file}: {text}");
        // The cgroup-wide weight goes to the same scheduler's file ("default 300" or "300").
        let weight_file = file.trim_end_matches("_device");
        let text = cg.read("blkio", weight_file, weight_file);
        let got = text.lines().next().unwrap_or("").split_whitespace().last();
        assert_eq!(got, Some("300"), "{weight_file}: {text}");
        remove(&f, &id);
    }
}

container_test! {
    fn hugepage_limit_lands_in_the_cgroup(f) {
        // Absent when the kernel has no hugetlb controller or no 2MB pages: skip then.
        let Some(file) = probe(
            &mut f,
            "hugetlb",
            &["hugetlb.2MB.limit_in_bytes"],
            &["hugetlb.2MB.max"],
        ) else {
            crate::support::skip(
                "hugepage_limit_lands_in_the_cgroup",
                "hugetlb",
                "no hugetlb 2MB limit file on this kernel",
            );
            return;
        };
        set_resources(&mut f, json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let cg = start(&f, &id);
        assert_eq!(cg.read("hugetlb", &file, &file), "0");
        remove(&f, &id);
    }
}

container_test! {
    fn device_rules_deny_a_node_the_container_makes(f) {
        for set in ["bounding", "effective", "permitted"] {
            f.config["process"]["capabilities"][set].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
        }
        // The default config: deny everything, then the runtime's default allow list, which
        // includes /dev/full and lets mknod make any node, but does not allow opening 1:1
        // (/dev/mem's numbers).
        let out = f.run_sh(
            "head -c 1 /dev/full | wc -c; mknod /tmp/mem c 1 1 && echo made; \
             head -c 1 /tmp/mem 2>&1; echo rc=$?",
        );
        assert_eq!(out.lines().next().map(str::trim), Some("1"), "{out}");
        assert!(out.contains("made"), "{out}");
        assert!(out.contains("Operation not permitted"), "{out}");
        assert!(!out.contains("rc=0"), "opened a denied device: {out}");
        assert_nothing_left(&f, &f.id);
    }
}

/// Writes to /dev/kmsg and reads /dev/zero and /dev/null, printing each one's exit status.
const DEVICE_PROBE: &str = "stat -c 'kmsg %t:%T' /dev/kmsg; \
     (echo nook-probe > /dev/kmsg) 2>&1; echo kmsg=$?; \
     (head -c 1 /dev/zero > /dev/null) 2>&1; echo zero=$?; \
     (head -c 1 /dev/null) 2>&1; echo null=$?";

#[track_caller]
fn assert_probe_denied(out: &str) {
    assert!(out.contains("kmsg 1:b"), "/dev/kmsg was not made: {out}");
    assert!(
        out.contains("kmsg=1"),
        "wrote /dev/kmsg under deny all: {out}"
    );
    assert!(
        out.contains("zero=1"),
        "read a listed /dev/zero under deny all: {out}"
    );
    assert!(
        out.contains("null=0"),
        "the default /dev/null rule is gone: {out}"
    );
    assert!(out.contains("Operation not permitted"), "{out}");
}

container_test! {
    fn listed_devices_are_made_but_only_the_device_rules_open_them(f) {
        // Security: `linux.devices` makes nodes; `linux.resources.devices` (plus the runtime's
        // default list) alone decides which may be opened. Under the default "deny all", a listed
        // /dev/kmsg exists but writing it fails with EPERM, in the init and in exec. A listed
        // /dev/zero replaces the default node and, as in runc, its default rule too. Fails if
        // nook allows every listed node (the deny would not hold).
        f.config["linux"]["devices"] = json!([
            {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666},
            {"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}
        ]);
        let out = f.run_sh(DEVICE_PROBE);
        assert_probe_denied(&out);
        f.set_args(&["sleep", "100"]);
        let id = f.another_id("exec");
        start(&f, &id);
        let out = f.rt(&["exec", &id, "sh", "-c", DEVICE_PROBE]).ok();
        assert_probe_denied(&out.stdout);
        remove(&f, &id);
    }
}

/// A cgroup made (and frozen) by the test itself, thawed and removed on drop even when the
/// test fails.
struct FrozenCgroup {
    dir: PathBuf,
    v1: bool,
}

impl FrozenCgroup {
    fn new(dir: PathBuf, v1: bool) -> FrozenCgroup {
        fs::create_dir(&dir).unwrap();
        let frozen = FrozenCgroup { dir, v1 };
        let (file, value) = frozen.freeze_file(true);
        fs::write(frozen.dir.join(file), value).unwrap();
        frozen
    }

    fn freeze_file(&self, frozen: bool) -> (&'static str, &'static str) {
        match (self.v1, frozen) {
            (true, true) => ("freezer.state", "FROZEN"),
            (true, false) => ("freezer.state", "THAWED"),
            (false, true) => ("cgroup.freeze", "1"),
            (false, false) => ("cgroup.freeze", "0"),
        }
    }

    fn still_frozen(&self) -> bool {
        let (file, value) = self.freeze_file(true);
        fs::read_to_string(self.dir.join(file)).is_ok_and(|s| s.trim() == value)
    }
}

impl Drop for FrozenCgroup {
    fn drop(&mut self) {
        let (file, value) = self.freeze_file(false);
        let _ = fs::write(self.dir.join(file), value);
        let _ = fs::remove_dir(&self.dir);
    }
}

/// `create` and `run` with `cgroupsPath` = /`name`, whose cgroup `frozen` froze: both must
/// fail (not hang), naming the freeze, and leave the frozen cgroup as it was and nothing else.
#[track_caller]
fn assert_frozen_refused(f: &mut Fixture, name: &str, frozen: &FrozenCgroup) {
    f.config["linux"]["cgroupsPath"] = json!(format!("/{name}"));
    f.set_args(&["true"]);
    let id = f.id.clone();
    for out in [f.create(), f.run()] {
        let out = out.failed();
        assert!(out.stderr.contains("frozen"), "{out}");
        if !is_runc() {
            assert!(out.stderr.contains(name), "the path is not named: {out}");
        }
        assert_nothing_left(f, &id);
        assert!(frozen.still_frozen(), "the cgroup was thawed or removed");
        // No directory of its own is left in the other hierarchies (the frozen one aside).
        for other in ["pids", "memory", "unified"] {
            let dir = Path::new("/sys/fs/cgroup").join(other).join(name);
            if dir != frozen.dir {
                assert!(!dir.exists(), "{} was left behind", dir.display());
            }
        }
    }
}

container_test! {
    fn a_frozen_cgroup_is_refused_at_once(f) {
        // A cgroupsPath naming a cgroup someone froze: the init would freeze as it joins and the
        // create would wait for it forever. runc refuses it before anything exists ("container's
        // cgroup unexpectedly frozen"); so must nook, leaving the frozen cgroup (not its own) as it
        // found it. A hang fails as "did not finish within 60s". Fails if nook hangs, thaws or
        // removes the cgroup, or leaves anything of the container behind.
        if crate::support::systemd_cgroup() {
            crate::support::skip(
                "a_frozen_cgroup_is_refused_at_once",
                "cgroupfs",
                "a plain cgroupsPath; with --systemd-cgroup systemd makes the scope",
            );
            return;
        }
        let name = format!("nook-frozen-{}", std::process::id());
        if host_is_v2() {
            let frozen = FrozenCgroup::new(Path::new("/sys/fs/cgroup").join(&name), false);
            assert_frozen_refused(&mut f, &name, &frozen);
            return;
        }
        let frozen = FrozenCgroup::new(Path::new("/sys/fs/cgroup/freezer").join(&name), true);
        assert_frozen_refused(&mut f, &name, &frozen);
        drop(frozen);
        // Hybrid host: the init is cloned into the unified hierarchy's cgroup, which freezes too.
        // runc 1.1.5 checks only the v1 freezer and hangs here.
        if is_runc() {
            crate::support::skip(
                "a_frozen_cgroup_is_refused_at_once",
                "runc",
                "runc 1.1.5 hangs on a frozen unified cgroup",
            );
            return;
        }
        let unified = Path::new("/sys/fs/cgroup/unified");
        if unified.join("cgroup.controllers").exists() {
            let frozen = FrozenCgroup::new(unified.join(&name), false);
            assert_frozen_refused(&mut f, &name, &frozen);
            assert!(!Path::new("/sys/fs/cgroup/freezer").join(&name).exists());
        }
    }
}

container_test! {
    fn unified_resources_need_cgroup_v2(f) {
        set_resources(&mut f, json!({"unified": {"pids.max": "7"}}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        if host_is_v2() {
            let cg = start(&f, &id);
            assert_eq!(cg.read("pids", "", "pids.max"), "7");
            remove(&f, &id);
        } else {
            let out = f.create().failed();
            assert!(out.stderr.contains("unified"), "{out}");
            f.rt(&["delete", "--force", &id]);
            assert_nothing_left(&f, &id);
        }
    }
}

container_test! {
    fn deprecated_kernel_memory_is_ignored_with_a_warning(f) {
        // runtime-spec: memory.kernel is deprecated and a runtime MAY ignore it; kernelTCP MAY be
        // ignored where the kernel lacks it, and is written where the v1 file exists.
        set_resources(&mut f, json!({"memory": {
            "limit": 64 << 20, "kernel": 32 << 20, "kernelTCP": 16 << 20
        }}));
        f.set_args(&["sleep", "100"]);
        let id = f.id.clone();
        let out = f.create_with(&id, &[]).ok();
        f.rt(&["start", &id]).ok();
        let state = f.wait_status(&id, "running");
        let cg = Cgroups::of(state["pid"].as_i64().unwrap());
        assert_eq!(cg.read("memory", "memory.limit_in_bytes", "memory.max"), (64 << 20).to_string());
        // runc 1.1.5 leaves kernelTCP unwritten here and writes memory.kernel silently; runc 1.2
        // and later warn about memory.kernel as nook does.
        if !crate::support::is_runc() {
            let tcp = cg.try_read("memory", "memory.kmem.tcp.limit_in_bytes", "-");
            if !cg.v2 && tcp.is_some() {
                assert_eq!(tcp.unwrap(), (16 << 20).to_string());
            }
            assert!(out.stderr.contains("warning") && out.stderr.contains("memory.kernel"), "{out}");
        }
        remove(&f, &id);
    }
}
