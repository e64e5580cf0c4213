//! CRIU, driven through its RPC interface: `criu swrk <fd>` is a child of nook that serves one
//! request on a SOCK_SEQPACKET socketpair, each message one protobuf ([`rpc`]), with
//! notifications (e.g. "post-restore") in between that nook answers before CRIU goes on.
//!
//! Only `checkpoint` and `restore` reach this module: nothing here runs, allocates or is
//! paged in on the other verbs.

pub mod rpc;

use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    recv, recvmsg, send, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag,
    SockType,
};
use nix::unistd::Pid;
use prost::Message;

/// The oldest CRIU nook drives: cgroup v2 support and every RPC option nook sets.
pub const MIN_VERSION: u32 = 31500;

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error(
        "run criu ({path}): {source}; install CRIU 3.15 or later, or give its path with --criu"
    )]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("criu rpc socket: {0}")]
    Socket(#[source] nix::Error),
    #[error("criu rpc: criu exited before answering (see its log{log})")]
    Eof { log: String },
    #[error("criu rpc: undecodable answer: {0}")]
    Decode(#[source] prost::DecodeError),
    #[error("criu rpc: answer of type {got} to a request of type {want}")]
    Unexpected { want: i32, got: i32 },
    #[error("criu {what} failed{errno}{log}")]
    Failed {
        what: &'static str,
        errno: String,
        log: String,
    },
    #[error("criu {path} is version {found}, older than 3.15 which nook needs")]
    TooOld { path: PathBuf, found: String },
    #[error("{0}")]
    Notify(String),
}

/// The log CRIU writes in its work directory, to quote from when a request fails.
#[derive(Debug, Clone, Default)]
pub struct Log(pub Option<PathBuf>);

impl Log {
    /// The last error lines of the log, and where the rest is.
    fn excerpt(&self) -> String {
        let Some(path) = &self.0 else {
            return String::new();
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // The errors CRIU logged, without their timestamps; the closing "FAILED" says nothing.
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("Error (") && !l.ends_with("FAILED."))
            .map(|l| l.split_once(") ").map_or(l, |(_, rest)| rest))
            .collect();
        let last: Vec<&str> = errors.iter().rev().take(2).rev().copied().collect();
        if last.is_empty() {
            format!(" (log: {})", path.display())
        } else {
            format!(": {} (log: {})", last.join(" / "), path.display())
        }
    }
}

/// Answers one notification (script name, its message, an fd CRIU passed with it); an error
/// makes CRIU abort.
pub type OnNotify<'a> = dyn FnMut(&str, &rpc::Notify, Option<OwnedFd>) -> Result<(), String> + 'a;

/// One `criu swrk` child and nook's end of its socket.
pub struct Swrk {
    child: Child,
    sock: OwnedFd,
}

impl Swrk {
    /// Start `criu swrk`. Its stdio is nook's own, so fds 0-2 can be handed to the restored
    /// process with `inherit_fd`.
    pub fn spawn(criu: &Path) -> Result<Swrk, CriuError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(CriuError::Socket)?;
        // Only CRIU's end crosses the exec.
        fcntl(&theirs, FcntlArg::F_SETFD(FdFlag::empty())).map_err(CriuError::Socket)?;
        let child = Command::new(criu)
            .arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .spawn()
            .map_err(|source| CriuError::Spawn {
                path: criu.to_path_buf(),
                source,
            })?;
        drop(theirs);
        Ok(Swrk { child, sock: ours })
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Send `req`, answer every notification with `on_notify` (its error aborts CRIU's work),
    /// and return CRIU's final answer, which must report success.
    pub fn call(
        mut self,
        what: &'static str,
        req: &rpc::Req,
        log: &Log,
        on_notify: &mut OnNotify<'_>,
    ) -> Result<rpc::Resp, CriuError> {
        let result = self.exchange(what, req, log, on_notify);
        if result.is_err() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        result
    }

    fn exchange(
        &mut self,
        what: &'static str,
        req: &rpc::Req,
        log: &Log,
        on_notify: &mut OnNotify<'_>,
    ) -> Result<rpc::Resp, CriuError> {
        self.send(req)?;
        loop {
            let (resp, fd) = self.receive(log)?;
            if !resp.success {
                let errno = match resp.cr_errno {
                    Some(e) if e != 0 => format!(" ({})", nix::errno::Errno::from_raw(e).desc()),
                    _ => String::new(),
                };
                let mut log_text = log.excerpt();
                if log.0.is_none() {
                    if let Some(msg) = resp.cr_errmsg.filter(|m| !m.is_empty()) {
                        log_text = format!(": {msg}");
                    }
                }
                return Err(CriuError::Failed {
                    what,
                    errno,
                    log: log_text,
                });
            }
            if resp.r#type == rpc::ReqType::Notify as i32 {
                let notify = resp.notify.unwrap_or_default();
                let script = notify.script.clone().unwrap_or_default();
                let outcome = on_notify(&script, &notify, fd);
                self.send(&rpc::Req {
                    r#type: rpc::ReqType::Notify as i32,
                    notify_success: Some(outcome.is_ok()),
                    ..Default::default()
                })?;
                outcome.map_err(CriuError::Notify)?;
                continue;
            }
            if resp.r#type != req.r#type {
                return Err(CriuError::Unexpected {
                    want: req.r#type,
                    got: resp.r#type,
                });
            }
            return Ok(resp);
        }
    }

    fn send(&self, req: &rpc::Req) -> Result<(), CriuError> {
        let bytes = req.encode_to_vec();
        send(self.sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL).map_err(CriuError::Socket)?;
        Ok(())
    }

    /// One whole message (its size peeked first), with the fd CRIU may attach to it.
    fn receive(&self, log: &Log) -> Result<(rpc::Resp, Option<OwnedFd>), CriuError> {
        let fd = self.sock.as_raw_fd();
        let len = recv(fd, &mut [], MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC)
            .map_err(CriuError::Socket)?;
        if len == 0 {
            return Err(CriuError::Eof {
                log: log
                    .0
                    .as_ref()
                    .map(|p| format!(" {}", p.display()))
                    .unwrap_or_default(),
            });
        }
        let mut buf = vec![0u8; len];
        let mut space = nix::cmsg_space!(std::os::fd::RawFd);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            self.sock.as_fd().as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(CriuError::Socket)?;
        let mut passed = None;
        for cmsg in msg.cmsgs().map_err(CriuError::Socket)? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                for raw in fds {
                    // SAFETY: SCM_RIGHTS just installed `raw` in this process; nothing else
                    // owns it.
                    let owned = unsafe { crate::sys::take_received_fd(raw) };
                    passed.get_or_insert(owned);
                }
            }
        }
        let n = msg.bytes;
        let resp = rpc::Resp::decode(&buf[..n]).map_err(CriuError::Decode)?;
        Ok((resp, passed))
    }
}

