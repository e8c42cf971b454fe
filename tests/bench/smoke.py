#!/usr/bin/env python3
"""bench_smoke: run every vmsg-bench subcommand on every transport it offers
with tiny counts; check that each measurement ran and reported sane,
non-zero figures, and that the JSON output validates against
bench/results.schema.json (a small validator for the keywords the schema
uses: type, enum, required, properties, items, minimum, $ref). Also checks
--csv, the table, --help, and sides re-executed through the __side path.
The transports on the simulated Xen (*-sim*: their sides run under
`xensim run`, each vmsg-bench run starts and stops its own simulator) are
part of "every transport" when the simulator is built; without it they
are listed as unavailable, and the test exits 77 (skip) after checking
everything else, unless --expect-sim says this build has the simulator:
then a sim transport that vmsg-bench calls unavailable (it did not find
xensim or vmsg-xenstored) is a failure, with vmsg-bench's reason. Asserts
no speed.

usage: smoke.py VMSG_BENCH SCHEMA [--sim-only | --no-sim] [--expect-sim]"""
import csv
import io
import json
import os
import subprocess
import shutil
import sys
import tempfile

BENCH, SCHEMA = sys.argv[1], sys.argv[2]
SIM_ONLY = "--sim-only" in sys.argv[3:]
NO_SIM = "--no-sim" in sys.argv[3:]
EXPECT_SIM = "--expect-sim" in sys.argv[3:]
# A private TMPDIR for vmsg-bench: the simulators it starts keep their
# state there, so what they leave behind is ours to see (and remove).
PRIVATE = tempfile.mkdtemp(prefix="bench-smoke-")
os.environ["TMPDIR"] = PRIVATE
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool,
         "null": type(None)}


def fail(msg):
    print("bench_smoke: FAIL: " + msg, file=sys.stderr)
    shutil.rmtree(PRIVATE, ignore_errors=True)
    sys.exit(1)


def type_ok(v, t):
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, TYPES[t])




def resolve(ref, root):
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def check(v, s, root, path="$"):
    if "$ref" in s:
        return check(v, resolve(s["$ref"], root), root, path)
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


def run(args):
    p = subprocess.run([BENCH] + args, capture_output=True, text=True,
                       timeout=240)
    if p.returncode != 0:
        fail("vmsg-bench %s: exit %d\n%s%s" % (" ".join(args), p.returncode,
                                                p.stdout, p.stderr))
    return p.stdout


def transports(cmd):
    """The transports `vmsg-bench CMD --help` lists, and which of them it
    says are unavailable here (a "(unavailable here: ...)" line after).
    With --expect-sim, an unavailable sim transport fails the test."""
    out = run([cmd, "--help"])
    lines = out.split("transports:\n", 1)[1].splitlines()
    names, unavailable = [], set()
    for line in lines:
        if line.lstrip().startswith("(unavailable here"):
            unavailable.add(names[-1])
            if EXPECT_SIM and is_sim(names[-1]):
                fail("%s %s: expected to run in this build, but %s"
                     % (cmd, names[-1], line.strip()))
        elif line.startswith("  "):
            names.append(line.split()[0])
    if EXPECT_SIM and not any(is_sim(t) for t in names):
        fail("%s --help lists no sim transport in a build with the "
             "simulator" % cmd)
    return names, unavailable


def is_sim(t):
    return t.endswith("-sim") or "-sim-" in t


def leftovers():
    """Simulator processes or state dirs a run left behind."""
    procs = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                           text=True).stdout
    mine = [line for line in procs.splitlines() if PRIVATE in line]
    return mine, set(os.listdir(PRIVATE))


def sane(cmd, doc, want):
    seen = set()
    for r in doc["results"]:
        name = r["transport"]
        seen.add(name)
        if r["error"] is not None:
            fail("%s %s: error %s" % (cmd, name, r["error"]))
        m = r["median"]
        if m["ops"] <= 0 or m["elapsed_ns"] <= 0:
            fail("%s %s: nothing measured: %r" % (cmd, name, m))
        if len(r["runs"]) != doc["runs"]:
            fail("%s %s: %d runs, expected %d" % (cmd, name, len(r["runs"]),
                                                  doc["runs"]))
        if cmd == "stream":
            if m["msgs_per_s"] <= 0 or m["bytes_per_s"] <= 0:
                fail("stream %s: zero throughput" % name)
            if m["bytes"] != m["ops"] * r["size"]:
                fail("stream %s: bytes %d != ops * size" % (name, m["bytes"]))
        else:
            q = [m[k] for k in ("min_ns", "p50_ns", "p90_ns", "p99_ns",
                                "p999_ns", "max_ns")]
            if q[0] <= 0 or q != sorted(q):
                fail("%s %s: percentiles not positive and ordered: %r"
                     % (cmd, name, q))
        if not r["spread"]["min"] <= r["spread"]["max"]:
            fail("%s %s: spread min > max" % (cmd, name))
    if seen != set(want):
        fail("%s: transports %s, expected %s" % (cmd, sorted(seen),
                                                 sorted(want)))


