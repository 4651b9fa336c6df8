"""Stubs for the native module ``promptkey._core``; the user-facing docstrings live here."""

__version__: str

# --- keys (rust/py_keys.rs) ---

# --- prefix blocks, chain, diff, tokenizers (rust/py_prefix.rs) ---

# --- simulator (rust/py_simulator.rs) ---

# --- planner (rust/py_planner.rs) ---
