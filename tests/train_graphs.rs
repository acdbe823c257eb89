//! Launch graphs (`--cuda-graphs`): on the emulator, whose graphs replay frozen launches as
//! a CUDA Graph replays its kernel nodes, a replayed training iteration computes what
//! op-by-op launches compute, bit for bit, while λ_G(t) and Adam's bias corrections change
//! at every step; a recorded launch keeps the arguments it was recorded with; recording
//! holds launches only; the cpu device and gradient clipping refuse graphs.

use satcolor::device::cpu::CpuDevice;
use satcolor::model::{LossConfig, ModelConfig};
use satcolor::train::graphs::graph_models;
use satcolor::train::{OptimizerConfig, Trainer};

fn small_trainer<D: satcolor::device::Device>(dev: &D) -> Trainer<D> {
    let cfg: ModelConfig = graph_models().remove(0).1;
    let opt = OptimizerConfig::adam(1e-3);
    Trainer::new(dev, &cfg, 2, 1, LossConfig::default(), opt, opt).unwrap()
}

#[test]
fn the_cpu_device_and_gradient_clipping_refuse_graphs() {
    let dev = CpuDevice::new();
    let mut t = small_trainer(&dev);
    let err = t.set_graphs(&dev, true).unwrap_err().to_string();
    assert!(err.contains("need a GPU device"), "{err}");
    t.set_max_grad_norm(&dev, Some(1.0)).unwrap();
    #[cfg(feature = "emu")]
    {
        let dev = emu::device();
        let mut t = small_trainer(&dev);
        t.set_max_grad_norm(&dev, Some(1.0)).unwrap();
        let err = t.set_graphs(&dev, true).unwrap_err().to_string();
        assert!(err.contains("--max-grad-norm"), "{err}");
        t.set_max_grad_norm(&dev, None).unwrap();
        t.set_graphs(&dev, true).unwrap();
        let err = t
            .set_max_grad_norm(&dev, Some(1.0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--cuda-graphs"), "{err}");
    }
}

#[cfg(feature = "emu")]
mod emu {
    use satcolor::device::emu::{EmuExec, EmuOptions, Order};
    use satcolor::device::gpu::GpuDevice;
    use satcolor::device::Device;
    use satcolor::train::graphs::{compare_graph_replay, graph_models};

    pub fn device() -> GpuDevice<EmuExec> {
        GpuDevice::new(EmuExec::new(EmuOptions::default()).unwrap())
    }

    #[test]
    fn replayed_iterations_equal_op_by_op_ones_bit_for_bit() {
        for order in [Order::Forward, Order::Shuffle(3)] {
            let dev = GpuDevice::new(
                EmuExec::new(EmuOptions {
                    thread_order: order,
                    block_order: order,
                    ..EmuOptions::default()
                })
                .unwrap(),
            );
            for (name, cfg) in graph_models() {
                let c = compare_graph_replay(&dev, name, &cfg, 5).unwrap();
                assert_eq!(c.replayed, 4, "{c:?}");
                assert!(c.identical && c.max_diff == 0.0, "{c:?}");
            }
        }
    }

    /// A recorded launch runs only when replayed, and with the arguments it was recorded
    /// with: `scale(x, 2)` recorded once and replayed twice multiplies by 4. Host copies
    /// and allocations during the recording are errors.
    #[test]
    fn a_graph_replays_its_launches_with_their_recorded_arguments() {
        let dev = device();
        let mut x = dev.upload(&[1.0, -3.0, 0.5]).unwrap();
        dev.begin_graph().unwrap();
        dev.scale(&mut x, 2.0).unwrap();
        let err = dev.download(&x).unwrap_err().to_string();
        assert!(err.contains("being recorded"), "{err}");
        let err = dev.alloc_zeros(4).err().expect("no allocation").to_string();
        assert!(err.contains("being recorded"), "{err}");
        let graph = dev.end_graph().unwrap();
        assert_eq!(graph.len(), 1);
        assert_eq!(
            dev.download(&x).unwrap(),
            [1.0, -3.0, 0.5],
            "recorded, not run"
        );
        dev.replay(&graph).unwrap();
        dev.replay(&graph).unwrap();
        assert_eq!(dev.download(&x).unwrap(), [4.0, -12.0, 2.0]);
        // A second recording may not start inside a first.
        dev.begin_graph().unwrap();
        assert!(dev.begin_graph().is_err());
        dev.end_graph().unwrap();
    }
}
