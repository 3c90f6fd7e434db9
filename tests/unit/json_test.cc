#include "l7/json.h"

#include <gtest/gtest.h>

#include <string>

namespace rf::l7 {
namespace {

bool Parses(std::string_view s) { return ParseJson(s).ok(); }

TEST(Json, Values) {
  auto v = ParseJson(R"( {"a": [1, -0.5e+3, true, false, null, "x"], "b": {}} )");
  ASSERT_TRUE(v.ok()) << v.status().reason();
  ASSERT_TRUE(v->is_object());
  const JsonValue* a = v->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->items().size(), 6u);
  EXPECT_EQ(a->items()[0].text(), "1");
  EXPECT_EQ(a->items()[1].text(), "-0.5e+3");  // kept as written
  EXPECT_TRUE(a->items()[2].boolean());
  EXPECT_FALSE(a->items()[3].boolean());
  EXPECT_TRUE(a->items()[4].is_null());
  EXPECT_EQ(a->items()[5].text(), "x");
  EXPECT_TRUE(v->Find("b")->is_object());
  EXPECT_EQ(v->Find("c"), nullptr);
  EXPECT_EQ(ToJson(*v), R"({"a":[1,-0.5e+3,true,false,null,"x"],"b":{}})");
  EXPECT_TRUE(Parses("0"));
  EXPECT_TRUE(Parses("\"\""));
  EXPECT_TRUE(Parses("[]"));
  EXPECT_TRUE(Parses(" \t\r\n[ ] "));
}

TEST(Json, Numbers) {
  for (const char* ok : {"0", "-0", "10", "1.5", "1e5", "1E-5", "-12.25e+10", "0.0"})
    EXPECT_TRUE(Parses(ok)) << ok;
  for (const char* bad : {"01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "NaN", "Infinity",
                          "-Infinity", "0x10", "1.e3", "00"})
    EXPECT_FALSE(Parses(bad)) << bad;
}

TEST(Json, Strings) {
  auto v = ParseJson(R"("a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00")");
  ASSERT_TRUE(v.ok()) << v.status().reason();
  EXPECT_EQ(v->text(), "a\"b\\c/d\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(ParseJson(R"("\u0000")")->text(), std::string(1, '\0'));
  EXPECT_EQ(ParseJson("\"\xE2\x82\xAC\"")->text(), "\xE2\x82\xAC");  // raw UTF-8
  // Surrogates: pairs only.
  EXPECT_FALSE(Parses(R"("\ud83d")"));
  EXPECT_FALSE(Parses(R"("\ud83dx")"));
  EXPECT_FALSE(Parses(R"("\ude00")"));
  EXPECT_FALSE(Parses(R"("\ud83d\u0041")"));
  EXPECT_FALSE(Parses(R"("\ud83d\ud83d")"));
  // Escapes and control characters.
  EXPECT_FALSE(Parses(R"("\x41")"));
  EXPECT_FALSE(Parses(R"("\u12")"));
  EXPECT_FALSE(Parses(R"("\u12g4")"));
  EXPECT_FALSE(Parses(R"("\')"));
  EXPECT_FALSE(Parses("\"a\nb\""));
  EXPECT_FALSE(Parses("\"a\tb\""));
  EXPECT_FALSE(Parses(std::string("\"a\0b\"", 5)));
  EXPECT_FALSE(Parses("\"abc"));
  EXPECT_FALSE(Parses("\"abc\\"));
  EXPECT_FALSE(Parses("'a'"));
}

TEST(Json, Utf8IsValidated) {
  for (const char* bad : {
           "\"\xC0\xAF\"",          // overlong '/'
           "\"\xE0\x80\xAF\"",      // overlong
           "\"\xF0\x80\x80\xAF\"",  // overlong
           "\"\xED\xA0\x80\"",      // a surrogate encoded as UTF-8
           "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xF5\x80\x80\x80\"",
           "\"\x80\"",      // a lone continuation byte
           "\"\xC3\"",      // truncated
           "\"\xE2\x82\"",  // truncated
           "\"\xFF\"",
       })
    EXPECT_FALSE(Parses(bad)) << bad;
  EXPECT_FALSE(Parses("\xEF\xBB\xBF{}"));  // no byte order mark
  EXPECT_TRUE(Parses("\"\xF4\x8F\xBF\xBF\""));
  EXPECT_TRUE(Parses("\"\xED\x9F\xBF\""));
  EXPECT_TRUE(ValidUtf8("a\xC3\xA9"));
  EXPECT_FALSE(ValidUtf8("a\xC3"));
}

TEST(Json, Structure) {
  for (const char* bad :
       {"",          " ",     "[",       "]",        "{",          "}",      "[1,]",
        "[,1]",      "[1 2]", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}",  "{1:1}",
        "[1]]",      "{} {}", "1 2",     "tru",      "nul",        "falsey", "[true false]",
        "/* c */ 1", "[1] x", "\x0b[]",  "[]\f"})
    EXPECT_FALSE(Parses(bad)) << bad;
}

TEST(Json, DuplicateKeys) {
  auto v = ParseJson(R"({"method":"tools/list","x":1,"method":"tools/call"})");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().reason().find("\"method\" appears twice"), std::string::npos)
      << v.status().reason();
  EXPECT_EQ(v.status().code(), Status::Code::kInvalid);
  // At any depth, and also when only the escapes differ.
  EXPECT_FALSE(Parses(R"({"params":{"name":"a","name":"b"}})"));
  EXPECT_FALSE(Parses(R"({"name":1,"n\u0061me":2})"));
  EXPECT_TRUE(Parses(R"({"a":{"a":{"a":1}}})"));
  JsonOptions lax;
  lax.allow_duplicate_keys = true;
  EXPECT_TRUE(ParseJson(R"({"a":1,"a":2})", lax).ok());
}

TEST(Json, Depth) {
  std::string deep64 = std::string(64, '[') + std::string(64, ']');
  std::string deep65 = std::string(65, '[') + std::string(65, ']');
  EXPECT_TRUE(Parses(deep64));
  auto v = ParseJson(deep65);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().reason().find("nested too deeply"), std::string::npos);
  std::string objects;
  for (int i = 0; i < 65; ++i) objects += "{\"a\":";
  objects += "1" + std::string(65, '}');
  EXPECT_FALSE(Parses(objects));
  JsonOptions shallow;
  shallow.max_depth = 2;
  EXPECT_TRUE(ParseJson("[[1]]", shallow).ok());
  EXPECT_FALSE(ParseJson("[[[1]]]", shallow).ok());
  // Far deeper than the stack could take recursing is refused at the limit.
  EXPECT_FALSE(Parses(std::string(1 << 20, '[')));
}

TEST(Json, ErrorsNameTheOffset) {
  auto v = ParseJson("[1, 2, x]");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().reason(), "JSON: at byte 7: expected a value");
}

TEST(Json, QuoteAndRoundTrip) {
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01\x7f"), "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
  EXPECT_EQ(JsonQuote("\xC3\xA9"), "\"\xC3\xA9\"");
  EXPECT_EQ(JsonQuote("a\xFF"), "\"a\\ufffd\"");  // invalid bytes never pass through
  const char* doc = R"({"id":"x\u0000y","n":[1.5e3,-0],"e":"\ud83d\ude00"})";
  auto v = ParseJson(doc);
  ASSERT_TRUE(v.ok());
  auto again = ParseJson(ToJson(*v));
  ASSERT_TRUE(again.ok()) << ToJson(*v);
  EXPECT_EQ(ToJson(*again), ToJson(*v));
}

TEST(Json, ManyMembersStayCheap) {
  std::string doc = "{";
  for (int i = 0; i < 20000; ++i) doc += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  doc += "}";
  auto v = ParseJson(doc);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->members().size(), 20000u);
}

}  // namespace
}  // namespace rf::l7
