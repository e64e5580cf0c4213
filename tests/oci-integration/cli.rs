//! Commands that need no container: --version and spec.

use crate::support::{build_rootfs, container_test, is_nook};
use serde_json::Value;
use std::fs;

container_test! {
    fn version_prints_name_commit_and_spec(f) {
        let out = f.rt(&["--version"]).ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines.len() >= 3, "{out}");
        let (name, version) = lines[0].split_once(" version ").unwrap_or_else(|| panic!("{out}"));
        assert!(!name.is_empty());
        let numbers: Vec<&str> = version.split(['.', '+', '-']).take(3).collect();
        assert!(numbers.iter().all(|n| n.parse::<u32>().is_ok()), "not X.Y.Z: {version}");
        assert!(lines[1].starts_with("commit: ") && lines[1].len() > "commit: ".len(), "{out}");
        assert!(lines[2].starts_with("spec: "), "{out}");
        if is_nook() {
            // runc 1.1.5 prints five lines and spec 1.0.2-dev; nook promises exactly these three.
            assert_eq!(lines.len(), 3, "{out}");
            assert_eq!(name, "nook");
            assert_eq!(lines[2], "spec: 1.3.0");
        }
    }
}

container_test! {
    fn spec_writes_a_runnable_config(f) {
        let dir = f.dir.path().join("specdir");
        fs::create_dir(&dir).unwrap();
        f.rt(&["spec", "--bundle", dir.to_str().unwrap()]).ok();
        let mut config: Value = serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        assert!(config["ociVersion"].as_str().is_some_and(|v| v.starts_with("1.")), "{config}");
        assert_eq!(config["root"]["path"], "rootfs");
        assert_eq!(config["process"]["args"], serde_json::json!(["sh"]));
        // Make it runnable without a terminal, as a user of `spec` would.
        build_rootfs(&dir.join("rootfs"));
        config["process"]["terminal"] = Value::Bool(false);
        config["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok; hostname"]);
        fs::write(dir.join("config.json"), config.to_string()).unwrap();
        let id = f.another_id("spec");
        let out = f.rt(&["run", "--bundle", dir.to_str().unwrap(), &id]);
        f.rt(&["delete", "--force", &id]);
        let out = out.ok();
        assert_eq!(out.stdout.lines().next(), Some("spec-ok"));
    }
}

container_test! {
    fn spec_writes_into_the_current_directory(f) {
        let mut cmd = f.cmd(&["spec"]);
        cmd.current_dir(f.dir.path());
        f.exec(cmd).ok();
        let text = fs::read_to_string(f.dir.path().join("config.json")).unwrap();
        serde_json::from_str::<Value>(&text).unwrap();
    }
}

container_test! {
    fn spec_refuses_to_overwrite_a_config(f) {
        let dir = f.dir.path().join("specdir");
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("config.json"), "mine").unwrap();
        let out = f.rt(&["spec", "--bundle", dir.to_str().unwrap()]).failed();
        assert!(out.stderr.contains("config.json"), "{out}");
        assert_eq!(fs::read_to_string(dir.join("config.json")).unwrap(), "mine");
    }
}

/// `spec` (and `spec --rootless`) writes the document /usr/sbin/runc writes on this host: same
/// capability sets, mounts, namespaces (a cgroup one only where /sys/fs/cgroup is cgroup2).
/// Only ociVersion, the spec version each runtime implements, may differ.
fn spec_as_runc_writes_it(f: &crate::support::Fixture, test: &str, flags: &[&str]) {
    let runc = std::path::Path::new("/usr/sbin/runc");
    if !runc.exists() {
        // The cgroup v2 VM has no runc to compare with.
        crate::support::skip(test, "runc-binary", "no /usr/sbin/runc here");
        return;
    }
    let write = |runtime: &std::path::Path, name: &str| -> Value {
        let dir = f.dir.path().join(name);
        fs::create_dir(&dir).unwrap();
        let mut args = vec!["spec", "--bundle", dir.to_str().unwrap()];
        args.extend_from_slice(flags);
        let out = std::process::Command::new(runtime)
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            runtime.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: Value =
            serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("ociVersion");
        v
    };
    let ours = write(&crate::support::runtime(), "ours");
    let runc = write(runc, "runc");
    assert_eq!(ours, runc, "\nours: {ours:#}\nrunc: {runc:#}");
}

container_test! {
    fn spec_matches_runc_spec(f) {
        spec_as_runc_writes_it(&f, "spec_matches_runc_spec", &[]);
    }
}

container_test! {
    fn spec_rootless_matches_runc_spec_rootless(f) {
        spec_as_runc_writes_it(&f, "spec_rootless_matches_runc_spec_rootless", &["--rootless"]);
    }
}
