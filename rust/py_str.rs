//! Python str → UTF-8 for the walker: read in place where `CPython` already has it, encoded once into
//! `CPython`'s own UTF-8 cache where it does not, and the sinks that can take a long string with the
//! GIL released.

use std::sync::atomic::AtomicUsize;

use pyo3::ffi;
use pyo3::prelude::*;

use crate::canonical::{write_str, HashSink, Sink};
use crate::errors::Error;
use crate::utf8::{write_units, Units};

/// Strings at least this long (bytes, or code units when encoded here) are escaped and hashed with the
/// GIL released. GIL released from 1 MiB: below that a hash takes under ~0.5 ms and giving the GIL away
/// costs more than it returns, since taking it back can wait for another thread's whole switch
/// interval (5 ms); measured with `benches/gil_release.py` (table in `docs/keys.md`).
pub static DETACH_AT: AtomicUsize = AtomicUsize::new(1 << 20);

/// Non-ASCII strings at least this many code points long, with no cached UTF-8, are encoded here
/// (`fill_utf8_cache`) instead of by `CPython` (see `Walker::put_str_obj`). Measured (`docs/keys.md`): on
/// requests fresh from `json.loads` this saves a third of the time on long documents; below ~1,000
/// code points `CPython`'s own encoder is as fast.
pub(crate) const ENCODE_AT: usize = 1024;

pub(crate) fn surrogate(code: u32) -> Error {
    Error::canonicalization(format!("lone surrogate U+{code:04X} is not valid json"), "")
}

/// Encodes a compact non-ASCII str whose UTF-8 is not cached yet and installs the result as its
/// cached UTF-8, exactly as `PyUnicode_AsUTF8AndSize` does (a `PyObject_Malloc` buffer with a NUL,
/// in the `utf8`/`utf8_length` members, freed by the str's dealloc), so later calls on the same
/// object read it in place. The difference is the path: `CPython` encodes into a worst-case-sized
/// bytes object and then copies; this encodes straight into the final buffer (up to 64 KiB) or into a
/// warm scratch buffer followed by one exact-size copy, which on a request fresh from `json.loads`
/// saves a third of the keying time (`docs/keys.md`).
/// `Ok(None)`: out of memory; the caller streams instead.
///
/// # Safety
/// `p` is a compact, non-ASCII str with a null `utf8` member and `units` are its code units; the GIL
/// is held (nothing else can fill the cache meanwhile).
#[cfg(not(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy)))]
pub(crate) unsafe fn fill_utf8_cache<'a>(
    p: *mut ffi::PyObject,
    units: &Units<'_>,
    scratch: &mut Vec<u8>,
) -> Result<Option<&'a [u8]>, u32> {
    // SAFETY: see the function's contract. The encoder writes at most `max_utf8` bytes into the
    // scratch buffer reserved for them; the cache buffer gets exactly `n` bytes and the NUL.
    unsafe {
        let max = units.max_utf8();
        if max <= DIRECT_FILL {
            // Small enough to come from the heap's warm pages: encode straight into a worst-case
            // buffer and shrink it in place.
            let buf = ffi::PyObject_Malloc(max + 1).cast::<u8>();
            if buf.is_null() {
                return Ok(None);
            }
            let n = match units.encode_into(buf) {
                Ok(n) => n,
                Err(code) => {
                    ffi::PyObject_Free(buf.cast());
                    return Err(code);
                }
            };
            *buf.add(n) = 0;
            let shrunk = ffi::PyObject_Realloc(buf.cast(), n + 1).cast::<u8>();
            return Ok(Some(install_utf8(p, if shrunk.is_null() { buf } else { shrunk }, n)));
        }
        // Large: encode once into a warm scratch buffer, then copy into an exact-size cache buffer;
        // a worst-case buffer (4 bytes per UCS-4 unit) would be faulted in page by page for nothing,
        // and counting the length first costs as much as encoding.
        scratch.clear();
        scratch.reserve(units.max_utf8());
        let n = units.encode_into(scratch.as_mut_ptr())?;
        scratch.set_len(n);
        let buf = ffi::PyObject_Malloc(n + 1).cast::<u8>();
        if buf.is_null() {
            return Ok(None);
        }
        std::ptr::copy_nonoverlapping(scratch.as_ptr(), buf, n);
        *buf.add(n) = 0;
        Ok(Some(install_utf8(p, buf, n)))
    }
}

