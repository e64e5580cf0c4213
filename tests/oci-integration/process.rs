//! The process the container runs: exit status, user, umask, rlimits, capabilities, env, cwd,
//! noNewPrivileges, oomScoreAdj, preserved fds.

use crate::support::{container_test, pid_alive};
use serde_json::json;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};

/// The lines of /proc/self/status starting with `key:`, values only.
fn status_field(status: &str, key: &str) -> String {
    let prefix = format!("{key}:");
    let line = status.lines().find(|l| l.starts_with(&prefix));
    line.unwrap_or_else(|| panic!("no {key} in:\n{status}"))[prefix.len()..]
        .trim()
        .to_string()
}

container_test! {
    fn run_returns_the_exit_status(f) {
        f.set_sh("exit 7");
        assert_eq!(f.run().code(), Some(7));
    }
}

container_test! {
    fn run_returns_zero_for_success(f) {
        f.set_args(&["echo", "done"]);
        let out = f.run();
        assert_eq!(out.code(), Some(0), "{out}");
        assert_eq!(out.stdout, "done\n");
    }
}

container_test! {
    fn run_returns_128_plus_signal_when_the_process_kills_itself(f) {
        // Without a pid namespace sh is not an init, so it can kill itself.
        f.config["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}]);
        f.set_sh("kill -KILL $$");
        let out = f.run();
        assert_eq!(out.code(), Some(137), "{out}");
        assert_eq!(out.status.signal(), None, "the runtime itself must exit, not die: {out}");
    }
}

container_test! {
    fn run_returns_128_plus_signal_when_killed_from_outside(f) {
        f.set_args(&["sleep", "100"]);
        f.write_config();
        let bundle = f.bundle();
        let mut cmd = f.cmd(&["run", "--bundle", bundle.to_str().unwrap(), &f.id]);
        let spawned = f.spawn(&mut cmd);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let out = f.rt(&["state", &f.id]);
            if out.status.success() && out.stdout.contains("\"running\"") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never running: {out}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        f.rt(&["kill", &f.id, "KILL"]).ok();
        let out = f.finish(spawned, &cmd);
        assert_eq!(out.code(), Some(137), "{out}");
        // `run` deletes its container when it exits.
        f.rt(&["state", &f.id]).failed();
    }
}

container_test! {
    fn user_groups_and_umask_apply(f) {
        f.config["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 3000], "umask": 0o027});
        let out = f.run_sh("cat /proc/self/status; echo umask=$(umask); id -u; id -g");
        assert_eq!(status_field(&out, "Uid"), "1000\t1000\t1000\t1000");
        assert_eq!(status_field(&out, "Gid"), "1000\t1000\t1000\t1000");
        let groups = status_field(&out, "Groups");
        let mut groups: Vec<&str> = groups.split_whitespace().collect();
        groups.sort();
        assert_eq!(groups, ["2000", "3000"]);
        assert!(out.contains("umask=0027"), "{out}");
        assert!(out.ends_with("1000\n1000\n"), "{out}");
    }
}

container_test! {
    fn default_umask_is_0022(f) {
        assert_eq!(f.run_sh("umask"), "0022\n");
    }
}

/// A NOFILE limit strictly below the host's hard limit: this host cannot raise it.
fn nofile_below_host() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the rlimit we own.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let hard = lim.rlim_max.min(4096) - 7;
    (hard / 2, hard)
}

container_test! {
    fn rlimit_nofile_applies(f) {
        let (soft, hard) = nofile_below_host();
        f.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]);
        let out = f.run_sh("ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], soft.to_string());
        assert_eq!(lines[1], hard.to_string());
        let limits: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(limits[3..5], [soft.to_string(), hard.to_string()]);
    }
}

const CAP_CHOWN: u64 = 1 << 0;
const CAP_KILL: u64 = 1 << 5;

fn caps_of(out: &str) -> [u64; 5] {
    ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]
        .map(|k| u64::from_str_radix(&status_field(out, k), 16).unwrap())
}

container_test! {
    fn capabilities_are_exactly_the_configured_sets(f) {
        let both = json!(["CAP_KILL", "CAP_CHOWN"]);
        f.config["process"]["capabilities"] = json!({
            "bounding": both, "effective": both, "permitted": both, "inheritable": [], "ambient": []
        });
        let out = f.run_sh("cat /proc/self/status");
        let mask = CAP_KILL | CAP_CHOWN;
        assert_eq!(caps_of(&out), [0, mask, mask, mask, 0], "CapInh/Prm/Eff/Bnd/Amb:\n{out}");
    }
}

container_test! {
    fn inheritable_and_ambient_capabilities_apply(f) {
        let both = json!(["CAP_KILL", "CAP_CHOWN"]);
        f.config["process"]["capabilities"] = json!({
            "bounding": both, "effective": both, "permitted": both,
            "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]
        });
        // As a non-root user only ambient capabilities survive execve.
        f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        let out = f.run_sh("cat /proc/self/status");
        let both = CAP_KILL | CAP_CHOWN;
        assert_eq!(caps_of(&out), [CAP_KILL, CAP_KILL, CAP_KILL, both, CAP_KILL], "{out}");
    }
}

container_test! {
    fn default_capabilities_match_runc_spec(f) {
        // CAP_AUDIT_WRITE(29), CAP_KILL(5), CAP_NET_BIND_SERVICE(10). runc spec lists them as
        // ambient too but leaves inheritable empty, and the kernel only raises an ambient
        // capability that is also inheritable: the config must still run, with no ambient set.
        let out = f.run_sh("cat /proc/self/status");
        let mask = (1 << 29) | CAP_KILL | (1 << 10);
        assert_eq!(caps_of(&out), [0, mask, mask, mask, 0], "{out}");
    }
}

