//! Python bindings for `diff` and its `Divergence`.

use pyo3::prelude::*;

use crate::diff::{diff as diff_chains, Divergence};
use crate::prefix::Chain;
use crate::py_prefix::{chain_of, parse_request_with};

#[pyclass(name = "Divergence", module = "promptkey", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyDivergence {
    pub inner: Divergence,
}

#[pymethods]
impl PyDivergence {
    #[getter]
    fn index(&self) -> usize {
        self.inner.index
    }
    #[getter]
    fn path(&self) -> &str {
        &self.inner.path
    }
    #[getter]
    fn section(&self) -> &'static str {
        self.inner.section.as_str()
    }
    #[getter]
    fn change(&self) -> &'static str {
        self.inner.change.as_str()
    }
    #[getter]
    fn offset(&self) -> Option<usize> {
        self.inner.offset
    }
    #[getter]
    fn before(&self) -> &str {
        &self.inner.before
    }
    #[getter]
    fn after(&self) -> &str {
        &self.inner.after
    }
    #[getter]
    fn tokens_kept(&self) -> u64 {
        self.inner.tokens_kept
    }
    #[getter]
    fn tokens_lost(&self) -> u64 {
        self.inner.tokens_lost
    }
    #[getter]
    fn tokenizer(&self) -> &str {
        &self.inner.tokenizer
    }
    fn __str__(&self) -> String {
        self.inner.to_string()
    }
    fn __repr__(&self) -> String {
        let d = &self.inner;
        format!(
            "Divergence(index={}, path='{}', change='{}', offset={}, tokens_kept={}, tokens_lost={})",
            d.index,
            d.path,
            d.change.as_str(),
            d.offset.map_or_else(|| "None".to_owned(), |o| o.to_string()),
            d.tokens_kept,
            d.tokens_lost
        )
    }
}

fn chain(request: &Bound<'_, PyAny>, tokenizer: Option<&Bound<'_, PyAny>>, side: &str) -> PyResult<Chain> {
    let (parsed, _) = parse_request_with(request, tokenizer, true).inspect_err(|e| {
        // Say which of the two requests was bad.
        let py = request.py();
        if let Ok(exc) = e.value(py).cast::<pyo3::exceptions::PyException>() {
            let _ = exc.setattr("side", side);
        }
    })?;
    Ok(chain_of(request.py(), parsed, true))
}

#[pyfunction]
#[pyo3(signature = (before, after, /, *, tokenizer=None))]
fn diff(
    before: &Bound<'_, PyAny>,
    after: &Bound<'_, PyAny>,
    tokenizer: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<PyDivergence>> {
    let a = chain(before, tokenizer, "before")?;
    let b = chain(after, tokenizer, "after")?;
    Ok(diff_chains(&a, &b).map(|inner| PyDivergence { inner }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyDivergence>()?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    Ok(())
}
