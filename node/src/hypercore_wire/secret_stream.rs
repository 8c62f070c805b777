//! The transport of hypercore's replication protocol, as npm `@hyperswarm/secret-stream`
//! speaks it over TCP (a seeder accepts, an attestor connects): frames with a 3-byte little-endian length,
//! a Noise XX handshake whose Diffie-Hellman runs on Ed25519 points (`noise-curve-ed`), then
//! libsodium's `crypto_secretstream_xchacha20poly1305` in each direction.

use blake2::{
	digest::{consts::U32, Mac},
	Blake2bMac,
};
use crypto_secretstream::{Header, Key, PullStream, PushStream, Tag};
use curve25519_dalek::traits::IsIdentity;
use datdot_primitives::manifest::namespace;
use sha2::{Digest, Sha512};
use snow::{
	params::{
		BaseChoice, CipherChoice, DHChoice, HandshakeChoice, HandshakeModifierList,
		HandshakePattern, HashChoice, NoiseParams,
	},
	resolvers::{CryptoResolver, DefaultResolver, FallbackResolver},
	types::{Dh, Random},
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The Noise protocol name hashed into the handshake (`noise-handshake` with `noise-curve-ed`).
const PROTOCOL_NAME: &str = "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b";
/// A frame's body is at most 2^24 − 1 bytes; hypercore never sends more (MAX_ATOMIC_WRITE).
pub const MAX_FRAME: usize = (1 << 24) - 1;
/// libsodium secretstream's overhead per message: the encrypted tag byte and the MAC.
const ABYTES: usize = 17;

/// Why a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
	/// The socket failed or closed.
	#[error("connection: {0}")]
	Io(#[from] std::io::Error),
	/// The peer broke the Noise handshake.
	#[error("noise handshake: {0}")]
	Handshake(String),
	/// The peer's stream header is not the one its handshake implies.
	#[error("the peer's secret-stream header does not match the handshake")]
	BadHeader,
	/// A frame did not authenticate.
	#[error("a frame failed to decrypt")]
	Decrypt,
	/// A frame is larger than the receiver's limit.
	#[error("a frame of {0} bytes is over the limit")]
	TooLarge(usize),
}

/// Diffie-Hellman as `noise-curve-ed` does it: keys are Ed25519 signing keys (the private
/// key is the 32-byte seed), and the shared secret is the remote Edwards point times the
/// clamped scalar of our seed. This is not X25519.
#[derive(Default)]
struct Ed25519Dh {
	seed: [u8; 32],
	public: [u8; 32],
}

impl Dh for Ed25519Dh {
	fn name(&self) -> &'static str {
		"Ed25519"
	}
	fn pub_len(&self) -> usize {
		32
	}
	fn priv_len(&self) -> usize {
		32
	}
	fn set(&mut self, privkey: &[u8]) {
		// snow only hands us keys of `priv_len` bytes.
		self.seed.copy_from_slice(&privkey[..32]);
		self.public = ed25519_dalek::SigningKey::from_bytes(&self.seed).verifying_key().to_bytes();
	}
	fn generate(&mut self, rng: &mut dyn Random) {
		let mut seed = [0u8; 32];
		rng.fill_bytes(&mut seed);
		self.set(&seed);
	}
	fn pubkey(&self) -> &[u8] {
		&self.public
	}
	fn privkey(&self) -> &[u8] {
		&self.seed
	}
	fn dh(&self, pubkey: &[u8], out: &mut [u8]) -> Result<(), snow::Error> {
		// snow hands over a buffer of its largest key size; ours is the first 32 bytes.
		let pubkey = pubkey.get(..32).ok_or(snow::Error::Dh)?;
		let point = curve25519_dalek::edwards::CompressedEdwardsY::from_slice(pubkey)
			.ok()
			.and_then(|p| p.decompress())
			.ok_or(snow::Error::Dh)?;
		// libsodium refuses small-order points and an identity result; so do we.
		if point.is_small_order() {
			return Err(snow::Error::Dh);
		}
		let scalar: [u8; 32] = Sha512::digest(self.seed)[..32].try_into().expect("64-byte hash");
		let shared = point.mul_clamped(scalar);
		if shared.is_identity() {
			return Err(snow::Error::Dh);
		}
		out[..32].copy_from_slice(shared.compress().as_bytes());
		Ok(())
	}
}

/// Resolves the "25519" slot of our parameters to [`Ed25519Dh`]; the rest is snow's own.
struct EdResolver;