container_test! {
    fn no_new_privileges_is_set(f) {
        let out = f.run_sh("cat /proc/self/status");
        assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    }
}

container_test! {
    fn no_new_privileges_false_leaves_it_clear(f) {
        f.config["process"]["noNewPrivileges"] = json!(false);
        let out = f.run_sh("cat /proc/self/status");
        assert_eq!(status_field(&out, "NoNewPrivs"), "0");
    }
}

container_test! {
    fn oom_score_adj_applies(f) {
        f.config["process"]["oomScoreAdj"] = json!(500);
        assert_eq!(f.run_sh("cat /proc/self/oom_score_adj"), "500\n");
    }
}

container_test! {
    fn missing_cwd_is_created(f) {
        f.config["process"]["cwd"] = json!("/work/deep");
        assert_eq!(f.run_sh("pwd"), "/work/deep\n");
        assert!(f.rootfs().join("work/deep").is_dir());
    }
}

container_test! {
    fn env_is_exactly_the_configured_one(f) {
        f.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
        let out = f.run_sh("env");
        let mut vars: Vec<&str> = out.lines().filter(|l| !l.starts_with("PWD=") && !l.starts_with("SHLVL=")).collect();
        vars.sort();
        // HOME is added from /etc/passwd when the config does not set it (runc does the same).
        assert_eq!(vars, ["EMPTY=", "FOO=bar baz", "HOME=/root", "PATH=/bin"], "{out}");
    }
}

/// Runs the config with `--preserve-fds` flags and host fds 3 (a file) and 4 (another file)
/// opened without O_CLOEXEC for the runtime.
fn run_with_fds(f: &crate::support::Fixture, flags: &[&str]) -> crate::support::Outcome {
    f.write_config();
    let three = f.dir.path().join("three");
    let four = f.dir.path().join("four");
    std::fs::write(&three, "fd3-content\n").unwrap();
    std::fs::write(&four, "fd4-content\n").unwrap();
    let three = std::fs::File::open(three).unwrap();
    let four = std::fs::File::open(four).unwrap();
    let (fd3, fd4) = (three.as_raw_fd(), four.as_raw_fd());
    let bundle = f.bundle();
    let mut args = vec!["run", "--bundle", bundle.to_str().unwrap()];
    args.extend_from_slice(flags);
    args.push(&f.id);
    let mut cmd = f.cmd(&args);
    // SAFETY: dup2 is async-signal-safe; the closure only calls it on fds this process owns.
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in [(fd3, 103), (fd4, 104), (103, 3), (104, 4)] {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            libc::close(103);
            libc::close(104);
            Ok(())
        });
    }
    let out = f.exec(cmd);
    drop((three, four));
    out
}

/// `(fd, target)` pairs from `ls -l /proc/self/fd` run as the container's process (run directly,
/// not under a shell, which may hold fds of its own). The last fd is ls's own directory handle,
/// closed by the time ls reads its link, so its target is empty.
fn fds_of(out: &str) -> Vec<(u32, String)> {
    out.lines()
        .filter(|l| !l.starts_with("total"))
        .map(|l| {
            let (left, target) = l.split_once(" -> ").unwrap_or((l, ""));
            (
                left.rsplit(' ').next().unwrap().parse().unwrap(),
                target.to_string(),
            )
        })
        .collect()
}

container_test! {
    fn preserve_fds_keeps_fd_3_and_closes_the_rest(f) {
        f.set_args(&["ls", "-l", "/proc/self/fd"]);
        let out = run_with_fds(&f, &["--preserve-fds", "1"]).ok();
        let fds = fds_of(&out.stdout);
        let numbers: Vec<u32> = fds.iter().map(|(n, _)| *n).collect();
        // 0-2, the preserved 3, then ls's directory fd as 4: the host's fd 4 was closed.
        assert_eq!(numbers, [0, 1, 2, 3, 4], "{out}");
        assert!(fds[3].1.ends_with("/three"), "fd 3 is not the preserved file: {out}");
    }
}

container_test! {
    fn preserved_fd_is_readable(f) {
        f.set_sh("cat <&3");
        let out = run_with_fds(&f, &["--preserve-fds", "1"]).ok();
        assert_eq!(out.stdout, "fd3-content\n");
    }
}

container_test! {
    fn without_preserve_fds_only_stdio_is_open(f) {
        f.set_args(&["ls", "-l", "/proc/self/fd"]);
        let out = run_with_fds(&f, &[]).ok();
        let numbers: Vec<u32> = fds_of(&out.stdout).iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [0, 1, 2, 3], "{out}");
        assert!(!out.stdout.contains("/three") && !out.stdout.contains("/four"), "{out}");
    }
}

container_test! {
    fn init_dies_with_delete_force_even_if_it_ignores_sigterm(f) {
        f.set_sh("trap '' TERM; while :; do sleep 1; done");
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        let pid = f.state(&f.id)["pid"].as_i64().unwrap();
        f.rt(&["delete", "--force", &f.id]).ok();
        assert!(!pid_alive(pid));
    }
}

container_test! {
    fn a_cwd_only_the_runtime_can_reach_works(f) {
        // runc enters process.cwd before switching to the container's user, so a directory
        // that user cannot search (here /root at 0700, entered by uid 42) still works.
        std::fs::create_dir_all(f.rootfs().join("root")).unwrap();
        std::fs::set_permissions(
            f.rootfs().join("root"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        f.config["process"]["cwd"] = json!("/root");
        f.config["process"]["user"] = json!({"uid": 42, "gid": 42});
        let out = f.run_sh("pwd; id -u; ls . >/dev/null 2>&1 || echo unreadable");
        assert_eq!(out, "/root\n42\nunreadable\n");
    }
}
