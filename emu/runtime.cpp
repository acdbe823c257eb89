// satcolor's CUDA emulator runtime: runs a kernel launch on the calling OS thread, one block
// after another, each CUDA thread of a block as a fiber with its own stack.
//
// Scheduling: a block's threads run in passes. In a pass every runnable thread, in the
// launch's thread order (forward, reverse, or a fresh seeded shuffle per pass), runs until
// it reaches a barrier or exits. A warp intrinsic completes as soon as every non-exited
// lane of its mask waits at it; `__syncthreads` completes when every thread of the block
// waits at the same one. Anything else (a thread that exits while others wait at a barrier,
// threads waiting at different barriers, a warp rendezvous that cannot complete) is
// reported as an error, never a hang.
//
// Fibers: each of the 1024 fiber slots owns a stack (mmap'd, with a PROT_NONE guard page
// below it). A slot is bootstrapped once with makecontext/swapcontext and then parks in a
// loop; switching uses _setjmp/_longjmp only. Switches are annotated for AddressSanitizer.
//
// Memory: buffers come from satcolor_emu_alloc. In the normal build each buffer ends at a
// PROT_NONE guard page (reads/writes just past the end fault; the fault is turned into an
// error of the launch). In the AddressSanitizer build buffers and dynamic shared memory are
// exact-size heap blocks, so ASan reports overflows of both, and `__shared__` statics are
// instrumented globals.

#include "cuda_emu.h"

#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cstdarg>
#include <cstdlib>
#include <mutex>
#include <pthread.h>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <vector>

#ifndef SATCOLOR_EMU_COUNTERS
#define SATCOLOR_EMU_COUNTERS 0
#endif
#if SATCOLOR_EMU_COUNTERS
#include <map>
#include <unordered_map>
#include <unordered_set>
#endif

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define SATCOLOR_EMU_ASAN 1
#else
#define SATCOLOR_EMU_ASAN 0
#endif

// The CUDA built-ins the kernels read, in a section of their own, so that the counters
// can tell them from the kernels' `__shared__` statics (see space_of).
#define SATCOLOR_EMU_STATE __attribute__((section("satcolor_emu_state")))
namespace satcolor_emu {
SATCOLOR_EMU_STATE uint3 thread_idx;
SATCOLOR_EMU_STATE uint3 block_idx;
SATCOLOR_EMU_STATE dim3 block_dim;
SATCOLOR_EMU_STATE dim3 grid_dim;
SATCOLOR_EMU_STATE unsigned char* dynamic_shared;
}  // namespace satcolor_emu

extern "C" {
/// A kernel trampoline: unpacks the argument array and calls the kernel for the current
/// CUDA thread.
typedef void (*satcolor_emu_body)(void** args);

/// One launch as the Rust side describes it.
struct SatcolorEmuLaunch {
    unsigned grid[3];
    unsigned block[3];
    unsigned dynamic_shared;
    /// Static shared bytes of the kernel (ptxas's figure), 0 when unknown.
    unsigned static_shared;
    /// The opted-in maximum of dynamic shared bytes, 0 when the kernel is not opted in.
    unsigned max_dynamic_shared;
    /// 0 forward, 1 reverse, 2 seeded shuffle.
    int thread_order;
    int block_order;
    unsigned long long thread_seed;
    unsigned long long block_seed;
    /// Blocks to run, evenly spaced over the grid (0: all). Only the counters build
    /// samples; its results are then garbage and only the counters mean something.
    unsigned sample_blocks;
};

/// What the counters build measured in one launch (all zero in the other builds). A
/// request is one warp's k-th execution of one memory instruction between two barriers.
struct SatcolorEmuCounters {
    unsigned long long blocks_run, blocks_total;
    unsigned long long global_load_requests, global_load_sectors;
    unsigned long long global_store_requests, global_store_sectors;
    unsigned long long shared_load_requests, shared_load_wavefronts;
    unsigned long long shared_store_requests, shared_store_wavefronts;
    /// Active lanes summed over every request (the active-lane ratio is lanes / 32 / requests).
    unsigned long long request_lanes;
    /// Block-wide barriers completed, and warp intrinsics (shuffles, votes, __syncwarp)
    /// completed, counted once per warp.
    unsigned long long barriers, warp_ops;
    /// Threads run, and those of them that stored to global memory (threads with no output
    /// are idle lanes of the launch's mapping).
    unsigned long long threads, storing_threads;
};

/// The counts of one memory instruction (its address in the kernel code) in one launch.
struct SatcolorEmuSite {
    unsigned long long site;
    /// 0 global, 1 shared.
    unsigned space;
    /// 0 load, 1 store.
    unsigned write;
    unsigned long long requests;
    /// Sectors (global) or wavefronts (shared).
    unsigned long long units;
    unsigned long long lanes;
};
}

