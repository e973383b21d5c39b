#!/usr/bin/env python3
"""Writes the hand-computed cases: small logs, and for each the verdicts worked out from the
README's definitions (Signals and reason codes, Verdicts and reports, Policy keys) and the
default policy, not from spamward's code. tests/hand.rs checks every front-end against them
byte for byte, with content signals off (these cases are about the other signals; content
values come from a trained model and cannot be worked out by hand).

Each case's derivation is in its function's docstring. When a definition in the README changes,
change the derivation here, run `python3 tests/hand/make.py` (it needs mpmath: `pip install
mpmath`), and commit the files with a message that says which definition changed and why. The
tests read only the files; they never run this script.

Conventions of the verdict lines (README, Verdicts and reports): one per message in log order;
`score` is the noisy-or of the reasons' weights, `1 - prod(1 - w)`, shown to 6 significant
digits; reasons in the fixed order of the signal table; a reason carries `signal`, `value`,
`threshold` and, for windowed signals, `window`. `opted_out` reads value 1 against threshold 1
(README, Signals and reason codes).

Business-level signals (rates, the burst) are read when the business's standing is re-evaluated:
after feedback and delivery events, every minute of event time and every few messages (README,
Status). The cases pin the evaluation a verdict rests on: the event before the message is one that
re-evaluates (a block, a failed receipt, or a reply, which moves no rate), and the message follows
it within the minute, as the first message after it, so the message itself does not re-evaluate.
Delivered receipts and reads (which the README's words would also have re-evaluate)
are placed where whether they re-evaluate changes no verdict and no status change.
"""
import json
import os

# The Beta distribution's tail (and the Poisson tail, as the incomplete gamma), from mpmath: an
# implementation of its own, not statrs, which spamward uses.
from mpmath import betainc, gammainc, mp

mp.dps = 30

T0 = 1_793_577_600_000  # 2026-11-01 00:00 UTC
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
LONG_AGO = 1_700_000_000_000  # created 2023: established, not young

# Default weights and actions (data/policy.toml). ACTION is what a signal does to the message
# itself: business-level signals act through the business's status instead (below, RATE), so their
# entry here is "none".
WEIGHT = {
    "complaint_rate_24h": 0.6,
    "complaint_rate_7d": 0.6,
    "complaint_warn_7d": 0.1,
    "opt_out_rate_24h": 0.2,
    "invalid_number_rate_24h": 0.5,
    "invalid_number_rate_7d": 0.4,
    "failed_delivery_rate_24h": 0.2,
    "low_read_rate_7d": 0.1,
    "volume_burst_1h": 0.3,
    "recipient_frequency_24h": 0.3,
    "opted_out": 0.5,
    "tier_limit_24h": 0.1,
    "new_business_ramp_1h": 0.1,
    "recipient_fatigue_24h": 0.1,
}
ACTION = {
    "complaint_rate_24h": "none",
    "complaint_rate_7d": "none",
    "complaint_warn_7d": "none",
    "opt_out_rate_24h": "none",
    "invalid_number_rate_24h": "none",
    "invalid_number_rate_7d": "none",
    "failed_delivery_rate_24h": "none",
    "low_read_rate_7d": "none",
    "volume_burst_1h": "none",
    "recipient_frequency_24h": "none",
    "opted_out": "block",
    "tier_limit_24h": "throttle",
    "new_business_ramp_1h": "throttle",
    "recipient_fatigue_24h": "throttle",
}
# The signal table's order (README).
ORDER = ["complaint_rate_24h", "complaint_rate_7d", "complaint_warn_7d", "opt_out_rate_24h",
         "invalid_number_rate_24h", "invalid_number_rate_7d", "failed_delivery_rate_24h",
         "low_read_rate_7d", "volume_burst_1h", "recipient_frequency_24h", "opted_out",
         "tier_limit_24h", "new_business_ramp_1h", "recipient_fatigue_24h"]
# The rate rules (README, "Defaults of the rate rules"): threshold, confidence, min_count,
# prior_rate, prior_strength, and what a hit does to the business: (action, escalate_confidence,
# escalate_action).
RATE = {
    "complaint_rate_24h": (0.003, 0.95, 3, 0.001, 1000, ("throttle", 0.99, "suspend")),
    "complaint_rate_7d": (0.003, 0.95, 3, 0.001, 1000, ("throttle", 0.99, "suspend")),
    "complaint_warn_7d": (0.001, 0.95, 3, 0.001, 1000, ("none", None, None)),
    "invalid_number_rate_24h": (0.05, 0.99, 10, 0.01, 100, ("suspend", None, None)),
    "invalid_number_rate_7d": (0.015, 0.95, 10, 0.005, 200, ("throttle", 0.99, "suspend")),
    "failed_delivery_rate_24h": (0.1, 0.99, 20, 0.02, 100, ("throttle", None, None)),
    "low_read_rate_7d": (0.1, 0.99, 200, 0.5, 20, ("none", None, None)),
}
WINDOW = {"complaint_rate_24h": "24h", "complaint_rate_7d": "7d", "complaint_warn_7d": "7d",
          "invalid_number_rate_24h": "24h", "invalid_number_rate_7d": "7d",
          "failed_delivery_rate_24h": "24h", "low_read_rate_7d": "7d"}
