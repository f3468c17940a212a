//! What the judge says of one connection.
