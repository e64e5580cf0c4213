//! A minimal rtnetlink client: the few requests `linux.netDevices` needs (find a link, set it up
//! or down, rename it and move it to another network namespace; list its permanent addresses
//! and add them again after the move).
//! Built only when a config lists netDevices; nothing on the common path opens a socket here.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};

const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const NLM_F_REQUEST: u16 = 0x01;
const NLM_F_ACK: u16 = 0x04;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLM_F_DUMP: u16 = 0x300;
const IFADDRMSG_LEN: usize = 8;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_FLAGS: u16 = 8;
const IFA_F_PERMANENT: u32 = 0x80;
const RT_SCOPE_UNIVERSE: u8 = 0;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const IFF_UP: u32 = 0x1;

/// What to change on one link (`RTM_NEWLINK` on an existing link).
#[derive(Debug, Default, Clone, Copy)]
pub struct LinkChange<'a> {
    /// The link's index; 0 to find it by `name` instead.
    pub index: u32,
    /// The new name (or, with index 0, the name to find it by).
    pub name: Option<&'a str>,
    /// Some(true) up, Some(false) down.
    pub up: Option<bool>,
    /// Move to the network namespace open at this fd.
    pub netns_fd: Option<RawFd>,
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Route {
    fd: OwnedFd,
    seq: u32,
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn push_attr(buf: &mut Vec<u8>, typ: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&typ.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align(buf.len()), 0);
}

/// The bytes of one request: header, ifinfomsg, attributes.
fn link_request(typ: u16, flags: u16, seq: u32, change: &LinkChange<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; NLMSG_HDRLEN];
    // struct ifinfomsg: family, pad, type, index, flags, change.
    let (flags_on, mask) = match change.up {
        Some(true) => (IFF_UP, IFF_UP),
        Some(false) => (0, IFF_UP),
        None => (0, 0),
    };
    buf.extend_from_slice(&[0u8; 4]);
    buf.extend_from_slice(&(change.index as i32).to_ne_bytes());
    buf.extend_from_slice(&flags_on.to_ne_bytes());
    buf.extend_from_slice(&mask.to_ne_bytes());
    if let Some(name) = change.name {
        let mut bytes = name.as_bytes().to_vec();
        bytes.push(0);
        push_attr(&mut buf, IFLA_IFNAME, &bytes);
    }
    if let Some(fd) = change.netns_fd {
        push_attr(&mut buf, IFLA_NET_NS_FD, &(fd as u32).to_ne_bytes());
    }
    header(&mut buf, typ, flags, seq);
    buf
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The answer to a request: an error code (0 is the ACK), or a link's index and name.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Ack(i32),
    Link { index: u32, name: String },
}

/// Parse the first message of `buf` answering `seq`.
fn parse_reply(buf: &[u8], seq: u32) -> Option<Reply> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return None;
        }
        let msg = &buf[at..at + len];
        let typ = u16_at(msg, 4);
        if u32_at(msg, 8) == seq {
            match typ {
                NLMSG_ERROR if msg.len() >= NLMSG_HDRLEN + 4 => {
                    let code = u32_at(msg, NLMSG_HDRLEN) as i32;
                    return Some(Reply::Ack(code));
                }
                NLMSG_DONE => return Some(Reply::Ack(0)),
                RTM_NEWLINK if msg.len() >= NLMSG_HDRLEN + IFINFOMSG_LEN => {
                    let index = u32_at(msg, NLMSG_HDRLEN + 4);
                    let mut name = String::new();
                    let mut a = NLMSG_HDRLEN + IFINFOMSG_LEN;
                    while a + 4 <= msg.len() {
                        let alen = u16_at(msg, a) as usize;
                        if alen < 4 || a + alen > msg.len() {
                            break;
                        }
                        if u16_at(msg, a + 2) == IFLA_IFNAME {
                            let raw = &msg[a + 4..a + alen];
                            let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
                            name = String::from_utf8_lossy(&raw[..end]).into_owned();
                        }
                        a += align(alen);
                    }
                    return Some(Reply::Link { index, name });
                }
                _ => {}
            }
        }
        at += align(len);
    }
    None
}

/// One address of a link, as RTM_NEWADDR carries it: ifaddrmsg (family, prefix length, flags,
/// scope) and the address attributes, without the link index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    family: u8,
    prefixlen: u8,
    flags: u8,
    scope: u8,
    /// (type, payload) of IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST, IFA_FLAGS.
    attrs: Vec<(u16, Vec<u8>)>,
}

