//! Python bindings of the planner. The user-facing `plan()` and `Plan` live in `promptkey/planner.py`
//! (anchors, `apply`, volatile-content warnings, `from_trace`); this file turns a request and its options
//! into the pure planner's inputs and returns its outcome as plain data.

use std::collections::HashMap;
use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyMapping, PyString, PyTuple};

use crate::blocks::{Block, RequestBlocks, Section, Ttl};
use crate::errors::Error;
use crate::planner::{self, Options, Prices, Reuse, TtlChoice, DAILY, HOURLY, NEVER};
use crate::py_simulator::prepared_blocks;
use crate::simulator::{thousands, MinTokens};

/// Requests per second assumed when `reuse` names frequencies and `rate` is not given: one a minute.
pub const DEFAULT_RATE: f64 = 1.0 / 60.0;

const FREQUENCIES: &str = "'never', 'daily', 'hourly', 'per-request'";

fn repr(v: &Bound<'_, PyAny>) -> String {
    v.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string())
}

fn parse_ttl(ttl: &str) -> Result<TtlChoice, Error> {
    match ttl {
        "auto" => Ok(TtlChoice::Auto),
        "5m" => Ok(TtlChoice::Fixed(Ttl::FiveMinutes)),
        "1h" => Ok(TtlChoice::Fixed(Ttl::OneHour)),
        other => Err(Error::invalid_option(
            format!("ttl must be one of 'auto', '5m', '1h', got {other:?}"),
            "ttl",
        )),
    }
}

fn parse_reuse_value(v: &Bound<'_, PyAny>, path: &str) -> Result<Reuse, Error> {
    let bad = || {
        Error::invalid_option(
            format!(
                "reuse values must be a probability in [0, 1] or one of {FREQUENCIES}, got {}",
                repr(v)
            ),
            path,
        )
    };
    if v.is_instance_of::<PyBool>() {
        return Err(bad());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return match s.to_str().map_err(|_| bad())? {
            "never" => Ok(Reuse::Period(NEVER)),
            "daily" => Ok(Reuse::Period(DAILY)),
            "hourly" => Ok(Reuse::Period(HOURLY)),
            "per-request" => Ok(Reuse::Period(0.0)),
            _ => Err(bad()),
        };
    }
    let unit = |x: f64| (0.0..=1.0).contains(&x).then_some(x);
    if let Ok(t) = v.cast::<PyTuple>() {
        // (p_5m, p_1h), as Plan.from_trace measures them.
        let (a, b): (f64, f64) = t.extract().map_err(|_| bad())?;
        let (Some(five_minutes), Some(one_hour)) = (unit(a), unit(b)) else {
            return Err(bad());
        };
        return Ok(Reuse::Learned { five_minutes, one_hour });
    }
    let p: f64 = v.extract().map_err(|_| bad())?;
    unit(p).map(Reuse::Probability).ok_or_else(bad)
}

/// What a `reuse` key designates.
enum Target {
    Section(Section),
    Message(usize),
    Block(usize),
}

fn parse_index(s: &str) -> Option<(i64, &str)> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some((inner[..end].parse().ok()?, &inner[end + 1..]))
}

fn resolve_key(key: &str, rb: &RequestBlocks, messages: usize) -> Result<Target, Error> {
    let unknown = || {
        Error::invalid_option(
            format!(
                "reuse key {key:?} names no section or block of this request (use 'tools', 'system', 'messages', \
                 or a block path such as 'messages[-1].content[0]' or 'system[0]')"
            ),
            format!("reuse[{key:?}]"),
        )
    };
    match key {
        "tools" => return Ok(Target::Section(Section::Tools)),
        "system" => return Ok(Target::Section(Section::System)),
        "messages" => return Ok(Target::Section(Section::Messages)),
        _ => {}
    }
    let find = |path: &str| rb.blocks.iter().position(|b| b.path == path);
    if let Some(rest) = key.strip_prefix("messages") {
        let (i, tail) = parse_index(rest).ok_or_else(unknown)?;
        let m = if i < 0 {
            i64::try_from(messages).unwrap_or(i64::MAX) + i
        } else {
            i
        };
        let m = usize::try_from(m).ok().filter(|&m| m < messages).ok_or_else(unknown)?;
        if tail.is_empty() {
            return Ok(Target::Message(m));
        }
        let path = format!("messages[{m}]{tail}");
        // A string content is one block, whichever way its path is spelled.
        let alt = path.strip_suffix(".content[0]").map(|p| format!("{p}.content"));
        return find(&path)
            .or_else(|| alt.and_then(|a| find(&a)))
            .map(Target::Block)
            .ok_or_else(unknown);
    }
    find(key).map(Target::Block).ok_or_else(unknown)
}

