//! Byte-level pieces of a block fingerprint (DESIGN §2): JSON written the way Python's `json` module
//! writes it with `separators=(",", ":")` and `ensure_ascii=False`, because that is what the SDK puts
//! on the wire. Keys keep their given order; that is the caller's job. Pure Rust: the Python-object walk
//! lives in `py_fingerprint.rs`.

/// Appends `s` as a JSON string literal, escaping exactly what `json.dumps(ensure_ascii=False)` escapes:
/// `"` `\` and the C0 controls (`\b \t \n \f \r` by name, the rest as lowercase `\u00xx`).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_bytes(out, s.as_bytes());
}

/// `write_str` for text already known to be UTF-8 (`CPython`'s own view of a str).
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Slack beyond the quotes: the closing `}` or `]` after a long text must not regrow (and copy) it.
    out.reserve(bytes.len() + 32);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    loop {
        i += next_special(&bytes[i..]);
        let Some(&b) = bytes.get(i) else { break };
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn is_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The offset of the first byte that needs an escape (`bytes.len()` if none): 16 bytes per step with
/// SSE2; a tail shorter than 16 bytes (most object keys are one) is checked in a padded copy.
#[cfg(target_arch = "x86_64")]
fn next_special(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i + 16 <= bytes.len() {
        let mask = special_mask(&bytes[i..i + 16]);
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    if i == bytes.len() {
        return i;
    }
    let mut tail = [b'a'; 16]; // padding that never needs an escape
    tail[..bytes.len() - i].copy_from_slice(&bytes[i..]);
    match special_mask(&tail) {
        0 => bytes.len(),
        mask => i + mask.trailing_zeros() as usize,
    }
}

/// Bit k set when byte k of the 16 needs an escape.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_mask(chunk: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and the unaligned 16-byte load reads chunk[..16],
    // inside the slice (asserted above).
    #[allow(clippy::cast_ptr_alignment)] // `loadu` is the unaligned load
    let mask = unsafe {
        let x = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let ctl = _mm_set1_epi8(0x1f);
        let below_space = _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl); // unsigned x <= 0x1f
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"'.cast_signed()));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\'.cast_signed()));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), below_space))
    };
    mask.cast_unsigned()
}

#[cfg(not(target_arch = "x86_64"))]
fn next_special(bytes: &[u8]) -> usize {
    bytes.iter().position(|&b| is_special(b)).unwrap_or(bytes.len())
}

/// `(bytes >= 0x80, bytes >= 0xC0)` of UTF-8 text: its non-ASCII bytes and its non-ASCII code points
/// (lead bytes). SWAR over 8-byte words: each byte lane accumulates 0/1, flushed before it can overflow.
pub fn utf8_counts(bytes: &[u8]) -> (usize, usize) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let lanes = |acc: u64| -> usize {
        // Sum the eight byte lanes (each <= 255) without overflow: pairs into 16-bit lanes, then multiply.
        let pairs = (acc & 0x00ff_00ff_00ff_00ff) + ((acc >> 8) & 0x00ff_00ff_00ff_00ff);
        usize::try_from(pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48).unwrap_or(0)
    };
    let (mut high, mut lead) = (0, 0);
    let whole = bytes.len() / 8 * 8;
    for block in bytes[..whole].chunks(8 * 255) {
        let (mut h, mut l) = (0u64, 0u64);
        for word in block.chunks_exact(8) {
            let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
            let top = (w >> 7) & ONES;
            h += top;
            l += top & (w >> 6);
        }
        high += lanes(h);
        lead += lanes(l);
    }
    for &b in &bytes[whole..] {
        high += usize::from(b >= 0x80);
        lead += usize::from(b >= 0xC0);
    }
    (high, lead)
}

