//! The container init process: how it is forked and released (launch), what it does to itself
//! before execve (init; entry and attrs, shared with exec'd processes), and the protocol between
//! the two (channel).

pub mod attrs;
pub mod channel;
pub mod entry;
pub mod exec;
pub mod init;
pub mod launch;
pub mod sched;