namespace {

using namespace satcolor_emu;

constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kSharedDefault = 48u * 1024u;
constexpr unsigned kSharedOptinMax = 227u * 1024u;
#if SATCOLOR_EMU_ASAN
constexpr size_t kStackBytes = 512u * 1024u;
#else
constexpr size_t kStackBytes = 128u * 1024u;
#endif
/// Value a lane reads from a lane that does not take part in the shuffle (undefined on a
/// GPU): a NaN as float (low 32 bits) and as double.
constexpr uint64_t kPoison = 0x7FF8BADB7FBADBADull;

enum class State : uint8_t { Ready, Barrier, Warp, Done, Fault };

struct Fiber {
    jmp_buf ctx;
    State state;
    uint3 tid;
    // Where the thread waits (a barrier) or faulted.
    const char* file;
    int line;
    // Block barrier.
    int bar_kind;
    int bar_pred;
    int bar_result;
    // Warp intrinsic.
    int op;
    unsigned mask;
    int param;
    int width;
    uint64_t value;
    uint64_t result;
    // Stack slot.
    char* stack;
    bool booted;
    void* fake_stack;
};

Fiber g_fibers[kMaxThreads];
jmp_buf g_sched_ctx;
void* g_sched_fake;
const void* g_sched_bottom;
size_t g_sched_size;
Fiber* g_cur;
satcolor_emu_body g_body;
void** g_args;
unsigned g_threads;
std::string g_error;
std::mutex g_launch_mutex;
/// The OS thread running a launch and whether it is inside a fiber (for the fault handler).
pthread_t g_sched_thread;
volatile sig_atomic_t g_in_fiber;
/// What the fiber that faulted (or trapped) did.
std::string g_fault;

// ---- errors -----------------------------------------------------------------------------

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

std::string where(const Fiber& f) {
    const char* slash = f.file ? strrchr(f.file, '/') : nullptr;
    return fmt("%s:%d", slash ? slash + 1 : (f.file ? f.file : "?"), f.line);
}

std::string who(const Fiber& f) { return fmt("thread (%u,%u,%u)", f.tid.x, f.tid.y, f.tid.z); }

const char* barrier_name(int kind) {
    switch (kind) {
        case kSyncCount: return "__syncthreads_count";
        case kSyncAnd: return "__syncthreads_and";
        case kSyncOr: return "__syncthreads_or";
        default: return "__syncthreads";
    }
}

const char* warp_name(int op) {
    switch (op) {
        case kSyncWarp: return "__syncwarp";
        case kShflIdx: return "__shfl_sync";
        case kShflUp: return "__shfl_up_sync";
        case kShflDown: return "__shfl_down_sync";
        case kShflXor: return "__shfl_xor_sync";
        case kBallot: return "__ballot_sync";
        case kAny: return "__any_sync";
        case kMmaTf32: return "mma.sync.m16n8k8.tf32";
        default: return "__all_sync";
    }
}

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// ---- fiber switching ----------------------------------------------------------------------

inline void asan_start_switch(void** fake, const void* bottom, size_t size) {
#if SATCOLOR_EMU_ASAN
    __sanitizer_start_switch_fiber(fake, bottom, size);
#else
    (void)fake, (void)bottom, (void)size;
#endif
}

inline void asan_finish_switch_in_fiber(Fiber* f) {
#if SATCOLOR_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, &g_sched_bottom, &g_sched_size);
#else
    (void)f;
#endif
}

inline void asan_finish_switch_in_scheduler() {
#if SATCOLOR_EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, nullptr, nullptr);
#endif
}

[[noreturn]] void to_scheduler(Fiber* f) {
    g_in_fiber = 0;
    asan_start_switch(&f->fake_stack, g_sched_bottom, g_sched_size);
    _longjmp(g_sched_ctx, 1);
}

/// Suspends the current fiber until the scheduler resumes it.
void yield(Fiber* f) {
    if (_setjmp(f->ctx) == 0) to_scheduler(f);
    asan_finish_switch_in_fiber(f);
}

/// Body of every fiber slot: park, run one CUDA thread when resumed, park again.
void fiber_main(int slot) {
    Fiber* f = &g_fibers[slot];
    asan_finish_switch_in_fiber(f);
    for (;;) {
        if (_setjmp(f->ctx) == 0) to_scheduler(f);
        asan_finish_switch_in_fiber(f);
        g_body(g_args);
        f->state = State::Done;
    }
}

/// Maps the stack of a slot (once) and boots its fiber, which parks at once.
bool boot(unsigned slot) {
    Fiber* f = &g_fibers[slot];
    const size_t page = page_size();
    if (!f->stack) {
        void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) return false;
        mprotect(p, page, PROT_NONE);
        f->stack = static_cast<char*>(p) + page;
    }
#if SATCOLOR_EMU_ASAN
    // A fiber abandoned mid-kernel leaves poisoned frames behind.
    __asan_unpoison_memory_region(f->stack, kStackBytes);
#endif
    ucontext_t uc, from;
    getcontext(&uc);
    uc.uc_stack.ss_sp = f->stack;
    uc.uc_stack.ss_size = kStackBytes;
    uc.uc_link = nullptr;
    makecontext(&uc, reinterpret_cast<void (*)()>(fiber_main), 1, static_cast<int>(slot));
    f->fake_stack = nullptr;
    if (_setjmp(g_sched_ctx) == 0) {
        asan_start_switch(&g_sched_fake, f->stack, kStackBytes);
        swapcontext(&from, &uc);
    }
    asan_finish_switch_in_scheduler();
    f->booted = true;
    return true;
}

/// Runs fiber `i` until it yields, exits or faults.
void resume(unsigned i) {
    Fiber* f = &g_fibers[i];
    g_cur = f;
    thread_idx = f->tid;
    if (_setjmp(g_sched_ctx) == 0) {
        asan_start_switch(&g_sched_fake, f->stack, kStackBytes);
        g_in_fiber = 1;
        _longjmp(f->ctx, 1);
    }
    asan_finish_switch_in_scheduler();
}

// ---- memory and faults -------------------------------------------------------------------

#if !SATCOLOR_EMU_ASAN
size_t round_up(size_t n, size_t m) { return (n + m - 1) / m * m; }

/// Layout of a guarded allocation: data (16-byte aligned) ends within 16 bytes of a
/// PROT_NONE page.
struct Guarded {
    size_t span;
    size_t offset;
};
Guarded guarded_layout(size_t bytes) {
    // The counters build starts buffers at 256 bytes, as cudaMalloc does, so that sectors
    // are counted as on a GPU.
    const size_t data = round_up(bytes, SATCOLOR_EMU_COUNTERS ? 256 : 16);
    const size_t span = round_up(data, page_size()) + page_size();
    return {span, span - page_size() - data};
}

struct sigaction g_old_segv, g_old_bus;

bool in_guard_of_stack(const char* addr) {
    const size_t page = page_size();
    for (const Fiber& f : g_fibers)
        if (f.stack && addr >= f.stack - page && addr < f.stack) return true;
    return false;
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    if (g_in_fiber && pthread_equal(pthread_self(), g_sched_thread)) {
        Fiber* f = g_cur;
        const char* addr = static_cast<const char*>(info->si_addr);
        if (in_guard_of_stack(addr))
            g_fault = fmt("%s overflowed its %zu KiB stack", who(*f).c_str(), kStackBytes / 1024);
        else
            g_fault = fmt("%s: invalid memory access at %p (just past the end of a buffer or "
                          "of dynamic shared memory, or a bad pointer)",
                          who(*f).c_str(), info->si_addr);
        f->state = State::Fault;
        f->booted = false;
        g_in_fiber = 0;
        // SA_NODEFER keeps the signal unblocked, so jumping out of the handler is safe.
        _longjmp(g_sched_ctx, 1);
    }
    // Not ours: restore the previous handler and let the access fault again.
    const struct sigaction* old = sig == SIGSEGV ? &g_old_segv : &g_old_bus;
    sigaction(sig, old, nullptr);
    (void)uctx;
}

