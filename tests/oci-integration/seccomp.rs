//! linux.seccomp: the filter is in force in the container, denies with the configured errno,
//! honours argument conditions, works with and without no_new_privs, hands the notify fd to a
//! seccomp agent, and bad profiles fail `create` cleanly.

use crate::support::{assert_nothing_left, container_test, is_nook, Fixture, Outcome};
use serde_json::{json, Value};
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

/// A profile that allows everything except `syscalls`.
fn allow_all_but(syscalls: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": syscalls})
}

/// mkdir and mkdirat denied with ENOTSUP (95), an errno nothing else here would produce.
fn deny_mkdir() -> Value {
    allow_all_but(json!([
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}
    ]))
}

/// The value of `key:` in the container's /proc/self/status as printed by `grep`.
fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .trim()
        .to_string()
}

const CHECK_MKDIR: &str = "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
     mkdir /tmp/x 2>&1; test -d /tmp/x && echo exists || echo absent; \
     echo written > /tmp/f && cat /tmp/f";

fn assert_mkdir_denied(out: &str) {
    assert_eq!(status_field(out, "Seccomp"), "2", "{out}");
    assert!(
        out.to_lowercase().contains("not supported"),
        "mkdir should fail with ENOTSUP: {out}"
    );
    assert!(out.contains("absent"), "{out}");
    assert!(
        out.contains("written"),
        "other syscalls must still work: {out}"
    );
}

container_test! {
    fn denied_syscall_returns_the_configured_errno(f) {
        f.config["linux"]["seccomp"] = deny_mkdir();
        let out = f.run_sh(CHECK_MKDIR);
        assert_mkdir_denied(&out);
        assert_eq!(status_field(&out, "NoNewPrivs"), "1", "{out}");
    }
}

container_test! {
    fn loaded_without_no_new_privs(f) {
        // Loading without no_new_privs needs CAP_SYS_ADMIN, which this user never has: the
        // runtime must load the filter while it still holds it, and must not set no_new_privs.
        f.config["process"]["noNewPrivileges"] = json!(false);
        f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        f.config["linux"]["seccomp"] = deny_mkdir();
        let out = f.run_sh(CHECK_MKDIR);
        assert_mkdir_denied(&out);
        assert_eq!(status_field(&out, "NoNewPrivs"), "0", "{out}");
    }
}

container_test! {
    fn argument_conditions_select_the_calls(f) {
        // kill is denied only for SIGUSR1 (EQ on arg 1); chmod only when the mode has the
        // setuid bit (MASKED_EQ on the mode argument, whose index differs per syscall).
        let setuid = 0o4000;
        let masked = |index: u32| json!([{"index": index, "value": setuid, "valueTwo": setuid, "op": "SCMP_CMP_MASKED_EQ"}]);
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": masked(1)},
            {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "args": masked(2)}
        ]));
        let out = f.run_sh(
            "kill -USR1 $$ 2>/dev/null || echo usr1-denied; kill -0 $$ && echo zero-allowed; \
             touch /tmp/f; chmod 4755 /tmp/f 2>/dev/null || echo suid-denied; \
             chmod 755 /tmp/f && echo plain-allowed; stat -c %a /tmp/f");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines, ["usr1-denied", "zero-allowed", "suid-denied", "plain-allowed", "755"], "{out}");
    }
}

/// `create` must fail with exit 1, name `field` (nook; runc's wording differs) and leave nothing.
#[track_caller]
fn assert_refused(f: &Fixture, out: Outcome, field: &str) {
    let out = out.failed();
    if is_nook() {
        assert!(
            out.stderr.contains(field),
            "stderr should name {field}: {out}"
        );
    }
    assert_nothing_left(f, &f.id);
}

container_test! {
    fn unknown_action_is_refused(f) {
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_EXPLODE"}
        ]));
        let out = f.create();
        assert_refused(&f, out, "linux.seccomp.syscalls[1].action");
    }
}

container_test! {
    fn argument_index_past_five_is_refused(f) {
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}
        ]));
        let out = f.create();
        assert_refused(&f, out, "linux.seccomp.syscalls[0].args[0].index");
    }
}

container_test! {
    fn unknown_architecture_is_refused(f) {
        f.config["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_PDP11"]});
        let out = f.create();
        assert_refused(&f, out, "linux.seccomp.architectures[1]");
    }
}

container_test! {
    fn notify_without_a_listener_is_refused(f) {
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}
        ]));
        let out = f.create();
        assert_refused(&f, out, "linux.seccomp.listenerPath");
    }
}

