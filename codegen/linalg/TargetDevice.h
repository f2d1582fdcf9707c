//===- TargetDevice.h - a target's device in the module's DLTI spec -------===//
//
// Every target describes its device as one entry of the module's
// dlti.target_system_spec ("CPU", "GPU"); this finds it and its entries,
// for the targets' get*Target functions.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_CODEGEN_LINALG_TARGETDEVICE_H
#define MOEC_CODEGEN_LINALG_TARGETDEVICE_H

#include "mlir/Interfaces/DataLayoutInterfaces.h"

#include <string>

namespace mlir::moe {

/// The device `deviceId` of the dlti.target_system_spec of `op`'s module
/// (or of `op`, a module). On failure, `missing` says what is missing.
FailureOr<TargetDeviceSpecInterface>
findTargetDevice(Operation *op, StringRef deviceId, std::string &missing);

/// The value of `key` in `device`; null when it has none.
Attribute targetDeviceEntry(TargetDeviceSpecInterface device, StringRef key);

} // namespace mlir::moe

#endif // MOEC_CODEGEN_LINALG_TARGETDEVICE_H
