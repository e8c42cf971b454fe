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

# ---- the network appliances (fuzz/firewall.c, fuzz/l2switch.c)
def be16(v): return struct.pack(">H", v & 0xffff)
def inet_sum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

MAC_OUT, MAC_IN = b"\x02\0\0\0\0\x01", b"\x02\0\0\0\0\x02"
def eth(dst, src, type_, payload): return dst + src + be16(type_) + payload
def ip4(src, dst, proto, l4, flags_frag=0, ihl=5, ttl=64):
    opts = b"\0" * (ihl * 4 - 20)
    h = (bytes([0x40 | ihl, 0]) + be16(ihl * 4 + len(l4)) + be16(1) + be16(flags_frag) +
         bytes([ttl, proto]) + b"\0\0" + bytes(src) + bytes(dst) + opts)
    return h[:10] + be16(inet_sum(h)) + h[12:] + l4
def pseudo(src, dst, proto, n): return bytes(src) + bytes(dst) + bytes([0, proto]) + be16(n)
def tcp_seg(src, dst, sp, dp, flags, data=b""):
    t = be16(sp) + be16(dp) + u32(1) + u32(0) + bytes([0x50, flags]) + be16(65535) + b"\0\0\0\0" + data
    return t[:16] + be16(inet_sum(pseudo(src, dst, 6, len(t)) + t)) + t[18:]
def udp_dgram(src, dst, sp, dp, data=b"", nosum=False):
    u = be16(sp) + be16(dp) + be16(8 + len(data)) + b"\0\0" + data
    s = 0 if nosum else (inet_sum(pseudo(src, dst, 17, len(u)) + u) or 0xffff)
    return u[:6] + be16(s) + u[8:]
def icmp_echo(type_, data=b"ping" * 8):
    m = bytes([type_, 0]) + b"\0\0" + be16(7) + be16(1) + data
    return m[:2] + be16(inet_sum(m)) + m[4:]
OUT_IP, IN_IP = (198, 18, 0, 1), (198, 18, 0, 2)
def tcp_frame(src, dst, sp, dp, flags, data=b""):
    return eth(MAC_IN, MAC_OUT, 0x0800, ip4(src, dst, 6, tcp_seg(src, dst, sp, dp, flags, data)))
def udp_frame(src, dst, sp, dp, data=b"q", nosum=False):
    return eth(MAC_IN, MAC_OUT, 0x0800, ip4(src, dst, 17, udp_dgram(src, dst, sp, dp, data, nosum)))
def echo_frame(src, dst, type_=8):
    return eth(MAC_IN, MAC_OUT, 0x0800, ip4(src, dst, 1, icmp_echo(type_)))
ARP_REQ = eth(b"\xff" * 6, MAC_OUT, 0x0806, be16(1) + be16(0x0800) + b"\x06\x04" + be16(1) +
              MAC_OUT + bytes(OUT_IP) + b"\0" * 6 + bytes(IN_IP))

# fuzz/firewall.c: [config] then [op][len - 14: 2][bytes] (ops 0, 1), [op]
# (2: the previous frame turned round, 3: again); op bit 0 the port,
# bits 1-3 the time that passes.
FW_RULES0, FW_RULES1, FW_UDP_ONLY, FW_EDGES = 0, 1, 2, 3
FW_ICMP, FW_OUT_OPEN, FW_MTU9000, FW_MTU68 = 4, 8, 0x10, 0x20
T_NONE, T_1MS, T_1S, T_MS, T_S, T_60S, T_60S_1, T_300S_1 = range(8)
def fw(port, data, t=T_NONE, fix=False, t_arg=b""):
    return u8(port | t << 1 | (0x10 if fix else 0)) + t_arg + u16(len(data) - 14) + data
def fw_turn(port, t=T_NONE, t_arg=b""): return u8(port | t << 1 | 0x20) + t_arg
def fw_again(port, t=T_NONE, t_arg=b""): return u8(port | t << 1 | 0x30) + t_arg

