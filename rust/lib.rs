//! promptkey's native core. Each concept is a pure-Rust module plus a `py_<concept>` wrapper that
//! registers its functions and classes here; nothing else lives in this file.

pub mod blocks;
pub mod canonical;
pub mod errors;
pub mod key_material;
pub mod models;
pub mod py_keys;
pub mod py_request;
pub mod py_str;
pub mod py_walk;
pub mod utf8;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_keys::register(m)?;
    Ok(())
}
