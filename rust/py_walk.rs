//! The Python-object walker behind `canonical_json`, `key_material` and `make_key`: it writes the
//! RFC 8785 form of a Python value straight into a sink (a buffer or SHA-256), applying the key
//! material rules inline at the structural positions, without building any intermediate tree.

use std::os::raw::c_int;
use std::sync::atomic::Ordering as AtomicOrdering;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyType};
use pyo3::Borrowed;

use crate::canonical::{self, check_depth, write_i64, write_str, MAX_SAFE_INTEGER};
use crate::errors::Error;
use crate::key_material::{self as km, Position};
#[cfg(not(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy)))]
use crate::py_str::fill_utf8_cache;
use crate::py_str::{surrogate, ENCODE_AT};
use crate::py_str::{utf8, Detachable, DETACH_AT};
use crate::utf8::{write_units, Units};

/// One object member waiting to be written in key order. `key` points into `key_obj`'s UTF-8 data,
/// which lives as long as the object, and the entry holds a strong reference to it.
pub(crate) struct Entry<'py> {
    key: *const u8,
    key_len: usize,
    _key_obj: Bound<'py, PyAny>,
    pub(crate) value: Bound<'py, PyAny>,
}

impl Entry<'_> {
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        // SAFETY: see the struct comment; `key_obj` keeps the bytes alive and unchanged.
        unsafe { std::slice::from_raw_parts(self.key, self.key_len) }
    }
}

thread_local! {
    /// The walker's stacks, kept empty between calls: allocating them per key cost as much as
    /// walking a small request.
    /// One thread-local (each access from a shared library is a `__tls_get_addr` call).
    #[allow(clippy::type_complexity)]
    static SPARES: std::cell::Cell<(Vec<Entry<'static>>, Vec<*mut ffi::PyObject>, Vec<(usize, bool)>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new(), Vec::new())) };
}

impl<S> Drop for Walker<'_, S> {
    fn drop(&mut self) {
        // Entries hold references: release them here, under the GIL, and keep only the capacity.
        self.scratch.clear();
        self.ancestors.clear();
        let scratch = std::mem::take(&mut self.scratch);
        // SAFETY: the Vec is empty, so no `Entry` with the shorter lifetime survives the transmute.
        let scratch = unsafe { std::mem::transmute::<Vec<Entry<'_>>, Vec<Entry<'static>>>(scratch) };
        self.top.clear();
        SPARES.set((
            scratch,
            std::mem::take(&mut self.ancestors),
            std::mem::take(&mut self.top),
        ));
    }
}

/// What `request` found for `key_info` (DESIGN §1, Cacheability).
#[derive(Default, Clone, Copy)]
pub struct Flags {
    pub sampling: bool,
    pub server_tools: bool,
}

pub struct Walker<'py, S> {
    pub(crate) py: Python<'py>,
    pub out: S,
    /// `make_key` writes integers beyond ±(2^53−1) exactly; `canonical_json` refuses them.
    exact_ints: bool,
    detach_at: usize,
    encode_buf: Vec<u8>,
    pub(crate) scratch: Vec<Entry<'py>>,
    pub(crate) ancestors: Vec<*mut ffi::PyObject>,
    /// The request's top-level members (indices into `scratch`; `true`: from `extra_body`).
    pub(crate) top: Vec<(usize, bool)>,
    pub flags: Flags,
}

#[inline]
fn type_ptr(v: &Bound<'_, PyAny>) -> *mut ffi::PyTypeObject {
    // SAFETY: `v` is a live object.
    unsafe { ffi::Py_TYPE(v.as_ptr()) }
}

pub(crate) fn type_name(v: &Bound<'_, PyAny>) -> String {
    let tp = v.get_type();
    let name = tp.qualname().map_or_else(|_| "?".into(), |n| n.to_string());
    match tp.module().map(|m| m.to_string()) {
        Ok(module) if module != "builtins" => format!("{module}.{name}"),
        _ => name,
    }
}

