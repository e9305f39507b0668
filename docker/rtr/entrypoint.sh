#!/bin/sh
# manrs-lab stayrtr node entrypoint: a topology file's starting VRPs (topologies/<lab>.clab.yml
# binds the lab's own file at /etc/manrs-lab/vrps.json, read-only) are copied to the file
# stayrtr serves, which the grader and `solve` rewrite; then exec stayrtr with the arguments.
start=/etc/manrs-lab/vrps.json
if [ -f "$start" ]; then
    cp "$start" /etc/stayrtr/vrps.json || exit 1
    printf 'rtr-entrypoint: starting VRPs: %s\n' "$start"
fi
exec stayrtr "$@"
