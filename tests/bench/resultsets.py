#!/usr/bin/env python3
"""bench_resultsets: the block, network, drop-in and chanmem result sets
(bench/resultset.py) on known inputs, nothing measured:
  records   records files as bench/block-run and bench/net/run.sh write
            them become result sets that fit bench/resultset.schema.json;
            sets with a wrong kind, a negative figure or a missing field
            do not;
  verdicts  each issue-13/14/18 target on both sides of its bound: "met in
            this run" or "**not met** in this run", "not measured" when a
            path is missing; the drop-in's ratios point the right way;
            chanmem's 4 KiB of heap per channel met on the bound, not
            one byte past it;
  newest    a section that reads an older result set of its kind than
            the newest one in bench/results/ is reported; a run pinned
            with --cpus (or spinning with --spin-us) is newest among the
            runs made alike only, and a new result set retargets the
            sections of its variant only;
  edited    a copy of docs/benchmarks.md's block, net, dropin and chanmem
            sections
            with the committed result sets renders back unchanged, and
            with one figure edited by hand no longer does (what
            docs_figures catches in the tree).

usage: resultsets.py REPO"""
import json
import os
import re
import shutil
import sys
import tempfile

REPO = sys.argv[1]
sys.path.insert(0, os.path.join(REPO, "bench"))
import gensections  # noqa: E402
import resultset  # noqa: E402

tmp = tempfile.mkdtemp(prefix="resultsets-")
checks = 0


def fail(msg):
    print("bench_resultsets: FAIL: " + msg, file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1)


def expect(cond, msg):
    global checks
    checks += 1
    if not cond:
        fail(msg)


HEAD = ("date 2026-12-02 20:30:01 UTC\nloadavg_start 4.30 5.11 4.42\n"
        "rev abc1234\nseconds 2\ncommand test\n")


def blk(name, iops, mbs, p50=None):
    return "%-22s %10.0f IOPS %9.1f MB/s%s\n" % (
        name, iops, mbs, "" if p50 is None else "   p50 %6.1f us" % p50)


def block_records(a_qd32, b_qd32, a_p50, b_p50, c_d):
    """Paths a to d: b's depth-32 IOPS and p50 against a's, c against d
    at every workload by the factor c_d."""
    out = HEAD
    for key, qd32, p50, scale in (("a", a_qd32, a_p50, 1),
                                  ("b", b_qd32, b_p50, 1),
                                  ("c", 1000 * c_d, 20.0, c_d),
                                  ("d", 1000, 15.0, 1)):
        out += "path %s test path %s\n" % (key, key)
        out += blk("randread-4k-qd1", 1000 * scale, 4 * scale, p50)
        out += blk("randread-4k-qd32", qd32, 4)
        out += blk("seqread-1m-qd8", 1000 * scale, 1000 * scale)
        out += blk("seqwrite-1m-qd8", 1000 * scale, 1000 * scale)
    return out


def make(kind, text, name):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    res = resultset.from_records(kind, path, None)
    return res, resultset.write(res, os.path.join(tmp, "out", name))


MET, MISSED, NONE = "met in this run", "**not met** in this run", \
    "not measured"

# ---- records -----------------------------------------------------------------
res, path = make("block", block_records(1000, 850, 1.0, 11.0, 0.9), "b1")
expect(resultset.problems_of(json.load(open(path))) == [],
       "a block result set from records does not fit the schema")
expect(res["meta"]["build"] == "abc1234 (?)" and
       res["meta"]["loadavg_start"] == [4.3, 5.11, 4.42] and
       res["meta"]["seconds"] == 2.0, "block meta: %r" % res["meta"])
expect([p["path"] for p in res["paths"]] == ["a", "b", "c", "d"] and
       res["paths"][0]["workloads"][0]["p50_us"] == 1.0 and
       res["paths"][0]["workloads"][1]["p50_us"] is None,
       "block paths: %r" % res["paths"])