SEVERITY = ["allow", "throttle", "hold", "block"]
SUSPEND_HOURS = 168  # status.suspend_hours


def business(ts, b, tier, verified=True, created=LONG_AGO):
    return {"type": "business", "ts": ts, "business": b, "tier": tier,
            "verified": verified, "created": created}


def message(ts, mid, b, r, category, text="Hello"):
    return {"type": "message", "id": mid, "ts": ts, "business": b, "recipient": r,
            "category": category, "text": text}


def feedback(ts, b, r, kind, mid=None):
    e = {"type": "feedback", "ts": ts, "business": b, "recipient": r, "kind": kind}
    if mid is not None:
        e["message"] = mid
    return e


def sig6(x):
    return float(f"{x:.6g}")


def reason(signal, value, threshold, window=None, probability=None):
    r = {"signal": signal, "value": sig6(value), "threshold": float(threshold)}
    if window is not None:
        r["window"] = window
    if probability is not None:
        r["probability"] = sig6(probability)
    return r


def beyond(count, of, threshold, prior_rate, prior_strength):
    """P(rate > threshold) on the Beta posterior: the prior Beta(prior_rate * strength,
    (1 - prior_rate) * strength) updated with `count` of `of`."""
    a = prior_rate * prior_strength + count
    b = (1 - prior_rate) * prior_strength + of - count
    return float(1 - betainc(a, b, 0, threshold, regularized=True))


def delivery(ts, b, r, mid, status, error=None):
    e = {"type": "delivery", "ts": ts, "business": b, "recipient": r, "message": mid,
         "status": status}
    if error is not None:
        e["error"] = error
    return e


def under(count, of, threshold, prior_rate, prior_strength):
    """P(rate < threshold) on the same posterior (`low_read_rate_7d` is judged below its line)."""
    a = prior_rate * prior_strength + count
    b = (1 - prior_rate) * prior_strength + of - count
    return float(betainc(a, b, 0, threshold, regularized=True))


def rate_hit(signal, count, of):
    """A rate rule's reading on `count` of `of` (README, Signals and reason codes; the rule's
    defaults from the README's table): (reason if it fires, probability, what it does to the
    business). It may fire once `count` reaches `min_count` (`of` for the read rate, which counts
    deliveries) and fires when the posterior probability of being beyond the line reaches the
    confidence; the action escalates at `escalate_confidence`."""
    threshold, confidence, min_count, prior_rate, strength, (action, esc, esc_action) = RATE[signal]
    if signal == "low_read_rate_7d":
        ready = of >= min_count
        p = under(count, of, threshold, prior_rate, strength)
    else:
        ready = count >= min_count and of > 0
        p = beyond(count, of, threshold, prior_rate, strength)
    if not (ready and p >= confidence):
        return None, p, "none"
    if esc is not None and p >= esc:
        action = esc_action
    return reason(signal, count / of, threshold, WINDOW[signal], p), p, action


def status_of(actions):
    """The status the business-level hits ask for: the most severe of their actions (README,
    Status)."""
    order = ["none", "throttle", "suspend"]
    worst = max(actions, key=order.index, default="none")
    return {"none": "active", "throttle": "throttled", "suspend": "suspended"}[worst]


def in_window(ts, now, span):
    """Whether an event at `ts` is inside the window of length `span` at `now`: a window is 60
    buckets of span/60 and covers the bucket of `now` and the 59 before it (README, Signals and
    reason codes)."""
    width = span // 60
    return now // width - 59 <= ts // width <= now // width


def poisson_tail(lam, k):
    """P(X >= k) for X ~ Poisson(lam): the regularized lower incomplete gamma P(k, lam)."""
    return float(gammainc(k, 0, lam, regularized=True))


def sends_allowed(events, verdicts, b, n):
    """Business `b` sends utility messages m-1..m-n to r-1..r-n, one a minute from T0 + 1 min,
    each allowed with no reason."""
    for i in range(1, n + 1):
        events.append(message(T0 + i * MIN, f"m-{i}", b, f"r-{i}", "utility"))
        verdicts.append(verdict(f"m-{i}", b))


def verdict(mid, b, reasons=(), status="active"):
    reasons = sorted(reasons, key=lambda r: ORDER.index(r["signal"]))
    keep = 1.0
    for r in reasons:
        keep *= 1.0 - WEIGHT[r["signal"]]
    score = sig6(1.0 - keep) if reasons else 0.0
    # The business's status acts on every message (throttled: throttle; suspended: block).
    action = {"active": "allow", "throttled": "throttle", "suspended": "block"}[status]
    for r in reasons:
        a = ACTION[r["signal"]]
        if a != "none" and SEVERITY.index(a) > SEVERITY.index(action):
            action = a
    # Score lines (score.hold 0.7, score.block 0.95).
    if score >= 0.95:
        action = "block"
    elif score >= 0.7 and SEVERITY.index(action) < SEVERITY.index("hold"):
        action = "hold"
    return {"message": mid, "business": b, "action": action, "score": score,
            "reasons": list(reasons)}