/// Receive one message with one fd over an accepted connection.
fn receive_state_and_fd(listener: &UnixListener) -> (Value, OwnedFd) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let (conn, _) = listener
        .accept()
        .expect("the runtime connects to listenerPath");
    let mut buf = vec![0u8; 1 << 16];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut buf)];
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg from the runtime");
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: SCM_RIGHTS just installed these fds in this process; nothing else owns them.
            fd = fds.first().map(|&raw| unsafe { OwnedFd::from_raw_fd(raw) });
        }
    }
    let len = msg.bytes;
    let state: Value = serde_json::from_slice(&buf[..len]).expect("the state is JSON");
    (state, fd.expect("an fd with SCM_RIGHTS"))
}

container_test! {
    fn notify_hands_the_fd_to_the_agent(f) {
        // A one-shot agent: receive the fd and the state, then answer the first notification
        // (a mkdir) with success without creating anything.
        let socket = f.dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let agent = std::thread::spawn(move || {
            use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
            let (state, fd) = receive_state_and_fd(&listener);
            let req = ScmpNotifReq::receive(fd.as_raw_fd()).expect("a notification");
            let name = req.data.syscall.get_name().unwrap();
            ScmpNotifResp::new_val(req.id, 0, ScmpNotifRespFlags::empty())
                .respond(fd.as_raw_fd())
                .expect("answer the notification");
            (state, name)
        });
        let mut profile = allow_all_but(json!([
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}
        ]));
        profile["listenerPath"] = json!(socket);
        profile["listenerMetadata"] = json!("agent-metadata");
        f.config["linux"]["seccomp"] = profile;
        let out = f.run_sh("mkdir /tmp/x && echo made; test -d /tmp/x && echo exists || echo absent");
        assert_eq!(out, "made\nabsent\n", "the agent's answer should stand in for mkdir");
        let (state, name) = agent.join().unwrap();
        assert!(name == "mkdir" || name == "mkdirat", "{name}");
        assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
        assert_eq!(state["metadata"], "agent-metadata", "{state}");
        assert_eq!(state["state"]["id"], json!(f.id), "{state}");
        assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{state}");
        assert!(state["ociVersion"].is_string(), "{state}");
    }
}

container_test! {
    fn start_container_hooks_run_under_the_filter(f) {
        // The hook is a program from the image: it must never run without the filter.
        f.config["linux"]["seccomp"] = deny_mkdir();
        f.config["hooks"] = json!({"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
            "grep Seccomp: /proc/self/status > /hook.out; mkdir /hook-dir 2>> /hook.out; true"]}]});
        f.run_sh("true");
        let out = std::fs::read_to_string(f.rootfs().join("hook.out")).unwrap();
        assert_eq!(status_field(&out, "Seccomp"), "2", "{out}");
        assert!(out.to_lowercase().contains("not supported"), "{out}");
        assert!(!f.rootfs().join("hook-dir").exists());
    }
}

/// A static program for the rootfs that makes the raw syscalls named by number on its command
/// line and prints `nr=ret/errno` for each (busybox cannot make an arbitrary syscall).
const SYSCALL_PROBE: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long nr = strtol(argv[i], 0, 10);
        errno = 0;
        long ret = syscall(nr, "/tmp/probe-dir", 0755, 0, 0, 0, 0);
        printf("%ld=%ld/%d\n", nr, ret, ret < 0 ? errno : 0);
    }
    return 0;
}
"#;

/// Compiles the probe into the rootfs; false (a counted skip of `test`) where there is no gcc
/// (the cgroup v2 VM's initramfs).
#[must_use]
fn build_syscall_probe(f: &Fixture, test: &str) -> bool {
    let src = f.dir.path().join("probe.c");
    std::fs::write(&src, SYSCALL_PROBE).unwrap();
    let out = match std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(f.rootfs().join("probe"))
        .arg(&src)
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::support::skip(test, "gcc", "no gcc to build the syscall probe");
            return false;
        }
        Err(e) => panic!("run gcc: {e}"),
    };
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// What a static glibc program and either runtime's last steps before execve use.
const COMMON_SYSCALLS: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "fstat",
    "newfstatat",
    "statx",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "readv",
    "writev",
    "access",
    "faccessat",
    "faccessat2",
    "pipe2",
    "sched_yield",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "getpid",
    "gettid",
    "tgkill",
    "kill",
    "futex",
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "socket",
    "connect",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "wait4",
    "uname",
    "fcntl",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "readlink",
    "readlinkat",
    "umask",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "setgroups",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "sigaltstack",
    "set_tid_address",
    "set_robust_list",
    "rseq",
    "getrandom",
    "sched_getaffinity",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "eventfd2",
    "pidfd_open",
    "stat",
    "lstat",
    "statfs",
    "fstatfs",
    "poll",
    "ppoll",
    "pselect6",
    "pread64",
    "pwrite64",
    "setsid",
    "getpgrp",
    "setpgid",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "sched_getparam",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "mount",
    "umount2",
    "fchown",
    "fchmod",
    "unlinkat",
    "renameat",
    "pidfd_send_signal",
    "close_range",
    "clone",
    "clone3",
    "membarrier",
    "mlock",
    "munlock",
];

