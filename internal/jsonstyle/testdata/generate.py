#!/usr/bin/env python3
"""Regenerates extra-styles.json and python-floats.json, the known answers of
package jsonstyle beyond the spec's json-styles.json.

python: json.dumps(json.loads(producer)) by this Python (3.11+).
compact: JSON.stringify by Node (20+), with each number written as its
source text (JSON.rawJSON of the parse-with-source reviver's context), which is
what the compact style is: JSON.stringify(JSON.parse(body)) except that
numbers are never rewritten.

Run from this directory: python3 generate.py
"""
import json
import random
import struct
import subprocess

PRODUCERS = [
    # floats of many magnitudes
    '[0.1, 0.2, 0.30000000000000004, 1.0000000000000002, 3.14159, 2.5e-5, -1.5e-10]',
    '[5e-324, 4.9e-324, 1e-320, 2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308]',
    '[1e-4, 1e-5, 0.00012345, 0.000012345, 9.999e-5, 0.0001000001]',
    '[1e15, 1e16, 1e17, 9999999999999998.0, 1234567890123456.7, 12345678901234567.0, 1e21, 1e22, 1e23]',
    '[100.0, 100000.00, 1E+2, 1e0, 1E0, 1.5, 12345.6789e-3, 123e-20, 1.23456789e8]',
    '[0.0, -0.0, 0e0, -0e0, 0e-5, 0.000, -0.0e5, 0E+10]',
    '[1e-400, -1e-400, 2e-324, 3e-324, 1.7976931348623158e308]',
    '[9007199254740993.0, 9007199254740992.5, 9007199254740993e0, 4.35, 0.1000000000000000055511151231257827, 0.333333333333333314829616256247]',
    '[123456789.123456789, 1.1, 2.675, 1e-7, 1.0e-6, 0.5e-6, 1e100, 1.5e300, 6.02214076e23]',
    '[-1.0, -100000.0, -1e16, -1.5e-300, -0.0001, -0.00001]',
    '[1e0000000000000000000000000000001, 1.000000000000000000000000000000000000000000000000001, 0.99999999999999999999]',
    # integers
    '[0, -0, 1, -1, 9223372036854775807, -9223372036854775808, 9223372036854775808, 18446744073709551616]',
    '[12345678901234567890, -12345678901234567890123, 99999999999999999999999999999999999999999999]',
    '{"id": 12345678901234567890123456789, "n": -0, "big": 100000000000000000000000000000000000000000000000000000000000000000}',
    # unicode
    '{"e": "\\u00e9", "raw": "é", "cjk": "中文", "mixed": "a\\u4e2db"}',
    '["\\ud83d\\ude00", "😀", "\\ud800\\udc00", "\\udbff\\udfff", "\U0010FFFF", "\\uD83D\\uDE00"]',
    '["\\u0080", "\\u00ff", "\\u07ff", "\\u0800", "\\uffff", "\\ufeff", "\\ufffd", "\\uFFFE"]',
    '{"ls": "\u2028", "ps": "\u2029", "els": "\\u2028\\u2029", "nbsp": "\u00a0"}',
    '{"Zoë": 1, "中": {"ключ": "значение"}, "😀": ["🎉"]}',
    '["Ā", "ǅ", "ﬀ", "𝄞", "ä", "\\u0301", "e\\u0301"]',
    # escapes
    '["\\u0000", "\\u0001", "\\u001f", "\\u001F", "\\u0020", "\\u007f", "\\u007F", "\u007f"]',
    '["\\b\\f\\n\\r\\t", "\\u0008\\u000c\\u000a\\u000d\\u0009", "\\"", "\\\\", "\\/", "/"]',
    '{"html": "<script>alert(1)</script>", "amp": "&amp;", "q": "\'single\'", "u": "\\u003c\\u003e\\u0026"}',
    '["", " ", "~", "\\u007e", "tab\\there", "line1\\nline2", "a\\\\nb"]',
    '{"": "empty key", " ": "space key", "a\\"b": "quote key", "a\\\\b": "backslash key", "\\n": "newline key"}',
    # structure and spacing
    '  {  "a" : [ 1 , 2 , 3 ] ,\n\t"b" : { } , "c" : [ ] \r\n }  ',
    '"top-level string"',
    '123',
    '-0',
    '1.0',
    'true',
    'false',
    'null',
    '[]',
    '{}',
    '[[[[[[[[[[["deep"]]]]]]]]]]]',
    '[{"a": [{"b": [{"c": null}]}]}, [], {}, [[]], [{}]]',
    '{"z": 1, "y": 2, "x": 3, "a": 4, "b": {"d": 1, "c": 2}}',
    '[true, false, null, 0, "", [], {}]',
    '{"event": {"type": "user.created", "amount": 1999.990, "currency": "EUR", "tags": ["a", "b"], "meta": {"ip": "192.0.2.1", "note": "Grüße"}}}',
    '{"Clasp": {"event_type": "updated", "object_id": "er_123", "created_at": "2025-01-06T05:41:19.093833Z", "score": 0.1e1}}',
    '[1.5e+300, 1.5E-300, 1e+16, 1e-05, 1e+22, 1.0e+15]',
]


