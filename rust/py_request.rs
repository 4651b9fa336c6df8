//! The top level of a Messages request (DESIGN §1 rules 1–3): `extra_body` merged over the
//! parameters, betas and `anthropic-version` lifted out of `extra_headers`, per-call members dropped,
//! and the cacheability flags read, before `py_walk` writes each member in key order.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::Borrowed;

use crate::canonical::{key_cmp, write_str};
use crate::errors::Error;
use crate::key_material::{self as km, Position};
use crate::py_str::{utf8, Detachable};
use crate::py_walk::{dump_model, is_sentinel, pydantic_base, short_repr, type_name, Walker};

/// A member the request does not spell itself: the merged betas, or the version from the headers.
enum Member<'a> {
    Betas(&'a [String]),
    Version(&'a str),
}

impl Member<'_> {
    fn key(&self) -> &'static [u8] {
        match self {
            Member::Betas(_) => b"betas",
            Member::Version(_) => b"anthropic-version",
        }
    }
}

/// A mapping as a dict: dicts as they are; pydantic models dumped as the SDK sends them; any other
/// `collections.abc.Mapping` copied. `None` for anything else.
fn as_dict<'py>(v: &Bound<'py, PyAny>) -> Result<Option<Bound<'py, PyAny>>, Error> {
    if v.is_instance_of::<PyDict>() {
        return Ok(Some(v.clone()));
    }
    if pydantic_base(v.py()).is_some_and(|base| v.is_instance(base).unwrap_or(false)) {
        return Ok(Some(dump_model(v)?));
    }
    let is_mapping = v
        .py()
        .import("collections.abc")
        .and_then(|abc| abc.getattr("Mapping"))
        .is_ok_and(|mapping| v.is_instance(&mapping).unwrap_or(false));
    if is_mapping {
        let copy = PyDict::new(v.py());
        let items = v
            .call_method0("items")
            .map_err(|e| Error::unsupported_type(e.to_string(), ""))?;
        for item in items
            .try_iter()
            .map_err(|e| Error::unsupported_type(e.to_string(), ""))?
        {
            let (k, val): (Bound<'py, PyAny>, Bound<'py, PyAny>) = item
                .and_then(|i| i.extract())
                .map_err(|e| Error::unsupported_type(e.to_string(), ""))?;
            copy.set_item(k, val)
                .map_err(|e| Error::unsupported_type(e.to_string(), ""))?;
        }
        return Ok(Some(copy.into_any()));
    }
    Ok(None)
}

fn str_items(v: &Bound<'_, PyAny>, what: &str) -> Result<Vec<String>, Error> {
    if v.is_instance_of::<PyString>() {
        return Ok(vec![v
            .extract::<String>()
            .map_err(|e| Error::canonicalization(e.to_string(), ""))?]);
    }
    if !(v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()) {
        return Err(Error::unsupported_type(
            format!("{what} must be a list of strings, not {}", type_name(v)),
            "",
        ));
    }
    let mut out = Vec::new();
    for (i, item) in v
        .try_iter()
        .map_err(|e| Error::unsupported_type(e.to_string(), ""))?
        .enumerate()
    {
        let item = item.map_err(|e| Error::unsupported_type(e.to_string(), ""))?;
        if !item.is_instance_of::<PyString>() {
            return Err(Error::unsupported_type(
                format!("{what} entry {} is not a string", short_repr(&item)),
                format!("[{i}]"),
            ));
        }
        out.push(String::from_utf8_lossy(utf8(&item)?).into_owned());
    }
    Ok(out)
}

/// A positive number (bools are not numbers here).
fn is_positive(v: &Bound<'_, PyAny>) -> bool {
    // SAFETY: type checks and value reads on a live object.
    unsafe {
        let p = v.as_ptr();
        if ffi::PyBool_Check(p) != 0 {
            return false;
        }
        if ffi::PyFloat_Check(p) != 0 {
            return ffi::PyFloat_AsDouble(p) > 0.0;
        }
    }
    v.extract::<i64>()
        .map_or_else(|_| v.gt(0i64).unwrap_or(false), |n| n > 0)
}

impl<'py, S: Detachable> Walker<'py, S> {
    /// Writes a request's key material and records its cacheability flags in `self.flags`.
    pub fn request(&mut self, req: &Bound<'py, PyAny>) -> Result<(), Error> {
        let Some(dict) = as_dict(req)? else {
            return Err(Error::unsupported_type(
                format!(
                    "a request must be a mapping (the keyword arguments of messages.create), not {}",
                    type_name(req)
                ),
                "",
            ));
        };
        self.enter(&dict, 1)?;
        let start = self.scratch.len();
        let result = self.request_members(&dict, start);
        self.scratch.truncate(start);
        self.ancestors.pop();
        result
    }