/// Reuse of every block: the explicit block, then its message, then its section, then the default
/// (tools, system and earlier messages stable; the last user message and anything after it new).
fn reuse_per_block(
    rb: &RequestBlocks,
    reuse: Option<&Bound<'_, PyAny>>,
    users: &[bool],
    strict: bool,
) -> Result<Vec<Reuse>, Error> {
    let last_user = users.iter().rposition(|&u| u);
    let mut out: Vec<Reuse> = rb
        .blocks
        .iter()
        .map(|b| match (b.message_index, last_user) {
            (Some(m), Some(u)) if m >= u => Reuse::Probability(0.0),
            _ => Reuse::Probability(1.0),
        })
        .collect();
    let Some(reuse) = reuse.filter(|r| !r.is_none()) else {
        return Ok(out);
    };
    let mapping = reuse.cast::<PyMapping>().map_err(|_| {
        Error::invalid_option(
            format!(
                "reuse must be a mapping of section or block path to reuse, got {}",
                repr(reuse)
            ),
            "reuse",
        )
    })?;
    let mut levels: Vec<u8> = vec![0; out.len()];
    let items = mapping
        .items()
        .map_err(|_| Error::invalid_option("reuse must be a readable mapping", "reuse"))?;
    for item in items.iter() {
        let (k, v): (String, Bound<'_, PyAny>) = item
            .extract()
            .map_err(|_| Error::invalid_option("reuse keys must be strings", "reuse"))?;
        let value = parse_reuse_value(&v, &format!("reuse[{k:?}]"))?;
        let target = match resolve_key(&k, rb, users.len()) {
            Ok(target) => target,
            Err(_) if !strict => continue,
            Err(e) => return Err(e),
        };
        for (j, b) in rb.blocks.iter().enumerate() {
            let level = match target {
                Target::Block(i) if i == j => 3,
                Target::Message(m) if b.message_index == Some(m) => 2,
                Target::Section(s) if b.section == s => 1,
                _ => continue,
            };
            if level >= levels[j] {
                levels[j] = level;
                out[j] = value;
            }
        }
    }
    Ok(out)
}

fn parse_prices(prices: Option<&Bound<'_, PyAny>>, model: &str) -> Result<(Prices, &'static str), Error> {
    let Some(p) = prices.filter(|p| !p.is_none()) else {
        return Ok((Prices::base_units(model), "tokens"));
    };
    let bad = |what: String| {
        Error::invalid_option(
            format!(
                "prices must map 'input', 'cache_read', 'cache_write_5m' and 'cache_write_1h' to USD per million \
                 tokens, {what}"
            ),
            "prices",
        )
    };
    let mapping = p.cast::<PyMapping>().map_err(|_| bad(format!("got {}", repr(p))))?;
    let get = |name: &str| -> Result<f64, Error> {
        let v = mapping.get_item(name).map_err(|_| bad(format!("missing {name:?}")))?;
        let x: f64 = v.extract().map_err(|_| bad(format!("got {} for {name:?}", repr(&v))))?;
        if x.is_finite() && x >= 0.0 {
            Ok(x / 1e6)
        } else {
            Err(bad(format!("got {x} for {name:?}")))
        }
    };
    let prices = Prices {
        input: get("input")?,
        read: get("cache_read")?,
        write_5m: get("cache_write_5m")?,
        write_1h: get("cache_write_1h")?,
    };
    Ok((prices, "usd"))
}

fn user_messages(request: &Bound<'_, PyAny>) -> Vec<bool> {
    let Ok(messages) = request.get_item("messages") else {
        return Vec::new();
    };
    let Ok(iter) = messages.try_iter() else {
        return Vec::new();
    };
    iter.map(|m| {
        m.ok()
            .and_then(|m| m.get_item("role").ok())
            .and_then(|r| r.extract::<String>().ok())
            .is_some_and(|r| r == "user")
    })
    .collect()
}

fn cumulative(blocks: &[Block]) -> Vec<u64> {
    let mut total = 0;
    blocks
        .iter()
        .map(|b| {
            total += b.tokens;
            total
        })
        .collect()
}

/// Plan a request; returns a dict the Python `Plan` is built from.
#[pyfunction]
#[pyo3(signature = (request, /, *, model=None, ttl="auto", reuse=None, rate=None, tokenizer=None, max_breakpoints=4, prices=None, strict_reuse=true))]
#[allow(clippy::too_many_arguments)] // mirrors the keyword-only options of `promptkey.plan`
pub fn _plan<'py>(
    py: Python<'py>,
    request: &Bound<'py, PyAny>,
    model: Option<String>,
    ttl: &str,
    reuse: Option<&Bound<'py, PyAny>>,
    rate: Option<f64>,
    tokenizer: Option<&Bound<'py, PyAny>>,
    max_breakpoints: i64,
    prices: Option<&Bound<'py, PyAny>>,
    strict_reuse: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let ttl = parse_ttl(ttl)?;
    let max_breakpoints = usize::try_from(max_breakpoints)
        .ok()
        .filter(|&m| m <= 4)
        .ok_or_else(|| {
            Error::invalid_option(
                format!("max_breakpoints must be between 0 and 4, got {max_breakpoints}"),
                "max_breakpoints",
            )
        })?;
    let rate = match rate {
        None => DEFAULT_RATE,
        Some(r) if r.is_finite() && r > 0.0 => r,
        Some(r) => {
            return Err(Error::invalid_option(
                format!("rate must be a positive number of requests per second, got {r}"),
                "rate",
            )
            .into())
        }
    };
    let tokenizer = tokenizer.filter(|t| !t.is_none());
    let rb = crate::py_prefix::request_blocks(request, tokenizer)?;
    let model = model.unwrap_or_else(|| rb.model.clone());
    let (minimum, known) = MinTokens::default().resolve(&model);
    let (prices, units) = parse_prices(prices, &model)?;
    let users = user_messages(request);
    let reuse = reuse_per_block(&rb, reuse, &users, strict_reuse)?;
    let opts = Options {
        ttl,
        rate,
        max_breakpoints,
        minimum,
        prices,
    };
    let outcome = planner::plan(&rb.blocks, &reuse, &users, &opts);

    let mut warnings: Vec<String> = Vec::new();
    if !known {
        warnings.push(format!(
            "unknown model {model:?}: assuming a minimum cacheable prefix of {} tokens",
            thousands(minimum)
        ));
    }
    let cum = cumulative(&rb.blocks);
    for (b, &c) in rb.blocks.iter().zip(&cum) {
        if b.breakpoint.is_some() && c < minimum {
            let which = if b.automatic {
                "top-level cache_control (on"
            } else {
                "existing marker (at"
            };
            warnings.push(format!(
                "marker below minimum: the {which} {}) caches nothing: its prefix is {} tokens, {model} \
                 caches from {}; apply() removes it",
                b.path,
                thousands(c),
                thousands(minimum)
            ));
        }
    }
    warnings.extend(outcome.warnings);

    let out = PyDict::new(py);
    out.set_item("model", &model)?;
    out.set_item("minimum", minimum)?;
    out.set_item("rate", rate)?;
    out.set_item("units", units)?;
    out.set_item("tokenizer", &rb.tokenizer)?;
    let bps = PyList::empty(py);
    for bp in &outcome.breakpoints {
        let b = &rb.blocks[bp.index];
        let d = PyDict::new(py);
        d.set_item("index", bp.index)?;
        d.set_item("path", &b.path)?;
        d.set_item("section", b.section.as_str())?;
        d.set_item("ttl", bp.ttl.as_str())?;
        d.set_item("probability", bp.probability)?;
        d.set_item("prefix_tokens", cum[bp.index])?;
        bps.append(d)?;
    }
    out.set_item("breakpoints", bps)?;
    let blocks = PyList::empty(py);
    for ((b, r), &c) in rb.blocks.iter().zip(&reuse).zip(&cum) {
        let d = PyDict::new(py);
        d.set_item("index", b.index)?;
        d.set_item("path", &b.path)?;
        d.set_item("section", b.section.as_str())?;
        d.set_item("kind", &b.kind)?;
        d.set_item("tokens", b.tokens)?;
        d.set_item("prefix_tokens", c)?;
        d.set_item("reuse_5m", r.probability(rate, Ttl::FiveMinutes))?;
        d.set_item("reuse_1h", r.probability(rate, Ttl::OneHour))?;
        blocks.append(d)?;
    }
    out.set_item("blocks", blocks)?;
    out.set_item("expected_cost", outcome.expected_cost)?;
    out.set_item("cold_cost", outcome.cold_cost)?;
    out.set_item("warm_cost", outcome.warm_cost)?;
    out.set_item("uncached_cost", outcome.uncached_cost)?;
    out.set_item("warnings", warnings)?;
    Ok(out)
}

