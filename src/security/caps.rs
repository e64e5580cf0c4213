//! The five capability sets, set exactly as `process.capabilities` lists them.
//!
//! A set the spec leaves out is empty: nook never lets a capability through that the config
//! did not ask for (CVE-2022-29162 came from a non-empty inheritable set).

use std::collections::HashSet;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("process.capabilities: unknown capability {0}")]
    Unknown(String),
    #[error("process.capabilities.bounding: drop {cap}: {source}")]
    DropBounding {
        cap: Capability,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("process.capabilities.{set}: {source}")]
    Set {
        set: &'static str,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("process.capabilities.ambient: raise {cap}: {source}")]
    RaiseAmbient {
        cap: Capability,
        #[source]
        source: caps::errors::CapsError,
    },
}

/// The spec's sets converted to the kernel's names, each one defaulting to empty.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<oci_spec::runtime::Capabilities>) -> Result<CapsHashSet, CapsError> {
    set.iter()
        .flatten()
        .map(|c| {
            let name = format!("CAP_{c}");
            Capability::from_str(&name).map_err(|_| CapsError::Unknown(name))
        })
        .collect()
}

impl CapSets {
    pub fn from_spec(spec: Option<&LinuxCapabilities>) -> Result<Self, CapsError> {
        let Some(c) = spec else {
            return Ok(CapSets::default());
        };
        let mut sets = CapSets {
            bounding: convert(c.bounding())?,
            effective: convert(c.effective())?,
            permitted: convert(c.permitted())?,
            inheritable: convert(c.inheritable())?,
            ambient: convert(c.ambient())?,
        };
        // The kernel only lets an ambient capability stand while it is both permitted and
        // inheritable. runc skips the others (`runc spec` itself asks for three it cannot
        // have), so nook does too, and `unreachable_ambient` names them.
        let keep = sets.reachable_ambient();
        sets.ambient = keep;
        Ok(sets)
    }

    fn reachable_ambient(&self) -> CapsHashSet {
        self.ambient
            .iter()
            .filter(|c| self.permitted.contains(c) && self.inheritable.contains(c))
            .copied()
            .collect()
    }
}

/// Ambient capabilities the spec lists but the kernel would refuse (not both permitted and
/// inheritable); they are skipped, and the command layer warns about them.
pub fn unreachable_ambient(spec: Option<&LinuxCapabilities>) -> Result<Vec<String>, CapsError> {
    let Some(c) = spec else {
        return Ok(Vec::new());
    };
    let sets = CapSets {
        permitted: convert(c.permitted())?,
        inheritable: convert(c.inheritable())?,
        ambient: convert(c.ambient())?,
        ..Default::default()
    };
    let reachable = sets.reachable_ambient();
    let mut out: Vec<String> = sets
        .ambient
        .difference(&reachable)
        .map(|c| c.to_string())
        .collect();
    out.sort();
    Ok(out)
}

/// Step 1, while still root with every capability: shrink the bounding set. Needs CAP_SETPCAP,
/// which is why it comes before the switch to the container user.
pub fn drop_bounding(sets: &CapSets) -> Result<(), CapsError> {
    let current: HashSet<Capability> = caps::read(None, CapSet::Bounding).unwrap_or_default();
    for cap in current.difference(&sets.bounding) {
        caps::drop(None, CapSet::Bounding, *cap)
            .map_err(|source| CapsError::DropBounding { cap: *cap, source })?;
    }
    Ok(())
}

/// Without no_new_privs the kernel loads a seccomp filter only for a holder of CAP_SYS_ADMIN,
/// which the switch to a non-root user cleared from the effective set: raise the effective set
/// back to the permitted one (kept by keepcaps) until the filter is in, then `apply_sets`.
pub fn raise_effective_to_permitted() -> Result<(), CapsError> {
    let err = |source| CapsError::Set {
        set: "effective",
        source,
    };
    let permitted = caps::read(None, CapSet::Permitted).map_err(err)?;
    caps::set(None, CapSet::Effective, &permitted).map_err(err)
}

/// Step 2, after setuid (with keepcaps so permitted survived it): set the remaining four sets.
/// Order matters to the kernel: inheritable while permitted is still full, effective before
/// permitted shrinks under it, ambient last because it must be within permitted and inheritable.
pub fn apply_sets(sets: &CapSets) -> Result<(), CapsError> {
    let set = |name, which, value: &CapsHashSet| {
        caps::set(None, which, value).map_err(|source| CapsError::Set { set: name, source })
    };
    set("inheritable", CapSet::Inheritable, &sets.inheritable)?;
    set("effective", CapSet::Effective, &sets.effective)?;
    set("permitted", CapSet::Permitted, &sets.permitted)?;
    caps::clear(None, CapSet::Ambient).map_err(|source| CapsError::Set {
        set: "ambient",
        source,
    })?;
    for cap in &sets.ambient {
        caps::raise(None, CapSet::Ambient, *cap)
            .map_err(|source| CapsError::RaiseAmbient { cap: *cap, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_sets_are_empty() {
        assert_eq!(CapSets::from_spec(None).unwrap(), CapSets::default());
        let json = r#"{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]}"#;
        let c: LinuxCapabilities = serde_json::from_str(json).unwrap();
        let sets = CapSets::from_spec(Some(&c)).unwrap();
        assert_eq!(
            sets.bounding,
            [Capability::CAP_KILL, Capability::CAP_CHOWN].into()
        );
        assert_eq!(sets.effective, [Capability::CAP_KILL].into());
        assert!(sets.inheritable.is_empty());
        assert!(sets.ambient.is_empty());
    }

    #[test]
    fn ambient_outside_inheritable_is_skipped_and_reported() {
        let json = r#"{"permitted":["CAP_KILL","CAP_CHOWN"],"inheritable":["CAP_KILL"],
                       "ambient":["CAP_KILL","CAP_CHOWN"]}"#;
        let c: LinuxCapabilities = serde_json::from_str(json).unwrap();
        let sets = CapSets::from_spec(Some(&c)).unwrap();
        assert_eq!(sets.ambient, [Capability::CAP_KILL].into());
        assert_eq!(unreachable_ambient(Some(&c)).unwrap(), vec!["CAP_CHOWN"]);
    }

    #[test]
    fn unknown_capability_is_refused_by_the_parser() {
        let json = r#"{"bounding":["CAP_TEST"]}"#;
        assert!(serde_json::from_str::<LinuxCapabilities>(json).is_err());
    }
}
