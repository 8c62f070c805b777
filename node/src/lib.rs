//! The parts of `datdot-node` that stand on their own, so they are tested (and usable)
//! without the chain service.

pub mod replica;
pub mod store;
