"""The dated price table (DESIGN §7): package data `promptkey/data/prices.json`, overridable by the user.

    table = load_prices()                       # built-in, then $PROMPTKEY_PRICES, then nothing
    table = load_prices("my-prices.json")       # ... then this file (or a dict of the same shape)
    price = table.lookup("claude-sonnet-4-5-20250929", at="2026-11-01", prompt_tokens=12_000)

Prices are USD per million tokens. A user table has the shape of the built-in one: `{"models": {alias: entry or
[entries]}}`; each model it names replaces that model's built-in entries, models it adds extend the table, and
`"mode": "replace"` drops the built-in table altogether. LiteLLM's `model_prices_and_context_window.json` is
accepted as it is (see `from_litellm`). An entry needs `input` and `output`; cache prices default
to the standard multipliers (5m write 1.25x, 1h write 2x, read 0.1x of input). Entries may carry `from` /
`until` (ISO dates, `until` exclusive) and `tiers` (prices by prompt size, `up_to` inclusive, the last `null`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Union

from promptkey._exceptions import InvalidOptionError, PromptKeyError

__all__ = ["ModelPrice", "PriceTable", "PricesSource", "UnknownModelError", "from_litellm", "load_prices"]

#: What `prices=` accepts: a path to a JSON file, a dict of the same shape, or a table `load_prices` built.
PricesSource = Union[str, "os.PathLike[str]", Mapping[str, Any], "PriceTable"]

ENV_VAR = "PROMPTKEY_PRICES"
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_CLASSES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


class UnknownModelError(PromptKeyError, LookupError):
    """No price is known for this model (on this date). `.model` names it."""

    def __init__(self, message: str, path: str | None = None, *, model: str = "") -> None:
        super().__init__(message, path)
        self.model = model


@dataclass(frozen=True)
class ModelPrice:
    """One model's prices (USD per million tokens) in force on one date, for one prompt-size tier."""

    model: str
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    min_tokens: int | None = None
    effective_from: _dt.date | None = None
    effective_until: _dt.date | None = None
    source: str = ""
    #: the tier's upper bound in prompt tokens (input + cache reads + cache writes), None when untiered or last
    tier_up_to: int | None = None


@dataclass(frozen=True)
class _Tier:
    up_to: int | None
    prices: tuple[float, float, float, float, float]


@dataclass(frozen=True)
class _Entry:
    model: str
    prices: tuple[float, float, float, float, float]
    min_tokens: int | None
    start: _dt.date | None
    until: _dt.date | None
    source: str
    tiers: tuple[_Tier, ...]

    def covers(self, day: _dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.until is None or day < self.until)


class PriceTable:
    """A parsed price table. Immutable once built; `lookup` is thread-safe."""

    def __init__(self, entries: Mapping[str, tuple[_Entry, ...]], modifiers: Mapping[str, float]) -> None:
        self._entries = dict(entries)
        self.modifiers: dict[str, float] = dict(modifiers)

    @property
    def models(self) -> list[str]:
        """Every model alias (or dated id) the table prices, sorted."""
        return sorted(self._entries)

    def entries(self, model: str) -> list[ModelPrice]:
        """All dated entries for a model (first tier of each), in file order; [] when unknown."""
        return [_price(e, e.prices, None) for e in self._entries.get(self._resolve(model) or "", ())]

    def _resolve(self, model: str) -> str | None:
        if model in self._entries:
            return model
        alias = _DATE_SUFFIX.sub("", model)  # dated ids price like their alias
        return alias if alias in self._entries else None

    def lookup(self, model: str, *, at: Any = None, prompt_tokens: int | None = None) -> ModelPrice:
        """The prices for `model` in force on `at` (a date, datetime, ISO string or epoch seconds; default
        today, UTC), in the tier that `prompt_tokens` falls in (default: the first tier).

        Raises:
            UnknownModelError: the model (after stripping a `-YYYYMMDD` suffix) is not in the table, or no entry
                covers the date.
        """
        if not isinstance(model, str):
            raise UnknownModelError(f"model must be a string, got {type(model).__name__}", "model", model=str(model))
        alias = self._resolve(model)
        if alias is None:
            raise UnknownModelError(
                f"no price for model {model!r}: add it with prices= or ${ENV_VAR}", "model", model=model
            )
        day = _as_date(at, "at")
        for entry in self._entries[alias]:
            if entry.covers(day):
                if not entry.tiers:
                    return _price(entry, entry.prices, None)
                size = prompt_tokens or 0
                for tier in entry.tiers:
                    if tier.up_to is None or size <= tier.up_to:
                        return _price(entry, tier.prices, tier.up_to)
                last = entry.tiers[-1]
                return _price(entry, last.prices, last.up_to)
        raise UnknownModelError(f"no price for model {model!r} on {day.isoformat()}", "model", model=model)


def _price(entry: _Entry, prices: tuple[float, float, float, float, float], up_to: int | None) -> ModelPrice:
    return ModelPrice(entry.model, *prices, entry.min_tokens, entry.start, entry.until, entry.source, up_to)


