//! Python bindings for prefix blocks: `prefix_blocks`, `Block`, `PrefixChain`, and `request_blocks` /
//! `parse_request`, the entry points the simulator and planner use from Rust.

use std::ffi::CString;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::blocks::{Block, RequestBlocks};
use crate::errors::Error;
use crate::models::TokenizerFamily;
use crate::prefix::{self, Chain, Parsed, RawBlock};
use crate::py_prefix_walk::Walker;
use crate::tokens;

/// How block tokens are counted: the per-family estimate, or a Python callable `tokenizer(block) -> int`.
pub enum Tokenizer {
    Estimate(TokenizerFamily),
    Callable(Py<PyAny>, String),
}

impl Tokenizer {
    /// The tokenizer for `model`: the callable when given, else the estimate for the model's family
    /// (with a `UserWarning` for a model the table does not know).
    pub fn resolve(py: Python<'_>, model: &str, callable: Option<&Bound<'_, PyAny>>) -> PyResult<Tokenizer> {
        if let Some(f) = callable {
            return Ok(Tokenizer::Callable(f.clone().unbind(), callable_name(f)));
        }
        let (family, known) = tokens::family(model);
        if !known {
            let message = format!(
                "unknown model '{model}': token counts use the default estimate ({}); pass tokenizer= for exact counts",
                tokens::label(family)
            );
            let message = CString::new(message).unwrap_or_default();
            // Stack level 1: the Python line that called into promptkey (native calls have no frame).
            PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 1)?;
        }
        Ok(Tokenizer::Estimate(family))
    }

    pub fn label(&self) -> String {
        match self {
            Tokenizer::Estimate(family) => tokens::label(*family).to_owned(),
            Tokenizer::Callable(_, name) => name.clone(),
        }
    }

    /// Fills `tokens` of each block. A callable receives the normalized block as a dict (`json.loads`
    /// of the block's fingerprint) and must return a non-negative int.
    pub fn count(&self, py: Python<'_>, raws: &mut [RawBlock]) -> PyResult<()> {
        match self {
            Tokenizer::Estimate(family) => {
                for raw in raws {
                    raw.tokens = tokens::estimate(raw, *family);
                }
            }
            Tokenizer::Callable(f, name) => {
                let loads = py.import("json")?.getattr("loads")?;
                for raw in raws {
                    let text = std::str::from_utf8(&raw.fingerprint).unwrap_or_default();
                    let block = loads.call1((text,))?;
                    let n = f.bind(py).call1((block,))?;
                    let bad = || {
                        Error::invalid_option(
                            format!(
                                "tokenizer {name} returned {} for a block; it must return an int >= 0",
                                n.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string())
                            ),
                            raw.path.clone(),
                        )
                    };
                    // Any integer (`__index__`, so numpy ints too), but not a bool.
                    if n.is_instance_of::<pyo3::types::PyBool>() {
                        return Err(bad().into());
                    }
                    raw.tokens = n.extract::<u64>().map_err(|_| bad())?;
                }
            }
        }
        Ok(())
    }
}

fn callable_name(f: &Bound<'_, PyAny>) -> String {
    for attr in ["name", "__qualname__"] {
        if let Ok(name) = f.getattr(attr) {
            if let Ok(s) = name.cast::<PyString>() {
                return s.to_string();
            }
        }
    }
    f.get_type()
        .qualname()
        .map_or_else(|_| "tokenizer".to_owned(), |n| n.to_string())
}

/// Walks a request into blocks with their tokens counted, plus the tokenizer used.
pub fn parse_request(
    request: &Bound<'_, PyAny>,
    tokenizer: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Parsed, Tokenizer)> {
    parse_request_with(request, tokenizer, false)
}

/// `parse_request`, optionally keeping block texts (`diff` reports offsets in them).
pub fn parse_request_with(
    request: &Bound<'_, PyAny>,
    tokenizer: Option<&Bound<'_, PyAny>>,
    keep_text: bool,
) -> PyResult<(Parsed, Tokenizer)> {
    let py = request.py();
    let mut walker = Walker::new(request)?;
    walker.keep_text = keep_text;
    let mut parsed = walker.walk()?;
    let tok = Tokenizer::resolve(py, &parsed.model, tokenizer)?;
    tok.count(py, &mut parsed.blocks)?;
    parsed.tokenizer = tok.label();
    Ok((parsed, tok))
}

