//! In-memory reference implementations of every port.
