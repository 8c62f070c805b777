//! The deterministic block generator shared with `fixtures/common.js`, so fixtures can
//! describe megabyte blocks by (seed, index, size) instead of committing them.

use alloc::vec::Vec;

/// Bytes of block `index` of a generated feed (xorshift32, seeded from seed and index).
pub fn generate(seed: u32, index: u32, size: usize) -> Vec<u8> {
	let mut x =
		(seed.wrapping_mul(0x9e37_79b1) ^ index.wrapping_add(1).wrapping_mul(0x85eb_ca77)) | 1;
	let mut out = Vec::with_capacity(size);
	for _ in 0..size {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		out.push(x as u8);
	}
	out
}

/// RSA-2048 sealing keys for tests (`openssl genrsa 2048`); never used outside tests.
pub const TEST_SEALING_KEYS: [&str; 3] = [
	"-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDW8kcF6Iz4JWtM\n\
OLp6ick2JkAFN2AfJ1ed+hLb7exi8GBiVrYroQ/nZfCKPoehGR28nwO+YZfD4Sm2\n\
IkJCPe84ymf6+KaT3L/VR97alZ0Tles2zdyoNxXQ79pW3fneYoR/he0zcrNiXRLe\n\
OZSfCYUCJB8gYtTNkzvxHi6KUF7hLaeO7iOsmVtNL8fCYdKMhsN7otsakFRkey02\n\
Y7Hvzf7otjNyAxSIktwl7Boua+L6F9eKhlrOqVs89zWBNQPdCeuoJkiDioliXYdC\n\
7QzrS3crMvBUEtexhLYn0UfqZxeJgwfwY5t1QUwb41ojQcY2/DNWmXfXeEGPYO+C\n\
N3xmJphTAgMBAAECggEAGNvpWeYU06gkOir/aiegVTpkQhYu8DtxFyyyXKwuIB0z\n\
0Hu90trsR3NTN/HWZsvMVCHB4ZVQ448Zb16T8ixOi+9gyjZSsZwgtY572CTgh0DZ\n\
9LsnT28bf1AWHODMQqt7LnJzRfV4iKJCCeB371K/BsndrbWwbdwe3RqEAGweJQWX\n\
zc64XHGaAm0JOJ79+GlSNhWclvsMeZrmsPBcLWVEnw9rUNbMR9fBjzqwSZ7FJb+g\n\
bunOFUEVh/75TzFxWbsq5X4EiN0upnlTDFXXPXDwIABdvc0AvR2vur9GkqRm1kf6\n\
8bkbo8CN89CcTUYerRzvbuy5UiVnSgttxXQFj4h3gQKBgQD7OAFD2XYs6R1Zs5xa\n\
qANOsr82ZRvLRpwTSdrk4qaXdOp8c/GPyx13kEfejjRLfDAAyfkTJYUyjh0g2J5r\n\
R3wuy98DvhFCgtbwn3zxWU/y/r7wiJ1niGXLhcc4+Z3l/7n/bbc1gqFXXkVgoPK+\n\
aWxoJIk0VwwvHDWg4gzReWTQgQKBgQDbCYuULe0+XZ6PCLOUymmHjNNokZkZULDN\n\
XFiIOb07GCDQ31ziU6OmyN7Mek1rIJeQ0ar8Ra8mzkeWO14FWgp7iJpa4Z4+Up2w\n\
o9jTVQu56YcS9OSOvXs6zQj7z0PIHom2u8klSiWhvgUwJP17ToMXt+BCuq1Pr6/q\n\
TNDxbc++0wKBgC6BO5q30uyVat2EJlmR6KrU5BjJts92jsXzUhY07unytsW7IOih\n\
jR7pEqTcZkni/2/l87nbpECrljDSaOErJo3zJ6GlucQ6PFfm7lYvVmGBTw9v+tOD\n\
qHR4m1ysuNIu+NuUD+pT+FIYHXe507X0BiFxQgTyaEsASd0ye3T7p/IBAoGAWdP/\n\
TyTKoAIK7cP2yfV88984MDFN5UjnSUEu+accSOjrRF3mHNeKTPMiFB+wMlfqcLTb\n\
95uoajS8vQrZ0z4LAICUNONEX3DIRNHdMUY2iecQwyB1v2hL6mB9568nsCF9/tfi\n\
dQ2Eg2GHhSgWYIRhVM/PA+7E9uIpNeCM7AZJ5YsCgYEA27bRJ0UWwHW4CsVxBGQ7\n\
Qh3d87Gob5slWUl9Kq6vMZxZEeomOv7VKr1+zrXFIhAIzUPBxM00hZISk5AE5H+e\n\
kZeWf0O6rRWNaHVKe0qA35t4Lhl6jnduyvz/DB6jkq1vh/Xge/8ZUlnFdId39AH4\n\
9Kk2QJN41GF9J3mkUbY/qXs=\n\
-----END PRIVATE KEY-----\n\
",
	"-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCd5knKR7LhZGnI\n\
/v12h81X6rAwZ3AyVX4dtcqOhCyACEJonrQE3u9UWZaRoJe50y+tCxCU3pJ4ST8b\n\
VJ0W6O1Drna+JTY58iy3sET1nKYyxWmWQIaxoajV8nFVmaLJ2bemI1X8AA28hv1L\n\
82KCKiJvv3e+JhjHejZoRP1LrdinYygc6KoGkd1eONE6OCpV2dLGb8nl9EgRFwjd\n\
E0w1hildCmK51sp2yr9Ec9XiEZBMDdNHmPATfzrBQnm/UpgBiQsJfmR/JCpDr5bS\n\
qtx5YReRH1VbOocQfuQcWnrOCkebnC9c5m1Vu7AisDCmOZvvdzTV1E4uRugxMZcR\n\
LJyf0vtNAgMBAAECggEAHoBafzpv7dWzkJnfNOshScsiS0tj8zksEkmobfTO0tGl\n\
oGeNz0YQVcsziICM5p7KviLdymAfS6Cckec7rC4FDTaxpePy0Gk9ZaNlgsuGmFal\n\
oZpn2n7nqiJ57abuuQ63SN7ZEIOjI6iw29/RRuMkQVFrbF4YGcp8IZK4GkskB5tU\n\
eM7OvQ6uaKbW6woALkcUK2MC8tydxjpbg0CClWFisWm4iEG00+Gz8ZtXJPYCf81c\n\
YPSJ2WYfFtCKPI3QO7ERbysGgsNfbBhZ6zATs8jW7aMm8pmsEpV4pbjyjZF7HLQ6\n\
OHUpEgJgBgGirtOMcBePGk6ZCWtIYs9QxVIc4fAQyQKBgQDLwzzW8JXFA/q/Zwyv\n\
AoK+5SBiKKt30hkqtOwxAeHw07VgWYxMU9Yz60EnP8dFBrtPambSLizYY7TVQqdY\n\
xp/3VHPxJ38mPn3y3KRS+Wt3TZvpzQEVq/B4ICyZZs9WkPXpbC1iJfe83OiHKteN\n\
nhnd6qT4ztBpm6jDAtg4+wpDFQKBgQDGYRjSq0Rc1hMGz8eBxUX4pb0kEgq0iRne\n\
q5etkVGLIWZmo+MJl8JsdCcTMJDolpnG/PsOsguqI1z1Q+QMctefi2+OBiD1xlwm\n\
pvl2BjMTOAAnuOZLHP3G/k49Ue+tpPlBAfBYFKohuVKgOe+xS7fBntl3O8uxHvn2\n\
Ge3Xb7lFWQKBgBM/o0yut4dAA/z20CTsOMutu2xqaSBNkaEOLE3I3r4wUa8DZpSD\n\
SvXmoGYDyWBE7YboB0SNpiDe8mM/A64IPW5Q5Q7/6ywCtUUvALrx4uwHQdZJTnPs\n\
pS/D4lKveqCz2vctB/CAo7GMsM6sBmbTa6AiHWl/qAKB+ORLLX/cfzCtAoGAPdRB\n\
clei5PRr1bGo0s9zcX3mp3lgEMiyYW5FxfkG20A7tD3cIz9Df53sF9UJNRTLNPPg\n\
I8JmVE7VSDQyvZaFkdpZmIBcgX2jdwCPu7NO8+x+T+MXE84jYoQcSoxhEVPbw+Eg\n\
0bMPG5exIvMru6yHxzcFPF5MrBWlfoiyUnUl33ECgYEAgJLfxmPTV03FyLSYwekj\n\
AoUJL6KhI1cXCT6wyTYqbaRD2AWlW9kr5mI8OLOa3aT59nTApua2b7v0PmOqB8jB\n\
hHNwawOXROOcP1+4Z+9la626jjxXTQYWomyutjiXpe59yrxVd5Iw9Os6Ht9EVCbf\n\
Ujz1nkU0nj8DZyOnECsmQ1w=\n\
-----END PRIVATE KEY-----\n\
",
	"-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDulFcAS18wDO/P\n\
ZJ1MQZpRNy6EBxT66yoJZMOWSfcOPNjThHwjcDeYTCcuhFUqHmYfPXlTI4o1gtru\n\
5LMNi2a51jnOJcwlcAydcaIjFGDZ3jNi4ZDsuoRzlhCM1mIYD1tZLZGq68PDNA+B\n\
cQ5kp/AFEqaVzTuh88CR6/TXRe/StaWTKnkvQvKYMWDnCjuIDMnZ3AbJouVo/WsG\n\
6RZMCWvn/XDZYPS/qtiVy1rTE4uehrRk2bLmlIBSF79EKKBuLOgLP9kjxiO4Qtyh\n\
MZKrR+bn0OIwGNiOmdS8SMobi6LJqEENhjNIN5Jo9BR66YfKHBrVPHm8JW2Nm0rf\n\
Wqdv2w2jAgMBAAECggEAD7mn+7VRbS8Hxh62niZwz8uYUvbN3jVj4ZdKVlHtE9DU\n\
5dQvWSf2B3bK2lkPQqXFoLzXjgWjVXWY4p12Y9J9ZIsHPQbmwXefjT0b174UctJ0\n\
2/P22R5OHqQ/K66ca+453NM7wmKkgO2h3AFMq+ZvKUEac83sO/d/XjQ0QNWI7NVl\n\
osqpWze6wUqeLMC7yms9MKH9i92PK5liAvwBDjCtBF69bbxUa1Yvh9t/S28Qrh1d\n\
7I9a2ZhEMSHUZX8PtECWrpRF23Nt8VHIkGMVS8PqchWrrFH5G3+zzHJgMFyGgI6+\n\
fZ4nler6Lne4FZxFCdzJYBfhscsy4mYrkok5JMBSCQKBgQD7Ph9F7bcIQdl0t4Kd\n\
HiOgs4qxSj/QmEKEnuVgb+FEBxmjzwiOFIAzhjWbowXzBPLwpbsEWh1/l23exydf\n\
g7rnQlYpOwshOW+vk+68EH3FeUIkgu+KLw5k0oS10KtFrCzhJ+/dRyUb4rmuQDTr\n\
bdrmXwc9RQurt2fppt93g0B5TwKBgQDzGNV1ewwQrgMWotfFQxJLE3D9cKnhNPjB\n\
SQ7ekA7qtymqSJs90OvaTAhLeCLYZYpwK0ygYzrm9xyFZnUfS2xRUH3NFVHF+273\n\
vmbep1xXev8AP/+jWW6Y+WGp49VjZGf5A1vUm3DYOVlckc1nY/MZ0eTEu2YMflQ2\n\
r8WK9HppbQKBgQCsdlFLVElvDpyyBQJQzg6Q0o4i8x/pFYubs+MqlsIgS2trScPK\n\
nAIA3GDSLE76KeyGCo3dB+r12cHeygCaDTfwZVX1yYTzUpT7BmY7jGp5cqpXm9XI\n\
mlKcHPJiSBI5ql3IVPzPfXXYtYLWPVbWQTuhJZw3j7zaK/TVq+n8BQnt+wKBgEI3\n\
9Y124yZ4ACdeXGBDkOwac6DV27CY+VnNSNufajDNi+/yrzb7fgOMyoWkR/miTz+W\n\
y9y0qwrXLVG5QxYvOWY9AsemkwvXHbcmimcEN8csneG3jS814UaSR+Q7R5k3dIsE\n\
OzOC1A5SMOFiZg1P0Jyr7CEa2wV0NARhhPIA/odRAoGAX09Gxl1mU+IhHTYA2qv9\n\
GkTJc6zJU2hV6cmD5xgQ/WIZ/XlxBYKtcfQZ5CMJmsueVQm1zDGV08s7ExwCjvqZ\n\
DNIw45RkzOk+hvzbq1kbggu2nl0JjUoQiWiOM7r+ux2sfalPP9XuUPk7QJPD2DD8\n\
sSrH0Z+le6aKPAzNxMwo40U=\n\
-----END PRIVATE KEY-----\n\
",
];

