#!/usr/bin/env python3
"""Write the fuzz targets' seed corpora into fuzz/corpus/<target>/.

Each seed is a valid input in the layout the target's comment describes
(fuzz/<target>.c), built from well-formed messages so that the fuzzers
start deep in the protocols. Run it again after changing a layout; the
files are committed. Files named crash-* in the same folders are
regression inputs of bugs the fuzzers found: this script leaves them.

  fuzz/make-corpus.py [OUTDIR]   (default: fuzz/corpus next to it)
"""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "corpus")

def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)

def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- protobuf (proto3, as lib/wire and protobuf-c write it)
def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])

def pb_int(num, v): return varint(num << 3) + varint(v) if v else b""
def pb_str(num, s):
    s = s.encode() if isinstance(s, str) else s
    return varint(num << 3 | 2) + varint(len(s)) + s if s else b""
def zigzag(v): return (v << 1) ^ (v >> 31) if v >= 0 else ((-v) << 1) - 1

PROTO_VERSION = 1 << 16  # 1.0 (vmsg/control.h: major in the high half)
def hello(name="guest", version=PROTO_VERSION, max_msg=4096):
    return pb_int(1, version) + pb_int(2, 1) + pb_int(3, max_msg) + pb_str(4, name)
def error(code, text): return pb_int(1, zigzag(code)) + pb_str(2, text)
def offer(req, svc): return pb_int(1, req) + pb_str(2, svc)
def result(req, code, text=""): return pb_int(1, req) + pb_int(2, zigzag(code)) + pb_str(3, text)
def open_(req, svc, t=0): return pb_int(1, req) + pb_str(2, svc) + pb_int(3, t)
def opened(req, dom, path, mm, ch):
    return pb_int(1, req) + pb_int(2, dom) + pb_str(3, path) + pb_int(4, mm) + pb_int(5, ch)
def serve(sid, svc, dom, path):
    return (pb_int(1, sid) + pb_str(2, svc) + pb_int(3, dom) + pb_str(4, path) +
            pb_int(5, 65536) + pb_int(6, 65536) + pb_int(7, 1 << 20) + pb_int(8, 5000))
def serve_result(sid, code, text=""): return pb_int(1, sid) + pb_int(2, zigzag(code)) + pb_str(3, text)
def closed(ch): return pb_int(1, ch)

T_HELLO, T_ERROR = 0x0001, 0x0002

# ---- frames (docs/protocol.md)
def frame(type_, payload, flags=0):
    pad = (-len(payload)) % 8
    return u32(len(payload)) + u16(type_) + u16(flags) + payload + b"\0" * pad

def frame_seeds():
    msg = frame(0x100, b"hello")
    big = bytes(range(256)) * 2  # 512 bytes in three fragments
    frags = (frame(0x101, u64(len(big)) + big[:200], 1) +
             frame(0x101, big[200:400], 3) + frame(0x101, big[400:], 2))
    body = msg + frags + frame(0x102, b"")
    # [order sel][reasm cap][start][fill len][fill] then a full read
    write("frame", "messages", u8(0) + u16(4096) + u32(0) + u16(len(body)) + body + b"\xff")
    # across the index wrap and the ring's end: a PAD fills the tail
    tail = frame(0, b"\0" * 16) + frame(0x100, b"after the pad")
    write("frame", "wrap-pad", u8(0) + u16(64) + u32(0xffffffe8) + u16(len(tail)) + tail + b"\xff")
    # a message over the reassembly capacity is skipped whole
    write("frame", "too-big", u8(2) + u16(100) + u32(8) + u16(len(frags)) + frags + b"\x03\x10")
    # the peer rewrites its index and a header between reads
    write("frame", "rewrite", u8(1) + u16(4096) + u32(0) + u16(len(msg)) + msg +
          b"\x03\x01" + b"\x00" + u16(16) + u8(8) + frame(0x103, b"")[:8] +
          b"\x01" + u32(8) + b"\x03\x04")

def pbwire_seeds():
    msgs = [hello("kv-client"), error(-13, "denied"), offer(7, "echo"),
            result(7, -2, "service 'x' is not offered"), open_(8, "kv.text", 5000),
            opened(8, 3, "/local/domain/3/data/vmsg/svc/12", 1 << 20, 12),
            serve(12, "kv.text", 5, "/local/domain/3/data/vmsg/svc/12"),
            serve_result(12, 0), closed(12)]
    for i, m in enumerate(msgs):
        write("pbwire", "msg-%d" % i, u8(i) + m)
    write("pbwire", "hello-exchange", u8(9) + u16(T_HELLO) + hello("peer"))
    write("pbwire", "hello-refused", u8(9) + u16(T_ERROR) + error(-93, "speaks 2.x"))
    write("pbwire", "hello-v2", u8(9) + u16(T_HELLO) + hello("new", version=2 << 16))

