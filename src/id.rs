//! Container ids. An id becomes a directory name under --root, so it must never be a path.

/// Why an id was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("container id must not be empty")]
    Empty,
    #[error("invalid container id {0:?}: use letters, digits and _ . + - only, starting with a letter or digit")]
    Invalid(String),
    #[error("invalid container id: longer than 1024 bytes")]
    TooLong,
}

/// Accept ids matching `^[A-Za-z0-9][A-Za-z0-9_.+-]*$`. This excludes `/`, `.`, `..` and any
/// control characters, so `<root>/<id>` always stays a direct child of the root.
pub fn validate(id: &str) -> Result<(), IdError> {
    let mut chars = id.chars();
    let first = chars.next().ok_or(IdError::Empty)?;
    if id.len() > 1024 {
        return Err(IdError::TooLong);
    }
    let ok = first.is_ascii_alphanumeric()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-'));
    if ok {
        Ok(())
    } else {
        Err(IdError::Invalid(id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_style_ids() {
        for id in ["a", "abc-123", "A.b_c+d", "0", "podman-3f2a"] {
            assert_eq!(validate(id), Ok(()), "{id}");
        }
    }

    #[test]
    fn refuses_paths_and_dots() {
        assert_eq!(validate(""), Err(IdError::Empty));
        for id in [
            ".",
            "..",
            "a/b",
            "../../etc",
            "/abs",
            "-x",
            "a b",
            "a\nb",
            ".hidden",
        ] {
            assert!(matches!(validate(id), Err(IdError::Invalid(_))), "{id}");
        }
        assert_eq!(validate(&"a".repeat(2000)), Err(IdError::TooLong));
    }
}
