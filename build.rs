//! Exposes `PyO3`'s interpreter-version cfgs (`Py_3_12`, `Py_3_14`, ...) to this crate, so the string
//! fast paths that read `CPython`'s compact-unicode layout are compiled only where that layout is public.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