/// The SDK's `NOT_GIVEN` / `omit` sentinels (anthropic, and the openai SDK that shares the design).
pub(crate) fn is_sentinel(v: &Bound<'_, PyAny>) -> bool {
    // SAFETY: tp_name is a NUL-terminated C string owned by the type.
    let name = unsafe { std::ffi::CStr::from_ptr((*type_ptr(v)).tp_name) };
    let name = name.to_bytes();
    if name != b"NotGiven" && name != b"Omit" {
        return false;
    }
    v.get_type().module().is_ok_and(|m| {
        m.to_str()
            .is_ok_and(|m| m.starts_with("anthropic") || m.starts_with("openai"))
    })
}

/// `pydantic.BaseModel`, once something has imported pydantic (the SDK's objects are pydantic models;
/// without pydantic loaded there can be no model to dump, so keying never imports it).
pub(crate) fn pydantic_base(py: Python<'_>) -> Option<&Bound<'_, PyType>> {
    static BASE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    if let Some(base) = BASE.get(py) {
        return Some(base.bind(py));
    }
    let modules = py.import("sys").ok()?.getattr("modules").ok()?;
    let pydantic = modules.get_item("pydantic").ok()?;
    let base = pydantic.getattr("BaseModel").ok()?.cast_into::<PyType>().ok()?;
    Some(BASE.get_or_init(py, || base.unbind()).bind(py))
}

/// The dict the Anthropic SDK sends for a pydantic model (`openapi_model_dump` in anthropic 2.x).
pub(crate) fn dump_model<'py>(v: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, Error> {
    let py = v.py();
    let kwargs = PyDict::new(py);
    let exclude = v.getattr("__api_exclude__").ok();
    let _ = PyErr::take(py);
    (|| -> PyResult<Bound<'py, PyAny>> {
        kwargs.set_item("mode", "json")?;
        kwargs.set_item("exclude_unset", true)?;
        kwargs.set_item("by_alias", true)?;
        kwargs.set_item("exclude", exclude)?;
        v.call_method("model_dump", (), Some(&kwargs))
    })()
    .map_err(|e| Error::unsupported_type(format!("{} could not be dumped: {e}", type_name(v)), ""))
}

impl<'py, S: Detachable> Walker<'py, S> {
    pub fn new(py: Python<'py>, out: S, exact_ints: bool) -> Self {
        let (scratch, ancestors, top) = SPARES.take();
        Walker {
            py,
            out,
            exact_ints,
            detach_at: DETACH_AT.load(AtomicOrdering::Relaxed),
            encode_buf: Vec::new(),
            // SAFETY: the spare is always empty; an empty Vec's type differs only by a lifetime.
            scratch: unsafe { std::mem::transmute::<Vec<Entry<'static>>, Vec<Entry<'py>>>(scratch) },
            ancestors,
            top,
            flags: Flags::default(),
        }
    }

    /// Writes `v` at `pos`; `depth` is the nesting level a container here would have.
    pub fn value(&mut self, v: &Bound<'py, PyAny>, pos: Position, depth: usize) -> Result<(), Error> {
        let tp = type_ptr(v);
        // Exact-type checks first: they cover nearly every value and cost one pointer compare each.
        // SAFETY (all `addr_of_mut!` below): taking the address of CPython's static type objects.
        unsafe {
            if tp == &raw mut ffi::PyUnicode_Type {
                return self.string(v, pos);
            }
            if tp == &raw mut ffi::PyDict_Type {
                return self.object(v, pos, depth);
            }
            if tp == &raw mut ffi::PyList_Type || tp == &raw mut ffi::PyTuple_Type {
                return self.array(v, pos, depth);
            }
            if tp == &raw mut ffi::PyLong_Type {
                return self.int(v);
            }
            if tp == &raw mut ffi::PyFloat_Type {
                return self.float(ffi::PyFloat_AS_DOUBLE(v.as_ptr()));
            }
            if tp == &raw mut ffi::PyBool_Type {
                self.out.put(if v.as_ptr() == ffi::Py_True() {
                    b"true"
                } else {
                    b"false"
                });
                return Ok(());
            }
        }
        if v.is_none() {
            self.out.put(b"null");
            return Ok(());
        }
        self.other(v, pos, depth)
    }