/// The moduli of [`TEST_SEALING_KEYS`] (hex), for `no_std` callers such as benchmarks.
pub const TEST_SEALING_MODULI: [&str; 3] = [
	"d6f24705e88cf8256b4c38ba7a89c93626400537601f27579dfa12dbedec62f0606256b62ba10fe765f08a3e87a1191dbc9f03be6197c3e129b62242423def38\
	 ca67faf8a693dcbfd547deda959d1395eb36cddca83715d0efda56ddf9de62847f85ed3372b3625d12de39949f098502241f2062d4cd933bf11e2e8a505ee12d\
	 a78eee23ac995b4d2fc7c261d28c86c37ba2db1a9054647b2d3663b1efcdfee8b6337203148892dc25ec1a2e6be2fa17d78a865acea95b3cf735813503dd09eb\
	 a82648838a89625d8742ed0ceb4b772b32f05412d7b184b627d147ea6717898307f0639b75414c1be35a2341c636fc33569977d778418f60ef82377c66269853",
	"9de649ca47b2e16469c8fefd7687cd57eab030677032557e1db5ca8e842c800842689eb404deef54599691a097b9d32fad0b1094de9278493f1b549d16e8ed43\
	 ae76be253639f22cb7b044f59ca632c569964086b1a1a8d5f2715599a2c9d9b7a62355fc000dbc86fd4bf362822a226fbf77be2618c77a366844fd4badd8a763\
	 281ce8aa0691dd5e38d13a382a55d9d2c66fc9e5f448111708dd134c3586295d0a62b9d6ca76cabf4473d5e211904c0dd34798f0137f3ac14279bf529801890b\
	 097e647f242a43af96d2aadc796117911f555b3a87107ee41c5a7ace0a479b9c2f5ce66d55bbb022b030a6399bef7734d5d44e2e46e8313197112c9c9fd2fb4d",
	"ee9457004b5f300cefcf649d4c419a51372e840714faeb2a0964c39649f70e3cd8d3847c237037984c272e84552a1e661f3d7953238a3582daeee4b30d8b66b9\
	 d639ce25cc25700c9d71a2231460d9de3362e190ecba847396108cd662180f5b592d91aaebc3c3340f81710e64a7f00512a695cd3ba1f3c091ebf4d745efd2b5\
	 a5932a792f42f2983160e70a3b880cc9d9dc06c9a2e568fd6b06e9164c096be7fd70d960f4bfaad895cb5ad3138b9e86b464d9b2e694805217bf4428a06e2ce8\
	 0b3fd923c623b842dca13192ab47e6e7d0e23018d88e99d4bc48ca1b8ba2c9a8410d863348379268f4147ae987ca1c1ad53c79bc256d8d9b4adf5aa76fdb0da3",
];

/// Test sealing key `i` (of three), as registered on chain.
pub fn test_sealing_key(i: usize) -> crate::sealing::SealingKey {
	let hex = TEST_SEALING_MODULI[i % TEST_SEALING_MODULI.len()].as_bytes();
	let mut key = [0u8; crate::sealing::MODULUS_BYTES];
	for (k, pair) in key.iter_mut().zip(hex.chunks(2)) {
		let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
		*k = digit(pair[0]) << 4 | digit(pair[1]);
	}
	crate::sealing::SealingKey(key)
}
