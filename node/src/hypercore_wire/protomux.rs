//! npm `protomux` framing: each secret-stream message is `uint channel, uint type, payload`;
//! channel 0 carries the control messages (batch, open, reject, close). Channel ids are the
//! sender's own, counted from 1.

use super::messages::{put_buffer, put_uint, Cursor, Malformed};

/// A batch may nest at most this many frames; more is an abusive peer.
const MAX_BATCH: usize = 4096;

/// One message a peer sent, with batches flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuxMessage {
	/// The peer opens channel `remote_id` for `protocol` and `id`.
	Open { remote_id: u64, protocol: String, id: Vec<u8>, handshake: Vec<u8> },
	/// The peer refuses our channel `local_id`.
	Reject { local_id: u64 },
	/// The peer closes its channel `remote_id`.
	Close { remote_id: u64 },
	/// A message of type `kind` on the peer's channel `remote_id`.
	Message { remote_id: u64, kind: u64, payload: Vec<u8> },
}

/// Decodes one received secret-stream message into the protomux messages it holds.
pub fn decode(bytes: &[u8]) -> Result<Vec<MuxMessage>, Malformed> {
	let mut out = Vec::new();
	let mut c = Cursor(bytes);
	let channel = c.uint()?;
	decode_on(channel, &mut c, &mut out, true)?;
	Ok(out)
}

/// Decodes the message in `c` sent on `channel` (batches only at the top level).
fn decode_on(
	channel: u64,
	c: &mut Cursor,
	out: &mut Vec<MuxMessage>,
	batch_allowed: bool,
) -> Result<(), Malformed> {
	let kind = c.uint()?;
	if channel != 0 {
		out.push(MuxMessage::Message { remote_id: channel, kind, payload: c.rest().to_vec() });
		return Ok(());
	}
	match kind {
		0 if batch_allowed => {
			let mut channel = c.uint()?;
			while !c.is_empty() {
				if out.len() >= MAX_BATCH {
					return Err(Malformed);
				}
				let len = c.uint()?;
				if len == 0 {
					channel = c.uint()?;
					continue;
				}
				let item = c.take(usize::try_from(len).map_err(|_| Malformed)?)?;
				decode_on(channel, &mut Cursor(item), out, false)?;
			}
		}
		1 => {
			let remote_id = c.uint()?;
			let protocol = String::from_utf8(c.buffer()?.to_vec()).map_err(|_| Malformed)?;
			let id = c.buffer()?.to_vec();
			out.push(MuxMessage::Open { remote_id, protocol, id, handshake: c.rest().to_vec() });
		}
		2 => out.push(MuxMessage::Reject { local_id: c.uint()? }),
		3 => out.push(MuxMessage::Close { remote_id: c.uint()? }),
		_ => return Err(Malformed),
	}
	Ok(())
}

/// `open` of our channel `local_id`.
pub fn open(local_id: u64, protocol: &str, id: &[u8], handshake: &[u8]) -> Vec<u8> {
	let mut out = vec![0, 1];
	put_uint(&mut out, local_id);
	put_buffer(&mut out, protocol.as_bytes());
	put_buffer(&mut out, id);
	out.extend_from_slice(handshake);
	out
}

/// `reject` of the peer's channel `remote_id`.
pub fn reject(remote_id: u64) -> Vec<u8> {
	let mut out = vec![0, 2];
	put_uint(&mut out, remote_id);
	out
}

/// `close` of our channel `local_id`.
pub fn close(local_id: u64) -> Vec<u8> {
	let mut out = vec![0, 3];
	put_uint(&mut out, local_id);
	out
}

/// A message of type `kind` on our channel `local_id`.
pub fn message(local_id: u64, kind: u64, payload: &[u8]) -> Vec<u8> {
	let mut out = Vec::with_capacity(payload.len() + 4);
	put_uint(&mut out, local_id);
	put_uint(&mut out, kind);
	out.extend_from_slice(payload);
	out
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn batches_switch_channels_and_hold_control_messages() {
		// From a trace: a batch on channel 1 holding sync{15,0,5,0} and range{0,5}.
		let batch = [0, 0, 1, 5, 0, 0x0f, 0, 5, 0, 4, 8, 0, 0, 5];
		assert_eq!(
			decode(&batch).unwrap(),
			vec![
				MuxMessage::Message { remote_id: 1, kind: 0, payload: vec![0x0f, 0, 5, 0] },
				MuxMessage::Message { remote_id: 1, kind: 8, payload: vec![0, 0, 5] },
			]
		);
		// Switch to channel 0 inside a batch for a close of channel 2.
		let batch = [0, 0, 1, 2, 5, 9, 0, 0, 2, 3, 2];
		assert_eq!(
			decode(&batch).unwrap(),
			vec![
				MuxMessage::Message { remote_id: 1, kind: 5, payload: vec![9] },
				MuxMessage::Close { remote_id: 2 },
			]
		);
	}

	#[test]
	fn open_round_trips_and_junk_is_refused() {
		let bytes = open(1, "hypercore/alpha", &[7; 32], &[0, 9]);
		assert_eq!(
			decode(&bytes).unwrap(),
			vec![MuxMessage::Open {
				remote_id: 1,
				protocol: "hypercore/alpha".into(),
				id: vec![7; 32],
				handshake: vec![0, 9],
			}]
		);
		assert_eq!(decode(&[0, 7]), Err(Malformed));
		assert_eq!(decode(&[0, 0, 1, 9, 1]), Err(Malformed));
		// A batch inside a batch is not something protomux sends.
		assert_eq!(decode(&[0, 0, 0, 3, 0, 0, 1]), Err(Malformed));
	}
}
