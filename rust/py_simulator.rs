//! Python bindings of the prompt-cache simulator: `PromptCacheSimulator` and `PreparedRequest`.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping};

use crate::blocks::RequestBlocks;
use crate::errors::Error;
use crate::models::DEFAULT_MIN_TOKENS;
use crate::simulator::{sentence, thousands, MinTokens, Simulator, Submission, Usage};

/// A request turned into prefix blocks (digests and token counts) and validated once, so that it can be
/// submitted many times without re-reading it (replay, benchmarks, the emulator).
#[pyclass(name = "PreparedRequest", module = "promptkey", frozen)]
pub struct PyPreparedRequest {
    pub inner: Arc<RequestBlocks>,
}

#[pymethods]
impl PyPreparedRequest {
    #[getter]
    fn model(&self) -> &str {
        &self.inner.model
    }
    #[getter]
    fn tokens(&self) -> u64 {
        self.inner.total_tokens()
    }
    fn __len__(&self) -> usize {
        self.inner.blocks.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "PreparedRequest(model={:?}, blocks={}, tokens={})",
            self.inner.model,
            self.inner.blocks.len(),
            self.inner.total_tokens()
        )
    }
}

struct State {
    sim: Simulator,
    last: Option<(Arc<RequestBlocks>, Submission)>,
    warned: HashSet<String>,
}

#[pyclass(name = "PromptCacheSimulator", module = "promptkey", frozen)]
pub struct PySimulator {
    inner: Mutex<State>,
    clock: Option<Py<PyAny>>,
    tokenizer: Option<Py<PyAny>>,
}

/// Blocks of a request (a mapping) or of a `PreparedRequest`, validated as the API validates markers.
pub fn prepared_blocks(
    request: &Bound<'_, PyAny>,
    tokenizer: Option<&Bound<'_, PyAny>>,
) -> PyResult<Arc<RequestBlocks>> {
    if let Ok(prepared) = request.cast::<PyPreparedRequest>() {
        return Ok(Arc::clone(&prepared.get().inner));
    }
    let blocks = crate::py_prefix::request_blocks(request, tokenizer)?;
    crate::prefix::validate_breakpoints(&blocks)?;
    Ok(Arc::new(blocks))
}

fn parse_min_tokens(value: Option<&Bound<'_, PyAny>>) -> Result<MinTokens, Error> {
    let bad = |what: String| {
        Error::invalid_option(
            format!("min_tokens must be a non-negative int or a mapping of model name to int, got {what}"),
            "min_tokens",
        )
    };
    let int = |v: &Bound<'_, PyAny>| -> Result<u64, Error> {
        if v.is_instance_of::<pyo3::types::PyBool>() {
            return Err(bad(v.repr().map_or_else(|_| "a bool".to_owned(), |r| r.to_string())));
        }
        v.extract::<u64>()
            .map_err(|_| bad(v.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string())))
    };
    let Some(value) = value else {
        return Ok(MinTokens::default());
    };
    if value.is_none() {
        return Ok(MinTokens::default());
    }
    if let Ok(mapping) = value.cast::<PyMapping>() {
        let mut per_model = HashMap::new();
        let items = mapping.items().map_err(|_| bad("an unreadable mapping".to_owned()))?;
        for item in items.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                item.extract().map_err(|_| bad("an unreadable mapping".to_owned()))?;
            let name: String = k
                .extract()
                .map_err(|_| bad(format!("a key of type {}", type_name(&k))))?;
            per_model.insert(name, int(&v)?);
        }
        return Ok(MinTokens { all: None, per_model });
    }
    Ok(MinTokens {
        all: Some(int(value)?),
        per_model: HashMap::new(),
    })
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type().name().map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// The `usage` dict Anthropic returns, input side; `output_tokens` is 0 (output is not simulated).
pub fn usage_dict<'py>(py: Python<'py>, usage: &Usage) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("input_tokens", usage.input_tokens)?;
    d.set_item("cache_creation_input_tokens", usage.cache_creation_input_tokens())?;
    d.set_item("cache_read_input_tokens", usage.cache_read_input_tokens)?;
    let creation = PyDict::new(py);
    creation.set_item("ephemeral_5m_input_tokens", usage.cache_creation_5m)?;
    creation.set_item("ephemeral_1h_input_tokens", usage.cache_creation_1h)?;
    d.set_item("cache_creation", creation)?;
    d.set_item("output_tokens", 0)?;
    Ok(d)
}

impl PySimulator {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the cache half-updated in a way later
        // submissions would misread, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self, py: Python<'_>, now: Option<f64>) -> PyResult<f64> {
        if let Some(now) = now {
            return Ok(now);
        }
        match &self.clock {
            Some(clock) => clock.bind(py).call_method0("time")?.extract::<f64>(),
            None => py.import("time")?.call_method0("time")?.extract::<f64>(),
        }
    }

    fn run<'py>(
        &self,
        py: Python<'py>,
        blocks: &Arc<RequestBlocks>,
        api_key: &str,
        first_token_after: f64,
        now: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        let (submission, unknown) = {
            let mut state = self.state();
            let submission = state.sim.submit_blocks(blocks, api_key, now, first_token_after)?;
            let unknown = !submission.known_model && state.warned.insert(blocks.model.clone());
            let usage = submission.usage;
            state.last = Some((Arc::clone(blocks), submission));
            (usage, unknown)
        };
        if unknown {
            let message = format!(
                "unknown model {:?}: assuming a minimum cacheable prefix of {} tokens (pass min_tokens= to set it)",
                blocks.model,
                thousands(u64::from(DEFAULT_MIN_TOKENS))
            );
            let message = CString::new(message).unwrap_or_default();
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 2)?;
        }
        usage_dict(py, &submission)
    }
}