/// Requests whose fingerprints total at least this many bytes are hashed with the GIL released, so other
/// Python threads run meanwhile; below it the release costs more than it returns (the same threshold
/// `make_key` measured for its strings, docs/keys.md).
const DETACH_AT: usize = 64 * 1024;

/// `Chain::new`, with the GIL released for large requests (the chain is pure Rust data by then).
pub fn chain_of(py: Python<'_>, parsed: Parsed, fingerprint_digests: bool) -> Chain {
    let bytes: usize = parsed.blocks.iter().map(|b| b.fingerprint.len()).sum();
    if bytes >= DETACH_AT {
        py.detach(|| Chain::new(parsed, b"", fingerprint_digests))
    } else {
        Chain::new(parsed, b"", fingerprint_digests)
    }
}

/// The blocks of a request for the simulator and planner: chained digests, un-chained fingerprint
/// digests, tokens, resolved breakpoints and the markers `prefix::validate_breakpoints` checks.
pub fn request_blocks(request: &Bound<'_, PyAny>, tokenizer: Option<&Bound<'_, PyAny>>) -> PyResult<RequestBlocks> {
    let (parsed, _) = parse_request(request, tokenizer)?;
    Ok(chain_of(request.py(), parsed, true).request_blocks())
}

#[pyclass(name = "Block", module = "promptkey", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyBlock {
    pub inner: Block,
    /// Shared by every block of a report.
    pub tokenizer: Arc<str>,
}

#[pymethods]
impl PyBlock {
    #[getter]
    fn index(&self) -> usize {
        self.inner.index
    }
    #[getter]
    fn section(&self) -> &'static str {
        self.inner.section.as_str()
    }
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    #[getter]
    fn kind(&self) -> &str {
        &self.inner.kind
    }
    #[getter]
    fn tokens(&self) -> u64 {
        self.inner.tokens
    }
    #[getter]
    fn digest(&self) -> String {
        hex::encode(self.inner.digest)
    }
    #[getter]
    fn breakpoint(&self) -> Option<&'static str> {
        self.inner.breakpoint.map(crate::blocks::Ttl::as_str)
    }
    #[getter]
    fn automatic(&self) -> bool {
        self.inner.automatic
    }
    #[getter]
    fn cacheable(&self) -> bool {
        self.inner.cacheable
    }
    #[getter]
    fn message_index(&self) -> Option<usize> {
        self.inner.message_index
    }
    #[getter]
    fn tokenizer(&self) -> &str {
        &self.tokenizer
    }
    fn __repr__(&self) -> String {
        let b = &self.inner;
        let bp = b
            .breakpoint
            .map_or_else(|| "None".to_owned(), |t| format!("'{}'", t.as_str()));
        format!(
            "Block(index={}, path='{}', kind='{}', tokens={}, breakpoint={bp}, digest='{}…')",
            b.index,
            b.path,
            b.kind,
            b.tokens,
            &hex::encode(b.digest)[..12]
        )
    }
}

