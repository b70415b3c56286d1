#!/usr/bin/env python3
"""Derives the heuristic judge's default lure vocabulary from an EVAL_DUMP of the evaluation
(crates/report/tests/report/evaluation.rs), fit half only; docs/verdict.md section 8 states the rule.

    EVAL_DUMP=/tmp/dump.tsv THREATINTEL_CORPUS=... cargo test -p threatintel-report --release \
        --test report evaluation -- --ignored --nocapture
    scripts/fit-lures.py /tmp/dump.tsv /path/to/corpus

A candidate is a token (maximal run of letters, at least 4) of the text left of the public
suffix (left of the shared-hosting zone for a customer) of a phishing name of the fit half
(PhishTank, Phishing.Database, URLhaus). It is kept when it occurs in names of at least 5
distinct customers/registrable labels, in at least 2 of the 3 feeds, at least 10 times more
often (as a substring) among the phishing names than among the legitimate ones (the two
training warninglists and the fit halves of the top lists), and is no brand of the fit half's
PhishTank targets. The words of the previous default list stay.
"""
import collections, csv, json, re, sys

dump, corpus = sys.argv[1], sys.argv[2]
lists = corpus + '/misp_warninglists/lists/'
OLD = ["login", "logon", "signin", "verify", "verification", "secure", "account", "update",
       "confirm", "billing", "password", "webscr", "recovery", "unlock", "suspended", "wallet",
       "authenticate", "validation"]
shared = set()
for n in ["dynamic-dns", "lots-project", "url-shortener", "link-in-bio", "public-ipfs-gateways"]:
    shared |= {x.strip().lstrip('.').lower() for x in json.load(open(lists + n + '/list.json'))['list']}
SECOND = {'co', 'com', 'net', 'org', 'ac', 'gov', 'edu', 'or', 'ne', 'go', 'gob', 'nic'}


def split(name):
    """(text left of the suffix or hosting zone, the customer's label)"""
    p = name.split('.')
    for i in range(1, len(p)):
        if '.'.join(p[i:]) in shared:
            return '.'.join(p[:i]), p[i - 1]
    p = p[:-1]
    if len(p) > 1 and p[-1] in SECOND:
        p = p[:-1]
    return '.'.join(p), p[-1] if p else ''


def fnv(s):
    h = 0xcbf29ce484222325
    for b in s.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


phish, legit = [], set()
for line in open(dump):
    s, half, name, _ = line.rstrip('\n').split('\t')
    if half != 'fit':
        continue
    if s in ('phishtank', 'phishing_database', 'urlhaus'):
        phish.append((s, name))
    elif s in ('tranco', 'alexa', 'umbrella'):
        legit.add(name)
for n in ["majestic_million", "cloudflare-top100k"]:
    legit |= {x.strip().lower().lstrip('.') for x in json.load(open(lists + n + '/list.json'))['list']}
brands = set()
rows = csv.reader(open(corpus + '/phishing_feeds/visible/phishtank_verified_online_2021-03-14.csv'))
next(rows)
for r in rows:
    host = r[1].split('://', 1)[-1].split('/')[0].split('?')[0].split('@')[-1].split(':')[0]
    host = host.lower().rstrip('.')
    if fnv(host) % 2 == 1:
        continue
    words = [w for w in re.split('[^a-z0-9]+', r[7].lower()) if w]
    while len(words) > 1 and words[-1] in {"inc", "ltd", "llc", "corp", "co", "plc", "group", "com", "and", "the"}:
        words.pop()
    brands.add(''.join(words))
phish = sorted(set(phish))
distinct = len({n for _, n in phish})
texts = [(s, *split(n)) for s, n in phish]
legit_texts = [split(n)[0] for n in legit]
tokens = collections.defaultdict(set)
for _, t, group in texts:
    for w in set(re.findall('[a-z]+', t)):
        if len(w) >= 4:
            tokens[w].add(group)
kept = set(OLD)
for w, groups in tokens.items():
    if len(groups) < 5 or w in brands:
        continue
    hits = [(s, g) for s, t, g in texts if w in t]
    feeds = {s for s, _ in hits}
    l = sum(1 for t in legit_texts if w in t)
    ratio = len({g for _, g in hits}) / distinct / ((l + 0.5) / len(legit))
    if len(feeds) >= 2 and ratio >= 10:
        kept.add(w)
print(json.dumps(sorted(kept)))
