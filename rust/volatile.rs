//! Finding content that usually differs between requests (dates, times, UUIDs, unix timestamps, request
//! ids): before a cache breakpoint it makes every read miss, so the planner warns about it. A hand-written
//! scanner rather than a regex engine: one pass over the bytes, trying the patterns only where a word
//! starts (the planner calls it on every block before a breakpoint, in the request path).

/// What was found, where (byte offset) and how long (bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub kind: &'static str,
    pub start: usize,
    pub len: usize,
}

/// Word characters as Python's `\b` sees them, approximated on bytes: ASCII letters, digits and `_`,
/// and every non-ASCII byte (most non-ASCII characters in prompts are letters).
fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

fn digits(s: &[u8], at: usize, n: usize) -> bool {
    s.len() >= at + n && s[at..at + n].iter().all(u8::is_ascii_digit)
}

fn hex(s: &[u8], at: usize, n: usize) -> bool {
    s.len() >= at + n && s[at..at + n].iter().all(u8::is_ascii_hexdigit)
}

fn byte(s: &[u8], at: usize, b: u8) -> bool {
    s.get(at) == Some(&b)
}

/// The pattern ends at `end` on a word boundary.
fn ends(s: &[u8], end: usize) -> bool {
    s.get(end).is_none_or(|&b| !word(b))
}

fn two(s: &[u8], at: usize) -> u8 {
    (s[at] - b'0') * 10 + (s[at + 1] - b'0')
}

/// `8-4-4-4-12` hex digits.
fn uuid(s: &[u8], i: usize) -> Option<usize> {
    if !byte(s, i + 8, b'-') {
        return None;
    }
    let groups = [8, 4, 4, 4, 12];
    let mut at = i;
    for (g, n) in groups.iter().enumerate() {
        if !hex(s, at, *n) {
            return None;
        }
        at += n;
        if g < 4 {
            if !byte(s, at, b'-') {
                return None;
            }
            at += 1;
        }
    }
    ends(s, at).then_some(at - i)
}

/// `YYYY-MM-DD` with a plausible year (19xx, 20xx), month and day.
fn date(s: &[u8], i: usize) -> bool {
    byte(s, i + 4, b'-')
        && digits(s, i, 4)
        && (s[i..i + 2] == *b"19" || s[i..i + 2] == *b"20")
        && digits(s, i + 5, 2)
        && (1..=12).contains(&two(s, i + 5))
        && byte(s, i + 7, b'-')
        && digits(s, i + 8, 2)
        && (1..=31).contains(&two(s, i + 8))
}

/// `YYYY-MM-DD[T ]HH:MM[:SS]` (any four-two-two digits, as ISO timestamps are written).
fn timestamp(s: &[u8], i: usize) -> Option<usize> {
    let shape = byte(s, i + 4, b'-')
        && digits(s, i, 4)
        && digits(s, i + 5, 2)
        && byte(s, i + 7, b'-')
        && digits(s, i + 8, 2)
        && (byte(s, i + 10, b'T') || byte(s, i + 10, b' '))
        && digits(s, i + 11, 2)
        && byte(s, i + 13, b':')
        && digits(s, i + 14, 2);
    if !shape {
        return None;
    }
    Some(if byte(s, i + 16, b':') && digits(s, i + 17, 2) {
        19
    } else {
        16
    })
}

/// `HH:MM:SS` on a 24-hour clock.
fn time_of_day(s: &[u8], i: usize) -> bool {
    byte(s, i + 2, b':')
        && digits(s, i, 2)
        && two(s, i) < 24
        && digits(s, i + 3, 2)
        && two(s, i + 3) < 60
        && byte(s, i + 5, b':')
        && digits(s, i + 6, 2)
        && two(s, i + 6) < 60
        && ends(s, i + 8)
}

