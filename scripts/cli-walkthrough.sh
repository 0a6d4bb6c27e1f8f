#!/usr/bin/env bash
# The install guide's identity walkthrough with the real `openstack` CLI against a running
# `ferrostack up` whose data dir is $DATA, plus bad-input checks with curl against the raw API.
# Prints "ok <step>" or "FAILED <step>" per step; exits non-zero if any failed.
set -uo pipefail
. "$DATA/admin-openrc"
FAILS=0
step() { # name command...
    local name=$1; shift
    if out=$("$@" 2>&1); then echo "ok $name"; else echo "FAILED $name"; echo "$out" | tail -5; FAILS=$((FAILS + 1)); fi
}
expect_status() { # name expected-status curl-args...
    local name=$1 want=$2; shift 2
    local got
    got=$(curl -s -o /tmp/fs-body.$$ -w '%{http_code}' "$@")
    if [ "$got" = "$want" ] && grep -q '"error"' /tmp/fs-body.$$; then echo "ok $name ($got)"; else echo "FAILED $name (wanted $want, got $got: $(head -c 300 /tmp/fs-body.$$))"; FAILS=$((FAILS + 1)); fi
    rm -f /tmp/fs-body.$$
}

step "token issue" openstack token issue
step "catalog list" openstack catalog list
step "endpoint list" openstack endpoint list
step "domain create" openstack domain create --description "An example domain" example
step "project create demo" openstack project create --domain default --description "Demo Project" demo
step "user create demo" openstack user create --domain default --project demo --password secret demo
step "role add member" openstack role add --project demo --user demo member
step "group create" openstack group create --domain default demogroup
step "group add user" openstack group add user demogroup demo
step "role assignment list --names --effective" sh -c 'openstack role assignment list --names --effective -f value | grep -q "demo@Default"'
step "region create" openstack region create RegionTwo
step "service create" openstack service create --name demo-svc --description "Demo service" demo-type
step "endpoint create" openstack endpoint create --region RegionTwo demo-type public http://127.0.0.1:9999/v1
step "application credential create" openstack application credential create --description demo demo-appcred
step "project list" sh -c 'openstack project list -f value -c Name | grep -qx demo'
step "user list" sh -c 'openstack user list -f value -c Name | grep -qx demo'

# As the demo user: a token works, admin-only calls are refused with 403.
export OS_USERNAME=demo OS_PASSWORD=secret OS_PROJECT_NAME=demo
step "demo: token issue" openstack token issue
step "demo: user create is refused (403)" sh -c 'out=$(openstack user create intruder --password x 2>&1); echo "$out" | grep -qE "(HTTP 403|: 403)"'
step "demo: project create is refused (403)" sh -c 'out=$(openstack project create intruder 2>&1); echo "$out" | grep -qE "(HTTP 403|: 403)"'
openstack role add --project demo --user demo admin >/dev/null 2>&1
. "$DATA/admin-openrc"
step "demo: role add admin had no effect" sh -c '! openstack role assignment list --user demo --project demo --names -f value -c Role | grep -qx admin'

# Bad input: upstream's status and Keystone's {"error": {...}} envelope, nothing written.
KS=${OS_AUTH_URL%/}
TOKEN=$(openstack token issue -f value -c id)
H=(-H "X-Auth-Token: $TOKEN" -H "Content-Type: application/json")
expect_status "malformed JSON is 400" 400 -X POST "$KS/users" "${H[@]}" -d '{"user": {"name": '
expect_status "wrong type is 400" 400 -X POST "$KS/users" "${H[@]}" -d '{"user": {"name": 42}}'
expect_status "unknown user is 404" 404 "$KS/users/does-not-exist" "${H[@]}"
expect_status "duplicate project is 409" 409 -X POST "$KS/projects" "${H[@]}" -d '{"project": {"name": "demo", "domain_id": "default"}}'
expect_status "wrong password is 401" 401 -X POST "$KS/auth/tokens" -H "Content-Type: application/json" \
    -d '{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "wrong"}}}}}'
expect_status "no token is 401" 401 "$KS/users"
REVOKED=$(openstack token issue -f value -c id)
curl -s -o /dev/null -X DELETE "$KS/auth/tokens" -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $REVOKED"
expect_status "revoked token is refused (401)" 401 "$KS/users" -H "X-Auth-Token: $REVOKED"
expect_status "validating a revoked token is 404" 404 "$KS/auth/tokens" -H "X-Auth-Token: $TOKEN" -H "X-Subject-Token: $REVOKED"
if [ "$(openstack project list -f value -c Name | grep -cx demo)" = 1 ]; then echo "ok refused duplicate wrote nothing"; else echo "FAILED refused duplicate wrote something"; FAILS=$((FAILS + 1)); fi
if openstack user show 42 >/dev/null 2>&1; then echo "FAILED a refused create wrote a user"; FAILS=$((FAILS + 1)); else echo "ok refused create wrote nothing"; fi
echo "walkthrough failures: $FAILS"
[ "$FAILS" -eq 0 ]
