//! `linux.resources.devices` on cgroup v2: there are no devices files, so the rules become an
//! eBPF program (`BPF_PROG_TYPE_CGROUP_DEVICE`) attached to the container's cgroup.
//!
//! The rule list keeps cgroup v1's meaning, as runc does, so a config behaves the same on
//! both layouts: rules are replayed through a model of the v1 devices controller
//! ([`Policy::from_rules`]), which ends with a default (allow or deny) and a set of exceptions
//! to it, and the program tests exactly those exceptions ([`program`]).
//!
//! v1 meaning, in short: an `a` rule (whatever its numbers and access) resets the default to
//! its own verdict and drops every exception; another rule either adds its access to the
//! exception of the very same (type, major, minor), when its verdict differs from the
//! default, or removes its access from that exception. A removal that an earlier wildcard
//! exception would silently keep allowing (or denying) is refused, as runc refuses it.
//!
//! How exceptions match a request (the kernel's `devcgroup_legacy_check_permission`): in
//! deny-by-default mode an access is allowed when one exception grants every bit requested;
//! in allow-by-default mode it is denied when any exception overlaps the request.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use super::bpf::{self, op, Insn};
use super::{limits, CgroupError};

const FIELD: &str = "linux.resources.devices";

/// Access bits as `bpf_cgroup_dev_ctx.access_type` carries them (`BPF_DEVCG_ACC_*`).
pub(crate) const MKNOD: u8 = 1;
pub(crate) const READ: u8 = 2;
pub(crate) const WRITE: u8 = 4;
pub(crate) const RWM: u8 = MKNOD | READ | WRITE;

/// Device types as `BPF_DEVCG_DEV_*` numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Block = 1,
    Char = 2,
}

/// One spec rule, validated. `None` numbers are wildcards; `kind: None` is type `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub allow: bool,
    pub kind: Option<Kind>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
}

/// What an exception is keyed by: v1 merges and removes access per exact (type, major, minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Meta {
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
}

/// The state a v1 devices cgroup would be in after the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub default_allow: bool,
    /// Access bits that go against the default; never empty. Sorted, so the program is stable.
    pub exceptions: BTreeMap<Meta, u8>,
}

/// Validate one rule: `p` has no device cgroup meaning, numbers must be real device numbers
/// (they are compared as 32-bit immediates), access letters come from "rwm" (empty = all).
pub(crate) fn parse_rule(rule: &LinuxDeviceCgroup) -> Result<Rule, CgroupError> {
    // Shared with v1: rejects type p, negative numbers and unknown or repeated letters.
    limits::device_rule(rule)?;
    let kind = match rule.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => None,
        LinuxDeviceType::B => Some(Kind::Block),
        _ => Some(Kind::Char),
    };
    let number = |n: Option<i64>| -> Result<Option<u32>, CgroupError> {
        match n {
            None | Some(-1) => Ok(None),
            Some(n) if n <= i64::from(i32::MAX) => Ok(Some(n as u32)),
            Some(n) => Err(CgroupError::InvalidValue {
                field: FIELD,
                value: n.to_string(),
                why: "no device number is that large",
            }),
        }
    };
    let mut access = 0;
    for ch in rule.access().as_deref().unwrap_or("").chars() {
        access |= match ch {
            'r' => READ,
            'w' => WRITE,
            _ => MKNOD,
        };
    }
    Ok(Rule {
        allow: rule.allow(),
        kind,
        major: number(rule.major())?,
        minor: number(rule.minor())?,
        access: if access == 0 { RWM } else { access },
    })
}

impl Policy {
    /// Replay the rules the way the v1 controller applies writes to devices.allow/deny. A new
    /// cgroup's v1 default would be inherited; here it is deny, as in runc: the list is meant
    /// to start with an `a` rule, and nook adds nothing when the spec has no rules at all.
    pub(crate) fn from_rules(rules: &[Rule]) -> Result<Policy, CgroupError> {
        let mut policy = Policy {
            default_allow: false,
            exceptions: BTreeMap::new(),
        };
        for rule in rules {
            policy.apply(rule)?;
        }
        Ok(policy)
    }

    fn apply(&mut self, rule: &Rule) -> Result<(), CgroupError> {
        let Some(kind) = rule.kind else {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            return Ok(());
        };
        let meta = Meta {
            kind,
            major: rule.major,
            minor: rule.minor,
        };
        if rule.allow != self.default_allow {
            *self.exceptions.entry(meta).or_insert(0) |= rule.access;
            return Ok(());
        }
        self.check_no_hole(rule, meta)?;
        if let Some(access) = self.exceptions.get_mut(&meta) {
            *access &= !rule.access;
            if *access == 0 {
                self.exceptions.remove(&meta);
            }
        }
        Ok(())
    }

    /// v1 removes access only from the exception with the very same numbers, so
    /// "allow c 1:* rwm, deny c 1:3 rwm" would still allow 1:3. Refused instead of pretended.
    fn check_no_hole(&self, rule: &Rule, meta: Meta) -> Result<(), CgroupError> {
        let wider = [(None, meta.minor), (meta.major, None), (None, None)];
        for (major, minor) in wider {
            let wide = Meta {
                kind: meta.kind,
                major,
                minor,
            };
            let overlap = self
                .exceptions
                .get(&wide)
                .is_some_and(|a| a & rule.access != 0);
            if wide != meta && overlap {
                return Err(CgroupError::InvalidValue {
                    field: FIELD,
                    value: describe(rule),
                    why: "cannot carve an exception out of an earlier wildcard rule \
                          (the v1 devices controller would ignore it; runc refuses it too)",
                });
            }
        }
        Ok(())
    }

