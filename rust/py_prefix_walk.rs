//! The walk from a Python request (dicts, lists, the SDK's pydantic objects) to `prefix::Parsed`: which
//! members are blocks, their paths, markers and flags (DESIGN §2). Each block's bytes come from
//! `py_fingerprint::JsonOut`.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::blocks::{Marker, Section};
use crate::errors::Error;
use crate::fingerprint::write_bytes;
use crate::key_material::is_server_tool_type;
use crate::prefix::{api_location, Parsed, RawBlock, Settings};
use crate::py_fingerprint::{
    absent, as_dict, as_items, as_plain, json, key_str, key_text, parse_marker, py_error, str_of, text_block, text_of,
    type_name, JsonOut,
};

/// Tool types that run on Anthropic's side: not fingerprinted as tools, their presence is context.
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

/// Builds `Parsed` from a request; `blocks` come out with `tokens == 0` (the caller counts them).
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
        // One list of server tools for keys (cacheability) and prefixes (system context).
        let server = tool_type.is_some_and(|t| is_server_tool_type(t.as_bytes()));
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
        let mut header = JsonOut::with_capacity(64); // normally just {"role":"user"}
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
        // A text or thinking block is its text plus a little framing: size the buffer for it up front.
        let mut text_len = None;
        if raw.kind == "text" || raw.kind == "thinking" {
            let key = if raw.kind == "text" {
                intern!(d.py(), "text")
            } else {
                intern!(d.py(), "thinking")
            };
            if let Some(text) = d
                .get_item(key)
                .ok()
                .flatten()
                .filter(PyAnyMethods::is_instance_of::<PyString>)
            {
                let text = text_of(&text).map_err(|e| e.prefixed(&raw.kind))?;
                raw.cacheable = raw.kind == "text" && !text.is_empty();
                raw.text = self.keep_text.then(|| String::from_utf8_lossy(text).into_owned());
                text_len = Some(text.len());
            } else {
                raw.cacheable = raw.kind == "text";
            }
        } else if raw.kind == "tool_result" {
            // The common `content="..."` spelling: its length is known before writing too.
            let content = d.get_item(intern!(d.py(), "content")).ok().flatten();
            text_len = content
                .filter(PyAnyMethods::is_instance_of::<PyString>)
                .and_then(|c| text_of(&c).ok().map(<[u8]>::len));
        }
        let mut out = text_len.map_or_else(JsonOut::default, |n| JsonOut::with_capacity(n + 128));
        if raw.kind == "tool_result" {
            self.tool_result(&d, &mut out, &mut raw, index)?;
        } else {
            out.dict(&d, true)?;
        }
        match raw.kind.as_str() {
            "thinking" | "redacted_thinking" => raw.cacheable = false,
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