def compact_all(producers):
    script = r'''
const inputs = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = inputs.map(p => JSON.stringify(JSON.parse(p,
    (k, v, ctx) => typeof v === 'number' ? JSON.rawJSON(ctx.source) : v)));
process.stdout.write(JSON.stringify(out));
'''
    res = subprocess.run(['node', '--harmony-json-parse-with-source', '-e', script],
                         input=json.dumps(producers).encode(), capture_output=True, check=True)
    return json.loads(res.stdout)


class _Num:
    def __init__(self, text):
        self.text = text


class _Obj:
    def __init__(self, pairs):
        self.pairs = pairs


def compact_emulated(producer):
    """The compact style by Python alone, to check Node's answer: json.dumps
    with ensure_ascii=False escapes strings exactly as JSON.stringify does."""
    def w(v):
        if isinstance(v, _Num):
            return v.text
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, bool) or v is None:
            return json.dumps(v)
        if isinstance(v, list):
            return '[' + ','.join(w(x) for x in v) + ']'
        return '{' + ','.join(json.dumps(k, ensure_ascii=False) + ':' + w(x) for k, x in v.pairs) + '}'
    return w(json.loads(producer, parse_float=_Num, parse_int=_Num, object_pairs_hook=_Obj))


def extra():
    compact = compact_all(PRODUCERS)
    cases = []
    for p, c in zip(PRODUCERS, compact):
        if c != compact_emulated(p):
            raise SystemExit(f'Node and Python disagree on the compact style of {p!r}: {c!r}')
        cases.append({'producer': p, 'compact': c, 'python': json.dumps(json.loads(p))})
    with open('extra-styles.json', 'w', encoding='utf-8') as f:
        json.dump(cases, f, indent=1, ensure_ascii=False)
        f.write('\n')


def floats():
    rnd = random.Random(20250106)
    texts = []
    for _ in range(1500):  # random bit patterns: every magnitude, subnormals too
        while True:
            x = struct.unpack('<d', rnd.getrandbits(64).to_bytes(8, 'little'))[0]
            if x == x and x not in (float('inf'), float('-inf')):
                break
        texts.append(repr(x).replace('e+', 'E+') if rnd.random() < 0.1 else repr(x))
    for _ in range(800):  # short decimals, as producers write them
        digits = str(rnd.randrange(1, 10 ** rnd.randrange(1, 18)))
        exp = rnd.randrange(-30, 30)
        texts.append(f'{digits}e{exp}')
        point = rnd.randrange(0, len(digits))
        texts.append(f'{digits[:point] or "0"}.{digits[point:]}')
    for _ in range(300):  # long decimals, more digits than a float holds
        digits = ''.join(rnd.choice('0123456789') for _ in range(rnd.randrange(18, 40)))
        texts.append(f'0.{digits}')
        texts.append(f'{rnd.randrange(1, 10)}.{digits}e{rnd.randrange(-320, 300)}')
    for e in range(-10, 25):  # around the switch between notations
        texts.append(f'1e{e}')
        texts.append(f'9.999999999999999e{e}')
        texts.append(f'1.2345e{e}')
    pairs = []
    for t in texts:
        # json.loads reads the text as JSON, so it must be JSON's grammar.
        t = t.replace('inf', '').replace('nan', '')
        if t.startswith('-.') or t.startswith('.'):
            continue
        v = json.loads(t)
        if v in (float('inf'), float('-inf')):
            continue
        pairs.append([t, json.dumps(v)])
    with open('python-floats.json', 'w', encoding='utf-8') as f:
        f.write('[\n')
        f.write(',\n'.join(json.dumps(p) for p in pairs))
        f.write('\n]\n')


if __name__ == '__main__':
    extra()
    floats()
