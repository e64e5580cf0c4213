//! exec: a second process joins a running container's namespaces, mounts and cgroup, with the
//! command line's or a --process file's user, capabilities, env and cwd; its exit status comes
//! back; stopped and paused containers and bad input are refused without touching the container.

use crate::support::{container_test, host_ns, is_nook, pid_alive, Fixture, Outcome};
use serde_json::{json, Value};
use std::fs;
use std::time::{Duration, Instant};

/// Creates and starts `f.id` running `sleep 100`; returns the init's host pid.
fn start_sleeper(f: &mut Fixture) -> i64 {
    f.set_args(&["sleep", "100"]);
    f.create().ok();
    f.rt(&["start", &f.id]).ok();
    let pid = f.state(&f.id)["pid"].as_i64().unwrap();
    assert!(pid_alive(pid));
    pid
}

/// `exec <id> args...` with `flags` before the id.
fn exec_in(f: &Fixture, flags: &[&str], args: &[&str]) -> Outcome {
    let mut all = vec!["exec"];
    all.extend_from_slice(flags);
    all.push(&f.id);
    all.extend_from_slice(args);
    f.rt(&all)
}

/// Asserts `out` is a failure of exec itself: exit 255 with a message. runc (1.1.5 and 1.4) exits
/// 255 when exec itself fails, so its caller can tell that from the process's own exit status.
#[track_caller]
fn exec_failed(out: Outcome) -> Outcome {
    assert_eq!(out.code(), Some(255), "{out}");
    assert!(!out.stderr.trim().is_empty(), "{out}");
    out
}