#[pymethods]
impl PySimulator {
    #[new]
    #[pyo3(signature = (*, clock=None, tokenizer=None, min_tokens=None))]
    fn new(
        clock: Option<Bound<'_, PyAny>>,
        tokenizer: Option<Bound<'_, PyAny>>,
        min_tokens: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let clock = clock.filter(|c| !c.is_none());
        if let Some(c) = &clock {
            if !c.getattr("time").is_ok_and(|t| t.is_callable()) {
                return Err(Error::invalid_option(
                    format!(
                        "clock must have a time() method returning seconds, got {}",
                        type_name(c)
                    ),
                    "clock",
                )
                .into());
            }
        }
        let tokenizer = tokenizer.filter(|t| !t.is_none());
        if let Some(t) = &tokenizer {
            if !t.is_callable() {
                return Err(Error::invalid_option(
                    format!("tokenizer must be a callable block -> int, got {}", type_name(t)),
                    "tokenizer",
                )
                .into());
            }
        }
        Ok(PySimulator {
            inner: Mutex::new(State {
                sim: Simulator::new(parse_min_tokens(min_tokens)?),
                last: None,
                warned: HashSet::new(),
            }),
            clock: clock.map(Bound::unbind),
            tokenizer: tokenizer.map(Bound::unbind),
        })
    }

    /// Read and validate a request once (blocks, digests, token counts) for repeated submission.
    #[pyo3(signature = (request, /))]
    fn prepare(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<PyPreparedRequest> {
        let tokenizer = self.tokenizer.as_ref().map(|t| t.bind(py));
        Ok(PyPreparedRequest {
            inner: prepared_blocks(request, tokenizer)?,
        })
    }

    #[pyo3(signature = (request, /, *, api_key="default", first_token_after=0.0, now=None))]
    fn submit<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyAny>,
        api_key: &str,
        first_token_after: f64,
        now: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let tokenizer = self.tokenizer.as_ref().map(|t| t.bind(py));
        let blocks = prepared_blocks(request, tokenizer)?;
        let now = self.now(py, now)?;
        self.run(py, &blocks, api_key, first_token_after, now)
    }

    /// Submit `(timestamp, request)` pairs in order; returns their usage dicts.
    #[pyo3(signature = (trace, /, *, api_key="default", first_token_after=0.0))]
    fn submit_many<'py>(
        &self,
        py: Python<'py>,
        trace: &Bound<'py, PyAny>,
        api_key: &str,
        first_token_after: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        let tokenizer = self.tokenizer.as_ref().map(|t| t.bind(py));
        let out = PyList::empty(py);
        for (i, item) in trace.try_iter()?.enumerate() {
            let item = item?;
            let (at, request): (f64, Bound<'py, PyAny>) = item.extract().map_err(|_| {
                Error::invalid_option(
                    format!(
                        "trace items must be (timestamp, request) pairs, got {}",
                        type_name(&item)
                    ),
                    format!("[{i}]"),
                )
            })?;
            let blocks = prepared_blocks(&request, tokenizer).map_err(|e| prefix_py_path(py, e, i))?;
            out.append(self.run(py, &blocks, api_key, first_token_after, at)?)?;
        }
        Ok(out)
    }

    /// One record per breakpoint of the last submission: what its read found and what it wrote.
    fn explain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let state = self.state();
        let out = PyList::empty(py);
        let Some((blocks, submission)) = &state.last else {
            return Ok(out);
        };
        for r in &submission.reports {
            let b = &blocks.blocks[r.index];
            let d = PyDict::new(py);
            d.set_item("index", r.index)?;
            d.set_item("path", &b.path)?;
            d.set_item("section", b.section.as_str())?;
            d.set_item("ttl", r.ttl.as_str())?;
            d.set_item("automatic", r.automatic)?;
            d.set_item("prefix_tokens", r.prefix_tokens)?;
            d.set_item("reason", r.reason.as_str())?;
            d.set_item("hit_index", r.hit_index)?;
            d.set_item("hit_path", r.hit_index.map(|h| blocks.blocks[h].path.as_str()))?;
            d.set_item("wrote", r.wrote)?;
            d.set_item("tokens_written", r.tokens_written)?;
            d.set_item(
                "message",
                sentence(r, &blocks.blocks, &blocks.model, submission.minimum),
            )?;
            out.append(d)?;
        }
        Ok(out)
    }

    /// Forget every entry (all scopes).
    fn clear(&self) {
        let mut state = self.state();
        state.sim.clear();
        state.last = None;
    }

    /// Number of cache entries held (live or recently expired), over all scopes.
    fn __len__(&self) -> usize {
        self.state().sim.len()
    }
}

/// Put `[i]` in front of a `PromptKeyError`'s path (the index of the trace item that failed).
fn prefix_py_path(py: Python<'_>, err: PyErr, i: usize) -> PyErr {
    let value = err.value(py);
    if let Ok(path) = value.getattr("path") {
        let old: Option<String> = path.extract().unwrap_or(None);
        let new = match old.as_deref() {
            None | Some("") => format!("[{i}]"),
            Some(p) if p.starts_with('[') => format!("[{i}]{p}"),
            Some(p) => format!("[{i}].{p}"),
        };
        let _ = value.setattr("path", new);
    }
    err
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySimulator>()?;
    m.add_class::<PyPreparedRequest>()?;
    Ok(())
}
