//! Anthropic's prompt-cache rules as one deterministic state machine (DESIGN §3): what a request reads,
//! what it writes, and what `usage` it is billed. Used by the Python `PromptCacheSimulator`, by the
//! planner's tests, by the emulator and by trace replay. Pure Rust: time and token counts come in as
//! numbers, blocks come pre-digested (`blocks.rs`), and breakpoint validation is the caller's
//! (`prefix::validate_breakpoints`) so a replay can validate once and submit many times.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::blocks::{Block, Digest, RequestBlocks, Ttl};
use crate::errors::Error;
use crate::models;

pub use crate::explain::{sentence, thousands};

/// A read looks back over at most this many positions, the breakpoint itself being the first.
pub const LOOKBACK_POSITIONS: usize = 20;

/// Expired entries are kept this long past their expiry so `explain()` can still say "expired";
/// after that they are pruned (every `PRUNE_EVERY` submissions) to bound memory in long replays.
const KEEP_EXPIRED_SECONDS: f64 = 86_400.0;
const PRUNE_EVERY: u64 = 1 << 14;

/// Why a breakpoint's read found what it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Hit,
    NeverWritten,
    Expired,
    BelowMinimum,
    OutsideLookback,
    InFlight,
    OtherScope,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Hit => "hit",
            Reason::NeverWritten => "never_written",
            Reason::Expired => "expired",
            Reason::BelowMinimum => "below_minimum",
            Reason::OutsideLookback => "outside_lookback",
            Reason::InFlight => "in_flight",
            Reason::OtherScope => "other_scope",
        }
    }
}

/// What the sentence of a report needs beyond the reason.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detail {
    None,
    /// The entry found (hit or expired): seconds since its last read or write, its TTL.
    Age {
        index: usize,
        seconds: f64,
        ttl: Ttl,
        last_was_read: bool,
    },
    /// An entry still being written: readable `in_seconds` from now.
    Pending {
        index: usize,
        in_seconds: f64,
    },
    /// A live entry beyond the window, `positions` positions back (the breakpoint counts as 1).
    Outside {
        index: usize,
        positions: usize,
    },
    /// A live entry for the same prefix under another scope (API key / workspace).
    Scope {
        index: usize,
    },
    /// A live entry for the same content under another model of the same API key (caches are per model).
    Model {
        index: usize,
        scope: u32,
    },
}

/// One breakpoint of a submission: what its read found and what it wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakpointReport {
    /// Index of the breakpoint block in tools → system → messages order.
    pub index: usize,
    pub ttl: Ttl,
    pub automatic: bool,
    /// Cumulative tokens of the prefix through the breakpoint block.
    pub prefix_tokens: u64,
    pub reason: Reason,
    /// The block whose entry was read (the breakpoint itself or one within the lookback).
    pub hit_index: Option<usize>,
    pub detail: Detail,
    pub wrote: bool,
    /// The share of `cache_creation_input_tokens` billed for this breakpoint's write.
    pub tokens_written: u64,
    /// For `Detail::Model`: the model whose cache holds this content.
    pub other_model: Option<String>,
}

/// The `usage` input fields Anthropic would bill (output is not simulated).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_5m: u64,
    pub cache_creation_1h: u64,
}

