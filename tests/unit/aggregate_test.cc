#include "common/aggregate.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace rf {
namespace {

enum class Colour { kRed, kBlue };

struct Inner {
  int a = 1;
  std::string b = "x";
};

struct Outer {
  bool flag = false;
  Colour colour = Colour::kBlue;
  std::vector<std::string> names;
  std::optional<unsigned> limit;
  Inner inner;  // one field, not two: AnyField converts to Inner whole
  double ratio = 0.5;
};

static_assert(AggregateFieldCount<Inner>() == 2);
static_assert(AggregateFieldCount<Outer>() == 6);

TEST(Aggregate, ForEachFieldVisitsEveryFieldInOrder) {
  Outer o;
  o.names = {"p", "q"};
  std::vector<std::string> seen;
  ForEachField(o, [&](const auto& f) {
    using F = std::remove_cvref_t<decltype(f)>;
    if constexpr (std::is_same_v<F, bool>)
      seen.push_back("bool");
    else if constexpr (std::is_same_v<F, Colour>)
      seen.push_back("colour");
    else if constexpr (std::is_same_v<F, std::vector<std::string>>)
      seen.push_back("names" + std::to_string(f.size()));
    else if constexpr (std::is_same_v<F, std::optional<unsigned>>)
      seen.push_back("limit");
    else if constexpr (std::is_same_v<F, Inner>)
      seen.push_back("inner");
    else if constexpr (std::is_same_v<F, double>)
      seen.push_back("ratio");
  });
  EXPECT_EQ(seen,
            (std::vector<std::string>{"bool", "colour", "names2", "limit", "inner", "ratio"}));
}

TEST(Aggregate, ForEachFieldWritesThroughAMutableStruct) {
  Inner in;
  int n = 0;
  ForEachField(in, [&](auto& f) {
    using F = std::remove_cvref_t<decltype(f)>;
    if constexpr (std::is_same_v<F, int>) f = 7;
    ++n;
  });
  EXPECT_EQ(n, 2);
  EXPECT_EQ(in.a, 7);
}

}  // namespace
}  // namespace rf