net, npath = make("net", HEAD + "net veth 9000 20\nnet tapfwd 2000 50\n"
                  "net switch 1600 70\nnet firewall 1440 90\n", "n1")
expect(resultset.problems_of(net) == [], "a net result set does not fit")
bad = json.loads(json.dumps(net))
bad["paths"][0]["mbit_per_s"] = -1
expect(resultset.problems_of(bad), "a negative throughput fits the schema")
bad = json.loads(json.dumps(net))
bad["kind"] = "block"
expect(resultset.problems_of(bad), "a net set called block fits the schema")
bad = json.loads(json.dumps(res))
del bad["paths"][1]["workloads"][0]["iops"]
expect(resultset.problems_of(bad), "a workload without IOPS fits")
bad = json.loads(json.dumps(net))
del bad["meta"]["loadavg_start"]
expect(resultset.problems_of(bad), "a set without its load average fits")
pinned, ppath = make("net", HEAD + "cpus 0\nnet veth 9000 20\n", "n0")
expect(pinned["meta"].get("cpus") == "0" and "cpus" not in net["meta"],
       "the cpus record: %r, %r" % (pinned["meta"], net["meta"]))
expect("every process on CPU 0 (taskset)" in
       resultset.render_net([ppath], ["x.json"]) and
       "placed by the scheduler" in resultset.render_net([npath], ["x.json"]),
       "the section does not say where the processes ran")
bad = json.loads(json.dumps(pinned))
bad["meta"]["cpus"] = "0; rm"
expect(resultset.problems_of(bad), "a cpus field that is no CPU list fits")
spun, spath = make("net", HEAD + "cpus 0\nspin_us 50\nnet veth 9000 20\n",
                   "n5")
expect(spun["meta"].get("spin_us") == 50.0 and
       resultset.variant(spath) == ("0", 50.0) and
       resultset.variant(ppath) == ("0", None) and
       resultset.variant(npath) == (None, None),
       "variants: %r %r %r" % (resultset.variant(spath),
                               resultset.variant(ppath),
                               resultset.variant(npath)))
expect("spin 50 µs before they sleep" in
       resultset.render_net([spath], ["x.json"]),
       "the section does not say the run spun")

# ---- verdicts ----------------------------------------------------------------


def verdicts(render, path):
    text = render([path], ["bench/results/" + os.path.basename(path)])
    return [line.rsplit("|", 2)[1].strip() for line in text.splitlines()
            if line.startswith("| ") and line.rstrip().endswith(
                ("run |", "measured |"))]


# On the bounds: 85 %, +10 µs, 90 %: all met.
expect(verdicts(resultset.render_block, path) == [MET, MET, MET],
       "block on its bounds: %r" % verdicts(resultset.render_block, path))
_, p = make("block", block_records(1000, 849, 1.0, 11.1, 0.89), "b2")
expect(verdicts(resultset.render_block, p) == [MISSED, MISSED, MISSED],
       "block past its bounds: %r" % verdicts(resultset.render_block, p))
only_ab = "\n".join(block_records(1000, 900, 1.0, 2.0, 1).split(
    "path c")[0].splitlines()) + "\n"
_, p = make("block", only_ab, "b3")
expect(verdicts(resultset.render_block, p) == [MET, MET, NONE],
       "block without c and d: %r" % verdicts(resultset.render_block, p))
# switch 80 % of tapfwd, p50 +20 µs, firewall 90 % of the switch: met.
expect(verdicts(resultset.render_net, npath) == [MET, MET, MET],
       "net on its bounds: %r" % verdicts(resultset.render_net, npath))
_, p = make("net", HEAD + "net tapfwd 2000 50\nnet switch 1599 71\n"
            "net firewall 1438 90\n", "n2")
expect(verdicts(resultset.render_net, p) == [MISSED, MISSED, MISSED],
       "net past its bounds: %r" % verdicts(resultset.render_net, p))
_, p = make("net", HEAD + "net veth 9000 20\nnet switch - -\n", "n3")
expect(verdicts(resultset.render_net, p) == [NONE, NONE, NONE],
       "net without figures: %r" % verdicts(resultset.render_net, p))


