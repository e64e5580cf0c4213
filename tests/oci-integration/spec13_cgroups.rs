//! runtime-spec 1.3 fields and runc 1.2+ flags beyond the basics: `linux.intelRdt` (resctrl),
//! reserved hugetlb limits, PSI in `events`, `exec --cgroup`, and `update`'s cpu burst, idle and
//! realtime flags. Each effect is read back on the host (cgroup and resctrl files) or from inside.
//! What needs hardware or kernel features a host lacks is checked as a refusal there, or
//! skipped visibly (support::skip) where the refusal is not the point.

use crate::support::{
    assert_failed_create_left_nothing, assert_nothing_left, container_test, is_nook, skip, Fixture,
};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

/// Where resctrl is mounted on this host, if it is.
fn resctrl_mount() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let point = left.split(' ').nth(4)?;
        (right.split(' ').next() == Some("resctrl")).then(|| PathBuf::from(point))
    })
}

/// The host directory of each cgroup `pid` is in, one per /proc/<pid>/cgroup line: (the
/// line's controllers, e.g. "memory" or "" for cgroup2, directory). Found through the host's
/// cgroup mounts, so any layout (v1, hybrid, v2) works.
fn cgroup_dirs(pid: i64) -> Vec<(String, PathBuf)> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount_of = |ctrls: &str| -> Option<PathBuf> {
        mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split(' ');
            let (fstype, _, opts) = (r.next()?, r.next()?, r.next()?);
            let point = PathBuf::from(left.split(' ').nth(4)?);
            let hit = match (fstype, ctrls) {
                ("cgroup2", "") => true,
                ("cgroup", c) if !c.is_empty() => {
                    c.split(',').all(|c| opts.split(',').any(|o| o == c))
                }
                _ => false,
            };
            hit.then_some(point)
        })
    };
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mount = mount_of(ctrls)?;
            Some((ctrls.to_string(), mount.join(path.trim_start_matches('/'))))
        })
        .collect()
}

/// The host directory of `pid`'s cgroup holding `controller` (the cgroup2 one on a v2 host).
fn dir_of(pid: i64, controller: &str) -> Option<PathBuf> {
    let dirs = cgroup_dirs(pid);
    let v2 = dirs.iter().all(|(c, _)| c.is_empty());
    dirs.into_iter()
        .find(|(c, _)| {
            if v2 {
                c.is_empty()
            } else {
                c.split(',').any(|c| c == controller)
            }
        })
        .map(|(_, d)| d)
}

/// Starts `f.id` running `sleep 100` and returns the init's host pid.
#[track_caller]
fn start_sleeping(f: &mut Fixture) -> i64 {
    f.set_args(&["sleep", "100"]);
    let id = f.id.clone();
    f.create_with(&id, &[]).ok();
    f.rt(&["start", &id]).ok();
    f.wait_status(&id, "running")["pid"].as_i64().unwrap()
}

#[track_caller]
fn remove(f: &Fixture) {
    f.rt(&["delete", "--force", &f.id]).ok();
    assert_nothing_left(f, &f.id);
}

