//! datdot-primitives: the code every datdot proof rests on.
//!
//! Runs in the runtime (`no_std` + `alloc`, wasm32) and in the node (`std`). The hypercore
//! part follows the reference implementation (npm `hypercore` 11) byte for byte; the
//! encoded stream is datdot's own per-replica storage format.
//!
//! Modules, one concept each:
//! - [`flat_tree`]: hypercore's flat-tree index arithmetic.
//! - [`hash`]: tree nodes and hypercore's leaf / parent / tree hashes.
//! - [`compact`]: the compact-encoding integers hypercore's binary messages use.
//! - [`manifest`]: the manifest (v1, one ed25519 signer) and its hash, the feed key.
//! - [`signing`]: signed messages of both modes, the signature container, the verifier trait.
//! - [`proof`]: proof and signed-tree types (SCALE-encodable).
//! - [`verify`]: verification of block proofs, upgrades, signed trees and whole feeds.
//! - [`writer`] (std): a native hypercore-compatible feed writer.
//! - [`encoded`]: the encoded stream of a replica and its segment proofs.
//! - [`sealing`]: sealing keys, the sealed segments of a replica and unsealing them.
//! - [`fraud`]: encoding fraud proofs, judged the same way by the chain and the node.
//! - [`json`] (std): the JSON proof format and `verify_proof_json`.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod compact;
pub mod encoded;
pub mod error;
pub mod flat_tree;
pub mod fraud;
pub mod hash;
#[cfg(feature = "std")]
pub mod json;
pub mod manifest;
#[cfg(target_pointer_width = "64")]
mod montgomery;
pub mod proof;
pub mod sealing;
pub mod signing;
#[doc(hidden)]
pub mod testdata;
pub mod verify;
#[cfg(feature = "std")]
pub mod writer;

pub use error::Error;
pub use hash::{Hash, Node};
pub use manifest::Manifest;
pub use proof::{BlockData, Proof, SignedTree, UpgradeData};
#[cfg(feature = "dalek")]
pub use signing::DalekVerifier;
pub use signing::{Ed25519Verifier, FeedAuth, SigningMode};
pub use verify::{VerifiedProof, VerifiedTree};
