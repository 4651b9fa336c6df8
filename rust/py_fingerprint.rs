//! The walk from a Python request (dicts, lists, the SDK's pydantic objects) to `prefix::Parsed`: block
//! fingerprints written the way Python's `json` writes them, after the structural normalization of
//! DESIGN §1 rules 4–5. Errors are `crate::errors::Error` with a path, prefixed segment by segment as
//! they unwind, so the happy path never builds a path string.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::blocks::{Marker, Section, Ttl};
use crate::canonical::write_i64;
use crate::errors::Error;
use crate::fingerprint::{write_bytes, write_f64};
use crate::prefix::{api_location, Parsed, RawBlock, Settings};
use crate::py_walk::{dump_model, is_sentinel, is_sentinel_fast, pydantic_base, utf8};

const MAX_DEPTH: usize = 1000;
/// Tool types that run on Anthropic's side: not fingerprinted as tools, their presence is context.
const SERVER_TOOL_PREFIXES: [&str; 3] = ["web_search_", "web_fetch_", "code_execution_"];

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

/// Null and the SDK's "not given" sentinels are absent wherever they appear (DESIGN §1).
fn absent(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_none() || is_sentinel_fast(obj)
}

fn py_error(err: &PyErr, py: Python<'_>, path: &str) -> Error {
    Error::unsupported_type(err.value(py).to_string(), path)
}

/// An SDK pydantic object as the dict the SDK would send (the same dump `make_key` uses); anything
/// else unchanged.
fn as_plain<'py>(obj: &Bound<'py, PyAny>) -> Result<Bound<'py, PyAny>, Error> {
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

fn as_dict<'py>(obj: &Bound<'py, PyAny>, what: &str) -> Result<Bound<'py, PyDict>, Error> {
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
fn as_items<'py>(obj: &Bound<'py, PyAny>, what: &str) -> Result<Vec<Bound<'py, PyAny>>, Error> {
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

fn key_str<'a>(k: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Error> {
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
fn text_of<'a>(s: &'a Bound<'_, PyAny>) -> Result<&'a [u8], Error> {
    utf8(s)
}

fn str_of(s: &Bound<'_, PyString>) -> Result<String, Error> {
    text_of(s.as_any()).map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A key for an error path (only built when an error unwinds).
fn key_text(key: &[u8]) -> std::borrow::Cow<'_, str> {
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
        JsonOut {
            buf: Vec::with_capacity(512),
            media_bytes: 0,
            stack: Vec::new(),
        }
    }
}

impl JsonOut {
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
    fn dict(&mut self, d: &Bound<'_, PyDict>, structural: bool) -> Result<(), Error> {
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

fn text_block(out: &mut Vec<u8>, text: &[u8]) {
    out.extend_from_slice(b"{\"type\":\"text\",\"text\":");
    write_bytes(out, text);
    out.push(b'}');
}

/// A value as JSON bytes, errors prefixed with `path`.
fn json(value: &Bound<'_, PyAny>, path: &str) -> Result<Vec<u8>, Error> {
    let mut out = JsonOut::default();
    out.value(value).map_err(|e| e.prefixed(path))?;
    Ok(out.buf)
}

/// Builds `Parsed` from a request; `blocks` come out with `tokens == 0` (the caller counts them).
/// The top-level members the prefix reads; everything else in a request is ignored here.
const TOP: [&str; 9] = [
    "model",
    "tools",
    "system",
    "messages",
    "tool_choice",
    "thinking",
    "output_config",
    "speed",
    "cache_control",
];

pub struct Walker<'py> {
    pub parsed: Parsed,
    /// The values of the `TOP` members, `extra_body` merged in (one pass over each dict, no lookups).
    top: [Option<Bound<'py, PyAny>>; TOP.len()],
    /// Keep the text of text and thinking blocks (`diff` reports offsets in it).
    pub keep_text: bool,
}

fn collect_top<'py>(
    d: &Bound<'py, PyDict>,
    top: &mut [Option<Bound<'py, PyAny>>; TOP.len()],
) -> Option<Bound<'py, PyAny>> {
    let mut extra_body = None;
    for (k, v) in d.iter() {
        let Ok(key) = k.cast::<PyString>() else { continue };
        let Ok(name) = key.to_str() else { continue };
        if name == "extra_body" {
            extra_body = Some(v);
        } else if let Some(i) = TOP.iter().position(|t| *t == name) {
            top[i] = Some(v);
        }
    }
    extra_body
}

impl<'py> Walker<'py> {
    pub fn new(request: &Bound<'py, PyAny>) -> Result<Walker<'py>, Error> {
        let request = as_dict(request, "the request")?;
        let mut top = Default::default();
        // `extra_body` is merged as the SDK merges it: shallow, its members win.
        if let Some(extra) = collect_top(&request, &mut top).filter(|v| !absent(v)) {
            let extra = as_dict(&extra, "extra_body").map_err(|e| e.prefixed("extra_body"))?;
            collect_top(&extra, &mut top);
        }
        Ok(Walker {
            parsed: Parsed::default(),
            top,
            keep_text: false,
        })
    }

    /// A walker for messages appended to an existing chain (no request-level members).
    pub fn for_append() -> Walker<'py> {
        Walker {
            parsed: Parsed::default(),
            top: Default::default(),
            keep_text: false,
        }
    }

