//! The breakpoint planner (DESIGN §4): choose at most 4 `cache_control` breakpoints, and 5m or 1h for
//! each, minimizing the expected input cost of one request. Costs are in base-input-token units (one
//! uncached token = 1.0) unless the caller passes prices.
//!
//! Model: block j of the request is reused by the next request with probability `p_j(ttl)`; a prefix
//! is only as reusable as its least stable block, so a breakpoint at block k is read with probability
//! `P_k = min_{j≤k} p_j(ttl_k)`. Hits are nested (a request that reads breakpoint k also reads every
//! earlier one, which it refreshed at least as recently and which has a TTL at least as long), so the
//! A/B/C billing of DESIGN §3 has the expectation
//!
//! ```text
//! Σ_k seg_k · (P_k·read + (1−P_k)·write(ttl_k)) + tail · input
//! ```
//!
//! with `seg_k` the tokens between breakpoint k−1 and k. Within a run of blocks with equal P the cost
//! is linear in where the breakpoint sits, so only the last cacheable block of each run is a candidate,
//! and a small dynamic programme over the candidates finds the optimum exactly.

use crate::blocks::{Block, Section, Ttl};
use crate::simulator::{ends_position, thousands, LOOKBACK_POSITIONS};

/// How often a block's content survives to the next request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reuse {
    /// The probability that the next request finds this block's prefix cached, whatever the TTL.
    Probability(f64),
    /// Content that changes at every multiple of `period` seconds (∞: never; 0: every request).
    Period(f64),
    /// Measured from a trace: the probability under a 5m and under a 1h TTL.
    Learned { five_minutes: f64, one_hour: f64 },
}

pub const NEVER: f64 = f64::INFINITY;
pub const DAILY: f64 = 86_400.0;
pub const HOURLY: f64 = 3_600.0;

/// The probability that a request arriving by a Poisson process of `rate` requests per second finds
/// the prefix cached, when its content changes at every multiple of `period` and the entry lives `ttl`
/// seconds after the last request that touched it. A request at time u after the content last changed
/// hits iff the previous request came less than min(ttl, u) ago:
///     P = (1/T) ∫_0^T (1 − e^{−r·min(ttl,u)}) du
///       = 1 − (1 − e^{−rT}) / (rT)                               when T ≤ ttl,
///       = (1/T) [ttl − (1 − e^{−r·ttl})/r + (T − ttl)(1 − e^{−r·ttl})]   when T > ttl,
/// and 1 − e^{−r·ttl} for content that never changes (T → ∞).
pub fn period_probability(period: f64, rate: f64, ttl: f64) -> f64 {
    if period <= 0.0 || rate <= 0.0 {
        return 0.0;
    }
    let survive = 1.0 - (-rate * ttl).exp();
    if period.is_infinite() {
        return survive;
    }
    if period <= ttl {
        let rt = rate * period;
        return 1.0 - (-(-rt).exp_m1()) / rt;
    }
    (ttl - survive / rate + (period - ttl) * survive) / period
}

impl Reuse {
    pub fn probability(self, rate: f64, ttl: Ttl) -> f64 {
        let p = match self {
            Reuse::Probability(p) => p,
            Reuse::Period(period) => period_probability(period, rate, ttl.seconds()),
            Reuse::Learned { five_minutes, one_hour } => match ttl {
                Ttl::FiveMinutes => five_minutes,
                Ttl::OneHour => one_hour,
            },
        };
        p.clamp(0.0, 1.0)
    }
}

/// Price of one token in each class; `BASE` are the multipliers of base input (reads per model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prices {
    pub input: f64,
    pub read: f64,
    pub write_5m: f64,
    pub write_1h: f64,
}

