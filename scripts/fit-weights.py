#!/usr/bin/env python3
"""Chooses the heuristic judge's lure, shape and hosting weights, and the thresholds of
`zone_listed_share`, on the fit half of the evaluation (crates/report/tests/report/evaluation.rs)
by coordinate search; docs/verdict.md section 8 states the rule.

    EVAL_DUMP=/tmp/dump.tsv EVAL_CONFIG=/tmp/loose.json THREATINTEL_CORPUS=... \
        cargo test -p threatintel-report --release --test report evaluation -- --ignored --nocapture
    scripts/fit-weights.py /tmp/dump.tsv /path/to/corpus

The dump must be written with the loosest zone thresholds (`listed_share.zone_min_listed` 3,
`zone_min_lift` 0.001 in /tmp/loose.json), so that every zone the store reports is a signal
with its facts; the weights are searched at the default thresholds (5, 3.0), and each
candidate pair of thresholds is then shown at the chosen weights (`--thresholds`).

Only the fit half is read. The weights searched are `lure_words`, `lure_words_more`,
`deep_subdomain`, `shared_hosting`, and the weight of a zone of listed customers twice:
`zone_listed_share_top_site` for zones on a top-site list of the store (here the two training
warninglists) and `zone_listed_share` for the others: those two on a grid of steps of 0.05 below 1.0 first, then
coordinate steps. Each step moves one weight by 0.05 and is kept when it raises the
mean recall over the fit halves of PhishTank (left out one at a time: a PhishTank name of the
fit half is a record of the store, so its zone's counts are taken without it),
Phishing.Database and URLhaus while every top list's fit half stays within 0.1 %, no top-list name reaches level 2, the generated-name recall does not
drop and two lure words alone stay below level 1. `--start JSON` starts from other weights
(the judge's defaults otherwise), `--fixed JSON` evaluates the given weights only.
False positives are counted over the fit halves of Tranco, Alexa and Umbrella (names on the
training lists are never judged).
"""
import collections, itertools, json, sys

LEVEL1, LEVEL2 = 1.0, 2.0
ALG_W, ALG_T, ALG_SPAN = 0.6, -1.8, 3.0
ZONE_MIN_LISTED, ZONE_MIN_LIFT = 5, 3.0
PHISH = ('phishtank', 'phishing_database', 'urlhaus')
TOP = ('tranco', 'alexa', 'umbrella')
LIMIT = {'tranco': 0.1, 'alexa': 0.1, 'umbrella': 0.1}

dump, corpus = sys.argv[1], sys.argv[2]
lists = corpus + '/misp_warninglists/lists/'
top_sites = set()
for n in ['majestic_million', 'cloudflare-top100k']:
    top_sites |= {x.strip().lstrip('.').lower() for x in json.load(open(lists + n + '/list.json'))['list']}

rows, phishtank_fit, store_share = [], set(), 0.0
for line in open(dump):
    s, half, name, signals = line.rstrip('\n').split('\t')
    if half != 'fit' or s not in PHISH + TOP + ('algorithmic',):
        continue
    if s == 'phishtank':
        phishtank_fit.add(name)
    rows.append((s, name, json.loads(signals)))

# Per name: (set, fixed score, fixed groups, lure word count, deep, shared zone, zone facts)
items = []
for s, name, sig in rows:
    if sig is None:
        items.append((s, 0.0, frozenset(), 0, False, False, None))
        continue
    if s in ('phishing_database', 'urlhaus') and name in phishtank_fit:
        continue  # a record of the store: decided by it
    score, groups, lures, deep, shared, zone = 0.0, set(), 0, False, False, None
    for h in sig:
        key = h['signal']
        if key == 'lure_words':
            lures = len(h['words'])
        elif key == 'deep_subdomain':
            deep = True
        elif key == 'shared_hosting':
            shared = True
        elif key == 'zone_listed_share':
            zone = dict(h)
            if s == 'phishtank' and name.split('.', 1)[1] == zone['zone']:
                zone['names'] -= 1
                zone['listed'] -= 1
            store_share = zone['store_share']
            zone = (zone['names'], zone['listed'], zone['zone'] in top_sites)
        elif key == 'algorithmic':
            if h['z'] >= ALG_T:
                score += ALG_W * (1 + min(1.0, max(0.0, (h['z'] - ALG_T) / ALG_SPAN)))
                groups.add('algorithmic')
        elif h['contribution'] > 0:
            score += h['contribution']
            groups.add(h['group'])
    items.append((s, score, frozenset(groups), lures, deep, shared, zone))
