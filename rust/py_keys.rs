//! The Python API of canonical keys: `canonical_json`, `key_material`, `make_key`, `make_keys`, and the
//! response cache's one-pass `key_info`. Docstrings live in `_core.pyi`.

use std::sync::atomic::Ordering;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString};

use crate::canonical::HashSink;
use crate::errors::Error;
use crate::key_material::{check_namespace, format_key, Position};
use crate::py_str::DETACH_AT;
use crate::py_walk::{type_name, Flags, Walker};

/// The options shared by the keying functions, checked once per call.
struct Options<'a> {
    namespace: &'a str,
    secret: Option<Vec<u8>>,
}

impl<'a> Options<'a> {
    fn parse(namespace: Option<&'a Bound<'_, PyAny>>, secret: Option<&Bound<'_, PyAny>>) -> Result<Self, Error> {
        let namespace = match namespace {
            None => "llmcache",
            Some(ns) => ns
                .cast::<PyString>()
                .map_err(|_| {
                    Error::invalid_option(format!("namespace must be a str, not {}", type_name(ns)), "namespace")
                })?
                .to_str()
                .map_err(|_| Error::invalid_option("namespace is not valid unicode", "namespace"))?,
        };
        check_namespace(namespace)?;
        let secret = match secret {
            None => None,
            Some(s) if s.is_none() => None,
            Some(s) => {
                if let Ok(b) = s.cast::<PyBytes>() {
                    Some(b.as_bytes().to_vec())
                } else if let Ok(b) = s.cast::<PyByteArray>() {
                    Some(b.to_vec())
                } else {
                    return Err(Error::invalid_option(
                        format!("secret must be bytes, not {}", type_name(s)),
                        "secret",
                    ));
                }
            }
        };
        Ok(Options { namespace, secret })
    }

    fn key<'py>(&self, py: Python<'py>, request: &Bound<'py, PyAny>) -> Result<(Bound<'py, PyString>, Flags), Error> {
        let mut walker = Walker::new(py, HashSink::new(self.secret.as_deref()), true);
        walker.request(request)?;
        let flags = walker.flags;
        let digest = walker.out.finish();
        // The usual namespace fits on the stack: the key goes straight into the Python str.
        let mut text = [0u8; 128];
        let key = if self.namespace.len() + 68 <= text.len() {
            let n = self.namespace.len();
            text[..n].copy_from_slice(self.namespace.as_bytes());
            text[n..n + 4].copy_from_slice(b":v1:");
            crate::canonical::write_hex(&mut text[n + 4..n + 68], &digest);
            // SAFETY: the namespace is a `&str` and the rest is ASCII, so the bytes are valid UTF-8.
            PyString::new(py, unsafe { std::str::from_utf8_unchecked(&text[..n + 68]) })
        } else {
            PyString::new(py, &format_key(self.namespace, &digest))
        };
        Ok((key, flags))
    }
}

#[pyfunction]
#[pyo3(signature = (obj, /))]
fn canonical_json<'py>(py: Python<'py>, obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut walker = Walker::new(py, Vec::with_capacity(1024), false);
    walker.value(obj, Position::Data, 1)?;
    Ok(PyBytes::new(py, &walker.out))
}

/// The material as canonical bytes, exact integers included.
fn material_bytes<'py>(py: Python<'py>, request: &Bound<'py, PyAny>) -> Result<Vec<u8>, Error> {
    let mut walker = Walker::new(py, Vec::with_capacity(4096), true);
    walker.request(request)?;
    Ok(std::mem::take(&mut walker.out))
}

#[pyfunction]
#[pyo3(signature = (request, /))]
fn key_material<'py>(py: Python<'py>, request: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let bytes = material_bytes(py, request)?;
    // Parsing the canonical text back gives exactly the material that was hashed: every integer
    // exact, every float the double it denotes, members in canonical order.
    py.import("json")?.call_method1("loads", (PyBytes::new(py, &bytes),))
}

/// The canonical key material as UTF-8 JSON text (for `promptkey key --material`).
#[pyfunction]
#[pyo3(signature = (request, /))]
fn _key_material_json<'py>(py: Python<'py>, request: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(py, &material_bytes(py, request)?))
}

#[pyfunction]
#[pyo3(signature = (request, /, *, namespace = None, secret = None), text_signature = "(request, /, *, namespace='llmcache', secret=None)")]
fn make_key<'py>(
    py: Python<'py>,
    request: &Bound<'py, PyAny>,
    namespace: Option<&Bound<'py, PyAny>>,
    secret: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyString>> {
    let options = Options::parse(namespace, secret)?;
    Ok(options.key(py, request)?.0)
}

#[pyfunction]
#[pyo3(signature = (requests, /, *, namespace = None, secret = None), text_signature = "(requests, /, *, namespace='llmcache', secret=None)")]
fn make_keys<'py>(
    py: Python<'py>,
    requests: &Bound<'py, PyAny>,
    namespace: Option<&Bound<'py, PyAny>>,
    secret: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let options = Options::parse(namespace, secret)?;
    let keys = PyList::empty(py);
    let items = requests.try_iter().map_err(|_| {
        Error::unsupported_type(
            format!("requests must be an iterable of requests, not {}", type_name(requests)),
            "",
        )
    })?;
    for (i, request) in items.enumerate() {
        let request = request?;
        let (key, _) = options.key(py, &request).map_err(|e| e.prefixed(&format!("[{i}]")))?;
        keys.append(key)?;
    }
    Ok(keys)
}

#[pyfunction]
#[pyo3(signature = (request, /, *, namespace = None, secret = None), text_signature = "(request, /, *, namespace='llmcache', secret=None)")]
fn key_info<'py>(
    py: Python<'py>,
    request: &Bound<'py, PyAny>,
    namespace: Option<&Bound<'py, PyAny>>,
    secret: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyString>, bool, bool)> {
    let options = Options::parse(namespace, secret)?;
    let (key, flags) = options.key(py, request)?;
    Ok((key, flags.sampling, flags.server_tools))
}

/// Reads, and with an argument sets, the string length from which hashing releases the GIL
/// (benchmarks only: `benches/gil_release.py`).
#[pyfunction]
#[pyo3(signature = (threshold = None, /))]
fn _gil_release_threshold(threshold: Option<usize>) -> usize {
    match threshold {
        Some(t) => DETACH_AT.swap(t, Ordering::Relaxed),
        None => DETACH_AT.load(Ordering::Relaxed),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(canonical_json, m)?)?;
    m.add_function(wrap_pyfunction!(key_material, m)?)?;
    m.add_function(wrap_pyfunction!(_key_material_json, m)?)?;
    m.add_function(wrap_pyfunction!(make_key, m)?)?;
    m.add_function(wrap_pyfunction!(make_keys, m)?)?;
    m.add_function(wrap_pyfunction!(key_info, m)?)?;
    m.add_function(wrap_pyfunction!(_gil_release_threshold, m)?)?;
    Ok(())
}
