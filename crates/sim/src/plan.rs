//! Planning a world: who the businesses are, what they will do and when abuse starts.
//!
//! Everything here is decided once, up front, from the seed: archetypes shuffled over the ids,
//! brands and domains, customer bases, tiers, templates, schedules, reaction parameters and the
//! ground truth. Each business's plan comes from its own random stream, so adding a field to one
//! archetype's plan never reshuffles another's. The plans are small (no per-recipient data), so a
//! world of any volume plans in milliseconds.

use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use spamward_core::time::{DAY, HOUR};
use spamward_core::{Category, Millis, Tier, Timestamp};

use crate::archetype::{Archetype, mix};
use crate::config::WorldConfig;
use crate::rng::{length_in, stream, tag};
use crate::text::{self, corpus};

/// What a business-initiated (or service) message is about: picks the template pool, the
/// category and the way recipients react.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    CheckIn,
    Boarding,
    Gate,
    Delay,
    AirPromo,
    Code,
    Alert,
    BankPromo,
    Promo,
    Cart,
    OrderNew,
    OrderShipped,
    Digest,
    Pushy,
    Sale,
    ShopOrder,
    ShopPromo,
    Spam,
    Phish,
    PhishCode,
    PhishRefund,
    Service,
}

impl Kind {
    /// The pool of patterns a business's templates of this kind are drawn from.
    fn pool(self) -> &'static [&'static str] {
        use Kind::*;
        match self {
            CheckIn => text::AIR_CHECKIN,
            Boarding => text::AIR_BOARDING,
            Gate => text::AIR_GATE,
            Delay => text::AIR_DELAY,
            AirPromo => text::AIR_PROMO,
            Code => text::BANK_CODE,
            Alert => text::BANK_ALERT,
            BankPromo => text::BANK_PROMO,
            Promo => text::RETAIL_PROMO,
            Cart => text::RETAIL_CART,
            OrderNew => text::ORDER_NEW,
            OrderShipped => text::ORDER_SHIPPED,
            Digest => text::DIGEST,
            Pushy => text::PUSHY_PROMO,
            Sale => text::SALE_PROMO,
            ShopOrder => text::SHOP_ORDER,
            ShopPromo => text::SHOP_PROMO,
            Spam => text::SCAM,
            Phish => text::PHISH,
            PhishCode => text::PHISH_CODE,
            PhishRefund => text::PHISH_REFUND,
            Service => text::SERVICE_REPLY,
        }
    }

    /// The category a legitimate sender files this kind under.
    fn category(self) -> Category {
        use Kind::*;
        match self {
            CheckIn | Boarding | Gate | Delay | Alert | OrderNew | OrderShipped | ShopOrder
            | Phish => Category::Utility,
            Code | PhishCode => Category::Authentication,
            Service => Category::Service,
            AirPromo | BankPromo | Promo | Cart | Digest | Pushy | Sale | ShopPromo | Spam
            | PhishRefund => Category::Marketing,
        }
    }
}

/// One approved template of a business.
pub(crate) struct Template {
    pub kind: Kind,
    pub category: Category,
    pub text: String,
}

/// How recipients react to one business's messages. Probabilities of read are per delivered
/// message; block, report, opt-out and reply are per read message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reaction {
    /// Random delivery failure (besides invalid and churned numbers).
    pub fail: f64,
    pub read: f64,
    pub read_median_s: f64,
    pub read_sigma: f64,
    pub reply: f64,
    pub block: f64,
    pub report: f64,
    pub optout: f64,
    pub complain_median_s: f64,
    pub complain_sigma: f64,
}

/// A customer base: `size` recipients spread over the whole population by an affine
/// permutation, so bases of different businesses overlap at random without storing any list.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Base {
    pub size: u32,
    a: u64,
    b: u64,
    n: u64,
}