def run(tp, p50=None, mps=None):
    m = {"ops": 1, "bytes": 1, "elapsed_ns": 1, "min_ns": 1, "p50_ns": p50
         or 1, "p90_ns": 1, "p99_ns": 1, "p999_ns": 1, "max_ns": 1,
         "mean_ns": 1, "msgs_per_s": mps or 1, "bytes_per_s": 1}
    return {"transport": tp, "wait": "spin", "batch": True, "size": 64,
            "ring": 65536, "error": None, "median": m,
            "spread": {"metric": "p50_ns" if p50 else "msgs_per_s",
                       "min": p50 or mps, "max": 2 * (p50 or mps)}}


def report(cmd, results):
    return {"tool": "vmsg-bench", "schema": 1, "subcommand": cmd,
            "host": "h", "date": "d", "runs": 3, "cpus": [0, 1],
            "clock": "c", "hist_rel_error": 0.01, "results": results,
            "argv": [cmd, "--runs", "3"]}


drop = {"tool": "bench/run-all --dropin", "schema": 1, "kind": "dropin",
        "meta": dict(net["meta"], command="bench/run-all --dropin"),
        "reports": [report("pingpong", [run(resultset.DEBIAN, p50=1000),
                                        run(resultset.DROPIN, p50=800)]),
                    report("stream", [run(resultset.DEBIAN, mps=2e6),
                                      run(resultset.DROPIN, mps=1e6)])]}
expect(resultset.problems_of(drop) == [], "a dropin set does not fit: %r"
       % resultset.problems_of(drop))
rows = resultset.dropin_rows(drop)
expect([(r[0], round(r[4], 2)) for r in rows] ==
       [("ping-pong p50, spin", 1.25), ("stream msgs/s, spin, batch on",
                                        0.5)], "dropin rows: %r" % rows)
dp = resultset.write(drop, os.path.join(tmp, "out"))
text = resultset.render_dropin([dp], ["x.json"])
expect("| 64 B | 1.00 µs | 0.80 µs | 1.25× | drop-in | 2.00× |" in text and
       "| 2 M/s | 1 M/s | 0.50× | Debian |" in text and
       "at 1 of the 2 points" in text, "dropin section:\n" + text)
bad = json.loads(json.dumps(drop))
del bad["reports"][0]["results"][0]["size"]
expect(resultset.problems_of(bad), "a dropin report without size fits")


def proc(name, heap, anon, rings):
    return {"process": name, "heap_bytes": heap, "rss_anon_bytes": anon,
            "rss_shmem_pages": 20.0, "fds": 6.0, "maps": 4.0,
            "ring_pages": rings}


# chanmem: issue 15's 4 KiB of heap per channel, met exactly on the bound
# and missed one byte past it; vmsgd's RssAnon stands for its heap.
mem = {"tool": "bench/chanmem", "schema": 1, "kind": "chanmem",
       "meta": dict(net["meta"], command="bench/chanmem build"),
       "paths": [{"path": "direct", "channels": 1000, "ring_pages": 33,
                  "processes": [proc("consumer", 4096.0, 4000.0, 33),
                                proc("provider", 4097.0, 4100.0, 33),
                                proc("vmsgd", None, 600.0, 0)]},
                 {"path": "relayed", "channels": 500, "ring_pages": 33,
                  "processes": [proc("consumer", 1000.0, 900.0, 33),
                                proc("provider", 1000.0, -50.0, 33),
                                proc("vmsgd", None, 4097.0, 66)]}]}
expect(resultset.problems_of(mem) == [], "a chanmem set does not fit: %r"
       % resultset.problems_of(mem))
expect([r[8] for r in resultset.chanmem_rows(mem)] ==
       [True, False, True, True, True, False],
       "chanmem verdicts: %r" % resultset.chanmem_rows(mem))