def _as_date(value: Any, path: str) -> _dt.date:
    if value is None:
        return _dt.datetime.now(_dt.timezone.utc).date()
    if isinstance(value, _dt.datetime):
        return value.astimezone(_dt.timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _dt.datetime.fromtimestamp(value, _dt.timezone.utc).date()
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise InvalidOptionError(f"expected a date (date, datetime, 'YYYY-MM-DD' or epoch seconds), got {value!r}", path)


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 or value == float("inf"):
        raise InvalidOptionError(f"price must be a finite number >= 0, got {value!r}", path)
    return float(value)


def _prices(raw: Mapping[str, Any], path: str, mult: Mapping[str, float]) -> tuple[float, float, float, float, float]:
    for name in ("input", "output"):
        if name not in raw:
            raise InvalidOptionError(f"price entry needs {name!r}", path)
    inp = _number(raw["input"], f"{path}.input")
    out = _number(raw["output"], f"{path}.output")
    # a cache price left out follows the standard multiplier of this entry's input price
    w5, w1, rd = (
        _number(raw[name], f"{path}.{name}") if name in raw else inp * mult[name]
        for name in ("cache_write_5m", "cache_write_1h", "cache_read")
    )
    return (inp, out, w5, w1, rd)


def _parse_entry(model: str, raw: Any, path: str, mult: Mapping[str, float]) -> _Entry:
    if not isinstance(raw, Mapping):
        raise InvalidOptionError(f"price entry must be an object, got {type(raw).__name__}", path)
    prices = _prices(raw, path, mult)
    min_tokens = raw.get("min_tokens")
    if min_tokens is not None and (isinstance(min_tokens, bool) or not isinstance(min_tokens, int) or min_tokens < 0):
        raise InvalidOptionError(
            f"min_tokens must be an integer >= 0 or null, got {min_tokens!r}", f"{path}.min_tokens"
        )
    start = _as_date(raw["from"], f"{path}.from") if raw.get("from") is not None else None
    until = _as_date(raw["until"], f"{path}.until") if raw.get("until") is not None else None
    if start is not None and until is not None and until <= start:
        raise InvalidOptionError(f"empty date range {start} .. {until}", path)
    tiers = []
    raw_tiers = raw.get("tiers") or []
    if not isinstance(raw_tiers, list):
        raise InvalidOptionError("tiers must be a list", f"{path}.tiers")
    previous = -1
    for i, tier in enumerate(raw_tiers):
        tpath = f"{path}.tiers[{i}]"
        if not isinstance(tier, Mapping):
            raise InvalidOptionError("tier must be an object", tpath)
        up_to = tier.get("up_to")
        last = i == len(raw_tiers) - 1
        if up_to is None and not last:
            raise InvalidOptionError("only the last tier may have up_to null", f"{tpath}.up_to")
        if up_to is not None and (isinstance(up_to, bool) or not isinstance(up_to, int) or up_to <= previous):
            raise InvalidOptionError(f"tier bounds must be increasing integers, got {up_to!r}", f"{tpath}.up_to")
        previous = up_to if up_to is not None else previous
        tiers.append(_Tier(up_to, _prices(tier, tpath, mult)))
    return _Entry(model, prices, min_tokens, start, until, str(raw.get("source", "")), tuple(tiers))


def _parse_models(doc: Mapping[str, Any], where: str, mult: Mapping[str, float]) -> dict[str, tuple[_Entry, ...]]:
    models = doc.get("models")
    if not isinstance(models, Mapping):
        raise InvalidOptionError(f"price table {where} needs a 'models' object", "models")
    out: dict[str, tuple[_Entry, ...]] = {}
    for model, raw in models.items():
        items = raw if isinstance(raw, list) else [raw]
        out[str(model)] = tuple(
            _parse_entry(str(model), item, f"models.{model}[{i}]" if isinstance(raw, list) else f"models.{model}", mult)
            for i, item in enumerate(items)
        )
    return out


def _read(source: PricesSource, path: str) -> Mapping[str, Any]:
    if isinstance(source, Mapping):
        return source
    if isinstance(source, PriceTable):
        raise InvalidOptionError("a PriceTable cannot be layered; pass it as prices= on its own", path)
    name = os.fspath(source)
    try:
        with open(name, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InvalidOptionError(f"cannot read price file {name!r}: {exc}", path) from None
    if not isinstance(doc, Mapping):
        raise InvalidOptionError(f"price file {name!r} must hold a json object", path)
    return doc


def _looks_like_litellm(doc: Mapping[str, Any]) -> bool:
    return any(isinstance(v, Mapping) and "input_cost_per_token" in v for v in doc.values())


_LITELLM_CLASSES = (
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cache_write_5m", "cache_creation_input_token_cost"),
    ("cache_write_1h", "cache_creation_input_token_cost_above_1hr"),
    ("cache_read", "cache_read_input_token_cost"),
)


def from_litellm(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Convert LiteLLM's `model_prices_and_context_window.json` (USD per token) to this table's shape (USD per
    million tokens): Anthropic entries only (`litellm_provider: "anthropic"`, an `anthropic/` prefix dropped),
    `prompt_cache_min_tokens` as `min_tokens`, and the `_above_200k_tokens` variants as a second tier. A layer in
    this form replaces the built-in entries of the models it names, like any user table."""
    models: dict[str, Any] = {}
    for name, raw in doc.items():
        if not isinstance(raw, Mapping) or "input_cost_per_token" not in raw:
            continue
        if raw.get("litellm_provider", "anthropic") != "anthropic":
            continue
        model = str(name).removeprefix("anthropic/")

        def per_mtok(suffix: str, raw: Mapping[str, Any] = raw) -> dict[str, float]:
            out = {}
            for ours, theirs in _LITELLM_CLASSES:
                value = raw.get(theirs + suffix)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[ours] = round(float(value) * 1_000_000, 9)  # per token -> per MTok, without float dust
            return out

        entry: dict[str, Any] = {**per_mtok(""), "source": f"litellm: {name}"}
        if "output" not in entry:
            continue
        if isinstance(raw.get("prompt_cache_min_tokens"), int):
            entry["min_tokens"] = raw["prompt_cache_min_tokens"]
        above = per_mtok("_above_200k_tokens")
        if "input" in above:
            base = {k: v for k, v in entry.items() if k in dict(_LITELLM_CLASSES)}
            entry["tiers"] = [{"up_to": 200_000, **base}, {"up_to": None, **base, **above}]
        models[model] = entry
    return {"models": models}


_builtin_lock = threading.Lock()
_builtin: tuple[dict[str, tuple[_Entry, ...]], dict[str, float], dict[str, float]] | None = None


def _load_builtin() -> tuple[dict[str, tuple[_Entry, ...]], dict[str, float], dict[str, float]]:
    global _builtin
    with _builtin_lock:
        if _builtin is None:
            text = resources.files("promptkey").joinpath("data/prices.json").read_text(encoding="utf-8")
            doc = json.loads(text)
            mult = {k: float(v) for k, v in doc["multipliers"].items()}
            mods = {k: float(v["factor"]) for k, v in doc.get("modifiers", {}).items()}
            _builtin = (_parse_models(doc, "built-in", mult), mult, mods)
        return _builtin


_tables: dict[tuple[Any, ...], PriceTable] = {}


def _file_key(source: Any) -> tuple[Any, ...] | None:
    """A cache key for a path layer: the path and its mtime, so an edited file is re-read."""
    if source is None:
        return ()
    if isinstance(source, Mapping):
        return None  # dicts can change in place: never cached
    try:
        return (os.fspath(source), os.stat(source).st_mtime_ns)
    except OSError:
        return None


def load_prices(prices: PricesSource | None = None) -> PriceTable:
    """The built-in table, then the file named by `$PROMPTKEY_PRICES` (if set), then `prices` (a path or a dict).
    Tables built from files are cached until a file's modification time changes.

    Raises:
        InvalidOptionError: a user table that cannot be read or has a bad entry (`.path` names it).
    """
    if isinstance(prices, PriceTable):
        return prices  # already built: the fast path for callers pricing many calls
    env = os.environ.get(ENV_VAR)
    env_key, arg_key = _file_key(env or None), _file_key(prices)
    key = None if env_key is None or arg_key is None else (env_key, arg_key)
    if key is not None and key in _tables:
        return _tables[key]
    table = _build(prices, env)
    if key is not None:
        if len(_tables) > 64:
            _tables.clear()
        _tables[key] = table
    return table


def _build(prices: PricesSource | None, env: str | None) -> PriceTable:
    entries, mult, mods = _load_builtin()
    table = dict(entries)
    modifiers = dict(mods)
    layers: list[tuple[PricesSource, str]] = []
    if env:
        layers.append((Path(env), f"${ENV_VAR}"))
    if prices is not None:
        layers.append((prices, "prices"))
    for source, where in layers:
        doc = _read(source, where)
        if "models" not in doc and _looks_like_litellm(doc):
            doc = from_litellm(doc)
        mode = doc.get("mode", "extend")
        if mode not in ("extend", "replace"):
            raise InvalidOptionError(f"mode must be 'extend' or 'replace', got {mode!r}", "mode")
        layer_mult = {**mult, **{k: float(v) for k, v in (doc.get("multipliers") or {}).items()}}
        parsed = _parse_models(doc, where, layer_mult)
        if mode == "replace":
            table = {}
        table.update(parsed)
        for name, raw in (doc.get("modifiers") or {}).items():
            factor = raw.get("factor") if isinstance(raw, Mapping) else raw
            modifiers[str(name)] = _number(factor, f"modifiers.{name}")
    return PriceTable(table, modifiers)