/// A 10- or 13-digit number starting with 15–19: seconds or milliseconds since 1970, 2017–2033.
fn unix(s: &[u8], i: usize) -> Option<usize> {
    if !(byte(s, i, b'1') && s.get(i + 1).is_some_and(|b| (b'5'..=b'9').contains(b)) && digits(s, i, 10)) {
        return None;
    }
    if digits(s, i, 13) && ends(s, i + 13) {
        return Some(13);
    }
    ends(s, i + 10).then_some(10)
}

/// `req_`, `msg_`, `toolu_`, `run_` or `sess_` and at least 12 letters or digits.
fn id(s: &[u8], i: usize) -> Option<usize> {
    let prefix = [&b"req_"[..], b"msg_", b"toolu_", b"run_", b"sess_"]
        .into_iter()
        .find(|p| s[i..].starts_with(p))?;
    let body = s[i + prefix.len()..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let end = i + prefix.len() + body;
    (body >= 12 && ends(s, end)).then_some(end - i)
}

/// The first volatile value in `text` (leftmost; at one position, in the order uuid, timestamp, date,
/// time of day, unix timestamp, id).
pub fn find(text: &str) -> Option<Found> {
    let s = text.as_bytes();
    let mut prev_word = false;
    for (i, &b) in s.iter().enumerate() {
        let starts = !prev_word && b.is_ascii_alphanumeric();
        prev_word = word(b);
        // Every pattern starts with a digit, a hex letter (uuid) or an id prefix letter: most words of
        // prose are ruled out by their first byte.
        if !starts || !(b.is_ascii_hexdigit() || matches!(b, b'r' | b'm' | b't' | b's')) {
            continue;
        }
        let hit = |kind: &'static str, len: usize| Some(Found { kind, start: i, len });
        // Dispatch on the first byte: ids start with a letter, everything else with a (hex) digit.
        if !b.is_ascii_hexdigit() {
            if let Some(len) = id(s, i) {
                return hit("an id", len);
            }
            continue;
        }
        if let Some(len) = uuid(s, i) {
            return hit("a uuid", len);
        }
        if !b.is_ascii_digit() {
            continue;
        }
        if let Some(len) = timestamp(s, i) {
            return hit("a timestamp", len);
        }
        if date(s, i) && ends(s, i + 10) {
            return hit("a date", 10);
        }
        if time_of_day(s, i) {
            return hit("a time of day", 8);
        }
        if let Some(len) = unix(s, i) {
            return hit("a unix timestamp", len);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Option<(&'static str, &str)> {
        find(text).map(|f| (f.kind, &text[f.start..f.start + f.len]))
    }

    #[test]
    fn finds_each_kind() {
        assert_eq!(found("Today is 2026-11-21."), Some(("a date", "2026-11-21")));
        assert_eq!(
            found("at 2026-11-21T09:15:02Z"),
            Some(("a timestamp", "2026-11-21T09:15:02"))
        );
        assert_eq!(found("at 2026-11-21 09:15"), Some(("a timestamp", "2026-11-21 09:15")));
        assert_eq!(found("now 23:59:59"), Some(("a time of day", "23:59:59")));
        assert_eq!(
            found("id 3f2b8c1e-9d4a-4f6b-8e2a-1c5d7f9b0a3e."),
            Some(("a uuid", "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7f9b0a3e"))
        );
        assert_eq!(found("ts=1763683200"), Some(("a unix timestamp", "1763683200")));
        assert_eq!(found("ms 1763683200123"), Some(("a unix timestamp", "1763683200123")));
        assert_eq!(found("see req_011CVabcdefgh12"), Some(("an id", "req_011CVabcdefgh12")));
    }

    #[test]
    fn ignores_lookalikes() {
        for text in [
            "version 1.2.3",
            "a2026-11-21",
            "2026-13-01",
            "1999-02-32",
            "24:00:00",
            "12:30",
            "17636832001",
            "x1763683200",
            "req_short",
            "msg_abcdefghijkl_more",
            "3f2b8c1e-9d4a-4f6b-8e2a-1c5d7f9b0a3",
            "café 2026-11-21é",
        ] {
            assert_eq!(found(text), None, "{text}");
        }
        assert_eq!(found(""), None);
    }
}