fn wrap(blocks: &[Block], tokenizer: &str) -> Vec<PyBlock> {
    let tokenizer: Arc<str> = Arc::from(tokenizer);
    blocks
        .iter()
        .map(|b| PyBlock {
            inner: b.clone(),
            tokenizer: tokenizer.clone(),
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (request, /, *, tokenizer=None))]
fn prefix_blocks(request: &Bound<'_, PyAny>, tokenizer: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PyBlock>> {
    let (parsed, _) = parse_request(request, tokenizer)?;
    let chain = chain_of(request.py(), parsed, false);
    let tokenizer: Arc<str> = Arc::from(chain.tokenizer.as_str());
    Ok(chain
        .blocks
        .into_iter()
        .map(|inner| PyBlock {
            inner,
            tokenizer: tokenizer.clone(),
        })
        .collect())
}

struct ChainState {
    chain: Chain,
    tokenizer: Tokenizer,
    messages: usize,
}

#[pyclass(name = "PrefixChain", module = "promptkey", frozen)]
pub struct PyPrefixChain {
    inner: Mutex<ChainState>,
}

impl PyPrefixChain {
    /// The chain's state. `append` may call a Python tokenizer (an HTTP call for `CountTokens`) while it
    /// holds the lock, and that call can release the GIL: a second thread must then wait for the lock
    /// with the GIL released too, or neither could go on.
    fn state(&self, py: Python<'_>) -> MutexGuard<'_, ChainState> {
        loop {
            match self.inner.try_lock() {
                Ok(guard) => return guard,
                Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => py.detach(|| drop(self.inner.lock())),
            }
        }
    }
}

#[pymethods]
impl PyPrefixChain {
    #[new]
    #[pyo3(signature = (request, /, *, tokenizer=None))]
    fn new(request: &Bound<'_, PyAny>, tokenizer: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let (parsed, tok) = parse_request(request, tokenizer)?;
        let messages = parsed.messages;
        let mut chain = chain_of(request.py(), parsed, false);
        // Headroom: a conversation grows, and a full Vec would copy its history on the next append.
        chain.reserve(64 + chain.blocks.len() / 2);
        Ok(PyPrefixChain {
            inner: Mutex::new(ChainState {
                chain,
                tokenizer: tok,
                messages,
            }),
        })
    }

    /// Appends one message; returns True when the whole chain had to be re-chained.
    #[pyo3(signature = (message, /))]
    fn append(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        let mut state = self.state(py);
        let index = state.messages;
        let mut walker = Walker::for_append();
        walker
            .message(message, index)
            .map_err(|e| e.prefixed(&format!("messages[{index}]")))?;
        let mut raws = walker.parsed.blocks;
        // Block indices in markers count from the start of the whole chain.
        let offset = state.chain.blocks.len();
        let markers = walker
            .parsed
            .markers
            .into_iter()
            .map(|mut m| {
                m.block = m.block.map(|b| b + offset);
                m
            })
            .collect();
        state.tokenizer.count(py, &mut raws)?;
        state.messages += 1;
        Ok(state.chain.append(raws, markers))
    }

    #[getter]
    fn blocks(&self, py: Python<'_>) -> Vec<PyBlock> {
        let state = self.state(py);
        wrap(&state.chain.blocks, &state.chain.tokenizer)
    }

    #[getter]
    fn digest(&self, py: Python<'_>) -> String {
        hex::encode(self.state(py).chain.digest())
    }

    #[getter]
    fn recomputations(&self, py: Python<'_>) -> usize {
        self.state(py).chain.recomputations
    }

    #[getter]
    fn tokenizer(&self, py: Python<'_>) -> String {
        self.state(py).chain.tokenizer.clone()
    }

    #[getter]
    fn tokens(&self, py: Python<'_>) -> u64 {
        self.state(py).chain.blocks.iter().map(|b| b.tokens).sum()
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.state(py).chain.blocks.len()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let s = self.state(py);
        format!(
            "PrefixChain(model='{}', blocks={}, digest='{}…')",
            s.chain.model,
            s.chain.blocks.len(),
            &hex::encode(s.chain.digest())[..12]
        )
    }
}

/// Raises the API's own 400 (`PromptCacheError`) for the request's breakpoints, if it has one.
#[pyfunction]
#[pyo3(signature = (request, /))]
fn _validate_breakpoints(request: &Bound<'_, PyAny>) -> PyResult<()> {
    let parsed = Walker::new(request)?.walk()?;
    prefix::validate_breakpoints(&Chain::new(parsed, b"", false).request_blocks())?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (models, /))]
fn set_thinking_in_system_models(models: Vec<String>) {
    prefix::set_thinking_in_system_models(models);
}

#[pyfunction]
fn thinking_in_system_models() -> Vec<String> {
    prefix::thinking_in_system_models()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBlock>()?;
    m.add_class::<PyPrefixChain>()?;
    m.add_function(wrap_pyfunction!(prefix_blocks, m)?)?;
    m.add_function(wrap_pyfunction!(set_thinking_in_system_models, m)?)?;
    m.add_function(wrap_pyfunction!(_validate_breakpoints, m)?)?;
    m.add_function(wrap_pyfunction!(thinking_in_system_models, m)?)?;
    Ok(())
}
