//! UTF-8 from the code units `CPython` stores a str in (PEP 393: Latin-1, UCS-2, UCS-4), for long
//! strings whose UTF-8 is not cached yet: encoded once into the str's cache, or streamed into the sink
//! step by step (`py_walk` decides). Pure Rust: slices in, bytes out.

use crate::canonical::{find_escape, write_escaped_from, Sink};

/// The code units of a Python str as `CPython` stores it (PEP 393): Latin-1, UCS-2 or UCS-4.
pub enum Units<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

/// Code units per encoding step: the UTF-8 of one step (≤ 16 KiB) stays in L1 while it is escaped.
const ENCODE_STEP: usize = 4096;

/// Writes text given as code points as a JSON string, encoding UTF-8 step by step into `scratch`
/// (reused) and escaping each step, so a long string never needs a UTF-8 copy of its own.
/// `Err(code)` reports a surrogate code point (in a Python str every surrogate is lone).
pub fn write_units<S: Sink>(out: &mut S, units: &Units<'_>, scratch: &mut Vec<u8>) -> Result<(), u32> {
    out.put_byte(b'"');
    match units {
        Units::One(u) => encode_steps(out, u, scratch)?,
        Units::Two(u) => encode_steps(out, u, scratch)?,
        Units::Four(u) => encode_steps(out, u, scratch)?,
    }
    out.put_byte(b'"');
    Ok(())
}

