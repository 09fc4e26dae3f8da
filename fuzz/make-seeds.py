#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (fuzz/corpus/<target>/) from the golden
cases and the policy fixtures. Run from the repository root: python3 fuzz/make-seeds.py
Idempotent; the files are small (a few dozen per target)."""
import hashlib
import json
import os
import struct
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "e2e-tests", "fixtures")


def write(target, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


def golden_seed(index, switches):
    # Even first byte: golden mode. Then the case index (u16), the switches (u32), no edits.
    return b"\x00" + struct.pack("<HI", index, switches)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def session_answers():
    """(request, payload) of every successful exchange in the policy fixtures' replay sessions."""
    for name in sorted(os.listdir(FIXTURES)):
        session = os.path.join(FIXTURES, name, "session.yml")
        if not os.path.isfile(session):
            continue
        for exchange in yaml.safe_load(open(session)) or []:
            response = exchange.get("response", {})
            if response.get("type") == "Success":
                yield exchange.get("request", ""), response["payload"]


cases = [json.loads(line) for line in open(os.path.join(ROOT, "tests", "data", "golden", "cases.jsonl"))]
picked = sorted(set(list(range(0, 351, 25)) + list(range(351, len(cases), 8))))

# expand: golden cases by index with assorted switches, plus the three smallest cases as raw JSON.
for n, index in enumerate(picked):
    write("expand", golden_seed(index, n * 37))
for case in sorted(cases, key=lambda c: len(compact(c)))[:3]:
    write("expand", compact({k: case[k] for k in ("vm", "instancetype", "preference")}))

# revision: golden objects stored as revisions (object / wrapper, instancetype / preference), and the
# ControllerRevisions of the policy fixtures.
for n, index in enumerate(picked[:16]):
    write("revision", golden_seed(index, (n % 4) * 4))
for request, payload in session_answers():
    if "ControllerRevision" in request:
        write("revision", compact(json.loads(payload)))

# insert_json: golden instancetypes and preferences (compact and pretty), the bundled catalogue objects
# as raw text, and the instancetypes/preferences the policy fixtures' sessions answer with.
for n, index in enumerate(picked[:16]):
    write("insert_json", golden_seed(index, n % 4))
for bundle in ("common-clusterinstancetypes-bundle.json", "common-clusterpreferences-bundle.json"):
    objects = json.load(open(os.path.join(ROOT, "data", "common-instancetypes", bundle)))
    for obj in objects[::9]:
        write("insert_json", compact(obj))
for request, payload in session_answers():
    if "Instancetype" in request or "Preference" in request:
        write("insert_json", payload.encode())

# settings: every fixture's settings, and a few shapes of our own.
for name in sorted(os.listdir(FIXTURES)):
    path = os.path.join(FIXTURES, name, "settings.json")
    if os.path.isfile(path):
        write("settings", compact(json.load(open(path))))
for extra in [
    {},
    {"mode": "validate", "cluster": {"defaultArchitecture": "arm64", "evictionStrategy": "LiveMigrate"}},
    {"allowedInstancetypes": [{"kind": "virtualmachineinstancetypes", "name": "u1.*"}], "allowedPreferences": [{"name": "*"}]},
    {"cluster": None, "mode": None},
]:
    write("settings", compact(extra))

# policy: a third of the fixtures' requests with their settings as raw payloads, plus golden-mode seeds.
for name in sorted(os.listdir(FIXTURES))[::3]:
    directory = os.path.join(FIXTURES, name)
    if not os.path.isfile(os.path.join(directory, "request.json")):
        continue
    review = json.load(open(os.path.join(directory, "request.json")))
    request = review.get("request", review)
    settings = json.load(open(os.path.join(directory, "settings.json")))
    write("policy", compact({"request": request, "settings": settings}))
for n, index in enumerate(picked[:8]):
    write("policy", golden_seed(index, n * 1093))

# quantity: text mode, `T<a>\n<b>\n<factor>`.
for line in [
    "1Gi\n1024Mi\n3", "500m\n0.5\n-2", "1e3\n1k\n7", "1.5Ki\n1536\n1", "0.1n\n1n\n10", "-1Gi\n1Gi\n-1",
    "4294967296\n4Gi\n2", "1234567890123456789012345678901234567890\n1e39\n9", "8Ei\n9223372036854775807\n1",
    "16Ei\n1e19\n2", "1e-9\n0\n5", "+1\n01\n1", "1E3\n1000\n1", "123456789012345678\n1.23456789012345678e17\n3",
    "0.000000001\n1n\n1000", "999999999999999999999Ki\n1e25\n-1", "1e10000\n1e-10000\n2", "7.0Mi\n7Mi\n11",
    ".5\n0.5\n2", "5.\n5\n2",
]:
    write("quantity", ("T" + line).encode())

for target in sorted(os.listdir(CORPUS)):
    print(target, len(os.listdir(os.path.join(CORPUS, target))), file=sys.stderr)
