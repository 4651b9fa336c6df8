//! RFC 8785 (JSON Canonicalization Scheme) building blocks, independent of Python: ECMAScript number
//! text, string escaping, UTF-16 key order, and byte sinks (a buffer, or SHA-256/HMAC fed while
//! writing). `py_keys` walks Python objects with these; `Value` is a small tree for pure-Rust callers
//! and the conformance tests.

use std::cmp::Ordering;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::errors::Error;

/// Largest integer an IEEE-754 double holds exactly (2^53 − 1); JCS numbers beyond it are rounded.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
/// Containers nested deeper than this are refused (RFC 8785 inputs are JSON; real requests nest < 20).
pub const MAX_DEPTH: usize = 1000;

/// Where canonical bytes go. `put_run` receives long unescaped string runs, which a hashing sink feeds
/// to SHA-256 directly instead of copying them into its buffer first.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]);
    fn put_byte(&mut self, byte: u8);
    fn put_run(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }
    /// `"` + `text` + `"` for text without escapes: one capacity check instead of three.
    fn put_quoted(&mut self, text: &[u8]) {
        self.put_byte(b'"');
        self.put_run(text);
        self.put_byte(b'"');
    }
}

impl Sink for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    #[inline]
    fn put_byte(&mut self, byte: u8) {
        self.push(byte);
    }
    #[inline]
    fn put_quoted(&mut self, text: &[u8]) {
        self.reserve(text.len() + 2);
        self.push(b'"');
        self.extend_from_slice(text);
        self.push(b'"');
    }
}

enum Hasher {
    Sha(Sha256),
    Hmac(Box<Hmac<Sha256>>),
}

impl Hasher {
    #[inline]
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha(h) => h.update(bytes),
            Hasher::Hmac(h) => h.update(bytes),
        }
    }
}

/// Small writes are batched: SHA-256's per-call overhead would otherwise dominate on the many tiny
/// pieces (`"`, `:`, short keys) of a request. 8 KiB stays in L1 together with the hash state.
const BUFFER: usize = 8 * 1024;
/// Runs at least this long skip the buffer: copying them would cost more than one extra `update` call.
const DIRECT_RUN: usize = 512;

thread_local! {
    /// One spare buffer per thread: a fresh 8 KiB allocation per key costs as much as hashing a small
    /// request (and its free can trigger malloc consolidation).
    static SPARE: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A sink that hashes what it is given: SHA-256, or HMAC-SHA256 when a secret is set.
pub struct HashSink {
    buf: Vec<u8>,
    hasher: Hasher,
}

impl HashSink {
    pub fn new(secret: Option<&[u8]>) -> Self {
        let hasher = match secret {
            None => Hasher::Sha(Sha256::new()),
            // HMAC accepts keys of any length (long ones are hashed first), so this cannot fail.
            Some(key) => Hasher::Hmac(Box::new(
                <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("hmac takes any key length"),
            )),
        };
        let mut buf = SPARE.take();
        buf.clear();
        if buf.capacity() < BUFFER {
            buf = Vec::with_capacity(BUFFER);
        }
        HashSink { buf, hasher }
    }

    /// Hands the buffered bytes to the hasher (before `update_direct`, so the order is kept).
    #[inline]
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
    }

    /// Hashes `bytes` without buffering; call `flush` first.
    pub fn update_direct(&mut self, bytes: &[u8]) {
        debug_assert!(self.buf.is_empty());
        self.hasher.update(bytes);
    }

    /// The digest; the sink is spent (its buffer goes back to the thread's spare).
    pub fn finish(&mut self) -> [u8; 32] {
        self.flush();
        SPARE.set(std::mem::take(&mut self.buf));
        match std::mem::replace(&mut self.hasher, Hasher::Sha(Sha256::new())) {
            Hasher::Sha(h) => h.finalize().into(),
            Hasher::Hmac(h) => h.finalize().into_bytes().into(),
        }
    }

    pub fn hex(mut self) -> String {
        let mut out = String::with_capacity(64);
        push_hex(&mut out, &self.finish());
        out
    }
}

/// Lowercase hex, straight into `out` (the `hex` crate's iterator-based encoder cost more than hashing
/// a small request).
pub fn push_hex(out: &mut String, bytes: &[u8; 32]) {
    let mut text = [0u8; 64];
    write_hex(&mut text, bytes);
    // SAFETY: hex digits are ASCII, so the bytes pushed are valid UTF-8.
    unsafe { out.as_mut_vec().extend_from_slice(&text) };
}