impl Units<'_> {
    pub fn len(&self) -> usize {
        match self {
            Units::One(u) => u.len(),
            Units::Two(u) => u.len(),
            Units::Four(u) => u.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The most UTF-8 bytes these units can need (Latin-1: 2 each, UCS-2: 3, UCS-4: 4).
    pub fn max_utf8(&self) -> usize {
        match self {
            Units::One(u) => 2 * u.len(),
            Units::Two(u) => 3 * u.len(),
            Units::Four(u) => 4 * u.len(),
        }
    }

    /// Writes the UTF-8 of these units at `dst` and returns its length; `Err(code)` for a surrogate.
    ///
    /// # Safety
    /// `dst` must have room for `self.max_utf8()` bytes.
    pub unsafe fn encode_into(&self, dst: *mut u8) -> Result<usize, u32> {
        // SAFETY: forwarded to the caller.
        unsafe {
            match self {
                Units::One(u) => encode_utf8(u, dst),
                Units::Two(u) => encode_utf8(u, dst),
                Units::Four(u) => encode_utf8(u, dst),
            }
        }
    }
}

trait Unit: Copy {
    fn code(self) -> u32;
}
impl Unit for u8 {
    #[inline]
    fn code(self) -> u32 {
        u32::from(self)
    }
}
impl Unit for u16 {
    #[inline]
    fn code(self) -> u32 {
        u32::from(self)
    }
}
impl Unit for u32 {
    #[inline]
    fn code(self) -> u32 {
        self
    }
}

fn encode_steps<T: Unit, S: Sink>(out: &mut S, units: &[T], scratch: &mut Vec<u8>) -> Result<(), u32> {
    for step in units.chunks(ENCODE_STEP) {
        scratch.clear();
        scratch.reserve(step.len() * 4);
        // SAFETY: `scratch` has room for 4 bytes per unit, the most UTF-8 needs, and `encode_utf8`
        // reports how many it initialized.
        unsafe {
            let written = encode_utf8(step, scratch.as_mut_ptr())?;
            scratch.set_len(written);
        }
        if let Some(first) = find_escape(scratch, 0) {
            write_escaped_from(out, scratch, first);
        } else {
            out.put_run(scratch);
        }
    }
    Ok(())
}

/// UTF-8 of `src` at `dst` (room for `4 * src.len()` bytes); returns the length written.
///
/// Text comes in runs of one script (ASCII, Latin/Cyrillic 2-byte, CJK 3-byte, emoji 4-byte), so each
/// width has its own tight loop that stays in it while the run lasts: branches stay predictable.
// Truncating casts keep exactly the bits UTF-8 places in each byte; a..d, c, i, n are the usual names.
#[allow(clippy::cast_possible_truncation, clippy::many_single_char_names)]
#[inline]
unsafe fn encode_utf8<T: Unit>(src: &[T], dst: *mut u8) -> Result<usize, u32> {
    let len = src.len();
    let (mut i, mut n) = (0, 0);
    // SAFETY (all reads and writes): `i < len` before each read (`get_unchecked`), and at most 4 bytes
    // are written per unit read, within the caller's 4-per-unit room.
    unsafe {
        let at = |i: usize| src.get_unchecked(i).code();
        while i < len {
            let c = at(i);
            if c < 0x80 {
                *dst.add(n) = c as u8;
                n += 1;
                i += 1;
                // Four units per test inside an ASCII run.
                while i + 4 <= len {
                    let (a, b, c, d) = (at(i), at(i + 1), at(i + 2), at(i + 3));
                    if (a | b | c | d) >= 0x80 {
                        break;
                    }
                    *dst.add(n) = a as u8;
                    *dst.add(n + 1) = b as u8;
                    *dst.add(n + 2) = c as u8;
                    *dst.add(n + 3) = d as u8;
                    n += 4;
                    i += 4;
                }
            } else if c < 0x800 {
                let mut c = c;
                loop {
                    *dst.add(n) = 0xC0 | (c >> 6) as u8;
                    *dst.add(n + 1) = 0x80 | (c & 0x3F) as u8;
                    n += 2;
                    i += 1;
                    if i == len {
                        break;
                    }
                    c = at(i);
                    if !(0x80..0x800).contains(&c) {
                        break;
                    }
                }
            } else if c < 0x10000 {
                let mut c = c;
                loop {
                    if (0xD800..0xE000).contains(&c) {
                        return Err(c);
                    }
                    *dst.add(n) = 0xE0 | (c >> 12) as u8;
                    *dst.add(n + 1) = 0x80 | ((c >> 6) & 0x3F) as u8;
                    *dst.add(n + 2) = 0x80 | (c & 0x3F) as u8;
                    n += 3;
                    i += 1;
                    if i == len {
                        break;
                    }
                    c = at(i);
                    if !(0x800..0x10000).contains(&c) {
                        break;
                    }
                }
            } else {
                *dst.add(n) = 0xF0 | (c >> 18) as u8;
                *dst.add(n + 1) = 0x80 | ((c >> 12) & 0x3F) as u8;
                *dst.add(n + 2) = 0x80 | ((c >> 6) & 0x3F) as u8;
                *dst.add(n + 3) = 0x80 | (c & 0x3F) as u8;
                n += 4;
                i += 1;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::write_str;

    #[test]
    fn code_units_encode_like_utf8() {
        let text = "plain \"quoted\" \\ tab\t é € 😀 \u{1} end ".repeat(400);
        let mut expected = Vec::new();
        write_str(&mut expected, text.as_bytes());
        let mut scratch = Vec::new();
        let four: Vec<u32> = text.chars().map(u32::from).collect();
        let mut got = Vec::new();
        write_units(&mut got, &Units::Four(&four), &mut scratch).unwrap();
        assert_eq!(got, expected);
        let bmp = text.replace('😀', "x");
        let two: Vec<u16> = bmp.encode_utf16().collect();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        write_units(&mut got, &Units::Two(&two), &mut scratch).unwrap();
        write_str(&mut want, bmp.as_bytes());
        assert_eq!(got, want);
        let latin: String = bmp.chars().filter(|c| u32::from(*c) < 0x100).collect();
        let one: Vec<u8> = latin.chars().map(|c| u8::try_from(u32::from(c)).unwrap()).collect();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        write_units(&mut got, &Units::One(&one), &mut scratch).unwrap();
        write_str(&mut want, latin.as_bytes());
        assert_eq!(got, want);
        assert_eq!(
            write_units(&mut Vec::new(), &Units::Two(&[0x61, 0xDC00]), &mut scratch),
            Err(0xDC00)
        );
    }
}