fn ns_of(pid: i64, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The host pids `ps --format json` lists for `f.id`, sorted.
fn container_pids(f: &Fixture) -> Vec<i64> {
    let out = f.rt(&["ps", "--format", "json", &f.id]).ok();
    let pids: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut pids: Vec<i64> = pids
        .as_array()
        .unwrap_or_else(|| panic!("ps is not an array: {out}"))
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    pids.sort();
    pids
}

/// Reads a pid file, waiting briefly for it to appear.
fn read_pid_file(path: &std::path::Path) -> i64 {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {text:?}"))
}

fn wait_for_file(path: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

container_test! {
    fn exec_sees_the_containers_hostname_namespaces_and_mounts(f) {
        f.config["hostname"] = json!("nook-exec");
        f.config["mounts"].as_array_mut().unwrap().push(json!(
            {"destination": "/mnt/only-here", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}));
        let init = start_sleeper(&mut f);
        let script = "hostname; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; \
                      readlink /proc/self/ns/uts; readlink /proc/self/ns/net; \
                      tr '\\0' ' ' < /proc/1/cmdline; echo; grep -c ' /mnt/only-here tmpfs ' /proc/self/mounts";
        let out = exec_in(&f, &[], &["sh", "-c", script]).ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert_eq!(lines[0], "nook-exec", "{out}");
        for (line, kind) in lines[1..5].iter().zip(["pid", "mnt", "uts", "net"]) {
            assert_eq!(*line, ns_of(init, kind), "exec is not in the init's {kind} namespace: {out}");
            assert_ne!(*line, host_ns(kind), "exec is in the host's {kind} namespace: {out}");
        }
        // In the container's pid namespace pid 1 is the container's init.
        assert_eq!(lines[5], "sleep 100 ", "{out}");
        assert_eq!(lines[6], "1", "the container's tmpfs is not visible: {out}");
        let host = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!host.contains("/mnt/only-here"), "the tmpfs leaked to the host");
    }
}

container_test! {
    fn detached_exec_joins_the_containers_cgroup(f) {
        let init = start_sleeper(&mut f);
        let pid_file = f.dir.path().join("exec.pid");
        exec_in(&f, &["--detach", "--pid-file", pid_file.to_str().unwrap()], &["sleep", "200"]).ok();
        let pid = read_pid_file(&pid_file);
        assert!(pid_alive(pid), "the detached process {pid} is not running");
        let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let init_cgroup = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
        assert_eq!(cgroup, init_cgroup, "exec'd {pid} is not in the init's cgroup");
        assert_ne!(cgroup, fs::read_to_string("/proc/self/cgroup").unwrap(), "the container has no cgroup of its own");
        assert!(container_pids(&f).contains(&pid), "ps does not list the exec'd {pid}");
    }
}

container_test! {
    fn detached_exec_pid_file_holds_the_host_pid(f) {
        let init = start_sleeper(&mut f);
        let pid_file = f.dir.path().join("exec.pid");
        let started = Instant::now();
        exec_in(&f, &["-d", "--pid-file", pid_file.to_str().unwrap()], &["sleep", "200"]).ok();
        assert!(started.elapsed() < Duration::from_secs(30), "a detached exec waited for its process");
        let pid = read_pid_file(&pid_file);
        assert_ne!(pid, init);
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert_eq!(cmdline, b"sleep\x00200\x00", "pid file names the wrong process");
        assert_eq!(ns_of(pid, "pid"), ns_of(init, "pid"));
        assert_eq!(container_pids(&f), { let mut v = vec![init, pid]; v.sort(); v });
    }
}

container_test! {
    fn exec_as_another_user(f) {
        start_sleeper(&mut f);
        let out = exec_in(&f, &["-u", "1000:1000"], &["sh", "-c", "id -u; id -g; id -un"]).ok();
        assert_eq!(out.stdout, "1000\n1000\ntester\n", "{out}");
        let root = exec_in(&f, &[], &["id", "-u"]).ok();
        assert_eq!(root.stdout, "0\n", "{root}");
    }
}

/// The capability set `key` (CapEff, CapBnd...) of the `/proc/self/status` text.
fn cap_set(status: &str, key: &str) -> u64 {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

container_test! {
    fn exec_with_an_extra_capability(f) {
        const NET_RAW: u64 = 1 << 13;
        start_sleeper(&mut f);
        let plain = exec_in(&f, &[], &["cat", "/proc/self/status"]).ok().stdout;
        assert_eq!(cap_set(&plain, "CapEff") & NET_RAW, 0, "CAP_NET_RAW without --cap:\n{plain}");
        let with = exec_in(&f, &["--cap", "CAP_NET_RAW"], &["cat", "/proc/self/status"]).ok().stdout;
        assert_ne!(cap_set(&with, "CapEff") & NET_RAW, 0, "--cap CAP_NET_RAW missing:\n{with}");
        // The rest of the config's set is still there.
        assert_eq!(cap_set(&with, "CapEff") & !NET_RAW, cap_set(&plain, "CapEff"), "{with}");
    }
}

container_test! {
    fn exec_env_and_cwd(f) {
        start_sleeper(&mut f);
        let out = exec_in(&f, &["-e", "FOO=bar", "--cwd", "/tmp"], &["sh", "-c", "echo $FOO; echo $TERM; pwd"]).ok();
        // FOO from the command line, TERM from the config's env.
        assert_eq!(out.stdout, "bar\nxterm\n/tmp\n", "{out}");
        let plain = exec_in(&f, &[], &["sh", "-c", "echo ${FOO:-unset}; pwd"]).ok();
        assert_eq!(plain.stdout, "unset\n/\n", "{plain}");
    }
}

container_test! {
    fn exec_with_a_process_file(f) {
        start_sleeper(&mut f);
        let process = json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000},
            "args": ["sh", "-c", "echo $FROM; id -u; id -g; pwd"],
            "env": ["PATH=/bin", "FROM=process-file"],
            "cwd": "/home/tester",
            "noNewPrivileges": true
        });
        let file = f.dir.path().join("process.json");
        fs::write(&file, process.to_string()).unwrap();
        let out = f.rt(&["exec", "--process", file.to_str().unwrap(), &f.id]).ok();
        assert_eq!(out.stdout, "process-file\n1000\n1000\n/home/tester\n", "{out}");
    }
}

