#!/usr/bin/env bash
# Placement with the real `openstack` CLI (python-openstackclient + osc-placement) against a
# running `ferrostack up` whose data dir is $DATA: resource providers and a tree, inventories,
# custom resource classes and traits, aggregates, allocation candidates, allocations and
# usages, and refusals (capacity, in-use inventory, standard names). Prints "ok <step>" /
# "FAILED <step>"; exits non-zero if any step failed.
set -uo pipefail
. "$DATA/admin-openrc"
export OS_PLACEMENT_API_VERSION=${OS_PLACEMENT_API_VERSION:-1.39}
. "$(dirname "$0")/walkthrough-lib.sh"
lacks() { local name=$1 unwanted=$2; shift 2; if out=$("$@" 2>&1) && ! echo "$out" | grep -q -- "$unwanted"; then echo "ok $name"; else echo "FAILED $name (did not want '$unwanted')"; echo "$out" | tail -5; FAILS=$((FAILS + 1)); fi; }
has() { local name=$1 want=$2; shift 2; if out=$("$@" 2>&1) && echo "$out" | grep -q -- "$want"; then echo "ok $name"; else echo "FAILED $name (wanted '$want')"; echo "$out" | tail -5; FAILS=$((FAILS + 1)); fi; }

has "placement in the catalog" "placement" openstack catalog list -f value -c Type
step "resource provider create cn1" openstack resource provider create cn1
step "resource provider create cn2" openstack resource provider create cn2
CN1=$(openstack resource provider list --name cn1 -f value -c uuid)
CN2=$(openstack resource provider list --name cn2 -f value -c uuid)
has "resource provider list" "cn2" openstack resource provider list -f value -c name
has "resource provider show" "$CN1" openstack resource provider show "$CN1" -f value -c root_provider_uuid
step "child provider (a PF under cn1)" openstack resource provider create cn1-pf1 --parent-provider "$CN1"
has "child's root is cn1" "$CN1" openstack resource provider show "$(openstack resource provider list --name cn1-pf1 -f value -c uuid)" -f value -c root_provider_uuid
has "in_tree lists the tree" "cn1-pf1" openstack resource provider list --in-tree "$CN1" -f value -c name

step "resource provider inventory set" openstack resource provider inventory set "$CN1" --resource VCPU=4 --resource VCPU:allocation_ratio=2.0 --resource MEMORY_MB=8192 --resource DISK_GB=100
step "inventory set on cn2" openstack resource provider inventory set "$CN2" --resource VCPU=2 --resource MEMORY_MB=2048 --resource DISK_GB=20
has "resource provider inventory list" "MEMORY_MB" openstack resource provider inventory list "$CN1" -f value -c resource_class
has "inventory show (allocation_ratio)" "2.0" openstack resource provider inventory show "$CN1" VCPU -f value -c allocation_ratio

step "resource class create CUSTOM_GPU_A100" openstack resource class create CUSTOM_GPU_A100
has "resource class list" "CUSTOM_GPU_A100" openstack resource class list -f value
has "standard classes listed" "VCPU" openstack resource class list -f value
refused "resource class without CUSTOM_ refused" "400" openstack resource class create GPU_A100
refused "standard resource class cannot be deleted" "400" openstack resource class delete VCPU
step "trait create CUSTOM_FAST_NET" openstack trait create CUSTOM_FAST_NET
has "trait list" "CUSTOM_FAST_NET" openstack trait list -f value
step "resource provider trait set" openstack resource provider trait set "$CN1" --trait CUSTOM_FAST_NET --trait HW_CPU_X86_AVX2
has "resource provider trait list" "HW_CPU_X86_AVX2" openstack resource provider trait list "$CN1" -f value
refused "unknown trait refused" "400" openstack resource provider trait set "$CN1" --trait CUSTOM_NO_SUCH_TRAIT
AGG=$(python3 -c 'import uuid; print(uuid.uuid4())')
step "resource provider aggregate set" openstack resource provider aggregate set "$CN2" --aggregate "$AGG" --generation "$(openstack resource provider show "$CN2" -f value -c generation)"
has "resource provider aggregate list" "$AGG" openstack resource provider aggregate list "$CN2" -f value

has "allocation candidate list --resource VCPU=1 (both hosts)" "$CN2" openstack allocation candidate list --resource VCPU=1 -f value -c "resource provider"
has "candidates with a required trait" "$CN1" openstack allocation candidate list --resource VCPU=1 --required CUSTOM_FAST_NET -f value -c "resource provider"
lacks "candidates with a required trait skip cn2" "$CN2" openstack allocation candidate list --resource VCPU=1 --required CUSTOM_FAST_NET -f value -c "resource provider"
has "candidates in an aggregate" "$CN2" openstack allocation candidate list --resource VCPU=1 --member-of "$AGG" -f value -c "resource provider"
has "candidates: only cn1 fits 6 VCPU" "$CN1" openstack allocation candidate list --resource VCPU=6 -f value -c "resource provider"

VM=$(python3 -c 'import uuid; print(uuid.uuid4())')
PROJECT=$(openstack project show admin -f value -c id)
USER=$(openstack user show admin -f value -c id)
step "resource provider allocation set (claim)" openstack resource provider allocation set "$VM" --allocation "rp=$CN1,VCPU=2,MEMORY_MB=1024" --project-id "$PROJECT" --user-id "$USER" --consumer-type INSTANCE
has "resource provider allocation show" "$CN1" openstack resource provider allocation show "$VM" -f value
has "resource provider usage show" "1024" openstack resource provider usage show "$CN1" -f value
has "resource usage show (project)" "VCPU" openstack resource usage show "$PROJECT"
refused "claim beyond capacity refused" "409" openstack resource provider allocation set "$(python3 -c 'import uuid; print(uuid.uuid4())')" --allocation "rp=$CN2,VCPU=3" --project-id "$PROJECT" --user-id "$USER" --consumer-type INSTANCE
refused "removing inventory in use refused" "409" openstack resource provider inventory delete "$CN1" --resource-class VCPU
refused "deleting a provider with allocations refused" "409" openstack resource provider delete "$CN1"
step "resource provider allocation delete" openstack resource provider allocation delete "$VM"
has "usage back to zero" "VCPU 0" openstack resource provider usage show "$CN1" -f value
step "resource provider inventory delete" openstack resource provider inventory delete "$CN2" --resource-class DISK_GB
step "resource provider delete (child, then cn2)" sh -c "openstack resource provider delete '$(openstack resource provider list --name cn1-pf1 -f value -c uuid)' && openstack resource provider delete '$CN2'"
step "trait delete" sh -c "openstack resource provider trait delete '$CN1' && openstack trait delete CUSTOM_FAST_NET"
step "resource class delete" openstack resource class delete CUSTOM_GPU_A100
echo "placement walkthrough: $FAILS failed"
[ "$FAILS" -eq 0 ]