class Standing:
    """A business's status (README, Status): at each re-evaluation it takes the status its
    business-level hits ask for, unless it is suspended and the suspension is younger than
    `status.suspend_hours`. A status change records the business's clock ("now": its latest event
    time), the event that tipped it, and the acting reasons; a suspended business's messages carry
    the hits standing now and, once each, the reasons it was suspended for."""

    def __init__(self, business):
        self.business = business
        self.status = "active"
        self.since = None
        self.hits = []
        self.status_reasons = []
        self.changes = []

    def evaluate(self, now, hits, trigger):
        """`hits`: (reason, action on the business) of each business-level signal firing."""
        target = status_of([a for _, a in hits])
        held = self.status == "suspended" and now - self.since < SUSPEND_HOURS * HOUR
        if target != self.status and not held:
            self.changes.append({"business": self.business, "ts": now, "from": self.status,
                                 "to": target, "trigger": trigger})
            self.status, self.since = target, now
            self.status_reasons = [r for r, a in hits if a != "none"]
        self.hits = [r for r, _ in hits]

    def verdict(self, mid, message_reasons=()):
        reasons = list(self.hits)
        if self.status == "suspended":
            standing = {r["signal"] for r in reasons}
            reasons += [r for r in self.status_reasons if r["signal"] not in standing]
        return verdict(mid, self.business, reasons + list(message_reasons), self.status)


def ramp():
    """A business created at T0 (young: under `new_business_ramp_1h.hours` = 72) sends 62
    messages to 62 recipients, one a second. The ramp counts its messages in the last hour, this
    one included, and fires over `per_hour` = 60: messages 61 and 62 are throttled (value 61 and
    62, threshold 60, window 1h, weight 0.1, so score 0.1). Two hours later the hour holds one
    message: allowed. 63 recipients stay under the 250 tier."""
    b = "b-new"
    events = [business(T0, b, "250", verified=False, created=T0)]
    verdicts = []
    for i in range(1, 63):
        events.append(message(T0 + i * 1000, f"m-{i}", b, f"r-{i}", "utility"))
        reasons = [reason("new_business_ramp_1h", i, 60, "1h")] if i > 60 else []
        verdicts.append(verdict(f"m-{i}", b, reasons))
    events.append(message(T0 + 2 * HOUR, "m-63", b, "r-63", "utility"))
    verdicts.append(verdict("m-63", b))
    return events, verdicts


def tier_limit():
    """An established business on the 250 tier messages 250 recipients, one a minute. Message
    251 goes to a new recipient when the unique recipients of its allowed business-initiated
    messages in the moving 24 h already reach 250: `tier_limit_24h` (value 250, the recipients
    counted; threshold 250, the tier's limit; window 24h; throttle, weight 0.1). The throttled
    message does not count. Message 252 goes to a recipient already counted: allowed. A day
    after the last of them (29 h after T0) no recipient is left in the window, and a new one is
    allowed."""
    b = "b-air"
    events = [business(T0, b, "250")]
    verdicts = []
    sends_allowed(events, verdicts, b, 250)
    events.append(message(T0 + 251 * MIN, "m-251", b, "r-251", "utility"))
    verdicts.append(verdict("m-251", b, [reason("tier_limit_24h", 250, 250, "24h")]))
    events.append(message(T0 + 252 * MIN, "m-252", b, "r-1", "utility"))
    verdicts.append(verdict("m-252", b))
    events.append(message(T0 + 29 * HOUR, "m-253", b, "r-252", "utility"))
    verdicts.append(verdict("m-253", b))
    return events, verdicts


def opt_out():
    """A recipient opts out of a business after its first marketing message. The next marketing
    message to them is blocked (`opted_out`, always: value 1, threshold 1; block, weight 0.5,
    score 0.5); a utility message is not marketing and is allowed. Once they reply, marketing is
    allowed again. One opt-out among one recipient is under `opt_out_rate_24h`'s `min_count`
    (5), so the business stays active."""
    b = "b-shop"
    events = [
        business(T0, b, "2k"),
        message(T0 + 1000, "m-1", b, "r-1", "marketing"),
        feedback(T0 + 2000, b, "r-1", "opt_out", "m-1"),
        message(T0 + 3000, "m-2", b, "r-1", "marketing"),
        message(T0 + 4000, "m-3", b, "r-1", "utility"),
        feedback(T0 + 5000, b, "r-1", "reply"),
        message(T0 + 6000, "m-4", b, "r-1", "marketing"),
    ]
    verdicts = [
        verdict("m-1", b),
        verdict("m-2", b, [reason("opted_out", 1, 1)]),
        verdict("m-3", b),
        verdict("m-4", b),
    ]
    return events, verdicts


def fatigue():
    """Twelve established businesses each send one marketing message to the same recipient, a
    minute apart. `recipient_fatigue_24h` counts the marketing messages the recipient got from
    all businesses in (ts - 24 h, ts], this one included, up to `cap` + 1 (the sends remembered
    per recipient), and fires over `cap` = 10: the 11th is throttled (value 11, threshold 10,
    window 24h, weight 0.1). The recipient opted out of the 12th business beforehand, so its
    message carries `opted_out` too: block (the most severe action), score
    1 - (1 - 0.5)(1 - 0.1) = 0.55; its count is 12, shown as 11, the cap + 1. A day after the 12th, the first business's
    next marketing message is the only one in its 24 h: allowed."""
    events, verdicts = [], []
    for k in range(1, 13):
        events.append(business(T0, f"b-f{k}", "2k"))
    events.append(feedback(T0 + 11 * MIN + 30_000, "b-f12", "r-1", "opt_out"))
    for k in range(1, 13):
        b, mid = f"b-f{k}", f"m-f{k}"
        events.append(message(T0 + k * MIN, mid, b, "r-1", "marketing"))
        reasons = [reason("recipient_fatigue_24h", min(k, 11), 10, "24h")] if k > 10 else []
        if k == 12:
            reasons.append(reason("opted_out", 1, 1))
        verdicts.append(verdict(mid, b, reasons))
    events.sort(key=lambda e: e["ts"])
    events.append(message(T0 + 13 * MIN + DAY, "m-f13", "b-f1", "r-1", "marketing"))
    verdicts.append(verdict("m-f13", "b-f1"))
    return events, verdicts


