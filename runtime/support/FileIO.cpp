//===- FileIO.cpp - whole-file reads for the runtime side -----------------===//
#include "runtime/support/FileIO.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

std::string moe::readFile(const std::string &path, std::string &out) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    return std::strerror(errno);
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    out.append(buf, n);
  bool bad = std::ferror(f);
  std::fclose(f);
  return bad ? "read error" : "";
}
