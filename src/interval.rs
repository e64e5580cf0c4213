//! Durations as the command line spells them (`events --interval`, `top --interval`,
//! `monitor --history`): `5s`, `500ms`, `1m`, or a bare number of seconds.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IntervalError {
    #[error("{0:?}: not a duration")]
    NotANumber(String),
    #[error("{0:?}: use ms, s or m")]
    Unit(String),
    #[error("{0:?}: must be positive")]
    NotPositive(String),
}

pub fn parse(text: &str) -> Result<Duration, IntervalError> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| t.split_at(i))
        .unwrap_or((t, "s"));
    let n: f64 = num
        .parse()
        .map_err(|_| IntervalError::NotANumber(text.to_string()))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(IntervalError::Unit(text.to_string())),
    };
    // Also refuses what Duration cannot hold.
    if !(secs > 0.0 && secs < 1e12) {
        return Err(IntervalError::NotPositive(text.to_string()));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert!(parse("0s").is_err());
        assert!(parse("soon").is_err());
        assert!(parse("5h").is_err());
        assert!(parse("1e300").is_err());
    }
}