    fn request_members(&mut self, dict: &Bound<'py, PyAny>, start: usize) -> Result<(), Error> {
        self.collect(dict, false)?;
        let mut extra_body = None;
        let mut extra_headers = None;
        // Indices into scratch; `true` marks a member that came from extra_body (for error paths).
        // The walker's reusable list (a request never nests in another, so one is enough).
        let mut members = std::mem::take(&mut self.top);
        members.clear();
        for i in start..self.scratch.len() {
            match self.scratch[i].key() {
                b"extra_body" => extra_body = Some(self.scratch[i].value.clone()),
                b"extra_headers" => extra_headers = Some(self.scratch[i].value.clone()),
                _ => members.push((i, false)),
            }
        }
        if let Some(body) = extra_body.filter(|b| !b.is_none()) {
            self.merge_extra_body(&body, &mut members)
                .map_err(|e| e.prefixed("extra_body"))?;
        }
        let mut betas = Vec::new();
        if let Some(at) = members.iter().position(|&(i, _)| self.scratch[i].key() == b"betas") {
            let (i, from_body) = members.remove(at);
            let value = &self.scratch[i].value;
            if !value.is_none() {
                for beta in str_items(value, "betas").map_err(|e| {
                    let e = e.prefixed("betas");
                    if from_body {
                        e.prefixed("extra_body")
                    } else {
                        e
                    }
                })? {
                    km::add_betas(&mut betas, &beta);
                }
            }
        }
        let mut version = None;
        if let Some(headers) = extra_headers.filter(|h| !h.is_none()) {
            let (header_version, header_betas) =
                Self::read_headers(&headers).map_err(|e| e.prefixed("extra_headers"))?;
            if let Some(header_betas) = header_betas {
                // The SDK builds `anthropic-beta` from `betas`, then lets extra_headers replace it:
                // what goes over the wire is the header's list alone.
                betas = header_betas;
            }
            version = header_version;
            if version.is_some() {
                members.retain(|&(i, _)| self.scratch[i].key() != b"anthropic-version");
            }
        }
        let betas = km::finish_betas(betas);
        members.retain(|&(i, _)| {
            let e = &self.scratch[i];
            !e.value.is_none() && !km::is_dropped_top(e.key())
        });
        self.read_flags(&members);

        // Sort the request's members in place; the (at most two) synthesized ones are merged in
        // while writing, so no second list is built.
        let scratch = &self.scratch;
        members.sort_unstable_by(|a, b| key_cmp(scratch[a.0].key(), scratch[b.0].key()));
        let mut synthesized: Vec<Member<'_>> = Vec::new();
        if let Some(v) = version.as_deref() {
            synthesized.push(Member::Version(v));
        }
        if !betas.is_empty() {
            synthesized.push(Member::Betas(&betas));
        }
        synthesized.sort_unstable_by(|a, b| key_cmp(a.key(), b.key()));
        let result = self.write_members(&members, &synthesized);
        self.top = members;
        result
    }