impl Base {
    fn new<R: Rng>(size: u32, n: u32, rng: &mut R) -> Base {
        let n = u64::from(n);
        let mut a = rng.random_range(1..n.max(2));
        while gcd(a, n) != 1 {
            a = rng.random_range(1..n.max(2));
        }
        Base {
            size: size.clamp(1, n as u32),
            a,
            b: rng.random_range(0..n),
            n,
        }
    }

    /// The `i`-th customer (any `i`; taken modulo the size).
    pub fn get(&self, i: u32) -> u32 {
        let i = u64::from(i % self.size);
        ((self.a * i + self.b) % self.n) as u32
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Archetype-specific schedule knobs.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule {
    /// Hour of day of the newsletter's send, or of a snowshoe group's first active hour.
    pub hour: u32,
    /// Weekly newsletter: weekday (0 = Monday). `None` = daily.
    pub weekday: Option<u32>,
    /// Seasonal retailer: the clock day (days since the epoch) of the sale.
    pub sale_day: Option<u64>,
    /// Seasonal retailer: messages on the sale day.
    pub sale_total: f64,
    /// Snowshoe: active hours of day as a bit mask.
    pub hours: u32,
    /// Share of sends that go to numbers that do not exist.
    pub invalid: f64,
    /// Chance of a marketing campaign on a weekday.
    pub campaign_p: f64,
    /// Compromised account: messages per day during the burst.
    pub burst: f64,
}

/// Everything decided about one business before the run.
pub(crate) struct Plan {
    pub name: String,
    pub archetype: Archetype,
    pub established: bool,
    pub verified: bool,
    pub tier: Tier,
    pub created: Timestamp,
    pub brand: String,
    pub domain: String,
    pub currency: &'static str,
    pub airline: String,
    pub short_share: f64,
    pub scam_domains: Vec<String>,
    pub target: String,
    pub phish_links: Vec<String>,
    pub base: Base,
    /// Main daily rate; its meaning depends on the archetype (trips, codes, messages).
    pub volume: f64,
    /// No message before this.
    pub active_from: Timestamp,
    /// First abusive message (forced to happen exactly then).
    pub abuse_start: Option<Timestamp>,
    /// Self-imposed cap on unique recipients of business-initiated messages per moving 24 h.
    pub limit: Option<u32>,
    pub normal: Reaction,
    /// Reactions to abusive messages (the burst of a compromised account).
    pub abuse: Reaction,
    pub templates: Vec<Template>,
    pub campaign: Option<String>,
    pub schedule: Schedule,
}

impl Plan {
    /// Whether this business honours opt-outs and blocks for a message of `kind`.
    pub fn honours(&self, kind: Kind) -> bool {
        !self.archetype.is_abusive()
            || (self.archetype == Archetype::CompromisedAccount && kind != Kind::Spam)
    }

    /// Whether `kind` is abusive for this business.
    pub fn abusive_kind(&self, kind: Kind) -> bool {
        self.archetype.is_abusive()
            && (self.archetype != Archetype::CompromisedAccount || kind == Kind::Spam)
    }

    /// A random template of `kind`, as an index into `templates`.
    pub fn pick<R: Rng>(&self, kind: Kind, rng: &mut R) -> usize {
        let n = self.templates.iter().filter(|t| t.kind == kind).count();
        debug_assert!(n > 0, "{} has no {kind:?} template", self.name);
        let k = rng.random_range(0..n.max(1));
        self.templates
            .iter()
            .enumerate()
            .filter(|(_, t)| t.kind == kind)
            .nth(k)
            .map_or(0, |(i, _)| i)
    }
}

fn u<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Log-uniform between `lo` and `hi`: many small, a few large.
fn lu<R: Rng>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    (lo.ln() + (hi.ln() - lo.ln()) * rng.random::<f64>()).exp()
}

fn pick<'a, T, R: Rng>(rng: &mut R, list: &'a [T]) -> &'a T {
    &list[rng.random_range(0..list.len())]
}

