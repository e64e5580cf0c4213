//! Bad input: each case must exit 1, say on stderr which field or path is wrong, and leave
//! nothing behind (state dir, host mount, cgroup, process).

use crate::support::{
    assert_failed_create_left_nothing, assert_nothing_left, container_test, is_runc, pid_alive,
    Fixture, Outcome,
};
use serde_json::json;
use std::fs;
use std::time::{Duration, Instant};

/// Asserts `out` is a clean failure of `create` for `f.id` whose stderr names one of `names`.
#[track_caller]
fn assert_clean_failure(f: &Fixture, out: Outcome, names: &[&str]) {
    let out = out.failed();
    let stderr = out.stderr.to_lowercase();
    let named = names.iter().any(|n| stderr.contains(&n.to_lowercase()));
    assert!(
        names.is_empty() || named,
        "stderr names none of {names:?}: {out}"
    );
    assert_failed_create_left_nothing(f);
}

container_test! {
    fn invalid_json_config(f) {
        let bundle = f.bundle();
        fs::write(bundle.join("config.json"), "{\"ociVersion\": \"1.0.2\", \"process\": {").unwrap();
        let out = f.rt(&["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
        // runc 1.1.5 says only "unexpected EOF", naming neither file nor position.
        let names: &[&str] = if is_runc() { &[] } else { &["config.json"] };
        assert_clean_failure(&f, out, names);
    }
}

container_test! {
    fn missing_config_json(f) {
        let bundle = f.bundle();
        f.write_config();
        fs::remove_file(bundle.join("config.json")).unwrap();
        let out = f.rt(&["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
        assert_clean_failure(&f, out, &["config.json"]);
    }
}

container_test! {
    fn missing_rootfs(f) {
        fs::remove_dir_all(f.rootfs()).unwrap();
        let out = f.create();
        let rootfs = f.rootfs();
        assert_clean_failure(&f, out, &[rootfs.to_str().unwrap()]);
    }
}

container_test! {
    fn unknown_namespace_type(f) {
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "bogus"}));
        let out = f.create();
        assert_clean_failure(&f, out, &["bogus"]);
    }
}

container_test! {
    fn unknown_mount_option(f) {
        f.config["mounts"].as_array_mut().unwrap().push(json!(
            {"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt"]}));
        let out = f.create();
        assert_clean_failure(&f, out, &["bogusopt", "/mnt/t"]);
    }
}

container_test! {
    fn unknown_capability_name(f) {
        // CAP_TEST is no capability: refused at create, naming it (nook also names the field's
        // JSON path). runc 1.1.5 only warns and drops it, so only nook must fail here.
        f.config["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_TEST"));
        let out = f.create();
        if is_runc() {
            let _ = f.rt(&["delete", "--force", &f.id]);
            assert_nothing_left(&f, &f.id);
            return;
        }
        assert_clean_failure(&f, out, &["CAP_TEST"]);
        let out = f.create();
        assert!(out.stderr.contains("process.capabilities.bounding"), "{out}");
    }
}

container_test! {
    fn memory_limit_too_low_to_set_up(f) {
        // 64 KiB cannot hold the init's own namespaces: the kernel OOM-kills it while nook sets
        // it up. The error names the limit rather than only "killed", and nothing is left.
        if crate::support::systemd_cgroup() {
            // nook forks the init (and so creates its namespaces) where the runtime runs and
            // only then asks systemd for the scope around it: what the namespaces cost is not
            // charged to the scope, and the init survives the limit.
            crate::support::skip(
                "memory_limit_too_low_to_set_up",
                "init-created-in-scope",
                "with --systemd-cgroup nook creates the init's namespaces before its scope exists",
            );
            return;
        }
        f.config["linux"]["resources"]["memory"] = json!({"limit": 65536});
        let out = f.create();
        let names: &[&str] = if is_runc() { &[] } else { &["linux.resources.memory.limit"] };
        assert_clean_failure(&f, out, names);
    }
}

container_test! {
    fn overlapping_uid_mappings(f) {
        // The kernel refuses overlapping ranges when the runtime writes uid_map, after the init
        // and the first part of its cgroup exist: all of it must go again.
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        f.config["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 0, "hostID": 200000, "size": 1000}
        ]);
        f.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}]);
        let out = f.create();
        let names: &[&str] = if is_runc() { &[] } else { &["uid_map"] };
        assert_clean_failure(&f, out, names);
    }
}

