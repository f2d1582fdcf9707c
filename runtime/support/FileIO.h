//===- FileIO.h - whole-file reads for the runtime side ---------*- C++ -*-===//
#ifndef MOEC_RUNTIME_SUPPORT_FILEIO_H
#define MOEC_RUNTIME_SUPPORT_FILEIO_H

#include <string>

namespace moe {

/// Appends the bytes of the file at `path` to `out`. Returns an empty string
/// on success, otherwise the reason (strerror text or "read error") without
/// the path, so callers can phrase the message.
std::string readFile(const std::string &path, std::string &out);

} // namespace moe

#endif // MOEC_RUNTIME_SUPPORT_FILEIO_H
