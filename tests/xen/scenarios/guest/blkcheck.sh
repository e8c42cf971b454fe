# Guest job: blk-check (tests/xen/blk_check.c) against a disk dom0 serves
# on a direct Xen channel: blkcheck.sh DOMID PORT SEED.
exec /opt/vmsg/bin/blk-check connect "$@"