void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &g_old_segv);
        sigaction(SIGBUS, &sa, &g_old_bus);
    });
}
#endif

#if SATCOLOR_EMU_COUNTERS
/// The live buffers of satcolor_emu_alloc (start → end): the global memory the counters
/// count; kernel parameters, CUDA's special registers and stacks are not.
std::map<uintptr_t, uintptr_t> g_buffers;
std::mutex g_buffers_mutex;

void note_buffer(void* p, size_t bytes, bool live) {
    if (!p) return;
    std::lock_guard<std::mutex> lock(g_buffers_mutex);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    if (live) g_buffers[a] = a + bytes;
    else g_buffers.erase(a);
}

/// The buffers as the running launch sees them (none are made or freed during a launch),
/// sorted by start: looked up without a lock.
std::vector<std::pair<uintptr_t, uintptr_t>> g_launch_buffers;

void snapshot_buffers() {
    std::lock_guard<std::mutex> lock(g_buffers_mutex);
    g_launch_buffers.assign(g_buffers.begin(), g_buffers.end());
}

bool in_buffer(uintptr_t a) {
    auto it = std::upper_bound(g_launch_buffers.begin(), g_launch_buffers.end(),
                               std::make_pair(a, UINTPTR_MAX));
    if (it == g_launch_buffers.begin()) return false;
    --it;
    return a < it->second;
}
#else
void note_buffer(void*, size_t, bool) {}
void snapshot_buffers() {}
#endif

void* emu_alloc_raw(size_t bytes);

void* emu_alloc(size_t bytes) {
    void* p = emu_alloc_raw(bytes);
    note_buffer(p, bytes, true);
    return p;
}

void* emu_alloc_raw(size_t bytes) {
#if SATCOLOR_EMU_ASAN
    return calloc(bytes, 1);
#else
    const Guarded g = guarded_layout(bytes);
    void* p = mmap(nullptr, g.span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    char* base = static_cast<char*>(p);
    mprotect(base + g.span - page_size(), page_size(), PROT_NONE);
    return base + g.offset;
#endif
}

void emu_free(void* ptr, size_t bytes) {
    if (!ptr) return;
    note_buffer(ptr, bytes, false);
#if SATCOLOR_EMU_ASAN
    (void)bytes;
    free(ptr);
#else
    const Guarded g = guarded_layout(bytes);
    munmap(static_cast<char*>(ptr) - g.offset, g.span);
#endif
}

// ---- thread and block order ------------------------------------------------------------

struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return next() % n; }
};

/// Puts `v` (ascending thread indices) into the order of one pass.
void order_pass(std::vector<unsigned>& v, int order, Rng& rng) {
    if (order == 1) {
        for (size_t i = 0, j = v.size(); i + 1 < j; ++i, --j) std::swap(v[i], v[j - 1]);
    } else if (order == 2) {
        for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
    }
}