/// Lowercase hex of `bytes` into `out` (64 bytes).
pub fn write_hex(out: &mut [u8], bytes: &[u8; 32]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(b)]);
    }
}

/// The two hex digits of every byte value.
static HEX_PAIRS: [[u8; 2]; 256] = {
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
};

impl Sink for HashSink {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        if self.buf.len() + bytes.len() > BUFFER {
            self.flush();
            if bytes.len() >= DIRECT_RUN {
                self.hasher.update(bytes);
                return;
            }
        }
        self.buf.extend_from_slice(bytes);
    }
    #[inline]
    fn put_byte(&mut self, byte: u8) {
        if self.buf.len() == BUFFER {
            self.flush();
        }
        self.buf.push(byte);
    }
    #[inline]
    fn put_quoted(&mut self, text: &[u8]) {
        if text.len() < DIRECT_RUN && self.buf.len() + text.len() + 2 <= BUFFER {
            // The common case (keys, short values): no flush, never a reallocation (capacity is BUFFER).
            self.buf.push(b'"');
            self.buf.extend_from_slice(text);
            self.buf.push(b'"');
        } else {
            self.put_byte(b'"');
            self.put_run(text);
            self.put_byte(b'"');
        }
    }
    #[inline]
    fn put_run(&mut self, bytes: &[u8]) {
        if bytes.len() >= DIRECT_RUN {
            self.flush();
            self.hasher.update(bytes);
        } else {
            self.put(bytes);
        }
    }
}

/// The index of the first byte at or after `from` that JSON must escape (`"`, `\`, U+0000–U+001F).
/// UTF-8 continuation and lead bytes are all ≥ 0x80, so scanning bytes is exact for any UTF-8 text.
#[inline]
pub fn find_escape(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        if bytes.len() - i >= 64 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was detected at runtime just above.
            let (next, found) = unsafe { scan_avx2(bytes, i) };
            if found.is_some() {
                return found;
            }
            i = next;
        }
        // SSE2 is part of x86_64, so no runtime check is needed. 16 bytes per step: a byte needs an
        // escape when it equals `"` or `\`, or when min(byte, 0x1f) == byte (i.e. byte < 0x20).
        // SAFETY: every load reads 16 bytes starting at `i` with `i + 16 <= len`, inside the slice.
        unsafe {
            let quote = _mm_set1_epi8(b'"'.cast_signed());
            let backslash = _mm_set1_epi8(b'\\'.cast_signed());
            let control = _mm_set1_epi8(0x1f);
            let len = bytes.len();
            let special_at = |at: usize| {
                // `loadu` is the unaligned load, so the cast to a 16-byte-aligned type is fine.
                #[allow(clippy::cast_ptr_alignment)]
                let chunk = _mm_loadu_si128(bytes.as_ptr().add(at).cast::<__m128i>());
                let special = _mm_or_si128(
                    _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
                    _mm_cmpeq_epi8(_mm_min_epu8(chunk, control), chunk),
                );
                _mm_movemask_epi8(special).cast_unsigned()
            };
            while i + 16 <= len {
                let mask = special_at(i);
                if mask != 0 {
                    return Some(i + mask.trailing_zeros() as usize);
                }
                i += 16;
            }
            if i < len && len >= 16 {
                // The tail: one more load ending at the last byte, ignoring the bytes already checked.
                let start = len - 16;
                let mask = special_at(start) >> (i - start);
                return (mask != 0).then(|| i + mask.trailing_zeros() as usize);
            }
        }
    }
    bytes[i..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|p| p + i)
}