    #[inline]
    fn string(&mut self, v: &Bound<'py, PyAny>, pos: Position) -> Result<(), Error> {
        if pos.text_shorthand() {
            // Rule 5: "s" is the one-block list [{"type":"text","text":"s"}] (keys in canonical order).
            self.out.put(b"[{\"text\":");
            self.put_str_obj(v)?;
            self.out.put(b",\"type\":\"text\"}]");
            Ok(())
        } else {
            self.put_str_obj(v)
        }
    }

    /// A str value. ASCII strings and strings with a cached UTF-8 form are read in place. A long
    /// non-ASCII string without one is encoded here into its cache (`fill_utf8_cache`; streamed into
    /// the sink instead where that layout is off limits), shorter ones get `CPython`'s own cached
    /// UTF-8; either way later calls on the same objects read it in place.
    #[inline]
    fn put_str_obj(&mut self, v: &Bound<'py, PyAny>) -> Result<(), Error> {
        #[cfg(not(any(Py_3_14, PyPy, GraalPy)))]
        {
            let p = v.as_ptr();
            // SAFETY: `v` is a str; compact strings keep their code units right after the header, and
            // the `utf8` member of a compact non-ASCII string is its cached UTF-8 or null.
            unsafe {
                if ffi::PyUnicode_IS_COMPACT_ASCII(p) == 0 && ffi::PyUnicode_IS_COMPACT(p) != 0 {
                    let len = ffi::PyUnicode_GET_LENGTH(p).cast_unsigned();
                    let cached = (*p.cast::<ffi::PyCompactUnicodeObject>()).utf8;
                    if cached.is_null() && len >= ENCODE_AT {
                        let data = ffi::PyUnicode_DATA(p);
                        let units = match ffi::PyUnicode_KIND(p) {
                            ffi::PyUnicode_1BYTE_KIND => Units::One(std::slice::from_raw_parts(data.cast(), len)),
                            ffi::PyUnicode_2BYTE_KIND => Units::Two(std::slice::from_raw_parts(data.cast(), len)),
                            _ => Units::Four(std::slice::from_raw_parts(data.cast(), len)),
                        };
                        #[cfg(not(Py_GIL_DISABLED))]
                        if let Some(text) = fill_utf8_cache(p, &units, &mut self.encode_buf).map_err(surrogate)? {
                            self.put_text(text);
                            return Ok(());
                        }
                        return self.put_units(&units);
                    }
                }
            }
        }
        let text = utf8(v)?;
        self.put_text(text);
        Ok(())
    }

    fn put_units(&mut self, units: &Units<'_>) -> Result<(), Error> {
        let result = if units.len() >= self.detach_at {
            self.out.put_units_detached(self.py, units, &mut self.encode_buf)
        } else {
            write_units(&mut self.out, units, &mut self.encode_buf)
        };
        result.map_err(surrogate)
    }

    #[inline]
    fn put_text(&mut self, text: &[u8]) {
        if text.len() >= self.detach_at {
            self.out.put_str_detached(self.py, text);
        } else {
            write_str(&mut self.out, text);
        }
    }

    fn int(&mut self, v: &Bound<'py, PyAny>) -> Result<(), Error> {
        let mut overflow: c_int = 0;
        // SAFETY: `v` is an int (or int subclass), which this reads without calling Python code.
        let n = unsafe { ffi::PyLong_AsLongLongAndOverflow(v.as_ptr(), &raw mut overflow) };
        if overflow == 0 && n.unsigned_abs() <= MAX_SAFE_INTEGER.unsigned_abs() {
            write_i64(&mut self.out, n);
            return Ok(());
        }
        self.big_int(v)
    }

