//! Block fingerprints from Python values: JSON written the way Python's `json` writes it (keys in the
//! order given, `repr` floats, raw non-ASCII), with the structural normalization of DESIGN §1 rules 4–5
//! at the positions the caller marks structural. Errors are `crate::errors::Error` with a path, prefixed
//! segment by segment as they unwind, so the happy path never builds a path string. The walk over a
//! whole request is `py_prefix_walk.rs`.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::blocks::Ttl;
use crate::canonical::write_i64;
use crate::errors::Error;
use crate::fingerprint::{write_bytes, write_f64};
use crate::py_str::utf8;
use crate::py_walk::{dump_model, is_sentinel, is_sentinel_fast, pydantic_base};

const MAX_DEPTH: usize = 1000;

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// Null and the SDK's "not given" sentinels are absent wherever they appear (DESIGN §1).
pub(crate) fn absent(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_none() || is_sentinel_fast(obj)
}

pub(crate) fn py_error(err: &PyErr, py: Python<'_>, path: &str) -> Error {
    Error::unsupported_type(err.value(py).to_string(), path)
}

/// An SDK pydantic object as the dict the SDK would send (the same dump `make_key` uses); anything
/// else unchanged.
pub(crate) fn as_plain<'py>(obj: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, Error> {
    if obj.is_exact_instance_of::<PyDict>() {
        return Ok(obj.clone());
    }
    match pydantic_base(obj.py()) {
        Some(base) if obj.is_instance(base).unwrap_or(false) => return dump_model(obj),
        _ => {}
    }
    // Any other `collections.abc.Mapping` (a `MappingProxyType`, a custom mapping) as a dict copy.
    let py = obj.py();
    let is_mapping = py
        .import("collections.abc")
        .and_then(|abc| abc.getattr("Mapping"))
        .is_ok_and(|mapping| obj.is_instance(&mapping).unwrap_or(false));
    if is_mapping && !obj.is_instance_of::<PyDict>() {
        let copy = PyDict::new(py);
        copy.update(
            obj.cast::<pyo3::types::PyMapping>()
                .map_err(|_| Error::unsupported_type("a mapping", ""))?,
        )
        .map_err(|e| py_error(&e, py, ""))?;
        return Ok(copy.into_any());
    }
    Ok(obj.clone())
}

pub(crate) fn as_dict<'py>(obj: &Bound<'py, PyAny>, what: &str) -> Result<Bound<'py, PyDict>, Error> {
    let plain = as_plain(obj)?;
    match plain.cast_into::<PyDict>() {
        Ok(d) => Ok(d),
        Err(e) => Err(Error::unsupported_type(
            format!("{what} must be an object, got {}", type_name(e.into_inner().as_any())),
            "",
        )),
    }
}

/// The items of a JSON array value: lists and tuples only (a one-shot iterable would be consumed).
pub(crate) fn as_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> Result<Vec<Bound<'py, PyAny>>, Error> {
    if let Ok(l) = obj.cast::<PyList>() {
        return Ok(l.iter().collect());
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return Ok(t.iter().collect());
    }
    Err(Error::unsupported_type(
        format!("{what} must be a list, got {}", type_name(obj)),
        "",
    ))
}

pub(crate) fn key_str<'a>(k: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Error> {
    if !k.is_instance_of::<PyString>() {
        return Err(Error::unsupported_type(
            format!("object keys must be str, got {}", type_name(k)),
            "",
        ));
    }
    text_of(k)
}

/// A str's UTF-8 bytes: `CPython`'s own view of it, in place for ASCII (lone surrogates fail). Valid
/// UTF-8 by construction, so it is written without re-validating.
pub(crate) fn text_of<'a>(s: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Error> {
    utf8(s)
}

