//! OCI hooks: programs run at fixed points of the lifecycle with the container state on stdin.
//!
//! | kind            | when                                   | where it runs            |
//! |-----------------|----------------------------------------|--------------------------|
//! | prestart        | create, with createRuntime (deprecated)| runtime namespaces       |
//! | createRuntime   | create, mounts done, before pivot_root | runtime namespaces       |
//! | createContainer | create, after createRuntime            | container namespaces     |
//! | startContainer  | start, just before execve              | container namespaces     |
//! | poststart       | start, after execve                    | runtime namespaces       |
//! | poststop        | delete, after the container is gone    | runtime namespaces       |
//!
//! Working directory, as runc's: `create` and `run` work in the bundle directory, so their hooks
//! (prestart, createRuntime, and with `run` poststart and poststop) run there; createContainer
//! runs in the rootfs (the init's directory until pivot_root), startContainer in process.cwd;
//! poststart from `start` and poststop from `delete` in the caller's directory.
//!
//! A hook fails when it cannot be started, exits non-zero, or outlives its timeout (it is then
//! killed). The caller decides what a failure means for the lifecycle.

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::Hook;

use crate::sys;

/// The hook kinds nook runs, in lifecycle order.
pub const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{kind} hook {path}: start: {source}")]
    Spawn {
        kind: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{kind} hook {path}: {status}{output}")]
    Failed {
        kind: &'static str,
        path: PathBuf,
        status: String,
        output: String,
    },
    #[error("{kind} hook {path}: killed after its timeout of {secs}s")]
    Timeout {
        kind: &'static str,
        path: PathBuf,
        secs: i64,
    },
    #[error("{kind} hook {path}: timeout must be positive, got {secs}")]
    BadTimeout {
        kind: &'static str,
        path: PathBuf,
        secs: i64,
    },
}

/// Run each hook of one kind in order, stopping at the first failure, in our own working
/// directory.
pub fn run_all(kind: &'static str, hooks: &[Hook], state_json: &str) -> Result<(), HookError> {
    run_all_in(kind, hooks, state_json, None)
}

/// `run_all`, in directory `dir` when given.
pub fn run_all_in(
    kind: &'static str,
    hooks: &[Hook],
    state_json: &str,
    dir: Option<&Path>,
) -> Result<(), HookError> {
    for hook in hooks {
        run_one(kind, hook, state_json, dir)?;
    }
    Ok(())
}

/// Run every hook even when some fail, each failure logged as a warning: runtime-spec 1.3.0
/// for poststop ("the runtime MUST log a warning, but the remaining hooks and lifecycle
/// continue as if the hook had succeeded").
pub fn run_all_warning(kind: &'static str, hooks: &[Hook], state_json: &str, dir: Option<&Path>) {
    for hook in hooks {
        if let Err(e) = run_one(kind, hook, state_json, dir) {
            crate::logging::warn(&e.to_string());
        }
    }
}

fn run_one(
    kind: &'static str,
    hook: &Hook,
    state_json: &str,
    dir: Option<&Path>,
) -> Result<(), HookError> {
    let path = hook.path().clone();
    let spawn_err = |source| HookError::Spawn {
        kind,
        path: path.clone(),
        source,
    };
    if let Some(secs) = hook.timeout() {
        if secs <= 0 {
            return Err(HookError::BadTimeout { kind, path, secs });
        }
    }
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(&path);
    if let Some((argv0, rest)) = args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, argv0);
        cmd.args(rest);
    }
    cmd.env_clear();
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // Output goes to an anonymous file, so a chatty hook can never block on a full pipe.
    let mut output = tempfile_output().map_err(spawn_err)?;
    let out2 = output.try_clone().map_err(spawn_err)?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::from(out2.try_clone().map_err(spawn_err)?))
        .stderr(Stdio::from(out2));
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let finished = match hook.timeout() {
        Some(secs) => wait_with_timeout(pid, Duration::from_secs(secs as u64)),
        None => true,
    };
    if !finished {
        let _ = child.kill();
        let _ = child.wait();
        return Err(HookError::Timeout {
            kind,
            path,
            secs: hook.timeout().unwrap_or_default(),
        });
    }
    let status = child.wait().map_err(spawn_err)?;
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = output.rewind();
    let _ = output.read_to_string(&mut text);
    let text = text.trim();
    Err(HookError::Failed {
        kind,
        path,
        status: status.to_string(),
        output: if text.is_empty() {
            String::new()
        } else {
            format!(", output: {text}")
        },
    })
}

fn tempfile_output() -> std::io::Result<std::fs::File> {
    let fd =
        nix::sys::memfd::memfd_create(c"nook-hook-output", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(std::io::Error::from)?;
    Ok(std::fs::File::from(fd))
}

/// Wait for the process to exit, up to `limit`; false when it is still running.
fn wait_with_timeout(pid: nix::unistd::Pid, limit: Duration) -> bool {
    let Ok(pidfd) = sys::pidfd_open(pid) else {
        return true; // already gone
    };
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    loop {
        match poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: &str) -> Hook {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn state_reaches_stdin_and_success_is_ok() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","cat > {}"]}}"#,
            out.display()
        ));
        run_all("createRuntime", &[h], r#"{"id":"x"}"#).unwrap();
        assert_eq!(std::fs::read_to_string(out).unwrap(), r#"{"id":"x"}"#);
    }

    #[test]
    fn failure_names_the_hook_and_carries_its_output() {
        let h = hook(r#"{"path":"/bin/sh","args":["sh","-c","echo boom >&2; exit 3"]}"#);
        let err = run_all("poststart", &[h], "{}").unwrap_err().to_string();
        assert!(
            err.starts_with("poststart hook /bin/sh: exit status: 3"),
            "{err}"
        );
        assert!(err.contains("boom"), "{err}");
    }

    #[test]
    fn timeout_kills() {
        let h = hook(r#"{"path":"/bin/sleep","args":["sleep","5"],"timeout":1}"#);
        let t = std::time::Instant::now();
        let err = run_all("createContainer", &[h], "{}").unwrap_err();
        assert!(matches!(err, HookError::Timeout { secs: 1, .. }), "{err}");
        assert!(t.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn missing_binary_is_a_spawn_error() {
        let h = hook(r#"{"path":"/nonexistent/hook"}"#);
        let err = run_all("poststop", &[h], "{}").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/hook: start"), "{err}");
    }

    #[test]
    fn env_is_only_the_hooks_own() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let h = hook(&format!(
            r#"{{"path":"/bin/sh","args":["sh","-c","env > {}"],"env":["A=1"]}}"#,
            out.display()
        ));
        run_all("prestart", &[h], "{}").unwrap();
        let env = std::fs::read_to_string(out).unwrap();
        assert!(env.contains("A=1"));
        assert!(!env.contains("HOME="), "{env}");
    }
}
