//! Swift, the OpenStack Object Storage service. So far: the ring (swift/common/ring), which
//! maps partitions of the hash space to devices across regions and zones, the ring builder
//! that places replicas as uniquely as possible and moves the fewest partitions on a change,
//! and the `swift-ring-builder` command (`ferrostack swift ring-builder`). Ring files use
//! Swift's own v1 format, so they are interchangeable with Python Swift's. The proxy and the
//! account, container and object servers are the rest of issue 7.

pub mod ring;