def firewall_seeds():
    std = FW_RULES0 | FW_ICMP
    write("firewall", "ping", u8(std) + fw(0, echo_frame(OUT_IP, IN_IP)) + fw_turn(1, T_1MS) +
          fw(1, echo_frame(IN_IP, OUT_IP)) + fw_turn(0))
    write("firewall", "ping-refused", u8(FW_RULES0) + fw(0, echo_frame(OUT_IP, IN_IP)) +
          fw(1, echo_frame(IN_IP, OUT_IP, 13)))
    # SYN to 5201, SYN-ACK back, ACK, data; 300.001 s idle: the return refused
    syn = tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x02)
    write("firewall", "tcp-allowed", u8(std) + fw(0, syn) + fw_turn(1, T_1MS) +
          fw(0, tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x10), T_1MS) +
          fw(1, tcp_frame(IN_IP, OUT_IP, 5201, 40000, 0x18, b"data" * 10), T_1S) +
          fw(1, tcp_frame(IN_IP, OUT_IP, 5201, 40000, 0x10), T_300S_1))
    write("firewall", "tcp-refused", u8(std) + fw(0, tcp_frame(OUT_IP, IN_IP, 40001, 5202, 0x02)) +
          fw_turn(1) + fw(1, tcp_frame(IN_IP, OUT_IP, 5201, 40009, 0x12)) +
          fw(0, tcp_frame(OUT_IP, IN_IP, 40002, 443, 0x02)))
    write("firewall", "tcp-rules1", u8(FW_RULES1) + fw(0, tcp_frame(OUT_IP, IN_IP, 40002, 443, 0x02)) +
          fw_turn(1) + fw(1, udp_frame(IN_IP, OUT_IP, 123, 123)) + fw_turn(0))
    # a UDP query and its answer; 60 s later still live, 60.001 s after not
    q = udp_frame(IN_IP, OUT_IP, 33333, 53, b"query")
    write("firewall", "udp-query-answer", u8(std) + fw(1, q) + fw_turn(0, T_1MS) +
          fw_again(0, T_60S) + fw_again(0, T_60S_1) +
          fw(1, udp_frame(IN_IP, OUT_IP, 33334, 53, b"nosum", nosum=True)) + fw_turn(0))
    write("firewall", "udp-only", u8(FW_UDP_ONLY) + fw(0, udp_frame(OUT_IP, IN_IP, 1, 53)) +
          fw(0, tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x02)))
    write("firewall", "edges", u8(FW_EDGES | FW_ICMP) + fw(0, tcp_frame(OUT_IP, IN_IP, 65535, 1, 0x02)) +
          fw_turn(1) + fw(0, udp_frame(OUT_IP, IN_IP, 0, 65535)) + fw_turn(1) +
          fw(0, tcp_frame(OUT_IP, OUT_IP, 7, 65535, 0x02)) + fw_turn(0))
    bad_arp = ARP_REQ[:14] + be16(9) + ARP_REQ[16:]
    write("firewall", "arp", u8(std) + fw(0, ARP_REQ) + fw_turn(1) + fw(0, bad_arp) +
          fw(0, ARP_REQ[:30]) + fw(1, ARP_REQ[:14] + ARP_REQ[14:20] + be16(3) + ARP_REQ[22:]))
    good = tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x10)
    def poke(f, off, b): return f[:off] + b + f[off + len(b):]
    write("firewall", "runts", u8(std) + fw(0, good[:14]) + fw(0, good[:30]) +
          fw(0, eth(MAC_IN, MAC_OUT, 0x0800, ip4(OUT_IP, IN_IP, 6, b"\0" * 12)), fix=True) +
          fw(0, eth(MAC_IN, MAC_OUT, 0x0800, ip4(OUT_IP, IN_IP, 17, b"\0" * 6)), fix=True) +
          fw(0, eth(MAC_IN, MAC_OUT, 0x0800, ip4(OUT_IP, IN_IP, 1, b"\x08\0\0\0")), fix=True))
    write("firewall", "bad-header", u8(std) + fw(0, poke(good, 14, b"\x44")) +
          fw(0, poke(good, 14, b"\x4f")) + fw(0, poke(good, 14, b"\x55")) +
          fw(0, good[:-1]) + fw(0, poke(good, 34 + 12, b"\x40"), fix=True) +
          fw(0, poke(good, 16, be16(10)), fix=True) +
          fw(0, eth(MAC_IN, MAC_OUT, 0x0800, ip4(OUT_IP, IN_IP, 6, tcp_seg(OUT_IP, IN_IP, 1, 5201, 2), ihl=6)), fix=True) +
          fw(0, poke(udp_frame(OUT_IP, IN_IP, 1, 53), 38, be16(200)), fix=True))
    write("firewall", "fragments", u8(std) +
          fw(1, eth(MAC_IN, MAC_OUT, 0x0800, ip4(IN_IP, OUT_IP, 17, udp_dgram(IN_IP, OUT_IP, 1, 53), 0x2000))) +
          fw(1, eth(MAC_IN, MAC_OUT, 0x0800, ip4(IN_IP, OUT_IP, 17, b"rest of it", 0x0010))) +
          fw(1, eth(MAC_IN, MAC_OUT, 0x0800, ip4(IN_IP, OUT_IP, 17, udp_dgram(IN_IP, OUT_IP, 1, 53), 0x4000))))
    write("firewall", "bad-checksums", u8(std) + fw(0, poke(good, 14 + 8, b"\x3f")) +
          fw(0, poke(good, 34 + 14, b"\x00")) +
          fw(0, poke(udp_frame(OUT_IP, IN_IP, 1, 53), 42, b"Q")) +
          fw(0, poke(echo_frame(OUT_IP, IN_IP), 40, b"\xff")) +
          fw(0, echo_frame(OUT_IP, IN_IP) + b"\0" * 6))
    write("firewall", "ethertypes", u8(std) + fw(0, eth(MAC_IN, MAC_OUT, 0x86dd, b"\x60" + b"\0" * 39)) +
          fw(0, eth(MAC_IN, MAC_OUT, 0x8100, b"\0\x01\x08\x00" + good[14:])))
    write("firewall", "out-open", u8(FW_RULES0 | FW_OUT_OPEN) +
          fw(1, tcp_frame(IN_IP, OUT_IP, 41000, 8080, 0x02)) + fw_turn(0) +
          fw(0, tcp_frame(OUT_IP, IN_IP, 41001, 8080, 0x02)) +
          fw(1, echo_frame(IN_IP, OUT_IP)) + fw_turn(0) + fw(0, echo_frame(OUT_IP, IN_IP)) +
          fw(1, udp_frame(IN_IP, OUT_IP, 5000, 9999)) + fw_turn(0, T_S, u16(59)))
    # many flows at once, some sets full, time passing between them
    many = b"".join(fw(i & 1, udp_frame(IN_IP, (10, 0, i >> 8, i & 0xff), 1024 + i, 53), T_MS, t_arg=u16(i * 50))
                    for i in range(60))
    write("firewall", "many-flows", u8(FW_EDGES) + many + fw_turn(0) + fw_again(0, T_60S_1))
    # six UDP flows in one set of the flow table (four ways): the fifth
    # and sixth evict the oldest; firewall.c's flow_set() reckoned here
    def flow_set(a, ap, b, bp, proto):
        a, b = struct.unpack(">I", bytes(a))[0], struct.unpack(">I", bytes(b))[0]
        if a > b or (a == b and ap > bp):
            a, ap, b, bp = b, bp, a, ap
        m = 0xffffffff
        h = ((a * 2654435761) & m) ^ ((b * 2246822519) & m) ^ ((((ap << 16) | bp) * 3266489917) & m) ^ proto
        return (h ^ (h >> 15)) % 1024
    target, ports = flow_set(IN_IP, 20000, OUT_IP, 53, 17), []
    sp = 20000
    while len(ports) < 6:
        if flow_set(IN_IP, sp, OUT_IP, 53, 17) == target:
            ports.append(sp)
        sp += 1
    evict = b"".join(fw(1, udp_frame(IN_IP, OUT_IP, p, 53), T_1S) for p in ports)
    write("firewall", "flows-evicted", u8(FW_RULES0) + evict + fw_turn(0) +
          fw(0, udp_frame(OUT_IP, IN_IP, 53, ports[0])) + fw(0, udp_frame(OUT_IP, IN_IP, 53, ports[5])))
    big = tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x02, b"J" * 8900)
    write("firewall", "jumbo", u8(std | FW_MTU9000) + fw(0, big) + fw_turn(1))
    write("firewall", "mtu68", u8(std | FW_MTU68) + fw(0, echo_frame(OUT_IP, IN_IP)[:14 + 68], fix=True) +
          fw(0, tcp_frame(OUT_IP, IN_IP, 40000, 5201, 0x02)))