    /// A top-level member (null and the SDK's sentinels are absent).
    fn get(&self, name: &str) -> Option<Bound<'py, PyAny>> {
        let i = TOP.iter().position(|t| *t == name)?;
        self.top[i].clone().filter(|v| !absent(v))
    }

    pub fn walk(mut self) -> Result<Parsed, Error> {
        let model = self
            .get("model")
            .ok_or_else(|| Error::prompt_cache("model: Field required", "model"))?;
        let model = model
            .cast::<PyString>()
            .map_err(|_| Error::unsupported_type(format!("model must be a str, got {}", type_name(&model)), "model"))
            .and_then(|s| str_of(s).map_err(|e| e.prefixed("model")))?;
        self.parsed.model = model;
        self.settings()?;
        if let Some(tools) = self.get("tools") {
            for (i, tool) in as_items(&tools, "tools")
                .map_err(|e| e.prefixed("tools"))?
                .iter()
                .enumerate()
            {
                self.tool(tool, i).map_err(|e| e.prefixed(&format!("tools[{i}]")))?;
            }
        }
        if let Some(system) = self.get("system") {
            if let Ok(s) = system.cast::<PyString>() {
                let mut raw = RawBlock {
                    section: Section::System,
                    path: "system[0]".into(),
                    kind: "text".into(),
                    ..RawBlock::default()
                };
                let text = text_of(s.as_any()).map_err(|e| e.prefixed("system"))?;
                text_block(&mut raw.fingerprint, text);
                raw.cacheable = !text.is_empty();
                raw.text = self.keep_text.then(|| String::from_utf8_lossy(text).into_owned());
                self.parsed.blocks.push(raw);
            } else {
                for (i, block) in as_items(&system, "system")
                    .map_err(|e| e.prefixed("system"))?
                    .iter()
                    .enumerate()
                {
                    let path = format!("system[{i}]");
                    self.block(block, Section::System, path.clone(), None, &[])
                        .map_err(|e| e.prefixed(&path))?;
                }
            }
        }
        if let Some(messages) = self.get("messages") {
            let items = as_items(&messages, "messages").map_err(|e| e.prefixed("messages"))?;
            self.parsed.messages = items.len();
            for (i, message) in items.iter().enumerate() {
                self.message(message, i)
                    .map_err(|e| e.prefixed(&format!("messages[{i}]")))?;
            }
        }
        if let Some(cc) = self.get("cache_control") {
            self.parsed.top_level = parse_marker(&cc).map_err(|e| e.prefixed("cache_control"))?;
        }
        Ok(self.parsed)
    }

    fn settings(&mut self) -> Result<(), Error> {
        let mut s = Settings::default();
        if let Some(v) = self.get("tool_choice") {
            s.tool_choice = Some(json(&v, "tool_choice")?);
        }
        if let Some(v) = self.get("thinking") {
            // Decision: an explicit {"type": "disabled"} is the default, so it equals absent.
            let json = json(&v, "thinking")?;
            if json != b"{\"type\":\"disabled\"}" {
                s.thinking = Some(json);
            }
        }
        if let Some(config) = self.get("output_config") {
            let config = as_dict(&config, "output_config").map_err(|e| e.prefixed("output_config"))?;
            if let Some(effort) = config
                .get_item(intern!(config.py(), "effort"))
                .ok()
                .flatten()
                .filter(|v| !absent(v))
            {
                let json = json(&effort, "output_config.effort")?;
                // The docs: setting effort explicitly to its default ("high") does not invalidate.
                if json != b"\"high\"" {
                    s.effort = Some(json);
                }
            }
        }
        if let Some(v) = self.get("speed") {
            let json = json(&v, "speed")?;
            // Decision: "standard" is the default speed, so it equals absent.
            if json != b"\"standard\"" {
                s.speed = Some(json);
            }
        }
        self.parsed.settings = s;
        Ok(())
    }