container_test! {
    fn syscalls_newer_than_the_profile_get_enosys(f) {
        // Default EPERM; x86_64 numbers: mkdir 83 (listed, denied), getppid 110 (not listed,
        // below the highest listed), 1000 (above every syscall the profile names).
        if !build_syscall_probe(&f, "syscalls_newer_than_the_profile_get_enosys") {
            return;
        }
        let mut syscalls = vec![json!({"names": COMMON_SYSCALLS, "action": "SCMP_ACT_ALLOW"})];
        syscalls.push(json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}));
        f.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": syscalls
        });
        f.set_args(&["/probe", "1000", "83", "110"]);
        let out = f.run().ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines, ["1000=-1/38", "83=-1/1", "110=-1/1"], "{out}");
    }
}

container_test! {
    fn enosys_for_new_syscalls_is_not_added_when_the_default_allows(f) {
        // With an allowing default the kernel's own answer shows: ENOSYS from the kernel for
        // 1000, success for getppid; the denied mkdir keeps its errno.
        if !build_syscall_probe(&f, "enosys_for_new_syscalls_is_not_added_when_the_default_allows") {
            return;
        }
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}
        ]));
        f.set_args(&["/probe", "1000", "83"]);
        let out = f.run().ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines, ["1000=-1/38", "83=-1/95"], "{out}");
    }
}

container_test! {
    fn notify_works_behind_the_enosys_prefix(f) {
        // Default EPERM, so the filter carries the -ENOSYS prefix and is loaded with the
        // listener flag by hand: the agent must still get the fd and answer mkdir (83).
        if !build_syscall_probe(&f, "notify_works_behind_the_enosys_prefix") {
            return;
        }
        let socket = f.dir.path().join("agent.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let agent = std::thread::spawn(move || {
            use libseccomp::{ScmpNotifReq, ScmpNotifResp, ScmpNotifRespFlags};
            let (_, fd) = receive_state_and_fd(&listener);
            let req = ScmpNotifReq::receive(fd.as_raw_fd()).expect("a notification");
            ScmpNotifResp::new_val(req.id, 7, ScmpNotifRespFlags::empty())
                .respond(fd.as_raw_fd())
                .expect("answer the notification");
            req.data.syscall.get_name().unwrap()
        });
        f.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "listenerPath": socket,
            "syscalls": [
                {"names": COMMON_SYSCALLS, "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}
            ]
        });
        f.set_args(&["/probe", "83", "1000"]);
        let out = f.run().ok();
        assert_eq!(agent.join().unwrap(), "mkdir");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines, ["83=7/0", "1000=-1/38"], "{out}");
    }
}

/// A deny-by-default profile in the shape `oci-runtime-tool generate` writes: a long allow list
/// of what programs commonly call, which lists no close_range (nor most newer calls). Whatever
/// the runtime itself still does after loading the filter must be in such a list, or fail.
fn deny_by_default_allowing_common_calls() -> Value {
    const COMMON: &[&str] = &[
        "accept",
        "accept4",
        "access",
        "arch_prctl",
        "bind",
        "brk",
        "capget",
        "capset",
        "chdir",
        "chmod",
        "chown",
        "clock_gettime",
        "clock_nanosleep",
        "clone",
        "close",
        "connect",
        "dup",
        "dup2",
        "dup3",
        "epoll_create1",
        "epoll_ctl",
        "epoll_pwait",
        "epoll_wait",
        "execve",
        "exit",
        "exit_group",
        "faccessat",
        "faccessat2",
        "fchdir",
        "fchmod",
        "fchown",
        "fcntl",
        "fork",
        "fstat",
        "fstatfs",
        "futex",
        "getcwd",
        "getdents64",
        "getegid",
        "geteuid",
        "getgid",
        "getgroups",
        "getpgrp",
        "getpid",
        "getppid",
        "getrandom",
        "getresgid",
        "getresuid",
        "getrlimit",
        "gettid",
        "gettimeofday",
        "getuid",
        "ioctl",
        "kill",
        "lseek",
        "lstat",
        "madvise",
        "mkdir",
        "mkdirat",
        "mmap",
        "mprotect",
        "munmap",
        "nanosleep",
        "newfstatat",
        "open",
        "openat",
        "pipe",
        "pipe2",
        "poll",
        "ppoll",
        "prctl",
        "pread64",
        "prlimit64",
        "pselect6",
        "read",
        "readlink",
        "readlinkat",
        "readv",
        "recvfrom",
        "recvmsg",
        "rseq",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sched_getaffinity",
        "sched_yield",
        "select",
        "sendfile",
        "sendmsg",
        "sendto",
        "set_robust_list",
        "set_tid_address",
        "setgid",
        "setgroups",
        "setpgid",
        "setresgid",
        "setresuid",
        "setsid",
        "setuid",
        "sigaltstack",
        "socket",
        "stat",
        "statfs",
        "statx",
        "tgkill",
        "umask",
        "uname",
        "unlink",
        "unlinkat",
        "vfork",
        "wait4",
        "waitid",
        "write",
        "writev",
    ];
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": COMMON, "action": "SCMP_ACT_ALLOW"}]
    })
}