# fuzz/l2switch.c: [config][links up: 2] then [op] with op bits 0-1: 0 a
# frame [port][dst][src][len - 14: 2][bytes after the MACs], 1 the last
# one turned round [port], 2 a link changes [port], 3 time only; bits
# 2-4 the time that passes. A MAC byte < 0x80 picks one of fuzz/l2switch.c's
# 32 addresses (0-7 in one set of the table, 28 broadcast, 29 and 30
# multicast, 31 zero), >= 0x80 is followed by 6 bytes of MAC.
SW_T = {"none": 0, "1ms": 1, "999ms": 2, "1s": 3, "age": 4, "age+1": 5, "ms": 6, "s": 7}
SW_AGE1, SW_AGE10, SW_AGE300, SW_AGE3600, SW_MTU9000 = 0, 0x10, 0x20, 0x30, 0x40
BCAST, MCAST4, MCAST6, ZERO = 28, 29, 30, 31
def sw_cfg(ports, flags=0, up=0xffff): return u8((ports - 2) | flags) + u16(up)
def swf(port, dst, src, payload=b"\x08\x00" + b"p" * 46, t="none", t_arg=b""):
    """A frame: payload is what follows the MACs (EtherType first)."""
    def mac(m): return u8(m) if isinstance(m, int) else b"\x80" + m
    return (u8(0 | SW_T[t] << 2) + t_arg + u8(port) + mac(dst) + mac(src) +
            u16(len(payload) - 2) + payload)