/// The lowest tier whose limit is at least `need`.
fn tier_for(need: f64, floor: Tier) -> Tier {
    Tier::LADDER
        .into_iter()
        .find(|t| *t >= floor && t.limit().is_none_or(|l| l as f64 >= need))
        .unwrap_or(Tier::Unlimited)
}

/// The plans of every business, indexed by business number − 1.
pub(crate) fn plan_world(cfg: &WorldConfig) -> Vec<Plan> {
    let mut rng = stream(cfg.seed, &[tag(b"world")]);
    let counts = mix(cfg.businesses);
    let mut kinds: Vec<Archetype> = Vec::with_capacity(cfg.businesses);
    for (i, &c) in counts.iter().enumerate() {
        kinds.extend(std::iter::repeat_n(Archetype::ALL[i], c));
    }
    kinds.shuffle(&mut rng);

    // Snowshoe groups: members in id order, cut into groups of 5–15 (as equal as possible).
    let members: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == Archetype::Snowshoe)
        .collect();
    let groups = members.len().div_ceil(10).max(1);
    let mut group_of = vec![usize::MAX; kinds.len()];
    let mut order = members.clone();
    order.shuffle(&mut rng);
    for (k, &m) in order.iter().enumerate() {
        group_of[m] = k * groups / members.len().max(1);
    }

    let brands: Vec<String> = (0..kinds.len())
        .map(|i| brand(kinds[i], &mut stream(cfg.seed, &[tag(b"brand"), i as u64])))
        .collect();
    let known: Vec<&str> = (0..kinds.len())
        .filter(|&i| {
            matches!(
                kinds[i],
                Archetype::Bank | Archetype::Retailer | Archetype::Airline
            )
        })
        .map(|i| brands[i].as_str())
        .collect();

    let group_plans: Vec<Group> = (0..groups)
        .map(|g| Group::new(cfg, &mut stream(cfg.seed, &[tag(b"group"), g as u64])))
        .collect();

    (0..kinds.len())
        .map(|i| {
            let mut rng = stream(cfg.seed, &[tag(b"plan"), i as u64]);
            let group =
                (group_of[i] != usize::MAX).then(|| (group_of[i], &group_plans[group_of[i]]));
            plan_business(cfg, i, kinds[i], brands[i].clone(), &known, group, &mut rng)
        })
        .collect()
}

/// A snowshoe campaign: one text, one category, shared active hours and start.
struct Group {
    text: String,
    from_corpus: bool,
    category: Category,
    hours: u32,
    start: Timestamp,
}

impl Group {
    fn new<R: Rng>(cfg: &WorldConfig, rng: &mut R) -> Group {
        let c = corpus();
        let from_corpus = rng.random_bool(0.5);
        let text = if from_corpus {
            pick(rng, &c.spam).clone()
        } else {
            (*pick(rng, text::SCAM)).to_owned()
        };
        let mut hours = 0u32;
        let n_hours = rng.random_range(5..=8);
        while hours.count_ones() < n_hours {
            hours |= 1 << rng.random_range(8..22);
        }
        let period = u64::from(cfg.days) * DAY;
        let latest = (period / 2)
            .saturating_sub(4 * HOUR)
            .max(Millis::from_millis(1));
        Group {
            text,
            from_corpus,
            category: if rng.random_bool(0.6) {
                Category::Marketing
            } else {
                Category::Utility
            },
            hours,
            start: cfg.start + length_in(rng, Millis::ZERO..latest),
        }
    }
}

