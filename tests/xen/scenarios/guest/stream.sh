# Guest job: one end of a xen-stream exchange.
#   stream.sh LIB ROLE PEER PATH XS_OPTION...
# LIB is vmsg or vchan; @DOMID@ in PATH becomes this guest's domid.
lib=$1 role=$2 peer=$3 path=$(echo "$4" | sed "s/@DOMID@/$DOMID/g")
shift 4
"/opt/vmsg/bin/$lib-xen-stream" "$role" "$peer" "$path" "$@"