def sw_turn(port, t="none", t_arg=b""): return u8(1 | SW_T[t] << 2) + t_arg + u8(port)
def sw_link(port, t="none", t_arg=b""): return u8(2 | SW_T[t] << 2) + t_arg + u8(port)
def sw_time(t, t_arg=b""): return u8(3 | SW_T[t] << 2) + t_arg

def l2switch_seeds():
    A, B, C = 8, 9, 10
    write("l2switch", "broadcast", sw_cfg(4, SW_AGE300) + swf(0, BCAST, A, ARP_REQ[12:]) +
          sw_turn(1) + swf(2, MCAST4, C) + swf(3, MCAST6, B) + swf(1, A, MCAST4))
    write("l2switch", "unicast-learning", sw_cfg(4, SW_AGE300) + swf(0, B, A) + swf(1, A, B) +
          swf(0, B, A, t="1ms") + sw_turn(1) + swf(0, A, C) + swf(3, A, A) + swf(1, A, B) +
          swf(0, ZERO, ZERO) + swf(1, b"\x02\x11\x22\x33\x44\x55", b"\x04\0\0\0\0\x01"))
    write("l2switch", "ageing", sw_cfg(3, SW_AGE1) + swf(0, B, A) + swf(1, A, B) +
          swf(1, A, B, t="age") + swf(1, A, B, t="age+1") + swf(0, B, A) +
          sw_time("s", u16(5)) + swf(2, A, C) + swf(2, B, C, t="999ms"))
    write("l2switch", "link-down-up", sw_cfg(4, SW_AGE300, 0b0111) + swf(0, B, A) + swf(1, A, B) +
          swf(2, A, C) + sw_link(1) + swf(0, B, A) + sw_link(3) + swf(0, B, A) + sw_link(1) +
          swf(1, A, B) + swf(0, B, A))
    # eight stations of one set of the table (four ways) from four ports,
    # with time between them: eviction, and ageing within the set
    s = sw_cfg(4, SW_AGE10)
    for i in range(8):
        s += swf(i % 4, A, i, t="1s")
    s += swf(1, 0, 7, t="age+1") + swf(2, 6, 1, t="1ms") + swf(2, 6, 1, t="1ms") + swf(3, 1, 5)
    write("l2switch", "set-full", s)
    write("l2switch", "ports16-jumbo", sw_cfg(16, SW_AGE3600 | SW_MTU9000) +
          swf(15, BCAST, A, b"\x08\x00" + b"J" * 8998) + swf(7, A, B) + sw_link(15) + swf(7, A, B))

# ---- blockd: vmsg-blockd's conn.c against hostile consumers (fuzz/blockd.c)
BD_RO, BD_FLUSH, BD_FUA, BD_TRIM, BD_WZ, BD_MULTI = 1, 2, 4, 8, 16, 0x80
def bd_cfg(blocks=64, flags=BD_FLUSH | BD_FUA | BD_TRIM | BD_WZ, depth=16,
           max_req_blocks=8, held_blocks=64, conns=3, orders=2, fail=0):
    return (u8(blocks - 1) + u8(flags) + u8(depth - 1) + u8(max_req_blocks - 1) +
            u8(held_blocks - 1) + u8(conns - 1) + u8(orders) + u8(fail))
def bd_open(): return u8(0)
def bd_hello(slot=0, variant=0, depth=16, max_req_blocks=8):
    return u8(1) + u8(slot) + u8(variant) + u8(depth - 1) + u8(max_req_blocks - 1)
BD_READ, BD_WRITE, BD_FLUSHOP, BD_TRIMOP, BD_WZOP = 1, 2, 3, 4, 5
def bd_req(slot, id_, op, off_blocks=0, len_blocks=0, flags=0, tweak=0):
    """id_ 0..7 from the small set, or any 64 bits (then with 0x80)."""
    ids = id_ if id_ < 8 else 0x80
    s = (u8(2) + u8(slot) + u8(ids) + u8(op) + u8(flags) + u16(off_blocks) +
         u16(len_blocks) + u8(tweak))
    if id_ >= 8:
        s += u32(id_ >> 32) + u32(id_)
    return s
