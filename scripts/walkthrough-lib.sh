# Shared by the openstack CLI walkthroughs (sourced, not run): a scratch dir $W removed on
# exit, and the step helpers that print "ok <step>" / "FAILED <step>" and count failures in
# $FAILS.
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
FAILS=0
# step NAME COMMAND...: the command must succeed.
step() { local name=$1; shift; if out=$("$@" 2>&1); then echo "ok $name"; else echo "FAILED $name"; echo "$out" | tail -5; FAILS=$((FAILS + 1)); fi; }
# refused NAME PATTERN COMMAND...: the command must fail, saying something matching PATTERN.
refused() { local name=$1 want=$2; shift 2; if out=$("$@" 2>&1); then echo "FAILED $name (was accepted)"; FAILS=$((FAILS + 1)); elif echo "$out" | grep -q "$want"; then echo "ok $name"; else echo "FAILED $name: $out" | tail -3; FAILS=$((FAILS + 1)); fi; }
# eventually COMMAND...: retries for up to ~20 s until the command succeeds.
eventually() { for _ in $(seq 1 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; "$@"; }
