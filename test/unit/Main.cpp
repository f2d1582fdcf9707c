//===- Main.cpp - runs every registered unit test -------------------------===//

#include "test/unit/Check.h"

int main() {
  using namespace moe::test;
  for (const TestCase &t : registry()) {
    int before = failures();
    t.fn();
    std::fprintf(stderr, "%s %s\n", failures() == before ? "PASS" : "FAIL",
                 t.name);
  }
  std::fprintf(stderr, "%zu tests, %d failed checks\n", registry().size(),
               failures());
  return failures() == 0 ? 0 : 1;
}
