#include "http/json_fields.h"

#include <gtest/gtest.h>

#include "http/errors.h"

namespace regulars::http {
namespace {

TEST(ParseBody, MalformedJsonSaysWhere) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {"{\"phone\": ", "body: malformed JSON at byte 11"},
      {"[1,2]", "body: must be a JSON object"},
      {"{\"a\":\"\xff\"}", "body: is not valid UTF-8"},
      {"{'a':1}", "body: malformed JSON at byte 2"},
  };
  for (const auto& c : cases) {
    auto r = ParseBody(c.body);
    ASSERT_FALSE(r.has_value()) << c.body;
    EXPECT_EQ(r.error().message, c.message) << c.body;
    EXPECT_EQ(r.error().field, "body");
  }
  EXPECT_TRUE(ParseBody("").value().is_object());
}

TEST(Fields, TypesAndUnknownKeys) {
  json j = json::parse(R"({"name": 5, "tags": ["a", 3], "nmae": "x"})");
  auto unknown = Fields::Of(j, {"name", "tags"});
  EXPECT_EQ(unknown.error().message, "nmae: unknown field");
  j.erase("nmae");
  auto f = Fields::Of(j, {"name", "tags", "consent"}).value();
  EXPECT_EQ(f.String("name").error().message, "name: must be a string");
  EXPECT_EQ(f.StringList("tags").error().message, "tags[1]: must be a string");
  EXPECT_FALSE(f.String("consent").value().has_value());
  json nested = json::parse(R"({"sms": "yes"})");
  auto c = Fields::Of(nested, {"sms"}, "consent.").value();
  EXPECT_EQ(c.Bool("sms").error().message, "consent.sms: must be true or false");
  EXPECT_EQ(c.Bool("sms").error().field, "consent.sms");
}

TEST(Errors, OneTableOfStatuses) {
  EXPECT_EQ(HttpStatus(Code::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatus(Code::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatus(Code::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatus(Code::kNotFound), 404);
  EXPECT_EQ(HttpStatus(Code::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatus(Code::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatus(Code::kIdempotencyMismatch), 422);
  EXPECT_EQ(HttpStatus(Code::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatus(Code::kUnavailable), 503);
  EXPECT_EQ(HttpStatus(Code::kInternal), 500);
  Error e = MakeError(Code::kAlreadyExists, "phone: taken", "phone").WithDetail("member_id", "7");
  EXPECT_EQ(
      ErrorBody(e).dump(),
      R"({"error":{"code":"already_exists","details":{"member_id":"7"},"field":"phone","message":"phone: taken"}})");
  EXPECT_EQ(ErrorBody(MakeError(Code::kInternal, "secret sql")).at("error").at("message"),
            "internal error");
}

}  // namespace
}  // namespace regulars::http