fn brand<R: Rng>(a: Archetype, rng: &mut R) -> String {
    let w1 = *pick(rng, text::BRAND_WORDS);
    let w2 = *pick(rng, text::BRAND_WORDS);
    match a {
        Archetype::Airline => format!(
            "{w1}{} {}",
            w2.to_lowercase(),
            pick(rng, &["Air", "Airways", "Airlines", "Jet"])
        ),
        Archetype::Bank => format!(
            "{w1} {}",
            pick(
                rng,
                &["Bank", "Savings Bank", "Credit Union", "Finance", "Bancorp"]
            )
        ),
        Archetype::Newsletter => format!(
            "The {w1} {}",
            pick(
                rng,
                &["Daily", "Weekly", "Digest", "Post", "Brief", "Courier"]
            )
        ),
        Archetype::NewShop => format!(
            "{}'s {}",
            pick(rng, text::FIRST_NAMES),
            pick(
                rng,
                &[
                    "Crafts", "Bakery", "Plants", "Candles", "Tees", "Ceramics", "Vintage", "Soaps"
                ]
            )
        ),
        Archetype::Phisher => String::new(),
        Archetype::ColdListSpammer | Archetype::Snowshoe => format!(
            "{w1} {}",
            pick(
                rng,
                &["Deals", "Rewards", "Offers", "Promotions", "Club", "Direct"]
            )
        ),
        _ => format!(
            "{w1} {w2} {}",
            pick(
                rng,
                &[
                    "Market", "Outlet", "Store", "Boutique", "Goods", "Supply", "& Co", "Home"
                ]
            )
        ),
    }
}