/// For `Plan.from_trace`: per block key (`tools[i]`, `system[i]`, `messages[-k].content[j]`, counted
/// from the end), the share of requests whose prefix through that block had been seen less than 5
/// minutes and less than 1 hour before (trace order = time order).
#[pyfunction]
#[pyo3(signature = (trace, /, *, tokenizer=None))]
pub fn _trace_reuse<'py>(
    py: Python<'py>,
    trace: &Bound<'py, PyAny>,
    tokenizer: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let tokenizer = tokenizer.filter(|t| !t.is_none());
    let mut last_seen: HashMap<[u8; 32], f64> = HashMap::new();
    let mut counts: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for (i, item) in trace.try_iter()?.enumerate() {
        let item = item?;
        let (at, request): (f64, Bound<'py, PyAny>) = item.extract().map_err(|_| {
            Error::invalid_option("trace items must be (timestamp, request) pairs", format!("trace[{i}]"))
        })?;
        let rb = prepared_blocks(&request, tokenizer)?;
        let messages = user_messages(&request).len();
        for b in &rb.blocks {
            let key = match b.message_index {
                Some(m) => {
                    let tail = b.path.split_once(']').map_or("", |(_, t)| t);
                    format!("messages[-{}]{tail}", messages - m)
                }
                None => b.path.clone(),
            };
            let gap = last_seen.insert(b.digest, at).map(|prev| at - prev);
            let c = counts.entry(key).or_default();
            c.0 += 1;
            c.1 += u64::from(gap.is_some_and(|g| g < Ttl::FiveMinutes.seconds()));
            c.2 += u64::from(gap.is_some_and(|g| g < Ttl::OneHour.seconds()));
        }
    }
    let out = PyDict::new(py);
    for (key, (n, five, hour)) in counts {
        out.set_item(key, (five as f64 / n as f64, hour as f64 / n as f64))?;
    }
    Ok(out)
}

