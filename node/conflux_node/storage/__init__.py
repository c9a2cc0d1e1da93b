"""Storage: the state machine's bytes on disk (RocksDB) or in memory (tests)."""