def bd_raw(slot, type_, payload): return u8(3) + u8(slot) + u16(type_) + u16(len(payload)) + payload
def bd_take(slot): return u8(4) + u8(slot)
def bd_step(n=0, pick=0, at_once=0xff): return u8(5) + u8(n) + u8(pick) + u8(at_once)
def bd_close(slot): return u8(6) + u8(slot)
def bd_flood(slot, n, kind=0): return u8(7) + u8(slot) + u8(n) + u8(kind)
def bd_settle(): return u8(8)

def blockd_seeds():
    # one consumer, every operation, some held by the disk for a later step
    s = bd_cfg(orders=7) + bd_open() + bd_hello() + bd_step() + bd_take(0)
    s += bd_req(0, 1, BD_WRITE, 0, 8) + bd_step() + bd_take(0)
    s += bd_req(0, 2, BD_READ, 0, 8) + bd_req(0, 3, BD_FLUSHOP) + bd_step(at_once=0)
    s += bd_req(0, 4, BD_TRIMOP, 8, 4) + bd_req(0, 5, BD_WZOP, 16, 2, flags=1)
    s += bd_req(0, 0x100000006, BD_WRITE, 62, 2, flags=1) + bd_step(at_once=0b0101)
    s += bd_take(0) + bd_step(10, 3) + bd_take(0) + bd_req(0, 6, BD_READ, 60, 4)
    s += bd_step() + bd_take(0) + bd_settle()
    write("blockd", "clean", s)
    # past the read budget: 120 requests at once, reads then ones answered
    # without I/O (misaligned)
    s = bd_cfg(depth=128, orders=7) + bd_open() + bd_hello(depth=128) + bd_step() + bd_take(0)
    s += bd_flood(0, 120, 0) + bd_step() + bd_step() + (bd_take(0) + bd_step()) * 6
    s += bd_flood(0, 120, 2) + bd_step() + bd_take(0) + bd_step() + bd_take(0) + bd_settle()
    write("blockd", "flood", s)
    # reads of max_req past --max-buffered, the replies not read
    s = bd_cfg(held_blocks=2, orders=0) + bd_open() + bd_hello() + bd_step() + bd_take(0)
    s += bd_flood(0, 14, 1) + bd_step() + bd_step() + bd_step(at_once=0) + bd_step(4, 1)
    s += bd_step(4, 2) + bd_take(0) + bd_step() + bd_step() + bd_take(0) + bd_settle()
    write("blockd", "hoarder", s)
    # an id twice while the first is held (a break), and again once it
    # was answered (fine) on a second consumer
    s = bd_cfg() + bd_open() + bd_open() + bd_hello(0) + bd_hello(1) + bd_step() + bd_take(0) + bd_take(1)
    s += bd_req(1, 3, BD_READ, 0, 1) + bd_step() + bd_take(1) + bd_req(1, 3, BD_READ, 1, 1)
    s += bd_req(0, 3, BD_READ, 0, 1) + bd_step(at_once=0) + bd_req(0, 3, BD_READ, 2, 1)
    s += bd_step(at_once=0) + bd_step(8, 0) + bd_take(0) + bd_take(1) + bd_settle()
    write("blockd", "duplicate-ids", s)
    # every kind of bad request the daemon answers, then a WRITE whose
    # size is not its header's (a break)
    s = bd_cfg(blocks=32, max_req_blocks=4) + bd_open() + bd_hello(max_req_blocks=4) + bd_step() + bd_take(0)
    s += bd_req(0, 0, BD_READ, 3, 1, tweak=1)        # offset not a block multiple
    s += bd_req(0, 1, BD_READ, 0, 700, tweak=2)      # length likewise
    s += bd_req(0, 2, BD_READ, 0, 0)                 # length 0
    s += bd_req(0, 3, BD_READ, 0, 8)                 # over max_req
    s += bd_req(0, 4, BD_READ, 31, 2)                # past the end
    s += bd_req(0, 5, BD_READ, 1, 1, tweak=0x40)     # offset + length overflows
    s += bd_req(0, 6, BD_READ, 0, 1, flags=1)        # FUA on a READ
    s += bd_req(0, 7, BD_WRITE, 0, 1, flags=0x82)    # unknown flags
    s += bd_step() + bd_take(0)
    s += bd_req(0, 0, 7, 0, 1)                       # unknown operation
    s += bd_req(0, 1, BD_FLUSHOP, 1, 1, tweak=4)     # FLUSH with a range
    s += bd_step() + bd_take(0)
    s += bd_req(0, 2, BD_WRITE, 0, 1, tweak=8) + bd_step() + bd_take(0) + bd_settle()
    write("blockd", "bad-requests", s)
    # a consumer closes with requests held by the disk; the other goes on
    s = bd_cfg(fail=0x10, orders=7) + bd_open() + bd_open() + bd_hello(0) + bd_hello(1) + bd_step() + bd_take(0) + bd_take(1)
    s += bd_req(0, 1, BD_WRITE, 4, 4) + bd_req(0, 2, BD_READ, 4, 4) + bd_req(0, 4, BD_READ, 0, 2)
    s += bd_req(1, 1, BD_READ, 8, 2) + bd_step(at_once=0)
    s += bd_close(0) + bd_step(1, 0) + bd_req(1, 2, BD_WRITE, 8, 2) + bd_step(1, 1)
    s += bd_take(1) + bd_step(8, 0) + bd_take(1) + bd_req(1, 3, BD_READ, 4, 4) + bd_step() + bd_take(1) + bd_settle()
    write("blockd", "close-mid-io", s)
    # HELLOs: wrong magic; a request first; a second HELLO; a raw INFO
    s = bd_cfg() + bd_open() + bd_open() + bd_open()
    s += bd_hello(0, variant=1) + bd_req(1, 0, BD_READ, 0, 1) + bd_hello(2) + bd_step() + bd_take(2)
    s += bd_hello(2) + bd_step() + bd_settle()
    write("blockd", "bad-hellos", s)
    s = bd_cfg(conns=1) + bd_open() + bd_hello() + bd_raw(0, 0x0b01, b"\0" * 40) + bd_open() + bd_step() + bd_settle()
    write("blockd", "wrong-type-one-conn", s)
    # a read-only disk, writes refused
    s = bd_cfg(flags=BD_RO | BD_FLUSH | BD_TRIM | BD_MULTI) + bd_open() + bd_hello() + bd_step()
    s += bd_req(0, 1, BD_WRITE, 0, 1) + bd_req(0, 2, BD_TRIMOP, 0, 1) + bd_req(0, 3, BD_WZOP, 0, 1)
    s += bd_req(0, 4, BD_READ, 0, 1) + bd_req(0, 5, BD_FLUSHOP) + bd_step() + bd_take(0) + bd_settle()
    write("blockd", "read-only", s)

