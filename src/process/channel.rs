//! The sync protocol between the runtime (parent) and the container init (child).
//!
//! ```text
//!   parent (nook create)                      child (container init)
//!   --------------------                      ----------------------
//!   clone3(pid/user ns, into cgroup) ──────►  unshare its other namespaces
//!   write uid/gid maps, v1 cgroup dirs,
//!   limits
//!   Go{state, v1 tasks fds} ───────────────►  join the v1 cgroups, join namespaces, mounts
//!                                      ◄────  RunHooks         (only if the spec has prestart
//!   prestart, createRuntime hooks                               or createRuntime hooks)
//!   HooksDone ─────────────────────────────►  createContainer hooks, pivot_root,
//!                                             process attributes, user, capabilities
//!                                      ◄────  Ready            (or Failed{reason})
//!   write state.json, pid file
//!   Commit ────────────────────────────────►  drop pdeathsig; block on start.sock
//!                                             until `nook start`, then execve
//! ```
//!
//! A closed socket at any step means the other side died: the child exits, the parent cleans up.
//! Each end is its own type, so a process can only send the messages its role sends.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("create sync socketpair: {0}")]
    Socketpair(#[source] nix::Error),
    #[error("send {message}: {source}")]
    Send {
        message: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("receive (waiting for {expected}): {source}")]
    Receive {
        expected: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("the other side exited while we waited for {expected}")]
    Closed { expected: &'static str },
    #[error("protocol error: expected {expected}, received {received}")]
    Unexpected {
        expected: &'static str,
        received: &'static str,
    },
    #[error("{0}")]
    ChildFailed(Failure),
}

/// Why the init or an exec'd process gave up, as it reports it with Failed: which stage failed,
/// and that stage's error (naming the field or path), printed once as the runtime's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// Setting itself up failed (namespaces, rootfs, user, capabilities, ...).
    #[error("{0}")]
    Setup(String),
    /// Everything was set up, then a step on the way into the program failed: the seccomp
    /// filter, the startContainer hooks or execve itself.
    #[error("{0}")]
    Exec(String),
}

impl Failure {
    fn encode(&self) -> Vec<u8> {
        let (kind, text) = match self {
            Failure::Setup(t) => (b'S', t),
            Failure::Exec(t) => (b'E', t),
        };
        let mut out = Vec::with_capacity(1 + text.len());
        out.push(kind);
        out.extend_from_slice(text.as_bytes());
        out
    }

