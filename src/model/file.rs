//! What tcpshake says of one capture file.
