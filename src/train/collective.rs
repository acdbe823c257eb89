//! Data-parallel training: the ranks of a run (`mpirun -np N satcolor train …`) each compute
//! gradients on their share of the global batch, and a [`Collective`] averages them before
//! every optimizer step, so that every rank keeps the same weights.
//!
//! - [`Single`]: one process, nothing to average;
//! - [`Mpi`] (feature `mpi`): MPI's all-reduce over the ranks of `MPI_COMM_WORLD`, for cpu
//!   and emu ranks.
//!
//! A step's gradients go through one reduction per network, over the network's whole flat
//! gradient (one buffer on the devices that keep a span, else the tensors one after the
//! other), summed on rank 0 and broadcast, so the ranks' weights stay bit-identical.

use crate::Result;

/// The processes of one data-parallel run and the collective operations they share.
pub trait Collective {
    /// This process's rank, from 0.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// The rank of this process among those on its machine, from 0 (which GPU it takes).
    fn local_rank(&self) -> usize;
    /// Number of ranks on this machine (how the cores are shared).
    fn local_size(&self) -> usize;
    /// Replaces `values`, on every rank, by their mean over the ranks. Every rank calls it
    /// with the same length.
    fn mean(&self, values: &mut [f32]) -> Result<()>;
    /// Whether `flag` is set on any rank (a stop request, a failure seen by one rank).
    fn any(&self, flag: bool) -> Result<bool>;
    /// Ends every rank's process with `code` after a failure of this one, so that no rank
    /// waits forever in a collective the failed one will never join.
    fn abort(&self, code: i32) -> !;
}

/// One process: rank 0 of 1.
#[derive(Clone, Copy, Debug, Default)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn local_rank(&self) -> usize {
        0
    }
    fn local_size(&self) -> usize {
        1
    }
    fn mean(&self, _: &mut [f32]) -> Result<()> {
        Ok(())
    }
    fn any(&self, flag: bool) -> Result<bool> {
        Ok(flag)
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// Whether this process was started by an MPI launcher (`mpirun`, `srun`): the variables
/// Open MPI, PMIx and PMI set for every rank.
pub fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

#[cfg(feature = "mpi")]
pub use self::mpi_impl::Mpi;

#[cfg(feature = "mpi")]
mod mpi_impl {
    use super::Collective;
    use crate::{Error, Result};
    use mpi::collective::SystemOperation;
    use mpi::topology::{Communicator, SimpleCommunicator};
    use mpi::traits::*;

    /// `MPI_COMM_WORLD` of an initialized MPI, and the ranks on this machine.
    pub struct Mpi {
        // Dropping the universe finalizes MPI: it goes last.
        world: SimpleCommunicator,
        local: (usize, usize),
        _universe: mpi::environment::Universe,
    }

    impl Mpi {
        /// Initializes MPI (once per process). Errors when it was initialized before.
        pub fn init() -> Result<Self> {
            let universe = mpi::initialize()
                .ok_or_else(|| Error::Device("MPI was initialized already".into()))?;
            let world = universe.world();
            let node = world.split_shared(world.rank());
            let local = (node.rank() as usize, node.size() as usize);
            Ok(Self {
                world,
                local,
                _universe: universe,
            })
        }
    }

    impl Collective for Mpi {
        fn rank(&self) -> usize {
            self.world.rank() as usize
        }
        fn size(&self) -> usize {
            self.world.size() as usize
        }
        fn local_rank(&self) -> usize {
            self.local.0
        }
        fn local_size(&self) -> usize {
            self.local.1
        }
        fn mean(&self, values: &mut [f32]) -> Result<()> {
            // Summed on rank 0 and broadcast, rather than one all-reduce whose summation
            // order may differ between ranks: every rank gets the same bits.
            let root = self.world.process_at_rank(0);
            if self.rank() == 0 {
                let mut sum = vec![0f32; values.len()];
                root.reduce_into_root(&values[..], &mut sum[..], SystemOperation::sum());
                let scale = 1.0 / self.size() as f32;
                for (v, s) in values.iter_mut().zip(&sum) {
                    *v = s * scale;
                }
            } else {
                root.reduce_into(&values[..], SystemOperation::sum());
            }
            root.broadcast_into(&mut values[..]);
            Ok(())
        }
        fn any(&self, flag: bool) -> Result<bool> {
            let mut out = 0i32;
            self.world
                .all_reduce_into(&i32::from(flag), &mut out, SystemOperation::max());
            Ok(out != 0)
        }
        fn abort(&self, code: i32) -> ! {
            self.world.abort(code)
        }
    }
}

/// The collective of this process: [`Mpi`] when an MPI launcher started it (and the build
/// has the `mpi` feature), else [`Single`]. Errors for a launched rank of a build without
/// MPI, which would otherwise train alone, N times over.
pub fn from_environment() -> Result<Box<dyn Collective>> {
    if !launched_by_mpi() {
        return Ok(Box::new(Single));
    }
    #[cfg(feature = "mpi")]
    {
        Ok(Box::new(Mpi::init()?))
    }
    #[cfg(not(feature = "mpi"))]
    Err(crate::Error::Input(
        "started by an MPI launcher, but this build has no MPI (built without the `mpi` \
         feature): each rank would train alone"
            .into(),
    ))
}