    fn decode(payload: &[u8]) -> Failure {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match payload.split_first() {
            Some((b'E', rest)) => Failure::Exec(text(rest)),
            Some((b'S', rest)) => Failure::Setup(text(rest)),
            _ => Failure::Setup(text(payload)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Go = 1,
    Ready = 2,
    Commit = 3,
    Failed = 4,
    RunHooks = 5,
    HooksDone = 6,
}

impl Tag {
    fn name(self) -> &'static str {
        match self {
            Tag::Go => "Go",
            Tag::Ready => "Ready",
            Tag::Commit => "Commit",
            Tag::Failed => "Failed",
            Tag::RunHooks => "RunHooks",
            Tag::HooksDone => "HooksDone",
        }
    }

    fn from_byte(b: u8) -> Option<Tag> {
        [
            Tag::Go,
            Tag::Ready,
            Tag::Commit,
            Tag::Failed,
            Tag::RunHooks,
            Tag::HooksDone,
        ]
        .into_iter()
        .find(|t| *t as u8 == b)
    }
}

/// Longest failure reason carried; longer ones are cut. Other messages are sent whole.
const MAX_REASON: usize = 4096;
/// Most fds one message carries (Go: one v1 `tasks` file per hierarchy).
const MAX_FDS: usize = 32;

struct End(OwnedFd);

impl End {
    fn send(&self, tag: Tag, payload: &[u8]) -> Result<(), ChannelError> {
        self.send_fds(tag, payload, &[])
    }

    fn send_fds(&self, tag: Tag, payload: &[u8], fds: &[RawFd]) -> Result<(), ChannelError> {
        let payload = match tag {
            Tag::Failed => &payload[..payload.len().min(MAX_REASON)],
            _ => payload,
        };
        let head = [tag as u8];
        let iov = [IoSlice::new(&head), IoSlice::new(payload)];
        let rights = [ControlMessage::ScmRights(fds)];
        let cmsgs = if fds.is_empty() { &[][..] } else { &rights[..] };
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &iov,
            cmsgs,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map(drop)
        .map_err(|source| ChannelError::Send {
            message: tag.name(),
            source,
        })
    }

    /// One message, whatever its length (peeked first: a state JSON with large annotations
    /// must reach the init whole), with any fds it carries (close-on-exec).
    fn recv(&self, expected: Tag) -> Result<(Tag, Vec<u8>, Vec<OwnedFd>), ChannelError> {
        let err = |source| ChannelError::Receive {
            expected: expected.name(),
            source,
        };
        let len = loop {
            let mut probe = [0u8; 1];
            let mut iov = [IoSliceMut::new(&mut probe)];
            let flags = MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC;
            match recvmsg::<()>(self.0.as_raw_fd(), &mut iov, None, flags) {
                Ok(msg) => break msg.bytes,
                Err(nix::Error::EINTR) => continue,
                Err(source) => return Err(err(source)),
            }
        };
        if len == 0 {
            return Err(ChannelError::Closed {
                expected: expected.name(),
            });
        }
        let mut buf = vec![0u8; len];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut fds = Vec::new();
        let n = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    for cmsg in msg.cmsgs().map_err(err)? {
                        if let ControlMessageOwned::ScmRights(received) = cmsg {
                            // SAFETY: the kernel just installed these fds for us; nothing
                            // else owns them.
                            fds.extend(received.into_iter().map(|fd| unsafe {
                                <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
                            }));
                        }
                    }
                    // More fds than MAX_FDS: the rest were dropped by the kernel.
                    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
                        return Err(err(nix::Error::EMSGSIZE));
                    }
                    break msg.bytes;
                }
                Err(nix::Error::EINTR) => continue,
                Err(source) => return Err(err(source)),
            }
        };
        let tag = Tag::from_byte(buf[0]).ok_or(ChannelError::Unexpected {
            expected: expected.name(),
            received: "an unknown message",
        })?;
        buf.truncate(n);
        buf.remove(0);
        Ok((tag, buf, fds))
    }

    fn expect(&self, expected: Tag) -> Result<Vec<u8>, ChannelError> {
        self.expect_fds(expected).map(|(payload, _)| payload)
    }

    fn expect_fds(&self, expected: Tag) -> Result<(Vec<u8>, Vec<OwnedFd>), ChannelError> {
        match self.recv(expected)? {
            (tag, payload, fds) if tag == expected => Ok((payload, fds)),
            (Tag::Failed, reason, _) => Err(ChannelError::ChildFailed(Failure::decode(&reason))),
            (tag, _, _) => Err(ChannelError::Unexpected {
                expected: expected.name(),
                received: tag.name(),
            }),
        }
    }
}

/// The runtime's end.
pub struct ParentEnd(End);
/// The container init's end.
pub struct InitEnd(End);

/// A connected pair; both ends are close-on-exec, so neither reaches the container's program.
pub fn pair() -> Result<(ParentEnd, InitEnd), ChannelError> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(ChannelError::Socketpair)?;
    Ok((ParentEnd(End(a)), InitEnd(End(b))))
}

impl ParentEnd {
    /// Namespaces are mapped and the cgroup is ready: the init may set itself up. Carries the
    /// container state JSON the init hands to its own hooks, and the v1 `tasks` files the init
    /// joins the cgroup through (none when clone3 placed it).
    pub fn go(&self, state_json: &str, cgroup_tasks: &[OwnedFd]) -> Result<(), ChannelError> {
        let fds: Vec<RawFd> = cgroup_tasks.iter().map(|f| f.as_raw_fd()).collect();
        if fds.len() > MAX_FDS {
            return Err(ChannelError::Send {
                message: Tag::Go.name(),
                source: nix::Error::EMSGSIZE,
            });
        }
        self.0.send_fds(Tag::Go, state_json.as_bytes(), &fds)
    }

    /// Wait until the init's mounts are done and it asks for the runtime-side hooks.
    pub fn wait_run_hooks(&self) -> Result<(), ChannelError> {
        self.0.expect(Tag::RunHooks).map(drop)
    }

    pub fn hooks_done(&self) -> Result<(), ChannelError> {
        self.0.send(Tag::HooksDone, &[])
    }

    /// Wait until the init is set up, or carry back why it failed.
    pub fn wait_ready(&self) -> Result<(), ChannelError> {
        self.0.expect(Tag::Ready).map(drop)
    }

