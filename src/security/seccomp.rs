//! `linux.seccomp`: the profile turned into a libseccomp filter, and the filter installed in the
//! container init.
//!
//! The filter is built from the spec twice. `validate` builds it (and has libseccomp generate the
//! BPF program) in the runtime at `create`, before any process exists, so every mistake
//! libseccomp or nook can see fails there with the field named. The init builds it again from
//! the same spec with `Prepared::new` and loads it late (init.rs says where and why). Building is
//! deterministic userspace work, so the init's build cannot fail where the runtime's succeeded.
//!
//! Where the default action would refuse them, syscalls newer than the profile get ENOSYS
//! instead (see [`super::enosys`]): that filter is libseccomp's program behind a prefix of ours,
//! exported once when the init builds it and loaded with seccomp(2) directly.
//!
//! Semantics follow runc where the spec is silent: a syscall name libseccomp does not know on
//! any architecture is skipped (profiles list syscalls of newer kernels), a rule whose action is
//! the default action is dropped (libseccomp refuses it), and several conditions on the same
//! argument index become one rule each (OR), while conditions on distinct indexes are one rule (AND).

use std::fs::File;
use std::io::{IoSlice, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterAttr, ScmpFilterContext,
    ScmpSyscall,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{
    Arch, ContainerProcessState, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg,
    LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op, State, SECCOMP_FD_NAME,
};

use crate::sys::seccomp::SockFilter;

type LibError = libseccomp::error::SeccompError;

/// The kernel hands a filter six syscall arguments.
const MAX_ARGS: usize = 6;
/// What ERRNO and TRACE return when the profile gives no errnoRet.
const EPERM: u32 = nix::errno::Errno::EPERM as u32;
/// Syscalls nook makes after loading the filter and before the agent holds the notify fd:
/// a NOTIFY on one of them would wait forever for an agent that cannot answer yet.
const NEEDED_BEFORE_HANDOFF: &[&str] = &["sendmsg"];

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("linux.seccomp.defaultAction: create the filter: {0}")]
    NewFilter(#[source] LibError),
    #[error(
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action (the syscalls \
         that hand the notify fd to the agent would wait for the agent)"
    )]
    NotifyDefault,
    #[error("{field}: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {action}")]
    ErrnoRetUnused { field: String, action: Action },
    #[error("{field}: {value} is out of range (0-65535)")]
    ErrnoRetRange { field: String, value: u32 },
    #[error("linux.seccomp.architectures[{index}]: {arch}: {source}")]
    Arch {
        index: usize,
        arch: Arch,
        #[source]
        source: LibError,
    },
    #[error(
        "linux.seccomp.flags[{index}]: {flag} is not supported by libseccomp {version}: {source}"
    )]
    Flag {
        index: usize,
        flag: Flag,
        version: String,
        #[source]
        source: LibError,
    },
    #[error("linux.seccomp: set libseccomp attribute {attr}: {source}")]
    Attr {
        attr: &'static str,
        #[source]
        source: LibError,
    },
    #[error("{field}: argument index {index} is out of range (0-5)")]
    ArgIndex { field: String, index: usize },
    #[error("{field}: add the rule for {name}: {source}")]
    Rule {
        field: String,
        name: String,
        #[source]
        source: LibError,
    },
    #[error("linux.seccomp.listenerPath: required because {field} is SCMP_ACT_NOTIFY")]
    NoListener { field: String },
    #[error("linux.seccomp.listenerPath: {0:?} is not an absolute path")]
    ListenerRelative(PathBuf),
    #[error(
        "{field}: SCMP_ACT_NOTIFY on {name} would block nook handing the notify fd to the agent"
    )]
    NotifyNeeded { field: String, name: String },
    #[error("linux.seccomp: generate the BPF program: {0}")]
    Export(#[source] LibError),
    #[error("linux.seccomp: open /dev/null: {0}")]
    DevNull(#[source] std::io::Error),
    #[error("linux.seccomp.listenerPath: connect {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("linux.seccomp: the container state is not valid JSON: {0}")]
    State(#[source] serde_json::Error),
    #[error("linux.seccomp: load the filter: {0}")]
    Load(#[source] LibError),
    #[error(transparent)]
    Stub(#[from] super::enosys::StubTooLong),
    #[error("linux.seccomp: read the generated BPF program: {0}")]
    ReadExport(#[source] std::io::Error),
    #[error("linux.seccomp: the generated BPF program is not whole instructions")]
    ExportShape,
    #[error("linux.seccomp: load the filter with its -ENOSYS prefix: {0}")]
    LoadPatched(#[source] nix::Error),
    #[error("linux.seccomp: get the notify fd: {0}")]
    NotifyFd(#[source] LibError),
    #[error("linux.seccomp.listenerPath: send the notify fd to {path}: {source}")]
    Send {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
}

/// The libseccomp action for a spec action; `field` names the errnoRet in errors.
pub fn action(
    action: Action,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction, SeccompError> {
    let ret = || match errno_ret.unwrap_or(EPERM) {
        v if v <= u32::from(u16::MAX) => Ok(v as u16),
        value => Err(SeccompError::ErrnoRetRange {
            field: field.to_string(),
            value,
        }),
    };
    if errno_ret.is_some() && !matches!(action, Action::ScmpActErrno | Action::ScmpActTrace) {
        return Err(SeccompError::ErrnoRetUnused {
            field: field.to_string(),
            action,
        });
    }
    Ok(match action {
        Action::ScmpActKill | Action::ScmpActKillThread => ScmpAction::KillThread,
        Action::ScmpActKillProcess => ScmpAction::KillProcess,
        Action::ScmpActTrap => ScmpAction::Trap,
        Action::ScmpActErrno => ScmpAction::Errno(i32::from(ret()?)),
        Action::ScmpActTrace => ScmpAction::Trace(ret()?),
        Action::ScmpActLog => ScmpAction::Log,
        Action::ScmpActAllow => ScmpAction::Allow,
        Action::ScmpActNotify => ScmpAction::Notify,
    })
}

pub fn arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The filter attribute each spec flag sets. libseccomp sets the kernel flag at load time, and
/// refuses an attribute it (or the kernel) does not know, which `build` reports per flag.
pub fn flag_attr(flag: Flag) -> ScmpFilterAttr {
    match flag {
        Flag::SeccompFilterFlagTsync => ScmpFilterAttr::CtlTsync,
        Flag::SeccompFilterFlagLog => ScmpFilterAttr::CtlLog,
        Flag::SeccompFilterFlagSpecAllow => ScmpFilterAttr::CtlSsb,
        Flag::SeccompFilterFlagWaitKillableRecv => ScmpFilterAttr::CtlWaitkill,
    }
}

/// One argument condition. For SCMP_CMP_MASKED_EQ `value` is the mask and `valueTwo` the datum
/// (libseccomp's order); the other operators compare against `value` and ignore `valueTwo`.
pub fn compare(arg: &LinuxSeccompArg, field: &str) -> Result<ScmpArgCompare, SeccompError> {
    if arg.index() >= MAX_ARGS {
        return Err(SeccompError::ArgIndex {
            field: format!("{field}.index"),
            index: arg.index(),
        });
    }
    let (op, datum) = match arg.op() {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        Op::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(arg.index() as u32, op, datum))
}

/// The rules one `syscalls[]` entry becomes: each inner list is ANDed by libseccomp. Two
/// conditions on the same argument cannot both hold as equalities, so runc's reading (one rule
/// per condition, i.e. OR) is the one profiles are written for.
fn condition_sets(
    args: &[LinuxSeccompArg],
    field: &str,
) -> Result<Vec<Vec<ScmpArgCompare>>, SeccompError> {
    let conds = args
        .iter()
        .enumerate()
        .map(|(i, a)| compare(a, &format!("{field}.args[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = [false; MAX_ARGS];
    let repeated = args
        .iter()
        .any(|a| std::mem::replace(&mut seen[a.index()], true));
    Ok(if conds.is_empty() {
        vec![Vec::new()]
    } else if repeated {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    })
}

/// Build the whole filter from the profile, refusing what cannot be applied.
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let default = action(
        s.default_action(),
        s.default_errno_ret(),
        "linux.seccomp.defaultErrnoRet",
    )?;
    if default == ScmpAction::Notify {
        return Err(SeccompError::NotifyDefault);
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(SeccompError::NewFilter)?;
    // libseccomp would set no_new_privs itself when loading; only process.noNewPrivileges may.
    ctx.set_ctl_nnp(false)
        .map_err(|source| SeccompError::Attr {
            attr: "SCMP_FLTATR_CTL_NNP",
            source,
        })?;
    // The kernel's errno instead of libseccomp's catch-all ECANCELED when loading fails.
    ctx.set_api_sysrawrc(true)
        .map_err(|source| SeccompError::Attr {
            attr: "SCMP_FLTATR_API_SYSRAWRC",
            source,
        })?;
    for (index, &a) in s.architectures().iter().flatten().enumerate() {
        ctx.add_arch(arch(a)).map_err(|source| SeccompError::Arch {
            index,
            arch: a,
            source,
        })?;
    }
    for (index, &flag) in s.flags().iter().flatten().enumerate() {
        ctx.set_filter_attr(flag_attr(flag), 1)
            .map_err(|source| SeccompError::Flag {
                index,
                flag,
                version: libseccomp::ScmpVersion::current()
                    .map_or_else(|_| "?".to_string(), |v| v.to_string()),
                source,
            })?;
    }
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(
            call.action(),
            call.errno_ret(),
            &format!("{field}.errnoRet"),
        )?;
        let sets = condition_sets(call.args().as_deref().unwrap_or(&[]), &field)?;
        if act == ScmpAction::Notify {
            check_notify(s, call.names(), &field)?;
        }
        if act == default {
            continue;
        }
        for name in call.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                continue;
            };
            for set in &sets {
                ctx.add_rule_conditional(act, nr, set)
                    .map_err(|source| SeccompError::Rule {
                        field: format!("{field}.names"),
                        name: name.clone(),
                        source,
                    })?;
            }
        }
    }
    Ok(ctx)
}

fn check_notify(s: &LinuxSeccomp, names: &[String], field: &str) -> Result<(), SeccompError> {
    if s.listener_path().is_none() {
        return Err(SeccompError::NoListener {
            field: format!("{field}.action"),
        });
    }
    match names
        .iter()
        .find(|n| NEEDED_BEFORE_HANDOFF.contains(&n.as_str()))
    {
        Some(name) => Err(SeccompError::NotifyNeeded {
            field: format!("{field}.names"),
            name: name.clone(),
        }),
        None => Ok(()),
    }
}

fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls()
        .iter()
        .flatten()
        .any(|c| c.action() == Action::ScmpActNotify)
}

/// Everything that can be judged at `create`, in the runtime: the filter is built and compiled
/// to BPF (into /dev/null), so only the kernel's own verdict is left for the init.
pub fn validate(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    if let Some(path) = s.listener_path().as_ref().filter(|p| !p.is_absolute()) {
        return Err(SeccompError::ListenerRelative(path.clone()));
    }
    let ctx = build(s)?;
    let null = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(SeccompError::DevNull)?;
    ctx.export_bpf(&null).map_err(SeccompError::Export)?;
    super::enosys::stub(s)?;
    Ok(())
}

/// libseccomp's program for `ctx`, through a pipe (libseccomp 2.5 exports only to an fd). The
/// kernel takes at most 4096 instructions (32 KiB), well under a pipe's 64 KiB: the write end
/// is non-blocking so a larger export fails instead of hanging.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<SockFilter>, SeccompError> {
    use nix::fcntl::OFlag;
    let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)
        .map_err(|e| SeccompError::ReadExport(e.into()))?;
    ctx.export_bpf(&tx).map_err(SeccompError::Export)?;
    drop(tx);
    let mut bytes = Vec::new();
    File::from(rx)
        .read_to_end(&mut bytes)
        .map_err(SeccompError::ReadExport)?;
    crate::sys::seccomp::parse_program(&bytes).ok_or(SeccompError::ExportShape)
}

/// The seccomp(2) flags the profile asks for, plus NEW_LISTENER when a rule notifies.
fn load_flags(s: &LinuxSeccomp) -> u32 {
    use crate::sys::seccomp as k;
    let mut flags = s.flags().iter().flatten().fold(0, |acc, f| {
        acc | match f {
            Flag::SeccompFilterFlagTsync => k::FLAG_TSYNC,
            Flag::SeccompFilterFlagLog => k::FLAG_LOG,
            Flag::SeccompFilterFlagSpecAllow => k::FLAG_SPEC_ALLOW,
            Flag::SeccompFilterFlagWaitKillableRecv => k::FLAG_WAIT_KILLABLE_RECV,
        }
    });
    if uses_notify(s) {
        flags |= k::FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC with a listener unless a failed sync reports ESRCH.
        if flags & k::FLAG_TSYNC != 0 {
            flags |= k::FLAG_TSYNC_ESRCH;
        }
    }
    flags
}

/// The seccomp agent at listenerPath, connected while host paths still resolve.
struct Agent {
    path: PathBuf,
    stream: UnixStream,
    metadata: Option<String>,
}

/// A filter built in the init, waiting to be loaded.
pub struct Prepared {
    ctx: ScmpFilterContext,
    /// The -ENOSYS prefix followed by libseccomp's program, with the seccomp(2) flags, when
    /// the profile gets the prefix; otherwise libseccomp loads `ctx` itself.
    patched: Option<(Vec<SockFilter>, u32)>,
    agent: Option<Agent>,
}

impl Prepared {
    /// Build the filter and, when it notifies, connect to the agent. Call this before the init
    /// joins namespaces or pivots: listenerPath is a host path.
    pub fn new(s: &LinuxSeccomp) -> Result<Self, SeccompError> {
        let ctx = build(s)?;
        let mut program = super::enosys::stub(s)?;
        let patched = if program.is_empty() {
            None
        } else {
            program.extend(export(&ctx)?);
            Some((program, load_flags(s)))
        };
        let agent = match s.listener_path() {
            Some(path) if uses_notify(s) => Some(Agent {
                stream: UnixStream::connect(path).map_err(|source| SeccompError::Connect {
                    path: path.clone(),
                    source,
                })?,
                path: path.clone(),
                metadata: s.listener_metadata().clone(),
            }),
            _ => None,
        };
        Ok(Prepared {
            ctx,
            patched,
            agent,
        })
    }

    /// Install the filter on this process; from here on every syscall of ours is filtered too.
    /// With an agent, hand it the notify fd with the container process state, then close our
    /// copy so a dead agent makes notified syscalls fail instead of hang.
    pub fn load(self, state_json: &str) -> Result<(), SeccompError> {
        // Everything that allocates is done before the filter is in place.
        let message = match &self.agent {
            Some(agent) => Some(process_state(state_json, agent.metadata.clone())?),
            None => None,
        };
        let notify_fd: Option<OwnedFd> = match &self.patched {
            Some((program, flags)) => crate::sys::seccomp::set_filter(*flags, program)
                .map_err(SeccompError::LoadPatched)?,
            None => {
                self.ctx.load().map_err(SeccompError::Load)?;
                None
            }
        };
        let (Some(agent), Some(message)) = (self.agent, message) else {
            return Ok(());
        };
        let fd = match notify_fd {
            Some(fd) => fd,
            None => {
                let fd = self.ctx.get_notify_fd().map_err(SeccompError::NotifyFd)?;
                // The kernel created this fd for us at load; libseccomp only caches the number
                // and never closes it, so this OwnedFd is its only owner.
                // SAFETY: as above: the fd is open and has no other owner.
                unsafe { crate::sys::take_received_fd(fd) }
            }
        };
        let fds = [fd.as_raw_fd()];
        sendmsg::<()>(
            agent.stream.as_raw_fd(),
            &[IoSlice::new(&message)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(|source| SeccompError::Send {
            path: agent.path,
            source,
        })?;
        Ok(())
    }
}

/// The spec's ContainerProcessState: the OCI state plus which fd is which.
pub fn process_state(state_json: &str, metadata: Option<String>) -> Result<Vec<u8>, SeccompError> {
    let state: State = serde_json::from_str(state_json).map_err(SeccompError::State)?;
    let mut msg = ContainerProcessState::default();
    msg.set_version(crate::state::OCI_VERSION.to_string())
        .set_fds(vec![SECCOMP_FD_NAME.to_string()])
        .set_pid(state.pid().unwrap_or(0))
        .set_metadata(metadata)
        .set_state(state);
    serde_json::to_vec(&msg).map_err(SeccompError::State)
}

/// Whether this libseccomp can build filters for `a` (the features document lists only those).
pub fn arch_supported(a: Arch) -> bool {
    ScmpFilterContext::new(ScmpAction::Allow)
        .and_then(|mut ctx| ctx.add_arch(arch(a)).map(drop))
        .is_ok()
}

/// Whether this libseccomp and kernel accept `flag`.
pub fn flag_supported(flag: Flag) -> bool {
    ScmpFilterContext::new(ScmpAction::Allow)
        .and_then(|mut ctx| ctx.set_filter_attr(flag_attr(flag), 1).map(drop))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    fn parse_error(seccomp: serde_json::Value) -> String {
        let config = serde_json::json!({"ociVersion": "1.0.2", "linux": {"seccomp": seccomp}});
        let err = crate::spec::parse_reader(config.to_string().as_bytes(), Path::new("c.json"))
            .unwrap_err();
        err.to_string()
    }

    #[test]
    fn actions_convert() {
        let f = "f";
        assert_eq!(
            action(Action::ScmpActKill, None, f).unwrap(),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(Action::ScmpActKillProcess, None, f).unwrap(),
            ScmpAction::KillProcess
        );
        assert_eq!(
            action(Action::ScmpActErrno, None, f).unwrap(),
            ScmpAction::Errno(1)
        );
        assert_eq!(
            action(Action::ScmpActErrno, Some(95), f).unwrap(),
            ScmpAction::Errno(95)
        );
        assert_eq!(
            action(Action::ScmpActTrace, Some(7), f).unwrap(),
            ScmpAction::Trace(7)
        );
        assert_eq!(
            action(Action::ScmpActNotify, None, f).unwrap(),
            ScmpAction::Notify
        );
        let err = action(Action::ScmpActAllow, Some(1), "x.errnoRet").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.errnoRet: errnoRet is only valid"),
            "{err}"
        );
        let err = action(Action::ScmpActErrno, Some(70000), "x.errnoRet").unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn ops_arches_and_flags_convert() {
        let arg: LinuxSeccompArg = serde_json::from_value(
            serde_json::json!({"index": 2, "value": 0o4000, "valueTwo": 0o4000, "op": "SCMP_CMP_MASKED_EQ"}),
        )
        .unwrap();
        let want = ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(0o4000), 0o4000);
        assert_eq!(compare(&arg, "a").unwrap(), want);
        assert_eq!(arch(Arch::ScmpArchX86_64), ScmpArch::X8664);
        assert_eq!(arch(Arch::ScmpArchAarch64), ScmpArch::Aarch64);
        assert_eq!(
            flag_attr(Flag::SeccompFilterFlagSpecAllow),
            ScmpFilterAttr::CtlSsb
        );
    }

    #[test]
    fn bad_argument_index_names_the_field() {
        let s = profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_LOG"},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        );
        let err = validate(&s).unwrap_err().to_string();
        assert!(
            err.starts_with("linux.seccomp.syscalls[1].args[0].index: argument index 6"),
            "{err}"
        );
    }

    #[test]
    fn unknown_names_in_the_spec_are_refused_by_the_parser_with_the_field() {
        let allow = |s: serde_json::Value| {
            let mut base = serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"});
            base.as_object_mut()
                .unwrap()
                .extend(s.as_object().unwrap().clone());
            base
        };
        let err = parse_error(allow(
            serde_json::json!({"flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
        ));
        assert!(err.contains("linux.seccomp.flags[0]"), "{err}");
        let err = parse_error(allow(
            serde_json::json!({"architectures": ["SCMP_ARCH_VAX"]}),
        ));
        assert!(err.contains("linux.seccomp.architectures[0]"), "{err}");
        let err = parse_error(allow(serde_json::json!(
            {"syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"}, {"names": ["b"], "action": "SCMP_ACT_NOPE"}]})));
        assert!(err.contains("linux.seccomp.syscalls[1].action"), "{err}");
        let err = parse_error(allow(
            serde_json::json!({"syscalls": [{"names": ["b"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SORTA"}]}]}),
        ));
        assert!(
            err.contains("linux.seccomp.syscalls[0].args[0].op"),
            "{err}"
        );
    }

    #[test]
    fn notify_needs_a_listener_and_cannot_be_the_default() {
        let s = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
        let err = validate(&s).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "linux.seccomp.listenerPath: required because linux.seccomp.syscalls[0].action"
            ),
            "{err}"
        );
        let s = profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/a.sock"}),
        );
        assert!(matches!(validate(&s), Err(SeccompError::NotifyDefault)));
        let s = profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/a.sock",
            "syscalls": [{"names": ["mkdir", "sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        let err = validate(&s).unwrap_err().to_string();
        assert!(
            err.contains("syscalls[0].names: SCMP_ACT_NOTIFY on sendmsg"),
            "{err}"
        );
        let s = profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "a.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
        );
        assert!(matches!(
            validate(&s),
            Err(SeccompError::ListenerRelative(_))
        ));
    }

    #[test]
    fn flags_libseccomp_knows_are_accepted() {
        let s = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}));
        let ctx = build(&s).unwrap();
        assert!(ctx.get_ctl_log().unwrap());
        assert!(ctx.get_ctl_tsync().unwrap());
        assert!(
            !ctx.get_ctl_nnp().unwrap(),
            "libseccomp must not set no_new_privs itself"
        );
    }

    #[test]
    fn a_flag_this_libseccomp_lacks_names_the_field() {
        let s = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
        let v = libseccomp::ScmpVersion::current().unwrap();
        if (v.major, v.minor) < (2, 6) {
            let err = validate(&s).unwrap_err().to_string();
            assert!(
                err.starts_with("linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
                "{err}"
            );
        }
    }

    #[test]
    fn realistic_profile_builds() {
        // Deny mkdir with EPERM; personality limited to a few values (several conditions on
        // one argument: OR); names unknown to libseccomp are skipped; a rule equal to the
        // default action is dropped instead of failing.
        let s = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["no_such_syscall_anywhere", "socketcall"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 0, "op": "SCMP_CMP_NE"},
                    {"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
                {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]},
                {"names": ["ptrace"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
                {"names": ["uname"], "action": "SCMP_ACT_LOG"}
            ]
        }));
        validate(&s).unwrap();
        let ctx = build(&s).unwrap();
        assert_eq!(ctx.get_act_default().unwrap(), ScmpAction::Allow);
        assert!(ctx.is_arch_present(ScmpArch::X86).unwrap());
        let mut pfc = tempfile::tempfile().unwrap();
        ctx.export_pfc(&pfc).unwrap();
        use std::io::{Read, Seek};
        pfc.rewind().unwrap();
        let mut text = String::new();
        pfc.read_to_string(&mut text).unwrap();
        assert!(text.contains("mkdir"), "{text}");
        assert!(text.contains("ERRNO(1)"), "{text}");
    }

    #[test]
    fn process_state_carries_the_state_and_the_fd_name() {
        let state =
            r#"{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":42,"bundle":"/b"}"#;
        let msg = process_state(state, Some("meta".into())).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&msg).unwrap();
        assert_eq!(v["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "meta");
        assert_eq!(v["state"]["id"], "c1");
    }
}
