//! `include/satcolor.h` is what cbindgen generates from the code: a change to the C API
//! that is not regenerated into the checked-in header fails here
//! (`scripts/capi-header.sh` regenerates it).

#[test]
fn the_checked_in_header_matches_the_code() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).unwrap();
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen parses capi/src")
        .write(&mut generated);
    let path = format!("{dir}/include/satcolor.h");
    if std::env::var_os("SATCOLOR_BLESS_HEADER").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "capi/include/satcolor.h differs from what capi/src generates: run scripts/capi-header.sh"
    );
}
