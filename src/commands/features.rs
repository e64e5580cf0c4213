use anyhow::Result;
use nook::security::lsm;
use nook::security::seccomp as seccomp_mod;
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
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true},
            "seccomp": seccomp(),
            "apparmor": {"enabled": lsm::apparmor_enabled()},
            "selinux": {"enabled": lsm::selinux_enabled()},
            // Compiled in (src/resctrl.rs); whether the host has resctrl is create's question.
            "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true},
            "memoryPolicy": memory_policy()
        },
        // runc's keys where they hold for nook too (it has no CRIU: no checkpoint), then its own.
        "annotations": {
            "io.github.seccomp.libseccomp.version": libseccomp::ScmpVersion::current()
                .map_or_else(|_| "unknown".to_string(), |v| v.to_string()),
            "org.opencontainers.runc.checkpoint.enabled": "false",
            "nook.version": env!("CARGO_PKG_VERSION"),
            "nook.commit": env!("NOOK_COMMIT")
        }
    })
}

/// Every mode and flag set_mempolicy takes from the spec: nook applies them all (an old kernel
/// may still refuse a newer one, such as MPOL_WEIGHTED_INTERLEAVE before 6.9, at create).
fn memory_policy() -> serde_json::Value {
    use oci_spec::runtime::{MemoryPolicyFlagType as F, MemoryPolicyModeType as M};
    let modes = [
        M::MpolDefault,
        M::MpolBind,
        M::MpolInterleave,
        M::MpolWeightedInterleave,
        M::MpolPreferred,
        M::MpolPreferredMany,
        M::MpolLocal,
    ];
    let flags = [
        F::MpolFNumaBalancing,
        F::MpolFRelativeNodes,
        F::MpolFStaticNodes,
    ];
    json!({
        "modes": modes.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        "flags": flags.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
    })
}

/// Every action and operator the spec defines is applied; architectures and flags are those
/// this libseccomp (and kernel) accept, probed now.
fn seccomp() -> serde_json::Value {
    use oci_spec::runtime::LinuxSeccompOperator as O;
    use oci_spec::runtime::{Arch, LinuxSeccompAction as A, LinuxSeccompFilterFlag as F};
    let names = |v: Vec<serde_json::Value>| -> Vec<String> {
        v.into_iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    };
    let actions = [
        A::ScmpActKill,
        A::ScmpActKillThread,
        A::ScmpActKillProcess,
        A::ScmpActTrap,
        A::ScmpActErrno,
        A::ScmpActTrace,
        A::ScmpActAllow,
        A::ScmpActLog,
        A::ScmpActNotify,
    ];
    let operators = [
        O::ScmpCmpNe,
        O::ScmpCmpLt,
        O::ScmpCmpLe,
        O::ScmpCmpEq,
        O::ScmpCmpGe,
        O::ScmpCmpGt,
        O::ScmpCmpMaskedEq,
    ];
    let archs = [
        Arch::ScmpArchX86,
        Arch::ScmpArchX86_64,
        Arch::ScmpArchX32,
        Arch::ScmpArchArm,
        Arch::ScmpArchAarch64,
        Arch::ScmpArchMips,
        Arch::ScmpArchMips64,
        Arch::ScmpArchMips64n32,
        Arch::ScmpArchMipsel,
        Arch::ScmpArchMipsel64,
        Arch::ScmpArchMipsel64n32,
        Arch::ScmpArchPpc,
        Arch::ScmpArchPpc64,
        Arch::ScmpArchPpc64le,
        Arch::ScmpArchS390,
        Arch::ScmpArchS390x,
        Arch::ScmpArchParisc,
        Arch::ScmpArchParisc64,
        Arch::ScmpArchRiscv64,
        Arch::ScmpArchLoongarch64,
        Arch::ScmpArchM68k,
        Arch::ScmpArchSh,
        Arch::ScmpArchSheb,
    ];
    let flags = [
        F::SeccompFilterFlagTsync,
        F::SeccompFilterFlagLog,
        F::SeccompFilterFlagSpecAllow,
        F::SeccompFilterFlagWaitKillableRecv,
    ];
    json!({
        "enabled": true,
        "actions": names(actions.iter().map(|a| json!(a)).collect()),
        "operators": names(operators.iter().map(|o| json!(o)).collect()),
        "archs": names(archs.iter().filter(|a| seccomp_mod::arch_supported(**a)).map(|a| json!(a)).collect()),
        "knownFlags": names(flags.iter().map(|f| json!(f)).collect()),
        "supportedFlags": names(flags.iter().filter(|f| seccomp_mod::flag_supported(**f)).map(|f| json!(f)).collect()),
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
        let linux = parsed.linux().as_ref().unwrap();
        assert_eq!(linux.net_devices().as_ref().unwrap().enabled(), &Some(true));
        let policy = linux.memory_policy().as_ref().unwrap();
        assert_eq!(policy.modes().as_ref().unwrap().len(), 7);
        assert!(policy
            .flags()
            .as_ref()
            .unwrap()
            .contains(&"MPOL_F_STATIC_NODES".to_string()));
        let rdt = linux.intel_rdt().clone().unwrap();
        assert_eq!(rdt.enabled(), &Some(true));
        assert_eq!(rdt.schemata(), &Some(true));
        assert_eq!(rdt.monitoring(), &Some(true));
        let seccomp_version = &doc["annotations"]["io.github.seccomp.libseccomp.version"];
        assert!(
            seccomp_version.as_str().unwrap().starts_with("2."),
            "{seccomp_version}"
        );
        assert!(doc["linux"]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("CAP_SYS_ADMIN")));
    }
}