/// The first volatile value in the strings of `obj` (a block: a text block's text, or every string in
/// a tool definition or another block, walked in order): `(path, what, code-point offset, value)`.
#[pyfunction]
#[pyo3(signature = (obj, path, /))]
pub fn _volatile(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Option<(String, &'static str, usize, String)>> {
    fn walk(
        obj: &Bound<'_, PyAny>,
        path: &mut String,
        depth: usize,
    ) -> PyResult<Option<(String, &'static str, usize, String)>> {
        // Request blocks are shallow; the bound only guards against pathological nesting.
        if depth > 64 {
            return Ok(None);
        }
        if let Ok(s) = obj.cast::<PyString>() {
            let text = s.to_cow()?;
            return Ok(crate::volatile::find(&text).map(|f| {
                let value = text[f.start..f.start + f.len].to_owned();
                (path.clone(), f.kind, text[..f.start].chars().count(), value)
            }));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            if let (Some(kind), Some(text)) = (d.get_item("type")?, d.get_item("text")?) {
                if kind.extract::<&str>().is_ok_and(|k| k == "text") && text.is_instance_of::<PyString>() {
                    return walk(&text, path, depth + 1);
                }
            }
            for (k, v) in d.iter() {
                let Ok(key) = k.extract::<&str>() else { continue };
                if key == "cache_control" {
                    continue;
                }
                let len = path.len();
                path.push('.');
                path.push_str(key);
                let found = walk(&v, path, depth + 1)?;
                path.truncate(len);
                if found.is_some() {
                    return Ok(found);
                }
            }
            return Ok(None);
        }
        if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
            for (i, v) in obj.try_iter()?.enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                let found = walk(&v?, path, depth + 1)?;
                path.truncate(len);
                if found.is_some() {
                    return Ok(found);
                }
            }
        }
        Ok(None)
    }
    walk(obj, &mut path.to_owned(), 0)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_volatile, m)?)?;
    m.add_function(wrap_pyfunction!(_plan, m)?)?;
    m.add_function(wrap_pyfunction!(_trace_reuse, m)?)?;
    Ok(())
}
