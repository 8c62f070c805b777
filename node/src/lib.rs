//! The parts of `datdot-node` that stand on their own, so they are tested (and usable)
//! without the chain service.

pub mod attest;
pub mod durable;
pub mod duty_keys;
pub mod evidence;
pub mod feeds;
pub mod hypercore_wire;
pub mod net;
pub mod replica;
pub mod sealing_key;
pub mod serving;
pub mod store;
pub mod stream_log;
pub mod tree_file;
pub mod worker;