/// The permanent, global addresses of link `index` in a dump's messages (`buf`); whether the
/// dump is done.
fn parse_addresses(
    buf: &[u8],
    seq: u32,
    index: u32,
    out: &mut Vec<Address>,
) -> Result<bool, Errno> {
    let mut at = 0;
    while at + NLMSG_HDRLEN <= buf.len() {
        let len = u32_at(buf, at) as usize;
        if len < NLMSG_HDRLEN || at + len > buf.len() {
            return Err(Errno::EPROTO);
        }
        let msg = &buf[at..at + len];
        at += align(len);
        if u32_at(msg, 8) != seq {
            continue;
        }
        match u16_at(msg, 4) {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR if msg.len() >= NLMSG_HDRLEN + 4 => {
                let code = u32_at(msg, NLMSG_HDRLEN) as i32;
                return Err(Errno::from_raw(-code));
            }
            RTM_NEWADDR if msg.len() >= NLMSG_HDRLEN + IFADDRMSG_LEN => {
                let h = &msg[NLMSG_HDRLEN..];
                if u32_at(h, 4) != index || h[3] != RT_SCOPE_UNIVERSE {
                    continue;
                }
                let mut addr = Address {
                    family: h[0],
                    prefixlen: h[1],
                    flags: h[2],
                    scope: h[3],
                    attrs: Vec::new(),
                };
                let mut flags = u32::from(h[2]);
                let mut a = NLMSG_HDRLEN + IFADDRMSG_LEN;
                while a + 4 <= msg.len() {
                    let alen = u16_at(msg, a) as usize;
                    if alen < 4 || a + alen > msg.len() {
                        break;
                    }
                    let typ = u16_at(msg, a + 2);
                    let payload = &msg[a + 4..a + alen];
                    if typ == IFA_FLAGS && payload.len() == 4 {
                        flags = u32_at(payload, 0);
                    }
                    if matches!(typ, IFA_ADDRESS | IFA_LOCAL | IFA_BROADCAST | IFA_FLAGS) {
                        addr.attrs.push((typ, payload.to_vec()));
                    }
                    a += align(alen);
                }
                if flags & IFA_F_PERMANENT != 0 {
                    out.push(addr);
                }
            }
            _ => {}
        }
    }
    Ok(false)
}

fn header(buf: &mut [u8], typ: u16, flags: u16, seq: u32) {
    let len = buf.len() as u32;
    buf[0..4].copy_from_slice(&len.to_ne_bytes());
    buf[4..6].copy_from_slice(&typ.to_ne_bytes());
    buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
    buf[8..12].copy_from_slice(&seq.to_ne_bytes());
}

/// RTM_NEWADDR of `addr` on link `index`.
fn address_request(seq: u32, index: u32, addr: &Address) -> Vec<u8> {
    let mut buf = vec![0u8; NLMSG_HDRLEN];
    buf.extend_from_slice(&[addr.family, addr.prefixlen, addr.flags, addr.scope]);
    buf.extend_from_slice(&index.to_ne_bytes());
    for (typ, payload) in &addr.attrs {
        push_attr(&mut buf, *typ, payload);
    }
    header(
        &mut buf,
        RTM_NEWADDR,
        NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        seq,
    );
    buf
}

