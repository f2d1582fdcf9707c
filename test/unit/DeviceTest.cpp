//===- DeviceTest.cpp - moert's devices and buffers -----------------------===//
#include "runtime/moert/Device.h"
#include "runtime/moert/moert.h"
#include "test/unit/Check.h"

#include <cstring>

TEST(devicesListTheHostCpu) {
  CHECK_EQ(moert_device_count(), 1);
  moert_device_t *device = reinterpret_cast<moert_device_t *>(1);
  CHECK(moert_device_get(0, &device) == nullptr);
  CHECK(device == &moert::CpuDevice::host());
  CHECK_EQ(moert_device_kind(device), MOERT_DEVICE_CPU);
  CHECK_EQ(std::string(moert_device_name(device)), std::string("cpu:0"));
  CHECK_CONTAINS(moert_device_description(device), "host CPU");
  CHECK_EQ(std::string(moert_device_kind_name(MOERT_DEVICE_CPU)),
           std::string("cpu"));
  CHECK_EQ(std::string(moert_device_kind_name(MOERT_DEVICE_CUDA)),
           std::string("cuda"));
  moert_device_t *none = device;
  moert_status_t st = moert_device_get(moert_device_count(), &none);
  CHECK(none == nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_NOT_FOUND);
  CHECK_CONTAINS(moert_status_message(st), "(devices: cpu:0");
  moert_status_free(st);
  st = moert_device_get(0, nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  st = moert_device_supports(device, nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
}

TEST(cpuDeviceChecksTargets) {
  using moert::CpuDevice;
  CHECK_EQ(moert::deviceKindOfTriple("x86_64-pc-linux-gnu"), MOERT_DEVICE_CPU);
  CHECK_EQ(moert::deviceKindOfTriple(""), MOERT_DEVICE_CPU);
  CHECK_EQ(moert::deviceKindOfTriple("nvptx64-nvidia-cuda"), MOERT_DEVICE_CUDA);
  CHECK_EQ(CpuDevice::checkFeatures({}, "x86-64"), std::string());
  CHECK(!CpuDevice::hasFeature("no-such-feature"));
  CHECK_EQ(CpuDevice::checkFeatures({"no-such-feature"}, "znver9"),
           std::string("compiled for CPU 'znver9' using no-such-feature, "
                       "which this CPU lacks; recompile with --cpu=native on "
                       "this machine or --cpu=x86-64"));
  // What the CPU has passes: the extensions its description lists.
  std::string description = CpuDevice::host().description;
  for (const char *f : {"avx2", "fma", "avx512f"})
    if (CpuDevice::hasFeature(f)) {
      CHECK_CONTAINS(description, f);
      CHECK_EQ(CpuDevice::checkFeatures({f}, "native"), std::string());
    }
  moert::TargetRequirements cpu;
  cpu.triple = "x86_64-pc-linux-gnu";
  CHECK_EQ(CpuDevice::host().supports(cpu), std::string());
  cpu.features = {"no-such-feature"};
  CHECK_CONTAINS(CpuDevice::host().supports(cpu), "which this CPU lacks");
  moert::TargetRequirements cuda;
  cuda.kind = MOERT_DEVICE_CUDA;
  cuda.triple = "nvptx64-nvidia-cuda";
  CHECK_EQ(CpuDevice::host().supports(cuda),
           std::string("compiled for a cuda device ('nvptx64-nvidia-cuda'), "
                       "not for cpu:0"));
}

TEST(buffersLiveOnTheirDevice) {
  moert_device_t *cpu = nullptr;
  CHECK(moert_device_get(0, &cpu) == nullptr);
  moert_buffer_t *buffer = reinterpret_cast<moert_buffer_t *>(1);
  CHECK(moert_buffer_alloc(nullptr, 100, &buffer) == nullptr);
  CHECK(moert_buffer_device(buffer) == cpu);
  CHECK_EQ(moert_buffer_size(buffer), uint64_t(100));
  void *data = moert_buffer_data(buffer);
  CHECK(data != nullptr);
  CHECK_EQ(reinterpret_cast<uintptr_t>(data) % 64, uintptr_t(0));
  std::memset(data, 7, 100);
  // Reference counted: the second release frees it.
  moert_buffer_retain(buffer);
  moert_buffer_release(buffer);
  CHECK_EQ(static_cast<unsigned char *>(moert_buffer_data(buffer))[99], 7);
  moert_buffer_release(buffer);

  moert_buffer_t *empty = nullptr;
  CHECK(moert_buffer_alloc(cpu, 0, &empty) == nullptr);
  CHECK_EQ(moert_buffer_size(empty), uint64_t(0));
  moert_buffer_release(empty);

  moert_status_t st = moert_buffer_alloc(cpu, 8, nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  moert_buffer_t *huge = reinterpret_cast<moert_buffer_t *>(1);
  st = moert_buffer_alloc(cpu, uint64_t(1) << 62, &huge);
  CHECK(huge == nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_RESOURCE_EXHAUSTED);
  CHECK_CONTAINS(moert_status_message(st), "out of memory for a buffer");
  moert_status_free(st);
  CHECK(moert_buffer_data(nullptr) == nullptr);
  CHECK(moert_buffer_device(nullptr) == nullptr);
  moert_buffer_release(nullptr);

  st = moert_session_synchronize(nullptr);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
  st = moert_session_enqueue(nullptr, "f", nullptr, 0, nullptr, 0);
  CHECK_EQ(moert_status_code(st), MOERT_INVALID_ARGUMENT);
  moert_status_free(st);
}
