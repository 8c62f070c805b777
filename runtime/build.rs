fn main() {
	// `SKIP_WASM_BUILD=1` lets `cargo check` and native tests skip the wasm runtime.
	#[cfg(feature = "std")]
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}