def complaints():
    """An established business (prior Beta(1, 999): `prior_rate` 0.001, `prior_strength` 1000)
    messages 100 recipients, one a minute. Then, a minute apart, recipient j blocks it and it
    messages a new recipient, for j = 1..10. At its j-th such message the 24 h and 7 d windows
    hold j complaints among 100 + j - 1 unique recipients (the message itself not yet counted):
    value j / (99 + j), and the posterior P(rate > threshold) from Beta(1 + j, 999 + 99 + j - j).

    - `complaint_warn_7d` (threshold 0.001, confidence 0.95, after 3 complaints, weight 0.1,
      acts on quality only) fires from j = 3.
    - `complaint_rate_24h` and `complaint_rate_7d` (threshold 0.003, confidence 0.95, weight 0.6
      each) fire once P >= 0.95, from j = 7: the status is re-evaluated at the block, and the
      business is throttled; the message's score is 1 - 0.4 * 0.4 * 0.9 = 0.856, at or above
      `score.hold` (0.7), so it is held (more severe than the status's throttle).
    - Once P >= `escalate_confidence` (0.99), from j = 8, the business is suspended at the block
      and its messages are blocked.
    The status changes are those two, each triggered by the block that tipped it, with the
    reasons that act (the two complaint rates)."""
    b = "b-bank"
    events = [business(T0, b, "2k")]
    verdicts, changes = [], []
    sends_allowed(events, verdicts, b, 100)
    status = "active"
    for j in range(1, 11):
        ts = T0 + (100 + j) * MIN
        events.append(feedback(ts, b, f"r-{j}", "block", f"m-{j}"))
        n = 99 + j
        rate = j / n
        warn = beyond(j, n, 0.001, 0.001, 1000)
        hit = beyond(j, n, 0.003, 0.001, 1000)
        reasons = []
        acting = []
        if j >= 3 and hit >= 0.95:
            acting = [reason("complaint_rate_24h", rate, 0.003, "24h", hit),
                      reason("complaint_rate_7d", rate, 0.003, "7d", hit)]
        if j >= 3 and warn >= 0.95:
            reasons.append(reason("complaint_warn_7d", rate, 0.001, "7d", warn))
        new = "active"
        if acting:
            new = "suspended" if hit >= 0.99 else "throttled"
        if new != status:
            changes.append({"business": b, "ts": ts, "from": status, "to": new,
                            "trigger": f"feedback block from r-{j}"})
            status = new
        events.append(message(ts + 30_000, f"m-x{j}", b, f"r-{200 + j}", "utility"))
        verdicts.append(verdict(f"m-x{j}", b, acting + reasons, status))
    return events, verdicts, changes


