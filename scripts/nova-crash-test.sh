#!/usr/bin/env bash
# The crash proof for Nova's state machines, with the real `openstack` CLI against a
# `ferrostack up` whose data dir is $DATA and whose fake hypervisors take $DELAY_MS per
# operation. Phase `start`: 100 servers are created in one request and the script returns
# while they build. The caller then kills the cloud with SIGKILL and starts it again on the
# same data dir. Phase `check`: every one of the 100 reaches ACTIVE with no task left, and
# Placement holds exactly their 100 allocations. Prints "ok <step>" / "FAILED <step>".
set -uo pipefail
. "$DATA/admin-openrc"
PHASE=${1:?start or check}
N=100
FAILS=0
step() { local name=$1; shift; if out=$("$@" 2>&1); then echo "ok $name"; else echo "FAILED $name"; echo "$out" | tail -5; FAILS=$((FAILS + 1)); fi; }

case $PHASE in
start)
    W=$(mktemp -d)
    qemu-img create -q -f qcow2 "$W/c.qcow2" 16M
    step "image" openstack image create crash-img --file "$W/c.qcow2" --disk-format qcow2 --container-format bare --public
    rm -rf "$W"
    step "flavor" openstack flavor create crash.tiny --ram 64 --disk 1 --vcpus 1
    step "quota for $N servers" openstack quota set --instances $((N + 10)) --cores $((N + 10)) --ram $((64 * N + 1024)) admin
    step "create $N servers in one request" openstack server create --flavor crash.tiny --image crash-img --nic none --min $N --max $N crash
    building=$(openstack server list -f value -c Status | grep -c BUILD)
    echo "ok $building of $N still building when the cloud is killed"
    ;;
check)
    ok=0
    for _ in $(seq 1 300); do
        states=$(openstack server list -f value -c Name -c Status 2>/dev/null | grep '^crash-')
        active=$(echo "$states" | grep -c ' ACTIVE$')
        [ "$active" = "$N" ] && { ok=1; break; }
        sleep 1
    done
    if [ "$ok" = 1 ]; then echo "ok all $N servers ACTIVE after the restart"; else echo "FAILED only $active of $N ACTIVE after the restart: $(echo "$states" | awk '{print $2}' | sort | uniq -c | tr '\n' ' ')"; FAILS=$((FAILS + 1)); fi
    step "no task state left" sh -c '[ -z "$(openstack server list --long -f value -c "Task State" | grep -v "^None$")" ]'
    # One allocation per server in Placement, no more (no double claims after the restart).
    used=$(for rp in $(openstack resource provider list -f value -c uuid); do openstack resource provider usage show "$rp" -f value -c resource_class -c usage | awk '$1 == "VCPU" {print $2}'; done | awk '{s += $1} END {print s + 0}')
    if [ "$used" = "$N" ]; then echo "ok Placement holds $N VCPU for $N servers"; else echo "FAILED Placement holds $used VCPU for $N servers"; FAILS=$((FAILS + 1)); fi
    step "delete them" sh -c "openstack server delete --wait \$(openstack server list -f value -c ID)"
    ;;
esac
echo "nova crash test ($PHASE): $FAILS failed"
[ "$FAILS" = 0 ]
