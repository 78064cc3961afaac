//! Nodes: where a node listens (the Raft membership's node value) and the
//! members table.

use meridian_core::config::cluster::{NodeInfo, NodeRecord};

use crate::error::DecodeError;
use crate::pb;
use crate::pb_impl::required;

impl From<&NodeInfo> for pb::NodeInfo {
    fn from(info: &NodeInfo) -> pb::NodeInfo {
        pb::NodeInfo {
            region: info.region.clone(),
            raft_addr: info.raft_addr.clone(),
            api_addr: info.api_addr.clone(),
        }
    }
}

impl From<pb::NodeInfo> for NodeInfo {
    fn from(info: pb::NodeInfo) -> NodeInfo {
        NodeInfo {
            region: info.region,
            raft_addr: info.raft_addr,
            api_addr: info.api_addr,
        }
    }
}

impl From<&NodeRecord> for pb::NodeRecord {
    fn from(record: &NodeRecord) -> pb::NodeRecord {
        pb::NodeRecord {
            id: record.id,
            info: Some(pb::NodeInfo::from(&record.info)),
            voter: record.voter,
        }
    }
}

impl TryFrom<pb::NodeRecord> for NodeRecord {
    type Error = DecodeError;

    fn try_from(record: pb::NodeRecord) -> Result<NodeRecord, DecodeError> {
        Ok(NodeRecord {
            id: record.id,
            info: NodeInfo::from(required("NodeRecord.info", record.info)?),
            voter: record.voter,
        })
    }
}