/// The i-th block of the launch's block order: a permutation of [0, n).
struct BlockOrder {
    int order;
    uint64_t n;
    std::vector<uint32_t> perm;  // shuffle of grids up to 2^24 blocks
    uint64_t mul = 1, add = 0;   // seeded affine permutation beyond that
    BlockOrder(int order_, uint64_t n_, uint64_t seed) : order(order_), n(n_) {
        if (order != 2) return;
        Rng rng{seed};
        if (n <= (1u << 24)) {
            perm.resize(n);
            for (uint64_t i = 0; i < n; ++i) perm[i] = static_cast<uint32_t>(i);
            for (uint64_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
        } else {
            auto gcd = [](uint64_t a, uint64_t b) {
                while (b) { uint64_t t = a % b; a = b; b = t; }
                return a;
            };
            do mul = rng.below(n - 1) + 1; while (gcd(mul, n) != 1);
            add = rng.below(n);
        }
    }
    uint64_t at(uint64_t i) const {
        if (order == 1) return n - 1 - i;
        if (order != 2) return i;
        if (!perm.empty()) return perm[i];
        return static_cast<uint64_t>((static_cast<unsigned __int128>(mul) * i + add) % n);
    }
};

// ---- warp rendezvous ---------------------------------------------------------------------

std::vector<unsigned> g_next;

/// What one lane hands to the mma rendezvous: pointers to its fragments.
struct MmaLane {
    const uint32_t* a;
    const uint32_t* b;
    float* d;
};

/// The f32 value of a TF32 operand: its low 13 bits ignored.
double tf32_value(uint32_t bits) {
    float v;
    bits &= 0xffffe000u;
    std::memcpy(&v, &bits, 4);
    return v;
}

/// Completes the mma rendezvous that fiber `i` waits at once all 32 lanes of its warp wait
/// at the same site (mma.sync.aligned: the whole warp, converged). Lane l = 4*g + t holds
/// (PTX ISA, "Matrix fragments for mma.m16n8k8", .tf32): a0 = A[g][t], a1 = A[g+8][t],
/// a2 = A[g][t+4], a3 = A[g+8][t+4]; b0 = B[t][g], b1 = B[t+4][g]; c0, c1 = C[g][2t, 2t+1],
/// c2, c3 = C[g+8][2t, 2t+1]. Each D[r][c] = C[r][c] + the sum over k of A[r][k]*B[k][c],
/// the exact products summed in double and rounded once to f32.
bool try_complete_mma(unsigned i) {
    const Fiber& f = g_fibers[i];
    const unsigned base = i & ~31u;
    if (f.mask != 0xffffffffu) {
        g_error = fmt("%s calls %s (%s) with mask 0x%08x: the whole warp must take part",
                      who(f).c_str(), warp_name(f.op), where(f).c_str(), f.mask);
        return false;
    }
    if (base + 32 > g_threads) {
        g_error = fmt("%s calls %s (%s) in a warp of %u threads: it needs all 32 lanes",
                      who(f).c_str(), warp_name(f.op), where(f).c_str(), g_threads - base);
        return false;
    }
    for (unsigned l = 0; l < 32; ++l) {
        const Fiber& g = g_fibers[base + l];
        if (g.state == State::Done) {
            g_error = fmt("%s calls %s (%s) after lane %u of its warp exited: it needs all "
                          "32 lanes",
                          who(f).c_str(), warp_name(f.op), where(f).c_str(), l);
            return false;
        }
        if (g.state != State::Warp) return true;  // not arrived yet
        if (g.op != f.op || g.mask != f.mask || g.line != f.line ||
            (g.file != f.file && strcmp(g.file, f.file) != 0)) {
            g_error = fmt("warp %u: %s waits at %s (%s) while %s waits at %s (%s): "
                          "mma.sync.aligned needs the whole warp at one instruction",
                          i / 32, who(f).c_str(), warp_name(f.op), where(f).c_str(),
                          who(g).c_str(), warp_name(g.op), where(g).c_str());
            return false;
        }
    }
    double a[16][8], b[8][8], c[16][8];
    for (unsigned l = 0; l < 32; ++l) {
        const MmaLane* p = reinterpret_cast<const MmaLane*>(g_fibers[base + l].value);
        const unsigned g = l / 4, t = l % 4;
        a[g][t] = tf32_value(p->a[0]);
        a[g + 8][t] = tf32_value(p->a[1]);
        a[g][t + 4] = tf32_value(p->a[2]);
        a[g + 8][t + 4] = tf32_value(p->a[3]);
        b[t][g] = tf32_value(p->b[0]);
        b[t + 4][g] = tf32_value(p->b[1]);
        c[g][2 * t] = p->d[0];
        c[g][2 * t + 1] = p->d[1];
        c[g + 8][2 * t] = p->d[2];
        c[g + 8][2 * t + 1] = p->d[3];
    }
    float d[16][8];
    for (unsigned r = 0; r < 16; ++r)
        for (unsigned col = 0; col < 8; ++col) {
            double s = c[r][col];
            for (unsigned k = 0; k < 8; ++k) s += a[r][k] * b[k][col];
            d[r][col] = static_cast<float>(s);
        }
    for (unsigned l = 0; l < 32; ++l) {
        Fiber& gf = g_fibers[base + l];
        const MmaLane* p = reinterpret_cast<const MmaLane*>(gf.value);
        const unsigned g = l / 4, t = l % 4;
        p->d[0] = d[g][2 * t];
        p->d[1] = d[g][2 * t + 1];
        p->d[2] = d[g + 8][2 * t];
        p->d[3] = d[g + 8][2 * t + 1];
        gf.result = 0;
        gf.state = State::Ready;
        g_next.push_back(base + l);
    }
    return true;
}

/// Completes the warp rendezvous that fiber `i` waits at if every non-exited lane of its
/// mask waits there too. Returns false with g_error set on a mismatch.
bool try_complete_warp(unsigned i) {
    Fiber& f = g_fibers[i];
    const unsigned base = i & ~31u, lane = i & 31u, m = f.mask;
    if (!((m >> lane) & 1u)) {
        g_error = fmt("%s calls %s (%s) with mask 0x%08x that does not name its own lane %u",
                      who(f).c_str(), warp_name(f.op), where(f).c_str(), m, lane);
        return false;
    }
    if (f.width < 1 || f.width > 32 || (f.width & (f.width - 1))) {
        g_error = fmt("%s calls %s (%s) with width %d, not a power of two up to 32",
                      who(f).c_str(), warp_name(f.op), where(f).c_str(), f.width);
        return false;
    }
    if (f.op == kMmaTf32) return try_complete_mma(i);
    unsigned part = 0;
    for (unsigned l = 0; l < 32; ++l) {
        if (!((m >> l) & 1u) || base + l >= g_threads) continue;
        const Fiber& g = g_fibers[base + l];
        if (g.state == State::Done) continue;
        if (g.state != State::Warp) return true;  // not arrived yet
        if (g.mask != m || g.op != f.op) {
            g_error = fmt("warp %u: %s waits at %s (%s) with mask 0x%08x while %s waits at %s "
                          "(%s) with mask 0x%08x",
                          i / 32, who(f).c_str(), warp_name(f.op), where(f).c_str(), m,
                          who(g).c_str(), warp_name(g.op), where(g).c_str(), g.mask);
            return false;
        }
        part |= 1u << l;
    }
    unsigned ballot = 0;
    for (unsigned l = 0; l < 32; ++l)
        if (((part >> l) & 1u) && g_fibers[base + l].value) ballot |= 1u << l;
    for (unsigned l = 0; l < 32; ++l) {
        if (!((part >> l) & 1u)) continue;
        Fiber& g = g_fibers[base + l];
        const unsigned w = static_cast<unsigned>(g.width), seg = l & ~(w - 1);
        unsigned src = l;
        switch (g.op) {
            case kShflIdx: src = seg + (static_cast<unsigned>(g.param) & (w - 1)); break;
            case kShflUp:
                if ((l & (w - 1)) >= static_cast<unsigned>(g.param)) src = l - g.param;
                break;
            case kShflDown:
                if ((l & (w - 1)) + static_cast<unsigned>(g.param) < w) src = l + g.param;
                break;
            case kShflXor: {
                const unsigned x = l ^ static_cast<unsigned>(g.param);
                if ((x & ~(w - 1)) == seg) src = x;
                break;
            }
            default: break;
        }
        switch (g.op) {
            case kBallot: g.result = ballot; break;
            case kAny: g.result = ballot != 0; break;
            case kAll: g.result = ballot == part; break;
            case kSyncWarp: g.result = 0; break;
            default:
                g.result = ((part >> src) & 1u) ? g_fibers[base + src].value : kPoison;
        }
        g.state = State::Ready;
        g_next.push_back(base + l);
    }
    return true;
}

/// After lane `i` exited: rendezvous of its warp that only waited for it may complete now.
bool after_exit(unsigned i) {
    const unsigned base = i & ~31u;
    for (unsigned l = 0; l < 32 && base + l < g_threads; ++l) {
        const Fiber& g = g_fibers[base + l];
        if (g.state == State::Warp && ((g.mask >> (i & 31u)) & 1u) && !try_complete_warp(base + l))
            return false;
    }
    return true;
}

// ---- one block -----------------------------------------------------------------------------

/// Explains why no thread can run although not all exited; empty if a barrier can release.
std::string stuck_reason() {
    const Fiber* at_bar = nullptr;
    const Fiber* done = nullptr;
    for (unsigned i = 0; i < g_threads; ++i) {
        const Fiber& f = g_fibers[i];
        if (f.state == State::Warp) {
            for (unsigned l = 0; l < 32; ++l) {
                const unsigned j = (i & ~31u) + l;
                if (!((f.mask >> l) & 1u) || j >= g_threads) continue;
                const Fiber& g = g_fibers[j];
                if (g.state == State::Barrier)
                    return fmt("%s waits at %s (%s) for %s, which waits at %s (%s)",
                               who(f).c_str(), warp_name(f.op), where(f).c_str(), who(g).c_str(),
                               barrier_name(g.bar_kind), where(g).c_str());
            }
            return fmt("%s waits at %s (%s) forever", who(f).c_str(), warp_name(f.op),
                       where(f).c_str());
        }
        if (f.state == State::Done && !done) done = &f;
        if (f.state == State::Barrier) {
            if (!at_bar) at_bar = &f;
            else if (f.bar_kind != at_bar->bar_kind || f.line != at_bar->line ||
                     (f.file != at_bar->file && strcmp(f.file, at_bar->file) != 0))
                return fmt("divergent barrier: %s waits at %s (%s) while %s waits at %s (%s)",
                           who(*at_bar).c_str(), barrier_name(at_bar->bar_kind),
                           where(*at_bar).c_str(), who(f).c_str(), barrier_name(f.bar_kind),
                           where(f).c_str());
        }
    }
    if (at_bar && done)
        return fmt("divergent barrier: %s exited while %s waits at %s (%s)", who(*done).c_str(),
                   who(*at_bar).c_str(), barrier_name(at_bar->bar_kind), where(*at_bar).c_str());
    return {};
}

std::vector<unsigned> g_ready;

// ---- cp.async ------------------------------------------------------------------------------
//
// A thread's cp.async copies land when it waits for their group (cp_async_wait), not when
// it issues them: a kernel that reads a destination before the wait (or lets another
// thread read it before a barrier after the wait) reads what was there before, NaN bytes
// in fresh shared memory, and its results show it. The source is read at the issue, on the
// kernel's line (the counters see the global load there, where the SASS has its LDGSTS).
// Copies a thread never waited for by the end of its block are an error.

/// One issued copy: its destination, the 4 bytes read, and its group (kOpenGroup until
/// committed).
struct AsyncCopy {
    void* dst;
    uint32_t bits;
    uint32_t group;
};
constexpr uint32_t kOpenGroup = UINT32_MAX;
std::vector<AsyncCopy> g_async[kMaxThreads];
/// Groups each thread committed in the block so far.
uint32_t g_async_groups[kMaxThreads];

unsigned running_slot() { return static_cast<unsigned>(g_cur - g_fibers); }

bool run_block(int thread_order, Rng& rng) {
    const unsigned bx = block_dim.x, by = block_dim.y;
    g_ready.clear();
    for (unsigned i = 0; i < g_threads; ++i) {
        g_async[i].clear();
        g_async_groups[i] = 0;
        Fiber& f = g_fibers[i];
        if (!f.booted && !boot(i)) {
            g_error = "cannot map fiber stacks (out of memory)";
            return false;
        }
        f.state = State::Ready;
        f.tid = {i % bx, (i / bx) % by, i / (bx * by)};
        g_ready.push_back(i);
    }
    for (;;) {
        order_pass(g_ready, thread_order, rng);
        g_next.clear();
        for (unsigned i : g_ready) {
            resume(i);
            Fiber& f = g_fibers[i];
            if (f.state == State::Fault) {
                g_error = g_fault;
                return false;
            }
            if (f.state == State::Warp && !try_complete_warp(i)) return false;
            if (f.state == State::Done && !after_exit(i)) return false;
        }
        if (!g_next.empty()) {
            // Next pass: released lanes in ascending order, then ordered.
            std::sort(g_next.begin(), g_next.end());
            g_ready.swap(g_next);
            continue;
        }
        unsigned done = 0, at_bar = 0;
        for (unsigned i = 0; i < g_threads; ++i) {
            done += g_fibers[i].state == State::Done;
            at_bar += g_fibers[i].state == State::Barrier;
        }
        if (done == g_threads) {
            for (unsigned i = 0; i < g_threads; ++i) {
                if (g_async[i].empty()) continue;
                g_error = fmt("%s exited with %zu cp.async copies it never waited for",
                              who(g_fibers[i]).c_str(), g_async[i].size());
                return false;
            }
            return true;
        }
        std::string why = stuck_reason();
        if (!why.empty() || at_bar + done != g_threads) {
            g_error = why.empty() ? "no thread can make progress" : why;
            return false;
        }
        // Release the block barrier.
        int count = 0;
        for (unsigned i = 0; i < g_threads; ++i) count += g_fibers[i].bar_pred;
        g_ready.clear();
        for (unsigned i = 0; i < g_threads; ++i) {
            Fiber& f = g_fibers[i];
            switch (f.bar_kind) {
                case kSyncCount: f.bar_result = count; break;
                case kSyncAnd: f.bar_result = count == static_cast<int>(g_threads); break;
                case kSyncOr: f.bar_result = count != 0; break;
                default: f.bar_result = 0;
            }
            f.state = State::Ready;
            g_ready.push_back(i);
        }
    }
}

/// Fibers left mid-kernel by an error must be booted afresh before reuse.
void reset_abandoned() {
    for (unsigned i = 0; i < g_threads; ++i)
        if (g_fibers[i].state != State::Done) g_fibers[i].booted = false;
}

std::string check_config(const SatcolorEmuLaunch& c) {
    const unsigned* g = c.grid;
    const unsigned* b = c.block;
    if (!g[0] || !g[1] || !g[2] || !b[0] || !b[1] || !b[2])
        return fmt("grid (%u,%u,%u) or block (%u,%u,%u) has a zero dimension", g[0], g[1], g[2],
                   b[0], b[1], b[2]);
    const uint64_t threads = uint64_t(b[0]) * b[1] * b[2];
    if (threads > kMaxThreads)
        return fmt("block (%u,%u,%u) has %llu threads; a block holds at most 1024", b[0], b[1],
                   b[2], static_cast<unsigned long long>(threads));
    if (b[0] > 1024 || b[1] > 1024 || b[2] > 64)
        return fmt("block (%u,%u,%u) exceeds the block limits (1024, 1024, 64)", b[0], b[1], b[2]);
    if (g[0] > 0x7fffffffu || g[1] > 65535 || g[2] > 65535)
        return fmt("grid (%u,%u,%u) exceeds the grid limits (2^31-1, 65535, 65535)", g[0], g[1],
                   g[2]);
    const uint64_t total = uint64_t(c.static_shared) + c.dynamic_shared;
    if (c.max_dynamic_shared == 0 && total > kSharedDefault)
        return fmt("uses %u static + %u dynamic bytes of shared memory, above the 48 KiB a block "
                   "may use without opting in (cudaFuncAttributeMaxDynamicSharedMemorySize)",
                   c.static_shared, c.dynamic_shared);
    if (c.max_dynamic_shared != 0 && c.dynamic_shared > c.max_dynamic_shared)
        return fmt("asks for %u dynamic bytes of shared memory, above its opted-in maximum of %u",
                   c.dynamic_shared, c.max_dynamic_shared);
    if (total > kSharedOptinMax)
        return fmt("uses %u static + %u dynamic bytes of shared memory, above the 227 KiB of a "
                   "block",
                   c.static_shared, c.dynamic_shared);
    return {};
}

// ---- performance counters (the emu-counters build) -----------------------------------------
//
// The kernels are compiled with GCC's ThreadSanitizer instrumentation (and without its
// runtime): every load and store of theirs calls a `__tsan_readN`/`__tsan_writeN` hook,
// defined below, with the address; the hook's return address names the instruction. An
// access is global (inside a buffer of satcolor_emu_alloc), shared (dynamic shared memory,
// or the `satcolor_shared` section where the counters build puts `__shared__` statics) or
// other (kernel parameters, CUDA's special registers, the fiber's stack: ignored). A
// warp-level request is the accesses of the lanes of one warp to one instruction, the k-th
// time each lane executes it since its last barrier or warp intrinsic; at the end of a
// block each request becomes 32-byte sectors (global) or shared-memory wavefronts (the most
// distinct words any bank serves, per phase of the access width; a broadcast is one).

SatcolorEmuCounters g_counters;
unsigned g_dynamic_bytes;

#if SATCOLOR_EMU_COUNTERS
extern "C" char __start_satcolor_shared[] __attribute__((weak));
extern "C" char __stop_satcolor_shared[] __attribute__((weak));
extern "C" char __start_satcolor_emu_state[] __attribute__((weak));
extern "C" char __stop_satcolor_emu_state[] __attribute__((weak));
// The zero-initialised static storage of the program (GNU ld's symbols).
extern "C" char __bss_start[] __attribute__((weak));
extern "C" char _end[] __attribute__((weak));

enum Space : uint8_t { kGlobal, kShared, kOther };

struct ReqKey {
    uint32_t warp, epoch, occurrence;
    uintptr_t site;
    bool operator==(const ReqKey& o) const {
        return warp == o.warp && epoch == o.epoch && occurrence == o.occurrence && site == o.site;
    }
};
struct ReqKeyHash {
    size_t operator()(const ReqKey& k) const {
        uint64_t h = k.site * 0x9E3779B97F4A7C15ull;
        h ^= (uint64_t(k.warp) << 40) ^ (uint64_t(k.epoch) << 20) ^ k.occurrence;
        return static_cast<size_t>(h ^ (h >> 29));
    }
};
struct Request {
    Space space;
    bool write;
    uint8_t size;
    std::vector<std::pair<uint32_t, uintptr_t>> lanes;
};
/// Per thread of the block: barriers and warp intrinsics passed, and how often it ran each
/// instruction since.
struct Trace {
    uint32_t epoch = 0;
    std::unordered_map<uintptr_t, uint32_t> seen;
    bool stored = false;
};
std::vector<Trace> g_trace;
std::unordered_map<ReqKey, Request, ReqKeyHash> g_requests;
std::unordered_set<uint64_t> g_warp_ops;
unsigned long long g_barrier_calls;

Space space_of(uintptr_t a) {
    const uintptr_t dyn = reinterpret_cast<uintptr_t>(dynamic_shared);
    if (dyn && a >= dyn && a < dyn + g_dynamic_bytes) return kShared;
    const uintptr_t s0 = reinterpret_cast<uintptr_t>(__start_satcolor_shared);
    const uintptr_t s1 = reinterpret_cast<uintptr_t>(__stop_satcolor_shared);
    if (s0 && a >= s0 && a < s1) return kShared;
    if (in_buffer(a)) return kGlobal;
    // GCC drops the section attribute of a static local in a function template (the
    // implicit-GEMM and patch kernels' bodies), which then lands in .bss. Static storage
    // that kernel code touches is its __shared__ statics or the CUDA built-ins, which
    // have a section of their own.
    const uintptr_t e0 = reinterpret_cast<uintptr_t>(__start_satcolor_emu_state);
    const uintptr_t e1 = reinterpret_cast<uintptr_t>(__stop_satcolor_emu_state);
    if (e0 && a >= e0 && a < e1) return kOther;
    const uintptr_t b0 = reinterpret_cast<uintptr_t>(__bss_start);
    const uintptr_t b1 = reinterpret_cast<uintptr_t>(_end);
    if (b0 && a >= b0 && a < b1) return kShared;
    return kOther;
}

unsigned current_thread() { return static_cast<unsigned>(g_cur - g_fibers); }

void record(const void* p, unsigned size, bool write, const void* site) {
    if (!g_in_fiber) return;
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    const Space space = space_of(a);
    if (space == kOther) return;
    const unsigned t = current_thread();
    Trace& tr = g_trace[t];
    const uintptr_t s = reinterpret_cast<uintptr_t>(site);
    const uint32_t occurrence = tr.seen[s]++;
    tr.stored |= write && space == kGlobal;
    Request& r = g_requests[ReqKey{t / 32, tr.epoch, occurrence, s}];
    r.space = space;
    r.write = write;
    r.size = static_cast<uint8_t>(size);
    r.lanes.emplace_back(t % 32, a);
}

/// The current thread passed a barrier or a warp intrinsic.
void counters_sync(bool warp_op) {
    const unsigned t = current_thread();
    Trace& tr = g_trace[t];
    if (warp_op) g_warp_ops.insert((uint64_t(t / 32) << 32) | tr.epoch);
    else ++g_barrier_calls;
    ++tr.epoch;
    tr.seen.clear();
}

void counters_block_begin() {
    g_trace.assign(g_threads, Trace());
    g_requests.clear();
    g_warp_ops.clear();
    g_barrier_calls = 0;
}

/// Sectors of a global request: the distinct 32-byte sectors its lanes touch.
unsigned long long sectors(const Request& r) {
    std::vector<uintptr_t> s;
    for (const auto& l : r.lanes)
        for (uintptr_t x = l.second >> 5; x <= (l.second + r.size - 1) >> 5; ++x) s.push_back(x);
    std::sort(s.begin(), s.end());
    return static_cast<unsigned long long>(std::unique(s.begin(), s.end()) - s.begin());
}

/// Wavefronts of a shared request: per phase (the whole warp for accesses of up to 4 bytes,
/// half-warps for 8, quarter-warps for 16), the most distinct 4-byte words one of the 32
/// banks serves; lanes reading the same word share it.
unsigned long long wavefronts(const Request& r) {
    const unsigned phases = r.size <= 4 ? 1 : r.size / 4;
    const unsigned per_phase = 32 / phases;
    unsigned long long total = 0;
    for (unsigned ph = 0; ph < phases; ++ph) {
        std::vector<uintptr_t> words;
        for (const auto& l : r.lanes)
            if (l.first / per_phase == ph)
                for (uintptr_t w = l.second >> 2; w <= (l.second + r.size - 1) >> 2; ++w)
                    words.push_back(w);
        if (words.empty()) continue;
        std::sort(words.begin(), words.end());
        words.erase(std::unique(words.begin(), words.end()), words.end());
        unsigned per_bank[32] = {};
        unsigned most = 0;
        for (uintptr_t w : words) most = std::max(most, ++per_bank[w % 32]);
        total += most;
    }
    return total;
}

/// Per memory instruction, the launch's counts so far.
std::unordered_map<uintptr_t, SatcolorEmuSite> g_sites;
const SatcolorEmuSite& s_of(const std::pair<const uintptr_t, SatcolorEmuSite>& p) {
    return p.second;
}

void counters_block_end() {
    SatcolorEmuCounters& c = g_counters;
    ++c.blocks_run;
    for (const auto& kv : g_requests) {
        const Request& r = kv.second;
        c.request_lanes += r.lanes.size();
        unsigned long long units;
        if (r.space == kGlobal) {
            units = sectors(r);
            (r.write ? c.global_store_requests : c.global_load_requests) += 1;
            (r.write ? c.global_store_sectors : c.global_load_sectors) += units;
        } else {
            units = wavefronts(r);
            (r.write ? c.shared_store_requests : c.shared_load_requests) += 1;
            (r.write ? c.shared_store_wavefronts : c.shared_load_wavefronts) += units;
        }
        SatcolorEmuSite& site = g_sites[kv.first.site];
        site.site = kv.first.site;
        site.space = r.space == kGlobal ? 0 : 1;
        site.write = r.write;
        site.requests += 1;
        site.units += units;
        site.lanes += r.lanes.size();
    }
    c.barriers += g_threads ? g_barrier_calls / g_threads : 0;
    c.warp_ops += g_warp_ops.size();
    c.threads += g_threads;
    for (const Trace& t : g_trace) c.storing_threads += t.stored;
}
#else
std::vector<SatcolorEmuSite> g_sites;
const SatcolorEmuSite& s_of(const SatcolorEmuSite& s) { return s; }
void counters_sync(bool) {}
void counters_block_begin() {}
void counters_block_end() {}
#endif

std::string launch(satcolor_emu_body body, const SatcolorEmuLaunch& c, void** args) {
    std::string bad = check_config(c);
    if (!bad.empty()) return bad;
#if !SATCOLOR_EMU_ASAN
    install_fault_handler();
#endif
    g_sched_thread = pthread_self();
    g_body = body;
    g_args = args;
    block_dim = dim3(c.block[0], c.block[1], c.block[2]);
    grid_dim = dim3(c.grid[0], c.grid[1], c.grid[2]);
    g_threads = c.block[0] * c.block[1] * c.block[2];
    g_error.clear();
    unsigned char* smem = static_cast<unsigned char*>(emu_alloc(c.dynamic_shared));
    if (!smem && c.dynamic_shared) return "cannot allocate dynamic shared memory";
    dynamic_shared = smem;
    const uint64_t nblocks = uint64_t(c.grid[0]) * c.grid[1] * c.grid[2];
    BlockOrder blocks(c.block_order, nblocks, c.block_seed);
    Rng rng{c.thread_seed};
    bool ok = true;
    snapshot_buffers();
    g_sites.clear();
    g_counters = SatcolorEmuCounters{};
    g_counters.blocks_total = nblocks;
    g_dynamic_bytes = c.dynamic_shared;
    const uint64_t runs =
        SATCOLOR_EMU_COUNTERS && c.sample_blocks && c.sample_blocks < nblocks ? c.sample_blocks
                                                                              : nblocks;
    for (uint64_t k = 0; k < runs && ok; ++k) {
        const uint64_t b = blocks.at(runs == nblocks ? k : k * nblocks / runs);
        const uint64_t gx = c.grid[0], gy = c.grid[1];
        block_idx = {static_cast<unsigned>(b % gx), static_cast<unsigned>((b / gx) % gy),
                     static_cast<unsigned>(b / (gx * gy))};
        // Shared memory starts undefined on a GPU: NaN bytes expose reads before writes.
        memset(smem, 0xff, c.dynamic_shared);
        counters_block_begin();
        ok = run_block(c.thread_order, rng);
        if (ok) counters_block_end();
    }
    if (!ok) {
        reset_abandoned();
        g_error += fmt(" (block (%u,%u,%u))", block_idx.x, block_idx.y, block_idx.z);
    }
    emu_free(smem, c.dynamic_shared);
    dynamic_shared = nullptr;
    return ok ? std::string() : g_error;
}

}  // namespace