pub(crate) fn str_of(s: &Bound<'_, PyString>) -> Result<String, Error> {
    text_of(s.as_any()).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A key for an error path (only built when an error unwinds).
pub(crate) fn key_text(key: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(key)
}

/// Writes Python values as JSON bytes in Python `json`'s spelling. `media_bytes` counts the bytes of
/// `data` strings (base64 payloads), which the token estimate prices apart from text.
pub struct JsonOut {
    pub buf: Vec<u8>,
    pub media_bytes: usize,
    stack: Vec<*mut ffi::PyObject>,
}

impl Default for JsonOut {
    fn default() -> Self {
        // Most blocks are a few hundred bytes to a few KB: start big enough to skip the small regrowths.
        JsonOut::with_capacity(512)
    }
}

impl JsonOut {
    /// A writer whose buffer holds `capacity` bytes before it regrows (and copies).
    pub fn with_capacity(capacity: usize) -> Self {
        JsonOut {
            buf: Vec::with_capacity(capacity),
            media_bytes: 0,
            stack: Vec::new(),
        }
    }

    fn enter(&mut self, obj: &Bound<'_, PyAny>) -> Result<(), Error> {
        let ptr = obj.as_ptr();
        if self.stack.len() >= MAX_DEPTH {
            let message = if self.stack.contains(&ptr) {
                "a cycle (an object inside itself) is not valid json".to_owned()
            } else {
                format!("nesting deeper than {MAX_DEPTH} levels is not supported")
            };
            return Err(Error::canonicalization(message, ""));
        }
        self.stack.push(ptr);
        Ok(())
    }

    /// Writes `obj`; returns false (writing nothing) for an SDK sentinel, which is absent.
    pub fn value(&mut self, obj: &Bound<'_, PyAny>) -> Result<bool, Error> {
        // Exact-type checks first: one pointer compare each covers nearly every value.
        if obj.is_exact_instance_of::<PyString>() {
            write_bytes(&mut self.buf, text_of(obj)?);
        } else if let Ok(d) = obj.cast_exact::<PyDict>() {
            self.enter(obj)?;
            self.dict(d, false)?;
            self.stack.pop();
        } else if let Ok(l) = obj.cast_exact::<PyList>() {
            self.enter(obj)?;
            self.list(l.iter())?;
            self.stack.pop();
        } else if obj.is_none() {
            self.buf.extend_from_slice(b"null");
        } else if let Ok(b) = obj.cast_exact::<PyBool>() {
            self.buf.extend_from_slice(if b.is_true() { b"true" } else { b"false" });
        } else if obj.is_exact_instance_of::<PyInt>() {
            self.int(obj)?;
        } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
            self.float(f.value())?;
        } else {
            return self.other(obj);
        }
        Ok(true)
    }

    fn int(&mut self, obj: &Bound<'_, PyAny>) -> Result<(), Error> {
        if let Ok(v) = obj.extract::<i64>() {
            write_i64(&mut self.buf, v);
        } else {
            // Python writes big integers digit for digit; so do we.
            let text = obj.str().map_err(|e| py_error(&e, obj.py(), ""))?;
            self.buf.extend_from_slice(text.to_string().as_bytes());
        }
        Ok(())
    }

    fn float(&mut self, f: f64) -> Result<(), Error> {
        write_f64(&mut self.buf, f).map_err(|what| Error::canonicalization(format!("{what} is not valid json"), ""))
    }

    /// Subclasses (enum members by value), tuples, sentinels and the SDK's pydantic objects.
    fn other(&mut self, obj: &Bound<'_, PyAny>) -> Result<bool, Error> {
        if obj.is_instance_of::<PyBool>() {
            self.buf.extend_from_slice(if obj.is_truthy().unwrap_or(false) {
                b"true"
            } else {
                b"false"
            });
        } else if obj.is_instance_of::<PyString>() {
            write_bytes(&mut self.buf, text_of(obj)?);
        } else if obj.is_instance_of::<PyInt>() {
            self.int(obj)?;
        } else if let Ok(f) = obj.cast::<PyFloat>() {
            self.float(f.value())?;
        } else if let Ok(d) = obj.cast::<PyDict>() {
            self.enter(obj)?;
            self.dict(d, false)?;
            self.stack.pop();
        } else if let Ok(l) = obj.cast::<PyList>() {
            self.enter(obj)?;
            self.list(l.iter())?;
            self.stack.pop();
        } else if let Ok(t) = obj.cast::<PyTuple>() {
            self.enter(obj)?;
            self.list(t.iter())?;
            self.stack.pop();
        } else if is_sentinel(obj) {
            return Ok(false);
        } else {
            let plain = as_plain(obj)?;
            if plain.is(obj) {
                return Err(Error::unsupported_type(
                    format!("unsupported type {}", type_name(obj)),
                    "",
                ));
            }
            self.enter(obj)?;
            let written = self.value(&plain)?;
            self.stack.pop();
            return Ok(written);
        }
        Ok(true)
    }

    fn list<'py>(&mut self, items: impl Iterator<Item = Bound<'py, PyAny>>) -> Result<(), Error> {
        self.buf.push(b'[');
        let mut first = true;
        for (i, item) in items.enumerate() {
            let mark = self.buf.len();
            if !first {
                self.buf.push(b',');
            }
            if self.value(&item).map_err(|e| e.prefixed(&format!("[{i}]")))? {
                first = false;
            } else {
                self.buf.truncate(mark);
            }
        }
        self.buf.push(b']');
        Ok(())
    }

    /// Writes a dict. At a structural position (`structural`), members that are null or absent and
    /// `cache_control` are dropped (DESIGN §1 rule 4); elsewhere everything is kept byte for byte.
    pub(crate) fn dict(&mut self, d: &Bound<'_, PyDict>, structural: bool) -> Result<(), Error> {
        self.buf.push(b'{');
        let mut first = true;
        for (k, v) in d.iter() {
            let key = key_str(&k)?;
            if structural && (key == b"cache_control" || absent(&v)) {
                continue;
            }
            let mark = self.buf.len();
            if !first {
                self.buf.push(b',');
            }
            write_bytes(&mut self.buf, key);
            self.buf.push(b':');
            let start = self.buf.len();
            if self.value(&v).map_err(|e| e.prefixed(&key_text(key)))? {
                first = false;
                if key == b"data" && v.is_instance_of::<PyString>() {
                    self.media_bytes += self.buf.len() - start;
                }
            } else {
                self.buf.truncate(mark);
            }
        }
        self.buf.push(b'}');
        Ok(())
    }
}

