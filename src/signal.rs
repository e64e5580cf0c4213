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

/// As [`parse`], but `0` is accepted too and gives `None`: no signal, only the check that the
/// target exists and may be signalled (kill(2) with signal 0).
pub fn parse_or_probe(text: &str) -> Result<Option<Signal>, UnknownSignal> {
    if text.parse::<i32>() == Ok(0) {
        return Ok(None);
    }
    parse(text).map(Some)
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
    fn zero_is_a_probe() {
        assert_eq!(parse_or_probe("0"), Ok(None));
        assert_eq!(parse_or_probe("KILL"), Ok(Some(Signal::SIGKILL)));
        assert!(parse("0").is_err());
        assert!(parse_or_probe("SIG0").is_err());
    }

    #[test]
    fn rejects_unknown() {
        for s in ["0x9", "SIGFOO", "", "-1", "999", "KILLX"] {
            assert!(parse(s).is_err(), "{s}");
        }
    }
}