/// The init and an exec'd process both run under the deny-by-default profile.
fn runs_under_deny_by_default(f: &mut Fixture, no_new_privs: bool) {
    f.config["process"]["noNewPrivileges"] = json!(no_new_privs);
    f.config["linux"]["seccomp"] = deny_by_default_allowing_common_calls();
    f.set_args(&["sh", "-c", "echo started > /tmp/started; sleep 100"]);
    f.create().ok();
    f.rt(&["start", &f.id]).ok();
    f.wait_status(&f.id, "running");
    let out = f
        .rt(&[
            "exec",
            &f.id,
            "sh",
            "-c",
            "cat /tmp/started; grep Seccomp: /proc/self/status",
        ])
        .ok();
    assert_eq!(out.stdout, "started\nSeccomp:\t2\n", "{out}");
    f.rt(&["delete", "--force", &f.id]).ok();
}

container_test! {
    fn deny_by_default_profile_runs_with_no_new_privs(f) {
        runs_under_deny_by_default(&mut f, true);
    }
}

container_test! {
    fn deny_by_default_profile_runs_without_no_new_privs(f) {
        runs_under_deny_by_default(&mut f, false);
    }
}

container_test! {
    fn with_no_new_privs_execve_is_the_only_call_after_the_filter(f) {
        // Every call but the few a static busybox `true` makes (and execve) kills the process:
        // any call the runtime made after loading the filter would end the container.
        if crate::support::is_runc() {
            // runc 1.1.5 still opens and writes its exec fifo after loading the filter.
            crate::support::skip(
                "with_no_new_privs_execve_is_the_only_call_after_the_filter",
                "runc",
                "runc 1.1.5 opens and writes its exec fifo after the filter",
            );
            return;
        }
        const TRUE_NEEDS: &[&str] = &[
            "arch_prctl", "brk", "execve", "exit", "exit_group", "getrandom", "getuid",
            "mprotect", "prctl", "prlimit64", "readlink", "rseq", "rt_sigreturn",
            "set_robust_list", "set_tid_address",
        ];
        f.config["process"]["noNewPrivileges"] = json!(true);
        f.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": TRUE_NEEDS, "action": "SCMP_ACT_ALLOW"}]
        });
        f.set_args(&["true"]);
        let out = f.run();
        assert_eq!(out.code(), Some(0), "{out}");
    }
}

container_test! {
    fn a_call_the_program_is_denied_is_the_programs_error_not_a_setup_error(f) {
        // The profile denies getcwd, and without no_new_privs the filter cannot wait for the
        // handshake. nook's own cwd check runs before the filter, so the container starts and
        // only the program meets the denial: no misleading "process.cwd ... resolves outside the
        // container root" from setup (which an older nook reported).
        if crate::support::is_runc() {
            // runc 1.1.5 checks the cwd after loading this filter and fails as nook used to.
            crate::support::skip(
                "a_call_the_program_is_denied_is_the_programs_error_not_a_setup_error",
                "runc",
                "runc 1.1.5 verifies the cwd under the filter",
            );
            return;
        }
        f.config["process"]["noNewPrivileges"] = json!(false);
        f.config["linux"]["seccomp"] = allow_all_but(json!([
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}
        ]));
        f.set_sh("echo started; pwd -P");
        let out = f.run();
        assert!(out.stdout.starts_with("started\n"), "{out}");
        assert!(!out.stderr.contains("process.cwd"), "{out}");
    }
}