container_test! {
    fn relative_cwd(f) {
        f.config["process"]["cwd"] = json!("work/deep");
        let out = f.create();
        assert_clean_failure(&f, out, &["cwd"]);
    }
}

container_test! {
    fn failing_create_runtime_hook(f) {
        f.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false", "args": ["false"]}]});
        let out = f.create();
        assert_clean_failure(&f, out, &["createRuntime", "/bin/false", "hook"]);
    }
}

container_test! {
    fn existing_id_is_refused_and_the_first_container_untouched(f) {
        f.set_args(&["sleep", "100"]);
        f.create().ok();
        let before = f.state(&f.id);
        let out = f.create().failed();
        assert!(out.stderr.contains("already exists"), "{out}");
        // runc 1.1.5 says "container with given ID already exists" without the id.
        if !is_runc() {
            assert!(out.stderr.contains(&f.id), "{out}");
        }
        let after = f.state(&f.id);
        assert_eq!(before, after, "the second create changed the first container");
        assert!(pid_alive(after["pid"].as_i64().unwrap()));
        f.rt(&["start", &f.id]).ok();
        assert_eq!(f.state(&f.id)["status"], "running");
    }
}

container_test! {
    fn bad_ids_are_refused(f) {
        f.set_args(&["true"]);
        let mut ids = vec!["a/b", "..", ".", "", "../escape"];
        // The id rule is ^[A-Za-z0-9][A-Za-z0-9_.+-]*$; runc 1.1.5 also accepts a leading dash.
        if !is_runc() {
            ids.push("-leadingdash");
        }
        for id in ids {
            let bundle = f.bundle();
            f.write_config();
            let out = f.rt(&["create", "--bundle", bundle.to_str().unwrap(), "--", id]).failed();
            assert!(out.stderr.to_lowercase().contains("id"), "{id:?}: {out}");
            let entries: Vec<_> = fs::read_dir(f.root()).unwrap().flatten().map(|e| e.path()).collect();
            assert!(entries.is_empty(), "{id:?} left {entries:?}");
            let mut top: Vec<String> = fs::read_dir(f.dir.path()).unwrap().flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with("io-"))
                .collect();
            top.sort();
            assert_eq!(top, ["bundle", "state"], "{id:?} wrote outside --root");
            assert_nothing_left(&f, id);
        }
    }
}

/// The pids whose parent is `ppid`.
fn children_of(ppid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if status.lines().any(|l| l == format!("PPid:\t{ppid}")) {
            found.push(pid);
        }
    }
    found
}

container_test! {
    fn killed_create_leaves_nothing_after_delete_force(f) {
        // A createRuntime hook runs after the namespaces, cgroups and mounts are set up, so
        // killing the runtime while it waits for the hook catches it mid-way.
        f.set_args(&["sleep", "100"]);
        f.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "3"]}]});
        f.write_config();
        let bundle = f.bundle();
        let mut cmd = f.cmd(&["create", "--bundle", bundle.to_str().unwrap(), &f.id]);
        let mut spawned = f.spawn(&mut cmd);
        let runtime_pid = spawned.child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        let hook = loop {
            let hooks: Vec<u32> = children_of(runtime_pid)
                .into_iter()
                .filter(|p| fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default() == b"sleep\x003\x00")
                .collect();
            if let Some(&hook) = hooks.first() {
                break hook;
            }
            assert!(Instant::now() < deadline, "the createRuntime hook never started");
            std::thread::sleep(Duration::from_millis(5));
        };
        spawned.child.kill().unwrap();
        spawned.child.wait().unwrap();
        // The hook is ours, not the container's; do not wait for it.
        // SAFETY: kill on a pid we just found as a child of the runtime.
        unsafe { libc::kill(hook as i32, libc::SIGKILL) };
        f.rt(&["delete", "--force", &f.id]);
        if is_runc() {
            // runc 1.1.5 writes no state until create finishes, so `delete --force` cannot find
            // the container and its cgroup directories stay behind. Known gap; check the rest.
            let left = crate::support::leftovers(&f, &f.id);
            let (cgroups, rest): (Vec<_>, Vec<_>) = left.iter().partition(|l| l.starts_with("cgroup "));
            assert!(rest.is_empty(), "{rest:#?}");
            // Tidy up after runc: the directories are empty, deepest last in the list.
            for cgroup in cgroups.iter().rev() {
                let _ = fs::remove_dir(cgroup.trim_start_matches("cgroup "));
            }
            return;
        }
        assert_nothing_left(&f, &f.id);
    }
}
