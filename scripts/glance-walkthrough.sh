#!/usr/bin/env bash
# The seed's image walkthrough with the real `openstack` CLI against a running `ferrostack up`
# whose data dir is $DATA: upload a real qcow2 (made with qemu-img), list/show, save and
# compare bytes, properties and tags, sharing with another project, protection, deactivation,
# the interoperable import, and bad input. Prints "ok <step>" / "FAILED <step>".
set -uo pipefail
. "$DATA/admin-openrc"
. "$(dirname "$0")/walkthrough-lib.sh"

command -v qemu-img >/dev/null || { echo "FAILED qemu-img is required (apt-get install -y qemu-utils)"; exit 1; }
qemu-img create -f qcow2 "$W/CentOS-7-x86_64-GenericCloud.qcow2" 1G >/dev/null
dd if=/dev/urandom of="$W/payload" bs=1M count=3 status=none
qemu-img convert -f raw -O qcow2 "$W/payload" "$W/data.qcow2"
qemu-img create -f qcow2 -b "$W/data.qcow2" -F qcow2 "$W/overlay.qcow2" >/dev/null

step "image create (seed, verbatim)" openstack image create "centos7" --file "$W/CentOS-7-x86_64-GenericCloud.qcow2" --disk-format qcow2 --container-format bare --public
step "image list" sh -c 'openstack image list -f value -c Name | grep -qx centos7'
SHOW=$(openstack image show centos7 -f json)
for field in checksum container_format created_at disk_format file id min_disk min_ram name owner protected schema size status tags updated_at virtual_size visibility; do
    echo "$SHOW" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if '$field' in d else 1)" || { echo "FAILED image show lacks $field"; FAILS=$((FAILS + 1)); }
done
want_md5=$(md5sum < "$W/CentOS-7-x86_64-GenericCloud.qcow2" | cut -d' ' -f1)
want_size=$(stat -c %s "$W/CentOS-7-x86_64-GenericCloud.qcow2")
want_vsize=$(qemu-img info --output=json "$W/CentOS-7-x86_64-GenericCloud.qcow2" | python3 -c "import json,sys; print(json.load(sys.stdin)['virtual-size'])")
got=$(echo "$SHOW" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['checksum'], d['size'], d['virtual_size'], d['status'])")
if [ "$got" = "$want_md5 $want_size $want_vsize active" ]; then echo "ok image show: checksum, size, virtual_size match ($got)"; else echo "FAILED image show: got '$got', want '$want_md5 $want_size $want_vsize active'"; FAILS=$((FAILS + 1)); fi

step "image create (data)" openstack image create data --file "$W/data.qcow2" --disk-format qcow2 --container-format bare
step "image save (bytes identical)" sh -c "openstack image save --file '$W/saved' data && cmp '$W/saved' '$W/data.qcow2'"
step "image set --property --tag" openstack image set --property os_distro=centos --tag golden data
step "property and tag shown" sh -c 'openstack image show data -f json | grep -q "\"golden\"" && openstack image show data -f value -c properties | grep -q "os_distro"'

# Sharing with another project, accepted by that project.
openstack project create glance-other >/dev/null 2>&1
openstack user create --project glance-other --password other-pw glance-other >/dev/null 2>&1
openstack role add --project glance-other --user glance-other member >/dev/null 2>&1
step "image set --shared" openstack image set --shared data
step "image add project" openstack image add project data glance-other
IMG=$(openstack image show data -f value -c id)
step "other project: image set --accept" env OS_USERNAME=glance-other OS_PASSWORD=other-pw OS_PROJECT_NAME=glance-other openstack image set --accept "$IMG"
step "other project sees the shared image" sh -c "OS_USERNAME=glance-other OS_PASSWORD=other-pw OS_PROJECT_NAME=glance-other openstack image list -f value -c ID | grep -qx $IMG"
refused "other project cannot delete it" "403\|not authorized\|Forbidden" env OS_USERNAME=glance-other OS_PASSWORD=other-pw OS_PROJECT_NAME=glance-other openstack image delete "$IMG"

step "image set --protected" openstack image set --protected data
refused "protected image delete is refused" "protected" openstack image delete data
step "image set --unprotected" openstack image set --unprotected data
step "image set --deactivate" openstack image set --deactivate data
step "deactivated shows status" sh -c 'openstack image show data -f value -c status | grep -qx deactivated'
step "image set --activate" openstack image set --activate data

step "image create --import (glance-direct)" openstack image create imported --file "$W/data.qcow2" --disk-format qcow2 --container-format bare --import
for _ in $(seq 1 50); do [ "$(openstack image show imported -f value -c status)" = active ] && break; sleep 0.2; done
step "imported image becomes active with the right checksum" sh -c "[ \"\$(openstack image show imported -f value -c checksum)\" = \"$(md5sum < "$W/data.qcow2" | cut -d' ' -f1)\" ]"

# Bad input: refused with Glance's status, nothing stored.
before=$(openstack image list -f value | wc -l)
refused "qcow2 with a backing file is refused" "backing file" openstack image create evil --file "$W/overlay.qcow2" --disk-format qcow2 --container-format bare
refused "content contradicting disk_format is refused" "content is\|disk_format" openstack image create liar --file "$W/data.qcow2" --disk-format raw --container-format bare
refused "unknown disk_format is refused" "400\|Invalid\|invalid" openstack image create bogus --disk-format floppy --container-format bare
KEEP=$(openstack image show data -f value -c id)
TOKEN=$(openstack token issue -f value -c id)
GL=$(openstack endpoint list --service image --interface public -f value -c URL | head -1)
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' --data-binary @"$W/data.qcow2" "$GL/v2/images/$KEEP/file")
if [ "$code" = 409 ]; then echo "ok upload to an active image is 409"; else echo "FAILED upload to an active image gave $code"; FAILS=$((FAILS + 1)); fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/openstack-images-v2.1-json-patch' -d '[{"op":"replace","path":"/checksum","value":"x"}]' "$GL/v2/images/$KEEP")
if [ "$code" = 403 ]; then echo "ok patching a read-only property is 403"; else echo "FAILED patching checksum gave $code"; FAILS=$((FAILS + 1)); fi
# The refused uploads leave their records queued (as upstream) with no data: delete them.
for n in evil liar; do openstack image delete "$n" >/dev/null 2>&1; done
after=$(openstack image list -f value | wc -l)
if [ "$before" = "$after" ]; then echo "ok refused uploads left no images behind"; else echo "FAILED images before $before, after $after"; FAILS=$((FAILS + 1)); fi
leftover=$(find "$DATA/images" -name '*.partial' | wc -l)
if [ "$leftover" = 0 ]; then echo "ok no partial files in the store"; else echo "FAILED $leftover partial files left"; FAILS=$((FAILS + 1)); fi
echo "walkthrough failures: $FAILS"
[ "$FAILS" -eq 0 ]