    #[cold]
    fn big_int(&mut self, v: &Bound<'py, PyAny>) -> Result<(), Error> {
        // int.__repr__ of the exact int: an IntEnum's str() would be its name.
        let digits = (|| -> PyResult<String> {
            let exact = unsafe { Bound::from_owned_ptr_or_err(self.py, ffi::PyNumber_Index(v.as_ptr()))? };
            let text = unsafe { Bound::from_owned_ptr_or_err(self.py, ffi::PyObject_Repr(exact.as_ptr()))? };
            text.extract::<String>()
        })()
        .map_err(|e| Error::canonicalization(format!("integer cannot be written in decimal: {e}"), ""))?;
        if !self.exact_ints {
            return Err(Error::canonicalization(
                format!("integer {digits} is beyond ±(2^53−1) and has no exact json number"),
                "",
            ));
        }
        self.out.put(digits.as_bytes());
        Ok(())
    }

    #[inline]
    fn float(&mut self, f: f64) -> Result<(), Error> {
        if !f.is_finite() {
            return Err(Error::canonicalization(
                format!("{} is not valid json", canonical::non_finite_name(f)),
                "",
            ));
        }
        canonical::write_f64(&mut self.out, f);
        Ok(())
    }

    /// Entering a container: refuse cycles (an ancestor met again) and excessive nesting.
    #[inline]
    pub(crate) fn enter(&mut self, v: &Bound<'py, PyAny>, depth: usize) -> Result<(), Error> {
        check_depth(depth)?;
        let ptr = v.as_ptr();
        if self.ancestors.contains(&ptr) {
            return Err(Error::canonicalization(
                format!("cycle: this {} contains itself", type_name(v)),
                "",
            ));
        }
        self.ancestors.push(ptr);
        Ok(())
    }

    fn array(&mut self, v: &Bound<'py, PyAny>, pos: Position, depth: usize) -> Result<(), Error> {
        self.enter(v, depth)?;
        let element = pos.element();
        let ptr = v.as_ptr();
        // SAFETY: `v` is a list or tuple (or subclass); items are read by index under the GIL with a
        // fresh length each time, so a list changed by Python code met on the way (a model_dump) is
        // never read out of bounds.
        let is_list = unsafe { ffi::PyList_Check(ptr) } != 0;
        self.out.put_byte(b'[');
        let mut i: ffi::Py_ssize_t = 0;
        loop {
            let len = unsafe {
                if is_list {
                    ffi::PyList_GET_SIZE(ptr)
                } else {
                    ffi::PyTuple_GET_SIZE(ptr)
                }
            };
            if i >= len {
                break;
            }
            let item = unsafe {
                let raw = if is_list {
                    ffi::PyList_GET_ITEM(ptr, i)
                } else {
                    ffi::PyTuple_GET_ITEM(ptr, i)
                };
                Borrowed::from_ptr(self.py, raw).to_owned()
            };
            if i > 0 {
                self.out.put_byte(b',');
            }
            if is_sentinel_fast(&item) {
                return Err(Error::unsupported_type(
                    "NOT_GIVEN/omit inside a list has no json meaning (the sdk cannot send it either)",
                    format!("[{i}]"),
                ));
            }
            self.value(&item, element, depth + 1)
                .map_err(|e| e.prefixed(&format!("[{i}]")))?;
            i += 1;
        }
        self.out.put_byte(b']');
        self.ancestors.pop();
        Ok(())
    }

