//! Signal names and numbers as `kill` accepts them: `9`, `KILL`, `SIGKILL`, `sigkill`.

use std::str::FromStr;

use nix::sys::signal::Signal;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid signal {0:?}")]
pub struct UnknownSignal(pub String);

pub fn parse(text: &str) -> Result<Signal, UnknownSignal> {
    let unknown = || UnknownSignal(text.to_string());
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| unknown());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| unknown())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for s in ["9", "KILL", "SIGKILL", "kill", "sigkill"] {
            assert_eq!(parse(s), Ok(Signal::SIGKILL), "{s}");
        }
        assert_eq!(parse("15"), Ok(Signal::SIGTERM));
        assert_eq!(parse("USR1"), Ok(Signal::SIGUSR1));
        assert_eq!(parse("SIGWINCH"), Ok(Signal::SIGWINCH));
    }

    #[test]
    fn rejects_unknown() {
        for s in ["0x9", "SIGFOO", "", "-1", "999", "KILLX"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
