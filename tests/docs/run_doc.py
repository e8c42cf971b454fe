#!/usr/bin/env python3
"""Run a document's examples, in order, as a reader would paste them.

usage: run_doc.py DOC.md WORKDIR [--prelude FILE] [--timeout SEC]

Fenced blocks of DOC.md are taken by their info string:
  ```LANG file=NAME    written to WORKDIR/NAME
  ```sh                run (bash, in WORKDIR; every command must succeed)
  ```sh expect-fail    run; its last command must fail
  ```sh skip           not run (it cannot run here: say why in the text)
  ```                  (no info) right after a run block: lines the
                       block's output must contain, each as a substring
Every other block is prose. All run blocks share one shell, so exports and
background jobs carry over; at the end the shell's jobs are stopped. Each
run block is printed as it starts ("  $ " before each line) and its output
after it (indented): a page's run reads as a session at a terminal, which
is what `scripts/demo.sh storage` and `network` show. The
optional prelude (bash) runs first: it sets PATH, pkg-config and compiler
flags for the build under test, and may define `doc_cleanup`.
Exit 0 when every block did what it says, else 1 naming the block. The
whole page has --timeout seconds (100): a block that waits for what never
comes (`until grep -q ready log`) is stopped, its shell cleaned up as at
the end, and the run fails naming the last block that started.
"""
import os
import re
import shlex
import subprocess
import sys

FENCE = re.compile(r"^```(.*)$")


def blocks(text):
    """(info, body, first line number) of each fenced block."""
    out, cur, info, start = [], None, None, 0
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m and cur is None:
            cur, info, start = [], m.group(1).strip(), n
        elif line.startswith("```") and cur is not None:
            out.append((info, "\n".join(cur) + "\n", start))
            cur = None
        elif cur is not None:
            cur.append(line)
    if cur is not None:
        sys.exit(f"unterminated block from line {start}")
    return out


def checked(body):
    """The block with each command followed by a check: the step (a sourced
    file) returns at its first failing command. Background commands
    (ending in &) are left alone; backslash continuations are joined."""
    lines, cur = [], ""
    for raw in body.splitlines():
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        lines.append(cur)
        cur = ""
    out = []
    for line in lines:
        t = line.strip()
        if not t or t.startswith("#") or (t.endswith("&") and
                                          not t.endswith("&&")):
            out.append(line)
        else:
            out.append("{ " + line + "\n} || return $?")
    return "\n".join(out) + "\n"


def main():
    args = sys.argv[1:]
    prelude = None
    if "--prelude" in args:
        i = args.index("--prelude")
        prelude = args[i + 1]
        del args[i:i + 2]
    timeout = 100
    if "--timeout" in args:
        i = args.index("--timeout")
        timeout = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    doc, work = args
    name = os.path.basename(doc)
    os.makedirs(work, exist_ok=True)
    steps = []  # (kind, body, line, expected lines)
    for info, body, line in blocks(open(doc).read()):
        words = info.split()
        lang = words[0] if words else ""
        opts = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        flags = {w for w in words[1:] if "=" not in w}
        if "file" in opts:
            path = os.path.join(work, opts["file"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(body)
            print(f"{name}:{line}: wrote {opts['file']}")
        elif lang == "sh" and "skip" in flags:
            print(f"{name}:{line}: skipped (the text says why)")
        elif lang == "sh":
            steps.append(["fail" if "expect-fail" in flags else "run",
                          body, line, []])
        elif lang == "" and steps and not steps[-1][3] and \
                steps[-1][2] < line:
            steps[-1][3] = [l for l in body.splitlines() if l.strip()]
    if not steps:
        sys.exit(f"{name}: no run blocks")

    # One bash script: each step sourced in the main shell (exports and
    # jobs persist), its output kept, its status checked.
    script = ["set -u", "cd " + shlex.quote(work)]
    if prelude:
        script.append("source " + shlex.quote(prelude))
    script.append("doc_fail() { echo \"$1\"; shift; cat \"$@\"; exit 1; }")
    for i, (kind, body, line, _) in enumerate(steps):
        sfile = os.path.join(work, f".step{i}.sh")
        with open(sfile, "w") as f:
            f.write(checked(body))
        cfile = os.path.join(work, f".step{i}.cmd")
        with open(cfile, "w") as f:
            f.write(body)
        out = os.path.join(work, f".step{i}.out")
        q, qo = shlex.quote(sfile), shlex.quote(out)
        script.append(f"echo '{name}:{line}: running'")
        script.append(f"sed 's/^/  $ /' {shlex.quote(cfile)}")
        script.append(f"source {q} >{qo} 2>&1; st=$?")
        if kind == "run":
            script.append(f"[ $st -eq 0 ] || doc_fail '{name}:{line}: "
                          f"failed (status '$st')' {qo}")
        else:
            script.append(f"[ $st -ne 0 ] || doc_fail '{name}:{line}: "
                          f"succeeded, the text says it fails' {qo}")
        script.append(f"sed 's/^/    /' {qo}")
    for i, (_, _, line, want) in enumerate(steps):
        out = shlex.quote(os.path.join(work, f".step{i}.out"))
        for w in want:
            script.append(f"grep -qF -- {shlex.quote(w.strip())} {out} || "
                          f"doc_fail '{name}:{line}: output lacks: "
                          f"{w.strip()}' {out}")
    script.append(f"echo '{name}: every block did what it says'")
    full = "\n".join(script) + "\n"
    wrapper = ("set -u\n"
               "cleanup() { jobs -p | xargs -r kill -TERM 2>/dev/null; "
               "declare -F doc_cleanup >/dev/null && doc_cleanup; wait; }\n"
               "trap cleanup EXIT\n"
               "trap 'exit 143' TERM\n" + full)
    p = subprocess.Popen(["bash", "-c", wrapper], cwd=work)
    try:
        rc = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        # TERM: the shell exits through its EXIT trap, which stops its
        # jobs and runs doc_cleanup.
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        print(f"{name}: timed out after {timeout} s in the last block "
              "that started (above)")
        return 1
    return 0 if rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
