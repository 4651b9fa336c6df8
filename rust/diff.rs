//! `diff`: the first block where two requests stop sharing a cacheable prefix, and why (DESIGN §2).
//! Context first (the model, then the request settings in the docs' invalidation table), then content by
//! un-chained fingerprints. The earliest invalidated block wins; at a tie, context is reported.

use crate::blocks::Section;
use crate::prefix::{Chain, Settings};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Modified,
    Inserted,
    Removed,
    Reordered,
    Model,
    ToolChoice,
    Thinking,
    Effort,
    Images,
    Speed,
    Citations,
    WebSearch,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Modified => "modified",
            Change::Inserted => "inserted",
            Change::Removed => "removed",
            Change::Reordered => "reordered",
            Change::Model => "model",
            Change::ToolChoice => "tool_choice",
            Change::Thinking => "thinking",
            Change::Effort => "effort",
            Change::Images => "images",
            Change::Speed => "speed",
            Change::Citations => "citations",
            Change::WebSearch => "web_search",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first block of `before` that is no longer a cached prefix.
    pub index: usize,
    /// That block's path (for `inserted`, the new block's path in `after`).
    pub path: String,
    pub section: Section,
    pub change: Change,
    /// 0-based code points into the block's text (text and thinking blocks) or its fingerprint JSON,
    /// for `modified` content; `None` for other changes.
    pub offset: Option<usize>,
    pub before: String,
    pub after: String,
    pub tokens_kept: u64,
    pub tokens_lost: u64,
    pub tokenizer: String,
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lost = thousands(self.tokens_lost);
        let (path, before, after) = (&self.path, &self.before, &self.after);
        match self.change {
            Change::Modified => match self.offset {
                Some(offset) => write!(
                    f,
                    "{path} changed at char {} ('{before}' → '{after}')",
                    thousands(offset as u64)
                )?,
                None => write!(f, "{path} changed ({before} → {after})")?,
            },
            Change::Inserted => write!(f, "{path} was inserted ('{after}')")?,
            Change::Removed => write!(f, "{path} was removed ('{before}')")?,
            Change::Reordered => write!(f, "blocks were reordered at {path} ('{before}' is now '{after}')")?,
            Change::Model => {
                return write!(
                    f,
                    "model changed ('{before}' → '{after}'): caches are per model, so all {lost} tokens are no \
                     longer a cached prefix"
                )
            }
            change => {
                let what = match change {
                    Change::ToolChoice => "tool_choice",
                    Change::Thinking => "thinking",
                    Change::Effort => "output_config.effort",
                    Change::Images => "image presence",
                    Change::Speed => "speed",
                    Change::Citations => "citations",
                    _ => "server tools (web search/fetch, code execution)",
                };
                return write!(
                    f,
                    "{what} changed ({before} → {after}): the {lost} tokens from {path} on are no longer a cached \
                     prefix"
                );
            }
        }
        write!(f, ": the {lost} tokens from there on are no longer a cached prefix")
    }
}

fn describe(value: Option<&Vec<u8>>, absent: &str) -> String {
    value.map_or_else(|| absent.to_owned(), |v| String::from_utf8_lossy(v).into_owned())
}