def burst():
    """An established business (2k tier) sends 4 messages an hour, at minutes 5, 20, 35 and 50,
    for 26 hours: 26 hours of history, past `volume_burst_1h.min_baseline_hours` (24). Its
    baseline is the larger of the EWMA of its completed hours (`ewma_alpha` 0.05, seeded with the
    first hour) and `peak_share` (0.5) of its peak hour decayed with a half-life of 168 h: every
    hour held 4, so both are 4 and the baseline is 4. At the start of hour 26 it sends 100
    messages, one a second. "Messages in the last hour" is the 1 h window (the minute bucket of
    now and the 59 before it), so it also holds the 4 messages of hour 25: the burst's i-th
    message makes the hour's count 4 + i. The burst fires when the count is at least `min_count`
    (100), at least `min_ratio` (4) times the baseline (threshold 16) and the Poisson upper tail
    P(X >= count | 4) is at most `p_value` (1e-6) (it is below 1e-99).

    It is a business-level signal: it is read at re-evaluation. To pin that down, each message
    from the one that makes the count 100 on is preceded by a reply (feedback: re-evaluation)
    from one of the earlier recipients; the message itself (half a second later, one message
    after the evaluation) does not re-evaluate. The reply before the 96th burst message sees 99:
    no burst, that message is allowed. The reply before the 97th sees 100: the 97th to 100th
    carry `volume_burst_1h` (value 100..103, threshold 16, window 1h). Its action is `none` and
    its weight 0.3 is under `score.hold`: the messages are allowed with score 0.3, and the status
    stays active (a sale day is legitimate). Two and a half hours later a reply re-evaluates on an
    empty hour and the next message is allowed with no reason.

    A second established business (created 2023, so the new-business ramp does not apply) has no
    history in the log: it sends 101 messages in its first two minutes, the reply before the last
    re-evaluates at 100, and with no baseline (0 hours of history) there is no burst: all
    allowed."""
    b = "b-sale"
    events = [business(T0, b, "2k")]
    verdicts = []
    sent = []
    n = 0
    hourly = []
    for h in range(26):
        for minute in (5, 20, 35, 50):
            n += 1
            ts = T0 + h * HOUR + minute * MIN
            events.append(message(ts, f"m-{n}", b, f"r-{n}", "utility"))
            sent.append(ts)
            verdicts.append(verdict(f"m-{n}", b))
        hourly.append(4)
    # The baseline: the completed hours folded in order (hours 0..25; the burst's hour is open).
    alpha, decay = 0.05, 0.5 ** (1 / 168)
    ewma, peak = None, 0.0
    for c in hourly:
        ewma = c if ewma is None else alpha * c + (1 - alpha) * ewma
        peak = max(peak * decay, c)
    level = max(ewma, 0.5 * peak, 1.0)
    assert abs(level - 4) < 1e-9
    history_hours = 26
    assert history_hours >= 24

    def burst_hit(now):
        count = sum(1 for t in sent if in_window(t, now, HOUR))
        fires = (history_hours >= 24 and count >= 100 and count >= 4 * level
                 and poisson_tail(level, count) <= 1e-6)
        return [reason("volume_burst_1h", count, 4 * level, "1h")] if fires else []

    hits = []
    burst_start = T0 + 26 * HOUR
    replies = 0
    for i in range(1, 101):
        ts = burst_start + i * 1000
        if sum(1 for t in sent if in_window(t, ts, HOUR)) + 1 >= 100:
            replies += 1
            events.append(feedback(ts - 500, b, f"r-{replies}", "reply"))
            hits = burst_hit(ts - 500)
        events.append(message(ts, f"s-{i}", b, f"r-s{i}", "utility"))
        sent.append(ts)
        verdicts.append(verdict(f"s-{i}", b, hits))
    assert replies == 5 and [v["reasons"] != [] for v in verdicts[-5:]] == [False] + [True] * 4

    # The business without history.
    f = "b-fresh"
    fresh = T0 + 26 * HOUR + 30 * MIN
    events.append(business(fresh, f, "2k"))
    for i in range(1, 102):
        ts = fresh + i * 1000
        if i == 101:
            events.append(feedback(ts - 500, f, "r-f1", "reply"))
            # 100 messages in its hour, but no completed hour yet: no baseline, no burst.
        events.append(message(ts, f"f-{i}", f, f"r-f{i}", "utility"))
        verdicts.append(verdict(f"f-{i}", f))

    late = T0 + 28 * HOUR + 30 * MIN
    events.append(feedback(late - 500, b, "r-6", "reply"))
    assert burst_hit(late - 500) == []
    events.append(message(late, "s-101", b, "r-s101", "utility"))
    verdicts.append(verdict("s-101", b))
    return events, verdicts


def invalid_numbers():
    """An established business (2k tier) messages 56 recipients, one a minute. Receipts: the first
    40 delivered, then, a minute apart, the next 16 failed `invalid_number`; half a minute after
    the k-th failure it messages a new recipient. A failed receipt re-evaluates; the message half a
    minute later does not. At the k-th failure the 24 h and 7 d windows hold k invalid numbers
    among 40 + k deliveries (value k / (40 + k)):

    - `invalid_number_rate_7d` (threshold 0.015, confidence 0.95, min_count 10, prior
      Beta(0.005 * 200, 0.995 * 200) = Beta(1, 199), weight 0.4, throttle, suspend at 0.99): from
      k = 10 (min_count; P is already 0.998, past the escalation), so the business is suspended
      at the 10th failure, and its messages are blocked.
    - `invalid_number_rate_24h` (threshold 0.05, confidence 0.99, min_count 10, prior Beta(1, 99),
      weight 0.5, suspend): P reaches 0.99 at k = 15; from then the messages carry both, score
      1 - 0.5 * 0.6 = 0.7.
    - `failed_delivery_rate_24h` (min_count 20) never fires: 16 failures.
    With equal counts the 7 d rule (lower line, lower confidence) always fires first: here it
    suspends before the 24 h one can. One status change, active -> suspended, tipped by the
    receipt of m-50."""
    b = "b-list"
    events = [business(T0, b, "2k")]
    verdicts = []
    st = Standing(b)
    sends_allowed(events, verdicts, b, 56)
    for j in range(1, 41):
        events.append(delivery(T0 + (60 + j) * MIN, b, f"r-{j}", f"m-{j}", "delivered"))
    for k in range(1, 17):
        ts = T0 + (100 + k) * MIN
        mid = f"m-{40 + k}"
        events.append(delivery(ts, b, f"r-{40 + k}", mid, "failed", "invalid_number"))
        hits = []
        for signal in ("invalid_number_rate_24h", "invalid_number_rate_7d",
                       "failed_delivery_rate_24h"):
            r, _, action = rate_hit(signal, k, 40 + k)
            if r is not None:
                hits.append((r, action))
        st.evaluate(ts, hits, f"delivery of {mid}")
        events.append(message(ts + 30_000, f"m-x{k}", b, f"r-{100 + k}", "utility"))
        verdicts.append(st.verdict(f"m-x{k}"))
    assert [c["to"] for c in st.changes] == ["suspended"]
    return events, verdicts, st.changes


