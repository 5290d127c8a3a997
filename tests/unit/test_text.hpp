// The unit tests' substring check, as in CHECK(contains(error.message, "the key path")).
#pragma once

#include <doctest/doctest.h>

#include <string>

namespace test_text {

inline bool contains(const std::string& haystack, const std::string& needle) {
  INFO("looking for [", needle, "] in [", haystack, "]");
  return haystack.find(needle) != std::string::npos;
}

}  // namespace test_text
