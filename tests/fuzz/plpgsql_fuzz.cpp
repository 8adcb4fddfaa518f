// libFuzzer target: the plpgsql body analysis (plpgsql_property.hpp).
//
//   cmake --preset fuzz && cmake --build --preset fuzz --target plpgsql_fuzz
//   build/fuzz/tests/fuzz/plpgsql_fuzz -dict=tests/fuzz/sql.dict -max_len=2048
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "plpgsql_property.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string violation = pgro::testing::plpgsqlPropertyViolation(body);
  if (!violation.empty()) {
    std::fprintf(stderr, "%s\nbody:\n%.*s\n", violation.c_str(), static_cast<int>(size),
                 body.data());
    std::abort();
  }
  return 0;
}
