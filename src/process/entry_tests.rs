//! The order of the last steps of every container process, checked without root: a recording
//! `Calls` stands in for the kernel.

use std::ffi::CString;

use oci_spec::runtime::{LinuxSeccomp, Process};
use serde_json::json;

use super::*;

/// Records each call by name; `refuse` names a call that fails (with EPERM), `cwd_as_root`
/// is what the first, still-root chdir reports (false: permission denied, try as the user).
struct Recorder {
    calls: Vec<String>,
    refuse: Option<&'static str>,
    cwd_as_root: bool,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            calls: Vec::new(),
            refuse: None,
            cwd_as_root: true,
        }
    }

    fn call(&mut self, name: impl Into<String>) -> Result<(), InitError> {
        let name = name.into();
        let refused = self.refuse.is_some_and(|r| name.starts_with(r));
        self.calls.push(name);
        if refused {
            return Err(InitError::Prctl {
                what: "refused by the test",
                source: nix::Error::EPERM,
            });
        }
        Ok(())
    }

    fn names(&self) -> Vec<&str> {
        self.calls.iter().map(String::as_str).collect()
    }
}

impl Calls for Recorder {
    fn set_rlimits(&mut self, _: &[PosixRlimit]) -> Result<(), InitError> {
        self.call("rlimits")
    }
    fn set_io_priority(&mut self, _: &LinuxIOPriority) -> Result<(), InitError> {
        self.call("io_priority")
    }
    fn set_scheduler(&mut self, _: &Scheduler) -> Result<(), InitError> {
        self.call("scheduler")
    }
    fn drop_bounding(&mut self, _: &CapSets) -> Result<(), InitError> {
        self.call("drop_bounding")
    }
    fn enter_cwd(&mut self, _: &Path, may_retry: bool) -> Result<bool, InitError> {
        self.call(if may_retry {
            "cwd_as_root"
        } else {
            "cwd_as_user"
        })?;
        Ok(!may_retry || self.cwd_as_root)
    }
    fn set_keepcaps(&mut self, on: bool) -> Result<(), InitError> {
        self.call(if on { "keepcaps_on" } else { "keepcaps_off" })
    }
    fn switch_user(&mut self, user: &User) -> Result<(), InitError> {
        self.call(format!("switch_user {}", user.uid()))
    }
    fn set_umask(&mut self, _: &User) {
        let _ = self.call("umask");
    }
    fn raise_effective_to_permitted(&mut self) -> Result<(), InitError> {
        self.call("raise_effective")
    }
    fn apply_caps(&mut self, _: &CapSets) -> Result<(), InitError> {
        self.call("apply_caps")
    }
    fn set_no_new_privs(&mut self) -> Result<(), InitError> {
        self.call("no_new_privs")
    }
    fn set_affinity(&mut self, field: &'static str, _: &str) -> Result<(), InitError> {
        self.call(format!("affinity {field}"))
    }
    fn clear_signal_mask(&mut self) {
        let _ = self.call("clear_signal_mask");
    }
    fn load_filter(&mut self, _: seccomp::Prepared, _: &str) -> Result<(), InitError> {
        self.call("load_filter")
    }
    fn run_start_hooks(&mut self, hooks: &[Hook], _: &str) -> Result<(), HookError> {
        let _ = self.call(format!("start_hooks {}", hooks.len()));
        Ok(())
    }
    fn execve(&mut self, path: &CStr, _: &[CString], _: &[CString]) -> nix::Error {
        let _ = self.call(format!("execve {}", path.to_string_lossy()));
        nix::Error::ENOENT
    }
}

fn process(extra: serde_json::Value) -> Process {
    let mut p = json!({"args": ["sh"], "cwd": "/work", "user": {"uid": 1000, "gid": 1000}});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    serde_json::from_value(p).unwrap()
}