impl CryptoResolver for EdResolver {
	fn resolve_rng(&self) -> Option<Box<dyn Random>> {
		None
	}
	fn resolve_dh(&self, choice: &DHChoice) -> Option<Box<dyn Dh>> {
		matches!(choice, DHChoice::Curve25519).then(|| Box::<Ed25519Dh>::default() as Box<dyn Dh>)
	}
	fn resolve_hash(&self, _: &snow::params::HashChoice) -> Option<Box<dyn snow::types::Hash>> {
		None
	}
	fn resolve_cipher(&self, _: &CipherChoice) -> Option<Box<dyn snow::types::Cipher>> {
		None
	}
}

fn noise_params() -> NoiseParams {
	NoiseParams::new(
		PROTOCOL_NAME.into(),
		BaseChoice::Noise,
		HandshakeChoice {
			pattern: HandshakePattern::XX,
			modifiers: HandshakeModifierList { list: vec![] },
		},
		DHChoice::Curve25519,
		CipherChoice::ChaChaPoly,
		HashChoice::Blake2b,
	)
}

/// `BLAKE2b-256` keyed with the handshake hash over the role's namespace.
fn stream_id(handshake_hash: &[u8], initiator: bool) -> [u8; 32] {
	// `hypercore-crypto.namespace('hyperswarm/secret-stream', 3)`: 0 initiator, 1 responder.
	let role = namespace(b"hyperswarm/secret-stream", if initiator { 0 } else { 1 });
	let mut mac = Blake2bMac::<U32>::new_from_slice(handshake_hash).expect("64-byte key");
	mac.update(&role);
	mac.finalize().into_bytes().into()
}

/// Reads one length-prefixed frame of at most `limit` bytes.
pub async fn read_frame<R: AsyncRead + Unpin>(
	reader: &mut R,
	limit: usize,
) -> Result<Vec<u8>, StreamError> {
	let mut len = [0u8; 3];
	reader.read_exact(&mut len).await?;
	let len = u32::from_le_bytes([len[0], len[1], len[2], 0]) as usize;
	if len > limit {
		return Err(StreamError::TooLarge(len));
	}
	let mut body = vec![0u8; len];
	reader.read_exact(&mut body).await?;
	Ok(body)
}

/// Appends `body` to `out` as one frame.
fn frame(out: &mut Vec<u8>, body: &[u8]) {
	let len = (body.len() as u32).to_le_bytes();
	out.extend_from_slice(&len[..3]);
	out.extend_from_slice(body);
}

/// The receiving half of an established stream.
pub struct SecretReader<R> {
	io: R,
	pull: PullStream,
	limit: usize,
}

/// The sending half of an established stream.
pub struct SecretWriter<W> {
	io: W,
	push: PushStream,
}

/// What the handshake established, besides the two halves.
pub struct Established<R, W> {
	/// Decrypts what the peer sends.
	pub reader: SecretReader<R>,
	/// Encrypts what we send.
	pub writer: SecretWriter<W>,
	/// The Noise handshake hash: hypercore's capabilities are bound to it.
	pub handshake_hash: Vec<u8>,
	/// The peer's static Ed25519 key.
	pub remote_key: [u8; 32],
}

/// Runs the responder's side of the handshake on a fresh connection; `seed` is our static
/// Ed25519 key's seed. Frames the peer sends later may be up to `limit` bytes.
pub async fn accept<R, W>(
	mut reader: R,
	mut writer: W,
	seed: &[u8; 32],
	limit: usize,
) -> Result<Established<R, W>, StreamError>
where
	R: AsyncRead + Unpin,
	W: AsyncWrite + Unpin,
{
	let broken = |e: snow::Error| StreamError::Handshake(e.to_string());
	let resolver = FallbackResolver::new(Box::new(EdResolver), Box::<DefaultResolver>::default());
	let mut noise = snow::Builder::with_resolver(noise_params(), Box::new(resolver))
		.local_private_key(seed)
		.build_responder()
		.map_err(broken)?;
	let mut scratch = [0u8; 256];
	let msg1 = read_frame(&mut reader, 256).await?;
	noise.read_message(&msg1, &mut scratch).map_err(broken)?;
	let len = noise.write_message(&[], &mut scratch).map_err(broken)?;
	let mut out = Vec::with_capacity(len + 3);
	frame(&mut out, &scratch[..len]);
	writer.write_all(&out).await?;
	let msg3 = read_frame(&mut reader, 256).await?;
	noise.read_message(&msg3, &mut scratch).map_err(broken)?;
	finish(reader, writer, noise, false, limit).await
}