    /// Whether the rules leave every device open, so that no program is needed.
    pub(crate) fn allows_everything(&self) -> bool {
        self.default_allow && self.exceptions.is_empty()
    }
}

fn describe(rule: &Rule) -> String {
    let kind = match rule.kind {
        None => "a",
        Some(Kind::Block) => "b",
        Some(Kind::Char) => "c",
    };
    let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
    let access: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| rule.access & bit != 0)
        .map(|(_, ch)| *ch)
        .collect();
    let verdict = if rule.allow { "allow" } else { "deny" };
    format!(
        "{verdict} {kind} {}:{} {access}",
        num(rule.major),
        num(rule.minor)
    )
}

// Registers. r1 holds the context (`struct bpf_cgroup_dev_ctx`) on entry.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// Stand-in offset for "to the end of this block", fixed once the block's length is known.
const NEXT: i16 = i16::MIN;

/// The program for a policy, or `None` when it allows everything.
///
/// Layout: load type (r2), access (r3), major (r4) and minor (r5) from the context; then one
/// block per exception that jumps to the next block as soon as the request falls outside it,
/// and otherwise returns the exception's verdict; then return the default.
pub(crate) fn program(policy: &Policy) -> Option<Vec<Insn>> {
    if policy.allows_everything() {
        return None;
    }
    let mut insns = vec![
        Insn::new(op::LDX_W, R2, R1, 0, 0),
        Insn::new(op::AND32_K, R2, 0, 0, 0xffff),
        Insn::new(op::LDX_W, R3, R1, 0, 0),
        Insn::new(op::RSH32_K, R3, 0, 0, 16),
        Insn::new(op::LDX_W, R4, R1, 4, 0),
        Insn::new(op::LDX_W, R5, R1, 8, 0),
    ];
    let verdict = i32::from(!policy.default_allow);
    for (meta, access) in &policy.exceptions {
        insns.extend(exception_block(
            meta,
            *access,
            policy.default_allow,
            verdict,
        ));
    }
    insns.push(Insn::new(
        op::MOV32_K,
        R0,
        0,
        0,
        i32::from(policy.default_allow),
    ));
    insns.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    Some(insns)
}

fn exception_block(meta: &Meta, access: u8, default_allow: bool, verdict: i32) -> Vec<Insn> {
    let mut block = vec![Insn::new(op::JNE_K, R2, 0, NEXT, meta.kind as i32)];
    if access != RWM {
        if default_allow {
            // A deny exception hits when the request shares any bit with it.
            block.push(Insn::new(op::JSET_K, R3, 0, 1, i32::from(access)));
            block.push(Insn::new(op::JA, 0, 0, NEXT, 0));
        } else {
            // An allow exception must grant every bit requested.
            let outside = 0xffff & !i32::from(access);
            block.push(Insn::new(op::JSET_K, R3, 0, NEXT, outside));
        }
    }
    if let Some(major) = meta.major {
        block.push(Insn::new(op::JNE_K, R4, 0, NEXT, major as i32));
    }
    if let Some(minor) = meta.minor {
        block.push(Insn::new(op::JNE_K, R5, 0, NEXT, minor as i32));
    }
    block.push(Insn::new(op::MOV32_K, R0, 0, 0, verdict));
    block.push(Insn::new(op::EXIT, 0, 0, 0, 0));
    let len = block.len();
    for (i, insn) in block.iter_mut().enumerate() {
        if insn.off == NEXT {
            // Relative to the instruction after the jump; a block is a handful of
            // instructions, so this always fits.
            insn.off = (len - i - 1) as i16;
        }
    }
    block
}

/// Turn the spec's rules into a program, refusing invalid rules. `None`: nothing to attach.
pub(crate) fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Option<Vec<Insn>>, CgroupError> {
    let rules = rules
        .iter()
        .map(parse_rule)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(program(&Policy::from_rules(&rules)?))
}

/// Make `rules` the cgroup's device policy: attach the new program first, then detach the
/// programs that were there (an `update`), so no access is allowed in between. Several
/// attached programs must all allow an access, so the overlap is only ever stricter.
pub(crate) fn apply_devices(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let program = compile(rules)?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let cgroup = open(dir, flags, Mode::empty()).map_err(|source| CgroupError::Open {
        path: dir.to_path_buf(),
        source,
    })?;
    let old =
        bpf::query_device_programs(cgroup.as_fd()).map_err(|source| CgroupError::BpfQuery {
            path: dir.to_path_buf(),
            source,
        })?;
    if let Some(insns) = program {
        let prog = bpf::load_device_program(&insns).map_err(|e| CgroupError::BpfLoad {
            path: dir.to_path_buf(),
            log: e.log,
            source: e.errno,
        })?;
        bpf::attach_device_program(cgroup.as_fd(), prog.as_fd()).map_err(|source| {
            CgroupError::BpfAttach {
                path: dir.to_path_buf(),
                source,
            }
        })?;
    }
    for id in old {
        let detach = |id| -> Result<(), Errno> {
            let prog = bpf::program_by_id(id)?;
            bpf::detach_device_program(cgroup.as_fd(), prog.as_fd())
        };
        match detach(id) {
            // Detached or unloaded by someone else meanwhile: nothing left to do.
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(source) => {
                return Err(CgroupError::BpfDetach {
                    path: dir.to_path_buf(),
                    prog_id: id,
                    source,
                })
            }
        }
    }
    Ok(())
}