BLK_HELLO, BLK_INFO, BLK_REQ, BLK_REPLY = 0x0b00, 0x0b01, 0x0b02, 0x0b03
BLK_MAGIC = 0x4b4c4256
def blk_req(id_, op, off, length, flags=0):
    return u64(id_) + u64(off) + u32(length) + u16(op) + u16(flags)

def block_seeds():
    hello_ = u32(BLK_MAGIC) + u16(1) + u16(0) + u32(8) + u32(65536)
    def m(t, b): return u16(t) + u16(len(b)) + b
    srv = (u8(0) + m(BLK_HELLO, hello_) + m(BLK_REQ, blk_req(1, 1, 0, 4096)) +
           m(BLK_REQ, blk_req(2, 2, 4096, 512) + b"w" * 512) +
           m(BLK_REQ, blk_req(3, 3, 0, 0)) + m(BLK_REQ, blk_req(4, 4, 8192, 1024)) +
           m(BLK_REQ, blk_req(5, 5, 0, 512, 1)) + m(BLK_REQ, blk_req(6, 1, 1 << 20, 512)))
    write("block", "server", srv)
    info = (u32(BLK_MAGIC) + u16(1) + u16(0) + u64(1 << 20) + u32(512) + u32(4096) +
            u32(65536) + u32(8) + u32(0x1f) + u32(0))
    cli = (u8(1) + u16(BLK_INFO) + u8(len(info)) + info +
           b"\x00" + u8(1) + u32(4096) + u32(0) +            # submit READ 4096 @0
           b"\x00" + u8(2) + u32(512) + u32(8) +             # submit WRITE 512 @4096
           b"\x01" + u16(BLK_REPLY) + u16(16 + 4096) + u64(0) + u32(0) + u32(4096) + b"r" * 4096 +
           b"\x01" + u16(BLK_REPLY) + u16(16) + u64(1) + u32(0) + u32(0) +
           b"\x02")
    write("block", "client", cli)

NET_HELLO, NET_FRAME = 0x4e00, 0x4e01
def net_seeds():
    hello_ = u16(1) + u16(0) + u32(1500) + b"\x02\0\0\0\0\x02" + u16(0)
    eth = b"\x02\0\0\0\0\x01" + b"\x02\0\0\0\0\x02" + b"\x08\x00" + b"x" * 50
    def m(t, b): return b"\x00" + u16(t) + u16(len(b)) + b
    s = (u8(2) + u16(1500 - 68) + b"\x02\x10" + m(NET_HELLO, hello_) + b"\x02\x10" +
         m(NET_FRAME, eth) + m(NET_FRAME, eth[:10]) + m(0x4e07, b"?") + b"\x02\x10" +
         b"\x03" + u16(64) + b"\x04")
    write("net", "link", s)

def policy_seeds():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "dom0", "vmsgd.conf"), "rb") as f:
        write("policy", "installed", f.read())
    write("policy", "full", b"""[daemon]
log_level = debug
control_socket = /run/vmsgd.sock
bridge_flush_ms = 2000

[service echo]
offer = 1
open = 2,3
mode = direct
max_channels_per_domain = 4
ring_size = 65536
max_msg = 1048576

[service kv.text]
offer = *
open = none
mode = relayed

[bridge kv-text]
service = kv.text
listen = unix:/run/vmsg/kv-text.sock

[bridge web]
service = web
connect = tcp:127.0.0.1:8080
""")
    # Host mode: users by name and uid, root among them.
    write("policy", "host", b"""[daemon]
backend = host
host_dir = ./vmsg

[service kv]
offer = root
open = root,nobody,1002
mode = direct

[service any]
offer = *
open = 0
mode = direct
""")

def xs(type_, payload, req=1, tx=0):
    return u32(type_) + u32(req) + u32(tx) + u32(len(payload)) + payload

def xenstored_seeds():
    def on(conn, b): return u8(conn) + u16(len(b)) + b
    dom0 = (xs(11, b"/local/domain/5/data\0hello") + xs(2, b"/local/domain/5/data\0") +
            xs(14, b"/local/domain/5/data\0b5\0r0\0") + xs(1, b"/local/domain\0") +
            xs(8, b"5\0" + b"4096\0" + b"1\0") + xs(4, b"/local\0tok\0") +
            xs(6, b"\0") + xs(12, b"/tool\0", tx=1) + xs(7, b"T\0", tx=1) +
            xs(3, b"/local/domain/5/data\0") + xs(13, b"/local/domain/5/data\0") +
            xs(17, b"5\0") + xs(10, b"5\0") + xs(22, b"/\0" + b"0\0") + xs(9, b"5\0"))
    write("xenstored", "dom0", on(0, dom0))
    domu = (xs(11, b"data/x\0v") + xs(2, b"data/x\0") + xs(2, b"/local/domain/0\0") +
            xs(4, b"data\0t\0") + xs(5, b"data\0t\0") + xs(21, b""))
    # cut mid-header and mid-payload: the framing reassembles it
    write("xenstored", "domu-split", on(1, domu[:7]) + on(1, domu[7:30]) + on(1, domu[30:]))

