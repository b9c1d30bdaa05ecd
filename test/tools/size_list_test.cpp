#include "io/size_list.hpp"
#include "io/tool_error.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace adapool::tools {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

const SizeListRules kSizeRules{.argument = "--size", .minimum = 0, .allow_keep = true};

std::string error_of(std::string_view text, const SizeListRules& rules = kSizeRules) {
  try {
    parse_size_list(text, rules);
  } catch (const ToolError& error) {
    return error.what();
  }
  return "no error";
}

TEST(SizeList, ParsesOneToThreeEntries) {
  EXPECT_THAT(parse_size_list("5x7", kSizeRules), ElementsAre(Optional(5), Optional(7)));
  EXPECT_THAT(parse_size_list("224", kSizeRules), ElementsAre(Optional(224)));
  EXPECT_THAT(parse_size_list("2x3x4", kSizeRules),
              ElementsAre(Optional(2), Optional(3), Optional(4)));
  EXPECT_THAT(parse_size_list("0", kSizeRules), ElementsAre(Optional(0)));
  EXPECT_THAT(parse_size_list("2147483647", kSizeRules), ElementsAre(Optional(kMaxSize)));
}

TEST(SizeList, DashKeepsAnAxis) {
  EXPECT_THAT(parse_size_list("5x-", kSizeRules), ElementsAre(Optional(5), std::nullopt));
  EXPECT_THAT(parse_size_list("-x-x3", kSizeRules),
              ElementsAre(std::nullopt, std::nullopt, Optional(3)));
  EXPECT_THAT(error_of("5x-", {.argument = "OUT", .minimum = 0, .allow_keep = false}),
              HasSubstr("'-' (keep this axis) is only allowed in --size"));
}

TEST(SizeList, ErrorsNameTheArgumentAndTheBadToken) {
  EXPECT_EQ(error_of("5xa"), "--size '5xa': 'a' is not a size (expected a whole number)");
  EXPECT_EQ(error_of("-3"), "--size '-3': '-3' is negative");
  EXPECT_EQ(error_of("5x-3"), "--size '5x-3': '-3' is negative");
  EXPECT_EQ(error_of("2147483648"),
            "--size '2147483648': '2147483648' is too large (the largest size is 2147483647)");
  EXPECT_THAT(error_of("99999999999999999999999"), HasSubstr("is too large"));
  EXPECT_EQ(error_of("1x2x3x4"),
            "--size '1x2x3x4' has 4 entries; at most 3 (depth x height x width)");
  EXPECT_EQ(error_of(""), "--size is empty; expected sizes like 5x7");
  EXPECT_THAT(error_of("5x"), HasSubstr("empty entry"));
  EXPECT_THAT(error_of("x5"), HasSubstr("empty entry"));
  EXPECT_THAT(error_of("5 x7"), HasSubstr("'5 ' is not a size"));
  EXPECT_THAT(error_of("+5"), HasSubstr("'+5' is not a size"));
  EXPECT_THAT(error_of("5,7"), HasSubstr("'5,7' is not a size"));
  EXPECT_THAT(error_of("--"), HasSubstr("'--' is not a size"));
}

TEST(SizeList, MinimumAppliesToEveryEntry) {
  EXPECT_EQ(parse_sizes("10x10", "IN", 1), (std::vector<int64_t>{10, 10}));
  try {
    parse_sizes("10x0", "IN", 1);
    FAIL() << "0 accepted as an input size";
  } catch (const ToolError& error) {
    EXPECT_STREQ(error.what(), "IN '10x0': '0' is too small (sizes here are at least 1)");
  }
}

TEST(SizeList, CellIsRowCommaColumn) {
  EXPECT_THAT(parse_cell("2,4", "--cell"), ElementsAre(2, 4));
  EXPECT_THAT(parse_cell("3", "--cell"), ElementsAre(0, 3));
  EXPECT_THROW(parse_cell("2,", "--cell"), ToolError);
  EXPECT_THROW(parse_cell("a,1", "--cell"), ToolError);
  EXPECT_THROW(parse_cell("-1,1", "--cell"), ToolError);
}

}  // namespace
}  // namespace adapool::tools