// ---- entry points of the kernels' side ----------------------------------------------------

namespace satcolor_emu {

int block_barrier(int kind, int pred, const char* file, int line) {
    counters_sync(false);
    Fiber* f = g_cur;
    f->state = State::Barrier;
    f->bar_kind = kind;
    f->bar_pred = pred != 0;
    f->file = file;
    f->line = line;
    yield(f);
    return f->bar_result;
}

uint64_t warp_op(int op, unsigned mask, uint64_t value, int param, int width, const char* file,
                 int line) {
    counters_sync(true);
    Fiber* f = g_cur;
    f->state = State::Warp;
    f->op = op;
    f->mask = mask;
    f->value = value;
    f->param = param;
    f->width = width;
    f->file = file;
    f->line = line;
    yield(f);
    return f->result;
}

void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const char* file,
                      int line) {
    MmaLane lane{a, b, d};
    warp_op(kMmaTf32, 0xffffffffu, reinterpret_cast<uint64_t>(&lane), 0, warpSize, file, line);
}

void cp_async_f32(float* dst, float v) {
    AsyncCopy c{dst, 0, kOpenGroup};
    std::memcpy(&c.bits, &v, 4);
    g_async[running_slot()].push_back(c);
}

void cp_async_commit() {
    const unsigned t = running_slot();
    const uint32_t group = ++g_async_groups[t];
    for (AsyncCopy& c : g_async[t])
        if (c.group == kOpenGroup) c.group = group;
}

