#!/usr/bin/env bash
# The seed's compute walkthrough with the real `openstack` CLI against a running
# `ferrostack up --fake-computes 3` whose data dir is $DATA: a flavor, a key pair, a server
# booted from a Glance image with no network (--wait for ACTIVE), its power actions with the
# statuses `server list` shows, metadata, console output; rebuild, snapshot, resize (confirm
# and revert), cold and live migration, rescue, shelve and unshelve, a boot from the snapshot;
# server-group anti-affinity spreading three servers over the three hosts, and a fourth in
# ERROR with "No valid host"; bad input. Prints "ok <step>" / "FAILED <step>".
set -uo pipefail
. "$DATA/admin-openrc"
. "$(dirname "$0")/walkthrough-lib.sh"
status_is() { local server=$1 want=$2; for _ in $(seq 1 100); do s=$(openstack server show "$server" -f value -c status 2>/dev/null); [ "$s" = "$want" ] && return 0; sleep 0.2; done; echo "status of $server is '$s', not $want"; return 1; }

qemu-img create -f qcow2 "$W/cirros.qcow2" 64M >/dev/null
step "image for servers" openstack image create cirros --file "$W/cirros.qcow2" --disk-format qcow2 --container-format bare --public
step "flavor create m1.tiny" openstack flavor create m1.tiny --ram 512 --disk 1 --vcpus 1
step "keypair create" sh -c "openstack keypair create k > '$W/k.pem' && grep -q 'PRIVATE KEY' '$W/k.pem'"
step "server create --wait (ACTIVE)" openstack server create --flavor m1.tiny --image cirros --key-name k --nic none vm1 --wait
step "server list shows ACTIVE" sh -c 'openstack server list -f value -c Name -c Status | grep -qx "vm1 ACTIVE"'
for a in "stop SHUTOFF" "start ACTIVE" "reboot ACTIVE" "reboot --hard ACTIVE" "pause PAUSED" "unpause ACTIVE" "suspend SUSPENDED" "resume ACTIVE"; do
    set -- $a
    want=${!#}
    cmd=("${@:1:$#-1}")
    step "server ${cmd[*]} -> $want" sh -c "openstack server ${cmd[*]} vm1 && $(declare -f status_is); status_is vm1 $want"
done
step "server set --property" openstack server set --property role=web vm1
step "property shown" sh -c 'openstack server show vm1 -f value -c properties | grep -q "role"'
step "console log" sh -c 'openstack console log show vm1 | grep -q "booting"'
step "server event list" sh -c 'openstack server event list vm1 -f value -c Action | grep -qx create'
refused "start an active server" "Cannot 'start'" openstack server start vm1
refused "unknown flavor" "could not be found\|No Flavor" openstack server create --flavor nope --image cirros --nic none bad1
step "nothing half-made" sh -c '! openstack server list -f value -c Name | grep -qx bad1'

host_of() { openstack server show "$1" -f value -c OS-EXT-SRV-ATTR:host; }
step "server rebuild --wait" sh -c 'openstack server rebuild --image cirros vm1 --wait >/dev/null && [ "$(openstack server show vm1 -f value -c status)" = ACTIVE ]'
step "server image create --wait (snapshot in Glance)" sh -c 'openstack server image create --name vm1-snap vm1 --wait >/dev/null && [ "$(openstack image show vm1-snap -f value -c status)" = active ]'
step "flavor create m1.small / m1.medium" sh -c 'openstack flavor create m1.small --ram 1024 --disk 2 --vcpus 1 && openstack flavor create m1.medium --ram 2048 --disk 2 --vcpus 2'
step "server resize --wait -> VERIFY_RESIZE" sh -c "openstack server resize --flavor m1.small vm1 --wait >/dev/null && $(declare -f status_is); status_is vm1 VERIFY_RESIZE"
step "server resize confirm -> ACTIVE on m1.small" sh -c "openstack server resize confirm vm1 && $(declare -f status_is); status_is vm1 ACTIVE && openstack server show vm1 -f value -c flavor | grep -q m1.small"
step "server resize + revert -> back on m1.small" sh -c "openstack server resize --flavor m1.medium vm1 --wait >/dev/null && openstack server resize revert vm1 && $(declare -f status_is); status_is vm1 ACTIVE && openstack server show vm1 -f value -c flavor | grep -q m1.small"
refused "resize to the same flavor" "must change flavor" openstack server resize --flavor m1.small vm1
before=$(host_of vm1)
step "server migrate (cold) + confirm -> another host" sh -c "openstack server migrate vm1 --wait >/dev/null && openstack server resize confirm vm1 && $(declare -f status_is); status_is vm1 ACTIVE && [ \"\$(openstack server show vm1 -f value -c OS-EXT-SRV-ATTR:host)\" != '$before' ]"
before=$(host_of vm1)
step "server migrate --live-migration -> another host" sh -c "openstack server migrate --live-migration vm1 --wait >/dev/null && $(declare -f status_is); status_is vm1 ACTIVE && [ \"\$(openstack server show vm1 -f value -c OS-EXT-SRV-ATTR:host)\" != '$before' ]"
step "server migration list shows them" sh -c '[ "$(openstack server migration list --server vm1 -f value -c Status | sort -u | tr "\n" " ")" = "completed confirmed reverted " ]'
step "server rescue -> RESCUE" sh -c "openstack server rescue vm1 && $(declare -f status_is); status_is vm1 RESCUE"
step "server unrescue -> ACTIVE" sh -c "openstack server unrescue vm1 && $(declare -f status_is); status_is vm1 ACTIVE"
step "server shelve -> SHELVED_OFFLOADED" sh -c "openstack server shelve vm1 && $(declare -f status_is); status_is vm1 SHELVED_OFFLOADED"
step "server unshelve -> ACTIVE" sh -c "openstack server unshelve vm1 && $(declare -f status_is); status_is vm1 ACTIVE"
step "server boots from the snapshot" openstack server create --flavor m1.small --image vm1-snap --nic none fromsnap --wait
step "delete it" openstack server delete fromsnap --wait

step "server group create --policy anti-affinity" openstack server group create --policy anti-affinity g
G=$(openstack server group show g -f value -c id)
for n in 1 2 3; do
    step "server in anti-affinity group ($n)" openstack server create --flavor m1.tiny --image cirros --nic none --hint group="$G" "ga$n" --wait
done
hosts=$(for n in 1 2 3; do openstack server show "ga$n" -f value -c OS-EXT-SRV-ATTR:host; done | sort -u | wc -l)
if [ "$hosts" = 3 ]; then echo "ok three group members on three hosts"; else echo "FAILED three group members on $hosts hosts"; FAILS=$((FAILS + 1)); fi
openstack server create --flavor m1.tiny --image cirros --nic none --hint group="$G" ga4 >/dev/null 2>&1
step "fourth member goes to ERROR" sh -c "$(declare -f status_is); status_is ga4 ERROR"
step "with a No valid host fault" sh -c 'openstack server show ga4 -f json | grep -q "No valid host"'

for s in vm1 ga1 ga2 ga3 ga4; do openstack server delete "$s" --wait >/dev/null 2>&1 || { echo "FAILED server delete $s"; FAILS=$((FAILS + 1)); }; done
step "servers deleted" sh -c '[ -z "$(openstack server list -f value -c ID)" ]'
echo "nova walkthrough: $FAILS failed"
[ "$FAILS" = 0 ]