impl Usage {
    pub fn cache_creation_input_tokens(&self) -> u64 {
        self.cache_creation_5m + self.cache_creation_1h
    }
    pub fn total(&self) -> u64 {
        self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    pub usage: Usage,
    pub reports: Vec<BreakpointReport>,
    /// The minimum cacheable prefix used for this request's model.
    pub minimum: u64,
    /// False when the model is not in the table and `minimum` is `DEFAULT_MIN_TOKENS`.
    pub known_model: bool,
}

/// Minimum cacheable prefix per model: a user override (one value for all models, or per model
/// name, matched verbatim then without its date) before the table of `models.rs`.
#[derive(Clone, Debug, Default)]
pub struct MinTokens {
    pub all: Option<u64>,
    pub per_model: HashMap<String, u64>,
}

impl MinTokens {
    /// `(minimum, known)`; `known` is false only when the default had to be guessed.
    pub fn resolve(&self, model: &str) -> (u64, bool) {
        if let Some(&v) = self
            .per_model
            .get(model)
            .or_else(|| self.per_model.get(models::strip_date(model)))
        {
            return (v, true);
        }
        if let Some(v) = self.all {
            return (v, true);
        }
        match models::lookup(model) {
            Some(info) => (u64::from(info.min_tokens), true),
            None => (u64::from(models::DEFAULT_MIN_TOKENS), false),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    ttl: Ttl,
    /// Start time of the request that last wrote or read the entry (the TTL counts from there).
    last_access: f64,
    /// The writing request's first token: before it, concurrent requests cannot read the entry.
    readable_at: f64,
    last_was_read: bool,
}

impl Entry {
    fn alive(&self, now: f64) -> bool {
        now - self.last_access < self.ttl.seconds()
    }
}

/// Digests are SHA-256 outputs, already uniformly distributed: hashing them again is wasted work.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
    }
    // The slice length prefix that `[u8; 32]` hashing writes carries no information.
    fn write_usize(&mut self, _: usize) {}
}

type EntryMap = HashMap<Digest, Vec<(u32, Entry)>, BuildHasherDefault<DigestHasher>>;

/// The cache state of every scope. Entries are keyed by chained digest; each digest holds one
/// entry per scope id, so a miss can tell that the prefix is cached under another scope.
#[derive(Default)]
pub struct Simulator {
    pub min_tokens: MinTokens,
    /// scope (API key / workspace) → model → scope id.
    scopes: HashMap<String, HashMap<String, u32>>,
    /// scope id → (scope, model).
    scope_names: Vec<(String, String)>,
    /// Model-free content key (see `content_key`) → entries with that content, to explain a model switch.
    by_content: HashMap<u64, Vec<(u32, Digest)>>,
    entries: EntryMap,
    submissions: u64,
}

/// A key of the content through block `k` that ignores the model (and the request context): the
/// un-chained fingerprints folded together. Computed only for written breakpoints and for misses.
fn content_key(blocks: &[Block], k: usize) -> u64 {
    blocks[..=k].iter().fold(0xcbf2_9ce4_8422_2325, |acc: u64, b| {
        let word = u64::from_le_bytes(b.fingerprint[..8].try_into().expect("8 bytes"));
        (acc.rotate_left(23) ^ word).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    })
}

fn is_run_kind(kind: &str) -> bool {
    kind == "tool_use" || kind == "tool_result"
}

/// Whether block `j` starts a new lookback position when walking back (false inside a run of
/// `tool_use` or `tool_result` blocks, whose position is checked at the run's last block).
/// The planner counts positions with this too, so the two never disagree on the lookback.
pub(crate) fn ends_position(blocks: &[Block], j: usize) -> bool {
    let kind = blocks[j].kind.as_str();
    !(is_run_kind(kind) && blocks.get(j + 1).is_some_and(|next| next.kind == kind))
}

struct Read {
    reason: Reason,
    hit_index: Option<usize>,
    detail: Detail,
}

impl Simulator {
    pub fn new(min_tokens: MinTokens) -> Self {
        Simulator {
            min_tokens,
            ..Simulator::default()
        }
    }

    /// Number of entries held (live or recently expired), over all scopes.
    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.by_content.clear();
    }

    fn scope_id(&mut self, scope: &str, model: &str) -> u32 {
        if let Some(&id) = self.scopes.get(scope).and_then(|m| m.get(model)) {
            return id;
        }
        let id = u32::try_from(self.scope_names.len()).expect("fewer than 2^32 scopes");
        self.scope_names.push((scope.to_owned(), model.to_owned()));
        self.scopes
            .entry(scope.to_owned())
            .or_default()
            .insert(model.to_owned(), id);
        id
    }

    /// Validate the request's markers as the API does (≤ 4, TTL order, cacheable targets), then
    /// submit it: the entry point for callers holding one request (the emulator).
    pub fn submit(
        &mut self,
        request: &RequestBlocks,
        scope: &str,
        now: f64,
        first_token_after: f64,
    ) -> Result<Submission, Error> {
        crate::prefix::validate_breakpoints(request)?;
        self.submit_blocks(request, scope, now, first_token_after)
    }

