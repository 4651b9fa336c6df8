//! The one-line explanations of a simulated read (`PromptCacheSimulator.explain()`), e.g. "expired: last
//! read 412 s ago, TTL 300 s; wrote 6,000 tokens (5m)". Pure formatting of `simulator::BreakpointReport`.

use std::fmt::Write as _;

use crate::blocks::Block;
use crate::simulator::{BreakpointReport, Detail, Reason, LOOKBACK_POSITIONS};

/// `1234567` → `"1,234,567"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn seconds(x: f64) -> String {
    if x >= 10.0 || x.fract() == 0.0 {
        format!("{x:.0} s")
    } else {
        format!("{x:.1} s")
    }
}

/// The one-line explanation of a breakpoint report, e.g. "expired: last read 412 s ago, TTL 300 s".
pub fn sentence(report: &BreakpointReport, blocks: &[Block], model: &str, minimum: u64) -> String {
    let path = |i: usize| blocks.get(i).map_or("?", |b| b.path.as_str());
    let at = |i: usize| {
        if i == report.index {
            String::new()
        } else {
            format!(" at {}", path(i))
        }
    };
    let mut s = match (report.reason, report.detail) {
        (Reason::Hit, Detail::Age { index, seconds: age, ttl, last_was_read }) => format!(
            "hit: read {} tokens through {}{}; last {} {} ago, TTL {}",
            thousands(blocks.get(index).map_or(0, |_| prefix_tokens(blocks, index))),
            path(index),
            if index == report.index { "" } else { " (found by lookback)" },
            if last_was_read { "read" } else { "written" },
            seconds(age),
            seconds(ttl.seconds()),
        ),
        (Reason::Expired, Detail::Age { index, seconds: age, ttl, last_was_read }) => format!(
            "expired: last {} {} ago, TTL {}{}",
            if last_was_read { "read" } else { "written" },
            seconds(age),
            seconds(ttl.seconds()),
            at(index),
        ),
        (Reason::InFlight, Detail::Pending { index, in_seconds }) => format!(
            "in_flight: the entry{} is still being written and becomes readable in {} (entries appear with the first token)",
            at(index),
            seconds(in_seconds),
        ),
        (Reason::OutsideLookback, Detail::Outside { index, positions }) => format!(
            "outside_lookback: {} is cached but {positions} positions back; a read looks back {LOOKBACK_POSITIONS}",
            path(index),
        ),
        (Reason::OtherScope, Detail::Model { .. }) => format!(
            "other_scope: this content is cached for model {} (caches are per model)",
            report.other_model.as_deref().unwrap_or("?")
        ),
        (Reason::OtherScope, Detail::Scope { index }) => {
            format!("other_scope: this prefix{} is cached under another api key (workspace)", at(index))
        }
        (Reason::BelowMinimum, _) => format!(
            "below_minimum: the prefix through {} is {} tokens; {model} caches from {}",
            path(report.index),
            thousands(report.prefix_tokens),
            thousands(minimum),
        ),
        _ => format!("never_written: no entry within the {LOOKBACK_POSITIONS}-position lookback"),
    };
    if report.wrote {
        if report.tokens_written > 0 {
            let _ = write!(
                s,
                "; wrote {} tokens ({})",
                thousands(report.tokens_written),
                report.ttl.as_str()
            );
        } else {
            let _ = write!(
                s,
                "; wrote the {} entry at no charge (inside the read prefix)",
                report.ttl.as_str()
            );
        }
    }
    s
}

fn prefix_tokens(blocks: &[Block], index: usize) -> u64 {
    blocks[..=index].iter().map(|b| b.tokens).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_docs() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(0), "0");
        assert_eq!(seconds(412.4), "412 s");
        assert_eq!(seconds(300.0), "300 s");
        assert_eq!(seconds(1.5), "1.5 s");
    }
}
