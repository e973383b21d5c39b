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
"""
import json
import os

# The Beta distribution's tail, from mpmath: an implementation of its own, not statrs, which
# spamward uses.
from mpmath import betainc, mp

mp.dps = 30

T0 = 1_793_577_600_000  # 2026-11-01 00:00 UTC
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
LONG_AGO = 1_700_000_000_000  # created 2023: established, not young

# Default weights and actions (data/policy.toml).
WEIGHT = {
    "complaint_rate_24h": 0.6,
    "complaint_rate_7d": 0.6,
    "complaint_warn_7d": 0.1,
    "opted_out": 0.5,
    "tier_limit_24h": 0.1,
    "new_business_ramp_1h": 0.1,
    "recipient_fatigue_24h": 0.1,
}
ACTION = {
    "complaint_rate_24h": "none",
    "complaint_rate_7d": "none",
    "complaint_warn_7d": "none",
    "opted_out": "block",
    "tier_limit_24h": "throttle",
    "new_business_ramp_1h": "throttle",
    "recipient_fatigue_24h": "throttle",
}
# The signal table's order (README).
ORDER = ["complaint_rate_24h", "complaint_rate_7d", "complaint_warn_7d", "opted_out",
         "tier_limit_24h", "new_business_ramp_1h", "recipient_fatigue_24h"]
SEVERITY = ["allow", "throttle", "hold", "block"]


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
    for i in range(1, 251):
        events.append(message(T0 + i * MIN, f"m-{i}", b, f"r-{i}", "utility"))
        verdicts.append(verdict(f"m-{i}", b))
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
    for i in range(1, 101):
        events.append(message(T0 + i * MIN, f"m-{i}", b, f"r-{i}", "utility"))
        verdicts.append(verdict(f"m-{i}", b))
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


CASES = {"ramp": ramp, "tier_limit": tier_limit, "opt_out": opt_out, "fatigue": fatigue,
         "complaints": complaints}


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
