#!/bin/sh
# A broken `timeout` for the compat harness: reads GNU timeout's options and DURATION, then runs
# COMMAND with no timeout, no signal handling and no status mapping. Every upstream test file
# must fail (or skip) against it: that proves the file can fail, and so that its pass means
# something.
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    -k|-s) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift  # DURATION
exec "$@"