    fn write_members(&mut self, members: &[(usize, bool)], synthesized: &[Member<'_>]) -> Result<(), Error> {
        self.out.put_byte(b'{');
        let mut previous: Option<&[u8]> = None;
        let mut next_synthesized = synthesized.iter().peekable();
        let mut members = members.iter().peekable();
        loop {
            // The next member in key order: a synthesized one when its key sorts first.
            let take_synthesized = match (next_synthesized.peek(), members.peek()) {
                (Some(s), Some(&&(i, _))) => key_cmp(s.key(), self.scratch[i].key()) != std::cmp::Ordering::Greater,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (key, source) = if take_synthesized {
                let member = next_synthesized.next().expect("peeked");
                (member.key(), Err(member))
            } else {
                let &(i, from_body) = members.next().expect("peeked");
                let e = &self.scratch[i];
                // SAFETY: scratch[i] keeps the key and the value alive until the request is written
                // (children push and truncate only above it).
                let key: &[u8] = unsafe { std::slice::from_raw_parts(e.key().as_ptr(), e.key().len()) };
                (
                    key,
                    Ok((unsafe { Borrowed::from_ptr(self.py, e.value.as_ptr()) }, from_body)),
                )
            };
            if previous == Some(key) {
                // A str-subclass key can repeat a text, or a body member a synthesized one.
                return Err(Error::unsupported_type(
                    format!("two keys with the same text {:?}", String::from_utf8_lossy(key)),
                    "",
                ));
            }
            if previous.is_some() {
                self.out.put_byte(b',');
            }
            previous = Some(key);
            write_str(&mut self.out, key);
            self.out.put_byte(b':');
            match source {
                Ok((value, from_body)) => {
                    self.value(&value, Position::top(key), 2).map_err(|e| {
                        let e = e.prefixed(&String::from_utf8_lossy(key));
                        if from_body {
                            e.prefixed("extra_body")
                        } else {
                            e
                        }
                    })?;
                }
                Err(Member::Betas(betas)) => {
                    self.out.put_byte(b'[');
                    for (i, beta) in betas.iter().enumerate() {
                        if i > 0 {
                            self.out.put_byte(b',');
                        }
                        write_str(&mut self.out, beta.as_bytes());
                    }
                    self.out.put_byte(b']');
                }
                Err(Member::Version(v)) => write_str(&mut self.out, v.as_bytes()),
            }
        }
        self.out.put_byte(b'}');
        Ok(())
    }

    /// Rule 1: shallow, `extra_body` wins; an `omit` (or `NOT_GIVEN`) there removes the parameter.
    fn merge_extra_body(&mut self, body: &Bound<'py, PyAny>, members: &mut Vec<(usize, bool)>) -> Result<(), Error> {
        let Some(body) = as_dict(body)? else {
            return Err(Error::unsupported_type(
                format!("extra_body must be a mapping, not {}", type_name(body)),
                "",
            ));
        };
        let from = self.scratch.len();
        let items: Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)> = body
            .cast::<PyDict>()
            .map_err(|_| Error::unsupported_type("extra_body must be a mapping", ""))?
            .iter()
            .collect();
        for (k, v) in items {
            if !k.is_instance_of::<PyString>() {
                return Err(Error::unsupported_type(
                    format!(
                        "object key {} of type {} is not a string",
                        short_repr(&k),
                        type_name(&k)
                    ),
                    "",
                ));
            }
            let key = utf8(&k)?.to_vec();
            members.retain(|&(i, _)| self.scratch[i].key() != key.as_slice());
            if is_sentinel(&v) {
                continue;
            }
            let one = PyDict::new(self.py);
            one.set_item(&k, &v)
                .map_err(|e| Error::unsupported_type(e.to_string(), ""))?;
            // Reuse `collect` so the entry holds its references exactly like the request's own.
            self.collect(one.as_any(), false)?;
        }
        members.extend((from..self.scratch.len()).map(|i| (i, true)));
        Ok(())
    }

    /// Rule 2: returns `anthropic-version` and, when the header is set, the `anthropic-beta` list (empty
    /// when it is removed with `omit`/`None`). Other headers never change the answer. Names are
    /// case-insensitive, as in HTTP.
    #[allow(clippy::type_complexity)]
    fn read_headers(headers: &Bound<'py, PyAny>) -> Result<(Option<String>, Option<Vec<String>>), Error> {
        let Some(headers) = as_dict(headers)? else {
            return Err(Error::unsupported_type(
                format!("extra_headers must be a mapping, not {}", type_name(headers)),
                "",
            ));
        };
        let (mut version, mut betas) = (None, None);
        let dict = headers
            .cast::<PyDict>()
            .map_err(|_| Error::unsupported_type("extra_headers must be a mapping", ""))?;
        for (k, v) in dict.iter() {
            let Ok(name) = k.extract::<String>() else { continue };
            let name = name.to_ascii_lowercase();
            if name != "anthropic-beta" && name != "anthropic-version" {
                continue;
            }
            // `omit` (or None) removes the header; `NOT_GIVEN` leaves the SDK's own value.
            let removed = v.is_none() || (is_sentinel(&v) && v.get_type().name().is_ok_and(|n| n == "Omit"));
            if is_sentinel(&v) && !removed {
                continue;
            }
            let text: Option<String> = if removed {
                None
            } else {
                Some(v.extract().map_err(|_| {
                    Error::unsupported_type(
                        format!("header {name} must be a string, not {}", type_name(&v)),
                        name.clone(),
                    )
                })?)
            };
            if name == "anthropic-beta" {
                let mut list = Vec::new();
                if let Some(text) = text {
                    km::add_betas(&mut list, &text);
                }
                betas = Some(list);
            } else {
                version = text.map(|t| t.trim().to_owned());
            }
        }
        Ok((version, betas))
    }

    /// DESIGN §1 Cacheability, judged on the merged members.
    fn read_flags(&mut self, members: &[(usize, bool)]) {
        for &(i, _) in members {
            let e = &self.scratch[i];
            match e.key() {
                b"temperature" if is_positive(&e.value) => self.flags.sampling = true,
                b"top_p" | b"top_k" => self.flags.sampling = true,
                b"container" => self.flags.server_tools = true,
                b"mcp_servers" => {
                    let empty = e.value.len().is_ok_and(|n| n == 0);
                    if !empty {
                        self.flags.server_tools = true;
                    }
                }
                _ => {}
            }
        }
    }
}
