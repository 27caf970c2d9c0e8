//! Helpers for `bench/run`: see the binaries `bench-hello` and `bench-appends`.
