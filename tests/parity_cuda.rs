//! The CUDA kernels on a real GPU (`GpuDevice<CudaExec>`): the full parity suite against
//! the f64 reference, and bit-identical results when run twice (the PyTorch goldens run
//! on the GPU in tests/golden.rs).
//! Where no GPU works (no driver, no device), each test prints why it was skipped.
#![cfg(feature = "cuda")]

use satcolor::device::cuda::CudaExec;
use satcolor::device::gpu::GpuDevice;
use satcolor::selftest::{self, Suite};

/// GPU 0, or the reason it cannot be used (printed by the caller as the skip reason).
fn gpu(test: &str) -> Option<GpuDevice<CudaExec>> {
    match CudaExec::new(0) {
        Ok(exec) => Some(GpuDevice::new(exec)),
        Err(e) => {
            println!("{test} skipped: {e}");
            None
        }
    }
}

#[test]
fn cuda_matches_the_reference_on_every_case_and_repeats_bit_for_bit() {
    let Some(dev) = gpu("cuda parity") else {
        return;
    };
    let first = selftest::run_suite(&dev, Suite::Full);
    let results = selftest::results(&first);
    println!("{}", selftest::format_table(&results));
    let failed: Vec<_> = results.iter().filter(|r| !r.pass).collect();
    assert!(failed.is_empty(), "failing checks on the GPU: {failed:#?}");
    let second = selftest::run_suite(&dev, Suite::Full);
    for (a, b) in first.iter().zip(&second) {
        for (oa, ob) in a.outputs.iter().zip(&b.outputs) {
            let same = oa
                .device
                .iter()
                .map(|x| x.to_bits())
                .eq(ob.device.iter().map(|x| x.to_bits()));
            assert!(
                same,
                "{} {} output {}: two runs differ",
                a.op, a.shape, oa.name
            );
        }
    }
}
