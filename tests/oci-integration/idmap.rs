//! Idmapped bind mounts (runtime-spec 1.2: `mounts[].uidMappings`/`gidMappings`, options
//! `idmap` and `ridmap`). runc 1.1.5 predates them (runc 1.2 has them): it ignores the
//! mappings, so these tests judge nook only.

use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;

use crate::support::{assert_nothing_left, container_test, is_runc, Fixture};

/// A host directory holding `owned`, a file of uid 0 and gid 0, to bind into the container.
fn host_dir(f: &Fixture) -> PathBuf {
    let dir = f.dir.path().join("shared");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("owned"), "x").unwrap();
    std::os::unix::fs::chown(dir.join("owned"), Some(0), Some(0)).unwrap();
    fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    dir
}

fn ids(path: &std::path::Path) -> (u32, u32) {
    let m = fs::metadata(path).unwrap();
    (m.uid(), m.gid())
}

container_test! {
    fn idmapped_bind_without_a_user_namespace(f) {
        if is_runc() {
            return; // runc 1.1.5 has no idmapped mounts (see the module doc).
        }
        let dir = host_dir(&f);
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/shared", "type": "bind", "source": dir,
            "options": ["bind"], "uidMappings": map, "gidMappings": map
        }));
        f.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        let out = f.run_sh("stat -c '%u %g' /mnt/shared/owned; touch /mnt/shared/made");
        // uid 0 on the source shows as the mapped 1000 ...
        assert_eq!(out.trim(), "1000 1000");
        // ... and what uid 1000 writes lands on the host as the source's 0.
        assert_eq!(ids(&dir.join("made")), (0, 0));
        assert_nothing_left(&f, &f.id);
        let features: serde_json::Value =
            serde_json::from_str(&f.rt(&["features"]).ok().stdout).unwrap();
        assert_eq!(features["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        let options = features["mountOptions"].as_array().unwrap();
        assert!(options.contains(&json!("idmap")) && options.contains(&json!("ridmap")));
    }
}

container_test! {
    fn idmap_option_takes_the_containers_user_namespace_mappings(f) {
        if is_runc() {
            return;
        }
        let dir = host_dir(&f);
        let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        f.config["linux"]["uidMappings"] = map.clone();
        f.config["linux"]["gidMappings"] = map;
        f.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        // Without the idmap the file would show as the overflow id (nobody) here.
        // At /mnt, which exists: the container's root may not create directories in the
        // rootfs, which the host's root owns.
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": dir,
            "options": ["rbind", "idmap"]
        }));
        for m in f.config["mounts"].as_array_mut().unwrap() {
            if let Some(opts) = m.get_mut("options").and_then(|o| o.as_array_mut()) {
                opts.retain(|o| o != "gid=5");
            }
        }
        let out = f.run_sh("stat -c '%u %g' /mnt/owned; touch /mnt/made");
        assert_eq!(out.trim(), "0 0");
        assert_eq!(ids(&dir.join("made")), (0, 0));
        assert_nothing_left(&f, &f.id);
    }
}

/// Runs the fixture's config and requires a refusal naming `/mnt/shared` and `what`, with
/// nothing left behind.
#[track_caller]
fn assert_refused(f: &Fixture, what: &str) {
    let out = f.run().failed();
    assert!(out.stderr.contains("/mnt/shared"), "{out}");
    assert!(out.stderr.contains(what), "{out}");
    assert_nothing_left(f, &f.id);
}

container_test! {
    fn idmapped_mount_refusals_leave_nothing(f) {
        if is_runc() {
            return;
        }
        let dir = host_dir(&f);
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        f.set_args(&["true"]);
        let base = f.config.clone();
        // Not a bind mount.
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs",
            "uidMappings": map, "gidMappings": map
        }));
        assert_refused(&f, "bind mounts only");
        // One mapping without the other.
        f.config = base.clone();
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/shared", "type": "bind", "source": dir,
            "options": ["bind"], "uidMappings": map
        }));
        assert_refused(&f, "given together");
        // idmap with no user namespace to take mappings from.
        f.config = base;
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/shared", "type": "bind", "source": dir,
            "options": ["bind", "idmap"]
        }));
        assert_refused(&f, "has none");
    }
}

/// An overlay mount over directories of the fixture, unmounted on drop.
struct Overlay(PathBuf);

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

container_test! {
    fn idmapped_overlayfs_source_is_refused_naming_the_mount(f) {
        if is_runc() {
            return;
        }
        let base = f.dir.path().join("ovl");
        for d in ["lower", "upper", "work", "merged"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        let merged = base.join("merged");
        let data = format!(
            "lowerdir={},upperdir={},workdir={}",
            base.join("lower").display(),
            base.join("upper").display(),
            base.join("work").display()
        );
        let ok = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &data])
            .arg(&merged)
            .status()
            .unwrap();
        assert!(ok.success(), "mount overlay");
        let overlay = Overlay(merged.clone());
        let map = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        f.config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/shared", "type": "bind", "source": merged,
            "options": ["bind"], "uidMappings": map, "gidMappings": map
        }));
        f.set_args(&["true"]);
        let out = f.run().failed();
        assert!(out.stderr.contains("/mnt/shared"), "{out}");
        assert!(out.stderr.contains("does not support idmapped mounts"), "{out}");
        drop(overlay);
        assert_nothing_left(&f, &f.id);
    }
}
