# Guest job: Debian's vchan-socket-proxy (on Debian's libxenvchan) as the
# vchan server for domain 0 at /local/domain/<us>/data/vchan/0/proxy, in
# front of a UNIX echo socket (unix-check echo). The scenario destroys the
# guest when it is done.
#   proxy.sh
/opt/vmsg/bin/unix-check echo /tmp/echo.sock &
for _ in $(seq 50); do [ -S /tmp/echo.sock ] && break; sleep 0.1; done
echo "GUEST proxy serving /local/domain/$DOMID/data/vchan/0/proxy"
/usr/lib/xen-4.17/bin/vchan-socket-proxy -m server 0 \
	"/local/domain/$DOMID/data/vchan/0/proxy" /tmp/echo.sock
echo "GUEST proxy exited $?"