    /// Simulate one request submitted at `now` (seconds) whose first token comes
    /// `first_token_after` seconds later. `request` must already be validated (≤ 4 markers, TTL order).
    pub fn submit_blocks(
        &mut self,
        request: &RequestBlocks,
        scope: &str,
        now: f64,
        first_token_after: f64,
    ) -> Result<Submission, Error> {
        if !now.is_finite() {
            return Err(Error::invalid_option(
                format!("clock time must be a finite number, got {now}"),
                "",
            ));
        }
        if !first_token_after.is_finite() || first_token_after < 0.0 {
            return Err(Error::invalid_option(
                format!("first_token_after must be a finite number >= 0, got {first_token_after}"),
                "",
            ));
        }
        let sid = self.scope_id(scope, &request.model);
        let (minimum, known_model) = self.min_tokens.resolve(&request.model);
        let blocks = &request.blocks;
        let mut cumulative = Vec::with_capacity(blocks.len());
        let mut running = 0u64;
        for b in blocks {
            running += b.tokens;
            cumulative.push(running);
        }
        let total = running;

        // Phase 1: every breakpoint reads against the state before this request (it never reads its own writes).
        let mut reports: Vec<BreakpointReport> = Vec::with_capacity(4);
        for (i, b) in blocks.iter().enumerate() {
            let Some(ttl) = b.breakpoint else { continue };
            let read = if cumulative[i] < minimum {
                // Entries exist only at or above the minimum, so nothing shorter can be found either.
                Read {
                    reason: Reason::BelowMinimum,
                    hit_index: None,
                    detail: Detail::None,
                }
            } else {
                self.read(blocks, i, sid, now)
            };
            reports.push(BreakpointReport {
                index: i,
                ttl,
                automatic: b.automatic,
                prefix_tokens: cumulative[i],
                reason: read.reason,
                hit_index: read.hit_index,
                detail: read.detail,
                wrote: false,
                tokens_written: 0,
                other_model: match read.detail {
                    Detail::Model { scope, .. } => Some(self.scope_names[scope as usize].1.clone()),
                    _ => None,
                },
            });
        }

        // Phase 2: bill (A/B/C), refresh what was read, write the rest.
        let read_point = reports
            .iter()
            .filter_map(|r| r.hit_index)
            .map(|h| cumulative[h])
            .max()
            .unwrap_or(0);
        let mut level = read_point;
        let mut usage = Usage {
            cache_read_input_tokens: read_point,
            ..Usage::default()
        };
        for r in &mut reports {
            if let Some(h) = r.hit_index {
                self.touch(&blocks[h].digest, sid, now);
            }
            if r.reason == Reason::BelowMinimum || r.hit_index == Some(r.index) {
                continue;
            }
            // Decision: a breakpoint at or before the read point is written too, at no charge (its
            // tokens are part of the read); the docs' A/B/C formula bills only what lies beyond A.
            r.wrote = true;
            if r.prefix_tokens > level {
                r.tokens_written = r.prefix_tokens - level;
                level = r.prefix_tokens;
                match r.ttl {
                    Ttl::OneHour => usage.cache_creation_1h += r.tokens_written,
                    Ttl::FiveMinutes => usage.cache_creation_5m += r.tokens_written,
                }
            }
            self.write(blocks[r.index].digest, sid, r.ttl, now, now + first_token_after);
            let slots = self.by_content.entry(content_key(blocks, r.index)).or_default();
            if !slots.contains(&(sid, blocks[r.index].digest)) {
                slots.push((sid, blocks[r.index].digest));
            }
        }
        usage.input_tokens = total - level;

        self.submissions += 1;
        if self.submissions.is_multiple_of(PRUNE_EVERY) {
            self.prune(now);
        }
        Ok(Submission {
            usage,
            reports,
            minimum,
            known_model,
        })
    }

    /// Walk back from breakpoint `bp` over at most `LOOKBACK_POSITIONS` positions for a live,
    /// readable entry of this scope; on a miss, say why (the nearest evidence wins).
    fn read(&self, blocks: &[Block], bp: usize, sid: u32, now: f64) -> Read {
        let mut near: Option<(Reason, Detail)> = None;
        let mut other_scope: Option<usize> = None;
        let mut positions = 0usize;
        let mut j = bp + 1;
        while j > 0 {
            j -= 1;
            if j != bp && !ends_position(blocks, j) {
                continue;
            }
            positions += 1;
            for (owner, e) in self.entries.get(&blocks[j].digest).into_iter().flatten() {
                let age = Detail::Age {
                    index: j,
                    seconds: now - e.last_access,
                    ttl: e.ttl,
                    last_was_read: e.last_was_read,
                };
                if *owner != sid {
                    if e.alive(now) {
                        other_scope.get_or_insert(j);
                    }
                } else if !e.alive(now) {
                    near.get_or_insert((Reason::Expired, age));
                } else if now < e.readable_at {
                    let pending = Detail::Pending {
                        index: j,
                        in_seconds: e.readable_at - now,
                    };
                    near.get_or_insert((Reason::InFlight, pending));
                } else {
                    return Read {
                        reason: Reason::Hit,
                        hit_index: Some(j),
                        detail: age,
                    };
                }
            }
            if positions >= LOOKBACK_POSITIONS {
                break;
            }
        }
        let (reason, detail) = match (near, other_scope) {
            (Some(n), _) => n,
            (None, Some(index)) => (Reason::OtherScope, Detail::Scope { index }),
            (None, None) => {
                if let Some(read) = self.other_model(blocks, bp, sid, now) {
                    return read;
                }
                // Nothing inside the window: look further back only to explain the miss.
                return self.outside(blocks, j, positions, sid, now);
            }
        };
        Read {
            reason,
            hit_index: None,
            detail,
        }
    }

