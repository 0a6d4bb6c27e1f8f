#!/usr/bin/env bash
# The seed's networking walkthrough with the real `openstack` CLI against a running
# `ferrostack up --fake-computes N` whose data dir is $DATA. The admin makes the external
# provider network (flat, router:external) with a subnet, a gateway and an allocation pool for
# floating IPs; a member of a "demo" project makes a self-service network and subnet, a router
# with its gateway on the external network and an interface on the subnet, boots a server on
# the self-service network, and associates a floating IP, which `server show` lists beside the
# fixed address. Then interfaces and security groups on the server, teardown in the wrong
# order (refused "in use"), and in the right order, leaving nothing behind.
# Prints "ok <step>" / "FAILED <step>".
set -uo pipefail
. "$DATA/admin-openrc"
. "$(dirname "$0")/walkthrough-lib.sh"

# What the servers boot from (the compute walkthrough may have made them already).
openstack flavor show m1.tiny >/dev/null 2>&1 || openstack flavor create m1.tiny --ram 512 --disk 1 --vcpus 1 >/dev/null
if ! openstack image show cirros >/dev/null 2>&1; then
    qemu-img create -f qcow2 "$W/cirros.qcow2" 64M >/dev/null
    openstack image create cirros --file "$W/cirros.qcow2" --disk-format qcow2 --container-format bare --public >/dev/null
fi

# The admin: the provider network for floating IPs, and a demo project with a member.
step "network create --external (flat provider)" openstack network create --external --provider-network-type flat --provider-physical-network provider public
step "subnet create (gateway, allocation pool, no DHCP)" openstack subnet create --network public --subnet-range 203.0.113.0/24 --gateway 203.0.113.1 \
    --allocation-pool start=203.0.113.101,end=203.0.113.250 --no-dhcp public-subnet
step "project and member user demo" sh -c 'openstack project create demo >/dev/null && openstack user create --project demo --password demo-pw demo >/dev/null && openstack role add --project demo --user demo member'

# The demo member from here on.
export OS_USERNAME=demo OS_PASSWORD=demo-pw OS_PROJECT_NAME=demo
step "demo: network create selfservice" openstack network create selfservice
step "demo: subnet create" openstack subnet create --network selfservice --subnet-range 172.16.1.0/24 --gateway 172.16.1.1 --dns-nameserver 8.8.4.4 selfservice-subnet
step "demo: router create" openstack router create router
step "demo: router add subnet" openstack router add subnet router selfservice-subnet
step "demo: router set --external-gateway public" openstack router set router --external-gateway public
step "demo: router has an address on public" sh -c 'openstack router show router -f json -c external_gateway_info | grep -q "203.0.113."'
step "demo: server create --network selfservice --wait" openstack server create --flavor m1.tiny --image cirros --network selfservice vm --wait
step "demo: server has a fixed address on selfservice" sh -c 'openstack server show vm -f value -c addresses | grep -q "selfservice.*172.16.1."'
step "demo: port list --server shows an ACTIVE port" sh -c '[ "$(openstack port list --server vm -f value -c Status)" = ACTIVE ]'
FIP=$(openstack floating ip create public -f value -c floating_ip_address 2>/dev/null)
step "demo: floating ip create public ($FIP)" test -n "$FIP"
step "demo: server add floating ip" openstack server add floating ip vm "$FIP"
step "demo: server show lists the fixed and the floating address" eventually sh -c "openstack server show vm -f value -c addresses | grep -q '172.16.1.*$FIP'"

# Interfaces and security groups on the server.
step "demo: security group create web + rule" sh -c 'openstack security group create web >/dev/null && openstack security group rule create --proto tcp --dst-port 80 web >/dev/null'
step "demo: server add security group" openstack server add security group vm web
step "demo: server show lists web" sh -c 'openstack server show vm -f value -c security_groups | grep -q web'
step "demo: server remove security group" sh -c 'openstack server remove security group vm web && g=$(openstack server show vm -f value -c security_groups) && ! echo "$g" | grep -q web'
step "demo: second network and subnet" sh -c 'openstack network create second >/dev/null && openstack subnet create --network second --subnet-range 10.9.0.0/24 second-subnet >/dev/null'
step "demo: server add network (os-interface)" openstack server add network vm second
step "demo: two interfaces" eventually sh -c 'out=$(openstack port list --server vm -f value -c ID) && [ "$(echo "$out" | wc -l)" = 2 ]'
step "demo: server remove network" openstack server remove network vm second
step "demo: one interface again" eventually sh -c 'out=$(openstack port list --server vm -f value -c ID) && [ "$(echo "$out" | wc -l)" = 1 ] && a=$(openstack server show vm -f value -c addresses) && ! echo "$a" | grep -q second'
refused "demo: server on a network that does not exist" "could not be found\|No Network found" openstack server create --flavor m1.tiny --image cirros --network nowhere bad

# Teardown in the wrong order: refused, nothing changes.
refused "demo: network delete while the server's port is on it" "in use\|InUse" openstack network delete selfservice
refused "demo: subnet delete while addresses are allocated" "in use\|InUse\|IP allocation" openstack subnet delete selfservice-subnet
refused "demo: router delete while it has an interface" "in use\|InUse\|still" openstack router delete router
step "demo: the server still has both addresses" sh -c "openstack server show vm -f value -c addresses | grep -q '$FIP'"

# And in the right order.
step "demo: server remove floating ip" openstack server remove floating ip vm "$FIP"
step "demo: floating ip delete" openstack floating ip delete "$FIP"
step "demo: server delete --wait" openstack server delete vm --wait
step "demo: the server's port is gone" sh -c 'out=$(openstack port list --device-owner compute:nova -f value -c ID) && [ -z "$out" ]'
step "demo: router remove subnet" openstack router remove subnet router selfservice-subnet
step "demo: router unset --external-gateway" openstack router unset --external-gateway router
step "demo: router delete" openstack router delete router
step "demo: subnet and network delete" sh -c 'openstack subnet delete selfservice-subnet second-subnet && openstack network delete selfservice second'
step "demo: security group delete" openstack security group delete web
. "$DATA/admin-openrc"
step "admin: public subnet and network delete" sh -c 'openstack subnet delete public-subnet && openstack network delete public'
step "nothing left: no ports, routers, floating IPs, networks" sh -c 'p=$(openstack port list -f value -c ID) && r=$(openstack router list -f value -c ID) && f=$(openstack floating ip list -f value -c ID) && n=$(openstack network list -f value -c ID) && [ -z "$p$r$f$n" ]'
step "demo project and user delete" sh -c 'openstack user delete demo && openstack project delete demo'

echo "$FAILS failed"
[ "$FAILS" = 0 ]
