//! Empty: only the build script of librocksdb-sys matters here.