    /// The same content cached for another model under the same scope: a model switch.
    fn other_model(&self, blocks: &[Block], bp: usize, sid: u32, now: f64) -> Option<Read> {
        let candidates = self.by_content.get(&content_key(blocks, bp))?;
        let scope = &self.scope_names[sid as usize].0;
        candidates.iter().find_map(|&(owner, digest)| {
            let same_scope = owner != sid && &self.scope_names[owner as usize].0 == scope;
            let live = self
                .entries
                .get(&digest)?
                .iter()
                .any(|(o, e)| *o == owner && e.alive(now));
            (same_scope && live).then_some(Read {
                reason: Reason::OtherScope,
                hit_index: None,
                detail: Detail::Model {
                    index: bp,
                    scope: owner,
                },
            })
        })
    }

    /// The window ended at block `last` after `positions` positions with no evidence: is there a live
    /// entry of this scope further back (the documented "turn 3" miss)?
    fn outside(&self, blocks: &[Block], last: usize, mut positions: usize, sid: u32, now: f64) -> Read {
        let mut j = last;
        while j > 0 {
            j -= 1;
            if !ends_position(blocks, j) {
                continue;
            }
            positions += 1;
            let live = self.entries.get(&blocks[j].digest).is_some_and(|slots| {
                slots
                    .iter()
                    .any(|(owner, e)| *owner == sid && e.alive(now) && now >= e.readable_at)
            });
            if live {
                return Read {
                    reason: Reason::OutsideLookback,
                    hit_index: None,
                    detail: Detail::Outside { index: j, positions },
                };
            }
        }
        Read {
            reason: Reason::NeverWritten,
            hit_index: None,
            detail: Detail::None,
        }
    }

    /// A read refreshes the entry it read; the entry keeps its own TTL (DESIGN §3).
    fn touch(&mut self, digest: &Digest, sid: u32, now: f64) {
        if let Some(slots) = self.entries.get_mut(digest) {
            for (owner, e) in slots.iter_mut() {
                if *owner == sid {
                    e.last_access = e.last_access.max(now);
                    e.last_was_read = true;
                }
            }
        }
    }

    fn write(&mut self, digest: Digest, sid: u32, ttl: Ttl, now: f64, readable_at: f64) {
        let slots = self.entries.entry(digest).or_default();
        let fresh = Entry {
            ttl,
            last_access: now,
            readable_at,
            last_was_read: false,
        };
        match slots.iter_mut().find(|(owner, _)| *owner == sid) {
            // Concurrent writers of a live entry: it becomes readable with the first of them, and
            // keeps the longer TTL (decision; the docs are silent).
            Some((_, e)) if e.alive(now) => {
                e.readable_at = e.readable_at.min(readable_at);
                e.ttl = e.ttl.max(ttl);
                e.last_access = e.last_access.max(now);
                e.last_was_read = false;
            }
            Some((_, e)) => *e = fresh,
            None => slots.push((sid, fresh)),
        }
    }

