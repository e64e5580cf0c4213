//! The container init process: how it is forked and released (launch), what it does to itself
//! before execve (init, attrs), and the protocol between the two (channel).

pub mod attrs;
pub mod channel;
pub mod exec;
pub mod init;
pub mod launch;
pub mod sched;