/// A `cache_control` value as a TTL (`None` for null); anything the API would reject is its 400.
pub fn parse_marker(value: &Bound<'_, PyAny>) -> Result<Option<Ttl>, Error> {
    if absent(value) {
        return Ok(None);
    }
    let d = as_dict(value, "cache_control")?;
    let field = |name: &str| -> Result<Option<String>, Error> {
        match d.get_item(name).ok().flatten().filter(|v| !absent(v)) {
            None => Ok(None),
            Some(v) => match v.cast::<PyString>() {
                Ok(s) => str_of(s).map(Some),
                Err(_) => Err(Error::prompt_cache(
                    format!("cache_control.{name}: Input should be a valid string"),
                    name,
                )),
            },
        }
    };
    if field("type")?.as_deref() != Some("ephemeral") {
        return Err(Error::prompt_cache(
            "cache_control.type: Input should be 'ephemeral'",
            "type",
        ));
    }
    match field("ttl")?.as_deref() {
        None | Some("5m") => Ok(Some(Ttl::FiveMinutes)),
        Some("1h") => Ok(Some(Ttl::OneHour)),
        Some(_) => Err(Error::prompt_cache(
            "cache_control.ttl: Input should be '5m' or '1h'",
            "ttl",
        )),
    }
}

pub(crate) fn text_block(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
    write_bytes(out, text);
    out.push(b'}');
}

/// A value as JSON bytes, errors prefixed with `path`.
pub(crate) fn json(value: &Bound<'_, PyAny>, path: &str) -> Result<Vec<u8>, Error> {
    let mut out = JsonOut::default();
    out.value(value).map_err(|e| e.prefixed(path))?;
    Ok(out.buf)
}