/// 64 bytes per step with AVX2 (long strings: documents, transcripts). Returns where it stopped and
/// the first escape found, if any.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_avx2(bytes: &[u8], mut i: usize) -> (usize, Option<usize>) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_testz_si256,
    };
    let quote = _mm256_set1_epi8(b'"'.cast_signed());
    let backslash = _mm256_set1_epi8(b'\\'.cast_signed());
    let control = _mm256_set1_epi8(0x1f);
    let special = |chunk: __m256i| {
        _mm256_or_si256(
            _mm256_or_si256(_mm256_cmpeq_epi8(chunk, quote), _mm256_cmpeq_epi8(chunk, backslash)),
            _mm256_cmpeq_epi8(_mm256_min_epu8(chunk, control), chunk),
        )
    };
    while i + 64 <= bytes.len() {
        // SAFETY: both 32-byte loads lie inside the slice (`i + 64 <= len`); `loadu` needs no alignment.
        #[allow(clippy::cast_ptr_alignment)]
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(bytes.as_ptr().add(i).cast::<__m256i>()),
                _mm256_loadu_si256(bytes.as_ptr().add(i + 32).cast::<__m256i>()),
            )
        };
        let (sa, sb) = (special(a), special(b));
        let any = _mm256_or_si256(sa, sb);
        if _mm256_testz_si256(any, any) == 0 {
            let ma = _mm256_movemask_epi8(sa).cast_unsigned();
            if ma != 0 {
                return (i, Some(i + ma.trailing_zeros() as usize));
            }
            let mb = _mm256_movemask_epi8(sb).cast_unsigned();
            return (i, Some(i + 32 + mb.trailing_zeros() as usize));
        }
        i += 64;
    }
    (i, None)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `text` (valid UTF-8) as a JSON string: raw UTF-8, only the RFC 8785 escapes.
#[inline]
pub fn write_str<S: Sink>(out: &mut S, text: &[u8]) {
    let Some(first) = find_escape(text, 0) else {
        out.put_quoted(text);
        return;
    };
    out.put_byte(b'"');
    write_escaped_from(out, text, first);
    out.put_byte(b'"');
}

/// The inside of a JSON string (no quotes) for UTF-8 `text` whose first escape is at `first`.
pub(crate) fn write_escaped_from<S: Sink>(out: &mut S, text: &[u8], first: usize) {
    let mut start = 0;
    let mut next = Some(first);
    while let Some(i) = next {
        if i > start {
            out.put_run(&text[start..i]);
        }
        let byte = text[i];
        let short = match byte {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            0x08 => Some(b'b'),
            0x09 => Some(b't'),
            0x0a => Some(b'n'),
            0x0c => Some(b'f'),
            0x0d => Some(b'r'),
            _ => None,
        };
        match short {
            Some(c) => out.put(&[b'\\', c]),
            None => out.put(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]),
        }
        start = i + 1;
        next = find_escape(text, start);
    }
    if start < text.len() {
        out.put_run(&text[start..]);
    }
}

/// Writes an integer in decimal (ECMAScript prints safe integers exactly like this).
#[inline]
pub fn write_i64<S: Sink>(out: &mut S, n: i64) {
    let mut buf = [0u8; 20];
    let mut pos = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        pos -= 1;
        // `v % 10` is below 10, so the narrowing is exact.
        buf[pos] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        out.put_byte(b'-');
    }
    out.put(&buf[pos..]);
}

/// Writes a finite double as ECMAScript `Number.prototype.toString` does (`-0` → `0`, `1e21` → `1e+21`).
/// The caller rejects NaN and the infinities first.
#[inline]
pub fn write_f64<S: Sink>(out: &mut S, f: f64) {
    debug_assert!(f.is_finite());
    if f == 0.0 {
        out.put_byte(b'0');
        return;
    }
    let mut buf = ryu_js::Buffer::new();
    out.put(buf.format_finite(f).as_bytes());
}

/// The error text for a non-finite float.
pub fn non_finite_name(f: f64) -> &'static str {
    if f.is_nan() {
        "nan"
    } else if f > 0.0 {
        "infinity"
    } else {
        "-infinity"
    }
}

/// RFC 8785 key order (UTF-16 code units) computed on UTF-8 bytes. Byte order equals code-point order,
/// which equals UTF-16 order except when one string has U+E000–U+FFFF where the other has a
/// supplementary character: UTF-16 puts the surrogate pair (0xD800…) first, UTF-8 the BMP char.
#[inline]
#[allow(clippy::many_single_char_names)] // a/b, x/y, i/s: the two strings and their bytes
pub fn key_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    let (x, y) = (a[i], b[i]);
    if x < 0xEE && y < 0xEE {
        return x.cmp(&y);
    }
    // Back up to the start of the character holding the first difference; the prefix is shared, so it
    // starts at the same index in both strings.
    let mut s = i;
    while s > 0 && (a[s] & 0xC0) == 0x80 {
        s -= 1;
    }
    let (la, lb) = (a[s], b[s]);
    let bmp_high = |lead: u8| lead == 0xEE || lead == 0xEF;
    let astral = |lead: u8| lead >= 0xF0;
    if bmp_high(la) && astral(lb) {
        Ordering::Greater
    } else if astral(la) && bmp_high(lb) {
        Ordering::Less
    } else {
        x.cmp(&y)
    }
}