#[allow(clippy::too_many_lines)]
fn plan_business(
    cfg: &WorldConfig,
    i: usize,
    archetype: Archetype,
    brand: String,
    known: &[&str],
    group: Option<(usize, &Group)>,
    rng: &mut ChaCha8Rng,
) -> Plan {
    use Archetype::*;
    let n = cfg.recipients as u32;
    let s = cfg.scale;
    let start = cfg.start;
    let period = u64::from(cfg.days) * DAY;
    let end = start + period;
    // Latest time an abuser may start: leaves at least a couple of hours of activity.
    let latest = |frac: f64| -> Millis {
        Millis::from_millis((period.as_millis() as f64 * frac) as u64)
            .min(period.saturating_sub(3 * HOUR))
            .max(Millis::from_millis(1))
    };
    let cap = |size: f64, frac: f64| -> u32 { size.min(f64::from(n) * frac).max(1.0) as u32 };
    let slug = text::slug(&brand, 2);
    let domain = format!("{slug}.{}", pick(rng, text::LEGIT_TLDS));
    let currency = *pick(rng, &["$", "€", "£"]);
    let mut airline: String = brand
        .chars()
        .filter(char::is_ascii_uppercase)
        .take(2)
        .collect();
    while airline.len() < 2 {
        airline.push(char::from(b'A' + rng.random_range(0..26u8)));
    }

    let legit = Reaction {
        fail: 0.012,
        read: 0.5,
        read_median_s: 1800.0,
        read_sigma: 1.4,
        reply: 0.006,
        block: 0.00045,
        report: 0.00015,
        optout: 0.002,
        complain_median_s: 600.0,
        complain_sigma: 1.3,
    };
    let retail = Reaction {
        read: u(rng, 0.40, 0.60),
        ..legit
    };

    let mut p = Plan {
        name: format!("b-{}", i + 1),
        archetype,
        established: true,
        verified: false,
        tier: Tier::T2k,
        created: start - length_in(rng, 90 * DAY..6 * 365 * DAY),
        brand,
        domain,
        currency,
        airline,
        short_share: 0.0,
        scam_domains: Vec::new(),
        target: String::new(),
        phish_links: Vec::new(),
        base: Base::new(1, n, rng),
        volume: 0.0,
        active_from: start,
        abuse_start: None,
        limit: None,
        normal: retail,
        abuse: retail,
        templates: Vec::new(),
        campaign: None,
        schedule: Schedule::default(),
    };
    let mut kinds: Vec<(Kind, usize)> = Vec::new();

    match archetype {
        Airline => {
            p.verified = true;
            p.base = Base::new(cap(lu(rng, 15_000.0, 80_000.0) * s, 0.4), n, rng);
            p.volume = lu(rng, 500.0, 2_200.0) * s;
            p.tier = tier_for(3.0 * p.volume, Tier::T10k);
            p.normal = Reaction {
                read: u(rng, 0.86, 0.94),
                read_median_s: 240.0,
                read_sigma: 1.1,
                reply: 0.015,
                block: 0.00004,
                report: 0.00001,
                ..legit
            };
            kinds = vec![
                (Kind::CheckIn, 2),
                (Kind::Boarding, 2),
                (Kind::Gate, 2),
                (Kind::Delay, 2),
                (Kind::AirPromo, 1),
            ];
        }
        Bank => {
            p.verified = true;
            p.base = Base::new(cap(lu(rng, 20_000.0, 120_000.0) * s, 0.5), n, rng);
            p.volume = lu(rng, 400.0, 2_500.0) * s;
            p.tier = if rng.random_bool(0.6) {
                tier_for(3.0 * p.volume, Tier::T100k)
            } else {
                Tier::Unlimited
            };
            p.normal = Reaction {
                fail: 0.01,
                read: 0.85,
                read_median_s: 120.0,
                read_sigma: 1.0,
                reply: 0.004,
                block: 0.00002,
                report: 0.00001,
                optout: 0.001,
                ..legit
            };
            kinds = vec![(Kind::Code, 2), (Kind::Alert, 3), (Kind::BankPromo, 1)];
        }
        Retailer | CompromisedAccount => {
            let size = if archetype == Retailer {
                lu(rng, 300.0, 5_000.0)
            } else {
                lu(rng, 1_500.0, 6_000.0)
            };
            p.base = Base::new(cap(size * s, 0.25), n, rng);
            p.verified = archetype == CompromisedAccount || rng.random_bool(0.7);
            p.short_share = if rng.random_bool(0.3) { 0.3 } else { 0.0 };
            let floor = if archetype == Retailer {
                Tier::T2k
            } else {
                Tier::T10k
            };
            let need = if archetype == Retailer {
                f64::from(p.base.size) * u(rng, 0.35, 1.2)
            } else {
                f64::from(p.base.size)
            };
            p.tier = tier_for(need, floor);
            p.schedule.campaign_p = u(rng, 0.3, 0.5);
            kinds = vec![
                (Kind::Promo, rng.random_range(2..=4)),
                (Kind::Cart, 1),
                (Kind::OrderNew, 1),
                (Kind::OrderShipped, 2),
            ];
            if archetype == CompromisedAccount {
                let day = if cfg.days >= 3 {
                    u64::from(rng.random_range(1..=cfg.days - 2))
                } else {
                    u64::from(cfg.days - 1)
                };
                let t = if cfg.days == 1 {
                    start + length_in(rng, 8 * HOUR..18 * HOUR)
                } else {
                    start + day * DAY + length_in(rng, Millis::ZERO..DAY - 3 * HOUR)
                };
                p.abuse_start = Some(t.min(end - 3 * HOUR));
                let normal_daily = f64::from(p.base.size) * (p.schedule.campaign_p * 0.4 + 0.006);
                p.schedule.burst = normal_daily * u(rng, 5.0, 10.0);
                p.scam_domains = (0..rng.random_range(2..=3))
                    .map(|_| text::scam_domain(rng))
                    .collect();
                kinds.push((Kind::Spam, rng.random_range(3..=5)));
                p.abuse = Reaction {
                    fail: 0.02,
                    read: u(rng, 0.35, 0.5),
                    read_median_s: 1200.0,
                    reply: 0.01,
                    block: u(rng, 0.025, 0.05),
                    report: u(rng, 0.015, 0.03),
                    optout: 0.01,
                    complain_median_s: 1800.0,
                    ..legit
                };
            }
        }
        Newsletter => {
            p.verified = rng.random_bool(0.5);
            let daily = rng.random_bool(0.4);
            let size = if daily {
                lu(rng, 300.0, 2_500.0)
            } else {
                lu(rng, 500.0, 4_000.0)
            };
            p.base = Base::new(cap(size * s, 0.25), n, rng);
            p.tier = tier_for(f64::from(p.base.size), Tier::T2k);
            p.schedule.hour = if daily {
                rng.random_range(6..=8)
            } else {
                rng.random_range(9..=11)
            };
            p.schedule.weekday = (!daily).then(|| rng.random_range(0..7));
            p.normal = Reaction {
                read: u(rng, 0.45, 0.70),
                read_median_s: 3600.0,
                reply: 0.002,
                block: 0.0004,
                report: 0.00012,
                optout: 0.001,
                ..legit
            };
            kinds = vec![(Kind::Digest, rng.random_range(1..=2))];
        }
        SeasonalRetailer => {
            p.verified = rng.random_bool(0.7);
            p.base = Base::new(cap(lu(rng, 1_000.0, 6_000.0) * s, 0.25), n, rng);
            p.tier = tier_for(f64::from(p.base.size), Tier::T2k);
            // Steadier than a retailer (small campaigns on most days), so the sale day stands
            // out at 5–10× a normal day rather than against an empty week.
            p.schedule.campaign_p = u(rng, 0.5, 0.7);
            let normal_daily = f64::from(p.base.size) * (p.schedule.campaign_p * 0.175 + 0.006);
            p.schedule.sale_total = normal_daily * u(rng, 5.0, 10.0);
            let day0 = start.since_epoch() / DAY;
            let sale = if cfg.days >= 2 {
                rng.random_range(1..cfg.days)
            } else {
                0
            };
            p.schedule.sale_day = Some(day0 + u64::from(sale));
            p.normal = Reaction {
                read: u(rng, 0.45, 0.60),
                block: 0.00045,
                report: 0.00015,
                ..legit
            };
            kinds = vec![
                (Kind::Promo, 2),
                (Kind::Sale, 3),
                (Kind::Cart, 1),
                (Kind::OrderNew, 1),
                (Kind::OrderShipped, 1),
            ];
        }
        AggressiveMarketer => {
            p.verified = rng.random_bool(0.4);
            p.base = Base::new(cap(lu(rng, 1_000.0, 5_000.0) * s, 0.25), n, rng);
            p.tier = tier_for(f64::from(p.base.size) * u(rng, 0.6, 1.1), Tier::T2k);
            p.short_share = if rng.random_bool(0.5) { 0.4 } else { 0.0 };
            p.normal = Reaction {
                read: u(rng, 0.30, 0.45),
                read_median_s: 2400.0,
                reply: 0.004,
                block: 0.0007,
                report: 0.0003,
                optout: 0.005,
                ..legit
            };
            kinds = vec![
                (Kind::Pushy, rng.random_range(3..=5)),
                (Kind::Promo, 1),
                (Kind::Cart, 1),
                (Kind::OrderNew, 1),
                (Kind::OrderShipped, 1),
            ];
        }
        NewShop => {
            p.established = false;
            p.tier = Tier::T250;
            p.limit = Some(240);
            p.base = Base::new(lu(rng, 150.0, 900.0) as u32, n, rng);
            p.volume = u(rng, 150.0, 220.0);
            p.short_share = if rng.random_bool(0.3) { 0.5 } else { 0.0 };
            p.created = start - length_in(rng, Millis::ZERO..20 * DAY);
            p.active_from = if rng.random_bool(0.4) {
                start + length_in(rng, Millis::ZERO..6 * HOUR)
            } else {
                start + length_in(rng, Millis::ZERO..latest(0.35).min(2 * DAY))
            };
            p.normal = Reaction {
                read: u(rng, 0.6, 0.8),
                read_median_s: 900.0,
                reply: 0.03,
                block: 0.00045,
                report: 0.00015,
                ..legit
            };
            kinds = vec![(Kind::ShopOrder, 2), (Kind::ShopPromo, 2)];
        }
        ColdListSpammer => {
            p.established = rng.random_bool(0.2);
            p.tier = if p.established { Tier::T2k } else { Tier::T250 };
            p.volume = lu(rng, 1_000.0, 4_000.0) * s;
            p.schedule.invalid = u(rng, 0.15, 0.30);
            p.scam_domains = (0..rng.random_range(2..=4))
                .map(|_| text::scam_domain(rng))
                .collect();
            let t = if p.established {
                start + length_in(rng, Millis::ZERO..12 * HOUR)
            } else {
                start + length_in(rng, Millis::ZERO..latest(0.5))
            };
            p.abuse_start = Some(t);
            p.normal = Reaction {
                fail: 0.03,
                read: u(rng, 0.30, 0.50),
                read_median_s: 1200.0,
                reply: 0.01,
                block: u(rng, 0.03, 0.10),
                report: u(rng, 0.01, 0.03),
                optout: 0.015,
                ..legit
            };
            kinds = vec![(Kind::Spam, rng.random_range(4..=7))];
        }
        Phisher => {
            p.established = false;
            p.tier = Tier::T250;
            p.volume = lu(rng, 100.0, 500.0) * s;
            p.abuse_start = Some(start + length_in(rng, Millis::ZERO..latest(0.6)));
            phish_kit(&mut p, known, rng);
            p.normal = Reaction {
                fail: 0.035,
                read: u(rng, 0.55, 0.75),
                read_median_s: 600.0,
                reply: 0.005,
                block: u(rng, 0.015, 0.03),
                report: u(rng, 0.02, 0.045),
                optout: 0.003,
                complain_median_s: 7_200.0,
                complain_sigma: 1.0,
                ..legit
            };
            kinds = vec![
                (Kind::Phish, rng.random_range(2..=3)),
                (Kind::PhishCode, 1),
                (Kind::PhishRefund, 1),
            ];
        }
        Snowshoe => {
            p.established = false;
            p.tier = Tier::T250;
            p.limit = Some(240);
            p.volume = u(rng, 120.0, 230.0);
            p.schedule.invalid = u(rng, 0.02, 0.04);
            p.scam_domains = vec![text::scam_domain(rng)];
            let (g, group) = group.expect("snowshoe members have a group");
            p.campaign = Some(format!("campaign-{}", g + 1));
            p.schedule.hours = group.hours;
            p.abuse_start =
                Some((group.start + length_in(rng, Millis::ZERO..4 * HOUR)).min(end - 3 * HOUR));
            let text = if group.from_corpus {
                text::vary_digits(&group.text, rng)
            } else {
                group.text.clone()
            };
            p.templates.push(Template {
                kind: Kind::Spam,
                category: group.category,
                text,
            });
            p.normal = Reaction {
                fail: 0.025,
                read: u(rng, 0.35, 0.5),
                read_median_s: 1200.0,
                reply: 0.008,
                block: 0.014,
                report: 0.01,
                optout: 0.006,
                complain_median_s: 900.0,
                ..legit
            };
        }
        RecipientFatigue => {
            p.established = rng.random_bool(0.7);
            p.tier = if p.established { Tier::T2k } else { Tier::T250 };
            p.base = Base::new(cap(u(rng, 120.0, 400.0) * s.min(4.0), 0.05), n, rng);
            p.abuse_start = Some(start + length_in(rng, Millis::ZERO..latest(0.15).min(12 * HOUR)));
            p.normal = Reaction {
                read: 0.55,
                read_median_s: 1200.0,
                reply: 0.01,
                block: 0.0005,
                report: 0.0002,
                optout: 0.004,
                ..legit
            };
            kinds = vec![(Kind::Pushy, 2), (Kind::Promo, 2)];
        }
    }
    if !p.established {
        p.verified = false;
    }
    if archetype.is_abusive() && archetype != CompromisedAccount {
        p.abuse = p.normal;
        p.active_from = p.abuse_start.unwrap_or(start);
    }
    if p.brand.is_empty() {
        p.brand = format!("{} Support", p.target);
    }

    let c = corpus();
    for (kind, count) in kinds {
        let pool = kind.pool();
        let mut chosen: Vec<usize> = (0..pool.len()).collect();
        chosen.shuffle(rng);
        for k in 0..count {
            let (text, category) = if kind == Kind::Spam && rng.random_bool(0.5) {
                (pick(rng, &c.spam).clone(), spam_category(rng))
            } else if kind == Kind::Spam {
                (pool[chosen[k % pool.len()]].to_owned(), spam_category(rng))
            } else {
                let category = if kind == Kind::PhishRefund && rng.random_bool(0.5) {
                    Category::Utility
                } else {
                    kind.category()
                };
                (pool[chosen[k % pool.len()]].to_owned(), category)
            };
            p.templates.push(Template {
                kind,
                category,
                text,
            });
        }
    }
    p
}

