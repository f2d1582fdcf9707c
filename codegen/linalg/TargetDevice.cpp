//===- TargetDevice.cpp - a target's device in the module's DLTI spec -----===//
#include "codegen/linalg/TargetDevice.h"

#include "mlir/Dialect/DLTI/DLTI.h"
#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

FailureOr<TargetDeviceSpecInterface>
mlir::moe::findTargetDevice(Operation *op, StringRef deviceId,
                            std::string &missing) {
  ModuleOp module =
      isa<ModuleOp>(op) ? cast<ModuleOp>(op) : op->getParentOfType<ModuleOp>();
  auto system = module ? module->getAttrOfType<TargetSystemSpecAttr>(
                             DLTIDialect::kTargetSystemDescAttrName)
                       : TargetSystemSpecAttr();
  if (!system) {
    missing = "the module has no dlti.target_system_spec";
    return failure();
  }
  std::optional<TargetDeviceSpecInterface> device =
      system.getDeviceSpecForDeviceID(
          StringAttr::get(op->getContext(), deviceId));
  if (!device) {
    missing = ("the module's dlti.target_system_spec has no \"" + deviceId +
               "\" device")
                  .str();
    return failure();
  }
  return *device;
}

Attribute mlir::moe::targetDeviceEntry(TargetDeviceSpecInterface device,
                                       StringRef key) {
  DataLayoutEntryInterface e =
      device.getSpecForIdentifier(StringAttr::get(device.getContext(), key));
  return e ? llvm::dyn_cast_if_present<Attribute>(e.getValue()) : Attribute();
}