/// Worst-case UTF-8 sizes up to this fill the cache buffer directly (below glibc's mmap threshold).
#[cfg(not(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy)))]
const DIRECT_FILL: usize = 64 * 1024;

/// Stores `buf[..n]` (NUL-terminated, from `PyObject_Malloc`) as the str's cached UTF-8.
///
/// # Safety
/// As `fill_utf8_cache`.
#[cfg(not(any(Py_3_14, Py_GIL_DISABLED, PyPy, GraalPy)))]
unsafe fn install_utf8<'a>(p: *mut ffi::PyObject, buf: *mut u8, n: usize) -> &'a [u8] {
    // SAFETY: see the function's contract.
    unsafe {
        let compact = p.cast::<ffi::PyCompactUnicodeObject>();
        (*compact).utf8 = buf.cast();
        (*compact).utf8_length = n.cast_signed();
        std::slice::from_raw_parts(buf, n)
    }
}

/// A sink that can take a long string with the GIL released.
pub trait Detachable: Sink + Send {
    fn put_str_detached(&mut self, py: Python<'_>, text: &[u8]);
    fn put_units_detached(&mut self, py: Python<'_>, units: &Units<'_>, scratch: &mut Vec<u8>) -> Result<(), u32>;
}

impl Detachable for Vec<u8> {
    // Copying into a buffer is cheaper than a GIL round trip; nothing to gain.
    fn put_str_detached(&mut self, _py: Python<'_>, text: &[u8]) {
        write_str(self, text);
    }
    fn put_units_detached(&mut self, _py: Python<'_>, units: &Units<'_>, scratch: &mut Vec<u8>) -> Result<(), u32> {
        write_units(self, units, scratch)
    }
}

impl Detachable for HashSink {
    // The str is immutable and kept alive by the caller's reference, and its data (code units or
    // cached UTF-8) is freed only with the object, so reading it without the GIL is sound.
    fn put_str_detached(&mut self, py: Python<'_>, text: &[u8]) {
        py.detach(|| write_str(self, text));
    }
    fn put_units_detached(&mut self, py: Python<'_>, units: &Units<'_>, scratch: &mut Vec<u8>) -> Result<(), u32> {
        py.detach(|| write_units(self, units, scratch))
    }
}

/// The UTF-8 bytes of a str (or str subclass). ASCII strings are read in place; others use the
/// UTF-8 copy `CPython` caches on the object. Fails on lone surrogates.
#[inline]
pub(crate) fn utf8<'a>(s: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Error> {
    // SAFETY: `s` is a str. A compact ASCII string stores its characters (already UTF-8) right after
    // the `PyASCIIObject` header; this is what PyUnicode_AsUTF8AndSize returns for it, minus the call.
    #[cfg(not(any(Py_3_14, PyPy, GraalPy)))]
    unsafe {
        let p = s.as_ptr();
        if ffi::PyUnicode_IS_COMPACT_ASCII(p) != 0 {
            let data = p.cast::<ffi::PyASCIIObject>().add(1).cast::<u8>();
            return Ok(std::slice::from_raw_parts(
                data,
                ffi::PyUnicode_GET_LENGTH(p).cast_unsigned(),
            ));
        }
    }
    let mut len: ffi::Py_ssize_t = 0;
    // SAFETY: `s` is a str; the returned buffer lives as long as `s`.
    let data = unsafe { ffi::PyUnicode_AsUTF8AndSize(s.as_ptr(), &raw mut len) };
    if data.is_null() {
        return Err(surrogate_error(s));
    }
    // SAFETY: CPython returned `len` valid bytes at `data`; a Py_ssize_t length is never negative.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len.cast_unsigned()) })
}

#[cold]
fn surrogate_error(s: &Bound<'_, PyAny>) -> Error {
    let _ = PyErr::take(s.py());
    // A Python str is a sequence of code points, so any surrogate in it is lone (even two that would
    // pair in UTF-16): find the first one through UTF-32.
    let code = s
        .call_method1("encode", ("utf-32-le", "surrogatepass"))
        .ok()
        .and_then(|b| b.extract::<Vec<u8>>().ok())
        .and_then(|b| {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .find(|u| (0xD800..=0xDFFF).contains(u))
        });
    match code {
        Some(u) => Error::canonicalization(format!("lone surrogate U+{u:04X} is not valid json"), ""),
        None => Error::canonicalization("string is not valid unicode", ""),
    }
}
