//! [`Mpi`]: the ranks of `MPI_COMM_WORLD` (feature `mpi`; Open MPI through the `mpi` crate).

use super::watchdog::{Watch, Watchdog};
use super::Collective;
use crate::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use std::time::Duration;

/// `MPI_COMM_WORLD` of an initialized MPI, the ranks on this machine, and the watchdog of
/// its collectives.
pub struct Mpi {
    world: SimpleCommunicator,
    local: (usize, usize),
    watchdog: Option<Watchdog>,
    // Dropping the universe finalizes MPI: it goes last.
    _universe: mpi::environment::Universe,
}

impl Mpi {
    /// Initializes MPI (once per process), each later collective limited to `timeout`
    /// (`None`: no limit). Errors when it was initialized before.
    pub fn init(timeout: Option<Duration>) -> Result<Self> {
        let universe =
            mpi::initialize().ok_or_else(|| Error::Device("MPI was initialized already".into()))?;
        let world = universe.world();
        let node = world.split_shared(world.rank());
        let local = (node.rank() as usize, node.size() as usize);
        let watchdog = match timeout {
            Some(t) => Some(
                Watchdog::new(world.rank() as usize, t)
                    .map_err(|e| Error::Device(format!("starting the watchdog thread: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            world,
            local,
            watchdog,
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
        let _watch = self.watch("MPI reduce and broadcast of the gradients");
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
        let _watch = self.watch("MPI all-reduce of a flag");
        let mut out = 0i32;
        self.world
            .all_reduce_into(&i32::from(flag), &mut out, SystemOperation::max());
        Ok(out != 0)
    }
    fn broadcast(&self, bytes: &mut [u8]) -> Result<()> {
        let _watch = self.watch("MPI broadcast");
        self.world.process_at_rank(0).broadcast_into(bytes);
        Ok(())
    }
    fn watch(&self, what: &'static str) -> Watch<'_> {
        match &self.watchdog {
            Some(dog) => dog.watch(what),
            None => Watch::none(),
        }
    }
    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