impl Route {
    /// A socket in the caller's current network namespace.
    pub fn open() -> Result<Route, Errno> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        Ok(Route { fd, seq: 0 })
    }

    fn roundtrip(&mut self, req: &[u8], seq: u32) -> Result<Reply, Errno> {
        send(self.fd.as_raw_fd(), req, MsgFlags::empty())?;
        let mut buf = vec![0u8; 16384];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            if n == 0 {
                return Err(Errno::EIO);
            }
            if let Some(reply) = parse_reply(&buf[..n], seq) {
                return Ok(reply);
            }
        }
    }

    /// Apply `change` to an existing link.
    pub fn set_link(&mut self, change: &LinkChange<'_>) -> Result<(), Errno> {
        self.seq += 1;
        let req = link_request(RTM_NEWLINK, NLM_F_ACK, self.seq, change);
        match self.roundtrip(&req, self.seq)? {
            Reply::Ack(0) => Ok(()),
            Reply::Ack(code) => Err(Errno::from_raw(-code)),
            Reply::Link { .. } => Err(Errno::EPROTO),
        }
    }

    /// The permanent addresses of global scope on link `index`, of every family.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<Address>, Errno> {
        self.seq += 1;
        let mut req = vec![0u8; NLMSG_HDRLEN + IFADDRMSG_LEN];
        header(&mut req, RTM_GETADDR, NLM_F_DUMP, self.seq);
        send(self.fd.as_raw_fd(), &req, MsgFlags::empty())?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 32768];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            if n == 0 {
                return Err(Errno::EIO);
            }
            if parse_addresses(&buf[..n], self.seq, index, &mut out)? {
                return Ok(out);
            }
        }
    }

    /// Add `addr` to link `index`.
    pub fn add_address(&mut self, index: u32, addr: &Address) -> Result<(), Errno> {
        self.seq += 1;
        let req = address_request(self.seq, index, addr);
        match self.roundtrip(&req, self.seq)? {
            Reply::Ack(0) => Ok(()),
            Reply::Ack(code) => Err(Errno::from_raw(-code)),
            Reply::Link { .. } => Err(Errno::EPROTO),
        }
    }

    /// A link's index and name, found by index (non-zero) or by name.
    pub fn get_link(&mut self, index: u32, name: Option<&str>) -> Result<(u32, String), Errno> {
        self.seq += 1;
        let change = LinkChange {
            index,
            name,
            ..Default::default()
        };
        let req = link_request(RTM_GETLINK, 0, self.seq, &change);
        match self.roundtrip(&req, self.seq)? {
            Reply::Link { index, name } => Ok((index, name)),
            Reply::Ack(0) => Err(Errno::ENODEV),
            Reply::Ack(code) => Err(Errno::from_raw(-code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let change = LinkChange {
            index: 7,
            name: Some("eth1"),
            up: Some(false),
            netns_fd: Some(5),
        };
        let req = link_request(RTM_NEWLINK, NLM_F_ACK, 3, &change);
        // 16 header + 16 ifinfomsg + 4+5 name (padded to 12) + 4+4 fd.
        assert_eq!(req.len(), 16 + 16 + 12 + 8);
        assert_eq!(u32_at(&req, 0) as usize, req.len());
        assert_eq!(u16_at(&req, 4), RTM_NEWLINK);
        assert_eq!(u16_at(&req, 6), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32_at(&req, 8), 3);
        assert_eq!(u32_at(&req, 20), 7);
        assert_eq!((u32_at(&req, 24), u32_at(&req, 28)), (0, IFF_UP));
        assert_eq!((u16_at(&req, 32), u16_at(&req, 34)), (9, IFLA_IFNAME));
        assert_eq!(&req[36..41], b"eth1\0");
        assert_eq!((u16_at(&req, 44), u16_at(&req, 46)), (8, IFLA_NET_NS_FD));
        assert_eq!(u32_at(&req, 48), 5);
    }

    #[test]
    fn addresses_round_trip() {
        let addr = Address {
            family: 2,
            prefixlen: 24,
            flags: 0x80,
            scope: 0,
            attrs: vec![
                (IFA_LOCAL, vec![10, 0, 0, 2]),
                (IFA_ADDRESS, vec![10, 0, 0, 2]),
            ],
        };
        let mut dump = address_request(5, 9, &addr);
        dump[4..6].copy_from_slice(&RTM_NEWADDR.to_ne_bytes());
        // Another link's address, one of link scope, then the end of the dump.
        let mut other = address_request(5, 8, &addr);
        let link_scope = Address {
            scope: 253,
            ..addr.clone()
        };
        other.extend(address_request(5, 9, &link_scope));
        dump.extend(other);
        let mut done = vec![0u8; NLMSG_HDRLEN + 4];
        header(&mut done, NLMSG_DONE, 0, 5);
        dump.extend(done);
        let mut out = Vec::new();
        assert!(parse_addresses(&dump, 5, 9, &mut out).unwrap());
        assert_eq!(out, std::slice::from_ref(&addr));
        let req = address_request(6, 3, &addr);
        assert_eq!(u16_at(&req, 4), RTM_NEWADDR);
        assert_eq!(&req[16..20], &[2, 24, 0x80, 0]);
        assert_eq!(u32_at(&req, 20), 3);
        assert_eq!(req.len(), 16 + 8 + 8 + 8);
    }

    #[test]
    fn replies() {
        let mut err = vec![0u8; 36];
        err[0..4].copy_from_slice(&36u32.to_ne_bytes());
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[8..12].copy_from_slice(&9u32.to_ne_bytes());
        err[16..20].copy_from_slice(&(-17i32).to_ne_bytes());
        assert_eq!(parse_reply(&err, 9), Some(Reply::Ack(-17)));
        assert_eq!(parse_reply(&err, 8), None);
        let mut link = link_request(
            RTM_NEWLINK,
            0,
            4,
            &LinkChange {
                index: 12,
                name: Some("veth0"),
                ..Default::default()
            },
        );
        assert_eq!(
            parse_reply(&link, 4),
            Some(Reply::Link {
                index: 12,
                name: "veth0".into()
            })
        );
        link.truncate(20);
        assert_eq!(parse_reply(&link, 4), None);
    }
}