impl Prices {
    /// Base-input units for `model`: writes 1.25× / 2×, reads 0.1× except where the fact sheet §5
    /// lists a cheaper read (Fable/Mythos 5.1 0.025×, Opus 5.5 and Sonnet 5.5 0.05×).
    pub fn base_units(model: &str) -> Prices {
        let read = match crate::models::strip_date(model) {
            "claude-fable-5-1" | "claude-mythos-5-1" => 0.025,
            "claude-opus-5-5" | "claude-sonnet-5-5" => 0.05,
            _ => 0.1,
        };
        Prices {
            input: 1.0,
            read,
            write_5m: 1.25,
            write_1h: 2.0,
        }
    }
    fn write(&self, ttl: Ttl) -> f64 {
        match ttl {
            Ttl::FiveMinutes => self.write_5m,
            Ttl::OneHour => self.write_1h,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlChoice {
    Auto,
    Fixed(Ttl),
}

#[derive(Clone, Debug)]
pub struct Options {
    pub ttl: TtlChoice,
    /// Requests per second, for `Reuse::Period`.
    pub rate: f64,
    pub max_breakpoints: usize,
    pub minimum: u64,
    pub prices: Prices,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Planned {
    pub index: usize,
    pub ttl: Ttl,
    /// P(the prefix through this breakpoint is cached when a request arrives).
    pub probability: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub breakpoints: Vec<Planned>,
    pub expected_cost: f64,
    /// The first request: every planned segment is written.
    pub cold_cost: f64,
    /// Every planned prefix is cached.
    pub warm_cost: f64,
    /// Without any breakpoint: every token at the input price.
    pub uncached_cost: f64,
    pub warnings: Vec<String>,
}

/// Per-breakpoint choices are scored with this much added cost per breakpoint (and per 1h over 5m) so
/// that, at equal expected cost, the plan uses fewer breakpoints and the cheaper write.
const TIE_BREAK: f64 = 1e-9;

struct Ctx<'a> {
    cumulative: Vec<u64>,
    /// Running minimum of `p_j` for a 5m and a 1h TTL.
    p5: Vec<f64>,
    p1: Vec<f64>,
    opts: &'a Options,
}

impl Ctx<'_> {
    fn p(&self, k: usize, ttl: Ttl) -> f64 {
        match ttl {
            Ttl::FiveMinutes => self.p5[k],
            Ttl::OneHour => self.p1[k],
        }
    }
    fn segment(&self, from: u64, k: usize, ttl: Ttl) -> f64 {
        let p = self.p(k, ttl);
        let price = &self.opts.prices;
        (self.cumulative[k] - from) as f64 * (p * price.read + (1.0 - p) * price.write(ttl))
    }
    /// Expected, cold and warm cost of a breakpoint list (sorted by index).
    fn costs(&self, bps: &[Planned]) -> (f64, f64, f64) {
        let price = &self.opts.prices;
        let (mut expected, mut cold, mut warm, mut level) = (0.0, 0.0, 0.0, 0u64);
        for bp in bps {
            let seg = (self.cumulative[bp.index] - level) as f64;
            expected += self.segment(level, bp.index, bp.ttl);
            cold += seg * price.write(bp.ttl);
            warm += seg * price.read;
            level = self.cumulative[bp.index];
        }
        let tail = (self.cumulative.last().copied().unwrap_or(0) - level) as f64 * price.input;
        (expected + tail, cold + tail, warm + tail)
    }
}

/// Plan breakpoints for `blocks` (tools → system → messages) with `reuse[j]` for block j.
/// `user_messages[i]` says whether message i has role `user` (for the lookback-gap rule).
pub fn plan(blocks: &[Block], reuse: &[Reuse], user_messages: &[bool], opts: &Options) -> Outcome {
    assert_eq!(blocks.len(), reuse.len(), "one reuse entry per block");
    let mut ctx = Ctx {
        cumulative: Vec::with_capacity(blocks.len()),
        p5: Vec::with_capacity(blocks.len()),
        p1: Vec::with_capacity(blocks.len()),
        opts,
    };
    let (mut total, mut m5, mut m1) = (0u64, 1.0f64, 1.0f64);
    for (b, r) in blocks.iter().zip(reuse) {
        total += b.tokens;
        m5 = m5.min(r.probability(opts.rate, Ttl::FiveMinutes));
        m1 = m1.min(r.probability(opts.rate, Ttl::OneHour));
        ctx.cumulative.push(total);
        ctx.p5.push(m5);
        ctx.p1.push(m1);
    }
    // Candidates: the last cacheable block at or above the minimum in each run of equal reuse.
    let mut candidates: Vec<usize> = Vec::new();
    let mut run_end: Option<usize> = None;
    for (k, b) in blocks.iter().enumerate() {
        // Exact equality on purpose: a run is blocks whose running minimum did not move at all.
        #[allow(clippy::float_cmp)]
        let same_run = k > 0 && ctx.p5[k] == ctx.p5[k - 1] && ctx.p1[k] == ctx.p1[k - 1];
        if !same_run {
            candidates.extend(run_end.take());
        }
        if b.cacheable && ctx.cumulative[k] >= opts.minimum && ctx.cumulative[k] > 0 {
            run_end = Some(k);
        }
    }
    candidates.extend(run_end);

    let ttls: &[Ttl] = match opts.ttl {
        TtlChoice::Auto => &[Ttl::OneHour, Ttl::FiveMinutes],
        TtlChoice::Fixed(Ttl::OneHour) => &[Ttl::OneHour],
        TtlChoice::Fixed(Ttl::FiveMinutes) => &[Ttl::FiveMinutes],
    };
    let max = opts.max_breakpoints.min(4);
    let mut best = optimize(&ctx, &candidates, ttls, max, true);
    let mut warnings = Vec::new();
    if ttls.len() == 2 {
        let free = optimize(&ctx, &candidates, ttls, max, false);
        if ctx.costs(&free).0 < ctx.costs(&best).0 - 1e-6 {
            warnings.push(
                "ttl order: a 1h breakpoint would pay after a 5m one, which the API rejects (1h entries must \
                 come first); the plan keeps the allowed order"
                    .to_owned(),
            );
        }
    }
    lookback_gaps(blocks, user_messages, &ctx, &mut best, max, &mut warnings);
    if best.is_empty() && total > 0 && total < opts.minimum {
        warnings.push(format!(
            "below minimum: the whole prompt is {} tokens, under the model's minimum of {}; no breakpoint can cache it",
            thousands(total),
            thousands(opts.minimum)
        ));
    }
    let (expected_cost, cold_cost, warm_cost) = ctx.costs(&best);
    Outcome {
        breakpoints: best,
        expected_cost,
        cold_cost,
        warm_cost,
        uncached_cost: total as f64 * opts.prices.input,
        warnings,
    }
}

/// The cheapest list of at most `max` breakpoints among `candidates`; with `ordered`, no 1h after a 5m.
fn optimize(ctx: &Ctx, candidates: &[usize], ttls: &[Ttl], max: usize, ordered: bool) -> Vec<Planned> {
    let total = ctx.cumulative.last().copied().unwrap_or(0);
    let input = ctx.opts.prices.input;
    // states[(c, t, n)]: best cost of segments through candidate c with TTL t as the n-th breakpoint.
    let nt = ttls.len();
    let idx = |c: usize, t: usize, n: usize| (c * nt + t) * max + (n - 1);
    let mut cost = vec![f64::INFINITY; candidates.len() * nt * max.max(1)];
    let mut back: Vec<Option<usize>> = vec![None; cost.len()];
    let mut best = (total as f64 * input, None);
    for (c, &k) in candidates.iter().enumerate() {
        for (t, &ttl) in ttls.iter().enumerate() {
            // Scaled by the price of the whole prompt so it stays negligible in any unit (tokens or USD).
            let scale = (total as f64 + 1.0) * input.max(f64::MIN_POSITIVE);
            let penalty = TIE_BREAK * (1.0 + f64::from(u8::from(ttl == Ttl::OneHour))) * scale;
            for n in 1..=max {
                let (mut here, mut from) = (f64::INFINITY, None);
                if n == 1 {
                    here = ctx.segment(0, k, ttl) + penalty;
                } else {
                    for (pc, &pk) in candidates[..c].iter().enumerate() {
                        for (pt, &pttl) in ttls.iter().enumerate() {
                            if ordered && pttl < ttl {
                                continue;
                            }
                            let prev = cost[idx(pc, pt, n - 1)];
                            let v = prev + ctx.segment(ctx.cumulative[pk], k, ttl) + penalty;
                            if v < here {
                                (here, from) = (v, Some(idx(pc, pt, n - 1)));
                            }
                        }
                    }
                }
                cost[idx(c, t, n)] = here;
                back[idx(c, t, n)] = from;
                let end = here + (total - ctx.cumulative[k]) as f64 * input;
                if end < best.0 {
                    best = (end, Some(idx(c, t, n)));
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut at = best.1;
    while let Some(state) = at {
        let (c, t) = (state / max / nt, (state / max) % nt);
        let (k, ttl) = (candidates[c], ttls[t]);
        out.push(Planned {
            index: k,
            ttl,
            probability: ctx.p(k, ttl),
        });
        at = back[state];
    }
    out.reverse();
    out
}

/// A read looks back at most 20 positions. In a conversation, the next request's breakpoint sits one
/// turn later than this one's: when a turn spans more positions than that, add a breakpoint where the
/// previous turn's was (if a slot is free), or warn.
fn lookback_gaps(
    blocks: &[Block],
    user_messages: &[bool],
    ctx: &Ctx,
    bps: &mut Vec<Planned>,
    max: usize,
    warnings: &mut Vec<String>,
) {
    let users: Vec<usize> = (0..user_messages.len()).filter(|&i| user_messages[i]).collect();
    let [.., prev_user, last_user] = users[..] else { return };
    let first_block_of = |m: usize| blocks.iter().position(|b| b.message_index == Some(m));
    let (Some(prev_start), Some(last_start)) = (first_block_of(prev_user), first_block_of(last_user)) else {
        return;
    };
    let shift = last_start - prev_start;
    let Some(last) = bps.last().copied() else { return };
    if blocks[last.index].section != Section::Messages || last.index < shift {
        return;
    }
    let target = last.index - shift;
    if bps.iter().any(|b| b.index == target) {
        return;
    }
    let positions = 1 + (target + 1..last.index).filter(|&j| ends_position(blocks, j)).count() + 1;
    if positions <= LOOKBACK_POSITIONS {
        return;
    }
    let usable = blocks[target].cacheable && ctx.cumulative[target] >= ctx.opts.minimum;
    if bps.len() < max && usable && bps.iter().all(|b| b.index < target || b.index == last.index) {
        let planned = Planned {
            index: target,
            ttl: last.ttl,
            probability: ctx.p(target, last.ttl),
        };
        bps.insert(bps.len() - 1, planned);
        warnings.push(format!(
            "lookback gap: a turn adds {} positions, more than the {LOOKBACK_POSITIONS} a read looks back; added a \
             breakpoint at {} where the previous turn's was",
            positions - 1,
            blocks[target].path
        ));
    } else {
        warnings.push(format!(
            "lookback gap: a turn adds {} positions, more than the {LOOKBACK_POSITIONS} a read looks back, and no \
             breakpoint is free for {}; each turn will rewrite the conversation",
            positions - 1,
            blocks[target].path
        ));
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // costs of whole tokens are exact
mod tests {
    use super::*;

    fn block(index: usize, section: Section, message: Option<usize>, tokens: u64) -> Block {
        Block {
            index,
            section,
            path: format!("b{index}"),
            kind: "text".to_owned(),
            message_index: message,
            tokens,
            cacheable: true,
            ..Default::default()
        }
    }

    fn opts(minimum: u64, rate: f64) -> Options {
        Options {
            ttl: TtlChoice::Auto,
            rate,
            max_breakpoints: 4,
            minimum,
            prices: Prices::base_units("claude-sonnet-4-5"),
        }
    }

    #[test]
    fn probabilities_follow_the_formula() {
        // Never-changing content: the previous request must be less than a TTL ago.
        let p = period_probability(NEVER, 1.0 / 600.0, 300.0);
        assert!((p - (1.0 - (-0.5f64).exp())).abs() < 1e-12);
        assert_eq!(period_probability(0.0, 1.0, 300.0), 0.0);
        // Hourly content, 1h TTL, one request a minute: 1 − (1 − e^{−60})/60.
        let p = period_probability(HOURLY, 1.0 / 60.0, 3600.0);
        assert!((p - (1.0 - 1.0 / 60.0)).abs() < 1e-9);
        // A longer TTL and a higher rate never lower the probability.
        for &(t, r) in &[(DAILY, 0.001), (HOURLY, 0.01), (NEVER, 0.0001)] {
            assert!(period_probability(t, r, 3600.0) >= period_probability(t, r, 300.0));
            assert!(period_probability(t, r * 2.0, 300.0) >= period_probability(t, r, 300.0));
        }
    }

    #[test]
    fn four_layers_get_breakpoints_at_the_ends_of_the_stable_ones() {
        let blocks = vec![
            block(0, Section::Tools, None, 1700),
            block(1, Section::System, None, 2000),
            block(2, Section::Messages, Some(0), 5000),
            block(3, Section::Messages, Some(0), 100),
        ];
        let reuse = [
            Reuse::Period(NEVER),
            Reuse::Period(DAILY),
            Reuse::Period(HOURLY),
            Reuse::Period(0.0),
        ];
        let out = plan(&blocks, &reuse, &[true], &opts(1024, 0.02));
        let at: Vec<usize> = out.breakpoints.iter().map(|b| b.index).collect();
        assert_eq!(at, [0, 1, 2]);
        assert!(out.warm_cost < out.expected_cost && out.expected_cost < out.cold_cost);
        assert!(out.expected_cost < out.uncached_cost);
    }

    #[test]
    fn nothing_below_the_minimum_and_nothing_volatile() {
        let blocks = vec![
            block(0, Section::System, None, 500),
            block(1, Section::Messages, Some(0), 100),
        ];
        let out = plan(
            &blocks,
            &[Reuse::Probability(1.0), Reuse::Probability(0.0)],
            &[true],
            &opts(4096, 1.0),
        );
        assert!(out.breakpoints.is_empty());
        assert_eq!(out.expected_cost, 600.0);
        assert!(out.warnings[0].starts_with("below minimum"));
        // Content new on every request is never worth a write.
        let blocks = vec![block(0, Section::System, None, 5000)];
        let out = plan(&blocks, &[Reuse::Probability(0.0)], &[], &opts(1024, 1.0));
        assert!(out.breakpoints.is_empty());
    }

    #[test]
    fn rare_traffic_prefers_one_hour_and_equal_reuse_one_breakpoint() {
        let blocks = vec![
            block(0, Section::Tools, None, 3000),
            block(1, Section::System, None, 3000),
        ];
        let reuse = [Reuse::Period(NEVER), Reuse::Period(NEVER)];
        let out = plan(&blocks, &reuse, &[], &opts(1024, 1.0 / 900.0));
        assert_eq!(out.breakpoints.len(), 1);
        assert_eq!((out.breakpoints[0].index, out.breakpoints[0].ttl), (1, Ttl::OneHour));
        let out = plan(&blocks, &reuse, &[], &opts(1024, 1.0));
        assert_eq!(out.breakpoints[0].ttl, Ttl::FiveMinutes);
    }

    /// Exhaustive search over every valid breakpoint list (≤ max, TTL order) for the cheapest.
    fn brute_force(ctx: &Ctx, n: usize, max: usize) -> f64 {
        let mut best = ctx.costs(&[]).0;
        let usable: Vec<usize> = (0..n).filter(|&k| ctx.cumulative[k] >= ctx.opts.minimum).collect();
        for mask in 1u32..(1 << usable.len()) {
            let chosen: Vec<usize> = (0..usable.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| usable[i])
                .collect();
            if chosen.len() > max {
                continue;
            }
            // TTLs in order: the first `h` breakpoints 1h, the rest 5m.
            for h in 0..=chosen.len() {
                let bps: Vec<Planned> = chosen
                    .iter()
                    .enumerate()
                    .map(|(i, &index)| Planned {
                        index,
                        ttl: if i < h { Ttl::OneHour } else { Ttl::FiveMinutes },
                        probability: 0.0,
                    })
                    .collect();
                best = best.min(ctx.costs(&bps).0);
            }
        }
        best
    }

    #[test]
    fn the_programme_finds_the_optimum() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let frequencies = [
            Reuse::Period(NEVER),
            Reuse::Period(DAILY),
            Reuse::Period(HOURLY),
            Reuse::Period(600.0),
        ];
        for case in 0..300 {
            let n = 1 + usize::try_from(next(9)).unwrap();
            let blocks: Vec<Block> = (0..n)
                .map(|i| block(i, Section::System, None, 50 + next(900)))
                .collect();
            let reuse: Vec<Reuse> = (0..n)
                .map(|_| match next(3) {
                    0 => frequencies[usize::try_from(next(4)).unwrap()],
                    1 => Reuse::Probability(next(101) as f64 / 100.0),
                    _ => Reuse::Probability(1.0),
                })
                .collect();
            let max = usize::try_from(next(5)).unwrap();
            let o = Options {
                max_breakpoints: max,
                ..opts(next(1500), [1.0 / 900.0, 0.01, 1.0][usize::try_from(next(3)).unwrap()])
            };
            let out = plan(&blocks, &reuse, &[], &o);
            assert!(out.breakpoints.len() <= max);
            let ctx = Ctx {
                cumulative: cumulative_of(&blocks),
                p5: running_min(&reuse, o.rate, Ttl::FiveMinutes),
                p1: running_min(&reuse, o.rate, Ttl::OneHour),
                opts: &o,
            };
            let best = brute_force(&ctx, n, max);
            assert!(
                (out.expected_cost - best).abs() <= 1e-6 * best.max(1.0),
                "case {case}: planned {} but {best} is possible",
                out.expected_cost
            );
        }
    }

    fn cumulative_of(blocks: &[Block]) -> Vec<u64> {
        blocks
            .iter()
            .scan(0, |t, b| {
                *t += b.tokens;
                Some(*t)
            })
            .collect()
    }

    fn running_min(reuse: &[Reuse], rate: f64, ttl: Ttl) -> Vec<f64> {
        reuse
            .iter()
            .scan(1.0f64, |m, r| {
                *m = m.min(r.probability(rate, ttl));
                Some(*m)
            })
            .collect()
    }

    #[test]
    fn long_turns_get_an_intermediate_breakpoint() {
        // messages: 0 user (1 block), 1 assistant (30 blocks), 2 user (1 block, new).
        let mut blocks = vec![
            block(0, Section::System, None, 2000),
            block(1, Section::Messages, Some(0), 10),
        ];
        for i in 0..30 {
            blocks.push(block(2 + i, Section::Messages, Some(1), 10));
        }
        blocks.push(block(32, Section::Messages, Some(2), 10));
        let mut reuse = vec![Reuse::Probability(1.0); 33];
        reuse[32] = Reuse::Probability(0.0);
        let out = plan(&blocks, &reuse, &[true, false, true], &opts(1024, 1.0));
        let at: Vec<usize> = out.breakpoints.iter().map(|b| b.index).collect();
        assert_eq!(at, [0, 31]);
        assert!(out.warnings[0].starts_with("lookback gap"), "{:?}", out.warnings);
        let out = plan(
            &blocks,
            &reuse,
            &[true, false, true],
            &Options {
                max_breakpoints: 1,
                ..opts(1024, 1.0)
            },
        );
        assert_eq!(out.breakpoints.len(), 1);
        assert!(out.warnings[0].contains("no breakpoint is free"));
    }
}
