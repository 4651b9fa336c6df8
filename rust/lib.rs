//! promptkey's native core. Each concept is a pure-Rust module plus a `py_<concept>` wrapper that
//! registers its functions and classes here; nothing else lives in this file.

pub mod blocks;
pub mod canonical;
pub mod diff;
pub mod errors;
pub mod explain;
pub mod fingerprint;
pub mod key_material;
pub mod models;
pub mod planner;
pub mod prefix;
pub mod py_diff;
pub mod py_fingerprint;
pub mod py_keys;
pub mod py_planner;
pub mod py_prefix;
pub mod py_prefix_walk;
pub mod py_request;
pub mod py_simulator;
pub mod py_str;
pub mod py_walk;
pub mod simulator;
pub mod tokens;
pub mod utf8;
pub mod volatile;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_keys::register(m)?;
    py_prefix::register(m)?;
    py_diff::register(m)?;
    py_simulator::register(m)?;
    py_planner::register(m)?;
    Ok(())
}
