//! Data-parallel runs: the processes of `mpirun -np N satcolor train …` (its *ranks*) each
//! compute gradients on their share of the global batch, and a [`Collective`] averages them
//! before every optimizer step, so that every rank keeps the same weights.
//!
//! - [`Single`]: one process, nothing to average;
//! - [`Mpi`] (feature `mpi`): MPI over the ranks of `MPI_COMM_WORLD`, for every device;
//! - on cuda ranks, NCCL averages the gradients in GPU memory instead, over a communicator
//!   whose unique id rank 0 broadcasts through the [`Collective`]
//!   ([`crate::device::Device::connect_ranks`], `src/device/nccl.rs`); when any rank's GPU
//!   or NCCL library cannot, every rank averages through the host with MPI.
//!
//! A step's gradients go through one reduction per network, over the network's whole flat
//! gradient (one buffer on the devices that keep a span, else the tensors one after the
//! other). Every rank gets the same bits: MPI's sum is taken on rank 0 and broadcast, and
//! NCCL's all-reduce returns one result to all.
//!
//! Each collective operation runs under a [`watchdog::Watchdog`]: a rank that waits longer
//! than the run's timeout for the others (one of them hangs) ends, and the launcher ends the
//! rest.

#[cfg(feature = "mpi")]
mod mpi;
pub mod watchdog;
#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;

use crate::Result;
use std::time::Duration;
use watchdog::Watch;

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
    /// Replaces `bytes`, on every rank, by rank 0's. Every rank calls it with the same
    /// length.
    fn broadcast(&self, bytes: &mut [u8]) -> Result<()>;
    /// Watches a collective operation that is not one of these (an NCCL all-reduce and the
    /// wait for it) until the guard is dropped: past the run's timeout this process ends.
    fn watch(&self, what: &'static str) -> Watch<'_>;
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
    fn broadcast(&self, _: &mut [u8]) -> Result<()> {
        Ok(())
    }
    fn watch(&self, _: &'static str) -> Watch<'_> {
        Watch::none()
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// How long one collective operation may wait for the other ranks by default: long enough
/// for rank 0 to write a checkpoint, draw pictures and score held-out data while the others
/// wait for its next step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether this process was started by an MPI launcher (`mpirun`, `srun`): the variables
/// Open MPI, PMIx and PMI set for every rank.
pub fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// The collective of this process: [`Mpi`] when an MPI launcher started it (and the build
/// has the `mpi` feature), each collective limited to `timeout` (`None`: no limit), else
/// [`Single`]. Errors for a launched rank of a build without MPI, which would otherwise
/// train alone, N times over.
pub fn from_environment(timeout: Option<Duration>) -> Result<Box<dyn Collective>> {
    if !launched_by_mpi() {
        return Ok(Box::new(Single));
    }
    #[cfg(feature = "mpi")]
    {
        Ok(Box::new(Mpi::init(timeout)?))
    }
    #[cfg(not(feature = "mpi"))]
    {
        let _ = timeout;
        Err(crate::Error::Input(
            "started by an MPI launcher, but this build has no MPI (built without the `mpi` \
             feature): each rank would train alone"
                .into(),
        ))
    }
}
