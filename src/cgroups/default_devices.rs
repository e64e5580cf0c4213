//! The device rules every container gets on top of the spec's own, as runc adds them: the
//! standard nodes in /dev must work even under a "deny all" rule.
//!
//! `linux.devices` only makes nodes; whether the container may open them is decided by
//! `linux.resources.devices` alone (plus these defaults), as in runc. Allowing every listed
//! node would let a "deny all" config open, say, /dev/kmsg just because it asked for the node.

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// The default nodes runc makes, by path: a `linux.devices` entry at one of these paths replaces
/// the node and drops its rule too (runc 1.1.5 and 1.4 alike), so the spec's own rules decide.
const NAMED: &[(&str, i64, i64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/tty", 5, 0),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
];

/// mknod of anything (creating a node is harmless; opening it is what the rules guard), then
/// null, zero, full, tty, random, urandom, then ptmx, the pts nodes and tun (runc dropped tun
/// in 1.2.0 and restored it in 1.2.4).
pub fn standard_rules() -> Vec<LinuxDeviceCgroup> {
    standard_rules_except(&[])
}

/// [`standard_rules`] without the named ones `devices` replaces.
fn standard_rules_except(devices: &[LinuxDevice]) -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let c = |maj, min| rule(C, Some(maj), Some(min), "rwm");
    let mut rules = vec![rule(C, None, None, "m"), rule(B, None, None, "m")];
    let replaced = |path: &str| {
        devices
            .iter()
            .any(|d| d.path().to_str().is_some_and(|p| p == path))
    };
    for (path, major, minor) in NAMED {
        if !replaced(path) {
            rules.push(c(*major, *minor));
        }
    }
    rules.extend([c(5, 2), rule(C, Some(136), None, "rwm"), c(10, 200)]);
    rules
}

/// The resources to apply: the spec's, with the standard rules appended when the spec
/// restricts devices at all. `devices` (`linux.devices`) adds no rule: it only takes away the
/// default rule of a standard node it replaces.
pub fn resources_with_defaults(
    resources: Option<&LinuxResources>,
    devices: &[LinuxDevice],
) -> Option<LinuxResources> {
    let mut res = resources?.clone();
    let Some(rules) = res.devices().clone().filter(|r| !r.is_empty()) else {
        return Some(res);
    };
    let mut rules = rules;
    rules.extend(standard_rules_except(devices));
    res.set_devices(Some(rules));
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(json: &str) -> LinuxDevice {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_follow_the_spec_rules_and_listed_nodes_add_none() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        let kmsg = device(r#"{"path":"/dev/kmsg","type":"c","major":1,"minor":11}"#);
        let fifo = device(r#"{"path":"/dev/fifo","type":"p","major":0,"minor":0}"#);
        let out = resources_with_defaults(Some(&res), &[kmsg, fifo]).unwrap();
        let rules = out.devices().as_ref().unwrap();
        assert!(!rules[0].allow());
        assert_eq!(rules[1..], standard_rules()[..]);
        assert!(!rules.iter().any(|r| r.minor() == Some(11)));
        assert!(rules.iter().all(|r| r.typ() != Some(LinuxDeviceType::P)));
    }

    #[test]
    fn a_listed_standard_node_drops_its_default_rule() {
        let res: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        let zero = device(r#"{"path":"/dev/zero","type":"c","major":1,"minor":5}"#);
        let out = resources_with_defaults(Some(&res), &[zero]).unwrap();
        let rules = out.devices().as_ref().unwrap();
        assert_eq!(rules.len(), standard_rules().len());
        assert!(!rules.iter().any(|r| r.minor() == Some(5)));
        assert!(rules.iter().any(|r| r.minor() == Some(3)));
    }

    #[test]
    fn no_rules_means_no_additions() {
        let res: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":5}}"#).unwrap();
        let out = resources_with_defaults(Some(&res), &[]).unwrap();
        assert!(out.devices().is_none());
        assert!(resources_with_defaults(None, &[]).is_none());
    }
}
