# Guest job: the echo appliance's Linux build (examples/echo-unikernel,
# over the SDK's Linux target) with the job's words as its cmdline,
# e.g. appliance.sh open=fan count=300 size=40000.
exec /opt/vmsg/bin/echo-appliance "$@"