# ---- blkapp: the overlay and the mirror between a consumer and their
# lower disks (fuzz/blkapp.c's operations)
BA_RO, BA_FLUSH, BA_FUA, BA_TRIM, BA_WZ = 1, 2, 4, 8, 16
BA_ALL = BA_FLUSH | BA_FUA | BA_TRIM | BA_WZ
BA_READ, BA_WRITE, BA_FLUSHOP, BA_TRIMOP, BA_WZOP = 1, 2, 3, 4, 5
def ba_leg(flags=BA_ALL, lb1024=False, max_blocks=32, depth=4, orders=7):
    """max_blocks: the granted max_req in logical blocks."""
    return u8(flags << 1 | int(lb1024)) + u8(max_blocks - 1) + u8(depth - 1) + u8(orders)
def ba_cfg(mirror=False, size_kib=16, legs=None, max_blocks=32, depth=64, orders=7):
    legs = legs or [ba_leg()] * (2 if mirror else 1)
    return (u8(int(mirror)) + u8(size_kib - 1) + b"".join(legs) +
            u8(max_blocks - 1) + u8(depth - 1) + u8(orders))
def ba_hello(variant=0, depth=64, max_blocks=32):
    return u8(0) + u8(variant) + u8(depth - 1) + u8(max_blocks - 1)
def ba_req(id_, op, off_blocks, len_blocks, flags=0, tweak=0):
    """off and len in 512-byte units; id_ 0..7, or any 64 bits."""
    s = u8(1) + u8(id_ if id_ < 8 else 200)
    if id_ >= 8:
        s += struct.pack(">Q", id_)
    # ops 1..5 as op - 1; others by a byte from 240 up (taken % 9);
    # flags 0 or FUA (1), or any other: the byte 202 (unknown bits)
    opb = op - 1 if 1 <= op <= 5 else 240 + (op - 6) % 9
    return s + u8(opb) + u8(202 if flags > 1 else flags) + \
        u8(off_blocks) + u8(len_blocks) + u8(tweak)