    fn tool(&mut self, tool: &Bound<'py, PyAny>, i: usize) -> Result<(), Error> {
        let d = as_dict(tool, "a tool")?;
        let marker = match d.get_item(intern!(d.py(), "cache_control")).ok().flatten() {
            Some(cc) => parse_marker(&cc).map_err(|e| e.prefixed("cache_control"))?,
            None => None,
        };
        let tool_type = d.get_item(intern!(d.py(), "type")).ok().flatten().and_then(|t| {
            t.cast::<PyString>()
                .ok()
                .and_then(|s| s.to_str().ok().map(str::to_owned))
        });
        let mut out = JsonOut::default();
        out.dict(&d, true)?;
        let server = tool_type.is_some_and(|t| SERVER_TOOL_PREFIXES.iter().any(|p| t.starts_with(p)));
        if server {
            self.parsed.settings.server_tools.push(out.buf);
            if let Some(ttl) = marker {
                // Decision: a marker on a server tool caches up to the tool block before it.
                let block = self.parsed.blocks.len().checked_sub(1);
                if let Some(previous) = block.map(|b| &mut self.parsed.blocks[b]) {
                    previous.marker.get_or_insert(ttl);
                }
                self.parsed.markers.push(Marker {
                    ttl,
                    location: format!("tools.{i}"),
                    block,
                });
            }
            return Ok(());
        }
        if let Some(ttl) = marker {
            let block = Some(self.parsed.blocks.len());
            self.parsed.markers.push(Marker {
                ttl,
                location: format!("tools.{i}"),
                block,
            });
        }
        self.parsed.blocks.push(RawBlock {
            section: Section::Tools,
            path: format!("tools[{i}]"),
            kind: "tool".into(),
            fingerprint: out.buf,
            marker,
            cacheable: true,
            media_bytes: out.media_bytes,
            ..RawBlock::default()
        });
        Ok(())
    }

    pub fn message(&mut self, message: &Bound<'py, PyAny>, i: usize) -> Result<(), Error> {
        // A response `Message` appended as-is: `to_param()` is what the SDK would send back.
        let message = if !message.is_instance_of::<PyDict>() && message.hasattr("to_param").unwrap_or(false) {
            message
                .call_method0("to_param")
                .map_err(|e| py_error(&e, message.py(), ""))?
        } else {
            message.clone()
        };
        let d = as_dict(&message, "a message")?;
        let mut header = JsonOut::default();
        header.buf.push(b'{');
        let mut content = None;
        for (k, v) in d.iter() {
            let key = key_str(&k)?;
            if key == b"content" {
                content = Some(v);
                continue;
            }
            if key == b"cache_control" || absent(&v) {
                continue;
            }
            if header.buf.len() > 1 {
                header.buf.push(b',');
            }
            write_bytes(&mut header.buf, key);
            header.buf.push(b':');
            header.value(&v).map_err(|e| e.prefixed(&key_text(key)))?;
        }
        header.buf.push(b'}');
        let Some(content) = content.filter(|c| !absent(c)) else {
            return Ok(());
        };
        if let Ok(s) = content.cast::<PyString>() {
            let text = text_of(s.as_any()).map_err(|e| e.prefixed("content"))?;
            let mut raw = RawBlock {
                section: Section::Messages,
                path: format!("messages[{i}].content[0]"),
                kind: "text".into(),
                message_index: Some(i),
                header: header.buf,
                cacheable: !text.is_empty(),
                ..RawBlock::default()
            };
            text_block(&mut raw.fingerprint, text);
            raw.text = self.keep_text.then(|| String::from_utf8_lossy(text).into_owned());
            self.parsed.blocks.push(raw);
            return Ok(());
        }
        for (j, block) in as_items(&content, "content")
            .map_err(|e| e.prefixed("content"))?
            .iter()
            .enumerate()
        {
            let path = format!("messages[{i}].content[{j}]");
            self.block(block, Section::Messages, path, Some(i), &header.buf)
                .map_err(|e| e.prefixed(&format!("content[{j}]")))?;
        }
        Ok(())
    }