fn exec(filter: bool, caps_after_filter: bool, hooks: usize, final_cpus: bool) -> Exec {
    let hook: Hook = serde_json::from_value(json!({"path": "/bin/true"})).unwrap();
    let seccomp: LinuxSeccomp =
        serde_json::from_value(json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
    Exec {
        path: CString::new("/bin/sh").unwrap(),
        args: vec![CString::new("sh").unwrap()],
        env: Vec::new(),
        final_cpus: final_cpus.then(|| "0".to_string()),
        start_hooks: vec![hook; hooks],
        state_json: "{}".into(),
        seccomp: filter.then(|| seccomp::Prepared::new(&seccomp).unwrap()),
        caps_after_filter: caps_after_filter.then(CapSets::default),
    }
}

#[test]
fn the_user_switch_keeps_caps_and_comes_after_the_bounding_set_and_before_the_other_sets() {
    let mut k = Recorder::new();
    let p = process(json!({"noNewPrivileges": true}));
    assert_eq!(become_process_with(&mut k, &p, false).unwrap(), None);
    assert_eq!(
        k.names(),
        [
            "rlimits",
            "drop_bounding",
            "cwd_as_root",
            "keepcaps_on",
            "switch_user 1000",
            "keepcaps_off",
            "umask",
            "apply_caps",
            "no_new_privs",
        ]
    );
}

#[test]
fn io_priority_and_scheduler_are_set_while_still_root() {
    let mut k = Recorder::new();
    let p = process(json!({
        "ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": 0},
        "scheduler": {"policy": "SCHED_OTHER"},
    }));
    become_process_with(&mut k, &p, false).unwrap();
    let at = |name: &str| k.calls.iter().position(|c| c.starts_with(name)).unwrap();
    assert!(at("io_priority") < at("switch_user"), "{:?}", k.calls);
    assert!(at("scheduler") < at("switch_user"), "{:?}", k.calls);
    assert!(
        !k.calls.iter().any(|c| c == "no_new_privs"),
        "{:?}",
        k.calls
    );
}

#[test]
fn a_cwd_root_may_not_enter_is_entered_again_as_the_user() {
    let mut k = Recorder::new();
    k.cwd_as_root = false;
    become_process_with(&mut k, &process(json!({})), false).unwrap();
    let names = k.names();
    let at = |name: &str| names.iter().position(|c| *c == name).unwrap();
    assert!(at("cwd_as_root") < at("switch_user 1000"), "{names:?}");
    assert!(at("keepcaps_off") < at("cwd_as_user"), "{names:?}");
    assert!(at("cwd_as_user") < at("apply_caps"), "{names:?}");
}

#[test]
fn without_no_new_privs_a_filter_waits_for_the_capability_sets() {
    let mut k = Recorder::new();
    let sets = become_process_with(&mut k, &process(json!({})), true).unwrap();
    assert!(sets.is_some(), "the sets are handed to finish");
    let names = k.names();
    assert_eq!(names.last(), Some(&"raise_effective"), "{names:?}");
    assert!(!names.contains(&"apply_caps"), "{names:?}");
    // With no_new_privs the load needs no capability: the sets go on now.
    let mut k = Recorder::new();
    let p = process(json!({"noNewPrivileges": true}));
    assert_eq!(become_process_with(&mut k, &p, true).unwrap(), None);
    assert_eq!(k.names().last(), Some(&"no_new_privs"));
}

#[test]
fn a_failed_step_stops_the_sequence() {
    let mut k = Recorder::new();
    k.refuse = Some("switch_user");
    assert!(become_process_with(&mut k, &process(json!({})), false).is_err());
    assert_eq!(k.names().last(), Some(&"switch_user 1000"));
}

#[test]
fn the_filter_is_the_last_step_but_the_deferred_caps_hooks_and_execve() {
    let mut k = Recorder::new();
    let (report, status) = finish_with(&mut k, exec(true, true, 2, true));
    assert_eq!(
        k.names(),
        [
            "affinity process.execCPUAffinity.final",
            "clear_signal_mask",
            "load_filter",
            "apply_caps",
            "start_hooks 2",
            "execve /bin/sh",
        ]
    );
    assert_eq!(status, 127);
    assert!(report.contains("/bin/sh"), "{report}");
}

#[test]
fn with_no_new_privs_and_no_hooks_execve_follows_the_filter() {
    let mut k = Recorder::new();
    finish_with(&mut k, exec(true, false, 0, false));
    assert_eq!(
        k.names(),
        ["clear_signal_mask", "load_filter", "execve /bin/sh"]
    );
}

#[test]
fn a_filter_that_fails_to_load_ends_before_hooks_and_execve() {
    let mut k = Recorder::new();
    k.refuse = Some("load_filter");
    let (report, status) = finish_with(&mut k, exec(true, true, 1, false));
    assert_eq!(status, 1);
    assert!(report.contains("refused by the test"), "{report}");
    assert_eq!(k.names(), ["clear_signal_mask", "load_filter"]);
}
