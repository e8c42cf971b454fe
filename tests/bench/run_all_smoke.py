#!/usr/bin/env python3
"""bench_run_all_smoke: bench/run-all --quick into a temporary directory,
against a temporary copy of docs/benchmarks.md. Checks that the results
JSON has the run-all envelope and that every vmsg-bench report in it
validates against bench/results.schema.json with non-zero figures; that
the PNG plots exist, are PNGs and are not empty; and that the doc's
generated section is there once (also after a second run), with the
targets table, the sim comparison table and the plot links, while the
rest of the doc is kept. Skips (77) without gnuplot. Asserts no speed.

usage: run_all_smoke.py RUN_ALL VMSG_BENCH SCHEMA DOC"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

RUN_ALL, BENCH, SCHEMA, DOC = sys.argv[1:5]
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
         "null": type(None)}
tmp = tempfile.mkdtemp(prefix="run-all-smoke-")


def fail(msg):
    print("bench_run_all_smoke: FAIL: " + msg, file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1)


def type_ok(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])


def check(v, s, root, path="$"):
    """The schema keywords results.schema.json uses."""
    if "$ref" in s:
        node = root
        for part in s["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return check(v, node, root, path)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(type_ok(v, t) for t in ts):
            fail("%s: %r is not of type %s" % (path, v, ts))
    if "enum" in s and v not in s["enum"]:
        fail("%s: %r not in %s" % (path, v, s["enum"]))
    if "minimum" in s and type_ok(v, "number") and v < s["minimum"]:
        fail("%s: %r below %s" % (path, v, s["minimum"]))
    if isinstance(v, dict):
        for k in s.get("required", []):
            if k not in v:
                fail("%s: missing %s" % (path, k))
        for k, sub in s.get("properties", {}).items():
            if k in v:
                check(v[k], sub, root, path + "." + k)
    if isinstance(v, list) and "items" in s:
        for i, item in enumerate(v):
            check(item, s["items"], root, "%s[%d]" % (path, i))


def run_all(out, doc):
    env = dict(os.environ, TMPDIR=tmp)
    p = subprocess.run([sys.executable, RUN_ALL, "--quick", "--bench", BENCH,
                        "--out", out, "--doc", doc], capture_output=True,
                       text=True, timeout=600, env=env)
    if p.returncode != 0:
        fail("run-all: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))


def main():
    if not shutil.which("gnuplot"):
        print("bench_run_all_smoke: no gnuplot: skipping")
        shutil.rmtree(tmp)
        sys.exit(77)
    schema = json.load(open(SCHEMA))
    out, doc = os.path.join(tmp, "results"), os.path.join(tmp, "doc.md")
    shutil.copy(DOC, doc)
    original = open(DOC).read()
    run_all(out, doc)

    js = glob.glob(os.path.join(out, "*.json"))
    if len(js) != 1:
        fail("expected one JSON in %s, got %r" % (out, js))
    res = json.load(open(js[0]))
    if res.get("tool") != "vmsg-bench run-all" or not res.get("meta"):
        fail("no run-all envelope")
    cmds = sorted(set(r["subcommand"] for r in res["reports"]))
    if cmds != ["pingpong", "setup", "stream"]:
        fail("subcommands %r" % cmds)
    for rep in res["reports"]:
        check(rep, schema, schema)
        if not rep["results"]:
            fail("%s: no results" % rep["subcommand"])
        for r in rep["results"]:
            if r["error"] is not None:
                fail("%s %s: %s" % (rep["subcommand"], r["transport"],
                                    r["error"]))
            if r["median"]["ops"] <= 0:
                fail("%s %s: nothing measured" % (rep["subcommand"],
                                                  r["transport"]))
            if rep["subcommand"] == "pingpong" and not r["median"].get("cdf"):
                fail("pingpong %s: no CDF" % r["transport"])

    pngs = sorted(glob.glob(os.path.join(out, "*.png")))
    kinds = ["latency-cdf-spin", "latency-cdf-block", "stream-batch-on",
             "stream-batch-off"]
    for k in kinds:
        hit = [p for p in pngs if p.endswith(k + ".png")]
        if not hit:
            fail("no %s plot in %r" % (k, pngs))
        data = open(hit[0], "rb").read()
        if len(data) < 1000 or not data.startswith(b"\x89PNG\r\n\x1a\n"):
            fail("%s: not a PNG or nearly empty (%d bytes)" % (hit[0],
                                                               len(data)))

    text = open(doc).read()
    for want in ("<!-- run-all:begin", "<!-- run-all:end -->",
                 "#### Against the targets (issue 5)",
                 "| spin ping-pong 64 B", "setup on the host backend",
                 "#### vmsg on the sim vs libxenvchan on the sim",
                 "latency-cdf-spin.png", "stream-batch-on.png",
                 "--quick"):
        if want not in text:
            fail("doc lacks %r" % want)
    # Everything outside the generated section is kept.
    head = original.split("<!-- run-all:begin")[0].rstrip()
    if not text.startswith(head[:2000]) or "## Method" not in text:
        fail("the rest of the doc was not kept")
    # A second run replaces the section rather than adding one.
    run_all(os.path.join(tmp, "results2"), doc)
    if open(doc).read().count("<!-- run-all:begin") != 1:
        fail("second run duplicated the generated section")
    if os.listdir(tmp) != [] and any(d.startswith("vmsg-bench-")
                                     for d in os.listdir(tmp)):
        fail("vmsg-bench left state behind: %r" % os.listdir(tmp))
    shutil.rmtree(tmp)
    print("bench_run_all_smoke: ok")


main()