def low_read_rate():
    """An established business (2k tier) messages 200 recipients, ten seconds apart; 199 of the
    messages are delivered and 2 read. `low_read_rate_7d`: reads / delivered over 7 days, judged
    below its line: fires when at least `min_count` (200) were delivered and P(rate < 0.1) >=
    0.99 on the posterior from the prior Beta(0.5 * 20, 0.5 * 20) = Beta(10, 10). Replies (feedback
    other than reads: re-evaluation) pin the evaluations; each message follows its reply by half a
    minute and does not re-evaluate.

    - At 199 delivered (2 read) it may not fire (min_count), though P(rate < 0.1) would be
      0.9938: m-201 is allowed.
    - The 200th delivery: 2 / 200 = 0.01, P = 0.99413: fires (value 0.01, threshold 0.1, window
      7d). Its action is `none`, its weight 0.1: m-202 is allowed with score 0.1 (it lowers quality
      only).
    - A third read: 3 / 200, P = 0.98782, under the confidence: m-203 is allowed, no reason."""
    b = "b-news"
    events = [business(T0, b, "2k")]
    verdicts = []
    for i in range(1, 201):
        events.append(message(T0 + i * 10_000, f"m-{i}", b, f"r-{i}", "utility"))
        verdicts.append(verdict(f"m-{i}", b))
    for j in range(1, 200):
        events.append(delivery(T0 + HOUR + j * 1000, b, f"r-{j}", f"m-{j}", "delivered"))
    t1 = T0 + HOUR + 5 * MIN
    events.append(feedback(t1 - 20_000, b, "r-1", "read", "m-1"))
    events.append(feedback(t1 - 10_000, b, "r-2", "read", "m-2"))
    reads, delivered = 2, 199

    def hits():
        r, _, _ = rate_hit("low_read_rate_7d", reads, delivered)
        return [r] if r is not None else []

    events.append(feedback(t1, b, "r-3", "reply"))
    h = hits()
    events.append(message(t1 + 30_000, "m-201", b, "r-201", "utility"))
    verdicts.append(verdict("m-201", b, h))
    events.append(delivery(t1 + 60_000, b, "r-200", "m-200", "delivered"))
    delivered += 1
    events.append(feedback(t1 + 61_000, b, "r-4", "reply"))
    h = hits()
    events.append(message(t1 + 90_000, "m-202", b, "r-202", "utility"))
    verdicts.append(verdict("m-202", b, h))
    events.append(feedback(t1 + 120_000, b, "r-5", "read", "m-5"))
    reads += 1
    events.append(feedback(t1 + 121_000, b, "r-6", "reply"))
    h = hits()
    events.append(message(t1 + 150_000, "m-203", b, "r-203", "utility"))
    verdicts.append(verdict("m-203", b, h))
    assert [bool(v["reasons"]) for v in verdicts[-3:]] == [False, True, False]
    return events, verdicts


def tier_upgrade():
    """A verified established business on the 250 tier (its record at T0: it holds the tier from
    then). From T0 + 20 h it messages 250 recipients, 20 s apart. Tier (README): up one step when
    quality is medium or high, the business is active, it reached `tiers.upgrade_usage` (0.5) of
    its limit in unique recipients over 7 days (250 >= 125) and has held its tier
    `tiers.min_hours_at_tier` (24 h); 250 -> 2k needs a verified business. Replies re-evaluate.

    - A reply at T0 + 24 h - 1 min: held 23 h 59 min, no upgrade. Half a minute later a new
      recipient, with 250 counted in the moving 24 h: `tier_limit_24h` (value 250, threshold 250),
      throttled.
    - A reply at T0 + 24 h: upgraded to 2k. A new recipient half a minute later is allowed (250
      counted, limit 2,000), and so is the recipient throttled before."""
    b = "b-grow"
    events = [business(T0, b, "250")]
    verdicts = []
    start = T0 + 20 * HOUR
    for i in range(1, 251):
        events.append(message(start + (i - 1) * 20_000, f"m-{i}", b, f"r-{i}", "utility"))
        verdicts.append(verdict(f"m-{i}", b))
    tier, since, used_7d, used_24h = 250, T0, 250, 250

    def upgrade(now):
        nonlocal tier, since
        if now - since >= 24 * HOUR and used_7d >= 0.5 * tier:
            tier, since = 2000, now

    events.append(feedback(T0 + 24 * HOUR - MIN, b, "r-1", "reply"))
    upgrade(T0 + 24 * HOUR - MIN)
    assert tier == 250
    events.append(message(T0 + 24 * HOUR - 30_000, "m-251", b, "r-251", "utility"))
    verdicts.append(verdict("m-251", b, [reason("tier_limit_24h", used_24h, tier, "24h")]))
    events.append(feedback(T0 + 24 * HOUR, b, "r-2", "reply"))
    upgrade(T0 + 24 * HOUR)
    assert tier == 2000 and used_24h < tier
    events.append(message(T0 + 24 * HOUR + 30_000, "m-252", b, "r-252", "utility"))
    verdicts.append(verdict("m-252", b))
    events.append(message(T0 + 24 * HOUR + 40_000, "m-253", b, "r-251", "utility"))
    verdicts.append(verdict("m-253", b))
    return events, verdicts