/// Runs the initiator's side of the handshake on a fresh connection with a new random
/// static key (an attestor reads as an anonymous hypercore reader would).
pub async fn connect<R, W>(
	mut reader: R,
	mut writer: W,
	limit: usize,
) -> Result<Established<R, W>, StreamError>
where
	R: AsyncRead + Unpin,
	W: AsyncWrite + Unpin,
{
	let broken = |e: snow::Error| StreamError::Handshake(e.to_string());
	let seed: [u8; 32] = rand::random();
	let resolver = FallbackResolver::new(Box::new(EdResolver), Box::<DefaultResolver>::default());
	let mut noise = snow::Builder::with_resolver(noise_params(), Box::new(resolver))
		.local_private_key(&seed)
		.build_initiator()
		.map_err(broken)?;
	let mut scratch = [0u8; 256];
	let mut out = Vec::new();
	let len = noise.write_message(&[], &mut scratch).map_err(broken)?;
	frame(&mut out, &scratch[..len]);
	writer.write_all(&out).await?;
	let msg2 = read_frame(&mut reader, 256).await?;
	noise.read_message(&msg2, &mut scratch).map_err(broken)?;
	let len = noise.write_message(&[], &mut scratch).map_err(broken)?;
	out.clear();
	frame(&mut out, &scratch[..len]);
	writer.write_all(&out).await?;
	finish(reader, writer, noise, true, limit).await
}

/// Ends a completed Noise handshake, either side: each peer sends its secretstream header
/// (prefixed with its role's stream id) and checks the other's. The initiator sends with
/// the first key of the split, the responder with the second.
async fn finish<R, W>(
	mut reader: R,
	mut writer: W,
	noise: snow::HandshakeState,
	initiator: bool,
	limit: usize,
) -> Result<Established<R, W>, StreamError>
where
	R: AsyncRead + Unpin,
	W: AsyncWrite + Unpin,
{
	let handshake_hash = noise.get_handshake_hash().to_vec();
	let remote_key: [u8; 32] = noise
		.get_remote_static()
		.and_then(|k| k.try_into().ok())
		.ok_or_else(|| StreamError::Handshake("no remote static key".into()))?;
	let mut noise = noise;
	let (first, second) = noise.dangerously_get_raw_split();
	let (tx, rx) = if initiator { (first, second) } else { (second, first) };

	let (header, push) = PushStream::init(rand::rngs::OsRng, &Key::from(tx));
	let mut hello = stream_id(&handshake_hash, initiator).to_vec();
	hello.extend_from_slice(header.as_ref());
	let mut out = Vec::with_capacity(59);
	frame(&mut out, &hello);
	writer.write_all(&out).await?;

	let theirs = read_frame(&mut reader, 56).await?;
	if theirs.len() != 56 || theirs[..32] != stream_id(&handshake_hash, !initiator) {
		return Err(StreamError::BadHeader);
	}
	let header = Header::try_from(&theirs[32..]).map_err(|_| StreamError::BadHeader)?;
	let pull = PullStream::init(header, &Key::from(rx));
	Ok(Established {
		reader: SecretReader { io: reader, pull, limit },
		writer: SecretWriter { io: writer, push },
		handshake_hash,
		remote_key,
	})
}

impl<R: AsyncRead + Unpin> SecretReader<R> {
	/// The next message the peer sent (empty ones are keep-alives).
	pub async fn recv(&mut self) -> Result<Vec<u8>, StreamError> {
		let mut body = read_frame(&mut self.io, self.limit + ABYTES).await?;
		if body.len() < ABYTES {
			return Err(StreamError::Decrypt);
		}
		self.pull.pull(&mut body, &[]).map_err(|_| StreamError::Decrypt)?;
		Ok(body)
	}
}

impl<W: AsyncWrite + Unpin> SecretWriter<W> {
	/// Encrypts `messages`, one frame each, and writes them in one go.
	pub async fn send(&mut self, messages: &[Vec<u8>]) -> Result<(), StreamError> {
		let mut out = Vec::with_capacity(messages.iter().map(|m| m.len() + ABYTES + 3).sum());
		for message in messages {
			let mut body = message.clone();
			self.push.push(&mut body, &[], Tag::Message).map_err(|_| StreamError::Decrypt)?;
			frame(&mut out, &body);
		}
		self.io.write_all(&out).await?;
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn ed25519_dh_agrees_both_ways_and_refuses_small_order_points() {
		let (mut a, mut b) = (Ed25519Dh::default(), Ed25519Dh::default());
		a.set(&[1u8; 32]);
		b.set(&[2u8; 32]);
		let (mut ab, mut ba) = ([0u8; 32], [0u8; 32]);
		a.dh(b.pubkey(), &mut ab).unwrap();
		b.dh(a.pubkey(), &mut ba).unwrap();
		assert_eq!(ab, ba);
		let identity = curve25519_dalek::edwards::EdwardsPoint::default().compress();
		assert!(a.dh(identity.as_bytes(), &mut ab).is_err());
	}
}