    /// Collects the members of a dict into `scratch`, dropping sentinels, and at structural positions
    /// `cache_control` and `null` members. Returns whether a key is a str subclass: only then can two
    /// keys share a text (a dict never holds two equal exact strs), so only then are duplicates checked.
    pub(crate) fn collect(&mut self, d: &Bound<'py, PyAny>, structural: bool) -> Result<bool, Error> {
        let mut subclass_keys = false;
        let mut pos: ffi::Py_ssize_t = 0;
        let mut k: *mut ffi::PyObject = std::ptr::null_mut();
        let mut val: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: `d` is a dict (or subclass); PyDict_Next hands out borrowed references, which are
        // turned into owned ones before anything else can run.
        while unsafe { ffi::PyDict_Next(d.as_ptr(), &raw mut pos, &raw mut k, &raw mut val) } != 0 {
            let (key_obj, value) = unsafe {
                (
                    Borrowed::from_ptr(self.py, k).to_owned(),
                    Borrowed::from_ptr(self.py, val).to_owned(),
                )
            };
            let exact = unsafe { ffi::Py_TYPE(k) == &raw mut ffi::PyUnicode_Type };
            subclass_keys |= !exact;
            if !exact && unsafe { ffi::PyUnicode_Check(k) } == 0 {
                return Err(Error::unsupported_type(
                    format!(
                        "object key {} of type {} is not a string",
                        short_repr(&key_obj),
                        type_name(&key_obj)
                    ),
                    "",
                ));
            }
            let key = utf8(&key_obj).map_err(|e| {
                let message = e
                    .message()
                    .replace("is not valid json", "in an object key is not valid json");
                Error::canonicalization(message, "")
            })?;
            if is_sentinel_fast(&value) || (structural && (value.is_none() || key == b"cache_control")) {
                continue;
            }
            let (key, key_len) = (key.as_ptr(), key.len());
            self.scratch.push(Entry {
                key,
                key_len,
                _key_obj: key_obj,
                value,
            });
        }
        Ok(subclass_keys)
    }

    fn object(&mut self, d: &Bound<'py, PyAny>, pos: Position, depth: usize) -> Result<(), Error> {
        self.enter(d, depth)?;
        let start = self.scratch.len();
        let result = self.object_members(d, pos, depth, start);
        // Drop this object's entries (and their references) whether or not writing succeeded.
        self.scratch.truncate(start);
        self.ancestors.pop();
        result
    }

    fn object_members(
        &mut self,
        d: &Bound<'py, PyAny>,
        pos: Position,
        depth: usize,
        start: usize,
    ) -> Result<(), Error> {
        let structural = pos.is_structural_object();
        let check_duplicates = self.collect(d, structural)?;
        let end = self.scratch.len();
        let members = &mut self.scratch[start..end];
        members.sort_unstable_by(|a, b| canonical::key_cmp(a.key(), b.key()));
        if let Some(w) = members
            .windows(2)
            .find(|w| check_duplicates && w[0].key() == w[1].key())
        {
            return Err(Error::unsupported_type(
                format!("two keys with the same text {:?}", String::from_utf8_lossy(w[0].key())),
                "",
            ));
        }
        // A block's `type` decides whether its `content` is structural (tool_result); a tool's type
        // marks a server tool.
        let mut block_type: Option<&[u8]> = None;
        if structural {
            if let Some(entry) = members.iter().find(|e| e.key() == b"type") {
                if entry.value.is_instance_of::<PyString>() {
                    // SAFETY: the bytes live in the value's str object, held by `scratch` until the
                    // end of this call (children only push and truncate above `end`).
                    let t = utf8(&entry.value)?;
                    block_type = Some(unsafe { std::slice::from_raw_parts(t.as_ptr(), t.len()) });
                }
            }
            if pos == Position::Tool && block_type.is_some_and(km::is_server_tool_type) {
                self.flags.server_tools = true;
            }
        }
        self.out.put_byte(b'{');
        for i in start..end {
            if i > start {
                self.out.put_byte(b',');
            }
            let (key, value) = {
                let e = &self.scratch[i];
                // SAFETY: scratch[i] keeps the key and the value alive until this object is written
                // (children push and truncate only above `end`; a reallocation moves the entry, not
                // the objects), so a borrowed view of both is enough.
                let key: &[u8] = unsafe { std::slice::from_raw_parts(e.key, e.key_len) };
                (key, unsafe { Borrowed::from_ptr(self.py, e.value.as_ptr()) })
            };
            write_str(&mut self.out, key);
            self.out.put_byte(b':');
            let child = if structural {
                pos.member(key, block_type)
            } else {
                Position::Data
            };
            self.value(&value, child, depth + 1)
                .map_err(|e| e.prefixed(&String::from_utf8_lossy(key)))?;
        }
        self.out.put_byte(b'}');
        Ok(())
    }