fn spam_category<R: Rng>(rng: &mut R) -> Category {
    if rng.random_bool(0.7) {
        Category::Marketing
    } else {
        Category::Utility
    }
}

/// Picks who a phisher impersonates and the links it uses.
fn phish_kit<R: Rng + RngCore>(p: &mut Plan, known: &[&str], rng: &mut R) {
    let famous = known.is_empty() || rng.random_bool(0.6);
    let (target, target_slug, mut links) = if famous {
        let (name, domains) = *pick(rng, text::PHISH_TARGETS);
        let slug = text::slug(name, 2);
        let links: Vec<String> = domains.iter().map(|d| format!("https://{d}")).collect();
        (name.to_owned(), slug, links)
    } else {
        let name = (*pick(rng, known)).to_owned();
        let slug = text::slug(&name, 1);
        let look = text::lookalike(&slug, rng);
        let links = vec![format!(
            "https://{look}-{}.{}",
            pick(rng, &["secure", "verify", "login", "account"]),
            pick(rng, &["com", "net", "info"])
        )];
        (name, slug, links)
    };
    // Brand-looking subdomains, shorteners and raw IPs, each for some phishers.
    if rng.random_bool(0.5) {
        links.push(format!(
            "https://{target_slug}.{}-{}.{}",
            pick(rng, &["secure", "account", "login", "com"]),
            pick(rng, text::SCAM_WORDS),
            pick(rng, text::SCAM_TLDS)
        ));
    }
    if rng.random_bool(0.35) {
        links.push((*pick(rng, &["https://bit.ly", "https://tinyurl.com"])).to_owned());
    }
    if rng.random_bool(0.3) {
        links.push(format!(
            "http://{}.{}.{}.{}/{target_slug}",
            rng.random_range(23..223u32),
            rng.random_range(0..256u32),
            rng.random_range(0..256u32),
            rng.random_range(1..255u32)
        ));
    }
    // Keep at most three, in random order.
    links.shuffle(rng);
    links.truncate(3);
    p.target = target;
    p.phish_links = links;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases_are_permutations() {
        let mut rng = stream(1, &[]);
        let b = Base::new(1_000, 1_000, &mut rng);
        let mut seen = std::collections::HashSet::new();
        for i in 0..1_000 {
            assert!(seen.insert(b.get(i)));
        }
        assert!(seen.iter().all(|&r| r < 1_000));
    }

    #[test]
    fn tiers_cover_need() {
        assert_eq!(tier_for(100.0, Tier::T250), Tier::T250);
        assert_eq!(tier_for(300.0, Tier::T250), Tier::T2k);
        assert_eq!(tier_for(300.0, Tier::T10k), Tier::T10k);
        assert_eq!(tier_for(1e9, Tier::T250), Tier::Unlimited);
    }

    #[test]
    fn every_business_has_templates_and_abusers_a_start() {
        let cfg = WorldConfig {
            businesses: 40,
            recipients: 5_000,
            days: 3,
            ..WorldConfig::default()
        };
        for p in plan_world(&cfg) {
            assert!(!p.templates.is_empty(), "{}", p.name);
            assert_eq!(
                p.abuse_start.is_some(),
                p.archetype.is_abusive(),
                "{}",
                p.name
            );
            if let Some(t) = p.abuse_start {
                assert!(t >= cfg.start && t < cfg.end() - HOUR, "{}", p.name);
            }
        }
    }
}