def failed_deliveries():
    """An established business (2k tier) messages 43 recipients, one a minute. Receipts: 20
    delivered, then, a minute apart, 23 failed (error `unreachable`, not an invalid number); half
    a minute after the k-th failure it messages a new recipient (that message does not
    re-evaluate; the failed receipt does). `failed_delivery_rate_24h`: failed / all deliveries,
    24 h, k / (20 + k), prior Beta(0.02 * 100, 0.98 * 100) = Beta(2, 98), threshold 0.1,
    confidence 0.99, min_count 20, weight 0.2, throttle.

    - k = 20, 21: past min_count, but P(rate > 0.1) = 0.979, 0.988: under the confidence.
    - k = 22: P = 0.9932: the business is throttled (tipped by the receipt of m-42); its messages
      are throttled with the reason, score 0.2.
    - Two days later every receipt has left the 24 h window: a reply re-evaluates, the signal has
      cleared and the throttle lifts (throttled -> active, tipped by the reply); the next message
      is allowed."""
    b = "b-notify"
    events = [business(T0, b, "2k")]
    verdicts = []
    st = Standing(b)
    sends_allowed(events, verdicts, b, 43)
    for j in range(1, 21):
        events.append(delivery(T0 + (60 + j) * MIN, b, f"r-{j}", f"m-{j}", "delivered"))
    receipts = [T0 + (60 + j) * MIN for j in range(1, 21)]
    failures = []
    for k in range(1, 24):
        ts = T0 + (80 + k) * MIN
        mid = f"m-{20 + k}"
        events.append(delivery(ts, b, f"r-{20 + k}", mid, "failed", "unreachable"))
        receipts.append(ts)
        failures.append(ts)
        r, _, action = rate_hit("failed_delivery_rate_24h", k, 20 + k)
        st.evaluate(ts, [(r, action)] if r else [], f"delivery of {mid}")
        events.append(message(ts + 30_000, f"m-x{k}", b, f"r-{100 + k}", "utility"))
        verdicts.append(st.verdict(f"m-x{k}"))
    later = T0 + 2 * DAY
    events.append(feedback(later, b, "r-1", "reply"))
    failed = sum(1 for t in failures if in_window(t, later, DAY))
    of = sum(1 for t in receipts if in_window(t, later, DAY))
    assert (failed, of) == (0, 0)
    st.evaluate(later, [], "feedback reply from r-1")
    events.append(message(later + 30_000, "m-y1", b, "r-200", "utility"))
    verdicts.append(st.verdict("m-y1"))
    assert [c["to"] for c in st.changes] == ["throttled", "active"]
    return events, verdicts, st.changes


def service_window():
    """An established, unverified business on the 250 tier (unverified: never upgraded, so the
    limit stays 250). Recipient r-1 writes to it first (a reply) at T0 + 1 min: the
    customer-service window (`tiers.service_window_hours`, 24 h) is open for r-1 until
    T0 + 1 min + 24 h. Messages to r-1 inside it are not business-initiated: they are never
    throttled by the tier's limit and do not count toward it. From T0 + 1 h it messages 250 other
    recipients (20 s apart), which count: 250 in the moving 24 h.

    - T0 + 3 h, to r-1 (inside the window): allowed, though the limit is reached.
    - T0 + 3 h 1 min, to a new recipient: `tier_limit_24h` (value 250, threshold 250), throttled.
    - 1 ms before the window closes, to r-1: allowed.
    - When it closes (24 h after the reply: the window is the 24 h after the reply, the reply's
      instant included and its end not), to r-1: business-initiated, r-1 was never counted, the
      250 are still in the 24 h window (sent after T0 + 24 min): throttled, value 250.
    - r-1 replies again: a message to r-1 a minute later is allowed."""
    b = "b-desk"
    events = [business(T0, b, "250", verified=False)]
    verdicts = []
    reply = T0 + MIN
    events.append(feedback(reply, b, "r-1", "reply"))
    events.append(message(T0 + 2 * MIN, "m-s1", b, "r-1", "service"))
    verdicts.append(verdict("m-s1", b))
    counted = []
    for i in range(1, 251):
        ts = T0 + HOUR + (i - 1) * 20_000
        events.append(message(ts, f"m-{i}", b, f"r-{i + 1}", "utility"))
        counted.append(ts)
        verdicts.append(verdict(f"m-{i}", b))
    window = 24 * HOUR

    def inside(ts):
        return reply <= ts < reply + window

    def used(now):
        return sum(1 for t in counted if in_window(t, now, DAY))

    t = T0 + 3 * HOUR
    assert inside(t)
    events.append(message(t, "m-s2", b, "r-1", "service"))
    verdicts.append(verdict("m-s2", b))
    t = T0 + 3 * HOUR + MIN
    events.append(message(t, "m-251", b, "r-252", "utility"))
    verdicts.append(verdict("m-251", b, [reason("tier_limit_24h", used(t), 250, "24h")]))
    t = reply + window - 1
    assert inside(t)
    events.append(message(t, "m-s3", b, "r-1", "service"))
    verdicts.append(verdict("m-s3", b))
    t = reply + window
    assert not inside(t) and used(t) == 250
    events.append(message(t, "m-s4", b, "r-1", "service"))
    verdicts.append(verdict("m-s4", b, [reason("tier_limit_24h", used(t), 250, "24h")]))
    events.append(feedback(t + MIN, b, "r-1", "reply"))
    events.append(message(t + 2 * MIN, "m-s5", b, "r-1", "service"))
    verdicts.append(verdict("m-s5", b))
    return events, verdicts


