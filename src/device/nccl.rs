//! NCCL on cuda ranks: a data-parallel run's gradients averaged in GPU memory, one
//! all-reduce (`ncclAvg`) per network and step on the executor's stream, instead of a copy
//! to the host, MPI and a copy back.
//!
//! libnccl is loaded at run time by cudarc (feature `nccl`, `dynamic-loading`), as libcuda
//! is: a build needs no NCCL, and a rank without it (or with an NCCL older than 2.10, which
//! has no `ncclAvg`) makes every rank fall back to the host ([`Comm::available`] is what
//! the ranks agree on in [`crate::device::Device::connect_ranks`]). cudarc looks for
//! `libnccl.so` (as libnccl-dev or the `nvidia-nccl-cu13` wheel provide it, on
//! `LD_LIBRARY_PATH`), not `libnccl.so.2` alone.

use crate::dist::Collective;
use crate::{Error, Result};
use cudarc::nccl::{result, sys};
use std::ffi::{c_int, c_void, CStr};

/// An NCCL communicator: this process's rank of a clique of GPUs.
pub struct Comm {
    raw: sys::ncclComm_t,
}

// SAFETY: an NCCL communicator is a handle that may be used from any thread, one call at a
// time; the executor that owns it serializes its use behind a mutex.
unsafe impl Send for Comm {}

/// The first NCCL release with `ncclAvg`, as `ncclGetVersion` encodes it.
const MIN_VERSION: c_int = 21000;

impl Comm {
    /// Whether libnccl can be loaded and has `ncclAvg` (never panics).
    pub fn available() -> bool {
        // SAFETY: only tries to open the library.
        if !unsafe { sys::is_culib_present() } {
            return false;
        }
        matches!(result::get_nccl_version(), Ok(v) if v >= MIN_VERSION)
    }

    /// This process's rank of a communicator over every rank of `ranks`, whose unique id
    /// rank 0 creates and broadcasts. A collective call: every rank makes it, with the GPU
    /// of its executor current.
    pub fn join(ranks: &dyn Collective) -> Result<Self> {
        let mut id = [0u8; 128];
        if ranks.rank() == 0 {
            let unique = result::get_uniqueid().map_err(|e| nccl_err("ncclGetUniqueId", e))?;
            for (b, c) in id.iter_mut().zip(unique.internal) {
                *b = c as u8;
            }
        }
        ranks.broadcast(&mut id)?;
        let unique = sys::ncclUniqueId {
            internal: id.map(|b| b as std::ffi::c_char),
        };
        let mut raw = std::ptr::null_mut();
        let _watch = ranks.watch("ncclCommInitRank");
        // SAFETY: `raw` receives the communicator; the id is the one every rank holds.
        unsafe {
            result::comm_init_rank(
                &mut raw,
                ranks.size() as c_int,
                unique,
                ranks.rank() as c_int,
            )
        }
        .map_err(|e| nccl_err("ncclCommInitRank", e))?;
        Ok(Comm { raw })
    }

    /// One communicator per GPU of `ordinals`, all in this process (`ncclCommInitAll`):
    /// the self-test's clique.
    pub fn all_in_process(ordinals: &[usize]) -> Result<Vec<Self>> {
        let list: Vec<c_int> = ordinals.iter().map(|&o| o as c_int).collect();
        let mut raw = vec![std::ptr::null_mut(); list.len()];
        // SAFETY: `raw` has one slot per device of `list`.
        unsafe { result::comm_init_all(raw.as_mut_ptr(), list.len() as c_int, list.as_ptr()) }
            .map_err(|e| nccl_err("ncclCommInitAll", e))?;
        Ok(raw.into_iter().map(|raw| Comm { raw }).collect())
    }

    /// Enqueues, on `stream`, the replacement of the `len` f32 at device address `ptr` by
    /// their mean over the communicator's ranks.
    ///
    /// # Safety
    /// `ptr` must address `len` f32 of device memory of this communicator's GPU that stay
    /// allocated until the stream has run the all-reduce, and `stream` must be a stream of
    /// that GPU.
    pub unsafe fn mean_in_place(
        &self,
        ptr: u64,
        len: usize,
        stream: cudarc::driver::sys::CUstream,
    ) -> Result<()> {
        let p = ptr as *mut c_void;
        result::all_reduce(
            p,
            p,
            len,
            sys::ncclDataType_t::ncclFloat32,
            sys::ncclRedOp_t::ncclAvg,
            self.raw,
            stream as sys::cudaStream_t,
        )
        .map_err(|e| nccl_err("ncclAllReduce", e))?;
        Ok(())
    }
}

impl Drop for Comm {
    fn drop(&mut self) {
        // SAFETY: the communicator is valid and used by nothing else; its last operations
        // were waited for by the stream synchronization that followed each one.
        let _ = unsafe { result::comm_destroy(self.raw) };
    }
}

/// Runs the calls of `body` (one per communicator of one process) as one NCCL group, as
/// several GPUs driven by one thread need.
pub fn group<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    result::group_start().map_err(|e| nccl_err("ncclGroupStart", e))?;
    let out = body();
    let end = result::group_end().map_err(|e| nccl_err("ncclGroupEnd", e));
    let out = out?;
    end?;
    Ok(out)
}

/// An NCCL failure as a device error, with NCCL's description of the code.
fn nccl_err(call: &str, e: result::NcclError) -> Error {
    // SAFETY: ncclGetErrorString returns a static NUL-terminated string for any code.
    let text = unsafe { CStr::from_ptr(sys::ncclGetErrorString(e.0)) };
    Error::Device(format!("NCCL: {call} failed: {}", text.to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_never_panics_and_is_false_without_the_library() {
        // The names cudarc tries, opened here with dlopen.
        let present = cudarc::get_lib_name_candidates("nccl").iter().any(|name| {
            let name = std::ffi::CString::new(name.as_str()).unwrap();
            // SAFETY: dlopen with a valid C string; the handle is closed at once.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_LAZY) };
            if !handle.is_null() {
                // SAFETY: a handle dlopen returned.
                unsafe { libc::dlclose(handle) };
            }
            !handle.is_null()
        });
        let available = Comm::available();
        if !present {
            assert!(!available);
        }
    }
}
