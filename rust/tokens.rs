//! The default tokenizer: a per-model-family estimate (Claude's tokenizer is not public). It prices a
//! block from its fingerprint JSON, so framing (`{"type":"text","text":`) costs a few tokens the way
//! the API's own block framing does:
//!
//! text units = (ASCII bytes − base64 bytes) / 4 + non-ASCII code points
//! tokens     = ⌈text units × f⌉ + 1,600 per image (+ ⌈decoded base64 bytes / 32⌉ for a block with base64
//!              data and no image, i.e. a PDF), with f = 1.0 (classic) or 1.3 (Claude 4.7 and later, whose
//!              tokenizer yields about 30% more tokens for the same text).
//!
//! Use a real tokenizer (`CountTokens`) when counts must match billing.

use crate::fingerprint::utf8_counts;
use crate::models::{lookup, TokenizerFamily};
use crate::prefix::RawBlock;

/// Tokens of an image at the API's recommended maximum size (about 1.15 megapixels / 750).
pub const IMAGE_TOKENS: u64 = 1600;

/// The family the estimate uses for `model`, and whether the model was known.
pub fn family(model: &str) -> (TokenizerFamily, bool) {
    lookup(model).map_or((TokenizerFamily::Classic, false), |info| (info.tokenizer, true))
}

pub fn label(family: TokenizerFamily) -> &'static str {
    match family {
        TokenizerFamily::Classic => "estimate:classic",
        TokenizerFamily::Newer => "estimate:newer",
    }
}

pub fn estimate(raw: &RawBlock, family: TokenizerFamily) -> u64 {
    let fp = &raw.fingerprint;
    let (high, wide) = utf8_counts(fp); // wide: UTF-8 lead bytes, one per non-ASCII code point
    let ascii = fp.len() - high;
    let units = ascii.saturating_sub(raw.media_bytes) as f64 / 4.0 + wide as f64;
    let factor = match family {
        TokenizerFamily::Classic => 1.0,
        TokenizerFamily::Newer => 1.3,
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // non-negative, far below 2^53
    let text = (units * factor).ceil() as u64;
    let media = if raw.images > 0 {
        IMAGE_TOKENS * u64::from(raw.images)
    } else {
        (raw.media_bytes as u64 * 3 / 4).div_ceil(32)
    };
    text + media
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fp: &str) -> RawBlock {
        RawBlock {
            fingerprint: fp.as_bytes().to_vec(),
            ..RawBlock::default()
        }
    }

    #[test]
    fn ascii_is_four_bytes_per_token_and_wide_chars_one_each() {
        assert_eq!(estimate(&raw("abcdefgh"), TokenizerFamily::Classic), 2);
        assert_eq!(estimate(&raw("日本語"), TokenizerFamily::Classic), 3);
        assert_eq!(estimate(&raw("abcdefghij"), TokenizerFamily::Newer), 4); // 2.5 × 1.3 = 3.25
    }

    #[test]
    fn images_cost_a_fixed_amount_not_their_base64() {
        let mut r = raw(&format!("{{\"data\":\"{}\"}}", "A".repeat(4000)));
        r.media_bytes = 4002;
        r.images = 1;
        assert!(estimate(&r, TokenizerFamily::Classic) < IMAGE_TOKENS + 10);
        r.images = 0;
        assert!(estimate(&r, TokenizerFamily::Classic) >= 4000 * 3 / 4 / 32);
    }

    #[test]
    fn unknown_models_fall_back_to_classic() {
        assert_eq!(family("gpt-5"), (TokenizerFamily::Classic, false));
        assert_eq!(family("claude-opus-4-7"), (TokenizerFamily::Newer, true));
    }
}