def delayed_status():
    """Late feedback, and a suspension's minimum time. An established business (2k tier) messages
    100 recipients, one a minute, the last at T0 + 100 min: its clock (the latest event time it
    has seen). Then blocks from r-1..r-8 arrive, stamped T0 + 41 .. 48 min: late, earlier than the
    clock. They count in the buckets of their own time (still held), and each re-evaluates at the
    business's clock: the status changes are stamped T0 + 100 min, not the blocks' times. With j
    blocks among 100 unique recipients, P(rate > 0.003) on Beta(1 + j, 999 + 100 - j) is 0.9495
    at j = 6, 0.9805 at j = 7 (throttled), 0.9932 at j = 8 (suspended: escalation at 0.99). A
    message after the 7th (score 1 - 0.4 * 0.4 * 0.9 = 0.856, past `score.hold`) is held; after
    the 8th, blocked.

    The suspension (since S = T0 + 100 min) stands at least `status.suspend_hours` (168 h).
    Replies re-evaluate at chosen times, each followed half a minute later by a message to r-100:

    - S + 2 days - 100 min (T0 + 2 days): the blocks have left the 24 h window; the 7 d rate still
      suspends. The message is blocked; its reasons are the 7 d hits now and, from the
      suspension, `complaint_rate_24h` as it stood then.
    - S + 168 h - 1 min: the blocks and the 100 recipients have left the 7 d window (their
      168-min bucket started at T0 - 48 min: it left at T0 + 168 h - 48 min): nothing fires, but
      the suspension is younger than 168 h and stands: blocked, with the reasons it was suspended
      for (score 1 - 0.4 * 0.4 = 0.84).
    - S + 168 h: the suspension may lift, and does (suspended -> active, tipped by the reply); the
      message is allowed."""
    b = "b-late"
    events = [business(T0, b, "2k")]
    verdicts = []
    st = Standing(b)
    msgs = {}
    for i in range(1, 101):
        events.append(message(T0 + i * MIN, f"m-{i}", b, f"r-{i}", "utility"))
        msgs[f"r-{i}"] = T0 + i * MIN
        verdicts.append(verdict(f"m-{i}", b))
    now = T0 + 100 * MIN
    blocks = []

    def evaluate(now, trigger):
        recipients_day = sum(1 for t in msgs.values() if in_window(t, now, DAY))
        recipients_week = sum(1 for t in msgs.values() if in_window(t, now, 7 * DAY))
        day = sum(1 for t in blocks if in_window(t, now, DAY))
        week = sum(1 for t in blocks if in_window(t, now, 7 * DAY))
        hits = []
        for signal, count, of in (("complaint_rate_24h", day, recipients_day),
                                  ("complaint_rate_7d", week, recipients_week),
                                  ("complaint_warn_7d", week, recipients_week)):
            if of == 0:
                continue
            r, _, action = rate_hit(signal, count, of)
            if r is not None:
                hits.append((r, action))
        st.evaluate(now, hits, trigger)

    for j in range(1, 9):
        ts = T0 + (40 + j) * MIN
        events.append(feedback(ts, b, f"r-{j}", "block", f"m-{j}"))
        blocks.append(ts)
        evaluate(now, f"feedback block from r-{j}")
        if j in (7, 8):
            events.append(message(now, f"m-q{j}", b, "r-100", "utility"))
            verdicts.append(st.verdict(f"m-q{j}"))
    assert [c["to"] for c in st.changes] == ["throttled", "suspended"]
    s = st.since
    for k, (at, who) in enumerate([(T0 + 2 * DAY, "r-99"),
                                   (s + SUSPEND_HOURS * HOUR - MIN, "r-98"),
                                   (s + SUSPEND_HOURS * HOUR, "r-97")], start=1):
        events.append(feedback(at, b, who, "reply"))
        evaluate(at, f"feedback reply from {who}")
        events.append(message(at + 30_000, f"m-p{k}", b, "r-100", "utility"))
        msgs["r-100"] = at + 30_000
        verdicts.append(st.verdict(f"m-p{k}"))
    assert [v["action"] for v in verdicts[-3:]] == ["block", "block", "allow"]
    assert [c["to"] for c in st.changes] == ["throttled", "suspended", "active"]
    return events, verdicts, st.changes


CASES = {"ramp": ramp, "tier_limit": tier_limit, "opt_out": opt_out, "fatigue": fatigue,
         "complaints": complaints, "burst": burst, "invalid_numbers": invalid_numbers,
         "low_read_rate": low_read_rate, "tier_upgrade": tier_upgrade,
         "failed_deliveries": failed_deliveries, "service_window": service_window,
         "delayed_status": delayed_status}


def line(obj):
    return json.dumps(obj, separators=(",", ":"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, case in CASES.items():
        events, verdicts, *more = case()
        changes = more[0] if more else []
        with open(os.path.join(here, f"{name}.changes.jsonl"), "w") as f:
            f.writelines(line(c) + "\n" for c in changes)
        with open(os.path.join(here, f"{name}.jsonl"), "w") as f:
            f.writelines(line(e) + "\n" for e in events)
        with open(os.path.join(here, f"{name}.verdicts.jsonl"), "w") as f:
            f.writelines(line(v) + "\n" for v in verdicts)


if __name__ == "__main__":
    main()