void cp_async_wait(int pending) {
    const unsigned t = running_slot();
    const uint32_t done = g_async_groups[t] - std::min<uint32_t>(g_async_groups[t], pending);
    auto& q = g_async[t];
    size_t kept = 0;
    for (const AsyncCopy& c : q) {
        if (c.group != kOpenGroup && c.group <= done)
            std::memcpy(c.dst, &c.bits, 4);
        else
            q[kept++] = c;
    }
    q.resize(kept);
}

void trap(const char* file, int line) {
    Fiber* f = g_cur;
    f->file = file;
    f->line = line;
    g_fault = fmt("%s called __trap() (%s)", who(*f).c_str(), where(*f).c_str());
    f->state = State::Fault;
    f->booted = false;
    to_scheduler(f);
}

}  // namespace satcolor_emu

// ---- C API for the Rust executor -----------------------------------------------------------

extern "C" {

/// Runs one launch; returns 0, or 1 with a message (not naming the kernel) in `err`. The
/// launch's counters go to `counters` when it is not null (all zero unless built with them),
/// and its per-instruction counts to `sites` (up to `sites_cap`; `*sites_len` is how many
/// there were) when `sites_len` is not null.
int satcolor_emu_launch(satcolor_emu_body body, const SatcolorEmuLaunch* cfg, void** args,
                        char* err, size_t err_cap, SatcolorEmuCounters* counters,
                        SatcolorEmuSite* sites, size_t sites_cap, size_t* sites_len) {
    std::lock_guard<std::mutex> lock(g_launch_mutex);
    const std::string e = launch(body, *cfg, args);
    if (counters) *counters = g_counters;
    if (sites_len) {
        size_t n = 0;
        for (const auto& s : g_sites) {
            if (n < sites_cap) sites[n] = s_of(s);
            ++n;
        }
        *sites_len = n;
    }
    if (e.empty()) return 0;
    if (err_cap) snprintf(err, err_cap, "%s", e.c_str());
    return 1;
}

/// Allocates `bytes` zeroed bytes of emulated global memory (null when out of memory).
void* satcolor_emu_alloc(size_t bytes) { return emu_alloc(bytes); }

/// Frees a buffer of satcolor_emu_alloc of the same size.
void satcolor_emu_free(void* ptr, size_t bytes) { emu_free(ptr, bytes); }

/// Poisons (`poison` = 1) or unpoisons (0) bytes of a buffer for AddressSanitizer, so that
/// a launch given parts of one allocation reports accesses outside them; a no-op in the
/// other builds.
void satcolor_emu_poison(void* ptr, size_t bytes, int poison) {
#if SATCOLOR_EMU_ASAN
    if (poison) __asan_poison_memory_region(ptr, bytes);
    else __asan_unpoison_memory_region(ptr, bytes);
#else
    (void)ptr;
    (void)bytes;
    (void)poison;
#endif
}

/// 1 in the AddressSanitizer build, else 0.
int satcolor_emu_asan(void) { return SATCOLOR_EMU_ASAN; }

/// 1 in the counters build, else 0.
int satcolor_emu_has_counters(void) { return SATCOLOR_EMU_COUNTERS; }

#if SATCOLOR_EMU_COUNTERS
// The instrumentation's hooks (GCC's -fsanitize=thread ABI), without its runtime.
#define SATCOLOR_TSAN_HOOKS(n)                                                                  \
    void __tsan_read##n(void* p) { record(p, n, false, __builtin_return_address(0)); }          \
    void __tsan_write##n(void* p) { record(p, n, true, __builtin_return_address(0)); }          \
    void __tsan_unaligned_read##n(void* p) { record(p, n, false, __builtin_return_address(0)); } \
    void __tsan_unaligned_write##n(void* p) { record(p, n, true, __builtin_return_address(0)); }
SATCOLOR_TSAN_HOOKS(1)
SATCOLOR_TSAN_HOOKS(2)
SATCOLOR_TSAN_HOOKS(4)
SATCOLOR_TSAN_HOOKS(8)
SATCOLOR_TSAN_HOOKS(16)
void __tsan_init(void) {}
void __tsan_func_entry(void*) {}
void __tsan_func_exit(void) {}
void __tsan_read_range(void*, unsigned long) {}
void __tsan_write_range(void*, unsigned long) {}
#endif
}