    /// After Commit to a process that execs right away: its end closes on a successful execve
    /// (close-on-exec), or carries the reason execve failed.
    pub fn wait_exec(&self) -> Result<(), ChannelError> {
        match self.0.recv(Tag::Failed) {
            Err(ChannelError::Closed { .. }) => Ok(()),
            Ok((Tag::Failed, reason, _)) => {
                Err(ChannelError::ChildFailed(Failure::decode(&reason)))
            }
            Ok((tag, _, _)) => Err(ChannelError::Unexpected {
                expected: "end of stream",
                received: tag.name(),
            }),
            Err(e) => Err(e),
        }
    }

    /// State is saved: the init may stop depending on us and wait for `start`.
    pub fn commit(&self) -> Result<(), ChannelError> {
        self.0.send(Tag::Commit, &[])
    }
}

impl std::os::fd::AsRawFd for InitEnd {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0 .0.as_raw_fd()
    }
}

impl InitEnd {
    /// Returns the container state JSON for the init's hooks and the cgroup `tasks` files
    /// to join through.
    pub fn wait_go(&self) -> Result<(String, Vec<OwnedFd>), ChannelError> {
        let (payload, fds) = self.0.expect_fds(Tag::Go)?;
        Ok((String::from_utf8_lossy(&payload).into_owned(), fds))
    }

    /// Ask the runtime to run prestart and createRuntime hooks, and wait until it has.
    pub fn run_runtime_hooks(&self) -> Result<(), ChannelError> {
        self.0.send(Tag::RunHooks, &[])?;
        self.0.expect(Tag::HooksDone).map(drop)
    }

    pub fn ready(&self) -> Result<(), ChannelError> {
        self.0.send(Tag::Ready, &[])
    }

    pub fn wait_commit(&self) -> Result<(), ChannelError> {
        self.0.expect(Tag::Commit).map(drop)
    }

    /// Report why it gave up; the process exits right after.
    pub fn failed(&self, failure: &Failure) -> Result<(), ChannelError> {
        self.0.send(Tag::Failed, &failure.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_in_order() {
        let (parent, init) = pair().unwrap();
        parent.go("{}", &[]).unwrap();
        assert_eq!(init.wait_go().unwrap().0, "{}");
        parent.hooks_done().unwrap();
        assert!(init.run_runtime_hooks().is_ok());
        parent.wait_run_hooks().unwrap();
        init.ready().unwrap();
        parent.wait_ready().unwrap();
        parent.commit().unwrap();
        init.wait_commit().unwrap();
    }

    #[test]
    fn go_carries_a_large_state_and_fds() {
        let (parent, init) = pair().unwrap();
        let state = "x".repeat(100_000);
        let (r, w) = nix::unistd::pipe().unwrap();
        parent.go(&state, &[w]).unwrap();
        let (got, fds) = init.wait_go().unwrap();
        assert_eq!(got, state);
        assert_eq!(fds.len(), 1);
        nix::unistd::write(&fds[0], b"z").unwrap();
        let mut byte = [0u8; 1];
        nix::unistd::read(&r, &mut byte).unwrap();
        assert_eq!(&byte, b"z");
    }

    #[test]
    fn failure_reason_reaches_parent() {
        let (parent, init) = pair().unwrap();
        let failure = Failure::Setup("mount /proc: EPERM".into());
        init.failed(&failure).unwrap();
        match parent.wait_ready() {
            Err(ChannelError::ChildFailed(r)) => assert_eq!(r, failure),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_kind_of_failure_survives_the_trip() {
        let (parent, init) = pair().unwrap();
        parent.commit().unwrap();
        let failure = Failure::Exec("exec \"/x\": No such file or directory".into());
        init.failed(&failure).unwrap();
        match parent.wait_exec() {
            Err(ChannelError::ChildFailed(r)) => assert_eq!(r, failure),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn out_of_order_is_typed_error() {
        let (parent, init) = pair().unwrap();
        parent.commit().unwrap();
        match init.wait_go() {
            Err(ChannelError::Unexpected { expected, received }) => {
                assert_eq!((expected, received), ("Go", "Commit"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closed_peer_is_detected() {
        let (parent, init) = pair().unwrap();
        drop(parent);
        assert!(matches!(init.wait_go(), Err(ChannelError::Closed { .. })));
    }
}