def chan_seeds():
    def send(t, b): return b"\x00" + u16(t) + u16(len(b)) + b
    recv = b"\x06" + u16(4096) + b"\x01"
    big = bytes(range(256)) * 10 + b"tail"  # 2564 bytes: fragmented in a 4 KiB ring
    msgs = (send(0x100, b"one") + recv + send(0x101, big) + recv + b"\x08\x00\x09" +
            b"\x0b" + u16(0x200) + u16(300) + b"\x01" + b"\x05" + b"\x0d" +
            send(0x102, b"") + b"\x06" + u16(0) + b"\x00")
    write("chan", "messages", u8(2) + u16(8192) + u8(1) + msgs)
    write("chan", "messages-small", u8(0) + u16(600) + u8(0) + msgs)
    stream = (send(0x100, b"raw bytes") + b"\x0a" + u16(100) + b"\x01" +
              b"\x0c" + u16(200) + b"\x01" + b"\x05")
    write("chan", "stream", u8(3) + u16(100) + u8(2) + stream)
    write("chan", "peer-closes", u8(2) + u16(8192) + u8(1) + send(0x100, b"last") +
          b"\x04" + u8(0) + u8(0) + u8(1) + recv + recv)

def session_seeds():
    def op(dom, o, rest=b""): return u8(dom) + u8(o) + rest
    def hello_(dom): return op(dom, 0, u8(0) + u8(1) + u8(1) + u32(4096) + u8(0)) + op(dom, 3)
    up = hello_(0) + hello_(1) + hello_(2)
    s = (up + op(0, 0, u8(1) + u8(1) + u8(0)) + op(0, 3) + op(0, 4) +        # 1 offers echo
         op(1, 0, u8(2) + u8(2) + u8(0) + u8(1)) + op(1, 3) +               # 2 opens it
         op(0, 4) + op(0, 0, u8(3) + u8(1) + u8(1) + u8(0)) + op(0, 3) +    # 1 serves
         op(1, 4) + op(1, 0, u8(4) + u8(1)) + op(1, 3) +                    # 2 closes
         op(0, 4) + op(0, 0, u8(4) + u8(1)) + op(0, 3) + op(0, 5))
    write("vmsgd_session", "offer-open-close", s)
    r = (up + op(1, 0, u8(1) + u8(1) + u8(1)) + op(1, 3) +                  # 2 offers relay
         op(0, 0, u8(2) + u8(2) + u8(1) + u8(1)) + op(0, 3) + op(1, 4) +    # 1 opens it
         op(1, 0, u8(3) + u8(1) + u8(1) + u8(0)) + op(1, 3) + op(0, 4))
    write("vmsgd_session", "relayed", r)
    bad = (up + op(2, 1, u16(0x10) + u16(3) + b"\xff\xff\xff") + op(2, 3) +
           op(2, 1, u16(0x77) + u16(1) + b"x") + op(2, 3) + op(2, 0, u8(0) + u8(1) + u8(1) + u32(1) + u8(0)) +
           op(2, 3) + op(2, 2, u8(1) + u32(3)) + op(2, 3) + op(2, 3) + op(0, 6) + op(0, 6) + op(0, 3))
    write("vmsgd_session", "bad-input", bad)
    # an open the provider never answers, then a closed one that lingers:
    # time passes past both deadlines
    late = (up + op(0, 0, u8(1) + u8(1) + u8(0)) + op(0, 3) +
            op(1, 0, u8(2) + u8(2) + u8(0) + u8(0) + u32(5000)) + op(1, 3) +
            op(1, 5, u32(6000)) + op(1, 4) +
            op(2, 0, u8(2) + u8(3) + u8(0) + u8(1)) + op(2, 3) + op(0, 4) +
            op(0, 0, u8(3) + u8(2) + u8(1) + u8(0)) + op(0, 3) + op(2, 4) +
            op(2, 2, u8(0)) + op(2, 3) + op(0, 5, u32(400000)) + op(0, 4))
    write("vmsgd_session", "deadlines", late)

frame_seeds()
pbwire_seeds()
block_seeds()
net_seeds()
policy_seeds()
xenstored_seeds()
chan_seeds()
session_seeds()
