//===- Check.h - a tiny unit-test harness -----------------------*- C++ -*-===//
//
// TEST(name) { ... } registers a test; CHECK* report the failing expression
// with file and line, count the failure and carry on, so one run shows every
// broken check. Main.cpp runs all tests and exits non-zero on any failure.
//
//===----------------------------------------------------------------------===//
#ifndef MOEC_TEST_UNIT_CHECK_H
#define MOEC_TEST_UNIT_CHECK_H

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace moe::test {

struct TestCase {
  const char *name;
  void (*fn)();
};

inline std::vector<TestCase> &registry() {
  static std::vector<TestCase> tests;
  return tests;
}

inline int &failures() {
  static int count = 0;
  return count;
}

struct Registrar {
  Registrar(const char *name, void (*fn)()) {
    registry().push_back({name, fn});
  }
};

inline void reportFailure(const char *file, int line, const std::string &what) {
  ++failures();
  std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", file, line, what.c_str());
}

inline std::string show(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}
inline std::string show(const std::string &s) { return "\"" + s + "\""; }

} // namespace moe::test

#define TEST(name)                                                             \
  static void name();                                                          \
  static ::moe::test::Registrar name##Registrar(#name, name);                  \
  static void name()

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      ::moe::test::reportFailure(__FILE__, __LINE__, #cond);                   \
  } while (0)

#define CHECK_EQ(a, b)                                                         \
  do {                                                                         \
    auto checkA = (a);                                                         \
    auto checkB = (b);                                                         \
    if (!(checkA == checkB))                                                   \
      ::moe::test::reportFailure(__FILE__, __LINE__,                           \
                                 #a " == " #b " (" +                           \
                                     ::moe::test::show(checkA) + " vs " +      \
                                     ::moe::test::show(checkB) + ")");         \
  } while (0)

// |a - b| <= tol; NaN never passes.
#define CHECK_NEAR(a, b, tol)                                                  \
  do {                                                                         \
    double checkA = (a), checkB = (b);                                         \
    if (!(std::fabs(checkA - checkB) <= (tol)))                                \
      ::moe::test::reportFailure(__FILE__, __LINE__,                           \
                                 #a " ~= " #b " (" +                           \
                                     ::moe::test::show(checkA) + " vs " +      \
                                     ::moe::test::show(checkB) + ")");         \
  } while (0)

// The string `s` contains `sub`.
#define CHECK_CONTAINS(s, sub)                                                 \
  do {                                                                         \
    std::string checkS = (s), checkSub = (sub);                                \
    if (checkS.find(checkSub) == std::string::npos)                            \
      ::moe::test::reportFailure(__FILE__, __LINE__,                           \
                                 #s " contains " +                             \
                                     ::moe::test::show(checkSub) + " (got " +  \
                                     ::moe::test::show(checkS) + ")");         \
  } while (0)

#endif // MOEC_TEST_UNIT_CHECK_H
