//! The CUDA kernels on a real GPU (`GpuDevice<CudaExec>`): the full parity suite against
//! the f64 reference, and bit-identical results when run twice (the PyTorch goldens run
//! on the GPU in tests/golden.rs).
//! The tests need a GPU: they are ignored (counted as not run) unless run with `--ignored`,
//! as scripts/test.sh does where nvidia-smi lists a GPU, and fail where none works.
#![cfg(feature = "cuda")]

use satcolor::device::cuda::CudaExec;
use satcolor::device::gpu::GpuDevice;
use satcolor::selftest::{self, Suite};

/// GPU 0 (a test failure where it does not work).
fn gpu() -> GpuDevice<CudaExec> {
    GpuDevice::new(CudaExec::new(0).expect("a CUDA GPU (the test is run with --ignored)"))
}

#[test]
#[ignore = "needs a CUDA GPU: scripts/test.sh runs it where nvidia-smi lists one"]
fn cuda_matches_the_reference_on_every_case_and_repeats_bit_for_bit() {
    let dev = gpu();
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