mp = resultset.write(mem, os.path.join(tmp, "out"))
text = resultset.render_chanmem([mp], ["x.json"])
expect("| direct, consumer (1000 channels) | 4096 B | 4000 B | 33 |" in text
       and "| direct, vmsgd (1000 channels) | 600 B (its RssAnon) |" in text
       and "| relayed, vmsgd (500 channels) | 4097 B (its RssAnon) | 4097 B "
       "| 66 |" in text and "met in 4 of the 6 rows" in text,
       "chanmem section:\n" + text)
bad = json.loads(json.dumps(mem))
bad["paths"][0]["processes"][2]["process"] = "dom0"
expect(resultset.problems_of(bad), "a chanmem set with process dom0 fits")
bad = json.loads(json.dumps(mem))
del bad["paths"][1]["processes"][0]["heap_bytes"]
expect(resultset.problems_of(bad), "a chanmem process without heap fits")

# ---- newest ------------------------------------------------------------------
root = os.path.join(tmp, "tree")
os.makedirs(os.path.join(root, "bench", "results"))
expect(os.path.exists(resultset.png_of(npath)),
       "writing a net result set drew no plot beside it")
for name in ("net-h-20261201-100000.json", "net-h-20261202-090000.json"):
    dst = os.path.join(root, "bench", "results", name)
    shutil.copy(npath, dst)
    shutil.copy(resultset.png_of(npath), resultset.png_of(dst))
old = ["bench/results/net-h-20261201-100000.json"]
new = ["bench/results/net-h-20261202-090000.json"]
got = resultset.check_tree(root, lambda k: [("d.md", old)] if k == "net"
                           else [])
expect(len(got) == 1 and "not the newest" in got[0],
       "a section reading an older set: %r" % got)
expect(resultset.check_tree(root, lambda k: [("d.md", new)] if k == "net"
                            else []) == [], "the newest set is refused")
os.remove(resultset.png_of(os.path.join(root, new[0])))
got = resultset.check_tree(root, lambda k: [("d.md", new)] if k == "net"
                           else [])
expect(len(got) == 1 and "no plot beside it" in got[0],
       "the newest set without its plot: %r" % got)

# A pinned set newer than every spread one: the spread section still reads
# the newest spread set, the pinned section must read the pinned one.
pin = os.path.join(root, "bench", "results", "net-h-20261203-090000.json")
shutil.copy(ppath, pin)
shutil.copy(resultset.png_of(ppath), resultset.png_of(pin))
shutil.copy(resultset.png_of(npath), resultset.png_of(os.path.join(root,
                                                                   new[0])))
pinrel = ["bench/results/net-h-20261203-090000.json"]
expect(resultset.check_tree(root, lambda k: [("d.md", new), ("d.md", pinrel)]
                            if k == "net" else []) == [],
       "a pinned and a spread section, each reading its newest, refused")
got = resultset.check_tree(root, lambda k: [("d.md", new), ("d.md", new)]
                           if k == "net" else [])
expect(got == [], "the newest spread set refused beside a newer pinned one: "
       "%r" % got)
expect(resultset.newest("net", os.path.join(root, "bench", "results"),
                        ("0", None)) == pin,
       "the newest pinned set is not the pinned one")
doc = os.path.join(tmp, "two.md")
with open(doc, "w") as f:
    f.write(gensections.wrap("net", new, "spread\n") + "\n" +
            gensections.wrap("net", pinrel, "pinned\n") + "\n")
gensections.retarget(doc, "net", ["n.json"], lambda fs: "redone\n",
                     lambda old: old == new)
text = open(doc).read()
expect(text.count("redone") == 1 and "spread" in text and
       "pinned" not in text,
       "retarget did not leave the other placement's section alone:\n"
       + text)