#[track_caller]
fn read_trimmed(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

container_test! {
    fn intel_rdt_gets_a_resctrl_group_or_a_clear_refusal(f) {
        let Some(mount) = resctrl_mount() else {
            // This host has no resctrl: create must refuse, naming the field and what is
            // missing, and leave nothing. runc 1.1.5 refuses too, in its own words, when a
            // schema is set (an empty intelRdt it ignores, though the spec says to fail).
            f.config["linux"]["intelRdt"] = json!({"l3CacheSchema": "L3:0=f"});
            let out = f.create().failed();
            if is_nook() {
                assert!(out.stderr.contains("linux.intelRdt"), "{out}");
                assert!(out.stderr.contains("no resctrl filesystem"), "{out}");
            }
            assert_failed_create_left_nothing(&f);
            return;
        };
        // With resctrl: a group named by the container id holds the init, gone after delete.
        f.config["linux"]["intelRdt"] = json!({});
        let pid = start_sleeping(&mut f);
        let group = mount.join(&f.id);
        let tasks = read_trimmed(&group.join("tasks"));
        assert!(tasks.lines().any(|l| l == pid.to_string()), "init {pid} not in {tasks}");
        remove(&f);
        assert!(!group.exists(), "{} left behind", group.display());
    }
}

container_test! {
    fn a_bad_intel_rdt_clos_id_is_refused_naming_the_field(f) {
        f.config["linux"]["intelRdt"] = json!({"closID": "../escape"});
        let out = f.create().failed();
        if is_nook() {
            assert!(out.stderr.contains("linux.intelRdt.closID"), "{out}");
        }
        assert_failed_create_left_nothing(&f);
    }
}

container_test! {
    fn update_of_rdt_schemas_needs_resctrl(f) {
        if resctrl_mount().is_some() {
            // Writing a schema the hardware takes needs its cache ids and masks; not guessed.
            skip(
                "update_of_rdt_schemas_needs_resctrl",
                "no-resctrl",
                "resctrl is mounted here; the refusal is for hosts without it",
            );
            return;
        }
        start_sleeping(&mut f);
        let out = f.rt(&["update", "--l3-cache-schema", "L3:0=f", &f.id]).failed();
        if is_nook() {
            assert!(out.stderr.starts_with("--l3-cache-schema: "), "{out}");
            assert!(out.stderr.contains("no resctrl filesystem"), "{out}");
        }
        let out = f.rt(&["update", "--mem-bw-schema", "MB:0=50", &f.id]).failed();
        if is_nook() {
            assert!(out.stderr.starts_with("--mem-bw-schema: "), "{out}");
        }
        // The container is untouched.
        assert_eq!(f.state(&f.id)["status"], "running");
        remove(&f);
    }
}

container_test! {
    fn hugepage_limits_cap_reservations_too(f) {
        let pid = start_sleeping(&mut f);
        let dir = dir_of(pid, "hugetlb");
        remove(&f);
        let files = dir.and_then(|d| {
            ["hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.2MB.rsvd.max"]
                .into_iter()
                .find(|f| d.join(f).exists())
        });
        let Some(rsvd) = files else {
            skip(
                "hugepage_limits_cap_reservations_too",
                "hugetlb",
                "no hugetlb controller with 2MB reservation accounting for the container here",
            );
            return;
        };
        if !is_nook() {
            // runc 1.1.5 writes only the fault limit; 1.2 added the reservation one.
            skip("hugepage_limits_cap_reservations_too", "runc-1.2", "runc 1.1.5 has no rsvd limits");
            return;
        }
        f.config["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "2MB", "limit": 4 << 20}]);
        let pid = start_sleeping(&mut f);
        let dir = dir_of(pid, "hugetlb").unwrap();
        let limit = rsvd.replace(".rsvd", "");
        assert_eq!(read_trimmed(&dir.join(&limit)), "4194304");
        assert_eq!(read_trimmed(&dir.join(rsvd)), "4194304");
        remove(&f);
    }
}

container_test! {
    fn events_reports_pressure_on_cgroup_v2(f) {
        let pid = start_sleeping(&mut f);
        let v2 = cgroup_dirs(pid).iter().all(|(c, _)| c.is_empty());
        // Readable, not only present: with psi=0 on the kernel command line reads fail.
        let has_psi = dir_of(pid, "cpu").is_some_and(|d| fs::read(d.join("cpu.pressure")).is_ok());
        if !v2 || !has_psi {
            remove(&f);
            skip(
                "events_reports_pressure_on_cgroup_v2",
                "cgroup2-psi",
                "PSI is reported on a pure cgroup v2 host with pressure files (runc reads none on v1)",
            );
            return;
        }
        if !is_nook() {
            remove(&f);
            skip("events_reports_pressure_on_cgroup_v2", "runc-1.2", "runc 1.1.5 reports no PSI");
            return;
        }
        let out = f.rt(&["events", "--stats", &f.id]).ok();
        let event: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        for key in ["cpu", "memory", "blkio"] {
            let psi = &event["data"][key]["psi"];
            for part in ["some", "full"] {
                for field in ["avg10", "avg60", "avg300"] {
                    assert!(psi[part][field].is_f64(), "{key}.psi.{part}.{field}: {out}");
                }
                assert!(psi[part]["total"].is_u64(), "{key}.psi.{part}.total: {out}");
            }
        }
        remove(&f);
    }
}

/// Makes `sub` below the container's cgroup in every hierarchy it is in; returns the dirs.
fn make_sub(pid: i64, sub: &str, only: Option<&str>) -> Vec<PathBuf> {
    cgroup_dirs(pid)
        .into_iter()
        .filter(|(c, _)| only.is_none_or(|o| c.split(',').any(|c| c == o)))
        .map(|(c, d)| {
            let dir = d.join(sub);
            fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            // A new v1 cpuset cgroup takes no task until it has cpus and mems.
            if c.split(',').any(|c| c == "cpuset") {
                for file in ["cpuset.cpus", "cpuset.mems"] {
                    fs::write(dir.join(file), fs::read_to_string(d.join(file)).unwrap()).unwrap();
                }
            }
            dir
        })
        .collect()
}

container_test! {
    fn exec_runs_in_an_existing_sub_cgroup(f) {
        let pid = start_sleeping(&mut f);
        let made = make_sub(pid, "sub", None);
        assert!(!made.is_empty());
        let out = f.rt(&["exec", "--cgroup", "sub", &f.id, "cat", "/proc/self/cgroup"]).ok();
        for line in out.stdout.lines() {
            let (ctrls, path) = line.split_once(':').unwrap().1.split_once(':').unwrap();
            // runc 1.1.5 leaves the hybrid host's controller-less cgroup2 line where it was.
            if ctrls.is_empty() && !is_nook() {
                continue;
            }
            assert!(path.ends_with("/sub"), "{ctrls}: {path}\n{out}");
        }
        // The container's own cgroup ("/") is where exec goes anyway.
        f.rt(&["exec", "--cgroup", "/", &f.id, "true"]).ok();
        // Delete takes the sub-cgroups with it.
        remove(&f);
        for dir in made {
            assert!(!dir.exists(), "{} left behind", dir.display());
        }
    }
}

container_test! {
    fn exec_cgroup_with_a_controller_moves_only_that_hierarchy(f) {
        let pid = start_sleeping(&mut f);
        if cgroup_dirs(pid).iter().all(|(c, _)| c.is_empty()) {
            remove(&f);
            skip(
                "exec_cgroup_with_a_controller_moves_only_that_hierarchy",
                "cgroup-v1",
                "the controller:path form is for cgroup v1 hierarchies",
            );
            return;
        }
        make_sub(pid, "msub", Some("memory"));
        let out = f.rt(&["exec", "--cgroup", "memory:msub", &f.id, "cat", "/proc/self/cgroup"]).ok();
        let path_of = |ctrl: &str| {
            out.stdout
                .lines()
                .find_map(|l| {
                    let (ctrls, path) = l.split_once(':')?.1.split_once(':')?;
                    ctrls.split(',').any(|c| c == ctrl).then(|| path.to_string())
                })
                .unwrap_or_else(|| panic!("no {ctrl} line: {out}"))
        };
        assert!(path_of("memory").ends_with("/msub"), "{out}");
        assert!(!path_of("pids").ends_with("/msub"), "{out}");
        remove(&f);
    }
}

container_test! {
    fn exec_into_a_missing_sub_cgroup_fails_and_starts_nothing(f) {
        start_sleeping(&mut f);
        let out = f.rt(&["exec", "--cgroup", "nope", &f.id, "sh", "-c", "echo ran"]);
        assert!(!out.status.success(), "{out}");
        assert!(!out.stdout.contains("ran"), "{out}");
        if is_nook() {
            assert!(out.stderr.contains("exec --cgroup \"nope\""), "{out}");
            assert!(out.stderr.contains("does not exist"), "{out}");
        }
        let ps = f.rt(&["ps", "--format", "json", &f.id]).ok();
        let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap();
        assert_eq!(pids.len(), 1, "only the init runs: {ps}");
        remove(&f);
    }
}

container_test! {
    fn update_sets_cpu_burst_idle_and_realtime_where_the_kernel_has_them(f) {
        let pid = start_sleeping(&mut f);
        let dir = dir_of(pid, "cpu").unwrap();
        let v2 = cgroup_dirs(pid).iter().all(|(c, _)| c.is_empty());
        let burst = if v2 { "cpu.max.burst" } else { "cpu.cfs_burst_us" };
        let cases = [
            ("--cpu-burst", "1000", burst),
            ("--cpu-idle", "1", "cpu.idle"),
            ("--cpu-rt-period", "500000", "cpu.rt_period_us"),
        ];
        for (flag, value, file) in cases {
            // runc 1.1.5 has only the realtime flags.
            if !is_nook() && flag != "--cpu-rt-period" {
                continue;
            }
            let out = f.rt(&["update", flag, value, &f.id]);
            if dir.join(file).exists() {
                out.ok();
                assert_eq!(read_trimmed(&dir.join(file)), value, "{flag}");
            } else {
                // e.g. the realtime files on v2, or on a kernel without CONFIG_RT_GROUP_SCHED.
                let out = out.failed();
                if is_nook() {
                    assert!(out.stderr.starts_with(&format!("{flag}: ")), "{out}");
                }
            }
        }
        remove(&f);
    }
}

container_test! {
    fn exec_into_a_sub_cgroup_the_kernel_refuses_says_why(f) {
        // A v1 cpuset cgroup without cpus takes no task (ENOSPC): the exec fails with the
        // kernel's reason, not a broken connection, and leaves only the init.
        let pid = start_sleeping(&mut f);
        let dirs = cgroup_dirs(pid);
        let Some((_, cpuset)) = dirs.iter().find(|(c, _)| c.split(',').any(|c| c == "cpuset")) else {
            remove(&f);
            skip(
                "exec_into_a_sub_cgroup_the_kernel_refuses_says_why",
                "cgroup-v1",
                "no v1 cpuset hierarchy (a v2 cpuset cgroup inherits its cpus)",
            );
            return;
        };
        fs::create_dir(cpuset.join("empty")).unwrap();
        let out = f.rt(&["exec", "--cgroup", "cpuset:empty", &f.id, "sh", "-c", "echo ran"]);
        assert!(!out.status.success(), "{out}");
        assert!(!out.stdout.contains("ran"), "{out}");
        if is_nook() {
            assert!(out.stderr.contains("No space left on device"), "{out}");
        }
        let ps = f.rt(&["ps", "--format", "json", &f.id]).ok();
        let pids: Vec<i64> = serde_json::from_str(&ps.stdout).unwrap();
        assert_eq!(pids, [pid], "{ps}");
        remove(&f);
        assert!(!cpuset.join("empty").exists());
    }
}