fn server_tool_names(s: &Settings) -> String {
    if s.server_tools.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<String> = s
        .server_tools
        .iter()
        .map(|t| {
            let text = String::from_utf8_lossy(t);
            // The tool's `type` member, e.g. web_search_20250305; the whole JSON if it has none.
            text.split_once("\"type\":\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map_or_else(|| text.to_string(), |(name, _)| name.to_owned())
        })
        .collect();
    names.join(", ")
}

/// The context changes between two chains, each with the first section it invalidates.
fn context_changes(a: &Chain, b: &Chain) -> Vec<(Change, Section, String, String)> {
    let (sa, sb) = (&a.settings, &b.settings);
    let thinking_section = if a.thinking_in_system {
        Section::System
    } else {
        Section::Messages
    };
    let mut out = Vec::new();
    let mut check = |change, section, before: String, after: String| {
        if before != after {
            out.push((change, section, before, after));
        }
    };
    let onoff = |on: bool| if on { "on" } else { "off" }.to_owned();
    check(
        Change::ToolChoice,
        Section::Messages,
        describe(sa.tool_choice.as_ref(), "absent"),
        describe(sb.tool_choice.as_ref(), "absent"),
    );
    check(
        Change::Thinking,
        thinking_section,
        describe(sa.thinking.as_ref(), "absent"),
        describe(sb.thinking.as_ref(), "absent"),
    );
    check(
        Change::Effort,
        thinking_section,
        describe(sa.effort.as_ref(), "default"),
        describe(sb.effort.as_ref(), "default"),
    );
    let images = |on: bool| if on { "images" } else { "no images" }.to_owned();
    check(
        Change::Images,
        Section::Messages,
        images(a.flags.images),
        images(b.flags.images),
    );
    check(
        Change::Speed,
        Section::System,
        describe(sa.speed.as_ref(), "standard"),
        describe(sb.speed.as_ref(), "standard"),
    );
    check(
        Change::Citations,
        Section::System,
        onoff(a.flags.citations),
        onoff(b.flags.citations),
    );
    if sa.server_tools != sb.server_tools {
        out.push((
            Change::WebSearch,
            Section::System,
            server_tool_names(sa),
            server_tool_names(sb),
        ));
    }
    out
}

const EXCERPT_CONTEXT: usize = 30;
const EXCERPT_MAX: usize = 60;

fn is_boundary(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ':' | '{' | '}' | '[' | ']' | '(' | ')')
}

fn clip(chars: &[char]) -> String {
    if chars.len() <= EXCERPT_MAX {
        return chars.iter().collect();
    }
    let mut s: String = chars[..EXCERPT_MAX].iter().collect();
    s.push('…');
    s
}

/// The first differing code point and both sides' differing stretch, widened to whole words.
pub fn text_change(before: &str, after: &str) -> (usize, String, String) {
    let a: Vec<char> = before.chars().collect();
    let b: Vec<char> = after.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let max_suffix = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_suffix)
        .take_while(|(x, y)| x == y)
        .count();
    let mut start = prefix;
    while start > 0 && prefix - start < EXCERPT_CONTEXT && !is_boundary(a[start - 1]) {
        start -= 1;
    }
    let widen = |s: &[char]| {
        let mut end = s.len() - suffix;
        // A full stop ends a word only before a space or the end ("2026-11-21." but "v1.2").
        let stop = |e: usize| is_boundary(s[e]) || (s[e] == '.' && s.get(e + 1).is_none_or(|c| c.is_whitespace()));
        while end < s.len() && end - (s.len() - suffix) < EXCERPT_CONTEXT && !stop(end) {
            end += 1;
        }
        clip(&s[start..end])
    };
    (prefix, widen(&a), widen(&b))
}

fn excerpt(fingerprint: &[u8]) -> String {
    let chars: Vec<char> = String::from_utf8_lossy(fingerprint)
        .chars()
        .take(EXCERPT_MAX + 1)
        .collect();
    clip(&chars)
}

/// What makes block `i` the same block: its section, message header and un-chained fingerprint.
fn key(c: &Chain, i: usize) -> (Section, &[u8], [u8; 32]) {
    (c.raws[i].section, &c.raws[i].header, c.blocks[i].fingerprint)
}