/// Appends `f` as Python's `repr(float)` writes it (`1.0`, `0.0001`, `1e-05`, `1e+16`, `-0.0`).
/// Non-finite values are not JSON; the caller reports them with a path.
pub fn write_f64(out: &mut Vec<u8>, f: f64) -> Result<(), &'static str> {
    if f.is_nan() {
        return Err("nan");
    }
    if f.is_infinite() {
        return Err(if f > 0.0 { "infinity" } else { "-infinity" });
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    if f == 0.0 {
        out.extend_from_slice(b"0.0");
        return Ok(());
    }
    // ryu-js gives the shortest round-trip digits (the same digits CPython's repr picks); only the
    // layout differs, so split it into digits and a decimal-point position and lay it out again.
    let mut buf = ryu_js::Buffer::new();
    let js = buf.format_finite(f.abs());
    let (mantissa, exp) = match js.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (js, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    // Value = 0.DIGITS × 10^decpt.
    let mut decpt = i32::try_from(int_part.len()).unwrap_or(0) + exp;
    let leading = digits.iter().take_while(|&&d| d == b'0').count();
    digits.drain(..leading);
    decpt -= i32::try_from(leading).unwrap_or(0);
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let n = i32::try_from(digits.len()).unwrap_or(0);
    if decpt <= -4 || decpt > 16 {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        let e = decpt - 1;
        out.push(b'e');
        out.push(if e < 0 { b'-' } else { b'+' });
        let e = e.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', decpt.unsigned_abs() as usize));
        out.extend_from_slice(&digits);
    } else if decpt >= n {
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', usize::try_from(decpt - n).unwrap_or(0)));
        out.extend_from_slice(b".0");
    } else {
        let split = usize::try_from(decpt).unwrap_or(0);
        out.extend_from_slice(&digits[..split]);
        out.push(b'.');
        out.extend_from_slice(&digits[split..]);
    }
    Ok(())
}

/// Appends an 8-byte big-endian length followed by the bytes: the framing of every field hashed into a
/// prefix digest, so that no two different field sequences can produce the same hash input.
pub fn len_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, x).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn s(x: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, x);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_match_python_repr() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (1e-7, "1e-07"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1.5, "1.5"),
            (123.456, "123.456"),
            (1e22, "1e+22"),
            (1.797_693_134_862_315_7e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (-2.5e-5, "-2.5e-05"),
            (1_234_567_890_123_456.7, "1234567890123456.8"),
            (12_345_678_901_234_567.0, "1.2345678901234568e+16"),
            (0.25, "0.25"),
        ];
        for (x, want) in cases {
            assert_eq!(f(x), want, "{x:?}");
        }
        assert_eq!(write_f64(&mut Vec::new(), f64::NAN), Err("nan"));
        assert_eq!(write_f64(&mut Vec::new(), f64::NEG_INFINITY), Err("-infinity"));
    }

    #[test]
    fn strings_escape_like_python_json() {
        assert_eq!(s("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(s("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(s("\u{1}\u{1f}\u{7f}"), "\"\\u0001\\u001f\u{7f}\"");
        assert_eq!(s("café 日本語 😀 \u{2028}"), "\"café 日本語 😀 \u{2028}\"");
    }

    fn naive(x: &str) -> String {
        let mut out = String::from("\"");
        for c in x.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    use std::fmt::Write as _;
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn every_ascii_byte_at_every_word_position_escapes_like_the_naive_loop() {
        for b in 0u8..128 {
            for pos in 0..20 {
                let mut text = "abcdefghijklmnopqrst".to_owned().into_bytes();
                text[pos] = b;
                let text = String::from_utf8(text).unwrap();
                assert_eq!(s(&text), naive(&text), "byte {b} at {pos}");
            }
        }
    }

    #[test]
    fn long_strings_escape_across_chunks() {
        let text = format!("{}\"{}\n", "a".repeat(40), "é".repeat(20));
        assert_eq!(s(&text), format!("\"{}\\\"{}\\n\"", "a".repeat(40), "é".repeat(20)));
        assert_eq!(utf8_counts("aé日".repeat(200).as_bytes()), (1000, 400));
        assert_eq!(utf8_counts("😀".repeat(3000).as_bytes()), (12000, 3000));
        assert_eq!(utf8_counts(b"plain ascii"), (0, 0));
    }

    #[test]
    fn length_prefix_is_big_endian_u64() {
        let mut out = Vec::new();
        len_prefixed(&mut out, b"ab");
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
    }
}
