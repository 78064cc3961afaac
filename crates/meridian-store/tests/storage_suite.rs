//! openraft's storage conformance suite (`openraft::testing::log::Suite`)
//! against the RocksDB log store and state machine, each case in a fresh
//! temporary directory.

use meridian_store::log_store::LogStore;
use meridian_store::state_machine::StateMachineStore;
use meridian_store::type_config::TypeConfig;
use openraft::StorageError;
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use tempfile::TempDir;

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RocksBuilder {
    async fn build(
        &self,
    ) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<TypeConfig>> {
        let dir = TempDir::new().map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        let (log_store, state_machine) = meridian_store::open(dir.path(), 1)
            .map_err(|e| StorageError::read(TypeConfig::err_from_error(&e)))?;
        Ok((dir, log_store, state_machine))
    }
}

#[test]
fn rocksdb_store_passes_the_openraft_suite() {
    TypeConfig::run(async {
        Suite::test_all(RocksBuilder).await.unwrap();
    });
}