/// The first divergence of `after` from `before`, or `None` when `after` still starts with every block
/// of `before` under the same context (`after` may add blocks).
pub fn diff(a: &Chain, b: &Chain) -> Option<Divergence> {
    let n = a.blocks.len();
    let tokens_from = |i: usize| -> (u64, u64) {
        let kept = a.blocks[..i].iter().map(|x| x.tokens).sum();
        let lost = a.blocks[i..].iter().map(|x| x.tokens).sum();
        (kept, lost)
    };
    let make = |index: usize, path: String, section, change, offset, before, after| {
        let (tokens_kept, tokens_lost) = tokens_from(index);
        Divergence {
            index,
            path,
            section,
            change,
            offset,
            before,
            after,
            tokens_kept,
            tokens_lost,
            tokenizer: a.tokenizer.clone(),
        }
    };
    if n == 0 {
        return None;
    }
    if a.model != b.model {
        let (first, section) = (a.blocks[0].path.clone(), a.blocks[0].section);
        return Some(make(
            0,
            first,
            section,
            Change::Model,
            None,
            a.model.clone(),
            b.model.clone(),
        ));
    }
    let block_change = (0..n).find(|&i| i >= b.blocks.len() || key(a, i) != key(b, i));
    let setting_change = context_changes(a, b)
        .into_iter()
        .filter_map(|(change, section, before, after)| {
            let index = a.blocks.iter().position(|x| x.section >= section)?;
            Some((index, change, before, after))
        })
        .min_by_key(|(index, ..)| *index);
    match (block_change, setting_change) {
        (_, Some((index, change, before, after))) if block_change.is_none_or(|c| index <= c) => {
            let block = &a.blocks[index];
            Some(make(
                index,
                block.path.clone(),
                block.section,
                change,
                None,
                before,
                after,
            ))
        }
        (Some(i), _) => Some(content_change(a, b, i, make)),
        _ => None,
    }
}

