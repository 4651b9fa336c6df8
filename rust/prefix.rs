//! Prefix digests (DESIGN §2): chaining normalized block fingerprints with the request settings that
//! invalidate each section, resolving the top-level `cache_control`, and the API's breakpoint checks.
//! The walk over Python objects that produces `RawBlock`s is `py_fingerprint.rs`; this file is pure.
//!
//! `d_0 = SHA-256(lp("promptkey-prefix-v1") ‖ lp(model) ‖ lp(salt))`,
//! `d_i = SHA-256(d_{i-1} ‖ lp(context_i) ‖ lp(fingerprint_i))`, where `lp` = 8-byte big-endian length + bytes.

use std::sync::RwLock;

use sha2::{Digest as _, Sha256};

use crate::blocks::{Block, Digest, Marker, RequestBlocks, Section, Ttl};
use crate::errors::Error;
use crate::fingerprint::{len_prefixed, write_str};
use crate::models;

pub const DOMAIN: &str = "promptkey-prefix-v1";

/// A block as the Python walk found it, before chaining.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawBlock {
    pub section: Section,
    pub path: String,
    pub kind: String,
    pub message_index: Option<usize>,
    /// For message blocks, the message's members other than `content` as JSON (`{"role":"user"}`): they
    /// enter the block's context, so consecutive same-role messages chain like one merged turn.
    pub header: Vec<u8>,
    /// The normalized block as JSON bytes (DESIGN §2).
    pub fingerprint: Vec<u8>,
    /// The text of a `text` or `thinking` block, for `diff` offsets. (`path` and `kind` move to the
    /// `Block` once chained.)
    pub text: Option<String>,
    /// The block's own explicit marker.
    pub marker: Option<Ttl>,
    pub cacheable: bool,
    pub tokens: u64,
    /// Images in the block (nested ones in a `tool_result` included).
    pub images: u32,
    /// Whether the block holds a citations-enabled document.
    pub citations: bool,
    /// Bytes of base64 `data` strings in the fingerprint, which the token estimate prices apart.
    pub media_bytes: usize,
}

/// The request settings that enter contexts (DESIGN §2), each already as JSON bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub tool_choice: Option<Vec<u8>>,
    pub thinking: Option<Vec<u8>>,
    pub effort: Option<Vec<u8>>,
    pub speed: Option<Vec<u8>>,
    /// Fingerprints of the server tools (web search/fetch, code execution), in order.
    pub server_tools: Vec<Vec<u8>>,
}

/// Whole-prompt flags derived from the blocks themselves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    pub images: bool,
    pub citations: bool,
}

/// A request walked into its parts.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub model: String,
    pub settings: Settings,
    pub blocks: Vec<RawBlock>,
    pub markers: Vec<Marker>,
    pub top_level: Option<Ttl>,
    pub tokenizer: String,
    /// How many messages the request has (appended messages are numbered after them).
    pub messages: usize,
}

/// Models that render thinking and effort ahead of the system prompt, so that changing them also
/// invalidates system (the docs say "model-specific" without a list; empty by default).
static THINKING_IN_SYSTEM: RwLock<Vec<String>> = RwLock::new(Vec::new());

pub fn set_thinking_in_system_models(models: Vec<String>) {
    *THINKING_IN_SYSTEM
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = models;
}