container_test! {
    fn exec_returns_the_exit_status(f) {
        start_sleeper(&mut f);
        let out = exec_in(&f, &[], &["sh", "-c", "exit 5"]);
        assert_eq!(out.code(), Some(5), "{out}");
        assert_eq!(exec_in(&f, &[], &["true"]).code(), Some(0));
        assert_eq!(f.state(&f.id)["status"], "running", "an exec'd exit stopped the container");
    }
}

container_test! {
    fn exec_into_a_stopped_container_fails(f) {
        f.set_args(&["true"]);
        f.create().ok();
        f.rt(&["start", &f.id]).ok();
        f.wait_status(&f.id, "stopped");
        let marker = f.rootfs().join("tmp/ran");
        exec_failed(exec_in(&f, &[], &["touch", "/tmp/ran"]));
        assert!(!marker.exists(), "the exec ran in a stopped container");
        assert_eq!(f.state(&f.id)["status"], "stopped");
    }
}

container_test! {
    fn exec_into_a_paused_container_needs_ignore_paused(f) {
        let init = start_sleeper(&mut f);
        f.rt(&["pause", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "paused");
        let marker = f.rootfs().join("tmp/ran");
        exec_failed(exec_in(&f, &[], &["touch", "/tmp/ran"]));
        assert!(!marker.exists(), "the exec ran in a paused container");
        assert_eq!(f.state(&f.id)["status"], "paused");

        // The new process joins the frozen cgroup, so nothing of it runs before resume. runc
        // 1.1.5's exec does not even return until then (its setns helper is frozen too), so
        // resume while the exec is still in flight.
        let pid_file = f.dir.path().join("exec.pid");
        let mut cmd = f.cmd(&[
            "exec", "--ignore-paused", "-d", "--pid-file", pid_file.to_str().unwrap(), &f.id,
            "sh", "-c", "echo ran > /tmp/ran",
        ]);
        let spawned = f.spawn(&mut cmd);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "an exec'd process ran in a paused container");
        assert_eq!(f.state(&f.id)["status"], "paused");
        f.rt(&["resume", &f.id]).ok();
        f.finish(spawned, &cmd).ok();
        assert_eq!(wait_for_file(&marker), "ran\n");
        let pid = read_pid_file(&pid_file);
        assert!(pid > 0 && pid != init, "pid file holds {pid}");
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

/// Asserts `out` is a refused exec that left the running container `f.id` (init `init`) as it was.
#[track_caller]
fn assert_refused_untouched(f: &Fixture, out: Outcome, init: i64, before: &Value) {
    let out = exec_failed(out);
    let after = f.state(&f.id);
    assert_eq!(
        &after, before,
        "a refused exec changed the container: {out}"
    );
    assert_eq!(after["status"], "running");
    assert!(pid_alive(init));
    assert_eq!(
        container_pids(f),
        [init],
        "a refused exec left a process: {out}"
    );
    assert!(
        exec_in(f, &[], &["true"]).status.success(),
        "the container no longer takes execs"
    );
}

container_test! {
    fn exec_with_an_invalid_process_file_fails(f) {
        let init = start_sleeper(&mut f);
        let before = f.state(&f.id);
        let file = f.dir.path().join("broken-process.json");
        fs::write(&file, "{\"args\": [\"true\"], \"cwd\": ").unwrap();
        let out = f.rt(&["exec", "--process", file.to_str().unwrap(), &f.id]);
        // runc 1.1.5 prints only the decoder's error, without the file's name.
        if is_nook() {
            assert!(out.stderr.contains("broken-process.json"), "{out}");
        }
        assert_refused_untouched(&f, out, init, &before);
    }
}

container_test! {
    fn exec_with_a_relative_cwd_fails(f) {
        let init = start_sleeper(&mut f);
        let before = f.state(&f.id);
        let process = json!({
            "user": {"uid": 0, "gid": 0},
            "args": ["touch", "/tmp/ran"],
            "env": ["PATH=/bin"],
            "cwd": "tmp/relative"
        });
        let file = f.dir.path().join("process.json");
        fs::write(&file, process.to_string()).unwrap();
        let out = f.rt(&["exec", "--process", file.to_str().unwrap(), &f.id]);
        let text = out.stderr.to_lowercase();
        assert!(text.contains("cwd") || text.contains("tmp/relative"), "names neither field nor path: {out}");
        assert!(!f.rootfs().join("tmp/ran").exists(), "the process ran");
        assert_refused_untouched(&f, out, init, &before);
    }
}

container_test! {
    fn exec_returns_128_plus_signal_when_the_process_is_killed(f) {
        start_sleeper(&mut f);
        let out = exec_in(&f, &[], &["sh", "-c", "kill -KILL $$"]);
        assert_eq!(out.code(), Some(137), "{out}");
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

container_test! {
    fn foreground_exec_forwards_signals(f) {
        start_sleeper(&mut f);
        let ready = f.rootfs().join("tmp/trapping");
        let mut cmd = f.cmd(&[
            "exec", &f.id, "sh", "-c",
            "trap 'exit 7' TERM; touch /tmp/trapping; while :; do sleep 0.1; done",
        ]);
        let spawned = f.spawn(&mut cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(Instant::now() < deadline, "the exec'd shell never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill on the pid of a child we spawned and have not waited for.
        unsafe { libc::kill(spawned.child.id() as i32, libc::SIGTERM) };
        let out = f.finish(spawned, &cmd);
        assert_eq!(out.code(), Some(7), "SIGTERM did not reach the exec'd process: {out}");
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

container_test! {
    fn exec_additional_gids_and_no_new_privs(f) {
        f.config["process"]["noNewPrivileges"] = json!(false);
        start_sleeper(&mut f);
        let status = |flags: &[&str]| exec_in(&f, flags, &["cat", "/proc/self/status"]).ok().stdout;
        let field = |text: &str, key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}:")))
                .unwrap_or_else(|| panic!("no {key} in {text}"))
                .trim()
                .to_string()
        };
        let plain = status(&[]);
        assert_eq!(field(&plain, "NoNewPrivs"), "0", "{plain}");
        let with = status(&["--no-new-privs", "-u", "1000:1000", "-g", "2000", "-g", "3000"]);
        assert_eq!(field(&with, "NoNewPrivs"), "1", "{with}");
        assert_eq!(field(&with, "Uid"), "1000\t1000\t1000\t1000", "{with}");
        let groups = field(&with, "Groups");
        let mut groups: Vec<&str> = groups.split_whitespace().collect();
        groups.sort();
        assert_eq!(groups, ["2000", "3000"], "{with}");
    }
}

container_test! {
    fn exec_preserve_fds_passes_fd_3(f) {
        use std::os::unix::io::AsRawFd;
        use std::os::unix::process::CommandExt;
        start_sleeper(&mut f);
        let three = f.dir.path().join("three");
        fs::write(&three, "through fd 3\n").unwrap();
        let file = fs::File::open(&three).unwrap();
        let fd = file.as_raw_fd();
        let run = |flags: &[&str]| {
            let mut args = vec!["exec"];
            args.extend_from_slice(flags);
            args.extend_from_slice(&[&f.id, "sh", "-c", "cat <&3 || echo closed"]);
            let mut cmd = f.cmd(&args);
            // SAFETY: dup2 and close are async-signal-safe; the fds are the child's own.
            // Through 103: if the file already is fd 3, dup2(3, 3) would leave its
            // close-on-exec flag set, and the runtime would never see it.
            unsafe {
                cmd.pre_exec(move || {
                    for (from, to) in [(fd, 103), (103, 3)] {
                        if libc::dup2(from, to) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    libc::close(103);
                    Ok(())
                });
            }
            f.exec(cmd).ok().stdout
        };
        assert_eq!(run(&["--preserve-fds", "1"]), "through fd 3\n");
        assert_eq!(run(&[]), "closed\n", "fd 3 leaked into the exec without --preserve-fds");
    }
}

container_test! {
    fn detached_exec_of_a_missing_binary_fails(f) {
        // containerd execs with --detach: a process that never started must be an error, or the
        // shim reports a started process and waits for a pid that is already gone.
        let init = start_sleeper(&mut f);
        let before = f.state(&f.id);
        let pid_file = f.dir.path().join("exec.pid");
        let out = exec_in(&f, &["--detach", "--pid-file", pid_file.to_str().unwrap()], &["/nonexistent"]);
        assert!(out.stderr.contains("/nonexistent"), "the error does not name the binary: {out}");
        assert!(!pid_file.exists(), "a pid file names a process that never ran: {out}");
        assert_refused_untouched(&f, out, init, &before);
    }
}

container_test! {
    fn runtime_failures_of_exec_exit_255_and_the_processs_own_status_passes_through(f) {
        let init = start_sleeper(&mut f);
        let before = f.state(&f.id);
        // The process's own failure is its status, not the runtime's.
        assert_eq!(exec_in(&f, &[], &["sh", "-c", "exit 1"]).code(), Some(1));
        assert_eq!(exec_in(&f, &[], &["sh", "-c", "exit 255"]).code(), Some(255));
        // No such container.
        let out = exec_failed(f.rt(&["exec", "no-such-container", "true"]));
        assert!(out.stderr.contains("does not exist"), "{out}");
        // A program that does not exist, in the foreground and detached.
        let out = exec_in(&f, &[], &["/no/such/program"]);
        assert!(out.stderr.contains("/no/such/program"), "{out}");
        assert_refused_untouched(&f, out, init, &before);
        // A pid file that cannot be written: the process it would name is not left running.
        let pid_file = f.dir.path().join("no-such-dir/exec.pid");
        let out = exec_in(&f, &["--pid-file", pid_file.to_str().unwrap()], &["sleep", "100"]);
        assert_refused_untouched(&f, out, init, &before);
        let out = exec_in(&f, &["-d", "--pid-file", pid_file.to_str().unwrap()], &["sleep", "100"]);
        assert_refused_untouched(&f, out, init, &before);
        // A paused container (without --ignore-paused).
        f.rt(&["pause", &f.id]).ok();
        let out = exec_failed(exec_in(&f, &[], &["true"]));
        assert!(out.stderr.contains("paused"), "{out}");
        f.rt(&["resume", &f.id]).ok();
        // A usage error is not an exec failure: exit 1, as runc's.
        f.rt(&["exec", "--no-such-flag", &f.id, "true"]).failed();
    }
}

container_test! {
    fn exec_with_a_process_file_without_user_runs_as_root(f) {
        f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        start_sleeper(&mut f);
        let process = json!({"args": ["sh", "-c", "id -u; id -g"], "cwd": "/", "env": ["PATH=/bin"]});
        let file = f.dir.path().join("process.json");
        fs::write(&file, process.to_string()).unwrap();
        let out = f.rt(&["exec", "-p", file.to_str().unwrap(), &f.id]).ok();
        assert_eq!(out.stdout, "0\n0\n", "{out}");
    }
}

container_test! {
    fn exec_with_a_process_file_applies_console_size(f) {
        start_sleeper(&mut f);
        let receiver = crate::tty::Receiver::start(&f, "exec");
        let process = json!({
            "terminal": true, "consoleSize": {"height": 27, "width": 83},
            "args": ["sh", "-c", "stty size"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0}
        });
        let file = f.dir.path().join("process.json");
        fs::write(&file, process.to_string()).unwrap();
        // Callers (containerd) always detach an exec that has a console socket.
        f.rt(&["exec", "-d", "--console-socket", receiver.socket(), "-p", file.to_str().unwrap(), &f.id])
            .ok();
        let text = receiver.output();
        assert!(text.lines().any(|l| l == "27 83"), "stty size is not consoleSize: {text:?}");
    }
}
