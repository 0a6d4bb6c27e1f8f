//! Other services Neutron tells about changes, as neutron/notifiers: Nova, which waits for a
//! port to be plugged before it starts a server and refreshes its network cache when a port's
//! addresses or floating IPs change.

pub mod nova;
