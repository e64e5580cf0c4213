//! runc's command line as callers write it: every flag in runc's spelling is taken (never a usage
//! error), `update` takes `-1` as a word of its own, and `kill` takes signal 0 as a probe.

use crate::support::{container_test, is_runc};
use serde_json::json;
use std::fs;

/// True when `out`'s stderr reads as a usage error (clap's or urfave/cli's) rather than as the
/// command's own failure.
fn is_usage_error(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("usage") || s.contains("unexpected argument") || s.contains("not defined")
}

container_test! {
    fn every_runc_flag_spelling_is_taken(f) {
        let missing = f.dir.path().join("no-such-dir");
        let missing = missing.to_str().unwrap();
        // Each line names a container that does not exist (or a bundle that does not): it must
        // fail, or succeed, for that reason and never because a flag was not understood.
        let mut lines: Vec<Vec<&str>> = vec![
            vec!["--debug", "--log-format", "text", "--criu", "/c", "--rootless", "auto", "state", "no-such"],
            vec!["update", "--blkio-weight", "500", "--cpu-period", "100000", "--cpu-quota", "50000",
                 "--cpu-share", "512", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "500",
                 "--cpuset-cpus", "0", "--cpuset-mems", "0", "--kernel-memory", "1m",
                 "--kernel-memory-tcp", "1m", "--memory", "1g", "--memory-reservation", "512m",
                 "--memory-swap", "2g", "--pids-limit", "10", "--l3-cache-schema", "L3:0=f",
                 "--mem-bw-schema", "MB:0=50", "no-such"],
            vec!["update", "--resources", "-", "no-such"],
            vec!["update", "-r", "-", "no-such"],
            vec!["exec", "--console-socket", "/s", "--cwd", "/", "--env", "A=1", "-e", "B=2", "--tty",
                 "--user", "1:1", "--additional-gids", "5", "-g", "6", "--detach", "--pid-file", "/f",
                 "--process-label", "l", "--apparmor", "a", "--no-new-privs", "--cap", "CAP_KILL",
                 "-c", "CAP_CHOWN", "--preserve-fds", "0", "--cgroup", "/", "--ignore-paused",
                 "no-such", "true"],
            vec!["exec", "-t", "-u", "1", "-d", "-p", "/p.json", "no-such"],
            vec!["exec", "--process", "/p.json", "no-such"],
            vec!["create", "--bundle", missing, "--console-socket", "/s", "--pid-file", "/f",
                 "--no-pivot", "--no-new-keyring", "--preserve-fds", "0", "no-such"],
            vec!["create", "-b", missing, "no-such"],
            vec!["run", "--bundle", missing, "--console-socket", "/s", "--detach", "--keep",
                 "--pid-file", "/f", "--no-subreaper", "--no-pivot", "--no-new-keyring",
                 "--preserve-fds", "0", "no-such"],
            vec!["run", "-b", missing, "-d", "no-such"],
            vec!["delete", "--force", "no-such"],
            vec!["delete", "-f", "no-such"],
            vec!["kill", "--all", "no-such", "KILL"],
            vec!["kill", "-a", "no-such", "0"],
            vec!["ps", "--format", "json", "no-such"],
            vec!["ps", "-f", "table", "no-such"],
            vec!["list", "--format", "json", "--quiet"],
            vec!["list", "-f", "table", "-q"],
            vec!["events", "--interval", "1s", "--stats", "no-such"],
            vec!["spec", "--bundle", missing, "--rootless"],
            vec!["spec", "-b", missing],
            vec!["pause", "no-such"],
            vec!["resume", "no-such"],
            vec!["start", "no-such"],
        ];
        if !is_runc() {
            // Added in runc 1.2 to 1.4; runc 1.1.5 does not know them yet.
            lines.extend([
                vec!["update", "--cpu-idle", "1", "--cpu-burst", "1000", "no-such"],
                vec!["exec", "--pidfd-socket", "/p", "no-such", "true"],
                vec!["create", "--pidfd-socket", "/p", "-b", missing, "no-such"],
                vec!["run", "--pidfd-socket", "/p", "-b", missing, "no-such"],
            ]);
        }
        for line in lines {
            let out = f.rt(&line);
            assert!(!is_usage_error(&out.stderr), "a runc flag was not taken: {out}");
        }
    }
}

