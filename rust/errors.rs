//! The one place where Rust errors become Python exceptions. The exception classes themselves are
//! defined in Python (`promptkey._exceptions`) so they can also inherit builtins (`ValueError`,
//! `TypeError`) and carry a `.path`.

use pyo3::prelude::*;

pyo3::import_exception!(promptkey._exceptions, CanonicalizationError);
pyo3::import_exception!(promptkey._exceptions, UnsupportedTypeError);
pyo3::import_exception!(promptkey._exceptions, InvalidOptionError);
pyo3::import_exception!(promptkey._exceptions, PromptCacheError);

/// A domain error: `message` says what was found, `path` says where (`messages[2].content[0]`, or
/// empty for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    Canonicalization { message: String, path: String },
    UnsupportedType { message: String, path: String },
    InvalidOption { message: String, path: String },
    PromptCache { message: String, path: String },
}

impl Error {
    pub fn canonicalization(message: impl Into<String>, path: impl Into<String>) -> Self {
        Error::Canonicalization {
            message: message.into(),
            path: path.into(),
        }
    }
    pub fn unsupported_type(message: impl Into<String>, path: impl Into<String>) -> Self {
        Error::UnsupportedType {
            message: message.into(),
            path: path.into(),
        }
    }
    pub fn invalid_option(message: impl Into<String>, path: impl Into<String>) -> Self {
        Error::InvalidOption {
            message: message.into(),
            path: path.into(),
        }
    }
    pub fn prompt_cache(message: impl Into<String>, path: impl Into<String>) -> Self {
        Error::PromptCache {
            message: message.into(),
            path: path.into(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Error::Canonicalization { message, .. }
            | Error::UnsupportedType { message, .. }
            | Error::InvalidOption { message, .. }
            | Error::PromptCache { message, .. } => message,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Error::Canonicalization { path, .. }
            | Error::UnsupportedType { path, .. }
            | Error::InvalidOption { path, .. }
            | Error::PromptCache { path, .. } => path,
        }
    }

    /// The same error with `prefix` put in front of its path (`[3]` + `messages[0]` → `[3].messages[0]`).
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        let path = match &mut self {
            Error::Canonicalization { path, .. }
            | Error::UnsupportedType { path, .. }
            | Error::InvalidOption { path, .. }
            | Error::PromptCache { path, .. } => path,
        };
        *path = if path.is_empty() || path.starts_with('[') {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}.{path}")
        };
        self
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        // Exception classes take (message, path); see promptkey/_exceptions.py.
        let path = err.path().to_owned();
        let path = if path.is_empty() { None } else { Some(path) };
        match err {
            Error::Canonicalization { message, .. } => CanonicalizationError::new_err((message, path)),
            Error::UnsupportedType { message, .. } => UnsupportedTypeError::new_err((message, path)),
            Error::InvalidOption { message, .. } => InvalidOptionError::new_err((message, path)),
            Error::PromptCache { message, .. } => PromptCacheError::new_err((message, path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_join_with_dots_except_before_brackets() {
        let e = Error::canonicalization("nan is not valid json", "messages[0]").prefixed("[3]");
        assert_eq!(e.path(), "[3].messages[0]");
        let e = Error::canonicalization("x", "[1]").prefixed("tools");
        assert_eq!(e.path(), "tools[1]");
        let e = Error::canonicalization("x", "").prefixed("[0]");
        assert_eq!(e.path(), "[0]");
    }
}