pub fn thinking_in_system_models() -> Vec<String> {
    THINKING_IN_SYSTEM
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn thinking_in_system(model: &str) -> bool {
    let table = THINKING_IN_SYSTEM
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let name = models::strip_date(model);
    table.iter().any(|m| models::strip_date(m) == name)
}

fn member(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.push(if out.is_empty() { b'{' } else { b',' });
    write_str(out, name);
    out.push(b':');
    out.extend_from_slice(value);
}

/// The settings part of `context_i` for a section: a JSON object of the members that apply, or empty.
pub fn section_context(section: Section, s: &Settings, flags: Flags, thinking_in_system: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if section == Section::Tools {
        return out;
    }
    let messages = section == Section::Messages;
    if let Some(v) = s.tool_choice.as_ref().filter(|_| messages) {
        member(&mut out, "tool_choice", v);
    }
    if messages || thinking_in_system {
        if let Some(v) = &s.thinking {
            member(&mut out, "thinking", v);
        }
        if let Some(v) = &s.effort {
            member(&mut out, "effort", v);
        }
    }
    if messages && flags.images {
        member(&mut out, "images", b"true");
    }
    if let Some(v) = &s.speed {
        member(&mut out, "speed", v);
    }
    if flags.citations {
        member(&mut out, "citations", b"true");
    }
    if !s.server_tools.is_empty() {
        let mut list = vec![b'['];
        for (i, t) in s.server_tools.iter().enumerate() {
            if i > 0 {
                list.push(b',');
            }
            list.extend_from_slice(t);
        }
        list.push(b']');
        member(&mut out, "server_tools", &list);
    }
    if !out.is_empty() {
        out.push(b'}');
    }
    out
}

pub fn d0(model: &str, salt: &[u8]) -> Digest {
    let mut buf = Vec::with_capacity(64 + model.len() + salt.len());
    len_prefixed(&mut buf, DOMAIN.as_bytes());
    len_prefixed(&mut buf, model.as_bytes());
    len_prefixed(&mut buf, salt);
    Sha256::digest(&buf).into()
}

/// One chain step. A message block's context is its section settings, `\n`, then its message header.
pub fn step(prev: &Digest, settings_ctx: &[u8], header: &[u8], fingerprint: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(prev);
    if header.is_empty() {
        h.update((settings_ctx.len() as u64).to_be_bytes());
        h.update(settings_ctx);
    } else {
        h.update(((settings_ctx.len() + 1 + header.len()) as u64).to_be_bytes());
        h.update(settings_ctx);
        h.update(b"\n");
        h.update(header);
    }
    h.update((fingerprint.len() as u64).to_be_bytes());
    h.update(fingerprint);
    h.finalize().into()
}

/// The incremental prefix of one request: `new` chains every block, `append` only the new ones unless a
/// whole-prompt flag flips. `prefix_blocks` is `Chain::new(..).request_blocks()`, so both agree by
/// construction.
#[derive(Clone, Debug)]
pub struct Chain {
    pub model: String,
    pub salt: Vec<u8>,
    pub settings: Settings,
    pub flags: Flags,
    pub thinking_in_system: bool,
    contexts: [Vec<u8>; 3],
    pub raws: Vec<RawBlock>,
    pub blocks: Vec<Block>,
    pub markers: Vec<Marker>,
    pub top_level: Option<Ttl>,
    pub top_level_target: Option<usize>,
    pub tokenizer: String,
    /// Also compute `Block::fingerprint` (an extra SHA-256 pass over every block; the simulator and
    /// `diff` want it, `prefix_blocks` does not).
    pub fingerprint_digests: bool,
    /// How many times `append` had to re-chain the whole prompt.
    pub recomputations: usize,
}

fn flags_of(raws: &[RawBlock]) -> Flags {
    Flags {
        images: raws.iter().any(|b| b.images > 0),
        citations: raws.iter().any(|b| b.citations),
    }
}

impl Chain {
    pub fn new(parsed: Parsed, salt: &[u8], fingerprint_digests: bool) -> Chain {
        let mut chain = Chain {
            thinking_in_system: thinking_in_system(&parsed.model),
            flags: flags_of(&parsed.blocks),
            model: parsed.model,
            salt: salt.to_vec(),
            settings: parsed.settings,
            contexts: Default::default(),
            raws: Vec::new(),
            blocks: Vec::new(),
            markers: parsed.markers,
            top_level: parsed.top_level,
            top_level_target: None,
            tokenizer: parsed.tokenizer,
            fingerprint_digests,
            recomputations: 0,
        };
        chain.refresh_contexts();
        chain.push_blocks(parsed.blocks);
        chain.resolve_top_level();
        chain
    }

    fn refresh_contexts(&mut self) {
        for (i, section) in [Section::Tools, Section::System, Section::Messages]
            .into_iter()
            .enumerate()
        {
            self.contexts[i] = section_context(section, &self.settings, self.flags, self.thinking_in_system);
        }
    }

    /// Room for `additional` more blocks, so the next appends do not move the whole history.
    pub fn reserve(&mut self, additional: usize) {
        self.blocks.reserve(additional);
        self.raws.reserve(additional);
    }

    pub fn context(&self, section: Section) -> &[u8] {
        &self.contexts[section as usize]
    }

    pub fn digest(&self) -> Digest {
        self.blocks
            .last()
            .map_or_else(|| d0(&self.model, &self.salt), |b| b.digest)
    }

    fn push_blocks(&mut self, raws: Vec<RawBlock>) {
        let mut prev = self.digest();
        self.blocks.reserve(raws.len());
        for mut raw in raws {
            let digest = step(&prev, self.context(raw.section), &raw.header, &raw.fingerprint);
            prev = digest;
            self.blocks.push(Block {
                index: self.blocks.len(),
                section: raw.section,
                // The block keeps path and kind; the raw keeps what re-chaining and `diff` need.
                path: std::mem::take(&mut raw.path),
                kind: std::mem::take(&mut raw.kind),
                message_index: raw.message_index,
                tokens: raw.tokens,
                digest,
                fingerprint: if self.fingerprint_digests {
                    Sha256::digest(&raw.fingerprint).into()
                } else {
                    Digest::default()
                },
                breakpoint: raw.marker,
                automatic: false,
                cacheable: raw.cacheable,
            });
            self.raws.push(raw);
        }
    }

    /// Re-chains every block with fresh contexts (a whole-prompt flag flipped).
    fn rechain(&mut self) {
        self.refresh_contexts();
        let mut prev = d0(&self.model, &self.salt);
        for (block, raw) in self.blocks.iter_mut().zip(&self.raws) {
            block.digest = step(
                &prev,
                &self.contexts[raw.section as usize],
                &raw.header,
                &raw.fingerprint,
            );
            prev = block.digest;
        }
        self.recomputations += 1;
    }

    /// Moves the top-level marker to the last cacheable block (DESIGN §3). Over an explicit marker it
    /// changes nothing: a same-TTL one makes it a no-op, a different one is `validate_breakpoints`' 400.
    fn resolve_top_level(&mut self) {
        if let Some(old) = self.top_level_target.take() {
            if self.blocks[old].automatic {
                self.blocks[old].automatic = false;
                self.blocks[old].breakpoint = None;
            }
        }
        let Some(ttl) = self.top_level else { return };
        let Some(target) = self.blocks.iter().rposition(|b| b.cacheable) else {
            return;
        };
        self.top_level_target = Some(target);
        let block = &mut self.blocks[target];
        if block.breakpoint.is_none() {
            block.breakpoint = Some(ttl);
            block.automatic = true;
        }
    }

    /// Appends one message's blocks and markers. Returns true when a whole-prompt context flag (the
    /// first image, the first citations-enabled document) flipped and every block was re-chained.
    pub fn append(&mut self, raws: Vec<RawBlock>, markers: Vec<Marker>) -> bool {
        let before = self.flags;
        let added = flags_of(&raws);
        let flags = Flags {
            images: before.images || added.images,
            citations: before.citations || added.citations,
        };
        let recompute = flags != before;
        self.flags = flags;
        if recompute {
            self.rechain();
        }
        self.markers.extend(markers);
        self.push_blocks(raws);
        self.resolve_top_level();
        recompute
    }

    pub fn request_blocks(&self) -> RequestBlocks {
        RequestBlocks {
            model: self.model.clone(),
            blocks: self.blocks.clone(),
            markers: self.markers.clone(),
            top_level: self.top_level,
            top_level_target: self.top_level_target,
            tokenizer: self.tokenizer.clone(),
        }
    }
}

/// `messages[0].content[4]` → `messages.0.content.4`, the API's spelling of a location.
pub fn api_location(path: &str) -> String {
    path.replace('[', ".").replace(']', "")
}

const TTL_ORDER_NOTE: &str = "Note that blocks are processed in the following order: `tools`, `system`, `messages`.";

/// The API's own 400s for breakpoints, in the order it reports them: markers on blocks that cannot
/// carry one, a top-level marker over a different-TTL one, more than 4 markers, a 1h after a 5m.
pub fn validate_breakpoints(rb: &RequestBlocks) -> Result<(), Error> {
    for m in &rb.markers {
        let Some(block) = m.block.map(|i| &rb.blocks[i]) else {
            continue;
        };
        if block.cacheable || api_location(&block.path) != m.location {
            continue;
        }
        let message = if block.kind == "text" {
            format!("{}.text: cache_control cannot be set for empty text blocks", m.location)
        } else {
            format!("{}: cache_control cannot be set for {} blocks", m.location, block.kind)
        };
        return Err(Error::prompt_cache(message, block.path.clone()));
    }
    let target = rb.top_level.zip(rb.top_level_target);
    // A top-level marker over a same-TTL explicit marker is a no-op; without a target, caching is skipped.
    let explicit_on_target = |i: usize| rb.markers.iter().rev().find(|m| m.block == Some(i));
    let top_counts = match target {
        Some((ttl, i)) => explicit_on_target(i).is_none_or(|m| m.ttl != ttl),
        None => false,
    };
    if let Some((ttl, i)) = target {
        if let Some(m) = explicit_on_target(i) {
            if m.ttl != ttl {
                return Err(Error::prompt_cache(
                    format!(
                        "cache_control.ttl: the top-level cache_control has ttl='{}' but the last cacheable block \
                         ({}) already has a ttl='{}' cache_control; give both the same ttl or remove one",
                        ttl.as_str(),
                        m.location,
                        m.ttl.as_str()
                    ),
                    "cache_control",
                ));
            }
        }
    }
    let found = rb.markers.len() + usize::from(top_counts);
    if found > 4 {
        return Err(Error::prompt_cache(
            format!("A maximum of 4 blocks with cache_control may be provided. Found {found}."),
            "",
        ));
    }
    let mut order: Vec<(Ttl, &str, usize)> = rb.markers.iter().map(|m| (m.ttl, m.location.as_str(), 0)).collect();
    let target_location;
    if let (true, Some((ttl, i))) = (top_counts, target) {
        target_location = api_location(&rb.blocks[i].path);
        order.push((ttl, &target_location, 1));
    }
    let mut seen_5m = false;
    for (ttl, location, automatic) in order {
        match ttl {
            Ttl::FiveMinutes => seen_5m = true,
            Ttl::OneHour if seen_5m => {
                let message = format!(
                    "{location}.cache_control.ttl: a ttl='1h' cache_control block must not come after a ttl='5m' \
                     cache_control block. {TTL_ORDER_NOTE}"
                );
                let path = if automatic == 1 {
                    "cache_control".to_owned()
                } else {
                    location.to_owned()
                };
                return Err(Error::prompt_cache(message, path));
            }
            Ttl::OneHour => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(section: Section, path: &str, kind: &str, fp: &str) -> RawBlock {
        RawBlock {
            section,
            path: path.into(),
            kind: kind.into(),
            fingerprint: fp.as_bytes().to_vec(),
            cacheable: kind != "thinking",
            header: if section == Section::Messages {
                b"{\"role\":\"user\"}".to_vec()
            } else {
                Vec::new()
            },
            tokens: 10,
            ..RawBlock::default()
        }
    }

    fn parsed(blocks: Vec<RawBlock>) -> Parsed {
        Parsed {
            model: "claude-sonnet-4-5".into(),
            blocks,
            ..Parsed::default()
        }
    }

    fn marker(ttl: Ttl, location: &str, block: usize) -> Marker {
        Marker {
            ttl,
            location: location.into(),
            block: Some(block),
        }
    }

    #[test]
    fn appending_equals_building_at_once() {
        let all = vec![
            raw(Section::Tools, "tools[0]", "tool", "{\"name\":\"a\"}"),
            raw(
                Section::Messages,
                "messages[0].content[0]",
                "text",
                "{\"type\":\"text\",\"text\":\"x\"}",
            ),
            raw(
                Section::Messages,
                "messages[1].content[0]",
                "image",
                "{\"type\":\"image\"}",
            ),
        ];
        let mut img = all.clone();
        img[2].images = 1;
        let whole = Chain::new(parsed(img.clone()), b"", true);
        let mut chain = Chain::new(parsed(img[..2].to_vec()), b"", true);
        assert!(
            chain.append(vec![img[2].clone()], Vec::new()),
            "the first image re-chains"
        );
        assert_eq!(chain.request_blocks(), whole.request_blocks());
        assert_eq!(chain.recomputations, 1);
        // Tools are outside the image context; messages are inside it.
        let plain = Chain::new(parsed(all[..2].to_vec()), b"", true);
        assert_eq!(plain.blocks[0].digest, whole.blocks[0].digest);
        assert_ne!(plain.blocks[1].digest, whole.blocks[1].digest);
    }

    #[test]
    fn model_and_salt_seed_the_chain() {
        assert_ne!(d0("claude-sonnet-4-5", b""), d0("claude-sonnet-4-5-20250929", b""));
        assert_ne!(d0("m", b""), d0("m", b"x"));
    }

    #[test]
    fn top_level_marker_walks_back_over_thinking_and_moves_on_append() {
        let mut p = parsed(vec![
            raw(Section::System, "system[0]", "text", "{}"),
            raw(Section::Messages, "messages[0].content[0]", "text", "{}"),
            raw(Section::Messages, "messages[1].content[0]", "thinking", "{}"),
        ]);
        p.top_level = Some(Ttl::FiveMinutes);
        let mut chain = Chain::new(p, b"", false);
        assert_eq!(chain.top_level_target, Some(1));
        assert!(chain.blocks[1].automatic);
        chain.append(
            vec![raw(Section::Messages, "messages[2].content[0]", "text", "{}")],
            Vec::new(),
        );
        assert_eq!(chain.top_level_target, Some(3));
        assert!(!chain.blocks[1].automatic && chain.blocks[1].breakpoint.is_none());
        assert_eq!(chain.blocks[3].breakpoint, Some(Ttl::FiveMinutes));
    }

    fn request(n: usize, markers: Vec<Marker>, top: Option<Ttl>) -> RequestBlocks {
        let blocks: Vec<RawBlock> = (0..n)
            .map(|i| raw(Section::Messages, &format!("messages[0].content[{i}]"), "text", "{}"))
            .collect();
        let mut p = parsed(blocks);
        for m in &markers {
            p.blocks[m.block.unwrap()].marker = Some(m.ttl);
        }
        p.markers = markers;
        p.top_level = top;
        Chain::new(p, b"", false).request_blocks()
    }

    #[test]
    fn five_markers_are_the_apis_400() {
        let five: Vec<Marker> = (0..5)
            .map(|i| marker(Ttl::FiveMinutes, &format!("messages.0.content.{i}"), i))
            .collect();
        let err = validate_breakpoints(&request(6, five.clone(), None)).unwrap_err();
        assert_eq!(
            err.message(),
            "A maximum of 4 blocks with cache_control may be provided. Found 5."
        );
        // Four explicit plus a top-level one on a fifth block: five.
        let err = validate_breakpoints(&request(6, five[..4].to_vec(), Some(Ttl::FiveMinutes))).unwrap_err();
        assert!(err.message().ends_with("Found 5."));
        // ... but over a same-TTL marker on its target it is a no-op.
        let mut four = five[..3].to_vec();
        four.push(marker(Ttl::FiveMinutes, "messages.0.content.5", 5));
        assert!(validate_breakpoints(&request(6, four.clone(), Some(Ttl::FiveMinutes))).is_ok());
        let err = validate_breakpoints(&request(6, four, Some(Ttl::OneHour))).unwrap_err();
        assert!(err
            .message()
            .starts_with("cache_control.ttl: the top-level cache_control has ttl='1h'"));
    }

    #[test]
    fn one_hour_after_five_minutes_is_the_apis_400() {
        let m = vec![
            marker(Ttl::FiveMinutes, "messages.0.content.1", 1),
            marker(Ttl::OneHour, "messages.0.content.4", 4),
        ];
        let err = validate_breakpoints(&request(5, m, None)).unwrap_err();
        assert_eq!(
            err.message(),
            "messages.0.content.4.cache_control.ttl: a ttl='1h' cache_control block must not come after a \
             ttl='5m' cache_control block. Note that blocks are processed in the following order: `tools`, \
             `system`, `messages`."
        );
        let ok = vec![
            marker(Ttl::OneHour, "messages.0.content.1", 1),
            marker(Ttl::FiveMinutes, "x", 4),
        ];
        assert!(validate_breakpoints(&request(5, ok, None)).is_ok());
    }

    #[test]
    fn contexts_hold_only_what_applies() {
        let s = Settings {
            tool_choice: Some(b"{\"type\":\"any\"}".to_vec()),
            speed: Some(b"\"fast\"".to_vec()),
            ..Settings::default()
        };
        assert!(section_context(Section::Tools, &s, Flags::default(), false).is_empty());
        assert_eq!(
            section_context(Section::System, &s, Flags::default(), false),
            b"{\"speed\":\"fast\"}"
        );
        let m = section_context(
            Section::Messages,
            &s,
            Flags {
                images: true,
                citations: false,
            },
            false,
        );
        assert_eq!(
            m,
            b"{\"tool_choice\":{\"type\":\"any\"},\"images\":true,\"speed\":\"fast\"}".to_vec()
        );
    }
}