totals = collections.Counter(i[0] for i in items)
# Names with the same facts score alike: each distinct tuple once, with its count.
items = list(collections.Counter(items).items())


def evaluate(w, min_listed=ZONE_MIN_LISTED, lift=ZONE_MIN_LIFT):
    hit1, hit2 = collections.Counter(), collections.Counter()
    for (s, score, groups, lures, deep, shared, zone), count in items:
        g = set(groups)
        if lures:
            score += w['lure_words'] + w['lure_words_more'] * (lures - 1)
            g.add('lure')
        if deep:
            score += w['deep_subdomain']
            g.add('shape')
        if shared:
            score += w['shared_hosting']
            g.add('hosting')
        if zone is not None and zone[1] >= min_listed and zone[1] >= lift * store_share * zone[0]:
            score += w['zone_listed_share_top_site'] if zone[2] else w['zone_listed_share']
            g.add('hosting')
        score = round(score, 6)
        if score >= LEVEL1:
            hit1[s] += count
            if score >= LEVEL2 and len(g) >= 2:
                hit2[s] += count
    return hit1, hit2


def pct(n, s):
    return 100.0 * n / max(1, totals[s])


def judge(w, base_alg, thresholds=(ZONE_MIN_LISTED, ZONE_MIN_LIFT)):
    h1, h2 = evaluate(w, *thresholds)
    ok = all(pct(h1[s], s) <= LIMIT[s] + 1e-9 for s in TOP) and all(h2[s] == 0 for s in TOP) \
        and h1['algorithmic'] >= base_alg and w['lure_words'] + w['lure_words_more'] < LEVEL1
    return ok, sum(pct(h1[s], s) for s in PHISH) / 3, h1, h2


def show(label, w, base_alg, thresholds=(ZONE_MIN_LISTED, ZONE_MIN_LIFT)):
    ok, mean, h1, h2 = judge(w, base_alg, thresholds)
    print(f'{label}: ok {ok} mean recall {mean:.2f}% | '
          + ' '.join(f'{s} {pct(h1[s], s):.3f}% ({h1[s]})' for s in PHISH + TOP + ('algorithmic',))
          + ' | level 2 ' + ' '.join(f'{s} {h2[s]}' for s in PHISH + TOP))
    print('  ' + json.dumps(w))


start = dict(lure_words=0.4, lure_words_more=0.55, deep_subdomain=0.35, shared_hosting=0.35,
             zone_listed_share=0.65, zone_listed_share_top_site=0.05)
for flag in ('--fixed', '--start'):
    if flag in sys.argv:
        start.update(json.loads(sys.argv[sys.argv.index(flag) + 1]))
base_alg = evaluate(start)[0]['algorithmic']
show('start', start, base_alg)
if '--fixed' in sys.argv:
    sys.exit()
w = dict(start)
# The two zone weights on a grid first (a zone's weight with `shared_hosting` reaches level 1
# in one step, not by 0.05 steps), each below level 1 alone; ties go to the lower weights.
grid = [x / 20 for x in range(20)]
best = (judge(w, base_alg)[1] if judge(w, base_alg)[0] else -1.0, w)
for top in grid:
    for unranked in grid:
        c = dict(w, zone_listed_share=unranked, zone_listed_share_top_site=top)
        ok, mean, *_ = judge(c, base_alg)
        if ok and mean > best[0] + 1e-9:
            best = (mean, c)
assert best[0] >= 0, 'no zone weights keep the limits'
w = best[1]
show('grid', w, base_alg)
improved = True
while improved:
    improved = False
    ok, mean, *_ = judge(w, base_alg)
    best = (mean, w)
    for k in w:
        for step in (0.05, -0.05):
            c = dict(w, **{k: round(w[k] + step, 2)})
            if c[k] < 0:
                continue
            ok2, mean2, *_ = judge(c, base_alg)
            if ok2 and mean2 > best[0] + 1e-9:
                best = (mean2, c)
    if best[1] is not w:
        w = best[1]
        improved = True
        show('step', w, base_alg)
show('chosen', w, base_alg)
if '--thresholds' in sys.argv:
    # The zone thresholds at the chosen weights (the store's minimum is 3 listed children).
    for min_listed, lift in itertools.product([3, 4, 5, 6, 8, 10, 15, 20], [1, 2, 3, 5, 10, 20]):
        show(f'min_listed {min_listed:>2} lift {lift:>2}', w, base_alg, (min_listed, lift))