def ba_raw(type_, payload): return u8(2) + u16(type_) + u8(len(payload)) + payload
def ba_take(hold=0): return u8(3) + u8(hold)
def ba_close(): return u8(4)
def ba_flood(n, writes=False): return u8(5) + u8(n) + u8(int(writes))
def ba_answer(leg=0, pick=0): return u8(6) + u8(leg) + u8(pick)
def ba_all(leg=0): return u8(7) + u8(leg)
def ba_garbage(leg, kind, x=0): return u8(8) + u8(leg) + u8(kind) + u8(x)
def ba_error(leg, which=0): return u8(9) + u8(leg) + u8(which)
def ba_die(leg): return u8(10) + u8(leg)
def ba_quiet(): return u8(11)

def blkapp_seeds():
    # the overlay over a read-only base: reads through, writes kept, a
    # read across both, TRIM, WRITE_ZEROES (FUA), FLUSH
    s = ba_cfg(legs=[ba_leg(BA_RO | BA_FLUSH)]) + ba_hello()
    s += ba_req(0, BA_READ, 0, 8) + ba_all() + ba_req(1, BA_WRITE, 2, 4)
    s += ba_req(2, BA_READ, 0, 8) + ba_all() + ba_all() + ba_req(3, BA_TRIMOP, 12, 2)
    s += ba_req(4, BA_WZOP, 20, 4, flags=1) + ba_req(5, BA_FLUSHOP, 0, 0)
    s += ba_req(6, BA_READ, 10, 16) + ba_all() + ba_all() + ba_take()
    write("blkapp", "overlay-clean", s)
    # its base answers errors, then garbage: the read fails, -EIO ends it
    # (no quiet turn while the base owes a read: that would be silence)
    s = ba_cfg(legs=[ba_leg(BA_RO, depth=2)]) + ba_hello() + ba_req(0, BA_READ, 0, 4)
    s += ba_error(0, 1) + ba_req(1, BA_WRITE, 0, 2) + ba_req(2, BA_READ, 0, 4)
    s += ba_garbage(0, 0) + ba_req(3, BA_READ, 0, 2) + ba_take()
    write("blkapp", "overlay-base-fails", s)
    # its base says nothing while a read waits (a quiet turn: the rest of
    # the appliance's limit on silence passes): that read gets -EIO, the
    # overlay ends; a write before it was answered
    s = ba_cfg(legs=[ba_leg(BA_RO)]) + ba_hello() + ba_req(0, BA_WRITE, 0, 2)
    s += ba_req(1, BA_READ, 0, 4) + ba_all() + ba_req(2, BA_READ, 4, 4) + ba_quiet()
    s += ba_req(3, BA_READ, 8, 2) + ba_take()
    write("blkapp", "overlay-base-silent", s)
    s = ba_cfg(legs=[ba_leg(BA_RO, orders=7)]) + ba_hello() + ba_req(0, BA_WRITE, 0, 32)
    s += ba_req(1, BA_READ, 0, 32) + ba_req(2, BA_READ, 16, 32) + ba_die(0) + ba_take()
    write("blkapp", "overlay-base-dies", s)
    # every bad request; a WRITE whose size is not its header's (a break)
    s = ba_cfg(size_kib=8, legs=[ba_leg(0)], max_blocks=8) + ba_hello(max_blocks=4)
    s += ba_req(0, BA_READ, 0, 1, tweak=1) + ba_req(1, BA_READ, 0, 1, tweak=2)
    s += ba_req(2, BA_READ, 0, 0) + ba_req(3, BA_READ, 0, 8) + ba_req(4, BA_READ, 15, 2)
    s += ba_req(5, BA_READ, 1, 1, tweak=0x40) + ba_req(6, BA_READ, 0, 1, flags=1)
    s += ba_req(7, BA_WRITE, 0, 1, flags=0x82) + ba_req(0, 0, 0, 1) + ba_req(1, 7, 0, 1)
    s += ba_req(2, BA_FLUSHOP, 1, 1, tweak=4) + ba_req(0x123456789, BA_READ, 0, 1) + ba_all()
    s += ba_take() + ba_req(3, BA_WRITE, 0, 1, tweak=0x80) + ba_req(4, BA_READ, 0, 1)
    write("blkapp", "overlay-bad-requests", s)
    s = ba_cfg() + ba_hello(variant=1) + ba_req(0, BA_READ, 0, 1)
    write("blkapp", "overlay-bad-hello", s)
    s = ba_cfg() + ba_req(0, BA_READ, 0, 1) + ba_hello()
    write("blkapp", "overlay-request-first", s)
    s = ba_cfg() + ba_hello() + ba_take() + ba_raw(0x0b00, b"") + ba_req(0, BA_READ, 0, 1)
    write("blkapp", "overlay-second-hello", s)
    # replies not read while the consumer floods; then a close mid-flood
    s = ba_cfg(orders=0) + ba_hello() + ba_take(1) + ba_flood(20, True) + ba_flood(40)
    s += ba_all() * 16 + ba_take(1) + ba_flood(30) + ba_all() + ba_close()
    write("blkapp", "overlay-flood", s)
    # the mirror: legs of 512- and 1024-byte blocks, every operation
    legs = [ba_leg(BA_ALL), ba_leg(BA_ALL, lb1024=True, max_blocks=8, orders=3)]
    s = ba_cfg(mirror=True, legs=legs) + ba_hello() + ba_req(0, BA_WRITE, 2, 4, flags=1)
    s += ba_all(0) + ba_all(1) + ba_req(1, BA_READ, 0, 8) + ba_all(0) + ba_req(2, BA_READ, 0, 8)
    s += ba_all(1) + ba_req(3, BA_TRIMOP, 4, 2) + ba_answer(1) + ba_answer(0)
    s += ba_req(4, BA_WZOP, 8, 2) + ba_all(0) + ba_all(1) + ba_req(5, BA_FLUSHOP, 0, 0)
    s += ba_all(0) + ba_all(1) + ba_req(6, BA_READ, 2, 8) + ba_all(0) + ba_all(1) + ba_take()
    write("blkapp", "mirror-clean", s)
    # a leg answers a WRITE with an error: dropped, the other carries on
    s = ba_cfg(mirror=True) + ba_hello() + ba_req(0, BA_WRITE, 0, 4) + ba_error(0)
    s += ba_all(1) + ba_req(1, BA_READ, 0, 4) + ba_all(1) + ba_req(2, BA_READ, 0, 4)
    s += ba_all(1) + ba_req(3, BA_WRITE, 4, 4) + ba_all(1) + ba_take()
    write("blkapp", "mirror-leg-error", s)
    # a leg says nothing while a WRITE waits on both: dropped once the
    # limit has passed (a quiet turn), the write done on the other; the
    # reads after come from the other
    s = ba_cfg(mirror=True) + ba_hello() + ba_req(0, BA_WRITE, 0, 4) + ba_all(0)
    s += ba_quiet() + ba_req(1, BA_READ, 0, 4) + ba_all(0) + ba_req(2, BA_READ, 0, 4)
    s += ba_all(0) + ba_take()
    write("blkapp", "mirror-leg-silent", s)
    # a leg sends garbage while a READ waits; the other dies mid-WRITE
    s = ba_cfg(mirror=True, legs=[ba_leg(BA_FLUSH), ba_leg(BA_FLUSH, orders=5)]) + ba_hello()
    s += ba_req(0, BA_READ, 0, 4) + ba_garbage(0, 1) + ba_all(1) + ba_req(1, BA_WRITE, 0, 2)
    s += ba_die(1) + ba_req(2, BA_READ, 0, 2) + ba_req(3, BA_FLUSHOP, 0, 0) + ba_take()
    write("blkapp", "mirror-both-fail", s)
    # garbage of every kind on one leg while idle, the other answers
    for k in range(6):
        s = ba_cfg(mirror=True) + ba_hello() + ba_req(0, BA_WRITE, 0, 2) + ba_all(0)
        s += ba_all(1) + ba_garbage(1, k, 3) + ba_req(1, BA_WRITE, 2, 2) + ba_all(0)
        s += ba_all(1) + ba_req(2, BA_READ, 0, 4) + ba_all(0) + ba_all(1) + ba_take()
        write("blkapp", "mirror-garbage-%d" % k, s)
    # a read-only leg makes the mirror read-only
    s = ba_cfg(mirror=True, legs=[ba_leg(BA_RO | BA_ALL), ba_leg()]) + ba_hello()
    s += ba_req(0, BA_WRITE, 0, 1) + ba_req(1, BA_TRIMOP, 0, 1) + ba_req(2, BA_READ, 0, 1)
    s += ba_all(0) + ba_all(1) + ba_take()
    write("blkapp", "mirror-read-only", s)
    # FUA on one leg only: not offered, a FUA write refused
    s = ba_cfg(mirror=True, legs=[ba_leg(), ba_leg(BA_FLUSH | BA_TRIM | BA_WZ)]) + ba_hello()
    s += ba_req(0, BA_WRITE, 0, 1, flags=1) + ba_req(1, BA_WRITE, 0, 1) + ba_all(0) + ba_all(1) + ba_take()
    write("blkapp", "mirror-fua-one-leg", s)

frame_seeds()
pbwire_seeds()
block_seeds()
net_seeds()
policy_seeds()
xenstored_seeds()
chan_seeds()
session_seeds()
firewall_seeds()
l2switch_seeds()
blockd_seeds()
blkapp_seeds()
