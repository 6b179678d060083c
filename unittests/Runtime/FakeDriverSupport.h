//===- FakeDriverSupport.h - tests against FakeCudaDriver.c ---------------------*- C++ -*-===//

#ifndef KILN_UNITTESTS_RUNTIME_FAKEDRIVERSUPPORT_H
#define KILN_UNITTESTS_RUNTIME_FAKEDRIVERSUPPORT_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <dlfcn.h>
#include <string>
#include <vector>

namespace kilnrt {
namespace test {

/// The fake driver's test hooks (the same library the runtime dlopens).
struct FakeDriver {
  long (*liveObjects)() = nullptr;
  long (*counter)(const char *) = nullptr;
  int (*lastLaunch)(char *, size_t, unsigned *, unsigned *, unsigned *, unsigned long long *,
                    int) = nullptr;
  void (*reset)() = nullptr;

  static FakeDriver &get() {
    static FakeDriver driver = [] {
      FakeDriver d;
      void *h = dlopen(KILN_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_LOCAL);
      if (!h)
        return d;
      d.liveObjects = reinterpret_cast<long (*)()>(dlsym(h, "kiln_fake_cuda_live_objects"));
      d.counter = reinterpret_cast<long (*)(const char *)>(dlsym(h, "kiln_fake_cuda_counter"));
      d.lastLaunch = reinterpret_cast<decltype(d.lastLaunch)>(dlsym(h, "kiln_fake_cuda_last_launch"));
      d.reset = reinterpret_cast<void (*)()>(dlsym(h, "kiln_fake_cuda_reset"));
      return d;
    }();
    return driver;
  }
};

/// Points the runtime at the fake driver and restores the environment afterwards.
class FakeDriverTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(FakeDriver::get().reset) << "cannot load " << KILN_FAKE_CUDA_DRIVER;
    setEnv("KILN_CUDA_DRIVER", KILN_FAKE_CUDA_DRIVER);
    unsetEnv("KILN_DISABLE_CUDA_GRAPHS");
    FakeDriver::get().reset();
  }
  void TearDown() override {
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (it->second.first)
        ::setenv(it->first.c_str(), it->second.second.c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
    saved.clear();
  }
  void setEnv(const std::string &name, const std::string &value) {
    remember(name);
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  void unsetEnv(const std::string &name) {
    remember(name);
    ::unsetenv(name.c_str());
  }
  long live() { return FakeDriver::get().liveObjects(); }
  long counter(const char *name) { return FakeDriver::get().counter(name); }

private:
  void remember(const std::string &name) {
    const char *old = std::getenv(name.c_str());
    saved.emplace_back(name, std::make_pair(old != nullptr, old ? std::string(old) : ""));
  }
  std::vector<std::pair<std::string, std::pair<bool, std::string>>> saved;
};

} // namespace test
} // namespace kilnrt

#endif