    /// One system or message content block at a structural position.
    fn block(
        &mut self,
        block: &Bound<'py, PyAny>,
        section: Section,
        path: String,
        message_index: Option<usize>,
        header: &[u8],
    ) -> Result<(), Error> {
        let d = as_dict(block, "a content block")?;
        let index = self.parsed.blocks.len();
        // The API's spelling of the place, built only when a marker or an error needs it.
        let location = || api_location(&path);
        let kind = match d.get_item(intern!(d.py(), "type")).ok().flatten() {
            Some(t) => match t.cast::<PyString>() {
                Ok(s) => str_of(s).map_err(|e| e.prefixed("type"))?,
                Err(_) => {
                    return Err(Error::prompt_cache(
                        format!("{}.type: Input should be a valid string", location()),
                        "type",
                    ))
                }
            },
            None => {
                return Err(Error::prompt_cache(
                    format!("{}.type: Field required", location()),
                    "type",
                ))
            }
        };
        let marker = match d.get_item(intern!(d.py(), "cache_control")).ok().flatten() {
            Some(cc) => parse_marker(&cc).map_err(|e| e.prefixed("cache_control"))?,
            None => None,
        };
        if let Some(ttl) = marker {
            self.parsed.markers.push(Marker {
                ttl,
                location: location(),
                block: Some(index),
            });
        }
        let mut raw = RawBlock {
            section,
            path,
            kind,
            message_index,
            header: header.to_vec(),
            marker,
            cacheable: true,
            ..RawBlock::default()
        };
        let mut out = JsonOut::default();
        if raw.kind == "tool_result" {
            self.tool_result(&d, &mut out, &mut raw, index)?;
        } else {
            out.dict(&d, true)?;
        }
        match raw.kind.as_str() {
            "text" | "thinking" => {
                let field = if raw.kind == "text" { "text" } else { "thinking" };
                let key = if raw.kind == "text" {
                    intern!(d.py(), "text")
                } else {
                    intern!(d.py(), "thinking")
                };
                if let Some(text) = d
                    .get_item(key)
                    .ok()
                    .flatten()
                    .and_then(|t| t.cast_into::<PyString>().ok())
                {
                    let text = text.to_str().map_err(|_| {
                        Error::canonicalization("a string with a lone surrogate is not valid json", field)
                    })?;
                    raw.cacheable = raw.kind == "text" && !text.is_empty();
                    raw.text = self.keep_text.then(|| text.to_owned());
                } else {
                    raw.cacheable = raw.kind == "text";
                }
            }
            "redacted_thinking" => raw.cacheable = false,
            "image" => raw.images += 1,
            "document" | "search_result" => raw.citations |= citations_enabled(&d),
            _ => {}
        }
        raw.fingerprint = out.buf;
        raw.media_bytes = out.media_bytes;
        self.parsed.blocks.push(raw);
        Ok(())
    }

    /// A `tool_result`: its `content` is a structural position too (string spelling, nested markers).
    fn tool_result(
        &mut self,
        d: &Bound<'py, PyDict>,
        out: &mut JsonOut,
        raw: &mut RawBlock,
        index: usize,
    ) -> Result<(), Error> {
        out.buf.push(b'{');
        for (k, v) in d.iter() {
            let key = key_str(&k)?;
            if key == b"cache_control" || absent(&v) {
                continue;
            }
            if out.buf.len() > 1 {
                out.buf.push(b',');
            }
            write_bytes(&mut out.buf, key);
            out.buf.push(b':');
            if key != b"content" {
                out.value(&v).map_err(|e| e.prefixed(&key_text(key)))?;
                continue;
            }
            if let Ok(s) = v.cast::<PyString>() {
                let text = text_of(s.as_any()).map_err(|e| e.prefixed("content"))?;
                out.buf.push(b'[');
                text_block(&mut out.buf, text);
                out.buf.push(b']');
                continue;
            }
            let items = as_items(&v, "content").map_err(|e| e.prefixed("content"))?;
            out.buf.push(b'[');
            for (k, item) in items.iter().enumerate() {
                let at = |e: Error| e.prefixed(&format!("content[{k}]"));
                let item = as_dict(item, "a content block").map_err(at)?;
                if k > 0 {
                    out.buf.push(b',');
                }
                if let Some(cc) = item.get_item(intern!(item.py(), "cache_control")).ok().flatten() {
                    if let Some(ttl) = parse_marker(&cc).map_err(|e| at(e.prefixed("cache_control")))? {
                        let location = format!("{}.content.{k}", api_location(&raw.path));
                        self.parsed.markers.push(Marker {
                            ttl,
                            location,
                            block: Some(index),
                        });
                        raw.marker = Some(ttl);
                    }
                }
                match item
                    .get_item(intern!(item.py(), "type"))
                    .ok()
                    .flatten()
                    .and_then(|t| t.extract::<String>().ok())
                    .as_deref()
                {
                    Some("image") => raw.images += 1,
                    Some("document" | "search_result") => raw.citations |= citations_enabled(&item),
                    _ => {}
                }
                out.dict(&item, true).map_err(at)?;
            }
            out.buf.push(b']');
        }
        out.buf.push(b'}');
        Ok(())
    }
}

fn citations_enabled(d: &Bound<'_, PyDict>) -> bool {
    let Some(c) = d
        .get_item(intern!(d.py(), "citations"))
        .ok()
        .flatten()
        .filter(|v| !absent(v))
    else {
        return false;
    };
    let Ok(c) = as_plain(&c) else { return false };
    c.cast::<PyDict>()
        .ok()
        .and_then(|c| c.get_item(intern!(c.py(), "enabled")).ok().flatten())
        .is_some_and(|e| e.is_truthy().unwrap_or(false))
}
