//! The data model of a request's prompt-cache prefix, shared by prefix digests (`prefix.rs`), the
//! simulator (`simulator.rs`) and the planner (`planner.rs`). Pure data: how blocks are found,
//! fingerprinted and chained is `prefix.rs`'s business (DESIGN §2).

pub type Digest = [u8; 32];

/// Sections in the order Anthropic renders (and caches) them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    #[default]
    Tools,
    System,
    Messages,
}

impl Section {
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Tools => "tools",
            Section::System => "system",
            Section::Messages => "messages",
        }
    }
}

/// A `cache_control` TTL. Ordered so that `OneHour > FiveMinutes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ttl {
    FiveMinutes,
    OneHour,
}

impl Ttl {
    pub fn seconds(self) -> f64 {
        match self {
            Ttl::FiveMinutes => 300.0,
            Ttl::OneHour => 3600.0,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Ttl::FiveMinutes => "5m",
            Ttl::OneHour => "1h",
        }
    }
}

/// One block of the prefix: a tool definition, a system content block or a message content block.
/// Build one with `Block { ..Default::default() }` so that fields added later do not break callers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Block {
    /// 0-based position in tools → system → messages order.
    pub index: usize,
    pub section: Section,
    /// `tools[1]`, `system[0]`, `messages[2].content[1]`.
    pub path: String,
    /// The block's `type` (`text`, `image`, `tool_use`, `tool_result`, `thinking`, ...) or `"tool"`.
    pub kind: String,
    /// For message blocks: the index of the message; `None` for tools and system.
    pub message_index: Option<usize>,
    pub tokens: u64,
    /// Chained prefix digest `d_i`: model, salt, every earlier block and its context (DESIGN §2).
    pub digest: Digest,
    /// SHA-256 of this block's fingerprint bytes alone (un-chained), for `diff`.
    pub fingerprint: Digest,
    /// The marker on this block (explicit, or the resolved top-level one).
    pub breakpoint: Option<Ttl>,
    /// True when the marker came from the request's top-level `cache_control`.
    pub automatic: bool,
    /// Whether the block can carry a marker (thinking, redacted thinking and empty text cannot).
    pub cacheable: bool,
}

/// One explicit `cache_control` marker as the request spells it, in tools → system → messages order.
/// Kept apart from `Block::breakpoint` because the API validates markers that are not blocks of their
/// own (a marker inside a `tool_result`'s content, on a server tool) and reports them by location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub ttl: Ttl,
    /// The API's dotted location of the marked object: `messages.0.content.4`, `tools.2`, `system.0`.
    pub location: String,
    /// The block the marker caches up to (for a nested marker, its enclosing block), if any.
    pub block: Option<usize>,
}

/// Everything the simulator and planner need to know about one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestBlocks {
    /// The model name verbatim, as the request gives it.
    pub model: String,
    pub blocks: Vec<Block>,
    /// Every explicit marker, in order (the top-level one is not among them).
    pub markers: Vec<Marker>,
    /// The request's top-level `cache_control` ("automatic caching"), if any.
    pub top_level: Option<Ttl>,
    /// The block the top-level marker resolved to (the last cacheable block), if any.
    pub top_level_target: Option<usize>,
    /// Which tokenizer produced `Block::tokens` (`estimate:classic`, `estimate:newer`, or a callable's name).
    pub tokenizer: String,
}

impl RequestBlocks {
    pub fn total_tokens(&self) -> u64 {
        self.blocks.iter().map(|b| b.tokens).sum()
    }
}