/// CRIU's version as one number (major * 10000 + minor * 100 + sublevel), failing when it is
/// older than [`MIN_VERSION`].
pub fn check_version(criu: &Path) -> Result<u32, CriuError> {
    let swrk = Swrk::spawn(criu)?;
    let req = rpc::Req {
        r#type: rpc::ReqType::Version as i32,
        ..Default::default()
    };
    let resp = swrk.call("version", &req, &Log::default(), &mut |_, _, _| Ok(()))?;
    let v = resp.version.unwrap_or_default();
    let number = (v.major_number * 10000 + v.minor_number * 100 + v.sublevel.unwrap_or(0)) as u32;
    if number < MIN_VERSION {
        return Err(CriuError::TooOld {
            path: criu.to_path_buf(),
            found: format!(
                "{}.{}.{}",
                v.major_number,
                v.minor_number,
                v.sublevel.unwrap_or(0)
            ),
        });
    }
    Ok(number)
}

/// Whether this kernel and CRIU can track dirty memory (soft-dirty bits), which `--pre-dump`
/// needs.
pub fn can_track_memory(criu: &Path) -> Result<bool, CriuError> {
    let swrk = Swrk::spawn(criu)?;
    let req = rpc::Req {
        r#type: rpc::ReqType::FeatureCheck as i32,
        features: Some(rpc::Features {
            mem_track: Some(true),
            lazy_pages: None,
        }),
        ..Default::default()
    };
    let resp = swrk.call(
        "feature check",
        &req,
        &Log::default(),
        &mut |_, _, _| Ok(()),
    )?;
    Ok(resp.features.and_then(|f| f.mem_track).unwrap_or(false))
}