    fn prune(&mut self, now: f64) {
        self.entries.retain(|_, slots| {
            slots.retain(|(_, e)| now - e.last_access < e.ttl.seconds() + KEEP_EXPIRED_SECONDS);
            !slots.is_empty()
        });
        let entries = &self.entries;
        self.by_content.retain(|_, slots| {
            slots.retain(|(_, digest)| entries.contains_key(digest));
            !slots.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::Section;

    /// A block whose digest stands for the prefix through it: `chain` names the prefix content.
    fn block(index: usize, chain: u64, kind: &str, tokens: u64, bp: Option<Ttl>) -> Block {
        let mut digest = [0u8; 32];
        digest[..8].copy_from_slice(&chain.to_le_bytes());
        digest[8..16].copy_from_slice(&(index as u64).to_le_bytes());
        Block {
            index,
            section: Section::Messages,
            path: format!("messages[{index}].content[0]"),
            kind: kind.to_owned(),
            message_index: Some(index),
            tokens,
            digest,
            breakpoint: bp,
            cacheable: true,
            ..Default::default()
        }
    }

    /// `n` text blocks of `tokens` each sharing content `chain`, with 5m breakpoints at `bps`.
    fn request(n: usize, tokens: u64, bps: &[usize]) -> RequestBlocks {
        RequestBlocks {
            model: "claude-sonnet-4-5".to_owned(),
            blocks: (0..n)
                .map(|i| block(i, 7, "text", tokens, bps.contains(&i).then_some(Ttl::FiveMinutes)))
                .collect(),
            ..Default::default()
        }
    }

    fn sim() -> Simulator {
        Simulator::new(MinTokens::default())
    }

    #[test]
    fn documented_lookback_example() {
        let mut s = sim();
        // Turn 1: 10 blocks, breakpoint at block 10 (index 9) writes.
        let t1 = s.submit_blocks(&request(10, 200, &[9]), "k", 0.0, 0.0).unwrap();
        assert_eq!(t1.reports[0].reason, Reason::NeverWritten);
        assert_eq!(t1.usage.cache_creation_5m, 2000);
        // Turn 2: 15 blocks, reads at 10 and writes 11..15.
        let t2 = s.submit_blocks(&request(15, 200, &[14]), "k", 1.0, 0.0).unwrap();
        assert_eq!(t2.reports[0].reason, Reason::Hit);
        assert_eq!(t2.reports[0].hit_index, Some(9));
        assert_eq!(
            (t2.usage.cache_read_input_tokens, t2.usage.cache_creation_5m),
            (2000, 1000)
        );
        // Turn 3: 35 blocks; 35..16 is the window, block 15 one position outside.
        let t3 = s.submit_blocks(&request(35, 200, &[34]), "k", 2.0, 0.0).unwrap();
        assert_eq!(t3.reports[0].reason, Reason::OutsideLookback);
        assert_eq!(
            t3.reports[0].detail,
            Detail::Outside {
                index: 14,
                positions: 21
            }
        );
        assert_eq!(t3.usage.cache_read_input_tokens, 0);
        assert_eq!(t3.usage.cache_creation_5m, 7000);
        // With 34 blocks, block 15 is the 20th position: a hit.
        let mut s = sim();
        s.submit_blocks(&request(15, 200, &[14]), "k", 0.0, 0.0).unwrap();
        let t = s.submit_blocks(&request(34, 200, &[33]), "k", 1.0, 0.0).unwrap();
        assert_eq!(t.reports[0].hit_index, Some(14));
    }

    #[test]
    fn tool_runs_count_as_one_position() {
        let mut s = sim();
        s.submit_blocks(&request(10, 200, &[9]), "k", 0.0, 0.0).unwrap();
        // 10 text blocks, then 30 tool_use and 30 tool_result blocks (2 positions), then 17 texts:
        // the breakpoint is 1 + 17 + 2 = 20 positions from block 10 counting itself: a hit.
        let mut r = request(10, 200, &[]);
        for i in 10..87 {
            let kind = match i {
                10..40 => "tool_use",
                40..70 => "tool_result",
                _ => "text",
            };
            r.blocks.push(block(i, 7, kind, 10, None));
        }
        r.blocks[86].breakpoint = Some(Ttl::FiveMinutes);
        let t = s.submit_blocks(&r, "k", 1.0, 0.0).unwrap();
        assert_eq!(t.reports[0].hit_index, Some(9));
        // One more text block pushes block 10 out of the window.
        let mut s = sim();
        s.submit_blocks(&request(10, 200, &[9]), "k", 0.0, 0.0).unwrap();
        r.blocks[86].breakpoint = None;
        r.blocks.push(block(87, 7, "text", 10, Some(Ttl::FiveMinutes)));
        let t = s.submit_blocks(&r, "k", 1.0, 0.0).unwrap();
        assert_eq!(t.reports[0].reason, Reason::OutsideLookback);
    }

    #[test]
    fn mixed_ttl_billing_follows_a_b_c() {
        let mut s = sim();
        let mut r = request(6, 1000, &[]);
        r.blocks[1].breakpoint = Some(Ttl::OneHour);
        s.submit_blocks(&r, "k", 0.0, 0.0).unwrap();
        // Now: 1h at block 1 (hit → A = 2000), 1h at block 3 (B = 4000), 5m at 5 (C = 6000).
        r.blocks[3].breakpoint = Some(Ttl::OneHour);
        r.blocks[5].breakpoint = Some(Ttl::FiveMinutes);
        let t = s.submit_blocks(&r, "k", 10.0, 0.0).unwrap();
        assert_eq!(
            t.usage,
            Usage {
                input_tokens: 0,
                cache_read_input_tokens: 2000,
                cache_creation_1h: 2000,
                cache_creation_5m: 2000,
            }
        );
        let written: Vec<u64> = t.reports.iter().map(|r| r.tokens_written).collect();
        assert_eq!(written, [0, 2000, 2000]);
    }

    #[test]
    fn ttl_is_half_open_and_reads_refresh() {
        let mut s = sim();
        let r = request(6, 1000, &[5]);
        s.submit_blocks(&r, "k", 0.0, 0.0).unwrap();
        assert_eq!(
            s.submit_blocks(&r, "k", 299.999, 0.0).unwrap().reports[0].reason,
            Reason::Hit
        );
        // The read at 299.999 refreshed the entry: alive until 599.999 exclusive.
        let t = s.submit_blocks(&r, "k", 599.998, 0.0).unwrap();
        assert_eq!(t.reports[0].reason, Reason::Hit);
        let t = s.submit_blocks(&r, "k", 899.998, 0.0).unwrap();
        assert_eq!(t.reports[0].reason, Reason::Expired);
        let text = sentence(&t.reports[0], &r.blocks, &r.model, t.minimum);
        assert_eq!(text, "expired: last read 300 s ago, TTL 300 s; wrote 6,000 tokens (5m)");
    }

    #[test]
    fn concurrent_writers_all_write_until_the_first_token() {
        let mut s = sim();
        let r = request(6, 1000, &[5]);
        for now in [0.0, 0.5, 1.0] {
            let t = s.submit_blocks(&r, "k", now, 2.0).unwrap();
            assert_eq!(t.usage.cache_creation_5m, 6000, "at {now}");
        }
        assert_eq!(
            s.submit_blocks(&r, "k", 1.5, 2.0).unwrap().reports[0].reason,
            Reason::InFlight
        );
        assert_eq!(
            s.submit_blocks(&r, "k", 2.0, 2.0).unwrap().reports[0].reason,
            Reason::Hit
        );
    }

    #[test]
    fn scopes_and_minimums() {
        let mut s = sim();
        let r = request(6, 1000, &[5]);
        s.submit_blocks(&r, "a", 0.0, 0.0).unwrap();
        let t = s.submit_blocks(&r, "b", 1.0, 0.0).unwrap();
        assert_eq!(t.reports[0].reason, Reason::OtherScope);
        assert_eq!(t.usage.cache_creation_5m, 6000);
        // Below the minimum: nothing cached, nothing raised.
        let mut small = request(3, 300, &[2]);
        small.model = "claude-opus-4-5".to_owned();
        let t = s.submit_blocks(&small, "a", 2.0, 0.0).unwrap();
        assert_eq!((t.minimum, t.reports[0].reason), (4096, Reason::BelowMinimum));
        assert_eq!(t.usage.input_tokens, 900);
        small.model = "unknown-model".to_owned();
        let t = s.submit_blocks(&small, "a", 2.0, 0.0).unwrap();
        assert!(!t.known_model);
        assert_eq!(t.minimum, u64::from(models::DEFAULT_MIN_TOKENS));
        let mut s = Simulator::new(MinTokens {
            all: Some(100),
            ..MinTokens::default()
        });
        let t = s.submit_blocks(&small, "a", 0.0, 0.0).unwrap();
        assert_eq!(t.usage.cache_creation_5m, 900);
    }

    #[test]
    fn bad_times_are_rejected() {
        let mut s = sim();
        let r = request(2, 10, &[]);
        assert!(s.submit_blocks(&r, "k", f64::NAN, 0.0).is_err());
        assert!(s.submit_blocks(&r, "k", 0.0, -1.0).is_err());
    }
}
