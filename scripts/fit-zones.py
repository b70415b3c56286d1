#!/usr/bin/env python3
"""Chooses the heuristic judge's `zone_listed_share` thresholds and weight on the fit half of
the evaluation (crates/report/tests/report/evaluation.rs); docs/verdict.md section 8 states
the rule.

    EVAL_DUMP=/tmp/dump.tsv EVAL_CONFIG=/tmp/loose.json THREATINTEL_CORPUS=... \
        cargo test -p threatintel-report --release --test report evaluation -- --ignored --nocapture
    scripts/fit-zones.py /tmp/dump.tsv

The dump must be written with the loosest zone thresholds (`listed_share.zone_min_listed` 3,
`zone_min_lift` 0.001 in /tmp/loose.json), so that every zone the store reports is a signal
with its facts; this script applies each candidate's thresholds to those facts.

Only the fit half is read. Recall is counted over the fit halves of Phishing.Database and
URLhaus (names that are not themselves PhishTank records of the store) and over the fit half of
PhishTank left out one at a time: a PhishTank name of the fit half is a record of the store, so
its zone's counts are taken without it (one listed child and one child less) and the name is
judged as if the store had never seen it. False positives are counted over the fit halves of
Tranco, Alexa and Umbrella (names on the training lists are never judged).
"""
import collections, itertools, json, sys

LEVEL1, LEVEL2 = 1.0, 2.0
ALG_W, ALG_T, ALG_SPAN = 0.6, -1.8, 3.0
PHISH = ('phishtank', 'phishing_database', 'urlhaus')
TOP = ('tranco', 'alexa', 'umbrella')

rows = []
phishtank_fit = set()
for line in open(sys.argv[1]):
    s, half, name, signals = line.rstrip('\n').split('\t')
    if half != 'fit' or s not in PHISH + TOP:
        continue
    sig = json.loads(signals)
    if s == 'phishtank':
        phishtank_fit.add(name)
    rows.append((s, name, sig))


def fixed(sig):
    """(score without the zone signal, groups, zone facts or None)"""
    score, groups, zone = 0.0, set(), None
    for h in sig:
        key = h['signal']
        if key == 'zone_listed_share':
            zone = h
            continue
        c = h['contribution']
        if key == 'algorithmic':
            if h['z'] < ALG_T:
                continue
            c = ALG_W * (1 + min(1.0, max(0.0, (h['z'] - ALG_T) / ALG_SPAN)))
        if c > 0:
            score += c
            groups.add(h['group'])
    return score, groups, zone


items = []
for s, name, sig in rows:
    if sig is None:
        items.append((s, name, 0.0, set(), None))
        continue
    if s != 'phishtank' and name in phishtank_fit:
        continue  # a record of the store: decided by it
    score, groups, zone = fixed(sig)
    if zone is not None and s == 'phishtank':
        # Left out: the zone's counts without this name, when it is a direct child.
        if name.split('.', 1)[1] == zone['zone']:
            zone = dict(zone, names=zone['names'] - 1, listed=zone['listed'] - 1)
    items.append((s, name, score, groups, zone))

totals = collections.Counter(s for s, *_ in items)
store_share = next((z['store_share'] for *_, z in items if z), 0.0)
print(f'fit names: {dict(totals)}, store share {store_share:.4f}', file=sys.stderr)


def evaluate(min_listed, lift, weight):
    hit1, hit2 = collections.Counter(), collections.Counter()
    for s, name, score, groups, zone in items:
        g = set(groups)
        if zone and zone['listed'] >= min_listed and zone['listed'] >= lift * store_share * zone['names']:
            score += weight
            g.add('hosting')
        score = round(score, 6)
        if score >= LEVEL1:
            hit1[s] += 1
            if score >= LEVEL2 and len(g) >= 2:
                hit2[s] += 1
    return hit1, hit2


def pct(n, s):
    return 100.0 * n / max(1, totals[s])


base1, base2 = evaluate(10**9, 1, 0)
print('without the signal: ' + ', '.join(f'{s} {pct(base1[s], s):.2f}%' for s in PHISH + TOP))


def show(label, h1, h2):
    fp_ok = all(pct(h1[s], s) <= 0.1 for s in TOP) and all(h2[s] == 0 for s in TOP)
    print(f'{label}: fp_ok {fp_ok} mean recall {sum(pct(h1[s], s) for s in PHISH) / 3:.2f}% | '
          + ' '.join(f'{s} {pct(h1[s], s):.3f}% ({h1[s]})' for s in PHISH + TOP)
          + ' | level 2 ' + ' '.join(f'{s} {h2[s]}' for s in PHISH + TOP))
    return fp_ok


# The weight: the highest step of 0.05 that keeps every top list's fit half within 0.1 % and
# none at level 2 (at zone_min_listed 5, zone_min_lift 3).
chosen = None
for weight in [x / 20 for x in range(2, 21)]:
    if show(f'weight {weight:.2f} (min_listed 5, lift 3)', *evaluate(5, 3, weight)):
        chosen = weight
print(f'chosen weight {chosen}')
if chosen is None:
    # Since the evaluation's store holds the warninglists' public suffixes, one weight for
    # every zone keeps the limits only at 0.05: scripts/fit-weights.py chooses two.
    sys.exit('no single weight keeps the limits: see scripts/fit-weights.py')
# The thresholds at that weight.
for min_listed, lift in itertools.product([3, 4, 5, 6, 8, 10, 15, 20], [1, 2, 3, 5, 10, 20]):
    show(f'min_listed {min_listed:>2} lift {lift:>2} (weight {chosen})', *evaluate(min_listed, lift, chosen))