/// A JSON value for pure-Rust callers and tests. Object members are kept in the order given; the
/// writer sorts them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// The RFC 8785 form of `value`, with the same errors as `promptkey.canonical_json`.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_value(&mut out, value, 1)?;
    Ok(out)
}

pub fn write_value<S: Sink>(out: &mut S, value: &Value, depth: usize) -> Result<(), Error> {
    match value {
        Value::Null => out.put(b"null"),
        Value::Bool(true) => out.put(b"true"),
        Value::Bool(false) => out.put(b"false"),
        Value::Int(n) if n.unsigned_abs() > MAX_SAFE_INTEGER.unsigned_abs() => {
            return Err(Error::canonicalization(
                format!("integer {n} is beyond ±(2^53−1) and has no exact json number"),
                "",
            ))
        }
        Value::Int(n) => write_i64(out, *n),
        Value::Float(f) if !f.is_finite() => {
            return Err(Error::canonicalization(
                format!("{} is not valid json", non_finite_name(*f)),
                "",
            ))
        }
        Value::Float(f) => write_f64(out, *f),
        Value::Str(s) => write_str(out, s.as_bytes()),
        Value::Array(items) => {
            check_depth(depth)?;
            out.put_byte(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put_byte(b',');
                }
                write_value(out, item, depth + 1).map_err(|e| e.prefixed(&format!("[{i}]")))?;
            }
            out.put_byte(b']');
        }
        Value::Object(members) => {
            check_depth(depth)?;
            let mut sorted: Vec<&(String, Value)> = members.iter().collect();
            sorted.sort_by(|a, b| key_cmp(a.0.as_bytes(), b.0.as_bytes()));
            if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(Error::unsupported_type(format!("duplicate key {:?}", w[0].0), ""));
            }
            out.put_byte(b'{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.put_byte(b',');
                }
                write_str(out, k.as_bytes());
                out.put_byte(b':');
                write_value(out, v, depth + 1).map_err(|e| e.prefixed(k))?;
            }
            out.put_byte(b'}');
        }
    }
    Ok(())
}

