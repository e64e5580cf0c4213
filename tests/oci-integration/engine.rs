//! Engine features the other topics do not reach: the time namespace and its offsets,
//! `kill --all`, `--no-pivot`, `pause`/`resume`/`ps`, and JSON log lines for failures.

use crate::support::{container_test, is_nook, is_runc};
use serde_json::json;
use std::fs;

fn uptime_secs(text: &str) -> f64 {
    text.split_whitespace().next().unwrap().parse().unwrap()
}

container_test! {
    fn time_namespace_applies_boottime_offset(f) {
        if is_runc() {
            return; // runc 1.1.5 has no time namespace support
        }
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "time"}));
        f.config["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000}});
        let host_before = uptime_secs(&fs::read_to_string("/proc/uptime").unwrap());
        let out = f.run_sh("cat /proc/uptime; readlink /proc/self/ns/time");
        let inside = uptime_secs(&out);
        assert!(inside - host_before >= 864000.0 - 5.0, "{out}");
        assert!(inside - host_before < 864000.0 + 60.0, "{out}");
        let ns = out.lines().nth(1).unwrap();
        assert_ne!(ns, fs::read_link("/proc/self/ns/time").unwrap().to_str().unwrap());
    }
}

container_test! {
    fn time_offsets_without_time_namespace_are_refused(f) {
        if is_runc() {
            crate::support::skip(
                "time_offsets_without_time_namespace_are_refused",
                "runc",
                "runc 1.1.5 has no time namespace support",
            );
            return;
        }
        f.config["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}});
        f.set_args(&["true"]);
        let out = f.run().failed();
        assert!(out.stderr.contains("linux.timeOffsets"), "{out}");
    }
}

container_test! {
    fn kill_all_reaches_every_process(f) {
        // A background child besides the init: --all must reach it too. Without a pid
        // namespace of its own, killing the init alone would leave the child running.
        f.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
        f.set_sh("sleep 100 & echo $! > /tmp/child; wait");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let state = f.wait_status(&f.id, "running");
        assert!(state["pid"].as_i64().unwrap() > 0);
        // Wait until the background child exists.
        let mut pids = Vec::new();
        for _ in 0..100 {
            let out = f.rt(&["ps", "--format", "json", &f.id]).ok();
            pids = serde_json::from_str::<Vec<i64>>(out.stdout.trim()).unwrap();
            if pids.len() >= 2 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(pids.len() >= 2, "expected init and child, got {pids:?}");
        f.rt(&["kill", "--all", &f.id, "KILL"]).ok();
        f.wait_status(&f.id, "stopped");
        for pid in pids {
            let mut gone = false;
            for _ in 0..100 {
                if !std::path::Path::new(&format!("/proc/{pid}")).exists()
                    || fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
                {
                    gone = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            assert!(gone, "pid {pid} survived kill --all");
        }
    }
}

container_test! {
    fn no_pivot_still_confines_the_root(f) {
        f.set_sh("ls /; cat /proc/self/mountinfo | head -1");
        f.write_config();
        let bundle = f.bundle();
        let out = f
            .rt(&["run", "--no-pivot", "--bundle", bundle.to_str().unwrap(), &f.id])
            .ok();
        // The container's / is its rootfs: busybox's bin is there, the host's /work is not.
        assert!(out.stdout.lines().any(|l| l == "bin"), "{out}");
        assert!(!out.stdout.lines().any(|l| l == "work"), "{out}");
    }
}

container_test! {
    fn pause_freezes_and_resume_continues(f) {
        f.set_sh("i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let state = f.wait_status(&f.id, "running");
        let pid = state["pid"].as_i64().unwrap();
        let count_path = format!("/proc/{pid}/root/tmp/count");
        let read = || fs::read_to_string(&count_path).unwrap_or_default().trim().parse::<u64>().unwrap_or(0);
        std::thread::sleep(std::time::Duration::from_millis(300));
        f.rt(&["pause", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "paused");
        let frozen = read();
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_eq!(read(), frozen, "the container made progress while paused");
        f.rt(&["resume", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "running");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while read() <= frozen && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(read() > frozen, "the container did not continue after resume");
        let out = f.rt(&["ps", "--format", "json", &f.id]).ok();
        let pids: Vec<i64> = serde_json::from_str(out.stdout.trim()).unwrap();
        assert!(pids.contains(&pid), "{pids:?} lacks the init {pid}");
        f.rt(&["delete", "--force", &f.id]).ok();
    }
}

container_test! {
    fn failure_ends_in_a_json_error_line(f) {
        let log = f.dir.path().join("log.json");
        let out = f.exec({
            let mut cmd = f.cmd(&["--log", log.to_str().unwrap(), "--log-format", "json", "delete", "no-such-container"]);
            cmd.env_remove("RUST_LOG");
            cmd
        });
        let out = out.failed();
        let text = fs::read_to_string(&log).unwrap_or_default();
        let last = text.lines().last().unwrap_or_else(|| panic!("empty log; {out}"));
        let v: serde_json::Value = serde_json::from_str(last).unwrap();
        assert_eq!(v["level"], "error");
        assert!(v["msg"].as_str().unwrap().contains("does not exist"), "{last}");
        assert!(v["time"].as_str().is_some());
        if is_nook() {
            assert!(v["msg"].as_str().unwrap().contains("no-such-container"), "{last}");
        }
    }
}

/// The debug lines of a --log file: `time="…" level=debug msg="…"` (text) or
/// `{"level":"debug","msg":…,"time":…}` (json). Any other line must be a well-formed one of
/// another level.
fn debug_lines(log: &std::path::Path, json: bool) -> usize {
    let text = fs::read_to_string(log).unwrap_or_default();
    let mut debug = 0;
    for line in text.lines() {
        let level = if json {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(v["msg"].is_string() && v["time"].is_string(), "{line}");
            v["level"]
                .as_str()
                .unwrap_or_else(|| panic!("{line}"))
                .to_string()
        } else {
            let rest = line
                .strip_prefix("time=\"")
                .unwrap_or_else(|| panic!("{line}"));
            let (_, rest) = rest
                .split_once("\" level=")
                .unwrap_or_else(|| panic!("{line}"));
            let (level, msg) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(msg.starts_with("msg=\""), "{line}");
            level.to_string()
        };
        debug += usize::from(level == "debug");
    }
    debug
}

container_test! {
    fn debug_writes_debug_lines_for_every_command(f) {
        f.set_args(&["sleep", "100"]);
        f.write_config();
        let bundle = f.bundle();
        for (format, json) in [("text", false), ("json", true)] {
            let id = f.another_id(format);
            let steps: [(&str, Vec<&str>); 6] = [
                ("create", vec!["create", "--bundle", bundle.to_str().unwrap(), &id]),
                ("start", vec!["start", &id]),
                ("state", vec!["state", &id]),
                ("exec", vec!["exec", &id, "true"]),
                ("kill", vec!["kill", &id, "KILL"]),
                ("delete", vec!["delete", "--force", &id]),
            ];
            for (verb, args) in steps {
                let log = f.dir.path().join(format!("{format}-{verb}.log"));
                let quiet = f.dir.path().join(format!("{format}-{verb}-quiet.log"));
                let mut cmd = f.cmd(&["--debug", "--log", log.to_str().unwrap(), "--log-format", format]);
                cmd.args(&args);
                f.exec(cmd).ok();
                if verb == "state" || verb == "exec" {
                    // Again without --debug: the same command writes no debug line.
                    let mut cmd = f.cmd(&["--log", quiet.to_str().unwrap(), "--log-format", format]);
                    cmd.args(&args);
                    f.exec(cmd).ok();
                    assert_eq!(debug_lines(&quiet, json), 0, "{verb} without --debug");
                }
                if verb == "state" && !is_runc() {
                    // Without --log the debug lines go to stderr, stdout stays the state JSON.
                    let out = f.rt(&["--debug", "--log-format", format, "state", &id]).ok();
                    serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap();
                    let want = if json { r#""level":"debug""# } else { " level=debug msg=" };
                    assert!(out.stderr.contains(want), "{out}");
                }
                if verb == "kill" {
                    f.wait_status(&id, "stopped");
                }
                let n = debug_lines(&log, json);
                // runc 1.1.5 logs debug lines only from the container setup of create and exec.
                if !is_runc() || verb == "create" || verb == "exec" {
                    assert!(n > 0, "{verb} --debug --log-format {format}: no debug line");
                }
            }
        }
    }
}

container_test! {
    fn update_changes_limits_of_a_running_container(f) {
        f.config["linux"]["resources"] = json!({"pids": {"limit": 10}, "memory": {"limit": 50_000_000}});
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "running");
        f.rt(&["update", "--memory", "64m", "--pids-limit", "20", &f.id]).ok();
        let resources = f.dir.path().join("res.json");
        fs::write(&resources, r#"{"cpu": {"quota": 50000, "period": 100000}}"#).unwrap();
        f.rt(&["update", "--resources", resources.to_str().unwrap(), &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        // v1: one line per controller; pure v2: only the "0::" line.
        let v2 = cgroups.lines().all(|l| l.starts_with("0::"));
        let path_in = |controller: &str| {
            cgroups
                .lines()
                .find_map(|l| {
                    let mut parts = l.splitn(3, ':');
                    let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
                    let hit = if v2 { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
                    hit.then(|| path.to_string())
                })
                .unwrap_or_else(|| panic!("no {controller} line in {cgroups}"))
        };
        let read = |controller: &str, v1_file: &str, v2_file: &str| {
            let path = if v2 {
                format!("/sys/fs/cgroup{}/{v2_file}", path_in(controller))
            } else {
                format!("/sys/fs/cgroup/{controller}{}/{v1_file}", path_in(controller))
            };
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim().to_string()
        };
        assert_eq!(read("memory", "memory.limit_in_bytes", "memory.max"), (64 << 20).to_string());
        assert_eq!(read("pids", "pids.max", "pids.max"), "20");
        let quota = read("cpu", "cpu.cfs_quota_us", "cpu.max");
        assert!(quota == "50000" || quota == "50000 100000", "{quota}");
        let bad = f.rt(&["update", "--pids-limit", "notanumber", &f.id]).failed();
        assert!(!bad.stderr.is_empty(), "{bad}");
        assert_eq!(read("pids", "pids.max", "pids.max"), "20", "a refused update changed the limits");
    }
}

container_test! {
    fn tmpcopyup_starts_the_tmpfs_with_the_image_contents(f) {
        // podman adds tmpcopyup to every tmpfs it mounts (--read-only, --tmpfs).
        fs::create_dir_all(f.rootfs().join("etc/skel/sub")).unwrap();
        fs::write(f.rootfs().join("etc/skel/sub/greeting"), "hello\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", f.rootfs().join("etc/skel/pw")).unwrap();
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/etc/skel", "type": "tmpfs", "source": "tmpfs",
            "options": ["rw", "nosuid", "nodev", "tmpcopyup"]}));
        let out = f.run_sh("cat /etc/skel/sub/greeting; readlink /etc/skel/pw; \
                            echo new > /etc/skel/new; grep ' /etc/skel ' /proc/self/mountinfo");
        assert!(out.contains("hello"), "{out}");
        assert!(out.contains("/etc/passwd"), "{out}");
        assert!(out.contains("tmpfs"), "{out}");
        assert!(!f.rootfs().join("etc/skel/new").exists(), "the write went to the image");
    }
}

container_test! {
    fn missing_program_by_path_fails_create(f) {
        // runc stats args[0] at create; callers turn that error into exit code 127.
        f.set_args(&["/no/such/program"]);
        let out = f.create().failed();
        assert!(out.stderr.contains("/no/such/program"), "{out}");
        assert!(f.rt(&["state", &f.id]).status.code() != Some(0), "a failed create left state");
    }
}

container_test! {
    fn zero_blkio_weight_means_unset(f) {
        // docker sends "blockIO": {"weight": 0} for every container.
        f.config["linux"]["resources"] = json!({"blockIO": {"weight": 0}, "cpu": {"shares": 0}});
        let out = f.run_sh("echo ran");
        assert!(out.contains("ran"), "{out}");
    }
}

container_test! {
    fn long_state_root_and_ids_work(f) {
        // docker's root plus a 64-hex id is longer than a unix socket address may be.
        let deep = f.dir.path().join("runtime-runc").join("moby").join("x".repeat(40));
        fs::create_dir_all(&deep).unwrap();
        let id = "a".repeat(64);
        f.set_sh("echo long-ok");
        f.write_config();
        let bundle = f.bundle();
        let mut cmd = std::process::Command::new(crate::support::runtime());
        cmd.arg("--root").arg(&deep).args(["run", "--bundle", bundle.to_str().unwrap(), &id]);
        let out = f.exec(cmd).ok();
        assert!(out.stdout.contains("long-ok"), "{out}");
    }
}

container_test! {
    fn events_report_stats_and_oom(f) {
        f.config["linux"]["resources"] = json!({"memory": {"limit": 33_554_432}, "pids": {"limit": 50}});
        // A child allocates past the limit and is OOM-killed; the init lives on.
        f.set_sh("sleep 1; dd if=/dev/zero of=/dev/null bs=100M count=1; sleep 30");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "running");
        let one = f.rt(&["events", "--stats", &f.id]).ok();
        let v: serde_json::Value = serde_json::from_str(one.stdout.trim()).unwrap();
        assert_eq!(v["type"], "stats", "{one}");
        assert_eq!(v["id"], f.id.as_str());
        assert!(v["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{one}");
        assert!(v["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{one}");
        let mut stream = f.cmd(&["events", "--interval", "100ms", &f.id]);
        let spawned = f.spawn(&mut stream);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut saw_oom = false;
        while std::time::Instant::now() < deadline && !saw_oom {
            std::thread::sleep(std::time::Duration::from_millis(200));
            let text = fs::read_to_string(&spawned.out).unwrap_or_default();
            saw_oom = text.lines().any(|l| l.contains(r#""type":"oom""#));
        }
        f.rt(&["delete", "--force", &f.id]).ok();
        let out = f.finish(spawned, &stream);
        assert!(saw_oom, "no oom event: {out}");
        // runc's Event struct: type and id first, no data on an oom event.
        let oom_line = format!(r#"{{"type":"oom","id":"{}"}}"#, f.id);
        assert!(out.stdout.lines().any(|l| l == oom_line), "{out}");
        let stats_prefix = format!(r#"{{"type":"stats","id":"{}","data":{{"#, f.id);
        assert!(out.stdout.lines().any(|l| l.starts_with(&stats_prefix)), "{out}");
    }
}

/// Where `"key":` first occurs in a JSON line (the keys checked are unique in a stats line).
fn key_at(line: &str, key: &str) -> usize {
    line.find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("no {key:?} in {line}"))
}

container_test! {
    fn events_stats_has_runcs_shape(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "running");
        let out = f.rt(&["events", "--stats", &f.id]);
        f.rt(&["delete", "--force", &f.id]).ok();
        let out = out.ok();
        let line = out.stdout.trim();
        let prefix = format!(r#"{{"type":"stats","id":"{}","data":{{"#, f.id);
        assert!(line.starts_with(&prefix), "{line}");
        // The data object's members in the order runc's types.Stats declares them.
        let order = ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"];
        let at: Vec<usize> = order.iter().map(|k| key_at(line, k)).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "keys out of order: {line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let d = &v["data"];
        for (obj, keys) in [
            (&d["cpu"], &["usage", "throttling"][..]),
            (&d["cpu"]["usage"], &["kernel", "user"][..]),
            (&d["memory"], &["usage", "swap", "kernel", "kernelTCP", "raw"][..]),
            (&d["memory"]["usage"], &["limit", "failcnt"][..]),
            (&d["memory"]["kernelTCP"], &["limit", "failcnt"][..]),
            (&d["pids"], &["current"][..]),
        ] {
            for k in keys {
                assert!(obj.get(k).is_some(), "no {k} in {obj}: {line}");
            }
        }
        for k in ["blkio", "hugetlb", "intel_rdt"] {
            assert!(d[k].is_object(), "{k} is not an object: {line}");
        }
        if std::path::Path::new("/sys/fs/cgroup/cpuset/cpuset.cpus").exists() {
            // cgroup v1: cpuset and per-cpu kernel/user times come from their own files.
            for k in ["cpus", "mems", "cpu_exclusive", "sched_load_balance", "sched_relax_domain_level"] {
                assert!(d["cpuset"].get(k).is_some(), "no cpuset.{k}: {line}");
            }
            for k in ["percpu", "percpu_kernel", "percpu_user"] {
                assert!(d["cpu"]["usage"][k].is_array(), "no cpu.usage.{k}: {line}");
            }
        }
        if !is_runc() {
            // runc 1.1.5 lists only veth interfaces it configured itself (null here); nook
            // reads the container's network namespace, which always has lo.
            let ifaces = d["network_interfaces"].as_array().unwrap_or_else(|| panic!("{line}"));
            assert!(ifaces.iter().any(|i| i["Name"] == "lo" && i.get("RxBytes").is_some()), "{line}");
        }
    }
}

container_test! {
    fn cpu_affinity_io_priority_and_personality_apply(f) {
        if is_runc() {
            return; // runc 1.1.5 predates execCPUAffinity, ioPriority and personality
        }
        f.config["process"]["execCPUAffinity"] = json!({"initial": "1", "final": "0"});
        f.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 7});
        f.config["linux"]["personality"] = json!({"domain": "LINUX32"});
        let out = f.run_sh("grep Cpus_allowed_list /proc/self/status; uname -m; ionice -p $$");
        assert!(out.lines().any(|l| l.split_whitespace().eq(["Cpus_allowed_list:", "0"])), "{out}");
        assert!(out.lines().any(|l| l.trim() == "i686"), "{out}");
        assert!(out.lines().any(|l| l.trim() == "idle"), "{out}");
    }
}

container_test! {
    fn bad_scheduling_values_are_refused_naming_the_field(f) {
        if is_runc() {
            crate::support::skip(
                "bad_scheduling_values_are_refused_naming_the_field",
                "runc",
                "runc 1.1.5 has no process.scheduler",
            );
            return;
        }
        f.set_args(&["true"]);
        f.config["process"]["execCPUAffinity"] = json!({"final": "3-1"});
        let out = f.run().failed();
        assert!(out.stderr.contains("process.execCPUAffinity.final"), "{out}");
        f.config["process"].as_object_mut().unwrap().remove("execCPUAffinity");
        f.config["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 9});
        let out = f.run().failed();
        assert!(out.stderr.contains("process.ioPriority"), "{out}");
        f.config["process"].as_object_mut().unwrap().remove("ioPriority");
        f.config["linux"]["personality"] = json!({"domain": "LINUX32", "flags": ["NO_SUCH_FLAG"]});
        let out = f.run().failed();
        assert!(out.stderr.contains("linux.personality.flags"), "{out}");
        crate::support::assert_nothing_left(&f, &f.id);
    }
}

container_test! {
    fn scheduler_policy_and_nice_apply(f) {
        if is_runc() {
            return; // runc 1.1.5 predates process.scheduler
        }
        f.config["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
        // /proc/self/stat: field 19 is nice, field 41 the policy (SCHED_BATCH = 3).
        let out = f.run_sh("cut -d' ' -f19,41 /proc/self/stat");
        assert_eq!(out.trim(), "5 3", "{out}");
        f.config["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 0});
        f.set_args(&["true"]);
        let out = f.run().failed();
        assert!(out.stderr.contains("process.scheduler.priority"), "{out}");
    }
}

container_test! {
    fn session_keyring_is_fresh_unless_no_new_keyring(f) {
        // /proc/keys is masked by the default config; unmask it to look.
        f.config["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p != "/proc/keys");
        f.set_sh("cat /proc/keys");
        f.write_config();
        let bundle = f.bundle();
        let with = f.rt(&["run", "--bundle", bundle.to_str().unwrap(), &f.id]).ok();
        assert!(
            with.stdout.lines().any(|l| l.contains("keyring") && l.ends_with(&format!("{}: empty", f.id))),
            "no session keyring named after the container: {with}"
        );
        let other = f.another_id("nokeyring");
        let without = f
            .rt(&["run", "--no-new-keyring", "--bundle", bundle.to_str().unwrap(), &other])
            .ok();
        assert!(!without.stdout.contains(&other), "{without}");
    }
}
