//! The model table shared by the tokenizer estimate, the simulator and the planner: alias matching and
//! each model's minimum cacheable prompt length. Source: docs/reference/anthropic-prompt-caching.md §3.
//! Prices live in Python package data (`promptkey/data/prices.json`); a test checks the two agree.

/// Which tokenizer a model uses. Claude 4.7 and later use a newer tokenizer that produces roughly 30%
/// more tokens for the same text (pricing docs, quoted in the fact sheet §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenizerFamily {
    Classic,
    Newer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelInfo {
    pub alias: &'static str,
    pub min_tokens: u32,
    pub tokenizer: TokenizerFamily,
}

/// Used when a model is not in the table (with a warning from the caller): the most common minimum.
pub const DEFAULT_MIN_TOKENS: u32 = 1024;

const fn m(alias: &'static str, min_tokens: u32, tokenizer: TokenizerFamily) -> ModelInfo {
    ModelInfo {
        alias,
        min_tokens,
        tokenizer,
    }
}

use TokenizerFamily::{Classic, Newer};

/// Matched exactly after a trailing `-YYYYMMDD` is stripped.
pub static MODELS: &[ModelInfo] = &[
    m("claude-opus-5-5", 512, Newer),
    m("claude-sonnet-5-5", 512, Newer),
    m("claude-haiku-5-5", 512, Newer),
    m("claude-fable-5-1", 512, Newer),
    m("claude-mythos-5-1", 512, Newer),
    m("claude-opus-5", 512, Newer),
    m("claude-fable-5", 512, Newer),
    m("claude-mythos-5", 512, Newer),
    m("claude-opus-4-8", 1024, Newer),
    m("claude-sonnet-5", 1024, Newer),
    m("claude-sonnet-4-6", 1024, Classic),
    m("claude-sonnet-4-5", 1024, Classic),
    m("claude-opus-4-1", 1024, Classic),
    m("claude-opus-4", 1024, Classic),
    m("claude-opus-4-0", 1024, Classic),
    m("claude-sonnet-4", 1024, Classic),
    m("claude-sonnet-4-0", 1024, Classic),
    m("claude-3-7-sonnet", 1024, Classic),
    m("claude-3-5-sonnet", 1024, Classic),
    m("claude-mythos-preview", 2048, Newer),
    m("claude-opus-4-7", 2048, Newer),
    m("claude-opus-4-6", 4096, Classic),
    m("claude-opus-4-5", 4096, Classic),
    m("claude-haiku-4-5", 4096, Classic),
    m("claude-3-5-haiku", 2048, Classic),
    m("claude-3-haiku", 2048, Classic),
];

/// The model name with a trailing `-YYYYMMDD` date removed (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`).
pub fn strip_date(model: &str) -> &str {
    if let Some((head, tail)) = model.rsplit_once('-') {
        if tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit()) {
            return head;
        }
    }
    model
}

pub fn lookup(model: &str) -> Option<&'static ModelInfo> {
    let name = strip_date(model);
    MODELS.iter().find(|info| info.alias == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_names_match_their_alias() {
        assert_eq!(lookup("claude-sonnet-4-5-20250929").unwrap().min_tokens, 1024);
        assert_eq!(lookup("claude-opus-4-5").unwrap().min_tokens, 4096);
        assert_eq!(lookup("claude-3-5-haiku-20241022").unwrap().min_tokens, 2048);
        assert!(lookup("claude-sonnet-4-5-2025").is_none());
        assert!(lookup("gpt-5").is_none());
    }
}