def main():
    schema = json.load(open(SCHEMA))
    out = run(["--help"])
    if "pingpong" not in out:
        fail("--help does not name the subcommands")
    tiny = {
        "pingpong": ["--count", "200", "--warmup", "10", "--runs", "2",
                     "--size", "8,1000", "--wait", "spin,block,adaptive"],
        "stream": ["--count", "300", "--warmup", "10", "--runs", "2",
                   "--size", "64,20000", "--ring", "4K", "--batch", "both"],
        "setup": ["--count", "20", "--warmup", "2", "--runs", "2"],
    }
    # Spinning sides sharing a CPU crawl on a loaded machine: pin them.
    aff = os.sched_getaffinity(0)
    if 0 in aff and 1 in aff:
        for args in tiny.values():
            args += ["--cpus", "0,1"]
    sims = set()
    _, dirs_before = leftovers()
    for cmd, args in tiny.items():
        want, unavailable = transports(cmd)
        if not want:
            fail("%s --help lists no transports" % cmd)
        sims |= set(t for t in want if is_sim(t))
        if SIM_ONLY or NO_SIM:
            want = [t for t in want if (t in sims) == SIM_ONLY]
            if not want:
                continue
            args = args + ["--transport", ",".join(want)]
        want = [t for t in want if t not in unavailable]
        if not want:
            print("bench_smoke: %s: no transport available" % cmd)
            continue
        doc = json.loads(run([cmd, "--json"] + args))
        check(doc, schema, schema)
        if doc["subcommand"] != cmd:
            fail("subcommand %r" % doc["subcommand"])
        sane(cmd, doc, want)
        rows = list(csv.DictReader(io.StringIO(run([cmd, "--csv"] + args))))
        if not rows or any(r["error"] for r in rows):
            fail("%s --csv: no rows or an error: %r" % (cmd, rows[:1]))
        if any(float(r["p50_ns" if cmd != "stream" else "msgs_per_s"]) <= 0
               for r in rows):
            fail("%s --csv: a zero figure" % cmd)
        table = run([cmd] + args + ["--runs", "1"])
        for t in want:
            if t not in table:
                fail("%s table lacks %s" % (cmd, t))
        print("bench_smoke: %s ok (%s)" % (cmd, ", ".join(want)))
    # Every sim run stopped its simulator and removed its state.
    procs, dirs = leftovers()
    if procs or dirs - dirs_before:
        fail("left behind: %r %r" % (procs, sorted(dirs - dirs_before)))
    if not SIM_ONLY:
        # Sides started through exec (the path transports on the sim
        # take).
        doc = json.loads(run(["pingpong", "--json", "--reexec", "--count",
                              "100", "--runs", "1", "--transport",
                              "vmsg-host,unix-stream,tcp"]))
        check(doc, schema, schema)
        sane("pingpong", doc, ["vmsg-host", "unix-stream", "tcp"])
    _, unavailable = transports("pingpong")
    if not sims:
        print("bench_smoke: no sim transports in this build (no Xen "
              "libraries)")
    elif sims & unavailable:
        # Asking for one anyway is refused with the reason (status 3).
        t = sorted(sims & unavailable)[0]
        p = subprocess.run([BENCH, "pingpong", "--transport", t],
                           capture_output=True, text=True)
        if p.returncode != 3 or t not in p.stderr:
            fail("unavailable %s: exit %d, %r" % (t, p.returncode, p.stderr))
    # Bad options are refused with status 2.
    p = subprocess.run([BENCH, "stream", "--ring", "3000"],
                       capture_output=True)
    if p.returncode != 2:
        fail("--ring 3000 accepted")
    print("bench_smoke: ok")
    shutil.rmtree(PRIVATE, ignore_errors=True)
    if SIM_ONLY and (not sims or sims & unavailable):
        print("bench_smoke: the simulator is not built: skipping")
        sys.exit(77)


main()