/// The path of `pid`'s cgroup for `controller` (the v2 one on a pure v2 host), under its mount.
fn cgroup_file(pid: i64, controller: &str, v1_file: &str, v2_file: &str) -> String {
    let lines = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let v2 = lines.lines().all(|l| l.starts_with("0::"));
    let path = lines
        .lines()
        .find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let hit = if v2 {
                ctrls.is_empty()
            } else {
                ctrls.split(',').any(|c| c == controller)
            };
            hit.then(|| path.trim_end_matches('/').to_string())
        })
        .unwrap_or_else(|| panic!("no {controller} line in {lines}"));
    if v2 {
        format!("/sys/fs/cgroup{path}/{v2_file}")
    } else {
        let mount = if controller == "cpu" {
            "cpu,cpuacct"
        } else {
            controller
        };
        let dir = format!("/sys/fs/cgroup/{mount}");
        let dir = if std::path::Path::new(&dir).exists() {
            dir
        } else {
            format!("/sys/fs/cgroup/{controller}")
        };
        format!("{dir}{path}/{v1_file}")
    }
}

fn read(path: &str) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

container_test! {
    fn update_takes_runcs_spelling_and_minus_one_as_a_word(f) {
        f.config["linux"]["resources"] = json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 50_000_000}, "pids": {"limit": 10}
        });
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let pid = f.wait_status(&f.id, "running")["pid"].as_i64().unwrap();
        let memory = cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max");
        let pids = cgroup_file(pid, "pids", "pids.max", "pids.max");
        assert_eq!(read(&pids), "10");
        f.rt(&["update", "--cpu-share", "512", "--memory", "-1", "--memory-swap", "-1",
               "--pids-limit", "-1", &f.id]).ok();
        let unlimited = read(&memory);
        assert!(unlimited == "max" || unlimited.parse::<u64>().is_ok_and(|n| n > 1 << 60), "{unlimited}");
        assert_eq!(read(&pids), "max");
        let shares = cgroup_file(pid, "cpu", "cpu.shares", "cpu.weight");
        if shares.ends_with("cpu.shares") {
            assert_eq!(read(&shares), "512");
        } else {
            assert_ne!(read(&shares), "100", "--cpu-share did not change cpu.weight");
        }
        // A limit again, then -1 once more as a separate word for the other signed flags.
        f.rt(&["update", "--memory", "64m", "--pids-limit", "20", "--cpu-quota", "50000", &f.id]).ok();
        assert_eq!(read(&memory), (64 << 20).to_string());
        f.rt(&["update", "--cpu-quota", "-1", "--memory", "-1", "--memory-swap", "-1", &f.id]).ok();
        let quota = read(&cgroup_file(pid, "cpu", "cpu.cfs_quota_us", "cpu.max"));
        assert!(quota == "-1" || quota.starts_with("max"), "{quota}");
        // Obsolete kernel memory limits are warned about and ignored, as runc does.
        f.rt(&["update", "--kernel-memory", "1m", "--kernel-memory-tcp", "1m", &f.id]).ok();
        // Without resctrl (this host, the VM lane) a schema cannot be applied: refused before
        // anything else changes.
        let out = f.rt(&["update", "--l3-cache-schema", "L3:0=f", "--pids-limit", "30", &f.id]).failed();
        assert!(out.stderr.to_ascii_lowercase().contains("l3"), "{out}");
        assert_eq!(read(&pids), "20", "a refused update changed the limits");
        f.rt(&["update", "--mem-bw-schema", "MB:0=50", &f.id]).failed();
    }
}

container_test! {
    fn kill_0_probes_the_container(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        // Created, then running: the init exists and nothing is sent to it.
        f.rt(&["kill", &f.id, "0"]).ok();
        f.rt(&["start", &f.id]).ok();
        f.rt(&["kill", &f.id, "0"]).ok();
        f.rt(&["kill", "--all", &f.id, "0"]).ok();
        f.rt(&["kill", "-a", &f.id, "0"]).ok();
        assert_eq!(f.state(&f.id)["status"], "running", "signal 0 stopped the container");
        f.rt(&["kill", &f.id, "KILL"]).ok();
        f.wait_status(&f.id, "stopped");
        // Stopped: the init is gone, which a probe reports (runc 1.1.5 and 1.4 alike); with
        // --all there is nothing left to signal, which is not an error.
        let out = f.rt(&["kill", &f.id, "0"]).failed();
        assert!(out.stderr.contains("not running"), "{out}");
        f.rt(&["kill", "--all", &f.id, "0"]).ok();
        f.rt(&["kill", "--all", &f.id, "TERM"]).ok();
        f.rt(&["kill", "no-such", "0"]).failed();
    }
}