    /// Everything that is not an exact builtin JSON type.
    #[cold]
    #[inline(never)]
    pub(crate) fn other(&mut self, v: &Bound<'py, PyAny>, pos: Position, depth: usize) -> Result<(), Error> {
        let ptr = v.as_ptr();
        // SAFETY: type checks on a live object.
        unsafe {
            // Subclasses: str/int enum members and the like are written by value.
            if ffi::PyUnicode_Check(ptr) != 0 {
                return self.string(v, pos);
            }
            if ffi::PyLong_Check(ptr) != 0 {
                return self.int(v);
            }
            if ffi::PyFloat_Check(ptr) != 0 {
                return self.float(ffi::PyFloat_AsDouble(ptr));
            }
            if ffi::PyDict_Check(ptr) != 0 {
                return self.object(v, pos, depth);
            }
            if ffi::PyList_Check(ptr) != 0 || ffi::PyTuple_Check(ptr) != 0 {
                return self.array(v, pos, depth);
            }
        }
        if is_sentinel(v) {
            return Err(Error::unsupported_type(
                "NOT_GIVEN/omit has no json meaning outside an object member",
                "",
            ));
        }
        if let Some(base) = pydantic_base(self.py) {
            if v.is_instance(base).unwrap_or(false) {
                check_depth(depth)?;
                let dumped = dump_model(v)?;
                return self.value(&dumped, pos, depth);
            }
        }
        let abc = self.py.import("collections.abc").ok();
        let isinstance = |name: &str| {
            abc.as_ref()
                .and_then(|m| m.getattr(name).ok())
                .is_some_and(|cls| v.is_instance(&cls).unwrap_or(false))
        };
        if isinstance("Mapping") {
            check_depth(depth)?;
            let copy = PyDict::new(self.py);
            copy.update(v.cast::<pyo3::types::PyMapping>().map_err(|_| bad_type(v))?)
                .map_err(|e| Error::unsupported_type(format!("{} could not be read: {e}", type_name(v)), ""))?;
            return self.object(copy.as_any(), pos, depth);
        }
        if isinstance("Iterator") {
            return Err(Error::unsupported_type(
                format!(
                    "{} is a one-shot iterable: keying it would consume it before the call (pass a list)",
                    type_name(v)
                ),
                "",
            ));
        }
        Err(bad_type(v))
    }
}

/// Sentinels are never builtin JSON types: skip the name check for those.
#[inline]
pub(crate) fn is_sentinel_fast(v: &Bound<'_, PyAny>) -> bool {
    let tp = type_ptr(v);
    let builtin = {
        tp == &raw mut ffi::PyUnicode_Type
            || tp == &raw mut ffi::PyDict_Type
            || tp == &raw mut ffi::PyList_Type
            || tp == &raw mut ffi::PyLong_Type
            || tp == &raw mut ffi::PyFloat_Type
            || tp == &raw mut ffi::PyBool_Type
    };
    !builtin && !v.is_none() && is_sentinel(v)
}

pub fn short_repr(v: &Bound<'_, PyAny>) -> String {
    let text = v
        .repr()
        .map_or_else(|_| "?".into(), |r| r.to_string_lossy().into_owned());
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

pub fn bad_type(v: &Bound<'_, PyAny>) -> Error {
    Error::unsupported_type(
        format!("unsupported type {} ({}) has no json form", type_name(v), short_repr(v)),
        "",
    )
}
