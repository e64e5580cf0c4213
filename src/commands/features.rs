use anyhow::Result;
use serde_json::json;

/// `features`: the runtime-spec features document, built from what nook implements: every
/// list here comes from the code that applies it, never from a wish list.
pub fn run() -> Result<u8> {
    println!("{}", serde_json::to_string_pretty(&document())?);
    Ok(0)
}

pub fn document() -> serde_json::Value {
    let mut caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    caps.sort();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": nook::state::OCI_VERSION,
        "hooks": nook::hooks::KINDS,
        "mountOptions": nook::rootfs::options::KNOWN,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {
            "nook.version": env!("CARGO_PKG_VERSION"),
            "nook.commit": env!("NOOK_COMMIT")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_parses_as_the_spec_type() {
        let doc = document();
        let parsed: oci_spec::runtime::Features = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(parsed.oci_version_max(), nook::state::OCI_VERSION);
        assert_eq!(doc["hooks"].as_array().unwrap().len(), 6);
        assert!(doc["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN")));
    }
}