pub fn check_depth(depth: usize) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::canonicalization(
            format!("nesting deeper than {MAX_DEPTH} levels"),
            "",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// JSON numbers are doubles in RFC 8785, so the conformance inputs map every number to `Float`.
    fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap()),
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(from_json).collect()),
            serde_json::Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
        }
    }

    fn data(rel: &str) -> String {
        let path = format!("{}/tests/data/jcs/{rel}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn jcs_vectors() {
        for name in ["arrays", "french", "structures", "unicode", "values", "weird"] {
            let input: serde_json::Value = serde_json::from_str(&data(&format!("input/{name}.json"))).unwrap();
            let got = canonicalize(&from_json(&input)).unwrap();
            assert_eq!(
                String::from_utf8(got.clone()).unwrap(),
                data(&format!("output/{name}.json")),
                "{name}"
            );
            let hex: String = data(&format!("outhex/{name}.txt")).split_whitespace().collect();
            assert_eq!(hex::encode(&got), hex, "{name}");
        }
    }

    #[test]
    fn es6_numbers_100k() {
        let text = data("es6testfile_100000.txt");
        let mut n = 0;
        for line in text.lines() {
            let (bits, expected) = line.split_once(',').unwrap();
            let f = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
            let mut out = Vec::new();
            write_f64(&mut out, f);
            assert_eq!(std::str::from_utf8(&out).unwrap(), expected, "bits {bits}");
            n += 1;
        }
        assert_eq!(n, 100_000);
    }

    #[test]
    fn key_order_is_utf16_even_where_utf8_disagrees() {
        // U+FB33 (UTF-8 EF AC B3) sorts after U+1F602 (UTF-16 D83D DE02) but before it in UTF-8.
        assert_eq!(
            key_cmp("\u{fb33}".as_bytes(), "\u{1f602}".as_bytes()),
            Ordering::Greater
        );
        assert_eq!(key_cmp("a\u{1f602}".as_bytes(), "a\u{e000}".as_bytes()), Ordering::Less);
        assert_eq!(key_cmp("\u{d7ff}".as_bytes(), "\u{1f602}".as_bytes()), Ordering::Less);
        assert_eq!(key_cmp(b"ab", b"abc"), Ordering::Less);
        assert_eq!(key_cmp("\u{e000}".as_bytes(), "\u{ffff}".as_bytes()), Ordering::Less);
        assert_eq!(key_cmp("\u{10000}".as_bytes(), "\u{10ffff}".as_bytes()), Ordering::Less);
        assert_eq!(key_cmp(b"same", b"same"), Ordering::Equal);
    }

    #[test]
    fn escapes_only_what_rfc8785_escapes() {
        let mut out = Vec::new();
        let text = "a\"b\\c\u{8}\t\n\u{c}\r\u{1}\u{1f}\u{7f}</é😀";
        write_str(&mut out, text.as_bytes());
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "\"a\\\"b\\\\c\\b\\t\\n\\f\\r\\u0001\\u001f\u{7f}</é😀\""
        );
        // The SIMD scan must find escapes at every offset of a long string.
        for len in [40, 200] {
            for pos in 0..len {
                for bad in [b'\n', b'"', b'\\', 0, 0x1f] {
                    let mut s = vec![b'x'; len];
                    s[pos] = bad;
                    assert_eq!(find_escape(&s, 0), Some(pos));
                    assert_eq!(find_escape(&s, pos + 1), None);
                }
            }
        }
        let high: Vec<u8> = (0x20..=0xffu8)
            .filter(|b| *b != b'"' && *b != b'\\')
            .cycle()
            .take(300)
            .collect();
        assert_eq!(find_escape(&high, 0), None);
        assert_eq!(find_escape("é€😀 long enough text".as_bytes(), 0), None);
    }

    #[test]
    fn integers_and_limits() {
        let cases = [
            (0, "0"),
            (-1, "-1"),
            (MAX_SAFE_INTEGER, "9007199254740991"),
            (i64::MIN + 1, "-9223372036854775807"),
        ];
        for (n, text) in cases {
            let mut out = Vec::new();
            write_i64(&mut out, n);
            assert_eq!(out, text.as_bytes());
        }
        let err = canonicalize(&Value::Int(MAX_SAFE_INTEGER + 1)).unwrap_err();
        assert!(err.message().contains("9007199254740992"));
        let err = canonicalize(&Value::Array(vec![Value::Float(f64::NAN)])).unwrap_err();
        assert_eq!((err.message(), err.path()), ("nan is not valid json", "[0]"));
    }

    #[test]
    fn depth_limit_and_duplicates() {
        // Debug builds use large frames, and dropping a deep `Value` recurses too: give it room.
        std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(depth_checks)
            .unwrap()
            .join()
            .unwrap();
    }

    fn depth_checks() {
        let mut v = Value::Null;
        for _ in 0..MAX_DEPTH {
            v = Value::Array(vec![v]);
        }
        assert!(canonicalize(&v).is_ok());
        let deeper = Value::Array(vec![v]);
        assert!(canonicalize(&deeper)
            .unwrap_err()
            .message()
            .contains("nesting deeper than 1000"));
        let dup = Value::Object(vec![("a".into(), Value::Null), ("a".into(), Value::Null)]);
        assert!(matches!(canonicalize(&dup), Err(Error::UnsupportedType { .. })));
    }

    #[test]
    fn hash_sink_matches_one_shot_sha256_and_hmac() {
        let text: Vec<u8> = (0..100_000u32)
            .map(|i| "ab\"cdé".as_bytes()[(i % 7) as usize])
            .collect();
        for secret in [None, Some(&b"k"[..])] {
            let mut buffered = HashSink::new(secret);
            let mut whole = Vec::new();
            for chunk in text.chunks(37).chain(text.chunks(3000)) {
                buffered.put_run(chunk);
                whole.extend_from_slice(chunk);
                buffered.put_byte(b',');
                whole.push(b',');
            }
            let mut one = HashSink::new(secret);
            one.update_direct(&whole);
            assert_eq!(buffered.finish(), one.finish());
        }
        let mut empty = HashSink::new(None);
        empty.put(b"");
        assert_eq!(
            empty.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
