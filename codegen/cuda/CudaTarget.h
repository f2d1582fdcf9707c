//===- CudaTarget.h - the NVIDIA GPU target description -------------------===//
//
// One description of the GPU code is generated for, carried by the module as
// the "GPU" device of its DLTI target system spec (docs/Targets.md):
//
//   module attributes {dlti.target_system_spec = #dlti.target_system_spec<
//     "GPU" = #dlti.target_device_spec<
//       "chip" = "sm_90a", "sm" = 90 : i64, "ptx_features" = "+ptx80",
//       "warp_size" = 32 : i64, "max_threads_per_block" = 1024 : i64,
//       "shared_memory_per_block" = 232448 : i64,
//       "registers_per_thread" = 255 : i64,
//       "tensor_core" = "wgmma">>}
//
// moe-set-cuda-target writes it; convert-moe-to-gpu and the pipeline read
// it, and the launch shapes follow from it by the rules below.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_CUDA_CUDATARGET_H
#define MOEC_CODEGEN_CUDA_CUDATARGET_H

#include "mlir/IR/BuiltinOps.h"

#include <string>

namespace mlir::moe {

/// What the GPU kernels are generated for.
struct CudaTargetDescription {
  /// The PTX target ("sm_80", "sm_90a"): what ptxas and nvvm-attach-target
  /// are given.
  std::string chip;
  /// The compute capability as a number (80, 90, ...).
  int64_t sm = 80;
  /// The PTX ISA version the code needs, as LLVM's NVPTX features ("+ptx80").
  std::string ptxFeatures;
  int64_t warpSize = 32;
  int64_t maxThreadsPerBlock = 1024;
  /// The most dynamic shared memory one block can opt in to, in bytes.
  int64_t sharedMemoryPerBlock = 0;
  int64_t registersPerThread = 255;
  /// The tensor-core instructions the chip has: "mma_sync" (sm_80 and up),
  /// "wgmma" (sm_90a, sm_100a: warpgroup MMA with TMA and mbarriers).
  std::string tensorCore;
};

/// Describes the chip named `chip` ("sm_80", "sm_86", "sm_89", "sm_90",
/// "sm_90a", "sm_100", "sm_100a", "sm_120") from a table of known chips.
/// Returns a message naming the chip and the known ones on failure.
std::string describeCuda(StringRef chip, CudaTargetDescription &out);

/// The chips describeCuda knows, comma separated (for messages and help).
std::string knownCudaChips();

/// Sets the module's "GPU" target device to the description, keeping the
/// other devices of its dlti.target_system_spec (the host's "CPU").
void setCudaTarget(ModuleOp module, const CudaTargetDescription &target);

/// The description `op`'s module carries. Emits an error at `op` naming the
/// missing or malformed entry, and what writes it (moe-set-cuda-target),
/// when there is none.
FailureOr<CudaTargetDescription> getCudaTarget(Operation *op,
                                               StringRef passName);

//===----------------------------------------------------------------------===//
// Launch shapes from the description
//===----------------------------------------------------------------------===//

/// Warps per program of the kernels that give one thread one item (a
/// token's routing, one expert's share of the dispatch): 4, Triton's
/// default num_warps, so a program is 4 * warp_size threads (128). Enough
/// warps per program to hide the latency of the global loads these kernels
/// are bound by; few enough that a small T still spreads over many SMs.
int64_t itemKernelWarps(const CudaTargetDescription &target);

/// Assignments one thread of the dispatch kernels walks (a chunk of the
/// T * k assignments, in order): 256. The stable counting sort has one
/// thread per (chunk, expert), so its parallelism is E * ceil(T*k / 256)
/// threads and each thread reads 256 indices, which warps share (the 32
/// threads of a warp are 32 experts of one chunk and read the same index).
int64_t dispatchChunk(const CudaTargetDescription &target);

/// The tile of the tensor-core grouped GEMM (mma.sync m16n8k16, bf16 or
/// f16 operands, f32 accumulators), on chips whose `tensor_core` is set:
/// a program is `warps` warps over 16 rows of one group, each warp
/// `nTiles` n8 tiles (8 * nTiles columns). 16 rows: decode gives an
/// expert a few rows, and a taller tile would multiply rows that are not
/// there. 4 warps of 2 n8 tiles (64 columns a program): the N / 64
/// programs of a decode GEMM per expert keep the weights' reads spread
/// over the SMs, and each warp keeps 8 f32 accumulators and 8 32-bit
/// operand registers. No tile is chosen per shape.
struct MmaGemmTile {
  int64_t rows = 16;
  int64_t warps = 4;
  int64_t nTiles = 2;
};
MmaGemmTile mmaGemmTile(const CudaTargetDescription &target);

/// One tile shape of the staged tensor-core GEMM (mma.sync m16n8k16 with
/// operands staged in shared memory by cp.async and read by ldmatrix): a
/// program multiplies `rows` rows of one group by `cols` weight rows,
/// `depth` of K per stage, with warpsM x warpsN warps each over
/// (rows / warpsM) x (cols / warpsN), and `stages` stages in flight.
struct StagedGemmTile {
  int64_t rows = 0, cols = 0, depth = 0;
  int64_t warpsM = 0, warpsN = 0, stages = 0;
  int64_t warps() const { return warpsM * warpsN; }
  /// Bytes of one stage of 16-bit operands: the rows' and the weight
  /// rows' `depth` elements.
  int64_t stageBytes() const { return (rows + cols) * depth * 2; }
};

/// The staged GEMM's two tiles and when each is taken. Both are 8 warps
/// over 128 weight rows and 32 of K (256 threads a program); each is a
/// kernel of its own, and the host launches one per call, chosen from the
/// row count M the layer was called with:
///  - `prefill`, 128 x 128 (2 x 4 warps of 64 x 32, 16 mma.sync per 16 of
///    K per warp), taken when the groups average at least
///    `prefillRowsPerGroup` = 64 rows (M >= 64 * G): each weight tile is
///    read once per 128 rows, each row tile once per 128 columns;
///  - `decode`, 16 x 128 (1 x 8 warps of 16 x 16), below that: a group's
///    tile multiplies at most 15 rows that are not there, and every
///    touched group's weights are read once per 16 of its rows.
/// The stages fill the 48 KiB of static shared memory a block has on
/// every chip (3 of 16 KiB for prefill, 5 of 9 KiB for decode), which
/// keeps the launch free of any shared-memory opt-in; `sharedBytes` is the
/// larger of the two. ptxas is told one block per SM suffices
/// (`minBlocksPerSm`, nvvm.minctasm): the 64 f32 accumulators a thread
/// keeps, its fragments and its copies' addresses take about 120 to 145
/// registers, more than the 128 ptxas otherwise budgets for a block of 256
/// threads, and a spill in the inner loop costs more than the second
/// block it would make room for.
///
/// On chips whose `tensor_core` is "wgmma" (sm_90a, sm_100a) the same
/// tiles and stages are multiplied by warpgroup MMA (`wgmma`): the two
/// warpgroups of a program read both operands from the stage through
/// shared-memory descriptors, no ldmatrix. The stage rows of `depth`
/// 16-bit elements, swizzled as below, are the canonical K-major layout
/// of the swizzle mode of that row width (64 bytes: the 64-byte swizzle).
/// The prefill tile gives each warpgroup 64 of its rows (m64n128k16); the
/// decode tile, whose 16 rows are fewer than one wgmma's 64, is swapped:
/// each warpgroup multiplies 64 of the weight rows by the 16 rows
/// (m64n16k16), so no multiply is spent on rows that are not there.
struct StagedGemmRule {
  StagedGemmTile prefill, decode;
  /// Multiply with wgmma (above) rather than mma.sync.
  bool wgmma = false;
  int64_t prefillRowsPerGroup = 64;
  int64_t sharedBytes = 0;
  int64_t minBlocksPerSm = 1;
};
StagedGemmRule stagedGemmRule(const CudaTargetDescription &target);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_CUDA_CUDATARGET_H