# ---- real Xen: the storage and network scenarios' figures ------------------
fig = os.path.join(tmp, "xen-figures.txt")
with open(fig, "w") as f:
    f.write("# run-scenarios.sh\ndate 2026-12-03 06:00 UTC\nhost h\n"
            "boot_s 300\nqemu_cpu max\nloadavg 1 1 1\n"
            "result PASS storage\nresult PASS network\n"
            "FIGURE storage chain writes_s=0.4 compare_32MiB_s=1.6 "
            "read_MBps=20.0 overlay_boot_s=0.7\n"
            "FIGURE storage direct_nbd compare_32MiB_s=0.8 read_MBps=40.0\n"
            "FIGURE storage overlay_destroy nbd_error_s=0.4 "
            "after_return_s=0.12 client_end_s=3.5\n"
            "FIGURE network switch_uk ping_p50_ms=10.7 iperf3_mbits=76.0\n"
            "FIGURE network tapfwd ping_p50_ms=0.5 iperf3_mbits=304.0\n"
            "FIGURE network firewall_uk ping_p50_ms=12 iperf3_mbits=38.0 "
            "drop_policy=3\n")
xres = gensections.parse_xen_figures(fig)
expect([f["label"] for f in xres["figures"]] ==
       ["chain", "direct_nbd", "overlay_destroy", "switch_uk", "tapfwd",
        "firewall_uk"], "xen figure labels: %r" % xres["figures"])
xp = os.path.join(tmp, "xen-h.json")
with open(xp, "w") as f:
    json.dump(xres, f)
text = gensections.render_xen_block([xp], ["bench/results/xen-h.json"])
expect("| 1.6 s | 20.0 MiB/s | 0.50× |" in text and
       "| 0.8 s | 40.0 MiB/s | 1.00× |" in text and
       "error 0.12 s after" in text, "xen-block section:\n" + text)
text = gensections.render_xen_net([xp], ["bench/results/xen-h.json"])
expect("| 0.5 ms | 304.0 Mbit/s | 1.00× |" in text and
       "| 10.7 ms | 76.0 Mbit/s | 0.25× |" in text and
       "| 12 ms | 38.0 Mbit/s | 0.12× |" in text,
       "xen-net section:\n" + text)

# ---- edited ------------------------------------------------------------------
doc = open(os.path.join(REPO, "docs", "benchmarks.md")).read()
secs = [(kind, files, doc[a:b]) for a, b, kind, files in
        gensections.sections(doc) if kind in resultset.RENDERERS]
# One section per kind, and for block and net one per variant (spread,
# pinned, ...), each of its own variant.
expect(set(k for k, _, _ in secs) == {"block", "chanmem", "dropin", "net"},
       "docs/benchmarks.md's block, net, dropin and chanmem sections: %r"
       % [k for k, _, _ in secs])
seen = [(k, resultset.variant(os.path.join(REPO, f[0]))) for k, f, _ in secs]
expect(len(seen) == len(set(seen)),
       "two sections of one kind and variant: %r" % seen)
os.makedirs(os.path.join(root, "docs"))
shutil.rmtree(os.path.join(root, "bench", "results"))
os.makedirs(os.path.join(root, "bench", "results"))
for _, files, _ in secs:
    for f in files:
        shutil.copy(os.path.join(REPO, f), os.path.join(root, f))
copy = "\n\n".join(t for _, _, t in secs) + "\n"
target = os.path.join(root, "docs", "benchmarks.md")
with open(target, "w") as f:
    f.write(copy)
expect(gensections.check(root, resultset.RENDERERS) == [],
       "the committed sections do not render back unchanged")
for kind, _, text in secs:
    # The first figure of the section's first table row, one higher.
    m = re.search(r"^\| [^|]+ \| (\d+)", text.split("|---", 1)[1], re.M)
    expect(m is not None, "no figure in the %s section" % kind)
    edited = text.replace(m.group(0), m.group(0)[:-len(m.group(1))] +
                          str(int(m.group(1)) + 1), 1)
    with open(target, "w") as f:
        f.write(copy.replace(text, edited))
    got = gensections.check(root, resultset.RENDERERS)
    expect(len(got) == 1 and "(from the data)" in got[0],
           "an edited %s figure passes the check: %r" % (kind, got))

shutil.rmtree(tmp, ignore_errors=True)
print("bench_resultsets: %d checks passed" % checks)