fn content_change(
    a: &Chain,
    b: &Chain,
    i: usize,
    make: impl Fn(usize, String, Section, Change, Option<usize>, String, String) -> Divergence,
) -> Divergence {
    let (ra, ba) = (&a.raws[i], &a.blocks[i]);
    if i >= b.blocks.len() {
        return make(
            i,
            ba.path.clone(),
            ba.section,
            Change::Removed,
            None,
            excerpt(&ra.fingerprint),
            String::new(),
        );
    }
    let (rb, bb) = (&b.raws[i], &b.blocks[i]);
    let key_a = (ra.section, &ra.header, ba.fingerprint);
    let key_b = (rb.section, &rb.header, bb.fingerprint);
    let a_later = a.raws[i + 1..]
        .iter()
        .zip(&a.blocks[i + 1..])
        .any(|(r, x)| (r.section, &r.header, x.fingerprint) == key_b);
    let b_later = b.raws[i + 1..]
        .iter()
        .zip(&b.blocks[i + 1..])
        .any(|(r, x)| (r.section, &r.header, x.fingerprint) == key_a);
    let (fa, fb) = (excerpt(&ra.fingerprint), excerpt(&rb.fingerprint));
    match (a_later, b_later) {
        (true, true) => make(i, ba.path.clone(), ba.section, Change::Reordered, None, fa, fb),
        (false, true) => make(
            i,
            bb.path.clone(),
            bb.section,
            Change::Inserted,
            None,
            String::new(),
            fb,
        ),
        (true, false) => make(i, ba.path.clone(), ba.section, Change::Removed, None, fa, String::new()),
        (false, false) if ba.fingerprint == bb.fingerprint => {
            // Same block, different message header (the role, or another message member).
            let (ha, hb) = (String::from_utf8_lossy(&ra.header), String::from_utf8_lossy(&rb.header));
            make(
                i,
                ba.path.clone(),
                ba.section,
                Change::Modified,
                None,
                ha.into_owned(),
                hb.into_owned(),
            )
        }
        (false, false) => {
            let (offset, before, after) = match (&ra.text, &rb.text) {
                (Some(ta), Some(tb)) if ba.kind == bb.kind && ta != tb => text_change(ta, tb),
                _ => text_change(
                    &String::from_utf8_lossy(&ra.fingerprint),
                    &String::from_utf8_lossy(&rb.fingerprint),
                ),
            };
            make(
                i,
                ba.path.clone(),
                ba.section,
                Change::Modified,
                Some(offset),
                before,
                after,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefix::{Parsed, RawBlock};

    fn chain(tools: &[&str], texts: &[&str], settings: Settings) -> Chain {
        let mut blocks: Vec<RawBlock> = tools
            .iter()
            .enumerate()
            .map(|(i, t)| RawBlock {
                section: Section::Tools,
                path: format!("tools[{i}]"),
                kind: "tool".into(),
                fingerprint: format!("{{\"name\":\"{t}\"}}").into_bytes(),
                tokens: 100,
                cacheable: true,
                ..RawBlock::default()
            })
            .collect();
        blocks.extend(texts.iter().enumerate().map(|(i, t)| RawBlock {
            section: Section::Messages,
            path: format!("messages[{i}].content[0]"),
            kind: "text".into(),
            header: b"{\"role\":\"user\"}".to_vec(),
            fingerprint: format!("{{\"type\":\"text\",\"text\":\"{t}\"}}").into_bytes(),
            text: Some((*t).to_owned()),
            tokens: 10,
            cacheable: true,
            ..RawBlock::default()
        }));
        let parsed = Parsed {
            model: "claude-sonnet-4-5".into(),
            settings,
            blocks,
            ..Parsed::default()
        };
        Chain::new(parsed, b"", true)
    }

    fn change(a: &Chain, b: &Chain) -> Option<(usize, Change, u64, u64)> {
        diff(a, b).map(|d| (d.index, d.change, d.tokens_kept, d.tokens_lost))
    }

    #[test]
    fn content_changes_are_classified() {
        let base = chain(&["a", "b", "c"], &["x", "y"], Settings::default());
        let same = chain(&["a", "b", "c"], &["x", "y", "z"], Settings::default());
        assert_eq!(change(&base, &base), None);
        assert_eq!(change(&base, &same), None, "appending is not a divergence");
        let edited = chain(&["a", "b", "c"], &["x", "Y"], Settings::default());
        assert_eq!(change(&base, &edited), Some((4, Change::Modified, 310, 10)));
        let inserted = chain(&["a", "n", "b", "c"], &["x", "y"], Settings::default());
        assert_eq!(change(&base, &inserted), Some((1, Change::Inserted, 100, 220)));
        let removed = chain(&["a", "c"], &["x", "y"], Settings::default());
        assert_eq!(change(&base, &removed), Some((1, Change::Removed, 100, 220)));
        let reordered = chain(&["b", "a", "c"], &["x", "y"], Settings::default());
        assert_eq!(change(&base, &reordered), Some((0, Change::Reordered, 0, 320)));
        let truncated = chain(&["a", "b", "c"], &["x"], Settings::default());
        assert_eq!(change(&base, &truncated), Some((4, Change::Removed, 310, 10)));
    }

    #[test]
    fn context_wins_ties_and_the_earliest_block_wins() {
        let base = chain(&["a"], &["x", "y"], Settings::default());
        let any = Settings {
            tool_choice: Some(b"{\"type\":\"any\"}".to_vec()),
            ..Settings::default()
        };
        let d = diff(&base, &chain(&["a"], &["X", "y"], any.clone())).unwrap();
        assert_eq!((d.index, d.change, d.offset), (1, Change::ToolChoice, None));
        assert_eq!((d.before.as_str(), d.after.as_str()), ("absent", "{\"type\":\"any\"}"));
        let d = diff(&base, &chain(&["b"], &["x", "y"], any)).unwrap();
        assert_eq!((d.index, d.change), (0, Change::Modified));
    }

    #[test]
    fn text_changes_widen_to_the_word() {
        let (offset, a, b) = text_change("Today is 2026-11-21. Be brief.", "Today is 2026-11-22. Be brief.");
        assert_eq!(offset, 18);
        assert_eq!((a.as_str(), b.as_str()), ("2026-11-21", "2026-11-22"));
        let (offset, a, b) = text_change("abc", "abcdef");
        assert_eq!((offset, a.as_str(), b.as_str()), (3, "abc", "abcdef"));
        let (_, a, _) = text_change(&"x".repeat(200), &"y".repeat(200));
        assert!(a.ends_with('…') && a.chars().count() == EXCERPT_MAX + 1);
    }

    #[test]
    fn sentences_read_with_thousands_separators() {
        let d = Divergence {
            index: 4,
            path: "system[0]".into(),
            section: Section::System,
            change: Change::Modified,
            offset: Some(1532),
            before: "2026-11-21".into(),
            after: "2026-11-22".into(),
            tokens_kept: 100,
            tokens_lost: 41_200,
            tokenizer: "estimate:classic".into(),
        };
        assert_eq!(
            d.to_string(),
            "system[0] changed at char 1,532 ('2026-11-21' → '2026-11-22'): the 41,200 tokens from there on are \
             no longer a cached prefix"
        );
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }
}
