//! Where providers' nodes seed feeds to hypercore readers (design §8): each provider may
//! register one endpoint, `host:port`, and `DatdotApi::plan_status` lists it with every
//! replica the provider hosts, so a reader finds the hosters of a feed on chain.

use crate::{pallet::*, Config, Error, Event, Pallet};
use frame::prelude::*;

/// The longest endpoint: a DNS name of 120 bytes and a port.
pub const MAX_ENDPOINT_LEN: u32 = 128;

/// A provider's endpoint as stored: `host:port` in ASCII.
pub type Endpoint = BoundedVec<u8, ConstU32<MAX_ENDPOINT_LEN>>;

/// Whether `bytes` is `host:port`: a port in 1..=65535 without leading zeros, and a host
/// that is a DNS name or IPv4 address (letters, digits, `-` and `.`, not starting with
/// either) or an IPv6 address in brackets.
pub fn is_endpoint(bytes: &[u8]) -> bool {
	let Some(colon) = bytes.iter().rposition(|&b| b == b':') else { return false };
	let (host, port) = (&bytes[..colon], &bytes[colon + 1..]);
	let port_ok = !port.is_empty()
		&& port.len() <= 5
		&& port[0] != b'0'
		&& port.iter().all(u8::is_ascii_digit)
		&& port.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')) <= 65535;
	let host_ok = match host {
		[b'[', inner @ .., b']'] => {
			!inner.is_empty() && inner.iter().all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
		}
		[first, ..] => {
			first.is_ascii_alphanumeric()
				&& host.iter().all(|b| b.is_ascii_alphanumeric() || b"-.".contains(b))
		}
		[] => false,
	};
	port_ok && host_ok
}

impl<T: Config> Pallet<T> {
	/// See [`Pallet::set_endpoint`].
	pub(crate) fn do_set_endpoint(who: T::AccountId, endpoint: Option<Endpoint>) -> DispatchResult {
		ensure!(Providers::<T>::contains_key(&who), Error::<T>::NotRegistered);
		if let Some(e) = &endpoint {
			ensure!(is_endpoint(e), Error::<T>::MalformedEndpoint);
		}
		match &endpoint {
			Some(e) => Endpoints::<T>::insert(&who, e),
			None => Endpoints::<T>::remove(&who),
		}
		Self::deposit_event(Event::EndpointSet { provider: who, endpoint });
		Ok(())
	}
}

#[cfg(test)]
mod tests {
	use super::is_endpoint;

	#[test]
	fn endpoints_are_host_and_port() {
		for good in ["127.0.0.1:30433", "seed.example.org:1", "[::1]:65535", "a:9", "x-1.io:443"] {
			assert!(is_endpoint(good.as_bytes()), "{good}");
		}
		for bad in [
			"",
			"host",
			"host:",
			":80",
			"host:0",
			"host:65536",
			"host:080",
			"host:8a",
			"-h:80",
			".h:80",
			"h_1:80",
			"h/x:80",
			"[]:80",
			"[zz]:80",
			"host:123456",
			"h ost:80",
		] {
			assert!(!is_endpoint(bad.as_bytes()), "{bad}");
		}
	}
}
