"""Runs the Python snippets of docs/receiving.md on the cases the Go test
writes, and prints one result per case as JSON.

    python3 harness.py SNIPPET_DIR CASES_FILE
"""
import base64
import importlib.util
import json
import os
import sys


def load(directory, name):
    spec = importlib.util.spec_from_file_location("snippet_" + name, os.path.join(directory, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Headers(dict):
    """Header names matched without regard to case, as frameworks do."""

    def get(self, name, default=None):
        return super().get(name.lower(), default)


def main():
    directory, cases_file = sys.argv[1], sys.argv[2]
    standard = load(directory, "standard_webhooks")
    timestamped = load(directory, "timestamped")
    body_mod = load(directory, "body")
    btt = load(directory, "body_then_timestamp")
    with open(cases_file) as f:
        cases = json.load(f)
    results = []
    for c in cases:
        body = base64.b64decode(c["body"])
        h = Headers({k.lower(): v for k, v in c["headers"].items()})
        try:
            scheme = c["scheme"]
            if scheme == "standard-webhooks":
                standard.verify_standard(body, h, c["secret"])
            elif scheme == "timestamped":
                timestamped.verify_timestamped(body, h.get(c["header"]), c["secret"])
            elif scheme == "body":
                kwargs = {"encoding": c.get("encoding") or "hex"}
                if c.get("prefix") is not None:
                    kwargs["prefix"] = c["prefix"]
                body_mod.verify_body(body, h.get(c["header"]), c["secret"], **kwargs)
            elif scheme == "body-then-timestamp":
                btt.verify_body_then_timestamp(body, h.get(c["timestamp_header"]), h.get(c["header"]), c["secret"])
            else:
                raise ValueError("unknown scheme " + scheme)
            results.append({"ok": True})
        except ValueError as err:
            results.append({"ok": False, "error": str(err)})
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
